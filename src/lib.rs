//! gatehouse: a login server for game worlds that speak the WoW login protocol.

pub mod account;
pub mod config;
pub mod event_loop;
pub mod logging;
pub mod net;
pub mod protocol;
pub mod realms;
pub mod srp6;
pub mod store;
