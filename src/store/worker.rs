//! The DB threads: the only place the login path touches the database.
//!
//! The event loop submits [`StoreRequest`]s into a bounded crossbeam channel; each thread owns
//! one [`Store`] (its own connection), runs a request and hands the [`StoreResponse`] to the
//! `reply` callback, which posts it into the loop's inbox. `submit` never blocks: a full queue
//! is [`StoreError::Busy`], so a slow database turns into FAIL_DB_BUSY answers rather than a
//! stalled loop. A failing request is answered with its error; the thread goes on serving.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{
    AccountRecord, CharacterCount, FailureRecorded, IpBan, LoginAttempt, RealmRecord, Store,
    StoreError, TakenSession,
};
use crate::account::AccountName;
use crate::admin::{AdminAnswer, AdminOp};
use crate::event_loop::token::Target;
use crate::policy::lockout::LockoutPolicy;
use crate::realms::link::LinkKey;
use crate::realms::RealmId;
use crate::srp6::SessionKey;

/// What the login path asks of the database.
#[derive(Debug, Clone)]
pub enum StoreOp {
    LoadAccount {
        name: AccountName,
    },
    /// A refused attempt; wrong credentials are counted under `lockout`.
    RecordLoginFailure {
        attempt: LoginAttempt,
        lockout: LockoutPolicy,
    },
    RecordLoginSuccess {
        attempt: LoginAttempt,
        key: SessionKey,
        /// Unix seconds after which no world server may take the ticket.
        expires_at: i64,
    },
    LoadRealms,
    /// A world server of `realm` takes the account's ticket (see [`Store::take_session`]).
    TakeSession {
        name: AccountName,
        realm: RealmId,
        now: i64,
    },
    /// A reconnect proved the session key: renew the ticket (see [`Store::renew_session`]).
    RenewSession {
        attempt: LoginAttempt,
        expires_at: i64,
    },
    /// The key a realm link must prove (see [`Store::realm_link_key`]).
    LoadLinkKey {
        realm: RealmId,
    },
    /// The IP bans in force (see [`Store::ip_bans`]).
    LoadIpBans {
        now: i64,
    },
    /// An operator command from the console (see `admin::run`).
    Admin(AdminOp),
}

/// The answer to a [`StoreOp`], variant for variant.
#[derive(Debug)]
pub enum StoreReply {
    AccountLoaded(Result<Option<AccountRecord>, StoreError>),
    LoginFailureRecorded(Result<FailureRecorded, StoreError>),
    LoginSuccessRecorded(Result<Vec<CharacterCount>, StoreError>),
    RealmsLoaded(Result<Vec<RealmRecord>, StoreError>),
    SessionTaken(Result<Option<TakenSession>, StoreError>),
    SessionRenewed(Result<Vec<CharacterCount>, StoreError>),
    LinkKeyLoaded(Result<Option<LinkKey>, StoreError>),
    IpBansLoaded(Result<Vec<IpBan>, StoreError>),
    Admin(Result<AdminAnswer, StoreError>),
}

impl StoreReply {
    /// The error this reply carries, if any.
    pub fn error(&self) -> Option<&StoreError> {
        match self {
            StoreReply::AccountLoaded(r) => r.as_ref().err(),
            StoreReply::LoginFailureRecorded(r) => r.as_ref().err(),
            StoreReply::LoginSuccessRecorded(r) => r.as_ref().err(),
            StoreReply::RealmsLoaded(r) => r.as_ref().err(),
            StoreReply::SessionTaken(r) => r.as_ref().err(),
            StoreReply::SessionRenewed(r) => r.as_ref().err(),
            StoreReply::LinkKeyLoaded(r) => r.as_ref().err(),
            StoreReply::IpBansLoaded(r) => r.as_ref().err(),
            StoreReply::Admin(r) => r.as_ref().err(),
        }
    }

    /// The reply for `op` when it could not run at all.
    pub fn failed(op: &StoreOp, err: StoreError) -> StoreReply {
        match op {
            StoreOp::LoadAccount { .. } => StoreReply::AccountLoaded(Err(err)),
            StoreOp::RecordLoginFailure { .. } => StoreReply::LoginFailureRecorded(Err(err)),
            StoreOp::RecordLoginSuccess { .. } => StoreReply::LoginSuccessRecorded(Err(err)),
            StoreOp::LoadRealms => StoreReply::RealmsLoaded(Err(err)),
            StoreOp::TakeSession { .. } => StoreReply::SessionTaken(Err(err)),
            StoreOp::RenewSession { .. } => StoreReply::SessionRenewed(Err(err)),
            StoreOp::LoadLinkKey { .. } => StoreReply::LinkKeyLoaded(Err(err)),
            StoreOp::LoadIpBans { .. } => StoreReply::IpBansLoaded(Err(err)),
            StoreOp::Admin(_) => StoreReply::Admin(Err(err)),
        }
    }

