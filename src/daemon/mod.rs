//! The daemon: gatehouse's handler on the event loop. A thin router over four connection
//! tables and one [`Services`] value.
//!
//! - `listeners`: the listening sockets (accept, retry, the descriptor budget);
//! - `table`: [`table::ConnTable`], the lifecycle every kind of connection shares — accept,
//!   read, hand to the kind, apply its answer, deadline, flush, close, reap — written once;
//! - `clients`, `links`, `consoles`, `scrapes`: the kinds (game clients, realm links,
//!   operators, monitoring systems on `/metrics`), each a [`table::Kind`] that says what its
//!   bytes, replies and timers mean;
//! - `services`: what the kinds use (store, I/O and hashing pools, policies, registry,
//!   realm-list cache, patches, settings, counters, signals, the log's flood control);
//! - `service`: Unix signals and systemd notify; `signals`: notifications for observers.
//!
//! Where a packet goes: a readiness event names a table and a connection by its token → the
//! table reads the socket and hands the input ring to the kind → the kind's state answers,
//! encoding its reply into the output ring → the table sends the store request that travels
//! with the answer and queues the output → the flush step writes it. The store's reply comes
//! back through the inbox as [`Msg::Store`], and the router hands it to the table its
//! [`Target`] names; a reply for a connection that has gone is dropped by the generation check.

mod clients;
mod consoles;
mod counters;
mod error;
mod links;
mod listeners;
mod message;
mod scrapes;
mod service;
mod services;
mod signals;
mod stats_view;
mod table;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::event::Event as Readiness;

use crate::config::Config;
use crate::console::ConsoleSession;
use crate::event_loop::{due_after, fixed_index, ConnToken, Ctx, EventLoop, Handler, InboxSender};
use crate::io_worker::{IoPool, IoReply, IoRequest};
use crate::net::connection::Standing;
use crate::net::CloseReason;
use crate::policy::{Observation, Policies};
use crate::realms::link::server::LinkSession;
use crate::realms::registry::RealmRegistry;
use crate::session::ClientSession;
use crate::store::sqlite::{SqliteStore, WriteTurns};
use crate::store::{self, Store, StoreError, StoreLocation};

pub use counters::Counters;
pub use error::DaemonError;
use listeners::{Accepted, ListenerKind, Listeners};
pub use message::{DbJob, DbReply, Msg, Target, Tick, Timer};
use scrapes::Scrape;
use service::Service;
use services::{DbPool, Services};
pub use table::Buffers;
use table::{Call, ConnTable, Event};

/// How soon a listener is tried again after an accept failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// How long a DB thread's write waits for another process's write lock before "busy": with
/// the queue's own bound (`store::worker::MAX_QUEUE_WAIT`) a client hears within seconds.
const POOL_BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a drain looks at what is left.
const DRAIN_STEP: Duration = Duration::from_millis(20);
/// How often audit rows older than `audit.keep_days` are deleted (and once at start).
const PRUNE_AUDIT_EVERY: Duration = Duration::from_secs(3600);

pub struct Daemon {
    listeners: Listeners,
    /// Listeners with a retry timer pending.
    retrying: Vec<usize>,
    clients: ConnTable<ClientSession>,
    links: ConnTable<LinkSession>,
    consoles: ConnTable<ConsoleSession>,
    scrapes: ConnTable<Scrape>,
    svc: Services,
    service: Service,
}

/// A running daemon's remote control, for tests and signal handling.
#[derive(Clone)]
pub struct DaemonHandle {
    sender: InboxSender<Msg>,
}

impl DaemonHandle {
    pub fn shutdown(&self) {
        // The loop is gone already if this fails: nothing left to stop.
        let _ = self.sender.post(Msg::Shutdown);
    }

    /// Begins the drain, as SIGTERM does.
    pub fn drain(&self) {
        let _ = self.sender.post(Msg::Drain);
    }

