//! The `Logon` state: challenge and SRP6 proof, or reconnect challenge and proof, and the
//! store round trips between them.
//!
//! Every refusal is answered with the result code real servers use (docs/protocol.md §8) and
//! ends in `Closing`. A wrong password is committed to the store (failed-login counter and
//! audit row) before the client is told, and a success is committed (session key, last
//! login, audit row) before the client gets M2: nothing the client was told is lost.
//!
//! An account locked to one address (AzerothCore's and CMaNGOS's `account.locked`) is refused
//! at the challenge from any other, with the code that schema's own server answers, before its
//! bans are looked at (both servers check in that order).
//!
//! An address the account lockout keeps out (`store::lockout`: wrong passwords from it, or
//! from strangers when it has never logged into the account) is refused "suspended" at the
//! challenge, after the bans, before any SRP work.
//!
//! An account with an authenticator (TOTP) gets the challenge's authenticator block (flag
//! 0x04, required) from 2.4.3/3.3.5a clients and must send a right token in the proof. A wrong
//! or missing token is refused exactly like a wrong password (same answer, same count), and so
//! is a token whose time step the account has used before (the success's commit refuses it,
//! RFC 6238 §5.2). 1.12 clients (layout 3) have no authenticator block: they get the PIN grid
//! (flag 1, [`crate::pin_grid`]) and type the current token on it, as CMaNGOS does.
//!
//! An account with a fixed PIN (`gatehouse account pin set`, vMaNGOS's) gets the PIN grid from
//! every client: 1.12 (flag 1) and 2.4.3/3.3.5a (bit 0x01, and 0x04 beside it when the account
//! also has an authenticator, both required). A 1.12 client has room for one PIN only: an
//! account with both types its authenticator token there (the stronger factor). A wrong or
//! missing PIN is a wrong credential like a wrong token (outcome `wrong_pin`).
//!
//! With `server.strict_version_check`, a right M1 must come with the client integrity hash of
//! its build and OS ([`crate::integrity`]), else "version invalid" (outcome
//! `version_mismatch`, not counted against the account), checked before the second factor.
//! A build that is being patched is not checked: its seed is the old build's.

use crate::account::{AccountId, AccountName, AccountStanding, IpLockRefusal};
use crate::integrity::IntegrityVerdict;
use crate::pin_grid::{self, SealedPin};
use crate::policy::{LogonEvent, Observation, Verdict};
use crate::protocol::challenge::{
    AuthenticatorChallenge, ChallengeC2s, ChallengeKind, LogonChallengeS2c, PinChallenge,
    SecurityChallenge, CRC_SALT,
};
use crate::protocol::client_tags::ClientTags;
use crate::protocol::opcode::Opcode;
use crate::protocol::proof::{LogonProofC2s, LogonProofS2c, ACCOUNT_FLAG_PROPASS};
use crate::protocol::reconnect::{ReconnectChallengeS2c, ReconnectProofC2s, ReconnectProofS2c};
use crate::protocol::result::LoginResult;
use crate::protocol::version::{Build, Layout};
use crate::protocol::xfer::XferInitiateS2c;
use crate::srp6::{verify_reconnect_proof, ProofFailure, ServerHandshake, SessionKey};
use crate::store::worker::{StoreOp, StoreReply};
use crate::store::{AccountRecord, FailureRecorded, LockoutStanding, LoginAttempt, LoginOutcome};
use crate::totp::{self, SealedTotpSecret, TotpKey, TotpStep};

use super::{CloseReason, Closing, Input, OpcodeRule, SessionCx, State, Step, Update, WorldSelect};

/// The phases of a logon.
pub enum Logon {
    AwaitChallenge,
    LoadingAccount(ChallengeKind),
    // Held inline, not boxed: a logon's states cost the loop no heap allocation (the
    // connection's slot is sized for the largest, about 200 bytes).
    AwaitProof(PendingProof),
    AwaitReconnectProof(PendingReconnect),
    RecordingFailure(Refusal),
    RecordingSuccess(PendingSuccess),
    RenewingSession(SessionKey),
}

/// A refusal waiting for its store write; the answer's form depends on the message refused.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    Proof(LoginResult),
    ReconnectProof(LoginResult),
}

impl Refusal {
    fn with_result(self, result: LoginResult) -> Refusal {
        match self {
            Refusal::Proof(_) => Refusal::Proof(result),
            Refusal::ReconnectProof(_) => Refusal::ReconnectProof(result),
        }
    }
}

/// A reconnect answered with 16 random bytes; the proof must hash them with the old key.
pub struct PendingReconnect {
    challenge_data: [u8; 16],
    key: SessionKey,
}

/// What the proof is checked against: the one (b, B) pair this challenge answered with.
pub struct PendingProof {
    handshake: ServerHandshake,
    account: AccountId,
    second_factor: SecondFactor,
}

