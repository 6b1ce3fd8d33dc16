//! Sessions: the state pattern that drives one client connection.
//!
//! # LIFECYCLE
//!
//! ```text
//!            accept
//!              │   deadline: timeouts.logon_secs from accept, for every Logon phase
//!              ▼
//!   Logon::AwaitChallenge   legal: CMD_AUTH_LOGON_CHALLENGE (0x00),
//!              │                   CMD_AUTH_RECONNECT_CHALLENGE (0x02)
//!              │ challenge parsed, build accepted → LoadAccount
//!              ▼
//!   Logon::LoadingAccount   no opcode handled (input is held) until the store answers
//!              │ logon: account ok → challenge reply (B, g, N, salt)
//!              │ reconnect: live ticket → 16 random bytes ──► Logon::AwaitReconnectProof
//!              ▼                                              legal: 0x03 (58 bytes)
//!   Logon::AwaitProof       legal: CMD_AUTH_LOGON_PROOF (0x01)     │ R2 right → RenewSession
//!              │ M1 right → RecordLoginSuccess                     ▼
//!              │ M1 / R2 wrong → RecordLoginFailure   Logon::RenewingSession (input held)
//!              ▼                                      ▼            │ committed → `03 00`
//!   Logon::RecordingSuccess                Logon::RecordingFailure  │
//!              │ committed → proof reply (M2)         │ committed → failure reply
//!              ▼                                      ▼            ▼
//!   Update                  an old build with a patch for its locale, after a right proof:
//!                           legal: XFER_ACCEPT / XFER_RESUME / XFER_CANCEL, then only CANCEL
//!                           while the file streams; → Closing after the last byte
//!   WorldSelect             legal: CMD_REALM_LIST (0x10), any number of times;
//!                           deadline: timeouts.realm_list_idle_secs since the last packet
//!   Closing                 every refusal ends here: the answer is flushed and the client
//!                           has timeouts.after_failure_secs to hang up; nothing is legal
//! ```
//!
//! An account with an authenticator (TOTP) needs, besides a right M1, a right token in the
//! same proof: "M1 right" above means both, and a wrong or missing token takes the "M1
//! wrong" path (see [`logon`]).
//!
//! A state handles one packet (or one store reply) and answers a [`Step`]: become the next
//! state (possibly itself again), become it and send a store request whose reply comes to it
//! (`Ask`), or close. Each state declares its legal opcodes with their size bounds in
//! one table; anything else closes the connection with a logged reason. State code gets
//! `now` and everything else through [`SessionCx`]: it reads no clock and touches no socket,
//! so it runs the same in unit tests as in the daemon. Data that outlives a state (peer,
//! layout, account, session key) lives in [`SessionData`].

pub mod closing;
pub mod logon;
pub mod outcomes;
pub mod update;
pub mod world_select;

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::account::{AccountId, AccountName};
use crate::config::TimeoutConfig;
use crate::integrity::VersionCheck;
use crate::log_throttle::LogThrottle;
use crate::net::shared::ReplySink;
pub use crate::net::CloseReason;
use crate::patches::{PatchFile, PatchIndex};
use crate::policy::lockout::LockoutPolicy;
use crate::policy::{AddressClass, Policies};
use crate::protocol::client_tags::ClientTags;
use crate::protocol::opcode::Opcode;
use crate::protocol::version::{Build, Layout};
use crate::protocol::wire::{Check, ProtocolError};
use crate::realms::list_cache::RealmListCache;
use crate::srp6::SessionKey;
use crate::store::worker::{StoreOp, StoreReply};
use crate::store::CharacterCount;
use crate::totp::TotpKey;

pub use closing::Closing;
pub use logon::Logon;
pub use outcomes::OutcomeCounts;
pub use update::Update;
pub use world_select::WorldSelect;

/// One legal opcode of a state, with the size bounds of its message (opcode included).
#[derive(Debug, Clone, Copy)]
pub struct OpcodeRule {
    pub opcode: Opcode,
    pub min_len: usize,
    pub max_len: usize,
}

