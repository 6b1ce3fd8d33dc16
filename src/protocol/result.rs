//! The one-byte login result (docs/protocol.md §2.2) carried by challenge, proof and
//! reconnect answers. Names follow wow_messages for 0x00–0x10 and TrinityCore above.

use std::fmt;

use super::version::Layout;
use super::wire::ProtocolError;

/// Every result code listed in the spec.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginResult {
    Success = 0x00,
    FailUnknown0 = 0x01,
    FailUnknown1 = 0x02,
    FailBanned = 0x03,
    FailUnknownAccount = 0x04,
    FailIncorrectPassword = 0x05,
    FailAlreadyOnline = 0x06,
    FailNoTime = 0x07,
    FailDbBusy = 0x08,
    FailVersionInvalid = 0x09,
    LoginDownloadFile = 0x0A,
    FailInvalidServer = 0x0B,
    FailSuspended = 0x0C,
    FailNoAccess = 0x0D,
    SuccessSurvey = 0x0E,
    FailParentalControl = 0x0F,
    FailLockedEnforced = 0x10,
    FailTrialEnded = 0x11,
    FailUseBattlenet = 0x12,
    FailAntiIndulgence = 0x13,
    FailExpired = 0x14,
    FailNoGameAccount = 0x15,
    FailChargeback = 0x16,
    FailInternetGameRoomWithoutBnet = 0x17,
    FailGameAccountLocked = 0x18,
    FailUnlockableLock = 0x19,
    FailConversionRequired = 0x20,
    FailDisconnected = 0xFF,
}

impl LoginResult {
    pub fn from_u8(v: u8) -> Option<LoginResult> {
        use LoginResult::*;
        Some(match v {
            0x00 => Success,
            0x01 => FailUnknown0,
            0x02 => FailUnknown1,
            0x03 => FailBanned,
            0x04 => FailUnknownAccount,
            0x05 => FailIncorrectPassword,
            0x06 => FailAlreadyOnline,
            0x07 => FailNoTime,
            0x08 => FailDbBusy,
            0x09 => FailVersionInvalid,
            0x0A => LoginDownloadFile,
            0x0B => FailInvalidServer,
            0x0C => FailSuspended,
            0x0D => FailNoAccess,
            0x0E => SuccessSurvey,
            0x0F => FailParentalControl,
            0x10 => FailLockedEnforced,
            0x11 => FailTrialEnded,
            0x12 => FailUseBattlenet,
            0x13 => FailAntiIndulgence,
            0x14 => FailExpired,
            0x15 => FailNoGameAccount,
            0x16 => FailChargeback,
            0x17 => FailInternetGameRoomWithoutBnet,
            0x18 => FailGameAccountLocked,
            0x19 => FailUnlockableLock,
            0x20 => FailConversionRequired,
            0xFF => FailDisconnected,
            _ => return None,
        })
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Decodes a received result byte; unknown values are a protocol error.
    pub fn decode(v: u8) -> Result<LoginResult, ProtocolError> {
        LoginResult::from_u8(v).ok_or(ProtocolError::UnknownResult(v))
    }

    /// Insists that a result written into a failure layout is not SUCCESS.
    pub(crate) fn failure_byte(self) -> Result<u8, ProtocolError> {
        match self {
            LoginResult::Success => Err(ProtocolError::SuccessAsFailure),
            r => Ok(r.as_u8()),
        }
    }

    /// Whether the spec recommends sending this code to clients of `layout`: 1.12.1 knows
    /// 0x00–0x0F; protocol 8 adds 0x10 and TrinityCore lists the rest.
    pub fn suits(self, layout: Layout) -> bool {
        match layout {
            Layout::V2 | Layout::V3 => self.as_u8() <= 0x0F,
            Layout::V8 => true,
        }
    }
}

impl LoginResult {
    /// What the code means, in words, as the client tells its player.
    pub fn meaning(self) -> &'static str {
        use LoginResult::*;
        match self {
            Success => "success",
            FailUnknown0 | FailUnknown1 => "unable to connect",
            FailBanned => "account banned",
            FailUnknownAccount => "unknown account",
            FailIncorrectPassword => "incorrect password",
            FailAlreadyOnline => "account already online",
            FailNoTime => "no game time left",
            FailDbBusy => "server busy, try again later",
            FailVersionInvalid => "client version not accepted",
            LoginDownloadFile => "patch to download",
            FailInvalidServer => "invalid server",
            FailSuspended => "account suspended",
            FailNoAccess => "no access",
            SuccessSurvey => "success (survey)",
            FailParentalControl => "blocked by parental control",
            FailLockedEnforced => "account locked to another address",
            FailTrialEnded => "trial ended",
            FailUseBattlenet => "use the Battle.net account",
            FailAntiIndulgence => "play-time limit reached",
            FailExpired => "subscription expired",
            FailNoGameAccount => "no game account",
            FailChargeback => "account frozen after a chargeback",
            FailInternetGameRoomWithoutBnet => "internet game room needs a Battle.net account",
            FailGameAccountLocked => "game account locked",
            FailUnlockableLock => "account locked, cannot be unlocked",
            FailConversionRequired => "account conversion required",
            FailDisconnected => "disconnected",
        }
    }
}

/// The meaning and the byte: `unknown account (0x04)`.
impl fmt::Display for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.meaning(), self.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip() {
        let mut known = 0;
        for v in 0..=255u8 {
            if let Some(r) = LoginResult::from_u8(v) {
                assert_eq!(r.as_u8(), v);
                known += 1;
            }
        }
        assert_eq!(known, 28);
        assert_eq!(LoginResult::FailSuspended.as_u8(), 0x0C);
        assert!(!LoginResult::FailLockedEnforced.suits(Layout::V3));
        assert!(LoginResult::FailLockedEnforced.suits(Layout::V8));
    }

    #[test]
    fn results_display_in_words() {
        assert_eq!(
            LoginResult::FailUnknownAccount.to_string(),
            "unknown account (0x04)"
        );
        assert_eq!(
            LoginResult::FailSuspended.to_string(),
            "account suspended (0x0c)"
        );
    }
}
