//! CMD_AUTH_LOGON_CHALLENGE (0x00) and the client half of CMD_AUTH_RECONNECT_CHALLENGE (0x02),
//! docs/protocol.md §3 and §5.1. The client message is the first one on every connection and
//! the same for every protocol version; the server answer (B, g, N, salt, two-factor
//! challenges) depends on the layout.

use std::fmt;
use std::net::Ipv4Addr;

use crate::account::AccountName;
use crate::srp6::{PublicKey, Salt};

use super::opcode::Opcode;
use super::result::LoginResult;
use super::version::{Build, Layout, ProtocolVersion, Version};
use super::wire::{frame, Check, ProtocolError, Reader, WireSink};

/// The crc_salt AzerothCore/vMangos send (and the 1.12.1 capture uses): the only value under
/// which the published per-build integrity hashes are known to hold (§7.3).
pub const CRC_SALT: [u8; 16] = [
    0xBA, 0xA3, 0x1E, 0x99, 0xA0, 0x0B, 0x21, 0x57, 0xFC, 0x37, 0x3F, 0xB3, 0x69, 0xCD, 0xD2, 0xF1,
];

/// The generator g the challenge announces.
pub const SRP_G: u8 = 7;

/// The 32-byte WoW modulus N in wire (little-endian) order, as the challenge carries it.
pub const SRP_N: [u8; 32] = [
    0xb7, 0x9b, 0x3e, 0x2a, 0x87, 0x82, 0x3c, 0xab, 0x8f, 0x5e, 0xbf, 0xbf, 0x8e, 0xb1, 0x01, 0x08,
    0x53, 0x50, 0x06, 0x29, 0x8b, 0x5b, 0xad, 0xbd, 0x5b, 0x53, 0xe1, 0x89, 0x5e, 0x64, 0x4b, 0x89,
];

/// Smallest and largest legal client challenge (name of 1 and of 16 bytes).
pub const CHALLENGE_C2S_MIN_LEN: usize = 35;
pub const CHALLENGE_C2S_MAX_LEN: usize = 50;

/// Security-flag bits (protocol 8; protocol 3 only knows 1 = PIN as an enum value).
pub const SECURITY_FLAG_PIN: u8 = 0x01;
pub const SECURITY_FLAG_MATRIX: u8 = 0x02;
pub const SECURITY_FLAG_AUTHENTICATOR: u8 = 0x04;

/// Which blocks a security flag announces, in wire order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SecurityBlocks {
    pub pin: bool,
    pub matrix: bool,
    pub authenticator: bool,
}

impl SecurityBlocks {
    /// The flag byte for `layout`, `None` where the layout has no flag byte (V2).
    pub fn flag(self, layout: Layout) -> Result<Option<u8>, ProtocolError> {
        let unsupported = |what| Err(ProtocolError::UnsupportedLayout { what, layout });
        match layout {
            Layout::V2 if self.pin || self.matrix || self.authenticator => {
                unsupported("a two-factor block")
            }
            Layout::V2 => Ok(None),
            Layout::V3 if self.matrix => unsupported("a matrix-card block"),
            Layout::V3 if self.authenticator => unsupported("an authenticator block"),
            Layout::V3 => Ok(Some(u8::from(self.pin))),
            Layout::V8 => Ok(Some(
                (if self.pin { SECURITY_FLAG_PIN } else { 0 })
                    | (if self.matrix { SECURITY_FLAG_MATRIX } else { 0 })
                    | (if self.authenticator {
                        SECURITY_FLAG_AUTHENTICATOR
                    } else {
                        0
                    }),
            )),
        }
    }

    /// Reads the flag byte if `layout` has one; protocol 3 is an enum, 8 a bit set.
    pub fn read(layout: Layout, r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        let flag = match layout {
            Layout::V2 => return Ok(Self::default()),
            Layout::V3 | Layout::V8 => r.u8()?,
        };
        let legal = match layout {
            Layout::V3 => flag <= 1,
            _ => flag & !0x07 == 0,
        };
        if !legal {
            return Err(ProtocolError::SecurityFlag { flag, layout });
        }
        Ok(Self {
            pin: flag & SECURITY_FLAG_PIN != 0,
            matrix: flag & SECURITY_FLAG_MATRIX != 0,
            authenticator: flag & SECURITY_FLAG_AUTHENTICATOR != 0,
        })
    }
}

/// Which opcode a client challenge came with: a fresh login or a reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    Logon,
    Reconnect,
}

impl ChallengeKind {
    pub fn opcode(self) -> Opcode {
        match self {
            ChallengeKind::Logon => Opcode::LogonChallenge,
            ChallengeKind::Reconnect => Opcode::ReconnectChallenge,
        }
    }
}

