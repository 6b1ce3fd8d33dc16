//! The realm registry: which realms exist and whether they are up, merged from two sources.
//!
//! - The store's realm table (`gatehouse realm add`), re-read periodically: a realm that no
//!   world server has linked since start is shown as configured (a static realm).
//! - Live registrations over the realm link: a linked realm is shown with what its world server
//!   announced, and its population from the last heartbeat. Once a link has registered a realm,
//!   missing heartbeats (or the link dropping, or UNREGISTER) show it offline — never removed —
//!   until its next REGISTER or HEARTBEAT.
//!
//! Who sees a realm (its level) and its local address are the store's alone: a registration
//! overlays what the world server announces, never those (the operator decides visibility).
//!
//! Every method says whether the visible list changed; the daemon then raises the
//! realm-list-changed signal and the cache re-encodes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event_loop::ConnToken;
use crate::protocol::realm_list::REALM_FLAG_OFFLINE;
use crate::realms::link::message::{Load, RealmAnnouncement};
use crate::store::RealmRecord;
use crate::values::RealmId;

/// Whether a visible-list change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Changed,
    Unchanged,
}

impl Change {
    fn from(changed: bool) -> Change {
        if changed {
            Change::Changed
        } else {
            Change::Unchanged
        }
    }
}

/// Whether a linked realm is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Online,
    Offline,
}

struct LiveRealm {
    announced: RealmAnnouncement,
    population: f32,
    online_players: u32,
    last_heard: Instant,
    link: Option<ConnToken>,
    liveness: Liveness,
}

pub struct RealmRegistry {
    configured: Vec<RealmRecord>,
    live: HashMap<RealmId, LiveRealm>,
    heartbeat_timeout: Duration,
}

impl RealmRegistry {
    pub fn new(heartbeat_timeout: Duration) -> Self {
        Self {
            configured: Vec::new(),
            live: HashMap::new(),
            heartbeat_timeout,
        }
    }

    pub fn set_heartbeat_timeout(&mut self, timeout: Duration) {
        self.heartbeat_timeout = timeout;
    }

    /// The store's realm table was (re)read.
    pub fn set_configured(&mut self, realms: Vec<RealmRecord>) -> Change {
        let changed = realms != self.configured;
        self.configured = realms;
        Change::from(changed)
    }

    /// Whether the realm exists in the store (only those may link).
    pub fn is_configured(&self, realm: RealmId) -> bool {
        self.configured.iter().any(|r| r.id == realm)
    }

    /// A link registered (or re-registered) its realm.
    pub fn register(
        &mut self,
        link: ConnToken,
        announced: RealmAnnouncement,
        now: Instant,
    ) -> Change {
        let id = announced.realm_id;
        let changed = match self.live.get(&id) {
            Some(old) => old.announced != announced || old.liveness == Liveness::Offline,
            None => true,
        };
        let (population, online_players) = self
            .live
            .get(&id)
            .map_or((0.0, 0), |old| (old.population, old.online_players));
        self.live.insert(
            id,
            LiveRealm {
                announced,
                population,
                online_players,
                last_heard: now,
                link: Some(link),
                liveness: Liveness::Online,
            },
        );
        Change::from(changed)
    }

    /// A heartbeat: the realm is up, with this load (brought into range by
    /// [`crate::realms::link::message::clamp_heartbeat`]).
    pub fn heartbeat(&mut self, realm: RealmId, load: Load, now: Instant) -> Change {
        let Some(live) = self.live.get_mut(&realm) else {
            return Change::Unchanged;
        };
        // Compared by bits, not `!=`: should a NaN ever get this far, it must not read as a
        // change at every heartbeat (NaN != NaN) and re-encode the realm list each time.
        let changed = live.liveness == Liveness::Offline
            || live.population.to_bits() != load.population.to_bits();
        live.population = load.population;
        live.online_players = load.online;
        live.last_heard = now;
        live.liveness = Liveness::Online;
        Change::from(changed)
    }

