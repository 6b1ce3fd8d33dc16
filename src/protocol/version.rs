//! Client versions: the build number that decides acceptance, the protocol version byte that
//! decides every later layout on a connection (docs/protocol.md §1.1), and the 5-byte Version
//! struct (§2.1).

use std::fmt;

/// A client build number (5875 = 1.12.1, 8606 = 2.4.3, 12340 = 3.3.5a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Build(pub u16);

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Build {
    pub const VANILLA: Build = Build(5875);
    pub const TBC: Build = Build(8606);
    pub const WOTLK: Build = Build(12340);

    /// The game version a well-known build belongs to, for SPECIFY_BUILD and realm names.
    pub fn known_version(self) -> Option<Version> {
        let (major, minor, patch) = match self.0 {
            5875 => (1, 12, 1),
            6005 => (1, 12, 2),
            6141 => (1, 12, 3),
            8606 => (2, 4, 3),
            12340 => (3, 3, 5),
            _ => return None,
        };
        Some(Version {
            major,
            minor,
            patch,
            build: self,
        })
    }
}

/// The `protocol_version` byte of the first client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolVersion(pub u8);

/// The message layouts gatehouse speaks. 1.12.1 logs in with 3 and reconnects with 2;
/// 2.4.3 and 3.3.5a use 8 for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    V2,
    V3,
    V8,
}

impl ProtocolVersion {
    /// The layout for this version, or `None` for versions no target client uses.
    pub fn layout(self) -> Option<Layout> {
        match self.0 {
            2 => Some(Layout::V2),
            3 => Some(Layout::V3),
            8 => Some(Layout::V8),
            _ => None,
        }
    }
}

impl Layout {
    /// Pre-BC layouts (1.12 and older) have narrower failure replies and realm entries.
    pub fn is_pre_bc(self) -> bool {
        matches!(self, Layout::V2 | Layout::V3)
    }
}

/// `u8 major, u8 minor, u8 patch, u16 build` — as in the challenge and SPECIFY_BUILD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub build: Build,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
