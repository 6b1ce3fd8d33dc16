//! When the load client starts the next connection.
//!
//! Closed loop: a new one as soon as fewer than the cap are in flight; each logon's latency is
//! measured from its actual start. Open loop (`--rate`): logon `i` is *scheduled* at
//! `t0 + i / rate` whether or not the server keeps up, and its latency is measured from that
//! scheduled time. A client that waits for answers before it starts more (or that cannot start
//! one on time because the cap is full) would otherwise hide the server's queueing from the
//! latencies, the mistake called coordinated omission; here the waiting shows as latency.

use std::time::{Duration, Instant};

/// How starts are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Keep the cap in flight.
    Closed,
    /// This many starts per second, on a fixed grid from `t0`.
    Open { per_second: f64 },
}

/// The starts of one run: how they are paced and when they stop.
#[derive(Debug, Clone)]
pub struct Schedule {
    t0: Instant,
    pacing: Pacing,
    /// Starts issued so far.
    issued: u64,
    /// At most this many starts (`--logons`).
    limit: Option<u64>,
    /// No start is scheduled at or after this (the end of a `--duration` window).
    until: Option<Instant>,
}

/// A start the schedule allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// When it was due: its latency is measured from here.
    pub scheduled: Instant,
}

impl Schedule {
    pub fn new(t0: Instant, pacing: Pacing, limit: Option<u64>, until: Option<Instant>) -> Self {
        Self {
            t0,
            pacing,
            issued: 0,
            limit,
            until,
        }
    }

    /// Start `i`'s place on the open-loop grid (`t0` for a closed loop). Computed from `t0`
    /// each time, so rounding never accumulates over a long run.
    pub fn grid_time(&self, i: u64) -> Instant {
        match self.pacing {
            Pacing::Closed => self.t0,
            Pacing::Open { per_second } if per_second > 0.0 => {
                self.t0 + Duration::from_secs_f64(i as f64 / per_second)
            }
            Pacing::Open { .. } => self.t0,
        }
    }

    /// Start `i`'s scheduled time if the schedule has a start `i` (open loop only: a closed
    /// loop's starts have no time of their own).
    pub fn planned(&self, i: u64) -> Option<Instant> {
        let Pacing::Open { .. } = self.pacing else {
            return None;
        };
        let at = self.grid_time(i);
        let within_limit = self.limit.is_none_or(|limit| i < limit);
        let within_time = self.until.is_none_or(|until| at < until);
        (within_limit && within_time).then_some(at)
    }

    /// When the next start is due, whatever the cap: `None` once the schedule has no more.
    /// A closed loop's next start is due at `now`.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if self.limit.is_some_and(|limit| self.issued >= limit) {
            return None;
        }
        let at = match self.pacing {
            Pacing::Closed => now,
            Pacing::Open { .. } => self.grid_time(self.issued),
        };
        match self.until {
            Some(until) if at >= until => None,
            _ => Some(at),
        }
    }

    /// Whether no start will ever be due again.
    pub fn finished(&self, now: Instant) -> bool {
        self.next_due(now).is_none()
    }

    /// The next start, if one is due at `now` and fewer than `cap` are in flight. Call it
    /// repeatedly: after a stall an open loop hands out every start it owes, each with its
    /// own (past) scheduled time.
    pub fn take(&mut self, now: Instant, in_flight: usize, cap: usize) -> Option<Start> {
        if in_flight >= cap {
            return None;
        }
        let scheduled = self.next_due(now).filter(|&at| at <= now)?;
        self.issued += 1;
        Some(Start { scheduled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn drain(s: &mut Schedule, now: Instant, in_flight: usize, cap: usize) -> Vec<Start> {
        std::iter::from_fn(|| s.take(now, in_flight, cap)).collect()
    }

    #[test]
    fn open_loop_starts_on_a_fixed_grid() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Pacing::Open { per_second: 100.0 }, None, None);
        // The first is due at t0, the next at t0 + 10 ms.
        assert_eq!(drain(&mut s, t0, 0, 1000).len(), 1);
        assert!(drain(&mut s, t0 + ms(5), 0, 1000).is_empty());
        assert_eq!(s.next_due(t0 + ms(5)), Some(t0 + ms(10)));
        let late = drain(&mut s, t0 + ms(35), 0, 1000);
        // Catching up after a stall: three starts owed, each keeping its own scheduled time.
        let times: Vec<Instant> = late.iter().map(|st| st.scheduled).collect();
        assert_eq!(times, [t0 + ms(10), t0 + ms(20), t0 + ms(30)]);
    }

    #[test]
    fn open_loop_does_not_drift() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, Pacing::Open { per_second: 3.0 }, None, None);
        // One third of a second does not add up in floating point; computed from t0 it is
        // exact to the nanosecond after a million starts.
        let at = s.grid_time(3_000_000) - t0;
        assert_eq!(at, Duration::from_secs(1_000_000));
    }

    #[test]
    fn the_cap_holds_starts_back_and_they_stay_due() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Pacing::Open { per_second: 1000.0 }, None, None);
        let now = t0 + ms(10);
        assert!(s.take(now, 4, 4).is_none());
        // Once there is room the held ones come, oldest first, with their own times.
        assert_eq!(s.take(now, 3, 4).map(|st| st.scheduled), Some(t0));
        assert_eq!(s.take(now, 3, 4).map(|st| st.scheduled), Some(t0 + ms(1)));
        assert_eq!(drain(&mut s, now, 0, 4).len(), 9, "the rest owed up to now");
    }

    #[test]
    fn closed_loop_fills_the_cap_and_starts_now() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Pacing::Closed, Some(3), None);
        let now = t0 + ms(7);
        let first = s.take(now, 0, 2).unwrap();
        assert_eq!(first.scheduled, now);
        assert!(s.take(now, 2, 2).is_none());
        assert!(s.take(now, 1, 2).is_some());
        assert!(s.take(now, 0, 2).is_some());
        // The limit of three is reached.
        assert!(s.take(now, 0, 2).is_none());
        assert!(s.finished(now));
    }

    #[test]
    fn planned_times_are_the_open_grid_within_the_bounds() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, Pacing::Open { per_second: 10.0 }, Some(3), None);
        assert_eq!(s.planned(0), Some(t0));
        assert_eq!(s.planned(2), Some(t0 + ms(200)));
        assert_eq!(s.planned(3), None, "beyond --logons");
        let s = Schedule::new(
            t0,
            Pacing::Open { per_second: 10.0 },
            None,
            Some(t0 + ms(150)),
        );
        assert_eq!(s.planned(1), Some(t0 + ms(100)));
        assert_eq!(s.planned(2), None, "after the window");
        let closed = Schedule::new(t0, Pacing::Closed, None, None);
        assert_eq!(closed.planned(0), None);
    }

    #[test]
    fn nothing_is_scheduled_at_or_after_the_end() {
        let t0 = Instant::now();
        let until = t0 + ms(25);
        let mut s = Schedule::new(t0, Pacing::Open { per_second: 100.0 }, None, Some(until));
        assert_eq!(drain(&mut s, t0 + ms(100), 0, 100).len(), 3);
        assert!(s.finished(t0 + ms(100)));
        let mut closed = Schedule::new(t0, Pacing::Closed, None, Some(until));
        assert!(closed.take(t0 + ms(24), 0, 1).is_some());
        assert!(closed.take(until, 0, 1).is_none());
    }
}
