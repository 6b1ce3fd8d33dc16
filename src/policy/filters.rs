//! The standard filters, one policy each; [`super::Policies::from_config`] registers them.

use std::collections::HashMap;
use std::time::Instant;

use crate::config::Config;
use crate::event_loop::due_after;
use crate::values::{FailureCount, IpBan, LockoutPolicy};

use super::address::{AddressKey, AddressTable};
use super::bucket::{Rate, TokenBucket};
use super::{
    AddressClass, ConnectEvent, ConsoleLoginEvent, Filter, LogonEvent, Observation, RefusalReason,
    Verdict,
};

/// IP bans (exact addresses or CIDR networks, v4 and v6, with expiry), from the store.
/// Checked at accept, and again at the challenge for connections opened before the ban.
#[derive(Default)]
pub struct IpBans {
    bans: Vec<IpBan>,
}

impl IpBans {
    pub fn new() -> Self {
        Self::default()
    }

    fn covers(&self, ip: std::net::IpAddr, unix_now: i64) -> bool {
        let ip = ip.to_canonical();
        self.bans
            .iter()
            .any(|b| b.net.contains(&ip) && b.until.is_none_or(|u| u > unix_now))
    }

    fn verdict(&self, ip: std::net::IpAddr, unix_now: i64) -> Verdict {
        if self.covers(ip, unix_now) {
            Verdict::Refuse(RefusalReason::AddressBanned)
        } else {
            Verdict::Pass
        }
    }
}

impl Filter for IpBans {
    fn on_connect(&mut self, e: &ConnectEvent) -> Verdict {
        self.verdict(e.ip, e.unix_now)
    }
    fn on_logon(&mut self, e: &LogonEvent) -> Verdict {
        self.verdict(e.ip, e.unix_now)
    }
    fn observe(&mut self, o: &Observation<'_>) {
        if let Observation::IpBans(bans) = o {
            self.bans = bans.to_vec();
        }
    }
    fn tracked(&self) -> usize {
        self.bans.len()
    }
}

/// `limits.max_connections`: the cap on game connections, kept below the open-file limit.
pub struct ConnectionCap {
    max: usize,
}

impl ConnectionCap {
    pub fn new(config: &Config) -> Self {
        Self {
            max: config.limits.max_connections,
        }
    }
}

impl Filter for ConnectionCap {
    fn on_connect(&mut self, e: &ConnectEvent) -> Verdict {
        if e.open >= self.max {
            Verdict::Refuse(RefusalReason::ServerFull)
        } else {
            Verdict::Pass
        }
    }
    fn reconfigure(&mut self, config: &Config) {
        self.max = config.limits.max_connections;
    }
}

/// `limits.max_connections_per_address`: connections one address holds at once. The counts
/// only exist for open connections, so they are bounded by the connection cap.
pub struct ConnectionsPerAddress {
    max: u32,
    open: HashMap<AddressKey, u32>,
}

impl ConnectionsPerAddress {
    pub fn new(config: &Config) -> Self {
        Self {
            max: config.limits.max_connections_per_address,
            open: HashMap::new(),
        }
    }
}

impl Filter for ConnectionsPerAddress {
    fn on_connect(&mut self, e: &ConnectEvent) -> Verdict {
        match e.class {
            AddressClass::Tracked(key)
                if self.max > 0 && self.open.get(&key).copied().unwrap_or(0) >= self.max =>
            {
                Verdict::Refuse(RefusalReason::TooManyConnections)
            }
            _ => Verdict::Pass,
        }
    }
    fn observe(&mut self, o: &Observation<'_>) {
        match o {
            Observation::Connected {
                class: AddressClass::Tracked(key),
            } => *self.open.entry(*key).or_insert(0) += 1,
            Observation::Disconnected {
                class: AddressClass::Tracked(key),
            } => {
                if let Some(n) = self.open.get_mut(key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.open.remove(key);
                    }
                }
            }
            _ => {}
        }
    }
    fn reconfigure(&mut self, config: &Config) {
        self.max = config.limits.max_connections_per_address;
    }
    fn tracked(&self) -> usize {
        self.open.len()
    }
}

/// `limits.connect_rate` / `connect_burst`: new connections per address.
pub struct ConnectRate {
    rate: Rate,
    buckets: AddressTable<TokenBucket>,
}

impl ConnectRate {
    pub fn new(config: &Config) -> Self {
        Self {
            rate: Rate {
                per_second: config.limits.connect_rate,
                burst: config.limits.connect_burst,
            },
            buckets: AddressTable::new(config.limits.tracked_addresses),
        }
    }
}

