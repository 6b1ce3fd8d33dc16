//! What the connection kinds use besides their own connection: the store, I/O and hashing
//! pools, the
//! policies, the realm registry and the realm-list cache, the patch index, the settings,
//! counters, the signal queue and the log's flood control. One value, owned by the router and
//! lent to one connection at a time, so a kind borrows plain fields and nothing else.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::console::login::CredentialCheck;
use crate::io_worker::{IoError, IoPool, IoRequest};
use crate::log_throttle::LogThrottle;
use crate::patches::PatchIndex;
use crate::policy::{Observation, Policies};
use crate::realms::list_cache::RealmListCache;
use crate::realms::registry::{Change, RealmRegistry};
use crate::session::SessionSettings;
use crate::store::worker::{Job, StoreOp, StorePool, StoreReply, StoreStats};
use crate::store::StoreError;

use super::counters::Counters;
use super::message::{DbJob, DbReply, Target};
use super::signals::{Signal, SignalQueue};

/// How long one kind of repeated log line is summarised instead of repeated.
const LOG_WINDOW: Duration = Duration::from_secs(10);

pub type DbPool = StorePool<Target, DbJob>;

pub struct Services {
    pub config: Config,
    pub settings: SessionSettings,
    pub policies: Policies,
    pub registry: RealmRegistry,
    pub realms: RealmListCache,
    pub patches: PatchIndex,
    pub counters: Counters,
    pub signals: SignalQueue,
    pub started: Instant,
    pub log: LogThrottle,
    store: Option<DbPool>,
    io: Option<IoPool<Target>>,
    /// The thread that checks console passwords (see `console::login`).
    hashing: Option<IoPool<Target>>,
}

/// The pools the services own.
pub struct Pools {
    pub store: DbPool,
    pub io: IoPool<Target>,
    pub hashing: IoPool<Target>,
}

impl Services {
    pub fn new(config: Config, registry: RealmRegistry, policies: Policies, pools: Pools) -> Self {
        let Pools { store, io, hashing } = pools;
        let mut realms = RealmListCache::new();
        realms.replace(registry.visible());
        Services {
            settings: SessionSettings::from_config(&config),
            policies,
            registry,
            realms,
            patches: PatchIndex::default(),
            counters: Counters::default(),
            signals: SignalQueue::default(),
            started: Instant::now(),
            log: LogThrottle::new(LOG_WINDOW),
            store: Some(store),
            io: Some(io),
            hashing: Some(hashing),
            config,
        }
    }

    /// Sends a job to the DB threads. If they cannot take it (queue full, stopped), returns
    /// the reply its sender would have got, carrying the error, so it is answered at once
    /// (e.g. FAIL_DB_BUSY).
    pub fn submit(&mut self, target: Target, job: DbJob) -> Option<DbReply> {
        let Some(store) = &self.store else {
            return Some(job.failed(StoreError::Stopped));
        };
        let failed =
            store.submit_or_fail(crate::store::worker::StoreRequest { target, op: job })?;
        self.counters.store_busy += 1;
        Some(failed.reply)
    }

    /// Sends a request to the I/O thread. Never blocks.
    pub fn submit_io(&self, request: IoRequest<Target>) -> Result<(), IoError> {
        match &self.io {
            Some(io) => io.submit(request),
            None => Err(IoError::Stopped),
        }
    }

    /// Sends a console password to the hashing thread (never the loop, never a DB thread).
    /// Never blocks: a full queue is `Busy`.
    pub fn submit_check(&self, target: Target, check: CredentialCheck) -> Result<(), IoError> {
        match &self.hashing {
            Some(pool) => pool.submit(IoRequest::CheckCredential { target, check }),
            None => Err(IoError::Stopped),
        }
    }

    /// Store requests the daemon makes for itself: refreshes of realms and IP bans.
    pub fn refresh(&mut self, unix_now: i64) {
        for op in [StoreOp::LoadIpBans { now: unix_now }, StoreOp::LoadRealms] {
            if let Some(reply) = self.submit(Target::Daemon, DbJob::Login(op)) {
                if let Some(e) = reply.error() {
                    self.warn(
                        Instant::now(),
                        "refresh failed",
                        format_args!("cannot refresh realms or IP bans: {e}"),
                    );
                }
            }
        }
    }

    /// Deletes the audit rows older than `audit.keep_days` (none when it is 0).
    pub fn prune_audit(&mut self, unix_now: i64) {
        let Some(before) = self.config.audit.cutoff(unix_now) else {
            return;
        };
        let op = StoreOp::PruneAudit { before };
        if let Some(reply) = self.submit(Target::Daemon, DbJob::Login(op)) {
            self.on_own_reply(Instant::now(), reply);
        }
    }

    /// A reply to a request the daemon made for itself.
    pub fn on_own_reply(&mut self, now: Instant, reply: DbReply) {
        match reply {
            DbReply::Login(StoreReply::RealmsLoaded(Ok(realms))) => {
                if self.registry.set_configured(realms) == Change::Changed {
                    self.signals.raise(Signal::RealmListChanged);
                }
            }
            DbReply::Login(StoreReply::IpBansLoaded(Ok(bans))) => {
                self.policies.observe(&Observation::IpBans(&bans))
            }
            DbReply::Login(StoreReply::AuditPruned(Ok(gone))) => {
                if gone > 0 {
                    log::info!(
                        "audit: deleted {gone} rows older than {} days (audit.keep_days)",
                        self.config.audit.keep_days
                    );
                }
            }
            other => {
                if let Some(e) = other.error() {
                    self.error(now, "store", format_args!("store: {e}"));
                }
            }
        }
    }

    /// Runs the observers of every queued signal (the realm-list cache, the log): the last
    /// step of a pass.
    pub fn dispatch_signals(&mut self) {
        while let Some(signal) = self.signals.next() {
            match signal {
                Signal::RealmListChanged => {
                    if self.realms.replace(self.registry.visible()) {
                        log::info!("realm list changed: {} realms", self.realms.realms().len());
                    }
                }
                Signal::RealmOffline(realm) => {
                    log::warn!("{realm}: its link dropped: shown offline")
                }
            }
        }
    }

    /// A WARN line that any peer could repeat: the first of its kind in a window is logged in
    /// full, the rest are summarised.
    pub fn warn(&mut self, now: Instant, kind: &'static str, args: std::fmt::Arguments<'_>) {
        self.log.log(now, log::Level::Warn, kind, args);
    }

    pub fn error(&mut self, now: Instant, kind: &'static str, args: std::fmt::Arguments<'_>) {
        self.log.log(now, log::Level::Error, kind, args);
    }

    pub fn info(&mut self, now: Instant, kind: &'static str, args: std::fmt::Arguments<'_>) {
        self.log.log(now, log::Level::Info, kind, args);
    }

    /// Logs the summaries of log windows that have ended.
    pub fn flush_log(&mut self, now: Instant) {
        self.log.flush(now);
    }

    /// The DB pool's depth and counters, if it runs.
    pub fn store_stats(&self) -> Option<(usize, StoreStats)> {
        self.store.as_ref().map(|s| (s.queue_depth(), s.stats()))
    }

    /// A snapshot of the counters, with the policies' refusals.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.refused = self.policies.refused();
        c.realm_list = self.realms.stats();
        c
    }

    /// Stops the pools: every queued store write is finished first.
    pub fn shutdown(&mut self) {
        if let Some(store) = self.store.take() {
            store.shutdown();
        }
        if let Some(io) = self.io.take() {
            io.shutdown();
        }
        if let Some(hashing) = self.hashing.take() {
            hashing.shutdown();
        }
    }
}
