//! Game clients as a kind of connection: frame the input ring by the state's opcode table,
//! hand each packet to the state (`session`), and turn its [`Step`] into the table's [`Turn`]:
//! the next state, its deadline, the store request that travels with it, bigger rings once
//! the password is proven. Patch bytes for the `Update` state are asked of the I/O thread
//! here, as the output ring makes room for them.
//!
//! A logged-in client keeps the small output ring it had before: its realm lists go out from
//! the cache's shared encoding ([`crate::net::shared`]), not through the ring. Only a client
//! that is sent a patch gets a bigger one (`limits.output_buffer`), for the file's chunks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{DbJob, DbReply, Target, Timer};
use super::services::Services;
use super::table::{Buffers, ConnIo, Kind, Refusal, Shape, Stopped, Turn};
use crate::event_loop::{ConnToken, TableId};
use crate::io_worker::{IoError, IoRequest};
use crate::net::connection::{OutputSink, Standing};
use crate::net::proxy_header::{self, Parsed};
use crate::net::ring::Ring;
use crate::net::shared::SharedSend;
use crate::net::CloseReason;
use crate::patches::PatchError;
use crate::policy::{AddressClass, ConnectEvent, Observation, Verdict};
use crate::protocol::opcode::Opcode;
use crate::protocol::wire::Check;
use crate::protocol::xfer::XFER_CHUNK_SIZE;
use crate::session::update::{Reading, XFER_DATA_HEADER};
use crate::session::{
    check_packet, ClientSession, Deadline, Input, Preamble, SessionCx, State, StateKind, Step,
    Update,
};

/// Output ring of a client, before and after its password is proven: the largest answer
/// before that is the 151-byte challenge reply (a refused client only gets a few bytes more),
/// and after it the proof reply (at most 32 bytes) and the patch offer (`01 0A` and the
/// 31-byte CMD_XFER_INITIATE). Realm lists do not go through the ring: they are sent from the
/// cache's shared encoding.
const CLIENT_OUTPUT: usize = 512;

/// Output ring of a client that is sent a patch: `limits.output_buffer`, and at least one
/// CMD_XFER_DATA message, or the transfer could never send a chunk.
fn patch_output(svc: &Services) -> usize {
    svc.config
        .limits
        .output_buffer
        .max(XFER_CHUNK_SIZE + XFER_DATA_HEADER)
}

/// When the I/O queue is full, a patch read is tried again after this long.
const IO_RETRY: Duration = Duration::from_millis(10);

