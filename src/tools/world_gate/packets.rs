//! The three world packets the gate speaks, per client generation: SMSG_AUTH_CHALLENGE,
//! CMSG_AUTH_SESSION and SMSG_AUTH_RESPONSE, with their headers.
//!
//! World headers differ by direction: the server sends `u16 size` (big-endian, counts the
//! opcode and the payload) then a `u16` opcode (little-endian); the client sends the same size
//! then a `u32` opcode. Headers here are built and read in the clear; [`super::header_crypt`]
//! transforms them in place once encryption has started.
//!
//! Parsers take the payload only (the header has been framed and checked by the caller) and
//! never panic on input.

use crate::account::AccountName;
use crate::protocol::version::Build;
use crate::protocol::wire::{ProtocolError, Reader, WireSink};
use crate::srp6::Proof;

pub const SMSG_AUTH_CHALLENGE: u16 = 0x1EC;
pub const CMSG_AUTH_SESSION: u32 = 0x1ED;
pub const SMSG_AUTH_RESPONSE: u16 = 0x1EE;

/// Server header: u16 size + u16 opcode.
pub const SERVER_HEADER_LEN: usize = 4;
/// Client header: u16 size + u32 opcode.
pub const CLIENT_HEADER_LEN: usize = 6;

/// The largest CMSG_AUTH_SESSION payload the gate reads. The fixed fields take at most 81
/// bytes; the rest is the client's addon list (zlib), a few hundred bytes in practice.
pub const MAX_AUTH_SESSION_PAYLOAD: usize = 10 * 1024;

/// Which generation of world packets a build speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorldLayout {
    /// 1.12.x (builds up to 6141).
    Vanilla,
    /// 2.x (builds up to 8606).
    Tbc,
    /// 3.x (everything later).
    Wrath,
}

impl WorldLayout {
    pub fn of(build: Build) -> WorldLayout {
        match build.0 {
            0..=6141 => WorldLayout::Vanilla,
            6142..=8606 => WorldLayout::Tbc,
            _ => WorldLayout::Wrath,
        }
    }

    /// The expansion byte of AUTH_OK (absent in 1.12).
    pub fn expansion(self) -> Option<u8> {
        match self {
            WorldLayout::Vanilla => None,
            WorldLayout::Tbc => Some(1),
            WorldLayout::Wrath => Some(2),
        }
    }
}

/// A server header in the clear.
pub fn server_header(size: u16, opcode: u16) -> [u8; SERVER_HEADER_LEN] {
    let s = size.to_be_bytes();
    let o = opcode.to_le_bytes();
    [s[0], s[1], o[0], o[1]]
}

/// (size, opcode) of a server header in the clear.
pub fn parse_server_header(h: [u8; SERVER_HEADER_LEN]) -> (u16, u16) {
    (
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_le_bytes([h[2], h[3]]),
    )
}

/// A client header in the clear.
pub fn client_header(size: u16, opcode: u32) -> [u8; CLIENT_HEADER_LEN] {
    let s = size.to_be_bytes();
    let o = opcode.to_le_bytes();
    [s[0], s[1], o[0], o[1], o[2], o[3]]
}

/// (size, opcode) of a client header in the clear.
pub fn parse_client_header(h: [u8; CLIENT_HEADER_LEN]) -> (u16, u32) {
    (
        u16::from_be_bytes([h[0], h[1]]),
        u32::from_le_bytes([h[2], h[3], h[4], h[5]]),
    )
}

/// The SMSG_AUTH_RESPONSE result codes (the client's ResponseCodes enum; the same values in
/// 1.12.1, 2.4.3 and 3.3.5a). Only the ones a gate can send, plus the ones a test may meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AuthResult {
    Ok = 0x0C,
    Failed = 0x0D,
    Reject = 0x0E,
    BadServerProof = 0x0F,
    Unavailable = 0x10,
    SystemError = 0x11,
    BillingError = 0x12,
    BillingExpired = 0x13,
    VersionMismatch = 0x14,
    UnknownAccount = 0x15,
    IncorrectPassword = 0x16,
    SessionExpired = 0x17,
}

impl AuthResult {
    pub fn from_u8(v: u8) -> Option<AuthResult> {
        Some(match v {
            0x0C => AuthResult::Ok,
            0x0D => AuthResult::Failed,
            0x0E => AuthResult::Reject,
            0x0F => AuthResult::BadServerProof,
            0x10 => AuthResult::Unavailable,
            0x11 => AuthResult::SystemError,
            0x12 => AuthResult::BillingError,
            0x13 => AuthResult::BillingExpired,
            0x14 => AuthResult::VersionMismatch,
            0x15 => AuthResult::UnknownAccount,
            0x16 => AuthResult::IncorrectPassword,
            0x17 => AuthResult::SessionExpired,
            _ => return None,
        })
    }
}

