//! The load client's cheap side of SRP6: one private `a` (and `A = g^a`) for every handshake,
//! and `k·v = 3·g^x` computed once for the account, so answering a challenge costs one modular
//! exponentiation, `S = (B − k·v)^(a + u·x)`, where a fresh client ([`ClientHandshake::new`])
//! does three (g^a, g^x and a longer S).
//!
//! For measuring only (`gatehouse load --fixed-ephemeral`, the SRP ceiling tool): a real client
//! draws a fresh `a` per logon. The server cannot tell: it sees a valid A and a right M1 and
//! does all of its own work, so the load client's cost shrinks while the server's does not, and
//! one client core can keep a server core busy. M1 and the expected M2 are computed exactly as
//! [`ClientHandshake`] computes them (a test holds the two equal).

use crypto_bigint::modular::ConstMontyForm;
use crypto_bigint::{NonZero, U256, U512};

use super::{
    compute_m1, compute_m2, compute_public_key_a, compute_u, compute_x, interleave, is_zero_mod_n,
    ClientHandshake, PrivateKey, PublicKey, Salt, Srp6Error, WowGroup, GENERATOR, K_MULTIPLIER,
    N_BE_HEX,
};
use crate::account::{AccountName, Password};

type Element = ConstMontyForm<WowGroup, { U256::LIMBS }>;

/// N − 1: every element's order divides it (N is prime), so an exponent may be reduced by it.
/// A constant (N is far above 1), checked when the crate compiles.
const N_MINUS_ONE: NonZero<U256> =
    NonZero::<U256>::new_unwrap(U256::from_be_hex(N_BE_HEX).wrapping_sub(&U256::ONE));

/// Little-endian bytes (a digest, a key) as a W-byte little-endian buffer, zero-padded.
fn padded<const W: usize>(le: &[u8]) -> [u8; W] {
    let mut bytes = [0u8; W];
    for (dst, src) in bytes.iter_mut().zip(le) {
        *dst = *src;
    }
    bytes
}

/// A digest (x, u) or a key (a) as a 512-bit integer, for a + u·x without overflow.
fn wide(le: &[u8]) -> U512 {
    U512::from_le_slice(&padded::<64>(le))
}

/// One client identity (account, password, salt) with a fixed ephemeral key pair.
#[derive(Clone)]
pub struct FixedEphemeralClient {
    name: AccountName,
    salt: Salt,
    a_pub: PublicKey,
    a: U512,
    x: U512,
    /// k·v = 3·g^x mod N, the part of the base that does not depend on B.
    k_v: Element,
}

impl std::fmt::Debug for FixedEphemeralClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedEphemeralClient")
            .field("name", &self.name)
            .field("a_pub", &self.a_pub)
            .finish_non_exhaustive()
    }
}

impl FixedEphemeralClient {
    /// A client for `name`/`password` on an account with `salt`, with a random `a`.
    pub fn random(name: &AccountName, password: &Password, salt: &Salt) -> Self {
        Self::with_private_key(PrivateKey::random(), name, password, salt)
    }

    /// The same with a given `a` (tests compare it with [`ClientHandshake::with_private_key`]).
    pub fn with_private_key(
        a: PrivateKey,
        name: &AccountName,
        password: &Password,
        salt: &Salt,
    ) -> Self {
        let x = compute_x(name, password, salt);
        let v =
            Element::new(&U256::from_u8(GENERATOR)).pow(&U256::from_le_slice(&padded::<32>(&x)));
        Self {
            name: *name,
            salt: *salt,
            a_pub: compute_public_key_a(&a),
            a: wide(&a.0),
            x: wide(&x),
            k_v: Element::new(&U256::from_u8(K_MULTIPLIER)) * v,
        }
    }

    /// The salt this client was made for: a challenge with another salt needs another client.
    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// Answers a challenge's B: A, M1, K and the M2 to expect, with one exponentiation.
    pub fn handshake(&self, server_public_key: &PublicKey) -> Result<ClientHandshake, Srp6Error> {
        if is_zero_mod_n(server_public_key) {
            return Err(Srp6Error::PublicKeyZero);
        }
        let u = compute_u(&self.a_pub, server_public_key);
        let exponent = self
            .a
            .wrapping_add(&wide(&u).wrapping_mul(&self.x))
            .rem(&N_MINUS_ONE);
        let base = Element::new(&U256::from_le_slice(&server_public_key.0)) - self.k_v;
        let s = padded::<32>(&base.pow(&exponent).retrieve().to_le_bytes());
        let session_key = interleave(&s);
        let client_proof = compute_m1(
            &self.name,
            &self.salt,
            &self.a_pub,
            server_public_key,
            &session_key,
        );
        Ok(ClientHandshake {
            public_key: self.a_pub,
            client_proof,
            session_key,
            expected_server_proof: compute_m2(&self.a_pub, &client_proof, &session_key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srp6::{compute_verifier, ServerHandshake};

    fn identity() -> (AccountName, Password, Salt) {
        (
            AccountName::parse(b"LOADTEST").unwrap(),
            Password::parse(b"LOADTEST").unwrap(),
            Salt::random(),
        )
    }

    #[test]
    fn same_answer_as_the_full_client() {
        let (name, password, salt) = identity();
        for _ in 0..16 {
            let a = PrivateKey::random();
            let fixed = FixedEphemeralClient::with_private_key(a.clone(), &name, &password, &salt);
            let verifier = compute_verifier(&name, &password, &salt);
            let server = ServerHandshake::new(verifier, salt);
            let b_pub = *server.public_key();
            let full =
                ClientHandshake::with_private_key(a, &name, &password, &salt, &b_pub).unwrap();
            let cheap = fixed.handshake(&b_pub).unwrap();
            assert_eq!(cheap.public_key, full.public_key);
            assert_eq!(cheap.client_proof, full.client_proof);
            assert_eq!(cheap.session_key, full.session_key);
            assert_eq!(cheap.expected_server_proof, full.expected_server_proof);
        }
    }

    #[test]
    fn one_client_logs_in_again_and_again() {
        let (name, password, salt) = identity();
        let verifier = compute_verifier(&name, &password, &salt);
        let client = FixedEphemeralClient::random(&name, &password, &salt);
        for _ in 0..8 {
            let server = ServerHandshake::new(verifier, salt);
            let answer = client.handshake(server.public_key()).unwrap();
            let success = server
                .verify(&name, &answer.public_key, &answer.client_proof)
                .expect("the server accepts the proof");
            assert!(answer.verify_server_proof(&success.server_proof));
        }
    }

    #[test]
    fn a_zero_server_key_is_refused() {
        let (name, password, salt) = identity();
        let client = FixedEphemeralClient::random(&name, &password, &salt);
        assert!(client.handshake(&PublicKey([0; 32])).is_err());
        assert!(client.handshake(&PublicKey(super::super::N_WIRE)).is_err());
    }
}
