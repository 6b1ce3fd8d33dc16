//! The SQLite store against real files in a temporary directory: every `Store` operation,
//! the schema's constraints, upgrades of older files, corrupt rows (errors, never panics),
//! concurrent ticket takes, and how SQLite's errors map to the store's.

use super::*;
use crate::account::AccountStanding;

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
        "accounts",
        "ip_bans",
        "login_audit",
        "realm_builds",
        "realm_characters",
        "realms",
        "settings",
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
fn accounts_create_duplicate_list_password_delete() {
    let (_dir, mut store) = temp_store();
    let alice = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let bob = store
        .create_account(&name("BOB"), &salt(2), &verifier(2))
        .unwrap();
    assert_ne!(alice, bob);
    assert!(matches!(
        store.create_account(&name("Alice"), &salt(3), &verifier(3)),
        Err(StoreError::DuplicateAccount(n)) if n == name("ALICE")
    ));

    let list = store.list_accounts().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, alice);
    assert_eq!(list[0].name, name("ALICE"));
    assert_eq!(list[0].failed_logins, 0);
    assert_eq!(list[0].last_login_at, None);
    assert_eq!(list[0].standing, AccountStanding::Active);
    assert!(list[0].created_at > 0);
    assert_eq!(list[1].name, name("BOB"));

    store
        .set_password(&name("alice"), &salt(9), &verifier(9))
        .unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!((a.salt, a.verifier), (salt(9), verifier(9)));
    assert!(matches!(
        store.set_password(&name("carol"), &salt(9), &verifier(9)),
        Err(StoreError::NoSuchAccount(_))
    ));

    store.delete_account(&name("alice")).unwrap();
    assert!(store.load_account(&name("alice")).unwrap().is_none());
    assert!(matches!(
        store.delete_account(&name("alice")),
        Err(StoreError::NoSuchAccount(_))
    ));
    assert_eq!(store.list_accounts().unwrap().len(), 1);
}

#[test]
fn load_account_round_trips_bytes_exactly() {
    let (_dir, mut store) = temp_store();
    assert!(store.load_account(&name("nobody")).unwrap().is_none());
    let id = store
        .create_account(&name("alice"), &salt(0xf0), &verifier(0x5a))
        .unwrap();
    let a = store.load_account(&name("ALICE")).unwrap().unwrap();
    assert_eq!(a.id, id);
    assert_eq!(a.name, name("ALICE"));
    assert_eq!(a.salt, salt(0xf0));
    assert_eq!(a.verifier, verifier(0x5a));
    assert_eq!(a.session, None);
    assert_eq!(a.failed_logins, 0);
    assert_eq!(a.security_level, 0);
    assert_eq!(a.standing, AccountStanding::Active);

    let key = SessionKey(std::array::from_fn(|i| 255 - i as u8));
    store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 100),
            &key,
            1000,
        )
        .unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(
        a.session,
        Some(SessionTicket {
            key,
            issued_at: 100,
            expires_at: 1000,
            taken_by: None,
        })
    );
    store.set_security_level(&name("alice"), 255).unwrap();
    assert_eq!(
        store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .security_level,
        255
    );
    assert!(matches!(
        store.set_security_level(&name("nobody"), 1),
        Err(StoreError::NoSuchAccount(_))
    ));

    // A password change forgets the key, so an old session cannot reconnect.
    store
        .set_password(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    assert_eq!(
        store.load_account(&name("alice")).unwrap().unwrap().session,
        None
    );
}

