//! A small reference world gateway: the part of a world server that checks the "boarding
//! pass". It is what a world-server author copies, and what gatehouse's tests use to prove
//! that a session key the login server issued really lets a client into a world.
//!
//! It is not a world server and not part of the login server's loop: it listens on a realm's
//! address with blocking sockets and one short-lived thread per game client (at most
//! [`GateConfig::max_connections`] at a time, each with I/O timeouts). For each client it
//!
//! 1. sends SMSG_AUTH_CHALLENGE with a fresh random server seed (layout of the realm's build),
//! 2. reads CMSG_AUTH_SESSION (at most [`packets::MAX_AUTH_SESSION_PAYLOAD`] bytes; anything
//!    malformed closes the connection without an answer),
//! 3. hands the client's digest and both seeds to a [`TicketSource`], which checks
//!    `SHA1(account ‖ u32 0 ‖ client_seed ‖ server_seed ‖ K)` (docs/srp6.md §9,
//!    [`ClientDigest::verify`]) against the ticket's key and takes the ticket only if it
//!    matches (check-then-take: over the link, gatehouse does both in one transaction), so a
//!    client with a wrong digest does not use up the player's ticket. Trying digests gains
//!    nothing: each is a SHA-1 over the 40-byte K under a fresh server seed,
//! 4. answers SMSG_AUTH_RESPONSE and closes.
//!
//! Result codes (the clients' ResponseCodes enum, identical in 1.12.1, 2.4.3 and 3.3.5a):
//!
//! | situation                                   | result                          |
//! |---------------------------------------------|---------------------------------|
//! | digest matches                              | AUTH_OK (0x0C), header encrypted |
//! | digest does not match (forged or stale key) | AUTH_FAILED (0x0D)              |
//! | no ticket (unknown account, ticket used)    | AUTH_UNKNOWN_ACCOUNT (0x15)     |
//! | ticket source says the ticket expired       | AUTH_SESSION_EXPIRED (0x17)     |
//! | ticket source unreachable / failing         | AUTH_UNAVAILABLE (0x10)         |
//! | client build is not the realm's generation  | AUTH_VERSION_MISMATCH (0x14)    |
//!
//! These follow TrinityCore's `WorldSocket::HandleAuthSession(Callback)`, which sends
//! AUTH_UNKNOWN_ACCOUNT when no account row is found and AUTH_FAILED on a digest mismatch. Failures are sent with a header in the
//! clear: header encryption only starts after a successful CMSG_AUTH_SESSION.

pub mod client;
pub mod header_crypt;
pub mod over_link;
pub mod packets;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::account::AccountName;
use crate::protocol::version::Build;
use crate::protocol::wire::ProtocolError;
use crate::srp6::{ClientDigest, SessionKey};

use header_crypt::HeaderCrypt;
use packets::{
    AuthChallengeS2c, AuthResponseS2c, AuthResult, AuthSessionC2s, WorldLayout, CLIENT_HEADER_LEN,
    CMSG_AUTH_SESSION, MAX_AUTH_SESSION_PAYLOAD,
};

/// What a world server learns from the login server about a logged-in account.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub session_key: SessionKey,
    pub account_id: i64,
    pub security_level: u8,
}

/// Why a ticket could not be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The ticket existed but is too old to use.
    #[error("the session ticket has expired")]
    Expired,
    /// The source (e.g. the realm link to the login server) cannot answer now.
    #[error("ticket source unavailable: {0}")]
    Unavailable(String),
}

/// What a ticket source did with a client's digest.
#[derive(Debug, Clone)]
pub enum TicketTake {
    /// The digest was made with the ticket's key; the ticket is now used up.
    Taken(Ticket),
    /// No live ticket for the account (never logged in, used, expired at the login server).
    NoTicket,
    /// A live ticket, but the digest was not made with its key: the ticket is left as it was.
    WrongDigest,
}

/// Where the gate gets session keys. Taking a ticket consumes it: one login per ticket.
pub trait TicketSource: Send {
    /// Check-then-take: takes the account's ticket only if `proof` was made with its key.
    fn take_checked(
        &mut self,
        name: &AccountName,
        proof: &ClientDigest,
    ) -> Result<TicketTake, TicketError>;
}

/// The ticket source as the gate shares it between connection threads. The lock is held
/// while `take_checked` runs, so takes are serialised.
pub type SharedTickets = Arc<Mutex<dyn TicketSource>>;

