//! The `Closing` state: the client was refused and told why. Its answer is flushed; the
//! client normally hangs up after showing the error. Nothing it sends is handled, and the
//! state's deadline closes a client that lingers.

/// Refused and answered; waiting for the client to hang up.
pub struct Closing;
