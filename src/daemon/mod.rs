//! The daemon: gatehouse's handler on the event loop. It owns the listeners, the connection
//! table, the realm-list cache and the store pool's request side, and routes everything that
//! happens to the right connection's state.
//!
//! Where a packet goes: readable socket → [`Connection::fill_input`] → the state's opcode
//! table and the codec's `check` frame it in the input ring → the state handles it, encoding
//! its reply straight into the output ring and queueing store requests → the flush phase
//! writes the ring to the socket. Store replies come back through the inbox as
//! [`Msg::Store`] and go to the state of the connection they name; a reply for a connection
//! that has gone is dropped by the generation check.
//!
//! Beside the game clients: `links` serves world servers on the realm-link listener (their
//! frames go to `realms::link::server`), `service` handles Unix signals (drain, reload) and
//! systemd notify, `signals` queues the notifications observers react to (the realm-list
//! cache), and patch bytes for the `Update` state arrive from the I/O thread as [`Msg::Io`].

mod console;
mod counters;
mod links;
mod service;
mod signals;

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::Interest;

use crate::config::Config;
use crate::console::ConsoleSession;
use crate::event_loop::token::{listener_index, listener_token};
use crate::event_loop::{ConnToken, Ctx, EventLoop, Handler, InboxSender, Slots, Target};
use crate::io_worker::{IoError, IoPool, IoReply, IoRequest};
use crate::net::connection::{Connection, OutputSink, ReadOutcome};
use crate::patches::{PatchError, PatchIndex};
use crate::protocol::opcode::Opcode;
use crate::protocol::wire::Check;
use crate::realms::link::server::LinkSession;
use crate::realms::list_cache::RealmListCache;
use crate::realms::registry::{Change, RealmRegistry};
use crate::session::update::Reading;
use crate::session::{
    check_packet, ClientSession, CloseReason, Deadline, Input, SessionCx, SessionSettings, State,
    StateKind, Step, Update,
};
use crate::store::sqlite::{SqliteStore, WriteTurns};
use crate::store::worker::{StoreOp, StorePool, StoreReply, StoreRequest, StoreResponse};
use crate::store::IpBan;
use crate::store::{Store, StoreError};

pub use counters::Counters;
use signals::{Signal, SignalQueue};

/// Everything the loop can be told.
pub enum Msg {
    /// A store reply, for a connection or for the daemon.
    Store(StoreResponse),
    /// A connection's state deadline.
    Deadline(ConnToken),
    /// Time to re-read the realm table.
    RefreshRealms,
    /// Time to look for linked realms whose heartbeats stopped.
    SweepRealms,
    /// A realm link's deadline (authentication, or silence once linked).
    LinkDeadline(ConnToken),
    /// The I/O thread's answer (patch index, patch chunk).
    Io(IoReply),
    /// Try again to start the next patch read of a connection (the I/O queue was full).
    PumpTransfer(ConnToken),
    /// Stop serving and return from `run`.
    Shutdown,
    /// A console's idle deadline.
    ConsoleDeadline(ConnToken),
    /// A console may try to log in again (after a wrong password's delay).
    ConsoleRetry(ConnToken),
    /// Time to tell systemd's watchdog the loop is alive.
    Watchdog,
    /// Time to refresh systemd's STATUS= line.
    Status,
    /// Time to check whether the shutdown drain is over.
    DrainStep,
    /// A copy of the counters, for whoever asks (tests, the console).
    Counters(crossbeam_channel::Sender<Counters>),
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("event loop: {0}")]
    Loop(#[from] io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] IoError),
}

/// Why a connection's input handling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    /// No complete packet in the input ring.
    NeedInput,
    /// The answer would not fit the output ring yet.
    NeedOutputRoom,
    /// A store request is in flight.
    Held,
    /// The connection is closing.
    Closed,
}

/// Rounds of flushing per pass before what is left waits for its WRITABLE event.
const FLUSH_ROUNDS: usize = 4;

