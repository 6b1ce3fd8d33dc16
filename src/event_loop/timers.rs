//! Timers are delayed messages: the same message type as the inbox carries, due at an
//! `Instant` (Android's `Handler.sendMessageAtTime`). The loop's poll timeout is the time to
//! the earliest one, and due ones are handed to the handler once per pass.
//!
//! Kept in a `BTreeMap` ordered by (due, sequence): adding, cancelling and finding the next
//! deadline are O(log n), and messages due at the same instant fire in the order they were set.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The longest a timer is set for. A longer delay (only an unchecked value could ask for one)
/// is shortened to it, so that `now + delay` cannot overflow.
pub const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `now + delay`, with `delay` capped at [`MAX_DELAY`]: never the overflow panic of `+`.
pub fn due_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(MAX_DELAY)).unwrap_or(now)
}

/// Names one scheduled message, for cancelling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    due: Instant,
    seq: u64,
}

impl TimerId {
    pub fn due(&self) -> Instant {
        self.due
    }
}

pub struct Timers<M> {
    queue: BTreeMap<TimerId, M>,
    next_seq: u64,
}

impl<M> Default for Timers<M> {
    fn default() -> Self {
        Self {
            queue: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<M> Timers<M> {
    pub fn add(&mut self, due: Instant, message: M) -> TimerId {
        let id = TimerId {
            due,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.queue.insert(id, message);
        id
    }

    /// Cancels a timer; returns its message if it had not fired yet.
    pub fn cancel(&mut self, id: TimerId) -> Option<M> {
        self.queue.remove(&id)
    }

    /// How long the loop may sleep before the next timer is due (zero if one is overdue).
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.queue
            .first_key_value()
            .map(|(id, _)| id.due.saturating_duration_since(now))
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<M> {
        let entry = self.queue.first_entry()?;
        if entry.key().due <= now {
            Some(entry.remove())
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_fire_in_order_and_cancelled_ones_do_not() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = t.add(now + Duration::from_secs(3), "a");
        t.add(now + Duration::from_secs(1), "b1");
        t.add(now + Duration::from_secs(1), "b2");
        let c = t.add(now + Duration::from_secs(2), "c");
        assert_eq!(t.timeout(now), Some(Duration::from_secs(1)));
        assert_eq!(t.cancel(c), Some("c"));
        assert_eq!(t.cancel(c), None);

        assert_eq!(t.pop_due(now), None);
        let later = now + Duration::from_secs(2);
        assert_eq!(t.pop_due(later), Some("b1"));
        assert_eq!(t.pop_due(later), Some("b2"));
        assert_eq!(t.pop_due(later), None);
        assert_eq!(t.timeout(later), Some(Duration::from_secs(1)));
        assert_eq!(a.due(), now + Duration::from_secs(3));
        assert_eq!(t.pop_due(now + Duration::from_secs(10)), Some("a"));
        assert!(t.is_empty());
        assert_eq!(t.timeout(now), None);
    }

    #[test]
    fn overdue_timer_means_zero_timeout() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.add(now, 1);
        assert_eq!(
            t.timeout(now + Duration::from_secs(1)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_delay_of_any_size_is_capped_not_a_panic() {
        let now = Instant::now();
        assert_eq!(
            due_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(due_after(now, Duration::MAX), now + MAX_DELAY);
        assert_eq!(
            due_after(now, Duration::from_secs(u64::MAX)),
            now + MAX_DELAY
        );
    }
}
