//! Realms: the list a client sees after it logs in. Issue 2 keeps the realms configured in the
//! store (`gatehouse realm add`) and a cache that encodes the list once per change and layout.
//! The registry of live, linked world servers builds on this.

pub mod link;
pub mod list_cache;
pub mod registry;

pub use crate::values::RealmId;
