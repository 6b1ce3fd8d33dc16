//! The `gatehouse` binary as an operator uses it: account and realm commands, config files,
//! errors as one line on stderr with a non-zero exit, and `serve` logging where it listens.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use gatehouse::tools::client::{ClientBuild, LogonClient};

fn gatehouse(db: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A refusal: non-zero exit and exactly one line on stderr.
fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    err
}

#[test]
fn accounts_are_created_checked_listed_changed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    ok(&gatehouse(
        &db,
        &["account", "create", "alice", "--password-stdin"],
        "secret\n",
    ));
    let e = refused(&gatehouse(
        &db,
        &["account", "create", "ALICE", "--password-stdin"],
        "x\n",
    ));
    assert!(e.contains("already exists"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["account", "create", "abcdefghijklmnopq", "--password-stdin"],
        "x\n",
    ));
    assert!(e.contains("longer than 16"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["account", "create", "zoë", "--password-stdin"],
        "x\n",
    ));
    assert!(e.contains("character"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["account", "create", "bob", "--password-stdin"],
        "\n",
    ));
    assert!(e.contains("password is empty"), "{e}");

    let list = ok(&gatehouse(&db, &["account", "list"], ""));
    assert!(list.contains("ALICE"), "{list}");
    assert!(!list.contains("BOB"), "{list}");
    ok(&gatehouse(
        &db,
        &["account", "passwd", "alice", "--password-stdin"],
        "other\n",
    ));
    refused(&gatehouse(
        &db,
        &["account", "passwd", "nobody", "--password-stdin"],
        "x\n",
    ));
    ok(&gatehouse(&db, &["account", "delete", "alice"], ""));
    assert!(!ok(&gatehouse(&db, &["account", "list"], "")).contains("ALICE"));
}

#[test]
fn realms_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Azeroth",
            "--address",
            "127.0.0.1:8085",
        ],
        "",
    ));
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Classic",
            "--address",
            "127.0.0.1:8086",
            "--type",
            "pvp",
            "--builds",
            "5875",
        ],
        "",
    ));
    let list = ok(&gatehouse(&db, &["realm", "list"], ""));
    assert!(
        list.contains("Azeroth") && list.contains("127.0.0.1:8085"),
        "{list}"
    );
    assert!(list.contains("5875"), "{list}");
    refused(&gatehouse(
        &db,
        &["realm", "add", "--name", "X", "--address", "nohostport"],
        "",
    ));
    refused(&gatehouse(
        &db,
        &["realm", "add", "--name", "Azeroth", "--address", "h:1"],
        "",
    ));
    ok(&gatehouse(&db, &["realm", "remove", "Azeroth"], ""));
    refused(&gatehouse(&db, &["realm", "remove", "Azeroth"], ""));
    assert!(!ok(&gatehouse(&db, &["realm", "list"], "")).contains("Azeroth"));
}

#[test]
fn config_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let default = ok(&gatehouse(&db, &["config", "default"], ""));
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, &default).unwrap();
    ok(&gatehouse(
        &db,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
    ));

    std::fs::write(&file, "[server]\nlisten_on = [\"0.0.0.0:1\"]\n").unwrap();
    let e = refused(&gatehouse(
        &db,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
    ));
    assert!(e.contains("listen_on"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["account", "list", "--config", "/nonexistent/g.toml"],
        "",
    ));
    assert!(e.contains("/nonexistent/g.toml"), "{e}");
}

#[test]
fn config_check_refuses_a_number_out_of_range_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let file = dir.path().join("g.toml");
    let check = |text: &str| {
        std::fs::write(&file, text).unwrap();
        gatehouse(
            &db,
            &["config", "check", "--config", file.to_str().unwrap()],
            "",
        )
    };
    let e = refused(&check("[timeouts]\ndrain_secs = 18446744073709551615\n"));
    assert!(e.contains("timeouts.drain_secs"), "{e}");
    assert!(e.contains("between 0 and 3600"), "{e}");
    // Too large for its type: the key is named all the same.
    let e = refused(&check("[limits]\nconnect_burst = 18446744073709551615\n"));
    assert!(e.contains("limits.connect_burst"), "{e}");
    ok(&check("[timeouts]\ndrain_secs = 3600\n"));
}

