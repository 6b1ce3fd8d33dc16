//! Abuse policies as event filters (docs/architecture.md §5).
//!
//! Three events pass through one chain of filters, run in priority order on the loop thread: a
//! **connect** (checked at accept, before a connection costs anything but the accept itself),
//! a **logon** (checked when a challenge arrives, before the store or SRP6 is touched) and a
//! **console login** (checked when an operator has typed a password, before the store or any
//! hashing is touched).
//! Each filter lets the event pass or stops it with a [`Refusal`]; the first refusal wins and
//! later filters do not see the event. Filters also **observe** what happened afterwards
//! (a connection admitted or closed, wrong credentials, a new ban list); observations only
//! notify and cannot veto. A policy is added by registering a filter, not by growing an
//! if-chain in the daemon or in a state.
//!
//! The account lockout is not here: it must survive restarts and be shared by nodes, so the
//! store applies it when it commits a wrong password ([`lockout::LockoutPolicy`]).

pub mod address;
pub mod bucket;
pub mod filters;
pub mod lockout;

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use crate::account::AccountName;
use crate::config::Config;
use crate::protocol::challenge::ChallengeKind;
use crate::protocol::result::LoginResult;
use crate::values::IpBan;

pub use address::AddressKey;

/// Why a filter stopped an event; logged, counted, and (for logons) mapped to a result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalReason {
    /// The address is covered by an IP ban.
    AddressBanned,
    /// `limits.max_connections` connections are open.
    ServerFull,
    /// The address holds `limits.max_connections_per_address` connections.
    TooManyConnections,
    /// The address opens connections faster than `limits.connect_rate`.
    ConnectRate,
    /// The address sends challenges faster than `limits.challenge_rate`.
    ChallengeRate,
    /// The address gave too many wrong passwords (`lockout.address_*`).
    AddressLocked,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 6] = [
        RefusalReason::AddressBanned,
        RefusalReason::ServerFull,
        RefusalReason::TooManyConnections,
        RefusalReason::ConnectRate,
        RefusalReason::ChallengeRate,
        RefusalReason::AddressLocked,
    ];

    /// Short name for counters and the console.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::AddressBanned => "address_banned",
            RefusalReason::ServerFull => "server_full",
            RefusalReason::TooManyConnections => "too_many_connections",
            RefusalReason::ConnectRate => "connect_rate",
            RefusalReason::ChallengeRate => "challenge_rate",
            RefusalReason::AddressLocked => "address_locked",
        }
    }

    /// The answer a client gets when its challenge is refused for this reason.
    pub fn result(self) -> LoginResult {
        match self {
            RefusalReason::AddressBanned => LoginResult::FailBanned,
            RefusalReason::AddressLocked => LoginResult::FailSuspended,
            RefusalReason::ServerFull
            | RefusalReason::TooManyConnections
            | RefusalReason::ConnectRate
            | RefusalReason::ChallengeRate => LoginResult::FailDbBusy,
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalReason::AddressBanned => "address banned",
            RefusalReason::ServerFull => "connection limit reached",
            RefusalReason::TooManyConnections => "too many connections from this address",
            RefusalReason::ConnectRate => "connecting too fast",
            RefusalReason::ChallengeRate => "logging on too fast",
            RefusalReason::AddressLocked => "too many wrong passwords from this address",
        })
    }
}

/// A filter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Refuse(RefusalReason),
}

/// Whether the per-address limits apply to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Counted under this key.
    Tracked(AddressKey),
    /// In `limits.exempt`: only bans apply.
    Exempt,
}

/// A new connection, before anything is allocated for it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectEvent {
    pub ip: IpAddr,
    pub class: AddressClass,
    pub now: Instant,
    pub unix_now: i64,
    /// Game connections open now.
    pub open: usize,
}

/// A logon or reconnect challenge, before the account is looked up.
#[derive(Debug, Clone, Copy)]
pub struct LogonEvent {
    pub ip: IpAddr,
    pub class: AddressClass,
    pub name: AccountName,
    pub kind: ChallengeKind,
    pub now: Instant,
    pub unix_now: i64,
}

/// A console login, once the password is typed, before the store or any hashing.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleLoginEvent {
    pub ip: IpAddr,
    pub class: AddressClass,
    pub now: Instant,
}

/// What happened, for filters that keep state; cannot be refused.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// A connection passed every filter and is open.
    Connected { class: AddressClass },
    /// A connection that was `Connected` closed.
    Disconnected { class: AddressClass },
    /// A wrong password or authenticator token, as committed to the store (from a game
    /// logon or a console login).
    WrongCredentials {
        ip: IpAddr,
        class: AddressClass,
        now: Instant,
    },
    /// The IP bans in force, freshly read from the store.
    IpBans(&'a [IpBan]),
}

