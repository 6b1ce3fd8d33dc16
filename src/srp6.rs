//! The WoW flavour of SRP6 (../shared/protocol/srp6.md), on the `srp` crate's constant-time
//! group arithmetic and `sha1`.
//!
//! The logon state uses [`ServerHandshake`] (one per challenge: B out, then one proof in); the
//! store uses [`compute_verifier`] at registration; the reconnect and world-server proofs check a
//! client against the session key K kept from a successful logon. [`ClientHandshake`] is the
//! other side, for the test and load clients. The modular exponentiations are the `srp` crate's
//! (crypto-bigint, constant time); everything WoW-specific — little-endian fixed-width numbers,
//! k = 3, the interleaved session key, M1/M2 — is done here on SHA-1.
//!
//! All byte arrays are in wire order: numbers little-endian, zero-padded at the high end to
//! their fixed width (never trimmed), digests as SHA-1 emits them.

use std::sync::OnceLock;

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams, FixedMontyParams};
use crypto_bigint::{BoxedUint, Odd, U256};
use sha1::{Digest, Sha1};
use subtle::{Choice, ConstantTimeEq};

use crate::account::{AccountName, Password};

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

/// Precision for 32-byte numbers (N, keys, v, S): the group's own width.
const WIDE_BITS: u32 = U256::BITS;
/// Precision for SHA-1 outputs used as numbers (x, u): 160 bits rounded up to whole 64-bit
/// limbs. Keeping them narrow keeps the client's exponent a + u·x short.
const DIGEST_BITS: u32 = 192;

/// The WoW group (256-bit N, g = 7) in the shape the `srp` crate is generic over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WowGroup;

impl ConstMontyParams<{ U256::LIMBS }> for WowGroup {
    const LIMBS: usize = U256::LIMBS;
    const PARAMS: FixedMontyParams<{ U256::LIMBS }> =
        FixedMontyParams::new_vartime(Odd::<U256>::from_be_hex(N_BE_HEX));
}

impl srp::Group for WowGroup {
    type Element = ConstMontyForm<Self, { U256::LIMBS }>;
    const G: Self::Element = ConstMontyForm::new(&U256::from_u8(GENERATOR));
}

type SrpServer = srp::Server<WowGroup, Sha1>;
type SrpClient = srp::Client<WowGroup, Sha1>;

// Building the boxed Montgomery parameters costs an allocation and some arithmetic; the group
// never changes, so do it once per process rather than once per logon.
fn srp_server() -> &'static SrpServer {
    static SERVER: OnceLock<SrpServer> = OnceLock::new();
    SERVER.get_or_init(SrpServer::new)
}

fn srp_client() -> &'static SrpClient {
    static CLIENT: OnceLock<SrpClient> = OnceLock::new();
    CLIENT.get_or_init(SrpClient::new)
}

/// A 32-byte wire number as a 256-bit integer.
fn uint_wide(le: &[u8; 32]) -> BoxedUint {
    // 32 bytes always fit 256 bits, so the truncating constructor never truncates nor panics.
    BoxedUint::from_le_slice_truncated(le, WIDE_BITS)
}

/// A SHA-1 digest read as a little-endian integer (x, u).
fn uint_digest(le: &[u8; 20]) -> BoxedUint {
    // 20 bytes always fit 192 bits.
    BoxedUint::from_le_slice_truncated(le, DIGEST_BITS)
}

/// Back to 32 wire bytes. Results of the group arithmetic are reduced mod N < 2^256, so the
/// bytes beyond 32 (there are none at 256-bit precision) would be zero anyway.
fn wire_wide(n: &BoxedUint) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (dst, src) in out.iter_mut().zip(n.to_le_bytes().iter()) {
        *dst = *src;
    }
    out
}

/// For a 32-byte value, ≡ 0 mod N means exactly 0 or N, because 2N > 2^256 (srp6.md §2).
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
    /// 32 bytes from the OS CSPRNG, as wow_srp and AzerothCore use (srp6.md §2).
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
    Verifier(wire_wide(&srp_client().compute_g_x(&uint_digest(&x))))
}

/// A = g^a mod N.
pub fn compute_public_key_a(a: &PrivateKey) -> PublicKey {
    PublicKey(wire_wide(&srp_client().compute_g_x(&uint_wide(&a.0))))
}

/// B = (3·v + g^b) mod N.
pub fn compute_b_pub(v: &Verifier, b: &PrivateKey) -> PublicKey {
    let k = BoxedUint::from(K_MULTIPLIER);
    let b_pub = srp_server().compute_b_pub(&uint_wide(&b.0), &k, &uint_wide(&v.0));
    PublicKey(wire_wide(&b_pub))
}