    /// The daemon's counters, asked through the inbox (blocking the caller, never the loop).
    pub fn counters(&self, timeout: Duration) -> Option<Counters> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.sender.post(Msg::Counters(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Each game client's standing and ring sizes: what its buffers cost.
    pub fn client_buffers(&self, timeout: Duration) -> Option<Vec<(Standing, Buffers)>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.sender.post(Msg::ClientBuffers(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }
}

impl Daemon {
    /// Opens the store, binds every listener and prepares the loop. Nothing is served until
    /// [`Daemon::run`].
    pub fn start(mut config: Config) -> Result<(EventLoop<Msg>, Daemon), DaemonError> {
        listeners::fit_connections_to_fd_limit(&mut config);
        let mut event_loop = EventLoop::new(1024)?;

        // A config built in code has not been through Config::parse: an AzerothCore schema on
        // an SQLite file must fail here, not silently open gatehouse's own tables.
        config.store.validate()?;
        config.metrics.validate()?;
        let location = config.store.location();
        let password = match location {
            StoreLocation::Mysql { .. } => config.store.password()?,
            StoreLocation::Sqlite(_) => None,
        };
        // Display leaves a password in a URL out.
        log::info!("store: {location}");
        // The realm list is read once before serving, so the first client already sees it.
        let (initial_realms, ip_bans) = {
            let mut store = store::open(&location, password.as_deref(), store::Create::IfMissing)?;
            let off = store.features_off();
            if !off.is_empty() {
                let list: Vec<&str> = off.iter().map(|f| f.as_str()).collect();
                log::warn!(
                    "store: gatehouse's own tables (gatehouse_*) are not in this database, so \
                     these are off: {}; players log in without them. `gatehouse db init` (with \
                     the same --db and --schema) creates them",
                    list.join(", ")
                );
            }
            let now = crate::event_loop::unix_seconds();
            (store.load_realms()?, store.ip_bans(now)?)
        };
        // Test-only: a slow database on purpose (store::test_delay); None unless set.
        let delay = store::test_delay::from_env()?;
        if let Some(delay) = delay {
            log::warn!(
                "store: every DB-thread call sleeps {} ms first ({}, test-only)",
                delay.as_millis(),
                store::test_delay::ENV
            );
        }
        // SQLite's DB threads take turns to write (see WriteTurns); a server queues its own.
        let open: Box<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync> = match location
        {
            StoreLocation::Sqlite(path) => {
                let turns = WriteTurns::default();
                Box::new(move || {
                    let store = SqliteStore::open_with_turns(&path, turns.clone())?;
                    store.set_busy_timeout(POOL_BUSY_TIMEOUT)?;
                    Ok(store::test_delay::wrap(Box::new(store), delay))
                })
            }
            location @ StoreLocation::Mysql { .. } => {
                let totp_key = config.totp.key.clone();
                let totp_master = config.store.totp_master_secret.clone();
                Box::new(move || {
                    let store = store::open_with_totp_key(
                        &location,
                        password.as_deref(),
                        totp_key.as_ref(),
                        totp_master.as_ref(),
                    )?;
                    Ok(store::test_delay::wrap(store, delay))
                })
            }
        };
        let sender = event_loop.sender();
        let store = DbPool::start(
            config.store.threads,
            config.store.queue,
            open,
            move |response| {
                // The loop has stopped if this fails; the reply has nobody to go to.
                let _ = sender.post(Msg::Store(response));
            },
        )?;
        let io_sender = event_loop.sender();
        let io = IoPool::start("io", 4096, move |reply| {
            let _ = io_sender.post(Msg::Io(reply));
        })?;
        // Console password checks get a thread of their own: a PBKDF2 takes tens of
        // milliseconds, which neither a patch read nor a logon's DB thread should wait for.
        // Each console has at most one check in flight.
        let hash_sender = event_loop.sender();
        let hashing = IoPool::start("hash", consoles::MAX_CONSOLES, move |reply| {
            let _ = hash_sender.post(Msg::Io(reply));
        })?;
        io.submit(IoRequest::Index {
            dir: config.patches.dir.clone(),
        })?;

        let listeners = Listeners::bind(&config, event_loop.registry())?;
        let mut registry =
            RealmRegistry::new(Duration::from_secs(config.link.heartbeat_timeout_secs));
        registry.set_configured(initial_realms);
        let mut policies = Policies::from_config(&config);
        policies.observe(&Observation::IpBans(&ip_bans));
        let refresh = Duration::from_secs(config.realms.refresh_secs);
        let daemon = Daemon {
            listeners,
            retrying: Vec::new(),
            clients: ConnTable::default(),
            links: ConnTable::default(),
            consoles: ConnTable::default(),
            scrapes: ConnTable::default(),
            svc: Services::new(
                config,
                registry,
                policies,
                services::Pools { store, io, hashing },
            ),
            service: Service::default(),
        };
        event_loop.send_at(
            due_after(Instant::now(), refresh),
            Msg::Tick(Tick::RefreshRealms),
        );
        event_loop.send_at(Instant::now(), Msg::Tick(Tick::SweepRealms));
        event_loop.send_at(Instant::now(), Msg::Tick(Tick::PruneAudit));
        Ok((event_loop, daemon))
    }

    /// Where game clients connect (the bound addresses, so port 0 shows its real port).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.addrs(ListenerKind::Game)
    }

    /// Where world servers connect.
    pub fn link_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.addrs(ListenerKind::Link)
    }

    /// Where operators connect.
    pub fn console_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.addrs(ListenerKind::Console)
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.addrs(ListenerKind::Metrics)
    }

