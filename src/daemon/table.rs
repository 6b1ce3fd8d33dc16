//! One connection table per kind of connection (game clients, realm links, consoles, metrics
//! scrapes), and the
//! lifecycle they share, written once: accept, read, hand to the kind, apply its answer
//! (store request, deadline, wake-up, close), flush, close and reap.
//!
//! A kind ([`Kind`]) only says what its bytes, replies and timers mean; it answers a [`Turn`]
//! and never touches the socket, the timers or the tables. Everything that happens to one
//! connection goes through [`ConnTable::handle`], a loop rather than a chain of calls: a store
//! request the pool cannot take comes back as its failed reply in the next round, and input
//! held while the store worked is read again once the reply has been handled.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::event::Event as Readiness;
use mio::net::TcpStream;

use super::message::{DbJob, DbReply, Msg, Target, Timer};
use super::services::Services;
use crate::console::login::PasswordVerdict;
use crate::event_loop::{ConnToken, Ctx, Slots, TableId};
use crate::net::connection::{Connection, ReadOutcome, Standing};
use crate::net::ring::{Ring, RingPool};
use crate::net::shared::SharedSend;
use crate::net::CloseReason;
use crate::patches::PatchError;

/// Rounds of flushing per pass before what is left waits for its WRITABLE event.
const FLUSH_ROUNDS: usize = 4;

/// Bytes one connection may write per pass before the others get their turn.
pub(crate) const WRITE_BUDGET: usize = 256 * 1024;

pub use crate::net::ring::Buffers;

/// How many connections of a kind are held, and how big they are.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Connections held at once (the slots of the table).
    pub max_open: usize,
    /// Connections that have not proven who they are, per address (`None`: the kind's own
    /// admission decides, as the client policies do).
    pub unproven_per_address: Option<usize>,
    /// Connections that have not proven who they are, in all: the rest of the table stays
    /// free for those that can.
    pub unproven_max: Option<usize>,
    /// Rings until the peer has proven who it is.
    pub unproven: Buffers,
    /// Rings after (a kind may ask for bigger ones later: [`Turn::grow`]).
    pub proven: Buffers,
}

/// What stopped a kind's input handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// No complete message in the input ring.
    NeedInput,
    /// The next answer would not fit the output ring yet: resume after a flush.
    NeedOutputRoom,
    /// A store request or a timer must come first.
    Held,
    /// The kind stopped so that its answer (a request, bigger rings) is applied first; what
    /// is left in the ring is handled right after.
    Applied,
}

/// A request that needs more than its own connection: the other tables. The router runs it
/// and answers on the connection (a console command, a metrics scrape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET /metrics`: the page is built from every table.
    Metrics,
    Stats,
    Conns,
    Realms,
    Kick(String),
    Reload,
    Shutdown,
}

/// What a kind answers after handling input, a reply or a timer.
pub struct Turn {
    /// Input handling: how many messages, and what stopped it (for other turns, `Held` and 0).
    pub handled: usize,
    pub stopped: Stopped,
    /// A store request for this connection; its reply comes back to it.
    pub ask: Option<DbJob>,
    /// (Re-)arm the connection's deadline to fire after this long.
    pub deadline: Option<Duration>,
    /// Wake the connection at this instant (`Timer::Wake`).
    pub wake: Option<Instant>,
    /// `Some(Proven)`: the peer has just proven who it is (full-size rings, no longer
    /// counted as unproven).
    pub standing: Option<Standing>,
    /// Rings at least this big from now on: what comes next streams through them (a patch).
    pub grow: Option<Buffers>,
    pub close: Option<CloseReason>,
    /// A request to the router (consoles only).
    pub call: Option<Call>,
}

impl Default for Turn {
    fn default() -> Self {
        Turn {
            handled: 0,
            stopped: Stopped::Held,
            ask: None,
            deadline: None,
            wake: None,
            standing: None,
            grow: None,
            close: None,
            call: None,
        }
    }
}

impl Turn {
    pub fn close(reason: CloseReason) -> Turn {
        Turn {
            close: Some(reason),
            ..Turn::default()
        }
    }

