//! The failed-logon lockout rule, shared by the account lockout (applied by the store when it
//! commits a wrong password) and the address lockout (in memory, [`super::filters`]).
//!
//! Failures are counted in a leaky bucket: each wrong password or token adds one, and the count
//! drains by one every `window / attempts`, so `attempts` failures within `window` lock, and a
//! slow trickle of mistakes never does. Reaching `attempts` locks for `duration` and empties
//! the count. A success empties it too (accounts only).

use std::time::Duration;

use crate::config::LockoutConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// 0 = the lockout is off.
    pub attempts: u32,
    pub window: Duration,
    /// How long a lock lasts.
    pub duration: Duration,
}

/// What one more failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCount {
    /// Counted: this many failures are remembered now.
    Counted(u32),
    /// The limit was reached: lock for the policy's duration; the count starts again at 0.
    Locked,
}

impl LockoutPolicy {
    pub const OFF: LockoutPolicy = LockoutPolicy {
        attempts: 0,
        window: Duration::ZERO,
        duration: Duration::ZERO,
    };

    pub fn account(config: &LockoutConfig) -> Self {
        Self {
            attempts: config.account_attempts,
            window: Duration::from_secs(config.account_window_secs),
            duration: Duration::from_secs(config.account_suspend_secs),
        }
    }

    pub fn address(config: &LockoutConfig) -> Self {
        Self {
            attempts: config.address_attempts,
            window: Duration::from_secs(config.address_window_secs),
            duration: Duration::from_secs(config.address_block_secs),
        }
    }

    pub fn is_off(&self) -> bool {
        self.attempts == 0 || self.window.is_zero()
    }

    /// The count `level` after `elapsed` without failures (no decay when the lockout is off).
    pub fn decayed(&self, level: u32, elapsed: Duration) -> u32 {
        if self.is_off() {
            return level;
        }
        let forgiven =
            elapsed.as_millis() * u128::from(self.attempts) / self.window.as_millis().max(1);
        let forgiven = u32::try_from(forgiven).unwrap_or(u32::MAX);
        level.saturating_sub(forgiven)
    }

    /// Counts a failure `elapsed` after the previous one, whose count was `level`. With the
    /// lockout off failures are still counted (for the operator), never locked.
    pub fn count(&self, level: u32, elapsed: Duration) -> FailureCount {
        let level = self.decayed(level, elapsed).saturating_add(1);
        if !self.is_off() && level >= self.attempts {
            FailureCount::Locked
        } else {
            FailureCount::Counted(level)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            attempts: 5,
            window: Duration::from_secs(100),
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn n_failures_within_the_window_lock() {
        let p = policy();
        let mut level = 0;
        for i in 1..5 {
            assert_eq!(
                p.count(level, Duration::from_secs(1)),
                FailureCount::Counted(i)
            );
            level = i;
        }
        assert_eq!(p.count(level, Duration::from_secs(1)), FailureCount::Locked);
    }

    #[test]
    fn counts_decay_one_per_window_over_attempts() {
        let p = policy();
        // One forgiven every 20 s.
        assert_eq!(p.decayed(4, Duration::from_secs(19)), 4);
        assert_eq!(p.decayed(4, Duration::from_secs(20)), 3);
        assert_eq!(p.decayed(4, Duration::from_secs(100)), 0);
        assert_eq!(p.decayed(4, Duration::from_secs(u64::MAX / 2)), 0);
        // A failure every 20 s never locks.
        let mut level = 0;
        for _ in 0..100 {
            match p.count(level, Duration::from_secs(20)) {
                FailureCount::Counted(n) => level = n,
                FailureCount::Locked => panic!("a slow trickle locked"),
            }
        }
        assert_eq!(level, 1);
    }

    #[test]
    fn off_counts_but_never_locks() {
        let p = LockoutPolicy::OFF;
        let mut level = 0;
        for i in 1..=100 {
            assert_eq!(
                p.count(level, Duration::from_secs(3600)),
                FailureCount::Counted(i)
            );
            level = i;
        }
    }
}