/// Spends one token of `key`'s bucket.
fn take(
    buckets: &mut AddressTable<TokenBucket>,
    rate: Rate,
    class: AddressClass,
    now: Instant,
    reason: RefusalReason,
) -> Verdict {
    let AddressClass::Tracked(key) = class else {
        return Verdict::Pass;
    };
    if rate.is_unlimited() {
        return Verdict::Pass;
    }
    if buckets
        .entry(key, || TokenBucket::new(rate, now))
        .try_take(rate, now)
    {
        Verdict::Pass
    } else {
        Verdict::Refuse(reason)
    }
}

impl Filter for ConnectRate {
    fn on_connect(&mut self, e: &ConnectEvent) -> Verdict {
        take(
            &mut self.buckets,
            self.rate,
            e.class,
            e.now,
            RefusalReason::ConnectRate,
        )
    }
    fn reconfigure(&mut self, config: &Config) {
        self.rate = Rate {
            per_second: config.limits.connect_rate,
            burst: config.limits.connect_burst,
        };
        self.buckets.set_capacity(config.limits.tracked_addresses);
    }
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// `limits.challenge_rate` / `challenge_burst`: logon and reconnect challenges per address.
pub struct ChallengeRate {
    rate: Rate,
    buckets: AddressTable<TokenBucket>,
}

impl ChallengeRate {
    pub fn new(config: &Config) -> Self {
        Self {
            rate: Rate {
                per_second: config.limits.challenge_rate,
                burst: config.limits.challenge_burst,
            },
            buckets: AddressTable::new(config.limits.tracked_addresses),
        }
    }
}

impl Filter for ChallengeRate {
    fn on_logon(&mut self, e: &LogonEvent) -> Verdict {
        take(
            &mut self.buckets,
            self.rate,
            e.class,
            e.now,
            RefusalReason::ChallengeRate,
        )
    }
    fn reconfigure(&mut self, config: &Config) {
        self.rate = Rate {
            per_second: config.limits.challenge_rate,
            burst: config.limits.challenge_burst,
        };
        self.buckets.set_capacity(config.limits.tracked_addresses);
    }
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// What the address lockout remembers of one address.
struct Failures {
    level: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// `lockout.address_*`: too many wrong passwords from one address (game logons and console
/// logins alike) refuse its logons and console logins for a while.
pub struct AddressLockout {
    policy: LockoutPolicy,
    addresses: AddressTable<Failures>,
}

impl AddressLockout {
    pub fn new(config: &Config) -> Self {
        Self {
            policy: LockoutPolicy::address(&config.lockout),
            addresses: AddressTable::new(config.limits.tracked_addresses),
        }
    }

    fn verdict(&mut self, class: AddressClass, now: Instant) -> Verdict {
        let AddressClass::Tracked(key) = class else {
            return Verdict::Pass;
        };
        match self.addresses.get_mut(&key) {
            Some(f) if f.locked_until.is_some_and(|until| until > now) => {
                Verdict::Refuse(RefusalReason::AddressLocked)
            }
            _ => Verdict::Pass,
        }
    }
}

impl Filter for AddressLockout {
    fn on_logon(&mut self, e: &LogonEvent) -> Verdict {
        self.verdict(e.class, e.now)
    }
    fn on_console_login(&mut self, e: &ConsoleLoginEvent) -> Verdict {
        self.verdict(e.class, e.now)
    }
    fn observe(&mut self, o: &Observation<'_>) {
        let Observation::WrongCredentials {
            class: AddressClass::Tracked(key),
            now,
            ..
        } = *o
        else {
            return;
        };
        if self.policy.is_off() {
            return;
        }
        let policy = self.policy;
        let f = self.addresses.entry(key, || Failures {
            level: 0,
            last: now,
            locked_until: None,
        });
        if f.locked_until.is_some_and(|until| until > now) {
            return;
        }
        f.locked_until = None;
        match policy.count(f.level, now.saturating_duration_since(f.last)) {
            FailureCount::Counted(n) => f.level = n,
            FailureCount::Locked => {
                f.level = 0;
                f.locked_until = Some(due_after(now, policy.duration));
                log::warn!(
                    "{key}: logons refused for {} s after {} wrong passwords",
                    policy.duration.as_secs(),
                    policy.attempts
                );
            }
        }
        f.last = now;
    }
    fn reconfigure(&mut self, config: &Config) {
        self.policy = LockoutPolicy::address(&config.lockout);
        self.addresses.set_capacity(config.limits.tracked_addresses);
    }
    fn tracked(&self) -> usize {
        self.addresses.len()
    }
}
