//! Networking: per-connection rings, socket plumbing, and why a connection closes.

pub mod close;
pub mod connection;
pub mod ring;

pub use close::CloseReason;