/// What the proof must carry besides a right M1. Secrets are opened only when a right M1
/// needs them.
pub enum SecondFactor {
    None,
    /// An authenticator token in the token field (protocol 8, flag 0x04).
    Totp(SealedTotpSecret),
    /// The PIN grid (flag 1) answered with the current authenticator token (1.12 clients).
    TotpGrid {
        secret: SealedTotpSecret,
        grid: PinChallenge,
    },
    /// The PIN grid answered with the account's fixed PIN; on protocol 8, with the
    /// authenticator token beside it when the account has one (flags 0x01 | 0x04).
    FixedPin {
        pin: SealedPin,
        grid: PinChallenge,
        totp: Option<SealedTotpSecret>,
    },
}

impl SecondFactor {
    /// What an account with `totp` and `pin` is asked for by a client of `layout`.
    fn for_account(
        totp: Option<SealedTotpSecret>,
        pin: Option<SealedPin>,
        layout: Layout,
    ) -> SecondFactor {
        match (layout, totp, pin) {
            (_, None, None) => SecondFactor::None,
            // One PIN fits the 1.12 grid: the authenticator's token, if the account has one.
            (Layout::V2 | Layout::V3, Some(secret), _) => SecondFactor::TotpGrid {
                secret,
                grid: pin_grid::challenge(),
            },
            (Layout::V8, Some(secret), None) => SecondFactor::Totp(secret),
            (_, totp, Some(pin)) => SecondFactor::FixedPin {
                pin,
                grid: pin_grid::challenge(),
                totp,
            },
        }
    }

    /// The challenge's security blocks that ask for it.
    fn challenge(&self) -> SecurityChallenge {
        let required = Some(AuthenticatorChallenge { required: true });
        match self {
            SecondFactor::None => SecurityChallenge::default(),
            SecondFactor::Totp(_) => SecurityChallenge {
                authenticator: required,
                ..SecurityChallenge::default()
            },
            SecondFactor::TotpGrid { grid, .. } => SecurityChallenge {
                pin: Some(*grid),
                ..SecurityChallenge::default()
            },
            SecondFactor::FixedPin { grid, totp, .. } => SecurityChallenge {
                pin: Some(*grid),
                authenticator: totp.as_ref().and(required),
                ..SecurityChallenge::default()
            },
        }
    }
}

pub struct PendingSuccess {
    server_proof: crate::srp6::Proof,
    session_key: SessionKey,
    /// The name, for a refusal should the token turn out to be used before.
    name: AccountName,
    /// How a token used before is audited: `wrong_token`, or `wrong_pin` when it was typed
    /// on the PIN grid.
    reused: LoginOutcome,
}

/// Challenge or reconnect challenge: 34 + name (1..=16) bytes.
pub(super) const CHALLENGE_RULES: &[OpcodeRule] = &[
    OpcodeRule {
        opcode: Opcode::LogonChallenge,
        min_len: 4,
        max_len: 50,
    },
    OpcodeRule {
        opcode: Opcode::ReconnectChallenge,
        min_len: 4,
        max_len: 50,
    },
];

/// Reconnect proof: exactly 58 bytes.
pub(super) const RECONNECT_PROOF_RULES: &[OpcodeRule] = &[OpcodeRule {
    opcode: Opcode::ReconnectProof,
    min_len: 58,
    max_len: 58,
}];

/// Proof: 74/75 bytes plus optional security blocks and at most a few telemetry keys.
pub(super) const PROOF_RULES: &[OpcodeRule] = &[OpcodeRule {
    opcode: Opcode::LogonProof,
    min_len: 74,
    max_len: 75 + 8 * 30 + 36 + 20 + 17,
}];

