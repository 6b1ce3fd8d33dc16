//! A connection: its socket, its fixed input and output rings, the interest it has
//! registered, and the protocol's per-connection session `S` (a game client's state and data,
//! or a world server's realm link).
//!
//! Socket work is here and only here: reading until the kernel has nothing more (or the input
//! ring is full), writing until the kernel takes nothing more (the rest waits in the output
//! ring, or in the shared send behind it, and the connection asks for WRITABLE), and keeping
//! the registered interest in step.

use std::io::{self, ErrorKind, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::event_loop::TimerId;
use crate::net::ring::{Ring, RingPool};
use crate::net::shared::{ReplySink, SharedSend};
use crate::net::CloseReason;
use crate::protocol::wire::WireSink;

/// What a read pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The kernel has no more for now.
    Drained,
    /// The input ring is full: stop reading until packets are handled.
    RingFull,
    /// The peer closed its side.
    Eof,
}

/// Whether a connection's peer has proven who it is. Until then it gets small rings, a short
/// deadline, and counts against its address's cap of unproven connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Unproven,
    Proven,
}

pub struct Connection<S> {
    pub socket: TcpStream,
    pub input: Ring,
    pub output: Ring,
    /// An answer sent from a shared encoding (the realm list), after everything in `output`.
    /// While it is here no other answer is queued.
    pub shared: Option<SharedSend>,
    pub session: S,
    pub deadline: Option<TimerId>,
    /// A timer the session asked for (a rate limit ends, a retry is due).
    pub wake: Option<TimerId>,
    /// Whether the peer has proven who it is (password, link key, console login).
    pub standing: Standing,
    /// Set once the connection is to be reaped at the end of the pass.
    pub closing: Option<CloseReason>,
    /// The peer sent EOF; buffered input is still handled.
    pub eof: bool,
    /// A complete packet waits until the output ring has room for its answer.
    pub waiting_for_output_room: bool,
    pub opened: Instant,
    interest: Interest,
}

impl<S> Connection<S> {
    pub fn new(
        socket: TcpStream,
        session: S,
        input_capacity: usize,
        output_capacity: usize,
        now: Instant,
    ) -> Self {
        Self::with_rings(
            socket,
            session,
            Ring::with_capacity(input_capacity),
            Ring::with_capacity(output_capacity),
            now,
        )
    }

    /// A connection on rings the caller made (from a [`RingPool`]).
    pub fn with_rings(
        socket: TcpStream,
        session: S,
        input: Ring,
        output: Ring,
        now: Instant,
    ) -> Self {
        Self {
            socket,
            input,
            output,
            shared: None,
            session,
            deadline: None,
            wake: None,
            standing: Standing::Unproven,
            closing: None,
            eof: false,
            waiting_for_output_room: false,
            opened: now,
            interest: Interest::READABLE,
        }
    }

    /// Moves to rings of the given sizes, keeping what they hold. A connection starts with
    /// small rings and gets the configured ones once its peer has proven who it is (a
    /// password, a realm's link key, a console login), so a flood of unauthenticated
    /// connections costs about 1 KiB each; a game client that is sent a patch gets a bigger
    /// output ring then. Never shrinks. The new rings come from `pool`, the old go back to it.
    pub fn resize_rings_from(
        &mut self,
        pool: &mut RingPool,
        input_capacity: usize,
        output_capacity: usize,
    ) {
        if input_capacity > self.input.capacity() {
            let mut bigger = pool.take(input_capacity);
            bigger.fill_from(&self.input);
            pool.give(std::mem::replace(&mut self.input, bigger));
        }
        if output_capacity > self.output.capacity() {
            let mut bigger = pool.take(output_capacity);
            bigger.fill_from(&self.output);
            pool.give(std::mem::replace(&mut self.output, bigger));
        }
    }

