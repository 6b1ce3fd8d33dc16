//! The DB threads' tests: a pool on a real SQLite file, gated stores that hold a thread busy,
//! full queues, panics, shutdown draining.

use super::*;

/// Who a test request is for: the pool carries it back untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Conn(ConnToken),
    Daemon,
}

type Pool = StorePool<Target, StoreOp>;
type Response = StoreResponse<Target, StoreReply>;
use crate::account::{AccountId, AccountStanding};
use crate::event_loop::ConnToken;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, Verifier};
use crate::store::{AccountSummary, AuditRow, LoginOutcome, NewRealm, RealmRef, SqliteStore};
use std::path::{Path, PathBuf};

/// The address the tests' logons come from.
const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A SQLite store whose login-path calls first wait at a gate (until a token arrives or
/// the gate's sender is dropped), so tests can hold a DB thread busy; a name of PANIC
/// makes it panic, as a backend bug would, and an account lookup of FREE skips the gate.
struct GatedStore {
    inner: SqliteStore,
    gate: Receiver<()>,
    /// Counts the group commits begun, and the writes each held, where a test asks.
    batches: Option<Arc<std::sync::Mutex<Vec<usize>>>>,
}

impl GatedStore {
    fn wait(&self) {
        let _ = self.gate.recv();
    }
}

impl Store for GatedStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        if name.as_str() != "FREE" {
            self.wait();
        }
        assert_ne!(name.as_str(), "PANIC", "a backend bug");
        self.inner.load_account(name)
    }
    fn use_totp_step(
        &mut self,
        account: AccountId,
        step: crate::totp::TotpStep,
    ) -> Result<(), StoreError> {
        self.inner.use_totp_step(account, step)
    }
    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: std::net::IpAddr,
        now: i64,
    ) -> Result<crate::store::LockoutStanding, StoreError> {
        self.inner.lockout_standing(account, peer, now)
    }
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        if let Some(batches) = &self.batches {
            batches.lock().unwrap().push(0);
        }
        self.inner.begin_batch()
    }
    fn end_batch(&mut self, end: crate::store::BatchEnd) -> Result<(), StoreError> {
        self.inner.end_batch(end)
    }
    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        lockout: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        self.wait();
        let written = self.inner.record_login_failure(attempt, lockout);
        if attempt.name.as_str() == "BROKEN" {
            // As a deadlock would: the database fails the write after it wrote.
            return Err(StoreError::Backend(crate::store::BackendError::new(
                crate::store::BackendErrorKind::Other,
                "injected: the transaction was rolled back",
                None,
            )));
        }
        written
    }
    fn record_login_success(
        &mut self,
        attempt: &LoginAttempt,
        key: &SessionKey,
        expires_at: i64,
        totp_step: Option<crate::totp::TotpStep>,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        self.wait();
        self.inner
            .record_login_success(attempt, key, expires_at, totp_step)
    }
    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        self.wait();
        self.inner.take_session(name, realm, now, proof)
    }
    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        self.wait();
        self.inner.renew_session(attempt, expires_at)
    }
    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        self.wait();
        self.inner.realm_link_key(realm)
    }
    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        self.inner.set_realm_link_key(realm, key)
    }
    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        self.inner.set_security_level(name, level)
    }
    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: crate::store::IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        self.inner.set_ip_lock(name, setting)
    }

    fn set_pin(
        &mut self,
        name: &AccountName,
        pin: Option<&crate::pin_grid::SealedPin>,
    ) -> Result<(), StoreError> {
        self.inner.set_pin(name, pin)
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&crate::totp::SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        self.inner.set_totp_secret(name, secret)
    }
    fn ban_ip(
        &mut self,
        net: &ipnet::IpNet,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.inner.ban_ip(net, until, reason)
    }
    fn unban_ip(&mut self, net: &ipnet::IpNet) -> Result<bool, StoreError> {
        self.inner.unban_ip(net)
    }
    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        self.inner.ip_bans(now)
    }
    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        self.inner.set_console_password(hash)
    }
    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        self.inner.console_password()
    }
    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.wait();
        self.inner.load_realms()
    }
    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        self.inner.create_account(name, salt, verifier)
    }
    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError> {
        self.inner.set_password(name, salt, verifier)
    }
    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        self.inner.delete_account(name)
    }
    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        self.inner.list_accounts()
    }
    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.inner.ban_account(name, until, reason)
    }
    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        self.inner.unban_account(name)
    }
    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        self.inner.add_realm(realm)
    }
    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError> {
        self.inner.add_realm_with_id(realm, id)
    }
    fn update_realm(
        &mut self,
        realm: &RealmRef,
        changes: &crate::store::RealmChanges,
    ) -> Result<RealmId, StoreError> {
        self.inner.update_realm(realm, changes)
    }
    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<crate::store::CountsWritten, StoreError> {
        self.inner.set_character_counts(realm, counts)
    }
    fn query_audit(
        &mut self,
        query: &crate::store::AuditQuery,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.inner.query_audit(query)
    }
    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        self.inner.remove_realm(realm)
    }
    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.inner.list_realms()
    }
    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        self.inner.prune_audit(before)
    }
    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        self.inner.recent_audit(limit)
    }
}

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
}

