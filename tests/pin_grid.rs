//! The PIN grid (security flag 1) and the client integrity check over TCP: a 1.12.1 client
//! types the authenticator's token, or the account's fixed PIN, on the shuffled keypad; a
//! wrong PIN is refused, audited and counted like a wrong password; a token is used once; a
//! 3.3.5a client with a fixed PIN gets the grid too. With `server.strict_version_check`, a
//! wrong crc_hash is refused "version invalid" (audited `version_mismatch`), and only then.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{account, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, ClientError, CrcAnswer, LogonClient, ProofAnswers};
use gatehouse::totp::{code_at, TotpKey, TotpSecret};

const KEY_HEX: &str = "3c1f9a7e5d2b8c4a6e0f1d3b5a7c9e2f4d6b8a0c1e3f5a7b9d2c4e6f8a0b1c3d";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn key() -> TotpKey {
    TotpKey::from_hex(KEY_HEX).unwrap()
}

/// The `secret=` parameter of an otpauth URI.
fn secret_of(uri: &str) -> TotpSecret {
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap_or_else(|| panic!("no secret in {uri}"));
    TotpSecret::from_base32(b32).unwrap()
}

/// Six digits that no step near now accepts.
fn wrong_token(secret: &TotpSecret) -> String {
    let now = unix_now();
    let near: Vec<String> = (0..5).map(|i| code_at(secret, now - 60 + 30 * i)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .expect("some six digits are wrong")
}

/// ALICE with an authenticator; BOB with nothing; all with password "secret".
fn totp_server(configure: impl FnOnce(&mut gatehouse::config::Config)) -> (TestServer, TotpSecret) {
    let mut uri = None;
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "bob", "secret");
            let enrolment =
                gatehouse::admin::enable_totp(store, Some(&key()), "gatehouse", "alice").unwrap();
            uri = Some(enrolment.uri);
        },
        |config| {
            config.totp.key = Some(key());
            configure(config);
        },
    );
    (server, secret_of(&uri.expect("enrolled")))
}

fn last_outcome(server: &TestServer) -> String {
    server.store().recent_audit(1).unwrap()[0].outcome.clone()
}

fn failed_logins(server: &TestServer, name: &str) -> u32 {
    server
        .store()
        .load_account(&AccountName::parse(name.as_bytes()).unwrap())
        .unwrap()
        .unwrap()
        .failed_logins
}

fn refused(result: Result<gatehouse::tools::client::LoggedIn, ClientError>) -> LoginResult {
    match result {
        Err(ClientError::Refused {
            stage: "proof",
            result,
        }) => result,
        Err(e) => panic!("expected a proof refusal, got {e}"),
        Ok(_) => panic!("expected a proof refusal, got a logon"),
    }
}

fn pin(pin: &str) -> ProofAnswers<'_> {
    ProofAnswers {
        pin: Some(pin),
        ..ProofAnswers::default()
    }
}

/// The security flag bits the challenge answer for `name` carries: (PIN grid, authenticator).
fn challenge_blocks(server: &TestServer, build: ClientBuild, name: &str) -> (bool, bool) {
    let mut client = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
    match client
        .send_challenge(AccountName::parse(name.as_bytes()).unwrap())
        .unwrap()
    {
        LogonChallengeS2c::Success { security, .. } => {
            (security.pin.is_some(), security.authenticator.is_some())
        }
        LogonChallengeS2c::Failure(r) => panic!("challenge refused: {r:?}"),
    }
}

#[test]
fn a_1_12_1_client_types_the_authenticator_token_on_the_pin_grid() {
    let (server, secret) = totp_server(|_| {});
    assert_eq!(
        challenge_blocks(&server, ClientBuild::VANILLA, "alice"),
        (true, false)
    );
    let token = code_at(&secret, unix_now());
    LogonClient::login_with(
        server.addr,
        ClientBuild::VANILLA,
        "alice",
        "secret",
        pin(&token),
        TIMEOUT,
    )
    .expect("the token on the grid logs in");
    assert_eq!(last_outcome(&server), "success");

    // The same token again: its step is used up.
    assert_eq!(
        refused(LogonClient::login_with(
            server.addr,
            ClientBuild::VANILLA,
            "alice",
            "secret",
            pin(&token),
            TIMEOUT,
        )),
        LoginResult::FailUnknownAccount
    );
    assert_eq!(last_outcome(&server), "wrong_pin");
    assert_eq!(failed_logins(&server, "alice"), 1);

    // A wrong token, and none at all: refused as a wrong password is, audited, counted.
    let wrong = wrong_token(&secret);
    for answers in [pin(&wrong), ProofAnswers::default()] {
        assert_eq!(
            refused(LogonClient::login_with(
                server.addr,
                ClientBuild::VANILLA,
                "alice",
                "secret",
                answers,
                TIMEOUT,
            )),
            LoginResult::FailUnknownAccount
        );
        assert_eq!(last_outcome(&server), "wrong_pin");
    }
    assert_eq!(failed_logins(&server, "alice"), 3);

    // An account without a second factor sees no grid.
    assert_eq!(
        challenge_blocks(&server, ClientBuild::VANILLA, "bob"),
        (false, false)
    );
    LogonClient::login(server.addr, ClientBuild::VANILLA, "bob", "secret", TIMEOUT).unwrap();
}

