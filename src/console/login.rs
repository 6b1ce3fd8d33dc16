//! A console login as a chain of small decisions, driven by the daemon (`daemon/consoles.rs`)
//! with the same rules a game logon follows:
//!
//! 1. on the loop: the address lockout is asked first, before the store or any hashing;
//! 2. a DB thread loads what the login is checked against ([`LoginUser`]: the account, or the
//!    console password's hash) — it only loads, it never hashes;
//! 3. on the loop: a banned or suspended account (a lockout is a suspension) is refused
//!    without its password being checked ([`standing_refusal`]);
//! 4. the hashing thread checks the password ([`CredentialCheck`]: the SRP verifier, or
//!    PBKDF2), so neither the loop nor the DB threads where logons wait spend time on it;
//! 5. on the loop: an account with an authenticator is asked for its code, whatever the
//!    password was, so the prompt does not tell a guesser that the password was right; then
//!    [`decide`] turns password, code and security level into a [`LoginOutcome`];
//! 6. a DB thread commits the outcome (an audit row; a wrong credential also counts towards
//!    the account lockout) before the operator hears it.
//!
//! Every refusal looks the same to the person typing ("login failed" after a delay); the log
//! and the audit say why. Nothing here touches a socket, a clock or the store.

use crate::account::{AccountId, AccountName, AccountStanding, Password};
use crate::admin::{verify_console_password, ConsolePasswordHash, Secret, ADMIN_LEVEL};
use crate::srp6::{compute_verifier, Salt, Verifier};
use crate::store::{AccountRecord, LockoutStanding, LoginOutcome};
use crate::totp::{self, SealedTotpSecret, TotpKey, TotpStep};

/// The name audit rows of the console password carry (their account is `None`).
pub const CONSOLE_AUDIT_NAME: &[u8] = b"(console)";

/// Who `who` is after logging in with the console password.
pub const CONSOLE_WHO: &str = "console";

/// Who a console login names, from the line typed at the user prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginUser {
    /// An empty line: the console password.
    ConsolePassword,
    /// An account (of security level [`ADMIN_LEVEL`] or more, to get in).
    Account(AccountName),
    /// Something that cannot be an account name (too long, not printable ASCII): refused
    /// like an unknown account, without a store round trip.
    NotAName,
}

impl LoginUser {
    pub fn parse(line: &str) -> LoginUser {
        let line = line.trim();
        if line.is_empty() {
            return LoginUser::ConsolePassword;
        }
        match AccountName::parse(line.as_bytes()) {
            Ok(name) => LoginUser::Account(name),
            Err(_) => LoginUser::NotAName,
        }
    }
}

/// The name the audit records for a console password attempt. The constant always parses
/// (a unit test says so); `None` would only skip the audit row, never panic.
pub fn console_audit_name() -> Option<AccountName> {
    AccountName::parse(CONSOLE_AUDIT_NAME).ok()
}

/// What the loop keeps of a loaded account while its password and code are checked.
#[derive(Debug, Clone)]
pub struct LoginAccount {
    pub id: AccountId,
    pub name: AccountName,
    pub security_level: u8,
    /// `Some`: the code is asked for after the password.
    pub totp: Option<SealedTotpSecret>,
}

impl LoginAccount {
    pub fn of(record: &AccountRecord) -> LoginAccount {
        LoginAccount {
            id: record.id,
            name: record.name,
            security_level: record.security_level,
            totp: record.totp.clone(),
        }
    }
}

/// What a console login is checked against once loaded.
#[derive(Debug, Clone)]
pub enum Subject {
    ConsolePassword,
    Account(Box<LoginAccount>),
}

/// Refuses a banned or suspended account (a lockout suspends it) as a game logon would, with
/// the outcome the audit records; `None` lets the login go on. A suspension that has ended
/// no longer counts.
pub fn standing_refusal(
    standing: AccountStanding,
    lockout: LockoutStanding,
    unix_now: i64,
) -> Option<LoginOutcome> {
    if let LockoutStanding::LockedOut { until, .. } = lockout {
        if until > unix_now {
            return Some(LoginOutcome::ConsoleSuspended);
        }
    }
    match standing {
        AccountStanding::Active => None,
        AccountStanding::Banned => Some(LoginOutcome::ConsoleBanned),
        AccountStanding::Suspended { until } if until > unix_now => {
            Some(LoginOutcome::ConsoleSuspended)
        }
        AccountStanding::Suspended { .. } => None,
    }
}

