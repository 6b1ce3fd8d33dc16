//! The realm-list cache: the CMD_REALM_LIST answer, encoded once per change of the realm table
//! and per [`ListView`] (layout, client build, account security level, local subnets the
//! client is in) into a [`SharedMessage`], which every asking client sends as it is (a
//! [`SharedSend`]: the `Arc` and that account's character counts), without a copy into its
//! output ring.
//!
//! Every realm is listed, up to the protocol's own limits: a body of at most 65,535 bytes
//! (the u16 size field) and 255 realms before BC (the u8 count). Realms past them are left
//! out, with a log line; so is a realm the layout cannot carry (a NUL in its name).
//!
//! Per client build because the list depends on it: realms that do not take the client's build
//! are shown offline, with their version (SPECIFY_BUILD on layout 8, appended to the name on
//! 1.12, which cannot show it otherwise), as TrinityCore and CMaNGOS do.
//!
//! Per security level because a realm's [`RealmAccess`] (the foreign schemas'
//! `allowedSecurityLevel`) may hide it from an account or show it locked: with the entry's lock
//! byte on layout 8, and as offline on 1.12, which has no lock byte (CMaNGOS's realmd does the
//! same; AzerothCore's sends 1.12 no sign at all); gatehouse's own `allowed_level` hides it.
//! The level is capped at the highest level any realm asks for, so while no realm asks for
//! one every account shares one encoding, and few distinct levels ever log in anyway.
//!
//! Per local subnet because a realm with a [`RealmLocal`] gives its local address to clients
//! whose address is in its subnet (AzerothCore's `localAddress`/`localSubnetMask`): the view
//! carries a bitmap of the realms with a local subnet the client is in. Working the view out
//! costs a request one subnet test per such realm (none while there is none) and allocates
//! nothing; the encoding is made on a view's first request and kept until the realms change.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::net::shared::{SharedMessage, SharedSend};
use crate::protocol::realm_list::{
    RealmEntry, RealmListS2c, MAX_REALM_LIST_LEN, REALM_FLAG_OFFLINE, REALM_FLAG_SPECIFY_BUILD,
};
use crate::protocol::version::{Build, Layout};
use crate::protocol::wire::ProtocolError;
use crate::store::{CharacterCount, RealmRecord};
use crate::values::{RealmAccess, RealmId, RealmLocal};

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
    /// The lowest security level from which every account sees the realm alike: the level
    /// that [`RealmAccess::view`] compares with, as it compares it.
    fn level_that_matters(self) -> u8 {
        match self {
            RealmAccess::Open | RealmAccess::Unlisted => 0,
            RealmAccess::LockedBelow(level) | RealmAccess::HiddenFromPlayers(level) => {
                level.min(TOP_REALM_LEVEL)
            }
            RealmAccess::HiddenBelow(level) => level,
        }
    }

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
            // gatehouse's own rule: below the level the realm is not there at all (and no
            // cap: a level above the administrator's is the operator's own choice).
            RealmAccess::HiddenBelow(level) if level > security_level => RealmView::Hidden,
            RealmAccess::HiddenBelow(_) => RealmView::Listed,
        }
    }
}

/// Which realms have a local subnet the client is in: bit `i` for the `i`-th realm (in list
/// order) that has a local address. 256 bits: a list has at most 255 realms.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalBits([u64; 4]);

impl LocalBits {
    fn set(&mut self, i: usize) {
        if let Some(word) = self.0.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    fn get(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }
}

/// What one encoding is for: the client's layout and build, the account's security level
/// (capped: see the module doc) and the local subnets the client is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListView {
    pub layout: Layout,
    pub build: Build,
    pub level: u8,
    pub local: LocalBits,
}

/// One encoded answer, its holes the realms' character-count bytes.
struct Encoded {
    message: Arc<SharedMessage>,
    /// The realm of each hole, in order.
    realms: Vec<RealmId>,
}

