//! Fuzz target `packets`: the login protocol's framing and parsing, both directions, every
//! opcode and every layout.
//!
//! Input: one selector byte, then a byte stream. Selector bits 0–1 pick the connection's layout
//! (V2, V3, V8, or none yet, as before the first challenge); bit 2 picks the reader:
//! - 0, the server: each packet is framed by `session::check_packet` under every rule of every
//!   state's opcode table that names its opcode (as the daemon does with the state's rule), and
//!   a `Complete` one is parsed by the parser its state would run. A parsed challenge sets the
//!   layout for the packets after it, as in the daemon.
//! - 1, the client library: each packet is framed and parsed by the server→client codec of its
//!   opcode (what `tools::client::LogonClient` runs on what a server sends).
//!
//! Packets follow each other while they frame `Complete`, so stuck-together packets and the
//! state tables' bounds are exercised too. Whatever parses must encode again, frame to its own
//! length, and parse back to the same message.

#![no_main]

use gatehouse::protocol::challenge::{ChallengeC2s, LogonChallengeS2c};
use gatehouse::protocol::proof::{LogonProofC2s, LogonProofS2c};
use gatehouse::protocol::realm_list::{RealmListC2s, RealmListS2c};
use gatehouse::protocol::reconnect::{ReconnectChallengeS2c, ReconnectProofC2s, ReconnectProofS2c};
use gatehouse::protocol::version::Layout;
use gatehouse::protocol::xfer::{
    SurveyResultC2s, XferAcceptC2s, XferCancelC2s, XferDataS2c, XferInitiateS2c, XferResumeC2s,
};
use gatehouse::protocol::{Check, Opcode};
use gatehouse::session::{check_packet, OPCODE_TABLES};
use gatehouse_fuzz::assert_framing_consistent;
use libfuzzer_sys::fuzz_target;

/// Packets read from one input, at most (a connection's ring holds no more than a few).
const MAX_PACKETS: usize = 32;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let layout = match selector & 0b11 {
        0 => Some(Layout::V2),
        1 => Some(Layout::V3),
        2 => Some(Layout::V8),
        _ => None,
    };
    if selector & 0b100 == 0 {
        server_reads(layout, stream);
    } else {
        // The client always knows its layout; "none" reads as V8, as the server defaults.
        client_reads(layout.unwrap_or(Layout::V8), stream);
    }
});

/// The server's path: the state tables' rules, `check_packet`, then the state's parser.
fn server_reads(mut layout: Option<Layout>, mut rest: &[u8]) {
    for _ in 0..MAX_PACKETS {
        let Some(opcode) = rest.first().and_then(|&b| Opcode::from_u8(b)) else {
            return;
        };
        // A packet its parser accepts as it stands must frame to exactly its length under
        // every rule that names its opcode: no legal message is cut short, run on, or
        // refused by a table's bounds.
        let whole = parse_c2s(opcode, layout, rest);
        let mut consumed = None;
        let mut next_layout = layout;
        for (state, table) in OPCODE_TABLES {
            for rule in table.iter().filter(|r| r.opcode == opcode) {
                let what = format!("{state} {opcode} {layout:?}");
                let verdict =
                    assert_framing_consistent(&what, rest, |b| check_packet(rule, layout, b));
                if whole != Parsed::Refused {
                    assert_eq!(verdict, Check::Complete(rest.len()), "{what}: parses whole");
                }
                match verdict {
                    Check::Complete(n) => {
                        assert!(
                            (rule.min_len..=rule.max_len).contains(&n),
                            "{what}: Complete({n}) outside the rule's {}..={}",
                            rule.min_len,
                            rule.max_len
                        );
                        if let Parsed::Challenge(next) = parse_c2s(opcode, layout, &rest[..n]) {
                            next_layout = next;
                        }
                        consumed.get_or_insert(n);
                    }
                    // A state never waits for more than its largest legal packet: the daemon
                    // would hold the bytes in the ring for ever.
                    Check::Incomplete => assert!(
                        rest.len() < rule.max_len,
                        "{what}: Incomplete with {} bytes, the rule allows {}",
                        rest.len(),
                        rule.max_len
                    ),
                    Check::Invalid(_) => {}
                }
            }
        }
        let Some(n) = consumed else { return };
        rest = &rest[n..];
        layout = next_layout;
    }
}

