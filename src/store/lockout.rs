//! What the account lockout's rows mean; each backend only reads and writes them.
//!
//! Wrong credentials are counted per account and address, in two kinds of row
//! (`login_addresses`, or `gatehouse_login_addresses` beside a foreign schema):
//! - an address that has logged into the account before (a *known* address) has its own row,
//!   and its wrong passwords lock out that address alone;
//! - every other address shares the account's row for new addresses ([`NEW_ADDRESSES`]):
//!   their wrong passwords, all together, lock out every address that has not logged in.
//!
//! So whoever knows an account's name can lock out strangers, never the player at an address
//! they have logged in from; and guessing from many addresses still gets `account_attempts`
//! tries per window in all. A good logon makes its address known and empties its count. An
//! address is an IPv4 address or an IPv6 /64 ([`AddressKey`]).

use std::net::IpAddr;
use std::time::Duration;

use super::FailureRecorded;
use crate::values::{AddressKey, FailureCount, LockoutPolicy};

/// The address column of the row that counts for every address not known to the account.
pub const NEW_ADDRESSES: &str = "*";

/// The address column of `ip`'s own row.
pub fn address_text(ip: IpAddr) -> String {
    AddressKey::of(ip).to_string()
}

/// One lockout row as stored. A missing row reads as the default: nothing counted, no lock,
/// never logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutRow {
    pub failures: i64,
    pub last_failed_at: Option<i64>,
    pub locked_until: Option<i64>,
    /// The last good logon from this address (never set on the new-addresses row).
    pub last_login_at: Option<i64>,
}

/// Whose count a wrong credential goes into, and whom a lock keeps out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// One address that has logged into the account before.
    KnownAddress,
    /// Every address that has not.
    NewAddresses,
    /// Every address: a ban row, where a foreign schema has no lockout rows (before
    /// `gatehouse db init`), as its own server locks.
    EveryAddress,
}

impl LockScope {
    /// The scope an address is in, from its own row (if it has one).
    pub fn of(own: Option<&LockoutRow>) -> LockScope {
        match own {
            Some(row) if row.last_login_at.is_some() => LockScope::KnownAddress,
            _ => LockScope::NewAddresses,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LockScope::KnownAddress => "this address",
            LockScope::NewAddresses => "addresses that have not logged in before",
            LockScope::EveryAddress => "every address",
        }
    }
}

/// Where logons of an account from one address stand under the lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockoutStanding {
    #[default]
    Clear,
    LockedOut {
        until: i64,
        scope: LockScope,
    },
}

impl LockoutStanding {
    /// From the address's own row and the account's new-addresses row, at `now`.
    pub fn of(own: Option<&LockoutRow>, new: Option<&LockoutRow>, now: i64) -> LockoutStanding {
        let scope = LockScope::of(own);
        let row = match scope {
            LockScope::KnownAddress => own,
            LockScope::NewAddresses | LockScope::EveryAddress => new,
        };
        match row.and_then(|r| r.locked_until) {
            Some(until) if until > now => LockoutStanding::LockedOut { until, scope },
            _ => LockoutStanding::Clear,
        }
    }
}

/// What committing a wrong credential did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The row's count is now this.
    Counted(u32),
    /// This one locked the scope until then; the count starts again at 0.
    Locked { until: i64 },
}

impl Counted {
    /// What the store answers for it, a lock naming whom it keeps out.
    pub fn recorded(self, scope: LockScope) -> FailureRecorded {
        match self {
            Counted::Counted(n) => FailureRecorded::Counted(n),
            Counted::Locked { until } => FailureRecorded::Locked { until, scope },
        }
    }
}

/// A wrong credential from one address, counted in the row it counts in: the backend writes
/// `row` under (account, `key`) and answers `recorded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongCounted<'a> {
    pub key: &'a str,
    pub row: LockoutRow,
    pub recorded: FailureRecorded,
}