/// An in-memory ticket source (for tests and single-process setups).
#[derive(Debug, Default)]
pub struct MemoryTickets {
    tickets: std::collections::HashMap<AccountName, Ticket>,
}

impl MemoryTickets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: AccountName, ticket: Ticket) {
        self.tickets.insert(name, ticket);
    }
}

impl TicketSource for MemoryTickets {
    fn take_checked(
        &mut self,
        name: &AccountName,
        proof: &ClientDigest,
    ) -> Result<TicketTake, TicketError> {
        let std::collections::hash_map::Entry::Occupied(entry) = self.tickets.entry(*name) else {
            return Ok(TicketTake::NoTicket);
        };
        if !proof.verify(name, &entry.get().session_key) {
            return Ok(TicketTake::WrongDigest);
        }
        Ok(TicketTake::Taken(entry.remove()))
    }
}

/// Limits of a gate.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Connections being served at once; more are closed at accept.
    pub max_connections: usize,
    /// Read and write timeout on each client socket.
    pub io_timeout: Duration,
    /// How often the accept loop looks at the stop flag.
    pub poll_interval: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_connections: 64,
            io_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(25),
        }
    }
}

/// A bound, not yet serving, world gate for one realm.
#[derive(Debug)]
pub struct WorldGate {
    listener: TcpListener,
    layout: WorldLayout,
    config: GateConfig,
}

/// A gate serving on its own thread; [`GateHandle::stop`] ends it.
#[derive(Debug)]
pub struct GateHandle {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl GateHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept loop to end (connections already being
    /// served finish on their own, bounded by their timeouts).
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("world gate thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for GateHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl WorldGate {
    /// Binds the realm's address. `realm_build` decides the SMSG_AUTH_CHALLENGE layout, which
    /// must be sent before the client says its build; clients of another generation are
    /// answered AUTH_VERSION_MISMATCH.
    pub fn bind(addr: impl ToSocketAddrs, realm_build: Build) -> io::Result<WorldGate> {
        let listener = TcpListener::bind(addr)?;
        Ok(WorldGate {
            listener,
            layout: WorldLayout::of(realm_build),
            config: GateConfig::default(),
        })
    }

    pub fn with_config(mut self, config: GateConfig) -> WorldGate {
        self.config = config;
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves on the calling thread until `stop` becomes true.
    pub fn serve(self, tickets: SharedTickets, stop: Arc<AtomicBool>) -> io::Result<()> {
        self.listener.set_nonblocking(true)?;
        let active = Arc::new(AtomicUsize::new(0));
        while !stop.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, &tickets, &active),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(self.config.poll_interval)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Typically EMFILE: back off rather than spin.
                    log::warn!("world gate: accept failed: {e}");
                    thread::sleep(self.config.poll_interval);
                }
            }
        }
        Ok(())
    }

    /// Serves on a new thread.
    pub fn spawn(self, tickets: SharedTickets) -> io::Result<GateHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("world-gate".into())
            .spawn(move || self.serve(tickets, flag))?;
        Ok(GateHandle {
            stop,
            addr,
            thread: Some(thread),
        })
    }

    fn admit(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        tickets: &SharedTickets,
        active: &Arc<AtomicUsize>,
    ) {
        if active.fetch_add(1, Ordering::SeqCst) >= self.config.max_connections {
            active.fetch_sub(1, Ordering::SeqCst);
            log::warn!(
                "world gate: {peer}: refused, {} connections already",
                self.config.max_connections
            );
            return;
        }
        let slot = Slot(Arc::clone(active));
        let tickets = Arc::clone(tickets);
        let layout = self.layout;
        let timeout = self.config.io_timeout;
        let spawned = thread::Builder::new()
            .name("world-gate-conn".into())
            .spawn(move || {
                let _slot = slot;
                match serve_client(stream, layout, timeout, &tickets) {
                    Ok(outcome) => log::info!("world gate: {peer}: {outcome}"),
                    Err(e) => log::info!("world gate: {peer}: closed: {e}"),
                }
            });
        if let Err(e) = spawned {
            // The closure (and its slot) was dropped, so the count is already back.
            log::warn!("world gate: {peer}: cannot start a thread: {e}");
        }
    }
}

/// Frees a connection slot when the connection's thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a connection ended without an answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("malformed CMSG_AUTH_SESSION: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("expected CMSG_AUTH_SESSION, got opcode {0:#x}")]
    UnexpectedOpcode(u32),
    #[error("size field {0} outside 4..={max}", max = MAX_AUTH_SESSION_PAYLOAD + 4)]
    BadSize(u16),
    #[error("the operating system's random number generator failed")]
    Random,
}

