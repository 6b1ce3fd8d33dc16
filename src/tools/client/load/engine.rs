//! The load client's one thread: a mio poll loop that drives every connection of a run, each
//! a [`Dialogue`], started when the [`Schedule`] says so.
//!
//! One thread rather than one per connection, so that 512 logons in flight (or 10,000 parked
//! connections) cost the client a poll set, not 512 stacks and the context switches between
//! them on the one core the client is pinned to: what it measures is the server. Its own CPU
//! time over the measured window is reported, so a run where the client was the limit shows
//! it (near 100 % of one core).
//!
//! The measured window starts after the warm-up and ends with `--duration` (or at the last
//! answer). A logon counts towards the rate if it finished inside the window; its latency is
//! kept if it was *scheduled* inside it, and the run waits for those to finish, so a slow tail
//! is never cut off.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};

use super::super::ClientError;
use super::dialogue::{Dialogue, Goal, Progress};
use super::prover::Prover;
use super::schedule::{Pacing, Schedule};
use super::ticker::Ticker;
use crate::protocol::version::Layout;
use crate::tools::percentile::Latencies;

/// How often deadlines are checked (and the longest the loop sleeps).
const SWEEP: Duration = Duration::from_millis(100);
/// The ticker's wake-ups (no connection has this token: slots are indexed from 0).
const TICK: Token = Token(usize::MAX);
/// An open-loop start this much after its scheduled time counts as late.
const LATE: Duration = Duration::from_millis(1);

/// Everything a run needs, decided from the flags.
#[derive(Debug, Clone)]
pub struct Plan {
    pub server: SocketAddr,
    pub layout: Layout,
    /// The challenge every connection opens with (the same bytes for all).
    pub challenge: Vec<u8>,
    pub goal: Goal,
    pub pacing: Pacing,
    /// Connections in flight at once (parked ones do not count).
    pub cap: usize,
    /// At most this many connections.
    pub limit: Option<u64>,
    pub warmup: Duration,
    /// The measured window's length; `None`: until the last answer.
    pub duration: Option<Duration>,
    /// A connection that has not reached its goal this long after its start fails.
    pub timeout: Duration,
    /// How long parked connections are held once all are parked.
    pub hold: Duration,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Connections that reached their goal (logons done, connections parked, realm-list
    /// connections done).
    pub ok: u64,
    pub failed: u64,
    /// Goals reached inside the measured window: the rate's numerator.
    pub counted: u64,
    /// The measured window's length: the rate's denominator.
    pub window: Duration,
    /// Logon latencies (from the scheduled start), or realm-list round trips.
    pub samples: Latencies,
    /// Open-loop starts made later than scheduled (the in-flight cap was full), and the worst.
    pub late: u64,
    pub max_late: Duration,
    /// Realms in the last realm list read.
    pub realms: Option<usize>,
    /// The client's CPU time over the window, as a fraction of one core.
    pub client_cpu: Option<f64>,
    /// Parked connections the server closed while they were held.
    pub dropped: u64,
    pub first_error: Option<String>,
}

impl Outcome {
    /// Nothing measured yet; latencies go into `samples`.
    pub fn new(samples: Latencies) -> Self {
        Self {
            ok: 0,
            failed: 0,
            counted: 0,
            window: Duration::ZERO,
            samples,
            late: 0,
            max_late: Duration::ZERO,
            realms: None,
            client_cpu: None,
            dropped: 0,
            first_error: None,
        }
    }
}

/// Something the engine reports while it runs (the caller prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Every parking connection is parked or has failed; holding them now.
    AllParked { parked: u64, failed: u64 },
}

struct Slot {
    stream: TcpStream,
    dialogue: Dialogue,
    input: Vec<u8>,
    out: Vec<u8>,
    connected: bool,
    /// When the schedule wanted it started.
    scheduled: Instant,
    /// When the realm list being waited for was asked for.
    asked_at: Instant,
    deadline: Instant,
    parked: bool,
}

/// The connections, by token; freed tokens are reused only between poll batches.
#[derive(Default)]
struct Slots {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    in_flight: usize,
}