#[test]
fn an_unusable_database_path_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no-such-dir").join("g.db");
    let e = refused(&gatehouse(&db, &["account", "list"], ""));
    assert!(e.contains("cannot open database"), "{e}");
    // A path under a regular file.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let e = refused(&gatehouse(&file.join("g.db"), &["account", "list"], ""));
    assert!(e.contains("cannot open database"), "{e}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_logs_where_it_listens_and_logs_clients_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    ok(&gatehouse(
        &db,
        &["account", "create", "alice", "--password-stdin"],
        "secret\n",
    ));
    ok(&gatehouse(
        &db,
        &[
            "realm",
            "add",
            "--name",
            "Azeroth",
            "--address",
            "127.0.0.1:8085",
        ],
        "",
    ));
    // No realm link here: its default port may be taken on a shared machine.
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, "[link]\nlisten = []\n").unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a 'listening on' line");
    let addr = addr.parse().expect("an address after 'listening on'");
    let mut l = LogonClient::login(
        addr,
        ClientBuild::VANILLA,
        "alice",
        "secret",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(l.client.realm_list().unwrap().realms[0].name, "Azeroth");
}

#[test]
fn bans_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    ok(&gatehouse(
        &db,
        &["account", "create", "carol", "--password-stdin"],
        "correct horse\n",
    ));
    let out = ok(&gatehouse(
        &db,
        &["ban", "account", "carol", "--for", "2h", "--reason", "spam"],
        "",
    ));
    assert!(out.contains("CAROL suspended until"), "{out}");
    let out = ok(&gatehouse(&db, &["ban", "ip", "10.0.0.0/8"], ""));
    assert!(out.contains("10.0.0.0/8 banned"), "{out}");
    let out = ok(&gatehouse(
        &db,
        &["ban", "ip", "2001:db8::1", "--for", "1d"],
        "",
    ));
    assert!(out.contains("2001:db8::1/128 banned until"), "{out}");
    let list = ok(&gatehouse(&db, &["ban", "list"], ""));
    assert!(list.contains("10.0.0.0/8"), "{list}");
    assert!(list.contains("2001:db8::1/128"), "{list}");
    assert!(
        list.contains("CAROL") && list.contains("suspended until"),
        "{list}"
    );
    ok(&gatehouse(&db, &["unban", "ip", "10.0.0.0/8"], ""));
    ok(&gatehouse(&db, &["unban", "account", "carol"], ""));
    let list = ok(&gatehouse(&db, &["ban", "list"], ""));
    assert!(
        !list.contains("10.0.0.0/8") && !list.contains("CAROL"),
        "{list}"
    );
    // Bad input is refused with a message naming it (clap's usage errors for flags).
    let out = gatehouse(&db, &["ban", "ip", "nowhere"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an address or a network"));
    let e = refused(&gatehouse(&db, &["ban", "account", "nobody"], ""));
    assert!(e.contains("NOBODY") || e.contains("nobody"), "{e}");
    let out = gatehouse(&db, &["ban", "ip", "10.0.0.1", "--for", "soon"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("soon"));
    // A ban longer than 100 years is refused, not stored with a wrapped or unprintable end.
    let e = refused(&gatehouse(
        &db,
        &["ban", "account", "carol", "--for", "292471208678years"],
        "",
    ));
    assert!(e.contains("longer than 100 years"), "{e}");
    let e = refused(&gatehouse(
        &db,
        &["ban", "ip", "10.0.0.1", "--for", "101y"],
        "",
    ));
    assert!(e.contains("longer than 100 years"), "{e}");
    let list = ok(&gatehouse(&db, &["ban", "list"], ""));
    assert!(
        !list.contains("CAROL") && !list.contains("10.0.0.1"),
        "{list}"
    );
}
