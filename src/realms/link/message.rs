//! The messages of the realm link (docs/realm-link.md), one [`LinkMessage`] variant per frame
//! type, with the two-phase parser the rest of gatehouse uses: [`LinkMessage::check_frame`]
//! frames without allocating, then [`LinkMessage::parse`] decodes one whole frame strictly
//! (unknown type, bad field or a byte left over is an error). Both are pure functions of bytes,
//! so the server's link connections, the world-server [`super::client::Client`] and the tests
//! share them.
//!
//! Direction is noted per variant: S = gatehouse, W = world server.

use crate::account::AccountName;
use crate::protocol::version::Build;
use crate::protocol::wire::{self, Check, ProtocolError, Reader, WireSink};
use crate::srp6::{ClientDigest, Proof, SessionKey};
use crate::values::{self, AccountId, RealmId};

use super::frame::{self, LinkError, LENGTH_FIELD};

// The frame type bytes and their check belong to the framing (`super::frame`); they are
// re-exported here, beside the messages they name.
pub use super::frame::{is_known_type, types};

/// The link protocol version this code speaks (Hello's first byte).
pub const LINK_VERSION: u8 = 1;
/// Status byte of AuthResult and Registered that means yes; anything else is no.
pub const STATUS_OK: u8 = 0;
/// Registered status: refused (e.g. the realm id is not the authenticated one).
pub const STATUS_REFUSED: u8 = 1;
/// Registered status: refused because a value is out of range ([`LinkMessage::check_values`];
/// the server's log says which).
pub const STATUS_BAD_VALUE: u8 = 2;
/// Most builds a Register may list.
pub const MAX_BUILDS: usize = 16;
/// Bounds of a realm's name, in bytes.
pub const NAME_LEN: (usize, usize) = values::REALM_NAME_LEN;
/// Bounds of a realm's "host:port" address, in bytes.
pub const ADDRESS_LEN: (usize, usize) = values::REALM_ADDRESS_LEN;
/// Most players a Heartbeat may report on one realm: far above any real world server, and
/// low enough that the sum over 255 realms cannot overflow a `u32`.
pub const MAX_ONLINE: u32 = 1_000_000;
/// Realm-list flag bits with no known meaning (docs/protocol.md §2.4): a Register that sets
/// one is refused. OFFLINE and SPECIFY_BUILD are gatehouse's to set; it clears them from what
/// a world server announces.
pub const UNKNOWN_REALM_FLAGS: u8 = 0x08 | 0x10;

/// Most (account, count) pairs one CharacterCounts frame may carry: 9 bytes each, so the
/// frame stays well inside [`frame::MAX_FRAME`] (100 make 906 bytes). A world server with
/// more accounts sends several frames.
pub const MAX_CHARACTER_COUNTS: usize = 100;

/// The `status` byte of CharacterCountsStored.
pub mod counts_status {
    /// Written (accounts that do not exist skipped and counted).
    pub const STORED: u8 = 0;
    /// The store could not write them; nothing was written, the world server may send them
    /// again later.
    pub const NOT_STORED: u8 = 1;
}

/// Error codes of the `Error` frame (the server closes after sending one).
pub mod error_code {
    /// A frame that does not parse, or one that is not legal in the link's current state.
    pub const PROTOCOL: u16 = 1;
    /// Anything but Auth before the link has authenticated.
    pub const NOT_AUTHENTICATED: u16 = 2;
    /// A realm id that is not the authenticated one (or no realm with that id).
    pub const REALM_MISMATCH: u16 = 3;
    /// The store could not be reached to answer; the world server may reconnect later.
    pub const STORE_UNAVAILABLE: u16 = 4;
    /// No Heartbeat within the timeout; the realm has been marked offline.
    pub const HEARTBEAT_TIMEOUT: u16 = 5;
    /// The server is shutting down.
    pub const SHUTTING_DOWN: u16 = 6;
}