#[test]
fn wrong_passwords_lock_the_account_for_the_policy_duration_and_decay() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let policy = LockoutPolicy {
        attempts: 3,
        window: Duration::from_secs(300),
        duration: Duration::from_secs(600),
    };
    let t = unix_now();
    let wrong = |at| attempt(Some(id), "alice", LoginOutcome::WrongPassword, at);
    // Decay: one failure forgiven every 100 s, so failures 150 s apart never lock.
    for i in 0..5 {
        let r = store.record_login_failure(&wrong(t - 2_000 + 150 * i), &policy);
        assert_eq!(r.unwrap(), FailureRecorded::Counted(1));
    }
    // A refused build or an unknown name is audited, not counted.
    let other = attempt(Some(id), "alice", LoginOutcome::VersionInvalid, t);
    assert_eq!(
        store.record_login_failure(&other, &policy).unwrap(),
        FailureRecorded::Audited
    );
    // Three within the window lock; the third is the one that does.
    assert_eq!(
        store.record_login_failure(&wrong(t), &policy).unwrap(),
        FailureRecorded::Counted(1)
    );
    assert_eq!(
        store.record_login_failure(&wrong(t + 1), &policy).unwrap(),
        FailureRecorded::Counted(2)
    );
    assert_eq!(
        store.record_login_failure(&wrong(t + 2), &policy).unwrap(),
        FailureRecorded::Locked { until: t + 602 }
    );
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.standing, AccountStanding::Suspended { until: t + 602 });
    assert_eq!(a.failed_logins, 0, "the count starts again after a lock");
    // The lock is an ordinary ban row: `unban` lifts it.
    store.unban_account(&name("alice")).unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.standing, AccountStanding::Active);
}

#[test]
fn login_failure_counts_and_audits() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    store
        .record_login_failure(
            &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 10),
            &LockoutPolicy::OFF,
        )
        .unwrap();
    store
        .record_login_failure(
            &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 11),
            &LockoutPolicy::OFF,
        )
        .unwrap();
    store
        .record_login_failure(
            &attempt(None, "ghost", LoginOutcome::UnknownAccount, 12),
            &LockoutPolicy::OFF,
        )
        .unwrap();

    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.failed_logins, 2);
    let last_failed: i64 = store
        .conn
        .query_row(
            "SELECT last_failed_at FROM accounts WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last_failed, 11);

    let audit = store.recent_audit(10).unwrap();
    assert_eq!(audit.len(), 3);
    assert_eq!(
        audit[0],
        AuditRow {
            at: 12,
            account: None,
            name: "GHOST".to_owned(),
            peer: "192.0.2.7".to_owned(),
            build: Build::WOTLK,
            outcome: "unknown_account".to_owned(),
        }
    );
    assert_eq!(audit[1].account, Some(id));
    assert_eq!(audit[1].outcome, "wrong_password");
    assert_eq!(audit[2].at, 10);
    assert_eq!(store.recent_audit(1).unwrap().len(), 1);
}

