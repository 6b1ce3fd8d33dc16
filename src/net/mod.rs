//! Networking: per-connection rings, answers shared by many connections, socket plumbing, why
//! a connection closes, and the PROXY protocol preamble a load balancer puts before a client's
//! bytes.

pub mod close;
pub mod connection;
pub mod proxy_header;
pub mod ring;
pub mod shared;

pub use close::CloseReason;
