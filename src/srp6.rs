//! The WoW flavour of SRP6 (docs/srp6.md), on crypto-bigint's constant-time
//! fixed-width Montgomery arithmetic and `sha1`.
//!
//! The logon state uses [`ServerHandshake`] (one per challenge: B out, then one proof in); the
//! store uses [`compute_verifier`] at registration; the reconnect and world-server proofs check a
//! client against the session key K kept from a successful logon. [`ClientHandshake`] is the
//! other side, for the test and load clients ([`fixed_ephemeral`]: the load client's cheaper
//! one, which reuses its ephemeral key so that a logon costs it one exponentiation). The
//! modular exponentiations are crypto-bigint's `ConstMontyForm::pow` (constant time in the
//! exponent, on the stack: no heap allocation); everything WoW-specific — little-endian
//! fixed-width numbers, k = 3, the interleaved session key, M1/M2 — is done here on SHA-1.
//!
//! All byte arrays are in wire order: numbers little-endian, zero-padded at the high end to
//! their fixed width (never trimmed), digests as SHA-1 emits them.

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams, FixedMontyParams};
use crypto_bigint::{Odd, U192, U256, U512};
use sha1::{Digest, Sha1};
use subtle::{Choice, ConstantTimeEq};

use crate::account::{AccountName, Password};

pub mod fixed_ephemeral;

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

impl ConstantTimeEq for Proof {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

/// N as sent in the logon challenge (little-endian).
pub const N_WIRE: [u8; 32] = [
    0xb7, 0x9b, 0x3e, 0x2a, 0x87, 0x82, 0x3c, 0xab, 0x8f, 0x5e, 0xbf, 0xbf, 0x8e, 0xb1, 0x01, 0x08,
    0x53, 0x50, 0x06, 0x29, 0x8b, 0x5b, 0xad, 0xbd, 0x5b, 0x53, 0xe1, 0x89, 0x5e, 0x64, 0x4b, 0x89,
];

/// g, sent with `g_len = 1` and hashed as the single byte `07`.
pub const GENERATOR: u8 = 7;

/// N big-endian, the form crypto-bigint's const constructors take; a test ties it to `N_WIRE`.
const N_BE_HEX: &str = "894B645E89E1535BBDAD5B8B290650530801B18EBFBF5E8FAB3C82872A3E9BB7";

/// WoW uses the constant 3, not SRP-6a's H(N ‖ g).
const K_MULTIPLIER: u8 = 3;

/// H(N_wire) XOR H(07): the constant first block of M1. Precomputed because it never changes;
/// a test recomputes it.
const H_N_XOR_H_G: [u8; 20] = [
    0xdd, 0x7b, 0xb0, 0x3a, 0x38, 0xac, 0x73, 0x11, 0x03, 0x98, 0x7c, 0x5a, 0x50, 0x6f, 0xca, 0x96,
    0x6c, 0x7b, 0xc2, 0xa7,
];

/// The WoW group: N (256 bits) as crypto-bigint's compile-time Montgomery parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WowGroup;

impl ConstMontyParams<{ U256::LIMBS }> for WowGroup {
    const LIMBS: usize = U256::LIMBS;
    const PARAMS: FixedMontyParams<{ U256::LIMBS }> =
        FixedMontyParams::new_vartime(Odd::<U256>::from_be_hex(N_BE_HEX));
}

/// A number mod N in Montgomery form.
type Residue = ConstMontyForm<WowGroup, { U256::LIMBS }>;

const G: Residue = Residue::new(&U256::from_u8(GENERATOR));
const K: Residue = Residue::new(&U256::from_u8(K_MULTIPLIER));

/// A 32-byte wire number as a 256-bit integer.
fn uint_wide(le: &[u8; 32]) -> U256 {
    U256::from_le_slice(le)
}

/// A SHA-1 digest read as a little-endian integer (x, u): 160 bits in a 192-bit integer.
fn uint_digest(le: &[u8; 20]) -> U192 {
    let mut wide = [0u8; 24];
    wide[..20].copy_from_slice(le);
    U192::from_le_slice(&wide)
}

/// A 32-byte wire number mod N (any 256-bit value: the Montgomery conversion reduces it).
fn residue(le: &[u8; 32]) -> Residue {
    Residue::new(&uint_wide(le))
}

/// Back to 32 wire bytes: the value in [0, N), little-endian.
fn wire_wide(n: &Residue) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&n.retrieve().to_le_bytes());
    out
}

