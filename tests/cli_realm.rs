//! `gatehouse realm ...` as an operator uses it: editing a realm in place (`realm set`), adding
//! one with a chosen id, flags in hex, decimal or by name, impossible builds refused, a
//! realm's allowed level and local address, the listing as a table, and `remove`'s wording.
//! Each runs the built binary.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{new_db, ok, refused};

fn gatehouse(db: &Path, args: &[&str]) -> Output {
    common::cli::gatehouse(db, args, "")
}

/// The listing's row for a realm name, split on runs of spaces.
fn row_of(list: &str, name: &str) -> Vec<String> {
    list.lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_realm_is_edited_in_place_and_keeps_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    let added = ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Azeroth",
            "--address",
            "127.0.0.1:8085",
            "--flags",
            "0x20",
        ],
    ));
    assert!(
        added.contains("Azeroth") && added.contains("id 1"),
        "{added}"
    );

    let out = ok(&gatehouse(
        &db,
        &[
            "realm",
            "set",
            "Azeroth",
            "--name",
            "Northrend",
            "--address",
            "10.0.0.2:8086",
            "--type",
            "pvp",
            "--flags",
            "new,full",
            "--builds",
            "8606",
        ],
    ));
    assert!(out.contains("changed realm \"Azeroth\" (id 1)"), "{out}");
    let list = ok(&gatehouse(&db, &["realm", "list"]));
    let header = list.lines().next().unwrap();
    for column in ["id", "name", "address", "type", "flags", "builds"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(
        row_of(&list, "Northrend"),
        [
            "1",
            "Northrend",
            "10.0.0.2:8086",
            "pvp",
            "0xc0",
            "1",
            "0",
            "static",
            "8606",
            "0",
            "-"
        ]
    );
    assert!(!list.contains("Azeroth"), "{list}");

    // Only what is given changes.
    ok(&gatehouse(
        &db,
        &["realm", "set", "1", "--population", "1.5"],
    ));
    let list = ok(&gatehouse(&db, &["realm", "list"]));
    assert_eq!(row_of(&list, "Northrend")[2], "10.0.0.2:8086");
    assert_eq!(row_of(&list, "Northrend")[6], "1.5");

    // Nothing to change, no such realm, a bad value: one line each.
    let e = refused(&gatehouse(&db, &["realm", "set", "1"]));
    assert!(e.contains("--name"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["realm", "set", "Nowhere", "--flags", "0"],
    ));
    assert!(e.contains("Nowhere"), "{e}");
    refused(&gatehouse(
        &db,
        &["realm", "set", "1", "--address", "nohostport"],
    ));
    ok(&gatehouse(
        &db,
        &["realm", "add", "--name", "Other", "--address", "h:1"],
    ));
    let e = refused(&gatehouse(
        &db,
        &["realm", "set", "Other", "--name", "northrend"],
    ));
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn a_realm_is_added_with_a_chosen_id_unless_it_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    let out = ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Azeroth",
            "--address",
            "h:1",
            "--id",
            "7",
        ],
    ));
    assert!(out.contains("id 7"), "{out}");
    let e = refused(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Other",
            "--address",
            "h:1",
            "--id",
            "7",
        ],
    ));
    assert!(e.contains("7") && e.contains("taken"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Other",
            "--address",
            "h:1",
            "--id",
            "300",
        ],
    ));
    assert!(e.contains("1 to 255"), "{e}");
    assert_eq!(
        row_of(&ok(&gatehouse(&db, &["realm", "list"])), "Azeroth")[0],
        "7"
    );
}

#[test]
fn flags_are_hex_decimal_or_names_and_builds_must_be_known() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    for (name, flags, shown) in [
        ("Hex", "0x20", "0x20"),
        ("Dec", "64", "0x40"),
        ("Named", "recommended", "0x20"),
    ] {
        ok(&gatehouse(
            &db,
            &[
                "realm",
                "add",
                "--name",
                name,
                "--address",
                "h:1",
                "--flags",
                flags,
            ],
        ));
        assert_eq!(
            row_of(&ok(&gatehouse(&db, &["realm", "list"])), name)[4],
            shown
        );
    }
    let e = refused(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "X",
            "--address",
            "h:1",
            "--flags",
            "shiny",
        ],
    ));
    assert!(e.contains("recommended"), "{e}");
    for bad in ["1", "99999", "5876", "58x"] {
        let e = refused(&gatehouse(
            &db,
            &[
                "realm",
                "add",
                "--name",
                "X",
                "--address",
                "h:1",
                "--builds",
                bad,
            ],
        ));
        assert!(e.contains("5875") && e.contains("12340"), "{bad}: {e}");
    }
    refused(&gatehouse(
        &db,
        &["realm", "set", "Hex", "--builds", "1234"],
    ));
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Old",
            "--address",
            "h:1",
            "--builds",
            "5875,6005",
        ],
    ));
}