    fn is_err(&self) -> bool {
        self.error().is_some()
    }
}

#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub target: Target,
    pub op: StoreOp,
}

#[derive(Debug)]
pub struct StoreResponse {
    pub target: Target,
    pub reply: StoreReply,
    /// From `submit` to the reply: time in the queue plus execution.
    pub latency: Duration,
}

/// Counters since start, for the console and load runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Requests answered (with a result or an error).
    pub completed: u64,
    /// Of those, answered with an error.
    pub failed: u64,
    /// Requests refused by `submit` because the queue was full.
    pub rejected_busy: u64,
    pub mean_latency: Duration,
    pub max_latency: Duration,
}

#[derive(Default)]
struct Counters {
    completed: AtomicU64,
    failed: AtomicU64,
    rejected_busy: AtomicU64,
    total_latency_ns: AtomicU64,
    max_latency_ns: AtomicU64,
}

struct Queued {
    request: StoreRequest,
    submitted: Instant,
}

/// A fixed set of DB threads behind one bounded queue.
pub struct StorePool {
    /// `None` once shutting down: dropping the only sender is what tells the threads to finish.
    tx: Option<Sender<Queued>>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for StorePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePool")
            .field("threads", &self.threads.len())
            .field("queue_depth", &self.queue_depth())
            .finish()
    }
}

impl StorePool {
    /// Opens `threads` stores (one connection per thread) before returning, so a broken
    /// database fails at start rather than on the first login. They are opened one after the
    /// other on the calling thread, so only the first runs the migrations.
    pub fn start(
        threads: usize,
        queue_capacity: usize,
        open: impl Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync + 'static,
        reply: impl Fn(StoreResponse) + Send + Sync + 'static,
    ) -> Result<StorePool, StoreError> {
        if threads == 0 {
            return Err(StoreError::Invalid(
                "a store pool needs at least one thread",
            ));
        }
        let stores = (0..threads)
            .map(|_| open())
            .collect::<Result<Vec<_>, _>>()?;
        // A zero-capacity crossbeam channel is a rendezvous, on which try_send fails unless a
        // thread happens to be waiting: not a queue. One slot is the least that is one.
        let (tx, rx) = crossbeam_channel::bounded(queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let reply: Arc<dyn Fn(StoreResponse) + Send + Sync> = Arc::new(reply);
        let mut handles = Vec::with_capacity(threads);
        for (i, store) in stores.into_iter().enumerate() {
            let rx = rx.clone();
            let reply = Arc::clone(&reply);
            let counters = Arc::clone(&counters);
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-db-{i}"))
                .spawn(move || serve(store, rx, &*reply, &counters));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // Let the threads already running see the channel close, then report.
                    drop(tx);
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(StoreError::Spawn(e));
                }
            }
        }
        Ok(StorePool {
            tx: Some(tx),
            threads: handles,
            counters,
        })
    }

    /// Queues a request. Never blocks: a full queue is [`StoreError::Busy`] (the caller
    /// answers FAIL_DB_BUSY), a pool shutting down is [`StoreError::Stopped`].
    pub fn submit(&self, request: StoreRequest) -> Result<(), StoreError> {
        self.try_submit(request).map_err(|rejected| rejected.0)
    }

    /// Like [`StorePool::submit`], but a request that could not be queued comes back as the
    /// reply its sender would have got, carrying the error, so it can be answered at once.
    /// `None` means it was queued.
    pub fn submit_or_fail(&self, request: StoreRequest) -> Option<StoreResponse> {
        self.try_submit(request).err().map(|rejected| {
            let (e, request) = *rejected;
            StoreResponse {
                target: request.target,
                reply: StoreReply::failed(&request.op, e),
                latency: Duration::ZERO,
            }
        })
    }

    fn try_submit(&self, request: StoreRequest) -> Result<(), Box<(StoreError, StoreRequest)>> {
        let Some(tx) = self.tx.as_ref() else {
            return Err(Box::new((StoreError::Stopped, request)));
        };
        let queued = Queued {
            request,
            submitted: Instant::now(),
        };
        match tx.try_send(queued) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(q)) => {
                self.counters.rejected_busy.fetch_add(1, Ordering::Relaxed);
                Err(Box::new((StoreError::Busy, q.request)))
            }
            Err(TrySendError::Disconnected(q)) => Err(Box::new((StoreError::Stopped, q.request))),
        }
    }

    /// Requests waiting for a thread (not counting those being run).
    pub fn queue_depth(&self) -> usize {
        self.tx.as_ref().map_or(0, Sender::len)
    }

    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        let completed = c.completed.load(Ordering::Relaxed);
        let total = c.total_latency_ns.load(Ordering::Relaxed);
        StoreStats {
            completed,
            failed: c.failed.load(Ordering::Relaxed),
            rejected_busy: c.rejected_busy.load(Ordering::Relaxed),
            mean_latency: Duration::from_nanos(total.checked_div(completed).unwrap_or(0)),
            max_latency: Duration::from_nanos(c.max_latency_ns.load(Ordering::Relaxed)),
        }
    }

    /// Stops taking requests, finishes every queued one (so writes already accepted are
    /// committed and answered), and joins the threads.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // crossbeam hands out what is still queued after the last sender goes, and only then
        // reports the channel closed, so the threads drain the queue before they exit.
        self.tx = None;
        for handle in self.threads.drain(..) {
            if handle.join().is_err() {
                log::error!("store: a DB thread panicked outside a request");
            }
        }
    }
}