    /// The realm's world server said goodbye, or its link dropped.
    pub fn went_away(&mut self, realm: RealmId, link: ConnToken) -> Change {
        let Some(live) = self.live.get_mut(&realm) else {
            return Change::Unchanged;
        };
        // A newer link may have registered the realm meanwhile: only its own link takes it down.
        if live.link != Some(link) {
            return Change::Unchanged;
        }
        live.link = None;
        let changed = live.liveness == Liveness::Online;
        live.liveness = Liveness::Offline;
        Change::from(changed)
    }

    /// Marks realms whose heartbeats stopped as offline.
    pub fn expire(&mut self, now: Instant) -> Change {
        let mut changed = false;
        for (id, live) in self.live.iter_mut() {
            if live.liveness == Liveness::Online
                && now.saturating_duration_since(live.last_heard) > self.heartbeat_timeout
            {
                log::warn!("{id} missed its heartbeats: shown offline");
                live.liveness = Liveness::Offline;
                changed = true;
            }
        }
        Change::from(changed)
    }

    pub fn liveness(&self, realm: RealmId) -> Option<Liveness> {
        self.live.get(&realm).map(|l| l.liveness)
    }

    /// Linked realms that are up, and players on them (for stats).
    pub fn online_summary(&self) -> (usize, u32) {
        self.live
            .values()
            .filter(|l| l.liveness == Liveness::Online)
            // Saturating: the counts are a world server's word, checked but not trusted.
            .fold((0, 0u32), |(n, p), l| {
                (n + 1, p.saturating_add(l.online_players))
            })
    }

    /// Players a linked realm's world server reported in its last heartbeat (`None` for a
    /// realm no link has registered).
    pub fn online_players(&self, realm: RealmId) -> Option<u32> {
        self.live.get(&realm).map(|l| l.online_players)
    }