/// What a world server announces about its realm (Register's payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmAnnouncement {
    /// Must be the realm the link authenticated as; the server refuses any other.
    pub realm_id: RealmId,
    /// Shown in the realm list; 1..=64 bytes of UTF-8 without NUL.
    pub name: String,
    /// Where clients connect: "host:port", 1..=255 bytes.
    pub address: String,
    /// Realm-list icon (0 normal, 1 PvP, 4 normal, 6 RP, 8 RP-PvP).
    pub realm_type: u8,
    /// Realm-list flags (the server sets offline/full itself).
    pub flags: u8,
    /// Realm-list category ("timezone").
    pub timezone: u8,
    /// Builds this world accepts; empty = every build gatehouse accepts. At most 16.
    pub builds: Vec<Build>,
}

impl RealmAnnouncement {
    /// Flags with only known bits ([`UNKNOWN_REALM_FLAGS`]), builds that are client builds.
    /// Type and timezone are any byte, as an operator's `realm add` allows.
    pub fn check_values(&self) -> Result<(), LinkError> {
        if self.flags & UNKNOWN_REALM_FLAGS != 0 {
            return Err(LinkError::BadValue {
                field: "realm flags",
                value: u64::from(self.flags),
            });
        }
        for build in &self.builds {
            values::check_build(build.0)?;
        }
        Ok(())
    }
}

/// What the server applies of a Heartbeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// In 0..=[`values::MAX_POPULATION`], never NaN.
    pub population: f32,
    /// At most [`MAX_ONLINE`].
    pub online: u32,
}

/// Brings a Heartbeat's values into range: a NaN or negative population becomes 0.0, one above
/// [`values::MAX_POPULATION`] (infinity included) becomes that; more than [`MAX_ONLINE`]
/// players become [`MAX_ONLINE`]. `Err` carries the clamped load and why (the first value out
/// of range), for the log.
///
/// Clamped rather than refused: a heartbeat is what keeps a realm online, and a world server
/// whose load figure is broken (0 / 0 on an empty realm is NaN) must not take its realm offline
/// and keep the first player out.
pub fn clamp_heartbeat(population: f32, online: u32) -> Result<Load, (Load, LinkError)> {
    let load = Load {
        population: if population.is_nan() {
            0.0
        } else {
            population.clamp(0.0, values::MAX_POPULATION)
        },
        online: online.min(MAX_ONLINE),
    };
    if let Err(e) = values::check_population(population) {
        return Err((load, e.into()));
    }
    if online > MAX_ONLINE {
        let e = LinkError::BadValue {
            field: "online players",
            value: u64::from(online),
        };
        return Err((load, e));
    }
    Ok(load)
}

/// A session ticket handed to a world server (Session's payload when found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionGrant {
    /// Hidden from Debug by its own type.
    pub session_key: SessionKey,
    pub account_id: AccountId,
    pub security_level: u8,
}

/// The `outcome` byte of SessionChecked.
pub mod checked_outcome {
    /// No live ticket: never logged in, expired, or already taken (as Session's found = 0).
    pub const NO_TICKET: u8 = 0;
    /// Taken: the session key, account and security level follow (as Session's found = 1).
    pub const TAKEN: u8 = 1;
    /// A live ticket, but the client's digest was not made with its key: the ticket is left
    /// as it was, and can still be taken.
    pub const WRONG_DIGEST: u8 = 2;
}

/// The answer to a TakeSessionChecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedTake {
    /// The digest was right and the ticket is now taken by this realm.
    Taken(SessionGrant),
    /// No live ticket (or the link was over its take rate).
    NoTicket,
    /// The digest was not made with the ticket's key; the ticket is untouched.
    WrongDigest,
}

