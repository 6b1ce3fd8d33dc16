//! Connections over time: realms that change while clients watch, the connection cap, and the
//! deadlines of the later states.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{account, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::store::{NewRealm, RealmRef, Store};
use gatehouse::tools::client::{ClientBuild, LogonClient};

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn realms_added_and_removed_while_running_show_up() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| config.realms.refresh_secs = 1,
    );
    let mut logged =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    let mut names = || -> Vec<String> {
        let list = logged.client.realm_list().unwrap();
        list.realms.into_iter().map(|r| r.name).collect()
    };
    assert!(names().is_empty());
    let mut store = server.store();
    store
        .add_realm(&NewRealm {
            name: "Late".into(),
            address: "127.0.0.1:9000".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: Vec::new(),
            link_key: None,
            allowed_level: 0,
            local: None,
        })
        .unwrap();
    wait_until(|| names() == ["Late"], "the added realm");
    store.remove_realm(&RealmRef::Name("Late".into())).unwrap();
    wait_until(|| names().is_empty(), "the removal");
}

#[test]
fn connections_beyond_the_limit_are_closed_at_accept() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| config.limits.max_connections = 2,
    );
    let name = AccountName::parse(b"alice").unwrap();
    // Two connections that have had an answer are surely accepted and held.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
        assert!(matches!(
            c.send_challenge(name).unwrap(),
            LogonChallengeS2c::Success { .. }
        ));
        held.push(c);
    }
    let mut third = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    assert!(
        third.is_closed_by_server(TIMEOUT),
        "over the cap yet served"
    );
    // Once one goes, there is room again.
    drop(held.pop());
    wait_until(
        || LogonClient::login(server.addr, ClientBuild::TBC, "alice", "secret", TIMEOUT).is_ok(),
        "room after a close",
    );
}

#[test]
fn refused_and_idle_clients_are_closed_by_their_deadlines() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| {
            config.timeouts.after_failure_secs = 1;
            config.timeouts.realm_list_idle_secs = 1;
        },
    );
    // Refused, and it never hangs up itself.
    let mut refused = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    refused
        .send_challenge(AccountName::parse(b"nobody").unwrap())
        .unwrap();
    assert!(refused.is_closed_by_server(TIMEOUT));
    // Logged in, then idle on the realm list.
    let mut idle =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    assert!(idle.client.is_closed_by_server(TIMEOUT));
}

/// A drain closes at once what has no logon in flight, refuses new connections (the
/// listening sockets are closed), lets the logon in flight finish, and then stops, long
/// before `drain_secs`.
#[test]
fn a_drain_closes_idle_clients_at_once_and_refuses_new_ones() {
    use gatehouse::account::Password;
    use gatehouse::protocol::proof::LogonProofS2c;
    use std::net::TcpStream;

    let mut server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| config.timeouts.drain_secs = 30,
    );
    // A client that connected and never sent a byte.
    let idle = TcpStream::connect_timeout(&server.addr, TIMEOUT).unwrap();
    let mut idle = LogonClient::from_stream(idle, ClientBuild::WOTLK, TIMEOUT).unwrap();
    // A logon in flight: the challenge is answered, the proof not sent yet.
    let name = AccountName::parse(b"alice").unwrap();
    let mut busy = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    let reply = busy.send_challenge(name).unwrap();
    wait_until(|| server.counters().accepted == 2, "both connections");

    server.drain();
    assert!(
        idle.is_closed_by_server(Duration::from_secs(3)),
        "the idle client is closed at once"
    );
    let refused = (0..100).any(|_| {
        let gone = matches!(
            TcpStream::connect_timeout(&server.addr, TIMEOUT),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        );
        if !gone {
            thread::sleep(Duration::from_millis(20));
        }
        gone
    });
    assert!(refused, "new connections are refused during the drain");

    // The logon in flight completes.
    let password = Password::parse(b"secret").unwrap();
    let (handshake, proof) = LogonClient::proof_for(&name, &password, &reply).unwrap();
    let mut msg = Vec::new();
    proof.encode(busy.layout(), &mut msg).unwrap();
    busy.send(&msg).unwrap();
    match busy.read_proof_reply().unwrap() {
        LogonProofS2c::Success { server_proof, .. } => {
            assert!(handshake.verify_server_proof(&server_proof))
        }
        LogonProofS2c::Failure(result) => panic!("refused during the drain: {result:?}"),
    }
    assert!(
        server.stopped_within(Duration::from_secs(10)),
        "the drain ends once nothing is in flight"
    );
}
