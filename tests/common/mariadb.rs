//! A private MariaDB server for tests that need MySQL: a temporary data directory, a free port
//! on 127.0.0.1, no grant tables, stopped (and its directory removed) at the end.
//!
//! One server per test binary is enough ([`MariaDb::shared`]); each test gets its own empty
//! database from [`MariaDb::database`]. Without a MariaDB installation the tests that need it
//! skip, saying so, unless `GATEHOUSE_REQUIRE_MYSQL=1` (CI) makes that a failure.
//!
//! [`MariaDb::shared_tls`] is a second kind: TLS with a CA and a certificate for `localhost` and
//! 127.0.0.1 made at start (rcgen), and `require_secure_transport=ON`, so the server refuses a
//! plaintext TCP login. It keeps its grant tables (without them MariaDB checks no transport);
//! root has no password there either, and the harness's own SQL goes through the Unix socket.
//!
//! The server must never outlive the test process, however it ends: it is spawned with
//! `PR_SET_PDEATHSIG` = SIGKILL from a keeper thread that lives as long as the server (the
//! signal follows the thread that forked, not the process, so it cannot be a test's thread), and
//! the shared server, which a static never drops, is stopped by an `atexit` hook.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Set to 1 (CI does) to make a missing MariaDB a failure rather than a skip.
pub const REQUIRE_VAR: &str = "GATEHOUSE_REQUIRE_MYSQL";

/// How long the server may take to accept connections after it is started.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd server may take to shut down before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The binaries a private server needs.
struct Binaries {
    server: PathBuf,
    install_db: PathBuf,
    client: PathBuf,
}

/// Whether a server speaks plain TCP only, or TLS and nothing else over TCP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Plain,
    Tls,
}

/// A TLS server's files, in its directory: the CA that signed its certificate, the certificate
/// (for `localhost` and 127.0.0.1) and its key.
#[derive(Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

static SHARED: OnceLock<Result<MariaDb, String>> = OnceLock::new();
static SHARED_TLS: OnceLock<Result<MariaDb, String>> = OnceLock::new();

/// Stops the shared servers at exit: a static is never dropped.
extern "C" fn stop_shared() {
    for cell in [&SHARED, &SHARED_TLS] {
        if let Some(Ok(server)) = cell.get() {
            server.stop();
        }
    }
}

/// A running private server.
pub struct MariaDb {
    port: u16,
    pid: libc::pid_t,
    /// Set by the keeper thread once it has reaped the server.
    exited: Arc<AtomicBool>,
    /// The temporary directory: data, socket, pid file, error log.
    dir: PathBuf,
    client: PathBuf,
    /// Set for a TLS server; its SQL then goes through the socket.
    tls: Option<ServerTls>,
    next_db: AtomicU32,
    stopped: AtomicBool,
}

impl MariaDb {
    /// Starts a private server, or says why not: `None` (after printing that the test skipped)
    /// when MariaDB is not installed; a panic when `GATEHOUSE_REQUIRE_MYSQL=1` and it is not, or
    /// when it is installed but will not start. Stopped when dropped.
    pub fn start() -> Option<MariaDb> {
        let binaries = Self::binaries()?;
        match start_server(&binaries, Transport::Plain) {
            Ok(server) => Some(server),
            Err(e) => panic!("cannot start a private mariadbd: {e}"),
        }
    }

