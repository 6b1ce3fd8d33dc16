//! `gatehouse serve`'s start-up line: what this process is and where it serves, in one line
//! an operator finds in the journal after a restart.

use std::net::SocketAddr;
use std::path::Path;

use gatehouse::config::Config;

/// `gatehouse 0.1.0: config /etc/gatehouse/gatehouse.toml; database gatehouse.db; game
/// 0.0.0.0:3724; realm link 127.0.0.1:3725; console off`. The database is named as
/// `StoreLocation` displays it (a password in a URL left out); listeners are the bound
/// addresses, so port 0 shows its real port.
pub fn startup_line(
    config_file: Option<&Path>,
    config: &Config,
    game: &[SocketAddr],
    link: &[SocketAddr],
    console: &[SocketAddr],
) -> String {
    let config_file = match config_file {
        Some(path) => format!("config {}", path.display()),
        None => "no config file, defaults".to_owned(),
    };
    format!(
        "gatehouse {}: {config_file}; database {}; game {}; realm link {}; console {}",
        env!("CARGO_PKG_VERSION"),
        config.store.location(),
        addrs(game),
        addrs(link),
        addrs(console),
    )
}

fn addrs(addrs: &[SocketAddr]) -> String {
    if addrs.is_empty() {
        return "off".to_owned();
    }
    addrs
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
