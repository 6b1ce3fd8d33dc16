//! The wire format of the login protocol (docs/protocol.md): opcodes,
//! result codes, and every message's layout per protocol version, in both directions.
//!
//! Every message type offers the same pure functions: `check(buf) -> Check` frames a message
//! at the front of a receive buffer without allocating (Complete / Incomplete / Invalid),
//! `parse(msg)` decodes exactly one message, `encoded_len` and `encode(sink)` write it
//! through [`wire::WireSink`]. Layout-dependent messages take a [`version::Layout`]. Network
//! input only ever goes through the bounds-checked [`wire::Reader`].

pub mod challenge;
pub mod client_tags;
pub mod opcode;
pub mod proof;
pub mod realm_list;
pub mod reconnect;
pub mod result;
pub mod version;
pub mod wire;
pub mod xfer;

#[cfg(test)]
mod tests;

pub use opcode::Opcode;
pub use result::LoginResult;
pub use wire::{Check, ProtocolError, Reader, WireSink};
