//! The `gatehouse` binary as an operator uses it: account and realm commands, config files,
//! errors as one line on stderr with a non-zero exit, and `serve` logging where it listens.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod common;

use common::cli::{gatehouse, new_db, ok, refused};
use gatehouse::tools::client::{ClientBuild, LogonClient};

#[test]
fn accounts_are_created_checked_listed_changed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
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
    let db = new_db(dir.path());
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
    let e = refused(&gatehouse(&db, &["db", "init"], ""));
    assert!(e.contains("cannot open database"), "{e}");
    // A path under a regular file.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let e = refused(&gatehouse(&file.join("g.db"), &["db", "init"], ""));
    assert!(e.contains("cannot open database"), "{e}");
}

#[test]
fn only_serve_and_db_init_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("gatehuose.db");
    let read = [
        &["account", "list"][..],
        &["ban", "list"],
        &["realm", "list"],
        &["account", "create", "alice", "--password-stdin"],
        &["ban", "ip", "10.0.0.1"],
        &["console", "set-password", "--password-stdin"],
    ];
    for args in read {
        let e = refused(&gatehouse(&typo, args, "a long secret\n"));
        assert!(
            e.contains(&format!("no database at {}", typo.display())),
            "{args:?}: {e}"
        );
        assert!(e.contains("gatehouse db init"), "{args:?}: {e}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    // `account totp enable` without a config: no stray ./gatehouse.db in the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["account", "totp", "enable", "alice"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.path().join("gatehouse.db").exists());

    let out = ok(&gatehouse(&typo, &["db", "init"], ""));
    assert!(out.contains("created a new database"), "{out}");
    assert!(typo.exists());
    let out = ok(&gatehouse(&typo, &["db", "init"], ""));
    assert!(out.contains("in place"), "{out}");
    ok(&gatehouse(&typo, &["account", "list"], ""));
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
    let db = new_db(dir.path());
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
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["serve", "--listen", "127.0.0.1:0", "--link-listen", "off"])
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
    let db = new_db(dir.path());
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

#[test]
fn listings_show_standings_and_times_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    for name in ["dave", "erin", "frank"] {
        ok(&gatehouse(
            &db,
            &["account", "create", name, "--password-stdin"],
            "pw\n",
        ));
    }
    ok(&gatehouse(&db, &["ban", "account", "dave"], ""));
    let out = ok(&gatehouse(
        &db,
        &["ban", "account", "erin", "--for", "2h"],
        "",
    ));
    // "ERIN suspended until 2026-12-03 09:12:45 UTC", not a unix time.
    assert!(out.trim_end().ends_with(" UTC"), "{out}");
    ok(&gatehouse(&db, &["ban", "ip", "192.0.2.0/24"], ""));
    let out = ok(&gatehouse(
        &db,
        &["ban", "ip", "198.51.100.7", "--for", "1d"],
        "",
    ));
    assert!(out.trim_end().ends_with(" UTC"), "{out}");

    let list = ok(&gatehouse(&db, &["account", "list"], ""));
    let row = |name: &str| {
        list.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .to_owned()
    };
    assert!(row("DAVE").trim_end().ends_with("banned"), "{list}");
    assert!(row("ERIN").contains("suspended until 20"), "{list}");
    assert!(row("ERIN").trim_end().ends_with(" UTC"), "{list}");
    assert!(row("FRANK").trim_end().ends_with("active"), "{list}");
    assert!(!list.contains('{') && !list.contains("Suspended"), "{list}");

    let bans = ok(&gatehouse(&db, &["ban", "list"], ""));
    let permanent = bans.lines().find(|l| l.contains("192.0.2.0/24")).unwrap();
    assert!(permanent.contains("never (until lifted)"), "{bans}");
    let timed = bans
        .lines()
        .find(|l| l.contains("198.51.100.7/32"))
        .unwrap();
    assert!(timed.trim_end().ends_with(" UTC"), "{bans}");
    assert!(bans.contains("DAVE") && bans.contains("ERIN"), "{bans}");
    assert!(!bans.contains("FRANK"), "{bans}");
    // Both listings are tables with a header.
    assert!(
        bans.contains("address or network") && bans.contains("standing"),
        "{bans}"
    );
}

#[test]
fn config_check_prints_toml_refuses_without_a_file_and_says_where_errors_are() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let file = dir.path().join("g.toml");
    let key = "8f3a5c0e1d2b4a6978c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";
    std::fs::write(&file, format!("[totp]\nkey = \"{key}\"\n")).unwrap();
    let out = ok(&gatehouse(
        &db,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
    ));
    assert!(
        out.contains("[server]\nlisten = [\"0.0.0.0:3724\"]"),
        "{out}"
    );
    assert!(out.contains("key = \"<redacted>\""), "{out}");
    assert!(!out.contains("8f3a5c0e"), "{out}");
    // What it prints is a config file: with the secret put back, it checks again.
    std::fs::write(&file, out.replace("<redacted>", key)).unwrap();
    ok(&gatehouse(
        &db,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
    ));

    let e = refused(&gatehouse(&db, &["config", "check"], ""));
    assert!(
        e.contains("no config file given: gatehouse config check --config FILE"),
        "{e}"
    );

    std::fs::write(&file, "[server]\nshare_port = true\nlisten_on = 1\n").unwrap();
    let e = refused(&gatehouse(
        &db,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
    ));
    assert!(
        e.contains(&format!(
            "{}:3:1: unknown field `listen_on`",
            file.display()
        )),
        "{e}"
    );
}

