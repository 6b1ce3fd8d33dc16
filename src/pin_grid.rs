//! The PIN grid (security flag 0x01, docs/srp6.md §10.3): the client shows a keypad whose
//! digits the server's grid seed shuffled, and proves the PIN typed on it with
//! H(client_salt ‖ H(server_salt ‖ positions)). The PIN is either the account's current
//! authenticator token (CMaNGOS) or a fixed PIN the player chose (vMaNGOS), sealed in the store
//! like a TOTP secret is ([`SealedPin`], under the same `[totp] key`, bound to the account id).
//!
//! Pure arithmetic beside [`crate::srp6`] and [`crate::totp`]: the `Logon` state calls
//! [`verify_fixed`] or [`verify_totp`] on the loop thread after M1 was right (a handful of
//! SHA-1s).

use std::fmt;

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::account::AccountId;
use crate::protocol::challenge::PinChallenge;
use crate::protocol::proof::PinProof;
use crate::totp::{self, TotpKey, TotpSecret, TotpStep, SKEW_STEPS, STEP_SECS};

/// Fewest and most digits of a fixed PIN (what the 1.12 keypad takes).
pub const MIN_PIN_DIGITS: usize = 4;
pub const MAX_PIN_DIGITS: usize = 10;

/// The sealed plaintext: the digit count, then the digits padded to the longest PIN, so the
/// sealed bytes do not tell the PIN's length.
const PLAIN_LEN: usize = 1 + MAX_PIN_DIGITS;
/// Bytes the store keeps per account: nonce ‖ ciphertext ‖ tag.
pub const SEALED_PIN_LEN: usize = PLAIN_LEN + totp::SEAL_OVERHEAD;

/// Prefix of the associated data: a sealed PIN can never be opened as a TOTP secret (whose
/// label differs) nor moved to another account (whose id follows).
const AD_LABEL: &[u8] = b"gatehouse fixed pin v1, account ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits (0-9), nothing else")]
    Format,
    #[error("a sealed PIN is {0} bytes, not {SEALED_PIN_LEN}")]
    SealedLength(usize),
    #[error(
        "the PIN cannot be opened: totp.key is not the key it was sealed with, or it belongs \
         to another account, or it is corrupt"
    )]
    Open,
    #[error("the PIN could not be sealed")]
    Seal,
}

/// A fixed PIN in the clear (4–10 ASCII digits): only while sealing it or checking a proof.
#[derive(Clone)]
pub struct Pin {
    digits: [u8; MAX_PIN_DIGITS],
    len: u8,
}

impl Pin {
    pub fn parse(text: &[u8]) -> Result<Pin, PinError> {
        if !(MIN_PIN_DIGITS..=MAX_PIN_DIGITS).contains(&text.len())
            || !text.iter().all(u8::is_ascii_digit)
        {
            return Err(PinError::Format);
        }
        let mut digits = [0u8; MAX_PIN_DIGITS];
        for (slot, &d) in digits.iter_mut().zip(text) {
            *slot = d;
        }
        Ok(Pin {
            digits,
            // At most 10, checked above.
            len: text.len() as u8,
        })
    }

    /// The digits as typed, ASCII.
    pub fn as_bytes(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// What the store keeps of a fixed PIN: nonce ‖ ciphertext ‖ tag, useless without `totp.key`.
/// Boxed so that account records stay small for the many accounts without one.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPin(Box<[u8; SEALED_PIN_LEN]>);

impl SealedPin {
    /// Checks the length only; whether it opens is for [`open`] to say.
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedPin, PinError> {
        <[u8; SEALED_PIN_LEN]>::try_from(bytes)
            .map(|b| SealedPin(Box::new(b)))
            .map_err(|_| PinError::SealedLength(bytes.len()))
    }

    pub fn as_bytes(&self) -> &[u8; SEALED_PIN_LEN] {
        &self.0
    }
}

impl fmt::Debug for SealedPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedPin({SEALED_PIN_LEN} bytes)")
    }
}

/// Seals `pin` for `account` under the `[totp] key`, with a fresh random nonce.
pub fn seal(key: &TotpKey, account: AccountId, pin: &Pin) -> Result<SealedPin, PinError> {
    let mut plain = Zeroizing::new([0u8; PLAIN_LEN]);
    let (len, digits) = plain.split_at_mut(1);
    len.copy_from_slice(&[pin.len]);
    digits.copy_from_slice(&pin.digits);
    key.seal_for(AD_LABEL, account, &plain[..])
        .map(|sealed| SealedPin(Box::new(sealed)))
        .ok_or(PinError::Seal)
}

