//! The log backend: a `log` facade implementation that never blocks the loop on slow output.
//!
//! Formatting happens on the calling thread (cheap); the finished line goes over a bounded
//! channel to one writer thread that owns stderr. If stderr is slow and the channel is full,
//! the line is dropped and counted, and the writer reports the count when it catches up — a
//! stuck terminal or journal must never stall logons.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use log::{LevelFilter, Log, Metadata, Record};

/// Lines that may wait for the writer before new ones are dropped.
const QUEUE_LINES: usize = 16 * 1024;

enum Line {
    Text(String),
    Flush(Sender<()>),
}

/// How lines look: with our own timestamp on a terminal or in a file, or for the journal
/// (which stamps lines itself and reads a `<N>` syslog priority prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Journal,
}

impl Style {
    /// The journal when systemd started us (it sets JOURNAL_STREAM or NOTIFY_SOCKET).
    pub fn detect() -> Style {
        if std::env::var_os("JOURNAL_STREAM").is_some()
            || std::env::var_os("NOTIFY_SOCKET").is_some()
        {
            Style::Journal
        } else {
            Style::Plain
        }
    }
}

struct ChannelLogger {
    tx: Sender<Line>,
    dropped: AtomicU64,
    style: Style,
}

/// The syslog priority the journal reads from a `<N>` prefix.
fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

static LOGGER: OnceLock<ChannelLogger> = OnceLock::new();

impl Log for ChannelLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = match self.style {
            Style::Plain => format!(
                "{} {:<5} {}: {}\n",
                humantime::format_rfc3339_millis(SystemTime::now()),
                record.level(),
                record.target(),
                record.args()
            ),
            Style::Journal => format!(
                "<{}>{}: {}\n",
                priority(record.level()),
                record.target(),
                record.args()
            ),
        };
        match self.tx.try_send(Line::Text(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {
        let (done_tx, done_rx) = bounded(1);
        if self.tx.send(Line::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
        }
    }
}

fn writer(rx: Receiver<Line>) {
    let stderr = std::io::stderr();
    let mut reported = 0u64;
    for line in rx {
        let mut out = stderr.lock();
        if let Some(logger) = LOGGER.get() {
            let dropped = logger.dropped.load(Ordering::Relaxed);
            if dropped > reported {
                let _ = writeln!(
                    out,
                    "{} WARN  gatehouse::logging: {} log lines dropped: output too slow",
                    humantime::format_rfc3339_millis(SystemTime::now()),
                    dropped - reported
                );
                reported = dropped;
            }
        }
        match line {
            Line::Text(text) => {
                let _ = out.write_all(text.as_bytes());
            }
            Line::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
        }
    }
}

/// Installs the logger (once per process; later calls only change the level).
pub fn init(level: LevelFilter) {
    let mut installed = false;
    let logger = LOGGER.get_or_init(|| {
        let (tx, rx) = bounded(QUEUE_LINES);
        let spawned = thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer(rx));
        if spawned.is_err() {
            eprintln!("gatehouse: could not start the log writer thread; logging is off");
        }
        installed = true;
        ChannelLogger {
            tx,
            dropped: AtomicU64::new(0),
            style: Style::detect(),
        }
    });
    if installed {
        // Fails only if another logger was set first (e.g. by a test harness): keep theirs.
        let _ = log::set_logger(logger);
    }
    log::set_max_level(level);
}

/// Changes the level at run time (flag, config reload, console).
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}

/// Waits (briefly) until every queued line is written: call before exit.
pub fn flush() {
    if let Some(logger) = LOGGER.get() {
        logger.flush();
    }
}
