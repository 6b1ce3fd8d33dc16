//! The realm-list cache: the CMD_REALM_LIST answer, encoded once per change of the realm table
//! and per (layout, client build), then copied into each asking client's output ring with only
//! that account's character counts filled in.
//!
//! Per client build because the list depends on it: realms that do not take the client's build
//! are shown offline, with their version (SPECIFY_BUILD on layout 8, appended to the name on
//! 1.12, which cannot show it otherwise), as TrinityCore and CMaNGOS do.

use std::collections::HashMap;

use crate::protocol::realm_list::{
    RealmEntry, RealmListS2c, REALM_FLAG_OFFLINE, REALM_FLAG_SPECIFY_BUILD,
};
use crate::protocol::version::{Build, Layout};
use crate::protocol::wire::WireSink;
use crate::store::{CharacterCount, RealmRecord};
use crate::values::RealmId;

/// One encoded answer and where each realm's character-count byte sits in it.
struct Encoded {
    bytes: Vec<u8>,
    count_at: Vec<(usize, RealmId)>,
}

pub struct RealmListCache {
    realms: Vec<RealmRecord>,
    encoded: HashMap<(Layout, Build), Encoded>,
    /// The answer must fit a connection's output ring; realms past this are left out.
    max_len: usize,
}

impl RealmListCache {
    pub fn new(max_len: usize) -> Self {
        Self {
            realms: Vec::new(),
            encoded: HashMap::new(),
            max_len,
        }
    }

    /// Replaces the realm table; returns whether anything changed (the cache is dropped then).
    pub fn replace(&mut self, realms: Vec<RealmRecord>) -> bool {
        if realms == self.realms {
            return false;
        }
        self.realms = realms;
        self.encoded.clear();
        true
    }

    pub fn realms(&self) -> &[RealmRecord] {
        &self.realms
    }

    fn entry_for(realm: &RealmRecord, layout: Layout, build: Build) -> Option<RealmEntry> {
        let takes_build = realm.builds.is_empty() || realm.builds.contains(&build);
        let mut flags = realm.flags & !REALM_FLAG_SPECIFY_BUILD;
        let mut name = realm.name.clone();
        let mut version = None;
        if !takes_build {
            flags |= REALM_FLAG_OFFLINE;
            let realm_version = realm.builds.first().and_then(|b| b.known_version());
            match layout {
                Layout::V8 => {
                    // The client cannot show a realm of an unknown version: leave it out.
                    version = Some(realm_version?);
                    flags |= REALM_FLAG_SPECIFY_BUILD;
                }
                Layout::V2 | Layout::V3 => {
                    if let Some(v) = realm_version {
                        name = format!("{name} ({v})");
                    }
                }
            }
        }
        Some(RealmEntry {
            realm_type: realm.realm_type,
            locked: false,
            flags,
            name,
            address: realm.address.clone(),
            population: realm.population,
            characters: 0,
            category: realm.timezone,
            realm_id: u8::try_from(realm.id.0).unwrap_or(0),
            version,
        })
    }

    fn build(&self, layout: Layout, build: Build) -> Encoded {
        let mut list = RealmListS2c {
            realms: Vec::new(),
            footer: if layout.is_pre_bc() { 0x0002 } else { 0x0010 },
        };
        let mut ids = Vec::new();
        for realm in &self.realms {
            if let Some(entry) = Self::entry_for(realm, layout, build) {
                list.realms.push(entry);
                ids.push(realm.id);
            }
        }
        loop {
            let mut bytes = Vec::new();
            match list.encode(layout, &mut bytes) {
                Ok(offsets) if bytes.len() <= self.max_len => {
                    let count_at = offsets
                        .character_offsets
                        .into_iter()
                        .zip(ids.iter().copied())
                        .collect();
                    return Encoded { bytes, count_at };
                }
                result => {
                    // Too long for the output ring or the u16 size field (or a realm the
                    // layout cannot carry): drop the last realm and say so.
                    let Some(dropped) = list.realms.pop() else {
                        return Encoded {
                            bytes: Vec::new(),
                            count_at: Vec::new(),
                        };
                    };
                    ids.pop();
                    log::warn!(
                        "realm list for build {build}: leaving out realm {:?} ({})",
                        dropped.name,
                        match result {
                            Ok(_) => "the list is longer than limits.output_buffer".to_string(),
                            Err(e) => e.to_string(),
                        }
                    );
                }
            }
        }
    }

    fn encoded(&mut self, layout: Layout, build: Build) -> &Encoded {
        if !self.encoded.contains_key(&(layout, build)) {
            let e = self.build(layout, build);
            self.encoded.insert((layout, build), e);
        }
        &self.encoded[&(layout, build)]
    }

    /// Bytes the answer for this layout and build takes.
    pub fn encoded_len(&mut self, layout: Layout, build: Build) -> usize {
        self.encoded(layout, build).bytes.len()
    }

    /// Writes the answer with `characters` filled in. The caller made sure `encoded_len`
    /// bytes are free.
    pub fn write_for(
        &mut self,
        layout: Layout,
        build: Build,
        characters: &[CharacterCount],
        out: &mut dyn WireSink,
    ) {
        let encoded = self.encoded(layout, build);
        let mut from = 0;
        for &(at, realm) in &encoded.count_at {
            out.put(&encoded.bytes[from..at]);
            let count = characters
                .iter()
                .find(|c| c.realm == realm)
                .map_or(0, |c| c.count);
            out.put(&[count]);
            from = at + 1;
        }
        out.put(&encoded.bytes[from..]);
    }

    /// Number of cached encodings (for tests and stats).
    pub fn cached_encodings(&self) -> usize {
        self.encoded.len()
    }
}
