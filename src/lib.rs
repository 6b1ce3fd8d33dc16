//! gatehouse: a login server for game worlds that speak the WoW login protocol.

pub mod account;
pub mod admin;
pub mod client;
pub mod config;
pub mod daemon;
pub mod event_loop;
pub mod logging;
pub mod net;
pub mod protocol;
pub mod realms;
pub mod session;
pub mod srp6;
pub mod store;
