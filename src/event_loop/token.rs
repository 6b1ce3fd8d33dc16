//! Tokens: who a readiness event or a message is for.
//!
//! A connection's token carries the slot it lives in and that slot's generation. When a
//! connection closes its slot's generation moves on, so a late reply or event addressed to the
//! old token no longer matches and is dropped, never delivered to the next occupant.

use mio::Token;

/// A connection's address on the loop: slot index + generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnToken {
    pub slot: u32,
    pub generation: u32,
}

/// Slots at or above this are never handed out, so connection tokens of the three tables
/// (clients, realm links, console) and the fixed tokens at the top of the `usize` range
/// (waker, listeners, signals) never collide.
pub const MAX_SLOTS: u32 = 1 << 29;

/// Marks a link connection's slot in its mio token, so links and clients can live in separate
/// tables and still share one token space.
const LINK_FLAG: u32 = 1 << 30;
/// Marks a console connection's slot likewise.
const CONSOLE_FLAG: u32 = 1 << 29;

/// The waker's token: the top of the range.
pub const WAKER: Token = Token(usize::MAX);

/// A listener's token: counted down from just below the waker.
pub fn listener_token(index: usize) -> Token {
    Token(usize::MAX - 1 - index)
}

/// The listener index behind a token, if it is one of the first `count` listener tokens.
pub fn listener_index(token: Token, count: usize) -> Option<usize> {
    let index = (usize::MAX - 1).checked_sub(token.0)?;
    (index < count).then_some(index)
}

impl ConnToken {
    pub fn to_mio(self) -> Token {
        Token(((self.generation as usize) << 32) | self.slot as usize)
    }

    /// The client connection token a mio token stands for, if it is one.
    pub fn from_mio(token: Token) -> Option<ConnToken> {
        let slot = (token.0 & 0xffff_ffff) as u32;
        let generation = (token.0 >> 32) as u32;
        (slot < MAX_SLOTS && token != WAKER).then_some(ConnToken { slot, generation })
    }

    /// The mio token of a realm-link connection in slot `self.slot` of the link table.
    pub fn to_mio_link(self) -> Token {
        Token(((self.generation as usize) << 32) | (self.slot | LINK_FLAG) as usize)
    }

    /// The mio token of a console connection.
    pub fn to_mio_console(self) -> Token {
        Token(((self.generation as usize) << 32) | (self.slot | CONSOLE_FLAG) as usize)
    }

    /// The console connection token a mio token stands for, if it is one.
    pub fn console_from_mio(token: Token) -> Option<ConnToken> {
        let raw = (token.0 & 0xffff_ffff) as u32;
        let generation = (token.0 >> 32) as u32;
        (raw & !(CONSOLE_FLAG - 1) == CONSOLE_FLAG).then_some(ConnToken {
            slot: raw & !CONSOLE_FLAG,
            generation,
        })
    }

    /// The link connection token a mio token stands for, if it is one.
    pub fn link_from_mio(token: Token) -> Option<ConnToken> {
        let raw = (token.0 & 0xffff_ffff) as u32;
        let generation = (token.0 >> 32) as u32;
        // Listener tokens and the waker have bit 31 set as well; link tokens never do.
        (raw & !(LINK_FLAG - 1) == LINK_FLAG).then_some(ConnToken {
            slot: raw & !LINK_FLAG,
            generation,
        })
    }
}

/// Where a message goes when it arrives: a client connection, a realm link, or the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Conn(ConnToken),
    Link(ConnToken),
    Console(ConnToken),
    Daemon,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_tokens_round_trip_and_do_not_collide_with_fixed_tokens() {
        let t = ConnToken {
            slot: 7,
            generation: 9,
        };
        assert_eq!(ConnToken::from_mio(t.to_mio()), Some(t));
        assert_eq!(ConnToken::from_mio(WAKER), None);
        assert_eq!(ConnToken::from_mio(listener_token(0)), None);
        assert_eq!(listener_index(listener_token(2), 3), Some(2));
        assert_eq!(listener_index(listener_token(3), 3), None);
        assert_eq!(listener_index(t.to_mio(), 3), None);
        assert_eq!(ConnToken::link_from_mio(t.to_mio_link()), Some(t));
        assert_eq!(ConnToken::from_mio(t.to_mio_link()), None);
        assert_eq!(ConnToken::link_from_mio(t.to_mio()), None);
        assert_eq!(ConnToken::link_from_mio(WAKER), None);
        assert_eq!(ConnToken::link_from_mio(listener_token(0)), None);
        assert_eq!(ConnToken::console_from_mio(t.to_mio_console()), Some(t));
        assert_eq!(ConnToken::console_from_mio(t.to_mio_link()), None);
        assert_eq!(ConnToken::console_from_mio(t.to_mio()), None);
        assert_eq!(ConnToken::from_mio(t.to_mio_console()), None);
        assert_eq!(ConnToken::link_from_mio(t.to_mio_console()), None);
        assert_eq!(ConnToken::console_from_mio(WAKER), None);
        assert_eq!(ConnToken::console_from_mio(listener_token(0)), None);
    }
}
