//! Log flood control: repeated warnings of one kind become one line plus a count.
//!
//! Anything a peer can cause (a bad packet, a full store queue, a refused connection) must not
//! cost one log line per event. A [`LogThrottle`] logs the first event of each kind in full,
//! only counts the others within a window (the daemon uses 10 s), and logs
//! "N similar in the last 10 s: kind" when the window is over. There is no global state: the
//! loop thread owns one, and any other thread that needs one owns its own. Lines go to the
//! `log` crate by default, or to any [`LogSink`] (tests capture them).
//!
//! Use the macros: `throttled_warn!(self.throttle, now, "store-queue-full", "{peer}: ...")`.

use std::fmt;
use std::time::{Duration, Instant};

pub use log::Level;

/// Most kinds tracked at once. Kinds are `&'static str` written in the code, so a real
/// program has far fewer; past this, new kinds share one overflow entry ([`OVERFLOW_KIND`]).
pub const MAX_KINDS: usize = 256;

/// The kind that events are counted under when [`MAX_KINDS`] kinds are already tracked.
pub const OVERFLOW_KIND: &str = "other kinds (log throttle table full)";

/// The target of lines logged through [`LogThrottle::log`].
pub const DEFAULT_TARGET: &str = "gatehouse";

/// Where a throttle's lines go.
pub trait LogSink {
    fn write(&mut self, level: Level, target: &'static str, args: fmt::Arguments<'_>);
}

/// The default sink: the `log` crate (which formats only if `level` is enabled).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogCrate;

impl LogSink for LogCrate {
    fn write(&mut self, level: Level, target: &'static str, args: fmt::Arguments<'_>) {
        log::log!(target: target, level, "{args}");
    }
}

/// One kind's current window.
#[derive(Debug)]
struct Window {
    kind: &'static str,
    /// Target of the event that opened the window; its summary goes there too.
    target: &'static str,
    /// The most severe level seen in the window.
    level: Level,
    start: Instant,
    suppressed: u64,
}

/// Logs the first event of each kind per window in full and counts the rest.
pub struct LogThrottle<S: LogSink = LogCrate> {
    window: Duration,
    windows: Vec<Window>,
    sink: S,
}

impl LogThrottle {
    /// A throttle with `window` per kind that logs through the `log` crate.
    pub fn new(window: Duration) -> Self {
        Self::with_sink(window, LogCrate)
    }
}

impl<S: LogSink> LogThrottle<S> {
    /// A throttle with `window` per kind that logs to `sink`.
    pub fn with_sink(window: Duration, sink: S) -> Self {
        Self {
            window,
            windows: Vec::new(),
            sink,
        }
    }

    /// One event of `kind`, logged with target [`DEFAULT_TARGET`]. See [`LogThrottle::log_from`].
    pub fn log(
        &mut self,
        now: Instant,
        level: Level,
        kind: &'static str,
        args: fmt::Arguments<'_>,
    ) {
        self.log_from(now, level, DEFAULT_TARGET, kind, args);
    }

    /// One event of `kind` from `target` (the macros pass the calling module). The first event
    /// of a kind in a window is logged in full; later ones in the same window are only counted.
    /// An event after the window is over first logs the finished window's summary (if it
    /// suppressed any) and then opens a new window, logged in full.
    pub fn log_from(
        &mut self,
        now: Instant,
        level: Level,
        target: &'static str,
        kind: &'static str,
        args: fmt::Arguments<'_>,
    ) {
        let kind = self.trackable(now, kind);
        if let Some(index) = self.windows.iter().position(|w| w.kind == kind) {
            let window = &mut self.windows[index];
            if !Self::is_over(self.window, window, now) {
                window.suppressed += 1;
                window.level = window.level.min(level); // Error < Warn: keep the most severe
                return;
            }
            let window = self.windows.swap_remove(index);
            Self::summarise(&mut self.sink, self.window, &window);
        }
        self.windows.push(Window {
            kind,
            target,
            level,
            start: now,
            suppressed: 0,
        });
        self.sink.write(level, target, args);
    }

    /// Logs the summary of every window that is over and suppressed something, and forgets
    /// every kind whose window is over (the next event of it is logged in full either way).
    pub fn flush(&mut self, now: Instant) {
        let length = self.window;
        let sink = &mut self.sink;
        self.windows.retain(|window| {
            let over = Self::is_over(length, window, now);
            if over {
                Self::summarise(sink, length, window);
            }
            !over
        });
    }

    /// When the next [`flush`](LogThrottle::flush) has a summary to log: the earliest end of
    /// a window that suppressed something. `None` when nothing waits.
    pub fn next_summary_due(&self) -> Option<Instant> {
        self.windows
            .iter()
            .filter(|w| w.suppressed > 0)
            .map(|w| w.start.checked_add(self.window).unwrap_or(w.start))
            .min()
    }

