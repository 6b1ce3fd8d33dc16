//! Realms: the list a client sees after it logs in. Issue 2 keeps the realms configured in the
//! store (`gatehouse realm add`) and a cache that encodes the list once per change and layout.
//! The registry of live, linked world servers builds on this.

pub mod link;
pub mod list_cache;
pub mod registry;

use std::fmt;

/// Row id of a realm in the store; also the `realm_id` byte of a realm-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealmId(pub u32);

impl fmt::Display for RealmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "realm {}", self.0)
    }
}
