//! State code without a socket or a clock: packets in, bytes and store requests out.

use std::time::{Duration, Instant};

use super::*;
use crate::account::{AccountId, AccountName, AccountStanding, IpLock, IpLockRefusal, Password};
use crate::config::TimeoutConfig;
use crate::policy::lockout::LockoutPolicy;
use crate::policy::{AddressClass, Policies};
use crate::protocol::challenge::LogonChallengeS2c;
use crate::protocol::proof::LogonProofS2c;
use crate::protocol::realm_list::{RealmListS2c, REALM_FLAG_OFFLINE, REALM_FLAG_SPECIFY_BUILD};
use crate::protocol::result::LoginResult;
use crate::realms::RealmId;
use crate::srp6::{compute_verifier, Salt};
use crate::store::{
    AccountRecord, FailureRecorded, LoginOutcome, RealmAccess, RealmRecord, StoreError,
};
use crate::tools::client::{ClientBuild, LogonClient};

struct Fixture {
    patches: crate::patches::PatchIndex,
    data: SessionData,
    out: Vec<u8>,
    store: Vec<StoreOp>,
    outcomes: OutcomeCounts,
    log: crate::log_throttle::LogThrottle,
    settings: SessionSettings,
    realms: RealmListCache,
    policies: Policies,
    now: Instant,
}

impl Fixture {
    fn new() -> Self {
        let mut realms = RealmListCache::new();
        realms.replace(vec![
            realm(1, "Azeroth", vec![]),
            realm(2, "Classic", vec![Build(5875)]),
        ]);
        Self {
            patches: Default::default(),
            data: SessionData::new("127.0.0.1:5000".parse().unwrap(), AddressClass::Exempt),
            out: Vec::new(),
            store: Vec::new(),
            outcomes: OutcomeCounts::default(),
            log: crate::log_throttle::LogThrottle::new(Duration::from_secs(10)),
            settings: SessionSettings {
                accepted_builds: vec![Build(5875), Build(8606), Build(12340)],
                timeouts: TimeoutConfig::default(),
                ticket_ttl: Duration::from_secs(900),
                lockout: LockoutPolicy::OFF,
                realm_list_interval: Duration::from_secs(1),
                totp_key: None,
                version_check: Default::default(),
            },
            realms,
            policies: Policies::empty(),
            now: Instant::now(),
        }
    }

    fn packet(&mut self, state: State, msg: &[u8]) -> Step {
        let opcode = Opcode::from_u8(msg[0]).unwrap();
        assert!(
            state.legal().iter().any(|r| r.opcode == opcode),
            "{opcode} not legal in {}",
            state.kind()
        );
        let mut out = &mut self.out;
        let mut cx = SessionCx {
            now: self.now,
            unix_now: 1_000_000,
            data: &mut self.data,
            out: &mut out,
            outcomes: &mut self.outcomes,
            log: &mut self.log,
            settings: &self.settings,
            realms: &mut self.realms,
            patches: &self.patches,
            policies: &mut self.policies,
        };
        let step = state.on_packet(opcode, msg, &mut cx);
        self.sent(step)
    }

    /// A store request travels with the step; the fixture keeps it in `store`, as the daemon
    /// would send it, and hands the test the state.
    fn sent(&mut self, step: Step) -> Step {
        match step {
            Step::Ask(state, op) => {
                self.store.push(op);
                Step::Become(state)
            }
            other => other,
        }
    }

    fn reply(&mut self, state: State, reply: StoreReply) -> Step {
        let mut out = &mut self.out;
        let mut cx = SessionCx {
            now: self.now,
            unix_now: 1_000_000,
            data: &mut self.data,
            out: &mut out,
            outcomes: &mut self.outcomes,
            log: &mut self.log,
            settings: &self.settings,
            realms: &mut self.realms,
            patches: &self.patches,
            policies: &mut self.policies,
        };
        let step = state.on_store_reply(reply, &mut cx);
        self.sent(step)
    }
}

fn realm(id: u32, name: &str, builds: Vec<Build>) -> RealmRecord {
    RealmRecord {
        id: RealmId(id),
        name: name.into(),
        address: format!("127.0.0.1:{}", 8084 + id),
        realm_type: 1,
        flags: 0,
        timezone: 2,
        population: 1.0,
        builds,
        kind: crate::store::RealmKind::Static,
        access: crate::store::RealmAccess::Open,
        local: None,
    }
}

