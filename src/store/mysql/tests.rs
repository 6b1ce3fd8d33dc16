//! The MySQL store against a real server, when `GATEHOUSE_TEST_MYSQL_URL` names a scratch
//! database (`mysql://root@127.0.0.1:3306/gatehouse_test`); skipped with a message otherwise.
//! Every check empties that database first, and the checks run one after the other in one
//! test, since they share it. Errors that need no server are tested without one.

use super::*;
use crate::account::AccountStanding;

const ENV: &str = "GATEHOUSE_TEST_MYSQL_URL";

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
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
        peer: "::ffff:192.0.2.7".parse().unwrap(),
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
        builds: vec![Build(12340), Build(5875)],
        link_key: None,
    }
}

/// A store on an emptied database.
fn fresh(url: &str) -> MysqlStore {
    let mut conn = Conn::new(Opts::from_url(url).unwrap()).unwrap();
    conn.query_drop(
        "DROP TABLE IF EXISTS realm_characters, realm_builds, account_bans, login_audit,
             ip_bans, settings, realms, accounts, gatehouse_schema",
    )
    .unwrap();
    MysqlStore::open(url).unwrap()
}

#[test]
fn against_a_server() {
    let Ok(url) = std::env::var(ENV) else {
        eprintln!("skipped: set {ENV}=mysql://USER[:PASSWORD]@HOST:PORT/DB to run it");
        return;
    };
    schema_versions(&url);
    accounts(&url);
    lockout(&url);
    tickets(&url);
    racing_takes(&url);
    realms_and_links(&url);
    bans_settings_audit(&url);
    corrupt_rows(&url);
    lost_connections(&url);
    concurrent_opens(&url);
}

fn lost_connections(url: &str) {
    let mut store = fresh(url);
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let id: u64 = store
        .conn()
        .unwrap()
        .query_first("SELECT CONNECTION_ID()")
        .unwrap()
        .unwrap();
    let mut killer = Conn::new(Opts::from_url(url).unwrap()).unwrap();
    killer.query_drop(format!("KILL CONNECTION {id}")).unwrap();
    // The call that meets the dead connection fails as Unavailable; the next one reconnects.
    let err = store.load_account(&name("alice")).unwrap_err();
    assert_eq!(
        err.backend_kind(),
        Some(BackendErrorKind::Unavailable),
        "{err:?}"
    );
    assert!(store.load_account(&name("alice")).unwrap().is_some());
    // After a long idle time the connection is pinged first, and replaced without an error.
    let id: u64 = store
        .conn()
        .unwrap()
        .query_first("SELECT CONNECTION_ID()")
        .unwrap()
        .unwrap();
    killer.query_drop(format!("KILL CONNECTION {id}")).unwrap();
    store.last_used -= IDLE_PING;
    assert!(store.load_account(&name("alice")).unwrap().is_some());
}

/// The DB threads of a pool (and several nodes) open at once on an empty database: each step
/// is applied once and every connection ends up on the latest schema.
fn concurrent_opens(url: &str) {
    drop(fresh(url));
    let mut conn = Conn::new(Opts::from_url(url).unwrap()).unwrap();
    conn.query_drop(
        "DROP TABLE IF EXISTS realm_characters, realm_builds, account_bans, login_audit,
             ip_bans, settings, realms, accounts, gatehouse_schema",
    )
    .unwrap();
    let openers: Vec<_> = (0..6)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || MysqlStore::open(&url).map(drop))
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
    let rows: u64 = conn
        .query_first("SELECT COUNT(*) FROM gatehouse_schema")
        .unwrap()
        .unwrap();
    assert_eq!(rows, u64::from(migrations::latest_version()));
}

fn schema_versions(url: &str) {
    let mut store = fresh(url);
    let v = migrations::current_version(store.conn().unwrap()).unwrap();
    assert_eq!(v, i64::from(migrations::latest_version()));
    // Reopening is a no-op.
    drop(MysqlStore::open(url).unwrap());
    store
        .conn()
        .unwrap()
        .exec_drop(
            "INSERT INTO gatehouse_schema (version, description, applied_at) VALUES (?, 'x', 0)",
            (migrations::latest_version() + 1,),
        )
        .unwrap();
    match MysqlStore::open(url) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, i64::from(migrations::latest_version() + 1));
            assert_eq!(supported, migrations::latest_version());
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

