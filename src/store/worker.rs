//! The DB threads: the only place the login path touches the database.
//!
//! The event loop submits [`StoreRequest`]s into a bounded crossbeam channel; each thread owns
//! one [`Store`] (its own connection), runs a request and hands the [`StoreResponse`] to the
//! `reply` callback, which posts it into the loop's inbox. `submit` never blocks: a full queue
//! is [`StoreError::Busy`], so a slow database turns into FAIL_DB_BUSY answers rather than a
//! stalled loop. A failing request is answered with its error; the thread goes on serving.
//!
//! The pool knows neither who asked (the target `T` is the caller's, carried back untouched)
//! nor every kind of work: a request is any [`Job`]. The login path's jobs are [`StoreOp`]s;
//! other callers (the console's operator commands) bring jobs of their own that call the
//! [`Store`] API.

use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{
    AccountRecord, BackendError, BackendErrorKind, BatchEnd, CharacterCount, FailureRecorded,
    IpBan, LoginAttempt, LoginOutcome, RealmRecord, Store, StoreError, TakeOutcome,
};
use crate::account::AccountName;
use crate::srp6::{ClientDigest, SessionKey};
use crate::totp::TotpStep;
use crate::values::LinkKey;
use crate::values::LockoutPolicy;
use crate::values::RealmId;

/// What the login path asks of the database.
#[derive(Debug, Clone)]
pub enum StoreOp {
    /// The account a challenge names, with the lockout as it stands for `peer` at `now`.
    LoadAccount {
        name: AccountName,
        peer: IpAddr,
        now: i64,
    },
    /// A refused attempt; wrong credentials are counted under `lockout`.
    RecordLoginFailure {
        attempt: LoginAttempt,
        lockout: LockoutPolicy,
    },
    /// How a console login ended (audit row, and the lockouts for a wrong credential; a
    /// console login issues no session). A success's authenticator step is used up first:
    /// if it was used before, the attempt is recorded as `ConsoleWrongToken` instead (counted
    /// like any wrong code) and the reply is [`StoreError::TokenReused`].
    RecordConsoleLogin {
        attempt: LoginAttempt,
        lockout: LockoutPolicy,
        totp_step: Option<TotpStep>,
    },
    RecordLoginSuccess {
        attempt: LoginAttempt,
        key: SessionKey,
        /// Unix seconds after which no world server may take the ticket.
        expires_at: i64,
        /// The authenticator token's step, used up with the success.
        totp_step: Option<TotpStep>,
    },
    LoadRealms,
    /// A world server of `realm` takes the account's ticket (see [`Store::take_session`]);
    /// with a `proof`, only if the client's digest was made with its key.
    TakeSession {
        name: AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<ClientDigest>,
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
    /// Drops the audit rows of attempts before `before` (see [`Store::prune_audit`]).
    PruneAudit {
        before: i64,
    },
    /// A world server's character counts for its realm (see [`Store::set_character_counts`]).
    SetCharacterCounts {
        realm: RealmId,
        counts: Vec<(crate::values::AccountId, u8)>,
    },
}

/// The answer to a [`StoreOp`], variant for variant.
#[derive(Debug)]
pub enum StoreReply {
    AccountLoaded(Result<Option<AccountRecord>, StoreError>),
    LoginFailureRecorded(Result<FailureRecorded, StoreError>),
    LoginSuccessRecorded(Result<Vec<CharacterCount>, StoreError>),
    RealmsLoaded(Result<Vec<RealmRecord>, StoreError>),
    SessionTaken(Result<TakeOutcome, StoreError>),
    SessionRenewed(Result<Vec<CharacterCount>, StoreError>),
    LinkKeyLoaded(Result<Option<LinkKey>, StoreError>),
    IpBansLoaded(Result<Vec<IpBan>, StoreError>),
    AuditPruned(Result<u64, StoreError>),
    CharacterCountsSet(Result<super::CountsWritten, StoreError>),
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
            StoreReply::AuditPruned(r) => r.as_ref().err(),
            StoreReply::CharacterCountsSet(r) => r.as_ref().err(),
        }
    }

    /// The reply for `op` when it could not run at all.
    pub fn failed(op: &StoreOp, err: StoreError) -> StoreReply {
        match op {
            StoreOp::LoadAccount { .. } => StoreReply::AccountLoaded(Err(err)),
            StoreOp::RecordLoginFailure { .. } | StoreOp::RecordConsoleLogin { .. } => {
                StoreReply::LoginFailureRecorded(Err(err))
            }
            StoreOp::RecordLoginSuccess { .. } => StoreReply::LoginSuccessRecorded(Err(err)),
            StoreOp::LoadRealms => StoreReply::RealmsLoaded(Err(err)),
            StoreOp::TakeSession { .. } => StoreReply::SessionTaken(Err(err)),
            StoreOp::RenewSession { .. } => StoreReply::SessionRenewed(Err(err)),
            StoreOp::LoadLinkKey { .. } => StoreReply::LinkKeyLoaded(Err(err)),
            StoreOp::LoadIpBans { .. } => StoreReply::IpBansLoaded(Err(err)),
            StoreOp::PruneAudit { .. } => StoreReply::AuditPruned(Err(err)),
            StoreOp::SetCharacterCounts { .. } => StoreReply::CharacterCountsSet(Err(err)),
        }
    }
}

