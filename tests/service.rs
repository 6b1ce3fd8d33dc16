//! The daemon as a service: the systemd notify protocol against a real unix datagram socket,
//! SIGTERM during logons (exit 0, nothing committed lost), and SIGHUP reloads.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use gatehouse::account::AccountName;
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};

const TIMEOUT: Duration = Duration::from_secs(5);

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gatehouse(db: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn serve(db: &Path, config: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        lines,
        addr: "127.0.0.1:1".parse().unwrap(),
    };
    let line = wait_for_line(&mut server, "listening on ");
    let addr = line.split("listening on ").nth(1).unwrap().trim();
    server.addr = addr.parse().unwrap();
    server
}

fn wait_for_line(server: &mut Server, needle: &str) -> String {
    wait_for_line_within(server, needle, Duration::from_secs(10))
}

fn wait_for_line_within(server: &mut Server, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match server.lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no log line containing {needle:?}"),
        }
    }
}

fn signal(server: &Server, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

fn setup(dir: &Path, config_text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let db = dir.join("g.db");
    let config = dir.join("gatehouse.toml");
    std::fs::write(&config, config_text).unwrap();
    gatehouse(&db, &["db", "init"], "");
    gatehouse(
        &db,
        &["account", "create", "alice", "--password-stdin"],
        "secret\n",
    );
    gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Azeroth",
            "--address",
            "127.0.0.1:8085",
        ],
        "",
    );
    (db, config)
}

const NO_LINK: &str = "[link]\nlisten = []\n";

#[test]
fn systemd_hears_ready_watchdog_and_stopping_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = setup(dir.path(), NO_LINK);
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut server = serve(
        &db,
        &config,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let mut stopping_sent = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|m: &String| m.contains("STOPPING=1")) {
        assert!(Instant::now() < deadline, "messages so far: {seen:?}");
        let n = socket.recv(&mut buf).expect("a notify datagram");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if message.contains("WATCHDOG=1") && !stopping_sent {
            signal(&server, "TERM");
            stopping_sent = true;
        }
        seen.push(message);
    }
    let ready = seen.iter().position(|m| m.contains("READY=1")).unwrap();
    let watchdog = seen.iter().position(|m| m.contains("WATCHDOG=1")).unwrap();
    let stopping = seen.iter().position(|m| m.contains("STOPPING=1")).unwrap();
    assert!(ready < watchdog && watchdog < stopping, "{seen:?}");
    assert!(seen[ready].contains("STATUS="), "{seen:?}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    // Under systemd, log lines carry a journal priority and no timestamp of our own.
    let line = wait_for_line(&mut server, "stopped");
    assert!(line.starts_with("<6>"), "{line}");
}

#[test]
fn sigterm_during_logons_loses_no_committed_logon_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = setup(dir.path(), NO_LINK);
    let mut server = serve(&db, &config, &[]);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let succeeded = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let succeeded = Arc::clone(&succeeded);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let build = ClientBuild::ALL[i % 3];
                    match LogonClient::login(addr, build, "alice", "secret", TIMEOUT) {
                        // M2 checked: the server said this logon succeeded.
                        Ok(_) => {
                            succeeded.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => break, // the server is going away
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(400));
    signal(&server, "TERM");
    let status = server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    wait_for_line(&mut server, "stopped");
    let told = succeeded.load(Ordering::Relaxed);
    assert!(told > 0, "no logon ran before the signal");
    let mut store = SqliteStore::open(&db).unwrap();
    let committed = store
        .recent_audit(100_000)
        .unwrap()
        .iter()
        .filter(|a| a.outcome == "success")
        .count() as u64;
    assert!(
        committed >= told,
        "{told} clients were told they logged in, {committed} logons committed"
    );
}