/// Whether the password typed was right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerdict {
    Right,
    Wrong,
}

/// The slow half of a console login, run on the hashing thread (`io_worker`): never on the
/// loop (PBKDF2 takes tens of milliseconds) nor on a DB thread (logons wait there). `Debug`
/// shows no secret.
#[derive(Clone)]
pub enum CredentialCheck {
    /// An account's password against its SRP6 verifier (as the client would hash it).
    Verifier {
        name: AccountName,
        salt: Salt,
        verifier: Verifier,
        password: Secret,
    },
    /// The console password against its PBKDF2-SHA256 hash.
    ConsolePassword {
        hash: ConsolePasswordHash,
        password: Secret,
    },
}

impl std::fmt::Debug for CredentialCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialCheck::Verifier { name, .. } => write!(f, "Verifier({name}, ***)"),
            CredentialCheck::ConsolePassword { .. } => f.write_str("ConsolePassword(***)"),
        }
    }
}

impl CredentialCheck {
    pub fn for_account(record: &AccountRecord, password: Secret) -> CredentialCheck {
        CredentialCheck::Verifier {
            name: record.name,
            salt: record.salt,
            verifier: record.verifier,
            password,
        }
    }

    /// Compares in constant time; a password the client could not type (too long, not
    /// printable ASCII) is simply wrong.
    pub fn run(&self) -> PasswordVerdict {
        use subtle::ConstantTimeEq;
        let right = match self {
            CredentialCheck::Verifier {
                name,
                salt,
                verifier,
                password,
            } => match Password::parse(password.0.as_bytes()) {
                Ok(password) => {
                    let computed = compute_verifier(name, &password, salt);
                    bool::from(computed.0.ct_eq(&verifier.0))
                }
                Err(_) => false,
            },
            CredentialCheck::ConsolePassword { hash, password } => {
                verify_console_password(&hash.0, &password.0)
            }
        };
        if right {
            PasswordVerdict::Right
        } else {
            PasswordVerdict::Wrong
        }
    }
}

/// What the authenticator code said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// No code to judge: the account has no authenticator, or the password was wrong anyway.
    NotNeeded,
    /// Right, the code of this authenticator step, which the login uses up (a step used
    /// before is refused then, RFC 6238 §5.2).
    Right(TotpStep),
    /// Wrong, missing or malformed: a wrong credential.
    Wrong,
    /// The secret cannot be opened (why, for the log): the server's fault, not the typist's.
    Unusable(String),
}

/// The one place a console login checks an authenticator code: opens the account's sealed
/// secret with `totp.key` and checks the code at `unix_now` (±1 step, constant time). Whether
/// its step was used before is the store's to say when the login is recorded.
pub fn check_code(
    key: Option<&TotpKey>,
    account: AccountId,
    sealed: &SealedTotpSecret,
    code: &str,
    unix_now: i64,
) -> CodeCheck {
    let Some(key) = key else {
        return CodeCheck::Unusable("no totp.key is configured".into());
    };
    let secret = match totp::open(key, account, sealed) {
        Ok(secret) => secret,
        Err(e) => return CodeCheck::Unusable(e.to_string()),
    };
    // A clock before 1970 makes every code wrong rather than panicking.
    let unix_now = u64::try_from(unix_now).unwrap_or(0);
    match totp::verify(&secret, code.trim().as_bytes(), unix_now) {
        Some(step) => CodeCheck::Right(step),
        None => CodeCheck::Wrong,
    }
}

