//! World-packet header encryption, keyed by the session key K. Only headers are transformed,
//! never payloads, and only from the first packet after a successful CMSG_AUTH_SESSION (the
//! server's AUTH_OK response header is the first encrypted one).
//!
//! - 1.12.1: a running xor/add over the 40 bytes of K: `c = (p ^ key[i]) + c_prev`.
//! - 2.4.3: the same scheme keyed by `HMAC-SHA1(key = TBC_SEED, msg = K)` (20 bytes).
//! - 3.3.5a: RC4 with the first 1024 keystream bytes dropped, one stream per direction,
//!   keyed by `HMAC-SHA1(key = seed, msg = K)`: server→client uses [`WRATH_S2C_SEED`],
//!   client→server [`WRATH_C2S_SEED`].
//!
//! Each direction keeps its own state. Constants and known answers are from gtker/wow_srp
//! (`src/vanilla_header`, `src/tbc_header`, `src/wrath_header`; the header test vectors there
//! come from real-client captures); the 3.3.5a seeds are those of TrinityCore's `AuthCrypt::Init`.
//! RC4 is written here (it is a few lines); the `rc4` crate is not a dependency.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::srp6::SessionKey;

use super::packets::WorldLayout;

/// HMAC key for the 2.4.3 header key.
pub const TBC_SEED: [u8; 16] = [
    0x38, 0xA7, 0x83, 0x15, 0xF8, 0x92, 0x25, 0x30, 0x71, 0x98, 0x67, 0xB1, 0x8C, 0x04, 0xE2, 0xAA,
];

/// HMAC key for the 3.3.5a server→client stream (TrinityCore's ServerEncryptionKey).
pub const WRATH_S2C_SEED: [u8; 16] = [
    0xCC, 0x98, 0xAE, 0x04, 0xE8, 0x97, 0xEA, 0xCA, 0x12, 0xDD, 0xC0, 0x93, 0x42, 0x91, 0x53, 0x57,
];

/// HMAC key for the 3.3.5a client→server stream (TrinityCore's ServerDecryptionKey).
pub const WRATH_C2S_SEED: [u8; 16] = [
    0xC2, 0xB3, 0x72, 0x3C, 0xC6, 0xAE, 0xD9, 0xB5, 0x34, 0x3C, 0x53, 0xEE, 0x2F, 0x43, 0x67, 0xCE,
];

fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 20],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// One direction of the 1.12/2.4 scheme.
#[derive(Clone)]
struct XorAdd {
    key: [u8; 40],
    key_len: usize,
    index: usize,
    prev: u8,
}

impl XorAdd {
    fn new(key: &[u8]) -> XorAdd {
        let mut k = [0u8; 40];
        let key_len = key.len().min(40);
        k[..key_len].copy_from_slice(&key[..key_len]);
        XorAdd {
            key: k,
            key_len: key_len.max(1),
            index: 0,
            prev: 0,
        }
    }

    fn encrypt(&mut self, data: &mut [u8]) {
        for b in data {
            let c = (*b ^ self.key[self.index]).wrapping_add(self.prev);
            self.index = (self.index + 1) % self.key_len;
            self.prev = c;
            *b = c;
        }
    }

    fn decrypt(&mut self, data: &mut [u8]) {
        for b in data {
            let c = *b;
            *b = c.wrapping_sub(self.prev) ^ self.key[self.index];
            self.index = (self.index + 1) % self.key_len;
            self.prev = c;
        }
    }
}

/// RC4 (encryption and decryption are the same keystream xor).
#[derive(Clone)]
struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (n, v) in s.iter_mut().enumerate() {
            *v = n as u8;
        }
        let mut j = 0u8;
        if !key.is_empty() {
            for n in 0..256 {
                j = j.wrapping_add(s[n]).wrapping_add(key[n % key.len()]);
                s.swap(n, usize::from(j));
            }
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// RC4-drop1024, keyed by HMAC-SHA1(seed, K).
    fn wow(seed: &[u8; 16], key: &SessionKey) -> Rc4 {
        let mut rc4 = Rc4::new(&hmac_sha1(seed, &key.0));
        rc4.apply(&mut [0u8; 1024]);
        rc4
    }

    fn apply(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
            self.s.swap(usize::from(self.i), usize::from(self.j));
            let k = self.s[usize::from(
                self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]),
            )];
            *b ^= k;
        }
    }
}

#[derive(Clone)]
enum Half {
    XorAdd(XorAdd),
    Rc4(Rc4),
}