/// What [`parse_c2s`] made of a message.
#[derive(PartialEq)]
enum Parsed {
    Refused,
    /// A challenge: the connection's layout from then on (`None`: a version not spoken here).
    Challenge(Option<Layout>),
    Other,
}

/// Parses one client message as the state that allowed it would; checks the round trip.
fn parse_c2s(opcode: Opcode, layout: Option<Layout>, msg: &[u8]) -> Parsed {
    // The states parse with the layout the challenge set, V8 if none (session/logon.rs).
    let l = layout.unwrap_or(Layout::V8);
    let mut e = Vec::new();
    match opcode {
        Opcode::LogonChallenge | Opcode::ReconnectChallenge => {
            let Ok(c) = ChallengeC2s::parse(msg) else {
                return Parsed::Refused;
            };
            c.encode(&mut e);
            assert_eq!(e.len(), c.encoded_len());
            // Names come back upper-cased, so only the length is the same as the input's.
            assert_eq!(e.len(), msg.len());
            assert_eq!(ChallengeC2s::check(&e), Check::Complete(e.len()));
            assert_eq!(ChallengeC2s::parse(&e).as_ref(), Ok(&c));
            return Parsed::Challenge(c.layout());
        }
        Opcode::LogonProof => {
            let Ok(p) = LogonProofC2s::parse(l, msg) else {
                return Parsed::Refused;
            };
            assert_eq!(p.encode(l, &mut e), Ok(()), "a parsed proof encodes");
            assert_eq!(e.len(), p.encoded_len(l));
        }
        Opcode::ReconnectProof => {
            let Ok(p) = ReconnectProofC2s::parse(msg) else {
                return Parsed::Refused;
            };
            assert_eq!(p.encode(&mut e), Ok(()));
            assert_eq!(e.len(), p.encoded_len());
        }
        Opcode::RealmList => match RealmListC2s::parse(msg) {
            Ok(p) => p.encode(&mut e),
            Err(_) => return Parsed::Refused,
        },
        Opcode::XferAccept => match XferAcceptC2s::parse(msg) {
            Ok(p) => p.encode(&mut e),
            Err(_) => return Parsed::Refused,
        },
        Opcode::XferCancel => match XferCancelC2s::parse(msg) {
            Ok(p) => p.encode(&mut e),
            Err(_) => return Parsed::Refused,
        },
        Opcode::XferResume => match XferResumeC2s::parse(msg) {
            Ok(p) => p.encode(&mut e),
            Err(_) => return Parsed::Refused,
        },
        // Not legal in any state; the tables never hand these to a parser.
        Opcode::SurveyResult | Opcode::XferInitiate | Opcode::XferData => return Parsed::Refused,
    }
    // Every client message but the challenge has exactly one encoding.
    assert_eq!(e, msg, "{opcode} re-encodes to its input");
    Parsed::Other
}

/// The client library's path: the server→client codec of each opcode, in `layout`.
fn client_reads(layout: Layout, mut rest: &[u8]) {
    for _ in 0..MAX_PACKETS {
        let Some(opcode) = rest.first().and_then(|&b| Opcode::from_u8(b)) else {
            return;
        };
        let what = format!("{opcode} from the server, {layout:?}");
        let verdict = match opcode {
            Opcode::LogonChallenge => {
                assert_framing_consistent(&what, rest, |b| LogonChallengeS2c::check(layout, b))
            }
            Opcode::LogonProof => {
                assert_framing_consistent(&what, rest, |b| LogonProofS2c::check(layout, b))
            }
            Opcode::ReconnectChallenge => {
                assert_framing_consistent(&what, rest, ReconnectChallengeS2c::check)
            }
            Opcode::ReconnectProof => {
                assert_framing_consistent(&what, rest, |b| ReconnectProofS2c::check(layout, b))
            }
            Opcode::RealmList => {
                assert_framing_consistent(&what, rest, |b| RealmListS2c::check(layout, b))
            }
            Opcode::XferInitiate => assert_framing_consistent(&what, rest, XferInitiateS2c::check),
            Opcode::XferData => assert_framing_consistent(&what, rest, XferDataS2c::check),
            // Client→server, but with no state that takes it: the codec alone is fuzzed here.
            Opcode::SurveyResult => assert_framing_consistent(&what, rest, SurveyResultC2s::check),
            Opcode::XferAccept | Opcode::XferResume | Opcode::XferCancel => return,
        };
        // A message the parser accepts as it stands frames to exactly its length.
        if parse_s2c(opcode, layout, rest) {
            assert_eq!(verdict, Check::Complete(rest.len()), "{what}: parses whole");
        }
        let Check::Complete(n) = verdict else {
            return;
        };
        parse_s2c(opcode, layout, &rest[..n]);
        rest = &rest[n..];
    }
}

