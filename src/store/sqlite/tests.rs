//! What is particular to the SQLite store, against real files in a temporary directory: its
//! pragmas, the schema's constraints, upgrades of older files, corrupt rows written behind the
//! store's back (errors, never panics), the rows behind what the API shows, and how SQLite's
//! errors map to the store's. The semantics of the `Store` API itself are one suite run
//! against every backend: `tests/store_suite.rs`.

use super::*;

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("gatehouse.db")).unwrap();
    (dir, store)
}

fn salt(b: u8) -> Salt {
    Salt(std::array::from_fn(|i| b.wrapping_add(i as u8)))
}

fn verifier(b: u8) -> Verifier {
    Verifier(std::array::from_fn(|i| b ^ (i as u8).wrapping_mul(7)))
}

fn attempt(account: Option<AccountId>, n: &str, outcome: LoginOutcome, at: i64) -> LoginAttempt {
    LoginAttempt {
        account,
        name: name(n),
        peer: "192.0.2.7".parse().unwrap(),
        build: Build::WOTLK,
        client: Default::default(),
        outcome,
        at,
    }
}

fn realm(n: &str) -> NewRealm {
    NewRealm {
        name: n.to_owned(),
        address: "127.0.0.1:8085".to_owned(),
        realm_type: 1,
        flags: 0,
        timezone: 1,
        population: 0.5,
        builds: vec![],
        link_key: None,
        allowed_level: 0,
        local: None,
    }
}

fn tables(store: &SqliteStore) -> Vec<String> {
    let mut stmt = store
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn open_creates_every_table_and_reopen_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut expected = vec![
        "account_bans",
        "account_pins",
        "accounts",
        "ip_bans",
        "login_addresses",
        "login_audit",
        "realm_builds",
        "realm_characters",
        "realms",
        "settings",
        "totp_steps",
    ];
    expected.sort_unstable();
    assert_eq!(tables(&store), expected);
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: bool = store
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert!(fk);
    let sync: i64 = store
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    drop(store);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(tables(&store), expected);
    assert_eq!(
        migrations::current_version(&store.conn).unwrap(),
        i64::from(migrations::latest_version())
    );
    // Data survives a reopen (the migrations did not recreate anything).
    store
        .create_account(&name("a"), &salt(1), &verifier(1))
        .unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert!(store.load_account(&name("a")).unwrap().is_some());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", migrations::latest_version() + 5)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn an_unopenable_path_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("gatehouse.db");
    let err = SqliteStore::open(&missing).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    // A directory where the file should be.
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
}

#[test]
fn sqlite_errors_become_classified_backend_errors() {
    let (_dir, store) = temp_store();
    let err: StoreError = store
        .conn
        .execute(
            "INSERT INTO realms (id, name, address) VALUES (0, 'bad', 'x')",
            [],
        )
        .unwrap_err()
        .into();
    assert_eq!(err.backend_kind(), Some(BackendErrorKind::Constraint));
    let StoreError::Backend(backend) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        backend.code().map(|c| c & 0xff),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT)
    );
    assert!(err.to_string().contains("CHECK"), "{err}");
    for (code, kind) in [
        (rusqlite::ffi::SQLITE_BUSY, BackendErrorKind::Busy),
        (rusqlite::ffi::SQLITE_LOCKED, BackendErrorKind::Busy),
        (rusqlite::ffi::SQLITE_READONLY, BackendErrorKind::ReadOnly),
        (rusqlite::ffi::SQLITE_FULL, BackendErrorKind::Full),
        (rusqlite::ffi::SQLITE_CANTOPEN, BackendErrorKind::CannotOpen),
        (rusqlite::ffi::SQLITE_NOTADB, BackendErrorKind::Damaged),
        (rusqlite::ffi::SQLITE_MISMATCH, BackendErrorKind::Other),
    ] {
        let err = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert_eq!(BackendError::from(err).kind(), kind, "code {code}");
    }
    let missing = store
        .conn
        .query_row("SELECT 1 WHERE 0", [], |r| r.get::<_, i64>(0));
    let err = StoreError::from(missing.unwrap_err());
    assert_eq!(err.backend_kind(), Some(BackendErrorKind::Other));
    // Errors of the store's own making are not the backend's.
    assert_eq!(StoreError::Busy.backend_kind(), None);
}

