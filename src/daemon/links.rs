//! Realm links as a kind of connection: world servers on the link listener. Frames are cut
//! from the input ring and handed to `realms::link::server`, whose answer becomes the table's
//! [`Turn`]. Until a world server has proven its realm's key it has small rings, a short
//! deadline, and counts against its address's cap of unauthenticated links, so links that
//! never authenticate cannot lock a real world server out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{DbJob, DbReply, Target, Timer};
use super::services::Services;
use super::signals::Signal;
use super::table::{Buffers, ConnIo, Kind, Refusal, Shape, Stopped, Turn};
use crate::event_loop::{ConnToken, TableId};
use crate::net::connection::{OutputSink, Standing};
use crate::net::CloseReason;
use crate::policy::bucket::Rate;
use crate::protocol::wire::Check;
use crate::realms::link::message::{error_code, LinkMessage};
use crate::realms::link::server::{self, LinkCx, LinkSession, LinkState, LinkStep};
use crate::realms::registry::Change;

/// Realm links held at once (a realm id is a byte, so 255 realms; the rest is slack for
/// reconnecting world servers).
pub(crate) const MAX_LINKS: usize = 1024;
/// Links that have not authenticated yet, per address and in all.
const UNPROVEN_PER_ADDRESS: usize = 8;
const UNPROVEN_MAX: usize = 64;
/// A world server authenticates in one round trip; this is ample for a slow network.
const AUTH_DEADLINE: Duration = Duration::from_secs(10);
/// Rings of a linked world server: frames are at most 1 KiB, and the server sends little.
const LINK_INPUT: usize = 4 * 1024;
const LINK_OUTPUT: usize = 16 * 1024;
/// Rings before: one Auth frame in, Hello and AuthResult (or an Error) out.
const UNPROVEN_INPUT: usize = 1024 + 64;
const UNPROVEN_OUTPUT: usize = 512;

impl LinkSession {
    /// Room the answer to one frame needs before the frame is handled.
    fn answer_room(standing: Standing) -> usize {
        match standing {
            Standing::Unproven => 256,
            Standing::Proven => 2 * 1024,
        }
    }

    /// Runs one link handler with its context, and puts its answer in place.
    fn run(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        handle: impl FnOnce(&mut LinkSession, LinkState, &mut LinkCx<'_>) -> LinkStep,
    ) -> Turn {
        let was_authenticated = self.authenticated();
        let mut realms_changed = false;
        let state = self.take_state();
        let step = {
            let mut sink = OutputSink::new(io.output);
            let mut cx = LinkCx {
                now: io.now,
                unix_now: io.unix_now,
                token: io.token,
                out: &mut sink,
                registry: &mut svc.registry,
                realms_changed: &mut realms_changed,
                log: &mut svc.log,
                take_rate: Rate {
                    per_second: svc.config.link.take_rate,
                    burst: svc.config.link.take_burst,
                },
                takes_limited: &mut svc.counters.link_takes_limited,
                wrong_digests: &mut svc.counters.link_wrong_digests,
            };
            handle(self, state, &mut cx)
        };
        if realms_changed {
            svc.signals.raise(Signal::RealmListChanged);
        }
        let (state, ask) = match step {
            LinkStep::Become(state) => (state, None),
            LinkStep::Ask(state, op) => (state, Some(DbJob::Login(op))),
            LinkStep::Close(why) => return Turn::close(CloseReason::LinkRefused(why)),
            LinkStep::Finish => return Turn::close(CloseReason::PeerClosed),
        };
        self.state = state;
        let authenticated = self.authenticated();
        Turn {
            ask,
            standing: (authenticated && !was_authenticated).then_some(Standing::Proven),
            // A linked world server must speak (heartbeat) at least this often.
            deadline: authenticated.then(|| {
                Duration::from_secs(svc.config.link.heartbeat_timeout_secs.saturating_mul(4))
            }),
            ..Turn::default()
        }
    }
}

impl Kind for LinkSession {
    const TABLE: TableId = TableId(1);
    const LABEL: &'static str = "link from";

    fn target(token: ConnToken) -> Target {
        Target::Link(token)
    }

