//! Invariants the fuzz targets hold every two-phase framing function to (`check(buf) ->
//! Complete(n) | Incomplete | Invalid`), whatever the message: the server and the clients frame
//! a stream that arrives in arbitrary pieces, so the answer must not depend on where a read
//! happened to stop.

use gatehouse::protocol::Check;

/// Longest prefix [`assert_framing_consistent`] re-frames byte by byte; beyond it only the
/// complete message itself is re-framed (keeps the check linear for long inputs).
pub const PREFIX_LIMIT: usize = 1100;

/// Frames `buf` with `check` and holds the answer to the rules every receiver relies on:
///
/// - `Complete(n)`: `0 < n <= buf.len()`, the message alone frames to `Complete(n)` again, and
///   every shorter prefix of it is `Incomplete` (a message cut by a read is never refused, and
///   never mistaken for a shorter one);
/// - any prefix that is already `Invalid` keeps the same verdict for the whole buffer (bytes
///   that arrive later cannot rescue a refused stream, nor change why it was refused).
///
/// Returns the verdict for the whole buffer.
pub fn assert_framing_consistent(what: &str, buf: &[u8], check: impl Fn(&[u8]) -> Check) -> Check {
    let full = check(buf);
    if let Check::Complete(n) = full {
        assert!(n > 0, "{what}: Complete(0)");
        assert!(
            n <= buf.len(),
            "{what}: Complete({n}) for {} bytes",
            buf.len()
        );
        assert_eq!(
            check(&buf[..n]),
            Check::Complete(n),
            "{what}: message alone"
        );
    }
    let upto = match full {
        Check::Complete(n) => n.min(PREFIX_LIMIT),
        _ => buf.len().min(PREFIX_LIMIT),
    };
    for k in 0..upto {
        match check(&buf[..k]) {
            Check::Incomplete => {}
            Check::Complete(m) => {
                panic!("{what}: prefix of {k} bytes is Complete({m}), whole is {full:?}")
            }
            Check::Invalid(e) => assert_eq!(
                full,
                Check::Invalid(e.clone()),
                "{what}: prefix of {k} bytes is Invalid({e}), whole is {full:?}"
            ),
        }
    }
    full
}