#[test]
fn login_success_resets_counter_stores_key_and_returns_counts() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let other = store
        .create_account(&name("bob"), &salt(1), &verifier(1))
        .unwrap();
    let r1 = store.add_realm(&realm("One")).unwrap();
    let r2 = store.add_realm(&realm("Two")).unwrap();
    store.set_character_count(id, r2, 3).unwrap();
    store.set_character_count(id, r1, 1).unwrap();
    store.set_character_count(id, r1, 2).unwrap(); // upsert
    store.set_character_count(other, r1, 9).unwrap();
    assert!(matches!(
        store.set_character_count(AccountId(999), r1, 1),
        Err(StoreError::NoSuchAccountId(_))
    ));
    assert!(matches!(
        store.set_character_count(id, RealmId(77), 1),
        Err(StoreError::NoSuchRealm(_))
    ));
    store
        .record_login_failure(
            &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 10),
            &LockoutPolicy::OFF,
        )
        .unwrap();

    let key = SessionKey([7; 40]);
    let mut ok = attempt(Some(id), "alice", LoginOutcome::Success, 20);
    ok.peer = "::ffff:198.51.100.1".parse().unwrap();
    let counts = store.record_login_success(&ok, &key, 900).unwrap();
    assert_eq!(
        counts,
        vec![
            CharacterCount {
                realm: r1,
                count: 2
            },
            CharacterCount {
                realm: r2,
                count: 3
            },
        ]
    );
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.failed_logins, 0);
    assert_eq!(a.session.map(|t| t.key), Some(key));
    let s = &store.list_accounts().unwrap()[0];
    assert_eq!(s.last_login_at, Some(20));
    assert_eq!(s.last_login_ip.as_deref(), Some("198.51.100.1"));
    let key_at: i64 = store
        .conn
        .query_row(
            "SELECT session_key_at FROM accounts WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(key_at, 20);
    let audit = store.recent_audit(1).unwrap();
    assert_eq!(audit[0].outcome, "success");
    assert_eq!(audit[0].peer, "198.51.100.1");

    // Removing a realm takes its character counts with it.
    store.remove_realm(&RealmRef::Id(r2)).unwrap();
    let counts = store.record_login_success(&ok, &key, 900).unwrap();
    assert_eq!(
        counts,
        vec![CharacterCount {
            realm: r1,
            count: 2
        }]
    );

    // No account id, or an account deleted since it was loaded: no success is recorded.
    let mut anon = ok.clone();
    anon.account = None;
    assert!(matches!(
        store.record_login_success(&anon, &key, 900),
        Err(StoreError::Invalid(_))
    ));
    let before = store.recent_audit(100).unwrap().len();
    store.delete_account(&name("alice")).unwrap();
    assert!(matches!(
        store.record_login_success(&ok, &key, 900),
        Err(StoreError::NoSuchAccountId(_))
    ));
    assert_eq!(store.recent_audit(100).unwrap().len(), before);
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
fn bans_decide_standing() {
    let (_dir, mut store) = temp_store();
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let standing = |store: &mut SqliteStore| {
        store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .standing
    };
    let now = unix_now();

    // Expired bans are ignored.
    store
        .ban_account(&name("alice"), Some(now - 60), "old")
        .unwrap();
    assert_eq!(standing(&mut store), AccountStanding::Active);

    store
        .ban_account(&name("alice"), Some(now + 3600), "cool off")
        .unwrap();
    store
        .ban_account(&name("alice"), Some(now + 60), "shorter")
        .unwrap();
    assert_eq!(
        standing(&mut store),
        AccountStanding::Suspended { until: now + 3600 }
    );

    store.ban_account(&name("alice"), None, "cheating").unwrap();
    assert_eq!(standing(&mut store), AccountStanding::Banned);
    assert_eq!(
        store.list_accounts().unwrap()[0].standing,
        AccountStanding::Banned
    );

    store.unban_account(&name("alice")).unwrap();
    assert_eq!(standing(&mut store), AccountStanding::Active);
    let history: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM account_bans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(history, 4, "unban keeps the history");

    assert!(matches!(
        store.ban_account(&name("nobody"), None, ""),
        Err(StoreError::NoSuchAccount(_))
    ));
    assert!(matches!(
        store.unban_account(&name("nobody")),
        Err(StoreError::NoSuchAccount(_))
    ));
}

#[test]
fn realms_add_list_duplicate_remove() {
    let (_dir, mut store) = temp_store();
    let mut one = realm("Lordaeron");
    one.builds = vec![Build::VANILLA, Build::TBC, Build::VANILLA];
    let id1 = store.add_realm(&one).unwrap();
    let id2 = store.add_realm(&realm("Kalimdor")).unwrap();
    assert_eq!((id1, id2), (RealmId(1), RealmId(2)));
    assert!(matches!(
        store.add_realm(&realm("lordaeron")),
        Err(StoreError::DuplicateRealm(_))
    ));

    let realms = store.list_realms().unwrap();
    assert_eq!(realms.len(), 2);
    assert_eq!(
        realms[0],
        RealmRecord {
            id: id1,
            name: "Lordaeron".to_owned(),
            address: "127.0.0.1:8085".to_owned(),
            realm_type: 1,
            flags: 0,
            timezone: 1,
            population: 0.5,
            builds: vec![Build::VANILLA, Build::TBC],
            kind: RealmKind::Static,
        }
    );
    assert!(realms[1].builds.is_empty());
    assert_eq!(store.load_realms().unwrap(), realms);

    store
        .remove_realm(&RealmRef::Name("LORDAERON".to_owned()))
        .unwrap();
    store.remove_realm(&RealmRef::Id(id2)).unwrap();
    assert!(store.list_realms().unwrap().is_empty());
    assert!(matches!(
        store.remove_realm(&RealmRef::Id(id2)),
        Err(StoreError::NoSuchRealm(_))
    ));
    assert!(matches!(
        store.remove_realm(&RealmRef::Name("Nope".to_owned())),
        Err(StoreError::NoSuchRealm(_))
    ));
    let builds: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM realm_builds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(builds, 0, "builds go with their realm");
}

#[test]
fn realm_ids_stay_in_one_to_255() {
    let (_dir, mut store) = temp_store();
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
    for i in 1..=255 {
        assert_eq!(
            store.add_realm(&realm(&format!("r{i}"))).unwrap(),
            RealmId(i)
        );
    }
    assert!(matches!(
        store.add_realm(&realm("one too many")),
        Err(StoreError::RealmIdsExhausted)
    ));
    // Once 255 is taken, the lowest gap is reused.
    store.remove_realm(&RealmRef::Id(RealmId(1))).unwrap();
    store.remove_realm(&RealmRef::Id(RealmId(40))).unwrap();
    assert_eq!(store.add_realm(&realm("again")).unwrap(), RealmId(1));
    assert_eq!(store.add_realm(&realm("again2")).unwrap(), RealmId(40));
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

    let (_dir, mut store) = temp_store();
    corrupt(
        &store,
        "INSERT INTO realms (id, name, address, realm_type) VALUES (3, 'X', 'x', 300);",
    );
    assert!(matches!(
        store.load_realms(),
        Err(StoreError::Corrupt { .. })
    ));
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
        store.take_session(&name("alice"), RealmId(3), 51).unwrap(),
        None
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
        )
        .unwrap();
    (id, r1, r2)
}

