//! The load client's modes against a real daemon: what each run counts (never how fast).

mod common;

use common::{account, realm, TestServer};
use gatehouse::tools::client::load::{self, LoadArgs, Mode};

fn server() -> TestServer {
    TestServer::start(
        |store| {
            account(store, "loadtest", "loadtest");
            realm(store, "Azeroth", "127.0.0.1:8085", &[]);
            realm(store, "Northrend", "127.0.0.1:8086", &[]);
        },
        // Realm lists as fast as they are asked for (the --realm-lists mode asks back to back).
        |config| config.limits.realm_list_interval_ms = 0,
    )
}

fn args(server: &TestServer) -> LoadArgs {
    LoadArgs {
        server: server.addr,
        account: "loadtest".into(),
        password: "loadtest".into(),
        concurrency: 4,
        logons: Some(12),
        duration: None,
        warmup: 0.0,
        rate: None,
        fixed_ephemeral: false,
        park: None,
        logged_in: false,
        hold: 0.0,
        realm_lists: None,
        timeout: 30.0,
        build: 12340,
        realm_list: true,
    }
}

#[test]
fn closed_loop_logons_with_either_client_side() {
    let server = server();
    for fixed_ephemeral in [false, true] {
        let report = load::run(&LoadArgs {
            fixed_ephemeral,
            ..args(&server)
        })
        .unwrap();
        assert_eq!(report.mode, Mode::Closed);
        assert_eq!((report.outcome.ok, report.failed()), (12, 0), "{report}");
        assert_eq!(report.outcome.counted, 12);
        assert_eq!(report.latencies.len(), 12);
        assert_eq!(report.outcome.realms, Some(2));
    }
    assert!(server.counters().logons_ok >= 24);
}

#[test]
fn open_loop_starts_every_scheduled_logon() {
    let server = server();
    let report = load::run(&LoadArgs {
        rate: Some(200.0),
        logons: Some(10),
        fixed_ephemeral: true,
        ..args(&server)
    })
    .unwrap();
    assert_eq!(report.mode, Mode::Open { per_second: 200.0 });
    assert_eq!((report.outcome.ok, report.failed()), (10, 0), "{report}");
    assert_eq!(report.latencies.len(), 10);
}

#[test]
fn parked_connections_are_held_after_the_challenge_or_logged_in() {
    let server = server();
    let report = load::run(&LoadArgs {
        park: Some(6),
        ..args(&server)
    })
    .unwrap();
    assert_eq!(report.mode, Mode::Park { logged_in: false });
    assert_eq!((report.outcome.ok, report.failed()), (6, 0), "{report}");
    assert_eq!(report.outcome.realms, None, "no realm list before a proof");
    let before = server.counters().logons_ok;

    let report = load::run(&LoadArgs {
        park: Some(3),
        logged_in: true,
        ..args(&server)
    })
    .unwrap();
    assert_eq!((report.outcome.ok, report.failed()), (3, 0), "{report}");
    assert_eq!(report.outcome.realms, Some(2));
    assert_eq!(server.counters().logons_ok, before + 3);
}

#[test]
fn realm_lists_are_asked_for_again_and_again() {
    let server = server();
    let report = load::run(&LoadArgs {
        realm_lists: Some(5),
        concurrency: 3,
        fixed_ephemeral: true,
        ..args(&server)
    })
    .unwrap();
    assert_eq!(report.mode, Mode::RealmLists);
    assert_eq!((report.outcome.ok, report.failed()), (3, 0), "{report}");
    // Five round trips on each of three connections, the first one included.
    assert_eq!(report.latencies.len(), 15);
    assert_eq!(report.outcome.realms, Some(2));
}

#[test]
fn a_wrong_password_fails_every_logon_and_says_why() {
    let server = server();
    let report = load::run(&LoadArgs {
        password: "wrong".into(),
        logons: Some(3),
        concurrency: 1,
        ..args(&server)
    })
    .unwrap();
    assert_eq!((report.outcome.ok, report.failed()), (0, 3));
    let error = report.outcome.first_error.unwrap_or_default();
    assert!(error.contains("proof"), "{error}");
}
