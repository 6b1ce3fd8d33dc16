//! The game client's side of the world handshake, blocking, for tests and the load client:
//! read SMSG_AUTH_CHALLENGE, answer CMSG_AUTH_SESSION with the digest of docs/srp6.md §9, read
//! SMSG_AUTH_RESPONSE (decrypting its header when it is AUTH_OK, as a real client does).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::account::AccountName;
use crate::protocol::version::Build;
use crate::protocol::wire::ProtocolError;
use crate::srp6::{self, SessionKey};

use super::header_crypt::HeaderCrypt;
use super::packets::{
    self, AuthChallengeS2c, AuthResponseS2c, AuthResult, AuthSessionC2s, WorldLayout,
    SERVER_HEADER_LEN, SMSG_AUTH_CHALLENGE, SMSG_AUTH_RESPONSE,
};

/// What the world answered.
pub type AuthResponse = AuthResponseS2c;

#[derive(Debug, thiserror::Error)]
pub enum WorldClientError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("malformed server packet: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("expected opcode {expected:#x}, got {found:#x} (size {size})")]
    UnexpectedPacket {
        expected: u16,
        found: u16,
        size: u16,
    },
    #[error("the operating system's random number generator failed")]
    Random,
}

/// Server packets the client reads are small; anything bigger is not a gate talking.
const MAX_SERVER_PAYLOAD: usize = 64;

/// Logs `name` in to the world at `addr` with session key `key`, speaking `build`'s layout.
pub fn world_login(
    addr: SocketAddr,
    build: u16,
    name: &AccountName,
    key: &SessionKey,
    timeout: Duration,
) -> Result<AuthResponse, WorldClientError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let layout = WorldLayout::of(Build(build));

    let header = read_header(&mut stream)?;
    let (size, opcode) = packets::parse_server_header(header);
    let payload = read_payload(&mut stream, size, opcode, SMSG_AUTH_CHALLENGE)?;
    let challenge = AuthChallengeS2c::parse(layout, &payload)?;

    let mut seed = [0u8; 4];
    getrandom::fill(&mut seed).map_err(|_| WorldClientError::Random)?;
    let client_seed = u32::from_le_bytes(seed);
    let session = AuthSessionC2s {
        build: Build(build),
        server_id: 0,
        account: *name,
        login_server_type: 0,
        client_seed,
        region_id: 0,
        battlegroup_id: 0,
        realm_id: 0,
        dos_response: 0,
        digest: srp6::world_server_proof(name, client_seed, challenge.server_seed, key),
        addon_data: Vec::new(),
    };
    let mut out = Vec::with_capacity(96);
    session.encode(&mut out)?;
    stream.write_all(&out)?;

    // Failures come with a header in the clear; AUTH_OK's header is the first encrypted one.
    let raw = read_header(&mut stream)?;
    let (size, opcode) = packets::parse_server_header(raw);
    let (size, opcode) = if (size, opcode) == (3, SMSG_AUTH_RESPONSE) {
        (size, opcode)
    } else {
        let mut h = raw;
        HeaderCrypt::client(layout, key).decrypt(&mut h);
        packets::parse_server_header(h)
    };
    let payload = read_payload(&mut stream, size, opcode, SMSG_AUTH_RESPONSE)?;
    let response = AuthResponseS2c::parse(layout, &payload)?;
    if size == 3 && response.result == AuthResult::Ok {
        // AUTH_OK never travels with a header in the clear.
        return Err(ProtocolError::Truncated.into());
    }
    Ok(response)
}

fn read_header(stream: &mut TcpStream) -> io::Result<[u8; SERVER_HEADER_LEN]> {
    let mut h = [0u8; SERVER_HEADER_LEN];
    stream.read_exact(&mut h)?;
    Ok(h)
}

