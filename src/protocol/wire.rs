//! Wire primitives shared by every message codec: the two-phase framing result ([`Check`]),
//! the typed [`ProtocolError`], a bounds-checked [`Reader`] for network input (no panics, no
//! indexing), and the [`WireSink`] every encoder writes through, so the server can encode
//! straight into its output ring.

use crate::account::CredentialError;

use super::version::Layout;

/// What `check` says about the bytes buffered so far (they start at the opcode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A whole message of this many bytes is at the front of the buffer (always ≤ its length).
    Complete(usize),
    /// Not enough bytes yet; nothing seen so far is illegal.
    Incomplete,
    /// The bytes can never become a legal message: close the connection.
    Invalid(ProtocolError),
}

/// Why bytes are not a legal message (or why a message cannot be encoded for a layout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is shorter than its layout requires")]
    Truncated,
    #[error("bytes left over after the end of the message")]
    TrailingBytes,
    #[error("expected opcode {expected:#04x}, found {found:#04x}")]
    WrongOpcode { expected: u8, found: u8 },
    #[error("challenge size field {0} is outside 31..=46")]
    ChallengeSize(u16),
    #[error(
        "size field {size} does not match name length {name_len} (size must be 30 + name length)"
    )]
    SizeMismatch { size: u16, name_len: u8 },
    #[error("account name length {0} is outside 1..=16")]
    NameLength(u8),
    #[error("bad account name: {0}")]
    BadName(CredentialError),
    #[error("{0} telemetry keys announced, at most 8 are accepted")]
    TooManyTelemetryKeys(u8),
    #[error("security flag {flag:#04x} is not legal in layout {layout:?}")]
    SecurityFlag { flag: u8, layout: Layout },
    #[error("{what} cannot be carried by layout {layout:?}")]
    UnsupportedLayout { what: &'static str, layout: Layout },
    #[error("authenticator token of {0} bytes, at most 16 are accepted")]
    TokenTooLong(usize),
    #[error("authenticator token contains a byte that is not printable ASCII")]
    BadToken,
    #[error("unknown login result {0:#04x}")]
    UnknownResult(u8),
    #[error("a failure message cannot carry result SUCCESS")]
    SuccessAsFailure,
    #[error("SRP group in the challenge is not g = 7 with the 32-byte WoW N")]
    UnsupportedGroup,
    #[error("field {field} has illegal value {value:#x}")]
    BadValue { field: &'static str, value: u32 },
    #[error("reconnect proof announces {0} keys, must be 0")]
    KeyCount(u8),
    #[error("message body is larger than its u16 size field allows")]
    BodyTooLarge,
    #[error("{0} realms do not fit in a u8 count")]
    TooManyRealms(usize),
    #[error("realm flags and version disagree on SPECIFY_BUILD")]
    SpecifyBuildMismatch,
    #[error("string contains a NUL byte")]
    NulInString,
    #[error("string is longer than its u8 length prefix allows")]
    StringTooLong,
    #[error("string is not valid UTF-8")]
    NotUtf8,
    #[error("message of {len} bytes is longer than the {max} this state allows")]
    TooLong { len: usize, max: usize },
}

/// Where encoders write. `Vec<u8>` implements it; the server implements it for its output ring.
pub trait WireSink {
    fn put(&mut self, bytes: &[u8]);

    fn put_u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn put_u16_le(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn put_u32_le(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn put_u64_le(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn put_f32_le(&mut self, v: f32) {
        self.put(&v.to_le_bytes());
    }
}

impl WireSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl<T: WireSink + ?Sized> WireSink for &mut T {
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }
}

/// A cursor over received bytes; every read is bounds-checked and fails with `Truncated`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let rest = self.buf.get(self.pos..).ok_or(ProtocolError::Truncated)?;
        let out = rest.get(..n).ok_or(ProtocolError::Truncated)?;
        self.pos += n;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16_le(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32_le(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn i32_le(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub fn u64_le(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn f32_le(&mut self) -> Result<f32, ProtocolError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A NUL-terminated string; returns the bytes before the NUL and consumes the NUL too.
    pub fn cstring(&mut self) -> Result<&'a [u8], ProtocolError> {
        let rest = self.buf.get(self.pos..).ok_or(ProtocolError::Truncated)?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(ProtocolError::Truncated)?;
        let s = rest.get(..end).ok_or(ProtocolError::Truncated)?;
        self.pos += end + 1;
        Ok(s)
    }

    /// Skips `n` bytes (for `check`, which frames without decoding).
    pub fn skip(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.bytes(n).map(|_| ())
    }

    /// Reads the opcode byte and insists on `expected`.
    pub fn opcode(&mut self, expected: u8) -> Result<(), ProtocolError> {
        let found = self.u8()?;
        if found == expected {
            Ok(())
        } else {
            Err(ProtocolError::WrongOpcode { expected, found })
        }
    }

    /// Ends an exact-message parse: any byte left over is an error.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes)
        }
    }
}

/// Runs a framing walk over `buf`: running out of bytes means `Incomplete`, any other error
/// `Invalid`, success `Complete` at the walk's end. Walks must test each length field as soon
/// as they read it, so an illegal announcement is refused before its bytes arrive.
pub(crate) fn frame(
    buf: &[u8],
    walk: impl FnOnce(&mut Reader<'_>) -> Result<(), ProtocolError>,
) -> Check {
    let mut r = Reader::new(buf);
    match walk(&mut r) {
        Ok(()) => Check::Complete(r.position()),
        Err(ProtocolError::Truncated) => Check::Incomplete,
        Err(e) => Check::Invalid(e),
    }
}

/// Writes a `u8 length` + bytes String.
pub(crate) fn put_string(sink: &mut impl WireSink, s: &[u8]) -> Result<(), ProtocolError> {
    let len = u8::try_from(s.len()).map_err(|_| ProtocolError::StringTooLong)?;
    sink.put_u8(len);
    sink.put(s);
    Ok(())
}

/// Decodes received text that must be UTF-8.
pub(crate) fn utf8(bytes: &[u8]) -> Result<String, ProtocolError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| ProtocolError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_bounds_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_le(), Ok(0x0201));
        assert_eq!(r.u16_le(), Err(ProtocolError::Truncated));
        assert_eq!(r.u8(), Ok(3));
        assert_eq!(r.u8(), Err(ProtocolError::Truncated));
        assert_eq!(r.bytes(usize::MAX), Err(ProtocolError::Truncated));
        assert!(r.finish().is_ok());
    }

    #[test]
    fn cstring_needs_its_nul() {
        let mut r = Reader::new(b"ab\0cd");
        assert_eq!(r.cstring(), Ok(&b"ab"[..]));
        assert_eq!(r.cstring(), Err(ProtocolError::Truncated));
        assert_eq!(r.finish(), Err(ProtocolError::TrailingBytes));
    }

    #[test]
    fn sink_writes_little_endian() {
        let mut v = Vec::new();
        v.put_u16_le(0x0102);
        v.put_u32_le(0x03040506);
        v.put_f32_le(400.0);
        assert_eq!(v, [2, 1, 6, 5, 4, 3, 0, 0, 0xc8, 0x43]);
    }
}