/// Whether a job only reads the database, or writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Work a DB thread can do with its store.
pub trait Job: Send + 'static {
    type Reply: Send + 'static;
    /// Reads and writes queue apart, so that reads never wait behind a stuck writer.
    fn access(&self) -> Access;
    /// Whether the job may share a group commit with others ([`Store::begin_batch`]): only
    /// writes that each keep to one all-or-nothing of their own.
    fn batchable(&self) -> bool {
        false
    }
    /// Runs on a DB thread, with that thread's store.
    fn run(&self, store: &mut dyn Store) -> Self::Reply;
    /// The reply when the job could not run at all (queue full, pool stopped, a panic).
    fn failed(&self, err: StoreError) -> Self::Reply;
    /// Whether a reply carries an error (for the pool's counters).
    fn is_failure(reply: &Self::Reply) -> bool;
    /// Whether a reply's error may have cost the group commit it ran in more than its own
    /// savepoint (see [`StoreError::spoils_batch`]): the batch is then abandoned.
    fn spoils_batch(reply: &Self::Reply) -> bool {
        Self::is_failure(reply)
    }
}

impl Job for StoreOp {
    type Reply = StoreReply;

    fn access(&self) -> Access {
        match self {
            StoreOp::LoadAccount { .. }
            | StoreOp::LoadRealms
            | StoreOp::LoadLinkKey { .. }
            | StoreOp::LoadIpBans { .. } => Access::Read,
            StoreOp::RecordLoginFailure { .. }
            | StoreOp::RecordConsoleLogin { .. }
            | StoreOp::RecordLoginSuccess { .. }
            | StoreOp::TakeSession { .. }
            | StoreOp::RenewSession { .. }
            | StoreOp::PruneAudit { .. }
            | StoreOp::SetCharacterCounts { .. } => Access::Write,
        }
    }

    fn batchable(&self) -> bool {
        // A console login (RecordConsoleLogin) uses its authenticator step up in a transaction
        // of its own first, so it commits alone; it is rare.
        matches!(
            self,
            StoreOp::RecordLoginFailure { .. }
                | StoreOp::RecordLoginSuccess { .. }
                | StoreOp::TakeSession { .. }
                | StoreOp::RenewSession { .. }
        )
    }

    fn run(&self, store: &mut dyn Store) -> StoreReply {
        execute(store, self)
    }

    fn failed(&self, err: StoreError) -> StoreReply {
        StoreReply::failed(self, err)
    }

    fn is_failure(reply: &StoreReply) -> bool {
        reply.error().is_some()
    }

