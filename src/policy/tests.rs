//! The standard chain, driven with hand-made events and times.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::config::Config;
use crate::values::IpBan;

fn config() -> Config {
    let mut c = Config::default();
    c.limits.max_connections = 100;
    c.limits.max_connections_per_address = 3;
    c.limits.connect_rate = 1.0;
    c.limits.connect_burst = 5;
    c.limits.challenge_rate = 0.5;
    c.limits.challenge_burst = 2;
    c.lockout.address_attempts = 3;
    c.lockout.address_window_secs = 60;
    c.lockout.address_block_secs = 30;
    c
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn connect(p: &mut Policies, addr: &str, now: Instant, open: usize) -> Verdict {
    let ip = ip(addr);
    p.on_connect(&ConnectEvent {
        ip,
        class: p.classify(ip),
        now,
        unix_now: 1_000,
        open,
    })
}

fn logon(p: &mut Policies, addr: &str, now: Instant) -> Verdict {
    let ip = ip(addr);
    p.on_logon(&LogonEvent {
        ip,
        class: p.classify(ip),
        name: AccountName::parse(b"ALICE").unwrap(),
        kind: ChallengeKind::Logon,
        now,
        unix_now: 1_000,
    })
}

fn wrong_password(p: &mut Policies, addr: &str, now: Instant) {
    let ip = ip(addr);
    let class = p.classify(ip);
    p.observe(&Observation::WrongCredentials { ip, class, now });
}

#[test]
fn ip_bans_cover_addresses_and_networks_v4_and_v6_until_they_expire() {
    let mut p = Policies::from_config(&config());
    let t = Instant::now();
    let bans = [
        IpBan {
            net: "10.0.0.0/8".parse().unwrap(),
            until: None,
        },
        IpBan {
            net: "2001:db8::/32".parse().unwrap(),
            until: Some(2_000),
        },
        IpBan {
            net: "192.0.2.7/32".parse().unwrap(),
            until: Some(500), // expired at unix 1000
        },
    ];
    p.observe(&Observation::IpBans(&bans));
    let banned = Verdict::Refuse(RefusalReason::AddressBanned);
    assert_eq!(connect(&mut p, "10.200.3.4", t, 0), banned);
    assert_eq!(connect(&mut p, "::ffff:10.1.1.1", t, 0), banned);
    assert_eq!(connect(&mut p, "2001:db8:ffff::1", t, 0), banned);
    assert_eq!(logon(&mut p, "2001:db8::2", t), banned);
    assert_eq!(connect(&mut p, "11.0.0.1", t, 0), Verdict::Pass);
    assert_eq!(connect(&mut p, "2001:db9::1", t, 0), Verdict::Pass);
    assert_eq!(connect(&mut p, "192.0.2.7", t, 0), Verdict::Pass);
    // A ban spends no token: the banned address's bucket was never touched.
    assert_eq!(p.refused()[0], (RefusalReason::AddressBanned, 4));
}

#[test]
fn total_and_per_address_connection_caps() {
    let mut p = Policies::from_config(&config());
    let t = Instant::now();
    assert_eq!(
        connect(&mut p, "1.2.3.4", t, 100),
        Verdict::Refuse(RefusalReason::ServerFull)
    );
    for _ in 0..3 {
        assert_eq!(connect(&mut p, "1.2.3.4", t, 0), Verdict::Pass);
    }
    assert_eq!(
        connect(&mut p, "1.2.3.4", t, 0),
        Verdict::Refuse(RefusalReason::TooManyConnections)
    );
    // Another address is not affected; one closing makes room again.
    assert_eq!(connect(&mut p, "1.2.3.5", t, 0), Verdict::Pass);
    let class = p.classify(ip("1.2.3.4"));
    p.observe(&Observation::Disconnected { class });
    assert_eq!(connect(&mut p, "1.2.3.4", t, 0), Verdict::Pass);
}

#[test]
fn connect_rate_is_a_token_bucket_per_address() {
    let mut c = config();
    c.limits.max_connections_per_address = 0;
    let mut p = Policies::from_config(&c);
    let t = Instant::now();
    for _ in 0..5 {
        assert_eq!(connect(&mut p, "1.2.3.4", t, 0), Verdict::Pass);
    }
    assert_eq!(
        connect(&mut p, "1.2.3.4", t, 0),
        Verdict::Refuse(RefusalReason::ConnectRate)
    );
    assert_eq!(connect(&mut p, "1.2.3.9", t, 0), Verdict::Pass);
    let later = t + Duration::from_secs(1);
    assert_eq!(connect(&mut p, "1.2.3.4", later, 0), Verdict::Pass);
    assert_eq!(
        connect(&mut p, "1.2.3.4", later, 0),
        Verdict::Refuse(RefusalReason::ConnectRate)
    );
}

#[test]
fn challenge_rate_per_address() {
    let mut p = Policies::from_config(&config());
    let t = Instant::now();
    assert_eq!(logon(&mut p, "1.2.3.4", t), Verdict::Pass);
    assert_eq!(logon(&mut p, "1.2.3.4", t), Verdict::Pass);
    assert_eq!(
        logon(&mut p, "1.2.3.4", t),
        Verdict::Refuse(RefusalReason::ChallengeRate)
    );
    assert_eq!(
        logon(&mut p, "1.2.3.4", t + Duration::from_secs(2)),
        Verdict::Pass
    );
}

#[test]
fn address_lockout_after_n_wrong_passwords_then_release_and_decay() {
    let mut c = config();
    c.limits.challenge_rate = 0.0;
    let mut p = Policies::from_config(&c);
    let t = Instant::now();
    wrong_password(&mut p, "1.2.3.4", t);
    wrong_password(&mut p, "1.2.3.4", t);
    assert_eq!(logon(&mut p, "1.2.3.4", t), Verdict::Pass);
    wrong_password(&mut p, "1.2.3.4", t);
    let locked = Verdict::Refuse(RefusalReason::AddressLocked);
    assert_eq!(logon(&mut p, "1.2.3.4", t), locked);
    assert_eq!(logon(&mut p, "1.2.3.5", t), Verdict::Pass);
    assert_eq!(
        logon(&mut p, "1.2.3.4", t + Duration::from_secs(29)),
        locked
    );
    // Released after address_block_secs.
    let t2 = t + Duration::from_secs(30);
    assert_eq!(logon(&mut p, "1.2.3.4", t2), Verdict::Pass);
    // Decay: one failure forgiven every 20 s (60 s / 3), so two failures 25 s apart and a
    // third 25 s later never lock.
    for i in 0..10 {
        wrong_password(&mut p, "1.2.3.4", t2 + Duration::from_secs(25 * i));
        assert_eq!(
            logon(&mut p, "1.2.3.4", t2 + Duration::from_secs(25 * i)),
            Verdict::Pass
        );
    }
}

fn console_login(p: &mut Policies, addr: &str, now: Instant) -> Verdict {
    let ip = ip(addr);
    p.on_console_login(&ConsoleLoginEvent {
        ip,
        class: p.classify(ip),
        now,
    })
}

/// Console logins are held by the address lockout the game's wrong passwords feed, and
/// spend nothing else: no challenge token, no ban check (an operator's own `ban ip` of the
/// loopback must not lock the operator out of the console).
#[test]
fn console_logins_meet_the_address_lockout_and_nothing_else() {
    let mut c = config();
    c.limits.challenge_rate = 0.5;
    c.limits.challenge_burst = 1;
    let mut p = Policies::from_config(&c);
    let t = Instant::now();
    for _ in 0..5 {
        assert_eq!(console_login(&mut p, "1.2.3.4", t), Verdict::Pass);
    }
    // The challenge bucket was not touched by them.
    assert_eq!(logon(&mut p, "1.2.3.4", t), Verdict::Pass);
    let bans = [IpBan {
        net: "1.2.3.4/32".parse().unwrap(),
        until: None,
    }];
    p.observe(&Observation::IpBans(&bans));
    assert_eq!(console_login(&mut p, "1.2.3.4", t), Verdict::Pass);
    p.observe(&Observation::IpBans(&[]));
    for _ in 0..3 {
        wrong_password(&mut p, "1.2.3.4", t);
    }
    let locked = Verdict::Refuse(RefusalReason::AddressLocked);
    assert_eq!(console_login(&mut p, "1.2.3.4", t), locked);
    assert_eq!(console_login(&mut p, "1.2.3.5", t), Verdict::Pass);
    assert_eq!(
        console_login(&mut p, "1.2.3.4", t + Duration::from_secs(30)),
        Verdict::Pass
    );
}

#[test]
fn exempt_networks_skip_the_per_address_limits_but_not_bans() {
    let mut c = config();
    c.limits.exempt = vec!["127.0.0.0/8".parse().unwrap()];
    let mut p = Policies::from_config(&c);
    let t = Instant::now();
    for _ in 0..50 {
        assert_eq!(connect(&mut p, "127.0.0.1", t, 0), Verdict::Pass);
        assert_eq!(logon(&mut p, "127.0.0.1", t), Verdict::Pass);
        wrong_password(&mut p, "127.0.0.1", t);
    }
    assert_eq!(logon(&mut p, "127.0.0.1", t), Verdict::Pass);
    let bans = [IpBan {
        net: "127.0.0.1/32".parse().unwrap(),
        until: None,
    }];
    p.observe(&Observation::IpBans(&bans));
    assert_eq!(
        connect(&mut p, "127.0.0.1", t, 0),
        Verdict::Refuse(RefusalReason::AddressBanned)
    );
}

#[test]
fn memory_is_bounded_by_tracked_addresses() {
    let mut c = config();
    c.limits.tracked_addresses = 1_000;
    c.limits.max_connections_per_address = 0;
    let mut p = Policies::from_config(&c);
    let t = Instant::now();
    for i in 0..50_000u32 {
        let ip = IpAddr::from(i.to_be_bytes());
        let class = p.classify(ip);
        let _ = p.on_connect(&ConnectEvent {
            ip,
            class,
            now: t,
            unix_now: 1_000,
            open: 0,
        });
        p.observe(&Observation::Disconnected { class });
        p.observe(&Observation::WrongCredentials { ip, class, now: t });
    }
    for (name, n) in p.tracked() {
        assert!(n <= 1_000, "{name} tracks {n}");
    }
}

#[test]
fn filters_run_in_priority_order_and_the_first_refusal_wins() {
    struct Always(RefusalReason, std::rc::Rc<std::cell::Cell<u32>>);
    impl Filter for Always {
        fn on_connect(&mut self, _: &ConnectEvent) -> Verdict {
            self.1.set(self.1.get() + 1);
            Verdict::Refuse(self.0)
        }
    }
    let seen_late = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen_early = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut p = Policies::empty();
    p.register(
        Priority(50),
        "late",
        Box::new(Always(RefusalReason::ConnectRate, seen_late.clone())),
    );
    p.register(
        Priority(5),
        "early",
        Box::new(Always(RefusalReason::AddressBanned, seen_early.clone())),
    );
    assert_eq!(
        connect(&mut p, "1.1.1.1", Instant::now(), 0),
        Verdict::Refuse(RefusalReason::AddressBanned)
    );
    assert_eq!((seen_early.get(), seen_late.get()), (1, 0));
}