/// Bytes one connection may write per pass before the others get their turn.
pub(crate) const WRITE_BUDGET: usize = 256 * 1024;

/// What a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenerKind {
    /// Game clients.
    Game,
    /// World servers (the realm link).
    Link,
    /// Operators (the debug console).
    Console,
}

struct Listener {
    socket: TcpListener,
    addr: SocketAddr,
    kind: ListenerKind,
}

pub struct Daemon {
    config: Config,
    settings: SessionSettings,
    listeners: Vec<Listener>,
    conns: Slots<Connection<ClientSession>>,
    links: Slots<Connection<LinkSession>>,
    consoles: Slots<Connection<ConsoleSession>>,
    consoles_to_close: Vec<ConnToken>,
    ip_bans: Vec<IpBan>,
    started: Instant,
    store: Option<StorePool>,
    io: Option<IoPool>,
    patches: PatchIndex,
    registry: RealmRegistry,
    realms: RealmListCache,
    service: service::Service,
    signals: SignalQueue,
    to_flush: Vec<ConnToken>,
    to_close: Vec<ConnToken>,
    links_to_close: Vec<ConnToken>,
    store_ops: Vec<StoreOp>,
    counters: Counters,
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

    /// The daemon's counters, asked through the inbox (blocking the caller, never the loop).
    pub fn counters(&self, timeout: Duration) -> Option<Counters> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.sender.post(Msg::Counters(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Daemon {
    /// Opens the store, binds every listener and prepares the loop. Nothing is served until
    /// [`Daemon::run`].
    pub fn start(config: Config) -> Result<(EventLoop<Msg>, Daemon), DaemonError> {
        let mut event_loop = EventLoop::new(1024)?;
        let sender = event_loop.sender();

        // The realm list is read once before serving, so the first client already sees it.
        let (initial_realms, ip_bans) = {
            let mut store = SqliteStore::open(&config.store.path)?;
            (store.load_realms()?, store.ip_bans(unix_now())?)
        };
        let path = config.store.path.clone();
        let turns = WriteTurns::default();
        let store = StorePool::start(
            config.store.threads,
            config.store.queue,
            move || {
                SqliteStore::open_with_turns(&path, turns.clone())
                    .map(|s| Box::new(s) as Box<dyn Store>)
            },
            move |response| {
                // The loop has stopped if this fails; the reply has nobody to go to.
                let _ = sender.post(Msg::Store(response));
            },
        )?;

        let io_sender = event_loop.sender();
        let io = IoPool::start(4096, move |reply| {
            let _ = io_sender.post(Msg::Io(reply));
        })?;
        io.submit(IoRequest::Index {
            dir: config.patches.dir.clone(),
        })?;

        let mut listeners = Vec::new();
        let wanted = (config
            .server
            .listen
            .iter()
            .map(|a| (*a, ListenerKind::Game)))
        .chain(config.link.listen.iter().map(|a| (*a, ListenerKind::Link)))
        .chain(
            config
                .console
                .listen
                .iter()
                .map(|a| (*a, ListenerKind::Console)),
        );
        for (i, (addr, kind)) in wanted.enumerate() {
            let mut socket =
                TcpListener::bind(addr).map_err(|source| DaemonError::Bind { addr, source })?;
            let local = socket.local_addr()?;
            event_loop
                .registry()
                .register(&mut socket, listener_token(i), Interest::READABLE)?;
            listeners.push(Listener {
                socket,
                addr: local,
                kind,
            });
        }

        let settings = SessionSettings {
            accepted_builds: config.accepted_builds(),
            timeouts: config.timeouts.clone(),
            ticket_ttl: Duration::from_secs(config.sessions.ticket_ttl_secs),
            totp_key: config.totp.key.clone(),
        };
        let mut registry =
            RealmRegistry::new(Duration::from_secs(config.link.heartbeat_timeout_secs));
        registry.set_configured(initial_realms);
        let mut realms = RealmListCache::new(config.limits.output_buffer);
        realms.replace(registry.visible());
        let daemon = Daemon {
            realms,
            registry,
            service: service::Service::default(),
            signals: SignalQueue::default(),
            settings,
            listeners,
            conns: Slots::default(),
            links: Slots::default(),
            consoles: Slots::default(),
            consoles_to_close: Vec::new(),
            ip_bans,
            started: Instant::now(),
            store: Some(store),
            io: Some(io),
            patches: PatchIndex::default(),
            to_flush: Vec::new(),
            to_close: Vec::new(),
            links_to_close: Vec::new(),
            store_ops: Vec::new(),
            counters: Counters::default(),
            config,
        };
        let refresh = Duration::from_secs(daemon.config.realms.refresh_secs);
        event_loop.send_at(Instant::now() + refresh, Msg::RefreshRealms);
        event_loop.send_at(Instant::now(), Msg::SweepRealms);
        Ok((event_loop, daemon))
    }

    /// Where game clients connect (the bound addresses, so port 0 shows its real port).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listener_addrs(ListenerKind::Game)
    }

    /// Where world servers connect.
    pub fn link_addrs(&self) -> Vec<SocketAddr> {
        self.listener_addrs(ListenerKind::Link)
    }

    /// Where operators connect.
    pub fn console_addrs(&self) -> Vec<SocketAddr> {
        self.listener_addrs(ListenerKind::Console)
    }

    /// Whether `ip` is banned now (checked at accept, before any work).
    fn is_banned(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        let now = unix_now();
        self.ip_bans
            .iter()
            .any(|b| b.net.contains(&ip) && b.until.is_none_or(|u| u > now))
    }

    /// Re-reads the IP bans (after a console ban, and with every realm refresh).
    fn refresh_ip_bans(&mut self) {
        let op = StoreOp::LoadIpBans { now: unix_now() };
        if let Some(reply) = self.submit(Target::Daemon, op) {
            if let Some(e) = reply.error() {
                log::warn!("cannot re-read IP bans: {e}");
            }
        }
    }

    fn listener_addrs(&self, kind: ListenerKind) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.addr)
            .collect()
    }

