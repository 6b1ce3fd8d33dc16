//! Accounts as the login protocol sees them: the name and password rules the client itself
//! applies (ASCII, 1–16 characters, upper-cased before hashing), and an account's standing.
//! The id newtype lives in [`crate::values`] and is re-exported here.
//!
//! Every place that takes a name from outside (the wire, the CLI, the console, the store)
//! goes through [`AccountName::parse`], so the rest of the code never sees an unnormalised name.

use std::fmt;

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
        // Printable ASCII only: the client folds non-ASCII inconsistently (srp6.md §3).
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

#[cfg(test)]
mod tests {
    use super::*;

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