impl Slots {
    fn insert(&mut self, slot: Slot) -> usize {
        self.in_flight += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i).and_then(Option::take) {
            if !slot.parked {
                self.in_flight -= 1;
            }
            self.free.push(i);
        }
    }

    fn park(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) {
            if !slot.parked {
                slot.parked = true;
                self.in_flight -= 1;
            }
        }
    }
}

/// The client thread's CPU time so far (Linux: /proc/thread-self/schedstat, nanoseconds).
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The counts, and the window they are counted in.
struct Tally {
    out: Outcome,
    window_start: Instant,
    window_end: Option<Instant>,
    last_finish: Option<Instant>,
    /// (wall, cpu) when the window began and ended.
    cpu_from: Option<(Instant, Duration)>,
    cpu_to: Option<(Instant, Duration)>,
    parked: u64,
}

impl Tally {
    fn new(window_start: Instant, window_end: Option<Instant>, samples: Latencies) -> Self {
        Self {
            out: Outcome::new(samples),
            window_start,
            window_end,
            last_finish: None,
            cpu_from: None,
            cpu_to: None,
            parked: 0,
        }
    }

    fn in_window(&self, at: Instant) -> bool {
        at >= self.window_start && self.window_end.is_none_or(|end| at <= end)
    }

    fn sample_cpu(&mut self, now: Instant) {
        if self.cpu_from.is_none() && now >= self.window_start {
            self.cpu_from = cpu_time().map(|cpu| (now, cpu));
        }
        if self.cpu_to.is_none() && self.window_end.is_some_and(|end| now >= end) {
            self.cpu_to = cpu_time().map(|cpu| (now, cpu));
        }
    }

    fn started(&mut self, scheduled: Instant, now: Instant) {
        let late = now.saturating_duration_since(scheduled);
        if late > LATE {
            self.out.late += 1;
            self.out.max_late = self.out.max_late.max(late);
        }
    }

    fn sample(&mut self, from: Instant, now: Instant) {
        if from >= self.window_start && self.window_end.is_none_or(|end| from < end) {
            self.out.samples.record(now - from);
        }
    }

    fn reached(&mut self, now: Instant) {
        self.out.ok += 1;
        if self.in_window(now) {
            self.out.counted += 1;
            self.last_finish = Some(now);
        }
    }

    fn fail(&mut self, parked: bool, error: impl std::fmt::Display) {
        if parked {
            self.out.dropped += 1;
        } else {
            self.out.failed += 1;
        }
        if self.out.first_error.is_none() {
            self.out.first_error = Some(error.to_string());
        }
    }

    fn finish(mut self, now: Instant) -> Outcome {
        let end = self.window_end.or(self.last_finish).unwrap_or(now);
        self.out.window = end.saturating_duration_since(self.window_start);
        if self.cpu_to.is_none() {
            self.cpu_to = cpu_time().map(|cpu| (now, cpu));
        }
        if let (Some((w0, c0)), Some((w1, c1))) = (self.cpu_from, self.cpu_to) {
            let wall = w1.saturating_duration_since(w0).as_secs_f64();
            if wall > 0.0 {
                self.out.client_cpu = Some(c1.saturating_sub(c0).as_secs_f64() / wall);
            }
        }
        self.out
    }
}

struct Engine<'a> {
    plan: &'a Plan,
    prover: &'a mut Prover,
    slots: Slots,
    tally: Tally,
    scratch: Vec<u8>,
}