#[test]
fn a_counted_failure_records_when_it_happened() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    for at in [10, 11] {
        store
            .record_login_failure(
                &attempt(Some(id), "alice", LoginOutcome::WrongPassword, at),
                &LockoutPolicy::OFF,
            )
            .unwrap();
    }
    let last_failed: i64 = store
        .conn
        .query_row(
            "SELECT last_failed_at FROM accounts WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last_failed, 11);
}

#[test]
fn the_rows_behind_a_login_success_and_an_account_delete() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let r1 = store.add_realm(&realm("One")).unwrap();
    store.set_character_count(id, r1, 2).unwrap();
    let ok = attempt(Some(id), "alice", LoginOutcome::Success, 20);
    store
        .record_login_success(&ok, &SessionKey([7; 40]), 900, None)
        .unwrap();
    let key_at: i64 = store
        .conn
        .query_row(
            "SELECT session_key_at FROM accounts WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(key_at, 20);

    store.delete_account(&name("alice")).unwrap();
    let counts: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM realm_characters WHERE account_id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(counts, 0, "character counts go with the account");
}

#[test]
fn unban_keeps_the_ban_rows_as_history() {
    let (_dir, mut store) = temp_store();
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let now = unix_now();
    for (until, reason) in [
        (Some(now - 60), "old"),
        (Some(now + 3600), "cool off"),
        (Some(now + 60), "shorter"),
        (None, "cheating"),
    ] {
        store.ban_account(&name("alice"), until, reason).unwrap();
    }
    store.unban_account(&name("alice")).unwrap();
    let history: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM account_bans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(history, 4, "unban keeps the history");
}

#[test]
fn removing_a_realm_removes_its_builds() {
    let (_dir, mut store) = temp_store();
    let mut one = realm("Lordaeron");
    one.builds = vec![Build::VANILLA, Build::TBC, Build::VANILLA];
    store.add_realm(&one).unwrap();
    let id2 = store.add_realm(&realm("Kalimdor")).unwrap();
    store
        .remove_realm(&RealmRef::Name("LORDAERON".to_owned()))
        .unwrap();
    store.remove_realm(&RealmRef::Id(id2)).unwrap();
    let builds: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM realm_builds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(builds, 0, "builds go with their realm");
}

#[test]
fn the_schema_keeps_realm_ids_in_one_to_255() {
    let (_dir, store) = temp_store();
    for bad in [0, 256, -1] {
        let err = store
            .conn
            .execute(
                "INSERT INTO realms (id, name, address) VALUES (?1, ?2, 'x')",
                params![bad, format!("bad{bad}")],
            )
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation)
        );
    }
}

/// Writes a row the schema's CHECKs would refuse, as a hand edit or another tool might.
fn corrupt(store: &SqliteStore, sql: &str) {
    store
        .conn
        .pragma_update(None, "ignore_check_constraints", true)
        .unwrap();
    store.conn.execute_batch(sql).unwrap();
    store
        .conn
        .pragma_update(None, "ignore_check_constraints", false)
        .unwrap();
}

#[test]
fn corrupt_rows_are_errors_not_panics() {
    let (_dir, mut store) = temp_store();
    corrupt(
        &store,
        "INSERT INTO accounts (name, salt, verifier, created_at)
         VALUES ('SHORT', zeroblob(31), zeroblob(32), 0);
         INSERT INTO accounts (name, salt, verifier, created_at, session_key)
         VALUES ('BADKEY', zeroblob(32), zeroblob(32), 0, zeroblob(39));
         INSERT INTO accounts (name, salt, verifier, created_at)
         VALUES ('lower', zeroblob(32), zeroblob(32), 0);",
    );
    match store.load_account(&name("short")) {
        Err(StoreError::Corrupt { what }) => assert!(what.contains("salt"), "{what}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.load_account(&name("badkey")),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.list_accounts(),
        Err(StoreError::Corrupt { .. })
    ));
}

