//! Networking: per-connection rings and socket plumbing.

pub mod ring;
