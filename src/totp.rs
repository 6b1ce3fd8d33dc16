//! The authenticator (TOTP, RFC 6238) second factor of 2.4.3 and 3.3.5a clients: the
//! per-account secret, how the store keeps it, and how a token is checked.
//!
//! In the architecture picture this sits beside [`crate::srp6`]: the `Logon` state calls
//! [`verify`] on the loop thread after M1 was right (three HMAC-SHA1s, cheap), and the admin
//! commands call [`seal`] when an operator enables an authenticator. The secret never reaches
//! the database or a log in the clear: the store keeps a [`SealedTotpSecret`] (XChaCha20-Poly1305
//! under the `[totp] key` of the config, bound to the account id), and every type that holds
//! key material hides it from `Debug`.
//!
//! Parameters are the ones every authenticator app defaults to: SHA-1, 6 digits, 30 s steps,
//! and one step of skew either way (RFC 6238 §5.2).

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::account::AccountId;

/// Bytes of a secret: 160 bits, what RFC 4226 §4 recommends and authenticator apps expect.
pub const SECRET_LEN: usize = 20;
/// Bytes of the config key (XChaCha20-Poly1305 key).
pub const KEY_LEN: usize = 32;
/// Digits of a token; the client's authenticator field takes these as typed.
pub const TOKEN_DIGITS: usize = 6;
/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Steps accepted before and after the current one (clock drift, typing time).
pub const SKEW_STEPS: u16 = 1;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes the store keeps per account: nonce ‖ ciphertext ‖ tag.
pub const SEALED_LEN: usize = SECRET_LEN + SEAL_OVERHEAD;
/// What sealing adds to a value ([`TotpKey::seal_for`]): the nonce before it, the tag after.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Prefix of the associated data, so a sealed secret cannot be mistaken for anything else this
/// key might one day seal; the account id follows, so it cannot be moved to another account.
const AD_LABEL: &[u8] = b"gatehouse totp secret v1, account ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    // Key errors say what is wrong with the text, never what the text is.
    #[error(
        "totp.key must be 64 hex digits (32 bytes) but has {0} characters; \
         generate one with: openssl rand -hex 32"
    )]
    KeyLength(usize),
    #[error(
        "totp.key must be 64 hex digits (32 bytes) but has a character that is not a hex digit"
    )]
    KeyNotHex,
    #[error("totp.key is all zeros; generate one with: openssl rand -hex 32")]
    KeyZero,
    #[error("a sealed authenticator secret is {0} bytes, not {SEALED_LEN}")]
    SealedLength(usize),
    #[error(
        "the authenticator secret cannot be opened: totp.key is not the key it was sealed with, \
         or it belongs to another account, or it is corrupt"
    )]
    Open,
    #[error("the authenticator secret could not be sealed")]
    Seal,
    #[error("not a base32 authenticator secret of {SECRET_LEN} bytes")]
    Base32,
    #[error(
        "an authenticator app cannot be given an account name or totp.issuer that contains ':' \
         (the otpauth URI separates the two with it)"
    )]
    ColonInLabel,
}

/// The key that seals every account's secret, from `[totp] key` (64 hex digits).
#[derive(Clone)]
pub struct TotpKey(Zeroizing<[u8; KEY_LEN]>);