fn conn(slot: u32) -> Target {
    Target::Conn(ConnToken {
        slot,
        generation: slot.wrapping_mul(3),
    })
}

fn failure(n: &str, at: i64) -> StoreOp {
    StoreOp::RecordLoginFailure {
        lockout: LockoutPolicy::OFF,
        attempt: LoginAttempt {
            account: None,
            name: name(n),
            peer: "203.0.113.9".parse().unwrap(),
            build: Build::VANILLA,
            client: Default::default(),
            outcome: LoginOutcome::UnknownAccount,
            at,
        },
    }
}

/// A database with one account, and a pool on it whose replies land in a channel.
fn pool(
    path: &Path,
    threads: usize,
    capacity: usize,
    gate: Receiver<()>,
) -> (Pool, Receiver<Response>) {
    let mut setup = SqliteStore::open(path).unwrap();
    setup
        .create_account(&name("alice"), &Salt([1; 32]), &Verifier([2; 32]))
        .unwrap();
    drop(setup);
    let path: PathBuf = path.to_path_buf();
    let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
    let pool = StorePool::start(
        threads,
        capacity,
        move || {
            Ok(Box::new(GatedStore {
                inner: SqliteStore::open(&path)?,
                gate: gate.clone(),
                batches: None,
            }) as Box<dyn Store>)
        },
        move |response| {
            let _ = reply_tx.send(response);
        },
    )
    .unwrap();
    (pool, reply_rx)
}

fn open_gate() -> (Option<Sender<()>>, Receiver<()>) {
    // Dropping the sender opens the gate for good; a closed gate is never sent a token.
    let (tx, rx) = crossbeam_channel::unbounded();
    (Some(tx), rx)
}