fn accounts(url: &str) {
    let mut store = fresh(url);
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(2))
        .unwrap();
    assert!(matches!(
        store.create_account(&name("ALICE"), &salt(1), &verifier(2)),
        Err(StoreError::DuplicateAccount(_))
    ));
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(
        (a.id, a.name, a.salt, a.verifier),
        (id, name("ALICE"), salt(1), verifier(2))
    );
    assert_eq!(a.standing, AccountStanding::Active);
    assert_eq!(a.session, None);
    assert_eq!(a.totp, None);
    assert!(store.load_account(&name("bob")).unwrap().is_none());
    // The same password again still finds the row (matched, not changed, rows).
    store
        .set_password(&name("alice"), &salt(1), &verifier(2))
        .unwrap();
    store
        .set_password(&name("alice"), &salt(3), &verifier(4))
        .unwrap();
    assert!(matches!(
        store.set_password(&name("bob"), &salt(3), &verifier(4)),
        Err(StoreError::NoSuchAccount(_))
    ));
    store.set_security_level(&name("alice"), 3).unwrap();
    store.set_security_level(&name("alice"), 3).unwrap();
    let list = store.list_accounts().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].security_level, list[0].totp), (3, false));
    let sealed = SealedTotpSecret::from_bytes(&[7u8; 60]).unwrap();
    store
        .set_totp_secret(&name("alice"), Some(&sealed))
        .unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.totp, Some(sealed));
    assert!(store.list_accounts().unwrap()[0].totp);
    store.set_totp_secret(&name("alice"), None).unwrap();
    // Bans decide standing; unban lifts them all.
    let now = unix_now();
    store
        .ban_account(&name("alice"), Some(now + 3600), "x")
        .unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.standing, AccountStanding::Suspended { until: now + 3600 });
    store.ban_account(&name("alice"), None, "y").unwrap();
    assert_eq!(
        store.list_accounts().unwrap()[0].standing,
        AccountStanding::Banned
    );
    store.unban_account(&name("alice")).unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.standing, AccountStanding::Active);
    store.delete_account(&name("alice")).unwrap();
    assert!(matches!(
        store.delete_account(&name("alice")),
        Err(StoreError::NoSuchAccount(_))
    ));
}

fn lockout(url: &str) {
    let mut store = fresh(url);
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
    for i in 0..5 {
        let r = store.record_login_failure(&wrong(t - 2_000 + 150 * i), &policy);
        assert_eq!(r.unwrap(), FailureRecorded::Counted(1));
    }
    let other = attempt(Some(id), "alice", LoginOutcome::VersionInvalid, t);
    assert_eq!(
        store.record_login_failure(&other, &policy).unwrap(),
        FailureRecorded::Audited
    );
    let unknown = attempt(None, "nobody", LoginOutcome::UnknownAccount, t);
    assert_eq!(
        store.record_login_failure(&unknown, &policy).unwrap(),
        FailureRecorded::Audited
    );
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
    assert_eq!(a.failed_logins, 0);
    store.unban_account(&name("alice")).unwrap();
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(a.standing, AccountStanding::Active);
    assert_eq!(store.recent_audit(100).unwrap().len(), 10);
}

