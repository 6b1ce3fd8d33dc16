//! The failed-logon lockout as configured: [`LockoutPolicy`] read from the `[lockout]` section,
//! once for the account lockout (applied by the store when it commits a wrong password) and
//! once for the address lockout (in memory, [`super::filters`]).
//!
//! The rule itself (a leaky bucket of failures that locks at `attempts` within `window`) is a
//! plain value in [`crate::values`], so the store can apply it without importing this folder.

use std::time::Duration;

use crate::config::LockoutConfig;

pub use crate::values::{FailureCount, LockoutPolicy};

impl LockoutPolicy {
    /// The account lockout: `account_attempts` within `account_window_secs` suspend the
    /// account for `account_suspend_secs`.
    pub fn account(config: &LockoutConfig) -> Self {
        Self {
            attempts: config.account_attempts,
            window: Duration::from_secs(config.account_window_secs),
            duration: Duration::from_secs(config.account_suspend_secs),
        }
    }

    /// The address lockout: `address_attempts` within `address_window_secs` block the address
    /// for `address_block_secs`.
    pub fn address(config: &LockoutConfig) -> Self {
        Self {
            attempts: config.address_attempts,
            window: Duration::from_secs(config.address_window_secs),
            duration: Duration::from_secs(config.address_block_secs),
        }
    }
}