#[test]
fn a_ticket_is_taken_once_until_the_next_logon() {
    let (_dir, mut store) = temp_store();
    let key = SessionKey([9; 40]);
    let (id, r1, r2) = logged_in(&mut store, key);
    store.set_security_level(&name("alice"), 2).unwrap();

    let taken = store.take_session(&name("ALICE"), r1, 500).unwrap();
    assert_eq!(
        taken,
        Some(TakenSession {
            account: id,
            key,
            security_level: 2
        })
    );
    let ticket = store
        .load_account(&name("alice"))
        .unwrap()
        .unwrap()
        .session
        .unwrap();
    assert_eq!(ticket.taken_by, Some(r1));
    // Taken is taken: for the same realm and for another.
    assert_eq!(store.take_session(&name("alice"), r1, 500).unwrap(), None);
    assert_eq!(store.take_session(&name("alice"), r2, 500).unwrap(), None);
    assert_eq!(store.take_session(&name("nobody"), r1, 500).unwrap(), None);

    // A new logon replaces the ticket, which can be taken again.
    let key2 = SessionKey([10; 40]);
    store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 600),
            &key2,
            1500,
        )
        .unwrap();
    let ticket = store
        .load_account(&name("alice"))
        .unwrap()
        .unwrap()
        .session
        .unwrap();
    assert_eq!(
        (ticket.issued_at, ticket.expires_at, ticket.taken_by),
        (600, 1500, None)
    );
    assert_eq!(
        store
            .take_session(&name("alice"), r2, 700)
            .unwrap()
            .map(|t| t.key),
        Some(key2)
    );
    assert_eq!(
        store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .session
            .unwrap()
            .taken_by,
        Some(r2)
    );

    // Expired: at the expiry second and after, nobody gets it.
    store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 800),
            &key,
            900,
        )
        .unwrap();
    assert_eq!(store.take_session(&name("alice"), r1, 900).unwrap(), None);
    assert_eq!(store.take_session(&name("alice"), r1, 5000).unwrap(), None);
    assert_eq!(
        store
            .take_session(&name("alice"), r1, 899)
            .unwrap()
            .map(|t| t.account),
        Some(id)
    );

    // No key (a password change forgets it): nothing to take.
    store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 800),
            &key,
            2000,
        )
        .unwrap();
    store
        .set_password(&name("alice"), &salt(2), &verifier(2))
        .unwrap();
    assert_eq!(store.take_session(&name("alice"), r1, 900).unwrap(), None);
}

#[test]
fn racing_takes_on_two_connections_hand_the_ticket_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let mut setup = SqliteStore::open(&path).unwrap();
    let (id, r1, r2) = logged_in(&mut setup, SessionKey([1; 40]));
    // Separate stores with separate write turns: as two gatehouse nodes on one database,
    // only SQLite itself stands between them.
    let stores: Vec<_> = (0..2)
        .map(|_| std::sync::Arc::new(Mutex::new(SqliteStore::open(&path).unwrap())))
        .collect();
    for round in 0..50i64 {
        setup
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 100 + round),
                &SessionKey([round as u8; 40]),
                10_000,
            )
            .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = stores
            .iter()
            .zip([r1, r2])
            .map(|(store, realm)| {
                let store = std::sync::Arc::clone(store);
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut store = store.lock().unwrap();
                    barrier.wait();
                    store.take_session(&name("alice"), realm, 5000).unwrap()
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(winners[0].key, SessionKey([round as u8; 40]));
        let taken_by = setup
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .session
            .unwrap()
            .taken_by;
        let winner_realm = if results[0].is_some() { r1 } else { r2 };
        assert_eq!(taken_by, Some(winner_realm), "round {round}");
    }
}