#[test]
fn remove_names_the_realm_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    ok(&gatehouse(
        &db,
        &["realm", "add", "--name", "Bad", "--address", "h:1"],
    ));
    let out = ok(&gatehouse(&db, &["realm", "remove", "Bad"]));
    assert_eq!(out.trim(), "removed realm \"Bad\"");
    ok(&gatehouse(
        &db,
        &["realm", "add", "--name", "Two", "--address", "h:1"],
    ));
    let out = ok(&gatehouse(&db, &["realm", "remove", "1"]));
    assert_eq!(out.trim(), "removed realm 1");
}

#[test]
fn a_realms_level_and_local_address_are_set_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Home",
            "--address",
            "203.0.113.1:8085",
            "--allowed-level",
            "2",
            "--local-address",
            "192.168.1.10:8085",
            "--local-subnet",
            "192.168.1.7/24",
        ],
    ));
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Plain",
            "--address",
            "203.0.113.2:8085",
        ],
    ));
    let list = ok(&gatehouse(&db, &["realm", "list"]));
    assert!(
        list.lines().next().unwrap().contains("local address"),
        "{list}"
    );
    let home = row_of(&list, "Home");
    // Host bits are dropped from the subnet.
    assert_eq!(
        home[home.len() - 6..],
        [
            "2",
            "(hidden",
            "below)",
            "192.168.1.10:8085",
            "from",
            "192.168.1.0/24"
        ],
        "{list}"
    );
    let plain = row_of(&list, "Plain");
    assert_eq!(plain[plain.len() - 2..], ["0", "-"], "{list}");

    // Changed, then removed, by `realm set`.
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "set",
            "Plain",
            "--allowed-level",
            "1",
            "--local-address",
            "[fd00::5]:8085",
            "--local-subnet",
            "fd00::/8",
        ],
    ));
    let plain = row_of(&ok(&gatehouse(&db, &["realm", "list"])), "Plain");
    assert_eq!(
        plain[plain.len() - 6..],
        [
            "1",
            "(hidden",
            "below)",
            "[fd00::5]:8085",
            "from",
            "fd00::/8"
        ]
    );
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "set",
            "Plain",
            "--no-local-address",
            "--allowed-level",
            "0",
        ],
    ));
    let plain = row_of(&ok(&gatehouse(&db, &["realm", "list"])), "Plain");
    assert_eq!(plain[plain.len() - 2..], ["0", "-"]);

    // One without the other, a subnet that is none, a local address that is no HOST:PORT.
    for args in [
        &["realm", "set", "Home", "--local-address", "10.0.0.1:8085"][..],
        &["realm", "set", "Home", "--local-subnet", "10.0.0.0/8"],
        &[
            "realm",
            "set",
            "Home",
            "--local-address",
            "10.0.0.1:8085",
            "--local-subnet",
            "tenzero",
        ],
        &[
            "realm",
            "set",
            "Home",
            "--local-address",
            "10.0.0.1",
            "--local-subnet",
            "10.0.0.0/8",
        ],
        &[
            "realm",
            "set",
            "Home",
            "--no-local-address",
            "--local-subnet",
            "10.0.0.0/8",
        ],
    ] {
        assert!(!gatehouse(&db, args).status.success(), "{args:?}");
    }
    let err = refused(&gatehouse(
        &db,
        &[
            "realm",
            "set",
            "Home",
            "--local-address",
            "10.0.0.1",
            "--local-subnet",
            "10.0.0.0/8",
        ],
    ));
    assert!(err.contains("HOST:PORT"), "{err}");
    // Nothing changed.
    let home = row_of(&ok(&gatehouse(&db, &["realm", "list"])), "Home");
    assert_eq!(home[home.len() - 3], "192.168.1.10:8085");
}