/// Realms and IP bans are read whole: a bad row is left out (with an error line naming it),
/// never the whole table, so one hand edit cannot stop the daemon from starting.
#[test]
fn bad_realm_and_ip_ban_rows_are_skipped_and_the_rest_served() {
    let (_dir, mut store) = temp_store();
    let good = store.add_realm(&realm("Good")).unwrap();
    let mut built = realm("Built");
    built.builds = vec![Build::WOTLK];
    let built = store.add_realm(&built).unwrap();
    corrupt(
        &store,
        "INSERT INTO realms (id, name, address, realm_type) VALUES (3, 'Type', 'h:1', 300);
         INSERT INTO realms (id, name, address) VALUES (4, 'Nowhere', 'nowhere');
         INSERT INTO realms (id, name, address, population) VALUES (5, 'Negative', 'h:1', -1);
         INSERT INTO realms (id, name, address, population) VALUES (6, 'Text', 'h:1', 'lots');
         INSERT INTO realms (id, name, address, population) VALUES (7, 'Huge', 'h:1', 1e300);
         INSERT INTO realms (id, name, address) VALUES (0, 'Zero', 'h:1');
         INSERT INTO realms (id, name, address, link_key) VALUES (8, 'Key', 'h:1', zeroblob(31));
         INSERT INTO realms (id, name, address) VALUES (9, 'Builds', 'h:1');
         INSERT INTO realm_builds (realm_id, build) VALUES (9, 12340), (9, 70000);
         INSERT INTO realms (id, name, address) VALUES (10, 'BuildZero', 'h:1');
         INSERT INTO realm_builds (realm_id, build) VALUES (10, 0);
         INSERT INTO realms (id, name, address) VALUES (11, '', 'h:1');
         INSERT INTO ip_bans (net, banned_at) VALUES ('192.0.2.7/32', 0);
         INSERT INTO ip_bans (net, banned_at) VALUES ('localhost', 0);
         INSERT INTO ip_bans (net, banned_at) VALUES (12345, 0);
         INSERT INTO ip_bans (net, banned_at, expires_at) VALUES ('198.51.100.0/24', 0, 'later');",
    );
    for realms in [store.load_realms().unwrap(), store.list_realms().unwrap()] {
        let ids: Vec<RealmId> = realms.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![good, built]);
        assert_eq!(realms[1].builds, vec![Build::WOTLK]);
    }
    let bans = store.ip_bans(100).unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].net, "192.0.2.7/32".parse::<ipnet::IpNet>().unwrap());
}