#[test]
fn every_reply_comes_back_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let (gate_tx, gate) = open_gate();
    drop(gate_tx);
    let (pool, replies) = pool(&dir.path().join("db"), 2, 1024, gate);
    const N: u32 = 200;
    for i in 0..N {
        let op = match i % 4 {
            0 => StoreOp::LoadAccount {
                name: name("alice"),
                peer: LOCAL,
                now: 0,
            },
            1 => StoreOp::LoadAccount {
                name: name("nobody"),
                peer: LOCAL,
                now: 0,
            },
            2 => failure("ghost", i64::from(i)),
            _ => StoreOp::LoadRealms,
        };
        pool.submit(StoreRequest {
            target: conn(i),
            op,
        })
        .unwrap();
    }
    let mut seen = vec![false; N as usize];
    for _ in 0..N {
        let r = replies.recv_timeout(Duration::from_secs(10)).unwrap();
        let Target::Conn(token) = r.target else {
            panic!("unexpected target {:?}", r.target)
        };
        let i = token.slot;
        assert_eq!(r.target, conn(i));
        assert!(
            !std::mem::replace(&mut seen[i as usize], true),
            "two replies for {i}"
        );
        match (i % 4, r.reply) {
            (0, StoreReply::AccountLoaded(Ok(Some(a)))) => {
                assert_eq!(a.name, name("alice"));
                assert_eq!(a.standing, AccountStanding::Active);
            }
            (1, StoreReply::AccountLoaded(Ok(None))) => {}
            (2, StoreReply::LoginFailureRecorded(Ok(_))) => {}
            (3, StoreReply::RealmsLoaded(Ok(realms))) => assert!(realms.is_empty()),
            (k, other) => panic!("request kind {k} got {other:?}"),
        }
    }
    let stats = pool.stats();
    assert_eq!(stats.completed, u64::from(N));
    assert_eq!(stats.failed, 0);
    assert!(stats.max_latency >= stats.mean_latency);
    pool.shutdown();
    let mut check = SqliteStore::open(&dir.path().join("db")).unwrap();
    assert_eq!(check.recent_audit(1000).unwrap().len(), (N / 4) as usize);
}

#[test]
fn a_full_queue_is_busy_and_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut gate_tx, gate) = open_gate();
    let (pool, replies) = pool(&dir.path().join("db"), 1, 2, gate);
    let load = |slot| StoreRequest {
        target: conn(slot),
        op: StoreOp::LoadAccount {
            name: name("alice"),
            peer: LOCAL,
            now: 0,
        },
    };
    pool.submit(load(0)).unwrap();
    // Wait for the one thread to take it and block at the gate.
    let start = Instant::now();
    while pool.queue_depth() != 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::yield_now();
    }
    pool.submit(load(1)).unwrap();
    pool.submit(load(2)).unwrap();
    assert_eq!(pool.queue_depth(), 2);
    assert!(matches!(pool.submit(load(3)), Err(StoreError::Busy)));
    assert_eq!(pool.stats().rejected_busy, 1);

    gate_tx.take();
    let mut slots: Vec<u32> = (0..3)
        .map(|_| {
            let r = replies.recv_timeout(Duration::from_secs(10)).unwrap();
            match r.target {
                Target::Conn(t) => t.slot,
                other => panic!("unexpected target {other:?}"),
            }
        })
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, vec![0, 1, 2]);
    // Room again once drained.
    pool.submit(load(4)).unwrap();
    assert!(replies.recv_timeout(Duration::from_secs(10)).is_ok());
    pool.shutdown();
}

#[test]
fn shutdown_finishes_queued_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (mut gate_tx, gate) = open_gate();
    let (pool, replies) = pool(&path, 2, 100, gate);
    const N: usize = 50;
    for i in 0..N {
        pool.submit(StoreRequest {
            target: Target::Daemon,
            op: failure("ghost", i as i64),
        })
        .unwrap();
    }
    // Open the gate only after shutdown has closed the queue, so the writes are still
    // queued when it does.
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        gate_tx.take();
    });
    pool.shutdown();
    opener.join().unwrap();
    assert_eq!(replies.try_iter().count(), N);
    let mut check = SqliteStore::open(&path).unwrap();
    assert_eq!(check.recent_audit(1000).unwrap().len(), N);
}