impl TotpKey {
    pub fn from_hex(text: &str) -> Result<TotpKey, TotpError> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err(TotpError::KeyLength(text.chars().count()));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text, &mut *key).map_err(|_| TotpError::KeyNotHex)?;
        // What a broken generator or a placeholder looks like: refuse it rather than seal
        // every secret under a key anyone can guess.
        if bool::from(key.ct_eq(&[0u8; KEY_LEN])) {
            return Err(TotpError::KeyZero);
        }
        Ok(TotpKey(key))
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> TotpKey {
        TotpKey(Zeroizing::new(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0).into())
    }

    /// Seals `plain` for `account` under this key with a fresh random nonce (XChaCha's 192-bit
    /// nonces make random ones safe however many values one key seals): nonce ‖ ciphertext ‖
    /// tag, `N` bytes. The associated data is `label` ‖ the account id, so a sealed value can
    /// be opened only as what it is (an authenticator secret, a PIN) and only for its account.
    /// `None` if `N` is not `plain`'s length plus nonce and tag, or the cipher refuses.
    pub(crate) fn seal_for<const N: usize>(
        &self,
        label: &[u8],
        account: AccountId,
        plain: &[u8],
    ) -> Option<[u8; N]> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::srp6::fill_random(&mut nonce);
        let mut buf = Zeroizing::new(Vec::with_capacity(plain.len() + TAG_LEN));
        buf.extend_from_slice(plain);
        self.cipher()
            .encrypt_in_place(
                &XNonce::from(nonce),
                &associated_data(label, account),
                &mut *buf,
            )
            .ok()?;
        if N != NONCE_LEN + buf.len() {
            return None;
        }
        let mut sealed = [0u8; N];
        let (n, rest) = sealed.split_at_mut(NONCE_LEN);
        n.copy_from_slice(&nonce);
        rest.copy_from_slice(&buf);
        Some(sealed)
    }

    /// Opens what [`TotpKey::seal_for`] sealed with the same key, label and account: the
    /// plaintext, in a buffer wiped when it goes; `None` for anything else.
    pub(crate) fn open_for(
        &self,
        label: &[u8],
        account: AccountId,
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher()
            .decrypt_in_place(
                &XNonce::from(nonce),
                &associated_data(label, account),
                &mut *buf,
            )
            .ok()?;
        Some(buf)
    }
}

impl PartialEq for TotpKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for TotpKey {}

impl fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `config check` prints the config with Debug: the key must not be in it.
        f.write_str("TotpKey(<redacted>)")
    }
}

/// An account's shared secret in the clear: only while sealing it or checking a token.
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> TotpSecret {
        let mut bytes = [0u8; SECRET_LEN];
        crate::srp6::fill_random(&mut bytes);
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> TotpSecret {
        TotpSecret(bytes)
    }

    /// The secret as an authenticator app shows it (RFC 4648 base32, no padding).
    pub fn from_base32(text: &str) -> Result<TotpSecret, TotpError> {
        let decoded = totp_rs::Secret::try_from_base32(text).map_err(|_| TotpError::Base32)?;
        let bytes: [u8; SECRET_LEN] = decoded
            .as_bytes()
            .try_into()
            .map_err(|_| TotpError::Base32)?;
        Ok(TotpSecret(bytes))
    }

    pub fn to_base32(&self) -> String {
        totp_rs::Secret::new_stack(self.0).to_base32()
    }

    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// What the store keeps: nonce ‖ ciphertext ‖ tag. Useless without the config key, and bound
/// to one account id. Boxed so that account records, and the loop messages that carry them,
/// stay small for the many accounts without one.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTotpSecret(Box<[u8; SEALED_LEN]>);

impl SealedTotpSecret {
    /// Checks the length only; whether it opens is for [`open`] to say.
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedTotpSecret, TotpError> {
        <[u8; SEALED_LEN]>::try_from(bytes)
            .map(|b| SealedTotpSecret(Box::new(b)))
            .map_err(|_| TotpError::SealedLength(bytes.len()))
    }

    pub fn as_bytes(&self) -> &[u8; SEALED_LEN] {
        &self.0
    }
}

impl fmt::Debug for SealedTotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedTotpSecret({SEALED_LEN} bytes)")
    }
}

fn associated_data(label: &[u8], account: AccountId) -> Vec<u8> {
    let mut ad = label.to_vec();
    ad.extend_from_slice(&account.0.to_le_bytes());
    ad
}

/// Seals `secret` for `account` with a fresh random nonce (XChaCha's 192-bit nonces make
/// random ones safe however many secrets one key seals).
pub fn seal(
    key: &TotpKey,
    account: AccountId,
    secret: &TotpSecret,
) -> Result<SealedTotpSecret, TotpError> {
    key.seal_for(AD_LABEL, account, &secret.0)
        .map(|sealed| SealedTotpSecret(Box::new(sealed)))
        .ok_or(TotpError::Seal)
}

/// Opens what [`seal`] made for the same key and account; anything else is [`TotpError::Open`].
pub fn open(
    key: &TotpKey,
    account: AccountId,
    sealed: &SealedTotpSecret,
) -> Result<TotpSecret, TotpError> {
    let plain = key
        .open_for(AD_LABEL, account, &sealed.0[..])
        .ok_or(TotpError::Open)?;
    let bytes: [u8; SECRET_LEN] = plain.as_slice().try_into().map_err(|_| TotpError::Open)?;
    Ok(TotpSecret(bytes))
}

