//! Heap allocations per full logon on the daemon's loop thread (row 6 of `scripts/bench.sh`).
//!
//! The daemon runs in this process, as the integration tests run it (`tests/common`), on a
//! thread of its own whose allocations alone are counted: a counting global allocator that
//! looks at a thread-local flag, set on that thread just before the loop starts. The DB
//! threads, the log writer and the load client (this process's main thread, over loopback)
//! are not counted. After a warm-up, N full logons (challenge, proof, realm list; build
//! 12340, the fixed-ephemeral load client) are run and the count is divided by N. Whatever
//! the loop does meanwhile besides logons (timers, log lines) is in the count too, as it would
//! be in production; the log level is the production default (info) unless `--log-level` says
//! otherwise, and log lines go to standard error.
//!
//! `cargo bench --bench alloc_logon -- [--logons N] [--warmup N] [--concurrency N]
//! [--log-level LEVEL]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use gatehouse::config::Config;
use gatehouse::daemon::{Daemon, DaemonHandle};
use gatehouse::protocol::version::Build;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::{NewRealm, Store};
use gatehouse::tools::client::load::{self, LoadArgs};

thread_local! {
    /// Set on the loop thread only; a const initialiser, so reading it never allocates.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (and reallocations, which may move) made on
/// the flagged thread.
struct Counting;

fn count(size: usize) {
    // try_with: during thread teardown the flag may be gone; then nothing is counted.
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only atomics and a
// const thread-local, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ACCOUNT: &str = "ALLOCBENCH";

struct Options {
    logons: u64,
    warmup: u64,
    concurrency: usize,
    log_level: log::LevelFilter,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        logons: 2000,
        warmup: 200,
        concurrency: 1,
        log_level: log::LevelFilter::Info,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--logons" => o.logons = value()?.parse().map_err(|e| bad(&e))?,
            "--warmup" => o.warmup = value()?.parse().map_err(|e| bad(&e))?,
            "--concurrency" => o.concurrency = value()?.parse().map_err(|e| bad(&e))?,
            "--log-level" => {
                o.log_level = log::LevelFilter::from_str(&value()?).map_err(|e| bad(&e))?
            }
            // cargo bench passes --bench; anything else is a mistake worth saying.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.logons == 0 {
        return Err("--logons must be at least 1".into());
    }
    Ok(o)
}

/// Starts the daemon on its own, counted thread; its game address and a handle to stop it.
fn start_daemon(
    db: &std::path::Path,
) -> Result<(SocketAddr, DaemonHandle, std::thread::JoinHandle<()>), String> {
    let mut config = Config::default();
    config.server.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    config.link.listen = Vec::new();
    config.store.path = db.to_path_buf();
    config.limits.exempt = vec!["127.0.0.0/8".parse().map_err(|e| format!("{e}"))?];
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("gatehouse-loop".into())
        .spawn(move || {
            let (mut event_loop, daemon) = match Daemon::start(config) {
                Ok(started) => started,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let addr = daemon.local_addrs().first().copied();
            let _ = tx.send(Ok((addr, Daemon::handle(&event_loop))));
            COUNTED.set(true);
            let result = daemon.run(&mut event_loop);
            COUNTED.set(false);
            if let Err(e) = result {
                eprintln!("alloc_logon: the daemon stopped: {e}");
            }
        })
        .map_err(|e| e.to_string())?;
    let (addr, handle) = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|e| format!("the daemon did not start: {e}"))??;
    let addr = addr.ok_or("the daemon has no game listener")?;
    Ok((addr, handle, thread))
}

fn logons(addr: SocketAddr, n: u64, concurrency: usize) -> Result<(), String> {
    let args = LoadArgs {
        server: addr,
        account: ACCOUNT.into(),
        password: ACCOUNT.into(),
        concurrency,
        logons: Some(n),
        duration: None,
        warmup: 0.0,
        rate: None,
        fixed_ephemeral: true,
        park: None,
        logged_in: false,
        hold: 0.0,
        realm_lists: None,
        timeout: 30.0,
        build: 12340,
        realm_list: true,
    };
    let report = load::run(&args).map_err(|e| e.to_string())?;
    if report.failed() > 0 || report.outcome.ok != n {
        return Err(format!("logons failed:\n{report}"));
    }
    Ok(())
}

fn bench() -> Result<(), String> {
    let o = options()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("gatehouse.db");
    {
        let mut store = SqliteStore::open(&db).map_err(|e| e.to_string())?;
        gatehouse::admin::create_account(&mut store, ACCOUNT, ACCOUNT)
            .map_err(|e| e.to_string())?;
        store
            .add_realm(&NewRealm {
                name: "Azeroth".into(),
                address: "127.0.0.1:8085".into(),
                realm_type: 1,
                flags: 0,
                timezone: 1,
                population: 1.0,
                builds: vec![Build(12340)],
                link_key: None,
                allowed_level: 0,
                local: None,
            })
            .map_err(|e| e.to_string())?;
    }
    gatehouse::logging::init(o.log_level);
    let (addr, handle, thread) = start_daemon(&db)?;

    let measured = logons(addr, o.warmup.max(1), o.concurrency).and_then(|()| {
        let (a0, b0) = (
            ALLOCATIONS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        logons(addr, o.logons, o.concurrency)?;
        let (a1, b1) = (
            ALLOCATIONS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        Ok((a1 - a0, b1 - b0))
    });
    handle.shutdown();
    let _ = thread.join();
    gatehouse::logging::flush();
    let (allocations, bytes) = measured?;

    let per = allocations as f64 / o.logons as f64;
    let bytes_per = bytes as f64 / o.logons as f64;
    println!(
        "loop-thread heap allocations per full logon: {per:.1} ({bytes_per:.0} bytes), \
         {} logons after {} warm-up, concurrency {}, log level {}",
        o.logons,
        o.warmup.max(1),
        o.concurrency,
        o.log_level
    );
    println!(
        "summary: allocs_per_logon={per:.2} bytes_per_logon={bytes_per:.0} logons={}",
        o.logons
    );
    Ok(())
}

fn main() -> ExitCode {
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alloc_logon: {e}");
            ExitCode::FAILURE
        }
    }
}