/// Every non-empty opcode table a state can answer [`State::legal`] with, named by the state
/// and phase that uses it. For code that must cover each legal opcode of each state without
/// building the states (the fuzz targets, tests); the tables themselves stay in their states.
pub const OPCODE_TABLES: &[(&str, &[OpcodeRule])] = &[
    ("Logon::AwaitChallenge", logon::CHALLENGE_RULES),
    ("Logon::AwaitProof", logon::PROOF_RULES),
    ("Logon::AwaitReconnectProof", logon::RECONNECT_PROOF_RULES),
    ("Update::AwaitDecision", update::DECISION_RULES),
    ("Update::Streaming", update::STREAMING_RULES),
    ("WorldSelect", WorldSelect::LEGAL),
];

/// The states of a connection.
pub enum State {
    Logon(Logon),
    Update(Update),
    WorldSelect(WorldSelect),
    Closing(Closing),
}

/// Which kind of state: what deadlines and counters are keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Logon,
    Update,
    WorldSelect,
    Closing,
}

impl StateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Logon => "Logon",
            StateKind::Update => "Update",
            StateKind::WorldSelect => "WorldSelect",
            StateKind::Closing => "Closing",
        }
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a state's deadline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Armed when the state is entered; packets do not extend it.
    FromEntry(Duration),
    /// Re-armed whenever the state handles a packet.
    Idle(Duration),
}

/// Whether a state reads input now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Packets are parsed against the state's opcode table.
    Handle,
    /// A store request is in flight: bytes that arrive stay in the input ring, unhandled.
    Hold,
    /// Nothing is read or handled before this instant (a rate limit); the daemon wakes the
    /// connection then.
    HoldUntil(Instant),
}

/// What a state answers after handling a packet or a reply. States are taken by value, so
/// staying is `Become` with the same state; the daemon re-arms deadlines only when the kind
/// changes (or, for idle deadlines, on every packet). A store request travels with the
/// answer: `Ask` becomes the state and sends the request, whose reply comes to that state.
pub enum Step {
    Become(State),
    Ask(State, StoreOp),
    Close(CloseReason),
}

impl Step {
    /// The same answer, with `op` sent as well (a refusal's audit row). A close sends nothing:
    /// it only happens when our own answer could not be encoded, and is logged as a bug.
    pub fn asking(self, op: StoreOp) -> Step {
        match self {
            Step::Become(state) | Step::Ask(state, _) => Step::Ask(state, op),
            close @ Step::Close(_) => close,
        }
    }
}

/// What a connection knows beyond any one state.
#[derive(Debug)]
pub struct SessionData {
    pub peer: SocketAddr,
    /// Message layouts for this connection, from the first challenge's protocol version.
    pub layout: Option<Layout>,
    pub build: Option<Build>,
    /// The challenge's platform, OS and locale, for the account row of a foreign schema.
    pub client: ClientTags,
    /// The patch an old client gets once its password is proven.
    pub patch: Option<PatchFile>,
    /// Account name as the client sent it, once a challenge named one.
    pub name: Option<AccountName>,
    /// Set once the store found the account.
    pub account: Option<AccountId>,
    /// The account's security level once the store found it: which realms it is listed.
    pub security_level: u8,
    /// Set on a successful proof, after the store committed it.
    pub session_key: Option<SessionKey>,
    pub characters: Vec<CharacterCount>,
    /// How the per-address limits count the peer (decided at accept, or once a PROXY header
    /// named the player).
    pub class: AddressClass,
    /// What comes before the login protocol on this connection.
    pub preamble: Preamble,
}

/// Bytes a connection sends before the login protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preamble {
    /// The client speaks first.
    None,
    /// A configured proxy speaks first: a PROXY header names the player.
    ProxyHeader,
}

impl SessionData {
    pub fn new(peer: SocketAddr, class: AddressClass) -> Self {
        Self {
            peer,
            class,
            layout: None,
            build: None,
            client: ClientTags::default(),
            patch: None,
            name: None,
            account: None,
            security_level: 0,
            session_key: None,
            characters: Vec::new(),
            preamble: Preamble::None,
        }
    }
}