    fn spoils_batch(reply: &StoreReply) -> bool {
        reply.error().is_some_and(StoreError::spoils_batch)
    }
}

/// A job and who it is for.
#[derive(Debug, Clone)]
pub struct StoreRequest<T, J> {
    pub target: T,
    pub op: J,
}

#[derive(Debug)]
pub struct StoreResponse<T, R> {
    pub target: T,
    pub reply: R,
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

struct Queued<T, J> {
    request: StoreRequest<T, J>,
    submitted: Instant,
}

/// What a refused submit gives back: the error and the request.
type Rejected<T, J> = Box<(StoreError, StoreRequest<T, J>)>;

/// Writes one DB thread commits together at most (group commit).
pub const MAX_BATCH: usize = 128;
/// A request that waited this long for a thread is answered "busy" without running: when the
/// database is stuck, clients hear so in bounded time instead of waiting for it.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long shutdown waits for the DB threads to finish what is queued.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// The two queues: reads and writes.
struct Queues<T, J> {
    reads: Sender<Queued<T, J>>,
    writes: Sender<Queued<T, J>>,
}

/// A fixed set of DB threads behind two bounded queues, one for reads and one for writes.
/// With two threads or more, some serve only reads and the others only writes, so a writer
/// stuck on a lock never holds up the account lookups; one thread serves both.
pub struct StorePool<T, J: Job> {
    /// `None` once shutting down: dropping the only senders is what tells the threads to finish.
    queues: Option<Queues<T, J>>,
    threads: Vec<JoinHandle<()>>,
    /// Each thread says here that it has finished, so shutdown can wait a bounded time.
    finished: Receiver<()>,
    counters: Arc<Counters>,
}

impl<T, J: Job> std::fmt::Debug for StorePool<T, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePool")
            .field("threads", &self.threads.len())
            .field("queue_depth", &self.queue_depth())
            .finish()
    }
}

