//! Networking: per-connection rings and socket plumbing.

pub mod connection;
pub mod ring;
