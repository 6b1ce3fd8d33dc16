//! What the console's `stats` and the `/metrics` page read of the router beside the
//! services: the connection tables' sizes and the loop's own figures, gathered in one view so
//! both read the same numbers, and the game clients counted per state.

use std::time::Instant;

use super::table::ConnTable;
use crate::session::{ClientSession, StateKind};

/// What `stats` and `/metrics` read beside the services.
pub(super) struct StatsView<'a> {
    pub clients: &'a ConnTable<ClientSession>,
    pub links: usize,
    pub consoles: usize,
    pub scrapes: usize,
    pub now: Instant,
    pub unix_now: i64,
    pub loop_stats: &'a crate::event_loop::LoopStats,
    pub inbox_depth: usize,
}

/// Game clients open, per state (the names `/metrics` labels them with).
pub(super) fn game_states(clients: &ConnTable<ClientSession>) -> [(&'static str, u64); 4] {
    let mut by_state = [
        ("logon", 0),
        ("update", 0),
        ("world_select", 0),
        ("closing", 0),
    ];
    for (_, conn) in clients.iter() {
        let i = match conn.session.state.kind() {
            StateKind::Logon => 0,
            StateKind::Update => 1,
            StateKind::WorldSelect => 2,
            StateKind::Closing => 3,
        };
        if let Some((_, n)) = by_state.get_mut(i) {
            *n += 1;
        }
    }
    by_state
}