    /// Input handling stopped after `handled` messages, for `stopped`; `deadline` re-arms.
    pub fn stopped(handled: usize, stopped: Stopped, deadline: Option<Duration>) -> Turn {
        Turn {
            handled,
            stopped,
            deadline,
            ..Turn::default()
        }
    }

    /// Whether the table must apply this answer before more input is handled.
    pub fn must_apply(&self) -> bool {
        self.close.is_some() || self.ask.is_some() || self.standing.is_some() || self.grow.is_some()
    }

    /// This answer to the last of `handled` messages (keeping a deadline an earlier one
    /// re-armed); the rest of the input is handled once the table has applied it.
    pub fn then_more(self, handled: usize, deadline: Option<Duration>) -> Turn {
        Turn {
            handled,
            stopped: Stopped::Applied,
            deadline: self.deadline.or(deadline),
            ..self
        }
    }
}

/// A connection's rings and clock, as a kind sees them while it handles something.
pub struct ConnIo<'a> {
    pub token: ConnToken,
    pub input: &'a mut Ring,
    pub output: &'a mut Ring,
    /// An answer going out from a shared encoding after `output`; while it is there, nothing
    /// else is queued.
    pub shared: &'a mut Option<SharedSend>,
    pub standing: Standing,
    pub now: Instant,
    pub unix_now: i64,
}

/// What happens to a connection.
pub enum Event {
    /// The socket is readable (or input held back may now be handled): read it, then handle
    /// the ring.
    Input,
    /// Handle what the ring holds, without reading the socket.
    Buffered,
    Reply(DbReply),
    Timer(Timer),
    /// Patch bytes from the I/O thread.
    Chunk {
        offset: u64,
        data: Result<Vec<u8>, PatchError>,
    },
    /// A password checked on the hashing thread (console logins).
    CredentialChecked(PasswordVerdict),
}

/// Why a kind turned a new connection away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// A kind of connection: what its bytes, replies and timers mean.
pub trait Kind: Sized {
    /// The table's id in mio tokens.
    const TABLE: TableId;
    /// How log lines name a connection of this kind ("link from", "console").
    const LABEL: &'static str;

    fn target(token: ConnToken) -> Target;
    fn shape(svc: &Services) -> Shape;
    fn peer(&self) -> SocketAddr;

