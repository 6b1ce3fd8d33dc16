//! Lines out of a telnet-ish byte stream: telnet commands (IAC …, including option
//! negotiation and subnegotiation) are dropped, CR and NUL are dropped, LF ends a line. Works
//! with `telnet` and `nc` alike.

/// Longest line accepted.
pub const MAX_LINE: usize = 512;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// What the front of the buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum NextLine {
    /// A whole line: its text, and how many bytes it took.
    Line { text: String, consumed: usize },
    /// No line end yet, and nothing over a limit: wait for more bytes.
    Incomplete,
    /// The line is over a limit (ended or not): the peer is cut off.
    TooLong,
}

/// Finds the first line in `buf` (which starts where the line begins).
///
/// A line has two budgets of `MAX_LINE` bytes each: its text, and everything else in it
/// (telnet commands and subnegotiations, CR, NUL, dropped bytes). Going over either gives
/// [`NextLine::TooLong`] whether or not the line has ended, so a peer cannot keep a console
/// waiting on a subnegotiation that never ends or a line of telnet commands that never ends;
/// and the bytes a line may hold are bounded (`2 * MAX_LINE`) at any moment.
pub fn next_line(buf: &[u8]) -> NextLine {
    let mut text = Vec::new();
    // Bytes of this line that are not text.
    let mut other = 0usize;
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b == IAC {
            let step = match buf.get(i + 1) {
                None => None,
                Some(&IAC) => Some(2), // a literal 0xFF: not text we accept
                Some(WILL..=DONT) => (i + 2 < buf.len()).then_some(3),
                Some(&SB) => subnegotiation_len(&buf[i..]),
                Some(_) => Some(2),
            };
            let Some(step) = step else {
                // An unfinished command or subnegotiation runs to the end of `buf`.
                return pending(other + (buf.len() - i));
            };
            other += step;
            i += step;
        } else {
            i += 1;
            match b {
                b'\n' => {
                    return NextLine::Line {
                        text: String::from_utf8_lossy(&text).into_owned(),
                        consumed: i,
                    }
                }
                0x20..=0x7e | b'\t' => text.push(b),
                _ => other += 1, // CR, NUL, other control or non-ASCII bytes are dropped
            }
        }
        if text.len() > MAX_LINE || other > MAX_LINE {
            return NextLine::TooLong;
        }
    }
    pending(other)
}

/// No line end yet: `other` non-text bytes are pending (text is checked as it grows).
fn pending(other: usize) -> NextLine {
    if other > MAX_LINE {
        NextLine::TooLong
    } else {
        NextLine::Incomplete
    }
}

/// The length of the subnegotiation `IAC SB … IAC SE` at the front of `buf`, if it has ended.
/// `IAC IAC` inside it is an escaped 0xFF, not the start of `IAC SE`. Scans at most
/// `MAX_LINE + 4` bytes: a longer subnegotiation is over the line's budget whether it ends or not.
fn subnegotiation_len(buf: &[u8]) -> Option<usize> {
    let limit = buf.len().min(2 + MAX_LINE + 2);
    let mut j = 2;
    while j + 1 < limit {
        if buf[j] == IAC {
            if buf[j + 1] == SE {
                return Some(j + 2);
            }
            j += 2;
        } else {
            j += 1;
        }
    }
    None
}

/// Asks a telnet client not to echo what is typed next (the password), or to echo again.
pub fn echo_off() -> &'static [u8] {
    &[IAC, WILL, 1]
}