/// Opens what [`seal`] made for the same key and account; anything else is [`PinError::Open`].
pub fn open(key: &TotpKey, account: AccountId, sealed: &SealedPin) -> Result<Pin, PinError> {
    let buf = key
        .open_for(AD_LABEL, account, &sealed.0[..])
        .ok_or(PinError::Open)?;
    let (len, digits) = buf.split_first().ok_or(PinError::Open)?;
    let digits = digits.get(..usize::from(*len)).ok_or(PinError::Open)?;
    Pin::parse(digits).map_err(|_| PinError::Open)
}

/// A fresh grid seed and server salt for a challenge answer.
pub fn challenge() -> PinChallenge {
    let mut seed = [0u8; 4];
    crate::srp6::fill_random(&mut seed);
    let mut salt = [0u8; 16];
    crate::srp6::fill_random(&mut salt);
    PinChallenge {
        grid_seed: u32::from_le_bytes(seed),
        salt,
    }
}

/// The keypad as the client lays it out for `seed`: `remapped[k]` is the digit on key k.
pub fn remap_grid(seed: u32) -> [u8; 10] {
    let mut digits: Vec<u8> = (0..10).collect();
    let mut remapped = [0u8; 10];
    let mut seed = seed;
    for (slot, i) in remapped.iter_mut().zip((1..=10u32).rev()) {
        let r = (seed % i) as usize;
        seed /= i;
        // r < i = digits.len(): always in range.
        if r < digits.len() {
            *slot = digits.remove(r);
        }
    }
    remapped
}

/// H(client_salt ‖ H(server_salt ‖ Q)), Q being each PIN digit's key position as ASCII.
/// `None` if `pin` holds anything but ASCII digits.
pub fn pin_hash(challenge: &PinChallenge, client_salt: &[u8; 16], pin: &[u8]) -> Option<[u8; 20]> {
    let grid = remap_grid(challenge.grid_seed);
    let mut positions = Zeroizing::new(Vec::with_capacity(pin.len()));
    for &c in pin {
        let digit = c.checked_sub(b'0').filter(|d| *d < 10)?;
        let key = grid.iter().position(|&g| g == digit)?;
        positions.push(b'0' + key as u8);
    }
    let inner = Sha1::new()
        .chain_update(challenge.salt)
        .chain_update(&*positions)
        .finalize();
    Some(
        Sha1::new()
            .chain_update(client_salt)
            .chain_update(inner)
            .finalize()
            .into(),
    )
}

/// Whether the proof's PIN hash is the hash of `pin` (constant-time comparison).
pub fn verify_fixed(challenge: &PinChallenge, proof: &PinProof, pin: &Pin) -> bool {
    pin_hash(challenge, &proof.salt, pin.as_bytes())
        .is_some_and(|h| bool::from(h.ct_eq(&proof.hash)))
}

