//! A blocking login client with its own SRP6 client side: what the integration tests use to
//! talk to a running gatehouse exactly as a game client would. The load client ([`load`])
//! drives many connections from one thread with the same codec and the same checks.
//!
//! It is not used by the server. It frames replies with the same codec the server uses, and it
//! verifies the server's M2, so a successful [`LogonClient::login`] proves that both ends
//! derived the same session key.

pub mod load;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::account::{AccountName, CredentialError, Password};
use crate::integrity::{ChecksumSeeds, ClientOs};
use crate::protocol::challenge::{ChallengeC2s, ChallengeKind, LogonChallengeS2c};
use crate::protocol::proof::{
    AuthenticatorToken, LogonProofC2s, LogonProofS2c, PinProof, SecurityProof,
};
use crate::protocol::realm_list::{RealmListC2s, RealmListS2c};
use crate::protocol::reconnect::{ReconnectChallengeS2c, ReconnectProofC2s, ReconnectProofS2c};
use crate::protocol::result::LoginResult;
use crate::protocol::version::{Build, Layout, ProtocolVersion, Version};
use crate::protocol::wire::{Check, ProtocolError};
use crate::srp6::{ClientHandshake, PublicKey, SessionKey, Srp6Error};

/// A client build to impersonate: its version and the protocol version it logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientBuild {
    pub version: Version,
    pub protocol: ProtocolVersion,
}

impl ClientBuild {
    pub const VANILLA: ClientBuild = ClientBuild::known(1, 12, 1, 5875, 3);
    pub const TBC: ClientBuild = ClientBuild::known(2, 4, 3, 8606, 8);
    pub const WOTLK: ClientBuild = ClientBuild::known(3, 3, 5, 12340, 8);
    pub const ALL: [ClientBuild; 3] = [Self::VANILLA, Self::TBC, Self::WOTLK];

    const fn known(major: u8, minor: u8, patch: u8, build: u16, protocol: u8) -> Self {
        Self {
            version: Version {
                major,
                minor,
                patch,
                build: Build(build),
            },
            protocol: ProtocolVersion(protocol),
        }
    }

    /// A build number as a client of the right era would send it.
    pub fn from_build(build: u16) -> Self {
        match build {
            5875 => Self::VANILLA,
            8606 => Self::TBC,
            12340 => Self::WOTLK,
            b if b <= 6141 => Self::known(1, 12, 0, b, 3),
            b => Self::known(3, 3, 0, b, 8),
        }
    }

    pub fn layout(&self) -> Layout {
        self.protocol.layout().unwrap_or(Layout::V8)
    }

    /// The protocol version this build reconnects with: 1.12 uses 2, later builds 8.
    pub fn reconnect_protocol(&self) -> ProtocolVersion {
        if self.protocol.0 == 3 {
            ProtocolVersion(2)
        } else {
            self.protocol
        }
    }

    /// The crc_hash a Windows client of this build sends with public key `a_pub`
    /// (docs/protocol.md §7.3): zeros for a build without a known checksum seed.
    pub fn crc_hash(&self, a_pub: &PublicKey) -> [u8; 20] {
        ChecksumSeeds::default()
            .find(self.version.build, ClientOs::Windows)
            .map_or([0; 20], |seed| crate::srp6::version_proof(a_pub, seed))
    }