fn name() -> AccountName {
    AccountName::parse(b"alice").unwrap()
}

fn account(standing: AccountStanding) -> AccountRecord {
    let salt = Salt::random();
    let password = Password::parse(b"secret").unwrap();
    AccountRecord {
        id: AccountId(7),
        name: name(),
        salt,
        verifier: compute_verifier(&name(), &password, &salt),
        standing,
        failed_logins: 0,
        security_level: 0,
        session: None,
        totp: None,
        pin: None,
        ip_lock: None,
        lockout: crate::store::LockoutStanding::Clear,
    }
}

fn challenge_bytes(build: ClientBuild) -> Vec<u8> {
    let mut msg = Vec::new();
    build.challenge(name()).encode(&mut msg);
    msg
}

fn expect_state(step: Step) -> State {
    match step {
        Step::Become(s) => s,
        Step::Close(r) => panic!("closed: {r}"),
        Step::Ask(..) => panic!("the fixture turns Ask into Become"),
    }
}

/// Runs challenge + account load; returns the state waiting for the proof.
fn to_proof(f: &mut Fixture, build: ClientBuild, record: AccountRecord) -> State {
    let s = expect_state(f.packet(State::new(), &challenge_bytes(build)));
    assert!(matches!(s, State::Logon(Logon::LoadingAccount(_))));
    assert_eq!(
        s.input(f.now),
        Input::Hold,
        "no packet is handled while the store works"
    );
    assert!(matches!(f.store.pop(), Some(StoreOp::LoadAccount { .. })));
    assert!(
        f.out.is_empty(),
        "nothing is sent before the account is known"
    );
    expect_state(f.reply(s, StoreReply::AccountLoaded(Ok(Some(record)))))
}

#[test]
fn a_logon_commits_before_it_answers_and_then_lists_realms() {
    for build in ClientBuild::ALL {
        let mut f = Fixture::new();
        let record = account(AccountStanding::Active);
        let s = to_proof(&mut f, build, record);
        let layout = build.layout();
        let reply = LogonChallengeS2c::parse(layout, &f.out).unwrap();
        f.out.clear();

        let password = Password::parse(b"secret").unwrap();
        let (handshake, proof) = LogonClient::proof_for(&name(), &password, &reply).unwrap();
        let mut msg = Vec::new();
        proof.encode(layout, &mut msg).unwrap();
        let s = expect_state(f.packet(s, &msg));
        assert!(f.out.is_empty(), "M2 is not sent before the store commits");
        match f.store.pop() {
            Some(StoreOp::RecordLoginSuccess { attempt, key, .. }) => {
                assert_eq!(attempt.outcome, LoginOutcome::Success);
                assert_eq!(key, handshake.session_key);
            }
            other => panic!("expected RecordLoginSuccess, got {other:?}"),
        }
        let counts = vec![crate::store::CharacterCount {
            realm: RealmId(1),
            count: 3,
        }];
        let s = expect_state(f.reply(s, StoreReply::LoginSuccessRecorded(Ok(counts))));
        assert_eq!(s.kind(), StateKind::WorldSelect);
        match LogonProofS2c::parse(layout, &f.out).unwrap() {
            LogonProofS2c::Success { server_proof, .. } => {
                assert!(handshake.verify_server_proof(&server_proof))
            }
            other => panic!("{other:?}"),
        }
        f.out.clear();

        let s = expect_state(f.packet(s, &[0x10, 0, 0, 0, 0]));
        assert_eq!(s.kind(), StateKind::WorldSelect);
        let list = RealmListS2c::parse(layout, &f.out).unwrap();
        assert_eq!(list.realms.len(), 2);
        assert_eq!(list.realms[0].name, "Azeroth");
        assert_eq!(list.realms[0].characters, 3);
        assert_eq!(list.realms[1].characters, 0);
        let classic = &list.realms[1];
        if build == ClientBuild::VANILLA {
            assert_eq!(classic.name, "Classic");
            assert_eq!(classic.flags & REALM_FLAG_OFFLINE, 0);
        } else {
            assert_eq!(classic.flags & REALM_FLAG_OFFLINE, REALM_FLAG_OFFLINE);
            assert_eq!(
                classic.flags & REALM_FLAG_SPECIFY_BUILD,
                REALM_FLAG_SPECIFY_BUILD
            );
            assert_eq!(classic.version.unwrap().build, Build(5875));
        }
    }
}

