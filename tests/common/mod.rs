//! Test harness: a real gatehouse daemon on 127.0.0.1:0 with a throw-away database, run
//! in-process on its own thread, shut down (and joined) when the guard drops.

#![allow(dead_code)]

pub mod cli;
pub mod mariadb;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use gatehouse::config::Config;
use gatehouse::daemon::{Daemon, DaemonHandle};
use gatehouse::protocol::version::Build;
use gatehouse::realms::RealmId;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::{NewRealm, Store};

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    /// Every game listener's address (`addr` is the first).
    pub addrs: Vec<SocketAddr>,
    /// The realm-link listener.
    pub link: SocketAddr,
    /// The console listener, if the test configured one.
    pub console: Option<SocketAddr>,
    /// The metrics listener, if the test configured one.
    pub metrics: Option<SocketAddr>,
    pub db: PathBuf,
    handle: DaemonHandle,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Seeds a fresh database, then starts the daemon with `configure` applied.
    pub fn start(seed: impl FnOnce(&mut SqliteStore), configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("gatehouse.db");
        {
            let mut store = SqliteStore::open(&db).expect("open store");
            seed(&mut store);
        }
        let mut config = Config::default();
        config.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
        config.link.listen = vec!["127.0.0.1:0".parse().unwrap()];
        config.store.path = db.clone();
        // Tests log in many times, concurrently, from 127.0.0.1: the per-address limits are
        // off for it unless a test (the abuse tests) clears this. 127.0.0.2 and beyond are
        // counted as any other address.
        config.limits.exempt = vec!["127.0.0.1/32".parse().unwrap()];
        configure(&mut config);

        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let (mut event_loop, daemon) = Daemon::start(config).expect("daemon starts");
            let addrs = daemon.local_addrs();
            let link = daemon.link_addrs().first().copied();
            let console = daemon.console_addrs().first().copied();
            let metrics = daemon.metrics_addrs().first().copied();
            tx.send((addrs, link, console, metrics, Daemon::handle(&event_loop)))
                .unwrap();
            daemon.run(&mut event_loop).expect("daemon runs");
        });
        let (addrs, link, console, metrics, handle) =
            rx.recv_timeout(TIMEOUT).expect("daemon started");
        let addr = addrs[0];
        TestServer {
            addr,
            addrs,
            console,
            metrics,
            link: link.unwrap_or(addr),
            db,
            handle,
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn counters(&self) -> gatehouse::daemon::Counters {
        self.handle.counters(TIMEOUT).expect("counters")
    }

    /// Each game client's standing and ring sizes.
    pub fn client_buffers(
        &self,
    ) -> Vec<(
        gatehouse::net::connection::Standing,
        gatehouse::daemon::Buffers,
    )> {
        self.handle.client_buffers(TIMEOUT).expect("client buffers")
    }

    /// A second connection to the daemon's database, for assertions.
    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db).expect("open store")
    }
}

impl TestServer {
    /// Begins the drain, as SIGTERM does.
    pub fn drain(&self) {
        self.handle.drain();
    }

    /// Waits for the daemon to stop by itself; whether it did within `within`.
    pub fn stopped_within(&mut self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// A TCP connection to `server` from `source` (any port): loopback has all of 127.0.0.0/8,
/// so tests can be several addresses.
pub fn connect_from(source: &str, server: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let source: std::net::IpAddr = source.parse().expect("source address");
    let domain = socket2::Domain::for_address(server);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&server.into(), TIMEOUT)?;
    Ok(socket.into())
}

/// Whether the server hung up on `stream` within `within`, after whatever it sent first (a
/// banner, a Hello, a goodbye); a read timeout is not a hang-up.
pub fn hung_up(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

/// The gatehouse binary with `args`, `stdin` on its standard input; what it printed.
pub fn run_gatehouse(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("gatehouse output")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn account(
    store: &mut SqliteStore,
    name: &str,
    password: &str,
) -> gatehouse::account::AccountId {
    gatehouse::admin::create_account(store, name, password).expect("create account")
}

pub fn realm(store: &mut SqliteStore, name: &str, address: &str, builds: &[u16]) -> RealmId {
    store
        .add_realm(&NewRealm {
            name: name.into(),
            address: address.into(),
            realm_type: 1,
            flags: 0,
            timezone: 2,
            population: 1.5,
            builds: builds.iter().copied().map(Build).collect(),
            link_key: None,
            allowed_level: 0,
            local: None,
        })
        .expect("add realm")
}
