//! Why a connection is closed: one reason per connection, set when it is marked for closing
//! and logged with its peer when it is reaped. Every kind of connection (game clients, realm
//! links, consoles) closes for one of these.

use std::fmt;

use crate::protocol::wire::ProtocolError;

#[derive(Debug, Clone, PartialEq)]
pub enum CloseReason {
    PeerClosed,
    /// The deadline of the named state passed.
    Deadline(&'static str),
    IllegalOpcode {
        opcode: u8,
        state: &'static str,
    },
    Malformed(ProtocolError),
    InputOverflow,
    OutputOverflow,
    /// Our own answer could not be encoded for the client's layout: a server bug, logged.
    Unencodable(ProtocolError),
    /// A ≡ 0 mod N: an attack or a broken client; closed without an answer (docs/srp6.md §7).
    ZeroPublicKey,
    /// Input after the server answered with a failure.
    InputAfterRefusal,
    /// The client cancelled a patch download (CMD_XFER_CANCEL).
    TransferCancelled,
    /// The patch file could not be read.
    TransferFailed,
    ServerFull,
    /// An operator kicked the connection from the console.
    Kicked,
    /// Three wrong console passwords in a row.
    LoginFailed,
    /// A realm link failed authentication or broke the link protocol.
    LinkRefused(String),
    /// A realm link stayed silent past its deadline.
    LinkSilent,
    Io(std::io::ErrorKind),
    Shutdown,
    /// A connection from a configured proxy did not begin with a valid PROXY header.
    BadProxyHeader(String),
    /// The address a PROXY header named was refused by a policy (a ban, a limit).
    RefusedBehindProxy(String),
}

impl CloseReason {
    /// A short stable name for the kind of reason: what log summaries group by.
    pub fn kind(&self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peer closed",
            CloseReason::Deadline(_) => "deadline",
            CloseReason::IllegalOpcode { .. } => "illegal opcode",
            CloseReason::Malformed(_) => "malformed packet",
            CloseReason::InputOverflow => "input overflow",
            CloseReason::OutputOverflow => "output overflow",
            CloseReason::Unencodable(_) => "unencodable answer",
            CloseReason::ZeroPublicKey => "zero public key",
            CloseReason::InputAfterRefusal => "input after refusal",
            CloseReason::TransferCancelled => "transfer cancelled",
            CloseReason::TransferFailed => "transfer failed",
            CloseReason::ServerFull => "server full",
            CloseReason::Kicked => "kicked",
            CloseReason::LoginFailed => "console login failed",
            CloseReason::LinkRefused(_) => "link refused",
            CloseReason::LinkSilent => "link silent",
            CloseReason::Io(_) => "socket error",
            CloseReason::Shutdown => "shutdown",
            CloseReason::BadProxyHeader(_) => "bad proxy header",
            CloseReason::RefusedBehindProxy(_) => "refused behind proxy",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed the connection"),
            CloseReason::Deadline(s) => write!(f, "deadline of state {s} passed"),
            CloseReason::IllegalOpcode { opcode, state } => {
                match crate::protocol::opcode::Opcode::from_u8(*opcode) {
                    Some(op) => write!(
                        f,
                        "opcode {op} (0x{opcode:02x}) is not legal in state {state}"
                    ),
                    None => write!(f, "unknown opcode 0x{opcode:02x} in state {state}"),
                }
            }
            CloseReason::Malformed(e) => write!(f, "malformed packet: {e}"),
            CloseReason::InputOverflow => {
                f.write_str("input buffer overflow (packet larger than any legal one)")
            }
            CloseReason::OutputOverflow => {
                f.write_str("output buffer overflow (peer does not read)")
            }
            CloseReason::Unencodable(e) => write!(f, "could not encode the answer: {e}"),
            CloseReason::ZeroPublicKey => f.write_str("client public key A ≡ 0 mod N"),
            CloseReason::InputAfterRefusal => {
                f.write_str("client kept sending after its logon was refused")
            }
            CloseReason::TransferCancelled => f.write_str("patch download cancelled"),
            CloseReason::TransferFailed => f.write_str("the patch file could not be read"),
            CloseReason::ServerFull => f.write_str("connection limit reached"),
            CloseReason::Kicked => f.write_str("kicked from the console"),
            CloseReason::LoginFailed => f.write_str("too many failed console logins"),
            CloseReason::LinkRefused(why) => write!(f, "realm link refused: {why}"),
            CloseReason::LinkSilent => f.write_str("realm link silent past its deadline"),
            CloseReason::Io(kind) => write!(f, "socket error: {kind}"),
            CloseReason::Shutdown => f.write_str("server shutting down"),
            CloseReason::BadProxyHeader(why) => write!(f, "bad PROXY header: {why}"),
            CloseReason::RefusedBehindProxy(why) => write!(f, "refused: {why}"),
        }
    }
}