fn read_payload(
    stream: &mut TcpStream,
    size: u16,
    opcode: u16,
    expected: u16,
) -> Result<Vec<u8>, WorldClientError> {
    let len = usize::from(size).checked_sub(2);
    match len {
        Some(len) if opcode == expected && len <= MAX_SERVER_PAYLOAD => {
            let mut payload = vec![0u8; len];
            stream.read_exact(&mut payload)?;
            Ok(payload)
        }
        _ => Err(WorldClientError::UnexpectedPacket {
            expected,
            found: opcode,
            size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::packets::{client_header, CMSG_AUTH_SESSION, MAX_AUTH_SESSION_PAYLOAD};
    use super::super::{
        GateHandle, MemoryTickets, SharedTickets, Ticket, TicketError, TicketSource, TicketTake,
        WorldGate,
    };
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);
    const BUILDS: [u16; 3] = [5875, 8606, 12340];

    fn name(s: &str) -> AccountName {
        AccountName::parse(s.as_bytes()).unwrap()
    }

    fn key(fill: u8) -> SessionKey {
        let mut k = [fill; 40];
        k[0] = 0x01;
        k[39] = 0x00; // a trailing zero must not be trimmed anywhere
        SessionKey(k)
    }

    fn ticket(k: SessionKey) -> Ticket {
        Ticket {
            session_key: k,
            account_id: 42,
            security_level: 0,
        }
    }

    fn gate(build: u16, tickets: SharedTickets) -> GateHandle {
        WorldGate::bind("127.0.0.1:0", Build(build))
            .unwrap()
            .spawn(tickets)
            .unwrap()
    }

    fn memory(entries: &[(&str, SessionKey)]) -> SharedTickets {
        let mut m = MemoryTickets::new();
        for (n, k) in entries {
            m.insert(name(n), ticket(*k));
        }
        Arc::new(Mutex::new(m))
    }

    #[test]
    fn right_key_is_let_in_once_per_ticket() {
        for build in BUILDS {
            let k = key(0x77);
            let g = gate(build, memory(&[("ALICE", k)]));
            let first = world_login(g.local_addr(), build, &name("alice"), &k, TIMEOUT).unwrap();
            assert_eq!(first.result, AuthResult::Ok, "build {build}");
            let expected_expansion = match build {
                5875 => None,
                8606 => Some(1),
                _ => Some(2),
            };
            assert_eq!(first.expansion, expected_expansion);
            // The ticket was consumed.
            let again = world_login(g.local_addr(), build, &name("alice"), &k, TIMEOUT).unwrap();
            assert_eq!(again.result, AuthResult::UnknownAccount, "build {build}");
            g.stop().unwrap();
        }
    }

    #[test]
    fn forged_key_is_refused() {
        for build in BUILDS {
            let g = gate(build, memory(&[("BOB", key(0x11))]));
            let r = world_login(g.local_addr(), build, &name("bob"), &key(0x12), TIMEOUT).unwrap();
            assert_eq!(r.result, AuthResult::Failed, "build {build}");
            g.stop().unwrap();
        }
    }

    /// Check-then-take: a client with a wrong digest does not use up the player's ticket.
    #[test]
    fn a_wrong_digest_leaves_the_ticket_for_the_right_one() {
        for build in BUILDS {
            let k = key(0x21);
            let g = gate(build, memory(&[("CAROL", k)]));
            let forged =
                world_login(g.local_addr(), build, &name("carol"), &key(0x22), TIMEOUT).unwrap();
            assert_eq!(forged.result, AuthResult::Failed, "build {build}");
            let right = world_login(g.local_addr(), build, &name("carol"), &k, TIMEOUT).unwrap();
            assert_eq!(right.result, AuthResult::Ok, "build {build}");
            let again = world_login(g.local_addr(), build, &name("carol"), &k, TIMEOUT).unwrap();
            assert_eq!(again.result, AuthResult::UnknownAccount, "build {build}");
            g.stop().unwrap();
        }
    }

    #[test]
    fn unknown_account_is_refused() {
        for build in BUILDS {
            let g = gate(build, memory(&[("BOB", key(0x11))]));
            let r = world_login(g.local_addr(), build, &name("eve"), &key(0x11), TIMEOUT).unwrap();
            assert_eq!(r.result, AuthResult::UnknownAccount, "build {build}");
            g.stop().unwrap();
        }
    }

    #[test]
    fn other_generation_is_a_version_mismatch() {
        let k = key(0x33);
        let g = gate(5875, memory(&[("CAROL", k)]));
        // A 2.4.3 client reads the same challenge layout, so it gets as far as the build check.
        let r = world_login(g.local_addr(), 8606, &name("carol"), &k, TIMEOUT).unwrap();
        assert_eq!(r.result, AuthResult::VersionMismatch);
        g.stop().unwrap();
    }

    struct Failing(TicketError);

    impl TicketSource for Failing {
        fn take_checked(
            &mut self,
            _: &AccountName,
            _: &srp6::ClientDigest,
        ) -> Result<TicketTake, TicketError> {
            Err(self.0.clone())
        }
    }

    #[test]
    fn ticket_source_errors_map_to_result_codes() {
        for (err, expected) in [
            (TicketError::Expired, AuthResult::SessionExpired),
            (
                TicketError::Unavailable("link down".into()),
                AuthResult::Unavailable,
            ),
        ] {
            let g = gate(12340, Arc::new(Mutex::new(Failing(err))));
            let r = world_login(g.local_addr(), 12340, &name("dan"), &key(1), TIMEOUT).unwrap();
            assert_eq!(r.result, expected);
            g.stop().unwrap();
        }
    }

    /// Sends `bytes` after reading the challenge; returns what the gate sent back before
    /// closing (it must close, and must not answer a malformed packet).
    fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut challenge = [0u8; 44];
        s.read_exact(&mut challenge).unwrap();
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    }

    #[test]
    fn malformed_auth_session_closes_without_panicking() {
        let tickets = memory(&[("ALICE", key(5))]);
        let g = gate(12340, Arc::clone(&tickets));
        let addr = g.local_addr();

        let mut good = Vec::new();
        AuthSessionC2s {
            build: Build(12340),
            server_id: 0,
            account: name("alice"),
            login_server_type: 0,
            client_seed: 1,
            region_id: 0,
            battlegroup_id: 0,
            realm_id: 0,
            dos_response: 0,
            digest: srp6::Proof([0; 20]),
            addon_data: Vec::new(),
        }
        .encode(&mut good)
        .unwrap();

        // Truncated payload, with an honest size field: the gate parses it and closes.
        let mut short = good[..40].to_vec();
        short[..2].copy_from_slice(&((40 - 2) as u16).to_be_bytes());
        assert!(send_raw(addr, &short).is_empty());
        // Size field promises more than arrives: the gate waits, then sees EOF.
        assert!(send_raw(addr, &good[..40]).is_empty());
        // Oversize announcement: refused before reading the payload.
        let too_big = (MAX_AUTH_SESSION_PAYLOAD + 5) as u16;
        assert!(send_raw(addr, &client_header(too_big, CMSG_AUTH_SESSION)).is_empty());
        assert!(send_raw(addr, &client_header(u16::MAX, CMSG_AUTH_SESSION)).is_empty());
        // Size smaller than the opcode, wrong opcode, garbage.
        assert!(send_raw(addr, &client_header(2, CMSG_AUTH_SESSION)).is_empty());
        assert!(send_raw(addr, &client_header(8, 0x37)).is_empty());
        assert!(send_raw(addr, &[0xFF; 64]).is_empty());

        // None of that consumed the ticket, and the gate still serves.
        let r = world_login(addr, 12340, &name("alice"), &key(5), TIMEOUT).unwrap();
        assert_eq!(r.result, AuthResult::Ok);
        g.stop().unwrap();
    }

    #[test]
    fn many_clients_at_once() {
        let k = key(9);
        let names: Vec<String> = (0..20).map(|i| format!("USER{i}")).collect();
        let entries: Vec<(&str, SessionKey)> = names.iter().map(|n| (n.as_str(), k)).collect();
        let g = gate(8606, memory(&entries));
        let addr = g.local_addr();
        let threads: Vec<_> = names
            .iter()
            .map(|n| {
                let n = name(n);
                std::thread::spawn(move || world_login(addr, 8606, &n, &k, TIMEOUT))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap().result, AuthResult::Ok);
        }
        g.stop().unwrap();
    }
}