#[test]
fn a_realm_for_another_build_is_renamed_for_vanilla() {
    let mut f = Fixture::new();
    f.realms
        .replace(vec![realm(3, "Outland", vec![Build(8606)])]);
    f.data.layout = Some(Layout::V3);
    f.data.build = Some(Build(5875));
    let s = expect_state(f.packet(State::WorldSelect(WorldSelect::new()), &[0x10, 0, 0, 0, 0]));
    assert_eq!(s.kind(), StateKind::WorldSelect);
    let list = RealmListS2c::parse(Layout::V3, &f.out).unwrap();
    assert_eq!(list.realms[0].name, "Outland (2.4.3)");
    assert_eq!(
        list.realms[0].flags & REALM_FLAG_OFFLINE,
        REALM_FLAG_OFFLINE
    );
}

/// Challenge, account load and a proof with the wrong password; the state after the proof
/// (waiting for the store), with the output cleared of the challenge reply.
fn wrong_password(f: &mut Fixture, build: ClientBuild) -> State {
    let s = to_proof(f, build, account(AccountStanding::Active));
    let layout = build.layout();
    let reply = LogonChallengeS2c::parse(layout, &f.out).unwrap();
    f.out.clear();
    let wrong = Password::parse(b"guess").unwrap();
    let (_, proof) = LogonClient::proof_for(&name(), &wrong, &reply).unwrap();
    let mut msg = Vec::new();
    proof.encode(layout, &mut msg).unwrap();
    expect_state(f.packet(s, &msg))
}

#[test]
fn a_wrong_password_is_recorded_before_the_answer() {
    for build in ClientBuild::ALL {
        let mut f = Fixture::new();
        let s = wrong_password(&mut f, build);
        let layout = build.layout();
        assert!(f.out.is_empty());
        match f.store.pop() {
            Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
                assert_eq!(a.outcome, LoginOutcome::WrongPassword);
                assert_eq!(a.account, Some(AccountId(7)));
            }
            other => panic!("{other:?}"),
        }
        let s = expect_state(f.reply(
            s,
            StoreReply::LoginFailureRecorded(Ok(FailureRecorded::Counted(1))),
        ));
        assert_eq!(s.kind(), StateKind::Closing);
        let expected: &[u8] = if layout.is_pre_bc() {
            &[0x01, 0x04]
        } else {
            &[0x01, 0x04, 0x00, 0x00]
        };
        assert_eq!(f.out, expected);
    }
}

#[test]
fn refusals_carry_their_result_codes() {
    let cases = [
        (None, LoginResult::FailUnknownAccount),
        (Some(AccountStanding::Banned), LoginResult::FailBanned),
        (
            Some(AccountStanding::Suspended { until: 2_000_000 }),
            LoginResult::FailSuspended,
        ),
    ];
    for (standing, result) in cases {
        let mut f = Fixture::new();
        let s = expect_state(f.packet(State::new(), &challenge_bytes(ClientBuild::WOTLK)));
        f.store.clear();
        let record = standing.map(account);
        let s = expect_state(f.reply(s, StoreReply::AccountLoaded(Ok(record))));
        assert_eq!(s.kind(), StateKind::Closing);
        assert_eq!(f.out, [0x00, 0x00, result.as_u8()]);
        // A real account's refusal is audited; a name that is no account is only counted.
        let audited = matches!(f.store.pop(), Some(StoreOp::RecordLoginFailure { .. }));
        assert_eq!(audited, standing.is_some(), "{result:?}");
    }
}

#[test]
fn an_expired_suspension_lets_the_account_in() {
    let mut f = Fixture::new();
    let s = to_proof(
        &mut f,
        ClientBuild::TBC,
        account(AccountStanding::Suspended { until: 10 }),
    );
    assert!(matches!(s, State::Logon(Logon::AwaitProof(_))));
}

fn locked_account(stored: &str, refusal: IpLockRefusal) -> AccountRecord {
    AccountRecord {
        ip_lock: Some(IpLock::from_stored(stored, refusal)),
        ..account(AccountStanding::Active)
    }
}

