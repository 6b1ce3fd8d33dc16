//! AzerothCore's `TOTPMasterSecret`: when its authserver's config sets one, every
//! `account.totp_secret` is encrypted under it. gatehouse, given the same value as
//! `store.totp_master_secret`, decrypts such a secret as the account is loaded; the AzerothCore
//! store then seals the raw secret under gatehouse's own `totp.key` like one stored in the clear.
//!
//! Done as AzerothCore does it (SecretMgr, CryptoGenerics' `AEEncryptWithRandomIV`/`AEDecrypt`,
//! `Acore::Crypto::AES`):
//! - the config value is a hexadecimal number of up to 128 bits (`BigNumber::SetHexStr`), and
//!   the key is that number as 16 little-endian bytes (`ToByteArray<16>()`, little-endian by
//!   default): the last two hex digits are the first key byte, short values are zero-padded;
//! - the stored value is ciphertext ‖ IV (12 bytes) ‖ tag (12 bytes), AES-128-GCM with the
//!   tag cut to 12 bytes and no associated data; the plaintext is the raw secret.

use std::fmt;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::{AesGcm, Nonce, Tag};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes of the AES-128 key.
pub const KEY_LEN: usize = 16;
/// Bytes of the IV after the ciphertext.
pub const IV_LEN: usize = 12;
/// Bytes of the tag after the IV.
pub const TAG_LEN: usize = 12;

/// AES-128-GCM with a 12-byte IV and a 12-byte tag (`Acore::Crypto::AES`).
type Cipher = AesGcm<Aes128, U12, U12>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpMasterError {
    // Key errors say what is wrong with the text, never what the text is.
    #[error(
        "store.totp_master_secret must be a hexadecimal number, as AzerothCore's \
         TOTPMasterSecret (no 0x prefix), but is empty or has a character that is not a hex digit"
    )]
    KeyNotHex,
    #[error(
        "store.totp_master_secret must be a number of at most 128 bits (32 hex digits), as \
         AzerothCore's TOTPMasterSecret"
    )]
    KeyTooLarge,
    #[error(
        "it is {0} bytes, too short for the IV ({IV_LEN} bytes) and tag ({TAG_LEN} bytes) an \
         encrypted secret ends with"
    )]
    TooShort(usize),
    #[error(
        "it does not decrypt under store.totp_master_secret (not the TOTPMasterSecret it was \
         encrypted with, or corrupt)"
    )]
    Decrypt,
}

/// The key from AzerothCore's `TOTPMasterSecret`. `Debug` never shows it.
#[derive(Clone)]
pub struct TotpMasterSecret(Zeroizing<[u8; KEY_LEN]>);