/// A database that never answers does not hang the shutdown: it waits `SHUTDOWN_WAIT`, then
/// leaves the stuck thread behind. Reads meanwhile are served by the read thread.
#[test]
fn a_stuck_writer_neither_blocks_reads_nor_hangs_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (gate_tx, gate) = open_gate();
    let (pool, replies) = pool(&dir.path().join("db"), 2, 8, gate);
    // The write thread takes the write and waits at the gate, which never opens.
    pool.submit(StoreRequest {
        target: conn(1),
        op: failure("ghost", 1),
    })
    .unwrap();
    // A read meanwhile is served (its lookup does not wait at the gate).
    pool.submit(StoreRequest {
        target: conn(2),
        op: StoreOp::LoadAccount {
            name: name("free"),
            peer: LOCAL,
            now: 0,
        },
    })
    .unwrap();
    let read = replies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        read.target,
        conn(2),
        "the read was not held up by the write"
    );
    let started = Instant::now();
    pool.shutdown();
    let waited = started.elapsed();
    assert!(waited >= SHUTDOWN_WAIT, "{waited:?}");
    assert!(
        waited < SHUTDOWN_WAIT + Duration::from_secs(5),
        "{waited:?}"
    );
    drop(gate_tx);
}

#[test]
fn a_panicking_request_is_answered_and_the_thread_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let (gate_tx, gate) = open_gate();
    drop(gate_tx);
    let (pool, replies) = pool(&dir.path().join("db"), 1, 8, gate);
    for (slot, n) in [(1, "panic"), (2, "alice")] {
        pool.submit(StoreRequest {
            target: conn(slot),
            op: StoreOp::LoadAccount {
                name: name(n),
                peer: LOCAL,
                now: 0,
            },
        })
        .unwrap();
    }
    let first = replies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first.target, conn(1));
    assert!(matches!(
        first.reply,
        StoreReply::AccountLoaded(Err(StoreError::Panicked))
    ));
    let second = replies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(second.target, conn(2));
    assert!(matches!(
        second.reply,
        StoreReply::AccountLoaded(Ok(Some(_)))
    ));
    assert_eq!(pool.stats().failed, 1);
    pool.shutdown();
}

#[test]
fn a_store_that_cannot_open_fails_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("db");
    let result = Pool::start(
        2,
        8,
        move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>),
        |_| {},
    );
    assert!(matches!(result, Err(StoreError::Open { .. })));
}

fn every_op() -> Vec<StoreOp> {
    let attempt = LoginAttempt {
        account: Some(AccountId(1)),
        name: name("alice"),
        peer: "203.0.113.9".parse().unwrap(),
        build: Build::VANILLA,
        client: Default::default(),
        outcome: LoginOutcome::Success,
        at: 100,
    };
    vec![
        StoreOp::LoadAccount {
            name: name("alice"),
            peer: LOCAL,
            now: 0,
        },
        StoreOp::RecordLoginFailure {
            attempt: attempt.clone(),
            lockout: LockoutPolicy::OFF,
        },
        StoreOp::RecordLoginSuccess {
            attempt: attempt.clone(),
            key: SessionKey([3; 40]),
            expires_at: 1000,
            totp_step: None,
        },
        StoreOp::LoadRealms,
        StoreOp::TakeSession {
            name: name("alice"),
            realm: RealmId(1),
            now: 500,
            proof: None,
        },
        StoreOp::RenewSession {
            attempt,
            expires_at: 2000,
        },
        StoreOp::LoadLinkKey { realm: RealmId(1) },
    ]
}

#[test]
fn every_op_has_a_failed_reply_that_carries_the_error() {
    for op in every_op() {
        let reply = StoreReply::failed(&op, StoreError::Busy);
        assert!(matches!(reply.error(), Some(StoreError::Busy)), "{op:?}");
        assert!(reply.error().is_some());
        let matching = matches!(
            (&op, &reply),
            (StoreOp::LoadAccount { .. }, StoreReply::AccountLoaded(_))
                | (
                    StoreOp::RecordLoginFailure { .. },
                    StoreReply::LoginFailureRecorded(_)
                )
                | (
                    StoreOp::RecordLoginSuccess { .. },
                    StoreReply::LoginSuccessRecorded(_)
                )
                | (StoreOp::LoadRealms, StoreReply::RealmsLoaded(_))
                | (StoreOp::TakeSession { .. }, StoreReply::SessionTaken(_))
                | (StoreOp::RenewSession { .. }, StoreReply::SessionRenewed(_))
                | (StoreOp::LoadLinkKey { .. }, StoreReply::LinkKeyLoaded(_))
        );
        assert!(matching, "{op:?} -> {reply:?}");
    }
}

