//! Tokens: who a readiness event or a message is for.
//!
//! A connection's token carries the slot it lives in and that slot's generation. When a
//! connection closes its slot's generation moves on, so a late reply or event addressed to the
//! old token no longer matches and is dropped, never delivered to the next occupant.
//!
//! The loop knows nothing of what the connections are: a handler may keep several tables and
//! tell their tokens apart by a small [`TableId`] that the mio token carries beside the slot.
//! The fixed tokens (the waker, listeners, other sources) live at the top of the `usize` range,
//! where no connection token can reach.

use mio::Token;

/// A connection's address on the loop: slot index + generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnToken {
    pub slot: u32,
    pub generation: u32,
}

/// Which of the handler's connection tables a token belongs to (0..=7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableId(pub u8);

/// Slots at or above this are never handed out: the bits above hold the table id.
pub const MAX_SLOTS: u32 = 1 << 28;
const TABLE_SHIFT: u32 = 28;
/// Bit 31 of the low word is never set in a connection token; every fixed token has it.
const FIXED_BIT: u32 = 1 << 31;

/// The waker's token: the top of the range.
pub const WAKER: Token = Token(usize::MAX);

/// A fixed token of the handler's own (listeners, a signal source): counted down from just
/// below the waker.
pub fn fixed_token(index: usize) -> Token {
    Token(usize::MAX - 1 - index)
}

/// The index behind a fixed token, if it is one of the first `count`.
pub fn fixed_index(token: Token, count: usize) -> Option<usize> {
    let index = (usize::MAX - 1).checked_sub(token.0)?;
    (index < count).then_some(index)
}

impl ConnToken {
    /// The mio token of this connection in table `table`.
    pub fn to_mio(self, table: TableId) -> Token {
        let low = (u32::from(table.0 & 0x7) << TABLE_SHIFT) | (self.slot & (MAX_SLOTS - 1));
        Token(((self.generation as usize) << 32) | low as usize)
    }

    /// The table and connection a mio token stands for, if it is a connection token.
    pub fn from_mio(token: Token) -> Option<(TableId, ConnToken)> {
        let low = (token.0 & 0xffff_ffff) as u32;
        if low & FIXED_BIT != 0 {
            return None;
        }
        let table = TableId((low >> TABLE_SHIFT) as u8);
        let connection = ConnToken {
            slot: low & (MAX_SLOTS - 1),
            generation: (token.0 >> 32) as u32,
        };
        Some((table, connection))
    }
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
        for table in 0..8 {
            let id = TableId(table);
            assert_eq!(ConnToken::from_mio(t.to_mio(id)), Some((id, t)));
        }
        let last = ConnToken {
            slot: MAX_SLOTS - 1,
            generation: u32::MAX,
        };
        assert_eq!(
            ConnToken::from_mio(last.to_mio(TableId(7))),
            Some((TableId(7), last))
        );
        assert_eq!(ConnToken::from_mio(WAKER), None);
        assert_eq!(ConnToken::from_mio(fixed_token(0)), None);
        assert_eq!(ConnToken::from_mio(fixed_token(0x1_0000)), None);
        assert_eq!(fixed_index(fixed_token(2), 3), Some(2));
        assert_eq!(fixed_index(fixed_token(3), 3), None);
        assert_eq!(fixed_index(t.to_mio(TableId(0)), 3), None);
        assert_eq!(fixed_index(last.to_mio(TableId(7)), 1 << 20), None);
        assert_ne!(t.to_mio(TableId(1)), t.to_mio(TableId(2)));
    }
}
