//! `gatehouse audit` and `gatehouse account characters` as an operator uses them, each
//! running the built binary: logons against the real daemon end up in the audit, which the
//! command prints newest first with its filters; an unknown outcome is refused with the list.

mod common;

use common::cli::{ok, refused};
use common::{account, realm, run_gatehouse, TestServer, TIMEOUT};
use gatehouse::tools::client::{ClientBuild, LogonClient};

/// The table's data rows (the header line left out), each split on runs of spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // The time is three words (`2026-12-03 09:12:45 UTC`): joined back into one cell.
            let words: Vec<&str> = l.split_whitespace().collect();
            let (time, rest) = words.split_at(3.min(words.len()));
            std::iter::once(time.join(" "))
                .chain(rest.iter().map(|w| (*w).to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn failed_and_good_logons_are_listed_newest_first_with_filters() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "bob", "secret");
        },
        |_| {},
    );
    let db = server.db.to_str().unwrap().to_owned();
    let audit = |args: &[&str]| {
        let mut all = vec!["audit", "--db", db.as_str()];
        all.extend_from_slice(args);
        run_gatehouse(&all, "")
    };

    assert!(
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "guess", TIMEOUT).is_err()
    );
    LogonClient::login(server.addr, ClientBuild::TBC, "alice", "secret", TIMEOUT).unwrap();
    LogonClient::login(server.addr, ClientBuild::VANILLA, "bob", "secret", TIMEOUT).unwrap();

    let all = ok(&audit(&[]));
    let header = all.lines().next().unwrap();
    for column in ["time", "account", "address", "outcome", "build"] {
        assert!(header.contains(column), "{header}");
    }
    let listed = rows(&all);
    assert_eq!(listed.len(), 3, "{all}");
    // Newest first; the time is a date, not a unix number.
    assert_eq!(
        (listed[0][1].as_str(), listed[0][4].as_str()),
        ("BOB", "success")
    );
    assert_eq!(listed[2][4], "wrong_password");
    assert!(
        listed[0][0].starts_with("20") && listed[0][0].ends_with(" UTC"),
        "{all}"
    );
    assert_eq!(listed[0][3], "127.0.0.1");

    let alice = rows(&ok(&audit(&["--account", "alice"])));
    assert_eq!(alice.len(), 2);
    assert_eq!(
        (alice[0][4].as_str(), alice[0][5].as_str()),
        ("success", "8606")
    );
    assert_eq!(
        (alice[1][4].as_str(), alice[1][5].as_str()),
        ("wrong_password", "12340")
    );
    let failed = rows(&ok(&audit(&[
        "--outcome",
        "wrong_password",
        "--since",
        "1h",
    ])));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][1], "ALICE");
    let both = rows(&ok(&audit(&[
        "--outcome",
        "wrong_password",
        "--outcome",
        "banned,success",
        "--address",
        "127.0.0.0/8",
        "--limit",
        "2",
    ])));
    assert_eq!(both.len(), 2);
    assert!(rows(&ok(&audit(&["--address", "10.0.0.0/8"]))).is_empty());
    assert!(rows(&ok(&audit(&["--account", "carol"]))).is_empty());

    let e = refused(&audit(&["--outcome", "shrug"]));
    assert!(e.contains("wrong_password") && e.contains("success"), "{e}");
    refused(&audit(&["--address", "nowhere"]));
    refused(&audit(&["--since", "soon"]));
}

#[test]
fn account_characters_sets_the_count_the_realm_list_shows() {
    let mut azeroth = gatehouse::values::RealmId(0);
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            azeroth = realm(store, "Azeroth", "127.0.0.1:8085", &[]);
        },
        |_| {},
    );
    let db = server.db.to_str().unwrap().to_owned();
    let out = ok(&run_gatehouse(
        &[
            "account",
            "characters",
            "alice",
            "--realm",
            "azeroth",
            "5",
            "--db",
            &db,
        ],
        "",
    ));
    assert!(out.contains("ALICE") && out.contains('5'), "{out}");
    let mut l =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    let list = l.client.realm_list().unwrap();
    let entry = list
        .realms
        .iter()
        .find(|r| u32::from(r.realm_id) == azeroth.0)
        .unwrap();
    assert_eq!(entry.characters, 5);
    ok(&run_gatehouse(
        &[
            "account",
            "characters",
            "alice",
            "--realm",
            "1",
            "0",
            "--db",
            &db,
        ],
        "",
    ));

    let e = refused(&run_gatehouse(
        &[
            "account",
            "characters",
            "bob",
            "--realm",
            "1",
            "1",
            "--db",
            &db,
        ],
        "",
    ));
    assert!(e.contains("BOB"), "{e}");
    let e = refused(&run_gatehouse(
        &[
            "account",
            "characters",
            "alice",
            "--realm",
            "Nowhere",
            "1",
            "--db",
            &db,
        ],
        "",
    ));
    assert!(e.contains("Nowhere"), "{e}");
    // Out of range: clap's usage error, naming the value.
    let out = run_gatehouse(
        &[
            "account",
            "characters",
            "alice",
            "--realm",
            "1",
            "256",
            "--db",
            &db,
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("256"));
}