/// Counts a wrong credential at `at` from `address`, given the account's rows for it (`own`)
/// and for new addresses (`new`), as the backend read them.
pub fn count_wrong<'a>(
    address: &'a str,
    own: Option<LockoutRow>,
    new: Option<LockoutRow>,
    policy: &LockoutPolicy,
    at: i64,
) -> WrongCounted<'a> {
    let scope = LockScope::of(own.as_ref());
    let (key, row) = match scope {
        LockScope::KnownAddress => (address, own),
        LockScope::NewAddresses | LockScope::EveryAddress => (NEW_ADDRESSES, new),
    };
    let (row, counted) = count(row.unwrap_or_default(), policy, at);
    WrongCounted {
        key,
        row,
        recorded: counted.recorded(scope),
    }
}

/// One more wrong credential at `at` on `row`: the row to write back, and what it did. The
/// count decays by one every window/attempts seconds since the row's last failure.
pub fn count(row: LockoutRow, lockout: &LockoutPolicy, at: i64) -> (LockoutRow, Counted) {
    let level = u32::try_from(row.failures).unwrap_or(0);
    let since = at.saturating_sub(row.last_failed_at.unwrap_or(at)).max(0);
    let elapsed = Duration::from_secs(u64::try_from(since).unwrap_or(0));
    let (failures, locked_until, counted) = match lockout.count(level, elapsed) {
        FailureCount::Counted(n) => (n, row.locked_until, Counted::Counted(n)),
        FailureCount::Locked => {
            let secs = i64::try_from(lockout.duration.as_secs()).unwrap_or(i64::MAX);
            let until = at.saturating_add(secs);
            (0, Some(until), Counted::Locked { until })
        }
    };
    let row = LockoutRow {
        failures: i64::from(failures),
        last_failed_at: Some(at),
        locked_until,
        last_login_at: row.last_login_at,
    };
    (row, counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            attempts: 3,
            window: Duration::from_secs(300),
            duration: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_known_address_has_its_own_lock_and_the_rest_share_one() {
        let known = LockoutRow {
            last_login_at: Some(5),
            ..LockoutRow::default()
        };
        let new_locked = LockoutRow {
            locked_until: Some(1_000),
            ..LockoutRow::default()
        };
        // The new-addresses lock keeps out a stranger, not the known address.
        assert_eq!(
            LockoutStanding::of(None, Some(&new_locked), 10),
            LockoutStanding::LockedOut {
                until: 1_000,
                scope: LockScope::NewAddresses
            }
        );
        assert_eq!(
            LockoutStanding::of(Some(&known), Some(&new_locked), 10),
            LockoutStanding::Clear
        );
        // A lock that has passed keeps out nobody.
        assert_eq!(
            LockoutStanding::of(None, Some(&new_locked), 1_000),
            LockoutStanding::Clear
        );
        // An address with a row but no logon (a row left by an old gatehouse) is new.
        let never = LockoutRow {
            failures: 2,
            ..LockoutRow::default()
        };
        assert_eq!(LockScope::of(Some(&never)), LockScope::NewAddresses);
    }

    #[test]
    fn counts_lock_at_the_limit_and_start_again() {
        let p = policy();
        let mut row = LockoutRow::default();
        for (at, expect) in [(100, Counted::Counted(1)), (101, Counted::Counted(2))] {
            let (next, counted) = count(row, &p, at);
            assert_eq!(counted, expect);
            row = next;
        }
        let (row, counted) = count(row, &p, 102);
        assert_eq!(counted, Counted::Locked { until: 702 });
        assert_eq!((row.failures, row.locked_until), (0, Some(702)));
        // Decay: one forgiven every 100 s.
        let (_, counted) = count(
            LockoutRow {
                failures: 2,
                last_failed_at: Some(0),
                ..LockoutRow::default()
            },
            &p,
            250,
        );
        assert_eq!(counted, Counted::Counted(1));
    }

    #[test]
    fn addresses_are_keyed_as_the_policies_key_them() {
        assert_eq!(address_text("10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(address_text("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(
            address_text("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}
