//! Tables that are read whole — the realm list and the IP bans — where one bad row must not
//! cost the others: a row written by hand or by another tool (an address that is not
//! HOST:PORT, a NaN population, a ban on "localhost") used to fail the whole read, which
//! stopped the daemon from starting and froze its refreshes. Each backend parses its rows one by
//! one into `Result<T, BadRow>`; [`keep_good`] keeps the good ones and reports each bad one with
//! one error line that names the table, the row and why. Written once here so every backend
//! skips, and says so, alike.
//!
//! The daemon re-reads these tables every few seconds on each DB thread, so a bad row is
//! reported once per process at ERROR (again if it goes bad another way, or is fixed and breaks
//! again), and at DEBUG on the reads after that: the operator sees it once, the log does not
//! fill up.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;

use super::{RealmLocal, RealmRecord, StoreError};
use crate::protocol::version::Build;
use crate::values::{check_build, check_population, check_realm_address, check_realm_name};

/// A row that does not parse: how to find it (its key, as stored) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRow {
    pub key: String,
    pub why: String,
}

impl BadRow {
    pub(crate) fn new(key: impl fmt::Display, why: impl fmt::Display) -> BadRow {
        BadRow {
            key: key.to_string(),
            why: why.to_string(),
        }
    }

    /// A row whose decoding failed with `err` (a `Corrupt` says what; anything else, such as a
    /// column of the wrong type, is shown as the backend worded it).
    pub(crate) fn from_error(key: impl fmt::Display, err: StoreError) -> BadRow {
        match err {
            StoreError::Corrupt { what } => BadRow::new(key, what),
            other => BadRow::new(key, other),
        }
    }
}

/// Rows of each table reported at ERROR so far, with why: (table, key) → why.
static REPORTED: Mutex<BTreeMap<(&'static str, String), String>> = Mutex::new(BTreeMap::new());

/// The good rows of `table`, in order; each bad one is logged (see the module doc) and left out.
pub(crate) fn keep_good<T>(
    table: &'static str,
    rows: impl IntoIterator<Item = Result<T, BadRow>>,
) -> Vec<T> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for row in rows {
        match row {
            Ok(row) => good.push(row),
            Err(row) => bad.push(row),
        }
    }
    report(table, bad);
    good
}

fn report(table: &'static str, bad: Vec<BadRow>) {
    // The lock guards a log's memory, not data: one poisoned by a panic is still usable.
    let mut reported = REPORTED.lock().unwrap_or_else(PoisonError::into_inner);
    // A row that is good again (or gone) is forgotten, so that breaking it again is reported.
    reported.retain(|(t, key), _| *t != table || bad.iter().any(|b| &b.key == key));
    for BadRow { key, why } in bad {
        let entry = (table, key);
        if reported.get(&entry) == Some(&why) {
            log::debug!("store: {table} row {}: {why}; still skipped", entry.1);
            continue;
        }
        log::error!(
            "store: {table} row {}: {why}; skipped, the other rows are served",
            entry.1
        );
        reported.insert(entry, why);
    }
}

/// One realm row as a backend decoded it (`key` names the row: its id as stored), then
/// checked ([`checked_realm`]).
pub(crate) fn realm_row(
    key: impl fmt::Display,
    decoded: Result<RealmRecord, StoreError>,
) -> Result<RealmRecord, BadRow> {
    let realm = decoded.map_err(|e| BadRow::from_error(&key, e))?;
    checked_realm(realm).map_err(|why| BadRow::new(key, why))
}

/// The `realm_builds` rows of gatehouse's own schema, gathered per realm. A build row that
/// does not parse makes its realm's whole list bad, and so the realm: listing it with that
/// build left out could widen the list to every build.
#[derive(Debug, Default)]
pub(crate) struct RealmBuilds {
    by_realm: BTreeMap<i64, Result<Vec<Build>, String>>,
}

impl RealmBuilds {
    /// One row: its realm, and its build as read (or why it could not be read).
    pub(crate) fn add(&mut self, realm_id: i64, build: Result<i64, String>) {
        let entry = self
            .by_realm
            .entry(realm_id)
            .or_insert_with(|| Ok(Vec::new()));
        if entry.is_err() {
            return;
        }
        let build = build.and_then(|b| {
            u16::try_from(b)
                .map(Build)
                .map_err(|_| format!("build {b} is not a build number"))
        });
        match build {
            Ok(build) => {
                if let Ok(list) = entry {
                    list.push(build);
                }
            }
            Err(why) => *entry = Err(format!("realm_builds: {why}")),
        }
    }

    /// The realm with its builds, or why its build list is bad.
    pub(crate) fn attach(
        &self,
        realm: Result<RealmRecord, StoreError>,
    ) -> Result<RealmRecord, StoreError> {
        let mut realm = realm?;
        match self.by_realm.get(&i64::from(realm.id.0)) {
            None => {}
            Some(Ok(builds)) => realm.builds.clone_from(builds),
            Some(Err(why)) => return Err(StoreError::corrupt(why.clone())),
        }
        Ok(realm)
    }
}