/// One policy.
pub trait Filter {
    /// Checks a new connection.
    fn on_connect(&mut self, _event: &ConnectEvent) -> Verdict {
        Verdict::Pass
    }
    /// Checks a challenge.
    fn on_logon(&mut self, _event: &LogonEvent) -> Verdict {
        Verdict::Pass
    }
    /// Checks a console login.
    fn on_console_login(&mut self, _event: &ConsoleLoginEvent) -> Verdict {
        Verdict::Pass
    }
    fn observe(&mut self, _observation: &Observation<'_>) {}
    /// Takes new settings after a reload; state (counters, buckets) is kept.
    fn reconfigure(&mut self, _config: &Config) {}
    /// Addresses this filter remembers now, for the console.
    fn tracked(&self) -> usize {
        0
    }
}

/// Order in the chain: lower runs first. Cheap, stateless checks go before ones that spend a
/// token, so a banned address does not drain a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(pub u16);

/// The chain of filters, and refusal counts per reason.
pub struct Policies {
    filters: Vec<(Priority, &'static str, Box<dyn Filter>)>,
    exempt: Vec<ipnet::IpNet>,
    refused: [u64; RefusalReason::ALL.len()],
}

impl Policies {
    /// An empty chain: everything passes.
    pub fn empty() -> Self {
        Self {
            filters: Vec::new(),
            exempt: Vec::new(),
            refused: [0; RefusalReason::ALL.len()],
        }
    }

    /// The standard chain from the config (see the README's "Security" section).
    pub fn from_config(config: &Config) -> Self {
        let mut p = Self::empty();
        p.exempt = config.limits.exempt.clone();
        p.register(Priority(10), "ip_bans", Box::new(filters::IpBans::new()));
        p.register(
            Priority(20),
            "connection_cap",
            Box::new(filters::ConnectionCap::new(config)),
        );
        p.register(
            Priority(30),
            "connections_per_address",
            Box::new(filters::ConnectionsPerAddress::new(config)),
        );
        p.register(
            Priority(40),
            "address_lockout",
            Box::new(filters::AddressLockout::new(config)),
        );
        p.register(
            Priority(50),
            "connect_rate",
            Box::new(filters::ConnectRate::new(config)),
        );
        p.register(
            Priority(60),
            "challenge_rate",
            Box::new(filters::ChallengeRate::new(config)),
        );
        p
    }

    /// Adds a filter; filters of equal priority run in registration order.
    pub fn register(&mut self, priority: Priority, name: &'static str, filter: Box<dyn Filter>) {
        self.filters.push((priority, name, filter));
        self.filters.sort_by_key(|(p, _, _)| *p);
    }

    /// How the per-address limits see `ip`.
    pub fn classify(&self, ip: IpAddr) -> AddressClass {
        let ip = ip.to_canonical();
        if self.exempt.iter().any(|net| net.contains(&ip)) {
            AddressClass::Exempt
        } else {
            AddressClass::Tracked(AddressKey::of(ip))
        }
    }

    pub fn on_connect(&mut self, event: &ConnectEvent) -> Verdict {
        let verdict = self.run(|f| f.on_connect(event));
        if verdict == Verdict::Pass {
            self.observe(&Observation::Connected { class: event.class });
        }
        verdict
    }

    pub fn on_logon(&mut self, event: &LogonEvent) -> Verdict {
        self.run(|f| f.on_logon(event))
    }

    pub fn on_console_login(&mut self, event: &ConsoleLoginEvent) -> Verdict {
        self.run(|f| f.on_console_login(event))
    }

    pub fn observe(&mut self, observation: &Observation<'_>) {
        for (_, _, f) in &mut self.filters {
            f.observe(observation);
        }
    }

    pub fn reconfigure(&mut self, config: &Config) {
        self.exempt = config.limits.exempt.clone();
        for (_, _, f) in &mut self.filters {
            f.reconfigure(config);
        }
    }

    /// Refusals since start, per reason.
    pub fn refused(&self) -> Vec<(RefusalReason, u64)> {
        RefusalReason::ALL
            .iter()
            .zip(self.refused)
            .map(|(r, n)| (*r, n))
            .collect()
    }

    /// (filter, addresses it remembers), for the console.
    pub fn tracked(&self) -> Vec<(&'static str, usize)> {
        self.filters
            .iter()
            .map(|(_, name, f)| (*name, f.tracked()))
            .collect()
    }

    fn run(&mut self, mut check: impl FnMut(&mut dyn Filter) -> Verdict) -> Verdict {
        for (_, _, f) in &mut self.filters {
            if let Verdict::Refuse(reason) = check(f.as_mut()) {
                if let Some(i) = RefusalReason::ALL.iter().position(|r| *r == reason) {
                    self.refused[i] += 1;
                }
                return Verdict::Refuse(reason);
            }
        }
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests;
