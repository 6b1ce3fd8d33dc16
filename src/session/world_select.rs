//! The `WorldSelect` state: a logged-in client asks for the realm list, as often as it likes
//! while the list is open. The list comes from the realm-list cache, encoded once per change
//! and layout; only this account's character counts are filled in per request.

use crate::protocol::opcode::Opcode;
use crate::protocol::realm_list::RealmListC2s;
use crate::protocol::version::{Build, Layout};
use crate::realms::list_cache::RealmListCache;

use super::{CloseReason, OpcodeRule, SessionCx, SessionData, State, Step};

/// Logged in; showing realms.
pub struct WorldSelect;

impl WorldSelect {
    pub const LEGAL: &'static [OpcodeRule] = &[OpcodeRule {
        opcode: Opcode::RealmList,
        min_len: 5,
        max_len: 5,
    }];

    fn key(data: &SessionData) -> (Layout, Build) {
        (
            data.layout.unwrap_or(Layout::V8),
            data.build.unwrap_or(Build(0)),
        )
    }

    pub fn reply_room(data: &SessionData, realms: &mut RealmListCache) -> usize {
        let (layout, build) = Self::key(data);
        realms.encoded_len(layout, build)
    }

    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        if opcode != Opcode::RealmList {
            return Step::Close(CloseReason::IllegalOpcode {
                opcode: opcode.as_u8(),
                state: super::StateKind::WorldSelect,
            });
        }
        if let Err(e) = RealmListC2s::parse(msg) {
            return Step::Close(CloseReason::Malformed(e));
        }
        let (layout, build) = Self::key(cx.data);
        cx.realms
            .write_for(layout, build, &cx.data.characters, cx.out);
        Step::Become(State::WorldSelect(self))
    }
}