    /// Decides whether a new connection from `peer` is served, and makes its session.
    fn admit(
        peer: SocketAddr,
        open: usize,
        now: Instant,
        unix_now: i64,
        svc: &mut Services,
    ) -> Result<Self, Refusal>;
    /// A connection from `peer` was admitted but could not be seated (no slot, no
    /// registration): whatever `admit` counted is undone.
    fn unseated(_peer: SocketAddr, _svc: &mut Services) {}
    /// The first words to a new connection, and its first deadline.
    fn on_open(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn;
    /// Handles what the input ring holds, as far as the kind's state allows.
    fn on_input(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn;
    fn on_reply(&mut self, reply: DbReply, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn;
    fn on_timer(&mut self, timer: Timer, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn;
    fn on_chunk(
        &mut self,
        _offset: u64,
        _data: Result<Vec<u8>, PatchError>,
        _io: &mut ConnIo<'_>,
        _svc: &mut Services,
    ) -> Turn {
        Turn::default()
    }
    /// The hashing thread has checked a password this connection sent it.
    fn on_credential_checked(
        &mut self,
        _verdict: PasswordVerdict,
        _io: &mut ConnIo<'_>,
        _svc: &mut Services,
    ) -> Turn {
        Turn::default()
    }
    /// The connection is gone: observers hear of it, and the log says why.
    fn on_closed(
        &mut self,
        token: ConnToken,
        reason: &CloseReason,
        now: Instant,
        svc: &mut Services,
    );
}

pub struct ConnTable<K> {
    slots: Slots<Connection<K>>,
    to_flush: Vec<ConnToken>,
    to_close: Vec<ConnToken>,
    /// An emptied token list kept for its capacity: a pass swaps it with `to_flush` or
    /// `to_close` instead of leaving an empty list that allocates again on the next push.
    spare: Vec<ConnToken>,
    /// Ring storage closed connections gave back, for the next ones.
    rings: RingPool,
    /// Unproven connections per address (only for kinds with a per-address cap).
    unproven: HashMap<IpAddr, usize>,
    unproven_total: usize,
    /// Requests to the router, taken by it after each event.
    calls: Vec<(ConnToken, Call)>,
}

impl<K> Default for ConnTable<K> {
    fn default() -> Self {
        Self {
            slots: Slots::default(),
            to_flush: Vec::new(),
            to_close: Vec::new(),
            spare: Vec::new(),
            rings: RingPool::default(),
            unproven: HashMap::new(),
            unproven_total: 0,
            calls: Vec::new(),
        }
    }
}

impl<K: Kind> ConnTable<K> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ConnToken, &Connection<K>)> {
        self.slots.iter()
    }

    /// Each connection's standing and ring sizes (what its buffers cost).
    pub fn buffers(&self) -> Vec<(Standing, Buffers)> {
        self.slots
            .iter()
            .map(|(_, c)| {
                let rings = Buffers {
                    input: c.input.capacity(),
                    output: c.output.capacity(),
                };
                (c.standing, rings)
            })
            .collect()
    }

    /// Takes the router requests made since the last call.
    pub fn take_calls(&mut self) -> Vec<(ConnToken, Call)> {
        std::mem::take(&mut self.calls)
    }

    /// Admits a connection the listener accepted, or drops it (refusals are counted by the
    /// kind; nothing is allocated for a refused one).
    pub fn accept(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        svc: &mut Services,
        socket: TcpStream,
        peer: SocketAddr,
    ) {
        let shape = K::shape(svc);
        if let Some(cap) = shape.unproven_per_address {
            let from_here = self.unproven.get(&peer.ip()).copied().unwrap_or(0);
            if from_here >= cap {
                svc.warn(
                    cx.now(),
                    K::LABEL,
                    format_args!(
                        "{} {peer}: closed at accept: {from_here} unauthenticated from this address",
                        K::LABEL
                    ),
                );
                return;
            }
        }
        let open = self.slots.len().saturating_sub(self.to_close.len());
        let unproven_full = shape
            .unproven_max
            .is_some_and(|cap| self.unproven_total >= cap);
        if (open >= shape.max_open || unproven_full) && !self.evict_oldest_unproven() {
            // Connections that never proved who they are yield their slot to newcomers, so
            // idle ones cannot lock out the world server or operator who can; with none to
            // evict, the newcomer is turned away.
            svc.warn(
                cx.now(),
                K::LABEL,
                format_args!(
                    "{} {peer}: closed at accept: {} open",
                    K::LABEL,
                    shape.max_open
                ),
            );
            return;
        }
        let session = match K::admit(peer, self.slots.len(), cx.now(), cx.unix_now(), svc) {
            Ok(session) => session,
            Err(Refusal(why)) => {
                log::debug!("{} {peer}: closed at accept: {why}", K::LABEL);
                return;
            }
        };
        let _ = socket.set_nodelay(true);
        let now = cx.now();
        let rings = &mut self.rings;
        let token = self.slots.insert_with(|_| {
            Connection::with_rings(
                socket,
                session,
                rings.take(shape.unproven.input),
                rings.take(shape.unproven.output),
                now,
            )
        });
        let Some(token) = token else {
            K::unseated(peer, svc);
            return;
        };
        let Some(conn) = self.slots.get_mut(token) else {
            return;
        };
        if let Err(e) = conn.register(cx.registry(), token.to_mio(K::TABLE)) {
            svc.warn(
                cx.now(),
                "cannot register",
                format_args!("{} {peer}: cannot register the connection: {e}", K::LABEL),
            );
            self.slots.remove(token);
            K::unseated(peer, svc);
            return;
        }
        if shape.unproven_per_address.is_some() {
            *self.unproven.entry(peer.ip()).or_insert(0) += 1;
        }
        self.unproven_total += 1;
        let turn = {
            let (session, mut io) = split(conn, token, cx);
            session.on_open(&mut io, svc)
        };
        match self.apply(cx, svc, token, turn) {
            Some(event) => self.handle(cx, svc, token, event),
            None => self.queue_output(cx, token),
        }
    }

    /// A readiness event for one of this table's connections.
    pub fn on_ready(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        svc: &mut Services,
        token: ConnToken,
        ready: &Readiness,
    ) {
        if self.slots.get(token).is_none() {
            return; // stale: the connection has gone
        }
        if ready.is_writable() {
            self.flush_one(cx, svc, token);
        }
        if ready.is_readable() || ready.is_read_closed() || ready.is_error() {
            self.handle(cx, svc, token, Event::Input);
        }
    }

    /// A timer of one of this table's connections.
    pub fn on_timer(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        svc: &mut Services,
        token: ConnToken,
        timer: Timer,
    ) {
        let Some(conn) = self.slots.get_mut(token) else {
            return;
        };
        match timer {
            Timer::Deadline => conn.deadline = None,
            Timer::Wake => conn.wake = None,
        }
        self.handle(cx, svc, token, Event::Timer(timer));
    }

    /// Everything that happens to a connection goes through here, one event after another.
    pub fn handle(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        svc: &mut Services,
        token: ConnToken,
        first: Event,
    ) {
        let mut next = Some(first);
        // Whether the last read filled the ring, and messages handled since: then the kernel
        // may hold more, and edge-triggered readiness will not say so again.
        let mut ring_was_full = false;
        let mut handled_since_read = 0;
        while let Some(event) = next.take() {
            let Some(conn) = self.slots.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            let input_turn = matches!(event, Event::Input | Event::Buffered);
            let reading = matches!(event, Event::Input);
            if reading && !conn.eof && !conn.input.is_full() {
                ring_was_full = false;
                handled_since_read = 0;
                match conn.fill_input() {
                    Ok(ReadOutcome::RingFull) => ring_was_full = true,
                    Ok(ReadOutcome::Drained | ReadOutcome::Eof) => {}
                    Err(e) => {
                        self.close(token, CloseReason::Io(e.kind()));
                        return;
                    }
                }
            }
            let turn = {
                let (session, mut io) = split(conn, token, cx);
                match event {
                    Event::Input | Event::Buffered => session.on_input(&mut io, svc),
                    Event::Reply(reply) => session.on_reply(reply, &mut io, svc),
                    Event::Timer(timer) => session.on_timer(timer, &mut io, svc),
                    Event::Chunk { offset, data } => session.on_chunk(offset, data, &mut io, svc),
                    Event::CredentialChecked(verdict) => {
                        session.on_credential_checked(verdict, &mut io, svc)
                    }
                }
            };
            handled_since_read += turn.handled;
            let stopped = turn.stopped;
            next = self.apply(cx, svc, token, turn);
            if next.is_some() {
                continue;
            }
            let Some(conn) = self.slots.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            if !input_turn {
                // Input held while the store or a timer worked may now be handled.
                next = Some(Event::Input);
                continue;
            }
            match stopped {
                Stopped::NeedInput if conn.input.is_full() => {
                    // A full ring without one complete message: more than any legal one.
                    self.close(token, CloseReason::InputOverflow);
                    return;
                }
                Stopped::NeedInput if conn.eof => {
                    // Whatever is left is a partial message that can never complete.
                    self.close(token, CloseReason::PeerClosed);
                    return;
                }
                Stopped::NeedOutputRoom => conn.waiting_for_output_room = true,
                Stopped::Applied => {
                    next = Some(Event::Buffered);
                    continue;
                }
                _ => {}
            }
            if ring_was_full && handled_since_read > 0 {
                next = Some(Event::Input);
            }
        }
        self.queue_output(cx, token);
    }

    /// Applies a kind's answer; returns the event it leads to at once, if any (the failed
    /// reply of a store request the pool could not take).
    fn apply(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        svc: &mut Services,
        token: ConnToken,
        turn: Turn,
    ) -> Option<Event> {
        let conn = self.slots.get_mut(token)?;
        if let Some(call) = turn.call {
            self.calls.push((token, call));
        }
        if let Some(reason) = turn.close {
            self.close(token, reason);
            return None;
        }
        if turn.standing == Some(Standing::Proven) && conn.standing == Standing::Unproven {
            conn.standing = Standing::Proven;
            let proven = K::shape(svc).proven;
            let rings = turn.grow.map_or(proven, |grow| proven.max(grow));
            conn.resize_rings_from(&mut self.rings, rings.input, rings.output);
            let ip = conn.session.peer().ip();
            self.forget_unproven(ip);
        } else if let Some(grow) = turn.grow {
            conn.resize_rings_from(&mut self.rings, grow.input, grow.output);
        }
        let conn = self.slots.get_mut(token)?;
        if let Some(after) = turn.deadline {
            if let Some(old) = conn.deadline.take() {
                cx.cancel(old);
            }
            let target = K::target(token);
            conn.deadline = Some(cx.send_after(after, Msg::Timer(target, Timer::Deadline)));
        }
        if let Some(at) = turn.wake {
            if conn.wake.is_none() {
                conn.wake = Some(cx.send_at(at, Msg::Timer(K::target(token), Timer::Wake)));
            }
        }
        let job = turn.ask?;
        svc.submit(K::target(token), job).map(Event::Reply)
    }

    /// Closes the oldest connection that has not proven who it is; whether there was one.
    fn evict_oldest_unproven(&mut self) -> bool {
        let oldest = self
            .slots
            .iter()
            .filter(|(_, c)| c.standing == Standing::Unproven && c.closing.is_none())
            .min_by_key(|(_, c)| c.opened)
            .map(|(t, _)| t);
        match oldest {
            Some(token) => {
                self.close(token, CloseReason::ServerFull);
                true
            }
            None => false,
        }
    }

    fn forget_unproven(&mut self, ip: IpAddr) {
        self.unproven_total = self.unproven_total.saturating_sub(1);
        if let Some(n) = self.unproven.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.unproven.remove(&ip);
            }
        }
    }

