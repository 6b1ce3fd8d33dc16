//! The first byte of every login message (docs/protocol.md §1.2). There is no common frame
//! header: the opcode, the direction and the connection's layout decide how the rest is read.

use std::fmt;

/// A login-protocol opcode.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    LogonChallenge = 0x00,
    LogonProof = 0x01,
    ReconnectChallenge = 0x02,
    ReconnectProof = 0x03,
    SurveyResult = 0x04,
    RealmList = 0x10,
    XferInitiate = 0x30,
    XferData = 0x31,
    XferAccept = 0x32,
    XferResume = 0x33,
    XferCancel = 0x34,
}

impl Opcode {
    pub fn from_u8(v: u8) -> Option<Opcode> {
        Some(match v {
            0x00 => Opcode::LogonChallenge,
            0x01 => Opcode::LogonProof,
            0x02 => Opcode::ReconnectChallenge,
            0x03 => Opcode::ReconnectProof,
            0x04 => Opcode::SurveyResult,
            0x10 => Opcode::RealmList,
            0x30 => Opcode::XferInitiate,
            0x31 => Opcode::XferData,
            0x32 => Opcode::XferAccept,
            0x33 => Opcode::XferResume,
            0x34 => Opcode::XferCancel,
            _ => return None,
        })
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The protocol's own name, as used in logs and the spec.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::LogonChallenge => "CMD_AUTH_LOGON_CHALLENGE",
            Opcode::LogonProof => "CMD_AUTH_LOGON_PROOF",
            Opcode::ReconnectChallenge => "CMD_AUTH_RECONNECT_CHALLENGE",
            Opcode::ReconnectProof => "CMD_AUTH_RECONNECT_PROOF",
            Opcode::SurveyResult => "CMD_SURVEY_RESULT",
            Opcode::RealmList => "CMD_REALM_LIST",
            Opcode::XferInitiate => "CMD_XFER_INITIATE",
            Opcode::XferData => "CMD_XFER_DATA",
            Opcode::XferAccept => "CMD_XFER_ACCEPT",
            Opcode::XferResume => "CMD_XFER_RESUME",
            Opcode::XferCancel => "CMD_XFER_CANCEL",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_round_trip() {
        let mut known = 0;
        for v in 0..=255u8 {
            if let Some(op) = Opcode::from_u8(v) {
                assert_eq!(op.as_u8(), v);
                known += 1;
            }
        }
        assert_eq!(known, 11);
        assert_eq!(Opcode::RealmList.to_string(), "CMD_REALM_LIST");
    }
}
