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
    Line {
        text: String,
        consumed: usize,
    },
    Incomplete,
    TooLong,
}

/// Finds the first line in `buf`.
pub fn next_line(buf: &[u8]) -> NextLine {
    let mut text = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b == IAC {
            let Some(&cmd) = buf.get(i + 1) else {
                return NextLine::Incomplete;
            };
            match cmd {
                IAC => i += 2, // a literal 0xFF: not text we accept
                WILL..=DONT => {
                    if i + 2 >= buf.len() {
                        return NextLine::Incomplete;
                    }
                    i += 3;
                }
                SB => {
                    // Skip to IAC SE.
                    let Some(end) = buf[i + 2..].windows(2).position(|w| w == [IAC, SE]) else {
                        return NextLine::Incomplete;
                    };
                    i += 2 + end + 2;
                }
                _ => i += 2,
            }
            continue;
        }
        i += 1;
        match b {
            b'\n' => {
                return NextLine::Line {
                    text: String::from_utf8_lossy(&text).into_owned(),
                    consumed: i,
                }
            }
            b'\r' | 0 => {}
            0x20..=0x7e | b'\t' => text.push(b),
            _ => {} // other control or non-ASCII bytes are dropped
        }
        if text.len() > MAX_LINE {
            return NextLine::TooLong;
        }
    }
    if buf.len() > MAX_LINE * 2 {
        NextLine::TooLong
    } else {
        NextLine::Incomplete
    }
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
}
