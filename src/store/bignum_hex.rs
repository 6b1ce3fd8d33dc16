//! SRP numbers as the MaNGOS family keeps them in text columns (CMaNGOS `account.s`, `v`,
//! `sessionkey`): the number the wire bytes encode (little-endian) printed as OpenSSL's
//! `BN_bn2hex` prints it — upper-case, most significant byte first, no leading zero bytes,
//! and "0" for zero. Reading accepts what `BN_hex2bn` accepts (either case, an odd number of
//! digits, leading zeros) and gives the wire bytes back, zero-padded to their width.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BignumHexError {
    #[error("not a hex number: {0:?}")]
    NotHex(String),
    #[error("the number needs {needed} bytes; the column holds at most {width}")]
    TooWide { needed: usize, width: usize },
}

/// `BN_bn2hex` of the little-endian number `wire`.
pub fn to_bn_hex(wire: &[u8]) -> String {
    let big_endian: Vec<u8> = wire.iter().rev().copied().skip_while(|b| *b == 0).collect();
    if big_endian.is_empty() {
        return "0".to_string();
    }
    hex::encode_upper(big_endian)
}

/// The `N` little-endian wire bytes of a `BN_hex2bn`-style hex number.
pub fn from_bn_hex<const N: usize>(text: &str) -> Result<[u8; N], BignumHexError> {
    let digits = text.trim();
    if digits.is_empty() {
        return Err(BignumHexError::NotHex(text.to_string()));
    }
    let digits = digits.trim_start_matches('0');
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    let big_endian = hex::decode(&padded).map_err(|_| BignumHexError::NotHex(text.to_string()))?;
    if big_endian.len() > N {
        return Err(BignumHexError::TooWide {
            needed: big_endian.len(),
            width: N,
        });
    }
    let mut wire = [0u8; N];
    for (slot, byte) in wire.iter_mut().zip(big_endian.iter().rev()) {
        *slot = *byte;
    }
    Ok(wire)
}

/// Whether CMaNGOS's own realmd can use this salt: it sends the salt from its hex text
/// without padding, so a salt whose most significant (last wire) byte is zero would reach
/// the client one byte short and break every logon of the account.
pub fn salt_fits_cmangos(wire: &[u8; 32]) -> bool {
    wire[31] != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_bn_bn2hex_and_read_back() {
        let mut wire = [0u8; 32];
        wire[0] = 0x0a;
        wire[1] = 0xbc;
        assert_eq!(to_bn_hex(&wire), "BC0A");
        assert_eq!(from_bn_hex::<32>("BC0A"), Ok(wire));
        assert_eq!(from_bn_hex::<32>("bc0a"), Ok(wire));
        assert_eq!(from_bn_hex::<32>("000BC0A"), Ok(wire));
        assert_eq!(to_bn_hex(&[0u8; 32]), "0");
        assert_eq!(from_bn_hex::<32>("0"), Ok([0u8; 32]));
        // A single leading nibble: BN_bn2hex keeps whole bytes, BN_hex2bn reads odd lengths.
        let mut small = [0u8; 40];
        small[0] = 0x05;
        assert_eq!(to_bn_hex(&small), "05");
        assert_eq!(from_bn_hex::<40>("5"), Ok(small));
        let full: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        assert_eq!(from_bn_hex::<32>(&to_bn_hex(&full)), Ok(full));
        assert!(to_bn_hex(&full).starts_with("201F1E"));
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        assert!(matches!(
            from_bn_hex::<32>("XYZ"),
            Err(BignumHexError::NotHex(_))
        ));
        assert!(matches!(
            from_bn_hex::<32>(""),
            Err(BignumHexError::NotHex(_))
        ));
        assert!(matches!(
            from_bn_hex::<4>("0102030405"),
            Err(BignumHexError::TooWide {
                needed: 5,
                width: 4
            })
        ));
    }

    #[test]
    fn cmangos_needs_a_salt_without_a_zero_top_byte() {
        let mut salt = [7u8; 32];
        assert!(salt_fits_cmangos(&salt));
        salt[31] = 0;
        assert!(!salt_fits_cmangos(&salt));
    }
}