    fn raise(&mut self, signal: Signal) {
        self.signals.raise(signal);
    }

    /// Runs the observers of every queued signal (the realm-list cache, the log).
    fn dispatch_signals(&mut self) {
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

    pub fn handle(event_loop: &EventLoop<Msg>) -> DaemonHandle {
        DaemonHandle {
            sender: event_loop.sender(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Serves until shut down, then finishes every queued store write.
    pub fn run(mut self, event_loop: &mut EventLoop<Msg>) -> Result<(), DaemonError> {
        for listener in &self.listeners {
            match listener.kind {
                ListenerKind::Game => log::info!("listening on {}", listener.addr),
                ListenerKind::Link => log::info!("listening on {} (realm link)", listener.addr),
                ListenerKind::Console => log::info!("listening on {} (console)", listener.addr),
            }
        }
        self.service_started(event_loop);
        let result = event_loop.run(&mut self);
        for token in self.conns.tokens() {
            if let Some(mut conn) = self.conns.remove(token) {
                conn.deregister(event_loop.registry());
            }
        }
        for token in self.links.tokens() {
            if let Some(mut conn) = self.links.remove(token) {
                conn.deregister(event_loop.registry());
            }
        }
        if let Some(store) = self.store.take() {
            store.shutdown();
        }
        if let Some(io) = self.io.take() {
            io.shutdown();
        }
        log::info!("stopped");
        result.map_err(DaemonError::from)
    }

    /// Sends a store request. If the store cannot take it, returns the reply the sender
    /// would have got, carrying the error, so the state answers at once (e.g. FAIL_DB_BUSY).
    fn submit(&mut self, target: Target, op: StoreOp) -> Option<StoreReply> {
        self.count_outcome(&op);
        let Some(store) = &self.store else {
            return Some(StoreReply::failed(&op, StoreError::Stopped));
        };
        let failed = store.submit_or_fail(StoreRequest { target, op })?;
        self.counters.store_busy += 1;
        Some(failed.reply)
    }

    /// Every logon outcome passes through here on its way to the audit table.
    fn count_outcome(&mut self, op: &StoreOp) {
        let outcome = match op {
            StoreOp::RecordLoginFailure(a) => a.outcome,
            StoreOp::RecordLoginSuccess { .. } => crate::store::LoginOutcome::Success,
            StoreOp::RenewSession { .. } => crate::store::LoginOutcome::ReconnectSuccess,
            _ => return,
        };
        self.counters.outcomes.record(outcome, unix_now());
    }

    /// The next connection waiting on listener `index`, until the kernel has none.
    fn next_accepted(&self, index: usize) -> Option<(TcpStream, SocketAddr)> {
        let listener = self.listeners.get(index)?;
        loop {
            match listener.socket.accept() {
                Ok(pair) => return Some(pair),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: the listener stays, try next time.
                    log::warn!("accept on {} failed: {e}", listener.addr);
                    return None;
                }
            }
        }
    }

    fn accept(&mut self, cx: &mut Ctx<'_, Msg>, index: usize) {
        while let Some((socket, peer)) = self.next_accepted(index) {
            if self.is_banned(peer.ip()) {
                self.counters.refused_banned += 1;
                log::debug!("{peer}: closed at accept: address banned");
                drop(socket);
                continue;
            }
            if self.conns.len() >= self.config.limits.max_connections {
                self.counters.refused_full += 1;
                log::debug!("{peer}: closed at accept: {}", CloseReason::ServerFull);
                drop(socket);
                continue;
            }
            let _ = socket.set_nodelay(true);
            let limits = &self.config.limits;
            let now = cx.now();
            let Some(token) = self.conns.insert_with(|_| {
                Connection::new(
                    socket,
                    ClientSession::new(peer),
                    limits.input_buffer,
                    limits.output_buffer,
                    now,
                )
            }) else {
                self.counters.refused_full += 1;
                continue;
            };
            self.counters.accepted += 1;
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if let Err(e) = conn.register(cx.registry(), token.to_mio()) {
                log::warn!("{peer}: cannot register the connection: {e}");
                self.conns.remove(token);
                continue;
            }
            log::debug!("{peer}: connected");
            self.arm_deadline(cx, token, None);
        }
    }

    /// Arms the deadline of the connection's current state if its kind changed (or it is idle).
    fn arm_deadline(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        previous: Option<StateKind>,
    ) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Some(state) = conn.session.state.as_ref() else {
            return;
        };
        let deadline = state.deadline(&self.settings.timeouts);
        let rearm = match deadline {
            Deadline::FromEntry(_) => previous != Some(state.kind()),
            Deadline::Idle(_) => true,
        };
        if !rearm {
            return;
        }
        let after = match deadline {
            Deadline::FromEntry(d) | Deadline::Idle(d) => d,
        };
        if let Some(old) = conn.deadline.take() {
            cx.cancel(old);
        }
        conn.deadline = Some(cx.send_after(after, Msg::Deadline(token)));
    }

    /// Closes for a protocol violation: counted, then closed.
    fn fail(&mut self, token: ConnToken, reason: CloseReason) {
        self.counters.protocol_errors += 1;
        self.close(token, reason);
    }

    fn close(&mut self, token: ConnToken, reason: CloseReason) {
        if let Some(conn) = self.conns.get_mut(token) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.to_close.push(token);
            }
        }
    }