/// u as a digest: H(A ‖ B).
pub fn compute_u(a_pub: &PublicKey, b_pub: &PublicKey) -> [u8; 20] {
    sha1_parts(&[&a_pub.0, &b_pub.0])
}

/// The server's S = (A · v^u)^b mod N.
pub fn compute_server_s(a_pub: &PublicKey, v: &Verifier, u: &[u8; 20], b: &PrivateKey) -> [u8; 32] {
    let s = srp_server().compute_premaster_secret(
        &uint_wide(&a_pub.0),
        &uint_wide(&v.0),
        &uint_digest(u),
        &uint_wide(&b.0),
    );
    wire_wide(&s)
}

/// The client's S = (B − 3·g^x)^(a + u·x) mod N (the base is reduced into [0, N) by the
/// Montgomery subtraction, as srp6.md §12 requires).
pub fn compute_client_s(b_pub: &PublicKey, a: &PrivateKey, x: &[u8; 20], u: &[u8; 20]) -> [u8; 32] {
    let s = srp_client().compute_premaster_secret(
        &uint_wide(&b_pub.0),
        &BoxedUint::from(K_MULTIPLIER),
        &uint_digest(x),
        &uint_wide(&a.0),
        &uint_digest(u),
    );
    wire_wide(&s)
}

/// K from S (srp6.md §6): skip the zero bytes at the start of the little-endian S, rounded up
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
            // B ≡ 0 has probability ~2^-256; a fresh b is the remedy srp6.md §5 gives.
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

/// R2 = H(U ‖ R1 ‖ challenge_data ‖ K) (srp6.md §8).
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
/// little-endian u32, client seed first (srp6.md §9).
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

