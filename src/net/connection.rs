//! A connection: its socket, its fixed input and output rings, the interest it has
//! registered, and the protocol's per-connection session `S` (a game client's state and data,
//! or a world server's realm link).
//!
//! Socket work is here and only here: reading until the kernel has nothing more (or the input
//! ring is full), writing until the kernel takes nothing more (the rest waits in the output
//! ring and the connection asks for WRITABLE), and keeping the registered interest in step.

use std::io::{self, ErrorKind};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::event_loop::TimerId;
use crate::net::ring::Ring;
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
        Self {
            socket,
            input: Ring::with_capacity(input_capacity),
            output: Ring::with_capacity(output_capacity),
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
    /// connections costs about 1 KiB each. Never shrinks.
    pub fn resize_rings(&mut self, input_capacity: usize, output_capacity: usize) {
        if input_capacity > self.input.capacity() {
            self.input = self.input.resized(input_capacity);
        }
        if output_capacity > self.output.capacity() {
            self.output = self.output.resized(output_capacity);
        }
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

    /// Writes pending output, at most `budget` bytes this pass so one big transfer cannot
    /// starve the others. Returns the bytes written.
    pub fn flush_output(&mut self, budget: usize) -> io::Result<usize> {
        let mut written = 0;
        while !self.output.is_empty() && written < budget {
            match self.output.write_to(&mut self.socket, budget - written) {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
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
    /// input ring is full or the peer is gone, WRITABLE while output waits.
    pub fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want_read = !self.input.is_full() && !self.eof;
        let want_write = !self.output.is_empty();
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

/// Encoders write replies straight into the output ring. Callers check free space first
/// (`State::reply_room`); if an encoder still overruns, the ring keeps what fits and the
/// overflow is detected by [`OutputSink::overflowed`].
pub struct OutputSink<'a> {
    ring: &'a mut Ring,
    overflowed: bool,
}

impl<'a> OutputSink<'a> {
    pub fn new(ring: &'a mut Ring) -> Self {
        Self {
            ring,
            overflowed: false,
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }
}

impl WireSink for OutputSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if self.ring.push(bytes) < bytes.len() {
            self.overflowed = true;
        }
    }
}
