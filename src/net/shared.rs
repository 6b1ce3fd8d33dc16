//! Answers encoded once and sent by many connections (the realm list), without a copy per
//! connection.
//!
//! A [`SharedMessage`] is the encoding, behind an `Arc`, with the offsets of the few bytes
//! each connection fills in for itself (its character count on each realm). A connection that
//! answers with it queues a [`SharedSend`]: the `Arc`, its own bytes for those offsets, and how
//! far the socket got. The connection's write path sends its output ring first and then the
//! shared send with vectored writes (the shared runs between the holes, one-byte slices for
//! the holes), resuming at the offset after a partial write; so an idle logged-in connection
//! needs no output ring big enough for a realm list.
//!
//! [`ReplySink`] is where state code puts its answers: ring bytes as any [`WireSink`], and a
//! shared send after them.

use std::io::{self, IoSlice, Write};
use std::sync::Arc;

use crate::protocol::wire::WireSink;

/// Slices one vectored write carries at most (a quarter of Linux's IOV_MAX, so the array of
/// them fits the stack): a longer message goes out in several writes.
pub const MAX_SLICES: usize = 256;

/// Why bytes and hole offsets do not make a shared message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharedMessageError {
    #[error("hole at offset {at} is outside the {len}-byte message")]
    HoleOutOfRange { at: usize, len: usize },
    #[error("hole at offset {at} does not come after the one before it")]
    HoleOutOfOrder { at: usize },
}

/// An encoded message that many connections send, each with its own bytes at `holes`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SharedMessage {
    bytes: Box<[u8]>,
    /// Strictly ascending offsets into `bytes`, where `bytes` holds 0: a sender with a byte of
    /// its own for a hole sends that instead.
    holes: Box<[usize]>,
}

impl SharedMessage {
    pub fn new(mut bytes: Vec<u8>, holes: Vec<usize>) -> Result<Self, SharedMessageError> {
        let len = bytes.len();
        let mut previous = None;
        for &at in &holes {
            if at >= len {
                return Err(SharedMessageError::HoleOutOfRange { at, len });
            }
            if previous.is_some_and(|p| p >= at) {
                return Err(SharedMessageError::HoleOutOfOrder { at });
            }
            previous = Some(at);
            if let Some(b) = bytes.get_mut(at) {
                *b = 0;
            }
        }
        Ok(Self {
            bytes: bytes.into_boxed_slice(),
            holes: holes.into_boxed_slice(),
        })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// How many bytes each sender fills in.
    pub fn holes(&self) -> usize {
        self.holes.len()
    }

    /// Calls `each` with the message's pieces from byte `from` on, in order, as long as it
    /// answers true: the shared runs between the holes, and `fill`'s byte for each hole (an
    /// empty `fill`: the message's own zeros, in one run). The pieces cover at most `limit`
    /// bytes.
    fn pieces<'a>(
        &'a self,
        fill: &'a [u8],
        from: usize,
        limit: usize,
        mut each: impl FnMut(&'a [u8]) -> bool,
    ) {
        let end = self.bytes.len().min(from.saturating_add(limit));
        if fill.is_empty() {
            if let Some(run) = self.bytes.get(from..end).filter(|r| !r.is_empty()) {
                each(run);
            }
            return;
        }
        let mut at = from;
        // The first hole at or after `from`.
        let mut hole = self.holes.partition_point(|&h| h < from);
        while at < end {
            let next_hole = self.holes.get(hole).copied().unwrap_or(self.bytes.len());
            let piece = if next_hole == at {
                hole += 1;
                fill.get(hole - 1..hole)
            } else {
                self.bytes.get(at..next_hole.min(end))
            };
            // Never empty: `at < end` and a hole's byte is one byte (`fill` has one per hole).
            let Some(piece) = piece.filter(|p| !p.is_empty()) else {
                return;
            };
            at += piece.len();
            if !each(piece) {
                return;
            }
        }
    }
}

/// One connection's send of a shared message: its bytes for the holes, and how far it got.
#[derive(Debug)]
pub struct SharedSend {
    message: Arc<SharedMessage>,
    /// One byte per hole, in hole order.
    fill: Box<[u8]>,
    /// Bytes of the message the socket has taken.
    sent: usize,
}

impl SharedSend {
    /// A send of `message` with `fill(i)` in hole `i`. When every hole's byte is 0 (an account
    /// with no characters) nothing is copied: the message goes out as it is.
    pub fn new(message: Arc<SharedMessage>, fill: impl Fn(usize) -> u8) -> Self {
        let fill = if (0..message.holes()).any(|i| fill(i) != 0) {
            (0..message.holes()).map(fill).collect()
        } else {
            Box::default()
        };
        Self {
            message,
            fill,
            sent: 0,
        }
    }