#[test]
fn sighup_reloads_builds_keeps_connections_and_rejects_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = setup(dir.path(), NO_LINK);
    let mut server = serve(&db, &config, &[]);
    let addr = server.addr;
    let mut open =
        LogonClient::login(addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();

    std::fs::write(
        &config,
        format!("{NO_LINK}[server]\naccepted_builds = [5875]\n"),
    )
    .unwrap();
    signal(&server, "HUP");
    wait_for_line(&mut server, "configuration reloaded");
    let name = AccountName::parse(b"alice").unwrap();
    let mut c = LogonClient::connect(addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    assert_eq!(
        c.send_challenge(name).unwrap(),
        LogonChallengeS2c::Failure(LoginResult::FailVersionInvalid)
    );
    assert!(LogonClient::login(addr, ClientBuild::VANILLA, "alice", "secret", TIMEOUT).is_ok());
    // The connection opened before the reload is still served.
    assert_eq!(open.client.realm_list().unwrap().realms.len(), 1);

    std::fs::write(&config, "[server\nthis is not toml").unwrap();
    signal(&server, "HUP");
    wait_for_line(&mut server, "reload rejected");
    assert!(LogonClient::login(addr, ClientBuild::VANILLA, "alice", "secret", TIMEOUT).is_ok());
    match LogonClient::login(addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT) {
        Err(ClientError::Refused {
            result: LoginResult::FailVersionInvalid,
            ..
        }) => {}
        other => panic!(
            "the old configuration should still refuse 12340: {:?}",
            other.err()
        ),
    }
    assert_eq!(open.client.realm_list().unwrap().realms.len(), 1);
}

#[test]
fn sighup_with_a_number_out_of_range_is_rejected_by_name_and_sigterm_still_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = setup(dir.path(), NO_LINK);
    let mut server = serve(&db, &config, &[]);
    std::fs::write(
        &config,
        format!("{NO_LINK}[timeouts]\ndrain_secs = 18446744073709551615\n"),
    )
    .unwrap();
    signal(&server, "HUP");
    let line = wait_for_line(&mut server, "reload rejected");
    assert!(line.contains("timeouts.drain_secs"), "{line}");
    assert!(
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).is_ok()
    );
    // The running drain time stays: SIGTERM drains and exits 0 (the value made it panic, 101).
    signal(&server, "TERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn the_systemd_unit_verifies_where_systemd_is_installed() {
    let Ok(output) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: unit not verified");
        return;
    };
    assert!(output.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/gatehouse.service"
    ))
    .unwrap();
    // Point it at this build and drop the service user, which need not exist here.
    let unit: String = unit
        .lines()
        .filter(|l| !l.starts_with("User=") && !l.starts_with("Group="))
        .map(|l| l.replace("/usr/local/bin/gatehouse", env!("CARGO_BIN_EXE_gatehouse")))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Descriptors held open by a process.
fn open_descriptors(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// Out of descriptors, the listener does not wedge: waiting connections are accepted and
/// closed instead of filling the backlog, and once descriptors are free again a new logon
/// succeeds within a second.
#[test]
fn out_of_descriptors_the_listener_recovers_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let config_text = format!("{NO_LINK}[limits]\nexempt = [\"127.0.0.0/8\"]\n");
    let (db, config) = setup(dir.path(), &config_text);
    let mut server = serve(&db, &config, &[]);
    let pid = server.child.id();
    let (mut soft, mut hard) = (0, 0);
    rlimit::prlimit(
        pid as i32,
        rlimit::Resource::NOFILE,
        None,
        Some((&mut soft, &mut hard)),
    )
    .unwrap();
    let exhausted = open_descriptors(pid) + 2;
    rlimit::prlimit(
        pid as i32,
        rlimit::Resource::NOFILE,
        Some((exhausted, hard)),
        None,
    )
    .unwrap();
    // Far more than the listen backlog (128) while no descriptor is left.
    let held: Vec<std::net::TcpStream> = (0..300)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).ok()
        })
        .collect();
    wait_for_line(&mut server, "out of descriptors");
    drop(held);
    rlimit::prlimit(
        pid as i32,
        rlimit::Resource::NOFILE,
        Some((soft, hard)),
        None,
    )
    .unwrap();
    let freed = Instant::now();
    loop {
        match LogonClient::login(
            server.addr,
            ClientBuild::WOTLK,
            "alice",
            "secret",
            Duration::from_millis(500),
        ) {
            Ok(_) => break,
            Err(e) => assert!(
                freed.elapsed() < Duration::from_secs(1),
                "no logon within a second of freeing descriptors: {e}"
            ),
        }
    }
}

/// One client per connection can no longer write one WARN line per connection: the first of
/// a kind is logged in full, the rest are summarised.
#[test]
fn a_flood_of_bad_clients_logs_a_few_lines_not_one_each() {
    let dir = tempfile::tempdir().unwrap();
    let config_text = format!("{NO_LINK}[limits]\nexempt = [\"127.0.0.0/8\"]\n");
    let (db, config) = setup(dir.path(), &config_text);
    let server = serve(&db, &config, &[]);
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect_timeout(&server.addr, TIMEOUT).unwrap();
        // 0x7f is no opcode: closed as a protocol error, with a WARN line.
        s.write_all(&[0x7f, 0, 0, 0]).unwrap();
        let mut buf = [0u8; 16];
        let _ = std::io::Read::read(&mut s, &mut buf);
    }
    // The first in full, then, once the window is over, one summary instead of 199 lines.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut in_full = 0;
    let summary = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server.lines.recv_timeout(left).expect("a summary line");
        if line.contains("unknown opcode 0x7f") {
            in_full += 1;
        }
        if line.contains("similar in the last 10 s") {
            break line;
        }
    };
    assert_eq!(in_full, 1, "the first bad client is logged in full, once");
    assert!(summary.contains("199 similar"), "{summary}");
}
