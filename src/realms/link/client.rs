//! A small blocking client of the realm link, for world servers (docs/realm-link.md).
//!
//! It is deliberately plain `std::net`: one `TcpStream`, one request and its reply at a time, no
//! threads of its own. A world server typically keeps it behind a `Mutex` shared by a
//! heartbeat thread and the code that lets players in:
//!
//! ```no_run
//! use std::time::Duration;
//! use gatehouse::account::AccountName;
//! use gatehouse::protocol::version::Build;
//! use gatehouse::values::RealmId;
//! use gatehouse::realms::link::client::Client;
//! use gatehouse::realms::link::message::{CheckedTake, RealmAnnouncement};
//! use gatehouse::srp6::{ClientDigest, Proof};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let addr = "127.0.0.1:3725".parse()?;
//! let mut link = Client::connect(addr, RealmId(1), b"the realm secret", Duration::from_secs(5))?;
//! link.register(&RealmAnnouncement {
//!     realm_id: RealmId(1),
//!     name: "Nordrassil".into(),
//!     address: "203.0.113.7:8085".into(),
//!     realm_type: 1,
//!     flags: 0,
//!     timezone: 1,
//!     builds: vec![Build::WOTLK],
//! })?;
//! link.heartbeat(0.2, 37)?; // then every few seconds, well within the server's timeout
//! // A player's CMSG_AUTH_SESSION arrived: let gatehouse check its digest, then take the ticket.
//! let proof = ClientDigest {
//!     client_seed: 0x1234_5678,  // from CMSG_AUTH_SESSION
//!     server_seed: 0xDEAD_BEEF,  // what this world server sent in SMSG_AUTH_CHALLENGE
//!     digest: Proof([0; 20]),    // from CMSG_AUTH_SESSION
//! };
//! match link.take_session_checked(&AccountName::parse(b"ALICE")?, &proof)? {
//!     CheckedTake::Taken(grant) => { /* admit; grant.session_key keys the header cipher */ }
//!     CheckedTake::WrongDigest => { /* AUTH_FAILED; the ticket is still there */ }
//!     CheckedTake::NoTicket => { /* AUTH_UNKNOWN_ACCOUNT */ }
//! }
//! link.unregister()?;
//! # Ok(())
//! # }
//! ```
//!
//! Every call is bounded by the timeout given to `connect`. After any I/O error, timeout or
//! protocol fault the stream may hold half a frame, so the client refuses further calls
//! ([`LinkClientError::Broken`]): reconnect instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::account::AccountName;
use crate::srp6::ClientDigest;
use crate::values::{AccountId, LinkKey, RealmId};

use super::frame::{LinkError, LENGTH_FIELD, MAX_FRAME};
use super::message::{
    counts_status, CheckedTake, LinkMessage, RealmAnnouncement, SessionGrant, LINK_VERSION,
    MAX_CHARACTER_COUNTS, STATUS_OK,
};

/// What can go wrong on a world server's end of the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkClientError {
    #[error("realm link I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("realm link: no reply within the timeout")]
    TimedOut,
    #[error("realm link closed by gatehouse")]
    Closed,
    #[error("realm link: bad frame from gatehouse: {0}")]
    Protocol(#[from] LinkError),
    #[error("realm link: gatehouse speaks version {0}, this client speaks {LINK_VERSION}")]
    Version(u8),
    #[error("realm link: authentication refused (status {status}); check the realm id and secret")]
    Refused { status: u8 },
    #[error("realm link: registration refused (status {status})")]
    RegisterRefused { status: u8 },
    #[error("realm link: expected {expected}, got message type {got:#04x}")]
    Unexpected { expected: &'static str, got: u8 },
    #[error("realm link: gatehouse error {code}: {message}")]
    Server { code: u16, message: String },
    #[error("realm link is unusable after an earlier error; reconnect")]
    Broken,
    #[error("realm link: gatehouse could not store the character counts (status {status})")]
    CountsNotStored { status: u8 },
}

/// What gatehouse did with reported character counts ([`Client::report_character_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountsStored {
    /// Counts written.
    pub written: usize,
    /// Counts for accounts gatehouse does not know, skipped.
    pub unknown: usize,
}

