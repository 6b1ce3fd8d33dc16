//! The event loop.

pub mod token;