#[test]
fn ticket_and_link_key_ops_run_on_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (gate_tx, gate) = open_gate();
    drop(gate_tx);
    let (pool, replies) = pool(&path, 2, 64, gate);
    let key = LinkKey([5; 32]);
    {
        let mut setup = SqliteStore::open(&path).unwrap();
        let mut realm = NewRealm {
            name: "Linked".into(),
            address: "h:1".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: vec![],
            link_key: Some(key),
            allowed_level: 0,
            local: None,
        };
        assert_eq!(setup.add_realm(&realm).unwrap(), RealmId(1));
        realm.name = "Static".into();
        realm.link_key = None;
        assert_eq!(setup.add_realm(&realm).unwrap(), RealmId(2));
    }
    // One at a time: each op depends on the one before.
    let run = |op: StoreOp| {
        pool.submit(StoreRequest {
            target: Target::Daemon,
            op,
        })
        .unwrap();
        replies.recv_timeout(Duration::from_secs(10)).unwrap().reply
    };
    let ops = every_op();
    assert!(matches!(
        run(ops[2].clone()),
        StoreReply::LoginSuccessRecorded(Ok(_))
    ));
    match run(ops[4].clone()) {
        StoreReply::SessionTaken(Ok(TakeOutcome::Taken(t))) => {
            assert_eq!(t.account, AccountId(1));
            assert_eq!(t.key, SessionKey([3; 40]));
            assert_eq!(t.security_level, 0);
        }
        other => panic!("expected a taken session, got {other:?}"),
    }
    assert!(matches!(
        run(ops[4].clone()),
        StoreReply::SessionTaken(Ok(TakeOutcome::NoTicket))
    ));
    assert!(matches!(
        run(ops[5].clone()),
        StoreReply::SessionRenewed(Ok(_))
    ));
    assert!(matches!(
        run(ops[4].clone()),
        StoreReply::SessionTaken(Ok(TakeOutcome::Taken(_)))
    ));
    assert!(matches!(
        run(StoreOp::LoadLinkKey { realm: RealmId(1) }),
        StoreReply::LinkKeyLoaded(Ok(Some(k))) if k == key
    ));
    assert!(matches!(
        run(StoreOp::LoadLinkKey { realm: RealmId(2) }),
        StoreReply::LinkKeyLoaded(Ok(None))
    ));
    assert!(matches!(
        run(StoreOp::LoadLinkKey { realm: RealmId(3) }),
        StoreReply::LinkKeyLoaded(Err(StoreError::NoSuchRealm(_)))
    ));
    pool.shutdown();
}

