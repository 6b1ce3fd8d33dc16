//! Accounts as the login protocol sees them: the name and password rules the client itself
//! applies (ASCII, 1–16 characters, upper-cased before hashing), an account's standing, and
//! the address an account may be locked to. The id newtype lives in [`crate::values`] and is re-exported here.
//!
//! Every place that takes a name from outside (the wire, the CLI, the console, the store)
//! goes through [`AccountName::parse`], so the rest of the code never sees an unnormalised name.

use std::fmt;
use std::net::IpAddr;

pub use crate::values::AccountId;

/// Longest name or password the client lets a user type.
pub const MAX_LEN: usize = 16;

/// Why a name or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {MAX_LEN} characters")]
    TooLong { what: &'static str },
    #[error(
        "{what} contains a character the client cannot type (only printable ASCII is allowed)"
    )]
    BadCharacter { what: &'static str },
}

fn normalise(what: &'static str, raw: &[u8]) -> Result<([u8; MAX_LEN], u8), CredentialError> {
    if raw.is_empty() {
        return Err(CredentialError::Empty { what });
    }
    if raw.len() > MAX_LEN {
        return Err(CredentialError::TooLong { what });
    }
    let mut out = [0u8; MAX_LEN];
    for (slot, &b) in out.iter_mut().zip(raw) {
        // Printable ASCII only: the client folds non-ASCII inconsistently (docs/srp6.md §3).
        if !(0x20..=0x7e).contains(&b) {
            return Err(CredentialError::BadCharacter { what });
        }
        *slot = b.to_ascii_uppercase();
    }
    Ok((out, raw.len() as u8))
}

/// An account name: 1–16 printable ASCII bytes, upper case (as the client sends and hashes it).
/// Stored inline, so names cost no allocation on the login path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountName {
    bytes: [u8; MAX_LEN],
    len: u8,
}

impl AccountName {
    /// Normalises and validates a name typed by an operator or received from a client.
    /// Names may contain spaces only in the middle: leading/trailing blanks are refused, as
    /// the client trims them.
    pub fn parse(raw: &[u8]) -> Result<Self, CredentialError> {
        if raw.first() == Some(&b' ') || raw.last() == Some(&b' ') {
            return Err(CredentialError::BadCharacter {
                what: "account name",
            });
        }
        let (bytes, len) = normalise("account name", raw)?;
        Ok(Self { bytes, len })
    }

    /// The upper-case bytes, exactly as hashed in H(U).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Only printable ASCII gets in (see `normalise`), which is valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountName({})", self.as_str())
    }
}

/// A password, upper-cased as the client does before hashing. Never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    bytes: [u8; MAX_LEN],
    len: u8,
}

impl Password {
    pub fn parse(raw: &[u8]) -> Result<Self, CredentialError> {
        let (bytes, len) = normalise("password", raw)?;
        Ok(Self { bytes, len })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What an account may do, as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStanding {
    Active,
    /// Banned with no end: the client is told FAIL_BANNED.
    Banned,
    /// Banned or locked until a time (unix seconds): the client is told FAIL_SUSPENDED.
    Suspended {
        until: i64,
    },
}

/// An account that may log on from one address only: `account.locked` in AzerothCore's and
/// CMaNGOS's tables, `accounts.ip_locked` in gatehouse's own (`gatehouse account lock-ip`,
/// locked to `last_login_ip`, refused as AzerothCore refuses). Checked when a logon challenge
/// is answered; reconnects are not checked, as neither project checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpLock {
    /// The one address logons are accepted from. `None`: the stored text is not an address,
    /// so no logon is accepted until the row is fixed (never one from anywhere).
    pub address: Option<IpAddr>,
    /// How a logon from elsewhere is refused: as the schema's own login server does.
    pub refusal: IpLockRefusal,
}

/// The answer a schema's own login server gives a logon from an address its account is not
/// locked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpLockRefusal {
    /// AzerothCore's authserver: WOW_FAIL_LOCKED_ENFORCED (0x10), a code 1.12 clients do not
    /// know; they are told FAIL_SUSPENDED (0x0C) instead.
    LockedEnforced,
    /// CMaNGOS's realmd: AUTH_LOGON_FAILED_SUSPENDED (0x0C), to every build.
    Suspended,
}

impl IpLock {
    /// The lock on `stored`, the address text as the schema keeps it. Both projects compare
    /// that text with the peer's address as text; here both are parsed, so only the same
    /// address matches (`::ffff:10.0.0.1` is `10.0.0.1`) and text that is no address, blank
    /// or padded included, matches nothing.
    pub fn from_stored(stored: &str, refusal: IpLockRefusal) -> IpLock {
        IpLock {
            address: stored.parse::<IpAddr>().ok().map(|a| a.to_canonical()),
            refusal,
        }
    }

    /// Whether a logon from `peer` is allowed.
    pub fn admits(&self, peer: IpAddr) -> bool {
        self.address == Some(peer.to_canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_lock_admits_its_address_only_and_text_that_is_no_address_admits_nobody() {
        let lock = IpLock::from_stored("10.1.2.3", IpLockRefusal::Suspended);
        assert!(lock.admits("10.1.2.3".parse().unwrap()));
        assert!(
            lock.admits("::ffff:10.1.2.3".parse().unwrap()),
            "a v4-mapped peer"
        );
        assert!(!lock.admits("10.1.2.4".parse().unwrap()));
        assert!(!lock.admits("127.0.0.1".parse().unwrap()));
        let v6 = IpLock::from_stored("::1", IpLockRefusal::LockedEnforced);
        assert!(v6.admits("0:0:0:0:0:0:0:1".parse().unwrap()));
        for stored in [
            "",
            "garbage",
            " 10.1.2.3",
            "10.1.2.3 ",
            "10.1.2",
            "010.1.2.3",
        ] {
            let lock = IpLock::from_stored(stored, IpLockRefusal::Suspended);
            assert_eq!(lock.address, None, "{stored:?}");
            assert!(!lock.admits("10.1.2.3".parse().unwrap()), "{stored:?}");
            assert!(!lock.admits("0.0.0.0".parse().unwrap()), "{stored:?}");
        }
        // CMaNGOS's default lockedIp: locked to it, nobody can log on.
        let default = IpLock::from_stored("0.0.0.0", IpLockRefusal::Suspended);
        assert!(!default.admits("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn names_are_upper_cased_and_bounded() {
        assert_eq!(AccountName::parse(b"alice").unwrap().as_str(), "ALICE");
        assert_eq!(
            AccountName::parse(b"").unwrap_err(),
            CredentialError::Empty {
                what: "account name"
            }
        );
        assert!(AccountName::parse(b"ABCDEFGHIJKLMNOP").is_ok());
        assert!(matches!(
            AccountName::parse(b"ABCDEFGHIJKLMNOPQ"),
            Err(CredentialError::TooLong { .. })
        ));
        assert!(matches!(
            AccountName::parse("zoë".as_bytes()),
            Err(CredentialError::BadCharacter { .. })
        ));
        assert!(matches!(
            AccountName::parse(b"a\tb"),
            Err(CredentialError::BadCharacter { .. })
        ));
        assert!(AccountName::parse(b" bob").is_err());
    }

    #[test]
    fn passwords_hide_in_debug() {
        let p = Password::parse(b"secret").unwrap();
        assert_eq!(p.as_bytes(), b"SECRET");
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