fn tickets(url: &str) {
    let mut store = fresh(url);
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let r1 = store.add_realm(&realm("One")).unwrap();
    let r2 = store.add_realm(&realm("Two")).unwrap();
    store.set_character_count(id, r2, 4).unwrap();
    store.set_character_count(id, r2, 5).unwrap();
    assert!(matches!(
        store.set_character_count(AccountId(999), r2, 1),
        Err(StoreError::NoSuchAccountId(_))
    ));
    assert!(matches!(
        store.set_character_count(id, RealmId(99), 1),
        Err(StoreError::NoSuchRealm(_))
    ));
    let key = SessionKey([9; 40]);
    let counts = store
        .record_login_success(
            &attempt(Some(id), "alice", LoginOutcome::Success, 100),
            &key,
            1000,
        )
        .unwrap();
    assert_eq!(
        counts,
        vec![CharacterCount {
            realm: r2,
            count: 5
        }]
    );
    let a = store.load_account(&name("alice")).unwrap().unwrap();
    assert_eq!(
        a.session,
        Some(SessionTicket {
            key,
            issued_at: 100,
            expires_at: 1000,
            taken_by: None
        })
    );
    assert_eq!(store.take_session(&name("alice"), r1, 1000).unwrap(), None);
    let taken = store
        .take_session(&name("alice"), r1, 999)
        .unwrap()
        .unwrap();
    assert_eq!((taken.account, taken.key), (id, key));
    assert_eq!(store.take_session(&name("alice"), r2, 999).unwrap(), None);
    assert_eq!(store.take_session(&name("bob"), r2, 999).unwrap(), None);
    // A reconnect makes it takeable again, until the password changes.
    store
        .renew_session(
            &attempt(Some(id), "alice", LoginOutcome::ReconnectFailed, 200),
            2000,
        )
        .unwrap();
    assert_eq!(
        store.recent_audit(1).unwrap()[0].outcome,
        LoginOutcome::ReconnectSuccess.as_str()
    );
    assert!(store
        .take_session(&name("alice"), r2, 1500)
        .unwrap()
        .is_some());
    store
        .set_password(&name("alice"), &salt(2), &verifier(2))
        .unwrap();
    assert!(matches!(
        store.renew_session(
            &attempt(Some(id), "alice", LoginOutcome::ReconnectSuccess, 300),
            3000
        ),
        Err(StoreError::NoSession(_))
    ));
    assert!(matches!(
        store.renew_session(
            &attempt(
                Some(AccountId(999)),
                "alice",
                LoginOutcome::ReconnectSuccess,
                300
            ),
            3000
        ),
        Err(StoreError::NoSuchAccountId(_))
    ));
    assert!(matches!(
        store.record_login_success(
            &attempt(Some(AccountId(999)), "x", LoginOutcome::Success, 1),
            &key,
            2
        ),
        Err(StoreError::NoSuchAccountId(_))
    ));
}

fn racing_takes(url: &str) {
    let mut store = fresh(url);
    let id = store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    let now = unix_now();
    for round in 0..20 {
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, now),
                &SessionKey([round; 40]),
                now + 900,
            )
            .unwrap();
        let takers: Vec<_> = (1..=4u32)
            .map(|realm| {
                let url = url.to_owned();
                std::thread::spawn(move || {
                    let mut store = MysqlStore::open(&url).unwrap();
                    store
                        .take_session(&name("alice"), RealmId(realm), now)
                        .unwrap()
                })
            })
            .collect();
        let won = takers.into_iter().filter_map(|t| t.join().unwrap()).count();
        assert_eq!(won, 1, "round {round}");
    }
}

fn realms_and_links(url: &str) {
    let mut store = fresh(url);
    let one = store.add_realm(&realm("One")).unwrap();
    assert_eq!(one, RealmId(1));
    assert!(matches!(
        store.add_realm(&realm("one")),
        Err(StoreError::DuplicateRealm(_))
    ));
    let two = store
        .add_realm(&NewRealm {
            link_key: Some(LinkKey([5; 32])),
            ..realm("Two")
        })
        .unwrap();
    let list = store.load_realms().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].builds, vec![Build(5875), Build(12340)]);
    assert_eq!(list[0].population, 0.5);
    assert_eq!(
        (list[0].kind, list[1].kind),
        (RealmKind::Static, RealmKind::Linkable)
    );
    assert_eq!(store.realm_link_key(one).unwrap(), None);
    assert_eq!(store.realm_link_key(two).unwrap(), Some(LinkKey([5; 32])));
    assert!(matches!(
        store.realm_link_key(RealmId(77)),
        Err(StoreError::NoSuchRealm(_))
    ));
    store
        .set_realm_link_key(&RealmRef::Name("ONE".into()), &LinkKey([6; 32]))
        .unwrap();
    assert_eq!(store.realm_link_key(one).unwrap(), Some(LinkKey([6; 32])));
    store.remove_realm(&RealmRef::Id(two)).unwrap();
    store.remove_realm(&RealmRef::Name("one".into())).unwrap();
    assert!(matches!(
        store.remove_realm(&RealmRef::Id(one)),
        Err(StoreError::NoSuchRealm(_))
    ));
    assert_eq!(store.list_realms().unwrap(), vec![]);
    // Ids continue after the highest used, not from the removed ones.
    store.add_realm(&realm("A")).unwrap();
    let b = store.add_realm(&realm("B")).unwrap();
    store.remove_realm(&RealmRef::Id(RealmId(1))).unwrap();
    assert_eq!(store.add_realm(&realm("C")).unwrap(), RealmId(b.0 + 1));
}