/// A FourCC decoded to text: the 4 wire bytes reversed, NULs dropped ("enGB", "x86", "WoW").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCcText {
    bytes: [u8; 4],
    len: u8,
}

impl FourCcText {
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The text, if it is UTF-8 (it is ASCII for every real client).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }
}

impl fmt::Display for FourCcText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.as_bytes() {
            let c = if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FourCcText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCcText({self})")
    }
}

/// Decodes wire FourCC bytes to text: reverse, drop NULs.
pub fn fourcc_text(raw: [u8; 4]) -> FourCcText {
    let mut bytes = [0u8; 4];
    let mut len = 0u8;
    for &b in raw.iter().rev().filter(|&&b| b != 0) {
        if let Some(slot) = bytes.get_mut(usize::from(len)) {
            *slot = b;
            len += 1;
        }
    }
    FourCcText { bytes, len }
}

/// Encodes text of at most 4 bytes as wire FourCC bytes (shorter text is NUL-padded in front,
/// so "WoW" becomes `57 6F 57 00`). `None` if the text is longer than 4 bytes.
pub fn fourcc_from_text(text: &str) -> Option<[u8; 4]> {
    let t = text.as_bytes();
    if t.len() > 4 {
        return None;
    }
    let mut raw = [0u8; 4];
    for (slot, &b) in raw.iter_mut().zip(t.iter().rev()) {
        *slot = b;
    }
    Some(raw)
}

/// The client's challenge (0x00 login or 0x02 reconnect), §3.1; the same in every layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeC2s {
    pub kind: ChallengeKind,
    pub protocol: ProtocolVersion,
    pub game_name: [u8; 4],
    pub version: Version,
    pub platform: [u8; 4],
    pub os: [u8; 4],
    pub locale: [u8; 4],
    pub utc_offset_minutes: i32,
    /// Client-reported, not to be trusted.
    pub client_ip: Ipv4Addr,
    pub account_name: AccountName,
}

/// Fixed bytes counted by the size field besides the name (§3.1: size = 30 + name_len).
const CHALLENGE_SIZE_BASE: u16 = 30;
/// Offset of the name length byte.
const CHALLENGE_NAME_LEN_OFFSET: usize = 33;

fn challenge_name_len(size: u16, name_len: u8) -> Result<(), ProtocolError> {
    if !(1..=16).contains(&name_len) {
        return Err(ProtocolError::NameLength(name_len));
    }
    if size != CHALLENGE_SIZE_BASE + u16::from(name_len) {
        return Err(ProtocolError::SizeMismatch { size, name_len });
    }
    Ok(())
}

fn challenge_kind(r: &mut Reader<'_>) -> Result<ChallengeKind, ProtocolError> {
    match r.u8()? {
        0x00 => Ok(ChallengeKind::Logon),
        0x02 => Ok(ChallengeKind::Reconnect),
        found => Err(ProtocolError::WrongOpcode {
            expected: 0x00,
            found,
        }),
    }
}

fn challenge_size(r: &mut Reader<'_>) -> Result<u16, ProtocolError> {
    let size = r.u16_le()?;
    let min = CHALLENGE_SIZE_BASE + 1;
    let max = CHALLENGE_SIZE_BASE + 16;
    if !(min..=max).contains(&size) {
        return Err(ProtocolError::ChallengeSize(size));
    }
    Ok(size)
}