impl Logon {
    pub fn legal(&self) -> &'static [OpcodeRule] {
        match self {
            Logon::AwaitChallenge => CHALLENGE_RULES,
            Logon::AwaitProof(_) => PROOF_RULES,
            Logon::AwaitReconnectProof(_) => RECONNECT_PROOF_RULES,
            Logon::LoadingAccount(_)
            | Logon::RecordingFailure(_)
            | Logon::RecordingSuccess(_)
            | Logon::RenewingSession(_) => &[],
        }
    }

    pub fn input(&self) -> Input {
        match self {
            Logon::AwaitChallenge | Logon::AwaitProof(_) | Logon::AwaitReconnectProof(_) => {
                Input::Handle
            }
            Logon::LoadingAccount(_)
            | Logon::RecordingFailure(_)
            | Logon::RecordingSuccess(_)
            | Logon::RenewingSession(_) => Input::Hold,
        }
    }

    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        match (self, opcode) {
            (Logon::AwaitChallenge, Opcode::LogonChallenge | Opcode::ReconnectChallenge) => {
                handle_challenge(msg, cx)
            }
            (Logon::AwaitProof(pending), Opcode::LogonProof) => {
                handle_logon_proof(pending, msg, cx)
            }
            (Logon::AwaitReconnectProof(pending), Opcode::ReconnectProof) => {
                handle_reconnect_proof(pending, msg, cx)
            }
            // The opcode tables make every other pair unreachable; refuse rather than trust that.
            (state, _) => Step::Close(CloseReason::IllegalOpcode {
                opcode: opcode.as_u8(),
                state: State::Logon(state).kind().as_str(),
            }),
        }
    }

    pub fn on_store_reply(self, reply: StoreReply, cx: &mut SessionCx<'_>) -> Step {
        match (self, reply) {
            (Logon::LoadingAccount(kind), StoreReply::AccountLoaded(result)) => {
                on_account_loaded(kind, result, cx)
            }
            (Logon::RecordingFailure(refusal), StoreReply::LoginFailureRecorded(stored)) => {
                let refusal = match stored {
                    Ok(FailureRecorded::Locked { until, scope }) => {
                        log::warn!(
                            "{}: account locked for {} until unix {until} after {} wrong \
                             passwords",
                            cx.data,
                            scope.as_str(),
                            cx.settings.lockout.attempts
                        );
                        refusal.with_result(LoginResult::FailSuspended)
                    }
                    Ok(_) => refusal,
                    // A failure that cannot be counted is not judged: were a wrong password
                    // answered "wrong" while a right one can only be answered "busy", the
                    // answers would tell passwords apart with the lockout out of play. Both
                    // are "busy" now.
                    Err(e) => {
                        crate::throttled_error!(
                            cx.log,
                            cx.now,
                            "store: failed logon not recorded",
                            "{}: could not record the failed logon, answered busy: {e}",
                            cx.data
                        );
                        refusal.with_result(LoginResult::FailDbBusy)
                    }
                };
                match refusal {
                    Refusal::Proof(result) => refuse_proof(result, cx),
                    Refusal::ReconnectProof(result) => refuse_reconnect_proof(result, cx),
                }
            }
            (Logon::RenewingSession(key), StoreReply::SessionRenewed(stored)) => {
                on_session_renewed(key, stored, cx)
            }
            (Logon::RecordingSuccess(pending), StoreReply::LoginSuccessRecorded(stored)) => {
                on_login_success_recorded(pending, stored, cx)
            }
            // A reply this phase did not ask for (an audit write of an earlier refusal).
            (state, reply) => {
                super::log_store_reply_error(&reply, cx);
                Step::Become(State::Logon(state))
            }
        }
    }
}

/// The name the challenge carried. Every phase after the challenge has one; a phase without
/// would be a bug, and closing is the safe answer to it.
fn challenged_name(cx: &SessionCx<'_>) -> Result<AccountName, CloseReason> {
    cx.data.name.ok_or(CloseReason::Malformed(
        crate::protocol::wire::ProtocolError::Truncated,
    ))
}

/// A committed logon or reconnect: keep the key and the character counts for the realm list.
fn keep_session(
    cx: &mut SessionCx<'_>,
    key: SessionKey,
    stored: Result<Vec<crate::store::CharacterCount>, crate::store::StoreError>,
) -> Result<(), crate::store::StoreError> {
    cx.data.characters = stored?;
    cx.data.session_key = Some(key);
    Ok(())
}

/// The request that commits a refused attempt; wrong credentials count towards the account
/// lockout. The decision is counted and told to the policies here, where it is made.
fn record_failure(cx: &mut SessionCx<'_>, attempt: LoginAttempt) -> StoreOp {
    decided(cx, &attempt);
    StoreOp::RecordLoginFailure {
        attempt,
        lockout: cx.settings.lockout,
    }
}

/// Counts how an attempt ended, and tells the policies of wrong credentials (the address
/// lockout counts them).
fn decided(cx: &mut SessionCx<'_>, attempt: &LoginAttempt) {
    cx.outcomes
        .record(attempt.outcome, attempt.build, cx.unix_now);
    if attempt.outcome.counts_against_account() {
        cx.policies.observe(&Observation::WrongCredentials {
            ip: attempt.peer,
            class: cx.data.class,
            now: cx.now,
        });
    }
}

fn attempt(cx: &SessionCx<'_>, name: AccountName, outcome: LoginOutcome) -> LoginAttempt {
    LoginAttempt {
        account: cx.data.account,
        name,
        peer: cx.data.peer.ip(),
        build: cx.data.build.unwrap_or(Build(0)),
        client: cx.data.client,
        outcome,
        at: cx.unix_now,
    }
}