fn bans_settings_audit(url: &str) {
    let mut store = fresh(url);
    let now = unix_now();
    let net: IpNet = "192.0.2.9/24".parse().unwrap();
    store.ban_ip(&net, Some(now + 60), "a").unwrap();
    store.ban_ip(&net, None, "b").unwrap();
    store
        .ban_ip(&"2001:db8::1/128".parse().unwrap(), Some(now - 1), "old")
        .unwrap();
    let bans = store.ip_bans(now).unwrap();
    assert_eq!(
        bans,
        vec![IpBan {
            net: "192.0.2.0/24".parse().unwrap(),
            until: None
        }]
    );
    assert!(store.unban_ip(&net).unwrap());
    assert!(!store.unban_ip(&net).unwrap());
    assert_eq!(store.console_password().unwrap(), None);
    store.set_console_password("h1").unwrap();
    store.set_console_password("h2").unwrap();
    assert_eq!(store.console_password().unwrap().as_deref(), Some("h2"));
    store
        .record_login_failure(
            &attempt(None, "x", LoginOutcome::UnknownAccount, 5),
            &LockoutPolicy::OFF,
        )
        .unwrap();
    let audit = store.recent_audit(10).unwrap();
    assert_eq!(
        audit,
        vec![AuditRow {
            at: 5,
            account: None,
            name: "X".into(),
            peer: "192.0.2.7".into(),
            build: Build::WOTLK,
            outcome: "unknown_account".into(),
        }]
    );
}

fn corrupt_rows(url: &str) {
    let mut store = fresh(url);
    store
        .create_account(&name("alice"), &salt(1), &verifier(1))
        .unwrap();
    store.add_realm(&realm("One")).unwrap();
    let conn = store.conn().unwrap();
    // Checks stop most bad rows; these get past them.
    conn.query_drop("UPDATE accounts SET name = 'alice', session_expires_at = 5")
        .unwrap();
    conn.query_drop("INSERT INTO accounts (name, salt, verifier, created_at) VALUES ('BOB', REPEAT('a', 32), REPEAT('b', 32), 0)").unwrap();
    conn.query_drop("UPDATE accounts SET session_expires_at = 5 WHERE name = 'BOB'")
        .unwrap();
    conn.query_drop("UPDATE realms SET timezone = 0, population = 1e300")
        .unwrap();
    let err = store.list_accounts().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let err = store.load_account(&name("bob")).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    // A duplicate through the driver is a classified constraint error.
    let conn = store.conn().unwrap();
    let err: StoreError = conn
        .query_drop("INSERT INTO realms (id, name, address) VALUES (1, 'Z', 'a')")
        .unwrap_err()
        .into();
    assert_eq!(err.backend_kind(), Some(BackendErrorKind::Constraint));
    let err: StoreError = conn
        .query_drop("INSERT INTO realms (id, name, address) VALUES (0, 'Z', 'a')")
        .unwrap_err()
        .into();
    assert_eq!(err.backend_kind(), Some(BackendErrorKind::Constraint));
}

#[test]
fn server_errors_are_classified() {
    for (code, kind) in [
        (1205, BackendErrorKind::Busy),
        (1213, BackendErrorKind::Busy),
        (1062, BackendErrorKind::Constraint),
        (4025, BackendErrorKind::Constraint),
        (1290, BackendErrorKind::ReadOnly),
        (1021, BackendErrorKind::Full),
        (1045, BackendErrorKind::CannotOpen),
        (1049, BackendErrorKind::CannotOpen),
        (2013, BackendErrorKind::Unavailable),
        (1064, BackendErrorKind::Other),
    ] {
        assert_eq!(server_kind(code), kind, "{code}");
    }
}

#[test]
fn an_unreachable_server_is_a_connect_error_without_the_password() {
    // Port 1 on loopback: nothing listens there, so the refusal is immediate.
    let err = MysqlStore::open("mysql://u:hunter2@127.0.0.1:1/g").unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert_eq!(err.backend_kind(), Some(BackendErrorKind::Unavailable));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let err = MysqlStore::open_with_password("mysql://u@127.0.0.1:1", Some("pw")).unwrap_err();
    assert!(err.to_string().contains("names no database"), "{err}");
}