#[test]
fn a_version_1_file_upgrades_to_2_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    {
        // A database as the version-1 binary left it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(migrations::MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO accounts (id, name, salt, verifier, created_at, last_login_at,
                                   failed_logins, session_key, session_key_at)
             VALUES (5, 'ALICE', zeroblob(32), zeroblob(32), 1, 50, 2, zeroblob(40), 50),
                    (6, 'BOB', zeroblob(32), zeroblob(32), 2, NULL, 0, NULL, NULL);
             INSERT INTO realms (id, name, address) VALUES (3, 'Old', 'h:1');
             INSERT INTO realm_builds (realm_id, build) VALUES (3, 5875);
             INSERT INTO realm_characters (account_id, realm_id, count) VALUES (5, 3, 4);
             INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
             VALUES (50, 5, 'ALICE', '192.0.2.1', 5875, 'success');",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        migrations::current_version(&store.conn).unwrap(),
        i64::from(migrations::latest_version())
    );

    let alice = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(alice.id, AccountId(5));
    assert_eq!(alice.failed_logins, 2);
    assert_eq!(alice.security_level, 0);
    // An old key had no expiry: it is kept for reconnects but counts as expired.
    assert_eq!(
        alice.session,
        Some(SessionTicket {
            key: SessionKey([0; 40]),
            issued_at: 50,
            expires_at: 50,
            taken_by: None,
        })
    );
    assert_eq!(
        store
            .take_session(&name("alice"), RealmId(3), 51, None)
            .unwrap(),
        TakeOutcome::NoTicket
    );
    let bob = store.load_account(&name("bob")).unwrap().unwrap();
    assert_eq!((bob.session, bob.security_level), (None, 0));

    let realms = store.list_realms().unwrap();
    assert_eq!(realms.len(), 1);
    assert_eq!(realms[0].name, "Old");
    assert_eq!(realms[0].builds, vec![Build::VANILLA]);
    assert_eq!(realms[0].kind, RealmKind::Static);
    assert_eq!(store.realm_link_key(RealmId(3)).unwrap(), None);
    assert_eq!(store.recent_audit(10).unwrap().len(), 1);
    let counts = store
        .renew_session(
            &attempt(
                Some(AccountId(5)),
                "alice",
                LoginOutcome::ReconnectSuccess,
                60,
            ),
            960,
        )
        .unwrap();
    assert_eq!(
        counts,
        vec![CharacterCount {
            realm: RealmId(3),
            count: 4
        }]
    );
    // The new columns have their constraints.
    let err = store
        .conn
        .execute("UPDATE accounts SET security_level = 256 WHERE id = 5", [])
        .unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation)
    );
    let err = store
        .conn
        .execute("UPDATE realms SET link_key = zeroblob(31) WHERE id = 3", [])
        .unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation)
    );
}

/// A store with ALICE logged in at 100 with a ticket until 1000, and two realms.
fn logged_in(store: &mut SqliteStore, key: SessionKey) -> (AccountId, RealmId, RealmId) {
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let r1 = store.add_realm(&realm("One")).unwrap();
    let r2 = store.add_realm(&realm("Two")).unwrap();
    store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 100),
            &key,
            1000,
            None,
        )
        .unwrap();
    (id, r1, r2)
}