/// An account locked to another address is refused at the challenge with its schema's code
/// (AzerothCore 0x10, which 1.12 does not know: 0x0C there; CMaNGOS 0x0C), audited and
/// counted as `ip_locked`; from its own address it is challenged as usual. The fixture's peer
/// is 127.0.0.1.
#[test]
fn an_account_locked_to_another_address_is_refused_with_its_schemas_code() {
    for build in ClientBuild::ALL {
        for (refusal, code) in [
            (
                IpLockRefusal::LockedEnforced,
                if build == ClientBuild::VANILLA {
                    0x0C
                } else {
                    0x10
                },
            ),
            (IpLockRefusal::Suspended, 0x0C),
        ] {
            for stored in ["10.1.2.3", "not an address", "", "0.0.0.0"] {
                let mut f = Fixture::new();
                let s = expect_state(f.packet(State::new(), &challenge_bytes(build)));
                f.store.clear();
                let record = locked_account(stored, refusal);
                let s = expect_state(f.reply(s, StoreReply::AccountLoaded(Ok(Some(record)))));
                assert_eq!(s.kind(), StateKind::Closing, "{build:?} {stored:?}");
                assert_eq!(
                    f.out,
                    [0x00, 0x00, code],
                    "{build:?} {refusal:?} {stored:?}"
                );
                match f.store.pop() {
                    Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
                        assert_eq!(a.outcome, LoginOutcome::IpLocked);
                        assert_eq!(a.account, Some(AccountId(7)));
                        assert!(!a.outcome.counts_against_account());
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(f.outcomes.table(1_000_000)[0].0, LoginOutcome::IpLocked);
            }
            let mut f = Fixture::new();
            let s = to_proof(&mut f, build, locked_account("127.0.0.1", refusal));
            assert!(matches!(s, State::Logon(Logon::AwaitProof(_))), "{build:?}");
        }
    }
}

/// Both servers check the lock before the bans: a banned account from elsewhere is told it is
/// locked.
#[test]
fn the_address_lock_is_checked_before_the_bans() {
    let mut f = Fixture::new();
    let s = expect_state(f.packet(State::new(), &challenge_bytes(ClientBuild::WOTLK)));
    f.store.clear();
    let record = AccountRecord {
        standing: AccountStanding::Banned,
        ..locked_account("10.1.2.3", IpLockRefusal::LockedEnforced)
    };
    expect_state(f.reply(s, StoreReply::AccountLoaded(Ok(Some(record)))));
    assert_eq!(f.out, [0x00, 0x00, 0x10]);
}

/// Neither project checks the lock on a reconnect (the key came from a logon that passed it).
#[test]
fn a_reconnect_is_not_checked_against_the_address_lock() {
    for build in ClientBuild::ALL {
        let mut f = Fixture::new();
        let mut challenge = build.challenge(name());
        challenge.kind = crate::protocol::challenge::ChallengeKind::Reconnect;
        challenge.protocol = build.reconnect_protocol();
        let mut msg = Vec::new();
        challenge.encode(&mut msg);
        let s = expect_state(f.packet(State::new(), &msg));
        f.store.clear();
        let record = AccountRecord {
            session: Some(crate::store::SessionTicket {
                key: crate::srp6::SessionKey([7; 40]),
                issued_at: 999_000,
                expires_at: 1_000_900,
                taken_by: None,
            }),
            ..locked_account("10.1.2.3", IpLockRefusal::Suspended)
        };
        let s = expect_state(f.reply(s, StoreReply::AccountLoaded(Ok(Some(record)))));
        assert!(
            matches!(s, State::Logon(Logon::AwaitReconnectProof(_))),
            "{build:?}"
        );
        assert!(f.store.is_empty());
    }
}

/// The realm list an account of `level` gets from `realms` with `build`.
fn realm_list_for(build: ClientBuild, level: u8, realms: Vec<RealmRecord>) -> RealmListS2c {
    let mut f = Fixture::new();
    f.realms.replace(realms);
    f.data.layout = Some(build.layout());
    f.data.build = Some(build.version.build);
    f.data.security_level = level;
    expect_state(f.packet(State::WorldSelect(WorldSelect::new()), &[0x10, 0, 0, 0, 0]));
    RealmListS2c::parse(build.layout(), &f.out).unwrap()
}

fn realm_with(id: u32, name: &str, access: RealmAccess) -> RealmRecord {
    RealmRecord {
        access,
        ..realm(id, name, vec![])
    }
}

/// AzerothCore: a realm above the account's level is listed, locked (1.12: offline, having no
/// lock byte); CMaNGOS: the same, except that player accounts do not see it at all. Unlisted
/// realms are seen by nobody.
#[test]
fn realms_are_listed_hidden_or_locked_by_the_accounts_security_level() {
    let realms = || {
        vec![
            realm_with(1, "Open", RealmAccess::Open),
            realm_with(2, "AcGm", RealmAccess::LockedBelow(3)),
            realm_with(3, "CmGm", RealmAccess::HiddenFromPlayers(3)),
            realm_with(4, "Invalid", RealmAccess::Unlisted),
        ]
    };
    for build in ClientBuild::ALL {
        let vanilla = build == ClientBuild::VANILLA;
        // (level, listed names, locked names)
        let cases: [(u8, &[&str], &[&str]); 4] = [
            (0, &["Open", "AcGm"], &["AcGm"]),
            (1, &["Open", "AcGm", "CmGm"], &["AcGm", "CmGm"]),
            (3, &["Open", "AcGm", "CmGm"], &[]),
            (200, &["Open", "AcGm", "CmGm"], &[]),
        ];
        for (level, listed, locked) in cases {
            let list = realm_list_for(build, level, realms());
            let names: Vec<&str> = list.realms.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, listed, "{build:?} level {level}");
            for r in &list.realms {
                let is_locked = locked.contains(&r.name.as_str());
                let offline = r.flags & REALM_FLAG_OFFLINE != 0;
                if vanilla {
                    assert!(!r.locked);
                    assert_eq!(offline, is_locked, "{build:?} level {level} {}", r.name);
                } else {
                    assert_eq!(r.locked, is_locked, "{build:?} level {level} {}", r.name);
                    assert!(!offline, "{build:?} level {level} {}", r.name);
                }
            }
        }
    }
}