    fn shape(_svc: &Services) -> Shape {
        Shape {
            max_open: MAX_LINKS,
            unproven_per_address: Some(UNPROVEN_PER_ADDRESS),
            unproven_max: Some(UNPROVEN_MAX),
            unproven: Buffers {
                input: UNPROVEN_INPUT,
                output: UNPROVEN_OUTPUT,
            },
            proven: Buffers {
                input: LINK_INPUT,
                output: LINK_OUTPUT,
            },
        }
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn admit(
        peer: SocketAddr,
        _open: usize,
        _now: Instant,
        _unix_now: i64,
        _svc: &mut Services,
    ) -> Result<Self, Refusal> {
        let mut nonce = [0u8; 32];
        crate::srp6::fill_random(&mut nonce);
        Ok(LinkSession::new(peer, nonce))
    }

    fn on_open(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let LinkState::AwaitAuth { nonce } = &self.state else {
            return Turn::close(CloseReason::LinkRefused("no nonce".into()));
        };
        let nonce = *nonce;
        if let Err(e) = LinkSession::hello(nonce).encode(&mut OutputSink::new(io.output)) {
            log::error!("link from {}: cannot encode Hello: {e}", self.peer);
            return Turn::close(CloseReason::LinkRefused(e.to_string()));
        }
        svc.info(
            io.now,
            "link connected",
            format_args!("link from {}: connected", self.peer),
        );
        Turn {
            deadline: Some(AUTH_DEADLINE.min(svc.config.timeouts.logon())),
            ..Turn::default()
        }
    }

    fn on_input(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let mut handled = 0;
        let mut deadline = None;
        loop {
            if self.holds_input() {
                return Turn::stopped(handled, Stopped::Held, deadline);
            }
            if io.input.is_empty() {
                return Turn::stopped(handled, Stopped::NeedInput, deadline);
            }
            if io.output.free() < Self::answer_room(io.standing) {
                // The world server is not reading; wait for the flush.
                return Turn::stopped(handled, Stopped::NeedOutputRoom, deadline);
            }
            let len = match LinkMessage::check_frame(io.input.contiguous()) {
                Check::Complete(len) => len,
                Check::Incomplete => return Turn::stopped(handled, Stopped::NeedInput, deadline),
                Check::Invalid(e) => return Turn::close(CloseReason::Malformed(e)),
            };
            let message = LinkMessage::parse(io.input.contiguous().get(..len).unwrap_or_default());
            io.input.consume(len);
            handled += 1;
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    svc.warn(
                        io.now,
                        "link frame refused",
                        format_args!("link from {}: {e}", self.peer),
                    );
                    return Turn::close(CloseReason::LinkRefused(e.to_string()));
                }
            };
            let turn = self.run(io, svc, |session, state, lcx| {
                server::on_frame(session, state, message, lcx)
            });
            if turn.must_apply() {
                return turn.then_more(handled, deadline);
            }
            deadline = turn.deadline.or(deadline);
        }
    }

    fn on_reply(&mut self, reply: DbReply, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let DbReply::Login(reply) = reply else {
            return Turn::default();
        };
        self.run(io, svc, |session, state, lcx| {
            server::on_store_reply(session, state, reply, lcx)
        })
    }

    fn on_timer(&mut self, timer: Timer, io: &mut ConnIo<'_>, _svc: &mut Services) -> Turn {
        if timer != Timer::Deadline {
            return Turn::default();
        }
        // Say why (an Error frame), then close.
        let (code, message) = match self.realm() {
            Some(_) => (
                error_code::HEARTBEAT_TIMEOUT,
                "silent past the heartbeat deadline",
            ),
            None => (error_code::NOT_AUTHENTICATED, "no authentication in time"),
        };
        let frame = LinkMessage::Error {
            code,
            message: message.to_string(),
        };
        // Best effort: the world server may well be gone.
        let _ = frame.encode(&mut OutputSink::new(io.output));
        Turn::close(CloseReason::LinkSilent)
    }

    fn on_closed(
        &mut self,
        token: ConnToken,
        reason: &CloseReason,
        now: Instant,
        svc: &mut Services,
    ) {
        svc.info(
            now,
            "link closed",
            format_args!("link from {}: closed: {reason}", self.peer),
        );
        if let Some(realm) = self.registered {
            if svc.registry.went_away(realm, token) == Change::Changed {
                svc.signals.raise(Signal::RealmOffline(realm));
                svc.signals.raise(Signal::RealmListChanged);
            }
        }
    }
}