/// SMSG_AUTH_CHALLENGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallengeS2c {
    pub server_seed: u32,
    /// 3.3.5a only: 32 random bytes the client ignores for authentication.
    pub seeds: [u8; 32],
}

impl AuthChallengeS2c {
    fn payload_len(layout: WorldLayout) -> usize {
        match layout {
            WorldLayout::Vanilla | WorldLayout::Tbc => 4,
            WorldLayout::Wrath => 4 + 4 + 32,
        }
    }

    /// Header (never encrypted) and payload.
    pub fn encode(&self, layout: WorldLayout, sink: &mut impl WireSink) {
        let size = (2 + Self::payload_len(layout)) as u16;
        sink.put(&server_header(size, SMSG_AUTH_CHALLENGE));
        match layout {
            WorldLayout::Vanilla | WorldLayout::Tbc => sink.put_u32_le(self.server_seed),
            WorldLayout::Wrath => {
                sink.put_u32_le(1);
                sink.put_u32_le(self.server_seed);
                sink.put(&self.seeds);
            }
        }
    }

    /// Parses the payload (after the header).
    pub fn parse(layout: WorldLayout, payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload);
        let out = match layout {
            WorldLayout::Vanilla | WorldLayout::Tbc => AuthChallengeS2c {
                server_seed: r.u32_le()?,
                seeds: [0; 32],
            },
            WorldLayout::Wrath => {
                let one = r.u32_le()?;
                if one != 1 {
                    return Err(ProtocolError::BadValue {
                        field: "auth challenge constant",
                        value: one,
                    });
                }
                AuthChallengeS2c {
                    server_seed: r.u32_le()?,
                    seeds: r.array()?,
                }
            }
        };
        r.finish()?;
        Ok(out)
    }
}

/// CMSG_AUTH_SESSION. Fields a layout lacks are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSessionC2s {
    pub build: Build,
    /// `server_id` in 1.12/2.4, `login_server_id` in 3.3.5.
    pub server_id: u32,
    pub account: AccountName,
    pub login_server_type: u32,
    pub client_seed: u32,
    pub region_id: u32,
    pub battlegroup_id: u32,
    pub realm_id: u32,
    pub dos_response: u64,
    pub digest: Proof,
    /// The addon block as sent (u32 decompressed size + zlib bytes), or nothing.
    pub addon_data: Vec<u8>,
}

impl AuthSessionC2s {
    /// The layout this message is written in: its own build decides.
    pub fn layout(&self) -> WorldLayout {
        WorldLayout::of(self.build)
    }

    /// Header (in the clear: the client sends it before encryption starts) and payload.
    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let mut body = Vec::with_capacity(96 + self.addon_data.len());
        body.put_u32_le(u32::from(self.build.0));
        body.put_u32_le(self.server_id);
        body.put(self.account.as_bytes());
        body.put_u8(0);
        if self.layout() == WorldLayout::Wrath {
            body.put_u32_le(self.login_server_type);
            body.put_u32_le(self.client_seed);
            body.put_u32_le(self.region_id);
            body.put_u32_le(self.battlegroup_id);
            body.put_u32_le(self.realm_id);
            body.put_u64_le(self.dos_response);
        } else {
            body.put_u32_le(self.client_seed);
        }
        body.put(&self.digest.0);
        body.put(&self.addon_data);
        if body.len() > MAX_AUTH_SESSION_PAYLOAD {
            return Err(ProtocolError::TooLong {
                len: body.len(),
                max: MAX_AUTH_SESSION_PAYLOAD,
            });
        }
        // Bounded above, so the size (payload + 4-byte opcode) fits in u16.
        let size = (body.len() + 4) as u16;
        sink.put(&client_header(size, CMSG_AUTH_SESSION));
        sink.put(&body);
        Ok(())
    }

    /// Parses the payload (after the header). The build field picks the layout.
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        if payload.len() > MAX_AUTH_SESSION_PAYLOAD {
            return Err(ProtocolError::TooLong {
                len: payload.len(),
                max: MAX_AUTH_SESSION_PAYLOAD,
            });
        }
        let mut r = Reader::new(payload);
        let raw_build = r.u32_le()?;
        let build = u16::try_from(raw_build)
            .map(Build)
            .map_err(|_| ProtocolError::BadValue {
                field: "build",
                value: raw_build,
            })?;
        let server_id = r.u32_le()?;
        let name = r.cstring()?;
        let account = AccountName::parse(name).map_err(ProtocolError::BadName)?;
        let mut msg = AuthSessionC2s {
            build,
            server_id,
            account,
            login_server_type: 0,
            client_seed: 0,
            region_id: 0,
            battlegroup_id: 0,
            realm_id: 0,
            dos_response: 0,
            digest: Proof([0; 20]),
            addon_data: Vec::new(),
        };
        if WorldLayout::of(build) == WorldLayout::Wrath {
            msg.login_server_type = r.u32_le()?;
            msg.client_seed = r.u32_le()?;
            msg.region_id = r.u32_le()?;
            msg.battlegroup_id = r.u32_le()?;
            msg.realm_id = r.u32_le()?;
            msg.dos_response = r.u64_le()?;
        } else {
            msg.client_seed = r.u32_le()?;
        }
        msg.digest = Proof(r.array()?);
        msg.addon_data = r.bytes(r.remaining())?.to_vec();
        Ok(msg)
    }
}