/// Each level gets its own encoding; the same level shares one.
#[test]
fn the_realm_list_is_encoded_once_per_security_level() {
    let mut cache = RealmListCache::new();
    cache.replace(vec![realm_with(1, "Gm", RealmAccess::HiddenFromPlayers(2))]);
    let player = cache.encoded_len(Layout::V8, Build(12340), 0);
    let gm = cache.encoded_len(Layout::V8, Build(12340), 2);
    assert!(player < gm, "the player's list leaves the realm out");
    cache.encoded_len(Layout::V8, Build(12340), 2);
    assert_eq!(cache.cached_encodings(), 2);
}

#[test]
fn an_unaccepted_build_gets_version_invalid_without_a_db_lookup() {
    let mut f = Fixture::new();
    f.settings.accepted_builds = vec![Build(12340)];
    let s = expect_state(f.packet(State::new(), &challenge_bytes(ClientBuild::VANILLA)));
    assert_eq!(s.kind(), StateKind::Closing);
    assert_eq!(f.out, [0x00, 0x00, 0x09]);
    // Counted in memory, not audited: anyone can send it, and each row is a durable write.
    assert!(f.store.is_empty(), "{:?}", f.store);
}

#[test]
fn a_store_failure_answers_db_busy() {
    let mut f = Fixture::new();
    let s = expect_state(f.packet(State::new(), &challenge_bytes(ClientBuild::WOTLK)));
    let s = expect_state(f.reply(s, StoreReply::AccountLoaded(Err(StoreError::Busy))));
    assert_eq!(s.kind(), StateKind::Closing);
    assert_eq!(f.out, [0x00, 0x00, LoginResult::FailDbBusy.as_u8()]);
}

#[test]
fn a_zero_public_key_closes_without_an_answer() {
    let mut f = Fixture::new();
    let s = to_proof(&mut f, ClientBuild::WOTLK, account(AccountStanding::Active));
    f.out.clear();
    let mut msg = vec![0x01];
    msg.extend_from_slice(&[0u8; 32 + 20 + 20]);
    msg.extend_from_slice(&[0, 0]);
    match f.packet(s, &msg) {
        Step::Close(CloseReason::ZeroPublicKey) => {}
        Step::Close(r) => panic!("{r}"),
        Step::Become(s) | Step::Ask(s, _) => panic!("stayed in {}", s.kind()),
    }
    assert!(f.out.is_empty());
}

