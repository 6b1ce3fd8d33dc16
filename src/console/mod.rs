//! The debug console: a telnet-style, line-based TCP service on the loop for operators.
//!
//! `line` turns raw bytes (with telnet negotiation, CRLF or LF) into lines; `command` parses a
//! line into a [`command::Command`]; `login` holds the decisions of a login (lockouts, bans,
//! password, authenticator, audit outcome); the session (who is logged in, how many failed
//! attempts) lives in [`ConsoleSession`]. The daemon executes commands (`daemon/consoles.rs`),
//! since they look at its state; commands that touch the store go through the DB threads like
//! every other store request, and passwords are hashed on the hashing thread, so the console
//! never blocks the loop.

pub mod command;
pub mod line;
pub mod login;

use std::net::SocketAddr;

use crate::admin::Secret;
use crate::store::LoginOutcome;
use login::{LoginAccount, LoginUser, PasswordVerdict, Subject};

/// Failed logins in a row before the connection is closed.
pub const MAX_FAILURES: u8 = 3;

/// Where a console connection is. A login goes AwaitUser → AwaitPassword → Loading →
/// Checking → (AwaitCode) → Recording → Ready, or ends in Delayed at any step (see `login`).
#[derive(Debug, Clone)]
pub enum ConsoleState {
    /// Asked for a user name (empty = the console password).
    AwaitUser { failures: u8 },
    /// Asked for the password of `user`.
    AwaitPassword { failures: u8, user: LoginUser },
    /// A DB thread loads the account or the console password's hash; input is held.
    Loading {
        failures: u8,
        user: LoginUser,
        password: Secret,
    },
    /// The hashing thread checks the password; input is held.
    Checking { failures: u8, subject: Subject },
    /// Asked for the authenticator code of an account that has one (whatever the password
    /// was: the prompt must not say that it was right).
    AwaitCode {
        failures: u8,
        account: Box<LoginAccount>,
        password: PasswordVerdict,
    },
    /// A DB thread commits the outcome (audit row, lockout) before the operator hears it;
    /// `who` logs in if the outcome is a success. Input is held.
    Recording {
        failures: u8,
        outcome: LoginOutcome,
        who: String,
    },
    /// A failed login: the next prompt comes after a delay.
    Delayed { failures: u8 },
    /// Logged in as `who`.
    Ready { who: String },
    /// A store command is running for `who`; input is held.
    Busy { who: String },
}

pub struct ConsoleSession {
    pub peer: SocketAddr,
    pub state: ConsoleState,
}

impl ConsoleSession {
    pub fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            state: ConsoleState::AwaitUser { failures: 0 },
        }
    }

    /// Whether lines are read now (not while the store works or a delay runs).
    pub fn reads_input(&self) -> bool {
        !matches!(
            self.state,
            ConsoleState::Loading { .. }
                | ConsoleState::Checking { .. }
                | ConsoleState::Recording { .. }
                | ConsoleState::Delayed { .. }
                | ConsoleState::Busy { .. }
        )
    }

    pub fn who(&self) -> Option<&str> {
        match &self.state {
            ConsoleState::Ready { who } | ConsoleState::Busy { who } => Some(who),
            _ => None,
        }
    }
}