impl ChallengeC2s {
    /// Frames a client challenge at the front of `buf` (opcode 0x00 or 0x02). The size field
    /// is judged as soon as its 4 bytes are in, the name length as soon as byte 33 is.
    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            challenge_kind(r)?;
            r.skip(1)?;
            let size = challenge_size(r)?;
            r.skip(CHALLENGE_NAME_LEN_OFFSET - 4)?;
            let name_len = r.u8()?;
            challenge_name_len(size, name_len)?;
            r.skip(usize::from(name_len))
        })
    }

    /// Decodes exactly one client challenge.
    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        let kind = challenge_kind(&mut r)?;
        let protocol = ProtocolVersion(r.u8()?);
        let size = challenge_size(&mut r)?;
        let game_name = r.array()?;
        let version = read_version(&mut r)?;
        let platform = r.array()?;
        let os = r.array()?;
        let locale = r.array()?;
        let utc_offset_minutes = r.i32_le()?;
        let client_ip = Ipv4Addr::from(r.array::<4>()?);
        let name_len = r.u8()?;
        challenge_name_len(size, name_len)?;
        let name = r.bytes(usize::from(name_len))?;
        r.finish()?;
        let account_name = AccountName::parse(name).map_err(ProtocolError::BadName)?;
        Ok(Self {
            kind,
            protocol,
            game_name,
            version,
            platform,
            os,
            locale,
            utc_offset_minutes,
            client_ip,
            account_name,
        })
    }

    /// The layout every later message of this connection uses, if gatehouse speaks it.
    pub fn layout(&self) -> Option<Layout> {
        self.protocol.layout()
    }

    pub fn locale_text(&self) -> FourCcText {
        fourcc_text(self.locale)
    }
    pub fn platform_text(&self) -> FourCcText {
        fourcc_text(self.platform)
    }
    pub fn os_text(&self) -> FourCcText {
        fourcc_text(self.os)
    }
    pub fn game_name_text(&self) -> FourCcText {
        fourcc_text(self.game_name)
    }

    pub fn encoded_len(&self) -> usize {
        34 + self.account_name.as_bytes().len()
    }

    /// Writes the message as a client would (for the test client). Cannot fail: an
    /// `AccountName` is always 1–16 bytes.
    pub fn encode(&self, sink: &mut impl WireSink) {
        let name = self.account_name.as_bytes();
        // AccountName holds at most 16 bytes, so this never saturates.
        let name_len = u8::try_from(name.len()).unwrap_or(u8::MAX);
        sink.put_u8(self.kind.opcode().as_u8());
        sink.put_u8(self.protocol.0);
        sink.put_u16_le(CHALLENGE_SIZE_BASE + u16::from(name_len));
        sink.put(&self.game_name);
        write_version(&self.version, sink);
        sink.put(&self.platform);
        sink.put(&self.os);
        sink.put(&self.locale);
        sink.put(&self.utc_offset_minutes.to_le_bytes());
        sink.put(&self.client_ip.octets());
        sink.put_u8(name_len);
        sink.put(name);
    }
}

/// Reads the 5-byte Version struct (§2.1).
pub(crate) fn read_version(r: &mut Reader<'_>) -> Result<Version, ProtocolError> {
    Ok(Version {
        major: r.u8()?,
        minor: r.u8()?,
        patch: r.u8()?,
        build: Build(r.u16_le()?),
    })
}

pub(crate) fn write_version(v: &Version, sink: &mut impl WireSink) {
    sink.put_u8(v.major);
    sink.put_u8(v.minor);
    sink.put_u8(v.patch);
    sink.put_u16_le(v.build.0);
}

/// PIN challenge block: grid seed and salt for the client's PIN hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinChallenge {
    pub grid_seed: u32,
    pub salt: [u8; 16],
}

/// Matrix-card challenge block (protocol 5+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixChallenge {
    pub width: u8,
    pub height: u8,
    pub digit_count: u8,
    pub challenge_count: u8,
    pub seed: u64,
}

/// Authenticator (TOTP) block (protocol 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorChallenge {
    /// Wire byte 1: the client must send a token.
    pub required: bool,
}

/// The two-factor blocks of a challenge answer; all `None` = flag 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecurityChallenge {
    pub pin: Option<PinChallenge>,
    pub matrix: Option<MatrixChallenge>,
    pub authenticator: Option<AuthenticatorChallenge>,
}

impl SecurityChallenge {
    fn blocks(&self) -> SecurityBlocks {
        SecurityBlocks {
            pin: self.pin.is_some(),
            matrix: self.matrix.is_some(),
            authenticator: self.authenticator.is_some(),
        }
    }
}

/// The server's answer to a login challenge, §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonChallengeS2c {
    Success {
        server_public_key: PublicKey,
        salt: Salt,
        crc_salt: [u8; 16],
        security: SecurityChallenge,
    },
    /// `00 00 <result>`; the result must not be SUCCESS.
    Failure(LoginResult),
}

/// opcode, protocol byte, result, B, g_len, g, N_len, N, salt, crc_salt.
const CHALLENGE_S2C_FIXED: usize = 3 + 32 + 1 + 1 + 1 + 32 + 32 + 16;

impl LogonChallengeS2c {
    pub fn encoded_len(&self, layout: Layout) -> usize {
        match self {
            LogonChallengeS2c::Failure(_) => 3,
            LogonChallengeS2c::Success { security, .. } => {
                let flag = usize::from(layout != Layout::V2);
                CHALLENGE_S2C_FIXED
                    + flag
                    + security.pin.map_or(0, |_| 20)
                    + security.matrix.map_or(0, |_| 12)
                    + security.authenticator.map_or(0, |_| 1)
            }
        }
    }