/// Sends a challenge failure (`00 00 <result>`) and moves to `Closing`.
fn refuse_challenge(result: LoginResult, cx: &mut SessionCx<'_>) -> Step {
    let reply = LogonChallengeS2c::Failure(result);
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    if let Err(e) = reply.encode(layout, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Closing(Closing))
}

/// Sends a proof failure in the layout's form and moves to `Closing`.
fn refuse_proof(result: LoginResult, cx: &mut SessionCx<'_>) -> Step {
    let reply = LogonProofS2c::Failure(result);
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    if let Err(e) = reply.encode(layout, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Closing(Closing))
}

/// CMD_AUTH_LOGON_CHALLENGE or CMD_AUTH_RECONNECT_CHALLENGE: check the version, then ask
/// the store for the account (and, for a reconnect, its session ticket).
fn handle_challenge(msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
    let challenge = match ChallengeC2s::parse(msg) {
        Ok(c) => c,
        Err(e) => return Step::Close(CloseReason::Malformed(e)),
    };
    let kind = challenge.kind;
    let build = challenge.version.build;
    cx.data.build = Some(build);
    cx.data.name = Some(challenge.account_name);
    cx.data.layout = challenge.protocol.layout();
    cx.data.client = ClientTags {
        platform: challenge.platform,
        os: challenge.os,
        locale: challenge.locale,
    };

    // The policies run before anything costs a store round trip or an audit row.
    let event = LogonEvent {
        ip: cx.data.peer.ip(),
        class: cx.data.class,
        name: challenge.account_name,
        kind,
        now: cx.now,
        unix_now: cx.unix_now,
    };
    if let Verdict::Refuse(reason) = cx.policies.on_logon(&event) {
        log::info!("{}: refused: {reason}", cx.data);
        return refuse(kind, reason.result(), cx);
    }

    let Some(layout) = cx.data.layout else {
        log::info!(
            "{}: refused: protocol version {} is not spoken here (build {build})",
            cx.data,
            challenge.protocol.0
        );
        return refuse_version(kind, challenge.account_name, cx);
    };
    // 1.12.1 logs in with layout 3 and reconnects with 2; 2.4.3/3.3.5a use 8 for both.
    let layout_fits = match kind {
        ChallengeKind::Logon => layout != Layout::V2,
        ChallengeKind::Reconnect => layout != Layout::V3,
    };
    if !layout_fits {
        log::info!("{}: refused: build {build} with layout {layout:?}", cx.data);
        return refuse_version(kind, challenge.account_name, cx);
    }
    if !cx.settings.accepted_builds.contains(&build) {
        // An old build may be patched — but only once it has proven its password, so the
        // logon goes on as usual and the proof decides (docs/protocol.md §7.1).
        let patch = match kind {
            ChallengeKind::Logon => cx.patches.find(build, challenge.locale),
            ChallengeKind::Reconnect => None,
        };
        let Some(patch) = patch else {
            log::info!("{}: refused: build {build} is not accepted", cx.data);
            return refuse_version(kind, challenge.account_name, cx);
        };
        log::info!("{}: build {build} is old; a patch is ready", cx.data);
        cx.data.patch = Some(patch.clone());
    }
    log::debug!("{}: {kind:?} challenge, build {build}", cx.data);
    Step::Ask(
        State::Logon(Logon::LoadingAccount(kind)),
        StoreOp::LoadAccount {
            name: challenge.account_name,
            peer: cx.data.peer.ip(),
            now: cx.unix_now,
        },
    )
}

/// A build that is not accepted: counted (console `stats`), not audited, since anyone can send
/// it without knowing an account and each audit row is a durable write.
fn refuse_version(kind: ChallengeKind, name: AccountName, cx: &mut SessionCx<'_>) -> Step {
    let a = attempt(cx, name, LoginOutcome::VersionInvalid);
    decided(cx, &a);
    refuse(kind, LoginResult::FailVersionInvalid, cx)
}

/// Answers a challenge of either kind with a failure and moves to `Closing`.
fn refuse(kind: ChallengeKind, result: LoginResult, cx: &mut SessionCx<'_>) -> Step {
    match kind {
        ChallengeKind::Logon => refuse_challenge(result, cx),
        ChallengeKind::Reconnect => refuse_reconnect_challenge(result, cx),
    }
}

/// Sends a reconnect-challenge failure (`02 <result>`) and moves to `Closing`.
fn refuse_reconnect_challenge(result: LoginResult, cx: &mut SessionCx<'_>) -> Step {
    if let Err(e) = ReconnectChallengeS2c::Failure(result).encode(&mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Closing(Closing))
}

/// Sends a reconnect-proof failure in the layout's form and moves to `Closing`.
fn refuse_reconnect_proof(result: LoginResult, cx: &mut SessionCx<'_>) -> Step {
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    ReconnectProofS2c { result }.encode(layout, &mut cx.out);
    Step::Become(State::Closing(Closing))
}