    /// Output waits for the flush phase, which writes it and sets the interest from what is
    /// left, so a reply the socket takes at once never costs an epoll_ctl.
    fn queue_output(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.slots.get_mut(token) else {
            return;
        };
        if conn.has_output() {
            self.to_flush.push(token);
        } else if let Err(e) = conn.update_interest(cx.registry(), token.to_mio(K::TABLE)) {
            self.close(token, CloseReason::Io(e.kind()));
        }
    }

    /// Marks a connection for closing; it is reaped at the end of the pass.
    pub fn close(&mut self, token: ConnToken, reason: CloseReason) {
        if let Some(conn) = self.slots.get_mut(token) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.to_close.push(token);
            }
        }
    }

    /// Closes every connection `pick` chooses.
    pub fn close_where(
        &mut self,
        reason: &CloseReason,
        mut pick: impl FnMut(&Connection<K>) -> bool,
    ) -> usize {
        let chosen: Vec<ConnToken> = self
            .slots
            .iter()
            .filter(|(_, c)| c.closing.is_none() && pick(c))
            .map(|(t, _)| t)
            .collect();
        for token in &chosen {
            self.close(*token, reason.clone());
        }
        chosen.len()
    }

    /// The session of a connection, for the router to note what it did for it.
    pub fn session_mut(&mut self, token: ConnToken) -> Option<&mut K> {
        self.slots.get_mut(token).map(|c| &mut c.session)
    }

    /// Queues an answer that may be larger than the output ring: the ring grows to hold it
    /// if it is at most `max` bytes; whether it was queued whole. The ring grows to a power of
    /// two, so the ring pool keeps a few sizes, not one per answer length.
    pub fn push_answer(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        bytes: &[u8],
        max: usize,
    ) -> bool {
        let Some(conn) = self.slots.get_mut(token) else {
            return false;
        };
        let needed = conn.output.len().saturating_add(bytes.len());
        if needed > conn.output.capacity() && needed <= max {
            let input = conn.input.capacity();
            let output = needed.checked_next_power_of_two().unwrap_or(needed);
            conn.resize_rings_from(&mut self.rings, input, output);
        }
        let fits = bytes.len() <= conn.output.free();
        if fits {
            conn.output.push(bytes);
        }
        self.queue_output(cx, token);
        fits
    }

    /// Queues bytes for a connection (the router's answers to console calls).
    pub fn push_output(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, bytes: &[u8]) {
        if let Some(conn) = self.slots.get_mut(token) {
            let room = conn.output.free();
            conn.output.push(bytes.get(..room).unwrap_or(bytes));
        }
        self.queue_output(cx, token);
    }

    /// Writes one connection's output; resumes its input if it waited for room.
    fn flush_one(&mut self, cx: &mut Ctx<'_, Msg>, svc: &mut Services, token: ConnToken) {
        let Some(conn) = self.slots.get_mut(token) else {
            return;
        };
        if !conn.has_output() && !conn.waiting_for_output_room {
            return;
        }
        if let Err(e) = conn.flush_output(WRITE_BUDGET) {
            self.close(token, CloseReason::Io(e.kind()));
            return;
        }
        let resume = std::mem::take(&mut conn.waiting_for_output_room);
        if let Err(e) = conn.update_interest(cx.registry(), token.to_mio(K::TABLE)) {
            self.close(token, CloseReason::Io(e.kind()));
            return;
        }
        if resume {
            self.handle(cx, svc, token, Event::Input);
        }
    }

    /// The flush step of a pass. Flushing can resume input that waited for output room,
    /// which queues more output: a few rounds keep a busy connection moving without letting
    /// it hold the pass.
    pub fn flush(&mut self, cx: &mut Ctx<'_, Msg>, svc: &mut Services) {
        for _ in 0..FLUSH_ROUNDS {
            if self.to_flush.is_empty() {
                return;
            }
            let round = self.swap_out_flush();
            for &token in &round {
                self.flush_one(cx, svc, token);
            }
            self.give_back(round);
        }
        // Whatever is still queued asks for WRITABLE, so the next poll wakes for it at once.
        let rest = self.swap_out_flush();
        for &token in &rest {
            if let Some(conn) = self.slots.get_mut(token) {
                if let Err(e) = conn.update_interest(cx.registry(), token.to_mio(K::TABLE)) {
                    self.close(token, CloseReason::Io(e.kind()));
                }
            }
        }
        self.give_back(rest);
    }

    /// The queued flushes, leaving an empty list with capacity in their place.
    fn swap_out_flush(&mut self) -> Vec<ConnToken> {
        let mut taken = std::mem::take(&mut self.spare);
        std::mem::swap(&mut taken, &mut self.to_flush);
        taken
    }

    /// A token list done with, kept for its capacity.
    fn give_back(&mut self, mut list: Vec<ConnToken>) {
        list.clear();
        if list.capacity() > self.spare.capacity() {
            self.spare = list;
        }
    }

    /// The reap step: frees what was closed during the pass, after one last write.
    pub fn reap(&mut self, cx: &mut Ctx<'_, Msg>, svc: &mut Services) {
        let mut closing = std::mem::take(&mut self.spare);
        std::mem::swap(&mut closing, &mut self.to_close);
        for &token in &closing {
            let Some(mut conn) = self.slots.remove(token) else {
                continue;
            };
            for timer in [conn.deadline.take(), conn.wake.take()]
                .into_iter()
                .flatten()
            {
                cx.cancel(timer);
            }
            if conn.standing == Standing::Unproven {
                let ip = conn.session.peer().ip();
                self.forget_unproven(ip);
            }
            let reason = conn.retire(cx.registry(), WRITE_BUDGET);
            conn.session.on_closed(token, &reason, cx.now(), svc);
            conn.give_rings(&mut self.rings);
        }
        self.give_back(closing);
    }

    /// Deregisters and drops every connection (the loop has stopped).
    pub fn clear(&mut self, registry: &mio::Registry) {
        for token in self.slots.tokens() {
            if let Some(mut conn) = self.slots.remove(token) {
                conn.deregister(registry);
            }
        }
    }
}

/// A connection's session beside the rest of it, so a kind can hold both.
fn split<'c, K>(
    conn: &'c mut Connection<K>,
    token: ConnToken,
    cx: &Ctx<'_, Msg>,
) -> (&'c mut K, ConnIo<'c>) {
    let Connection {
        input,
        output,
        shared,
        session,
        standing,
        ..
    } = conn;
    (
        session,
        ConnIo {
            token,
            input,
            output,
            shared,
            standing: *standing,
            now: cx.now(),
            unix_now: cx.unix_now(),
        },
    )
}
