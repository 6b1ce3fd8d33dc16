//! The daemon's realm-link side: accepting world servers on the link listener, framing their
//! bytes, and routing frames and store replies through `realms::link::server`.

use std::time::Duration;

use super::signals::Signal;
use super::{unix_now, Daemon, Msg};
use crate::event_loop::{ConnToken, Ctx, Target};
use crate::net::connection::{Connection, OutputSink, ReadOutcome};
use crate::protocol::wire::Check;
use crate::realms::link::message::{error_code, LinkMessage};
use crate::realms::link::server::{self, LinkCx, LinkSession, LinkState, LinkStep};
use crate::session::CloseReason;
use crate::store::worker::StoreReply;

/// A link's buffers: frames are at most 1 KiB, and the server sends little.
const LINK_INPUT: usize = 4 * 1024;
const LINK_OUTPUT: usize = 16 * 1024;

/// Runs one link handler with its context; returns its step and whether the realm list changed.
fn with_link(
    now: std::time::Instant,
    token: ConnToken,
    conn: &mut Connection<LinkSession>,
    store_ops: &mut Vec<crate::store::worker::StoreOp>,
    registry: &mut crate::realms::registry::RealmRegistry,
    handle: impl FnOnce(&mut LinkSession, &mut LinkCx<'_>) -> LinkStep,
) -> (LinkStep, bool) {
    let mut realms_changed = false;
    let mut sink = OutputSink::new(&mut conn.output);
    let mut cx = LinkCx {
        now,
        unix_now: unix_now(),
        token,
        out: &mut sink,
        store: store_ops,
        registry,
        realms_changed: &mut realms_changed,
    };
    let step = handle(&mut conn.session, &mut cx);
    (step, realms_changed)
}

impl Daemon {
    pub(super) fn accept_links(&mut self, cx: &mut Ctx<'_, Msg>, index: usize) {
        while let Some((socket, peer)) = self.next_accepted(index) {
            if self.links.len() >= super::MAX_LINKS {
                log::warn!(
                    "{peer}: realm link closed at accept: {} links open",
                    super::MAX_LINKS
                );
                continue;
            }
            let _ = socket.set_nodelay(true);
            let mut nonce = [0u8; 32];
            crate::srp6::fill_random(&mut nonce);
            let now = cx.now();
            let Some(token) = self.links.insert_with(|_| {
                Connection::new(
                    socket,
                    LinkSession::new(peer, nonce),
                    LINK_INPUT,
                    LINK_OUTPUT,
                    now,
                )
            }) else {
                continue;
            };
            let Some(conn) = self.links.get_mut(token) else {
                continue;
            };
            if let Err(e) = conn.register(cx.registry(), token.to_mio_link()) {
                log::warn!("link from {peer}: cannot register: {e}");
                self.links.remove(token);
                continue;
            }
            if let Err(e) = LinkSession::hello(nonce).encode(&mut OutputSink::new(&mut conn.output))
            {
                log::error!("link from {peer}: cannot encode Hello: {e}");
                self.close_link(token, CloseReason::LinkRefused(e.to_string()));
                continue;
            }
            log::info!("link from {peer}: connected");
            self.arm_link_deadline(cx, token, self.config.timeouts.logon());
            self.flush_link(cx, token);
        }
    }

    fn arm_link_deadline(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, after: Duration) {
        let Some(conn) = self.links.get_mut(token) else {
            return;
        };
        if let Some(old) = conn.deadline.take() {
            cx.cancel(old);
        }
        conn.deadline = Some(cx.send_after(after, Msg::LinkDeadline(token)));
    }

    /// A linked world server must speak (heartbeat) at least this often.
    fn link_idle(&self) -> Duration {
        Duration::from_secs(self.config.link.heartbeat_timeout_secs.saturating_mul(4))
    }

    /// The link's deadline passed: say why (Error frame), then close.
    pub(super) fn link_deadline(&mut self, token: ConnToken) {
        let Some(conn) = self.links.get_mut(token) else {
            return;
        };
        conn.deadline = None;
        let (code, message) = match conn.session.realm() {
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
        let _ = frame.encode(&mut OutputSink::new(&mut conn.output));
        self.close_link(token, CloseReason::LinkSilent);
    }

    pub(super) fn close_link(&mut self, token: ConnToken, reason: CloseReason) {
        if let Some(conn) = self.links.get_mut(token) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.links_to_close.push(token);
            }
        }
    }

    pub(super) fn service_link(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        loop {
            let Some(conn) = self.links.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            let mut ring_was_full = false;
            if !conn.eof && !conn.input.is_full() {
                match conn.fill_input() {
                    Ok(ReadOutcome::RingFull) => ring_was_full = true,
                    Ok(_) => {}
                    Err(e) => return self.close_link(token, CloseReason::Io(e.kind())),
                }
            }
            let handled = self.handle_link_input(cx, token);
            let Some(conn) = self.links.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            let held = conn.session.holds_input();
            if conn.eof && !held {
                return self.close_link(token, CloseReason::PeerClosed);
            }
            if conn.input.is_full() && handled == 0 && !held {
                return self.close_link(token, CloseReason::InputOverflow);
            }
            if !(ring_was_full && handled > 0) {
                break;
            }
        }
        self.flush_link(cx, token);
    }

    fn handle_link_input(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) -> usize {
        let mut handled = 0;
        loop {
            let Some(conn) = self.links.get_mut(token) else {
                return handled;
            };
            if conn.closing.is_some() || conn.session.holds_input() || conn.input.is_empty() {
                return handled;
            }
            if conn.output.free() < 2 * 1024 {
                return handled; // the world server is not reading; wait for the flush
            }
            let len = match LinkMessage::check_frame(conn.input.contiguous()) {
                Check::Complete(len) => len,
                Check::Incomplete => return handled,
                Check::Invalid(e) => {
                    self.close_link(token, CloseReason::Malformed(e));
                    return handled;
                }
            };
            let message = LinkMessage::parse(&conn.input.contiguous()[..len]);
            conn.input.consume(len);
            handled += 1;
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    log::warn!("link from {}: {e}", conn.session.peer);
                    self.close_link(token, CloseReason::LinkRefused(e.to_string()));
                    return handled;
                }
            };
            let Some(state) = conn.session.state.take() else {
                return handled;
            };
            let (step, realms_changed) = with_link(
                cx.now(),
                token,
                conn,
                &mut self.store_ops,
                &mut self.registry,
                |session, lcx| server::on_frame(session, state, message, lcx),
            );
            self.apply_link(cx, token, step, realms_changed);
            if let Some(after) = self.links.get(token).and_then(|c| match c.session.state {
                Some(LinkState::Linked { .. }) | Some(LinkState::Taking { .. }) => {
                    Some(self.link_idle())
                }
                _ => None,
            }) {
                self.arm_link_deadline(cx, token, after);
            }
        }
    }

    fn apply_link(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        step: LinkStep,
        realms_changed: bool,
    ) {
        if realms_changed {
            self.raise(Signal::RealmListChanged);
        }
        match step {
            LinkStep::Become(state) => {
                if let Some(conn) = self.links.get_mut(token) {
                    conn.session.state = Some(state);
                }
            }
            LinkStep::Close(why) => self.close_link(token, CloseReason::LinkRefused(why)),
            LinkStep::Finish => self.close_link(token, CloseReason::PeerClosed),
        }
        let mut ops = std::mem::take(&mut self.store_ops);
        for op in ops.drain(..) {
            if let Some(reply) = self.submit(Target::Link(token), op) {
                self.deliver_link_reply(cx, token, reply);
            }
        }
        if self.store_ops.is_empty() {
            self.store_ops = ops;
        }
    }

    pub(super) fn deliver_link_reply(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        reply: StoreReply,
    ) {
        let Some(conn) = self.links.get_mut(token) else {
            return; // the link has gone: a stale reply
        };
        if conn.closing.is_some() {
            return;
        }
        let Some(state) = conn.session.state.take() else {
            return;
        };
        let (step, realms_changed) = with_link(
            cx.now(),
            token,
            conn,
            &mut self.store_ops,
            &mut self.registry,
            |session, lcx| server::on_store_reply(session, state, reply, lcx),
        );
        let linked = matches!(step, LinkStep::Become(LinkState::Linked { .. }));
        self.apply_link(cx, token, step, realms_changed);
        if linked {
            let idle = self.link_idle();
            self.arm_link_deadline(cx, token, idle);
        }
        // Frames held while the store worked may now be handled.
        self.service_link(cx, token);
    }

    pub(super) fn flush_link(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.links.get_mut(token) else {
            return;
        };
        if let Err(e) =
            conn.flush_and_watch(cx.registry(), token.to_mio_link(), super::WRITE_BUDGET)
        {
            self.close_link(token, CloseReason::Io(e.kind()));
        }
    }

    pub(super) fn reap_links(&mut self, cx: &mut Ctx<'_, Msg>) {
        for token in std::mem::take(&mut self.links_to_close) {
            let Some(mut conn) = self.links.remove(token) else {
                continue;
            };
            if let Some(id) = conn.deadline.take() {
                cx.cancel(id);
            }
            let reason = conn.retire(cx.registry(), super::WRITE_BUDGET);
            log::info!("link from {}: closed: {reason}", conn.session.peer);
            if let Some(realm) = conn.session.registered {
                if self.registry.went_away(realm, token) == crate::realms::registry::Change::Changed
                {
                    self.raise(Signal::RealmOffline(realm));
                    self.raise(Signal::RealmListChanged);
                }
            }
        }
    }
}