impl<T: Copy + Send + std::fmt::Debug + 'static, J: Job> StorePool<T, J> {
    /// Opens `threads` stores (one connection per thread) before returning, so a broken
    /// database fails at start rather than on the first login. They are opened one after the
    /// other on the calling thread, so only the first runs the migrations.
    pub fn start(
        threads: usize,
        queue_capacity: usize,
        open: impl Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync + 'static,
        reply: impl Fn(StoreResponse<T, J::Reply>) + Send + Sync + 'static,
    ) -> Result<Self, StoreError> {
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
        let (reads, read_rx) = crossbeam_channel::bounded(queue_capacity.max(1));
        let (writes, write_rx) = crossbeam_channel::bounded(queue_capacity.max(1));
        let (done, finished) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let reply: Arc<dyn Fn(StoreResponse<T, J::Reply>) + Send + Sync> = Arc::new(reply);
        let readers = threads / 2;
        let mut handles = Vec::with_capacity(threads);
        for (i, store) in stores.into_iter().enumerate() {
            let serves = match (threads, i < readers) {
                (1, _) => vec![read_rx.clone(), write_rx.clone()],
                (_, true) => vec![read_rx.clone()],
                (_, false) => vec![write_rx.clone()],
            };
            let reply = Arc::clone(&reply);
            let counters = Arc::clone(&counters);
            let done = done.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-db-{i}"))
                .spawn(move || {
                    serve(store, &serves, &*reply, &counters);
                    let _ = done.send(());
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // Let the threads already running see the channels close, then report.
                    drop((reads, writes));
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(StoreError::Spawn(e));
                }
            }
        }
        Ok(StorePool {
            queues: Some(Queues { reads, writes }),
            threads: handles,
            finished,
            counters,
        })
    }

    /// Queues a request. Never blocks: a full queue is [`StoreError::Busy`] (the caller
    /// answers FAIL_DB_BUSY), a pool shutting down is [`StoreError::Stopped`].
    pub fn submit(&self, request: StoreRequest<T, J>) -> Result<(), StoreError> {
        self.try_submit(request).map_err(|rejected| rejected.0)
    }

    /// Like [`StorePool::submit`], but a request that could not be queued comes back as the
    /// reply its sender would have got, carrying the error, so it can be answered at once.
    /// `None` means it was queued.
    pub fn submit_or_fail(
        &self,
        request: StoreRequest<T, J>,
    ) -> Option<StoreResponse<T, J::Reply>> {
        self.try_submit(request).err().map(|rejected| {
            let (e, request) = *rejected;
            StoreResponse {
                reply: request.op.failed(e),
                target: request.target,
                latency: Duration::ZERO,
            }
        })
    }

    fn try_submit(&self, request: StoreRequest<T, J>) -> Result<(), Rejected<T, J>> {
        let Some(queues) = self.queues.as_ref() else {
            return Err(Box::new((StoreError::Stopped, request)));
        };
        let tx = match request.op.access() {
            Access::Read => &queues.reads,
            Access::Write => &queues.writes,
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
}

impl<T, J: Job> StorePool<T, J> {
    /// Requests waiting for a thread (not counting those being run).
    pub fn queue_depth(&self) -> usize {
        self.queues
            .as_ref()
            .map_or(0, |q| q.reads.len() + q.writes.len())
    }

    /// DB threads (each holds its own connection to the database).
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    fn stop_and_join(&mut self) {
        // crossbeam hands out what is still queued after the last sender goes, and only then
        // reports the channel closed, so the threads drain the queues before they exit. A
        // database that hangs must not hang the shutdown: past SHUTDOWN_WAIT the threads are
        // left behind (the process is about to exit), with a log line.
        self.queues = None;
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut finished = 0;
        while finished < self.threads.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.finished.recv_timeout(left) {
                Ok(()) => finished += 1,
                Err(_) => break,
            }
        }
        if finished < self.threads.len() {
            log::error!(
                "store: {} DB thread(s) still busy after {} s; not waiting for them",
                self.threads.len() - finished,
                SHUTDOWN_WAIT.as_secs()
            );
            self.threads.clear();
            return;
        }
        for handle in self.threads.drain(..) {
            if handle.join().is_err() {
                log::error!("store: a DB thread panicked outside a request");
            }
        }
    }
}

impl<T, J: Job> Drop for StorePool<T, J> {
    /// Dropping without `shutdown` still drains and joins: queued writes are never abandoned.
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The next request from any of `queues`; `None` once every one is closed and empty.
fn next<T, J>(queues: &[Receiver<Queued<T, J>>]) -> Option<Queued<T, J>> {
    if let [only] = queues {
        return only.recv().ok();
    }
    let mut open: Vec<&Receiver<Queued<T, J>>> = queues.iter().collect();
    while !open.is_empty() {
        let mut select = crossbeam_channel::Select::new();
        for rx in &open {
            select.recv(rx);
        }
        let ready = select.select();
        let index = ready.index();
        let rx = open.get(index)?;
        match ready.recv(rx) {
            Ok(queued) => return Some(queued),
            // That queue is closed and drained; serve the others until they are too.
            Err(_) => {
                open.remove(index);
            }
        }
    }
    None
}

/// The next request already waiting in any of `queues`, without waiting.
fn waiting<T, J>(queues: &[Receiver<Queued<T, J>>]) -> Option<Queued<T, J>> {
    queues.iter().find_map(|rx| rx.try_recv().ok())
}

fn serve<T: Copy + std::fmt::Debug, J: Job>(
    mut store: Box<dyn Store>,
    queues: &[Receiver<Queued<T, J>>],
    reply: &(dyn Fn(StoreResponse<T, J::Reply>) + Send + Sync),
    counters: &Counters,
) {
    // A request taken from the queue while gathering a batch, which it could not join.
    let mut carried = None;
    while let Some(first) = carried.take().or_else(|| next(queues)) {
        if !first.request.op.batchable() {
            let answered = run_alone(store.as_mut(), first);
            send::<T, J>(answered, reply, counters);
            continue;
        }
        // Group commit: every batchable write already waiting joins this one.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting(queues) {
                Some(q) if q.request.op.batchable() => batch.push(q),
                Some(q) => {
                    carried = Some(q);
                    break;
                }
                None => break,
            }
        }
        for answered in run_batch(store.as_mut(), batch) {
            send::<T, J>(answered, reply, counters);
        }
    }
}