#[derive(Default)]
pub struct RealmListCache {
    realms: Vec<RealmRecord>,
    encoded: HashMap<ListView, Encoded>,
    stats: RealmListStats,
    /// The highest level any realm's access compares with: levels above it see what it sees.
    top_level: u8,
    /// The subnets of the realms with a local address, in list order ([`LocalBits`]).
    local_subnets: Vec<ipnet::IpNet>,
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
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the realm table; returns whether anything changed (the cache is dropped then).
    pub fn replace(&mut self, realms: Vec<RealmRecord>) -> bool {
        if same_list(&realms, &self.realms) {
            return false;
        }
        self.top_level = realms
            .iter()
            .map(|r| r.access.level_that_matters())
            .max()
            .unwrap_or(0);
        self.local_subnets = realms
            .iter()
            .filter_map(|r| r.local.as_ref().map(|l| l.subnet))
            .collect();
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

    /// The view of the list a client at `peer` with an account of `security_level` gets.
    /// Allocates nothing; with no realm that has a local address, tests no subnet.
    pub fn view(&self, layout: Layout, build: Build, security_level: u8, peer: IpAddr) -> ListView {
        let mut local = LocalBits::default();
        if !self.local_subnets.is_empty() {
            let peer = peer.to_canonical();
            for (i, subnet) in self.local_subnets.iter().enumerate() {
                if subnet.contains(&peer) {
                    local.set(i);
                }
            }
        }
        ListView {
            layout,
            build,
            level: security_level.min(self.top_level),
            local,
        }
    }

    /// `local`: whether the client is given the realm's local address.
    fn entry_for(
        realm: &RealmRecord,
        ListView {
            layout,
            build,
            level,
            ..
        }: ListView,
        local: Option<&RealmLocal>,
    ) -> Option<RealmEntry> {
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
            address: local.map_or_else(|| realm.address.clone(), |l| l.address.clone()),
            population: realm.population,
            characters: 0,
            category: realm.timezone,
            realm_id: u8::try_from(realm.id.0).unwrap_or(0),
            version,
        })
    }

    fn build(&self, key: ListView) -> Encoded {
        let ListView { layout, build, .. } = key;
        let mut list = RealmListS2c {
            realms: Vec::new(),
            footer: if layout.is_pre_bc() { 0x0002 } else { 0x0010 },
        };
        let mut ids = Vec::new();
        let mut local_index = 0;
        for realm in &self.realms {
            let local = match &realm.local {
                Some(local) => {
                    local_index += 1;
                    key.local.get(local_index - 1).then_some(local)
                }
                None => None,
            };
            let Some(entry) = Self::entry_for(realm, key, local) else {
                continue;
            };
            // A realm the layout cannot carry alone is left out alone.
            let alone = RealmListS2c {
                realms: vec![entry],
                footer: list.footer,
            };
            if let Err(e) = alone.encode(layout, &mut Vec::new()) {
                log::warn!(
                    "realm list for build {build}: leaving out realm {:?}: {e}",
                    realm.name
                );
                continue;
            }
            list.realms.extend(alone.realms);
            ids.push(realm.id);
        }
        let mut left_out = Vec::new();
        // Past the size field's 65,535 bytes or the count's 255 realms (before BC): the
        // protocol's own limits, the only ones the list has. Trimmed to the size field by
        // length first, so a list far too long is not encoded once per realm left out.
        while list.encoded_len(layout) > MAX_REALM_LIST_LEN {
            let Some(dropped) = list.realms.pop() else {
                break;
            };
            ids.pop();
            left_out.push((dropped.name, ProtocolError::BodyTooLarge));
        }
        let (bytes, offsets) = loop {
            let mut bytes = Vec::with_capacity(list.encoded_len(layout));
            match list.encode(layout, &mut bytes) {
                Ok(offsets) => break (bytes, offsets.character_offsets),
                Err(e) => {
                    let Some(dropped) = list.realms.pop() else {
                        log::error!("realm list for build {build}: cannot encode: {e}");
                        break (Vec::new(), Vec::new());
                    };
                    ids.pop();
                    left_out.push((dropped.name, e));
                }
            }
        };
        // Popped from the end: the last one popped is the first realm left out.
        if let (Some((first, _)), Some((_, why))) = (left_out.last(), left_out.first()) {
            log::warn!(
                "realm list for build {build}: {} realms listed, {} left out from {first:?} \
                 on: {why}",
                list.realms.len(),
                left_out.len(),
            );
        }
        let message = SharedMessage::new(bytes.clone(), offsets).or_else(|e| {
            // The encoder's offsets are ascending and inside; this would be our bug. The
            // list still goes out, its counts as encoded (0).
            log::error!("realm list for build {build}: character counts not patched: {e}");
            SharedMessage::new(bytes, Vec::new())
        });
        match message {
            Ok(message) => Encoded {
                message: Arc::new(message),
                realms: ids,
            },
            Err(_) => Encoded {
                message: Arc::new(SharedMessage::default()),
                realms: Vec::new(),
            },
        }
    }

    fn encoded(&mut self, key: ListView) -> &Encoded {
        if !self.encoded.contains_key(&key) {
            let e = self.build(key);
            self.encoded.insert(key, e);
            self.stats.encodings += 1;
        }
        &self.encoded[&key]
    }

    /// Bytes the answer for this layout, build and security level takes, to a client in no
    /// realm's local subnet.
    pub fn encoded_len(&mut self, layout: Layout, build: Build, security_level: u8) -> usize {
        let view = ListView {
            layout,
            build,
            level: security_level.min(self.top_level),
            local: LocalBits::default(),
        };
        self.encoded(view).message.len()
    }

    /// The answer for `view` ([`RealmListCache::view`]) with the account's `characters`
    /// filled in: a reference to the shared encoding and one byte per listed realm.
    pub fn answer_for(&mut self, view: ListView, characters: &[CharacterCount]) -> SharedSend {
        let encoded = self.encoded(view);
        let count_of = |realm: Option<&RealmId>| {
            characters
                .iter()
                .find(|c| Some(&c.realm) == realm)
                .map_or(0, |c| c.count)
        };
        SharedSend::new(encoded.message.clone(), |hole| {
            count_of(encoded.realms.get(hole))
        })
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

    /// A client address in no local subnet of these tests.
    const OUTSIDE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

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
            local: None,
        }
    }

    #[test]
    fn the_list_is_encoded_once_per_change_and_a_nan_is_no_change() {
        let mut cache = RealmListCache::new();
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

    fn named(id: u32, name: String) -> RealmRecord {
        RealmRecord {
            id: RealmId(id),
            name,
            ..realm(1.0)
        }
    }

    /// A socket that takes at most 7 bytes per write (one slice at a time, as `Write`'s
    /// default `write_vectored` does) and is full every other call.
    struct FewBytes {
        out: Vec<u8>,
        calls: usize,
    }

    impl std::io::Write for FewBytes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(7);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the wire carries of `send`, written a few bytes at a time.
    fn on_the_wire(mut send: SharedSend) -> Vec<u8> {
        let mut socket = FewBytes {
            out: Vec::new(),
            calls: 0,
        };
        while !send.is_done() {
            match send.write_to(&mut socket, 100) {
                Ok(n) => assert!(n > 0),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        socket.out
    }

    #[test]
    fn every_realm_is_listed_from_the_shared_encoding_with_the_accounts_counts() {
        // 255 realms of about 90 bytes each: far more than the 16 KiB output ring that had
        // to hold the list before.
        let realms: Vec<RealmRecord> = (1..=255)
            .map(|id| {
                named(
                    id,
                    format!("Realm {id:03} of a network with very long realm names"),
                )
            })
            .collect();
        let characters: Vec<CharacterCount> = (1..=255)
            .filter(|id| id % 3 == 0)
            .map(|id| CharacterCount {
                realm: RealmId(id),
                count: (id % 10) as u8 + 1,
            })
            .collect();
        let mut cache = RealmListCache::new();
        cache.replace(realms.clone());
        for (layout, build) in [(Layout::V8, Build::WOTLK), (Layout::V2, Build(5875))] {
            let view = cache.view(layout, build, 0, OUTSIDE);
            let send = cache.answer_for(view, &characters);
            assert!(
                send.remaining() > 16 * 1024,
                "{layout:?}: {}",
                send.remaining()
            );
            let wire = on_the_wire(send);
            // The old path: the encoding copied whole, the counts patched in.
            let mut copied = Vec::new();
            crate::net::shared::ReplySink::put_shared(
                &mut copied,
                cache.answer_for(cache.view(layout, build, 0, OUTSIDE), &characters),
            );
            assert_eq!(wire, copied);
            let list = RealmListS2c::parse(layout, &wire).unwrap();
            assert_eq!(list.realms.len(), 255);
            for (entry, realm) in list.realms.iter().zip(&realms) {
                assert_eq!(entry.name, realm.name);
                let id = realm.id.0;
                let expected = if id % 3 == 0 { (id % 10) as u8 + 1 } else { 0 };
                assert_eq!(entry.characters, expected, "realm {id}");
            }
            // Byte for byte what a fresh encoding with the counts in it would be.
            let mut fresh = Vec::new();
            list.encode(layout, &mut fresh).unwrap();
            assert_eq!(wire, fresh);
        }
        // Another account shares the encoding: nothing is encoded again.
        cache.answer_for(cache.view(Layout::V8, Build::WOTLK, 0, OUTSIDE), &[]);
        assert_eq!(cache.stats().encodings, 2);
    }

    #[test]
    fn realms_past_the_size_fields_limit_are_left_out_there() {
        // 255 realms of about 300 bytes: about 76 KB, past the u16 size field.
        let realms: Vec<RealmRecord> = (1..=255)
            .map(|id| named(id, format!("{id:03}{}", "x".repeat(280))))
            .collect();
        let mut cache = RealmListCache::new();
        cache.replace(realms);
        let wire =
            on_the_wire(cache.answer_for(cache.view(Layout::V8, Build::WOTLK, 0, OUTSIDE), &[]));
        assert!(wire.len() <= 3 + usize::from(u16::MAX));
        let list = RealmListS2c::parse(Layout::V8, &wire).unwrap();
        let listed = list.realms.len();
        assert!((200..255).contains(&listed), "{listed} listed");
        // The realms that fit, in order: only the end is cut.
        assert!(list.realms[listed - 1]
            .name
            .starts_with(&format!("{listed:03}")));
        // One more would not have fitted.
        assert!(wire.len() + 300 > 3 + usize::from(u16::MAX));
    }

    #[test]
    fn a_realm_the_layout_cannot_carry_is_left_out_alone() {
        let mut cache = RealmListCache::new();
        cache.replace(vec![
            named(1, "One".into()),
            named(2, "Bad\0name".into()),
            named(3, "Three".into()),
        ]);
        let wire =
            on_the_wire(cache.answer_for(cache.view(Layout::V8, Build::WOTLK, 0, OUTSIDE), &[]));
        let list = RealmListS2c::parse(Layout::V8, &wire).unwrap();
        let names: Vec<&str> = list.realms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["One", "Three"]);
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
            // gatehouse's own: hidden below the level, no cap.
            (
                RealmAccess::HiddenBelow(2),
                [Hidden, Hidden, Listed, Listed, Listed],
            ),
            (
                RealmAccess::HiddenBelow(4),
                [Hidden, Hidden, Hidden, Hidden, Listed],
            ),
        ];
        for (access, views) in cases {
            for (level, view) in views.into_iter().enumerate() {
                assert_eq!(access.view(level as u8), view, "{access:?} level {level}");
                // Every level from the one the cache caps at up sees what that one sees.
                let top = access.level_that_matters();
                if level as u8 >= top {
                    assert_eq!(view, access.view(top), "{access:?} level {level}");
                }
            }
        }
    }

    fn with_local(id: u32, name: &str, subnet: &str) -> RealmRecord {
        RealmRecord {
            local: Some(RealmLocal {
                address: format!("192.168.1.{id}:8085"),
                subnet: subnet.parse().unwrap(),
            }),
            ..named(id, name.into())
        }
    }

    fn listed(cache: &mut RealmListCache, level: u8, peer: [u8; 4]) -> Vec<(String, String)> {
        let view = cache.view(Layout::V8, Build::WOTLK, level, IpAddr::from(peer));
        let wire = on_the_wire(cache.answer_for(view, &[]));
        RealmListS2c::parse(Layout::V8, &wire)
            .unwrap()
            .realms
            .into_iter()
            .map(|r| (r.name, r.address))
            .collect()
    }

    #[test]
    fn without_levels_or_local_subnets_every_client_shares_one_encoding() {
        let mut cache = RealmListCache::new();
        cache.replace(vec![named(1, "One".into()), named(2, "Two".into())]);
        for level in [0, 1, 3, 200] {
            for peer in [[127, 0, 0, 1], [10, 1, 2, 3], [192, 0, 2, 1]] {
                assert_eq!(listed(&mut cache, level, peer).len(), 2);
            }
        }
        assert_eq!(cache.stats().encodings, 1);
        // A realm asking for level 2: levels 0, 1 and 2-and-up, three encodings.
        cache.replace(vec![
            named(1, "One".into()),
            RealmRecord {
                access: RealmAccess::HiddenBelow(2),
                ..named(2, "Two".into())
            },
        ]);
        for level in [0, 1, 2, 3, 200] {
            let expected = if level >= 2 { 2 } else { 1 };
            assert_eq!(listed(&mut cache, level, [10, 0, 0, 1]).len(), expected);
        }
        assert_eq!(cache.cached_encodings(), 3);
    }

    #[test]
    fn a_client_in_a_realms_local_subnet_gets_its_local_address() {
        let mut cache = RealmListCache::new();
        cache.replace(vec![
            with_local(1, "Home", "10.0.0.0/8"),
            named(2, "Plain".into()),
            with_local(3, "Lab", "10.1.0.0/16"),
        ]);
        let public = "127.0.0.1:8085".to_string();
        let addresses = |cache: &mut RealmListCache, peer| -> Vec<String> {
            listed(cache, 0, peer).into_iter().map(|(_, a)| a).collect()
        };
        assert_eq!(
            addresses(&mut cache, [192, 0, 2, 1]),
            [public.clone(), public.clone(), public.clone()]
        );
        assert_eq!(
            addresses(&mut cache, [10, 2, 0, 1]),
            [
                "192.168.1.1:8085".to_string(),
                public.clone(),
                public.clone()
            ]
        );
        assert_eq!(
            addresses(&mut cache, [10, 1, 0, 1]),
            [
                "192.168.1.1:8085".to_string(),
                public.clone(),
                "192.168.1.3:8085".to_string()
            ]
        );
        // Another client of the same subnets shares the encoding.
        addresses(&mut cache, [10, 1, 9, 9]);
        assert_eq!(cache.cached_encodings(), 3);
        // An IPv4 client on an IPv6 socket is its IPv4 address.
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(10, 2, 0, 1).to_ipv6_mapped());
        let view = cache.view(Layout::V8, Build::WOTLK, 0, mapped);
        assert_eq!(
            view,
            cache.view(Layout::V8, Build::WOTLK, 0, [10, 2, 0, 1].into())
        );
        // IPv6 subnets too.
        cache.replace(vec![with_local(1, "Six", "fd00::/8")]);
        let inside = cache.view(Layout::V8, Build::WOTLK, 0, "fd12::1".parse().unwrap());
        let outside = cache.view(Layout::V8, Build::WOTLK, 0, "2001:db8::1".parse().unwrap());
        assert_ne!(inside, outside);
        assert_eq!(
            outside,
            cache.view(Layout::V8, Build::WOTLK, 0, [10, 2, 0, 1].into())
        );
    }
}