    /// Reads what the socket has and handles every complete packet the state allows,
    /// alternating until neither makes progress (edge-triggered readiness needs both drained).
    fn service(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        loop {
            let Some(conn) = self.conns.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            let mut ring_was_full = false;
            if !conn.eof && !conn.input.is_full() {
                match conn.fill_input() {
                    Ok(ReadOutcome::RingFull) => ring_was_full = true,
                    Ok(ReadOutcome::Drained) | Ok(ReadOutcome::Eof) => {}
                    Err(e) => {
                        self.close(token, CloseReason::Io(e.kind()));
                        return;
                    }
                }
            }
            let (handled, blocked) = self.handle_input(cx, token);
            let Some(conn) = self.conns.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            if blocked == Blocked::NeedInput {
                if conn.input.is_full() {
                    // A full ring without one complete legal packet: more than any legal packet.
                    self.close(token, CloseReason::InputOverflow);
                    return;
                }
                if conn.eof {
                    // Whatever is left is a partial packet that can never complete.
                    self.close(token, CloseReason::PeerClosed);
                    return;
                }
            }
            if !(ring_was_full && handled > 0) {
                break;
            }
        }
        if let Some(conn) = self.conns.get_mut(token) {
            if !conn.output.is_empty() {
                // The flush phase writes it and sets the interest from what is left, so a
                // reply the socket takes at once never costs an epoll_ctl.
                self.to_flush.push(token);
            } else if let Err(e) = conn.update_interest(cx.registry(), token.to_mio()) {
                self.close(token, CloseReason::Io(e.kind()));
            }
        }
    }