/// For a 32-byte value, ≡ 0 mod N means exactly 0 or N, because 2N > 2^256 (docs/srp6.md §2).
fn is_zero_mod_n(key: &PublicKey) -> bool {
    let zero = key.0.ct_eq(&[0u8; 32]);
    let n = key.0.ct_eq(&N_WIRE);
    bool::from(zero | n)
}

fn sha1_parts(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// A 32-byte private key (a or b), little-endian. Used for exactly one handshake.
#[derive(Clone)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    /// 32 bytes from the OS CSPRNG, as wow_srp and AzerothCore use (docs/srp6.md §2).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(le: [u8; 32]) -> Self {
        Self(le)
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

/// Fills `buf` from the OS CSPRNG (keys, salts, challenge data).
pub fn fill_random(buf: &mut [u8]) {
    // Without a working OS CSPRNG no key this server could make would be safe, and no peer,
    // file or database can cause this failure: stopping is the only sound answer.
    if let Err(e) = getrandom::fill(buf) {
        log::error!("the operating system's random number generator failed: {e}; stopping");
        crate::logging::flush();
        std::process::abort();
    }
}

impl Salt {
    /// 32 fresh random bytes. All-zero is refused: the client would accept it, but it is what
    /// a broken generator or an uninitialised buffer looks like.
    pub fn random() -> Salt {
        loop {
            let mut bytes = [0u8; 32];
            fill_random(&mut bytes);
            if bytes != [0u8; 32] {
                return Salt(bytes);
            }
        }
    }
}

/// Why a client-side handshake could not start.
#[derive(Debug, thiserror::Error)]
pub enum Srp6Error {
    /// The server's B is ≡ 0 mod N: every S would be 0, so the password would prove nothing.
    #[error("the public key is zero modulo N")]
    PublicKeyZero,
}

/// x as a digest: H(s ‖ H(U ‖ ":" ‖ P)). Read as a little-endian integer when used as a number.
pub fn compute_x(name: &AccountName, password: &Password, salt: &Salt) -> [u8; 20] {
    let p = sha1_parts(&[name.as_bytes(), b":", password.as_bytes()]);
    sha1_parts(&[&salt.0, &p])
}

/// v = g^x mod N: what the store keeps instead of the password.
pub fn compute_verifier(name: &AccountName, password: &Password, salt: &Salt) -> Verifier {
    let x = compute_x(name, password, salt);
    Verifier(wire_wide(&G.pow(&uint_digest(&x))))
}

/// A = g^a mod N.
pub fn compute_public_key_a(a: &PrivateKey) -> PublicKey {
    PublicKey(wire_wide(&G.pow(&uint_wide(&a.0))))
}

/// B = (3·v + g^b) mod N.
pub fn compute_b_pub(v: &Verifier, b: &PrivateKey) -> PublicKey {
    let b_pub = K.mul(&residue(&v.0)).add(&G.pow(&uint_wide(&b.0)));
    PublicKey(wire_wide(&b_pub))
}

/// u as a digest: H(A ‖ B).
pub fn compute_u(a_pub: &PublicKey, b_pub: &PublicKey) -> [u8; 20] {
    sha1_parts(&[&a_pub.0, &b_pub.0])
}

/// The server's S = (A · v^u)^b mod N.
pub fn compute_server_s(a_pub: &PublicKey, v: &Verifier, u: &[u8; 20], b: &PrivateKey) -> [u8; 32] {
    let base = residue(&a_pub.0).mul(&residue(&v.0).pow(&uint_digest(u)));
    wire_wide(&base.pow(&uint_wide(&b.0)))
}

/// The client's S = (B − 3·g^x)^(a + u·x) mod N (the base is reduced into [0, N) by the
/// Montgomery subtraction, as docs/srp6.md §12 requires).
pub fn compute_client_s(b_pub: &PublicKey, a: &PrivateKey, x: &[u8; 20], u: &[u8; 20]) -> [u8; 32] {
    let x_num = uint_digest(x);
    let base = residue(&b_pub.0).sub(&K.mul(&G.pow(&x_num)));
    // a + u·x < 2^256 + 2^320: a 512-bit exponent holds it without overflow.
    let wide = |n: &U192| n.resize::<{ U512::LIMBS }>();
    let u_x = wide(&uint_digest(u)).wrapping_mul(&wide(&x_num));
    let exponent = uint_wide(&a.0)
        .resize::<{ U512::LIMBS }>()
        .wrapping_add(&u_x);
    wire_wide(&base.pow(&exponent))
}

/// K from S (docs/srp6.md §6): skip the zero bytes at the start of the little-endian S, rounded up
/// to an even count, then hash the even- and odd-indexed bytes separately and interleave.
///
/// The skip makes the hashed length depend on S; the protocol demands it (the real client does
/// it), and it reveals only how many low bytes of S are zero.
pub fn interleave(s: &[u8; 32]) -> SessionKey {
    let zeros = s.iter().take_while(|&&b| b == 0).count();
    let skip = zeros + (zeros & 1);
    let t = s.get(skip..).unwrap_or(&[]);

    let mut even = Sha1::new();
    let mut odd = Sha1::new();
    for pair in t.chunks_exact(2) {
        even.update(&pair[..1]);
        odd.update(&pair[1..]);
    }
    let (g, h): ([u8; 20], [u8; 20]) = (even.finalize().into(), odd.finalize().into());

    let mut key = [0u8; 40];
    for (slot, (ge, he)) in key.chunks_exact_mut(2).zip(g.iter().zip(h.iter())) {
        slot.copy_from_slice(&[*ge, *he]);
    }
    SessionKey(key)
}

/// M1 = H((H(N) XOR H(g)) ‖ H(U) ‖ s ‖ A ‖ B ‖ K).
pub fn compute_m1(
    name: &AccountName,
    salt: &Salt,
    a_pub: &PublicKey,
    b_pub: &PublicKey,
    key: &SessionKey,
) -> Proof {
    let h_u = sha1_parts(&[name.as_bytes()]);
    Proof(sha1_parts(&[
        &H_N_XOR_H_G,
        &h_u,
        &salt.0,
        &a_pub.0,
        &b_pub.0,
        &key.0,
    ]))
}

/// M2 = H(A ‖ M1 ‖ K).
pub fn compute_m2(a_pub: &PublicKey, m1: &Proof, key: &SessionKey) -> Proof {
    Proof(sha1_parts(&[&a_pub.0, &m1.0, &key.0]))
}

/// The server side of one logon: one (b, B) pair answers exactly one proof (verify consumes self).
#[derive(Debug)]
pub struct ServerHandshake {
    b: PrivateKey,
    b_pub: PublicKey,
    verifier: Verifier,
    salt: Salt,
}

/// What a correct proof earns: K to keep for the world server and reconnects, M2 to send.
#[derive(Debug, Clone, Copy)]
pub struct LogonSuccess {
    pub session_key: SessionKey,
    pub server_proof: Proof,
}

/// Why a logon proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofFailure {
    /// A ≡ 0 mod N: a forged key that would make S = 0 for any password. Close without reply.
    PublicKeyZero,
    /// M1 did not match: wrong password (or a confused client).
    Mismatch,
}