/// Parses one server message as the client library does; checks the round trip. Returns
/// whether it parsed.
fn parse_s2c(opcode: Opcode, layout: Layout, msg: &[u8]) -> bool {
    match opcode {
        Opcode::LogonChallenge => {
            if let Ok(p) = LogonChallengeS2c::parse(layout, msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(layout, &mut e), Ok(()), "{p:?}");
                assert_eq!(e.len(), p.encoded_len(layout));
                // The protocol byte is not checked on the way in, so it may differ.
                assert_eq!(e.len(), msg.len());
                assert_eq!(
                    LogonChallengeS2c::check(layout, &e),
                    Check::Complete(e.len())
                );
                assert_eq!(LogonChallengeS2c::parse(layout, &e), Ok(p));
                return true;
            }
        }
        Opcode::LogonProof => {
            if let Ok(p) = LogonProofS2c::parse(layout, msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(layout, &mut e), Ok(()), "{p:?}");
                assert_eq!(e.len(), p.encoded_len(layout));
                assert_eq!(e.len(), msg.len());
                assert_eq!(LogonProofS2c::check(layout, &e), Check::Complete(e.len()));
                assert_eq!(LogonProofS2c::parse(layout, &e), Ok(p));
                return true;
            }
        }
        Opcode::ReconnectChallenge => {
            if let Ok(p) = ReconnectChallengeS2c::parse(msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(&mut e), Ok(()), "{p:?}");
                assert_eq!(e.len(), p.encoded_len());
                assert_eq!(e, msg);
                return true;
            }
        }
        Opcode::ReconnectProof => {
            if let Ok(p) = ReconnectProofS2c::parse(layout, msg) {
                let mut e = Vec::new();
                p.encode(layout, &mut e);
                assert_eq!(e.len(), p.encoded_len(layout));
                assert_eq!(e.len(), msg.len());
                assert_eq!(ReconnectProofS2c::parse(layout, &e), Ok(p));
                return true;
            }
        }
        Opcode::RealmList => {
            if let Ok(p) = RealmListS2c::parse(layout, msg) {
                let mut e = Vec::new();
                let encoded = p.encode(layout, &mut e);
                let Ok(encoded) = encoded else {
                    panic!("a parsed realm list does not encode: {encoded:?} {p:?}");
                };
                assert_eq!(e.len(), encoded.len);
                assert_eq!(e.len(), p.encoded_len(layout));
                // Only the 4 header padding bytes are free on the way in.
                assert_eq!(e.len(), msg.len());
                assert_eq!(RealmListS2c::check(layout, &e), Check::Complete(e.len()));
                // The offsets the server patches per account point at each entry's count.
                assert_eq!(encoded.character_offsets.len(), p.realms.len());
                for (off, realm) in encoded.character_offsets.iter().zip(&p.realms) {
                    assert_eq!(e.get(*off), Some(&realm.characters));
                }
                // Compared as bytes: a NaN population is not equal to itself as an f32.
                let again = RealmListS2c::parse(layout, &e);
                let Ok(again) = again else {
                    panic!("re-encoded realm list does not parse: {again:?}");
                };
                let mut e2 = Vec::new();
                assert!(again.encode(layout, &mut e2).is_ok());
                assert_eq!(e2, e);
                return true;
            }
        }
        Opcode::XferInitiate => {
            if let Ok(p) = XferInitiateS2c::parse(msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(&mut e), Ok(()));
                assert_eq!(e.len(), p.encoded_len());
                assert_eq!(e, msg);
                return true;
            }
        }
        Opcode::XferData => {
            if let Ok(p) = XferDataS2c::parse(msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(&mut e), Ok(()));
                assert_eq!(e.len(), p.encoded_len());
                assert_eq!(e, msg);
                return true;
            }
        }
        Opcode::SurveyResult => {
            if let Ok(p) = SurveyResultC2s::parse(msg) {
                let mut e = Vec::new();
                assert_eq!(p.encode(&mut e), Ok(()));
                assert_eq!(e.len(), p.encoded_len());
                assert_eq!(e, msg);
                return true;
            }
        }
        Opcode::XferAccept | Opcode::XferResume | Opcode::XferCancel => {}
    }
    false
}