/// Names the connection in log lines: peer, and account when known.
impl fmt::Display for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} [{}]", self.peer, name),
            None => write!(f, "{}", self.peer),
        }
    }
}

/// A game client's part of a connection: its current state and what outlives states.
pub struct ClientSession {
    /// While a handler runs, this holds the placeholder `Closing` (see [`ClientSession::take_state`]).
    pub state: State,
    pub data: SessionData,
}

impl ClientSession {
    pub fn new(peer: SocketAddr, class: AddressClass) -> Self {
        Self {
            state: State::new(),
            data: SessionData::new(peer, class),
        }
    }

    /// Takes the state out for a handler (which consumes it and answers the next one),
    /// leaving the inert `Closing` in its place.
    pub fn take_state(&mut self) -> State {
        std::mem::replace(&mut self.state, State::Closing(Closing))
    }

    /// Whether a logon is under way: past the first packet and not yet answered for good.
    /// A connection that has sent nothing is not in flight (a drain closes it at once).
    pub fn logon_in_flight(&self) -> bool {
        matches!(&self.state, State::Logon(l) if !matches!(l, Logon::AwaitChallenge))
    }
}

/// Settings state code reads; built from the config.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub accepted_builds: Vec<Build>,
    pub timeouts: TimeoutConfig,
    /// How long a session ticket (the key a world server takes) stays valid.
    pub ticket_ttl: Duration,
    /// The account lockout the store applies to wrong passwords.
    pub lockout: LockoutPolicy,
    /// Minimum time between two realm-list answers on one connection.
    pub realm_list_interval: Duration,
    /// Opens accounts' authenticator secrets; `None` = no `[totp] key` configured.
    pub totp_key: Option<TotpKey>,
    /// The client integrity check (`server.strict_version_check`, `server.build_seeds`).
    pub version_check: VersionCheck,
}

impl SessionSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            accepted_builds: config.accepted_builds(),
            timeouts: config.timeouts.clone(),
            ticket_ttl: Duration::from_secs(config.sessions.ticket_ttl_secs),
            lockout: LockoutPolicy::account(&config.lockout),
            realm_list_interval: Duration::from_millis(config.limits.realm_list_interval_ms),
            totp_key: config.totp.key.clone(),
            version_check: config.version_check(),
        }
    }

    /// When a ticket issued at `unix_now` expires: saturating, never a wrapped time.
    pub fn ticket_expiry(&self, unix_now: i64) -> i64 {
        unix_now.saturating_add(i64::try_from(self.ticket_ttl.as_secs()).unwrap_or(i64::MAX))
    }
}

/// Everything a state may touch while it handles one packet or reply.
pub struct SessionCx<'a> {
    pub now: Instant,
    /// Wall-clock seconds for audit rows, read once per pass by the event loop.
    pub unix_now: i64,
    pub data: &'a mut SessionData,
    /// The connection's output ring (the daemon guaranteed [`State::reply_room`] bytes free),
    /// and its slot for an answer sent from a shared encoding (the realm list).
    pub out: &'a mut dyn ReplySink,
    /// How logon attempts ended, counted where they are decided.
    pub outcomes: &'a mut OutcomeCounts,
    /// Lines any client could repeat go through here: summarised, not one each.
    pub log: &'a mut LogThrottle,
    pub settings: &'a SessionSettings,
    pub realms: &'a mut RealmListCache,
    pub patches: &'a PatchIndex,
    /// The logon filters (rate limits, address lockout, bans).
    pub policies: &'a mut Policies,
}

/// Room a Logon reply needs: the largest challenge answer is 151 bytes.
pub const LOGON_REPLY_ROOM: usize = 256;

impl State {
    pub fn new() -> State {
        State::Logon(Logon::AwaitChallenge)
    }

    pub fn kind(&self) -> StateKind {
        match self {
            State::Logon(_) => StateKind::Logon,
            State::Update(_) => StateKind::Update,
            State::WorldSelect(_) => StateKind::WorldSelect,
            State::Closing(_) => StateKind::Closing,
        }
    }

