//! The client integrity check (`server.strict_version_check`, docs/protocol.md §7.3): the
//! proof's crc_hash must be SHA1(A ‖ the checksum seed of the client's build and OS), as
//! AzerothCore's, CMaNGOS's and vMaNGOS's `StrictVersionCheck` want it. The seeds of 5875,
//! 8606 and 12340 (Windows and macOS) are built in, from AzerothCore's `build_info`; the
//! config may add more ([`ChecksumSeeds::with_extra`]).

use std::fmt;

use hex_literal::hex;
use subtle::ConstantTimeEq;

use crate::protocol::version::Build;

use crate::srp6::{version_proof, PublicKey};

/// The client OS a seed belongs to, from the challenge's `os` FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientOs {
    /// "Win"
    Windows,
    /// "OSX"
    MacOs,
}

impl ClientOs {
    /// The OS a challenge's `os` text names; `None` for anything else.
    pub fn from_fourcc(text: &[u8]) -> Option<ClientOs> {
        match text {
            b"Win" => Some(ClientOs::Windows),
            b"OSX" => Some(ClientOs::MacOs),
            _ => None,
        }
    }

    /// As the config writes it (and the client's FourCC reads): "Win" or "OSX".
    pub fn as_str(self) -> &'static str {
        match self {
            ClientOs::Windows => "Win",
            ClientOs::MacOs => "OSX",
        }
    }
}

impl fmt::Display for ClientOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One build's checksum seed for one OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumSeed {
    pub build: Build,
    pub os: ClientOs,
    pub seed: [u8; 20],
}

const fn seed(build: u16, os: ClientOs, seed: [u8; 20]) -> ChecksumSeed {
    ChecksumSeed {
        build: Build(build),
        os,
        seed,
    }
}

/// AzerothCore's `build_info` (`winChecksumSeed`, `macChecksumSeed`), docs/protocol.md §7.3.
pub const KNOWN_SEEDS: [ChecksumSeed; 6] = [
    seed(
        5875,
        ClientOs::Windows,
        hex!("95EDB27C7823B363CBDDAB56A392E7CB73FCCA20"),
    ),
    seed(
        5875,
        ClientOs::MacOs,
        hex!("8D173CC381961EEBABF336F5E6675B101BB513E5"),
    ),
    seed(
        8606,
        ClientOs::Windows,
        hex!("319AFAA3F2559682F9FF658BE01456255F456FB1"),
    ),
    seed(
        8606,
        ClientOs::MacOs,
        hex!("D8B0ECFE534BC1131E19BAD1D4C0E813EEE4994F"),
    ),
    seed(
        12340,
        ClientOs::Windows,
        hex!("CDCBBD5188315E6B4D19449D492DBCFAF156A347"),
    ),
    seed(
        12340,
        ClientOs::MacOs,
        hex!("B706D13FF2F4018839729461E3F8A0E2B5FDC034"),
    ),
];

/// The seeds a strict check knows: the built-in ones and the config's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumSeeds(Vec<ChecksumSeed>);

impl Default for ChecksumSeeds {
    fn default() -> Self {
        ChecksumSeeds(KNOWN_SEEDS.to_vec())
    }
}

impl ChecksumSeeds {
    /// The built-in seeds plus `extra`; an extra seed for a built-in build and OS replaces it.
    pub fn with_extra(extra: impl IntoIterator<Item = ChecksumSeed>) -> ChecksumSeeds {
        let mut seeds = Self::default();
        for s in extra {
            seeds.0.retain(|k| (k.build, k.os) != (s.build, s.os));
            seeds.0.push(s);
        }
        seeds
    }

    pub fn find(&self, build: Build, os: ClientOs) -> Option<&[u8; 20]> {
        self.0
            .iter()
            .find(|s| s.build == build && s.os == os)
            .map(|s| &s.seed)
    }
}

/// Whether the server checks the proof's crc_hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VersionCheck {
    /// Not checked (the default, as the peers' `StrictVersionCheck = 0`).
    #[default]
    Off,
    /// Checked against these seeds; a build/OS without one is refused, as the peers do.
    Strict(ChecksumSeeds),
}

/// What the check says of a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityVerdict {
    Passed,
    /// crc_hash is not SHA1(A ‖ seed).
    Mismatch,
    /// Strict, and no seed is known for this build and OS: refused.
    NoSeed,
}

impl VersionCheck {
    /// Judges a proof's `crc_hash` for a client of `build` on `os` (the challenge's FourCC
    /// text) with public key `a_pub`. Constant-time comparison.
    pub fn judge(
        &self,
        build: Build,
        os: &[u8],
        a_pub: &PublicKey,
        crc_hash: &[u8; 20],
    ) -> IntegrityVerdict {
        let VersionCheck::Strict(seeds) = self else {
            return IntegrityVerdict::Passed;
        };
        let Some(seed) = ClientOs::from_fourcc(os).and_then(|os| seeds.find(build, os)) else {
            return IntegrityVerdict::NoSeed;
        };
        if bool::from(version_proof(a_pub, seed).ct_eq(crc_hash)) {
            IntegrityVerdict::Passed
        } else {
            IntegrityVerdict::Mismatch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_seeds_are_the_published_ones() {
        let seeds = ChecksumSeeds::default();
        assert_eq!(
            hex::encode_upper(seeds.find(Build(5875), ClientOs::Windows).unwrap()),
            "95EDB27C7823B363CBDDAB56A392E7CB73FCCA20"
        );
        assert_eq!(
            hex::encode_upper(seeds.find(Build(12340), ClientOs::MacOs).unwrap()),
            "B706D13FF2F4018839729461E3F8A0E2B5FDC034"
        );
        assert_eq!(seeds.find(Build(6005), ClientOs::Windows), None);
        let more = ChecksumSeeds::with_extra([ChecksumSeed {
            build: Build(6005),
            os: ClientOs::Windows,
            seed: [7; 20],
        }]);
        assert_eq!(more.find(Build(6005), ClientOs::Windows), Some(&[7; 20]));
    }

    #[test]
    fn strict_judges_and_off_passes_everything() {
        let a = PublicKey([3; 32]);
        let seed = KNOWN_SEEDS[0].seed;
        let right = version_proof(&a, &seed);
        let strict = VersionCheck::Strict(ChecksumSeeds::default());
        assert_eq!(
            strict.judge(Build(5875), b"Win", &a, &right),
            IntegrityVerdict::Passed
        );
        assert_eq!(
            strict.judge(Build(5875), b"Win", &a, &[0; 20]),
            IntegrityVerdict::Mismatch
        );
        assert_eq!(
            strict.judge(Build(5875), b"OSX", &a, &right),
            IntegrityVerdict::Mismatch
        );
        assert_eq!(
            strict.judge(Build(6005), b"Win", &a, &right),
            IntegrityVerdict::NoSeed
        );
        assert_eq!(
            strict.judge(Build(5875), b"Lnx", &a, &right),
            IntegrityVerdict::NoSeed
        );
        assert_eq!(
            VersionCheck::Off.judge(Build(1), b"", &a, &[0; 20]),
            IntegrityVerdict::Passed
        );
    }
}