    /// Bytes still to send.
    pub fn remaining(&self) -> usize {
        self.message.len().saturating_sub(self.sent)
    }

    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// One vectored write of what is left (at most `limit` bytes, at most [`MAX_SLICES`]
    /// slices) to `dst`; a partial write is resumed from where it stopped by the next call.
    /// Returns the bytes written (0 when nothing was left).
    pub fn write_to(&mut self, dst: &mut impl Write, limit: usize) -> io::Result<usize> {
        // On the stack: a send allocates nothing. A longer list goes out in more writes.
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut used = 0;
        self.message.pieces(&self.fill, self.sent, limit, |piece| {
            if let Some(slot) = slices.get_mut(used) {
                *slot = IoSlice::new(piece);
                used += 1;
            }
            used < MAX_SLICES
        });
        let Some(slices) = slices.get(..used).filter(|s| !s.is_empty()) else {
            return Ok(0);
        };
        let n = dst.write_vectored(slices)?;
        self.sent = self.sent.saturating_add(n).min(self.message.len());
        Ok(n)
    }

    /// Copies what is left into `sink` (where there is no socket: a test's `Vec`).
    pub fn copy_rest(&self, sink: &mut dyn WireSink) {
        self.message
            .pieces(&self.fill, self.sent, usize::MAX, |piece| {
                sink.put(piece);
                true
            });
    }
}

/// Where state code puts its answers: bytes, as any encoder writes them, and shared sends.
pub trait ReplySink: WireSink {
    /// Queues `send` after everything put so far. Nothing may be put after it until it has
    /// gone out (the daemon handles no packet meanwhile).
    fn put_shared(&mut self, send: SharedSend);
}

/// A plain buffer gets the shared message's bytes copied in.
impl ReplySink for Vec<u8> {
    fn put_shared(&mut self, send: SharedSend) {
        send.copy_rest(self);
    }
}

impl<T: ReplySink + ?Sized> ReplySink for &mut T {
    fn put_shared(&mut self, send: SharedSend) {
        (**self).put_shared(send);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most `step` bytes per write, across slices as writev does; `WouldBlock` every
    /// other call, as a full socket buffer would.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
        most_slices: usize,
    }

    impl Trickle {
        fn new(step: usize) -> Self {
            Self {
                out: Vec::new(),
                step,
                calls: 0,
                most_slices: 0,
            }
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            self.most_slices = self.most_slices.max(bufs.len());
            if self.calls.is_multiple_of(2) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut left = self.step;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(left);
                self.out.extend_from_slice(&b[..take]);
                left -= take;
                n += take;
                if left == 0 {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn drain(send: &mut SharedSend, dst: &mut Trickle, limit: usize) {
        while !send.is_done() {
            match send.write_to(dst, limit) {
                Ok(n) => assert!(n > 0 && n <= limit),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn holes_are_filled_per_send_and_partial_writes_resume() {
        let message =
            Arc::new(SharedMessage::new(b"abcdefghij".to_vec(), vec![0, 3, 4, 9]).unwrap());
        for step in 1..=11 {
            let mut send = SharedSend::new(message.clone(), |i| b'0' + i as u8);
            let mut dst = Trickle::new(step);
            drain(&mut send, &mut dst, usize::MAX);
            assert_eq!(dst.out, b"0bc12fghi3", "{step} bytes per write");
            assert_eq!(send.write_to(&mut dst, 10).unwrap(), 0, "nothing left");
        }
        // The shared bytes are untouched: another send fills its own.
        let mut copy = Vec::new();
        copy.put_shared(SharedSend::new(message, |_| b'x'));
        assert_eq!(copy, b"xbcxxfghix");
    }

    #[test]
    fn a_limit_bounds_each_write() {
        let message = Arc::new(SharedMessage::new(vec![7; 100], vec![10, 50]).unwrap());
        let mut send = SharedSend::new(message, |_| 1);
        let mut dst = Trickle::new(1000);
        assert_eq!(send.write_to(&mut dst, 30).unwrap(), 30);
        assert_eq!(send.remaining(), 70);
        drain(&mut send, &mut dst, 30);
        let mut expected = vec![7; 100];
        expected[10] = 1;
        expected[50] = 1;
        assert_eq!(dst.out, expected);
    }

    #[test]
    fn no_write_carries_more_than_iov_max_slices() {
        // 1,500 holes: about 3,000 pieces.
        let holes: Vec<usize> = (0..1500).map(|i| i * 2 + 1).collect();
        let message = Arc::new(SharedMessage::new(vec![0; 3001], holes).unwrap());
        let mut send = SharedSend::new(message, |i| (i % 255) as u8 + 1);
        let mut dst = Trickle::new(usize::MAX);
        drain(&mut send, &mut dst, usize::MAX);
        assert_eq!(dst.most_slices, MAX_SLICES);
        assert_eq!(dst.out.len(), 3001);
        assert!(dst.out.iter().skip(1).step_by(2).all(|&b| b != 0));
        assert!(dst.out.iter().step_by(2).all(|&b| b == 0));
    }

    #[test]
    fn holes_must_be_ascending_and_inside() {
        assert_eq!(
            SharedMessage::new(vec![0; 4], vec![4]),
            Err(SharedMessageError::HoleOutOfRange { at: 4, len: 4 })
        );
        assert_eq!(
            SharedMessage::new(vec![0; 4], vec![2, 2]),
            Err(SharedMessageError::HoleOutOfOrder { at: 2 })
        );
        let empty = Arc::new(SharedMessage::new(Vec::new(), Vec::new()).unwrap());
        assert!(SharedSend::new(empty, |_| 0).is_done());
    }
}