/// The store answered the account lookup: refuse, or answer the challenge (B, g, N and the
/// salt for a logon; fresh challenge data for a reconnect).
fn on_account_loaded(
    kind: ChallengeKind,
    result: Result<Option<AccountRecord>, crate::store::StoreError>,
    cx: &mut SessionCx<'_>,
) -> Step {
    let name = match challenged_name(cx) {
        Ok(name) => name,
        Err(reason) => return Step::Close(reason),
    };
    let account = match result {
        Ok(Some(account)) => account,
        Ok(None) => {
            // Counted, not audited: a name that is no account costs the database no write.
            crate::throttled_info!(
                cx.log,
                cx.now,
                "unknown account",
                "{}: refused: unknown account",
                cx.data
            );
            let a = attempt(cx, name, LoginOutcome::UnknownAccount);
            decided(cx, &a);
            return refuse(kind, LoginResult::FailUnknownAccount, cx);
        }
        Err(e) => {
            crate::throttled_error!(
                cx.log,
                cx.now,
                "store: account lookup failed",
                "{}: account lookup failed: {e}",
                cx.data
            );
            return refuse(kind, LoginResult::FailDbBusy, cx);
        }
    };
    cx.data.account = Some(account.id);
    cx.data.security_level = account.security_level;
    // The address lock comes before the bans, as in both projects' servers; a reconnect is not
    // checked against it (neither checks one).
    if kind == ChallengeKind::Logon {
        if let Some(lock) = account.ip_lock.filter(|l| !l.admits(cx.data.peer.ip())) {
            log::info!(
                "{}: refused: the account is locked to another address",
                cx.data
            );
            let a = attempt(cx, name, LoginOutcome::IpLocked);
            let op = record_failure(cx, a);
            let layout = cx.data.layout.unwrap_or(Layout::V8);
            return refuse(kind, ip_lock_result(lock.refusal, layout), cx).asking(op);
        }
    }
    let refusal = match account.standing {
        AccountStanding::Active => None,
        AccountStanding::Banned => Some((LoginOutcome::Banned, LoginResult::FailBanned)),
        AccountStanding::Suspended { until } if until > cx.unix_now => {
            Some((LoginOutcome::Suspended, LoginResult::FailSuspended))
        }
        AccountStanding::Suspended { .. } => None,
    };
    if let Some((outcome, result)) = refusal {
        log::info!("{}: refused: account {}", cx.data, outcome.as_str());
        let a = attempt(cx, name, outcome);
        let op = record_failure(cx, a);
        return refuse(kind, result, cx).asking(op);
    }
    // Wrong passwords locked this address out (store::lockout): "suspended", as the schemas'
    // own servers answer their lockout, before any SRP work.
    if let LockoutStanding::LockedOut { until, scope } = account.lockout {
        log::info!(
            "{}: refused: the account is locked for {} until unix {until}",
            cx.data,
            scope.as_str()
        );
        let a = attempt(cx, name, LoginOutcome::LockedOut);
        let op = record_failure(cx, a);
        return refuse(kind, LoginResult::FailSuspended, cx).asking(op);
    }
    if kind == ChallengeKind::Reconnect {
        return answer_reconnect_challenge(account, cx);
    }

    let handshake = ServerHandshake::new(account.verifier, account.salt);
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    let second_factor = SecondFactor::for_account(account.totp, account.pin, layout);
    let security = second_factor.challenge();
    let reply = LogonChallengeS2c::Success {
        server_public_key: *handshake.public_key(),
        salt: account.salt,
        crc_salt: CRC_SALT,
        security,
    };
    if let Err(e) = reply.encode(layout, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Logon(Logon::AwaitProof(PendingProof {
        handshake,
        account: account.id,
        second_factor,
    })))
}

/// The challenge answer to a logon from an address the account is not locked to.
fn ip_lock_result(refusal: IpLockRefusal, layout: Layout) -> LoginResult {
    match refusal {
        IpLockRefusal::LockedEnforced if LoginResult::FailLockedEnforced.suits(layout) => {
            LoginResult::FailLockedEnforced
        }
        IpLockRefusal::LockedEnforced | IpLockRefusal::Suspended => LoginResult::FailSuspended,
    }
}

