//! Plain value types that several folders share: account and realm ids, the address key the
//! limits and the lockout count by, a realm's link key,
//! who a realm is listed to, what a realm-list entry may hold, an IP ban, and the failed-logon
//! lockout rule.
//!
//! This module imports nothing of ours, so every folder may depend on it without pulling in
//! another: the store names realms, link keys and the lockout without importing `realms` or
//! `policy`, and the policies name IP bans without importing the store. What gives these
//! types their meaning elsewhere (deriving a link key, reading the lockout from the config)
//! stays with its folder, in `impl` blocks there.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

/// Row id of an account in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An address as the per-address limits and the account lockout count it: an IPv4 address,
/// or an IPv6 /64 (one IPv6 host usually owns a whole /64). A v4-mapped IPv6 address is its
/// IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddressKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                AddressKey(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }
}

impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Row id of a realm in the store; also the `realm_id` byte of a realm-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealmId(pub u32);

impl fmt::Display for RealmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "realm {}", self.0)
    }
}

/// A realm's link key: what gatehouse stores instead of the realm's secret. Derived and used
/// by the realm link (`realms::link::key`); never logged (`Debug` hides it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LinkKey(pub [u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

/// Who a realm is listed to, and how, as the login server of the schema the realm comes from
/// decides it from `realmlist.allowedSecurityLevel` (and the flags that hide a realm). The
/// store fills it in; the realm list applies it (`realms::list_cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealmAccess {
    /// Listed to every account as it is (gatehouse's own schema; a level of 0).
    Open,
    /// AzerothCore: listed to every account; locked to an account whose security level is
    /// below this one.
    LockedBelow(u8),
    /// CMaNGOS: not listed to player accounts (level 0); locked to other accounts whose level
    /// is below this one.
    HiddenFromPlayers(u8),
    /// gatehouse's own schema (`realm add/set --allowed-level`): not listed to an account
    /// whose security level is below this one.
    HiddenBelow(u8),
    /// Listed to nobody: CMaNGOS's "invalid" flag (`realmflags & 0x01`), AzerothCore's
    /// `flag = 3`, which its authserver does not load.
    Unlisted,
}

/// A realm's address for clients on its own network (AzerothCore's `localAddress` and
/// `localSubnetMask`): a client whose address is in `subnet` is given `address` instead of the
/// realm's public one, so that players on the host's own network (a server at home, behind
/// the router whose public address the others use) reach it. An IPv4 client on an IPv6
/// socket (`::ffff:a.b.c.d`) is its IPv4 address (`realms::list_cache`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RealmLocal {
    /// "host:port", checked as a realm address ([`check_realm_address`]).
    pub address: String,
    pub subnet: IpNet,
}

/// Bounds of a realm's name, in bytes.
pub const REALM_NAME_LEN: (usize, usize) = (1, 64);
/// Bounds of a realm's "host:port" address, in bytes.
pub const REALM_ADDRESS_LEN: (usize, usize) = (1, 255);
/// The highest realm-list population value accepted. The documented scale is 0.0 (low) to 2.0
/// (high) and the client gives 200.0, 400.0 and 600.0 fixed meanings; some world servers
/// write a raw player count instead. Anything above this is garbage (an overflowed or
/// uninitialised figure), not a load.
pub const MAX_POPULATION: f32 = 1_000_000.0;

/// Why a value cannot be part of a realm-list entry. The same rules hold whoever supplies the
/// entry (an operator's `realm add`, a row in the store, a world server's Register or
/// Heartbeat), so what one of them accepts the others never refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealmValueError {
    #[error("name {0:?} is not {min}-{max} bytes without NUL", min = REALM_NAME_LEN.0, max = REALM_NAME_LEN.1)]
    Name(String),
    #[error("address {0:?} is not HOST:PORT (a port in 1-65535, at most {max} bytes, no NUL)", max = REALM_ADDRESS_LEN.1)]
    Address(String),
    /// The population's bits, so that the error can be compared (NaN included).
    #[error("population {} is not a number in 0-{MAX_POPULATION}", from_bits(.0))]
    Population(u32),
    #[error("build {0} is not a client build (1-65535)")]
    Build(u16),
}