#[test]
fn every_state_has_an_opcode_table_and_a_deadline() {
    let t = TimeoutConfig::default();
    let logon = State::new();
    let opcodes: Vec<Opcode> = logon.legal().iter().map(|r| r.opcode).collect();
    assert_eq!(
        opcodes,
        [Opcode::LogonChallenge, Opcode::ReconnectChallenge]
    );
    assert_eq!(
        logon.deadline(&t),
        Deadline::FromEntry(Duration::from_secs(30))
    );
    let ws = State::WorldSelect(WorldSelect::new());
    assert_eq!(ws.legal()[0].opcode, Opcode::RealmList);
    assert_eq!(ws.deadline(&t), Deadline::Idle(t.realm_list_idle()));
    let closing = State::Closing(Closing);
    assert!(closing.legal().is_empty());
    assert_eq!(closing.deadline(&t), Deadline::FromEntry(t.after_failure()));
}

#[test]
fn packet_framing_respects_the_state_bounds() {
    let rule = WorldSelect::LEGAL[0];
    assert_eq!(
        check_packet(&rule, Some(Layout::V8), &[0x10, 0, 0]),
        Check::Incomplete
    );
    assert_eq!(
        check_packet(&rule, Some(Layout::V8), &[0x10, 0, 0, 0, 0, 0x10]),
        Check::Complete(5)
    );
    assert!(matches!(
        check_packet(&rule, Some(Layout::V8), &[0x10, 1, 0, 0, 0]),
        Check::Invalid(_)
    ));
}

/// The wrong password that reaches the account lockout is answered "suspended".
#[test]
fn the_wrong_password_that_locks_the_account_is_answered_suspended() {
    for build in ClientBuild::ALL {
        let mut f = Fixture::new();
        let s = wrong_password(&mut f, build);
        let locked = FailureRecorded::Locked {
            until: 1_000_900,
            scope: crate::store::LockScope::NewAddresses,
        };
        let s = expect_state(f.reply(s, StoreReply::LoginFailureRecorded(Ok(locked))));
        assert_eq!(s.kind(), StateKind::Closing);
        assert_eq!(f.out[..2], [0x01, 0x0C]);
    }
}

/// A logon filter that refuses stops the challenge before the store is asked.
#[test]
fn a_refusing_logon_filter_answers_before_any_store_work() {
    struct Refuse;
    impl crate::policy::Filter for Refuse {
        fn on_logon(&mut self, _: &crate::policy::LogonEvent) -> crate::policy::Verdict {
            crate::policy::Verdict::Refuse(crate::policy::RefusalReason::ChallengeRate)
        }
    }
    let mut f = Fixture::new();
    f.policies
        .register(crate::policy::Priority(1), "refuse", Box::new(Refuse));
    let s = expect_state(f.packet(State::new(), &challenge_bytes(ClientBuild::WOTLK)));
    assert_eq!(s.kind(), StateKind::Closing);
    assert_eq!(f.out, [0x00, 0x00, LoginResult::FailDbBusy.as_u8()]);
    assert!(f.store.is_empty(), "no lookup, no audit row: {:?}", f.store);
}

/// After a realm list, the next one is held until the interval has passed.
#[test]
fn realm_lists_are_answered_at_most_once_per_interval() {
    let mut f = Fixture::new();
    let s = State::WorldSelect(WorldSelect::new());
    assert_eq!(s.input(f.now), Input::Handle);
    let s = expect_state(f.packet(s, &[0x10, 0, 0, 0, 0]));
    assert!(!f.out.is_empty());
    let due = f.now + Duration::from_secs(1);
    assert_eq!(s.input(f.now), Input::HoldUntil(due));
    assert_eq!(
        s.input(f.now + Duration::from_millis(999)),
        Input::HoldUntil(due)
    );
    assert_eq!(s.input(due), Input::Handle);
}