/// SMSG_AUTH_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthResponseS2c {
    pub result: AuthResult,
    /// AUTH_OK in 2.4.3/3.3.5a only: 1 = TBC, 2 = WotLK.
    pub expansion: Option<u8>,
}

impl AuthResponseS2c {
    /// The response a layout expects for this result (the expansion byte where it has one).
    pub fn for_layout(result: AuthResult, layout: WorldLayout) -> Self {
        AuthResponseS2c {
            result,
            expansion: if result == AuthResult::Ok {
                layout.expansion()
            } else {
                None
            },
        }
    }

    /// The payload alone (the header goes through the header cipher separately).
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11);
        out.put_u8(self.result as u8);
        if self.result == AuthResult::Ok {
            out.put_u32_le(0); // billing time left
            out.put_u8(0); // billing flags
            out.put_u32_le(0); // billing time rested
            if let Some(e) = self.expansion {
                out.put_u8(e);
            }
        }
        out
    }

    /// Header in the clear for this payload.
    pub fn header(payload: &[u8]) -> [u8; SERVER_HEADER_LEN] {
        // Payloads are at most 11 bytes.
        server_header((payload.len() + 2) as u16, SMSG_AUTH_RESPONSE)
    }

    /// Parses the payload (after the header).
    pub fn parse(layout: WorldLayout, payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload);
        let raw = r.u8()?;
        let result = AuthResult::from_u8(raw).ok_or(ProtocolError::BadValue {
            field: "auth result",
            value: u32::from(raw),
        })?;
        let mut expansion = None;
        if result == AuthResult::Ok {
            r.u32_le()?;
            r.u8()?;
            r.u32_le()?;
            if layout != WorldLayout::Vanilla {
                expansion = Some(r.u8()?);
            }
        }
        r.finish()?;
        Ok(AuthResponseS2c { result, expansion })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AccountName {
        AccountName::parse(s.as_bytes()).unwrap()
    }

    fn session(build: u16) -> AuthSessionC2s {
        let wrath = WorldLayout::of(Build(build)) == WorldLayout::Wrath;
        AuthSessionC2s {
            build: Build(build),
            server_id: 7,
            account: name("Alice"),
            login_server_type: if wrath { 1 } else { 0 },
            client_seed: 0xDEAD_BEEF,
            region_id: if wrath { 2 } else { 0 },
            battlegroup_id: if wrath { 3 } else { 0 },
            realm_id: if wrath { 4 } else { 0 },
            dos_response: if wrath { 0x0102_0304_0506_0708 } else { 0 },
            digest: Proof([0xAB; 20]),
            addon_data: vec![9, 0, 0, 0, 0x78, 0x9c, 1, 2, 3],
        }
    }

    #[test]
    fn layouts_by_build() {
        assert_eq!(WorldLayout::of(Build::VANILLA), WorldLayout::Vanilla);
        assert_eq!(WorldLayout::of(Build(6141)), WorldLayout::Vanilla);
        assert_eq!(WorldLayout::of(Build::TBC), WorldLayout::Tbc);
        assert_eq!(WorldLayout::of(Build::WOTLK), WorldLayout::Wrath);
    }

    #[test]
    fn auth_session_round_trips_per_build() {
        for build in [5875, 8606, 12340] {
            let msg = session(build);
            let mut wire = Vec::new();
            msg.encode(&mut wire).unwrap();
            let header: [u8; CLIENT_HEADER_LEN] = wire[..CLIENT_HEADER_LEN].try_into().unwrap();
            let (size, opcode) = parse_client_header(header);
            assert_eq!(opcode, CMSG_AUTH_SESSION);
            assert_eq!(usize::from(size), wire.len() - 2);
            let parsed = AuthSessionC2s::parse(&wire[CLIENT_HEADER_LEN..]).unwrap();
            assert_eq!(parsed, msg, "build {build}");
        }
    }

    #[test]
    fn auth_session_fixed_layout_sizes() {
        // build 4 + id 4 + "ALICE\0" 6 + seed 4 + digest 20 = 38 (1.12/2.4);
        // 3.3.5 adds type, region, battlegroup, realm (16) and dos_response (8) = 62.
        for (build, len) in [(5875, 38), (8606, 38), (12340, 62)] {
            let mut msg = session(build);
            msg.addon_data.clear();
            let mut wire = Vec::new();
            msg.encode(&mut wire).unwrap();
            assert_eq!(wire.len() - CLIENT_HEADER_LEN, len, "build {build}");
        }
    }

    #[test]
    fn auth_session_refuses_bad_input_without_panicking() {
        let mut wire = Vec::new();
        session(12340).encode(&mut wire).unwrap();
        let payload = &wire[CLIENT_HEADER_LEN..];
        // Every truncation short of the digest's end fails; none panics.
        for cut in 0..payload.len() {
            let r = AuthSessionC2s::parse(&payload[..cut]);
            if cut < 62 {
                assert!(r.is_err(), "cut {cut}");
            }
        }
        assert!(AuthSessionC2s::parse(&vec![0u8; MAX_AUTH_SESSION_PAYLOAD + 1]).is_err());
        // No NUL after the name.
        assert!(AuthSessionC2s::parse(&[0x33, 0x16, 0, 0, 0, 0, 0, 0, b'A', b'B']).is_err());
        // Empty name.
        let mut empty = vec![0x33, 0x16, 0, 0, 0, 0, 0, 0, 0];
        empty.extend_from_slice(&[0; 24]);
        assert!(matches!(
            AuthSessionC2s::parse(&empty),
            Err(ProtocolError::BadName(_))
        ));
    }

    #[test]
    fn challenge_round_trips_per_layout() {
        let c = AuthChallengeS2c {
            server_seed: 0x1234_5678,
            seeds: [0x5A; 32],
        };
        for (layout, len) in [
            (WorldLayout::Vanilla, 8),
            (WorldLayout::Tbc, 8),
            (WorldLayout::Wrath, 44),
        ] {
            let mut wire = Vec::new();
            c.encode(layout, &mut wire);
            assert_eq!(wire.len(), len);
            let (size, opcode) = parse_server_header(wire[..4].try_into().unwrap());
            assert_eq!((usize::from(size), opcode), (len - 2, SMSG_AUTH_CHALLENGE));
            let parsed = AuthChallengeS2c::parse(layout, &wire[4..]).unwrap();
            assert_eq!(parsed.server_seed, c.server_seed);
            if layout == WorldLayout::Wrath {
                assert_eq!(parsed.seeds, c.seeds);
            }
        }
        assert_eq!(
            &{
                let mut w = Vec::new();
                c.encode(WorldLayout::Vanilla, &mut w);
                w
            }[..],
            &[0x00, 0x06, 0xEC, 0x01, 0x78, 0x56, 0x34, 0x12]
        );
    }

    #[test]
    fn response_round_trips_per_layout() {
        for (layout, ok_len) in [
            (WorldLayout::Vanilla, 10),
            (WorldLayout::Tbc, 11),
            (WorldLayout::Wrath, 11),
        ] {
            for result in [
                AuthResult::Ok,
                AuthResult::Failed,
                AuthResult::UnknownAccount,
            ] {
                let msg = AuthResponseS2c::for_layout(result, layout);
                let payload = msg.payload();
                let expected = if result == AuthResult::Ok { ok_len } else { 1 };
                assert_eq!(payload.len(), expected);
                assert_eq!(AuthResponseS2c::parse(layout, &payload).unwrap(), msg);
            }
        }
        // The sizes the real-client captures in wow_srp show for AUTH_OK: 12 (1.12), 13 (2.4/3.3).
        let ok = AuthResponseS2c::for_layout(AuthResult::Ok, WorldLayout::Vanilla).payload();
        assert_eq!(AuthResponseS2c::header(&ok), server_header(12, 0x1EE));
        let ok = AuthResponseS2c::for_layout(AuthResult::Ok, WorldLayout::Wrath).payload();
        assert_eq!(AuthResponseS2c::header(&ok), server_header(13, 0x1EE));
    }
}
