//! CMD_AUTH_LOGON_PROOF (0x01), docs/protocol.md §4: the client's A, M1 and integrity hash
//! (plus optional telemetry keys and two-factor answers), and the server's M2 or failure.
//! The client message has no length field; `check` computes the length from the key count,
//! the security flag and the token length as they arrive.

use std::fmt;

use crate::srp6::{Proof, PublicKey};

use super::challenge::SecurityBlocks;
use super::opcode::Opcode;
use super::result::LoginResult;
use super::version::Layout;
use super::wire::{frame, put_string, Check, ProtocolError, Reader, WireSink};

/// The account flag TrinityCore, AzerothCore and CMaNGOS always send (§2.5).
pub const ACCOUNT_FLAG_PROPASS: u32 = 0x0080_0000;
pub const ACCOUNT_FLAG_GM: u32 = 0x0000_0001;
pub const ACCOUNT_FLAG_TRIAL: u32 = 0x0000_0008;

/// Most telemetry keys accepted in a proof (real clients send 0).
pub const MAX_TELEMETRY_KEYS: u8 = 8;
/// Longest authenticator token the client lets a user type.
pub const MAX_TOKEN_LEN: usize = 16;

const TELEMETRY_KEY_LEN: usize = 30;
/// opcode, A, M1, crc_hash (the key count follows).
const PROOF_C2S_FIXED: usize = 1 + 32 + 20 + 20;

/// One telemetry key (meaning unknown apart from the CD-key proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryKey {
    pub unknown1: u16,
    pub unknown2: u32,
    pub unknown3: [u8; 4],
    pub cd_key_proof: [u8; 20],
}

/// The client's PIN answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinProof {
    pub salt: [u8; 16],
    pub hash: [u8; 20],
}

/// An authenticator (TOTP) token as typed: 0–16 printable ASCII bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorToken {
    bytes: [u8; MAX_TOKEN_LEN],
    len: u8,
}

impl AuthenticatorToken {
    pub fn new(raw: &[u8]) -> Result<Self, ProtocolError> {
        if raw.len() > MAX_TOKEN_LEN {
            return Err(ProtocolError::TokenTooLong(raw.len()));
        }
        if !raw.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(ProtocolError::BadToken);
        }
        let mut bytes = [0u8; MAX_TOKEN_LEN];
        for (slot, &b) in bytes.iter_mut().zip(raw) {
            *slot = b;
        }
        Ok(Self {
            bytes,
            len: raw.len() as u8,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn as_str(&self) -> &str {
        // Only printable ASCII gets in (see `new`).
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Debug for AuthenticatorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A one-time code is a credential: do not log it.
        write!(f, "AuthenticatorToken({} bytes)", self.len)
    }
}

/// The two-factor answers of a proof; all `None` = flag 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecurityProof {
    pub pin: Option<PinProof>,
    pub matrix: Option<[u8; 20]>,
    pub authenticator: Option<AuthenticatorToken>,
}

impl SecurityProof {
    fn blocks(&self) -> SecurityBlocks {
        SecurityBlocks {
            pin: self.pin.is_some(),
            matrix: self.matrix.is_some(),
            authenticator: self.authenticator.is_some(),
        }
    }
}

/// The client's proof, §4.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogonProofC2s {
    pub client_public_key: PublicKey,
    pub client_proof: Proof,
    pub crc_hash: [u8; 20],
    /// Empty for real clients (an empty Vec does not allocate).
    pub telemetry_keys: Vec<TelemetryKey>,
    pub security: SecurityProof,
}

fn telemetry_count(r: &mut Reader<'_>) -> Result<u8, ProtocolError> {
    let n = r.u8()?;
    if n > MAX_TELEMETRY_KEYS {
        return Err(ProtocolError::TooManyTelemetryKeys(n));
    }
    Ok(n)
}

fn token_len(r: &mut Reader<'_>) -> Result<usize, ProtocolError> {
    let len = usize::from(r.u8()?);
    if len > MAX_TOKEN_LEN {
        return Err(ProtocolError::TokenTooLong(len));
    }
    Ok(len)
}

