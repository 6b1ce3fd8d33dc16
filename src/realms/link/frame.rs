//! Framing of the realm link: every message travels as `u32 length` (little-endian, the bytes
//! after the field: type + payload) followed by `u8 type` and the payload.
//!
//! The length is judged the moment its four bytes are in: 0 or more than [`MAX_FRAME`] is
//! refused before the body arrives, so a peer cannot make the server buffer a frame it would
//! refuse anyway; so is an unknown type byte, as soon as it is in ([`types`] is the table of
//! the type bytes this version knows). The per-message layouts are in [`super::message`];
//! [`LinkError`] is the error of both, so the server side and [`super::client`] see one type.

use crate::account::CredentialError;
use crate::protocol::wire::{self, Check, ProtocolError, Reader, WireSink};
use crate::values::RealmValueError;

/// Size of the length field that opens every frame.
pub const LENGTH_FIELD: usize = 4;

/// Largest legal value of the length field (type byte + payload). The largest message,
/// Register with a 64-byte name, a 255-byte address and 16 builds, is 363 bytes; the margin
/// leaves room for a later version without letting a peer pin much memory.
pub const MAX_FRAME: usize = 1024;

/// Frame type bytes.
pub mod types {
    pub const HELLO: u8 = 0x01;
    pub const AUTH: u8 = 0x02;
    pub const AUTH_RESULT: u8 = 0x03;
    pub const REGISTER: u8 = 0x10;
    pub const REGISTERED: u8 = 0x11;
    pub const HEARTBEAT: u8 = 0x12;
    pub const UNREGISTER: u8 = 0x13;
    pub const TAKE_SESSION: u8 = 0x20;
    pub const SESSION: u8 = 0x21;
    pub const TAKE_SESSION_CHECKED: u8 = 0x22;
    pub const SESSION_CHECKED: u8 = 0x23;
    pub const CHARACTER_COUNTS: u8 = 0x24;
    pub const CHARACTER_COUNTS_STORED: u8 = 0x25;
    pub const ERROR: u8 = 0x7F;
}

/// Returns whether `ty` names a message of this protocol version.
pub fn is_known_type(ty: u8) -> bool {
    use types::*;
    matches!(
        ty,
        HELLO
            | AUTH
            | AUTH_RESULT
            | REGISTER
            | REGISTERED
            | HEARTBEAT
            | UNREGISTER
            | TAKE_SESSION
            | SESSION
            | TAKE_SESSION_CHECKED
            | SESSION_CHECKED
            | CHARACTER_COUNTS
            | CHARACTER_COUNTS_STORED
            | ERROR
    )
}

/// Why bytes are not a legal link message, or why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Shared wire faults: truncated, trailing bytes, non-UTF-8 or NUL in a string.
    #[error(transparent)]
    Wire(#[from] ProtocolError),
    #[error("frame length {0} is outside 1..={MAX_FRAME}")]
    FrameLength(usize),
    #[error("unknown link message type {0:#04x}")]
    UnknownType(u8),
    #[error("{field} of {len} bytes is outside {min}..={max}")]
    FieldLength {
        field: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("address {0:?} is not host:port")]
    BadAddress(String),
    #[error("bad account name: {0}")]
    BadName(CredentialError),
    #[error("{0} builds announced, at most 16 are accepted")]
    TooManyBuilds(usize),
    #[error("{0} character counts in one frame, at most 100 are accepted")]
    TooManyCounts(usize),
    #[error("field {field} has illegal value {value:#x}")]
    BadValue { field: &'static str, value: u64 },
    /// A realm-list value out of range (a NaN population, build 0).
    #[error(transparent)]
    RealmValue(#[from] RealmValueError),
}

/// Frames one whole frame (length field included) at the front of `buf`.
///
/// `Complete(n)` covers the length field too, so `n` is what to consume. Unknown types are
/// refused here already, as soon as the type byte is in, rather than after the whole body.
pub fn check(buf: &[u8]) -> Check {
    wire::frame(buf, |r| {
        let body = frame_length(r.u32_le()?)?;
        let ty = r.u8()?;
        if !is_known_type(ty) {
            return Err(ProtocolError::BadValue {
                field: "link message type",
                value: u32::from(ty),
            });
        }
        // The type byte is part of the announced length.
        r.skip(body.saturating_sub(1))
    })
}

/// Validates a length field; the error is a [`ProtocolError`] because [`Check`] carries one.
fn frame_length(len: u32) -> Result<usize, ProtocolError> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len == 0 {
        Err(ProtocolError::BadValue {
            field: "link frame length",
            value: 0,
        })
    } else if len > MAX_FRAME {
        Err(ProtocolError::TooLong {
            len,
            max: MAX_FRAME,
        })
    } else {
        Ok(len)
    }
}

/// Splits one whole frame into its type and payload, insisting that the length field matches
/// the slice exactly (a frame is parsed only after [`check`] said `Complete`).
pub fn split(frame: &[u8]) -> Result<(u8, &[u8]), LinkError> {
    let mut r = Reader::new(frame);
    let len = r.u32_le()?;
    let body = usize::try_from(len).unwrap_or(usize::MAX);
    if body == 0 || body > MAX_FRAME {
        return Err(LinkError::FrameLength(body));
    }
    let ty = r.u8()?;
    let payload = r.bytes(body - 1)?;
    r.finish()?;
    Ok((ty, payload))
}

/// Writes a frame header for a body (type + payload) of `body_len` bytes.
pub(crate) fn put_header(
    out: &mut impl WireSink,
    body_len: usize,
    ty: u8,
) -> Result<(), LinkError> {
    if body_len == 0 || body_len > MAX_FRAME {
        return Err(LinkError::FrameLength(body_len));
    }
    // MAX_FRAME fits in a u32, so the conversion cannot fail after the check above.
    let len = u32::try_from(body_len).map_err(|_| LinkError::FrameLength(body_len))?;
    out.put_u32_le(len);
    out.put_u8(ty);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lengths_are_invalid_from_the_length_field_alone() {
        assert!(matches!(check(&0u32.to_le_bytes()), Check::Invalid(_)));
        assert!(matches!(check(&1025u32.to_le_bytes()), Check::Invalid(_)));
        assert!(matches!(check(&u32::MAX.to_le_bytes()), Check::Invalid(_)));
        assert_eq!(check(&1024u32.to_le_bytes()), Check::Incomplete);
        assert_eq!(check(&[1, 0, 0]), Check::Incomplete);
        assert_eq!(check(&[]), Check::Incomplete);
    }

    #[test]
    fn unknown_type_is_invalid_once_its_byte_is_in() {
        assert!(matches!(check(&[1, 0, 0, 0, 0x55]), Check::Invalid(_)));
        assert_eq!(check(&[1, 0, 0, 0, 0x13, 0xAA]), Check::Complete(5));
    }

    #[test]
    fn split_insists_on_an_exact_frame() {
        assert_eq!(split(&[1, 0, 0, 0, 0x13]), Ok((0x13, &[][..])));
        assert!(split(&[1, 0, 0, 0, 0x13, 0]).is_err());
        assert!(split(&[2, 0, 0, 0, 0x13]).is_err());
        assert!(split(&[0, 0, 0, 0, 0x13]).is_err());
    }
}
