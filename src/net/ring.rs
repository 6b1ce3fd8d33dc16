//! A fixed-capacity byte ring: one per connection for input and one for output.
//!
//! Rings do not grow with what a peer sends: a connection gets small rings until its peer has
//! proven who it is, and is moved to the configured ones then (a game client only to a bigger
//! input ring, and a bigger output ring when it is sent a patch; never back; see
//! `Connection::resize_rings_from`). Input that does not fit means the peer sent more than any
//! legal packet (it is cut off); output that does not fit means the peer is not reading (it is
//! cut off, or its input is left unread until the ring drains). Packets are parsed straight out of the
//! ring: when one wraps around the end, the storage is rotated once so it is contiguous, which
//! is cheap for the small input rings and rare.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};

pub struct Ring {
    buf: Box<[u8]>,
    /// Index of the oldest byte.
    head: usize,
    len: usize,
}

/// Input and output ring sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffers {
    pub input: usize,
    pub output: usize,
}

impl Buffers {
    /// The larger of each.
    pub fn max(self, other: Buffers) -> Buffers {
        Buffers {
            input: self.input.max(other.input),
            output: self.output.max(other.output),
        }
    }
}

/// Ring storage to use again: a closing connection gives its rings' buffers back and the next
/// connection takes them, so in the steady state the loop allocates no ring per connection.
/// At most [`RingPool::KEEP`] buffers of each size wait here, so a flood that ends leaves
/// bounded memory behind. A reused buffer's old bytes are never read: a ring reads only what
/// was written to it since it was made.
#[derive(Default)]
pub struct RingPool {
    /// Free buffers by capacity (a table has two or three sizes at most).
    free: Vec<(usize, Vec<Box<[u8]>>)>,
}

impl RingPool {
    /// Buffers of one size kept at most.
    pub const KEEP: usize = 4096;

    /// An empty ring of `capacity`, from a kept buffer when there is one.
    pub fn take(&mut self, capacity: usize) -> Ring {
        let kept = self
            .free
            .iter_mut()
            .find(|(size, _)| *size == capacity)
            .and_then(|(_, buffers)| buffers.pop());
        match kept {
            Some(buf) => Ring {
                buf,
                head: 0,
                len: 0,
            },
            None => Ring::with_capacity(capacity),
        }
    }

    /// Keeps `ring`'s buffer for a later [`RingPool::take`] of its size.
    pub fn give(&mut self, ring: Ring) {
        let size = ring.buf.len();
        if size == 0 {
            return;
        }
        let at = match self.free.iter().position(|(s, _)| *s == size) {
            Some(at) => at,
            None => {
                self.free.push((size, Vec::new()));
                self.free.len() - 1
            }
        };
        if let Some((_, buffers)) = self.free.get_mut(at) {
            if buffers.len() < Self::KEEP {
                buffers.push(ring.buf);
            }
        }
    }

    /// Buffers waiting, of every size (for tests and stats).
    pub fn kept(&self) -> usize {
        self.free.iter().map(|(_, b)| b.len()).sum()
    }
}