/// The LOGON_PROOF crc_hash: H(A ‖ H_build_os), H_build_os being the per-build/OS value of
/// login-protocol.md §7.3.
pub fn version_proof(a_pub: &PublicKey, build_os_hash: &[u8; 20]) -> [u8; 20] {
    sha1_parts(&[&a_pub.0, build_os_hash])
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! vectors {
        ($path:literal) => {
            (
                $path,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/vectors/",
                    $path
                )),
            )
        };
    }

    fn hex(text: &str) -> Vec<u8> {
        assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// raw-hex(w): the bytes in wire order, exactly w of them.
    fn raw<const W: usize>(text: &str) -> [u8; W] {
        hex(text).try_into().unwrap()
    }

    /// BE-hex(w): big-endian text of an integer; reverse, then pad at the end up to w bytes.
    /// Odd digit counts and missing leading zero bytes both occur.
    fn be<const W: usize>(text: &str) -> [u8; W] {
        let padded = if text.len() % 2 == 1 {
            format!("0{text}")
        } else {
            text.to_owned()
        };
        let mut bytes = hex(&padded);
        bytes.reverse();
        assert!(bytes.len() <= W, "{text} is wider than {W} bytes");
        bytes.resize(W, 0);
        bytes.try_into().unwrap()
    }

    fn name(text: &str) -> AccountName {
        AccountName::parse(text.as_bytes()).unwrap()
    }

    fn password(text: &str) -> Password {
        Password::parse(text.as_bytes()).unwrap()
    }

    /// Every non-empty line with its 1-based number and columns; also checks the line count so
    /// that a truncated copy cannot pass silently.
    fn cases<'a>(
        (path, text): (&'a str, &'a str),
        expected_lines: usize,
    ) -> impl Iterator<Item = (String, Vec<&'a str>)> {
        let lines: Vec<(String, Vec<&str>)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (format!("{path}:{}", i + 1), l.split(' ').collect()))
            .collect();
        assert_eq!(lines.len(), expected_lines, "{path}: number of cases");
        lines.into_iter()
    }

    #[test]
    fn constants_match_the_spec() {
        assert_eq!(be::<32>(N_BE_HEX), N_WIRE);
        let pinned = wire_wide(&BoxedUint::from(WowGroup::PARAMS.modulus()));
        assert_eq!(pinned, N_WIRE);
        let h_n = sha1_parts(&[&N_WIRE]);
        let h_g = sha1_parts(&[&[GENERATOR]]);
        let xor: Vec<u8> = h_n.iter().zip(h_g.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(xor, H_N_XOR_H_G);
    }

    #[test]
    fn x_values() {
        let salt = Salt(be(
            "CAC94AF32D817BA64B13F18FDEDEF92AD4ED7EF7AB0E19E9F2AE13C828AEAF57",
        ));
        for (at, c) in cases(vectors!("srp6_internal/calculate_x_values.txt"), 1000) {
            let x = compute_x(&name(c[0]), &password(c[1]), &salt);
            assert_eq!(x, be::<20>(c[2]), "{at}");
        }
    }

    #[test]
    fn x_salt_values() {
        let (u, p) = (name("USERNAME123"), password("PASSWORD123"));
        for (at, c) in cases(vectors!("srp6_internal/calculate_x_salt_values.txt"), 1000) {
            assert_eq!(compute_x(&u, &p, &Salt(be(c[0]))), be::<20>(c[1]), "{at}");
        }
    }

    #[test]
    fn v_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_v_values.txt"), 1000) {
            let v = compute_verifier(&name(c[0]), &password(c[1]), &Salt(be(c[2])));
            assert_eq!(v, Verifier(be(c[3])), "{at}");
        }
    }

    #[test]
    fn a_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_A_values.txt"), 1000) {
            let a = PrivateKey::from_bytes(be(c[0]));
            assert_eq!(compute_public_key_a(&a), PublicKey(be(c[1])), "{at}");
        }
    }

    #[test]
    fn b_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_B_values.txt"), 1000) {
            let b = PrivateKey::from_bytes(be(c[1]));
            let b_pub = compute_b_pub(&Verifier(be(c[0])), &b);
            assert_eq!(b_pub, PublicKey(be(c[2])), "{at}");
        }
    }

    #[test]
    fn u_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_u_values.txt"), 1000) {
            let u = compute_u(&PublicKey(be(c[0])), &PublicKey(be(c[1])));
            assert_eq!(u, be::<20>(c[2]), "{at}");
        }
    }

    #[test]
    fn s_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_S_values.txt"), 1000) {
            let s = compute_server_s(
                &PublicKey(be(c[0])),
                &Verifier(be(c[1])),
                &be(c[2]),
                &PrivateKey::from_bytes(be(c[3])),
            );
            assert_eq!(s, be::<32>(c[4]), "{at}");
        }
    }

    #[test]
    fn client_s_values() {
        for (at, c) in cases(
            vectors!("srp6_internal/calculate_client_S_values.txt"),
            1000,
        ) {
            let s = compute_client_s(
                &PublicKey(be(c[0])),
                &PrivateKey::from_bytes(be(c[1])),
                &be(c[2]),
                &be(c[3]),
            );
            assert_eq!(s, be::<32>(c[4]), "{at}");
        }
    }

    #[test]
    fn interleaved_values() {
        for (at, c) in cases(
            vectors!("srp6_internal/calculate_interleaved_values.txt"),
            1000,
        ) {
            assert_eq!(interleave(&raw(c[0])), SessionKey(raw(c[1])), "{at}");
        }
    }

    #[test]
    fn session_key_values() {
        let mut zero_skips = Vec::new();
        for (at, c) in cases(
            vectors!("srp6_internal/calculate_session_key_values.txt"),
            1000,
        ) {
            let a_pub = PublicKey(raw(c[0]));
            let v = Verifier(raw(c[1]));
            let b = PrivateKey::from_bytes(raw(c[2]));
            let b_pub = compute_b_pub(&v, &b);
            let s = compute_server_s(&a_pub, &v, &compute_u(&a_pub, &b_pub), &b);
            if s[0] == 0 {
                zero_skips.push(at.clone());
            }
            assert_eq!(interleave(&s), SessionKey(raw(c[3])), "{at}");
        }
        // The two lines that exercise the zero-skip rule must really have been run.
        assert_eq!(
            zero_skips,
            [
                "srp6_internal/calculate_session_key_values.txt:174",
                "srp6_internal/calculate_session_key_values.txt:818"
            ]
        );
    }

    #[test]
    fn interleave_zero_skip_known_answer() {
        // srp6.md §6, session_key_values line 174.
        let s = raw("006bc986eda586004b31989b3e3f53f930a21451a6af160b48481a8430565244");
        let k =
            raw("ec565f71595fcbfca86a46aef0fd73e13d2892ab8a2cdb6c5caa60e2a4ac631f13f93641b7adfba9");
        assert_eq!(interleave(&s), SessionKey(k));
        // All-zero S: everything is skipped and both halves hash the empty string.
        let empty = sha1_parts(&[]);
        let k = interleave(&[0u8; 32]);
        for (pair, e) in k.0.chunks_exact(2).zip(empty) {
            assert_eq!(pair, [e, e]);
        }
    }

    #[test]
    fn m1_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_M1_values.txt"), 1000) {
            let m1 = compute_m1(
                &name(c[0]),
                &Salt(be(c[4])),
                &PublicKey(be(c[2])),
                &PublicKey(be(c[3])),
                &SessionKey(raw(c[1])),
            );
            assert_eq!(m1, Proof(be(c[5])), "{at}");
        }
    }

    #[test]
    fn m2_values() {
        for (at, c) in cases(vectors!("srp6_internal/calculate_M2_values.txt"), 1000) {
            let m2 = compute_m2(
                &PublicKey(be(c[0])),
                &Proof(be(c[1])),
                &SessionKey(raw(c[2])),
            );
            assert_eq!(m2, Proof(be(c[3])), "{at}");
        }
    }

    #[test]
    fn reconnection_values() {
        for (at, c) in cases(
            vectors!("srp6_internal/calculate_reconnection_values.txt"),
            1001,
        ) {
            let (u, r1, challenge, k) = (name(c[0]), raw(c[1]), raw(c[2]), SessionKey(raw(c[3])));
            let r2 = Proof(raw(c[4]));
            assert_eq!(reconnect_proof(&u, &r1, &challenge, &k), r2, "{at}");
            assert!(verify_reconnect_proof(&u, &r1, &challenge, &k, &r2), "{at}");
            let mut wrong = r2;
            wrong.0[19] ^= 1;
            assert!(
                !verify_reconnect_proof(&u, &r1, &challenge, &k, &wrong),
                "{at}"
            );
        }
    }

    fn check_world_server_proofs(file: (&str, &str), key: impl Fn(&str) -> SessionKey) {
        for (at, c) in cases(file, 1000) {
            // AccountName::parse upper-cases the mixed-case names of the srp6_internal file.
            let u = name(c[0]);
            let k = key(c[1]);
            let server_seed = u32::from_le_bytes(raw(c[2]));
            let client_seed = u32::from_le_bytes(raw(c[3]));
            let digest = Proof(raw(c[4]));
            assert_eq!(
                world_server_proof(&u, client_seed, server_seed, &k),
                digest,
                "{at}"
            );
            assert!(
                verify_world_server_proof(&u, client_seed, server_seed, &k, &digest),
                "{at}"
            );
            assert!(
                !verify_world_server_proof(&u, server_seed, client_seed, &k, &digest),
                "{at}"
            );
        }
    }

    #[test]
    fn world_server_proof_values() {
        check_world_server_proofs(
            vectors!("srp6_internal/calculate_world_server_proof.txt"),
            |k| SessionKey(raw(k)),
        );
    }

    #[test]
    fn world_server_proof_values_big_endian_key() {
        check_world_server_proofs(
            vectors!("encryption/calculate_world_server_proof.txt"),
            |k| SessionKey(be(k)),
        );
    }

    /// srp6.md §11: values produced by a real client, account "A" / password "A".
    #[test]
    fn real_client_known_answer() {
        let (u, p) = (name("A"), password("A"));
        let salt = Salt(raw(
            "3c817155ed2215bf1623b08ae339977c294e590a39c8f64e9fea0bb3131e7765",
        ));
        assert_eq!(
            compute_x(&u, &p, &salt),
            raw::<20>("1b493f09d1176b85da31e6c7cf0b6d797c86a704")
        );
        let v = compute_verifier(&u, &p, &salt);
        assert_eq!(
            v,
            Verifier(raw(
                "549bdc598d3e4a88c293722e5f693a6101bf704997d1a4ab966dcefff99f544d"
            ))
        );
        let b = PrivateKey::from_bytes(raw(
            "6e02f53aad8929c3fd8f21e4c28b1516b3fd071dfe2a70dd7c9eab6aa7d21b29",
        ));
        let server = ServerHandshake::with_private_key(b.clone(), v, salt);
        let b_pub = PublicKey(raw(
            "0040e2c566241c044108ccbc9d1a20c279a78b3c5ec051a44a0cc5a70821ed13",
        ));
        assert_eq!(*server.public_key(), b_pub);
        assert_eq!(*server.salt(), salt);

        let a_pub = PublicKey(raw(
            "fa7e7b8c996c1e2fc5da2b4dc14570d872364aac0d29e8151d72605d641e072e",
        ));
        let u_digest = compute_u(&a_pub, &b_pub);
        assert_eq!(
            u_digest,
            raw::<20>("28744edbcd8205de41ffe3f07381df8669c46dfa")
        );
        let s = compute_server_s(&a_pub, &v, &u_digest, &b);
        assert_eq!(
            s,
            raw::<32>("e254772a41169518eccd58d72d0a200d0d74e8897c5a467dbcdac40c8b85bf52")
        );
        let k = SessionKey(raw(
            "39cdb95ec12bdf4c283dd9379afc3df4ee7f8f1c4fb1c303ed3ff6bffc1a6fc5ae5bc7d4b6dae8b3",
        ));
        assert_eq!(interleave(&s), k);

        let m1 = Proof(raw("e6430af65434d7669f5d58449c96068c0c6e1eb9"));
        let m2 = Proof(raw("0b78221a4e3cc8d270320443187af2b68568000e"));
        assert_eq!(compute_m1(&u, &salt, &a_pub, &b_pub, &k), m1);
        let success = server.verify(&u, &a_pub, &m1).unwrap();
        assert_eq!(success.session_key, k);
        assert_eq!(success.server_proof, m2);
    }

    #[test]
    fn round_trip_with_random_keys() {
        let (u, p) = (name("alice"), password("Correct Horse"));
        let salt = Salt::random();
        let v = compute_verifier(&u, &p, &salt);
        let server = ServerHandshake::new(v, salt);
        let client = ClientHandshake::new(&u, &p, server.salt(), server.public_key()).unwrap();
        let success = server
            .verify(&u, &client.public_key, &client.client_proof)
            .unwrap();
        assert_eq!(success.session_key, client.session_key);
        assert!(client.verify_server_proof(&success.server_proof));
        let mut forged = success.server_proof;
        forged.0[0] ^= 0x80;
        assert!(!client.verify_server_proof(&forged));
    }

    #[test]
    fn wrong_password_is_a_mismatch() {
        let u = name("ALICE");
        let salt = Salt::random();
        let v = compute_verifier(&u, &password("right"), &salt);
        let server = ServerHandshake::new(v, salt);
        let client =
            ClientHandshake::new(&u, &password("wrong"), &salt, server.public_key()).unwrap();
        let result = server.verify(&u, &client.public_key, &client.client_proof);
        assert_eq!(result.unwrap_err(), ProofFailure::Mismatch);
    }

    #[test]
    fn public_keys_congruent_to_zero_are_refused() {
        let u = name("ALICE");
        let salt = Salt::random();
        let v = compute_verifier(&u, &password("pw"), &salt);
        for bad in [[0u8; 32], N_WIRE] {
            let server = ServerHandshake::new(v, salt);
            let result = server.verify(&u, &PublicKey(bad), &Proof([0; 20]));
            assert_eq!(result.unwrap_err(), ProofFailure::PublicKeyZero);
            let client = ClientHandshake::new(&u, &password("pw"), &salt, &PublicKey(bad));
            assert!(matches!(client, Err(Srp6Error::PublicKeyZero)));
        }
        // N + 1 ≡ 1 is not zero: it is refused only because the proof is wrong.
        let mut n_plus_1 = N_WIRE;
        n_plus_1[0] += 1;
        let server = ServerHandshake::new(v, salt);
        let result = server.verify(&u, &PublicKey(n_plus_1), &Proof([0; 20]));
        assert_eq!(result.unwrap_err(), ProofFailure::Mismatch);
    }

    #[test]
    fn private_keys_and_salts_are_random_and_hidden() {
        assert_ne!(PrivateKey::random().0, PrivateKey::random().0);
        assert_ne!(Salt::random(), Salt::random());
        let key = PrivateKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "PrivateKey(***)");
        let server = ServerHandshake::with_private_key(key, Verifier([1; 32]), Salt([2; 32]));
        assert!(format!("{server:?}").contains("b: PrivateKey(***)"));
    }

    /// login-protocol.md §7.3 against the captured 1.12.1 proof
    /// (testdata/logon_proof_client_v3.hex, from gtker/wow_messages).
    #[test]
    fn version_proof_matches_captured_client() {
        const LOGON_PROOF_V3: &str =
            "01f13ee5d183c4c8a9500e3f5a5d8aee4e2e45e1f7cc8f1cf5ee8e11ced31dd7\
             086b1e481b4d04a118d8f2de5c59d55c812e65ec3e4ef52de1805e1a6715ecc8\
             41eeb8908a58bb00d00000";
        let packet = hex(LOGON_PROOF_V3);
        assert_eq!(packet.len(), 75);
        let a_pub = PublicKey(packet[1..33].try_into().unwrap());
        let crc_hash: [u8; 20] = packet[53..73].try_into().unwrap();
        let build_os = raw("95EDB27C7823B363CBDDAB56A392E7CB73FCCA20");
        assert_eq!(version_proof(&a_pub, &build_os), crc_hash);
    }
}
