//! The authenticator (TOTP) second factor over TCP, as 2.4.3 and 3.3.5a clients use it: the
//! challenge's flag 0x04, a right, wrong or missing token in the proof, the audit rows; and the
//! binary end to end (`account totp enable`, then `serve` at trace level), whose log must never
//! show the secret, the token or the config key.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{account, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::challenge::{AuthenticatorChallenge, LogonChallengeS2c};
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};
use gatehouse::totp::{code_at, TotpKey, TotpSecret};

const KEY_HEX: &str = "3c1f9a7e5d2b8c4a6e0f1d3b5a7c9e2f4d6b8a0c1e3f5a7b9d2c4e6f8a0b1c3d";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The code an authenticator app shows now.
fn right_token(secret: &TotpSecret) -> String {
    code_at(secret, unix_now())
}

/// Six digits that no step near now accepts (wider than the server's ±1 window, so a step
/// boundary between here and the server cannot make it right).
fn wrong_token(secret: &TotpSecret) -> String {
    let now = unix_now();
    let near: Vec<String> = (0..5).map(|i| code_at(secret, now - 60 + 30 * i)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .expect("some six digits are wrong")
}

/// ALICE with an authenticator, BOB without; both with password "secret".
fn server() -> (TestServer, TotpSecret) {
    let key = TotpKey::from_hex(KEY_HEX).unwrap();
    let mut uri = None;
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "bob", "secret");
            let enrolment =
                gatehouse::admin::enable_totp(store, Some(&key), "gatehouse", "alice").unwrap();
            uri = Some(enrolment.uri);
        },
        |config| config.totp.key = Some(TotpKey::from_hex(KEY_HEX).unwrap()),
    );
    let secret = secret_of(&uri.expect("enrolled"));
    (server, secret)
}

