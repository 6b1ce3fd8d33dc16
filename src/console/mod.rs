//! The debug console: a telnet-style, line-based TCP service on the loop for operators.
//!
//! `line` turns raw bytes (with telnet negotiation, CRLF or LF) into lines; `command` parses a
//! line into a [`command::Command`]; the session (who is logged in, how many failed attempts)
//! lives in [`ConsoleSession`]. The daemon executes commands (`daemon/consoles.rs`), since they
//! look at its state; commands that touch the store go through the DB threads like every other
//! store request, so the console never blocks the loop.

pub mod command;
pub mod line;

use std::net::SocketAddr;

/// Failed logins in a row before the connection is closed.
pub const MAX_FAILURES: u8 = 3;

/// Where a console connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleState {
    /// Asked for a user name (empty = the console password).
    AwaitUser { failures: u8 },
    /// Asked for the password of `user`.
    AwaitPassword { failures: u8, user: Option<String> },
    /// The store checks the password; input is held.
    Checking { failures: u8 },
    /// A wrong password: the next prompt comes after a delay.
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
            ConsoleState::Checking { .. }
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