    /// Handles complete packets from the input ring; returns how many, and what stopped it.
    fn handle_input(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) -> (usize, Blocked) {
        let mut handled = 0;
        loop {
            let Some(conn) = self.conns.get_mut(token) else {
                return (handled, Blocked::Closed);
            };
            if conn.closing.is_some() {
                return (handled, Blocked::Closed);
            }
            let Some(state) = conn.session.state.as_ref() else {
                return (handled, Blocked::Closed);
            };
            if state.input() == Input::Hold {
                return (handled, Blocked::Held);
            }
            let Some(first) = conn.input.first() else {
                return (handled, Blocked::NeedInput);
            };
            let kind = state.kind();
            let rule = Opcode::from_u8(first)
                .and_then(|op| state.legal().iter().find(|r| r.opcode == op).copied());
            let Some(rule) = rule else {
                let reason = match kind {
                    StateKind::Closing => CloseReason::InputAfterRefusal,
                    _ => CloseReason::IllegalOpcode {
                        opcode: first,
                        state: kind,
                    },
                };
                self.fail(token, reason);
                return (handled, Blocked::Closed);
            };
            let room = state.reply_room(&conn.session.data, &mut self.realms);
            let len = match check_packet(&rule, conn.session.data.layout, conn.input.contiguous()) {
                Check::Complete(len) => len,
                Check::Incomplete => return (handled, Blocked::NeedInput),
                Check::Invalid(e) => {
                    self.fail(token, CloseReason::Malformed(e));
                    return (handled, Blocked::Closed);
                }
            };
            if conn.output.free() < room {
                if room > conn.output.capacity() {
                    self.fail(token, CloseReason::OutputOverflow);
                    return (handled, Blocked::Closed);
                }
                // Wait for the socket to take what is queued; the flush resumes us.
                conn.waiting_for_output_room = true;
                return (handled, Blocked::NeedOutputRoom);
            }
            let Some(state) = conn.session.state.take() else {
                return (handled, Blocked::Closed);
            };
            let opcode = rule.opcode;
            let step = {
                let Connection {
                    input,
                    output,
                    session,
                    ..
                } = &mut *conn;
                let msg = &input.contiguous()[..len];
                let mut shared = Shared {
                    store_ops: &mut self.store_ops,
                    settings: &self.settings,
                    realms: &mut self.realms,
                    patches: &self.patches,
                };
                with_session(cx.now(), output, &mut session.data, &mut shared, |scx| {
                    state.on_packet(opcode, msg, scx)
                })
            };
            conn.input.consume(len);
            handled += 1;
            self.apply(cx, token, kind, step);
        }
    }