impl Drop for StorePool {
    /// Dropping without `shutdown` still drains and joins: queued writes are never abandoned.
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn serve(
    mut store: Box<dyn Store>,
    rx: Receiver<Queued>,
    reply: &(dyn Fn(StoreResponse) + Send + Sync),
    counters: &Counters,
) {
    while let Ok(Queued { request, submitted }) = rx.recv() {
        let StoreRequest { target, op } = request;
        // A panic inside a backend (a bug, not bad data: bad data is Corrupt) must neither kill
        // this thread nor leave the connection that asked waiting for an answer.
        let result = catch_unwind(AssertUnwindSafe(|| execute(store.as_mut(), &op)));
        let reply_value = result.unwrap_or_else(|_| {
            log::error!("store: request for {target:?} panicked; answering with an error");
            StoreReply::failed(&op, StoreError::Panicked)
        });
        if reply_value.is_err() {
            counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        let latency = submitted.elapsed();
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        counters.total_latency_ns.fetch_add(ns, Ordering::Relaxed);
        counters.max_latency_ns.fetch_max(ns, Ordering::Relaxed);
        counters.completed.fetch_add(1, Ordering::Relaxed);
        let response = StoreResponse {
            target,
            reply: reply_value,
            latency,
        };
        // The sink is the caller's code; if it panics, this reply is lost but the thread lives.
        if catch_unwind(AssertUnwindSafe(|| reply(response))).is_err() {
            log::error!("store: the reply sink panicked on a reply for {target:?}");
        }
    }
}

fn execute(store: &mut dyn Store, op: &StoreOp) -> StoreReply {
    match op {
        StoreOp::LoadAccount { name } => StoreReply::AccountLoaded(store.load_account(name)),
        StoreOp::RecordLoginFailure { attempt, lockout } => {
            StoreReply::LoginFailureRecorded(store.record_login_failure(attempt, lockout))
        }
        StoreOp::RecordLoginSuccess {
            attempt,
            key,
            expires_at,
        } => {
            StoreReply::LoginSuccessRecorded(store.record_login_success(attempt, key, *expires_at))
        }
        StoreOp::LoadRealms => StoreReply::RealmsLoaded(store.load_realms()),
        StoreOp::TakeSession { name, realm, now } => {
            StoreReply::SessionTaken(store.take_session(name, *realm, *now))
        }
        StoreOp::RenewSession {
            attempt,
            expires_at,
        } => StoreReply::SessionRenewed(store.renew_session(attempt, *expires_at)),
        StoreOp::LoadLinkKey { realm } => StoreReply::LinkKeyLoaded(store.realm_link_key(*realm)),
        StoreOp::LoadIpBans { now } => StoreReply::IpBansLoaded(store.ip_bans(*now)),
        StoreOp::Admin(op) => StoreReply::Admin(crate::admin::run(store, op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountId, AccountStanding};
    use crate::event_loop::token::ConnToken;
    use crate::protocol::version::Build;
    use crate::srp6::{Salt, Verifier};
    use crate::store::{AccountSummary, AuditRow, LoginOutcome, NewRealm, RealmRef, SqliteStore};
    use std::path::{Path, PathBuf};

    /// A SQLite store whose login-path calls first wait at a gate (until a token arrives or
    /// the gate's sender is dropped), so tests can hold a DB thread busy; a name of PANIC
    /// makes it panic, as a backend bug would.
    struct GatedStore {
        inner: SqliteStore,
        gate: Receiver<()>,
    }

    impl GatedStore {
        fn wait(&self) {
            let _ = self.gate.recv();
        }
    }

    impl Store for GatedStore {
        fn load_account(
            &mut self,
            name: &AccountName,
        ) -> Result<Option<AccountRecord>, StoreError> {
            self.wait();
            assert_ne!(name.as_str(), "PANIC", "a backend bug");
            self.inner.load_account(name)
        }
        fn record_login_failure(
            &mut self,
            attempt: &LoginAttempt,
            lockout: &LockoutPolicy,
        ) -> Result<FailureRecorded, StoreError> {
            self.wait();
            self.inner.record_login_failure(attempt, lockout)
        }
        fn record_login_success(
            &mut self,
            attempt: &LoginAttempt,
            key: &SessionKey,
            expires_at: i64,
        ) -> Result<Vec<CharacterCount>, StoreError> {
            self.wait();
            self.inner.record_login_success(attempt, key, expires_at)
        }
        fn take_session(
            &mut self,
            name: &AccountName,
            realm: RealmId,
            now: i64,
        ) -> Result<Option<TakenSession>, StoreError> {
            self.wait();
            self.inner.take_session(name, realm, now)
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
        fn set_realm_link_key(
            &mut self,
            realm: &RealmRef,
            key: &LinkKey,
        ) -> Result<(), StoreError> {
            self.inner.set_realm_link_key(realm, key)
        }
        fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
            self.inner.set_security_level(name, level)
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
        fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
            self.inner.remove_realm(realm)
        }
        fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
            self.inner.list_realms()
        }
        fn set_character_count(
            &mut self,
            account: AccountId,
            realm: RealmId,
            count: u8,
        ) -> Result<(), StoreError> {
            self.inner.set_character_count(account, realm, count)
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
    ) -> (StorePool, Receiver<StoreResponse>) {
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
                },
                1 => StoreOp::LoadAccount {
                    name: name("nobody"),
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

    #[test]
    fn a_panicking_request_is_answered_and_the_thread_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let (gate_tx, gate) = open_gate();
        drop(gate_tx);
        let (pool, replies) = pool(&dir.path().join("db"), 1, 8, gate);
        for (slot, n) in [(1, "panic"), (2, "alice")] {
            pool.submit(StoreRequest {
                target: conn(slot),
                op: StoreOp::LoadAccount { name: name(n) },
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
        let result = StorePool::start(
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
            outcome: LoginOutcome::Success,
            at: 100,
        };
        vec![
            StoreOp::LoadAccount {
                name: name("alice"),
            },
            StoreOp::RecordLoginFailure {
                attempt: attempt.clone(),
                lockout: LockoutPolicy::OFF,
            },
            StoreOp::RecordLoginSuccess {
                attempt: attempt.clone(),
                key: SessionKey([3; 40]),
                expires_at: 1000,
            },
            StoreOp::LoadRealms,
            StoreOp::TakeSession {
                name: name("alice"),
                realm: RealmId(1),
                now: 500,
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
            assert!(reply.is_err());
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
            StoreReply::SessionTaken(Ok(Some(t))) => {
                assert_eq!(t.account, AccountId(1));
                assert_eq!(t.key, SessionKey([3; 40]));
                assert_eq!(t.security_level, 0);
            }
            other => panic!("expected a taken session, got {other:?}"),
        }
        assert!(matches!(
            run(ops[4].clone()),
            StoreReply::SessionTaken(Ok(None))
        ));
        assert!(matches!(
            run(ops[5].clone()),
            StoreReply::SessionRenewed(Ok(_))
        ));
        assert!(matches!(
            run(ops[4].clone()),
            StoreReply::SessionTaken(Ok(Some(_)))
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
}
