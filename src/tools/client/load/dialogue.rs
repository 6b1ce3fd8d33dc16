//! One load connection's side of the login protocol, without a socket: bytes the server sent
//! go in, the next request comes out, and the caller learns how far the connection got. The
//! engine owns the sockets and the clock; this owns the order of the messages.
//!
//! A logon is challenge → proof (M2 checked) → realm list (unless turned off); what comes
//! after is the connection's [`Goal`]: hang up, hold the connection, or ask for the realm list
//! again and again.

use crate::protocol::challenge::LogonChallengeS2c;
use crate::protocol::proof::{LogonProofC2s, LogonProofS2c, SecurityProof};
use crate::protocol::realm_list::{RealmListC2s, RealmListS2c};
use crate::protocol::version::Layout;
use crate::protocol::wire::Check;
use crate::srp6::ClientHandshake;

use super::super::ClientError;
use super::prover::Prover;

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// A full logon (with the realm list if `realm_list`), then hang up.
    Logon { realm_list: bool },
    /// Send the challenge, read the answer, and hold the connection (no proof).
    ParkAfterChallenge,
    /// A full logon with the realm list, then hold the connection, idle.
    ParkLoggedIn,
    /// A full logon, then this many realm lists one after the other (the first included).
    RealmLists(u32),
}

/// How far a connection got with the bytes it has been given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing new: more bytes are needed.
    Waiting,
    /// The logon is proven and the first realm list was asked for (the engine times realm
    /// lists from here).
    LoggedIn,
    /// A realm list came back with this many realms; another was asked for.
    RealmListAgain { realms: usize },
    /// The connection is where its goal holds it (after the challenge, or logged in).
    Parked { realms: Option<usize> },
    /// The goal is reached; hang up. `realms`: the last realm list's length, if one was read.
    Done { realms: Option<usize> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Challenge,
    Proof,
    RealmList,
    /// Parked or done: anything the server sends now is unexpected.
    Nothing,
}

#[derive(Debug)]
pub struct Dialogue {
    goal: Goal,
    layout: Layout,
    awaiting: Awaiting,
    handshake: Option<ClientHandshake>,
    realm_lists_left: u32,
}

impl Dialogue {
    /// A dialogue whose challenge the caller has sent (it is the same bytes for every
    /// connection, so the engine encodes it once).
    pub fn new(goal: Goal, layout: Layout) -> Self {
        Self {
            goal,
            layout,
            awaiting: Awaiting::Challenge,
            handshake: None,
            realm_lists_left: match goal {
                Goal::RealmLists(n) => n.max(1),
                _ => 1,
            },
        }
    }

    /// Takes one whole message out of `input` if there is one, and answers it into `out`.
    /// Call again while it returns something other than [`Progress::Waiting`].
    pub fn on_input(
        &mut self,
        input: &mut Vec<u8>,
        out: &mut Vec<u8>,
        prover: &mut Prover,
    ) -> Result<Progress, ClientError> {
        let layout = self.layout;
        let check = match self.awaiting {
            Awaiting::Challenge => LogonChallengeS2c::check(layout, input),
            Awaiting::Proof => LogonProofS2c::check(layout, input),
            Awaiting::RealmList => RealmListS2c::check(layout, input),
            Awaiting::Nothing if input.is_empty() => return Ok(Progress::Waiting),
            Awaiting::Nothing => {
                return Err(ClientError::Io(std::io::Error::other(
                    "the server sent something to a connection that asked for nothing",
                )))
            }
        };
        let len = match check {
            Check::Complete(len) => len,
            Check::Incomplete => return Ok(Progress::Waiting),
            Check::Invalid(e) => return Err(ClientError::Protocol(e)),
        };
        let progress = match self.awaiting {
            Awaiting::Challenge => self.on_challenge(&input[..len], out, prover),
            Awaiting::Proof => self.on_proof(&input[..len], out),
            _ => self.on_realm_list(&input[..len], out),
        };
        input.drain(..len);
        progress
    }

