//! The binary's subcommands, one module per group: their flags (clap) and how they print.
//! The work they ask for is in the library (`gatehouse::admin`, `gatehouse::store`); these
//! modules belong to `src/main.rs`, not to the library.

pub mod account;
pub mod audit;
pub mod ban;
pub mod database;
pub mod generate;
pub mod hidden;
pub mod link_listen;
pub mod output;
pub mod realm;
pub mod serve;
pub mod world_gate;