/// The `secret=` parameter of an otpauth URI.
fn secret_of(uri: &str) -> TotpSecret {
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap_or_else(|| panic!("no secret in {uri}"));
    TotpSecret::from_base32(b32).unwrap()
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

fn refused_as_unknown(result: Result<gatehouse::tools::client::LoggedIn, ClientError>) {
    match result {
        Err(ClientError::Refused {
            stage: "proof",
            result: LoginResult::FailUnknownAccount,
        }) => {}
        Err(e) => panic!("expected the 0x04 proof answer, got {e}"),
        Ok(_) => panic!("expected the 0x04 proof answer, got a logon"),
    }
}

fn challenge_flag(
    server: &TestServer,
    build: ClientBuild,
    name: &str,
) -> Option<AuthenticatorChallenge> {
    let mut client = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
    match client
        .send_challenge(AccountName::parse(name.as_bytes()).unwrap())
        .unwrap()
    {
        LogonChallengeS2c::Success { security, .. } => security.authenticator,
        LogonChallengeS2c::Failure(r) => panic!("challenge refused: {r:?}"),
    }
}

#[test]
fn the_right_token_logs_2_4_3_and_3_3_5a_in() {
    let (server, secret) = server();
    // A step's token is accepted once: the two logons use this step's and the next one's
    // (both inside the server's ±1 window, whichever side of a step boundary it reads its
    // clock).
    let now = unix_now();
    for (build, at) in [(ClientBuild::TBC, now), (ClientBuild::WOTLK, now + 30)] {
        assert_eq!(
            challenge_flag(&server, build, "alice"),
            Some(AuthenticatorChallenge { required: true }),
            "build {}",
            build.version.build
        );
        let token = code_at(&secret, at);
        let mut logged_in = LogonClient::login_with_token(
            server.addr,
            build,
            "alice",
            "secret",
            Some(&token),
            TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
        logged_in.client.realm_list().unwrap();
        assert_eq!(last_outcome(&server), "success");
        assert_eq!(failed_logins(&server, "alice"), 0);
    }
}

/// Issue 12 point 6 (RFC 6238 §5.2): a token that let someone in cannot let anyone in again,
/// not even within its 90-second window: it is refused like a wrong token, and counted.
#[test]
fn a_token_is_accepted_once() {
    let (server, secret) = server();
    let now = unix_now();
    let token = code_at(&secret, now);
    let login = |token: &str| {
        LogonClient::login_with_token(
            server.addr,
            ClientBuild::WOTLK,
            "alice",
            "secret",
            Some(token),
            TIMEOUT,
        )
    };
    login(&token).expect("the first use logs in");
    refused_as_unknown(login(&token));
    assert_eq!(last_outcome(&server), "wrong_token");
    assert_eq!(failed_logins(&server, "alice"), 1);
    // The previous step's token is older still: refused too.
    refused_as_unknown(login(&code_at(&secret, now - 30)));
    assert_eq!(failed_logins(&server, "alice"), 2);
    // The next step's token is fresh.
    login(&code_at(&secret, now + 30)).expect("a later step logs in");
    assert_eq!(last_outcome(&server), "success");
}

#[test]
fn a_wrong_token_is_refused_and_counted_like_a_wrong_password() {
    let (server, secret) = server();
    for (i, build) in [ClientBuild::TBC, ClientBuild::WOTLK]
        .into_iter()
        .enumerate()
    {
        let token = wrong_token(&secret);
        refused_as_unknown(LogonClient::login_with_token(
            server.addr,
            build,
            "alice",
            "secret",
            Some(&token),
            TIMEOUT,
        ));
        // Committed before the answer, so it is there as soon as the client has it.
        assert_eq!(last_outcome(&server), "wrong_token");
        assert_eq!(failed_logins(&server, "alice"), i as u32 + 1);
    }
    // A wrong password with a right token is still a wrong password.
    refused_as_unknown(LogonClient::login_with_token(
        server.addr,
        ClientBuild::WOTLK,
        "alice",
        "guess",
        Some(&right_token(&secret)),
        TIMEOUT,
    ));
    assert_eq!(last_outcome(&server), "wrong_password");
    assert_eq!(failed_logins(&server, "alice"), 3);
}

#[test]
fn a_missing_token_is_refused_the_same_way_even_from_1_12() {
    let (server, _secret) = server();
    for build in [ClientBuild::TBC, ClientBuild::WOTLK, ClientBuild::VANILLA] {
        refused_as_unknown(LogonClient::login(
            server.addr,
            build,
            "alice",
            "secret",
            TIMEOUT,
        ));
        // 1.12 is asked for the token on the PIN grid (tests/pin_grid.rs).
        let expected = if build == ClientBuild::VANILLA {
            "wrong_pin"
        } else {
            "wrong_token"
        };
        assert_eq!(last_outcome(&server), expected);
    }
    // An empty token is as missing as none.
    refused_as_unknown(LogonClient::login_with_token(
        server.addr,
        ClientBuild::WOTLK,
        "alice",
        "secret",
        Some(""),
        TIMEOUT,
    ));
    assert_eq!(failed_logins(&server, "alice"), 4);
    // 1.12.1 has no authenticator field: it gets the PIN grid instead.
    assert_eq!(challenge_flag(&server, ClientBuild::VANILLA, "alice"), None);
}

#[test]
fn an_account_without_an_authenticator_is_unaffected() {
    let (server, secret) = server();
    for build in ClientBuild::ALL {
        assert_eq!(challenge_flag(&server, build, "bob"), None);
        LogonClient::login(server.addr, build, "bob", "secret", TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
    }
    // A token the server did not ask for is ignored.
    LogonClient::login_with_token(
        server.addr,
        ClientBuild::WOTLK,
        "bob",
        "secret",
        Some(&wrong_token(&secret)),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(last_outcome(&server), "success");
}

// --- the binary ---

fn gatehouse(args: &[&str], db: &Path, config: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(config)
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
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gatehouse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Whether `digits` appears in `text` as a whole run of digits (a six-digit token can appear
/// inside a longer number, such as a timestamp, by chance; as a run of its own it cannot).
fn has_digit_run(text: &str, digits: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run == digits)
}

#[test]
fn the_binary_enrols_logs_in_and_never_logs_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let config = dir.path().join("gatehouse.toml");
    // No realm link: its default port may be taken on a shared machine.
    std::fs::write(
        &config,
        format!("[totp]\nkey = \"{KEY_HEX}\"\nissuer = \"Test Realm\"\n[link]\nlisten = []\n"),
    )
    .unwrap();
    gatehouse(&["db", "init"], &db, &config, "");
    gatehouse(
        &["account", "create", "alice", "--password-stdin"],
        &db,
        &config,
        "secret\n",
    );
    let out = gatehouse(&["account", "totp", "enable", "alice"], &db, &config, "");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let uri = lines.next().expect("the URI line");
    assert!(
        uri.starts_with("otpauth://totp/Test%20Realm:ALICE?secret="),
        "{uri}"
    );
    assert!(uri.contains("&issuer=Test%20Realm"), "{uri}");
    assert!(
        lines.next().is_some_and(|l| l.contains("not shown again")),
        "{stdout}"
    );
    let secret = secret_of(uri);
    let b32 = secret.to_base32();
    let list = gatehouse(&["account", "list"], &db, &config, "");
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&b32));

    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "trace"])
            .arg("--config")
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
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let wait_for = |needle: &str| -> String {
        loop {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    let listening = wait_for("listening on ");
    let addr = listening
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .expect("an address after 'listening on'");

    let right = right_token(&secret);
    let mut l = LogonClient::login_with_token(
        addr,
        ClientBuild::WOTLK,
        "alice",
        "secret",
        Some(&right),
        TIMEOUT,
    )
    .unwrap();
    l.client.realm_list().unwrap();
    wait_for("logged in");
    let wrong = wrong_token(&secret);
    refused_as_unknown(LogonClient::login_with_token(
        addr,
        ClientBuild::TBC,
        "alice",
        "secret",
        Some(&wrong),
        TIMEOUT,
    ));
    wait_for("refused: wrong or missing authenticator token");
    drop(child);
    let log = reader.join().unwrap();

    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not a trace-level log:\n{log}"
    );
    let raw = secret.as_bytes();
    for (what, needle) in [
        ("base32 secret", b32.clone()),
        ("raw secret (hex)", hex(raw)),
        ("raw secret (HEX)", hex(raw).to_uppercase()),
        ("config key", KEY_HEX.to_string()),
        ("config key (HEX)", KEY_HEX.to_uppercase()),
        ("otpauth URI", uri.to_string()),
    ] {
        assert!(!log.contains(&needle), "the {what} is in the log:\n{log}");
    }
    // Decimal or byte-list renderings of the raw secret would show as its first bytes in a row.
    assert!(!log.contains(&format!("{:?}", &raw[..4])), "{log}");
    for token in [&right, &wrong] {
        assert!(!has_digit_run(&log, token), "a token is in the log:\n{log}");
    }
}
