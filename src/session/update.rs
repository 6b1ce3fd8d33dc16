//! The `Update` state: a client whose build is too old, and that proved its password, is sent
//! the patch for its build and locale (CMD_XFER_*, docs/protocol.md §7).
//!
//! The file is read by the I/O thread in pieces, and only while the connection's output ring
//! has room for them, so a client that reads slowly costs at most its ring, never the file.
//! The daemon asks [`Transfer::next_read`] what to read and hands the bytes to
//! [`Update::on_chunk`]; this state only frames them. After the last chunk there is no end
//! marker: the client checks the MD5, applies the patch and hangs up (`Closing` waits for that).

use std::path::PathBuf;

use crate::patches::PatchFile;
use crate::protocol::opcode::Opcode;
use crate::protocol::wire::ProtocolError;
use crate::protocol::xfer::{XferDataS2c, XferResumeC2s, XFER_CHUNK_SIZE};

use super::{CloseReason, Closing, OpcodeRule, SessionCx, State, Step};

/// Bytes one CMD_XFER_DATA message takes besides its data.
pub const XFER_DATA_HEADER: usize = 3;
/// Chunks read from the file at once, at most.
const CHUNKS_PER_READ: usize = 8;

pub enum Update {
    /// CMD_XFER_INITIATE was sent; waiting for accept, resume or cancel.
    AwaitDecision(Box<PatchFile>),
    Streaming(Box<Transfer>),
}

/// Whether a read of the file is in flight on the I/O thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Idle,
    InFlight,
}

pub struct Transfer {
    patch: PatchFile,
    /// The next byte of the file to send.
    offset: u64,
    pub reading: Reading,
}

pub(super) const DECISION_RULES: &[OpcodeRule] = &[
    OpcodeRule {
        opcode: Opcode::XferAccept,
        min_len: 1,
        max_len: 1,
    },
    OpcodeRule {
        opcode: Opcode::XferResume,
        min_len: 9,
        max_len: 9,
    },
    OpcodeRule {
        opcode: Opcode::XferCancel,
        min_len: 1,
        max_len: 1,
    },
];

pub(super) const STREAMING_RULES: &[OpcodeRule] = &[OpcodeRule {
    opcode: Opcode::XferCancel,
    min_len: 1,
    max_len: 1,
}];

impl Transfer {
    /// What to read next, if a read is due and the output ring has `room` for at least one
    /// whole chunk: (file, offset, length).
    pub fn next_read(&self, room: usize) -> Option<(PathBuf, u64, usize)> {
        if self.reading == Reading::InFlight || self.offset >= self.patch.size {
            return None;
        }
        let chunks = (room / (XFER_CHUNK_SIZE + XFER_DATA_HEADER)).min(CHUNKS_PER_READ);
        if chunks == 0 {
            return None;
        }
        let left = self.patch.size - self.offset;
        let len = (chunks * XFER_CHUNK_SIZE).min(usize::try_from(left).unwrap_or(usize::MAX));
        Some((self.patch.path.clone(), self.offset, len))
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the next read waits only for room in the output ring (none in flight, bytes
    /// left to send).
    pub fn waits_for_room(&self) -> bool {
        self.reading == Reading::Idle && self.offset < self.patch.size
    }
}

impl Update {
    pub fn legal(&self) -> &'static [OpcodeRule] {
        match self {
            Update::AwaitDecision(_) => DECISION_RULES,
            Update::Streaming(_) => STREAMING_RULES,
        }
    }

    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        match (self, opcode) {
            (_, Opcode::XferCancel) => {
                log::info!("{}: patch transfer cancelled by the client", cx.data);
                Step::Close(CloseReason::TransferCancelled)
            }
            (Update::AwaitDecision(patch), Opcode::XferAccept) => start(*patch, 0, cx),
            (Update::AwaitDecision(patch), Opcode::XferResume) => {
                let resume = match XferResumeC2s::parse(msg) {
                    Ok(r) => r,
                    Err(e) => return Step::Close(CloseReason::Malformed(e)),
                };
                if resume.offset >= patch.size {
                    return Step::Close(CloseReason::Malformed(ProtocolError::BadValue {
                        field: "resume offset",
                        value: u32::try_from(resume.offset).unwrap_or(u32::MAX),
                    }));
                }
                start(*patch, resume.offset, cx)
            }
            (_, opcode) => Step::Close(CloseReason::IllegalOpcode {
                opcode: opcode.as_u8(),
                state: super::StateKind::Update.as_str(),
            }),
        }
    }

    /// Bytes of the file arrived from the I/O thread: frame them as CMD_XFER_DATA.
    pub fn on_chunk(self, offset: u64, data: &[u8], cx: &mut SessionCx<'_>) -> Step {
        let Update::Streaming(mut transfer) = self else {
            return Step::Become(State::Update(self));
        };
        transfer.reading = Reading::Idle;
        if offset != transfer.offset || data.is_empty() {
            log::error!(
                "{}: patch read at {offset} returned {} bytes (expected data at {}): file changed?",
                cx.data,
                data.len(),
                transfer.offset
            );
            return Step::Close(CloseReason::TransferFailed);
        }
        for chunk in data.chunks(XFER_CHUNK_SIZE) {
            if let Err(e) = XferDataS2c::encode_chunk(chunk, &mut cx.out) {
                return Step::Close(CloseReason::Unencodable(e));
            }
        }
        transfer.offset += data.len() as u64;
        if transfer.offset >= transfer.patch.size {
            log::info!("{}: patch sent ({} bytes)", cx.data, transfer.patch.size);
            return Step::Become(State::Closing(Closing));
        }
        Step::Become(State::Update(Update::Streaming(transfer)))
    }
}

fn start(patch: PatchFile, offset: u64, cx: &mut SessionCx<'_>) -> Step {
    log::info!(
        "{}: sending patch {} from byte {offset} of {}",
        cx.data,
        patch.path.display(),
        patch.size
    );
    Step::Become(State::Update(Update::Streaming(Box::new(Transfer {
        patch,
        offset,
        reading: Reading::Idle,
    }))))
}