    /// Applies a state's answer: new state, deadline, store requests, or close.
    fn apply(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, previous: StateKind, step: Step) {
        match step {
            Step::Become(state) => {
                if previous == StateKind::Logon && state.kind() == StateKind::WorldSelect {
                    self.counters.logons_ok += 1;
                }
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.session.state = Some(state);
                }
                self.arm_deadline(cx, token, Some(previous));
            }
            Step::Close(reason) => self.fail(token, reason),
        }
        let mut ops = std::mem::take(&mut self.store_ops);
        for op in ops.drain(..) {
            if let Some(reply) = self.submit(Target::Conn(token), op) {
                // The store cannot take it (queue full or stopped): the state hears so at once.
                self.deliver_store_reply(cx, token, reply);
            }
        }
        if self.store_ops.is_empty() {
            self.store_ops = ops; // keep the allocation for the next packet
        }
        // A patch transfer reads its next piece as soon as its ring has room for it.
        self.pump_transfer(cx, token);
        if let Some(conn) = self.conns.get(token) {
            if !conn.output.is_empty() {
                self.to_flush.push(token);
            }
        }
    }

    fn deliver_store_reply(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, reply: StoreReply) {
        let Some(conn) = self.conns.get_mut(token) else {
            return; // The connection has gone: a stale reply, dropped.
        };
        if conn.closing.is_some() {
            return;
        }
        let Some(state) = conn.session.state.take() else {
            return;
        };
        let kind = state.kind();
        let mut shared = Shared {
            store_ops: &mut self.store_ops,
            settings: &self.settings,
            realms: &mut self.realms,
            patches: &self.patches,
        };
        let step = with_session(
            cx.now(),
            &mut conn.output,
            &mut conn.session.data,
            &mut shared,
            |scx| state.on_store_reply(reply, scx),
        );
        self.apply(cx, token, kind, step);
        // Input held while the store worked may now be handled.
        self.service(cx, token);
    }

    /// Starts the next read of a streaming patch if the output ring has room for it.
    fn pump_transfer(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        let Some(State::Update(Update::Streaming(transfer))) = conn.session.state.as_mut() else {
            return;
        };
        let Some((path, offset, len)) = transfer.next_read(conn.output.free()) else {
            return;
        };
        let Some(io) = &self.io else {
            return;
        };
        let request = IoRequest::Read {
            target: Target::Conn(token),
            path,
            offset,
            len,
        };
        match io.submit(request) {
            Ok(()) => transfer.reading = Reading::InFlight,
            Err(IoError::Busy) => {
                cx.send_after(Duration::from_millis(10), Msg::PumpTransfer(token));
            }
            Err(e) => {
                log::error!("{}: {e}", conn.session.data);
                self.close(token, CloseReason::TransferFailed);
            }
        }
    }

    /// Patch bytes from the I/O thread for a streaming connection.
    fn deliver_chunk(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        offset: u64,
        data: Result<Vec<u8>, PatchError>,
    ) {
        let Some(conn) = self.conns.get_mut(token) else {
            return; // gone meanwhile: the bytes are dropped
        };
        if conn.closing.is_some() {
            return;
        }
        let data = match data {
            Ok(d) => {
                self.counters.patch_bytes_read += d.len() as u64;
                d
            }
            Err(e) => {
                log::error!("{}: {e}", conn.session.data);
                self.close(token, CloseReason::TransferFailed);
                return;
            }
        };
        // Only a streaming transfer asked for bytes; anything else keeps its state untouched.
        if !matches!(conn.session.state, Some(State::Update(_))) {
            return;
        }
        let Some(State::Update(update)) = conn.session.state.take() else {
            return;
        };
        let mut shared = Shared {
            store_ops: &mut self.store_ops,
            settings: &self.settings,
            realms: &mut self.realms,
            patches: &self.patches,
        };
        let step = with_session(
            cx.now(),
            &mut conn.output,
            &mut conn.session.data,
            &mut shared,
            |scx| update.on_chunk(offset, &data, scx),
        );
        // Progress re-arms the transfer's idle deadline.
        self.apply(cx, token, StateKind::Update, step);
    }

    fn on_store_response(&mut self, cx: &mut Ctx<'_, Msg>, response: StoreResponse) {
        match response.target {
            Target::Conn(token) => self.deliver_store_reply(cx, token, response.reply),
            Target::Link(token) => self.deliver_link_reply(cx, token, response.reply),
            Target::Console(token) => self.deliver_console_reply(cx, token, response.reply),
            Target::Daemon => match response.reply {
                StoreReply::RealmsLoaded(Ok(realms)) => {
                    if self.registry.set_configured(realms) == Change::Changed {
                        self.raise(Signal::RealmListChanged);
                    }
                }
                StoreReply::RealmsLoaded(Err(e)) => log::error!("cannot load realms: {e}"),
                StoreReply::IpBansLoaded(Ok(bans)) => self.ip_bans = bans,
                StoreReply::IpBansLoaded(Err(e)) => log::error!("cannot load IP bans: {e}"),
                other => {
                    if let Some(e) = other.error() {
                        log::error!("store: {e}");
                    }
                }
            },
        }
    }
}

