//! Fuzz target `link_frames`: the realm link's framing and message decoder
//! (src/realms/link/frame.rs and message.rs, docs/realm-link.md).
//!
//! The input is the byte stream a link peer sends, read as the daemon's link connections
//! read it: `LinkMessage::check_frame`, and for a `Complete` frame `LinkMessage::parse` on
//! exactly its bytes, then the next frame. Whatever parses must encode again, frame to its own
//! length and parse back to the same message.

#![no_main]

use gatehouse::protocol::Check;
use gatehouse::realms::link::frame::{self, LENGTH_FIELD, MAX_FRAME};
use gatehouse::realms::link::message::{is_known_type, LinkMessage};
use gatehouse_fuzz::assert_framing_consistent;
use libfuzzer_sys::fuzz_target;

/// Frames read from one input, at most.
const MAX_FRAMES: usize = 32;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    for _ in 0..MAX_FRAMES {
        if rest.is_empty() {
            return;
        }
        let verdict = assert_framing_consistent("link frame", rest, LinkMessage::check_frame);
        // Bytes that decode as they stand are one whole frame, and so is a frame `split` takes
        // (split does not judge the type; check_frame refuses unknown ones). Both also run on
        // bytes the daemon would refuse: they must not panic either.
        let parsed = LinkMessage::parse(rest).is_ok();
        let split_known = frame::split(rest).is_ok_and(|(ty, _)| is_known_type(ty));
        if parsed || split_known {
            assert_eq!(verdict, Check::Complete(rest.len()), "one whole frame");
        }
        let Check::Complete(n) = verdict else {
            return;
        };
        assert!(
            (LENGTH_FIELD + 1..=LENGTH_FIELD + MAX_FRAME).contains(&n),
            "Complete({n}) outside a frame's bounds"
        );
        let bytes = &rest[..n];
        // check_frame and split agree on where the frame ends.
        assert!(frame::split(bytes).is_ok(), "a Complete frame splits");
        if let Ok(msg) = LinkMessage::parse(bytes) {
            round_trip(&msg, bytes);
        }
        rest = &rest[n..];
    }
});

fn round_trip(msg: &LinkMessage, input: &[u8]) {
    let e = match msg.to_bytes() {
        Ok(e) => e,
        Err(err) => panic!("a parsed message does not encode: {err} {msg:?}"),
    };
    assert_eq!(e.len(), msg.encoded_len());
    // Account names come back upper-cased; everything else has one encoding.
    assert_eq!(e.len(), input.len());
    if !matches!(msg, LinkMessage::TakeSession { .. }) {
        assert_eq!(e, input, "{msg:?}");
    }
    assert_eq!(LinkMessage::check_frame(&e), Check::Complete(e.len()));
    let again = match LinkMessage::parse(&e) {
        Ok(m) => m,
        Err(err) => panic!("re-encoded message does not parse: {err} {msg:?}"),
    };
    // Compared as bytes: a NaN heartbeat population is not equal to itself as an f32.
    assert_eq!(again.to_bytes().ok(), Some(e));
}