    /// The challenge a client of this build sends for `name` (x86 / Windows / enUS).
    pub fn challenge(&self, name: AccountName) -> ChallengeC2s {
        ChallengeC2s {
            kind: ChallengeKind::Logon,
            protocol: self.protocol,
            // FourCCs travel reversed: "WoW", "x86", "Win", "enUS".
            game_name: *b"WoW\0",
            version: self.version,
            platform: *b"68x\0",
            os: *b"niW\0",
            locale: *b"SUne",
            utc_offset_minutes: 60,
            client_ip: Ipv4Addr::LOCALHOST,
            account_name: name,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("server sent a malformed message: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("server closed the connection")]
    Closed,
    #[error("server refused the {stage}: {result}")]
    Refused {
        stage: &'static str,
        result: LoginResult,
    },
    #[error("server proof M2 does not match: the session keys differ")]
    ServerProofMismatch,
    #[error("srp6: {0}")]
    Srp(#[from] Srp6Error),
    #[error("credentials: {0}")]
    Credential(#[from] CredentialError),
    #[error("a PIN is typed with the digits 0-9 only")]
    PinNotDigits,
}

/// What the player answers besides the password.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProofAnswers<'a> {
    /// Typed in the authenticator field: `Some` sets security flag 0x04 in the proof (2.4.3 /
    /// 3.3.5a only), whether or not the challenge asked for it.
    pub token: Option<&'a str>,
    /// Typed on the PIN grid, when the challenge shows one (a fixed PIN, or on 1.12 the
    /// authenticator's current token); without a grid it is not sent.
    pub pin: Option<&'a str>,
    /// Whether the crc_hash is the client integrity hash of the build (as a real client's) or
    /// a wrong one.
    pub crc: CrcAnswer,
}

/// The proof's crc_hash, [`ProofAnswers::crc`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrcAnswer {
    /// SHA1(A ‖ the build's Windows checksum seed), as a real Windows client sends.
    #[default]
    Right,
    /// Twenty bytes no client would send.
    Wrong,
}

/// One TCP connection to the login server.
pub struct LogonClient {
    stream: TcpStream,
    build: ClientBuild,
    /// Bytes received but not yet framed into a message.
    pending: Vec<u8>,
}

/// A completed logon: the key both sides derived, and the connection (now in WorldSelect).
pub struct LoggedIn {
    pub client: LogonClient,
    pub session_key: SessionKey,
}

impl LogonClient {
    pub fn connect(addr: SocketAddr, build: ClientBuild, timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        Self::from_stream(stream, build, timeout)
    }

    /// A client on a connection made elsewhere (e.g. bound to a chosen source address).
    pub fn from_stream(
        stream: TcpStream,
        build: ClientBuild,
        timeout: Duration,
    ) -> io::Result<Self> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            build,
            pending: Vec::new(),
        })
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub fn layout(&self) -> Layout {
        self.build.layout()
    }

    /// The challenge this client sends for `name`.
    pub fn challenge(&self, name: AccountName) -> ChallengeC2s {
        self.build.challenge(name)
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads until `check` frames one whole message, and returns it.
    pub fn read_message(&mut self, check: impl Fn(&[u8]) -> Check) -> Result<Vec<u8>, ClientError> {
        let mut buf = [0u8; 4096];
        loop {
            match check(&self.pending) {
                Check::Complete(n) => {
                    let rest = self.pending.split_off(n);
                    return Ok(std::mem::replace(&mut self.pending, rest));
                }
                Check::Invalid(e) => return Err(ClientError::Protocol(e)),
                Check::Incomplete => {}
            }
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// True once the server has closed the connection (reads EOF or a reset within `timeout`).
    pub fn is_closed_by_server(&mut self, timeout: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(timeout));
        let mut buf = [0u8; 256];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    pub fn send_challenge(&mut self, name: AccountName) -> Result<LogonChallengeS2c, ClientError> {
        let mut msg = Vec::new();
        self.challenge(name).encode(&mut msg);
        self.send(&msg)?;
        self.read_challenge_reply()
    }

    pub fn read_challenge_reply(&mut self) -> Result<LogonChallengeS2c, ClientError> {
        let layout = self.layout();
        let msg = self.read_message(|b| LogonChallengeS2c::check(layout, b))?;
        Ok(LogonChallengeS2c::parse(layout, &msg)?)
    }

    pub fn read_proof_reply(&mut self) -> Result<LogonProofS2c, ClientError> {
        let layout = self.layout();
        let msg = self.read_message(|b| LogonProofS2c::check(layout, b))?;
        Ok(LogonProofS2c::parse(layout, &msg)?)
    }

    /// Computes the proof for a challenge answer.
    pub fn proof_for(
        name: &AccountName,
        password: &Password,
        reply: &LogonChallengeS2c,
    ) -> Result<(ClientHandshake, LogonProofC2s), ClientError> {
        let LogonChallengeS2c::Success {
            server_public_key,
            salt,
            ..
        } = reply
        else {
            let LogonChallengeS2c::Failure(result) = reply else {
                unreachable!("two variants")
            };
            return Err(ClientError::Refused {
                stage: "challenge",
                result: *result,
            });
        };
        let handshake = ClientHandshake::new(name, password, salt, server_public_key)?;
        let proof = LogonProofC2s {
            client_public_key: handshake.public_key,
            client_proof: handshake.client_proof,
            crc_hash: [0; 20],
            telemetry_keys: Vec::new(),
            security: SecurityProof::default(),
        };
        Ok((handshake, proof))
    }

    /// The whole logon: challenge, proof, and the check of the server's M2.
    pub fn login(
        addr: SocketAddr,
        build: ClientBuild,
        name: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<LoggedIn, ClientError> {
        Self::login_with_token(addr, build, name, password, None, timeout)
    }

    /// [`LogonClient::login`] with an authenticator token: `Some` sets security flag 0x04 in
    /// the proof and appends the token, as a 2.4.3/3.3.5a client does when the user typed one
    /// (whether or not the challenge asked for it). 1.12.1 has no such field: `Some` with
    /// [`ClientBuild::VANILLA`] fails to encode.
    pub fn login_with_token(
        addr: SocketAddr,
        build: ClientBuild,
        name: &str,
        password: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<LoggedIn, ClientError> {
        let client = LogonClient::connect(addr, build, timeout)?;
        client.log_in(name, password, token)
    }

    /// [`LogonClient::login`] with every answer a player can give ([`ProofAnswers`]).
    pub fn login_with(
        addr: SocketAddr,
        build: ClientBuild,
        name: &str,
        password: &str,
        answers: ProofAnswers<'_>,
        timeout: Duration,
    ) -> Result<LoggedIn, ClientError> {
        let client = LogonClient::connect(addr, build, timeout)?;
        client.log_in_with(name, password, answers)
    }

    /// Challenge and proof (with an optional authenticator token) on this connection; M2 is
    /// verified.
    pub fn log_in(
        self,
        name: &str,
        password: &str,
        token: Option<&str>,
    ) -> Result<LoggedIn, ClientError> {
        self.log_in_with(
            name,
            password,
            ProofAnswers {
                token,
                ..ProofAnswers::default()
            },
        )
    }

    /// Challenge and proof with every answer of [`ProofAnswers`]; M2 is verified.
    pub fn log_in_with(
        self,
        name: &str,
        password: &str,
        answers: ProofAnswers<'_>,
    ) -> Result<LoggedIn, ClientError> {
        let name = AccountName::parse(name.as_bytes())?;
        let password = Password::parse(password.as_bytes())?;
        let mut client = self;
        let reply = client.send_challenge(name)?;
        let (handshake, mut proof) = Self::proof_for(&name, &password, &reply)?;
        proof.crc_hash = match answers.crc {
            CrcAnswer::Right => client.build.crc_hash(&proof.client_public_key),
            CrcAnswer::Wrong => [0x5a; 20],
        };
        if let Some(token) = answers.token {
            proof.security.authenticator = Some(AuthenticatorToken::new(token.as_bytes())?);
        }
        if let (LogonChallengeS2c::Success { security, .. }, Some(pin)) = (&reply, answers.pin) {
            if let Some(grid) = &security.pin {
                let mut salt = [0u8; 16];
                crate::srp6::fill_random(&mut salt);
                let hash = crate::pin_grid::pin_hash(grid, &salt, pin.as_bytes())
                    .ok_or(ClientError::PinNotDigits)?;
                proof.security.pin = Some(PinProof { salt, hash });
            }
        }
        let mut msg = Vec::new();
        proof.encode(client.layout(), &mut msg)?;
        client.send(&msg)?;
        match client.read_proof_reply()? {
            LogonProofS2c::Success { server_proof, .. } => {
                if !handshake.verify_server_proof(&server_proof) {
                    return Err(ClientError::ServerProofMismatch);
                }
                Ok(LoggedIn {
                    client,
                    session_key: handshake.session_key,
                })
            }
            LogonProofS2c::Failure(result) => Err(ClientError::Refused {
                stage: "proof",
                result,
            }),
        }
    }

    /// A reconnect with the key of an earlier logon: reconnect challenge, then the proof
    /// R2 = SHA1(name ‖ R1 ‖ challenge ‖ K). On success the connection is in WorldSelect.
    pub fn reconnect(
        addr: SocketAddr,
        build: ClientBuild,
        name: &str,
        key: &SessionKey,
        timeout: Duration,
    ) -> Result<LogonClient, ClientError> {
        let name = AccountName::parse(name.as_bytes())?;
        let mut client = LogonClient::connect(addr, build, timeout)?;
        let mut challenge = build.challenge(name);
        challenge.kind = ChallengeKind::Reconnect;
        challenge.protocol = build.reconnect_protocol();
        let mut msg = Vec::new();
        challenge.encode(&mut msg);
        client.send(&msg)?;
        let reply = client.read_message(ReconnectChallengeS2c::check)?;
        let challenge_data = match ReconnectChallengeS2c::parse(&reply)? {
            ReconnectChallengeS2c::Success { challenge_data, .. } => challenge_data,
            ReconnectChallengeS2c::Failure(result) => {
                return Err(ClientError::Refused {
                    stage: "reconnect challenge",
                    result,
                })
            }
        };
        let mut client_data = [0u8; 16];
        crate::srp6::fill_random(&mut client_data);
        let proof = ReconnectProofC2s {
            client_data,
            client_proof: crate::srp6::reconnect_proof(&name, &client_data, &challenge_data, key),
            client_checksum: [0; 20],
            key_count: 0,
        };
        msg.clear();
        proof.encode(&mut msg)?;
        client.send(&msg)?;
        // The answer's layout follows the reconnect's protocol version (2 for 1.12).
        let layout = build.reconnect_protocol().layout().unwrap_or(Layout::V8);
        let reply = client.read_message(|b| ReconnectProofS2c::check(layout, b))?;
        match ReconnectProofS2c::parse(layout, &reply)?.result {
            LoginResult::Success => Ok(client),
            result => Err(ClientError::Refused {
                stage: "reconnect proof",
                result,
            }),
        }
    }

    /// Asks for the realm list and reads it.
    pub fn realm_list(&mut self) -> Result<RealmListS2c, ClientError> {
        let mut msg = Vec::new();
        RealmListC2s.encode(&mut msg);
        self.send(&msg)?;
        self.read_realm_list()
    }

    pub fn read_realm_list(&mut self) -> Result<RealmListS2c, ClientError> {
        let layout = self.layout();
        let msg = self.read_message(|b| RealmListS2c::check(layout, b))?;
        Ok(RealmListS2c::parse(layout, &msg)?)
    }
}