/// The daemon state a session handler may touch (disjoint from the connection table).
struct Shared<'a> {
    store_ops: &'a mut Vec<StoreOp>,
    settings: &'a SessionSettings,
    realms: &'a mut RealmListCache,
    patches: &'a PatchIndex,
}

/// Runs one session handler with its context; an answer that overran the output ring
/// becomes a close.
fn with_session(
    now: Instant,
    output: &mut crate::net::ring::Ring,
    data: &mut crate::session::SessionData,
    shared: &mut Shared<'_>,
    handle: impl FnOnce(&mut SessionCx<'_>) -> Step,
) -> Step {
    let mut sink = OutputSink::new(output);
    let mut cx = SessionCx {
        now,
        unix_now: unix_now(),
        data,
        out: &mut sink,
        store: shared.store_ops,
        settings: shared.settings,
        realms: shared.realms,
        patches: shared.patches,
    };
    let step = handle(&mut cx);
    if sink.overflowed() {
        Step::Close(CloseReason::OutputOverflow)
    } else {
        step
    }
}

impl Handler<Msg> for Daemon {
    fn on_message(&mut self, cx: &mut Ctx<'_, Msg>, message: Msg) {
        match message {
            Msg::Store(response) => self.on_store_response(cx, response),
            Msg::Deadline(token) => {
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.deadline = None;
                    let kind = conn
                        .session
                        .state
                        .as_ref()
                        .map_or(StateKind::Closing, State::kind);
                    self.counters.deadlines += 1;
                    self.close(token, CloseReason::Deadline(kind));
                }
            }
            Msg::RefreshRealms => {
                self.refresh_ip_bans();
                if let Some(reply) = self.submit(Target::Daemon, StoreOp::LoadRealms) {
                    if let Some(e) = reply.error() {
                        log::warn!("cannot refresh realms: {e}");
                    }
                }
                let every = Duration::from_secs(self.config.realms.refresh_secs);
                cx.send_after(every, Msg::RefreshRealms);
            }
            Msg::SweepRealms => {
                if self.registry.expire(cx.now()) == Change::Changed {
                    self.raise(Signal::RealmListChanged);
                }
                cx.send_after(Duration::from_secs(1), Msg::SweepRealms);
            }
            Msg::LinkDeadline(token) => self.link_deadline(token),
            Msg::Io(IoReply::Indexed(Ok(index))) => {
                log::info!("patches: {} indexed", index.len());
                self.patches = index;
            }
            Msg::Io(IoReply::Indexed(Err(e))) => log::error!("patches: {e}"),
            Msg::Io(IoReply::ConfigLoaded(loaded)) => self.on_config_loaded(loaded),
            Msg::Watchdog => self.on_watchdog(cx),
            Msg::ConsoleDeadline(token) => {
                self.close_console(token, CloseReason::Deadline(StateKind::Closing))
            }
            Msg::ConsoleRetry(token) => self.console_retry(cx, token),
            Msg::Status => self.on_status(cx),
            Msg::DrainStep => self.drain_step(cx),
            Msg::Io(IoReply::Chunk {
                target: Target::Conn(token),
                offset,
                data,
            }) => self.deliver_chunk(cx, token, offset, data),
            Msg::Io(IoReply::Chunk { .. }) => {}
            Msg::PumpTransfer(token) => self.pump_transfer(cx, token),
            Msg::Counters(reply) => {
                let _ = reply.try_send(self.counters.clone());
            }
            Msg::Shutdown => {
                log::info!("shutting down");
                cx.stop();
            }
        }
        self.dispatch_signals();
    }

    fn on_event(&mut self, cx: &mut Ctx<'_, Msg>, event: &Event) {
        if event.token() == service::SIGNALS {
            self.on_signals(cx);
            self.dispatch_signals();
            return;
        }
        if let Some(index) = listener_index(event.token(), self.listeners.len()) {
            match self.listeners.get(index).map(|l| l.kind) {
                Some(ListenerKind::Game) => self.accept(cx, index),
                Some(ListenerKind::Link) => self.accept_links(cx, index),
                Some(ListenerKind::Console) => self.accept_consoles(cx, index),
                None => {}
            }
            return;
        }
        if let Some(token) = ConnToken::console_from_mio(event.token()) {
            if self.consoles.get(token).is_some() {
                if event.is_writable() {
                    self.flush_console(cx, token);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.service_console(cx, token);
                }
            }
            return;
        }
        if let Some(token) = ConnToken::link_from_mio(event.token()) {
            if self.links.get(token).is_some() {
                if event.is_writable() {
                    self.flush_link(cx, token);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.service_link(cx, token);
                }
                self.dispatch_signals();
            }
            return;
        }
        let Some(token) = ConnToken::from_mio(event.token()) else {
            return;
        };
        if self.conns.get(token).is_none() {
            return; // Stale: the connection has gone.
        }
        if event.is_writable() {
            self.flush_one(cx, token);
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.service(cx, token);
        }
    }

    fn flush(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.dispatch_signals();
        // Flushing can resume input that waited for output room, which queues more output:
        // a few rounds keep a busy connection moving without letting it hold the pass.
        for _ in 0..FLUSH_ROUNDS {
            if self.to_flush.is_empty() {
                return;
            }
            for token in std::mem::take(&mut self.to_flush) {
                self.flush_one(cx, token);
            }
        }
        // Whatever is still queued asks for WRITABLE, so the next poll wakes for it at once.
        for token in std::mem::take(&mut self.to_flush) {
            if let Some(conn) = self.conns.get_mut(token) {
                if let Err(e) = conn.update_interest(cx.registry(), token.to_mio()) {
                    self.close(token, CloseReason::Io(e.kind()));
                }
            }
        }
    }

    fn reap(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.reap_links(cx);
        self.reap_consoles(cx);
        self.dispatch_signals();
        for token in std::mem::take(&mut self.to_close) {
            let Some(mut conn) = self.conns.remove(token) else {
                continue;
            };
            if let Some(id) = conn.deadline.take() {
                cx.cancel(id);
            }
            let reason = conn.retire(cx.registry(), WRITE_BUDGET);
            match reason {
                CloseReason::PeerClosed | CloseReason::Shutdown => {
                    log::debug!("{}: closed: {reason}", conn.session.data)
                }
                CloseReason::Deadline(_) => log::info!("{}: closed: {reason}", conn.session.data),
                _ => log::warn!("{}: closed: {reason}", conn.session.data),
            }
            self.counters.closed += 1;
        }
    }
}

impl Daemon {
    fn flush_one(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.output.is_empty() {
            return;
        }
        if let Err(e) = conn.flush_output(WRITE_BUDGET) {
            self.close(token, CloseReason::Io(e.kind()));
            return;
        }
        let resume = std::mem::take(&mut conn.waiting_for_output_room);
        if let Err(e) = conn.update_interest(cx.registry(), token.to_mio()) {
            self.close(token, CloseReason::Io(e.kind()));
            return;
        }
        if resume {
            // Input waited for output room; now there may be some.
            self.service(cx, token);
        }
        self.pump_transfer(cx, token);
    }
}