    /// Gives the rings' buffers to `pool` (the connection is closed and read no more).
    pub fn give_rings(&mut self, pool: &mut RingPool) {
        pool.give(std::mem::replace(&mut self.input, Ring::empty()));
        pool.give(std::mem::replace(&mut self.output, Ring::empty()));
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.socket, token, self.interest)
    }

    pub fn deregister(&mut self, registry: &Registry) {
        // The socket is dropped right after; a failure here changes nothing.
        let _ = registry.deregister(&mut self.socket);
    }

    /// Reads until the kernel has no more, the ring is full, or the peer closed.
    pub fn fill_input(&mut self) -> io::Result<ReadOutcome> {
        loop {
            if self.input.is_full() {
                return Ok(ReadOutcome::RingFull);
            }
            match self.input.read_from(&mut self.socket) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(ReadOutcome::Eof);
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(ReadOutcome::Drained),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether anything waits to be written: bytes in the output ring or a shared send.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty() || self.shared.is_some()
    }

    /// Writes pending output, the ring's bytes first and then the shared send, at most
    /// `budget` bytes this pass so one big transfer cannot starve the others. Returns the
    /// bytes written.
    pub fn flush_output(&mut self, budget: usize) -> io::Result<usize> {
        write_pending(&mut self.output, &mut self.shared, &mut self.socket, budget)
    }

    /// Writes what the socket takes now (up to `budget`) and keeps the interest in step.
    pub fn flush_and_watch(
        &mut self,
        registry: &Registry,
        token: Token,
        budget: usize,
    ) -> io::Result<()> {
        self.flush_output(budget)?;
        self.update_interest(registry, token)
    }

    /// The last things done for a closed connection: one best-effort write of what is still
    /// queued (a refusal, a goodbye), then deregistering. Returns why it was closed.
    pub fn retire(&mut self, registry: &Registry, budget: usize) -> CloseReason {
        let _ = self.flush_output(budget);
        self.deregister(registry);
        self.closing.take().unwrap_or(CloseReason::PeerClosed)
    }

    /// Keeps the registered interest equal to what the connection needs: READABLE unless the
    /// input ring is full or the peer is gone, WRITABLE while output (ring or shared) waits.
    pub fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want_read = !self.input.is_full() && !self.eof;
        let want_write = self.has_output();
        let wanted = match (want_read, want_write) {
            (_, true) if !want_read => Interest::WRITABLE,
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            // mio needs some interest; a connection that wants neither only waits for a
            // store reply or its deadline, and READABLE is harmless (input is not read then).
            _ => Interest::READABLE,
        };
        if wanted != self.interest {
            registry.reregister(&mut self.socket, token, wanted)?;
            self.interest = wanted;
        }
        Ok(())
    }
}

/// Writes `output`'s bytes, then `shared`'s, to `dst` until it takes no more (`WouldBlock`) or
/// `budget` bytes went; a partial write leaves the rest where it was, to resume from there.
/// A finished shared send is dropped.
fn write_pending(
    output: &mut Ring,
    shared: &mut Option<SharedSend>,
    dst: &mut impl Write,
    budget: usize,
) -> io::Result<usize> {
    let mut written = 0;
    while written < budget {
        if shared.as_ref().is_some_and(SharedSend::is_done) {
            *shared = None;
        }
        let left = budget - written;
        let wrote = match shared {
            _ if !output.is_empty() => output.write_to(dst, left),
            Some(send) => send.write_to(dst, left),
            None => break,
        };
        match wrote {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if shared.as_ref().is_some_and(SharedSend::is_done) {
        *shared = None;
    }
    Ok(written)
}

/// Encoders write replies straight into the output ring. Callers check free space first
/// (`State::reply_room`); if an encoder still overruns, the ring keeps what fits and the
/// overflow is detected by [`OutputSink::overflowed`]. A shared send goes into the
/// connection's slot for it, when the sink has one.
pub struct OutputSink<'a> {
    ring: &'a mut Ring,
    shared: Option<&'a mut Option<SharedSend>>,
    overflowed: bool,
}

impl<'a> OutputSink<'a> {
    /// A sink for ring bytes only: a shared send is copied into the ring.
    pub fn new(ring: &'a mut Ring) -> Self {
        Self {
            ring,
            shared: None,
            overflowed: false,
        }
    }

    /// A sink that queues a shared send in `shared`, to go out after the ring's bytes.
    pub fn with_shared(ring: &'a mut Ring, shared: &'a mut Option<SharedSend>) -> Self {
        Self {
            ring,
            shared: Some(shared),
            overflowed: false,
        }
    }

    /// Whether an answer did not fit: the ring was full, or bytes or a second shared send
    /// came while a shared send was queued (they would go out of order).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn shared_pending(&self) -> bool {
        self.shared.as_ref().is_some_and(|slot| slot.is_some())
    }
}

impl WireSink for OutputSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if self.shared_pending() || self.ring.push(bytes) < bytes.len() {
            self.overflowed = true;
        }
    }
}

impl ReplySink for OutputSink<'_> {
    fn put_shared(&mut self, send: SharedSend) {
        match &mut self.shared {
            Some(slot) if slot.is_none() => **slot = Some(send),
            Some(_) => self.overflowed = true,
            None => send.copy_rest(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;
    use std::sync::Arc;

    use super::*;
    use crate::net::shared::SharedMessage;

    /// A socket that takes at most `step` bytes per write and is full every third call.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.step - n);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == self.step {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_ring_goes_first_then_the_shared_send_resumed_across_partial_writes() {
        let message =
            Arc::new(SharedMessage::new(b"<list a=? b=?>".to_vec(), vec![8, 12]).unwrap());
        for step in [1, 2, 3, 5, 64] {
            let mut output = Ring::with_capacity(16);
            output.push(b"proof;");
            let mut shared = Some(SharedSend::new(message.clone(), |i| b"37"[i]));
            let mut dst = Trickle {
                out: Vec::new(),
                step,
                calls: 0,
            };
            let mut passes = 0;
            while !output.is_empty() || shared.is_some() {
                passes += 1;
                // A budget of 4 per pass: no pass writes more, whatever the socket takes.
                let n = write_pending(&mut output, &mut shared, &mut dst, 4).unwrap();
                assert!(n <= 4);
                assert!(passes < 100);
            }
            assert_eq!(dst.out, b"proof;<list a=3 b=7>", "{step} bytes per write");
        }
    }
}