fn generator(secret: &TotpSecret, digits: u8) -> Option<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
        .with_secret(totp_rs::Secret::new_stack(secret.0))
        .build()
        .ok()
}

/// One 30-second time step of the authenticator clock (unix time / 30). A step's token is
/// accepted once: the store remembers the last step an account used (RFC 6238 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TotpStep(pub u64);

/// The step whose code `token` is, if it is the code of the step of `unix_now` or of one step
/// either side. The token must be exactly six ASCII digits; the comparison is constant time
/// (totp-rs compares its `Token`s with `constant_time_eq`). Which step matched is not secret,
/// so trying the three in turn is fine. Whether the step was used before is the caller's to
/// check ([`TotpStep`]).
pub fn verify(secret: &TotpSecret, token: &[u8], unix_now: u64) -> Option<TotpStep> {
    if token.len() != TOKEN_DIGITS || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let token = std::str::from_utf8(token).ok()?;
    generator(secret, 6)?.check(token, unix_now).map(TotpStep)
}

/// The code an authenticator app shows at `unix_time` (what a client types).
pub fn code_at(secret: &TotpSecret, unix_time: u64) -> String {
    generator(secret, 6).map_or_else(String::new, |t| t.generate(unix_time).to_string())
}

/// The Key Uri Format authenticator apps import (as text or QR code), written by totp-rs
/// (`Totp::to_url`): `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER`, issuer and
/// account percent-encoded; SHA-1, 6 digits and 30 s are the format's defaults, so they are
/// left out. The format has no way to put a `:` inside the issuer or the account name (it
/// separates them): such a name is refused ([`TotpError::ColonInLabel`]).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> Result<String, TotpError> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOKEN_DIGITS as u8)
        .with_step_duration(STEP_SECS)
        .with_secret(totp_rs::Secret::new_stack(secret.0))
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .and_then(|totp| totp.to_url())
        .map_err(|_| TotpError::ColonInLabel)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII "12345678901234567890".
    const RFC_SECRET: &[u8; 20] = b"12345678901234567890";

    fn key(b: u8) -> TotpKey {
        TotpKey::from_bytes([b; KEY_LEN])
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let secret = TotpSecret::from_bytes(*RFC_SECRET);
        let totp8 = generator(&secret, 8).unwrap();
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp8.generate(time).to_string(), code, "T = {time}");
            // Six digits are the same truncation mod 10^6: the last six of the eight.
            assert_eq!(code_at(&secret, time), code[2..], "T = {time}");
            assert_eq!(
                verify(&secret, &code.as_bytes()[2..], time),
                Some(TotpStep(time / STEP_SECS))
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = TotpSecret::from_bytes(*RFC_SECRET);
        let now: u64 = 1_234_567_890;
        for (offset, accepted) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = code_at(&secret, now.checked_add_signed(offset).unwrap());
            // Codes of other steps could collide by chance; these do not.
            let step = now.checked_add_signed(offset).unwrap() / STEP_SECS;
            assert_eq!(
                verify(&secret, code.as_bytes(), now),
                accepted.then_some(TotpStep(step)),
                "offset {offset}"
            );
        }
        // Near the epoch the window is cut at step 0 rather than wrapping.
        assert_eq!(
            verify(&secret, code_at(&secret, 0).as_bytes(), 10),
            Some(TotpStep(0))
        );
    }

    #[test]
    fn tokens_must_be_six_ascii_digits() {
        let secret = TotpSecret::from_bytes(*RFC_SECRET);
        let now = 1_234_567_890;
        let code = code_at(&secret, now);
        assert!(verify(&secret, code.as_bytes(), now).is_some());
        for bad in [
            String::new(),
            code[..5].to_string(),
            format!("{code}0"),
            format!("+{}", &code[1..]),
            format!(" {}", &code[1..]),
            format!("{}a", &code[..5]),
            "89005924".to_string(),
        ] {
            assert_eq!(verify(&secret, bad.as_bytes(), now), None, "{bad:?}");
        }
        assert_eq!(verify(&secret, &[0xff; 6], now), None);
    }

    #[test]
    fn seal_and_open_round_trip_with_a_fresh_nonce_each_time() {
        let secret = TotpSecret::generate();
        let a = seal(&key(1), AccountId(7), &secret).unwrap();
        let b = seal(&key(1), AccountId(7), &secret).unwrap();
        assert_ne!(a, b, "a nonce must never repeat");
        for sealed in [&a, &b] {
            let opened = open(&key(1), AccountId(7), sealed).unwrap();
            assert_eq!(opened.as_bytes(), secret.as_bytes());
        }
        // The secret is not in the sealed bytes.
        assert!(!a
            .as_bytes()
            .windows(SECRET_LEN)
            .any(|w| w == secret.as_bytes()));
    }

    #[test]
    fn a_wrong_key_another_account_or_a_flipped_bit_does_not_open() {
        let secret = TotpSecret::generate();
        let sealed = seal(&key(1), AccountId(7), &secret).unwrap();
        assert_eq!(
            open(&key(2), AccountId(7), &sealed).unwrap_err(),
            TotpError::Open
        );
        assert_eq!(
            open(&key(1), AccountId(8), &sealed).unwrap_err(),
            TotpError::Open
        );
        for i in [0, NONCE_LEN, SEALED_LEN - 1] {
            let mut bytes = *sealed.as_bytes();
            bytes[i] ^= 1;
            let flipped = SealedTotpSecret::from_bytes(&bytes).unwrap();
            assert_eq!(
                open(&key(1), AccountId(7), &flipped).unwrap_err(),
                TotpError::Open,
                "byte {i}"
            );
        }
        assert_eq!(
            SealedTotpSecret::from_bytes(&[0; SEALED_LEN - 1]).unwrap_err(),
            TotpError::SealedLength(SEALED_LEN - 1)
        );
    }

    #[test]
    fn keys_parse_from_64_hex_digits_only() {
        let hex = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100";
        let k = TotpKey::from_hex(hex).unwrap();
        assert_eq!(k.0[0], 0x00);
        assert_eq!(k.0[1], 0x11);
        assert_eq!(k.0[16], 0xff);
        assert_eq!(k, TotpKey::from_hex(&hex.to_lowercase()).unwrap());
        assert_ne!(k, key(1));
        assert_eq!(
            TotpKey::from_hex(&hex[..62]).unwrap_err(),
            TotpError::KeyLength(62)
        );
        let e = TotpKey::from_hex(&format!("{}zz", &hex[..62])).unwrap_err();
        assert_eq!(e, TotpError::KeyNotHex);
        // The error text never quotes the key.
        assert!(!e.to_string().contains(&hex[..8]));
        assert_eq!(
            TotpKey::from_hex(&"0".repeat(64)).unwrap_err(),
            TotpError::KeyZero
        );
    }

    #[test]
    fn debug_never_shows_key_material() {
        let hex = "8f3a5c0e1d2b4a6978c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";
        let k = TotpKey::from_hex(hex).unwrap();
        assert_eq!(format!("{k:?}"), "TotpKey(<redacted>)");
        assert!(!format!("{:?}", Some(k)).contains("8f3a"));
        let secret = TotpSecret::from_bytes(*RFC_SECRET);
        let shown = format!("{secret:?}");
        assert_eq!(shown, "TotpSecret(<redacted>)");
        assert!(!shown.contains(&secret.to_base32()));
        let sealed = seal(&key(3), AccountId(1), &secret).unwrap();
        assert_eq!(
            format!("{sealed:?}"),
            format!("SealedTotpSecret({SEALED_LEN} bytes)")
        );
    }

    #[test]
    fn the_otpauth_uri_carries_the_base32_secret_and_escapes_names() {
        let secret = TotpSecret::from_bytes(*RFC_SECRET);
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            otpauth_uri("gatehouse", "ALICE", &secret).unwrap(),
            "otpauth://totp/gatehouse:ALICE?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=gatehouse"
        );
        let uri = otpauth_uri("My Realm", "A&B C", &secret).unwrap();
        assert_eq!(
            uri,
            "otpauth://totp/My%20Realm:A%26B%20C?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=My%20Realm"
        );
        // The label's separator cannot appear inside either half.
        assert_eq!(
            otpauth_uri("gatehouse", "A:B", &secret).unwrap_err(),
            TotpError::ColonInLabel
        );
        assert_eq!(
            otpauth_uri("Realm: PvP", "ALICE", &secret).unwrap_err(),
            TotpError::ColonInLabel
        );
        let back = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(back.as_bytes(), RFC_SECRET);
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBV").unwrap_err(),
            TotpError::Base32
        );
        assert_eq!(
            TotpSecret::from_base32("!!").unwrap_err(),
            TotpError::Base32
        );
    }
}
