//! CMD_REALM_LIST (0x10), docs/protocol.md §6: the 5-byte client request and the server's
//! list of realms. The server encodes the list once per change and layout; the encoder
//! reports where each entry's per-account `characters` byte sits so it can be patched per
//! request without re-encoding.

use super::challenge::{read_version, write_version};
use super::opcode::Opcode;
use super::version::{Layout, Version};
use super::wire::{frame, utf8, Check, ProtocolError, Reader, WireSink};

pub const REALM_FLAG_NONE: u8 = 0x00;
pub const REALM_FLAG_INVALID: u8 = 0x01;
pub const REALM_FLAG_OFFLINE: u8 = 0x02;
/// Protocol 8 only: a Version struct follows the entry.
pub const REALM_FLAG_SPECIFY_BUILD: u8 = 0x04;
pub const REALM_FLAG_FORCE_BLUE_RECOMMENDED: u8 = 0x20;
pub const REALM_FLAG_FORCE_GREEN_RECOMMENDED: u8 = 0x40;
pub const REALM_FLAG_FORCE_RED_FULL: u8 = 0x80;

pub const REALM_TYPE_PVE: u8 = 0;
pub const REALM_TYPE_PVP: u8 = 1;
pub const REALM_TYPE_RP: u8 = 6;
pub const REALM_TYPE_RP_PVP: u8 = 8;

/// Population values with a fixed meaning for the client (wow_messages).
pub const POPULATION_GREEN_RECOMMENDED: f32 = 200.0;
pub const POPULATION_RED_FULL: f32 = 400.0;
pub const POPULATION_BLUE_RECOMMENDED: f32 = 600.0;

/// Footers real servers send: `02 00` to 1.12 (CMaNGOS), `10 00` to 2.x/3.x. Any value works.
pub const FOOTER_PRE_BC: u16 = 0x0002;
pub const FOOTER_POST_BC: u16 = 0x0010;

/// The client's request: exactly `10 00 00 00 00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RealmListC2s;

pub const REALM_LIST_C2S_LEN: usize = 5;

fn request_padding(r: &mut Reader<'_>) -> Result<(), ProtocolError> {
    match r.u32_le()? {
        0 => Ok(()),
        v => Err(ProtocolError::BadValue {
            field: "realm list request padding",
            value: v,
        }),
    }
}

impl RealmListC2s {
    pub fn check(buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::RealmList.as_u8())?;
            request_padding(r)
        })
    }

    pub fn parse(msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(msg);
        r.opcode(Opcode::RealmList.as_u8())?;
        request_padding(&mut r)?;
        r.finish()?;
        Ok(RealmListC2s)
    }

    pub fn encoded_len(&self) -> usize {
        REALM_LIST_C2S_LEN
    }

    pub fn encode(&self, sink: &mut impl WireSink) {
        sink.put_u8(Opcode::RealmList.as_u8());
        sink.put_u32_le(0);
    }
}

/// One realm as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmEntry {
    /// `REALM_TYPE_*`; `u32` on the wire before BC, `u8` after.
    pub realm_type: u8,
    /// V8 only (there is no such byte before BC; encoding `true` for V2/V3 is an error).
    pub locked: bool,
    /// `REALM_FLAG_*`.
    pub flags: u8,
    pub name: String,
    /// `"host:port"` of the world server.
    pub address: String,
    pub population: f32,
    /// This account's characters on the realm (patched per request, see [`EncodedRealmList`]).
    pub characters: u8,
    pub category: u8,
    pub realm_id: u8,
    /// Present exactly when `flags` has SPECIFY_BUILD (V8 only).
    pub version: Option<Version>,
}

