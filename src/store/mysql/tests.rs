//! The MySQL store's own behaviour against a private MariaDB (the integration tests' harness;
//! skipped, saying so, where none is installed unless GATEHOUSE_REQUIRE_MYSQL=1). The checks
//! share one database and run one after the other. Errors that need no server are tested
//! without one.

use super::*;

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
}

fn salt(b: u8) -> Salt {
    Salt(std::array::from_fn(|i| b.wrapping_add(i as u8)))
}

fn verifier(b: u8) -> Verifier {
    Verifier(std::array::from_fn(|i| b ^ (i as u8).wrapping_mul(7)))
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
        allowed_level: 0,
        local: None,
    }
}

/// A store on an emptied database.
fn fresh(url: &str) -> MysqlStore {
    let mut conn = Conn::new(Opts::from_url(url).unwrap()).unwrap();
    conn.query_drop(
        "DROP TABLE IF EXISTS account_pins, login_addresses, totp_steps, realm_characters, realm_builds,
             account_bans, login_audit, ip_bans, settings, realms, accounts, gatehouse_schema",
    )
    .unwrap();
    MysqlStore::open(url).unwrap()
}

/// The private MariaDB of the integration tests (one file, compiled into both).
#[path = "../../../tests/common/mariadb.rs"]
#[allow(dead_code)]
mod mariadb;

/// What only this backend has: its schema table, its connection handling, what gets past its
/// checks. What every backend must do is `tests/store_suite.rs`, run against both.
#[test]
fn against_a_server() {
    let Some(server) = mariadb::MariaDb::shared() else {
        return;
    };
    let url = server.database();
    schema_versions(&url);
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
        "DROP TABLE IF EXISTS account_pins, login_addresses, totp_steps, realm_characters, realm_builds,
             account_bans, login_audit, ip_bans, settings, realms, accounts, gatehouse_schema",
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
    // Past f32's range: that realm is left out of the list (with an error line), not the list.
    assert_eq!(store.load_realms().unwrap(), vec![]);
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
    let err = MysqlStore::open_with_password("mysql://u@127.0.0.1:1", Some("pw"), &DbTls::Off)
        .unwrap_err();
    assert!(err.to_string().contains("names no database"), "{err}");
}