#[test]
fn a_reconnect_renews_the_ticket() {
    let (_dir, mut store) = temp_store();
    let key = SessionKey([4; 40]);
    let (id, r1, r2) = logged_in(&mut store, key);
    store.set_character_count(id, r2, 5).unwrap();
    assert!(store
        .take_session(&name("alice"), r1, 500)
        .unwrap()
        .is_some());

    let mut reconnect = attempt(Some(id), "alice", LoginOutcome::ReconnectSuccess, 700);
    reconnect.peer = "198.51.100.2".parse().unwrap();
    let counts = store.renew_session(&reconnect, 1600).unwrap();
    assert_eq!(
        counts,
        vec![CharacterCount {
            realm: r2,
            count: 5
        }]
    );
    let ticket = store
        .load_account(&name("alice"))
        .unwrap()
        .unwrap()
        .session
        .unwrap();
    assert_eq!(
        ticket,
        SessionTicket {
            key,
            issued_at: 100,
            expires_at: 1600,
            taken_by: None
        }
    );
    let summary = &store.list_accounts().unwrap()[0];
    assert_eq!(summary.last_login_at, Some(700));
    assert_eq!(summary.last_login_ip.as_deref(), Some("198.51.100.2"));
    let audit = store.recent_audit(1).unwrap();
    assert_eq!(audit[0].outcome, "reconnect_success");
    assert_eq!(audit[0].at, 700);
    assert_eq!(audit[0].account, Some(id));
    // Takeable again, until the new expiry.
    assert!(store
        .take_session(&name("alice"), r2, 1599)
        .unwrap()
        .is_some());

    // The audit says what happened, whatever the attempt was labelled.
    reconnect.outcome = LoginOutcome::Success;
    store.renew_session(&reconnect, 1700).unwrap();
    assert_eq!(
        store.recent_audit(1).unwrap()[0].outcome,
        "reconnect_success"
    );

    // No key, no renewal, and nothing is written.
    store
        .set_password(&name("alice"), &salt(2), &verifier(2))
        .unwrap();
    let before = store.recent_audit(100).unwrap().len();
    assert!(matches!(
        store.renew_session(&reconnect, 2000),
        Err(StoreError::NoSession(a)) if a == id
    ));
    assert_eq!(store.recent_audit(100).unwrap().len(), before);
    assert_eq!(
        store.load_account(&name("alice")).unwrap().unwrap().session,
        None
    );

    let mut anon = reconnect.clone();
    anon.account = None;
    assert!(matches!(
        store.renew_session(&anon, 2000),
        Err(StoreError::Invalid(_))
    ));
    store.delete_account(&name("alice")).unwrap();
    assert!(matches!(
        store.renew_session(&reconnect, 2000),
        Err(StoreError::NoSuchAccountId(_))
    ));
}

