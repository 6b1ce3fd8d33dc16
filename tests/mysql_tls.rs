//! TLS to MySQL/MariaDB (`store.tls`, `store.tls_ca`) against a private MariaDB that takes only
//! TLS over TCP (`require_secure_transport=ON`, a CA and a `localhost`/127.0.0.1 certificate made
//! at start): with "verify" and that CA a store opens and a client logs in through the daemon;
//! "off" is refused by the server; "verify" with another CA, or with the built-in roots alone,
//! fails naming TLS; "required" connects without a CA. One server for the file. Skipped,
//! saying so, where no MariaDB is installed (unless GATEHOUSE_REQUIRE_MYSQL=1).

mod common;

use std::path::Path;

use common::mariadb::MariaDb;
use common::{TestServer, TIMEOUT};
use gatehouse::store::mysql::MysqlStore;
use gatehouse::store::{DbTls, StoreError, TlsMode};
use gatehouse::tools::client::{ClientBuild, LogonClient};

fn open(url: &str, tls: DbTls) -> Result<MysqlStore, StoreError> {
    MysqlStore::open_with_password(url, None, &tls)
}

fn verify_with(ca: &Path) -> DbTls {
    DbTls::Verify {
        ca: Some(ca.to_owned()),
    }
}

/// The connect error's text, after checking it is one.
fn connect_error(result: Result<MysqlStore, StoreError>) -> String {
    match result {
        Err(e @ StoreError::Connect { .. }) => e.to_string(),
        Err(e) => panic!("not a connect error: {e:?}"),
        Ok(store) => panic!("connected: {store:?}"),
    }
}

#[test]
fn verify_with_the_servers_ca_encrypts_and_a_client_logs_in_through_the_daemon() {
    let Some(server) = MariaDb::shared_tls() else {
        return;
    };
    let ca = server.tls_ca().expect("a TLS server has a CA");
    let url = server.database();

    let mut store = open(&url, verify_with(ca)).expect("verify with the server's CA");
    let cipher = store.tls_cipher().unwrap();
    assert!(
        cipher.as_deref().is_some_and(|c| !c.is_empty()),
        "Ssl_cipher of the store's session: {cipher:?}"
    );
    gatehouse::admin::create_account(&mut store, "alice", "secret").unwrap();

    // The daemon's own connections (the first read and every DB thread) come from the config;
    // the server refuses plaintext, so a logon that reaches the store went over TLS.
    let (url, ca) = (url.clone(), ca.to_owned());
    let daemon = TestServer::start(
        |_| {},
        move |config| {
            config.store.url = Some(url);
            config.store.tls = TlsMode::Verify;
            config.store.tls_ca = Some(ca);
        },
    );
    LogonClient::login(daemon.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT)
        .expect("alice logs in");
}

#[test]
fn off_is_refused_a_wrong_ca_names_tls_and_required_takes_any_certificate() {
    let Some(server) = MariaDb::shared_tls() else {
        return;
    };
    let url = server.database();

    // MariaDB words a plaintext login under require_secure_transport as "Access denied" (MySQL:
    // "insecure transport"); either way the store does not open.
    let err = connect_error(open(&url, DbTls::Off));
    assert!(
        err.contains("Access denied") || err.contains("insecure transport"),
        "{err}"
    );

    // A CA that did not sign the server's certificate.
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    let err = connect_error(open(&url, verify_with(&other_ca)));
    assert!(err.contains("TLS"), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains(&other_ca.display().to_string()), "{err}");
    // The built-in (Mozilla) roots do not know a private CA either.
    let err = connect_error(open(&url, DbTls::Verify { ca: None }));
    assert!(err.contains("TLS") && err.contains("certificate"), "{err}");

    // "required" checks nothing, so it connects without the CA, encrypted.
    let mut store = open(&url, DbTls::Required).expect("required connects without a CA");
    assert!(store.tls_cipher().unwrap().is_some());
}
