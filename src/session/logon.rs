//! The `Logon` state: challenge, SRP6 proof, and the store round trips between them.
//!
//! Every refusal is answered with the result code real servers use (login-protocol.md §8) and
//! ends in `Closing`. A wrong password is committed to the store (failed-login counter and
//! audit row) before the client is told, and a success is committed (session key, last
//! login, audit row) before the client gets M2: nothing the client was told is lost.

use crate::account::{AccountId, AccountName, AccountStanding};
use crate::protocol::challenge::{
    ChallengeC2s, ChallengeKind, LogonChallengeS2c, SecurityChallenge, CRC_SALT,
};
use crate::protocol::opcode::Opcode;
use crate::protocol::proof::{LogonProofC2s, LogonProofS2c, ACCOUNT_FLAG_PROPASS};
use crate::protocol::result::LoginResult;
use crate::protocol::version::{Build, Layout};
use crate::srp6::{ProofFailure, ServerHandshake, SessionKey};
use crate::store::worker::{StoreOp, StoreReply};
use crate::store::{AccountRecord, LoginAttempt, LoginOutcome};

use super::{CloseReason, Closing, Input, OpcodeRule, SessionCx, State, Step, WorldSelect};

/// The phases of a logon.
pub enum Logon {
    AwaitChallenge,
    LoadingAccount,
    AwaitProof(Box<PendingProof>),
    RecordingFailure(LoginResult),
    RecordingSuccess(Box<PendingSuccess>),
}

/// What the proof is checked against: the one (b, B) pair this challenge answered with.
pub struct PendingProof {
    handshake: ServerHandshake,
    account: AccountId,
}

pub struct PendingSuccess {
    server_proof: crate::srp6::Proof,
    session_key: SessionKey,
}

/// Challenge: 34 + name (1..=16) bytes.
const CHALLENGE_RULES: &[OpcodeRule] = &[OpcodeRule {
    opcode: Opcode::LogonChallenge,
    min_len: 4,
    max_len: 50,
}];

/// Proof: 74/75 bytes plus optional security blocks and at most a few telemetry keys.
const PROOF_RULES: &[OpcodeRule] = &[OpcodeRule {
    opcode: Opcode::LogonProof,
    min_len: 74,
    max_len: 75 + 8 * 30 + 36 + 20 + 17,
}];

impl Logon {
    pub fn legal(&self) -> &'static [OpcodeRule] {
        match self {
            Logon::AwaitChallenge => CHALLENGE_RULES,
            Logon::AwaitProof(_) => PROOF_RULES,
            Logon::LoadingAccount | Logon::RecordingFailure(_) | Logon::RecordingSuccess(_) => &[],
        }
    }

    pub fn input(&self) -> Input {
        match self {
            Logon::AwaitChallenge | Logon::AwaitProof(_) => Input::Handle,
            Logon::LoadingAccount | Logon::RecordingFailure(_) | Logon::RecordingSuccess(_) => {
                Input::Hold
            }
        }
    }

    pub fn on_packet(self, opcode: Opcode, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
        match (self, opcode) {
            (Logon::AwaitChallenge, Opcode::LogonChallenge) => handle_logon_challenge(msg, cx),
            (Logon::AwaitProof(pending), Opcode::LogonProof) => {
                handle_logon_proof(*pending, msg, cx)
            }
            // The opcode tables make every other pair unreachable; refuse rather than trust that.
            (state, _) => Step::Close(CloseReason::IllegalOpcode {
                opcode: opcode.as_u8(),
                state: State::Logon(state).kind(),
            }),
        }
    }

    pub fn on_store_reply(self, reply: StoreReply, cx: &mut SessionCx<'_>) -> Step {
        match (self, reply) {
            (Logon::LoadingAccount, StoreReply::AccountLoaded(result)) => {
                on_account_loaded(result, cx)
            }
            (Logon::RecordingFailure(result), StoreReply::LoginFailureRecorded(stored)) => {
                if let Err(e) = stored {
                    log::error!("{}: could not record the failed logon: {e}", cx.data);
                }
                refuse_proof(result, cx)
            }
            (Logon::RecordingSuccess(pending), StoreReply::LoginSuccessRecorded(stored)) => {
                on_login_success_recorded(*pending, stored, cx)
            }
            // A reply this phase did not ask for (an audit write of an earlier refusal).
            (state, reply) => {
                super::log_store_reply_error(&reply, cx.data);
                Step::Become(State::Logon(state))
            }
        }
    }
}

