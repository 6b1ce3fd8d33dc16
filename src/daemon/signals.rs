//! Signals: notifications that something happened, for observers that update themselves and
//! cannot veto (docs/architecture.md §5). They are queued, and the queue is drained
//! after each piece of work on the loop, so a signal raised while another is being handled is
//! handled after it, never recursively.

use std::collections::VecDeque;

use crate::realms::RealmId;

#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// The registry's visible realm list changed: the cache must re-encode.
    RealmListChanged,
    /// A realm's world server went away (link lost, unregistered, or silent).
    RealmOffline(RealmId),
}

#[derive(Default)]
pub struct SignalQueue {
    queue: VecDeque<Signal>,
}

impl SignalQueue {
    pub fn raise(&mut self, signal: Signal) {
        // One pending "changed" is as good as many.
        if !self.queue.contains(&signal) {
            self.queue.push_back(signal);
        }
    }

    pub fn next(&mut self) -> Option<Signal> {
        self.queue.pop_front()
    }
}