/// What the gate answered, for the log line.
#[derive(Debug)]
pub struct Outcome {
    pub account: AccountName,
    pub result: AuthResult,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}: {:?}", self.account, self.result)
    }
}

fn serve_client(
    mut stream: TcpStream,
    layout: WorldLayout,
    timeout: Duration,
    tickets: &SharedTickets,
) -> Result<Outcome, GateError> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;

    let mut seeds = [0u8; 36];
    getrandom::fill(&mut seeds).map_err(|_| GateError::Random)?;
    let [a, b, c, d, rest @ ..] = seeds;
    let challenge = AuthChallengeS2c {
        server_seed: u32::from_le_bytes([a, b, c, d]),
        seeds: rest,
    };
    let mut out = Vec::with_capacity(44);
    challenge.encode(layout, &mut out);
    stream.write_all(&out)?;

    let session = read_auth_session(&mut stream)?;
    let account = session.account;
    let (result, crypt_key) = decide(&session, layout, challenge.server_seed, tickets);

    let response = AuthResponseS2c::for_layout(result, layout);
    let payload = response.payload();
    let mut header = AuthResponseS2c::header(&payload);
    if let Some(key) = crypt_key {
        // A world server would keep this cipher for the rest of the connection.
        HeaderCrypt::server(layout, &key).encrypt(&mut header);
    }
    let mut out = header.to_vec();
    out.extend_from_slice(&payload);
    stream.write_all(&out)?;
    linger_close(stream);
    Ok(Outcome { account, result })
}

/// The answer for a well-formed CMSG_AUTH_SESSION, and the key that encrypts it (AUTH_OK only).
fn decide(
    session: &AuthSessionC2s,
    layout: WorldLayout,
    server_seed: u32,
    tickets: &SharedTickets,
) -> (AuthResult, Option<SessionKey>) {
    if session.layout() != layout {
        return (AuthResult::VersionMismatch, None);
    }
    let proof = ClientDigest {
        client_seed: session.client_seed,
        server_seed,
        digest: session.digest,
    };
    let taken = match tickets.lock() {
        Ok(mut source) => source.take_checked(&session.account, &proof),
        Err(_) => Err(TicketError::Unavailable(
            "ticket source lock poisoned".into(),
        )),
    };
    match taken {
        // The source checked; checking again costs one hash and keeps a faulty source from
        // letting a client in with a key it cannot have.
        Ok(TicketTake::Taken(ticket)) if proof.verify(&session.account, &ticket.session_key) => {
            (AuthResult::Ok, Some(ticket.session_key))
        }
        Ok(TicketTake::Taken(_)) => {
            log::error!(
                "world gate: account {}: the ticket source handed over a key the digest was \
                 not made with",
                session.account
            );
            (AuthResult::Failed, None)
        }
        Ok(TicketTake::WrongDigest) => (AuthResult::Failed, None),
        Ok(TicketTake::NoTicket) => (AuthResult::UnknownAccount, None),
        Err(TicketError::Expired) => (AuthResult::SessionExpired, None),
        Err(TicketError::Unavailable(why)) => {
            log::warn!(
                "world gate: account {}: ticket source unavailable: {why}",
                session.account
            );
            (AuthResult::Unavailable, None)
        }
    }
}

/// Reads one framed CMSG_AUTH_SESSION; the size is checked before the payload is read.
fn read_auth_session(stream: &mut TcpStream) -> Result<AuthSessionC2s, GateError> {
    let mut header = [0u8; CLIENT_HEADER_LEN];
    stream.read_exact(&mut header)?;
    let (size, opcode) = packets::parse_client_header(header);
    if opcode != CMSG_AUTH_SESSION {
        return Err(GateError::UnexpectedOpcode(opcode));
    }
    let payload_len = usize::from(size)
        .checked_sub(4)
        .filter(|&n| n <= MAX_AUTH_SESSION_PAYLOAD)
        .ok_or(GateError::BadSize(size))?;
    let mut payload = vec![0u8; payload_len];
    stream.read_exact(&mut payload)?;
    Ok(AuthSessionC2s::parse(&payload)?)
}

/// Half-closes and drains briefly, so unread client bytes do not turn the close into a reset
/// that could destroy the answer before the client reads it.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 512];
    for _ in 0..8 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