    /// Writes the answer; fails (writing nothing) for a two-factor block `layout` cannot
    /// carry, or for a failure carrying SUCCESS.
    pub fn encode(&self, layout: Layout, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        match self {
            LogonChallengeS2c::Failure(result) => {
                let r = result.failure_byte()?;
                sink.put(&[Opcode::LogonChallenge.as_u8(), 0, r]);
            }
            LogonChallengeS2c::Success {
                server_public_key,
                salt,
                crc_salt,
                security,
            } => {
                let flag = security.blocks().flag(layout)?;
                sink.put(&[
                    Opcode::LogonChallenge.as_u8(),
                    0,
                    LoginResult::Success.as_u8(),
                ]);
                sink.put(&server_public_key.0);
                sink.put(&[1, SRP_G, 32]);
                sink.put(&SRP_N);
                sink.put(&salt.0);
                sink.put(crc_salt);
                if let Some(flag) = flag {
                    sink.put_u8(flag);
                }
                if let Some(pin) = &security.pin {
                    sink.put_u32_le(pin.grid_seed);
                    sink.put(&pin.salt);
                }
                if let Some(m) = &security.matrix {
                    sink.put(&[m.width, m.height, m.digit_count, m.challenge_count]);
                    sink.put_u64_le(m.seed);
                }
                if let Some(a) = &security.authenticator {
                    sink.put_u8(u8::from(a.required));
                }
            }
        }
        Ok(())
    }

    /// Frames a challenge answer (client side).
    pub fn check(layout: Layout, buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::LogonChallenge.as_u8())?;
            r.skip(1)?;
            if LoginResult::decode(r.u8()?)? != LoginResult::Success {
                return Ok(());
            }
            r.skip(CHALLENGE_S2C_FIXED - 3)?;
            let blocks = SecurityBlocks::read(layout, r)?;
            r.skip(
                usize::from(blocks.pin) * 20
                    + usize::from(blocks.matrix) * 12
                    + usize::from(blocks.authenticator),
            )
        })
    }

    /// Decodes exactly one challenge answer. The protocol byte (always 0) is not checked.
    pub fn parse(layout: Layout, msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::LogonChallenge.as_u8())?;
        r.skip(1)?;
        let result = LoginResult::decode(r.u8()?)?;
        if result != LoginResult::Success {
            r.finish()?;
            return Ok(LogonChallengeS2c::Failure(result));
        }
        let server_public_key = PublicKey(r.array()?);
        let (g_len, g, n_len) = (r.u8()?, r.u8()?, r.u8()?);
        let n: [u8; 32] = r.array()?;
        if g_len != 1 || g != SRP_G || n_len != 32 || n != SRP_N {
            return Err(ProtocolError::UnsupportedGroup);
        }
        let salt = Salt(r.array()?);
        let crc_salt = r.array()?;
        let blocks = SecurityBlocks::read(layout, &mut r)?;
        let mut security = SecurityChallenge::default();
        if blocks.pin {
            security.pin = Some(PinChallenge {
                grid_seed: r.u32_le()?,
                salt: r.array()?,
            });
        }
        if blocks.matrix {
            security.matrix = Some(MatrixChallenge {
                width: r.u8()?,
                height: r.u8()?,
                digit_count: r.u8()?,
                challenge_count: r.u8()?,
                seed: r.u64_le()?,
            });
        }
        if blocks.authenticator {
            let required = match r.u8()? {
                0 => false,
                1 => true,
                v => {
                    return Err(ProtocolError::BadValue {
                        field: "authenticator required",
                        value: u32::from(v),
                    })
                }
            };
            security.authenticator = Some(AuthenticatorChallenge { required });
        }
        r.finish()?;
        Ok(LogonChallengeS2c::Success {
            server_public_key,
            salt,
            crc_salt,
            security,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_text_reverses_and_drops_nuls() {
        assert_eq!(fourcc_text(*b"WoW\0").as_str(), Some("WoW"));
        assert_eq!(fourcc_text([0x42, 0x47, 0x6e, 0x65]).as_str(), Some("enGB"));
        assert_eq!(fourcc_from_text("WoW"), Some(*b"WoW\0"));
        assert_eq!(fourcc_from_text("enGB"), Some([0x42, 0x47, 0x6e, 0x65]));
        assert_eq!(fourcc_from_text("x86"), Some([0x36, 0x38, 0x78, 0x00]));
        assert_eq!(fourcc_from_text("toolong"), None);
    }

    #[test]
    fn security_flags_per_layout() {
        let pin = SecurityBlocks {
            pin: true,
            ..Default::default()
        };
        let matrix = SecurityBlocks {
            matrix: true,
            ..Default::default()
        };
        assert_eq!(pin.flag(Layout::V3), Ok(Some(1)));
        assert!(pin.flag(Layout::V2).is_err());
        assert!(matrix.flag(Layout::V3).is_err());
        assert_eq!(matrix.flag(Layout::V8), Ok(Some(2)));
        assert_eq!(SecurityBlocks::default().flag(Layout::V2), Ok(None));
    }
}
