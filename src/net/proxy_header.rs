//! The PROXY protocol preamble (HAProxy's v1 text and v2 binary headers): a TCP load balancer
//! in front of the game listener opens each connection with the address of the player it
//! forwards. Parsing is the `ppp` crate's; this module only says, for the bytes at the start
//! of a connection, whether a whole header is there, how long it is, and whom it names.

use std::net::{IpAddr, SocketAddr};

use ppp::{v1, v2, HeaderResult, PartialResult};

/// What the front of a connection holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header of `len` bytes. `source` is the player's address; `None` for a header
    /// that names none (v1 `UNKNOWN`, v2 `LOCAL`: the proxy's own health check).
    Complete {
        len: usize,
        source: Option<SocketAddr>,
    },
    Incomplete,
    /// Not a PROXY header, or a broken one.
    Invalid(String),
}

/// Reads the PROXY header at the start of `buf`.
pub fn check(buf: &[u8]) -> Parsed {
    let parsed = HeaderResult::parse(buf);
    if parsed.is_incomplete() {
        return Parsed::Incomplete;
    }
    match parsed {
        HeaderResult::V1(Ok(header)) => Parsed::Complete {
            len: header.header.len(),
            source: match header.addresses {
                v1::Addresses::Tcp4(a) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                v1::Addresses::Tcp6(a) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                v1::Addresses::Unknown => None,
            },
        },
        HeaderResult::V2(Ok(header)) => Parsed::Complete {
            len: header.len(),
            source: match (header.command, header.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                _ => None,
            },
        },
        HeaderResult::V1(Err(e)) => Parsed::Invalid(format!("PROXY v1: {e}")),
        HeaderResult::V2(Err(e)) => Parsed::Invalid(format!("PROXY v2: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_ipv4(source: [u8; 4], port: u16) -> Vec<u8> {
        let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        h.extend([0x21, 0x11, 0, 12]);
        h.extend(source);
        h.extend([127, 0, 0, 1]);
        h.extend(port.to_be_bytes());
        h.extend(3724u16.to_be_bytes());
        h
    }

    #[test]
    fn v1_and_v2_headers_name_the_player_and_their_length() {
        let v1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 50000 3724\r\n";
        let mut buf = v1.to_vec();
        buf.push(0x00); // the challenge that follows
        assert_eq!(
            check(&buf),
            Parsed::Complete {
                len: v1.len(),
                source: Some("203.0.113.7:50000".parse().unwrap()),
            }
        );
        let v2 = v2_ipv4([198, 51, 100, 9], 40000);
        let mut buf = v2.clone();
        buf.extend([0x00, 0x08]);
        assert_eq!(
            check(&buf),
            Parsed::Complete {
                len: v2.len(),
                source: Some("198.51.100.9:40000".parse().unwrap()),
            }
        );
        let v6 = b"PROXY TCP6 2001:db8::1 ::1 50000 3724\r\n";
        assert!(matches!(
            check(v6),
            Parsed::Complete { source: Some(s), .. } if s.ip() == "2001:db8::1".parse::<IpAddr>().unwrap()
        ));
        assert_eq!(
            check(b"PROXY UNKNOWN\r\n"),
            Parsed::Complete {
                len: 15,
                source: None
            }
        );
    }

    #[test]
    fn partial_headers_wait_and_garbage_is_refused() {
        assert_eq!(check(b"PROXY TCP4 203.0"), Parsed::Incomplete);
        assert_eq!(check(&v2_ipv4([1, 2, 3, 4], 5)[..20]), Parsed::Incomplete);
        assert!(matches!(
            check(b"\x00\x08\x30\x00WoW\x00"),
            Parsed::Invalid(_)
        ));
        assert!(matches!(
            check(b"PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n"),
            Parsed::Invalid(_)
        ));
    }
}