/// Group commit: the writes that queue while the writer is busy are committed together, in
/// one transaction, and each is answered only after it; one that fails alone keeps its error.
#[test]
fn writes_that_wait_are_committed_together_and_answered_after_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut setup = SqliteStore::open(&path).unwrap();
    let alice = setup
        .create_account(&name("alice"), &Salt([1; 32]), &Verifier([2; 32]))
        .unwrap();
    drop(setup);
    let (gate_tx, gate) = open_gate();
    let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (pool, replies) = held_writer(&path, gate, Some(Arc::clone(&batches)));
    for i in 1..=20u32 {
        pool.submit(StoreRequest {
            target: conn(i),
            op: failure("ghost", i64::from(i) + 1),
        })
        .unwrap();
    }
    // One success whose token step is refused (used before): it fails alone.
    let success = |at, step| StoreOp::RecordLoginSuccess {
        attempt: LoginAttempt {
            account: Some(alice),
            name: name("alice"),
            peer: LOCAL,
            build: Build::WOTLK,
            client: Default::default(),
            outcome: LoginOutcome::Success,
            at,
        },
        key: SessionKey([5; 40]),
        expires_at: at + 900,
        totp_step: Some(crate::totp::TotpStep(step)),
    };
    pool.submit(StoreRequest {
        target: conn(21),
        op: success(100, 7),
    })
    .unwrap();
    pool.submit(StoreRequest {
        target: conn(22),
        op: success(101, 7),
    })
    .unwrap();
    drop(gate_tx);
    let mut answers = std::collections::HashMap::new();
    for _ in 0..23 {
        let r = replies.recv_timeout(Duration::from_secs(10)).unwrap();
        let Target::Conn(token) = r.target else {
            panic!("unexpected target")
        };
        answers.insert(token.slot, r.reply);
    }
    // The first ran alone; the other 22 shared one group commit.
    assert_eq!(batches.lock().unwrap().len(), 1);
    for i in 0..=20 {
        assert!(
            matches!(
                answers.get(&i),
                Some(StoreReply::LoginFailureRecorded(Ok(_)))
            ),
            "{i}"
        );
    }
    assert!(matches!(
        answers.get(&21),
        Some(StoreReply::LoginSuccessRecorded(Ok(_)))
    ));
    assert!(matches!(
        answers.get(&22),
        Some(StoreReply::LoginSuccessRecorded(Err(
            StoreError::TokenReused
        )))
    ));
    pool.shutdown();
    // Everything answered "ok" is in the file: 21 failures and one success audited.
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.recent_audit(100).unwrap().len(), 22);
}

/// A one-thread pool (it serves writes and reads) on the database at `path`, already busy
/// with a first write (conn 0, an unknown name) that waits at `gate`: what is submitted next
/// queues behind it, to be gathered into one group commit when the gate opens.
fn held_writer(
    path: &Path,
    gate: Receiver<()>,
    batches: Option<Arc<std::sync::Mutex<Vec<usize>>>>,
) -> (Pool, Receiver<Response>) {
    let (reply_tx, replies) = crossbeam_channel::unbounded();
    let store_path = path.to_path_buf();
    let pool: Pool = StorePool::start(
        1,
        1024,
        move || {
            Ok(Box::new(GatedStore {
                inner: SqliteStore::open(&store_path)?,
                gate: gate.clone(),
                batches: batches.clone(),
            }) as Box<dyn Store>)
        },
        move |response| {
            let _ = reply_tx.send(response);
        },
    )
    .unwrap();
    pool.submit(StoreRequest {
        target: conn(0),
        op: failure("ghost", 1),
    })
    .unwrap();
    thread_wait_until(|| pool.queue_depth() == 0);
    (pool, replies)
}

/// Waits (briefly) for `done`, e.g. for the thread to take a request off the queue.
fn thread_wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A database error inside a group commit may have undone the other writes too (a deadlock
/// rolls back the whole InnoDB transaction): the batch is rolled back, and every write in it is
/// answered with an error, none with a success that is not on disk.
#[test]
fn a_database_error_inside_a_batch_fails_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(SqliteStore::open(&path).unwrap());
    let (gate_tx, gate) = open_gate();
    let (pool, replies) = held_writer(&path, gate, None);
    // Three queue behind the held write, the middle one breaks.
    for (i, who) in [(1, "ghost"), (2, "broken"), (3, "ghost")] {
        pool.submit(StoreRequest {
            target: conn(i),
            op: failure(who, i64::from(i) + 1),
        })
        .unwrap();
    }
    drop(gate_tx);
    let mut ok = Vec::new();
    for _ in 0..4 {
        let r = replies.recv_timeout(Duration::from_secs(10)).unwrap();
        let Target::Conn(token) = r.target else {
            panic!("unexpected target")
        };
        if matches!(r.reply, StoreReply::LoginFailureRecorded(Ok(_))) {
            ok.push(token.slot);
        }
    }
    // Only the first (alone, before the batch) succeeded; none of the batch was kept.
    assert_eq!(ok, vec![0]);
    pool.shutdown();
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.recent_audit(100).unwrap().len(), 1);
}