fn attempt(cx: &SessionCx<'_>, name: AccountName, outcome: LoginOutcome) -> LoginAttempt {
    LoginAttempt {
        account: cx.data.account,
        name,
        peer: cx.data.peer.ip(),
        build: cx.data.build.unwrap_or(Build(0)),
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

/// CMD_AUTH_LOGON_CHALLENGE: check the version, then ask the store for the account.
fn handle_logon_challenge(msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
    let challenge = match ChallengeC2s::parse(msg) {
        Ok(c) => c,
        Err(e) => return Step::Close(CloseReason::Malformed(e)),
    };
    if challenge.kind != ChallengeKind::Logon {
        return Step::Close(CloseReason::IllegalOpcode {
            opcode: Opcode::ReconnectChallenge.as_u8(),
            state: super::StateKind::Logon,
        });
    }
    let build = challenge.version.build;
    cx.data.build = Some(build);
    cx.data.name = Some(challenge.account_name);
    cx.data.layout = challenge.protocol.layout();

    let Some(layout) = cx.data.layout else {
        log::info!(
            "{}: refused: protocol version {} is not spoken here (build {build})",
            cx.data,
            challenge.protocol.0
        );
        return refuse_version(challenge.account_name, cx);
    };
    // 1.12.1 logs in with layout 3 and 2.4.3/3.3.5a with 8; V2 is only for reconnects.
    if layout == Layout::V2 || !cx.settings.accepted_builds.contains(&build) {
        log::info!("{}: refused: build {build} is not accepted", cx.data);
        return refuse_version(challenge.account_name, cx);
    }
    log::debug!("{}: logon challenge, build {build}", cx.data);
    cx.store.push(StoreOp::LoadAccount {
        name: challenge.account_name,
    });
    Step::Become(State::Logon(Logon::LoadingAccount))
}

fn refuse_version(name: AccountName, cx: &mut SessionCx<'_>) -> Step {
    let a = attempt(cx, name, LoginOutcome::VersionInvalid);
    cx.store.push(StoreOp::RecordLoginFailure(a));
    refuse_challenge(LoginResult::FailVersionInvalid, cx)
}

/// The store answered the account lookup: refuse, or send B, g, N and the salt.
fn on_account_loaded(
    result: Result<Option<AccountRecord>, crate::store::StoreError>,
    cx: &mut SessionCx<'_>,
) -> Step {
    let Some(name) = cx.data.name else {
        return Step::Close(CloseReason::Malformed(
            crate::protocol::wire::ProtocolError::Truncated,
        ));
    };
    let account = match result {
        Ok(Some(account)) => account,
        Ok(None) => {
            log::info!("{}: refused: unknown account", cx.data);
            let a = attempt(cx, name, LoginOutcome::UnknownAccount);
            cx.store.push(StoreOp::RecordLoginFailure(a));
            return refuse_challenge(LoginResult::FailUnknownAccount, cx);
        }
        Err(e) => {
            log::error!("{}: account lookup failed: {e}", cx.data);
            return refuse_challenge(LoginResult::FailDbBusy, cx);
        }
    };
    cx.data.account = Some(account.id);
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
        cx.store.push(StoreOp::RecordLoginFailure(a));
        return refuse_challenge(result, cx);
    }

    let handshake = ServerHandshake::new(account.verifier, account.salt);
    let reply = LogonChallengeS2c::Success {
        server_public_key: *handshake.public_key(),
        salt: account.salt,
        crc_salt: CRC_SALT,
        security: SecurityChallenge::default(),
    };
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    if let Err(e) = reply.encode(layout, &mut cx.out) {
        return Step::Close(CloseReason::Unencodable(e));
    }
    Step::Become(State::Logon(Logon::AwaitProof(Box::new(PendingProof {
        handshake,
        account: account.id,
    }))))
}

/// CMD_AUTH_LOGON_PROOF: verify M1 (constant time), then commit the outcome before answering.
fn handle_logon_proof(pending: PendingProof, msg: &[u8], cx: &mut SessionCx<'_>) -> Step {
    let layout = cx.data.layout.unwrap_or(Layout::V8);
    let proof = match LogonProofC2s::parse(layout, msg) {
        Ok(p) => p,
        Err(e) => return Step::Close(CloseReason::Malformed(e)),
    };
    let Some(name) = cx.data.name else {
        return Step::Close(CloseReason::Malformed(
            crate::protocol::wire::ProtocolError::Truncated,
        ));
    };
    debug_assert_eq!(cx.data.account, Some(pending.account));
    match pending
        .handshake
        .verify(&name, &proof.client_public_key, &proof.client_proof)
    {
        Ok(success) => {
            let a = attempt(cx, name, LoginOutcome::Success);
            // The ticket lifetime becomes a config value when the realm link takes tickets.
            let expires_at = a.at + 900;
            cx.store.push(StoreOp::RecordLoginSuccess {
                attempt: a,
                key: success.session_key,
                expires_at,
            });
            Step::Become(State::Logon(Logon::RecordingSuccess(Box::new(
                PendingSuccess {
                    server_proof: success.server_proof,
                    session_key: success.session_key,
                },
            ))))
        }
        Err(ProofFailure::PublicKeyZero) => Step::Close(CloseReason::ZeroPublicKey),
        Err(ProofFailure::Mismatch) => {
            log::info!("{}: refused: wrong password", cx.data);
            let a = attempt(cx, name, LoginOutcome::WrongPassword);
            cx.store.push(StoreOp::RecordLoginFailure(a));
            // Real servers answer a wrong password like an unknown name, so names cannot be probed.
            Step::Become(State::Logon(Logon::RecordingFailure(
                LoginResult::FailUnknownAccount,
            )))
        }
    }
}

/// The success is committed: send M2 and show the realm list.
fn on_login_success_recorded(
    pending: PendingSuccess,
    stored: Result<Vec<crate::store::CharacterCount>, crate::store::StoreError>,
    cx: &mut SessionCx<'_>,
) -> Step {
    let characters = match stored {
        Ok(c) => c,
        Err(e) => {
            // The key was not saved, so no world server could admit the player: refuse.
            log::error!("{}: could not record the logon: {e}", cx.data);
            return refuse_proof(LoginResult::FailDbBusy, cx);
        }
    };
    cx.data.characters = characters;
    cx.data.session_key = Some(pending.session_key);
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
    log::info!(
        "{}: logged in (build {})",
        cx.data,
        cx.data.build.unwrap_or(Build(0))
    );
    Step::Become(State::WorldSelect(WorldSelect))
}
