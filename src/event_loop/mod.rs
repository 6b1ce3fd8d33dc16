//! The event loop: one `mio::Poll` on the main thread owns every socket, timer and piece of
//! state. Other threads only post messages into its inbox.
//!
//! One pass, always in this order:
//! 1. timeout = time to the earliest timer (none: sleep until an event);
//! 2. poll;
//! 3. swap the inbox and hand every message in it to the handler;
//! 4. dispatch readiness events (the waker's own event carries no work);
//! 5. fire every timer that is due;
//! 6. flush pending writes;
//! 7. reap connections closed during the pass;
//! 8. settle: run what the pass queued for observers (the handler's own signals).
//!
//! Handlers see a narrowed handle ([`Ctx`]): the registry, timers, a sender for the inbox,
//! the pass's `now` (monotonic and wall clock, read once per pass), and `stop`. They never see
//! the loop itself. The loop knows no kind of connection: tokens carry a table id that only
//! the handler gives meaning to.

pub mod inbox;
pub mod slots;
pub mod timers;
pub mod token;

use std::io;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Poll, Registry, Waker};

use crate::metrics::Log2Histogram;

pub use inbox::{Inbox, InboxSender};
pub use slots::Slots;
pub use timers::{due_after, TimerId, Timers};
pub use token::{fixed_index, fixed_token, ConnToken, TableId, WAKER};