impl ServerHandshake {
    /// A handshake with a fresh random b.
    pub fn new(verifier: Verifier, salt: Salt) -> Self {
        loop {
            let handshake = Self::with_private_key(PrivateKey::random(), verifier, salt);
            // B ≡ 0 has probability ~2^-256; a fresh b is the remedy docs/srp6.md §5 gives.
            if !is_zero_mod_n(&handshake.b_pub) {
                return handshake;
            }
        }
    }

    /// A handshake with a given b: for known-answer tests and benchmarks.
    pub fn with_private_key(b: PrivateKey, verifier: Verifier, salt: Salt) -> Self {
        let b_pub = compute_b_pub(&verifier, &b);
        Self {
            b,
            b_pub,
            verifier,
            salt,
        }
    }

    /// B, to send in the challenge.
    pub fn public_key(&self) -> &PublicKey {
        &self.b_pub
    }

    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// Checks the client's A and M1. `name` must be the name exactly as received in the
    /// challenge (it is hashed into M1).
    pub fn verify(
        self,
        name: &AccountName,
        a_pub: &PublicKey,
        client_proof: &Proof,
    ) -> Result<LogonSuccess, ProofFailure> {
        if is_zero_mod_n(a_pub) {
            return Err(ProofFailure::PublicKeyZero);
        }
        let u = compute_u(a_pub, &self.b_pub);
        let s = compute_server_s(a_pub, &self.verifier, &u, &self.b);
        let session_key = interleave(&s);
        let expected = compute_m1(name, &self.salt, a_pub, &self.b_pub, &session_key);
        if !bool::from(expected.ct_eq(client_proof)) {
            return Err(ProofFailure::Mismatch);
        }
        Ok(LogonSuccess {
            session_key,
            server_proof: compute_m2(a_pub, &expected, &session_key),
        })
    }
}

/// The client side (used by the test client and the load client).
#[derive(Debug, Clone, Copy)]
pub struct ClientHandshake {
    /// A, to send in the proof.
    pub public_key: PublicKey,
    /// M1, to send in the proof.
    pub client_proof: Proof,
    pub session_key: SessionKey,
    expected_server_proof: Proof,
}

