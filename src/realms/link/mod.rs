//! The realm link: how world servers register their realms with gatehouse, heartbeat, and take
//! each player's session key. A second listener on the loop speaks this small binary protocol
//! of ours (docs/realm-link.md); nothing is accepted from a link before it has answered a fresh
//! challenge with an HMAC under its realm's key.

pub mod client;
pub mod frame;
pub mod key;
pub mod message;
pub mod server;

pub use key::LinkKey;
