//! The WoW flavour of SRP6 (../shared/protocol/srp6.md), on the `srp` crate's constant-time
//! group arithmetic and `sha1`.

/// 32-byte account salt, wire order (stored as-is).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Salt(pub [u8; 32]);

/// 32-byte password verifier v = g^x mod N, little-endian wire order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Verifier(pub [u8; 32]);

/// A public key (A or B), 32 bytes little-endian, zero-padded at the end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(pub [u8; 32]);

/// The 40-byte session key K: the "boarding pass" a world server takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 40]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

/// A 20-byte SHA-1 proof (M1, M2, reconnect R2, world-server digest), digest order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Proof(pub [u8; 20]);