/// One frame of the realm link.
///
/// Debug never shows a session key (SessionKey prints as `***`); the Auth answer is shown, as
/// it is bound to a nonce that is never used again and is worthless once seen.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkMessage {
    /// S→W, first frame: the protocol version and a fresh 32-byte challenge.
    Hello { version: u8, nonce: [u8; 32] },
    /// W→S: `LinkKey::answer(nonce, realm_id)`.
    Auth { realm_id: RealmId, answer: [u8; 32] },
    /// S→W: 0 = accepted; anything else = refused, and the server closes.
    AuthResult { status: u8 },
    /// W→S: bring the realm online (or update it) in the realm list.
    Register(RealmAnnouncement),
    /// S→W: 0 = ok, 1 = refused.
    Registered { status: u8 },
    /// W→S: still alive; population for the realm list, online players for the counters.
    Heartbeat { population: f32, online: u32 },
    /// W→S: take the realm offline; the world server closes after it.
    Unregister,
    /// W→S: take (consume) the session ticket of an account that is entering this world.
    TakeSession {
        request_id: u32,
        account_name: AccountName,
    },
    /// S→W: the answer to the TakeSession with the same id; `None` = no such (live) ticket.
    Session {
        request_id: u32,
        grant: Option<SessionGrant>,
    },
    /// W→S: take the account's ticket only if `proof` (the client's CMSG_AUTH_SESSION digest
    /// and seeds) was made with its key; a wrong digest leaves the ticket as it is.
    TakeSessionChecked {
        request_id: u32,
        account_name: AccountName,
        proof: ClientDigest,
    },
    /// S→W: the answer to the TakeSessionChecked with the same id.
    SessionChecked {
        request_id: u32,
        outcome: CheckedTake,
    },
    /// W→S: how many characters these accounts have on the link's realm (at most
    /// [`MAX_CHARACTER_COUNTS`] per frame); each replaces the account's count on this realm.
    CharacterCounts {
        request_id: u32,
        counts: Vec<(AccountId, u8)>,
    },
    /// S→W: the answer to the CharacterCounts with the same id: [`counts_status`], how many
    /// counts were written and how many named no account (skipped).
    CharacterCountsStored {
        request_id: u32,
        status: u8,
        written: u8,
        unknown: u8,
    },
    /// S→W: a fatal error; the server closes after it.
    Error { code: u16, message: String },
}

impl LinkMessage {
    /// Frames one whole frame, length field included, at the front of `buf`.
    pub fn check_frame(buf: &[u8]) -> Check {
        frame::check(buf)
    }

