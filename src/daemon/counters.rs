//! Counters the daemon keeps about itself (loop thread only, so plain integers), including
//! logon outcomes since start and over the last minute and the store's latencies: the one
//! set of numbers the console's `stats`, the systemd STATUS line and `/metrics` all read.

use crate::metrics::http::Status;
use crate::metrics::Log2Histogram;
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
    /// Store job times from submit to reply, recorded as the replies reach the loop.
    pub store_latency: Log2Histogram,
    /// Answers of the metrics endpoint, by [`Status`] (in [`Status::ALL`]'s order).
    pub scrapes: [u64; Status::ALL.len()],
}

impl Counters {
    /// Counts one answer of the metrics endpoint.
    pub fn scraped(&mut self, status: Status) {
        if let Some(i) = Status::ALL.iter().position(|s| *s == status) {
            if let Some(n) = self.scrapes.get_mut(i) {
                *n += 1;
            }
        }
    }

    /// Refusals for `reason` since start.
    pub fn refused_for(&self, reason: RefusalReason) -> u64 {
        self.refused
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}
