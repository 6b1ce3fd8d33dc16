//! Counters the daemon keeps about itself (loop thread only, so plain integers), including
//! logon outcomes since start and over the last minute, for the console and systemd STATUS.

use crate::policy::RefusalReason;
use crate::realms::list_cache::RealmListStats;
use crate::session::OutcomeCounts;

#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub accepted: u64,
    pub closed: u64,
    /// Connections admitted by the policies for which no slot was left.
    pub refused_full: u64,
    /// Connections and challenges the policies refused, per reason (copied from
    /// [`crate::policy::Policies::refused`] when the counters are read).
    pub refused: Vec<(RefusalReason, u64)>,
    pub protocol_errors: u64,
    pub deadlines: u64,
    pub store_busy: u64,
    /// Session takes answered "no ticket" because their link was over `link.take_rate`.
    pub link_takes_limited: u64,
    /// Checked session takes refused because the client's digest was wrong (the ticket stays).
    pub link_wrong_digests: u64,
    /// Logons and reconnects that reached the realm list.
    pub logons_ok: u64,
    /// Patch bytes read from disk for clients (each read only when its ring had room).
    pub patch_bytes_read: u64,
    pub outcomes: OutcomeCounts,
    /// Changes and encodings of the realm list (copied from the cache when the counters are
    /// read): encodings that grow with heartbeats rather than changes would show a world
    /// server flapping its realm.
    pub realm_list: RealmListStats,
}

impl Counters {
    /// Refusals for `reason` since start.
    pub fn refused_for(&self, reason: RefusalReason) -> u64 {
        self.refused
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}
