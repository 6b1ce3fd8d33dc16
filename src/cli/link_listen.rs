//! The global `--link-listen ADDR|off` flag: where the realm-link listener binds, overriding
//! `link.listen`, or `off` for none (a second instance, the load and bench scripts).

use std::net::SocketAddr;
use std::str::FromStr;

use anyhow::{bail, Result};

/// One `--link-listen` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkListen {
    /// `off`: no realm-link listener.
    Off,
    At(SocketAddr),
}

impl FromStr for LinkListen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(LinkListen::Off);
        }
        s.parse()
            .map(LinkListen::At)
            .map_err(|_| format!("{s:?} is neither an address (127.0.0.1:3725) nor \"off\""))
    }
}

/// The listener addresses the flags ask for: `None` without any (the config's stand), an
/// empty list for `off`. `off` beside an address is refused: one of them is a mistake.
pub fn resolve(flags: &[LinkListen]) -> Result<Option<Vec<SocketAddr>>> {
    if flags.is_empty() {
        return Ok(None);
    }
    let addrs: Vec<SocketAddr> = flags
        .iter()
        .filter_map(|f| match f {
            LinkListen::At(a) => Some(*a),
            LinkListen::Off => None,
        })
        .collect();
    if !addrs.is_empty() && flags.contains(&LinkListen::Off) {
        bail!("--link-listen off turns the realm link off: it cannot go with an address");
    }
    Ok(Some(addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_addresses_resolve() {
        let at: LinkListen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(resolve(&[]).unwrap(), None);
        assert_eq!(resolve(&[LinkListen::Off]).unwrap(), Some(vec![]));
        assert_eq!("OFF".parse::<LinkListen>().unwrap(), LinkListen::Off);
        assert_eq!(
            resolve(&[at, at]).unwrap(),
            Some(vec!["127.0.0.1:0".parse().unwrap(); 2])
        );
        assert!(resolve(&[at, LinkListen::Off]).is_err());
        assert!("nowhere".parse::<LinkListen>().is_err());
    }
}