/// Both directions of one side's header cipher. `encrypt` is for headers this side sends,
/// `decrypt` for headers it receives.
#[derive(Clone)]
pub struct HeaderCrypt {
    send: Half,
    recv: Half,
}

impl std::fmt::Debug for HeaderCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderCrypt(***)")
    }
}

impl HeaderCrypt {
    /// The world server's side.
    pub fn server(layout: WorldLayout, key: &SessionKey) -> HeaderCrypt {
        Self::new(layout, key, true)
    }

    /// The game client's side.
    pub fn client(layout: WorldLayout, key: &SessionKey) -> HeaderCrypt {
        Self::new(layout, key, false)
    }

    fn new(layout: WorldLayout, key: &SessionKey, server: bool) -> HeaderCrypt {
        match layout {
            WorldLayout::Vanilla => HeaderCrypt {
                send: Half::XorAdd(XorAdd::new(&key.0)),
                recv: Half::XorAdd(XorAdd::new(&key.0)),
            },
            WorldLayout::Tbc => {
                let k = hmac_sha1(&TBC_SEED, &key.0);
                HeaderCrypt {
                    send: Half::XorAdd(XorAdd::new(&k)),
                    recv: Half::XorAdd(XorAdd::new(&k)),
                }
            }
            WorldLayout::Wrath => {
                let s2c = Half::Rc4(Rc4::wow(&WRATH_S2C_SEED, key));
                let c2s = Half::Rc4(Rc4::wow(&WRATH_C2S_SEED, key));
                if server {
                    HeaderCrypt {
                        send: s2c,
                        recv: c2s,
                    }
                } else {
                    HeaderCrypt {
                        send: c2s,
                        recv: s2c,
                    }
                }
            }
        }
    }

    /// Encrypts an outgoing header in place.
    pub fn encrypt(&mut self, header: &mut [u8]) {
        match &mut self.send {
            Half::XorAdd(x) => x.encrypt(header),
            Half::Rc4(r) => r.apply(header),
        }
    }