pub fn echo_on() -> &'static [u8] {
    &[IAC, 252, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &[u8]) -> (String, usize) {
        match next_line(buf) {
            NextLine::Line { text, consumed } => (text, consumed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn telnet_negotiation_and_line_ends_are_stripped() {
        // What `telnet` sends at connect, then a command with CRLF.
        let mut buf = vec![255, 253, 3, 255, 251, 24, 255, 250, 24, 0, b'x', 255, 240];
        buf.extend_from_slice(b"stats\r\n");
        assert_eq!(line(&buf), ("stats".to_string(), buf.len()));
        assert_eq!(line(b"help\nquit\n"), ("help".to_string(), 5));
        assert_eq!(line(b"a\r\0b\n").0, "ab");
    }

    #[test]
    fn partial_input_waits_and_floods_are_refused() {
        assert_eq!(next_line(b"stat"), NextLine::Incomplete);
        assert_eq!(next_line(&[255]), NextLine::Incomplete);
        assert_eq!(next_line(&[255, 251]), NextLine::Incomplete);
        assert_eq!(next_line(&[255, 250, 1, 2]), NextLine::Incomplete);
        assert_eq!(next_line(&[b'x'; 600]), NextLine::TooLong);
        assert_eq!(next_line(&[0u8; 2000]), NextLine::TooLong);
    }

    #[test]
    fn subnegotiation_then_text_is_a_line() {
        let mut buf = vec![255, 250, 31, 0, 80, 0, 24, 255, 240]; // NAWS 80x24
        buf.extend_from_slice(b"help\r\n");
        assert_eq!(line(&buf), ("help".to_string(), buf.len()));
        // An escaped 0xFF followed by 240 inside the subnegotiation does not end it.
        let mut buf = vec![255, 250, 24, 255, 255, 240, b'x', 255, 240];
        buf.extend_from_slice(b"who\n");
        assert_eq!(line(&buf), ("who".to_string(), buf.len()));
    }

    #[test]
    fn short_unterminated_subnegotiation_waits() {
        assert_eq!(next_line(&[255, 250, 24, 1, 2, 3]), NextLine::Incomplete);
        let mut buf = b"sta".to_vec();
        buf.extend_from_slice(&[255, 250, 24]);
        buf.extend_from_slice(&[b'x'; MAX_LINE - 10]);
        assert_eq!(next_line(&buf), NextLine::Incomplete);
        // The rest arrives: the subnegotiation ends, and so does the line.
        buf.extend_from_slice(&[255, 240]);
        buf.extend_from_slice(b"ts\n");
        assert_eq!(line(&buf), ("stats".to_string(), buf.len()));
    }

    #[test]
    fn unterminated_subnegotiation_over_the_limit_is_too_long() {
        let mut buf = vec![255, 250, 24];
        buf.extend_from_slice(&[b'x'; MAX_LINE + 20]);
        assert_eq!(next_line(&buf), NextLine::TooLong);
        // Also after some text, and also when it ends after the limit.
        let mut buf = b"stats".to_vec();
        buf.extend_from_slice(&[255, 250, 24]);
        buf.extend_from_slice(&[0; MAX_LINE]);
        assert_eq!(next_line(&buf), NextLine::TooLong);
        buf.extend_from_slice(&[255, 240, b'\n']);
        assert_eq!(next_line(&buf), NextLine::TooLong);
        // Every prefix of the flood is either waiting or refused, never a line.
        let mut flood = vec![255, 250, 24];
        flood.extend_from_slice(&[b'x'; 2 * MAX_LINE]);
        let first_refused = (0..=flood.len())
            .find(|&n| next_line(&flood[..n]) == NextLine::TooLong)
            .expect("the flood is refused");
        assert_eq!(first_refused, MAX_LINE + 1);
    }

    #[test]
    fn a_line_of_only_telnet_commands_is_too_long() {
        // IAC NOP, IAC WILL x and escaped 0xFF, with no line end: refused once over the limit,
        // including when the buffer ends inside a command.
        let nops: Vec<u8> = [255, 241].repeat(MAX_LINE / 2 + 1);
        assert_eq!(next_line(&nops), NextLine::TooLong);
        assert_eq!(next_line(&nops[..MAX_LINE]), NextLine::Incomplete);
        let mut cut = [255, 241].repeat(MAX_LINE / 2);
        cut.push(255);
        assert_eq!(next_line(&cut), NextLine::TooLong);
        assert_eq!(next_line(&[255, 251, 1].repeat(200)), NextLine::TooLong);
        assert_eq!(next_line(&[255; 2 * MAX_LINE + 2]), NextLine::TooLong);
        // A line end after too many commands does not make them acceptable.
        let mut ended = nops.clone();
        ended.push(b'\n');
        assert_eq!(next_line(&ended), NextLine::TooLong);
    }
}