    pub fn handle(event_loop: &EventLoop<Msg>) -> DaemonHandle {
        DaemonHandle {
            sender: event_loop.sender(),
        }
    }

    /// A snapshot of the counters, with the policies' refusals.
    pub fn counters(&self) -> Counters {
        self.svc.counters()
    }

    /// Takes SIGTERM, SIGINT and SIGHUP on the loop and speaks to systemd if it listens.
    /// Call once, before `run`.
    pub fn serve_as_service(
        &mut self,
        event_loop: &EventLoop<Msg>,
        source: crate::config::ConfigSource,
    ) -> Result<(), DaemonError> {
        self.service.serve(event_loop, source)
    }

    /// Asks the I/O thread to read the config file again (as SIGHUP does).
    pub fn reload(&mut self) {
        self.service.reload(&self.svc);
    }

    /// Serves until shut down, then finishes every queued store write.
    pub fn run(mut self, event_loop: &mut EventLoop<Msg>) -> Result<(), DaemonError> {
        for (addr, kind) in self.listeners.describe() {
            match kind {
                ListenerKind::Game => log::info!("listening on {addr}"),
                ListenerKind::Link => log::info!("listening on {addr} (realm link)"),
                ListenerKind::Console => log::info!("listening on {addr} (console)"),
                ListenerKind::Metrics => log::info!("listening on {addr} (metrics)"),
            }
        }
        self.service
            .started(event_loop, &self.svc, self.clients.len());
        let result = event_loop.run(&mut self);
        let registry = event_loop.registry();
        self.clients.clear(registry);
        self.links.clear(registry);
        self.consoles.clear(registry);
        self.scrapes.clear(registry);
        self.svc.shutdown();
        log::info!("stopped");
        result.map_err(DaemonError::from)
    }

