//! The server side of one realm link: the state a world server's connection is in, and what
//! each frame or store reply does. Like a client session, it reads no clock and touches no
//! socket: the daemon frames the bytes, hands over `now`, and sends the store requests.
//!
//! ```text
//! accept → Hello(nonce) sent → AwaitAuth ── Auth(realm, answer) ──► LoadingKey (input held)
//!   key found and answer right → AuthResult(0) → Linked ── Register / Heartbeat / Unregister
//!        Linked ── TakeSession or TakeSessionChecked ──► Taking (input held)
//!        Linked ◄── Session or SessionChecked (what the store did) ──┘
//!   otherwise → AuthResult(1), close
//! ```
//!
//! Both takes go through the same path — the link's take rate, then one store request — and
//! differ only in the proof the store checks (none, or the client's digest) and in the reply.

use std::net::SocketAddr;
use std::time::Instant;

use crate::account::AccountName;
use crate::event_loop::ConnToken;
use crate::log_throttle::{Level, LogThrottle};
use crate::policy::bucket::{Rate, TokenBucket};
use crate::protocol::wire::WireSink;
use crate::realms::link::message::{
    clamp_heartbeat, counts_status, error_code, CheckedTake, LinkMessage, SessionGrant,
    LINK_VERSION, STATUS_BAD_VALUE, STATUS_OK, STATUS_REFUSED,
};
use crate::realms::registry::{Change, RealmRegistry};
use crate::realms::RealmId;
use crate::srp6::ClientDigest;
use crate::store::worker::{StoreOp, StoreReply};
use crate::store::{StoreError, TakeOutcome};

pub enum LinkState {
    AwaitAuth {
        nonce: [u8; 32],
    },
    LoadingKey {
        nonce: [u8; 32],
        realm: RealmId,
        answer: [u8; 32],
    },
    Linked {
        realm: RealmId,
    },
    Taking {
        realm: RealmId,
        request_id: u32,
        account: AccountName,
        reply: TakeReply,
    },
    /// A CharacterCounts report is being written (input held).
    Counting {
        realm: RealmId,
        request_id: u32,
    },
    /// Held in the session while a handler owns the real state; nothing is legal in it.
    Placeholder,
}

/// Which frame answers a take: the one that goes with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeReply {
    /// TakeSession → Session (found or not).
    Session,
    /// TakeSessionChecked → SessionChecked (taken, no ticket, or wrong digest).
    SessionChecked,
}

/// A world server's part of a connection.
pub struct LinkSession {
    pub peer: SocketAddr,
    /// [`LinkState::Placeholder`] only while a handler holds the real state.
    pub state: LinkState,
    /// The realm this link registered, so a dropped link takes it offline.
    pub registered: Option<RealmId>,
    /// Its session takes so far against `link.take_rate` (made at the first take).
    pub takes: Option<TokenBucket>,
}

/// What the daemon does after a link handled something.
pub enum LinkStep {
    Become(LinkState),
    /// Become the state and send the store request; its reply comes to that state.
    Ask(LinkState, StoreOp),
    /// Close after the queued output (an AuthResult refusal or an Error frame) is flushed.
    Close(String),
    /// The world server said goodbye (Unregister): close without complaint.
    Finish,
}

/// What link code may touch while it handles one frame or reply.
pub struct LinkCx<'a> {
    pub now: Instant,
    pub unix_now: i64,
    pub token: ConnToken,
    pub out: &'a mut dyn WireSink,
    pub registry: &'a mut RealmRegistry,
    /// Set when the visible realm list changed.
    pub realms_changed: &'a mut bool,
    /// Flood control for what a world server can repeat (a bad heartbeat every few seconds).
    pub log: &'a mut LogThrottle,
    /// `link.take_rate`: how many session takes per second a link may make.
    pub take_rate: Rate,
    /// Counts takes answered "none" because the link was over its rate.
    pub takes_limited: &'a mut u64,
    /// Counts checked takes refused because the client's digest was wrong.
    pub wrong_digests: &'a mut u64,
}

impl LinkCx<'_> {
    fn send(&mut self, message: &LinkMessage) {
        // Only messages built here are sent, and they are valid by construction; a failure
        // would be a bug worth a log line, not a reason to take the daemon down.
        if let Err(e) = message.encode(&mut self.out) {
            log::error!(
                "realm link: cannot encode {:#04x}: {e}",
                message.type_byte()
            );
        }
    }

    fn note(&mut self, change: Change) {
        if change == Change::Changed {
            *self.realms_changed = true;
        }
    }
}