    /// Decodes one whole frame (exactly the bytes `check_frame` reported as `Complete`).
    pub fn parse(frame_bytes: &[u8]) -> Result<LinkMessage, LinkError> {
        let (ty, payload) = frame::split(frame_bytes)?;
        let mut r = Reader::new(payload);
        let msg = match ty {
            types::HELLO => LinkMessage::Hello {
                version: r.u8()?,
                nonce: r.array()?,
            },
            types::AUTH => LinkMessage::Auth {
                realm_id: RealmId(r.u32_le()?),
                answer: r.array()?,
            },
            types::AUTH_RESULT => LinkMessage::AuthResult { status: r.u8()? },
            types::REGISTER => LinkMessage::Register(parse_announcement(&mut r)?),
            types::REGISTERED => LinkMessage::Registered { status: r.u8()? },
            types::HEARTBEAT => LinkMessage::Heartbeat {
                population: r.f32_le()?,
                online: r.u32_le()?,
            },
            types::UNREGISTER => LinkMessage::Unregister,
            types::TAKE_SESSION => LinkMessage::TakeSession {
                request_id: r.u32_le()?,
                account_name: parse_account_name(&mut r)?,
            },
            types::SESSION => {
                let request_id = r.u32_le()?;
                let grant = match r.u8()? {
                    0 => None,
                    1 => Some(parse_grant(&mut r)?),
                    other => {
                        return Err(LinkError::BadValue {
                            field: "found",
                            value: u64::from(other),
                        })
                    }
                };
                LinkMessage::Session { request_id, grant }
            }
            types::TAKE_SESSION_CHECKED => {
                let request_id = r.u32_le()?;
                let proof = ClientDigest {
                    client_seed: r.u32_le()?,
                    server_seed: r.u32_le()?,
                    digest: Proof(r.array()?),
                };
                LinkMessage::TakeSessionChecked {
                    request_id,
                    account_name: parse_account_name(&mut r)?,
                    proof,
                }
            }
            types::SESSION_CHECKED => {
                let request_id = r.u32_le()?;
                let outcome = match r.u8()? {
                    checked_outcome::NO_TICKET => CheckedTake::NoTicket,
                    checked_outcome::TAKEN => CheckedTake::Taken(parse_grant(&mut r)?),
                    checked_outcome::WRONG_DIGEST => CheckedTake::WrongDigest,
                    other => {
                        return Err(LinkError::BadValue {
                            field: "outcome",
                            value: u64::from(other),
                        })
                    }
                };
                LinkMessage::SessionChecked {
                    request_id,
                    outcome,
                }
            }
            types::CHARACTER_COUNTS => {
                let request_id = r.u32_le()?;
                let n = usize::from(r.u8()?);
                if n > MAX_CHARACTER_COUNTS {
                    return Err(LinkError::TooManyCounts(n));
                }
                let mut counts = Vec::with_capacity(n);
                for _ in 0..n {
                    counts.push((parse_account_id(&mut r)?, r.u8()?));
                }
                LinkMessage::CharacterCounts { request_id, counts }
            }
            types::CHARACTER_COUNTS_STORED => LinkMessage::CharacterCountsStored {
                request_id: r.u32_le()?,
                status: r.u8()?,
                written: r.u8()?,
                unknown: r.u8()?,
            },
            types::ERROR => LinkMessage::Error {
                code: r.u16_le()?,
                message: text(read_string(&mut r)?)?,
            },
            other => return Err(LinkError::UnknownType(other)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The frame type byte of this message.
    pub fn type_byte(&self) -> u8 {
        match self {
            LinkMessage::Hello { .. } => types::HELLO,
            LinkMessage::Auth { .. } => types::AUTH,
            LinkMessage::AuthResult { .. } => types::AUTH_RESULT,
            LinkMessage::Register(_) => types::REGISTER,
            LinkMessage::Registered { .. } => types::REGISTERED,
            LinkMessage::Heartbeat { .. } => types::HEARTBEAT,
            LinkMessage::Unregister => types::UNREGISTER,
            LinkMessage::TakeSession { .. } => types::TAKE_SESSION,
            LinkMessage::Session { .. } => types::SESSION,
            LinkMessage::TakeSessionChecked { .. } => types::TAKE_SESSION_CHECKED,
            LinkMessage::SessionChecked { .. } => types::SESSION_CHECKED,
            LinkMessage::CharacterCounts { .. } => types::CHARACTER_COUNTS,
            LinkMessage::CharacterCountsStored { .. } => types::CHARACTER_COUNTS_STORED,
            LinkMessage::Error { .. } => types::ERROR,
        }
    }

    /// Size of the whole encoded frame, length field included.
    pub fn encoded_len(&self) -> usize {
        LENGTH_FIELD + 1 + self.payload_len()
    }

    fn payload_len(&self) -> usize {
        match self {
            LinkMessage::Hello { .. } => 1 + 32,
            LinkMessage::Auth { .. } => 4 + 32,
            LinkMessage::AuthResult { .. } | LinkMessage::Registered { .. } => 1,
            LinkMessage::Register(a) => {
                4 + 1 + a.name.len() + 1 + a.address.len() + 3 + 1 + 2 * a.builds.len()
            }
            LinkMessage::Heartbeat { .. } => 4 + 4,
            LinkMessage::Unregister => 0,
            LinkMessage::TakeSession { account_name, .. } => 4 + 1 + account_name.as_bytes().len(),
            LinkMessage::Session { grant, .. } => 4 + 1 + grant.map_or(0, |_| GRANT_LEN),
            LinkMessage::TakeSessionChecked { account_name, .. } => {
                4 + 4 + 4 + 20 + 1 + account_name.as_bytes().len()
            }
            LinkMessage::SessionChecked { outcome, .. } => {
                4 + 1
                    + match outcome {
                        CheckedTake::Taken(_) => GRANT_LEN,
                        CheckedTake::NoTicket | CheckedTake::WrongDigest => 0,
                    }
            }
            LinkMessage::CharacterCounts { counts, .. } => 4 + 1 + COUNT_LEN * counts.len(),
            LinkMessage::CharacterCountsStored { .. } => 4 + 3,
            LinkMessage::Error { message, .. } => 2 + 1 + message.len(),
        }
    }

    /// Checks that the message can be encoded: the same rules `parse` applies, so a frame we
    /// send is never one the other side must refuse.
    pub fn validate(&self) -> Result<(), LinkError> {
        match self {
            LinkMessage::Register(a) => {
                check_text("realm name", &a.name, NAME_LEN)?;
                check_text("realm address", &a.address, ADDRESS_LEN)?;
                check_address(&a.address)?;
                if a.builds.len() > MAX_BUILDS {
                    return Err(LinkError::TooManyBuilds(a.builds.len()));
                }
            }
            LinkMessage::Session {
                grant: Some(grant), ..
            }
            | LinkMessage::SessionChecked {
                outcome: CheckedTake::Taken(grant),
                ..
            } => {
                u64::try_from(grant.account_id.0).map_err(|_| LinkError::BadValue {
                    field: "account id",
                    value: grant.account_id.0 as u64,
                })?;
            }
            LinkMessage::CharacterCounts { counts, .. } => {
                if counts.len() > MAX_CHARACTER_COUNTS {
                    return Err(LinkError::TooManyCounts(counts.len()));
                }
                for (account, _) in counts {
                    u64::try_from(account.0).map_err(|_| LinkError::BadValue {
                        field: "account id",
                        value: account.0 as u64,
                    })?;
                }
            }
            LinkMessage::Error { message, .. } => check_text("error message", message, (0, 255))?,
            _ => {}
        }
        Ok(())
    }

    /// Checks the values a message carries, beyond its shape, where the server refuses a
    /// message for them: a Register's ([`RealmAnnouncement::check_values`]). The client checks
    /// this before it sends. A Heartbeat's values are never refused but brought into range
    /// ([`clamp_heartbeat`]); ids are checked against the link's state where they arrive (the
    /// authenticated realm).
    pub fn check_values(&self) -> Result<(), LinkError> {
        match self {
            LinkMessage::Register(a) => a.check_values(),
            _ => Ok(()),
        }
    }

    /// Writes the whole frame, length field included. Nothing is written if the message is
    /// not encodable (see [`validate`](Self::validate)), so a sink never holds half a frame.
    pub fn encode(&self, out: &mut impl WireSink) -> Result<(), LinkError> {
        self.validate()?;
        frame::put_header(out, 1 + self.payload_len(), self.type_byte())?;
        match self {
            LinkMessage::Hello { version, nonce } => {
                out.put_u8(*version);
                out.put(nonce);
            }
            LinkMessage::Auth { realm_id, answer } => {
                out.put_u32_le(realm_id.0);
                out.put(answer);
            }
            LinkMessage::AuthResult { status } | LinkMessage::Registered { status } => {
                out.put_u8(*status)
            }
            LinkMessage::Register(a) => {
                out.put_u32_le(a.realm_id.0);
                wire::put_string(out, a.name.as_bytes())?;
                wire::put_string(out, a.address.as_bytes())?;
                out.put_u8(a.realm_type);
                out.put_u8(a.flags);
                out.put_u8(a.timezone);
                // Bounded by MAX_BUILDS in validate.
                out.put_u8(a.builds.len() as u8);
                for build in &a.builds {
                    out.put_u16_le(build.0);
                }
            }
            LinkMessage::Heartbeat { population, online } => {
                out.put_f32_le(*population);
                out.put_u32_le(*online);
            }
            LinkMessage::Unregister => {}
            LinkMessage::TakeSession {
                request_id,
                account_name,
            } => {
                out.put_u32_le(*request_id);
                wire::put_string(out, account_name.as_bytes())?;
            }
            LinkMessage::Session { request_id, grant } => {
                out.put_u32_le(*request_id);
                match grant {
                    None => out.put_u8(0),
                    Some(g) => {
                        out.put_u8(1);
                        put_grant(out, g);
                    }
                }
            }
            LinkMessage::TakeSessionChecked {
                request_id,
                account_name,
                proof,
            } => {
                out.put_u32_le(*request_id);
                out.put_u32_le(proof.client_seed);
                out.put_u32_le(proof.server_seed);
                out.put(&proof.digest.0);
                wire::put_string(out, account_name.as_bytes())?;
            }
            LinkMessage::SessionChecked {
                request_id,
                outcome,
            } => {
                out.put_u32_le(*request_id);
                match outcome {
                    CheckedTake::NoTicket => out.put_u8(checked_outcome::NO_TICKET),
                    CheckedTake::WrongDigest => out.put_u8(checked_outcome::WRONG_DIGEST),
                    CheckedTake::Taken(g) => {
                        out.put_u8(checked_outcome::TAKEN);
                        put_grant(out, g);
                    }
                }
            }
            LinkMessage::CharacterCounts { request_id, counts } => {
                out.put_u32_le(*request_id);
                // Bounded by MAX_CHARACTER_COUNTS in validate.
                out.put_u8(counts.len() as u8);
                for (account, count) in counts {
                    // Non-negative, checked in validate.
                    out.put_u64_le(account.0 as u64);
                    out.put_u8(*count);
                }
            }
            LinkMessage::CharacterCountsStored {
                request_id,
                status,
                written,
                unknown,
            } => {
                out.put_u32_le(*request_id);
                out.put_u8(*status);
                out.put_u8(*written);
                out.put_u8(*unknown);
            }
            LinkMessage::Error { code, message } => {
                out.put_u16_le(*code);
                wire::put_string(out, message.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Encodes into a fresh buffer (for blocking writers such as the client).
    pub fn to_bytes(&self) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }
}

fn parse_announcement(r: &mut Reader<'_>) -> Result<RealmAnnouncement, LinkError> {
    let realm_id = RealmId(r.u32_le()?);
    let name = text(read_string(r)?)?;
    check_len("realm name", name.len(), NAME_LEN)?;
    let address = text(read_string(r)?)?;
    check_len("realm address", address.len(), ADDRESS_LEN)?;
    check_address(&address)?;
    let realm_type = r.u8()?;
    let flags = r.u8()?;
    let timezone = r.u8()?;
    let count = usize::from(r.u8()?);
    if count > MAX_BUILDS {
        return Err(LinkError::TooManyBuilds(count));
    }
    let mut builds = Vec::with_capacity(count);
    for _ in 0..count {
        builds.push(Build(r.u16_le()?));
    }
    Ok(RealmAnnouncement {
        realm_id,
        name,
        address,
        realm_type,
        flags,
        timezone,
        builds,
    })
}

/// An account name as both takes carry it: a string of 1..=16 bytes, normalised.
fn parse_account_name(r: &mut Reader<'_>) -> Result<AccountName, LinkError> {
    let raw = read_string(r)?;
    check_len("account name", raw.len(), (1, crate::account::MAX_LEN))?;
    AccountName::parse(raw).map_err(LinkError::BadName)
}

/// Bytes of a granted session after the found/outcome byte: key, account id, level.
const GRANT_LEN: usize = 40 + 8 + 1;

fn put_grant(out: &mut impl WireSink, g: &SessionGrant) {
    out.put(&g.session_key.0);
    // Non-negative, checked in validate.
    out.put_u64_le(g.account_id.0 as u64);
    out.put_u8(g.security_level);
}

/// Bytes of one (account id, count) pair of CharacterCounts.
const COUNT_LEN: usize = 8 + 1;

/// An account id as the link carries it: u64, little-endian, within i64 (the stores' row ids).
fn parse_account_id(r: &mut Reader<'_>) -> Result<AccountId, LinkError> {
    let raw_id = r.u64_le()?;
    let id = i64::try_from(raw_id).map_err(|_| LinkError::BadValue {
        field: "account id",
        value: raw_id,
    })?;
    Ok(AccountId(id))
}

fn parse_grant(r: &mut Reader<'_>) -> Result<SessionGrant, LinkError> {
    let session_key = SessionKey(r.array()?);
    let account_id = parse_account_id(r)?;
    Ok(SessionGrant {
        session_key,
        account_id,
        security_level: r.u8()?,
    })
}

fn read_string<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], LinkError> {
    let len = usize::from(r.u8()?);
    Ok(r.bytes(len)?)
}

/// Received text: UTF-8 without NUL (a NUL would cut the string short in C world servers).
fn text(bytes: &[u8]) -> Result<String, LinkError> {
    if bytes.contains(&0) {
        return Err(ProtocolError::NulInString.into());
    }
    Ok(wire::utf8(bytes)?)
}

fn check_len(field: &'static str, len: usize, (min, max): (usize, usize)) -> Result<(), LinkError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(LinkError::FieldLength {
            field,
            len,
            min,
            max,
        })
    }
}

fn check_text(field: &'static str, s: &str, bounds: (usize, usize)) -> Result<(), LinkError> {
    if s.as_bytes().contains(&0) {
        return Err(ProtocolError::NulInString.into());
    }
    check_len(field, s.len(), bounds)
}

/// "host:port" by the rule every realm entry follows ([`values::check_realm_address`]).
fn check_address(address: &str) -> Result<(), LinkError> {
    values::check_realm_address(address).map_err(|_| LinkError::BadAddress(address.to_owned()))
}

#[cfg(test)]
mod tests;