    /// Accepts what listener `index` has waiting, into the table of its kind.
    fn accept(&mut self, cx: &mut Ctx<'_, Msg>, index: usize) {
        let Some(kind) = self.listeners.kind(index) else {
            return;
        };
        loop {
            match self.listeners.next(index) {
                Accepted::Conn(socket, peer) => match kind {
                    ListenerKind::Game => self.clients.accept(cx, &mut self.svc, socket, peer),
                    ListenerKind::Link => self.links.accept(cx, &mut self.svc, socket, peer),
                    ListenerKind::Console => self.consoles.accept(cx, &mut self.svc, socket, peer),
                    ListenerKind::Metrics => self.scrapes.accept(cx, &mut self.svc, socket, peer),
                },
                Accepted::Drained => return,
                Accepted::Shed => self.svc.warn(
                    cx.now(),
                    "accept shed",
                    format_args!(
                        "out of descriptors: a connection was accepted and closed at once \
                         (raise LimitNOFILE or lower limits.max_connections)"
                    ),
                ),
                Accepted::Retry(e) => {
                    self.svc.warn(
                        cx.now(),
                        "accept failed",
                        format_args!("accept failed: {e}; trying again shortly"),
                    );
                    if !self.retrying.contains(&index) {
                        self.retrying.push(index);
                        cx.send_after(ACCEPT_RETRY, Msg::Tick(Tick::RetryAccept(index)));
                    }
                    return;
                }
            }
        }
    }