#[test]
fn link_keys_round_trip_and_make_a_realm_linkable() {
    let (_dir, mut store) = temp_store();
    let key = LinkKey(std::array::from_fn(|i| i as u8 * 3));
    let mut linked = realm("Linked");
    linked.link_key = Some(key);
    let static_id = store.add_realm(&realm("Static")).unwrap();
    let linked_id = store.add_realm(&linked).unwrap();
    assert_eq!(store.realm_link_key(static_id).unwrap(), None);
    assert_eq!(store.realm_link_key(linked_id).unwrap(), Some(key));
    let kinds: Vec<_> = store
        .list_realms()
        .unwrap()
        .iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, vec![RealmKind::Static, RealmKind::Linkable]);

    let other = LinkKey([0xee; 32]);
    store
        .set_realm_link_key(&RealmRef::Name("STATIC".to_owned()), &other)
        .unwrap();
    assert_eq!(store.realm_link_key(static_id).unwrap(), Some(other));
    store
        .set_realm_link_key(&RealmRef::Id(linked_id), &other)
        .unwrap();
    assert_eq!(store.realm_link_key(linked_id).unwrap(), Some(other));

    assert!(matches!(
        store.set_realm_link_key(&RealmRef::Id(RealmId(99)), &key),
        Err(StoreError::NoSuchRealm(_))
    ));
    assert!(matches!(
        store.set_realm_link_key(&RealmRef::Name("Nope".to_owned()), &key),
        Err(StoreError::NoSuchRealm(_))
    ));
    assert!(matches!(
        store.realm_link_key(RealmId(99)),
        Err(StoreError::NoSuchRealm(_))
    ));

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
    assert!(matches!(
        store.list_realms(),
        Err(StoreError::Corrupt { .. })
    ));
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
        store.take_session(&name("alice"), RealmId(1), 500),
        Err(StoreError::Corrupt { .. })
    ));
    let taken: Option<i64> = store
        .conn
        .query_row("SELECT session_taken_by FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(taken, None);
}

#[test]
fn ip_bans_and_the_console_password_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
    let net: IpNet = "10.1.2.0/24".parse().unwrap();
    store.ban_ip(&net, None, "t").unwrap();
    store
        .ban_ip(&"192.0.2.7/32".parse().unwrap(), Some(100), "t")
        .unwrap();
    let bans = store.ip_bans(50).unwrap();
    assert_eq!(bans.len(), 2);
    assert_eq!(
        store.ip_bans(200).unwrap().len(),
        1,
        "expired bans are not in force"
    );
    assert!(store.unban_ip(&net).unwrap());
    assert!(!store.unban_ip(&net).unwrap());
    assert_eq!(store.console_password().unwrap(), None);
    store.set_console_password("h1").unwrap();
    store.set_console_password("h2").unwrap();
    assert_eq!(store.console_password().unwrap().as_deref(), Some("h2"));
}

fn sealed(b: u8) -> SealedTotpSecret {
    SealedTotpSecret::from_bytes(&[b; crate::totp::SEALED_LEN]).unwrap()
}

#[test]
fn totp_secrets_are_set_listed_and_cleared() {
    let (_dir, mut store) = temp_store();
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    store
        .create_account(&name("bob"), &salt(2), &verifier(2))
        .unwrap();
    assert_eq!(
        store.load_account(&name("alice")).unwrap().unwrap().totp,
        None
    );

    store
        .set_totp_secret(&name("alice"), Some(&sealed(9)))
        .unwrap();
    let alice = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(alice.totp, Some(sealed(9)));
    assert_eq!(
        store.load_account(&name("bob")).unwrap().unwrap().totp,
        None
    );
    let list = store.list_accounts().unwrap();
    assert_eq!(
        list.iter().map(|a| a.totp).collect::<Vec<_>>(),
        [true, false]
    );

    store.set_totp_secret(&name("alice"), None).unwrap();
    assert_eq!(
        store.load_account(&name("alice")).unwrap().unwrap().totp,
        None
    );
    assert!(matches!(
        store.set_totp_secret(&name("nobody"), Some(&sealed(1))),
        Err(StoreError::NoSuchAccount(_))
    ));
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
fn a_wrong_token_counts_like_a_wrong_password() {
    let (_dir, mut store) = temp_store();
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    for (outcome, at) in [
        (LoginOutcome::WrongToken, 10),
        (LoginOutcome::WrongPassword, 11),
        (LoginOutcome::DbBusy, 12),
    ] {
        store
            .record_login_failure(
                &attempt(Some(id), "alice", outcome, at),
                &LockoutPolicy::OFF,
            )
            .unwrap();
    }
    assert_eq!(
        store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .failed_logins,
        2
    );
    let audit = store.recent_audit(10).unwrap();
    assert_eq!(audit[2].outcome, "wrong_token");
    assert_eq!(
        LoginOutcome::from_str_opt("wrong_token"),
        Some(LoginOutcome::WrongToken)
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
fn a_version_3_file_upgrades_to_4_and_keeps_its_data() {
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
    assert_eq!(migrations::current_version(&store.conn).unwrap(), 4);
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