fn from_bits(bits: &u32) -> f32 {
    f32::from_bits(*bits)
}

/// 1-64 bytes without NUL (a NUL would cut the name short in the client's C string).
pub fn check_realm_name(name: &str) -> Result<(), RealmValueError> {
    let (min, max) = REALM_NAME_LEN;
    if (min..=max).contains(&name.len()) && !name.contains('\0') {
        Ok(())
    } else {
        Err(RealmValueError::Name(name.to_owned()))
    }
}

/// "host:port" with a non-empty host and a port of digits in 1..=65535; the host is not
/// resolved here (the client does that), so names and IPv6 literals in brackets are both fine.
pub fn check_realm_address(address: &str) -> Result<(), RealmValueError> {
    let (min, max) = REALM_ADDRESS_LEN;
    let ok = (min..=max).contains(&address.len())
        && !address.contains('\0')
        && match address.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u16>().is_ok_and(|p| p != 0)
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(RealmValueError::Address(address.to_owned()))
    }
}

/// A number in 0.0..=[`MAX_POPULATION`]: never NaN (which compares unequal to itself, so a
/// realm carrying it would look changed at every comparison), never infinite or negative.
pub fn check_population(population: f32) -> Result<(), RealmValueError> {
    if (0.0..=MAX_POPULATION).contains(&population) {
        Ok(())
    } else {
        Err(RealmValueError::Population(population.to_bits()))
    }
}

/// A client build in a realm's build list: 0 is no build any client sends.
pub fn check_build(build: u16) -> Result<(), RealmValueError> {
    if build == 0 {
        Err(RealmValueError::Build(build))
    } else {
        Ok(())
    }
}

/// An IP ban in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBan {
    pub net: IpNet,
    /// Unix seconds; `None` = until lifted.
    pub until: Option<i64>,
}

/// The failed-logon lockout rule, shared by the account lockout (applied by the store when it
/// commits a wrong password) and the address lockout (in memory, in the policy filters).
///
/// Failures are counted in a leaky bucket: each wrong password or token adds one, and the count
/// drains by one every `window / attempts`, so `attempts` failures within `window` lock, and a
/// slow trickle of mistakes never does. Reaching `attempts` locks for `duration` and empties
/// the count. A success empties it too (accounts only).
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
    fn realm_values_follow_one_rule() {
        assert!(check_realm_name("Nordrassil").is_ok());
        assert!(check_realm_name("").is_err());
        assert!(check_realm_name(&"n".repeat(65)).is_err());
        assert!(check_realm_name("a\0b").is_err());

        for good in ["127.0.0.1:8085", "world.example:1", "[::1]:65535"] {
            assert_eq!(check_realm_address(good), Ok(()), "{good}");
        }
        for bad in [
            "127.0.0.1",
            ":8085",
            "h:0",
            "h:65536",
            "h:+80",
            "h:",
            "h:80\0",
            "nowhere",
            "",
        ] {
            assert_eq!(
                check_realm_address(bad),
                Err(RealmValueError::Address(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(check_realm_address(&format!("{}:1", "h".repeat(254))).is_err());

        for good in [0.0, -0.0, 0.5, 2.0, 600.0, MAX_POPULATION] {
            assert_eq!(check_population(good), Ok(()), "{good}");
        }
        for bad in [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.5,
            1e7,
            f32::MAX,
        ] {
            assert_eq!(
                check_population(bad),
                Err(RealmValueError::Population(bad.to_bits())),
                "{bad}"
            );
        }
        // NaN errors compare equal to themselves (they hold bits), and still read as NaN.
        let nan = check_population(f32::NAN).unwrap_err();
        assert_eq!(nan.clone(), nan);
        assert!(nan.to_string().contains("NaN"), "{nan}");

        assert!(check_build(0).is_err());
        assert!(check_build(5875).is_ok());
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