/// How an account's console login ends, from its password, its code and its level: a wrong
/// password first (whatever the code), then the code, then the level, so only someone who
/// has both credentials learns that the account is not an administrator.
pub fn decide(password: PasswordVerdict, code: &CodeCheck, security_level: u8) -> LoginOutcome {
    match (password, code) {
        (PasswordVerdict::Wrong, _) => LoginOutcome::ConsoleWrongPassword,
        (PasswordVerdict::Right, CodeCheck::Wrong) => LoginOutcome::ConsoleWrongToken,
        (PasswordVerdict::Right, CodeCheck::Unusable(_)) => LoginOutcome::ConsoleTotpUnusable,
        (PasswordVerdict::Right, CodeCheck::NotNeeded | CodeCheck::Right(_)) => {
            if security_level >= ADMIN_LEVEL {
                LoginOutcome::ConsoleSuccess
            } else {
                LoginOutcome::ConsoleNotAdmin
            }
        }
    }
}

/// How a console password login ends.
pub fn decide_console_password(password: PasswordVerdict) -> LoginOutcome {
    match password {
        PasswordVerdict::Right => LoginOutcome::ConsoleSuccess,
        PasswordVerdict::Wrong => LoginOutcome::ConsoleWrongPassword,
    }
}

/// Why a refusal was refused, for the log line (the typist only sees "login failed").
pub fn refusal_reason(outcome: LoginOutcome) -> &'static str {
    match outcome {
        LoginOutcome::ConsoleWrongPassword => "wrong password",
        LoginOutcome::ConsoleWrongToken => "wrong or missing authenticator code",
        LoginOutcome::ConsoleBanned => "the account is banned",
        LoginOutcome::ConsoleSuspended => "the account is suspended",
        LoginOutcome::ConsoleNotAdmin => "the account's security level is below the console's",
        LoginOutcome::ConsoleTotpUnusable => "the account's authenticator secret cannot be used",
        _ => outcome.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srp6::Salt;

    #[test]
    fn the_user_line_names_the_console_password_an_account_or_nothing() {
        assert_eq!(LoginUser::parse(""), LoginUser::ConsolePassword);
        assert_eq!(LoginUser::parse("  "), LoginUser::ConsolePassword);
        assert_eq!(
            LoginUser::parse(" admin "),
            LoginUser::Account(AccountName::parse(b"ADMIN").unwrap())
        );
        assert_eq!(LoginUser::parse(&"x".repeat(17)), LoginUser::NotAName);
        assert_eq!(LoginUser::parse("caf\u{e9}"), LoginUser::NotAName);
        assert_eq!(console_audit_name().unwrap().as_str(), "(CONSOLE)");
    }

    #[test]
    fn bans_and_running_suspensions_refuse() {
        assert_eq!(
            standing_refusal(AccountStanding::Active, LockoutStanding::Clear, 100),
            None
        );
        assert_eq!(
            standing_refusal(AccountStanding::Banned, LockoutStanding::Clear, 100),
            Some(LoginOutcome::ConsoleBanned)
        );
        assert_eq!(
            standing_refusal(
                AccountStanding::Suspended { until: 101 },
                LockoutStanding::Clear,
                100
            ),
            Some(LoginOutcome::ConsoleSuspended)
        );
        assert_eq!(
            standing_refusal(
                AccountStanding::Suspended { until: 100 },
                LockoutStanding::Clear,
                100
            ),
            None
        );
    }

    #[test]
    fn passwords_are_checked_against_the_verifier_and_the_console_hash() {
        let name = AccountName::parse(b"admin").unwrap();
        let salt = Salt([9; 32]);
        let verifier = compute_verifier(&name, &Password::parse(b"adminpw").unwrap(), &salt);
        let check = |password: &str| {
            CredentialCheck::Verifier {
                name,
                salt,
                verifier,
                password: Secret(password.into()),
            }
            .run()
        };
        assert_eq!(check("adminpw"), PasswordVerdict::Right);
        // The client upper-cases passwords, so the console does too.
        assert_eq!(check("ADMINPW"), PasswordVerdict::Right);
        assert_eq!(check("wrong"), PasswordVerdict::Wrong);
        assert_eq!(check(""), PasswordVerdict::Wrong);
        assert_eq!(check(&"x".repeat(40)), PasswordVerdict::Wrong);

        let hash =
            ConsolePasswordHash(crate::admin::hash_console_password("console secret").unwrap());
        let console = |password: &str| {
            CredentialCheck::ConsolePassword {
                hash: hash.clone(),
                password: Secret(password.into()),
            }
            .run()
        };
        assert_eq!(console("console secret"), PasswordVerdict::Right);
        assert_eq!(console("Console secret"), PasswordVerdict::Wrong);
        let shown = format!(
            "{:?}",
            CredentialCheck::ConsolePassword {
                hash,
                password: Secret("console secret".into())
            }
        );
        assert!(
            !shown.contains("secret") && !shown.contains("pbkdf2"),
            "{shown}"
        );
    }

    #[test]
    fn a_wrong_password_wins_then_the_code_then_the_level() {
        use LoginOutcome::*;
        use PasswordVerdict::{Right, Wrong};
        let unusable = CodeCheck::Unusable("x".into());
        for code in [
            CodeCheck::NotNeeded,
            CodeCheck::Right(TotpStep(1)),
            CodeCheck::Wrong,
            unusable.clone(),
        ] {
            assert_eq!(decide(Wrong, &code, 3), ConsoleWrongPassword);
            assert_eq!(decide(Wrong, &code, 0), ConsoleWrongPassword);
        }
        assert_eq!(decide(Right, &CodeCheck::Wrong, 3), ConsoleWrongToken);
        assert_eq!(decide(Right, &CodeCheck::Wrong, 0), ConsoleWrongToken);
        assert_eq!(decide(Right, &unusable, 3), ConsoleTotpUnusable);
        assert_eq!(
            decide(Right, &CodeCheck::Right(TotpStep(1)), 3),
            ConsoleSuccess
        );
        assert_eq!(decide(Right, &CodeCheck::NotNeeded, 4), ConsoleSuccess);
        assert_eq!(decide(Right, &CodeCheck::NotNeeded, 2), ConsoleNotAdmin);
        assert_eq!(
            decide(Right, &CodeCheck::Right(TotpStep(1)), 0),
            ConsoleNotAdmin
        );
        assert_eq!(decide_console_password(Right), ConsoleSuccess);
        assert_eq!(decide_console_password(Wrong), ConsoleWrongPassword);
        assert!(ConsoleWrongPassword.counts_against_account());
        assert!(ConsoleWrongToken.counts_against_account());
        for other in [
            ConsoleSuccess,
            ConsoleBanned,
            ConsoleSuspended,
            ConsoleNotAdmin,
            ConsoleTotpUnusable,
        ] {
            assert!(!other.counts_against_account(), "{other}");
        }
    }

    #[test]
    fn codes_are_checked_with_the_sealed_secret() {
        let key = TotpKey::from_bytes([7; 32]);
        let account = AccountId(42);
        let secret = crate::totp::TotpSecret::generate();
        let sealed = crate::totp::seal(&key, account, &secret).unwrap();
        let now = 1_700_000_000;
        let code = crate::totp::code_at(&secret, now as u64);
        assert_eq!(
            check_code(Some(&key), account, &sealed, &code, now),
            CodeCheck::Right(TotpStep(now as u64 / crate::totp::STEP_SECS))
        );
        assert_eq!(
            check_code(Some(&key), account, &sealed, &format!(" {code}\r"), now),
            CodeCheck::Right(TotpStep(now as u64 / crate::totp::STEP_SECS))
        );
        let near: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| crate::totp::code_at(&secret, *t as u64))
            .collect();
        let wrong = (0..)
            .map(|n| format!("{n:06}"))
            .find(|c| !near.contains(c))
            .unwrap();
        assert_eq!(
            check_code(Some(&key), account, &sealed, &wrong, now),
            CodeCheck::Wrong
        );
        assert_eq!(
            check_code(Some(&key), account, &sealed, "", now),
            CodeCheck::Wrong
        );
        assert!(matches!(
            check_code(None, account, &sealed, &code, now),
            CodeCheck::Unusable(_)
        ));
        let other = TotpKey::from_bytes([8; 32]);
        assert!(matches!(
            check_code(Some(&other), account, &sealed, &code, now),
            CodeCheck::Unusable(_)
        ));
        // Sealed for another account: unusable, not "wrong".
        assert!(matches!(
            check_code(Some(&key), AccountId(43), &sealed, &code, now),
            CodeCheck::Unusable(_)
        ));
    }
}
