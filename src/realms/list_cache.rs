//! The realm-list cache: the CMD_REALM_LIST answer, encoded once per change of the realm table
//! and per (layout, client build, account security level), then copied into each asking
//! client's output ring with only that account's character counts filled in.
//!
//! Per client build because the list depends on it: realms that do not take the client's build
//! are shown offline, with their version (SPECIFY_BUILD on layout 8, appended to the name on
//! 1.12, which cannot show it otherwise), as TrinityCore and CMaNGOS do.
//!
//! Per security level because a realm's [`RealmAccess`] (the foreign schemas'
//! `allowedSecurityLevel`) may hide it from an account or show it locked: with the entry's lock
//! byte on layout 8, and as offline on 1.12, which has no lock byte (CMaNGOS's realmd does the
//! same; AzerothCore's sends 1.12 no sign at all). Few distinct levels ever log in, so there
//! are few encodings.

use std::collections::HashMap;

use crate::protocol::realm_list::{
    RealmEntry, RealmListS2c, REALM_FLAG_OFFLINE, REALM_FLAG_SPECIFY_BUILD,
};
use crate::protocol::version::{Build, Layout};
use crate::protocol::wire::WireSink;
use crate::store::{CharacterCount, RealmRecord};
use crate::values::{RealmAccess, RealmId};

/// How one account sees a realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealmView {
    Listed,
    /// Listed, but the account may not enter it.
    Locked,
    Hidden,
}

/// The highest realm level either project compares with: both read an `allowedSecurityLevel`
/// above 3 (administrator) as 3, so an administrator sees every realm unlocked.
const TOP_REALM_LEVEL: u8 = 3;

impl RealmAccess {
    /// How an account of `security_level` sees a realm with this access, as the schema's own
    /// login server shows it: AzerothCore locks a realm whose level is above the account's;
    /// CMaNGOS does too, and skips such a realm altogether for player accounts (level 0).
    pub fn view(self, security_level: u8) -> RealmView {
        let locked = |level: u8| level.min(TOP_REALM_LEVEL) > security_level;
        match self {
            RealmAccess::Open => RealmView::Listed,
            RealmAccess::Unlisted => RealmView::Hidden,
            RealmAccess::LockedBelow(level) if locked(level) => RealmView::Locked,
            RealmAccess::LockedBelow(_) => RealmView::Listed,
            RealmAccess::HiddenFromPlayers(level) if level > 0 && security_level == 0 => {
                RealmView::Hidden
            }
            RealmAccess::HiddenFromPlayers(level) if locked(level) => RealmView::Locked,
            RealmAccess::HiddenFromPlayers(_) => RealmView::Listed,
        }
    }
}

/// What one encoding is for: the client's layout and build, and the account's security level.
type Key = (Layout, Build, u8);

/// One encoded answer and where each realm's character-count byte sits in it.
struct Encoded {
    bytes: Vec<u8>,
    count_at: Vec<(usize, RealmId)>,
}

pub struct RealmListCache {
    realms: Vec<RealmRecord>,
    encoded: HashMap<Key, Encoded>,
    /// The answer must fit a connection's output ring; realms past this are left out.
    max_len: usize,
    stats: RealmListStats,
}

/// How often the list changed and was encoded since start: encodings should follow changes
/// (times the layouts, builds and levels asking), not requests or heartbeats.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RealmListStats {
    /// Times [`RealmListCache::replace`] found a different list and dropped the encodings.
    pub changes: u64,
    /// Answers encoded (one per change and (layout, build, security level) asked for).
    pub encodings: u64,
}

impl RealmListCache {
    pub fn new(max_len: usize) -> Self {
        Self {
            realms: Vec::new(),
            encoded: HashMap::new(),
            max_len,
            stats: RealmListStats::default(),
        }
    }

    /// Replaces the realm table; returns whether anything changed (the cache is dropped then).
    pub fn replace(&mut self, realms: Vec<RealmRecord>) -> bool {
        if same_list(&realms, &self.realms) {
            return false;
        }
        self.realms = realms;
        self.encoded.clear();
        self.stats.changes += 1;
        true
    }

    /// Changes and encodings since start.
    pub fn stats(&self) -> RealmListStats {
        self.stats
    }

    pub fn realms(&self) -> &[RealmRecord] {
        &self.realms
    }