    /// What `stats` and `/metrics` read beside the services.
    fn stats_view<'a>(&'a self, cx: &'a Ctx<'_, Msg>) -> stats_view::StatsView<'a> {
        stats_view::StatsView {
            clients: &self.clients,
            links: self.links.len(),
            consoles: self.consoles.len(),
            scrapes: self.scrapes.len(),
            now: cx.now(),
            unix_now: cx.unix_now(),
            loop_stats: cx.loop_stats(),
            inbox_depth: cx.inbox_depth(),
        }
    }

    /// Answers the scrapes that asked for the page.
    fn run_scrapes(&mut self, cx: &mut Ctx<'_, Msg>) {
        for (token, _) in self.scrapes.take_calls() {
            let snapshot = scrapes::snapshot(&self.stats_view(cx), &self.svc);
            let answer = scrapes::answer(snapshot, &mut self.svc);
            let max = scrapes::MAX_PAGE;
            if !self.scrapes.push_answer(cx, token, &answer, max) {
                log::error!("metrics: the page is over {max} bytes; answered 503");
                let refusal =
                    crate::metrics::http::refusal(crate::metrics::http::Status::Unavailable);
                self.scrapes.push_answer(cx, token, &refusal, max);
            }
            if let Some(scrape) = self.scrapes.session_mut(token) {
                scrape.answered();
            }
            // Closes it once the answer is written.
            self.scrapes.handle(cx, &mut self.svc, token, Event::Input);
        }
    }

    /// Runs the console calls the consoles made, and answers each on its console.
    fn run_calls(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.run_scrapes(cx);
        for (token, call) in self.consoles.take_calls() {
            let text = match call {
                Call::Stats => consoles::stats_text(self.stats_view(cx), &self.svc),
                Call::Metrics => continue,
                Call::Conns => consoles::conns_text(&self.clients, cx.now()),
                Call::Realms => consoles::realms_text(&self.svc),
                Call::Kick(target) => {
                    let n = self.clients.close_where(&CloseReason::Kicked, |c| {
                        consoles::kick_matches(&c.session, &target)
                    });
                    format!("kicked {n} connection(s)\n")
                }
                Call::Reload if self.service.can_reload() => {
                    self.service.reload(&self.svc);
                    "reloading the config file (the log says how it went)\n".to_string()
                }
                Call::Reload => "no --config file to reload\n".to_string(),
                Call::Shutdown => {
                    let bytes = consoles::telnet_text("shutting down\n");
                    self.consoles.push_output(cx, token, &bytes);
                    self.begin_drain(cx);
                    continue;
                }
            };
            let bytes = consoles::telnet_text(&format!("{text}{}", consoles::PROMPT));
            self.consoles.push_output(cx, token, &bytes);
            // Lines typed after the command may wait in the ring.
            self.consoles.handle(cx, &mut self.svc, token, Event::Input);
        }
    }

    /// A store reply, to the table its target names.
    fn route_reply(&mut self, cx: &mut Ctx<'_, Msg>, target: Target, reply: DbReply) {
        let svc = &mut self.svc;
        match target {
            Target::Client(t) => self.clients.handle(cx, svc, t, Event::Reply(reply)),
            Target::Link(t) => self.links.handle(cx, svc, t, Event::Reply(reply)),
            Target::Console(t) => self.consoles.handle(cx, svc, t, Event::Reply(reply)),
            Target::Scrape(t) => self.scrapes.handle(cx, svc, t, Event::Reply(reply)),
            Target::Daemon => svc.on_own_reply(cx.now(), reply),
        }
    }

    fn route_timer(&mut self, cx: &mut Ctx<'_, Msg>, target: Target, timer: Timer) {
        let svc = &mut self.svc;
        match target {
            Target::Client(t) => self.clients.on_timer(cx, svc, t, timer),
            Target::Link(t) => self.links.on_timer(cx, svc, t, timer),
            Target::Console(t) => self.consoles.on_timer(cx, svc, t, timer),
            Target::Scrape(t) => self.scrapes.on_timer(cx, svc, t, timer),
            Target::Daemon => {}
        }
    }

    fn on_io(&mut self, cx: &mut Ctx<'_, Msg>, reply: IoReply<Target>) {
        match reply {
            IoReply::Indexed(Ok(index)) => {
                log::info!("patches: {} indexed", index.len());
                self.svc.patches = index;
            }
            IoReply::Indexed(Err(e)) => log::error!("patches: {e}"),
            IoReply::ConfigLoaded(loaded) => self.service.on_config_loaded(
                &mut self.svc,
                loaded,
                cx.unix_now(),
                self.clients.len(),
            ),
            IoReply::Chunk {
                target: Target::Client(token),
                offset,
                data,
            } => self
                .clients
                .handle(cx, &mut self.svc, token, Event::Chunk { offset, data }),
            IoReply::Chunk { .. } => {}
            IoReply::CredentialChecked {
                target: Target::Console(token),
                verdict,
            } => self
                .consoles
                .handle(cx, &mut self.svc, token, Event::CredentialChecked(verdict)),
            IoReply::CredentialChecked { .. } => {}
        }
    }

    fn on_tick(&mut self, cx: &mut Ctx<'_, Msg>, tick: Tick) {
        match tick {
            Tick::RefreshRealms => {
                self.svc.refresh(cx.unix_now());
                let every = Duration::from_secs(self.svc.config.realms.refresh_secs);
                cx.send_after(every, Msg::Tick(Tick::RefreshRealms));
            }
            Tick::SweepRealms => {
                if self.svc.registry.expire(cx.now()) == crate::realms::registry::Change::Changed {
                    self.svc.signals.raise(signals::Signal::RealmListChanged);
                }
                self.svc.flush_log(cx.now());
                cx.send_after(Duration::from_secs(1), Msg::Tick(Tick::SweepRealms));
            }
            Tick::PruneAudit => {
                self.svc.prune_audit(cx.unix_now());
                cx.send_after(PRUNE_AUDIT_EVERY, Msg::Tick(Tick::PruneAudit));
            }
            Tick::RetryAccept(index) => {
                self.retrying.retain(|i| *i != index);
                self.accept(cx, index);
            }
            Tick::Watchdog => self.service.on_watchdog(cx),
            Tick::Status => self.service.on_status(cx, &self.svc, self.clients.len()),
            Tick::DrainStep => self.drain_step(cx),
        }
    }

    /// SIGTERM/SIGINT: close the listening sockets, close at once every client with no logon
    /// in flight, let those in flight finish (bounded by `timeouts.drain_secs`), then stop;
    /// `run` then lets the store finish every queued write.
    fn begin_drain(&mut self, cx: &mut Ctx<'_, Msg>) {
        let drain = self.svc.config.timeouts.drain();
        if self.service.begin_drain(cx.now(), drain).is_none() {
            return;
        }
        log::info!(
            "shutting down: draining logons in flight for at most {} s",
            drain.as_secs()
        );
        self.listeners.close_all(cx.registry());
        self.drain_step(cx);
    }

    /// Closes what is done, and stops once nothing is in flight (or the drain time is up).
    fn drain_step(&mut self, cx: &mut Ctx<'_, Msg>) {
        let Some(until) = self.service.draining else {
            return;
        };
        let out_of_time = cx.now() >= until;
        let mut in_flight = 0;
        self.clients.close_where(&CloseReason::Shutdown, |conn| {
            let busy = !out_of_time
                && conn
                    .session
                    .in_flight(conn.standing, !conn.input.is_empty());
            if busy {
                in_flight += 1;
                return false;
            }
            !conn.has_output() || out_of_time
        });
        let pending_output = self
            .clients
            .iter()
            .any(|(_, c)| c.closing.is_none() && c.has_output());
        if in_flight == 0 && (!pending_output || out_of_time) {
            log::info!("drained");
            cx.stop();
        } else {
            cx.send_after(DRAIN_STEP, Msg::Tick(Tick::DrainStep));
        }
    }
}

