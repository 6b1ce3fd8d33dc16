//! A token bucket: `burst` tokens, refilled at `rate` per second, one spent per event.
//!
//! Time comes in as an argument (the loop's `now`), so the bucket runs the same in tests.

use std::time::Instant;

/// Rate and burst of one kind of event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens per second; 0 = unlimited.
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    pub fn is_unlimited(&self) -> bool {
        self.per_second <= 0.0 || !self.per_second.is_finite()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            updated: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst));
        self.updated = now;
    }

    /// Spends a token if there is one.
    pub fn try_take(&mut self, rate: Rate, now: Instant) -> bool {
        if rate.is_unlimited() {
            return true;
        }
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now`: it then holds nothing worth remembering.
    pub fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= f64::from(rate.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let rate = Rate {
            per_second: 2.0,
            burst: 3,
        };
        let t0 = Instant::now();
        let mut b = TokenBucket::new(rate, t0);
        assert!(b.try_take(rate, t0));
        assert!(b.try_take(rate, t0));
        assert!(b.try_take(rate, t0));
        assert!(!b.try_take(rate, t0));
        // Half a second buys one token at 2/s.
        assert!(!b.try_take(rate, t0 + Duration::from_millis(400)));
        assert!(b.try_take(rate, t0 + Duration::from_millis(500)));
        assert!(!b.try_take(rate, t0 + Duration::from_millis(500)));
        // Never more than the burst, however long it waits.
        let later = t0 + Duration::from_secs(3600);
        assert!(b.is_full(rate, later));
        for _ in 0..3 {
            assert!(b.try_take(rate, later));
        }
        assert!(!b.try_take(rate, later));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let rate = Rate {
            per_second: 0.0,
            burst: 0,
        };
        let t0 = Instant::now();
        let mut b = TokenBucket::new(rate, t0);
        for _ in 0..1000 {
            assert!(b.try_take(rate, t0));
        }
    }
}