    fn entry_for(realm: &RealmRecord, (layout, build, level): Key) -> Option<RealmEntry> {
        let view = realm.access.view(level);
        if view == RealmView::Hidden {
            return None;
        }
        let takes_build = realm.builds.is_empty() || realm.builds.contains(&build);
        let mut flags = realm.flags & !REALM_FLAG_SPECIFY_BUILD;
        // 1.12 has no lock byte: a locked realm is shown offline instead, as CMaNGOS does.
        let locked = view == RealmView::Locked;
        if locked && layout.is_pre_bc() {
            flags |= REALM_FLAG_OFFLINE;
        }
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
            locked: locked && !layout.is_pre_bc(),
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

    fn build(&self, key: Key) -> Encoded {
        let (layout, build, _) = key;
        let mut list = RealmListS2c {
            realms: Vec::new(),
            footer: if layout.is_pre_bc() { 0x0002 } else { 0x0010 },
        };
        let mut ids = Vec::new();
        for realm in &self.realms {
            if let Some(entry) = Self::entry_for(realm, key) {
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

    fn encoded(&mut self, key: Key) -> &Encoded {
        if !self.encoded.contains_key(&key) {
            let e = self.build(key);
            self.encoded.insert(key, e);
            self.stats.encodings += 1;
        }
        &self.encoded[&key]
    }

    /// Bytes the answer for this layout, build and security level takes.
    pub fn encoded_len(&mut self, layout: Layout, build: Build, security_level: u8) -> usize {
        self.encoded((layout, build, security_level)).bytes.len()
    }

    /// Writes the answer for an account of `security_level` with `characters` filled in. The
    /// caller made sure `encoded_len` bytes are free.
    pub fn write_for(
        &mut self,
        layout: Layout,
        build: Build,
        security_level: u8,
        characters: &[CharacterCount],
        out: &mut dyn WireSink,
    ) {
        let encoded = self.encoded((layout, build, security_level));
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

/// Whether two lists are the same, populations compared by their bits: `==` on a record never
/// holds for a NaN population (NaN != NaN), which would drop and re-encode the list at every
/// comparison. The store and the link keep NaN out; this does not rely on it.
fn same_list(a: &[RealmRecord], b: &[RealmRecord]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let without_population = |r: &RealmRecord| RealmRecord {
                population: 0.0,
                ..r.clone()
            };
            x == y
                || (x.population.to_bits() == y.population.to_bits()
                    && without_population(x) == without_population(y))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RealmKind;

    fn realm(population: f32) -> RealmRecord {
        RealmRecord {
            id: RealmId(1),
            name: "One".into(),
            address: "127.0.0.1:8085".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population,
            builds: vec![],
            kind: RealmKind::Static,
            access: RealmAccess::Open,
        }
    }

    #[test]
    fn the_list_is_encoded_once_per_change_and_a_nan_is_no_change() {
        let mut cache = RealmListCache::new(4096);
        let key = (Layout::V8, Build::WOTLK, 0);
        assert!(cache.replace(vec![realm(0.5)]));
        for _ in 0..3 {
            cache.encoded_len(key.0, key.1, key.2);
        }
        assert_eq!(
            cache.stats(),
            RealmListStats {
                changes: 1,
                encodings: 1
            }
        );
        assert!(!cache.replace(vec![realm(0.5)]));
        assert!(cache.replace(vec![realm(f32::NAN)]));
        for _ in 0..3 {
            assert!(!cache.replace(vec![realm(f32::NAN)]), "NaN is the same NaN");
            cache.encoded_len(key.0, key.1, key.2);
        }
        assert!(cache.replace(vec![realm(0.5)]));
        let mut renamed = realm(0.5);
        renamed.name = "Other".into();
        assert!(cache.replace(vec![renamed]));
        assert_eq!(
            cache.stats(),
            RealmListStats {
                changes: 4,
                encodings: 2
            }
        );
    }

    #[test]
    fn realm_access_views_follow_each_projects_rules() {
        use RealmView::{Hidden, Listed, Locked};
        // (access, [view by levels 0, 1, 2, 3, 4])
        let cases = [
            (RealmAccess::Open, [Listed; 5]),
            (RealmAccess::Unlisted, [Hidden; 5]),
            (
                RealmAccess::LockedBelow(2),
                [Locked, Locked, Listed, Listed, Listed],
            ),
            (
                RealmAccess::HiddenFromPlayers(2),
                [Hidden, Locked, Listed, Listed, Listed],
            ),
            // Both read a realm level above 3 as 3: administrators see it unlocked.
            (
                RealmAccess::LockedBelow(250),
                [Locked, Locked, Locked, Listed, Listed],
            ),
            (
                RealmAccess::HiddenFromPlayers(250),
                [Hidden, Locked, Locked, Listed, Listed],
            ),
            // Level 0 hides nothing (the stores make it Open; the rule agrees).
            (RealmAccess::HiddenFromPlayers(0), [Listed; 5]),
            (RealmAccess::LockedBelow(0), [Listed; 5]),
        ];
        for (access, views) in cases {
            for (level, view) in views.into_iter().enumerate() {
                assert_eq!(access.view(level as u8), view, "{access:?} level {level}");
            }
        }
    }
}