    /// How many kinds are tracked now (at most [`MAX_KINDS`] + 1).
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    /// The sink (a test reads what was captured).
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// `kind`, or [`OVERFLOW_KIND`] if it is new and the table is full even after
    /// forgetting the windows that are over.
    fn trackable(&mut self, now: Instant, kind: &'static str) -> &'static str {
        if self.windows.len() < MAX_KINDS || self.windows.iter().any(|w| w.kind == kind) {
            return kind;
        }
        self.flush(now);
        if self.windows.len() < MAX_KINDS {
            kind
        } else {
            OVERFLOW_KIND
        }
    }

    fn is_over(length: Duration, window: &Window, now: Instant) -> bool {
        now.saturating_duration_since(window.start) >= length
    }

    fn summarise(sink: &mut S, length: Duration, window: &Window) {
        if window.suppressed > 0 {
            sink.write(
                window.level,
                window.target,
                format_args!(
                    "{} similar in the last {}: {}",
                    window.suppressed,
                    WindowLength(length),
                    window.kind
                ),
            );
        }
    }
}

impl<S: LogSink> fmt::Debug for LogThrottle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogThrottle")
            .field("window", &self.window)
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

/// A window's length as people write it: "10 s", "1.5 s", "250 ms".
struct WindowLength(Duration);

impl fmt::Display for WindowLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{} s", d.as_secs())
        } else if d < Duration::from_secs(1) {
            write!(f, "{} ms", d.as_millis())
        } else {
            write!(f, "{} s", d.as_secs_f64())
        }
    }
}

/// Logs through a [`LogThrottle`](crate::log_throttle::LogThrottle) at WARN, with the calling
/// module as target:
/// `throttled_warn!(throttle, now, "kind", "format {}", args)`.
#[macro_export]
macro_rules! throttled_warn {
    ($throttle:expr, $now:expr, $kind:expr, $($arg:tt)+) => {
        $throttle.log_from(
            $now,
            $crate::log_throttle::Level::Warn,
            ::core::module_path!(),
            $kind,
            ::core::format_args!($($arg)+),
        )
    };
}

/// Logs through a [`LogThrottle`](crate::log_throttle::LogThrottle) at ERROR, with the calling
/// module as target:
/// `throttled_error!(throttle, now, "kind", "format {}", args)`.
#[macro_export]
macro_rules! throttled_error {
    ($throttle:expr, $now:expr, $kind:expr, $($arg:tt)+) => {
        $throttle.log_from(
            $now,
            $crate::log_throttle::Level::Error,
            ::core::module_path!(),
            $kind,
            ::core::format_args!($($arg)+),
        )
    };
}

