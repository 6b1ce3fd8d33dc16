//! Patching old clients: a build that is not accepted but has a patch for its locale proves
//! its password, then downloads the patch (accept, resume, cancel), and a client that reads
//! slowly costs bounded memory while everyone else is served.

mod common;

use std::io::Read;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{account, TestServer, TIMEOUT};
use gatehouse::account::{AccountName, Password};
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::protocol::proof::LogonProofS2c;
use gatehouse::protocol::version::Layout;
use gatehouse::protocol::xfer::{
    XferAcceptC2s, XferCancelC2s, XferDataS2c, XferInitiateS2c, XferResumeC2s,
};
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, LogonClient};
use md5::{Digest, Md5};

/// 1.12.0: older than every accepted build.
const OLD: u16 = 5464;

fn old() -> ClientBuild {
    ClientBuild::from_build(OLD)
}

/// Writes a patch of `size` bytes for build 5464, enUS (the test client's locale).
fn write_patch(dir: &Path, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(b"MPQ\x1a");
    let mut x: u32 = 0x1234_5678;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push(x as u8);
    }
    data.truncate(size);
    std::fs::write(dir.join(format!("{OLD}enUS.mpq")), &data).unwrap();
    data
}

fn server(patches: &Path, configure: impl FnOnce(&mut gatehouse::config::Config)) -> TestServer {
    let dir = patches.to_path_buf();
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        move |config| {
            config.patches.dir = dir;
            configure(config);
        },
    );
    // The index is built on the I/O thread after start: wait until a patch is offered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while start_download(&server, "secret").is_none() {
        assert!(Instant::now() < deadline, "the patch was never offered");
        thread::sleep(Duration::from_millis(50));
    }
    server
}

fn name() -> AccountName {
    AccountName::parse(b"alice").unwrap()
}

/// Logs in with the old build; `Some` once the server offers the patch.
fn start_download(server: &TestServer, password: &str) -> Option<(LogonClient, XferInitiateS2c)> {
    let mut c = LogonClient::connect(server.addr, old(), TIMEOUT).unwrap();
    let reply = c.send_challenge(name()).unwrap();
    if !matches!(reply, LogonChallengeS2c::Success { .. }) {
        return None;
    }
    let password = Password::parse(password.as_bytes()).unwrap();
    let (_, proof) = LogonClient::proof_for(&name(), &password, &reply).unwrap();
    let mut msg = Vec::new();
    proof.encode(Layout::V3, &mut msg).unwrap();
    c.send(&msg).unwrap();
    let answer = c
        .read_message(|b| LogonProofS2c::check(Layout::V3, b))
        .unwrap();
    if answer != [0x01, 0x0A] {
        return None;
    }
    let initiate = c.read_message(XferInitiateS2c::check).unwrap();
    Some((c, XferInitiateS2c::parse(&initiate).unwrap()))
}

fn receive(c: &mut LogonClient, bytes: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(bytes);
    while got.len() < bytes {
        let msg = c.read_message(XferDataS2c::check).unwrap();
        got.extend_from_slice(XferDataS2c::parse(&msg).unwrap().data);
    }
    assert_eq!(got.len(), bytes, "more data than the file has");
    got
}

fn send(c: &mut LogonClient, encode: impl FnOnce(&mut Vec<u8>)) {
    let mut msg = Vec::new();
    encode(&mut msg);
    c.send(&msg).unwrap();
}

/// Nothing more arrives: the server sent no end marker and waits for the client to hang up.
fn nothing_more(c: &mut LogonClient) {
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    match c.stream().read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{n} unexpected bytes after the patch"),
        Err(e) => assert!(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
    }
}

#[test]
fn an_old_client_proves_its_password_then_downloads_the_whole_patch() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_patch(dir.path(), 300_000);
    let server = server(dir.path(), |_| {});
    let (mut c, initiate) = start_download(&server, "secret").unwrap();
    assert_eq!(
        initiate,
        XferInitiateS2c::patch(file.len() as u64, Md5::digest(&file).into())
    );
    send(&mut c, |m| XferAcceptC2s.encode(m));
    let got = receive(&mut c, file.len());
    assert_eq!(<[u8; 16]>::from(Md5::digest(&got)), initiate.md5);
    assert_eq!(got, file);
    nothing_more(&mut c);
    let audit = server.store().recent_audit(1).unwrap();
    assert_eq!(audit[0].outcome, "patched");
}

#[test]
fn resume_sends_exactly_the_rest_and_cancel_closes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_patch(dir.path(), 100_001);
    let server = server(dir.path(), |_| {});

    let (mut c, _) = start_download(&server, "secret").unwrap();
    let offset = 40_000;
    send(&mut c, |m| XferResumeC2s { offset }.encode(m));
    assert_eq!(
        receive(&mut c, file.len() - offset as usize),
        file[offset as usize..]
    );
    nothing_more(&mut c);

    let (mut c, _) = start_download(&server, "secret").unwrap();
    send(&mut c, |m| XferCancelC2s.encode(m));
    assert!(c.is_closed_by_server(TIMEOUT));

    // Resuming at or past the end is a protocol error.
    let (mut c, _) = start_download(&server, "secret").unwrap();
    send(&mut c, |m| {
        XferResumeC2s {
            offset: file.len() as u64,
        }
        .encode(m)
    });
    assert!(c.is_closed_by_server(TIMEOUT));
}

