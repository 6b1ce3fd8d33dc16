//! The `WorldSelect` state: a logged-in client asks for the realm list while the list is open.
//! The list comes from the realm-list cache, encoded once per change and view: layout, build,
//! security level (which realms the account sees, and which locked) and the realms' local
//! subnets the client's address is in (which realms it is given the local address of: the
//! address a PROXY header named, when one did), and is sent from that shared
//! encoding with only this account's character counts filled in per request: it is not
//! copied into the connection's output ring, so a logged-in client keeps a small one. A
//! request that comes while the previous answer is still going out waits for it.
//!
//! At most one answer per `limits.realm_list_interval_ms`: a request that comes sooner is not
//! read until the interval has passed ([`Input::HoldUntil`]), so a client that floods
//! CMD_REALM_LIST is slowed to one answer per interval by its own socket buffers, and costs
//! neither reads nor encodes meanwhile.

use std::time::Instant;

use crate::event_loop::due_after;
use crate::protocol::opcode::Opcode;
use crate::protocol::realm_list::RealmListC2s;
use crate::protocol::version::{Build, Layout};
use crate::realms::list_cache::{ListView, RealmListCache};

use super::{CloseReason, Input, OpcodeRule, SessionCx, SessionData, State, Step};

/// Logged in; showing realms.
pub struct WorldSelect {
    /// When the next realm list may be sent; `None` before the first.
    next_answer: Option<Instant>,
}

impl WorldSelect {
    pub const LEGAL: &'static [OpcodeRule] = &[OpcodeRule {
        opcode: Opcode::RealmList,
        min_len: 5,
        max_len: 5,
    }];

    pub fn new() -> Self {
        Self { next_answer: None }
    }

    pub fn input(&self, now: Instant) -> Input {
        match self.next_answer {
            Some(at) if at > now => Input::HoldUntil(at),
            _ => Input::Handle,
        }
    }

    /// Which list the account gets: its client's layout and build, its security level, and
    /// the realms' local subnets its address is in.
    fn view(data: &SessionData, realms: &RealmListCache) -> ListView {
        realms.view(
            data.layout.unwrap_or(Layout::V8),
            data.build.unwrap_or(Build(0)),
            data.security_level,
            data.peer.ip(),
        )
    }

    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        if opcode != Opcode::RealmList {
            return Step::Close(CloseReason::IllegalOpcode {
                opcode: opcode.as_u8(),
                state: super::StateKind::WorldSelect.as_str(),
            });
        }
        if let Err(e) = RealmListC2s::parse(msg) {
            return Step::Close(CloseReason::Malformed(e));
        }
        let view = Self::view(cx.data, cx.realms);
        let answer = cx.realms.answer_for(view, &cx.data.characters);
        cx.out.put_shared(answer);
        Step::Become(State::WorldSelect(WorldSelect {
            next_answer: Some(due_after(cx.now, cx.settings.realm_list_interval)),
        }))
    }
}

impl Default for WorldSelect {
    fn default() -> Self {
        Self::new()
    }
}