/// A request run, and when it was submitted.
struct Answered<T, R> {
    target: T,
    reply: R,
    submitted: Instant,
}

/// Runs one request on its own (its writes commit by themselves).
fn run_alone<T: Copy + std::fmt::Debug, J: Job>(
    store: &mut dyn Store,
    queued: Queued<T, J>,
) -> Answered<T, J::Reply> {
    let Queued { request, submitted } = queued;
    let StoreRequest { target, op } = request;
    Answered {
        target,
        reply: run_guarded(store, target, &op, submitted),
        submitted,
    }
}

/// Runs `op`, unless it waited too long; a panic inside is an error reply, not a dead thread.
fn run_guarded<T: std::fmt::Debug, J: Job>(
    store: &mut dyn Store,
    target: T,
    op: &J,
    submitted: Instant,
) -> J::Reply {
    if submitted.elapsed() > MAX_QUEUE_WAIT {
        // The database has been stuck: answer "busy" now rather than later still.
        return op.failed(StoreError::Busy);
    }
    // A panic inside a backend (a bug, not bad data: bad data is Corrupt) must neither kill
    // this thread nor leave the connection that asked waiting for an answer.
    catch_unwind(AssertUnwindSafe(|| op.run(store))).unwrap_or_else(|_| {
        log::error!("store: request for {target:?} panicked; answering with an error");
        op.failed(StoreError::Panicked)
    })
}

/// Runs `batch` in one group commit and answers each request after the commit, so nobody
/// hears of a write that is not on disk. A write that fails alone keeps its own error; a
/// commit that fails fails them all. One request alone needs no batch.
fn run_batch<T: Copy + std::fmt::Debug, J: Job>(
    store: &mut dyn Store,
    batch: Vec<Queued<T, J>>,
) -> Vec<Answered<T, J::Reply>> {
    if batch.len() == 1 || store.begin_batch().is_err() {
        // Without a batch (one request, or the transaction cannot begin) each runs alone and
        // meets whatever is wrong itself.
        return batch
            .into_iter()
            .map(|queued| run_alone(store, queued))
            .collect();
    }
    let ran: Vec<(J, Answered<T, J::Reply>)> = batch
        .into_iter()
        .map(|Queued { request, submitted }| {
            let StoreRequest { target, op } = request;
            let reply = run_guarded(store, target, &op, submitted);
            (
                op,
                Answered {
                    target,
                    reply,
                    submitted,
                },
            )
        })
        .collect();
    // A database error inside may have rolled back more than its write (InnoDB rolls a whole
    // transaction back on a deadlock; SQLite on a full disk): then none of the batch is sure
    // to be there, and none is told it is.
    let spoiled = ran
        .iter()
        .find_map(|(_, answered)| J::spoils_batch(&answered.reply).then_some(()));
    let ended = match spoiled {
        None => store.end_batch(BatchEnd::Commit),
        Some(()) => {
            let _ = store.end_batch(BatchEnd::Abandon);
            Err(StoreError::Backend(BackendError::new(
                BackendErrorKind::Other,
                "a write in it failed in the database, so the batch was rolled back",
                None,
            )))
        }
    };
    match ended {
        Ok(()) => ran.into_iter().map(|(_, answered)| answered).collect(),
        Err(e) => {
            log::error!("store: a group commit of {} writes failed: {e}", ran.len());
            ran.into_iter()
                .map(|(op, answered)| Answered {
                    reply: op.failed(commit_failed(&e)),
                    ..answered
                })
                .collect()
        }
    }
}