    /// The server shared by every test of this binary, started by the first caller; `None` (the
    /// test skips, and says so) when MariaDB is not installed, as for [`MariaDb::start`].
    pub fn shared() -> Option<&'static MariaDb> {
        Self::shared_in(&SHARED, Transport::Plain)
    }

    /// Like [`MariaDb::shared`], a server that takes only TLS over TCP (`require_secure_transport`),
    /// with a certificate for `localhost` and 127.0.0.1 signed by [`MariaDb::tls_ca`].
    pub fn shared_tls() -> Option<&'static MariaDb> {
        Self::shared_in(&SHARED_TLS, Transport::Tls)
    }

    fn shared_in(
        cell: &'static OnceLock<Result<MariaDb, String>>,
        transport: Transport,
    ) -> Option<&'static MariaDb> {
        let binaries = Self::binaries()?;
        let server = cell.get_or_init(|| {
            let server = start_server(&binaries, transport)?;
            // SAFETY: registers a plain function with no preconditions.
            unsafe { libc::atexit(stop_shared) };
            Ok(server)
        });
        match server {
            Ok(server) => Some(server),
            Err(e) => panic!("cannot start a private mariadbd: {e}"),
        }
    }

    /// The installed binaries, or `None` after printing the skip; panics instead when
    /// `GATEHOUSE_REQUIRE_MYSQL=1`.
    fn binaries() -> Option<Binaries> {
        let found = (|| {
            Some(Binaries {
                server: find_binary("mariadbd", &["/usr/sbin/mariadbd", "/usr/libexec/mariadbd"])?,
                install_db: find_binary("mariadb-install-db", &["/usr/bin/mariadb-install-db"])?,
                client: find_binary("mariadb", &["/usr/bin/mariadb"])?,
            })
        })();
        if found.is_none() {
            if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_VAR}=1 but no MariaDB server is installed (mariadbd, \
                     mariadb-install-db and the mariadb client are needed; on Debian: \
                     apt-get install mariadb-server)"
                );
            }
            // Straight to stderr: libtest captures `println!`, and a skip should be seen.
            let test = thread::current().name().unwrap_or("a test").to_owned();
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped: no mariadbd (set {REQUIRE_VAR}=1 to require it)"
            );
        }
        found
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA (PEM) that signed a TLS server's certificate; `None` for a plain one.
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca.as_path())
    }

    /// Creates a fresh, empty database and returns its URL,
    /// `mysql://root@127.0.0.1:PORT/g_N`.
    pub fn database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("g_{n}");
        self.sql(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        format!("mysql://root@127.0.0.1:{}/{name}", self.port)
    }

    /// A fresh database with `tables` (SQL) loaded into it: its URL and its name.
    pub fn database_with(&self, tables: &str) -> (String, String) {
        let url = self.database();
        let db = url.rsplit('/').next().expect("a database name").to_owned();
        self.sql(&format!("USE {db};\n{tables}"))
            .unwrap_or_else(|e| panic!("loading the tables into {db}: {e}"));
        (url, db)
    }

    /// Runs SQL in database `db`; its batch output. A failure fails the test.
    pub fn sql_in(&self, db: &str, sql: &str) -> String {
        self.sql(&format!("USE {db};\n{sql}"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs SQL through the `mariadb` client as root; its output in batch form (tab-separated,
    /// no column names), or what it printed on failure.
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(&self.client);
        cmd.arg("--no-defaults");
        match self.tls {
            // The socket counts as secure transport; the client's TLS defaults vary by version.
            Some(_) => cmd
                .arg("--protocol=SOCKET")
                .arg(format!("--socket={}", self.dir.join("sock").display())),
            None => cmd
                .arg("--protocol=TCP")
                .arg("-h127.0.0.1")
                .arg(format!("-P{}", self.port)),
        };
        let out = cmd
            .arg("-uroot")
            .arg("--batch")
            .arg("--skip-column-names")
            .arg("-e")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.client.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Stops the server (SIGTERM, as a restart does: the test server does not flush every
    /// commit, so a crash could lose what the test wrote), runs `while_down`, then starts it
    /// again on the same port and data: an outage, for what clients see meanwhile and after.
    pub fn restart(&mut self, while_down: impl FnOnce()) {
        // SAFETY: kill(2) of our own, not yet reaped, child.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        if !wait_flag(&self.exited, STOP_WITHIN) {
            stop_only(self);
        }
        while_down();
        let binaries = Self::binaries().expect("the binaries that started it");
        let data = self.dir.join("data");
        let again = run(&binaries, &self.dir, &data, self.port, self.tls.as_ref())
            .unwrap_or_else(|e| panic!("cannot restart mariadbd: {e}"));
        // The new process replaces the old one; the old value must not stop it when dropped.
        again.stopped.store(true, Ordering::SeqCst);
        self.pid = again.pid;
        self.exited = Arc::clone(&again.exited);
        self.stopped.store(false, Ordering::SeqCst);
    }

    /// SIGTERM, then SIGKILL if it does not stop in time; then the directory goes. Idempotent.
    /// Never panics: it runs from `atexit` too.
    fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        // Only signal a pid the keeper has not reaped yet: a reaped pid may be someone else's.
        if !self.exited.load(Ordering::SeqCst) {
            // SAFETY: kill(2) with a pid of our own child.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            if !wait_flag(&self.exited, STOP_WITHIN) {
                // SAFETY: as above; the keeper has not reaped it.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                wait_flag(&self.exited, Duration::from_secs(5));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_binary(name: &str, usual: &[&str]) -> Option<PathBuf> {
    let usual = usual.iter().map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    usual.chain(on_path).find(|p| p.is_file())
}

fn running_as_root() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn wait_flag(flag: &AtomicBool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !flag.load(Ordering::SeqCst) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A port that was free a moment ago (the server binds it right after; a lost race is retried).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

const DIR_PREFIX: &str = "gatehouse-mariadb-";
/// In each server's directory: the pid of the test process that owns it.
const OWNER_FILE: &str = "owner";

fn start_server(binaries: &Binaries, transport: Transport) -> Result<MariaDb, String> {
    remove_orphaned_dirs();
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    std::fs::write(dir.join(OWNER_FILE), std::process::id().to_string())
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = match transport {
        Transport::Plain => install_and_run(binaries, &dir, None),
        Transport::Tls => make_certificates(&dir.join("tls"))
            .and_then(|tls| install_and_run(binaries, &dir, Some(&tls))),
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A test process killed outright (SIGKILL) takes its server with it (PR_SET_PDEATHSIG) but
/// leaves its directory: the next run removes the directories whose owner is gone.
fn remove_orphaned_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        let owner = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|p| p.trim().parse::<libc::pid_t>().ok());
        // SAFETY: kill(2) with signal 0 only asks whether the process exists.
        let gone = owner.is_some_and(|pid| {
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        if ours && gone {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Options that keep the server small and fast; durability does not matter to a test.
const SMALL: &[&str] = &[
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    "--skip-log-bin",
    "--loose-innodb-flush-log-at-trx-commit=0",
    "--loose-innodb-doublewrite=0",
    "--loose-skip-name-resolve",
];

/// A CA of its own and a server certificate for `localhost` and 127.0.0.1 that it signed, as
/// PEM files in `dir`.
fn make_certificates(dir: &Path) -> Result<ServerTls, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let cert_err = |e: rcgen::Error| format!("making the test certificates: {e}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "gatehouse test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(cert_err)?)
        .map_err(cert_err)?;
    let key = KeyPair::generate().map_err(cert_err)?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(cert_err)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = server.signed_by(&key, &*ca).map_err(cert_err)?;

    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tls = ServerTls {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    for (path, pem) in [
        (&tls.ca, ca.pem()),
        (&tls.cert, cert.pem()),
        (&tls.key, key.serialize_pem()),
    ] {
        std::fs::write(path, pem).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(tls)
}

fn install_and_run(
    binaries: &Binaries,
    dir: &Path,
    tls: Option<&ServerTls>,
) -> Result<MariaDb, String> {
    let data = dir.join("data");
    // The server's temporary files stay in our directory: in the shared /tmp another
    // process's clean-up (or another server's) can delete them under a starting server.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut install = Command::new(&binaries.install_db);
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .args(SMALL);
    if running_as_root() {
        install.arg("--user=root");
    }
    let out = install
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binaries.install_db.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}{}",
            binaries.install_db.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        match run(binaries, dir, &data, port, tls) {
            Ok(server) => return Ok(server),
            // Most likely the port was taken between our probe and the server's bind.
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Starts mariadbd on `port` from a keeper thread and waits until it answers a query.
fn run(
    binaries: &Binaries,
    dir: &Path,
    data: &Path,
    port: u16,
    tls: Option<&ServerTls>,
) -> Result<MariaDb, String> {
    let log = dir.join("err.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new(&binaries.server);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .arg(format!("--log-error={}", log.display()))
        .arg("--skip-networking=0")
        .args(SMALL)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match tls {
        // Without grant tables nobody is authenticated, and so no transport is checked.
        None => {
            cmd.arg("--skip-grant-tables");
        }
        Some(tls) => {
            cmd.arg(format!("--ssl-ca={}", tls.ca.display()))
                .arg(format!("--ssl-cert={}", tls.cert.display()))
                .arg(format!("--ssl-key={}", tls.key.display()))
                .arg("--require-secure-transport=ON");
        }
    }
    if running_as_root() {
        cmd.arg("--user=root");
    }
    // SAFETY: the hook only makes async-signal-safe calls (getppid, prctl, _exit).
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then nobody would ever signal us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }

    // The keeper thread forks the server and then waits for it, so it lives exactly as long as
    // the server: PR_SET_PDEATHSIG fires when it (the forking thread) or the process dies.
    let exited = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    {
        let exited = Arc::clone(&exited);
        thread::Builder::new()
            .name(format!("mariadbd-{port}"))
            .spawn(move || match cmd.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id() as libc::pid_t));
                    let _ = child.wait();
                    exited.store(true, Ordering::SeqCst);
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| format!("keeper thread: {e}"))?;
    }
    let pid = rx
        .recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot run {}: {e}", binaries.server.display()))?;
    let server = MariaDb {
        port,
        pid,
        exited,
        dir: dir.to_owned(),
        client: binaries.client.clone(),
        tls: tls.cloned(),
        next_db: AtomicU32::new(0),
        // Not a real stop: a failed start must not remove the directory that the next
        // attempt (another port) reuses; `stop_only` below kills it.
        stopped: AtomicBool::new(false),
    };

    let deadline = Instant::now() + READY_WITHIN;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if server.exited.load(Ordering::SeqCst) {
            let log = read_log(&log);
            server.stopped.store(true, Ordering::SeqCst);
            return Err(format!("mariadbd exited while starting; its log:\n{log}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            match server.sql("SELECT 1") {
                Ok(_) => return Ok(server),
                Err(e) if Instant::now() >= deadline => {
                    stop_only(&server);
                    return Err(format!("mariadbd does not answer: {e}"));
                }
                Err(_) => {}
            }
        }
        if Instant::now() >= deadline {
            stop_only(&server);
            return Err(format!(
                "mariadbd did not accept connections on {addr} within {READY_WITHIN:?}; \
                 its log:\n{}",
                read_log(&log)
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a server that failed to start, keeping its directory for another attempt.
fn stop_only(server: &MariaDb) {
    // SAFETY: kill(2) of our own, not yet reaped, child.
    unsafe { libc::kill(server.pid, libc::SIGKILL) };
    wait_flag(&server.exited, Duration::from_secs(5));
    server.stopped.store(true, Ordering::SeqCst);
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            let _ = f.read_to_string(&mut text);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => text = "(no log)".to_owned(),
        Err(e) => text = format!("(cannot read the log: {e})"),
    }
    // The tail says why it stopped.
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
