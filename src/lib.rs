//! gatehouse: a login server for game worlds that speak the WoW login protocol.

pub mod account;
pub mod event_loop;
pub mod protocol;
pub mod realms;
pub mod srp6;
pub mod store;