impl Ring {
    /// A ring with no storage (what a connection's ring is after it was given back).
    pub fn empty() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Appends `other`'s bytes (what fits) to this ring: how a connection moves to a larger
    /// ring, when it is promoted or starts a patch transfer (`Connection::resize_rings_from`).
    /// Bytes that would not fit are dropped, which is why callers only grow.
    pub fn fill_from(&mut self, other: &Ring) {
        let (first, second) = other.as_slices();
        self.push(first);
        self.push(second);
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn free(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn is_full(&self) -> bool {
        self.free() == 0
    }

    fn tail(&self) -> usize {
        let cap = self.buf.len();
        if cap == 0 {
            0
        } else {
            (self.head + self.len) % cap
        }
    }

    /// The stored bytes as (first, second) slices in order.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let cap = self.buf.len();
        let first_len = self.len.min(cap - self.head);
        let first = &self.buf[self.head..self.head + first_len];
        let second = &self.buf[..self.len - first_len];
        (first, second)
    }

    fn free_slices(&mut self) -> (&mut [u8], &mut [u8]) {
        let cap = self.buf.len();
        let tail = self.tail();
        let free = self.free();
        if free == 0 {
            return (&mut [], &mut []);
        }
        if tail >= self.head {
            // Free space runs from tail to the end, then from 0 up to head.
            let (before_tail, from_tail) = self.buf.split_at_mut(tail);
            let second_len = free - (cap - tail);
            (from_tail, &mut before_tail[..second_len])
        } else {
            (&mut self.buf[tail..self.head], &mut [])
        }
    }

    /// The oldest byte, if any (a packet's opcode).
    pub fn first(&self) -> Option<u8> {
        (self.len > 0).then(|| self.buf[self.head])
    }

    /// All stored bytes as one slice, rotating the storage if they wrap.
    pub fn contiguous(&mut self) -> &[u8] {
        if self.head + self.len > self.buf.len() {
            self.buf.rotate_left(self.head);
            self.head = 0;
        }
        &self.buf[self.head..self.head + self.len]
    }

    /// Drops the oldest `n` bytes (a handled packet, or bytes the socket took).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.buf.len()
        };
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Appends as much of `bytes` as fits; returns how much did.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let (a, b) = self.free_slices();
        let n1 = a.len().min(bytes.len());
        a[..n1].copy_from_slice(&bytes[..n1]);
        let n2 = b.len().min(bytes.len() - n1);
        b[..n2].copy_from_slice(&bytes[n1..n1 + n2]);
        self.len += n1 + n2;
        n1 + n2
    }

    /// One read from `src` into the free space. `Ok(0)` with free space left means end of
    /// stream; the caller must not call this when the ring is full.
    pub fn read_from(&mut self, src: &mut impl Read) -> io::Result<usize> {
        let (a, b) = self.free_slices();
        let mut bufs = [IoSliceMut::new(a), IoSliceMut::new(b)];
        let n = src.read_vectored(&mut bufs)?;
        self.len += n;
        Ok(n)
    }

    /// One write of the stored bytes (at most `limit`) to `dst`; consumes what was taken.
    pub fn write_to(&mut self, dst: &mut impl Write, limit: usize) -> io::Result<usize> {
        let (a, b) = self.as_slices();
        let a = &a[..a.len().min(limit)];
        let b = &b[..b.len().min(limit - a.len())];
        let n = dst.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])?;
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_hands_back_what_closed_connections_gave_and_keeps_a_bounded_number() {
        let mut pool = RingPool::default();
        let mut ring = pool.take(512);
        ring.push(b"left over from an old connection");
        let address = ring.buf.as_ptr();
        pool.give(ring);
        assert_eq!(pool.kept(), 1);
        // The same storage comes back, empty: the old bytes are not readable.
        let again = pool.take(512);
        assert_eq!(again.buf.as_ptr(), address);
        assert!(again.is_empty());
        assert_eq!(pool.kept(), 0);
        // Another size is made fresh; an empty ring is not kept.
        assert_eq!(pool.take(1024).capacity(), 1024);
        pool.give(Ring::empty());
        assert_eq!(pool.kept(), 0);
        for _ in 0..RingPool::KEEP + 10 {
            pool.give(Ring::with_capacity(64));
        }
        assert_eq!(pool.kept(), RingPool::KEEP);
    }

    #[test]
    fn resized_keeps_wrapped_bytes_in_order() {
        let mut r = Ring::with_capacity(8);
        r.push(b"abcdef");
        r.consume(4);
        r.push(b"ghijkl");
        let mut big = Ring::with_capacity(32);
        big.fill_from(&r);
        assert_eq!(big.capacity(), 32);
        assert_eq!(big.contiguous(), b"efghijkl");
        assert_eq!(big.push(b"more"), 4);
    }

    #[test]
    fn wraps_and_stays_in_order() {
        let mut r = Ring::with_capacity(8);
        assert_eq!(r.push(b"abcdef"), 6);
        r.consume(4);
        assert_eq!(r.push(b"ghijkl"), 6);
        assert_eq!(r.push(b"mn"), 0, "full ring takes nothing");
        assert!(r.is_full());
        let (a, b) = r.as_slices();
        assert_eq!([a, b].concat(), b"efghijkl");
        assert_eq!(r.first(), Some(b'e'));
        assert_eq!(r.contiguous(), b"efghijkl");
        r.consume(3);
        assert_eq!(r.contiguous(), b"hijkl");
        r.consume(5);
        assert!(r.is_empty());
        assert_eq!(r.first(), None);
    }

    #[test]
    fn reads_and_writes_across_the_wrap() {
        let mut r = Ring::with_capacity(6);
        r.push(b"xxxx");
        r.consume(4);
        let mut src: &[u8] = b"123456789";
        assert_eq!(r.read_from(&mut src).unwrap(), 6);
        assert_eq!(r.contiguous(), b"123456");
        let mut out = Vec::new();
        assert_eq!(r.write_to(&mut out, 4).unwrap(), 4);
        assert_eq!(out, b"1234");
        assert_eq!(r.write_to(&mut out, 100).unwrap(), 2);
        assert_eq!(out, b"123456");
        assert!(r.is_empty());
    }

    #[test]
    fn partial_push_reports_what_fit() {
        let mut r = Ring::with_capacity(4);
        assert_eq!(r.push(b"abcdef"), 4);
        assert_eq!(r.contiguous(), b"abcd");
    }
}