impl RealmEntry {
    fn validate(&self, layout: Layout) -> Result<(), ProtocolError> {
        if self.name.as_bytes().contains(&0) || self.address.as_bytes().contains(&0) {
            return Err(ProtocolError::NulInString);
        }
        let specify = self.flags & REALM_FLAG_SPECIFY_BUILD != 0;
        if layout.is_pre_bc() {
            if specify || self.version.is_some() {
                return Err(ProtocolError::UnsupportedLayout {
                    what: "SPECIFY_BUILD",
                    layout,
                });
            }
            if self.locked {
                return Err(ProtocolError::UnsupportedLayout {
                    what: "a locked realm",
                    layout,
                });
            }
        } else if specify != self.version.is_some() {
            return Err(ProtocolError::SpecifyBuildMismatch);
        }
        Ok(())
    }

    fn encoded_len(&self, layout: Layout) -> usize {
        let head = if layout.is_pre_bc() { 4 + 1 } else { 3 };
        head + self.name.len() + 1 + self.address.len() + 1 + 4 + 3 + self.version.map_or(0, |_| 5)
    }

    /// Writes the entry; returns the offset of `characters` relative to the entry start.
    fn encode(&self, layout: Layout, sink: &mut impl WireSink) -> usize {
        if layout.is_pre_bc() {
            sink.put_u32_le(u32::from(self.realm_type));
            sink.put_u8(self.flags);
        } else {
            sink.put(&[self.realm_type, u8::from(self.locked), self.flags]);
        }
        sink.put(self.name.as_bytes());
        sink.put_u8(0);
        sink.put(self.address.as_bytes());
        sink.put_u8(0);
        sink.put_f32_le(self.population);
        sink.put(&[self.characters, self.category, self.realm_id]);
        if let Some(v) = &self.version {
            write_version(v, sink);
        }
        let tail = 3 + self.version.map_or(0, |_| 5);
        self.encoded_len(layout) - tail
    }

    fn parse(layout: Layout, r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        let (realm_type, locked) = if layout.is_pre_bc() {
            let t = r.u32_le()?;
            let t = u8::try_from(t).map_err(|_| ProtocolError::BadValue {
                field: "realm type",
                value: t,
            })?;
            (t, false)
        } else {
            let t = r.u8()?;
            let locked = match r.u8()? {
                0 => false,
                1 => true,
                v => {
                    return Err(ProtocolError::BadValue {
                        field: "realm locked",
                        value: u32::from(v),
                    })
                }
            };
            (t, locked)
        };
        let flags = r.u8()?;
        let name = utf8(r.cstring()?)?;
        let address = utf8(r.cstring()?)?;
        let population = r.f32_le()?;
        let characters = r.u8()?;
        let category = r.u8()?;
        let realm_id = r.u8()?;
        let specify = flags & REALM_FLAG_SPECIFY_BUILD != 0;
        let version = if specify && !layout.is_pre_bc() {
            Some(read_version(r)?)
        } else {
            None
        };
        if specify && layout.is_pre_bc() {
            return Err(ProtocolError::UnsupportedLayout {
                what: "SPECIFY_BUILD",
                layout,
            });
        }
        Ok(Self {
            realm_type,
            locked,
            flags,
            name,
            address,
            population,
            characters,
            category,
            realm_id,
            version,
        })
    }
}

/// The server's realm list.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmListS2c {
    pub realms: Vec<RealmEntry>,
    /// Ignored by the client; see [`FOOTER_PRE_BC`] / [`FOOTER_POST_BC`].
    pub footer: u16,
}

/// What [`RealmListS2c::encode`] wrote: the message length and, in entry order, the offset
/// within the whole message (opcode = 0) of each entry's `characters` byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRealmList {
    pub len: usize,
    pub character_offsets: Vec<usize>,
}

impl EncodedRealmList {
    /// Patches entry `index`'s character count in a copy of the encoded message. Returns
    /// false (and changes nothing) if the index or the offset is out of range.
    pub fn set_characters(&self, msg: &mut [u8], index: usize, characters: u8) -> bool {
        match self
            .character_offsets
            .get(index)
            .and_then(|&off| msg.get_mut(off))
        {
            Some(b) => {
                *b = characters;
                true
            }
            None => false,
        }
    }
}

