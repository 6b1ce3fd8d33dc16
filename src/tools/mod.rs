//! Tools that live beside the server but are not part of it: nothing in the login server's
//! loop, store or sessions uses them.
//!
//! - [`client`]: a blocking login client with its own SRP6 side, for the integration tests and
//!   the load client (`gatehouse load`).
//! - [`srp_ceiling`]: the server's SRP work per logon in a tight loop (`gatehouse srp-ceiling`,
//!   a hidden command that `scripts/bench.sh` runs).
//! - [`percentile`]: the order statistics both report.
//! - [`world_gate`]: the reference world gateway that checks a session key over the realm link
//!   (`gatehouse world-gate`), and what the tests use to prove a key lets a client into a world.

pub mod client;
pub mod percentile;
pub mod srp_ceiling;
pub mod world_gate;