/// CMD_AUTH_LOGON_PROOF: verify M1 (constant time), then commit the outcome before answering.
fn handle_logon_proof(pending: PendingProof, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    let proof = match LogonProofC2s::parse(layout, msg) {
        Ok(p) => p,
        Err(e) => return Step::Close(CloseReason::Malformed(e)),
    };
    let name = match challenged_name(cx) {
        Ok(name) => name,
        Err(reason) => return Step::Close(reason),
    };
    debug_assert_eq!(cx.data.account, Some(pending.account));
    let verified = pending
        .handshake
        .verify(&name, &proof.client_public_key, &proof.client_proof);
    let mut totp_step = None;
    if verified.is_ok() && cx.data.patch.is_none() {
        if let Some(refusal) = check_integrity(&proof, name, cx) {
            return refusal;
        }
    }
    if verified.is_ok() {
        match check_second_factor(pending.account, &pending.second_factor, &proof, name, cx) {
            SecondFactorCheck::Passed(step) => totp_step = step,
            SecondFactorCheck::Refused(refusal) => return *refusal,
        }
    }
    match verified {
        Ok(_) if cx.data.patch.is_some() => offer_patch(name, cx),
        Ok(success) => {
            let a = attempt(cx, name, LoginOutcome::Success);
            decided(cx, &a);
            let expires_at = cx.settings.ticket_expiry(cx.unix_now);
            Step::Ask(
                State::Logon(Logon::RecordingSuccess(PendingSuccess {
                    server_proof: success.server_proof,
                    session_key: success.session_key,
                    name,
                    reused: match pending.second_factor {
                        SecondFactor::TotpGrid { .. } => LoginOutcome::WrongPin,
                        _ => LoginOutcome::WrongToken,
                    },
                })),
                StoreOp::RecordLoginSuccess {
                    attempt: a,
                    key: success.session_key,
                    expires_at,
                    totp_step,
                },
            )
        }
        Err(ProofFailure::PublicKeyZero) => Step::Close(CloseReason::ZeroPublicKey),
        Err(ProofFailure::Mismatch) => refuse_credentials(name, LoginOutcome::WrongPassword, cx),
    }
}

/// A wrong credential, the password or (after a right one) the authenticator token: counted
/// against the account and committed before the answer.
fn refuse_credentials(name: AccountName, outcome: LoginOutcome, cx: &mut SessionCx<'_>) -> Step {
    let why = match outcome {
        LoginOutcome::WrongToken => "wrong or missing authenticator token",
        LoginOutcome::WrongPin => "wrong or missing PIN",
        _ => "wrong password",
    };
    log::info!("{}: refused: {why}", cx.data);
    let a = attempt(cx, name, outcome);
    let op = record_failure(cx, a);
    // Real servers answer a wrong password like an unknown name, so names cannot be probed.
    Step::Ask(
        State::Logon(Logon::RecordingFailure(Refusal::Proof(
            LoginResult::FailUnknownAccount,
        ))),
        op,
    )
}

/// What the second factor says of a proof whose M1 was right.
enum SecondFactorCheck {
    /// The logon goes on; with a token, its step, which the success uses up (a step used
    /// before is refused then).
    Passed(Option<TotpStep>),
    /// Boxed: a refusal is rare, and a step is large (a logon's states are held inline).
    Refused(Box<Step>),
}

/// The client integrity check (`server.strict_version_check`), once M1 was right: `None` if
/// it passed (or is off), else the refusal, "version invalid", audited and not counted.
fn check_integrity(
    proof: &LogonProofC2s,
    name: AccountName,
    cx: &mut SessionCx<'_>,
) -> Option<Step> {
    let build = cx.data.build.unwrap_or(Build(0));
    let verdict = cx.settings.version_check.judge(
        build,
        crate::protocol::challenge::fourcc_text(cx.data.client.os).as_bytes(),
        &proof.client_public_key,
        &proof.crc_hash,
    );
    let why = match verdict {
        IntegrityVerdict::Passed => return None,
        IntegrityVerdict::Mismatch => "the client integrity hash does not match its build",
        IntegrityVerdict::NoSeed => "no checksum seed is known for this build and OS",
    };
    log::info!("{}: refused: {why} (build {build})", cx.data);
    let a = attempt(cx, name, LoginOutcome::VersionMismatch);
    let op = record_failure(cx, a);
    Some(Step::Ask(
        State::Logon(Logon::RecordingFailure(Refusal::Proof(
            LoginResult::FailVersionInvalid,
        ))),
        op,
    ))
}

