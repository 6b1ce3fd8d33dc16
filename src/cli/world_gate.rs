//! `gatehouse world-gate`: the reference world gateway's flags.

use std::net::SocketAddr;

use clap::Args;

#[derive(Args)]
pub struct WorldGateArgs {
    /// gatehouse's realm-link address.
    #[arg(long, default_value = "127.0.0.1:3725")]
    pub link: SocketAddr,
    /// The realm's id (as `gatehouse realm list` shows it).
    #[arg(long)]
    pub realm: u32,
    /// Read the realm's link secret as one line from standard input.
    #[arg(long)]
    pub link_secret_stdin: bool,
    /// Realm name to announce.
    #[arg(long)]
    pub name: String,
    /// Where game clients connect ("host:port"); the gate listens there.
    #[arg(long, value_name = "HOST:PORT")]
    pub address: String,
    /// The client build this world speaks.
    #[arg(long, default_value_t = 12340)]
    pub build: u16,
    /// pve, pvp, rp, rppvp, or a number.
    #[arg(long = "type", default_value = "pve")]
    pub realm_type: String,
    #[arg(long, default_value_t = 1)]
    pub timezone: u8,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 5)]
    pub heartbeat_secs: u64,
}