/// The binary with stdout a pipe whose reading end is already closed, as `| head` leaves it.
fn into_closed_pipe(db: &Path, args: &[&str]) -> Output {
    // The pipe's writing end, whose only reader (`true`) has exited.
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    let file = dir.path().join("g.toml");
    std::fs::write(&file, "").unwrap();
    for args in [
        &["config", "default"][..],
        &["config", "check", "--config", file.to_str().unwrap()],
        &["account", "list"],
        &["ban", "list"],
        &["completions", "bash"],
    ] {
        let out = into_closed_pipe(&db, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "{args:?} said: {err}");
        // Ended by SIGPIPE, as `yes | head` ends `yes`; never a panic's exit code 101.
        assert_eq!(out.status.signal(), Some(13), "{args:?}: {:?}", out.status);
    }
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let bash = ok(&gatehouse(&db, &["completions", "bash"], ""));
    for sub in [
        "account",
        "realm",
        "ban",
        "unban",
        "config",
        "db",
        "serve",
        "completions",
        "man",
    ] {
        assert!(bash.contains(sub), "{sub} not in the bash script");
    }
    assert!(
        bash.contains("--link-listen"),
        "the global flags are completed too"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(!ok(&gatehouse(&db, &["completions", shell], "")).is_empty());
    }
    let out = gatehouse(&db, &["completions", "tcsh"], "");
    assert!(!out.status.success());

    let man = dir.path().join("man").join("man1");
    ok(&gatehouse(
        &db,
        &["man", "--out-dir", man.to_str().unwrap()],
        "",
    ));
    let page = std::fs::read_to_string(man.join("gatehouse.1")).unwrap();
    assert!(
        page.lines().any(|l| l.starts_with(".TH gatehouse 1")),
        "{page}"
    );
    assert!(page.contains("account"), "{page}");
    for sub in [
        "account",
        "ban",
        "realm",
        "config",
        "db",
        "completions",
        "man",
    ] {
        let page = std::fs::read_to_string(man.join(format!("gatehouse-{sub}.1")))
            .unwrap_or_else(|e| panic!("gatehouse-{sub}.1: {e}"));
        assert!(page.contains(".TH"), "gatehouse-{sub}.1");
    }
    // The hidden benchmark command has no page.
    assert!(!man.join("gatehouse-srp-ceiling.1").exists());
    assert!(!db.exists(), "completions and man opened the database");
}

/// `gatehouse serve` on port 0 with `extra` flags; its stderr lines arrive on the receiver.
fn serve(db: &Path, extra: &[&str]) -> (Killed, mpsc::Receiver<String>) {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(extra)
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
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The first line holding `what` within 10 s.
fn line_with(lines: &mpsc::Receiver<String>, what: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {what:?}: {e}"),
        }
    }
}

#[test]
fn serve_says_what_it_runs_on_in_one_start_up_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, "[console]\nlisten = [\"127.0.0.1:0\"]\n").unwrap();
    // serve creates its database.
    let (_server, lines) = serve(
        &db,
        &[
            "--config",
            config.to_str().unwrap(),
            "--link-listen",
            "127.0.0.1:0",
        ],
    );
    let line = line_with(&lines, "gatehouse 0.");
    assert!(line.contains(" INFO ") || line.starts_with("<6>"), "{line}");
    assert!(line.contains(env!("CARGO_PKG_VERSION")), "{line}");
    assert!(
        line.contains(&format!("config {}", config.display())),
        "{line}"
    );
    assert!(
        line.contains(&format!("database {}", db.display())),
        "{line}"
    );
    for listener in [
        "game 127.0.0.1:",
        "realm link 127.0.0.1:",
        "console 127.0.0.1:",
    ] {
        assert!(line.contains(listener), "{listener}: {line}");
    }
    // Bound ports, not the configured port 0.
    assert!(!line.contains(":0;") && !line.ends_with(":0"), "{line}");
    assert!(db.exists());

    let (_server, lines) = serve(&db, &["--link-listen", "off"]);
    let line = line_with(&lines, "gatehouse 0.");
    assert!(line.contains("no config file, defaults"), "{line}");
    assert!(line.contains("realm link off; console off"), "{line}");
}

#[test]
fn two_servers_with_the_realm_link_off_both_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path());
    let (_a, a) = serve(&db, &["--link-listen", "off"]);
    let (_b, b) = serve(&db, &["--link-listen", "off"]);
    for lines in [&a, &b] {
        let line = line_with(lines, "listening on ");
        assert!(!line.contains("realm link"), "{line}");
    }
    // off beside an address is a mistake.
    let e = refused(&gatehouse(
        &db,
        &[
            "serve",
            "--link-listen",
            "off",
            "--link-listen",
            "127.0.0.1:0",
        ],
        "",
    ));
    assert!(e.contains("--link-listen off"), "{e}");
}