    fn on_challenge(
        &mut self,
        msg: &[u8],
        out: &mut Vec<u8>,
        prover: &mut Prover,
    ) -> Result<Progress, ClientError> {
        let (server_public_key, salt) = match LogonChallengeS2c::parse(self.layout, msg)? {
            LogonChallengeS2c::Success {
                server_public_key,
                salt,
                ..
            } => (server_public_key, salt),
            LogonChallengeS2c::Failure(result) => {
                return Err(ClientError::Refused {
                    stage: "challenge",
                    result,
                })
            }
        };
        if self.goal == Goal::ParkAfterChallenge {
            self.awaiting = Awaiting::Nothing;
            return Ok(Progress::Parked { realms: None });
        }
        let handshake = prover.answer(&salt, &server_public_key)?;
        LogonProofC2s {
            client_public_key: handshake.public_key,
            client_proof: handshake.client_proof,
            crc_hash: [0; 20],
            telemetry_keys: Vec::new(),
            security: SecurityProof::default(),
        }
        .encode(self.layout, out)?;
        self.handshake = Some(handshake);
        self.awaiting = Awaiting::Proof;
        Ok(Progress::Waiting)
    }

    fn on_proof(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Result<Progress, ClientError> {
        let server_proof = match LogonProofS2c::parse(self.layout, msg)? {
            LogonProofS2c::Success { server_proof, .. } => server_proof,
            LogonProofS2c::Failure(result) => {
                return Err(ClientError::Refused {
                    stage: "proof",
                    result,
                })
            }
        };
        let proven = self
            .handshake
            .take()
            .is_some_and(|h| h.verify_server_proof(&server_proof));
        if !proven {
            return Err(ClientError::ServerProofMismatch);
        }
        if self.goal == (Goal::Logon { realm_list: false }) {
            self.awaiting = Awaiting::Nothing;
            return Ok(Progress::Done { realms: None });
        }
        RealmListC2s.encode(out);
        self.awaiting = Awaiting::RealmList;
        Ok(Progress::LoggedIn)
    }

    fn on_realm_list(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Result<Progress, ClientError> {
        let realms = RealmListS2c::parse(self.layout, msg)?.realms.len();
        self.realm_lists_left = self.realm_lists_left.saturating_sub(1);
        match self.goal {
            Goal::RealmLists(_) if self.realm_lists_left > 0 => {
                RealmListC2s.encode(out);
                Ok(Progress::RealmListAgain { realms })
            }
            Goal::ParkLoggedIn => {
                self.awaiting = Awaiting::Nothing;
                Ok(Progress::Parked {
                    realms: Some(realms),
                })
            }
            _ => {
                self.awaiting = Awaiting::Nothing;
                Ok(Progress::Done {
                    realms: Some(realms),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountName, Password};
    use crate::protocol::challenge::SecurityChallenge;
    use crate::protocol::realm_list::RealmEntry;
    use crate::protocol::result::LoginResult;
    use crate::srp6::{compute_verifier, Salt, ServerHandshake};

    const LAYOUT: Layout = Layout::V8;

    fn name() -> AccountName {
        AccountName::parse(b"LOADTEST").unwrap()
    }

    fn prover() -> Prover {
        Prover::new(name(), Password::parse(b"SECRET").unwrap(), true)
    }

    /// Plays the server: answers the challenge, checks the proof, sends `lists` realm lists.
    fn serve(goal: Goal, realm_lists: usize) -> Vec<Progress> {
        let mut prover = prover();
        let name = name();
        let salt = Salt([7; 32]);
        let password = Password::parse(b"SECRET").unwrap();
        let server = ServerHandshake::new(compute_verifier(&name, &password, &salt), salt);
        let mut dialogue = Dialogue::new(goal, LAYOUT);
        let (mut input, mut out, mut seen) = (Vec::new(), Vec::new(), Vec::new());

        LogonChallengeS2c::Success {
            server_public_key: *server.public_key(),
            salt,
            crc_salt: [0; 16],
            security: SecurityChallenge::default(),
        }
        .encode(LAYOUT, &mut input)
        .unwrap();
        // Byte by byte: a reply split over reads is framed, not misparsed.
        let whole = std::mem::take(&mut input);
        for b in whole {
            input.push(b);
            let p = dialogue
                .on_input(&mut input, &mut out, &mut prover)
                .unwrap();
            if p != Progress::Waiting {
                seen.push(p);
            }
        }
        if out.is_empty() {
            return seen;
        }
        let proof = LogonProofC2s::parse(LAYOUT, &out).unwrap();
        out.clear();
        let ok = server
            .verify(&name, &proof.client_public_key, &proof.client_proof)
            .expect("the dialogue's proof is right");
        LogonProofS2c::Success {
            server_proof: ok.server_proof,
            account_flags: 0,
            survey_id: 0,
            login_flags: 0,
        }
        .encode(LAYOUT, &mut input)
        .unwrap();
        seen.push(
            dialogue
                .on_input(&mut input, &mut out, &mut prover)
                .unwrap(),
        );
        let realm = RealmEntry {
            realm_type: 1,
            locked: false,
            flags: 0,
            name: "Azeroth".into(),
            address: "127.0.0.1:8085".into(),
            population: 1.0,
            characters: 0,
            category: 1,
            realm_id: 1,
            version: None,
        };
        for _ in 0..realm_lists {
            assert_eq!(out, [0x10, 0, 0, 0, 0], "a realm-list request was sent");
            out.clear();
            let list = RealmListS2c {
                realms: vec![realm.clone(), realm.clone()],
                footer: crate::protocol::realm_list::FOOTER_POST_BC,
            };
            list.encode(LAYOUT, &mut input).unwrap();
            seen.push(
                dialogue
                    .on_input(&mut input, &mut out, &mut prover)
                    .unwrap(),
            );
        }
        assert!(input.is_empty());
        seen
    }

    #[test]
    fn a_logon_with_the_realm_list_is_done_after_it() {
        let seen = serve(Goal::Logon { realm_list: true }, 1);
        assert_eq!(
            seen,
            [Progress::LoggedIn, Progress::Done { realms: Some(2) }]
        );
    }

    #[test]
    fn a_logon_without_the_realm_list_is_done_after_the_proof() {
        let seen = serve(Goal::Logon { realm_list: false }, 0);
        assert_eq!(seen, [Progress::Done { realms: None }]);
    }

    #[test]
    fn parking_stops_after_the_challenge_or_the_realm_list() {
        assert_eq!(
            serve(Goal::ParkAfterChallenge, 0),
            [Progress::Parked { realms: None }]
        );
        assert_eq!(
            serve(Goal::ParkLoggedIn, 1),
            [Progress::LoggedIn, Progress::Parked { realms: Some(2) }]
        );
    }

    #[test]
    fn realm_lists_are_asked_for_again_until_the_count() {
        let seen = serve(Goal::RealmLists(3), 3);
        assert_eq!(
            seen,
            [
                Progress::LoggedIn,
                Progress::RealmListAgain { realms: 2 },
                Progress::RealmListAgain { realms: 2 },
                Progress::Done { realms: Some(2) },
            ]
        );
    }

    #[test]
    fn a_refused_challenge_is_an_error() {
        let mut dialogue = Dialogue::new(Goal::Logon { realm_list: true }, LAYOUT);
        let mut input = Vec::new();
        LogonChallengeS2c::Failure(LoginResult::FailUnknownAccount)
            .encode(LAYOUT, &mut input)
            .unwrap();
        let err = dialogue
            .on_input(&mut input, &mut Vec::new(), &mut prover())
            .unwrap_err();
        assert!(matches!(
            err,
            ClientError::Refused {
                stage: "challenge",
                ..
            }
        ));
    }
}