/// opcode + u16 size.
const REALM_LIST_HEADER: usize = 3;

/// The longest realm list the u16 size field can carry, header included.
pub const MAX_REALM_LIST_LEN: usize = REALM_LIST_HEADER + u16::MAX as usize;

fn count_len(layout: Layout) -> usize {
    if layout.is_pre_bc() {
        1
    } else {
        2
    }
}

/// Smallest legal body: header padding, count, footer.
fn min_body(layout: Layout) -> usize {
    4 + count_len(layout) + 2
}

impl RealmListS2c {
    /// Length of the encoded message (valid or not; `encode` decides that).
    pub fn encoded_len(&self, layout: Layout) -> usize {
        REALM_LIST_HEADER
            + min_body(layout)
            + self
                .realms
                .iter()
                .map(|e| e.encoded_len(layout))
                .sum::<usize>()
    }

    /// Writes the list after validating all of it (nothing is written on error): names and
    /// addresses without NUL, a body of at most 65 535 bytes, at most 255 realms and no
    /// SPECIFY_BUILD or locked realm before BC, and SPECIFY_BUILD ⇔ version in V8.
    pub fn encode(
        &self,
        layout: Layout,
        sink: &mut impl WireSink,
    ) -> Result<EncodedRealmList, ProtocolError> {
        for e in &self.realms {
            e.validate(layout)?;
        }
        let count = self.realms.len();
        let max_count = if layout.is_pre_bc() {
            usize::from(u8::MAX)
        } else {
            usize::from(u16::MAX)
        };
        if count > max_count {
            return Err(ProtocolError::TooManyRealms(count));
        }
        let len = self.encoded_len(layout);
        let body =
            u16::try_from(len - REALM_LIST_HEADER).map_err(|_| ProtocolError::BodyTooLarge)?;

        sink.put_u8(Opcode::RealmList.as_u8());
        sink.put_u16_le(body);
        sink.put_u32_le(0);
        // `count` fits: checked against the layout's maximum above.
        if layout.is_pre_bc() {
            sink.put_u8(count as u8);
        } else {
            sink.put_u16_le(count as u16);
        }
        let mut offset = REALM_LIST_HEADER + 4 + count_len(layout);
        let mut character_offsets = Vec::with_capacity(count);
        for e in &self.realms {
            character_offsets.push(offset + e.encode(layout, sink));
            offset += e.encoded_len(layout);
        }
        sink.put_u16_le(self.footer);
        Ok(EncodedRealmList {
            len,
            character_offsets,
        })
    }

    /// Frames a realm list by its size field (client side).
    pub fn check(layout: Layout, buf: &[u8]) -> Check {
        frame(buf, |r| {
            r.opcode(Opcode::RealmList.as_u8())?;
            let size = r.u16_le()?;
            if usize::from(size) < min_body(layout) {
                return Err(ProtocolError::BadValue {
                    field: "realm list size",
                    value: u32::from(size),
                });
            }
            r.skip(usize::from(size))
        })
    }

    /// Decodes exactly one realm list. The header padding is not checked.
    pub fn parse(layout: Layout, msg: &[u8]) -> Result<Self, ProtocolError> {
        let mut outer = Reader::new(msg);
        outer.opcode(Opcode::RealmList.as_u8())?;
        let size = outer.u16_le()?;
        let body = outer.bytes(usize::from(size))?;
        outer.finish()?;

        let mut r = Reader::new(body);
        r.skip(4)?;
        let count = if layout.is_pre_bc() {
            usize::from(r.u8()?)
        } else {
            usize::from(r.u16_le()?)
        };
        // Never trust a count for an allocation: an entry takes at least 12 bytes.
        let mut realms = Vec::with_capacity(count.min(r.remaining() / 12));
        for _ in 0..count {
            realms.push(RealmEntry::parse(layout, &mut r)?);
        }
        let footer = r.u16_le()?;
        r.finish()?;
        Ok(Self { realms, footer })
    }
}