impl LinkSession {
    /// A new link: the caller sends [`LinkSession::hello`] at once.
    pub fn new(peer: SocketAddr, nonce: [u8; 32]) -> Self {
        Self {
            peer,
            state: LinkState::AwaitAuth { nonce },
            registered: None,
            takes: None,
        }
    }

    pub fn hello(nonce: [u8; 32]) -> LinkMessage {
        LinkMessage::Hello {
            version: LINK_VERSION,
            nonce,
        }
    }

    /// A store request is in flight: further frames wait in the input ring.
    pub fn holds_input(&self) -> bool {
        matches!(
            self.state,
            LinkState::LoadingKey { .. } | LinkState::Taking { .. } | LinkState::Counting { .. }
        )
    }

    /// Takes the state out for a handler, leaving the placeholder.
    pub fn take_state(&mut self) -> LinkState {
        std::mem::replace(&mut self.state, LinkState::Placeholder)
    }

    /// Whether the world server has proven its realm's key.
    pub fn authenticated(&self) -> bool {
        matches!(
            self.state,
            LinkState::Linked { .. } | LinkState::Taking { .. } | LinkState::Counting { .. }
        )
    }

    pub fn realm(&self) -> Option<RealmId> {
        match self.state {
            LinkState::Linked { realm }
            | LinkState::Taking { realm, .. }
            | LinkState::Counting { realm, .. } => Some(realm),
            _ => None,
        }
    }
}

fn error(cx: &mut LinkCx<'_>, code: u16, message: &str) -> LinkStep {
    cx.send(&LinkMessage::Error {
        code,
        message: message.to_string(),
    });
    LinkStep::Close(message.to_string())
}

/// Handles one frame.
pub fn on_frame(
    session: &mut LinkSession,
    state: LinkState,
    message: LinkMessage,
    cx: &mut LinkCx<'_>,
) -> LinkStep {
    match (state, message) {
        (LinkState::AwaitAuth { nonce }, LinkMessage::Auth { realm_id, answer }) => {
            let realm = realm_id;
            if !cx.registry.is_configured(realm) {
                cx.send(&LinkMessage::AuthResult {
                    status: STATUS_REFUSED,
                });
                return LinkStep::Close(format!("{realm} is not configured"));
            }
            LinkStep::Ask(
                LinkState::LoadingKey {
                    nonce,
                    realm,
                    answer,
                },
                StoreOp::LoadLinkKey { realm },
            )
        }
        (LinkState::AwaitAuth { .. }, _) => {
            error(cx, error_code::NOT_AUTHENTICATED, "authenticate first")
        }
        (LinkState::Linked { realm }, LinkMessage::Register(announced)) => {
            if announced.realm_id != realm {
                // A clean refusal: the link stays usable (docs/realm-link.md).
                log::warn!(
                    "{realm}: link from {} tried to register {}",
                    session.peer,
                    announced.realm_id
                );
                cx.send(&LinkMessage::Registered {
                    status: STATUS_REFUSED,
                });
                return LinkStep::Become(LinkState::Linked { realm });
            }
            if let Err(e) = announced.check_values() {
                // Refused whole: the realm keeps what it had (listed or not), the link stays.
                cx.log.log(
                    cx.now,
                    Level::Warn,
                    "link register refused",
                    format_args!("{realm}: link from {}: Register refused: {e}", session.peer),
                );
                cx.send(&LinkMessage::Registered {
                    status: STATUS_BAD_VALUE,
                });
                return LinkStep::Become(LinkState::Linked { realm });
            }
            log::info!(
                "{realm} registered from {}: {:?} at {}",
                session.peer,
                announced.name,
                announced.address
            );
            let change = cx.registry.register(cx.token, announced, cx.now);
            cx.note(change);
            session.registered = Some(realm);
            cx.send(&LinkMessage::Registered { status: STATUS_OK });
            LinkStep::Become(LinkState::Linked { realm })
        }
        (LinkState::Linked { realm }, LinkMessage::Heartbeat { population, online }) => {
            if session.registered.is_none() {
                return error(cx, error_code::PROTOCOL, "heartbeat before register");
            }
            let load = match clamp_heartbeat(population, online) {
                Ok(load) => load,
                Err((load, why)) => {
                    // Clamped, not refused: the heartbeat still keeps the realm online.
                    cx.log.log(
                        cx.now,
                        Level::Warn,
                        "link heartbeat clamped",
                        format_args!(
                            "{realm}: link from {}: Heartbeat out of range (population \
                             {population}, {online} online): {why}; applied as population {}, \
                             {} online",
                            session.peer, load.population, load.online
                        ),
                    );
                    load
                }
            };
            let change = cx.registry.heartbeat(realm, load, cx.now);
            if change == Change::Changed {
                log::debug!(
                    "{realm}: heartbeat, population {}, {} online",
                    load.population,
                    load.online
                );
            }
            cx.note(change);
            LinkStep::Become(LinkState::Linked { realm })
        }
        (LinkState::Linked { realm }, LinkMessage::Unregister) => {
            log::info!("{realm} unregistered from {}", session.peer);
            let change = cx.registry.went_away(realm, cx.token);
            cx.note(change);
            session.registered = None;
            LinkStep::Finish
        }
        (
            LinkState::Linked { realm },
            LinkMessage::TakeSession {
                request_id,
                account_name,
            },
        ) => take(
            session,
            cx,
            Take {
                realm,
                request_id,
                account: account_name,
                proof: None,
                reply: TakeReply::Session,
            },
        ),
        (
            LinkState::Linked { realm },
            LinkMessage::TakeSessionChecked {
                request_id,
                account_name,
                proof,
            },
        ) => take(
            session,
            cx,
            Take {
                realm,
                request_id,
                account: account_name,
                proof: Some(proof),
                reply: TakeReply::SessionChecked,
            },
        ),
        (LinkState::Linked { realm }, LinkMessage::CharacterCounts { request_id, counts }) => {
            log::debug!(
                "{realm}: link from {}: {} character counts (#{request_id})",
                session.peer,
                counts.len()
            );
            LinkStep::Ask(
                LinkState::Counting { realm, request_id },
                StoreOp::SetCharacterCounts { realm, counts },
            )
        }
        (_, other) => error(
            cx,
            error_code::PROTOCOL,
            &format!("frame type {:#04x} is not legal here", other.type_byte()),
        ),
    }
}