/// A realm read from any backend, checked by the rules an operator's `realm add` and a world
/// server's Register follow (`values::check_*`), so that what the realm list shows was never
/// refused on the way in elsewhere: a name, a HOST:PORT address, a population that is a number
/// (a NaN would also make every comparison of the list read as a change), client builds.
/// gatehouse's own `local_address` and `local_subnet` columns (both or neither).
pub(crate) fn local_from_columns(
    id: u8,
    address: Option<String>,
    subnet: Option<String>,
) -> Result<Option<RealmLocal>, StoreError> {
    match (address, subnet) {
        (None, None) => Ok(None),
        (Some(address), Some(subnet)) => {
            let subnet = subnet.trim().parse::<IpNet>().map_err(|_| {
                StoreError::corrupt(format!("realm {id}: local_subnet {subnet:?} is no network"))
            })?;
            Ok(Some(RealmLocal { address, subnet }))
        }
        _ => Err(StoreError::corrupt(format!(
            "realm {id}: local_address and local_subnet are set together or not at all"
        ))),
    }
}

pub(crate) fn checked_realm(realm: RealmRecord) -> Result<RealmRecord, String> {
    let check = || {
        check_realm_name(&realm.name)?;
        check_realm_address(&realm.address)?;
        check_population(realm.population)?;
        if let Some(local) = &realm.local {
            check_realm_address(&local.address)?;
        }
        realm.builds.iter().try_for_each(|b| check_build(b.0))
    };
    match check() {
        Ok(()) => Ok(realm),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RealmKind;
    use crate::values::{RealmAccess, RealmId};

    fn realm() -> RealmRecord {
        RealmRecord {
            id: RealmId(1),
            name: "One".into(),
            address: "127.0.0.1:8085".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.5,
            builds: vec![Build::WOTLK],
            kind: RealmKind::Static,
            access: RealmAccess::Open,
            local: None,
        }
    }

    #[test]
    fn good_rows_are_kept_in_order_and_bad_ones_left_out() {
        let rows = vec![
            Ok(1),
            Err(BadRow::new("id 2", "address \"x\" is not HOST:PORT")),
            Ok(3),
            Err(BadRow::from_error(
                "id 4",
                StoreError::corrupt("realm 4: flags is 300"),
            )),
        ];
        assert_eq!(keep_good("rows_test_table", rows.clone()), vec![1, 3]);
        // Read again (a refresh): the same answer, the bad rows reported only the first time.
        assert_eq!(keep_good("rows_test_table", rows), vec![1, 3]);
        {
            let reported = REPORTED.lock().unwrap_or_else(PoisonError::into_inner);
            assert_eq!(
                reported.get(&("rows_test_table", "id 4".to_owned())),
                Some(&"realm 4: flags is 300".to_owned())
            );
        }
        // Fixed rows are forgotten.
        assert_eq!(keep_good("rows_test_table", vec![Ok(1), Ok(2)]), vec![1, 2]);
        let reported = REPORTED.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!reported.keys().any(|(t, _)| *t == "rows_test_table"));
    }

    #[test]
    fn a_bad_build_row_makes_its_realm_bad_and_no_other() {
        let mut builds = RealmBuilds::default();
        builds.add(1, Ok(12340));
        builds.add(1, Ok(5875));
        builds.add(2, Ok(70000));
        builds.add(2, Ok(8606));
        builds.add(3, Err("build is Text, not an integer".into()));
        let with = |id| {
            builds.attach(Ok(RealmRecord {
                id: RealmId(id),
                builds: vec![],
                ..realm()
            }))
        };
        assert_eq!(with(1).unwrap().builds, vec![Build::WOTLK, Build::VANILLA]);
        match with(2) {
            Err(StoreError::Corrupt { what }) => {
                assert_eq!(what, "realm_builds: build 70000 is not a build number")
            }
            other => panic!("{other:?}"),
        }
        assert!(with(3).is_err());
        // No rows: every build.
        assert_eq!(with(4).unwrap().builds, vec![]);
        // A realm row that was bad already stays bad as it was.
        assert!(matches!(
            builds.attach(Err(StoreError::corrupt("realm id 0 is outside 1..=255"))),
            Err(StoreError::Corrupt { what }) if what.contains("realm id 0")
        ));
        let row = realm_row("id 2", with(2)).unwrap_err();
        assert_eq!(row.key, "id 2");
        assert!(row.why.contains("70000"), "{row:?}");
    }

    #[test]
    fn realms_are_checked_by_the_shared_rules() {
        assert_eq!(checked_realm(realm()), Ok(realm()));
        let bad = [
            RealmRecord {
                address: "nowhere".into(),
                ..realm()
            },
            RealmRecord {
                address: "h:0".into(),
                ..realm()
            },
            RealmRecord {
                name: String::new(),
                ..realm()
            },
            RealmRecord {
                population: f32::NAN,
                ..realm()
            },
            RealmRecord {
                population: -1.0,
                ..realm()
            },
            RealmRecord {
                population: f32::INFINITY,
                ..realm()
            },
            RealmRecord {
                builds: vec![Build(0)],
                ..realm()
            },
        ];
        for realm in bad {
            let shown = format!("{realm:?}");
            assert!(checked_realm(realm).is_err(), "{shown}");
        }
    }
}