impl TotpMasterSecret {
    /// The config's hex text read as a number and written as 16 little-endian bytes. Leading
    /// zeros are allowed; a number over 128 bits is refused (AzerothCore cannot use one
    /// either: its key conversion fails on it).
    pub fn from_hex(text: &str) -> Result<TotpMasterSecret, TotpMasterError> {
        let text = text.trim().as_bytes();
        if text.is_empty() || !text.iter().all(u8::is_ascii_hexdigit) {
            return Err(TotpMasterError::KeyNotHex);
        }
        let significant = &text[text.iter().take_while(|&&c| c == b'0').count()..];
        if significant.len() > 2 * KEY_LEN {
            return Err(TotpMasterError::KeyTooLarge);
        }
        // The number left-padded to 32 digits, decoded big-endian, then turned little-endian.
        let mut digits = Zeroizing::new([b'0'; 2 * KEY_LEN]);
        digits[2 * KEY_LEN - significant.len()..].copy_from_slice(significant);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(&digits[..], &mut key[..]).map_err(|_| TotpMasterError::KeyNotHex)?;
        key.reverse();
        Ok(TotpMasterSecret(key))
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> TotpMasterSecret {
        TotpMasterSecret(Zeroizing::new(bytes))
    }

    /// The plaintext of a stored `account.totp_secret`: ciphertext ‖ IV ‖ tag.
    pub fn decrypt(&self, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, TotpMasterError> {
        let body = stored
            .len()
            .checked_sub(IV_LEN + TAG_LEN)
            .ok_or(TotpMasterError::TooShort(stored.len()))?;
        let (ciphertext, trailer) = stored.split_at(body);
        let (iv, tag) = trailer.split_at(IV_LEN);
        let iv = Nonce::<U12>::try_from(iv).map_err(|_| TotpMasterError::TooShort(stored.len()))?;
        let tag = Tag::<U12>::try_from(tag).map_err(|_| TotpMasterError::TooShort(stored.len()))?;
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        Cipher::new(&(*self.0).into())
            .decrypt_inout_detached(&iv, &[], plain.as_mut_slice().into(), &tag)
            .map_err(|_| TotpMasterError::Decrypt)?;
        Ok(plain)
    }
}

impl PartialEq for TotpMasterSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for TotpMasterSecret {}

impl fmt::Debug for TotpMasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `config check` prints the config with Debug: the key must not be in it.
        f.write_str("TotpMasterSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypts as AzerothCore's `AEEncryptWithRandomIV<AES>` does, with a chosen IV.
    fn encrypt_like_azerothcore(key: &TotpMasterSecret, iv: [u8; IV_LEN], plain: &[u8]) -> Vec<u8> {
        let mut data = plain.to_vec();
        let tag = Cipher::new(&(*key.0).into())
            .encrypt_inout_detached(&iv.into(), &[], data.as_mut_slice().into())
            .unwrap();
        data.extend_from_slice(&iv);
        data.extend_from_slice(&tag);
        data
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn the_key_is_the_hex_number_in_little_endian_bytes() {
        let k = TotpMasterSecret::from_hex("A1B2C3D4E5F60718293A4B5C6D7E8F90").unwrap();
        assert_eq!(k.0[..], unhex("908f7e6d5c4b3a291807f6e5d4c3b2a1")[..]);
        assert_eq!(
            k,
            TotpMasterSecret::from_hex(" a1b2c3d4e5f60718293a4b5c6d7e8f90\n").unwrap()
        );
        // A short number is zero-padded at the high end, which is the key's tail.
        let mut short = [0u8; KEY_LEN];
        short[0] = 0x1F;
        short[1] = 0x0A;
        assert_eq!(TotpMasterSecret::from_hex("A1F").unwrap().0[..], short[..]);
        assert_eq!(
            TotpMasterSecret::from_hex("000000A1F").unwrap(),
            TotpMasterSecret::from_bytes(short)
        );
        // Leading zeros do not count towards the 128 bits.
        let padded = format!("0000{}", "f".repeat(32));
        assert_eq!(
            TotpMasterSecret::from_hex(&padded).unwrap(),
            TotpMasterSecret::from_bytes([0xFF; KEY_LEN])
        );
    }

    #[test]
    fn a_key_that_is_not_a_128_bit_hex_number_is_refused_without_showing_it() {
        for bad in ["", "  ", "0x1F", "12 34", "-1F", "ZZ"] {
            assert_eq!(
                TotpMasterSecret::from_hex(bad).unwrap_err(),
                TotpMasterError::KeyNotHex,
                "{bad:?}"
            );
        }
        let e = TotpMasterSecret::from_hex(&format!("1{}", "0".repeat(32))).unwrap_err();
        assert_eq!(e, TotpMasterError::KeyTooLarge);
        assert!(!e.to_string().contains("10000"), "{e}");
        let k = TotpMasterSecret::from_hex("A1B2C3").unwrap();
        assert_eq!(format!("{k:?}"), "TotpMasterSecret(<redacted>)");
    }

    /// Written by OpenSSL (what AzerothCore calls), the way AzerothCore does it: key =
    /// the hex number as 16 little-endian bytes, ciphertext ‖ IV ‖ first 12 bytes of the tag.
    #[test]
    fn a_secret_encrypted_by_openssl_the_azerothcore_way_decrypts() {
        let secret = b"12345678901234567890";
        for (master, stored) in [
            (
                "A1B2C3D4E5F60718293A4B5C6D7E8F90",
                "b639eec02b4edaa6738884c4999b75a9e5bf82b1\
                 000102030405060708090a0b420adba91a980590393ba545",
            ),
            (
                "1F",
                "35936c37e02e4eaf473ce4a36f5caee9b3fa0f89\
                 cafebabefacedbaddecaf8883fd8f3138d353c58c127427b",
            ),
        ] {
            let key = TotpMasterSecret::from_hex(master).unwrap();
            let plain = key.decrypt(&unhex(stored)).unwrap();
            assert_eq!(&plain[..], secret, "{master}");
        }
    }

    #[test]
    fn what_is_encrypted_as_azerothcore_does_decrypts_and_nothing_else_does() {
        let key = TotpMasterSecret::from_hex("00112233445566778899aabbccddeeff").unwrap();
        let secret = [0x42u8; 20];
        let stored = encrypt_like_azerothcore(&key, [9; IV_LEN], &secret);
        assert_eq!(stored.len(), 20 + IV_LEN + TAG_LEN);
        assert_eq!(&key.decrypt(&stored).unwrap()[..], &secret);

        // Another master secret.
        let wrong = TotpMasterSecret::from_hex("00112233445566778899aabbccddeefe").unwrap();
        assert_eq!(wrong.decrypt(&stored), Err(TotpMasterError::Decrypt));
        // The same number read big-endian is another key.
        let mut reversed = *key.0;
        reversed.reverse();
        assert_eq!(
            TotpMasterSecret::from_bytes(reversed).decrypt(&stored),
            Err(TotpMasterError::Decrypt)
        );
        // Any flipped byte: ciphertext, IV or tag.
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x01;
            assert_eq!(key.decrypt(&bad), Err(TotpMasterError::Decrypt), "byte {i}");
        }
        // A raw 20-byte secret, or anything shorter than IV and tag, is no encrypted secret.
        assert_eq!(key.decrypt(&secret), Err(TotpMasterError::TooShort(20)));
        assert_eq!(key.decrypt(&[]), Err(TotpMasterError::TooShort(0)));
        // IV and tag over an empty plaintext is well-formed (AzerothCore can write one).
        let empty = encrypt_like_azerothcore(&key, [1; IV_LEN], &[]);
        assert_eq!(key.decrypt(&empty).unwrap().len(), 0);
    }
}