/// Runs one state handler with its context; an answer that overran the output ring becomes a
/// close. A shared answer (the realm list) is queued in `shared`, after the ring's bytes.
fn with_session(
    session: &mut ClientSession,
    (output, shared): (&mut Ring, &mut Option<SharedSend>),
    (now, unix_now): (Instant, i64),
    svc: &mut Services,
    handle: impl FnOnce(State, &mut SessionCx<'_>) -> Step,
) -> Step {
    let state = session.take_state();
    let mut sink = OutputSink::with_shared(output, shared);
    let mut cx = SessionCx {
        now,
        unix_now,
        data: &mut session.data,
        out: &mut sink,
        outcomes: &mut svc.counters.outcomes,
        log: &mut svc.log,
        settings: &svc.settings,
        realms: &mut svc.realms,
        patches: &svc.patches,
        policies: &mut svc.policies,
    };
    let step = handle(state, &mut cx);
    if sink.overflowed() {
        Step::Close(CloseReason::OutputOverflow)
    } else {
        step
    }
}

impl ClientSession {
    /// Puts the state's answer in place and says what the table must do about it.
    fn settle(&mut self, previous: StateKind, step: Step, svc: &mut Services) -> Turn {
        let (state, ask) = match step {
            Step::Become(state) => (state, None),
            Step::Ask(state, op) => (state, Some(DbJob::Login(op))),
            Step::Close(reason) => {
                svc.counters.protocol_errors += 1;
                return Turn::close(reason);
            }
        };
        let next = state.kind();
        if previous == StateKind::Logon && next == StateKind::WorldSelect {
            svc.counters.logons_ok += 1;
        }
        let deadline = match state.deadline(&svc.settings.timeouts) {
            Deadline::FromEntry(after) => (previous != next).then_some(after),
            Deadline::Idle(after) => Some(after),
        };
        self.state = state;
        let proven = previous == StateKind::Logon
            && matches!(next, StateKind::WorldSelect | StateKind::Update);
        // A patch streams through the output ring: it gets room for the file's chunks.
        let patching = previous != StateKind::Update && next == StateKind::Update;
        Turn {
            ask,
            deadline,
            // The password is proven: the connection gets its logged-in rings.
            standing: proven.then_some(Standing::Proven),
            grow: patching.then(|| Buffers {
                input: svc.config.limits.input_buffer,
                output: patch_output(svc),
            }),
            ..Turn::default()
        }
    }

    /// Handles complete packets from the input ring until one needs the table (a store
    /// request, bigger rings, a close) or nothing more can be handled.
    fn handle_packets(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let mut handled = 0;
        let mut deadline = None;
        loop {
            match self.state.input(io.now) {
                Input::Handle => {}
                Input::Hold => return Turn::stopped(handled, Stopped::Held, deadline),
                Input::HoldUntil(at) => {
                    return Turn {
                        wake: Some(at),
                        ..Turn::stopped(handled, Stopped::Held, deadline)
                    }
                }
            }
            let Some(first) = io.input.first() else {
                return Turn::stopped(handled, Stopped::NeedInput, deadline);
            };
            let kind = self.state.kind();
            let rule = Opcode::from_u8(first)
                .and_then(|op| self.state.legal().iter().find(|r| r.opcode == op).copied());
            let Some(rule) = rule else {
                svc.counters.protocol_errors += 1;
                return Turn::close(match kind {
                    StateKind::Closing => CloseReason::InputAfterRefusal,
                    _ => CloseReason::IllegalOpcode {
                        opcode: first,
                        state: kind.as_str(),
                    },
                });
            };
            let len = match check_packet(&rule, self.data.layout, io.input.contiguous()) {
                Check::Complete(len) => len,
                Check::Incomplete => return Turn::stopped(handled, Stopped::NeedInput, deadline),
                Check::Invalid(e) => {
                    svc.counters.protocol_errors += 1;
                    return Turn::close(CloseReason::Malformed(e));
                }
            };
            if io.shared.is_some() {
                // An earlier answer still goes out from the shared encoding: this packet's
                // answer queues behind it, so it waits; the flush resumes us.
                return Turn::stopped(handled, Stopped::NeedOutputRoom, deadline);
            }
            let room = self.state.reply_room();
            if io.output.free() < room {
                if room > io.output.capacity() {
                    svc.counters.protocol_errors += 1;
                    return Turn::close(CloseReason::OutputOverflow);
                }
                // Wait for the socket to take what is queued; the flush resumes us.
                return Turn::stopped(handled, Stopped::NeedOutputRoom, deadline);
            }
            let step = {
                let msg = io.input.contiguous().get(..len).unwrap_or_default();
                let opcode = rule.opcode;
                let clock = (io.now, io.unix_now);
                let out = (&mut *io.output, &mut *io.shared);
                with_session(self, out, clock, svc, |state, scx| {
                    state.on_packet(opcode, msg, scx)
                })
            };
            io.input.consume(len);
            handled += 1;
            let turn = self.settle(kind, step, svc);
            if turn.must_apply() {
                // The table sends the request or grows the rings, then handles the rest.
                return turn.then_more(handled, deadline);
            }
            deadline = turn.deadline.or(deadline);
        }
    }

    /// The PROXY header a configured proxy sends first: the player it names becomes the
    /// connection's peer, and passes the connect policies (bans, per-address limits, rates)
    /// as if it had connected itself. `Some` stops input handling here.
    fn read_proxy_header(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Option<Turn> {
        let (len, source) = match proxy_header::check(io.input.contiguous()) {
            Parsed::Incomplete => return Some(Turn::stopped(0, Stopped::NeedInput, None)),
            Parsed::Invalid(why) => {
                svc.counters.protocol_errors += 1;
                return Some(Turn::close(CloseReason::BadProxyHeader(why)));
            }
            Parsed::Complete { len, source } => (len, source),
        };
        io.input.consume(len);
        self.data.preamble = Preamble::None;
        // A header that names nobody (the proxy's health check) leaves the proxy as the peer.
        let source = source?;
        let class = svc.policies.classify(source.ip());
        let event = ConnectEvent {
            ip: source.ip(),
            class,
            now: io.now,
            unix_now: io.unix_now,
            // The connection cap counted this connection at accept.
            open: 0,
        };
        if let Verdict::Refuse(reason) = svc.policies.on_connect(&event) {
            return Some(Turn::close(CloseReason::RefusedBehindProxy(
                reason.to_string(),
            )));
        }
        log::debug!("{}: behind proxy, the player is {source}", self.data);
        self.data.peer = source;
        self.data.class = class;
        None
    }

    /// Starts the next read of a streaming patch if the output ring has room for it.
    fn pump_transfer(&mut self, io: &mut ConnIo<'_>, svc: &mut Services, turn: &mut Turn) {
        let State::Update(Update::Streaming(transfer)) = &mut self.state else {
            return;
        };
        let Some((path, offset, len)) = transfer.next_read(io.output.free()) else {
            if transfer.waits_for_room() {
                // The next piece needs room: resume after the flush.
                turn.stopped = Stopped::NeedOutputRoom;
            }
            return;
        };
        let request = IoRequest::Read {
            target: Target::Client(io.token),
            path,
            offset,
            len,
        };
        match svc.submit_io(request) {
            Ok(()) => transfer.reading = Reading::InFlight,
            Err(IoError::Busy) => turn.wake = Some(io.now + IO_RETRY),
            Err(e) => {
                svc.error(
                    io.now,
                    "patch read refused",
                    format_args!("{}: {e}", self.data),
                );
                turn.close = Some(CloseReason::TransferFailed);
            }
        }
    }
}

impl Kind for ClientSession {
    const TABLE: TableId = TableId(0);
    const LABEL: &'static str = "client";

    fn target(token: ConnToken) -> Target {
        Target::Client(token)
    }

    fn shape(svc: &Services) -> Shape {
        let limits = &svc.config.limits;
        Shape {
            // The policies' connection cap decides (and counts its refusals).
            max_open: usize::MAX,
            unproven_per_address: None,
            unproven_max: None,
            unproven: Buffers {
                input: limits.unauthenticated_input_buffer,
                output: CLIENT_OUTPUT,
            },
            proven: Buffers {
                input: limits.input_buffer,
                output: CLIENT_OUTPUT,
            },
        }
    }

    fn peer(&self) -> SocketAddr {
        self.data.peer
    }

    fn admit(
        peer: SocketAddr,
        open: usize,
        now: Instant,
        unix_now: i64,
        svc: &mut Services,
    ) -> Result<Self, Refusal> {
        let proxied = svc
            .config
            .server
            .proxy_from
            .iter()
            .any(|net| net.contains(&peer.ip().to_canonical()));
        // A proxy is not the player: its connections skip the per-address limits until the
        // PROXY header names the player (bans of the proxy and the connection cap still apply).
        let class = match proxied {
            true => AddressClass::Exempt,
            false => svc.policies.classify(peer.ip()),
        };
        let event = ConnectEvent {
            ip: peer.ip(),
            class,
            now,
            unix_now,
            open,
        };
        match svc.policies.on_connect(&event) {
            // Dropped before anything is allocated: no rings, no slot, no timer.
            Verdict::Refuse(reason) => Err(Refusal(reason.to_string())),
            Verdict::Pass => {
                let mut session = ClientSession::new(peer, class);
                if proxied {
                    session.data.preamble = Preamble::ProxyHeader;
                }
                Ok(session)
            }
        }
    }

    fn unseated(peer: SocketAddr, svc: &mut Services) {
        let class = svc.policies.classify(peer.ip());
        svc.policies.observe(&Observation::Disconnected { class });
        svc.counters.refused_full += 1;
    }

    fn on_open(&mut self, _io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        svc.counters.accepted += 1;
        log::debug!("{}: connected", self.data);
        let after = match self.state.deadline(&svc.settings.timeouts) {
            Deadline::FromEntry(d) | Deadline::Idle(d) => d,
        };
        Turn {
            deadline: Some(after),
            ..Turn::default()
        }
    }

    fn on_input(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        if self.data.preamble == Preamble::ProxyHeader {
            if let Some(stop) = self.read_proxy_header(io, svc) {
                return stop;
            }
        }
        let mut turn = self.handle_packets(io, svc);
        if turn.close.is_none() {
            // A patch transfer reads its next piece as soon as its ring has room for it.
            self.pump_transfer(io, svc, &mut turn);
        }
        turn
    }

    fn on_reply(&mut self, reply: DbReply, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let DbReply::Login(reply) = reply else {
            return Turn::default();
        };
        let kind = self.state.kind();
        let clock = (io.now, io.unix_now);
        let out = (&mut *io.output, &mut *io.shared);
        let step = with_session(self, out, clock, svc, |state, scx| {
            state.on_store_reply(reply, scx)
        });
        self.settle(kind, step, svc)
    }

    fn on_timer(&mut self, timer: Timer, _io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        match timer {
            Timer::Deadline => {
                svc.counters.deadlines += 1;
                Turn::close(CloseReason::Deadline(self.state.kind().as_str()))
            }
            // A rate limit ended, or a patch read may be tried again: input handling resumes.
            Timer::Wake => Turn::default(),
        }
    }

    fn on_chunk(
        &mut self,
        offset: u64,
        data: Result<Vec<u8>, PatchError>,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
    ) -> Turn {
        let data = match data {
            Ok(d) => {
                svc.counters.patch_bytes_read += d.len() as u64;
                d
            }
            Err(e) => {
                svc.error(
                    io.now,
                    "patch read failed",
                    format_args!("{}: {e}", self.data),
                );
                return Turn::close(CloseReason::TransferFailed);
            }
        };
        // Only a streaming transfer asked for bytes; anything else keeps its state untouched.
        if !matches!(self.state, State::Update(_)) {
            return Turn::default();
        }
        let clock = (io.now, io.unix_now);
        let out = (&mut *io.output, &mut *io.shared);
        let step = with_session(self, out, clock, svc, |state, scx| match state {
            State::Update(update) => update.on_chunk(offset, &data, scx),
            other => Step::Become(other),
        });
        // Progress re-arms the transfer's idle deadline.
        self.settle(StateKind::Update, step, svc)
    }

    fn on_closed(
        &mut self,
        _token: ConnToken,
        reason: &CloseReason,
        now: Instant,
        svc: &mut Services,
    ) {
        svc.policies.observe(&Observation::Disconnected {
            class: self.data.class,
        });
        svc.counters.closed += 1;
        match reason {
            CloseReason::PeerClosed | CloseReason::Shutdown => {
                log::debug!("{}: closed: {reason}", self.data)
            }
            CloseReason::Deadline(_) => svc.info(
                now,
                reason.kind(),
                format_args!("{}: closed: {reason}", self.data),
            ),
            _ => svc.warn(
                now,
                reason.kind(),
                format_args!("{}: closed: {reason}", self.data),
            ),
        }
    }
}

impl ClientSession {
    /// Whether a drain must wait for this connection: a logon is in flight, or a first
    /// packet has arrived and waits to be handled.
    pub(super) fn in_flight(&self, standing: Standing, input_waiting: bool) -> bool {
        standing == Standing::Unproven
            && (self.logon_in_flight() || (input_waiting && matches!(self.state, State::Logon(_))))
    }
}
