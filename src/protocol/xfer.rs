//! The patch transfer (0x30–0x34, docs/protocol.md §7.2) and CMD_SURVEY_RESULT (0x04, §7.4).
//! Layouts are the same in every protocol version. XFER_DATA chunks are encoded from a
//! borrowed slice, so the patch bytes are copied once: from the file buffer into the sink.

use super::opcode::Opcode;
use super::wire::{frame, put_string, utf8, Check, ProtocolError, Reader, WireSink};

/// Chunk size of MaNGOS-family servers (the last chunk is shorter).
pub const XFER_CHUNK_SIZE: usize = 4096;
/// The only file name the client accepts in XFER_INITIATE.
pub const XFER_FILE_NAME: &str = "Patch";

/// Announces a patch: name, size and MD5 of the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XferInitiateS2c {
    /// Must be [`XFER_FILE_NAME`] for the client to act on it.
    pub file_name: String,
    pub file_size: u64,
    pub md5: [u8; 16],
}

impl XferInitiateS2c {
    /// The message a real client acts on.
    pub fn patch(file_size: u64, md5: [u8; 16]) -> Self {
        Self {
            file_name: XFER_FILE_NAME.to_owned(),
            file_size,
            md5,
        }
    }

    pub fn encoded_len(&self) -> usize {
        1 + 1 + self.file_name.len() + 8 + 16
    }

    /// Fails (writing nothing) if the name does not fit its u8 length.
    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        if self.file_name.len() > usize::from(u8::MAX) {
            return Err(ProtocolError::StringTooLong);
        }
        sink.put_u8(Opcode::XferInitiate.as_u8());
        put_string(sink, self.file_name.as_bytes())?;
        sink.put_u64_le(self.file_size);
        sink.put(&self.md5);
        Ok(())
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::XferInitiate.as_u8())?;
            let len = usize::from(r.u8()?);
            r.skip(len + 8 + 16)
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::XferInitiate.as_u8())?;
        let len = usize::from(r.u8()?);
        let file_name = utf8(r.bytes(len)?)?;
        let out = Self {
            file_name,
            file_size: r.u64_le()?,
            md5: r.array()?,
        };
        r.finish()?;
        Ok(out)
    }
}

/// One chunk of the patch file: `31 u16 len` + bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XferDataS2c<'a> {
    pub data: &'a [u8],
}

impl<'a> XferDataS2c<'a> {
    pub fn encoded_len(&self) -> usize {
        3 + self.data.len()
    }

    /// Fails (writing nothing) for a chunk longer than 65 535 bytes.
    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        Self::encode_chunk(self.data, sink)
    }

    /// Writes a chunk straight from a borrowed slice.
    pub fn encode_chunk(chunk: &[u8], sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let len = u16::try_from(chunk.len()).map_err(|_| ProtocolError::BodyTooLarge)?;
        sink.put_u8(Opcode::XferData.as_u8());
        sink.put_u16_le(len);
        sink.put(chunk);
        Ok(())
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::XferData.as_u8())?;
            let len = usize::from(r.u16_le()?);
            r.skip(len)
        })
    }

    /// Decodes one chunk, borrowing its bytes from `msg`.
    pub fn parse(msg: &'a [u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::XferData.as_u8())?;
        let len = usize::from(r.u16_le()?);
        let data = r.bytes(len)?;
        r.finish()?;
        Ok(Self { data })
    }
}

/// Frames/parses a 1-byte client message.
macro_rules! single_byte_message {
    ($name:ident, $op:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl $name {
            pub fn encoded_len(&self) -> usize {
                1
            }

            pub fn encode(&self, sink: &mut impl WireSink) {
                sink.put_u8($op.as_u8());
            }

            pub fn check(buf: &[u8]) -> Check {
                frame(buf, |r| r.opcode($op.as_u8()))
            }

            pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
                let mut r = Reader::new(msg);
                r.opcode($op.as_u8())?;
                r.finish()?;
                Ok($name)
            }
        }
    };
}

single_byte_message!(
    XferAcceptC2s,
    Opcode::XferAccept,
    "The client has none of the file: send it from offset 0."
);
single_byte_message!(
    XferCancelC2s,
    Opcode::XferCancel,
    "The user pressed Cancel: close the connection."
);

/// The client holds the first `offset` bytes of the announced file (must be < its size; the
/// session checks that, the codec cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XferResumeC2s {
    pub offset: u64,
}

impl XferResumeC2s {
    pub fn encoded_len(&self) -> usize {
        9
    }

    pub fn encode(&self, sink: &mut impl WireSink) {
        sink.put_u8(Opcode::XferResume.as_u8());
        sink.put_u64_le(self.offset);
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::XferResume.as_u8())?;
            r.skip(8)
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::XferResume.as_u8())?;
        let offset = r.u64_le()?;
        r.finish()?;
        Ok(Self { offset })
    }
}

/// A hardware-survey answer: `04 u32 survey_id, u8 error, u16 len, data` (protocol 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyResultC2s {
    pub survey_id: u32,
    pub error: u8,
    /// Compressed survey data, opaque to gatehouse.
    pub data: Vec<u8>,
}

impl SurveyResultC2s {
    pub fn encoded_len(&self) -> usize {
        1 + 4 + 1 + 2 + self.data.len()
    }

    /// Fails (writing nothing) for more than 65 535 data bytes.
    pub fn encode(&self, sink: &mut impl WireSink) -> Result<(), ProtocolError> {
        let len = u16::try_from(self.data.len()).map_err(|_| ProtocolError::BodyTooLarge)?;
        sink.put_u8(Opcode::SurveyResult.as_u8());
        sink.put_u32_le(self.survey_id);
        sink.put_u8(self.error);
        sink.put_u16_le(len);
        sink.put(&self.data);
        Ok(())
    }

    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::SurveyResult.as_u8())?;
            r.skip(5)?;
            let len = usize::from(r.u16_le()?);
            r.skip(len)
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::SurveyResult.as_u8())?;
        let survey_id = r.u32_le()?;
        let error = r.u8()?;
        let len = usize::from(r.u16_le()?);
        let data = r.bytes(len)?.to_vec();
        r.finish()?;
        Ok(Self {
            survey_id,
            error,
            data,
        })
    }
}