impl LogonProofC2s {
    /// Frames a proof at the front of `buf`; the key count, flag and token length are judged
    /// as soon as they arrive.
    pub fn check(layout: Layout, buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::LogonProof.as_u8())?;
            r.skip(PROOF_C2S_FIXED - 1)?;
            let n = telemetry_count(r)?;
            r.skip(usize::from(n) * TELEMETRY_KEY_LEN)?;
            let blocks = SecurityBlocks::read(layout, r)?;
            r.skip(usize::from(blocks.pin) * 36 + usize::from(blocks.matrix) * 20)?;
            if blocks.authenticator {
                let len = token_len(r)?;
                r.skip(len)?;
            }
            Ok(())
        })
    }

    /// Decodes exactly one proof.
    pub fn parse(layout: Layout, msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::LogonProof.as_u8())?;
        let client_public_key = PublicKey(r.array()?);
        let client_proof = Proof(r.array()?);
        let crc_hash = r.array()?;
        let n = telemetry_count(&mut r)?;
        let mut telemetry_keys = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            telemetry_keys.push(TelemetryKey {
                unknown1: r.u16_le()?,
                unknown2: r.u32_le()?,
                unknown3: r.array()?,
                cd_key_proof: r.array()?,
            });
        }
        let blocks = SecurityBlocks::read(layout, &mut r)?;
        let mut security = SecurityProof::default();
        if blocks.pin {
            security.pin = Some(PinProof {
                salt: r.array()?,
                hash: r.array()?,
            });
        }
        if blocks.matrix {
            security.matrix = Some(r.array()?);
        }
        if blocks.authenticator {
            let len = token_len(&mut r)?;
            security.authenticator = Some(AuthenticatorToken::new(r.bytes(len)?)?);
        }
        r.finish()?;
        Ok(Self {
            client_public_key,
            client_proof,
            crc_hash,
            telemetry_keys,
            security,
        })
    }

    pub fn encoded_len(&self, layout: Layout) -> usize {
        let s = &self.security;
        PROOF_C2S_FIXED
            + 1
            + self.telemetry_keys.len() * TELEMETRY_KEY_LEN
            + usize::from(layout != Layout::V2)
            + s.pin.map_or(0, |_| 36)
            + s.matrix.map_or(0, |_| 20)
            + s.authenticator.map_or(0, |t| 1 + t.as_bytes().len())
    }

    /// Writes the proof as a client would; fails (writing nothing) for more than 8 keys or a
    /// two-factor answer `layout` cannot carry.
    pub fn encode(&self, layout: Layout, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let n = u8::try_from(self.telemetry_keys.len()).unwrap_or(u8::MAX);
        if n > MAX_TELEMETRY_KEYS {
            return Err(ProtocolError::TooManyTelemetryKeys(n));
        }
        let flag = self.security.blocks().flag(layout)?;
        sink.put_u8(Opcode::LogonProof.as_u8());
        sink.put(&self.client_public_key.0);
        sink.put(&self.client_proof.0);
        sink.put(&self.crc_hash);
        sink.put_u8(n);
        for k in &self.telemetry_keys {
            sink.put_u16_le(k.unknown1);
            sink.put_u32_le(k.unknown2);
            sink.put(&k.unknown3);
            sink.put(&k.cd_key_proof);
        }
        if let Some(flag) = flag {
            sink.put_u8(flag);
        }
        if let Some(pin) = &self.security.pin {
            sink.put(&pin.salt);
            sink.put(&pin.hash);
        }
        if let Some(m) = &self.security.matrix {
            sink.put(m);
        }
        if let Some(t) = &self.security.authenticator {
            put_string(sink, t.as_bytes())?;
        }
        Ok(())
    }
}

/// The server's answer to a proof, §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonProofS2c {
    /// V2/V3 carry only `server_proof` and `survey_id` (26 bytes); `account_flags` and
    /// `login_flags` are V8 only (32 bytes) and read back as 0 from a V2/V3 message.
    Success {
        server_proof: Proof,
        account_flags: u32,
        survey_id: u32,
        login_flags: u16,
    },
    /// V2/V3: `01 <r>`; V8: `01 <r> 00 00`. The result must not be SUCCESS.
    Failure(LoginResult),
}