/// The second factor, once M1 was right.
/// A wrong or missing token or PIN is a wrong credential. A secret that cannot be opened (no
/// key, another key, a corrupt row) is the server's fault, not the client's: answered "busy"
/// and not counted against the account. Neither the token, the PIN nor the secret is ever
/// logged.
fn check_second_factor(
    account: AccountId,
    second_factor: &SecondFactor,
    proof: &LogonProofC2s,
    name: AccountName,
    cx: &mut SessionCx<'_>,
) -> SecondFactorCheck {
    // A clock before 1970 makes every token wrong rather than panicking.
    let unix_now = u64::try_from(cx.unix_now).unwrap_or(0);
    let wrong = |outcome, cx: &mut SessionCx<'_>| {
        SecondFactorCheck::Refused(Box::new(refuse_credentials(name, outcome, cx)))
    };
    match second_factor {
        SecondFactor::None => SecondFactorCheck::Passed(None),
        SecondFactor::Totp(sealed) => {
            let secret = match open_or_busy(name, cx, |key| totp::open(key, account, sealed)) {
                Ok(secret) => secret,
                Err(refused) => return refused,
            };
            check_token(&secret, proof, name, unix_now, cx)
        }
        SecondFactor::TotpGrid { secret, grid } => {
            let secret = match open_or_busy(name, cx, |key| totp::open(key, account, secret)) {
                Ok(secret) => secret,
                Err(refused) => return refused,
            };
            match proof
                .security
                .pin
                .and_then(|p| pin_grid::verify_totp(grid, &p, &secret, unix_now))
            {
                Some(step) => SecondFactorCheck::Passed(Some(step)),
                None => wrong(LoginOutcome::WrongPin, cx),
            }
        }
        SecondFactor::FixedPin { pin, grid, totp } => {
            let pin = match open_or_busy(name, cx, |key| pin_grid::open(key, account, pin)) {
                Ok(pin) => pin,
                Err(refused) => return refused,
            };
            let right = proof
                .security
                .pin
                .is_some_and(|p| pin_grid::verify_fixed(grid, &p, &pin));
            if !right {
                return wrong(LoginOutcome::WrongPin, cx);
            }
            let Some(sealed) = totp else {
                return SecondFactorCheck::Passed(None);
            };
            let secret = match open_or_busy(name, cx, |key| totp::open(key, account, sealed)) {
                Ok(secret) => secret,
                Err(refused) => return refused,
            };
            check_token(&secret, proof, name, unix_now, cx)
        }
    }
}

/// The token of the proof's authenticator field (protocol 8).
fn check_token(
    secret: &totp::TotpSecret,
    proof: &LogonProofC2s,
    name: AccountName,
    unix_now: u64,
    cx: &mut SessionCx<'_>,
) -> SecondFactorCheck {
    match proof
        .security
        .authenticator
        .and_then(|token| totp::verify(secret, token.as_bytes(), unix_now))
    {
        Some(step) => SecondFactorCheck::Passed(Some(step)),
        None => SecondFactorCheck::Refused(Box::new(refuse_credentials(
            name,
            LoginOutcome::WrongToken,
            cx,
        ))),
    }
}

/// Opens a sealed authenticator secret or PIN under `totp.key`; one that cannot be opened is
/// answered "busy" (audited `db_busy`, not counted).
fn open_or_busy<T, E: std::fmt::Display>(
    name: AccountName,
    cx: &mut SessionCx<'_>,
    open: impl FnOnce(&TotpKey) -> Result<T, E>,
) -> Result<T, SecondFactorCheck> {
    let opened = match &cx.settings.totp_key {
        Some(key) => open(key).map_err(|e| e.to_string()),
        None => Err("no totp.key is configured".to_string()),
    };
    opened.map_err(|why| {
        log::error!(
            "{}: refused: the account's authenticator secret or PIN cannot be used: {why}",
            cx.data
        );
        let a = attempt(cx, name, LoginOutcome::DbBusy);
        let op = record_failure(cx, a);
        SecondFactorCheck::Refused(Box::new(
            refuse_proof(LoginResult::FailDbBusy, cx).asking(op),
        ))
    })
}