#[test]
fn a_wrong_password_from_an_old_build_gets_no_patch_byte() {
    let dir = tempfile::tempdir().unwrap();
    write_patch(dir.path(), 10_000);
    let server = server(dir.path(), |_| {});
    let mut c = LogonClient::connect(server.addr, old(), TIMEOUT).unwrap();
    let reply = c.send_challenge(name()).unwrap();
    let wrong = Password::parse(b"guess").unwrap();
    let (_, proof) = LogonClient::proof_for(&name(), &wrong, &reply).unwrap();
    let mut msg = Vec::new();
    proof.encode(Layout::V3, &mut msg).unwrap();
    c.send(&msg).unwrap();
    let answer = c
        .read_message(|b| LogonProofS2c::check(Layout::V3, b))
        .unwrap();
    assert_eq!(answer, [0x01, 0x04]);
    nothing_more(&mut c);
    let audit = server.store().recent_audit(1).unwrap();
    assert_eq!(audit[0].outcome, "wrong_password");
}

#[test]
fn a_client_that_stops_reading_costs_its_ring_and_the_kernel_buffers_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_patch(dir.path(), 16 << 20);
    let server = server(dir.path(), |_| {});
    let before = server.counters().patch_bytes_read;
    let (mut c, _) = start_download(&server, "secret").unwrap();
    send(&mut c, |m| XferAcceptC2s.encode(m));
    thread::sleep(Duration::from_secs(1));
    let read = server.counters().patch_bytes_read - before;
    // Reads happen only when the 16 KiB output ring has room, so what was read is bounded by
    // the ring plus what the kernel buffers hold (tcp_wmem max 4 MiB here, plus the client's
    // small default receive buffer): far less than the 16 MiB file.
    eprintln!("a client that reads nothing: {read} bytes read from the 16 MiB patch");
    assert!(read > 0, "the transfer did not start");
    assert!(
        read < 6 << 20,
        "{read} bytes read for a client that reads nothing"
    );
    // And reading resumes it to the end.
    let got = receive(&mut c, file.len());
    assert_eq!(got, file);
}

#[test]
fn fifty_downloads_while_others_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_patch(dir.path(), 2 << 20);
    let md5: [u8; 16] = Md5::digest(&file).into();
    let server = server(dir.path(), |_| {});
    let addr_server = &server;
    let start = Instant::now();
    thread::scope(|scope| {
        let downloads: Vec<_> = (0..50)
            .map(|_| {
                scope.spawn(move || {
                    let (mut c, initiate) = start_download(addr_server, "secret").unwrap();
                    send(&mut c, |m| XferAcceptC2s.encode(m));
                    let got = receive(&mut c, initiate.file_size as usize);
                    <[u8; 16]>::from(Md5::digest(&got))
                })
            })
            .collect();
        let logins: Vec<_> = (0..30)
            .map(|i| {
                scope.spawn(move || {
                    LogonClient::login(
                        addr_server.addr,
                        ClientBuild::ALL[i % 3],
                        "alice",
                        "secret",
                        Duration::from_secs(30),
                    )
                    .is_ok()
                })
            })
            .collect();
        for d in downloads {
            assert_eq!(d.join().unwrap(), md5);
        }
        for l in logins {
            assert!(l.join().unwrap(), "a logon failed during the downloads");
        }
    });
    let secs = start.elapsed().as_secs_f64();
    // Measured, not asserted: the figure goes in the issue note.
    eprintln!(
        "50 downloads of {} bytes: {:.1} MB/s aggregate",
        file.len(),
        50.0 * file.len() as f64 / secs / 1e6
    );
}

/// A client that is sent a patch gets `limits.output_buffer` for the file's chunks, and at
/// least one whole CMD_XFER_DATA message (4,099 bytes) even when the key is set lower; a
/// logged-in client on the realm list keeps a small ring (tests/realm_list.rs).
#[test]
fn a_patch_streams_through_a_ring_of_at_least_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_patch(dir.path(), 200_000);
    let server = server(dir.path(), |config| config.limits.output_buffer = 4096);
    let (mut c, _) = start_download(&server, "secret").unwrap();
    let patching: Vec<_> = server
        .client_buffers()
        .into_iter()
        .filter(|(standing, _)| *standing == gatehouse::net::connection::Standing::Proven)
        .collect();
    assert!(!patching.is_empty());
    for (_, rings) in patching {
        assert_eq!(rings.output, 4099, "{rings:?}");
    }
    send(&mut c, |m| XferAcceptC2s.encode(m));
    assert_eq!(receive(&mut c, file.len()), file);
    nothing_more(&mut c);
}
