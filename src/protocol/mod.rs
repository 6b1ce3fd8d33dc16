//! The wire format of the login protocol (../shared/protocol/login-protocol.md): opcodes,
//! result codes, and every message's layout per protocol version, in both directions.

pub mod version;
