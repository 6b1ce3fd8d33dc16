//! What travels on the loop for the daemon: who a message is for ([`Target`]), the messages
//! themselves ([`Msg`]), the timers of connections and of the daemon, and the work the DB
//! threads do for it ([`DbJob`], answered by a [`DbReply`]). Every other part of the daemon
//! imports these; this module imports no other part of it but the counters.

use crate::admin::{self, AdminAnswer, AdminOp};
use crate::event_loop::ConnToken;
use crate::io_worker::IoReply;
use crate::store::worker::{Access, Job, StoreOp, StoreReply, StoreResponse};
use crate::store::{Store, StoreError};

use super::counters::Counters;
use crate::net::connection::Standing;
use crate::net::ring::Buffers;

/// Who a message is for: a connection of one of the tables, or the daemon itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Client(ConnToken),
    Link(ConnToken),
    Console(ConnToken),
    /// A metrics scrape (its deadline; it asks the store nothing).
    Scrape(ConnToken),
    Daemon,
}

/// A connection's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The deadline of its current state.
    Deadline,
    /// A wake-up it asked for (a rate limit ends, a retry is due).
    Wake,
}

/// The daemon's own timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Time to re-read the realm table and the IP bans.
    RefreshRealms,
    /// Time to look for linked realms whose heartbeats stopped (and to log summaries).
    SweepRealms,
    /// Time to delete audit rows older than `audit.keep_days`.
    PruneAudit,
    /// Time to try a listener again after an accept failed.
    RetryAccept(usize),
    /// Time to tell systemd's watchdog the loop is alive.
    Watchdog,
    /// Time to refresh systemd's STATUS= line.
    Status,
    /// Time to check whether the shutdown drain is over.
    DrainStep,
}

/// Everything the loop can be told.
pub enum Msg {
    /// A DB thread's reply, for a connection or for the daemon.
    Store(StoreResponse<Target, DbReply>),
    /// The I/O thread's answer (patch index, patch chunk, config file).
    Io(IoReply<Target>),
    Timer(Target, Timer),
    Tick(Tick),
    /// Stop accepting, let logons in flight finish, then stop (as SIGTERM does).
    Drain,
    /// Stop serving and return from `run`.
    Shutdown,
    /// A copy of the counters, for whoever asks (tests, the console).
    Counters(crossbeam_channel::Sender<Counters>),
    /// Each game client's standing and ring sizes, for whoever asks (tests, measurements).
    ClientBuffers(crossbeam_channel::Sender<Vec<(Standing, Buffers)>>),
}

/// Work for the DB threads: the login path's requests, and the operators' commands, which
/// call the store's administration API on a DB thread so the loop never waits for them.
#[derive(Debug)]
pub enum DbJob {
    Login(StoreOp),
    Admin(AdminOp),
}

/// A DB thread's answer to a [`DbJob`], variant for variant.
#[derive(Debug)]
pub enum DbReply {
    Login(StoreReply),
    Admin(Result<AdminAnswer, StoreError>),
}

impl DbReply {
    pub fn error(&self) -> Option<&StoreError> {
        match self {
            DbReply::Login(reply) => reply.error(),
            DbReply::Admin(result) => result.as_ref().err(),
        }
    }
}

impl Job for DbJob {
    type Reply = DbReply;

    fn access(&self) -> Access {
        match self {
            DbJob::Login(op) => op.access(),
            DbJob::Admin(op) => op.access(),
        }
    }

    fn batchable(&self) -> bool {
        // Operator commands commit on their own.
        matches!(self, DbJob::Login(op) if op.batchable())
    }

    fn run(&self, store: &mut dyn Store) -> DbReply {
        match self {
            DbJob::Login(op) => DbReply::Login(op.run(store)),
            DbJob::Admin(op) => DbReply::Admin(admin::run(store, op)),
        }
    }

    fn failed(&self, err: StoreError) -> DbReply {
        match self {
            DbJob::Login(op) => DbReply::Login(op.failed(err)),
            DbJob::Admin(_) => DbReply::Admin(Err(err)),
        }
    }

    fn is_failure(reply: &DbReply) -> bool {
        reply.error().is_some()
    }

    fn spoils_batch(reply: &DbReply) -> bool {
        reply.error().is_some_and(StoreError::spoils_batch)
    }
}