    /// Decrypts an incoming header in place.
    pub fn decrypt(&mut self, header: &mut [u8]) {
        match &mut self.recv {
            Half::XorAdd(x) => x.decrypt(header),
            Half::Rc4(r) => r.apply(header),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::packets::{client_header, parse_client_header, server_header};
    use super::*;

    // Known answers from real-client captures, as published in gtker/wow_srp's header tests
    // (`verify_server_header` / `verify_client_header` / `verify_headers`). The session keys
    // are listed there in wire (little-endian) order, as `SessionKey` holds them.

    #[test]
    fn rc4_matches_the_classic_test_vector() {
        // RC4("Key", "Plaintext") = BBF316E8D940AF0AD3 (Wikipedia / the original posting).
        let mut data = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut data);
        assert_eq!(data, [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3]);
    }

    #[test]
    fn vanilla_server_headers_match_a_real_capture() {
        let key = SessionKey([
            239, 107, 150, 237, 174, 220, 162, 4, 138, 56, 166, 166, 138, 152, 188, 146, 96, 151,
            1, 201, 202, 137, 231, 87, 203, 23, 62, 17, 7, 169, 178, 1, 51, 208, 202, 223, 26, 216,
            250, 9,
        ]);
        let mut c = HeaderCrypt::server(WorldLayout::Vanilla, &key);
        for ((size, opcode), expected) in [
            ((12, 494), [239, 86, 206, 186]),
            ((170, 59), [104, 222, 119, 123]),
            ((6, 477), [5, 67, 190, 101]),
            ((6, 477), [239, 141, 238, 129]),
        ] {
            let mut h = server_header(size, opcode);
            c.encrypt(&mut h);
            assert_eq!(h, expected);
        }
    }

    #[test]
    fn vanilla_client_headers_match_a_real_capture() {
        let key = SessionKey([
            9, 83, 75, 103, 5, 182, 16, 162, 170, 134, 230, 117, 11, 100, 136, 74, 88, 145, 175,
            126, 216, 48, 38, 40, 234, 116, 174, 149, 133, 20, 193, 51, 103, 223, 194, 141, 4, 191,
            161, 96,
        ]);
        let mut c = HeaderCrypt::server(WorldLayout::Vanilla, &key);
        for (mut h, expected) in [
            ([9, 96, 220, 67, 72, 254], (4, 55)),
            ([14, 188, 50, 185, 159, 20], (12, 476)),
            ([31, 135, 219, 38, 126, 15], (12, 476)),
            ([190, 48, 52, 101, 139, 179], (12, 476)),
        ] {
            c.decrypt(&mut h);
            assert_eq!(parse_client_header(h), expected);
        }
    }

    const TBC_KEY: SessionKey = SessionKey([
        99, 131, 9, 219, 107, 35, 248, 24, 247, 161, 213, 174, 25, 135, 70, 253, 173, 103, 149,
        186, 85, 162, 130, 144, 129, 83, 118, 179, 93, 82, 160, 128, 165, 215, 35, 125, 224, 8,
        156, 140,
    ]);

    #[test]
    fn tbc_server_headers_match_a_real_capture() {
        let mut c = HeaderCrypt::server(WorldLayout::Tbc, &TBC_KEY);
        for ((size, opcode), expected) in [
            ((13, 0x1EE), [0x36, 0xbe, 0x24, 0x58]),
            ((246, 0x3B), [0x6c, 0x4b, 0xd1, 0x75]),
            ((246, 0x3B), [0x47, 0x44, 0x54, 0xee]),
            ((22, 0x236), [0xca, 0x63, 0xd2, 0x21]),
            ((34, 0xFD), [0x9d, 0xe5, 0xa4, 0xc8]),
        ] {
            let mut h = server_header(size, opcode);
            c.encrypt(&mut h);
            assert_eq!(h, expected);
        }
    }

    #[test]
    fn tbc_client_headers_match_a_real_capture() {
        let mut c = HeaderCrypt::server(WorldLayout::Tbc, &TBC_KEY);
        for (mut h, expected) in [
            ([0x36, 0xb7, 0x76, 0xab, 0xbf, 0xe8], (4, 55)),
            ([0xa5, 0x51, 0xaf, 0xb7, 0xe2, 0x7c], (8, 0x38C)),
            ([0x58, 0xe3, 0x51, 0x9e, 0x1a, 0x84], (4, 55)),
        ] {
            c.decrypt(&mut h);
            assert_eq!(parse_client_header(h), expected);
        }
    }

    #[test]
    fn wrath_headers_match_a_real_capture() {
        let key = SessionKey([
            1, 51, 81, 113, 146, 209, 181, 133, 131, 129, 50, 206, 122, 228, 208, 115, 52, 15, 132,
            54, 189, 17, 178, 157, 178, 3, 35, 186, 202, 151, 226, 58, 162, 188, 65, 174, 60, 18,
            152, 7,
        ]);
        let mut c = HeaderCrypt::server(WorldLayout::Wrath, &key);
        let mut send = |size, opcode, expected: [u8; 4]| {
            let mut h = server_header(size, opcode);
            c.encrypt(&mut h);
            assert_eq!(h, expected);
        };
        send(13, 0x1EE, [0x17, 0xaa, 0xd4, 0x4c]);
        send(277, 0x3B, [0x1a, 0x9c, 0x7c, 0x10]);
        send(19, 0x38B, [0x10, 0xfb, 0x6e, 0xa8]);
        let mut c = HeaderCrypt::server(WorldLayout::Wrath, &key);
        for (mut h, expected) in [
            ([0x85, 0x0f, 0x6e, 0x91, 0x55, 0xf9], (4, 0x4FF)),
            ([0x56, 0x8e, 0x8c, 0x9a, 0xed, 0x42], (4, 0x37)),
            ([0xc2, 0xf3, 0xb7, 0xc5, 0x17, 0xbc], (8, 0x38C)),
            ([0x30, 0xf7, 0xa6, 0xee, 0x74, 0xbe], (12, 0x1DC)),
        ] {
            c.decrypt(&mut h);
            assert_eq!(parse_client_header(h), expected);
        }
    }

    #[test]
    fn client_and_server_sides_agree() {
        let key = SessionKey([0x5C; 40]);
        for layout in [WorldLayout::Vanilla, WorldLayout::Tbc, WorldLayout::Wrath] {
            let mut server = HeaderCrypt::server(layout, &key);
            let mut client = HeaderCrypt::client(layout, &key);
            for n in 0..50u16 {
                let mut h = server_header(n + 2, 0x1EE);
                server.encrypt(&mut h);
                client.decrypt(&mut h);
                assert_eq!(h, server_header(n + 2, 0x1EE), "{layout:?}");
                let mut h = client_header(n + 4, 0x37);
                client.encrypt(&mut h);
                server.decrypt(&mut h);
                assert_eq!(h, client_header(n + 4, 0x37), "{layout:?}");
            }
        }
    }
}
