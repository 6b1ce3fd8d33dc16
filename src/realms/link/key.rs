//! A realm's link key: what gatehouse stores instead of the realm's secret.
//!
//! The operator gives each realm a secret (`gatehouse realm add ... --link-secret-stdin`). Both
//! ends derive the same 32-byte key from it with HMAC-SHA256, and the challenge answer is an
//! HMAC under that key. The database therefore never holds the secret itself (a secret reused
//! elsewhere does not leak from a copy of the database), and the key is never logged.
//!
//! The [`LinkKey`] type is a plain value in [`crate::values`] (the store keeps it without
//! importing the link); its derivation and the challenge answer are here.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use crate::values::LinkKey;

type HmacSha256 = Hmac<Sha256>;

/// Domain label for deriving the stored key from the operator's secret.
const KEY_LABEL: &[u8] = b"gatehouse realm-link key v1";
/// Domain label for the challenge answer.
const AUTH_LABEL: &[u8] = b"gatehouse realm-link auth v1";

/// Shortest secret an operator may set.
pub const MIN_SECRET_LEN: usize = 12;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl LinkKey {
    /// The key both ends derive from the realm's secret.
    pub fn derive(secret: &[u8]) -> LinkKey {
        LinkKey(hmac(secret, &[KEY_LABEL]))
    }

    /// The answer to a challenge: binds the nonce (fresh per connection, so an old answer
    /// cannot be replayed) and the realm id (so one realm's answer cannot log in another).
    pub fn answer(&self, nonce: &[u8; 32], realm_id: u32) -> [u8; 32] {
        hmac(&self.0, &[AUTH_LABEL, nonce, &realm_id.to_le_bytes()])
    }

    /// Checks an answer in constant time.
    pub fn verify(&self, nonce: &[u8; 32], realm_id: u32, answer: &[u8; 32]) -> bool {
        self.answer(nonce, realm_id).ct_eq(answer).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_bind_nonce_realm_and_key() {
        let key = LinkKey::derive(b"correct horse battery");
        let nonce = [7u8; 32];
        let answer = key.answer(&nonce, 3);
        assert!(key.verify(&nonce, 3, &answer));
        assert!(!key.verify(&[8u8; 32], 3, &answer), "another nonce");
        assert!(!key.verify(&nonce, 4, &answer), "another realm");
        assert!(!LinkKey::derive(b"wrong secret").verify(&nonce, 3, &answer));
        assert_eq!(format!("{key:?}"), "LinkKey(***)");
    }
}