/// Logs through a [`LogThrottle`](crate::log_throttle::LogThrottle) at INFO, with the calling
/// module as target:
/// `throttled_info!(throttle, now, "kind", "format {}", args)`.
#[macro_export]
macro_rules! throttled_info {
    ($throttle:expr, $now:expr, $kind:expr, $($arg:tt)+) => {
        $throttle.log_from(
            $now,
            $crate::log_throttle::Level::Info,
            ::core::module_path!(),
            $kind,
            ::core::format_args!($($arg)+),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    /// Captures (level, target, text) of every line.
    #[derive(Default)]
    struct Capture(Vec<(Level, &'static str, String)>);

    impl LogSink for Capture {
        fn write(&mut self, level: Level, target: &'static str, args: fmt::Arguments<'_>) {
            self.0.push((level, target, args.to_string()));
        }
    }

    fn throttle() -> LogThrottle<Capture> {
        LogThrottle::with_sink(WINDOW, Capture::default())
    }

    fn lines(t: &LogThrottle<Capture>) -> Vec<String> {
        t.sink().0.iter().map(|(_, _, text)| text.clone()).collect()
    }

    #[test]
    fn first_event_in_full_then_only_counted_then_summarised() {
        let mut t = throttle();
        let t0 = Instant::now();
        let peer = "10.0.0.1:4000";
        throttled_error!(t, t0, "store-queue-full", "{peer}: store queue full");
        assert_eq!(
            t.sink().0,
            vec![(
                Level::Error,
                module_path!(),
                "10.0.0.1:4000: store queue full".to_string()
            )]
        );
        for i in 0..1000u64 {
            let now = t0 + Duration::from_millis(i * 9); // up to 8.991 s: inside the window
            throttled_error!(t, now, "store-queue-full", "peer {i}: store queue full");
        }
        assert_eq!(t.sink().0.len(), 1, "no line while the window is open");
        assert_eq!(t.next_summary_due(), Some(t0 + WINDOW));

        throttled_error!(t, t0 + WINDOW, "store-queue-full", "late: store queue full");
        assert_eq!(
            lines(&t)[1..],
            [
                "1000 similar in the last 10 s: store-queue-full",
                "late: store queue full"
            ]
        );
        assert_eq!(t.sink().0[1].0, Level::Error, "summary at the same level");
        assert_eq!(
            t.sink().0[1].1,
            module_path!(),
            "summary at the same target"
        );
        // The late event opened a new window that has suppressed nothing yet.
        assert_eq!(t.next_summary_due(), None);
    }

    #[test]
    fn kinds_are_independent() {
        let mut t = throttle();
        let t0 = Instant::now();
        throttled_warn!(t, t0, "a", "a 1");
        throttled_warn!(t, t0, "b", "b 1");
        throttled_warn!(t, t0, "a", "a 2");
        throttled_warn!(t, t0 + Duration::from_secs(5), "c", "c 1");
        throttled_warn!(t, t0 + Duration::from_secs(6), "c", "c 2");
        throttled_warn!(t, t0 + Duration::from_secs(6), "c", "c 3");
        assert_eq!(lines(&t), ["a 1", "b 1", "c 1"]);
        // At 10 s a's and b's windows are over, c's is not.
        t.flush(t0 + WINDOW);
        assert_eq!(lines(&t)[3..], ["1 similar in the last 10 s: a"]);
        assert_eq!(t.tracked(), 1, "a and b are forgotten");
        throttled_warn!(t, t0 + WINDOW, "b", "b 2");
        throttled_warn!(t, t0 + WINDOW, "c", "c 4");
        assert_eq!(lines(&t)[4..], ["b 2"]);
        t.flush(t0 + Duration::from_secs(15));
        assert_eq!(lines(&t)[5..], ["3 similar in the last 10 s: c"]);
    }

    #[test]
    fn flush_logs_pending_summaries_and_nothing_else() {
        let mut t = throttle();
        let t0 = Instant::now();
        t.flush(t0);
        assert!(t.sink().0.is_empty());

        throttled_info!(t, t0, "once", "only one");
        t.flush(t0 + WINDOW * 2);
        assert_eq!(lines(&t), ["only one"], "nothing suppressed, no summary");
        assert_eq!(t.tracked(), 0);

        throttled_warn!(t, t0, "twice", "first");
        throttled_error!(t, t0, "twice", "second, worse");
        t.flush(t0 + WINDOW - Duration::from_millis(1));
        assert_eq!(lines(&t).len(), 2, "the window is not over yet");
        t.flush(t0 + WINDOW);
        assert_eq!(
            t.sink().0[2],
            (
                Level::Error,
                module_path!(),
                "1 similar in the last 10 s: twice".to_string()
            ),
            "the summary has the most severe level of the window"
        );
        t.flush(t0 + WINDOW * 3);
        assert_eq!(lines(&t).len(), 3, "a summary is logged once");
    }

    #[test]
    fn log_uses_the_default_target_and_a_clock_going_back_stays_in_the_window() {
        let mut t = throttle();
        let t0 = Instant::now() + Duration::from_secs(1);
        t.log(t0, Level::Warn, "k", format_args!("x"));
        t.log(
            t0 - Duration::from_secs(1),
            Level::Warn,
            "k",
            format_args!("y"),
        );
        assert_eq!(
            t.sink().0,
            vec![(Level::Warn, DEFAULT_TARGET, "x".to_string())]
        );
        t.flush(t0 + WINDOW);
        assert_eq!(lines(&t)[1..], ["1 similar in the last 10 s: k"]);
    }

    #[test]
    fn the_table_is_capped() {
        // Kinds must be &'static str; leaking a few hundred short strings is fine in a test.
        let kinds: Vec<&'static str> = (0..MAX_KINDS + 10)
            .map(|i| &*Box::leak(format!("kind {i}").into_boxed_str()))
            .collect();
        let mut t = throttle();
        let t0 = Instant::now();
        for _ in 0..3 {
            for &kind in &kinds {
                throttled_warn!(t, t0, kind, "{kind}");
            }
        }
        assert_eq!(t.tracked(), MAX_KINDS + 1);
        // Each tracked kind once, then the first overflowing kind once for all the others.
        assert_eq!(t.sink().0.len(), MAX_KINDS + 1);
        assert_eq!(lines(&t)[MAX_KINDS], format!("kind {MAX_KINDS}"));
        // Once windows are over, the table makes room for new kinds again.
        t.flush(t0 + WINDOW);
        assert_eq!(t.tracked(), 0);
        let summaries = lines(&t).split_off(MAX_KINDS + 1);
        assert_eq!(summaries.len(), MAX_KINDS + 1);
        assert!(summaries.contains(&format!("29 similar in the last 10 s: {OVERFLOW_KIND}")));
        assert!(summaries.contains(&"2 similar in the last 10 s: kind 0".to_string()));
    }

    #[test]
    fn window_lengths_read_naturally() {
        assert_eq!(WindowLength(Duration::from_secs(10)).to_string(), "10 s");
        assert_eq!(
            WindowLength(Duration::from_millis(250)).to_string(),
            "250 ms"
        );
        assert_eq!(
            WindowLength(Duration::from_millis(1500)).to_string(),
            "1.5 s"
        );
    }
}