/// One take, plain or checked, as it arrived.
struct Take {
    realm: RealmId,
    request_id: u32,
    account: AccountName,
    proof: Option<ClientDigest>,
    reply: TakeReply,
}

/// Both takes: within the link's rate, one store request (which checks the proof, if any,
/// before it marks the ticket taken); beyond it, "no ticket" at once.
fn take(session: &mut LinkSession, cx: &mut LinkCx<'_>, take: Take) -> LinkStep {
    let Take {
        realm,
        request_id,
        account,
        proof,
        reply,
    } = take;
    let (rate, now) = (cx.take_rate, cx.now);
    let bucket = session
        .takes
        .get_or_insert_with(|| TokenBucket::new(rate, now));
    if !bucket.try_take(rate, now) {
        // Each take is a write transaction: beyond its rate a link gets "no ticket" at once,
        // and the database is left alone.
        *cx.takes_limited += 1;
        crate::throttled_warn!(
            cx.log,
            now,
            "link takes over rate",
            "{realm}: session takes over link.take_rate; answered \"no ticket\""
        );
        answer_take(cx, reply, request_id, CheckedTake::NoTicket);
        return LinkStep::Become(LinkState::Linked { realm });
    }
    log::debug!("{realm}: take session #{request_id} for {account} ({reply:?})");
    LinkStep::Ask(
        LinkState::Taking {
            realm,
            request_id,
            account,
            reply,
        },
        StoreOp::TakeSession {
            name: account,
            realm,
            now: cx.unix_now,
            proof,
        },
    )
}

/// Sends the answer to a take in the frame that goes with its request. A plain TakeSession
/// cannot be answered "wrong digest" (it carries none); its Session says "not found" then.
fn answer_take(cx: &mut LinkCx<'_>, reply: TakeReply, request_id: u32, outcome: CheckedTake) {
    let message = match reply {
        TakeReply::Session => LinkMessage::Session {
            request_id,
            grant: match outcome {
                CheckedTake::Taken(grant) => Some(grant),
                CheckedTake::NoTicket | CheckedTake::WrongDigest => None,
            },
        },
        TakeReply::SessionChecked => LinkMessage::SessionChecked {
            request_id,
            outcome,
        },
    };
    cx.send(&message);
}

