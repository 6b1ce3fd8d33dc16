//! Networking: per-connection rings, socket plumbing, why a connection closes, and the PROXY
//! protocol preamble a load balancer puts before a client's bytes.

pub mod close;
pub mod connection;
pub mod proxy_header;
pub mod ring;

pub use close::CloseReason;