#[test]
fn opcode_tables_list_every_client_opcode_with_sane_bounds() {
    // Consts have no fixed address: compare the rules themselves.
    let rules = |t: &[OpcodeRule]| -> Vec<(Opcode, usize, usize)> {
        t.iter().map(|r| (r.opcode, r.min_len, r.max_len)).collect()
    };
    assert_eq!(rules(State::new().legal()), rules(OPCODE_TABLES[0].1));
    assert_eq!(
        rules(State::WorldSelect(WorldSelect::new()).legal()),
        rules(OPCODE_TABLES[5].1)
    );
    let mut seen = Vec::new();
    for (name, table) in OPCODE_TABLES {
        assert!(!table.is_empty(), "{name}");
        for rule in *table {
            assert!(1 <= rule.min_len && rule.min_len <= rule.max_len, "{name}");
            seen.push(rule.opcode);
        }
    }
    // Every opcode check_packet can frame is legal somewhere.
    for op in [
        Opcode::LogonChallenge,
        Opcode::LogonProof,
        Opcode::ReconnectChallenge,
        Opcode::ReconnectProof,
        Opcode::RealmList,
        Opcode::XferAccept,
        Opcode::XferResume,
        Opcode::XferCancel,
    ] {
        assert!(seen.contains(&op), "{op}");
    }
}

// --- authenticator (TOTP) ---

fn totp_key() -> crate::totp::TotpKey {
    crate::totp::TotpKey::from_bytes([0x5a; 32])
}

/// ALICE with an authenticator sealed under `totp_key()`, and its secret.
fn totp_account() -> (AccountRecord, crate::totp::TotpSecret) {
    let secret = crate::totp::TotpSecret::generate();
    let mut record = account(AccountStanding::Active);
    record.totp = Some(crate::totp::seal(&totp_key(), record.id, &secret).unwrap());
    (record, secret)
}

/// Challenge, account load and proof (with `token`); returns the state after the proof.
fn proof_with_token(
    f: &mut Fixture,
    build: ClientBuild,
    record: AccountRecord,
    token: Option<&str>,
) -> Step {
    let s = to_proof(f, build, record);
    let layout = build.layout();
    let reply = LogonChallengeS2c::parse(layout, &f.out).unwrap();
    f.out.clear();
    let password = Password::parse(b"secret").unwrap();
    let (_, mut proof) = LogonClient::proof_for(&name(), &password, &reply).unwrap();
    proof.security.authenticator =
        token.map(|t| crate::protocol::proof::AuthenticatorToken::new(t.as_bytes()).unwrap());
    let mut msg = Vec::new();
    proof.encode(layout, &mut msg).unwrap();
    f.packet(s, &msg)
}

#[test]
fn an_authenticator_account_is_challenged_with_flag_4_and_on_1_12_with_the_pin_grid() {
    for build in ClientBuild::ALL {
        let mut f = Fixture::new();
        f.settings.totp_key = Some(totp_key());
        let _ = to_proof(&mut f, build, totp_account().0);
        let LogonChallengeS2c::Success { security, .. } =
            LogonChallengeS2c::parse(build.layout(), &f.out).unwrap()
        else {
            panic!("refused");
        };
        let expected = (build != ClientBuild::VANILLA)
            .then_some(crate::protocol::challenge::AuthenticatorChallenge { required: true });
        assert_eq!(
            security.authenticator, expected,
            "build {}",
            build.version.build
        );
        // 1.12 gets the PIN grid instead, to type the token on.
        assert_eq!(
            security.pin.is_some(),
            build == ClientBuild::VANILLA,
            "build {}",
            build.version.build
        );

        // Without an authenticator the flag stays 0.
        let mut f = Fixture::new();
        let _ = to_proof(&mut f, build, account(AccountStanding::Active));
        let LogonChallengeS2c::Success { security, .. } =
            LogonChallengeS2c::parse(build.layout(), &f.out).unwrap()
        else {
            panic!("refused");
        };
        assert_eq!(security, Default::default());
    }
}