impl Engine<'_> {
    fn start(&mut self, registry: &Registry, scheduled: Instant, now: Instant) {
        let connected = TcpStream::connect(self.plan.server).and_then(|mut stream| {
            // The token is the slot the connection is about to take.
            let token = self
                .slots
                .free
                .last()
                .copied()
                .unwrap_or(self.slots.slots.len());
            registry.register(
                &mut stream,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match connected {
            Ok(stream) => {
                self.slots.insert(Slot {
                    stream,
                    dialogue: Dialogue::new(self.plan.goal, self.plan.layout),
                    input: Vec::new(),
                    out: self.plan.challenge.clone(),
                    connected: false,
                    scheduled,
                    asked_at: now,
                    deadline: now + self.plan.timeout,
                    parked: false,
                });
            }
            Err(e) => self.tally.fail(false, format_args!("connect: {e}")),
        }
    }

    fn on_event(&mut self, i: usize, now: Instant) {
        let Some(Some(slot)) = self.slots.slots.get_mut(i) else {
            return;
        };
        let parked = slot.parked;
        match drive(slot, self.prover, &mut self.scratch) {
            Ok(progress) => {
                for p in progress {
                    self.on_progress(i, p, now);
                }
            }
            Err(e) => {
                self.tally.fail(parked, e);
                self.slots.remove(i);
            }
        }
    }

    fn on_progress(&mut self, i: usize, progress: Progress, now: Instant) {
        let Some(Some(slot)) = self.slots.slots.get_mut(i) else {
            return;
        };
        match progress {
            Progress::Waiting => {}
            Progress::LoggedIn => slot.asked_at = now,
            Progress::RealmListAgain { realms } => {
                let asked = std::mem::replace(&mut slot.asked_at, now);
                self.tally.out.realms = Some(realms);
                self.tally.sample(asked, now);
            }
            Progress::Parked { realms } => {
                if realms.is_some() {
                    self.tally.out.realms = realms;
                }
                self.tally.parked += 1;
                self.tally.reached(now);
                self.slots.park(i);
            }
            Progress::Done { realms } => {
                if realms.is_some() {
                    self.tally.out.realms = realms;
                }
                let from = match self.plan.goal {
                    Goal::RealmLists(_) => slot.asked_at,
                    _ => slot.scheduled,
                };
                self.tally.sample(from, now);
                self.tally.reached(now);
                self.slots.remove(i);
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<usize> = self
            .slots
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.as_ref()
                    .filter(|s| !s.parked && now > s.deadline)
                    .map(|_| i)
            })
            .collect();
        for i in expired {
            let timeout = self.plan.timeout;
            self.tally.fail(
                false,
                format_args!("no answer within {} s", timeout.as_secs_f64()),
            );
            self.slots.remove(i);
        }
    }
}

/// Moves one connection on after a readiness event: finishes the connect, writes what is
/// pending, reads what came, and lets the dialogue answer it. What the dialogue reported, in
/// order.
fn drive(
    slot: &mut Slot,
    prover: &mut Prover,
    scratch: &mut [u8],
) -> Result<Vec<Progress>, ClientError> {
    if !slot.connected {
        if let Some(e) = slot.stream.take_error()? {
            return Err(e.into());
        }
        match slot.stream.peer_addr() {
            Ok(_) => {
                slot.connected = true;
                slot.stream.set_nodelay(true)?;
            }
            // Not yet: a spurious wake-up before the connect finished.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
    flush(&mut slot.stream, &mut slot.out)?;
    let mut closed = false;
    loop {
        match slot.stream.read(scratch) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => slot.input.extend_from_slice(&scratch[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut progress = Vec::new();
    loop {
        match slot
            .dialogue
            .on_input(&mut slot.input, &mut slot.out, prover)?
        {
            Progress::Waiting => break,
            p => progress.push(p),
        }
    }
    flush(&mut slot.stream, &mut slot.out)?;
    let finished = progress.iter().any(|p| matches!(p, Progress::Done { .. }));
    if closed && !finished {
        return Err(ClientError::Closed);
    }
    Ok(progress)
}

/// Writes what the socket takes; the rest waits for the next writable event.
fn flush(stream: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    while !out.is_empty() {
        match stream.write(out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs the plan to its end (for parking: through the hold) and says what it measured.
pub fn run(
    plan: &Plan,
    prover: &mut Prover,
    notice: &mut dyn FnMut(Notice),
    samples: Latencies,
) -> io::Result<Outcome> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let t0 = Instant::now();
    let window_start = t0 + plan.warmup;
    let window_end = plan.duration.map(|d| window_start + d);
    let mut schedule = Schedule::new(t0, plan.pacing, plan.limit, window_end);
    let _ticker = match plan.pacing {
        Pacing::Open { .. } => Some(Ticker::start(
            schedule.clone(),
            mio::Waker::new(poll.registry(), TICK)?,
        )?),
        Pacing::Closed => None,
    };
    let parking = matches!(plan.goal, Goal::ParkAfterChallenge | Goal::ParkLoggedIn);
    let mut engine = Engine {
        plan,
        prover,
        slots: Slots::default(),
        tally: Tally::new(window_start, window_end, samples),
        scratch: vec![0; 64 * 1024],
    };
    let mut hold_until: Option<Instant> = None;
    let mut next_sweep = t0 + SWEEP;
    loop {
        let now = Instant::now();
        engine.tally.sample_cpu(now);
        while let Some(start) = schedule.take(now, engine.slots.in_flight, plan.cap) {
            engine.tally.started(start.scheduled, now);
            engine.start(poll.registry(), start.scheduled, now);
        }
        if hold_until.is_none() && schedule.finished(now) && engine.slots.in_flight == 0 {
            if !parking {
                break;
            }
            notice(Notice::AllParked {
                parked: engine.tally.parked,
                failed: engine.tally.out.failed,
            });
            hold_until = Some(now + plan.hold);
        }
        if hold_until.is_some_and(|until| now >= until) {
            break;
        }

        let mut wake = now + SWEEP;
        if engine.slots.in_flight < plan.cap {
            if let Some(due) = schedule.next_due(now) {
                wake = wake.min(due);
            }
        }
        for at in [Some(window_start), window_end, hold_until]
            .into_iter()
            .flatten()
        {
            if at > now {
                wake = wake.min(at);
            }
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        for event in events.iter() {
            if event.token() != TICK {
                engine.on_event(event.token().0, now);
            }
        }
        if now >= next_sweep {
            engine.sweep(now);
            next_sweep = now + SWEEP;
        }
    }
    Ok(engine.tally.finish(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_rate_counts_finishes_inside_the_window() {
        let t0 = Instant::now();
        let mut tally = Tally::new(t0 + ms(500), Some(t0 + ms(2500)), Latencies::new().unwrap());
        tally.reached(t0 + ms(100)); // warm-up
        tally.reached(t0 + ms(600));
        tally.reached(t0 + ms(2500));
        tally.reached(t0 + ms(2600)); // after the window: a tail, not the rate
        let out = tally.finish(t0 + ms(2700));
        assert_eq!(out.ok, 4);
        assert_eq!(out.counted, 2);
        assert_eq!(out.window, ms(2000));
    }

    #[test]
    fn latencies_are_kept_by_their_scheduled_start() {
        let t0 = Instant::now();
        let mut tally = Tally::new(t0 + ms(500), Some(t0 + ms(2500)), Latencies::new().unwrap());
        tally.sample(t0 + ms(400), t0 + ms(600)); // scheduled in the warm-up: left out
        tally.sample(t0 + ms(2400), t0 + ms(2900)); // scheduled inside, finished after: kept
        tally.sample(t0 + ms(2500), t0 + ms(2501)); // scheduled at the end: left out
        let out = tally.finish(t0 + ms(3000));
        assert_eq!(out.samples.len(), 1);
        assert!(out.samples.max().abs_diff(ms(500)) <= ms(1));
    }

    #[test]
    fn without_a_duration_the_window_ends_at_the_last_finish() {
        let t0 = Instant::now();
        let mut tally = Tally::new(t0, None, Latencies::new().unwrap());
        tally.reached(t0 + ms(300));
        tally.reached(t0 + ms(900));
        let out = tally.finish(t0 + ms(5000));
        assert_eq!(out.counted, 2);
        assert_eq!(out.window, ms(900));
    }

    #[test]
    fn late_starts_and_failures_are_counted() {
        let t0 = Instant::now();
        let mut tally = Tally::new(t0, None, Latencies::new().unwrap());
        tally.started(t0, t0 + Duration::from_micros(500));
        tally.started(t0, t0 + ms(7));
        tally.fail(false, "refused");
        tally.fail(true, "closed");
        let out = tally.finish(t0 + ms(10));
        assert_eq!((out.late, out.max_late), (1, ms(7)));
        assert_eq!((out.failed, out.dropped), (1, 1));
        assert_eq!(out.first_error.as_deref(), Some("refused"));
    }
}