/// Handles the store's answer to a request this link made.
pub fn on_store_reply(
    session: &mut LinkSession,
    state: LinkState,
    reply: StoreReply,
    cx: &mut LinkCx<'_>,
) -> LinkStep {
    match (state, reply) {
        (
            LinkState::LoadingKey {
                nonce,
                realm,
                answer,
            },
            StoreReply::LinkKeyLoaded(result),
        ) => match result {
            Ok(Some(key)) if key.verify(&nonce, realm.0, &answer) => {
                log::info!("{realm}: link from {} authenticated", session.peer);
                cx.send(&LinkMessage::AuthResult { status: STATUS_OK });
                LinkStep::Become(LinkState::Linked { realm })
            }
            Ok(Some(_)) => {
                cx.send(&LinkMessage::AuthResult {
                    status: STATUS_REFUSED,
                });
                LinkStep::Close(format!("wrong answer for {realm}"))
            }
            Ok(None) | Err(StoreError::NoSuchRealm(_)) => {
                cx.send(&LinkMessage::AuthResult {
                    status: STATUS_REFUSED,
                });
                LinkStep::Close(format!("{realm} has no link secret"))
            }
            Err(e) => {
                log::error!(
                    "link from {}: cannot load the key of {realm}: {e}",
                    session.peer
                );
                error(cx, error_code::STORE_UNAVAILABLE, "store unavailable")
            }
        },
        (
            LinkState::Taking {
                realm,
                request_id,
                account,
                reply,
            },
            StoreReply::SessionTaken(result),
        ) => {
            let outcome = match result {
                Ok(TakeOutcome::Taken(t)) => CheckedTake::Taken(SessionGrant {
                    session_key: t.key,
                    account_id: t.account,
                    security_level: t.security_level,
                }),
                Ok(TakeOutcome::NoTicket) => CheckedTake::NoTicket,
                Ok(TakeOutcome::WrongDigest) => {
                    // A world server passes on what its clients send: anyone can cause this.
                    *cx.wrong_digests += 1;
                    crate::throttled_info!(
                        cx.log,
                        cx.now,
                        "link wrong digest",
                        "{realm}: link from {}: take #{request_id} for {account}: the \
                         client's digest was not made with the ticket's key; ticket left as it \
                         was",
                        session.peer
                    );
                    CheckedTake::WrongDigest
                }
                Err(e) => {
                    log::error!("{realm}: session take for {account} failed: {e}");
                    return error(cx, error_code::STORE_UNAVAILABLE, "store unavailable");
                }
            };
            log::debug!(
                "{realm}: session take #{request_id} for {account}: {}",
                match outcome {
                    CheckedTake::Taken(_) => "handed over",
                    CheckedTake::NoTicket => "none",
                    CheckedTake::WrongDigest => "wrong digest",
                }
            );
            answer_take(cx, reply, request_id, outcome);
            LinkStep::Become(LinkState::Linked { realm })
        }
        (LinkState::Counting { realm, request_id }, StoreReply::CharacterCountsSet(result)) => {
            let answer =
                |status, written: usize, unknown: usize| LinkMessage::CharacterCountsStored {
                    request_id,
                    status,
                    // At most MAX_CHARACTER_COUNTS (100) per frame.
                    written: u8::try_from(written).unwrap_or(u8::MAX),
                    unknown: u8::try_from(unknown).unwrap_or(u8::MAX),
                };
            match result {
                Ok(done) => {
                    if !done.unknown.is_empty() {
                        crate::throttled_info!(
                            cx.log,
                            cx.now,
                            "link counts unknown accounts",
                            "{realm}: link from {}: character counts for {} unknown account(s) \
                             skipped (first: {})",
                            session.peer,
                            done.unknown.len(),
                            done.unknown
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        );
                    }
                    cx.send(&answer(
                        counts_status::STORED,
                        done.written,
                        done.unknown.len(),
                    ));
                }
                Err(e) => {
                    log::error!("{realm}: cannot store character counts: {e}");
                    cx.send(&answer(counts_status::NOT_STORED, 0, 0));
                }
            }
            LinkStep::Become(LinkState::Linked { realm })
        }
        (state, reply) => {
            if let Some(e) = reply.error() {
                log::error!("link from {}: store: {e}", session.peer);
            }
            LinkStep::Become(state)
        }
    }
}

#[cfg(test)]
mod tests;