#[test]
fn wrong_pins_lock_the_account_out_like_wrong_passwords() {
    let (server, secret) = totp_server(|c| {
        c.lockout.account_attempts = 2;
    });
    let wrong = wrong_token(&secret);
    for _ in 0..2 {
        refused(LogonClient::login_with(
            server.addr,
            ClientBuild::VANILLA,
            "alice",
            "secret",
            pin(&wrong),
            TIMEOUT,
        ));
    }
    // Locked now: even the right token is refused at the challenge, "suspended".
    let token = code_at(&secret, unix_now());
    match LogonClient::login_with(
        server.addr,
        ClientBuild::VANILLA,
        "alice",
        "secret",
        pin(&token),
        TIMEOUT,
    ) {
        Err(ClientError::Refused {
            stage: "challenge",
            result: LoginResult::FailSuspended,
        }) => {}
        Err(e) => panic!("expected suspended, got {e}"),
        Ok(_) => panic!("expected suspended, got a logon"),
    }
}

#[test]
fn the_integrity_check_refuses_a_wrong_crc_hash_only_when_strict() {
    let wrong = ProofAnswers {
        crc: CrcAnswer::Wrong,
        ..ProofAnswers::default()
    };
    // Off (the default): whatever the client sends.
    let (server, _) = totp_server(|_| {});
    for build in ClientBuild::ALL {
        LogonClient::login_with(server.addr, build, "bob", "secret", wrong, TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
        LogonClient::login(server.addr, build, "bob", "secret", TIMEOUT).unwrap();
    }
    drop(server);

    let (server, _) = totp_server(|c| c.server.strict_version_check = true);
    for build in ClientBuild::ALL {
        LogonClient::login(server.addr, build, "bob", "secret", TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
        assert_eq!(
            refused(LogonClient::login_with(
                server.addr,
                build,
                "bob",
                "secret",
                wrong,
                TIMEOUT
            )),
            LoginResult::FailVersionInvalid,
            "build {}",
            build.version.build
        );
        assert_eq!(last_outcome(&server), "version_mismatch");
    }
    // Not a wrong credential: nothing counted.
    assert_eq!(failed_logins(&server, "bob"), 0);
    // A wrong password is still a wrong password, whatever the crc_hash.
    assert_eq!(
        refused(LogonClient::login_with(
            server.addr,
            ClientBuild::WOTLK,
            "bob",
            "wrong",
            wrong,
            TIMEOUT
        )),
        LoginResult::FailUnknownAccount
    );
}

#[test]
fn strict_refuses_a_build_without_a_seed_and_a_config_seed_replaces_a_built_in_one() {
    use gatehouse::config::BuildSeedConfig;
    // 6005 (1.12.2) has no built-in seed; the test client sends zeros for it.
    let build = ClientBuild::from_build(6005);
    let (server, _) = totp_server(|c| {
        c.server.strict_version_check = true;
        c.server.accepted_builds.push(6005);
    });
    assert_eq!(
        refused(LogonClient::login(
            server.addr,
            build,
            "bob",
            "secret",
            TIMEOUT
        )),
        LoginResult::FailVersionInvalid
    );
    assert_eq!(last_outcome(&server), "version_mismatch");
    drop(server);

    // A config seed replaces the built-in one of its build and OS: with another seed for
    // 5875 on Windows, a real 1.12.1 client's hash is refused; other builds are unaffected.
    let (server, _) = totp_server(|c| {
        c.server.strict_version_check = true;
        c.server.build_seeds.push(BuildSeedConfig {
            build: 5875,
            os: "Win".into(),
            seed: "00".repeat(20),
        });
    });
    assert_eq!(
        refused(LogonClient::login(
            server.addr,
            ClientBuild::VANILLA,
            "bob",
            "secret",
            TIMEOUT
        )),
        LoginResult::FailVersionInvalid,
        "the config's seed replaces the built-in one"
    );
    LogonClient::login(server.addr, ClientBuild::WOTLK, "bob", "secret", TIMEOUT).unwrap();
}

/// CAROL with the fixed PIN "04815" and no authenticator; DAVE with the PIN "2468" and an
/// authenticator; all with password "secret".
fn pin_server() -> (TestServer, TotpSecret) {
    let mut uri = None;
    let server = TestServer::start(
        |store| {
            account(store, "carol", "secret");
            account(store, "dave", "secret");
            gatehouse::admin::set_pin(store, Some(&key()), "carol", "04815").unwrap();
            gatehouse::admin::set_pin(store, Some(&key()), "dave", "2468").unwrap();
            let enrolment =
                gatehouse::admin::enable_totp(store, Some(&key()), "gatehouse", "dave").unwrap();
            uri = Some(enrolment.uri);
        },
        |config| config.totp.key = Some(key()),
    );
    (server, secret_of(&uri.expect("enrolled")))
}

#[test]
fn a_fixed_pin_logs_1_12_1_and_3_3_5a_in_and_a_wrong_one_is_refused_and_counted() {
    let (server, _) = pin_server();
    for build in ClientBuild::ALL {
        assert_eq!(
            challenge_blocks(&server, build, "carol"),
            (true, false),
            "build {}",
            build.version.build
        );
        LogonClient::login_with(server.addr, build, "carol", "secret", pin("04815"), TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
        assert_eq!(last_outcome(&server), "success");
    }
    // The leading zero is part of the PIN.
    for (build, wrong) in [
        (ClientBuild::VANILLA, "4815"),
        (ClientBuild::WOTLK, "04816"),
        (ClientBuild::VANILLA, ""),
    ] {
        let answers = if wrong.is_empty() {
            ProofAnswers::default()
        } else {
            pin(wrong)
        };
        assert_eq!(
            refused(LogonClient::login_with(
                server.addr,
                build,
                "carol",
                "secret",
                answers,
                TIMEOUT
            )),
            LoginResult::FailUnknownAccount,
            "{wrong:?}"
        );
        assert_eq!(last_outcome(&server), "wrong_pin");
    }
    assert_eq!(failed_logins(&server, "carol"), 3);
}

#[test]
fn pin_and_authenticator_on_3_3_5a_both_and_on_1_12_1_the_token() {
    let (server, secret) = pin_server();
    assert_eq!(
        challenge_blocks(&server, ClientBuild::WOTLK, "dave"),
        (true, true)
    );
    let now = unix_now();
    let token = code_at(&secret, now);
    let both = ProofAnswers {
        pin: Some("2468"),
        token: Some(&token),
        ..ProofAnswers::default()
    };
    LogonClient::login_with(
        server.addr,
        ClientBuild::WOTLK,
        "dave",
        "secret",
        both,
        TIMEOUT,
    )
    .expect("PIN and token");
    // The PIN alone is not enough there: a missing token.
    assert_eq!(
        refused(LogonClient::login_with(
            server.addr,
            ClientBuild::WOTLK,
            "dave",
            "secret",
            pin("2468"),
            TIMEOUT
        )),
        LoginResult::FailUnknownAccount
    );
    assert_eq!(last_outcome(&server), "wrong_token");
    // 1.12 has room for one PIN: the authenticator's (the next step's token, unused yet).
    assert_eq!(
        challenge_blocks(&server, ClientBuild::VANILLA, "dave"),
        (true, false)
    );
    let next = code_at(&secret, now + 30);
    LogonClient::login_with(
        server.addr,
        ClientBuild::VANILLA,
        "dave",
        "secret",
        pin(&next),
        TIMEOUT,
    )
    .expect("the token on the grid");
}

#[test]
fn account_pin_set_and_clear_from_the_command_line() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let config = dir.path().join("g.toml");
    std::fs::write(&config, format!("[totp]\nkey = \"{KEY_HEX}\"\n")).unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(run(&["db", "init"], "").status.success());
    assert!(run(
        &["account", "create", "erin", "--password-stdin"],
        "secret\n"
    )
    .status
    .success());
    for bad in ["123", "12a4", "12345678901"] {
        let out = run(
            &["account", "pin", "set", "erin", "--pin-stdin"],
            &format!("{bad}\n"),
        );
        assert!(!out.status.success(), "{bad}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("4 to 10 digits"), "{e}");
    }
    let out = run(&["account", "pin", "set", "erin", "--pin-stdin"], "0042\n");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PIN set for ERIN"));
    // Sealed: the digits are nowhere in the database file.
    let bytes = std::fs::read(&db).unwrap();
    assert!(!bytes.windows(4).any(|w| w == b"0042"));
    let pin = gatehouse::store::SqliteStore::open(&db)
        .unwrap()
        .load_account(&AccountName::parse(b"erin").unwrap())
        .unwrap()
        .unwrap()
        .pin
        .expect("a PIN");
    let id = gatehouse::store::SqliteStore::open(&db)
        .unwrap()
        .load_account(&AccountName::parse(b"erin").unwrap())
        .unwrap()
        .unwrap()
        .id;
    let opened = gatehouse::pin_grid::open(&key(), id, &pin).unwrap();
    assert_eq!(opened.as_bytes(), b"0042");

    let out = run(&["account", "pin", "clear", "erin"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PIN removed for ERIN"));
    let out = run(&["account", "pin", "clear", "erin"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ERIN had no PIN"));
    // Without totp.key a PIN cannot be sealed.
    std::fs::write(&config, "").unwrap();
    let out = run(&["account", "pin", "set", "erin", "--pin-stdin"], "0042\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("totp.key"));
}