/// A right password from an old build: the download answer and CMD_XFER_INITIATE, then the
/// `Update` state. No session is issued: the patched client logs in again afterwards.
fn offer_patch(name: AccountName, cx: &mut SessionCx<'_>) -> Step {
    let Some(patch) = cx.data.patch.take() else {
        return Step::Close(CloseReason::TransferFailed);
    };
    let a = attempt(cx, name, LoginOutcome::Patched);
    let op = record_failure(cx, a);
    // The download answer is the short two-byte form for every layout, as the servers that
    // patch (vMangos) and AzerothCore's version answers send it.
    let answer = LogonProofS2c::Failure(LoginResult::LoginDownloadFile);
    if let Err(e) = answer.encode(Layout::V3, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    if let Err(e) = XferInitiateS2c::patch(patch.size, patch.md5).encode(&mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Ask(State::Update(Update::AwaitDecision(Box::new(patch))), op)
}

/// The success is committed: send M2 and show the realm list.
fn on_login_success_recorded(
    pending: PendingSuccess,
    stored: Result<Vec<crate::store::CharacterCount>, crate::store::StoreError>,
    cx: &mut SessionCx<'_>,
) -> Step {
    if let Err(crate::store::StoreError::TokenReused) = stored {
        // Right password, and a token whose step this account has used before (RFC 6238
        // §5.2): a replayed token is a wrong credential, counted like any other.
        log::info!("{}: the authenticator token was used before", cx.data);
        return refuse_credentials(pending.name, pending.reused, cx);
    }
    if let Err(e) = keep_session(cx, pending.session_key, stored) {
        // The key was not saved, so no world server could admit the player: refuse.
        crate::throttled_error!(
            cx.log,
            cx.now,
            "store: logon not recorded",
            "{}: could not record the logon: {e}",
            cx.data
        );
        return refuse_proof(LoginResult::FailDbBusy, cx);
    }
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    let reply = LogonProofS2c::Success {
        server_proof: pending.server_proof,
        // 1.12 has no account-flags field; later clients get what every server sends.
        account_flags: if layout.is_pre_bc() {
            0
        } else {
            ACCOUNT_FLAG_PROPASS
        },
        survey_id: 0,
        login_flags: 0,
    };
    if let Err(e) = reply.encode(layout, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    // At debug: the audit has every logon, and a line per logon costs the loop a format and
    // an allocation at thousands a second. Refusals stay at info.
    log::debug!(
        "{}: logged in (build {})",
        cx.data,
        cx.data.build.unwrap_or(Build(0))
    );
    Step::Become(State::WorldSelect(WorldSelect::new()))
}

/// A reconnect needs a live ticket: the key of an earlier logon that has not expired.
fn answer_reconnect_challenge(account: AccountRecord, cx: &mut SessionCx<'_>) -> Step {
    let key = match account.session {
        Some(ticket) if ticket.expires_at > cx.unix_now => ticket.key,
        _ => {
            log::info!("{}: reconnect refused: no live session", cx.data);
            let op = cx.data.name.map(|name| {
                let a = attempt(cx, name, LoginOutcome::ReconnectFailed);
                record_failure(cx, a)
            });
            let step = refuse_reconnect_challenge(LoginResult::FailUnknownAccount, cx);
            return match op {
                Some(op) => step.asking(op),
                None => step,
            };
        }
    };
    let mut challenge_data = [0u8; 16];
    crate::srp6::fill_random(&mut challenge_data);
    let reply = ReconnectChallengeS2c::Success {
        challenge_data,
        checksum_salt: CRC_SALT,
    };
    if let Err(e) = reply.encode(&mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Logon(Logon::AwaitReconnectProof(PendingReconnect {
        challenge_data,
        key,
    })))
}

/// CMD_AUTH_RECONNECT_PROOF: R2 = SHA1(name ‖ R1 ‖ challenge ‖ K), compared in constant time.
/// R3 is not checked: its formula does not hold for real 1.12 clients (docs/srp6.md §8).
fn handle_reconnect_proof(pending: PendingReconnect, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
    let proof = match ReconnectProofC2s::parse(msg) {
        Ok(p) => p,
        Err(e) => return Step::Close(CloseReason::Malformed(e)),
    };
    let name = match challenged_name(cx) {
        Ok(name) => name,
        Err(reason) => return Step::Close(reason),
    };
    if !verify_reconnect_proof(
        &name,
        &proof.client_data,
        &pending.challenge_data,
        &pending.key,
        &proof.client_proof,
    ) {
        log::info!("{}: reconnect refused: wrong proof", cx.data);
        let a = attempt(cx, name, LoginOutcome::ReconnectFailed);
        let op = record_failure(cx, a);
        return Step::Ask(
            State::Logon(Logon::RecordingFailure(Refusal::ReconnectProof(
                LoginResult::FailUnknownAccount,
            ))),
            op,
        );
    }
    let a = attempt(cx, name, LoginOutcome::ReconnectSuccess);
    decided(cx, &a);
    let expires_at = cx.settings.ticket_expiry(cx.unix_now);
    Step::Ask(
        State::Logon(Logon::RenewingSession(pending.key)),
        StoreOp::RenewSession {
            attempt: a,
            expires_at,
        },
    )
}

/// The renewed ticket is committed: the reconnect succeeded.
fn on_session_renewed(
    key: SessionKey,
    stored: Result<Vec<crate::store::CharacterCount>, crate::store::StoreError>,
    cx: &mut SessionCx<'_>,
) -> Step {
    if let Err(e) = keep_session(cx, key, stored) {
        log::info!("{}: reconnect refused: {e}", cx.data);
        return refuse_reconnect_proof(LoginResult::FailUnknownAccount, cx);
    }
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    ReconnectProofS2c {
        result: LoginResult::Success,
    }
    .encode(layout, &mut cx.out);
    log::debug!(
        "{}: reconnected (build {})",
        cx.data,
        cx.data.build.unwrap_or(Build(0))
    );
    Step::Become(State::WorldSelect(WorldSelect::new()))
}