#[test]
fn corrupt_link_keys_are_errors_not_panics() {
    let (_dir, mut store) = temp_store();
    let mut linked = realm("Linked");
    linked.link_key = Some(LinkKey(std::array::from_fn(|i| i as u8 * 3)));
    store.add_realm(&realm("Static")).unwrap();
    let linked_id = store.add_realm(&linked).unwrap();

    corrupt(
        &store,
        &format!(
            "UPDATE realms SET link_key = zeroblob(31) WHERE id = {}",
            linked_id.0
        ),
    );
    match store.realm_link_key(linked_id) {
        Err(StoreError::Corrupt { what }) => assert!(what.contains("link key"), "{what}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Left out of the realm list (a key the handshake cannot use must not list as linkable),
    // the other realm still listed.
    let listed: Vec<String> = store
        .list_realms()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, vec!["Static".to_owned()]);
    corrupt(
        &store,
        &format!("UPDATE realms SET link_key = 7 WHERE id = {}", linked_id.0),
    );
    assert!(matches!(
        store.realm_link_key(linked_id),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_tickets_are_errors_not_panics() {
    let cases = [
        // Taken by a realm id that cannot exist.
        "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 2,
         session_taken_by = 0",
        "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 2,
         session_taken_by = 300",
        // A key without its times.
        "session_key = zeroblob(40), session_key_at = 1, session_expires_at = NULL",
        "session_key = zeroblob(40), session_key_at = NULL, session_expires_at = 2",
        // An expiry or a taker without a key.
        "session_key = NULL, session_expires_at = 2",
        "session_key = NULL, session_taken_by = 1",
        // Wrong types.
        "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 'soon'",
        "security_level = 256",
        "security_level = -1",
    ];
    for set in cases {
        let (_dir, mut store) = temp_store();
        store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        corrupt(&store, &format!("UPDATE accounts SET {set}"));
        assert!(
            matches!(
                store.load_account(&name("alice")),
                Err(StoreError::Corrupt { .. })
            ),
            "{set}"
        );
    }
    // A bad level is caught by the take too, and the mark is rolled back with it.
    let (_dir, mut store) = temp_store();
    logged_in(&mut store, SessionKey([1; 40]));
    corrupt(&store, "UPDATE accounts SET security_level = 300");
    assert!(matches!(
        store.take_session(&name("alice"), RealmId(1), 500, None),
        Err(StoreError::Corrupt { .. })
    ));
    let taken: Option<i64> = store
        .conn
        .query_row("SELECT session_taken_by FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(taken, None);
}

fn sealed(b: u8) -> SealedTotpSecret {
    SealedTotpSecret::from_bytes(&[b; crate::totp::SEALED_LEN]).unwrap()
}

#[test]
fn the_schema_refuses_a_totp_secret_of_the_wrong_length() {
    let (_dir, mut store) = temp_store();
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let err = store
        .conn
        .execute("UPDATE accounts SET totp_secret = zeroblob(59)", [])
        .unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation)
    );
}

#[test]
fn a_corrupt_totp_secret_is_an_error_not_a_panic() {
    let (_dir, mut store) = temp_store();
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    for bad in [
        "zeroblob(12)",
        "'not a blob at all, sixty bytes of text.....................'",
        "42",
    ] {
        corrupt(&store, &format!("UPDATE accounts SET totp_secret = {bad}"));
        match store.load_account(&name("alice")) {
            Err(StoreError::Corrupt { what }) => {
                assert!(what.contains("totp_secret"), "{what}")
            }
            other => panic!("{bad}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn a_version_3_file_upgrades_to_the_latest_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    {
        let conn = Connection::open(&path).unwrap();
        for m in &migrations::MIGRATIONS[..3] {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO accounts (id, name, salt, verifier, created_at, failed_logins,
                                   security_level)
             VALUES (5, 'ALICE', zeroblob(32), zeroblob(32), 1, 2, 3);
             INSERT INTO ip_bans (net, banned_at) VALUES ('192.0.2.0/24', 1);
             INSERT INTO settings (key, value) VALUES ('console_password', 'h');",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        migrations::current_version(&store.conn).unwrap(),
        i64::from(migrations::latest_version())
    );
    let alice = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(
        (
            alice.id,
            alice.failed_logins,
            alice.security_level,
            alice.totp
        ),
        (AccountId(5), 2, 3, None)
    );
    assert_eq!(store.ip_bans(0).unwrap().len(), 1);
    assert_eq!(store.console_password().unwrap().as_deref(), Some("h"));
    store
        .set_totp_secret(&name("alice"), Some(&sealed(4)))
        .unwrap();
    assert_eq!(
        store.load_account(&name("alice")).unwrap().unwrap().totp,
        Some(sealed(4))
    );
}

#[test]
fn a_large_prune_goes_in_batches_and_misses_nothing() {
    let (_dir, mut store) = temp_store();
    // 12,001 old rows (more than two batches) and one new one.
    store
        .conn
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
             INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
             SELECT i % 100, NULL, 'X', '192.0.2.1', 12340, 'wrong_password' FROM n;
             INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
             VALUES (500, NULL, 'X', '192.0.2.1', 12340, 'wrong_password');",
        )
        .unwrap();
    assert_eq!(store.prune_audit(100).unwrap(), 12_001);
    let left = store.recent_audit(10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].at, 500);
}

#[test]
fn a_missing_file_is_created_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let err = SqliteStore::open_as(&path, Create::Never).unwrap_err();
    assert!(matches!(err, StoreError::NoDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("typo.db"), "{err}");
    assert!(!path.exists(), "a database was created");
    drop(SqliteStore::open_as(&path, Create::IfMissing).unwrap());
    assert!(path.exists());
    drop(SqliteStore::open_as(&path, Create::Never).unwrap());
}