impl Handler<Msg> for Daemon {
    fn on_message(&mut self, cx: &mut Ctx<'_, Msg>, message: Msg) {
        match message {
            Msg::Store(response) => {
                self.svc.counters.store_latency.record(response.latency);
                self.route_reply(cx, response.target, response.reply)
            }
            Msg::Io(reply) => self.on_io(cx, reply),
            Msg::Timer(target, timer) => self.route_timer(cx, target, timer),
            Msg::Tick(tick) => self.on_tick(cx, tick),
            Msg::Drain => self.begin_drain(cx),
            Msg::Counters(reply) => {
                let _ = reply.try_send(self.svc.counters());
            }
            Msg::ClientBuffers(reply) => {
                let _ = reply.try_send(self.clients.buffers());
            }
            Msg::Shutdown => {
                log::info!("shutting down");
                cx.stop();
            }
        }
        self.run_calls(cx);
    }

    fn on_event(&mut self, cx: &mut Ctx<'_, Msg>, event: &Readiness) {
        let token = event.token();
        if token == service::SIGNALS {
            for request in self.service.pending() {
                match request {
                    service::Request::Drain => self.begin_drain(cx),
                    service::Request::Reload => self.service.reload(&self.svc),
                }
            }
            return;
        }
        if let Some(index) = fixed_index(token, self.listeners.len()) {
            self.accept(cx, index);
            return;
        }
        let Some((table, conn)) = ConnToken::from_mio(token) else {
            return;
        };
        let svc = &mut self.svc;
        match table {
            <ClientSession as table::Kind>::TABLE => self.clients.on_ready(cx, svc, conn, event),
            <LinkSession as table::Kind>::TABLE => self.links.on_ready(cx, svc, conn, event),
            <ConsoleSession as table::Kind>::TABLE => self.consoles.on_ready(cx, svc, conn, event),
            <Scrape as table::Kind>::TABLE => self.scrapes.on_ready(cx, svc, conn, event),
            _ => {}
        }
        self.run_calls(cx);
    }

    fn flush(&mut self, cx: &mut Ctx<'_, Msg>) {
        // Answers to calls made during the pass go out in this flush, not the next pass's.
        self.run_calls(cx);
        self.clients.flush(cx, &mut self.svc);
        self.links.flush(cx, &mut self.svc);
        self.consoles.flush(cx, &mut self.svc);
        self.scrapes.flush(cx, &mut self.svc);
        self.run_calls(cx);
    }

    fn reap(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.clients.reap(cx, &mut self.svc);
        self.links.reap(cx, &mut self.svc);
        self.consoles.reap(cx, &mut self.svc);
        self.scrapes.reap(cx, &mut self.svc);
    }

    fn settle(&mut self, _cx: &mut Ctx<'_, Msg>) {
        self.svc.dispatch_signals();
    }
}
