//! CMD_AUTH_RECONNECT_CHALLENGE answer (0x02) and CMD_AUTH_RECONNECT_PROOF (0x03),
//! docs/protocol.md §5. The client's reconnect challenge is [`super::challenge::ChallengeC2s`]
//! with `kind == Reconnect`. Only the proof answer differs by layout (2 bytes before BC).

use crate::srp6::Proof;

use super::opcode::Opcode;
use super::result::LoginResult;
use super::version::Layout;
use super::wire::{frame, Check, ProtocolError, Reader, WireSink};

/// Exact length of a client reconnect proof.
pub const RECONNECT_PROOF_C2S_LEN: usize = 58;

/// The server's answer to a reconnect challenge (same in every layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectChallengeS2c {
    /// 34 bytes: `02 00`, 16 random bytes to keep for the proof, 16-byte checksum salt.
    Success {
        challenge_data: [u8; 16],
        checksum_salt: [u8; 16],
    },
    /// 2 bytes `02 <result>` (no protocol byte, unlike 0x00); not SUCCESS.
    Failure(LoginResult),
}

impl ReconnectChallengeS2c {
    pub fn encoded_len(&self) -> usize {
        match self {
            ReconnectChallengeS2c::Success { .. } => 34,
            ReconnectChallengeS2c::Failure(_) => 2,
        }
    }

    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let op = Opcode::ReconnectChallenge.as_u8();
        match self {
            ReconnectChallengeS2c::Success {
                challenge_data,
                checksum_salt,
            } => {
                sink.put(&[op, LoginResult::Success.as_u8()]);
                sink.put(challenge_data);
                sink.put(checksum_salt);
            }
            ReconnectChallengeS2c::Failure(result) => {
                let r = result.failure_byte()?;
                sink.put(&[op, r]);
            }
        }
        Ok(())
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::ReconnectChallenge.as_u8())?;
            if LoginResult::decode(r.u8()?)? == LoginResult::Success {
                r.skip(32)?;
            }
            Ok(())
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::ReconnectChallenge.as_u8())?;
        let result = LoginResult::decode(r.u8()?)?;
        let out = if result == LoginResult::Success {
            ReconnectChallengeS2c::Success {
                challenge_data: r.array()?,
                checksum_salt: r.array()?,
            }
        } else {
            ReconnectChallengeS2c::Failure(result)
        };
        r.finish()?;
        Ok(out)
    }
}

/// The client's reconnect proof (R1, R2, R3), exactly 58 bytes in every layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectProofC2s {
    /// R1, client random.
    pub client_data: [u8; 16],
    /// R2 = SHA1(name ‖ R1 ‖ challenge_data ‖ K).
    pub client_proof: Proof,
    /// R3, not verifiable for 1.12 (§7.3).
    pub client_checksum: [u8; 20],
    /// Always 0 on the wire; anything else is refused.
    pub key_count: u8,
}

fn reconnect_key_count(r: &mut Reader<'_>) -> Result<u8, ProtocolError> {
    match r.u8()? {
        0 => Ok(0),
        n => Err(ProtocolError::KeyCount(n)),
    }
}

impl ReconnectProofC2s {
    pub fn encoded_len(&self) -> usize {
        RECONNECT_PROOF_C2S_LEN
    }

    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        if self.key_count != 0 {
            return Err(ProtocolError::KeyCount(self.key_count));
        }
        sink.put_u8(Opcode::ReconnectProof.as_u8());
        sink.put(&self.client_data);
        sink.put(&self.client_proof.0);
        sink.put(&self.client_checksum);
        sink.put_u8(self.key_count);
        Ok(())
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::ReconnectProof.as_u8())?;
            r.skip(RECONNECT_PROOF_C2S_LEN - 2)?;
            reconnect_key_count(r).map(|_| ())
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::ReconnectProof.as_u8())?;
        let out = Self {
            client_data: r.array()?,
            client_proof: Proof(r.array()?),
            client_checksum: r.array()?,
            key_count: reconnect_key_count(&mut r)?,
        };
        r.finish()?;
        Ok(out)
    }
}

/// The server's answer to a reconnect proof: `03 <r>` (V2/V3) or `03 <r> 00 00` (V8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectProofS2c {
    pub result: LoginResult,
}

impl ReconnectProofS2c {
    pub fn encoded_len(&self, layout: Layout) -> usize {
        if layout.is_pre_bc() {
            2
        } else {
            4
        }
    }

    pub fn encode(&self, layout: Layout, sink: &mut impl WireSink) {
        let head = [Opcode::ReconnectProof.as_u8(), self.result.as_u8()];
        sink.put(&head);
        if !layout.is_pre_bc() {
            sink.put_u16_le(0);
        }
    }

    pub fn check(layout: Layout, buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::ReconnectProof.as_u8())?;
            LoginResult::decode(r.u8()?)?;
            if !layout.is_pre_bc() {
                r.skip(2)?;
            }
            Ok(())
        })
    }

    /// Decodes exactly one answer; the V8 padding is ignored.
    pub fn parse(layout: Layout, msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::ReconnectProof.as_u8())?;
        let result = LoginResult::decode(r.u8()?)?;
        if !layout.is_pre_bc() {
            r.skip(2)?;
        }
        r.finish()?;
        Ok(Self { result })
    }
}
