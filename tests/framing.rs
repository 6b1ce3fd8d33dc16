//! How the daemon frames what arrives: packets split anywhere, packets stuck together,
//! opcodes that do not belong, silent clients, and clients that do not read.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{account, realm, TestServer, TIMEOUT};
use gatehouse::account::{AccountName, Password};
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::protocol::proof::LogonProofS2c;
use gatehouse::protocol::realm_list::RealmListS2c;
use gatehouse::protocol::result::LoginResult;
use gatehouse::tools::client::{ClientBuild, LogonClient};

fn server(configure: impl FnOnce(&mut gatehouse::config::Config)) -> TestServer {
    TestServer::start(
        |store| {
            account(store, "alice", "secret");
            for i in 0..40 {
                realm(
                    store,
                    &format!("Realm number {i:02}"),
                    "127.0.0.1:8085",
                    &[],
                );
            }
        },
        configure,
    )
}

fn name() -> AccountName {
    AccountName::parse(b"alice").unwrap()
}

fn challenge_bytes(build: ClientBuild) -> Vec<u8> {
    let mut msg = Vec::new();
    build.challenge(name()).encode(&mut msg);
    msg
}

fn dribble(c: &mut LogonClient, bytes: &[u8]) {
    for b in bytes {
        c.send(std::slice::from_ref(b)).unwrap();
        c.stream().flush().unwrap();
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn packets_delivered_one_byte_at_a_time_still_log_in() {
    let server = server(|_| {});
    for build in ClientBuild::ALL {
        let mut c = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
        dribble(&mut c, &challenge_bytes(build));
        let reply = c.read_challenge_reply().unwrap();
        let password = Password::parse(b"secret").unwrap();
        let (handshake, proof) = LogonClient::proof_for(&name(), &password, &reply).unwrap();
        let mut msg = Vec::new();
        proof.encode(build.layout(), &mut msg).unwrap();
        dribble(&mut c, &msg);
        match c.read_proof_reply().unwrap() {
            LogonProofS2c::Success { server_proof, .. } => {
                assert!(handshake.verify_server_proof(&server_proof))
            }
            other => panic!("{other:?}"),
        }
        dribble(&mut c, &[0x10, 0, 0, 0, 0]);
        assert_eq!(c.read_realm_list().unwrap().realms.len(), 40);
    }
}

#[test]
fn a_challenge_and_a_proof_in_one_write_are_both_answered() {
    // The proof waits in the input ring while the store loads the account, then is handled:
    // it cannot know B, so it is a wrong password.
    let server = server(|_| {});
    let build = ClientBuild::WOTLK;
    let mut c = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
    let mut msg = challenge_bytes(build);
    msg.push(0x01);
    msg.extend_from_slice(&[0x11; 32 + 20 + 20]);
    msg.extend_from_slice(&[0, 0]);
    c.send(&msg).unwrap();
    assert!(matches!(
        c.read_challenge_reply().unwrap(),
        LogonChallengeS2c::Success { .. }
    ));
    assert_eq!(
        c.read_proof_reply().unwrap(),
        LogonProofS2c::Failure(LoginResult::FailUnknownAccount)
    );
}

#[test]
fn a_proof_and_a_realm_list_request_in_one_write_are_both_answered() {
    let server = server(|_| {});
    for build in ClientBuild::ALL {
        let mut c = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
        let reply = c.send_challenge(name()).unwrap();
        let password = Password::parse(b"secret").unwrap();
        let (_, proof) = LogonClient::proof_for(&name(), &password, &reply).unwrap();
        let mut msg = Vec::new();
        proof.encode(build.layout(), &mut msg).unwrap();
        msg.extend_from_slice(&[0x10, 0, 0, 0, 0, 0x10, 0, 0, 0, 0]);
        c.send(&msg).unwrap();
        assert!(matches!(
            c.read_proof_reply().unwrap(),
            LogonProofS2c::Success { .. }
        ));
        let first = c.read_realm_list().unwrap();
        assert_eq!(first.realms.len(), 40);
        assert_eq!(c.read_realm_list().unwrap(), first);
    }
}

fn assert_closed(c: &mut LogonClient) {
    assert!(
        c.is_closed_by_server(TIMEOUT),
        "the server kept the connection"
    );
}

#[test]
fn unknown_and_illegal_opcodes_close_the_connection() {
    let server = server(|_| {});
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send(&[0x55, 1, 2, 3]).unwrap();
    assert_closed(&mut c);

    // A realm-list request is legal only after a logon.
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send(&[0x10, 0, 0, 0, 0]).unwrap();
    assert_closed(&mut c);

    // A proof before any challenge.
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send(&[0x01; 75]).unwrap();
    assert_closed(&mut c);
}

#[test]
fn malformed_challenges_close_the_connection() {
    let server = server(|_| {});
    // A size field far beyond any legal challenge: refused from the first 4 bytes.
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send(&[0x00, 0x08, 0xff, 0xff]).unwrap();
    assert_closed(&mut c);
    // Size and name length that disagree.
    let mut msg = challenge_bytes(ClientBuild::WOTLK);
    msg[2] += 1;
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send(&msg).unwrap();
    assert_closed(&mut c);
    // A zero public key A: closed without an answer.
    let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    c.send_challenge(name()).unwrap();
    let mut proof = vec![0x01];
    proof.extend_from_slice(&[0; 32 + 20 + 20]);
    proof.extend_from_slice(&[0, 0]);
    c.send(&proof).unwrap();
    let mut buf = [0u8; 16];
    let n = c.stream().read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "no answer to A = 0");
}

#[test]
fn silent_and_stalled_clients_are_closed_by_their_deadline() {
    let server = server(|config| config.timeouts.logon_secs = 1);
    let start = Instant::now();
    let mut silent = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    let mut stalled = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    stalled
        .send(&challenge_bytes(ClientBuild::WOTLK)[..10])
        .unwrap();
    assert_closed(&mut silent);
    assert_closed(&mut stalled);
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn a_client_that_does_not_read_is_throttled_not_buffered() {
    // 10,000 realm-list requests (about 14 MB of answers) sent without reading: the server's output ring fills, it
    // stops handling input, the kernel buffers fill, and the client's writes stall. When the
    // client reads, every answer arrives: partial writes resume on WRITABLE.
    // No realm-list interval here: this is about output back-pressure, not the rate limit.
    let server = server(|config| {
        config.limits.output_buffer = 4096;
        config.limits.realm_list_interval_ms = 0;
    });
    let build = ClientBuild::WOTLK;
    let mut logged_in = LogonClient::login(server.addr, build, "alice", "secret", TIMEOUT).unwrap();
    let one = logged_in.client.realm_list().unwrap();
    let mut encoded = Vec::new();
    one.encode(build.layout(), &mut encoded).unwrap();

    const REQUESTS: usize = 10_000;
    let mut writer: TcpStream = logged_in.client.stream().try_clone().unwrap();
    let sender = thread::spawn(move || {
        let requests = [0x10u8, 0, 0, 0, 0].repeat(REQUESTS);
        writer.write_all(&requests).unwrap();
    });
    thread::sleep(Duration::from_millis(300));
    let mut received = 0;
    while received < REQUESTS {
        let list = logged_in
            .client
            .read_message(|b| RealmListS2c::check(build.layout(), b))
            .unwrap();
        assert_eq!(list, encoded);
        received += 1;
    }
    sender.join().unwrap();
}

#[test]
fn fifty_concurrent_logons_all_succeed() {
    let server = server(|_| {});
    let addr = server.addr;
    let threads: Vec<_> = (0..50)
        .map(|i| {
            thread::spawn(move || {
                let build = ClientBuild::ALL[i % 3];
                let mut l = LogonClient::login(addr, build, "alice", "secret", TIMEOUT).unwrap();
                l.client.realm_list().unwrap().realms.len()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 40);
    }
}

/// Bytes sent after a refused challenge, in the same write, close the connection at once:
/// they are handled right after the refusal, not left in the ring until a deadline.
#[test]
fn bytes_after_a_refusal_in_the_same_write_close_at_once() {
    let server = server(|config| config.timeouts.after_failure_secs = 60);
    // A build nobody serves is refused at once, before any store lookup.
    let mut c = LogonClient::connect(server.addr, ClientBuild::from_build(12339), TIMEOUT).unwrap();
    let mut msg = Vec::new();
    c.challenge(name()).encode(&mut msg);
    msg.extend_from_slice(&[0x00, 0x08, 0x00]);
    c.send(&msg).unwrap();
    assert!(matches!(
        c.read_challenge_reply().unwrap(),
        gatehouse::protocol::challenge::LogonChallengeS2c::Failure(LoginResult::FailVersionInvalid)
    ));
    assert!(
        c.is_closed_by_server(std::time::Duration::from_secs(3)),
        "closed long before the 60 s after-failure deadline"
    );
}