#[test]
fn a_right_token_logs_in_and_a_wrong_or_missing_one_is_a_wrong_credential() {
    for build in [ClientBuild::TBC, ClientBuild::WOTLK] {
        let (record, secret) = totp_account();
        // The fixture's clock is unix second 1_000_000.
        let right = crate::totp::code_at(&secret, 1_000_000);
        // Any six digits that no step of the ±1 window accepts.
        let window: Vec<String> = [999_970, 1_000_000, 1_000_030]
            .map(|t| crate::totp::code_at(&secret, t))
            .to_vec();
        let wrong = (0..)
            .map(|n| format!("{n:06}"))
            .find(|c| !window.contains(c))
            .unwrap();

        let mut f = Fixture::new();
        f.settings.totp_key = Some(totp_key());
        let s = expect_state(proof_with_token(
            &mut f,
            build,
            record.clone(),
            Some(&right),
        ));
        assert!(matches!(s, State::Logon(Logon::RecordingSuccess(_))));
        assert!(matches!(
            f.store.pop(),
            Some(StoreOp::RecordLoginSuccess { .. })
        ));

        for token in [Some(wrong.as_str()), None, Some("")] {
            let mut f = Fixture::new();
            f.settings.totp_key = Some(totp_key());
            let s = expect_state(proof_with_token(&mut f, build, record.clone(), token));
            assert!(
                f.out.is_empty(),
                "nothing is answered before the store commits"
            );
            match f.store.pop() {
                Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
                    assert_eq!(a.outcome, LoginOutcome::WrongToken, "{token:?}")
                }
                other => panic!("{other:?}"),
            }
            let s = expect_state(f.reply(
                s,
                StoreReply::LoginFailureRecorded(Ok(FailureRecorded::Counted(1))),
            ));
            assert_eq!(s.kind(), StateKind::Closing);
            assert_eq!(f.out, [0x01, 0x04, 0x00, 0x00]);
        }
    }
}

#[test]
fn a_1_12_client_of_an_authenticator_account_that_sends_no_pin_fails_as_a_wrong_pin() {
    let mut f = Fixture::new();
    f.settings.totp_key = Some(totp_key());
    let s = expect_state(proof_with_token(
        &mut f,
        ClientBuild::VANILLA,
        totp_account().0,
        None,
    ));
    match f.store.pop() {
        Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
            assert_eq!(a.outcome, LoginOutcome::WrongPin)
        }
        other => panic!("{other:?}"),
    }
    expect_state(f.reply(
        s,
        StoreReply::LoginFailureRecorded(Ok(FailureRecorded::Counted(1))),
    ));
    assert_eq!(f.out, [0x01, 0x04]);
}

#[test]
fn a_secret_that_cannot_be_opened_answers_busy_and_does_not_count() {
    let other_key = crate::totp::TotpKey::from_bytes([0x11; 32]);
    for key in [None, Some(other_key)] {
        let (record, secret) = totp_account();
        let right = crate::totp::code_at(&secret, 1_000_000);
        let mut f = Fixture::new();
        f.settings.totp_key = key;
        let s = expect_state(proof_with_token(
            &mut f,
            ClientBuild::WOTLK,
            record,
            Some(&right),
        ));
        assert_eq!(s.kind(), StateKind::Closing);
        assert_eq!(f.out, [0x01, LoginResult::FailDbBusy.as_u8(), 0x00, 0x00]);
        match f.store.pop() {
            Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
                assert_eq!(a.outcome, LoginOutcome::DbBusy);
                assert!(!a.outcome.counts_against_account());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_wrong_password_is_still_a_wrong_password_with_an_authenticator() {
    let (record, secret) = totp_account();
    let right = crate::totp::code_at(&secret, 1_000_000);
    let mut f = Fixture::new();
    f.settings.totp_key = Some(totp_key());
    let s = to_proof(&mut f, ClientBuild::WOTLK, record);
    let reply = LogonChallengeS2c::parse(Layout::V8, &f.out).unwrap();
    f.out.clear();
    let wrong = Password::parse(b"guess").unwrap();
    let (_, mut proof) = LogonClient::proof_for(&name(), &wrong, &reply).unwrap();
    proof.security.authenticator =
        Some(crate::protocol::proof::AuthenticatorToken::new(right.as_bytes()).unwrap());
    let mut msg = Vec::new();
    proof.encode(Layout::V8, &mut msg).unwrap();
    expect_state(f.packet(s, &msg));
    match f.store.pop() {
        Some(StoreOp::RecordLoginFailure { attempt: a, .. }) => {
            assert_eq!(a.outcome, LoginOutcome::WrongPassword)
        }
        other => panic!("{other:?}"),
    }
}
