//! Tools that live beside the server but are not part of it: nothing in the login server's
//! loop, store or sessions uses them.
//!
//! - [`client`]: a blocking login client with its own SRP6 side, for the integration tests and
//!   the load client (`gatehouse load`).
//! - [`world_gate`]: the reference world gateway that checks a session key over the realm link
//!   (`gatehouse world-gate`), and what the tests use to prove a key lets a client into a world.

pub mod client;
pub mod world_gate;