/// Each write's error when the group commit it was in failed.
fn commit_failed(e: &StoreError) -> StoreError {
    let kind = e.backend_kind().unwrap_or(BackendErrorKind::Other);
    StoreError::Backend(BackendError::new(
        kind,
        format!("the group commit failed: {e}"),
        None,
    ))
}

/// Counts an answer and hands it to the reply sink.
fn send<T: Copy + std::fmt::Debug, J: Job>(
    answered: Answered<T, J::Reply>,
    reply: &(dyn Fn(StoreResponse<T, J::Reply>) + Send + Sync),
    counters: &Counters,
) {
    let Answered {
        target,
        reply: reply_value,
        submitted,
    } = answered;
    if J::is_failure(&reply_value) {
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

/// The account a logon names, with the lockout as it stands for the logon's address.
fn load_account(
    store: &mut dyn Store,
    name: &AccountName,
    peer: IpAddr,
    now: i64,
) -> Result<Option<AccountRecord>, StoreError> {
    let Some(mut account) = store.load_account(name)? else {
        return Ok(None);
    };
    account.lockout = store.lockout_standing(account.id, peer, now)?;
    Ok(Some(account))
}

/// [`StoreOp::RecordConsoleLogin`].
fn record_console_login(
    store: &mut dyn Store,
    attempt: &LoginAttempt,
    lockout: &LockoutPolicy,
    totp_step: Option<TotpStep>,
) -> Result<FailureRecorded, StoreError> {
    let (Some(step), Some(account)) = (totp_step, attempt.account) else {
        return store.record_login_failure(attempt, lockout);
    };
    match store.use_totp_step(account, step) {
        Ok(()) => store.record_login_failure(attempt, lockout),
        Err(StoreError::TokenReused) => {
            let replayed = LoginAttempt {
                outcome: LoginOutcome::ConsoleWrongToken,
                ..attempt.clone()
            };
            store.record_login_failure(&replayed, lockout)?;
            Err(StoreError::TokenReused)
        }
        Err(e) => Err(e),
    }
}

fn execute(store: &mut dyn Store, op: &StoreOp) -> StoreReply {
    match op {
        StoreOp::LoadAccount { name, peer, now } => {
            StoreReply::AccountLoaded(load_account(store, name, *peer, *now))
        }
        StoreOp::RecordLoginFailure { attempt, lockout } => {
            StoreReply::LoginFailureRecorded(store.record_login_failure(attempt, lockout))
        }
        StoreOp::RecordConsoleLogin {
            attempt,
            lockout,
            totp_step,
        } => StoreReply::LoginFailureRecorded(record_console_login(
            store, attempt, lockout, *totp_step,
        )),
        StoreOp::RecordLoginSuccess {
            attempt,
            key,
            expires_at,
            totp_step,
        } => StoreReply::LoginSuccessRecorded(store.record_login_success(
            attempt,
            key,
            *expires_at,
            *totp_step,
        )),
        StoreOp::LoadRealms => StoreReply::RealmsLoaded(store.load_realms()),
        StoreOp::TakeSession {
            name,
            realm,
            now,
            proof,
        } => StoreReply::SessionTaken(store.take_session(name, *realm, *now, proof.as_ref())),
        StoreOp::RenewSession {
            attempt,
            expires_at,
        } => StoreReply::SessionRenewed(store.renew_session(attempt, *expires_at)),
        StoreOp::LoadLinkKey { realm } => StoreReply::LinkKeyLoaded(store.realm_link_key(*realm)),
        StoreOp::LoadIpBans { now } => StoreReply::IpBansLoaded(store.ip_bans(*now)),
        StoreOp::PruneAudit { before } => StoreReply::AuditPruned(store.prune_audit(*before)),
        StoreOp::SetCharacterCounts { realm, counts } => {
            StoreReply::CharacterCountsSet(store.set_character_counts(*realm, counts))
        }
    }
}

#[cfg(test)]
mod tests;
