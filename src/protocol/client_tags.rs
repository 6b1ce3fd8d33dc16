//! What a client says about itself in its logon challenge besides its build: platform
//! (`x86`), operating system (`Win`, `OSX`) and locale (`enUS`), four wire bytes each, in
//! reversed order. The login server only passes them on: AzerothCore's and CMaNGOS's world
//! servers read them back from the account row (the OS picks the Warden module, the locale the
//! texts), so a logon writes them there as those projects' own login servers do.

/// The three tags, as the challenge carried them (wire order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientTags {
    pub platform: [u8; 4],
    pub os: [u8; 4],
    pub locale: [u8; 4],
}

/// The locales in AzerothCore's (TrinityCore's) numbering, `account.locale`.
const LOCALE_NUMBERS: [&str; 9] = [
    "enUS", "koKR", "frFR", "deDE", "zhCN", "zhTW", "esES", "esMX", "ruRU",
];

impl ClientTags {
    /// `Win`, `OSX`: as both projects read it, the first three wire bytes up to a NUL, reversed.
    pub fn os(&self) -> String {
        short_tag(&self.os)
    }

    /// `x86`, `PPC`, read like [`ClientTags::os`].
    pub fn platform(&self) -> String {
        short_tag(&self.platform)
    }

    /// `enUS`: the four wire bytes reversed.
    pub fn locale(&self) -> String {
        printable(self.locale.iter().rev())
    }

    /// AzerothCore's number for the locale; any other (enGB, say) is enUS's 0, as there.
    pub fn locale_number(&self) -> u8 {
        let name = self.locale();
        LOCALE_NUMBERS
            .iter()
            .position(|known| *known == name)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(0)
    }
}

fn short_tag(bytes: &[u8; 4]) -> String {
    let text: Vec<u8> = bytes[..3].iter().copied().take_while(|&b| b != 0).collect();
    printable(text.iter().rev())
}

/// Only ASCII letters and digits reach a database column: the bytes come from the network.
fn printable<'a>(bytes: impl Iterator<Item = &'a u8>) -> String {
    bytes
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|&b| char::from(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_back_as_the_projects_read_them() {
        let tags = ClientTags {
            platform: *b"68x\0",
            os: *b"niW\0",
            locale: *b"SUne",
        };
        assert_eq!(tags.platform(), "x86");
        assert_eq!(tags.os(), "Win");
        assert_eq!(tags.locale(), "enUS");
        assert_eq!(tags.locale_number(), 0);
        let mac = ClientTags {
            platform: *b"CPP\0",
            os: *b"XSO\0",
            locale: *b"EDed",
        };
        assert_eq!((mac.platform(), mac.os()), ("PPC".into(), "OSX".into()));
        assert_eq!(mac.locale_number(), 3);
        let gb = ClientTags {
            locale: *b"BGne",
            ..tags
        };
        assert_eq!(gb.locale_number(), 0);
    }

    #[test]
    fn hostile_bytes_never_reach_a_column() {
        let tags = ClientTags {
            platform: [0xff, b'\'', b';', 0],
            os: [b'a', 0, b'b', b'c'],
            locale: [0x80, b'x', b'-', 0],
        };
        assert_eq!(tags.platform(), "");
        assert_eq!(tags.os(), "a");
        assert_eq!(tags.locale(), "x");
        assert_eq!(tags.locale_number(), 0);
    }
}