    /// The opcode table of the current state.
    pub fn legal(&self) -> &'static [OpcodeRule] {
        match self {
            State::Logon(s) => s.legal(),
            State::Update(s) => s.legal(),
            State::WorldSelect(_) => WorldSelect::LEGAL,
            State::Closing(_) => &[],
        }
    }

    pub fn input(&self, now: Instant) -> Input {
        match self {
            State::Logon(s) => s.input(),
            State::WorldSelect(s) => s.input(now),
            State::Update(_) | State::Closing(_) => Input::Handle,
        }
    }

    pub fn deadline(&self, timeouts: &TimeoutConfig) -> Deadline {
        match self {
            State::Logon(_) => Deadline::FromEntry(timeouts.logon()),
            State::Update(_) => Deadline::Idle(timeouts.transfer_idle()),
            State::WorldSelect(_) => Deadline::Idle(timeouts.realm_list_idle()),
            State::Closing(_) => Deadline::FromEntry(timeouts.after_failure()),
        }
    }

    /// Output-ring room the next packet's answer may need.
    pub fn reply_room(&self) -> usize {
        match self {
            // The realm list goes out from the cache's shared encoding, not the ring.
            State::WorldSelect(_) => 0,
            // Transfer packets have no answer; file data goes out as room allows.
            State::Update(_) => 0,
            _ => LOGON_REPLY_ROOM,
        }
    }

    /// Handles one complete packet `msg` (opcode included) that the opcode table allowed.
    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        match self {
            State::Logon(s) => s.on_packet(opcode, msg, cx),
            State::Update(s) => s.on_packet(opcode, msg, cx),
            State::WorldSelect(s) => s.on_packet(opcode, msg, cx),
            State::Closing(_) => Step::Close(CloseReason::InputAfterRefusal),
        }
    }

    /// Handles the store's answer to a request this connection made.
    pub fn on_store_reply(self, reply: StoreReply, cx: &mut SessionCx<'_>) -> Step {
        match self {
            State::Logon(s) => s.on_store_reply(reply, cx),
            // Replies to fire-and-forget writes (audit rows of a refusal) need nothing more.
            other => {
                log_store_reply_error(&reply, cx);
                Step::Become(other)
            }
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Logs a store failure that no state waits for (an audit row of a refusal): with a full
/// store queue every refused client has one, so they are summarised.
fn log_store_reply_error(reply: &StoreReply, cx: &mut SessionCx<'_>) {
    if let Some(e) = reply.error() {
        crate::throttled_error!(
            cx.log,
            cx.now,
            "store: write failed",
            "{}: store write failed: {e}",
            cx.data
        );
    }
}

/// Frames the packet at the start of `buf` for `rule`: the message parsers decide completeness,
/// the rule bounds it.
pub fn check_packet(rule: &OpcodeRule, layout: Option<Layout>, buf: &[u8]) -> Check {
    use crate::protocol::{challenge, proof, realm_list, reconnect, xfer};
    if buf.len() < rule.min_len {
        return Check::Incomplete;
    }
    let layout = layout.unwrap_or(Layout::V8);
    let check = match rule.opcode {
        Opcode::LogonChallenge | Opcode::ReconnectChallenge => challenge::ChallengeC2s::check(buf),
        Opcode::LogonProof => proof::LogonProofC2s::check(layout, buf),
        Opcode::ReconnectProof => reconnect::ReconnectProofC2s::check(buf),
        Opcode::RealmList => realm_list::RealmListC2s::check(buf),
        Opcode::XferAccept => xfer::XferAcceptC2s::check(buf),
        Opcode::XferResume => xfer::XferResumeC2s::check(buf),
        Opcode::XferCancel => xfer::XferCancelC2s::check(buf),
        _ => Check::Invalid(ProtocolError::BadValue {
            field: "opcode",
            value: u32::from(rule.opcode.as_u8()),
        }),
    };
    match check {
        Check::Complete(n) if n > rule.max_len => Check::Invalid(ProtocolError::TooLong {
            len: n,
            max: rule.max_len,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests;