/// An authenticated link to gatehouse (see the module doc).
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    realm_id: RealmId,
    timeout: Duration,
    next_request: u32,
    broken: bool,
}

impl Client {
    /// Connects, answers the server's challenge with the key derived from `secret`, and waits
    /// for the verdict. `timeout` bounds the connect, this handshake, and every later call.
    pub fn connect(
        addr: SocketAddr,
        realm_id: RealmId,
        secret: &[u8],
        timeout: Duration,
    ) -> Result<Client, LinkClientError> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        Client::over(stream, realm_id, secret, timeout)
    }

    /// Like [`Client::connect`], over a stream the caller connected (from an address of its
    /// choosing, say).
    pub fn over(
        stream: TcpStream,
        realm_id: RealmId,
        secret: &[u8],
        timeout: Duration,
    ) -> Result<Client, LinkClientError> {
        // Frames are small and each one is awaited; Nagle would only add latency.
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(timeout))?;
        let mut client = Client {
            stream,
            realm_id,
            timeout,
            next_request: 1,
            broken: false,
        };
        let nonce = match client.receive()? {
            LinkMessage::Hello { version, nonce } if version == LINK_VERSION => nonce,
            LinkMessage::Hello { version, .. } => return Err(LinkClientError::Version(version)),
            other => return Err(unexpected("Hello", &other)),
        };
        let answer = LinkKey::derive(secret).answer(&nonce, realm_id.0);
        client.send(&LinkMessage::Auth { realm_id, answer })?;
        match client.receive()? {
            LinkMessage::AuthResult { status: STATUS_OK } => Ok(client),
            LinkMessage::AuthResult { status } => Err(LinkClientError::Refused { status }),
            other => Err(unexpected("AuthResult", &other)),
        }
    }

    /// The realm this link authenticated as.
    pub fn realm_id(&self) -> RealmId {
        self.realm_id
    }

    /// Announces (or re-announces) the realm and waits for the server's verdict.
    pub fn register(&mut self, realm: &RealmAnnouncement) -> Result<(), LinkClientError> {
        self.send(&LinkMessage::Register(realm.clone()))?;
        match self.receive()? {
            LinkMessage::Registered { status: STATUS_OK } => Ok(()),
            LinkMessage::Registered { status } => Err(LinkClientError::RegisterRefused { status }),
            other => Err(unexpected("Registered", &other)),
        }
    }

    /// Tells the server the realm is alive. There is no reply: a server that has given up on
    /// the link says so with an Error frame, which the next call that reads will report.
    /// `population` should be a number in 0..=`values::MAX_POPULATION` and `online` at most
    /// [`MAX_ONLINE`](super::message::MAX_ONLINE); values out of range are sent as they are
    /// and the server clamps them (logging a warning), so the realm stays online.
    pub fn heartbeat(&mut self, population: f32, online: u32) -> Result<(), LinkClientError> {
        self.send(&LinkMessage::Heartbeat { population, online })
    }

    /// Takes the session ticket of an account entering this world: `Some` exactly once per
    /// logon, `None` if there is no live ticket (never logged in, expired, or already taken).
    /// The world server then checks the client's digest against the key itself, so a client
    /// with a wrong digest has used the ticket up by then;
    /// [`take_session_checked`](Self::take_session_checked) checks before it takes.
    pub fn take_session(
        &mut self,
        account_name: &AccountName,
    ) -> Result<Option<SessionGrant>, LinkClientError> {
        let request_id = self.next_request_id();
        self.send(&LinkMessage::TakeSession {
            request_id,
            account_name: *account_name,
        })?;
        self.await_reply("Session", request_id, |msg| match msg {
            LinkMessage::Session { request_id, grant } => Ok((request_id, grant)),
            other => Err(other),
        })
    }

    /// Check-then-take: gatehouse checks the client's CMSG_AUTH_SESSION digest (`proof`, with
    /// both seeds) against the ticket's key and takes the ticket only if it matches.
    /// [`CheckedTake::Taken`] exactly once per logon; [`CheckedTake::WrongDigest`] leaves the
    /// ticket as it was (the player's own client can still use it);
    /// [`CheckedTake::NoTicket`] if there is no live ticket.
    pub fn take_session_checked(
        &mut self,
        account_name: &AccountName,
        proof: &ClientDigest,
    ) -> Result<CheckedTake, LinkClientError> {
        let request_id = self.next_request_id();
        self.send(&LinkMessage::TakeSessionChecked {
            request_id,
            account_name: *account_name,
            proof: *proof,
        })?;
        self.await_reply("SessionChecked", request_id, |msg| match msg {
            LinkMessage::SessionChecked {
                request_id,
                outcome,
            } => Ok((request_id, outcome)),
            other => Err(other),
        })
    }

    /// Reports how many characters accounts have on this realm (after a character is created
    /// or deleted, or a batch at start): each replaces the account's count on this realm,
    /// which the realm list shows the player at the next logon. Any number of pairs; they go
    /// in frames of at most [`MAX_CHARACTER_COUNTS`], each answered before the next is sent.
    /// Accounts gatehouse does not know are skipped and counted in the answer;
    /// [`LinkClientError::CountsNotStored`] if gatehouse could not write a frame's counts
    /// (the link stays up: send them again later).
    pub fn report_character_counts(
        &mut self,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsStored, LinkClientError> {
        let mut total = CountsStored::default();
        for chunk in counts.chunks(MAX_CHARACTER_COUNTS) {
            let request_id = self.next_request_id();
            self.send(&LinkMessage::CharacterCounts {
                request_id,
                counts: chunk.to_vec(),
            })?;
            let (status, written, unknown) =
                self.await_reply("CharacterCountsStored", request_id, |msg| match msg {
                    LinkMessage::CharacterCountsStored {
                        request_id,
                        status,
                        written,
                        unknown,
                    } => Ok((request_id, (status, written, unknown))),
                    other => Err(other),
                })?;
            if status != counts_status::STORED {
                return Err(LinkClientError::CountsNotStored { status });
            }
            total.written += usize::from(written);
            total.unknown += usize::from(unknown);
        }
        Ok(total)
    }

    fn next_request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1);
        id
    }

    /// Waits for the answer to `request_id`: `pick` gives the id and answer of a frame of the
    /// expected kind, or the frame back if it is of another kind (a protocol fault).
    fn await_reply<T>(
        &mut self,
        expected: &'static str,
        request_id: u32,
        pick: impl Fn(LinkMessage) -> Result<(u32, T), LinkMessage>,
    ) -> Result<T, LinkClientError> {
        // One deadline for the whole wait, so skipped frames cannot stretch it.
        let deadline = Instant::now() + self.timeout;
        loop {
            match pick(self.receive_by(deadline)?) {
                Ok((id, answer)) if id == request_id => return Ok(answer),
                // An answer to an older request cannot arrive on a client that is not broken,
                // but skipping it is the safe reading of the contract ("the reply with that
                // id").
                Ok(_) => continue,
                Err(other) => return Err(unexpected(expected, &other)),
            }
        }
    }

    /// Takes the realm offline at once (rather than after the heartbeat timeout) and closes.
    pub fn unregister(mut self) -> Result<(), LinkClientError> {
        self.send(&LinkMessage::Unregister)?;
        // Best effort: the server closes on its side anyway once it has read Unregister.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        Ok(())
    }

    fn send(&mut self, msg: &LinkMessage) -> Result<(), LinkClientError> {
        if self.broken {
            return Err(LinkClientError::Broken);
        }
        // Encoding faults are the caller's (e.g. a 65-byte realm name, or a Register whose
        // values the server would refuse) and leave the stream untouched, so they do not break
        // the link.
        msg.check_values()?;
        let bytes = msg.to_bytes()?;
        self.guard(|c| c.stream.write_all(&bytes).map_err(io_error))
    }

    /// Reads one frame within the timeout; an Error frame becomes [`LinkClientError::Server`].
    fn receive(&mut self) -> Result<LinkMessage, LinkClientError> {
        let deadline = Instant::now() + self.timeout;
        self.receive_by(deadline)
    }

    fn receive_by(&mut self, deadline: Instant) -> Result<LinkMessage, LinkClientError> {
        if self.broken {
            return Err(LinkClientError::Broken);
        }
        let msg = self.guard(|c| {
            let mut header = [0u8; LENGTH_FIELD];
            c.read_full(&mut header, deadline)?;
            let len = u32::from_le_bytes(header) as usize;
            if len == 0 || len > MAX_FRAME {
                return Err(LinkError::FrameLength(len).into());
            }
            let mut frame = vec![0u8; LENGTH_FIELD + len];
            frame[..LENGTH_FIELD].copy_from_slice(&header);
            c.read_full(&mut frame[LENGTH_FIELD..], deadline)?;
            Ok(LinkMessage::parse(&frame)?)
        })?;
        if let LinkMessage::Error { code, message } = msg {
            // The server closes after an Error: nothing more will come on this stream.
            self.broken = true;
            return Err(LinkClientError::Server { code, message });
        }
        Ok(msg)
    }

    /// Fills `buf`, re-arming the socket timeout with what is left until `deadline`, so a
    /// server that drips a byte at a time cannot stretch a call past the timeout.
    fn read_full(&mut self, buf: &mut [u8], deadline: Instant) -> Result<(), LinkClientError> {
        let mut filled = 0;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkClientError::TimedOut);
            }
            self.stream.set_read_timeout(Some(left))?;
            let rest = buf.get_mut(filled..).unwrap_or_default();
            match self.stream.read(rest) {
                Ok(0) => return Err(LinkClientError::Closed),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }

    /// Runs one stream operation; any failure marks the link broken, since the stream may now
    /// hold half a frame.
    fn guard<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, LinkClientError>,
    ) -> Result<T, LinkClientError> {
        let result = op(self);
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

fn io_error(e: std::io::Error) -> LinkClientError {
    match e.kind() {
        // Both kinds occur for a socket timeout, depending on the platform.
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => LinkClientError::TimedOut,
        _ => LinkClientError::Io(e),
    }
}

fn unexpected(expected: &'static str, got: &LinkMessage) -> LinkClientError {
    LinkClientError::Unexpected {
        expected,
        got: got.type_byte(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::version::Build;
    use crate::protocol::wire::Check;
    use crate::realms::link::message::types;
    use crate::srp6::SessionKey;
    use crate::values::AccountId;
    use std::net::TcpListener;
    use std::thread::{self, JoinHandle};

    const SECRET: &[u8] = b"correct horse battery staple";
    const TIMEOUT: Duration = Duration::from_secs(5);

    fn assert_send<T: Send>() {}

    #[test]
    fn client_is_send() {
        assert_send::<Client>();
        assert_send::<std::sync::Mutex<Client>>();
    }

    /// The server's end, written against the codec alone: reads frames by `check_frame`.
    struct Peer {
        stream: TcpStream,
        buf: Vec<u8>,
    }

    impl Peer {
        fn read(&mut self) -> Option<LinkMessage> {
            loop {
                match LinkMessage::check_frame(&self.buf) {
                    Check::Complete(n) => {
                        let msg = LinkMessage::parse(&self.buf[..n]).ok();
                        self.buf.drain(..n);
                        return msg;
                    }
                    Check::Invalid(_) => return None,
                    Check::Incomplete => {
                        let mut chunk = [0u8; 256];
                        match self.stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return None,
                            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                }
            }
        }

        fn write(&mut self, msg: &LinkMessage) {
            let bytes = msg.to_bytes().ok().unwrap_or_default();
            let _ = self.stream.write_all(&bytes);
        }
    }

    /// A fake gatehouse for one link with realm 3 and `SECRET`; returns what it received.
    fn fake_server() -> (SocketAddr, JoinHandle<Vec<LinkMessage>>) {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("local_addr: {e}"),
        };
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            let Ok((stream, _)) = listener.accept() else {
                return seen;
            };
            let _ = stream.set_read_timeout(Some(TIMEOUT));
            let mut peer = Peer {
                stream,
                buf: Vec::new(),
            };
            let key = LinkKey::derive(SECRET);
            let nonce = [0x11u8; 32];
            peer.write(&LinkMessage::Hello {
                version: LINK_VERSION,
                nonce,
            });
            let Some(auth) = peer.read() else {
                return seen;
            };
            let authed = matches!(&auth, LinkMessage::Auth { realm_id, answer }
                if key.verify(&nonce, realm_id.0, answer));
            seen.push(auth);
            peer.write(&LinkMessage::AuthResult {
                status: if authed { 0 } else { 1 },
            });
            if !authed {
                return seen;
            }
            let mut ticket_taken = false;
            while let Some(msg) = peer.read() {
                match &msg {
                    LinkMessage::Register(a) => peer.write(&LinkMessage::Registered {
                        status: if a.realm_id == RealmId(3) { 0 } else { 1 },
                    }),
                    LinkMessage::TakeSession {
                        request_id,
                        account_name,
                    } => {
                        let live = account_name.as_str() == "ALICE" && !ticket_taken;
                        ticket_taken |= live;
                        // A stale answer first: the client must skip it.
                        peer.write(&LinkMessage::Session {
                            request_id: request_id.wrapping_sub(100),
                            grant: None,
                        });
                        peer.write(&LinkMessage::Session {
                            request_id: *request_id,
                            grant: live.then_some(SessionGrant {
                                session_key: SessionKey([0x42; 40]),
                                account_id: AccountId(9),
                                security_level: 0,
                            }),
                        });
                    }
                    LinkMessage::TakeSessionChecked {
                        request_id,
                        account_name,
                        proof,
                    } => {
                        let live = account_name.as_str() == "ALICE" && !ticket_taken;
                        let outcome = if !live {
                            CheckedTake::NoTicket
                        } else if !proof.verify(account_name, &SessionKey([0x42; 40])) {
                            CheckedTake::WrongDigest
                        } else {
                            ticket_taken = true;
                            CheckedTake::Taken(SessionGrant {
                                session_key: SessionKey([0x42; 40]),
                                account_id: AccountId(9),
                                security_level: 2,
                            })
                        };
                        // A stale answer first: the client must skip it.
                        peer.write(&LinkMessage::SessionChecked {
                            request_id: request_id.wrapping_sub(100),
                            outcome: CheckedTake::NoTicket,
                        });
                        peer.write(&LinkMessage::SessionChecked {
                            request_id: *request_id,
                            outcome,
                        });
                    }
                    LinkMessage::Heartbeat { online: 666, .. } => peer.write(&LinkMessage::Error {
                        code: 1,
                        message: "go away".into(),
                    }),
                    _ => {}
                }
                let done = matches!(msg, LinkMessage::Unregister);
                seen.push(msg);
                if done {
                    break;
                }
            }
            seen
        });
        (addr, handle)
    }

    fn announcement(realm_id: u32) -> RealmAnnouncement {
        RealmAnnouncement {
            realm_id: RealmId(realm_id),
            name: "Nordrassil".into(),
            address: "127.0.0.1:8085".into(),
            realm_type: 1,
            flags: 0,
            timezone: 1,
            builds: vec![Build::WOTLK],
        }
    }

    fn alice() -> AccountName {
        match AccountName::parse(b"alice") {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_whole_session_against_a_fake_server() -> Result<(), LinkClientError> {
        let (addr, server) = fake_server();
        let mut link = Client::connect(addr, RealmId(3), SECRET, TIMEOUT)?;
        assert_eq!(link.realm_id(), RealmId(3));
        link.register(&announcement(3))?;
        link.heartbeat(0.25, 10)?;
        let grant = link.take_session(&alice())?;
        assert_eq!(
            grant.map(|g| (g.account_id, g.session_key)),
            Some((AccountId(9), SessionKey([0x42; 40])))
        );
        assert_eq!(link.take_session(&alice())?, None, "a ticket is taken once");
        link.unregister()?;
        let seen = server.join().unwrap_or_default();
        let kinds: Vec<u8> = seen.iter().map(LinkMessage::type_byte).collect();
        assert_eq!(
            kinds,
            [
                types::AUTH,
                types::REGISTER,
                types::HEARTBEAT,
                types::TAKE_SESSION,
                types::TAKE_SESSION,
                types::UNREGISTER
            ]
        );
        // Request ids increase.
        let ids: Vec<u32> = seen
            .iter()
            .filter_map(|m| match m {
                LinkMessage::TakeSession { request_id, .. } => Some(*request_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, [1, 2]);
        Ok(())
    }

    #[test]
    fn a_checked_take_against_a_fake_server() -> Result<(), LinkClientError> {
        let (addr, server) = fake_server();
        let mut link = Client::connect(addr, RealmId(3), SECRET, TIMEOUT)?;
        let proof = |key: SessionKey| ClientDigest {
            client_seed: 11,
            server_seed: 22,
            digest: crate::srp6::world_server_proof(&alice(), 11, 22, &key),
        };
        assert_eq!(
            link.take_session_checked(&alice(), &proof(SessionKey([0x43; 40])))?,
            CheckedTake::WrongDigest
        );
        match link.take_session_checked(&alice(), &proof(SessionKey([0x42; 40])))? {
            CheckedTake::Taken(grant) => {
                assert_eq!(grant.session_key, SessionKey([0x42; 40]));
                assert_eq!((grant.account_id, grant.security_level), (AccountId(9), 2));
            }
            other => panic!("expected the ticket, got {other:?}"),
        }
        assert_eq!(
            link.take_session_checked(&alice(), &proof(SessionKey([0x42; 40])))?,
            CheckedTake::NoTicket
        );
        link.unregister()?;
        let seen = server.join().unwrap_or_default();
        let ids: Vec<u32> = seen
            .iter()
            .filter_map(|m| match m {
                LinkMessage::TakeSessionChecked { request_id, .. } => Some(*request_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        Ok(())
    }

    #[test]
    fn a_wrong_secret_is_refused() {
        let (addr, server) = fake_server();
        let result = Client::connect(addr, RealmId(3), b"not the secret", TIMEOUT);
        assert!(matches!(
            result,
            Err(LinkClientError::Refused { status: 1 })
        ));
        let _ = server.join();
    }

    #[test]
    fn register_mismatch_and_server_errors_are_reported() -> Result<(), LinkClientError> {
        let (addr, server) = fake_server();
        let mut link = Client::connect(addr, RealmId(3), SECRET, TIMEOUT)?;
        assert!(matches!(
            link.register(&announcement(4)),
            Err(LinkClientError::RegisterRefused { status: 1 })
        ));
        // The refusal was a clean reply: the link is still usable.
        link.register(&announcement(3))?;
        link.heartbeat(0.0, 666)?;
        // The Error frame the server sent after that heartbeat surfaces on the next read.
        match link.take_session(&alice()) {
            Err(LinkClientError::Server { code: 1, message }) => assert_eq!(message, "go away"),
            other => panic!("expected a server error, got {other:?}"),
        }
        assert!(matches!(
            link.heartbeat(0.0, 1),
            Err(LinkClientError::Broken)
        ));
        drop(link);
        let _ = server.join();
        Ok(())
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("local_addr: {e}"),
        };
        let result = Client::connect(addr, RealmId(3), SECRET, Duration::from_millis(200));
        assert!(
            matches!(result, Err(LinkClientError::TimedOut)),
            "{result:?}"
        );
        drop(listener);
    }
}