impl ClientHandshake {
    /// Answers a challenge with a fresh random a.
    pub fn new(
        name: &AccountName,
        password: &Password,
        salt: &Salt,
        server_public_key: &PublicKey,
    ) -> Result<Self, Srp6Error> {
        Self::with_private_key(
            PrivateKey::random(),
            name,
            password,
            salt,
            server_public_key,
        )
    }

    pub fn with_private_key(
        a: PrivateKey,
        name: &AccountName,
        password: &Password,
        salt: &Salt,
        server_public_key: &PublicKey,
    ) -> Result<Self, Srp6Error> {
        if is_zero_mod_n(server_public_key) {
            return Err(Srp6Error::PublicKeyZero);
        }
        let a_pub = compute_public_key_a(&a);
        let u = compute_u(&a_pub, server_public_key);
        let x = compute_x(name, password, salt);
        let s = compute_client_s(server_public_key, &a, &x, &u);
        let session_key = interleave(&s);
        let client_proof = compute_m1(name, salt, &a_pub, server_public_key, &session_key);
        Ok(Self {
            public_key: a_pub,
            client_proof,
            session_key,
            expected_server_proof: compute_m2(&a_pub, &client_proof, &session_key),
        })
    }

    /// Whether the server's M2 proves it knew the verifier. Constant time.
    pub fn verify_server_proof(&self, m2: &Proof) -> bool {
        self.expected_server_proof.ct_eq(m2).into()
    }
}

/// R2 = H(U ‖ R1 ‖ challenge_data ‖ K) (docs/srp6.md §8).
pub fn reconnect_proof(
    name: &AccountName,
    client_data: &[u8; 16],
    server_challenge: &[u8; 16],
    key: &SessionKey,
) -> Proof {
    Proof(sha1_parts(&[
        name.as_bytes(),
        client_data,
        server_challenge,
        &key.0,
    ]))
}

/// Whether a reconnect R2 is right for this K. Constant time.
pub fn verify_reconnect_proof(
    name: &AccountName,
    client_data: &[u8; 16],
    server_challenge: &[u8; 16],
    key: &SessionKey,
    client_proof: &Proof,
) -> bool {
    reconnect_proof(name, client_data, server_challenge, key)
        .ct_eq(client_proof)
        .into()
}

/// The CMSG_AUTH_SESSION digest H(U ‖ 0u32 ‖ client_seed ‖ server_seed ‖ K), seeds as
/// little-endian u32, client seed first (docs/srp6.md §9).
pub fn world_server_proof(
    name: &AccountName,
    client_seed: u32,
    server_seed: u32,
    key: &SessionKey,
) -> Proof {
    Proof(sha1_parts(&[
        name.as_bytes(),
        &0u32.to_le_bytes(),
        &client_seed.to_le_bytes(),
        &server_seed.to_le_bytes(),
        &key.0,
    ]))
}

/// Whether a world-server digest is right for this K. Constant time.
pub fn verify_world_server_proof(
    name: &AccountName,
    client_seed: u32,
    server_seed: u32,
    key: &SessionKey,
    digest: &Proof,
) -> bool {
    world_server_proof(name, client_seed, server_seed, key)
        .ct_eq(digest)
        .into()
}

/// What a client proved to a world server in CMSG_AUTH_SESSION: its digest and the two seeds
/// it was made over. A world server hands this to gatehouse (the realm link's
/// TakeSessionChecked), which checks it against the ticket's K before it gives the ticket out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ClientDigest {
    /// The client's seed, as CMSG_AUTH_SESSION carries it.
    pub client_seed: u32,
    /// The seed the world server sent in SMSG_AUTH_CHALLENGE.
    pub server_seed: u32,
    /// The 20-byte digest of CMSG_AUTH_SESSION.
    pub digest: Proof,
}

impl ClientDigest {
    /// Whether the digest was made with `key` by `name`
    /// ([`verify_world_server_proof`]; constant time).
    pub fn verify(&self, name: &AccountName, key: &SessionKey) -> bool {
        verify_world_server_proof(name, self.client_seed, self.server_seed, key, &self.digest)
    }
}

/// The LOGON_PROOF crc_hash: H(A ‖ H_build_os), H_build_os being the per-build/OS value of
/// docs/protocol.md §7.3.
pub fn version_proof(a_pub: &PublicKey, build_os_hash: &[u8; 20]) -> [u8; 20] {
    sha1_parts(&[&a_pub.0, build_os_hash])
}

#[cfg(test)]
mod tests;