/// What the loop drives. `M` is the message type of both the inbox and the timers.
pub trait Handler<M> {
    /// A message from another thread, or a timer whose time has come.
    fn on_message(&mut self, cx: &mut Ctx<'_, M>, message: M);
    /// A readiness event for a source the handler registered.
    fn on_event(&mut self, cx: &mut Ctx<'_, M>, event: &Event);
    /// Writes what the pass produced, before the loop sleeps again.
    fn flush(&mut self, cx: &mut Ctx<'_, M>);
    /// Frees what was marked closed during the pass.
    fn reap(&mut self, cx: &mut Ctx<'_, M>);
    /// The last step of a pass: notifications queued during it reach their observers.
    fn settle(&mut self, _cx: &mut Ctx<'_, M>) {}
}

/// How long passes take (from the end of the poll to the end of the pass): a histogram with
/// power-of-two buckets in microseconds, for the console's loop-latency percentiles and the
/// `gatehouse_loop_pass_seconds` metric. One increment per pass.
#[derive(Debug, Clone, Default)]
pub struct LoopStats {
    pass_time: Log2Histogram,
}

impl LoopStats {
    fn record(&mut self, busy: Duration) {
        self.pass_time.record(busy);
    }

    /// Passes so far.
    pub fn passes(&self) -> u64 {
        self.pass_time.count()
    }

    /// The upper bound of the bucket holding the `p`-th percentile (0..=100).
    pub fn percentile(&self, p: f64) -> Duration {
        self.pass_time.percentile(p)
    }

    /// The pass times.
    pub fn pass_time(&self) -> &Log2Histogram {
        &self.pass_time
    }
}

/// The handler's narrowed view of the loop for one pass.
pub struct Ctx<'a, M> {
    registry: &'a Registry,
    timers: &'a mut Timers<M>,
    sender: &'a InboxSender<M>,
    stop: &'a mut bool,
    now: Instant,
    unix_now: i64,
    stats: &'a LoopStats,
    inbox_depth: usize,
}

impl<M> Ctx<'_, M> {
    /// The time this pass started handling: state code takes it from here, never from a clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Wall-clock seconds since 1970 at the start of this pass (audit rows, bans, tickets).
    pub fn unix_now(&self) -> i64 {
        self.unix_now
    }

    pub fn registry(&self) -> &Registry {
        self.registry
    }

    /// Delivers `message` to the handler at `due`.
    pub fn send_at(&mut self, due: Instant, message: M) -> TimerId {
        self.timers.add(due, message)
    }

    pub fn send_after(&mut self, delay: Duration, message: M) -> TimerId {
        self.timers.add(timers::due_after(self.now, delay), message)
    }

    pub fn cancel(&mut self, id: TimerId) -> Option<M> {
        self.timers.cancel(id)
    }

    pub fn sender(&self) -> InboxSender<M> {
        self.sender.clone()
    }

    /// Ends `run` after this pass.
    pub fn stop(&mut self) {
        *self.stop = true;
    }

    /// Pass durations so far.
    pub fn loop_stats(&self) -> &LoopStats {
        self.stats
    }

    /// Messages that were waiting in the inbox when this pass began.
    pub fn inbox_depth(&self) -> usize {
        self.inbox_depth
    }
}

/// Wall-clock seconds since 1970 (0 for a clock before it).
pub fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub struct EventLoop<M> {
    poll: Poll,
    events: Events,
    inbox: Inbox<M>,
    sender: InboxSender<M>,
    timers: Timers<M>,
    stop: bool,
    stats: LoopStats,
}

impl<M> EventLoop<M> {
    pub fn new(event_capacity: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let inbox = Inbox::new(waker);
        let sender = inbox.sender();
        Ok(Self {
            poll,
            events: Events::with_capacity(event_capacity),
            inbox,
            sender,
            timers: Timers::default(),
            stop: false,
            stats: LoopStats::default(),
        })
    }

    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    pub fn sender(&self) -> InboxSender<M> {
        self.sender.clone()
    }

    pub fn inbox_depth(&self) -> usize {
        self.inbox.depth()
    }

    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// Schedules a message before the loop runs (start-up work).
    pub fn send_at(&mut self, due: Instant, message: M) -> TimerId {
        self.timers.add(due, message)
    }

    /// Runs passes until a handler calls [`Ctx::stop`].
    pub fn run(&mut self, handler: &mut impl Handler<M>) -> io::Result<()> {
        while !self.stop {
            self.run_once(handler, None)?;
        }
        Ok(())
    }

    /// One pass (see the module doc). `max_wait` caps the poll timeout.
    pub fn run_once(
        &mut self,
        handler: &mut impl Handler<M>,
        max_wait: Option<Duration>,
    ) -> io::Result<()> {
        let timeout = match (self.timers.timeout(Instant::now()), max_wait) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal interrupted the wait: run the rest of the pass with no events.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => return Err(e),
        }

        let started = Instant::now();
        let inbox_depth = self.inbox.depth();
        let mut cx = Ctx {
            registry: self.poll.registry(),
            timers: &mut self.timers,
            sender: &self.sender,
            stop: &mut self.stop,
            now: started,
            unix_now: unix_seconds(),
            stats: &self.stats,
            inbox_depth,
        };
        for message in self.inbox.swap() {
            handler.on_message(&mut cx, message);
        }
        for event in self.events.iter() {
            if event.token() != WAKER {
                handler.on_event(&mut cx, event);
            }
        }
        while let Some(message) = cx.timers.pop_due(cx.now) {
            handler.on_message(&mut cx, message);
        }
        handler.flush(&mut cx);
        handler.reap(&mut cx);
        handler.settle(&mut cx);
        self.stats.record(started.elapsed());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[derive(Debug, PartialEq)]
    enum Msg {
        FromThread(u32),
        Timer(&'static str),
    }

    #[derive(Default)]
    struct Recorder {
        seen: Vec<Msg>,
        phases: Vec<&'static str>,
    }

    impl Handler<Msg> for Recorder {
        fn on_message(&mut self, cx: &mut Ctx<'_, Msg>, message: Msg) {
            if message == Msg::Timer("stop") {
                cx.stop();
            }
            self.seen.push(message);
        }
        fn on_event(&mut self, _: &mut Ctx<'_, Msg>, _: &Event) {}
        fn flush(&mut self, _: &mut Ctx<'_, Msg>) {
            self.phases.push("flush");
        }
        fn reap(&mut self, _: &mut Ctx<'_, Msg>) {
            self.phases.push("reap");
        }
        fn settle(&mut self, _: &mut Ctx<'_, Msg>) {
            self.phases.push("settle");
        }
    }

    #[test]
    fn timers_and_inbox_messages_reach_the_handler() {
        let mut lp = EventLoop::<Msg>::new(16).unwrap();
        let start = Instant::now();
        lp.send_at(start + Duration::from_millis(30), Msg::Timer("late"));
        lp.send_at(start + Duration::from_millis(10), Msg::Timer("early"));
        lp.send_at(start + Duration::from_millis(60), Msg::Timer("stop"));
        let tx = lp.sender();
        thread::spawn(move || tx.post(Msg::FromThread(1)).unwrap());
        let mut h = Recorder::default();
        lp.run(&mut h).unwrap();

        assert!(start.elapsed() >= Duration::from_millis(60));
        let timers: Vec<_> = h
            .seen
            .iter()
            .filter(|m| matches!(m, Msg::Timer(_)))
            .collect();
        assert_eq!(
            timers,
            vec![
                &Msg::Timer("early"),
                &Msg::Timer("late"),
                &Msg::Timer("stop")
            ]
        );
        assert!(h.seen.contains(&Msg::FromThread(1)));
        assert_eq!(h.phases[..3], ["flush", "reap", "settle"]);
    }

    #[test]
    fn loop_latency_percentiles_come_from_the_histogram() {
        let mut s = LoopStats::default();
        for _ in 0..90 {
            s.record(Duration::from_micros(3));
        }
        for _ in 0..10 {
            s.record(Duration::from_millis(5));
        }
        assert_eq!(s.percentile(50.0), Duration::from_micros(4));
        assert_eq!(s.percentile(99.0), Duration::from_micros(8192));
    }

    #[test]
    fn cancelled_timer_never_fires() {
        let mut lp = EventLoop::<Msg>::new(16).unwrap();
        let now = Instant::now();
        let id = lp.send_at(now + Duration::from_millis(5), Msg::Timer("cancelled"));
        lp.send_at(now + Duration::from_millis(20), Msg::Timer("stop"));
        lp.timers.cancel(id);
        let mut h = Recorder::default();
        lp.run(&mut h).unwrap();
        assert_eq!(h.seen, vec![Msg::Timer("stop")]);
    }
}