    /// The list clients see: configured realms, overlaid with what their links announced.
    pub fn visible(&self) -> Vec<RealmRecord> {
        self.configured
            .iter()
            .map(|configured| match self.live.get(&configured.id) {
                None => configured.clone(),
                Some(live) => {
                    let a = &live.announced;
                    let mut flags = a.flags & !REALM_FLAG_OFFLINE;
                    if live.liveness == Liveness::Offline {
                        flags |= REALM_FLAG_OFFLINE;
                    }
                    RealmRecord {
                        name: a.name.clone(),
                        address: a.address.clone(),
                        realm_type: a.realm_type,
                        flags,
                        timezone: a.timezone,
                        population: live.population,
                        builds: a.builds.clone(),
                        ..configured.clone()
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::version::Build;
    use crate::store::RealmKind;

    fn configured() -> RealmRecord {
        RealmRecord {
            id: RealmId(1),
            name: "Configured".into(),
            address: "127.0.0.1:1".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: vec![],
            kind: RealmKind::Linkable,
            access: crate::values::RealmAccess::Open,
            local: None,
        }
    }

    fn announced(name: &str) -> RealmAnnouncement {
        RealmAnnouncement {
            realm_id: RealmId(1),
            name: name.into(),
            address: "127.0.0.1:8085".into(),
            realm_type: 1,
            flags: 0x20,
            timezone: 2,
            builds: vec![Build(12340)],
        }
    }

    const LINK: ConnToken = ConnToken {
        slot: 0,
        generation: 0,
    };

    fn load(population: f32, online: u32) -> Load {
        Load { population, online }
    }

    #[test]
    fn linked_realms_overlay_the_configured_ones_and_go_offline_not_away() {
        let mut r = RealmRegistry::new(Duration::from_secs(15));
        let t0 = Instant::now();
        assert_eq!(r.set_configured(vec![configured()]), Change::Changed);
        assert_eq!(r.set_configured(vec![configured()]), Change::Unchanged);
        assert_eq!(
            r.visible()[0].name,
            "Configured",
            "never linked: as configured"
        );

        assert_eq!(r.register(LINK, announced("Live"), t0), Change::Changed);
        let v = r.visible();
        assert_eq!((v[0].name.as_str(), v[0].flags), ("Live", 0x20));
        assert_eq!(r.heartbeat(RealmId(1), load(1.5, 10), t0), Change::Changed);
        assert_eq!(r.online_summary(), (1, 10));

        // Silent past the timeout: offline, still listed.
        assert_eq!(r.expire(t0 + Duration::from_secs(10)), Change::Unchanged);
        assert_eq!(r.expire(t0 + Duration::from_secs(16)), Change::Changed);
        assert_eq!(
            r.visible()[0].flags & REALM_FLAG_OFFLINE,
            REALM_FLAG_OFFLINE
        );
        assert_eq!(r.liveness(RealmId(1)), Some(Liveness::Offline));
        // The next heartbeat brings it back.
        let t1 = t0 + Duration::from_secs(17);
        assert_eq!(r.heartbeat(RealmId(1), load(1.5, 10), t1), Change::Changed);
        assert_eq!(r.visible()[0].flags & REALM_FLAG_OFFLINE, 0);
    }

    /// The operator decides who sees a realm and at which local address, not its world
    /// server: a registration overlays what it announces, never those.
    #[test]
    fn a_registration_keeps_the_configured_level_and_local_address() {
        let mut r = RealmRegistry::new(Duration::from_secs(15));
        let local = crate::values::RealmLocal {
            address: "192.168.1.2:8085".into(),
            subnet: "192.168.1.0/24".parse().unwrap(),
        };
        r.set_configured(vec![RealmRecord {
            access: crate::values::RealmAccess::HiddenBelow(2),
            local: Some(local.clone()),
            ..configured()
        }]);
        r.register(LINK, announced("Live"), Instant::now());
        let v = r.visible();
        assert_eq!(v[0].name, "Live");
        assert_eq!(v[0].access, crate::values::RealmAccess::HiddenBelow(2));
        assert_eq!(v[0].local, Some(local));
    }

    #[test]
    fn only_the_registering_link_takes_its_realm_down() {
        let mut r = RealmRegistry::new(Duration::from_secs(15));
        r.set_configured(vec![configured()]);
        let now = Instant::now();
        let newer = ConnToken {
            slot: 1,
            generation: 0,
        };
        r.register(LINK, announced("Old"), now);
        r.register(newer, announced("New"), now);
        assert_eq!(r.went_away(RealmId(1), LINK), Change::Unchanged);
        assert_eq!(r.liveness(RealmId(1)), Some(Liveness::Online));
        assert_eq!(r.went_away(RealmId(1), newer), Change::Changed);
        assert_eq!(r.liveness(RealmId(1)), Some(Liveness::Offline));
        assert_eq!(r.visible()[0].name, "New");
    }

    #[test]
    fn the_same_load_is_no_change_even_a_nan_and_player_sums_saturate() {
        let mut r = RealmRegistry::new(Duration::from_secs(15));
        let two = RealmRecord {
            id: RealmId(2),
            name: "Two".into(),
            ..configured()
        };
        r.set_configured(vec![configured(), two]);
        let now = Instant::now();
        let second = ConnToken {
            slot: 1,
            generation: 0,
        };
        r.register(LINK, announced("One"), now);
        let mut other = announced("Two");
        other.realm_id = RealmId(2);
        r.register(second, other, now);

        assert_eq!(r.heartbeat(RealmId(1), load(0.5, 1), now), Change::Changed);
        assert_eq!(
            r.heartbeat(RealmId(1), load(0.5, 2), now),
            Change::Unchanged
        );
        // The link clamps NaN away; the registry does not rely on it.
        assert_eq!(
            r.heartbeat(RealmId(1), load(f32::NAN, 3), now),
            Change::Changed
        );
        for _ in 0..3 {
            assert_eq!(
                r.heartbeat(RealmId(1), load(f32::NAN, 3), now),
                Change::Unchanged
            );
        }

        assert_eq!(
            r.heartbeat(RealmId(1), load(0.5, u32::MAX), now),
            Change::Changed
        );
        r.heartbeat(RealmId(2), load(0.5, u32::MAX - 1), now);
        assert_eq!(r.online_summary(), (2, u32::MAX));
    }
}