/// The step whose authenticator token (6 digits, leading zeros kept, as the player types them
/// on the keypad) the proof's PIN hash is, among the step of `unix_now` and one either side
/// (the same window as [`totp::verify`]). Whether it was used before is the store's to say.
pub fn verify_totp(
    challenge: &PinChallenge,
    proof: &PinProof,
    secret: &TotpSecret,
    unix_now: u64,
) -> Option<TotpStep> {
    let now = unix_now / STEP_SECS;
    let first = now.saturating_sub(u64::from(SKEW_STEPS));
    let last = now.saturating_add(u64::from(SKEW_STEPS));
    let mut found = None;
    // Every step of the window is hashed, whichever matches.
    for step in first..=last {
        let token = Zeroizing::new(totp::code_at(secret, step.saturating_mul(STEP_SECS)));
        let hit = pin_hash(challenge, &proof.salt, token.as_bytes())
            .is_some_and(|h| bool::from(h.ct_eq(&proof.hash)));
        if hit && found.is_none() {
            found = Some(TotpStep(step));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed by scripts/pin_grid_vector.py from the formula of docs/srp6.md §10.3.
    const SEED: u32 = 0x9E37_79B9;
    const SERVER_SALT: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const CLIENT_SALT: [u8; 16] = [
        0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE,
        0xFF,
    ];

    fn challenge_vector() -> PinChallenge {
        PinChallenge {
            grid_seed: SEED,
            salt: SERVER_SALT,
        }
    }

    #[test]
    fn grid_remap_known_answers() {
        assert_eq!(remap_grid(SEED), [9, 6, 2, 7, 8, 4, 5, 3, 0, 1]);
        assert_eq!(remap_grid(0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(remap_grid(3_628_799), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        // Every seed gives a permutation.
        for seed in [1, 7, 1234, u32::MAX, 0xDEAD_BEEF] {
            let mut g = remap_grid(seed);
            g.sort_unstable();
            assert_eq!(g, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "{seed}");
        }
    }

    #[test]
    fn pin_hash_known_answers() {
        let c = challenge_vector();
        for (pin, hash) in [
            ("1234", "d1dba25bed3a4d332f1eb42dc455d4ada5302467"),
            ("0481516234", "f74762d5cd4a3f687558360ccbacc3f14a15ddf7"),
            ("042042", "ea722d5b1a728d484b36e6e71944f3d54df38084"),
        ] {
            let got = pin_hash(&c, &CLIENT_SALT, pin.as_bytes()).unwrap();
            assert_eq!(hex::encode(got), hash, "{pin}");
            let proof = PinProof {
                salt: CLIENT_SALT,
                hash: got,
            };
            assert!(verify_fixed(
                &c,
                &proof,
                &Pin::parse(pin.as_bytes()).unwrap()
            ));
        }
        assert_eq!(pin_hash(&c, &CLIENT_SALT, b"12a4"), None);
    }

    #[test]
    fn a_wrong_pin_or_salt_fails() {
        let c = challenge_vector();
        let pin = Pin::parse(b"1234").unwrap();
        let hash = pin_hash(&c, &CLIENT_SALT, b"1234").unwrap();
        let wrong_pin = Pin::parse(b"1235").unwrap();
        let proof = PinProof {
            salt: CLIENT_SALT,
            hash,
        };
        assert!(!verify_fixed(&c, &proof, &wrong_pin));
        let other_salt = PinProof {
            salt: SERVER_SALT,
            hash,
        };
        assert!(!verify_fixed(&c, &other_salt, &pin));
        let other_seed = PinChallenge {
            grid_seed: SEED + 1,
            ..c
        };
        assert!(!verify_fixed(&other_seed, &proof, &pin));
    }

    #[test]
    fn pin_format() {
        for ok in ["0000", "1234", "0123456789"] {
            assert_eq!(Pin::parse(ok.as_bytes()).unwrap().as_bytes(), ok.as_bytes());
        }
        for bad in ["", "123", "12345678901", "12a4", " 1234", "1234\n"] {
            assert_eq!(
                Pin::parse(bad.as_bytes()).unwrap_err(),
                PinError::Format,
                "{bad:?}"
            );
        }
        assert_eq!(
            format!("{:?}", Pin::parse(b"1234").unwrap()),
            "Pin(<redacted>)"
        );
    }

    #[test]
    fn seal_open_round_trip_bound_to_key_and_account() {
        let key = TotpKey::from_bytes([7; 32]);
        let pin = Pin::parse(b"04815").unwrap();
        let a = seal(&key, AccountId(3), &pin).unwrap();
        let b = seal(&key, AccountId(3), &pin).unwrap();
        assert_ne!(a, b, "a nonce must never repeat");
        assert_eq!(open(&key, AccountId(3), &a).unwrap().as_bytes(), b"04815");
        assert_eq!(open(&key, AccountId(4), &a).unwrap_err(), PinError::Open);
        assert_eq!(
            open(&TotpKey::from_bytes([8; 32]), AccountId(3), &a).unwrap_err(),
            PinError::Open
        );
        // A PIN does not open as a TOTP secret and is not the same length either.
        assert_ne!(SEALED_PIN_LEN, totp::SEALED_LEN);
        assert_eq!(
            SealedPin::from_bytes(&[0; 10]).unwrap_err(),
            PinError::SealedLength(10)
        );
    }

    #[test]
    fn totp_tokens_through_the_grid_in_the_window_only() {
        let secret = TotpSecret::from_bytes(*b"12345678901234567890");
        let c = challenge_vector();
        let now: u64 = 1_234_567_890;
        for (offset, accepted) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let t = now.checked_add_signed(offset).unwrap();
            let token = totp::code_at(&secret, t);
            let proof = PinProof {
                salt: CLIENT_SALT,
                hash: pin_hash(&c, &CLIENT_SALT, token.as_bytes()).unwrap(),
            };
            assert_eq!(
                verify_totp(&c, &proof, &secret, now),
                accepted.then_some(TotpStep(t / STEP_SECS)),
                "offset {offset}"
            );
        }
    }
}