impl LogonProofS2c {
    pub fn encoded_len(&self, layout: Layout) -> usize {
        match (self, layout.is_pre_bc()) {
            (LogonProofS2c::Success { .. }, true) => 26,
            (LogonProofS2c::Success { .. }, false) => 32,
            (LogonProofS2c::Failure(_), true) => 2,
            (LogonProofS2c::Failure(_), false) => 4,
        }
    }

    /// Writes the answer. In V2/V3 non-zero `account_flags`/`login_flags` cannot be carried
    /// and are an error, as is a failure carrying SUCCESS; nothing is written on error.
    pub fn encode(&self, layout: Layout, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let op = Opcode::LogonProof.as_u8();
        match *self {
            LogonProofS2c::Failure(result) => {
                let r = result.failure_byte()?;
                if layout.is_pre_bc() {
                    sink.put(&[op, r]);
                } else {
                    sink.put(&[op, r, 0, 0]);
                }
            }
            LogonProofS2c::Success {
                server_proof,
                account_flags,
                survey_id,
                login_flags,
            } => {
                if layout.is_pre_bc() && (account_flags != 0 || login_flags != 0) {
                    return Err(ProtocolError::UnsupportedLayout {
                        what: "account or login flags",
                        layout,
                    });
                }
                sink.put(&[op, LoginResult::Success.as_u8()]);
                sink.put(&server_proof.0);
                if !layout.is_pre_bc() {
                    sink.put_u32_le(account_flags);
                }
                sink.put_u32_le(survey_id);
                if !layout.is_pre_bc() {
                    sink.put_u16_le(login_flags);
                }
            }
        }
        Ok(())
    }

    /// Frames a proof answer (client side).
    pub fn check(layout: Layout, buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::LogonProof.as_u8())?;
            let result = LoginResult::decode(r.u8()?)?;
            let probe = match result {
                LoginResult::Success => LogonProofS2c::Success {
                    server_proof: Proof([0; 20]),
                    account_flags: 0,
                    survey_id: 0,
                    login_flags: 0,
                },
                r => LogonProofS2c::Failure(r),
            };
            r.skip(probe.encoded_len(layout) - 2)
        })
    }

    /// Decodes exactly one proof answer. The padding after a V8 failure is ignored (old
    /// TrinityCore and CMaNGOS send 3 there).
    pub fn parse(layout: Layout, msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::LogonProof.as_u8())?;
        let result = LoginResult::decode(r.u8()?)?;
        let out = if result == LoginResult::Success {
            let server_proof = Proof(r.array()?);
            if layout.is_pre_bc() {
                LogonProofS2c::Success {
                    server_proof,
                    account_flags: 0,
                    survey_id: r.u32_le()?,
                    login_flags: 0,
                }
            } else {
                LogonProofS2c::Success {
                    server_proof,
                    account_flags: r.u32_le()?,
                    survey_id: r.u32_le()?,
                    login_flags: r.u16_le()?,
                }
            }
        } else {
            if !layout.is_pre_bc() {
                r.skip(2)?;
            }
            LogonProofS2c::Failure(result)
        };
        r.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rules() {
        assert!(AuthenticatorToken::new(b"").is_ok());
        assert_eq!(
            AuthenticatorToken::new(b"123456").unwrap().as_str(),
            "123456"
        );
        assert_eq!(
            AuthenticatorToken::new(&[b'1'; 17]),
            Err(ProtocolError::TokenTooLong(17))
        );
        assert_eq!(
            AuthenticatorToken::new(b"12\x003"),
            Err(ProtocolError::BadToken)
        );
    }

    #[test]
    fn proof_failure_forms() {
        let f = LogonProofS2c::Failure(LoginResult::FailUnknownAccount);
        let mut v = Vec::new();
        f.encode(Layout::V3, &mut v).unwrap();
        assert_eq!(v, [1, 4]);
        v.clear();
        f.encode(Layout::V8, &mut v).unwrap();
        assert_eq!(v, [1, 4, 0, 0]);
        assert_eq!(
            LogonProofS2c::Failure(LoginResult::Success).encode(Layout::V8, &mut v),
            Err(ProtocolError::SuccessAsFailure)
        );
    }
}
