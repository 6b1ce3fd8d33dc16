//! Full logons over TCP for each client build: success with the realm list, and every refusal
//! with its result code, checked against the database.

mod common;

use common::{account, realm, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::challenge::LogonChallengeS2c;
use gatehouse::protocol::proof::LogonProofS2c;
use gatehouse::protocol::realm_list::{REALM_FLAG_OFFLINE, REALM_FLAG_SPECIFY_BUILD};
use gatehouse::protocol::result::LoginResult;
use gatehouse::protocol::version::Build;
use gatehouse::store::{LoginOutcome, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};

fn server() -> TestServer {
    TestServer::start(
        |store| {
            let alice = account(store, "alice", "secret");
            let azeroth = realm(store, "Azeroth", "127.0.0.1:8085", &[]);
            let classic = realm(store, "Classic", "10.0.0.2:8086", &[5875]);
            store.set_character_count(alice, azeroth, 3).unwrap();
            store.set_character_count(alice, classic, 1).unwrap();
            account(store, "banned", "secret");
            let name = AccountName::parse(b"banned").unwrap();
            store.ban_account(&name, None, "test").unwrap();
            account(store, "resting", "secret");
            let name = AccountName::parse(b"resting").unwrap();
            store
                .ban_account(&name, Some(4_000_000_000), "test")
                .unwrap();
        },
        |_| {},
    )
}

#[test]
fn every_build_logs_in_and_sees_the_realm_list_from_the_database() {
    let server = server();
    for build in ClientBuild::ALL {
        let mut logged_in = LogonClient::login(server.addr, build, "alice", "secret", TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build));
        let list = logged_in.client.realm_list().unwrap();
        assert_eq!(list.realms.len(), 2, "build {}", build.version.build);
        let azeroth = &list.realms[0];
        assert_eq!(azeroth.name, "Azeroth");
        assert_eq!(azeroth.address, "127.0.0.1:8085");
        assert_eq!(azeroth.characters, 3);
        assert_eq!(azeroth.realm_type, 1);
        assert_eq!(azeroth.category, 2);
        assert_eq!(azeroth.flags & REALM_FLAG_OFFLINE, 0);
        let classic = &list.realms[1];
        assert_eq!(classic.address, "10.0.0.2:8086");
        assert_eq!(classic.characters, 1);
        if build == ClientBuild::VANILLA {
            assert_eq!(classic.name, "Classic");
            assert_eq!(classic.flags & REALM_FLAG_OFFLINE, 0);
        } else {
            // Another build's realm: offline, with its version shown.
            assert_eq!(classic.flags & REALM_FLAG_OFFLINE, REALM_FLAG_OFFLINE);
            assert_eq!(
                classic.flags & REALM_FLAG_SPECIFY_BUILD,
                REALM_FLAG_SPECIFY_BUILD
            );
            assert_eq!(classic.version.unwrap().build, Build(5875));
        }
        // The realm list may be asked for again on the same connection.
        assert_eq!(logged_in.client.realm_list().unwrap(), list);

        // The session key both sides derived is stored for the world server.
        let record = server
            .store()
            .load_account(&AccountName::parse(b"alice").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(record.session.map(|t| t.key), Some(logged_in.session_key));
        assert_eq!(record.failed_logins, 0);
    }
    let accounts = server.store().list_accounts().unwrap();
    let alice = accounts
        .iter()
        .find(|a| a.name.as_str() == "ALICE")
        .unwrap();
    assert_eq!(alice.last_login_ip.as_deref(), Some("127.0.0.1"));
}

#[test]
fn a_wrong_password_is_refused_and_recorded_before_the_answer() {
    let server = server();
    for (i, build) in ClientBuild::ALL.into_iter().enumerate() {
        let err = LogonClient::login(server.addr, build, "alice", "guess", TIMEOUT).err();
        match err {
            Some(ClientError::Refused {
                stage: "proof",
                result: LoginResult::FailUnknownAccount,
            }) => {}
            other => panic!("build {}: {other:?}", build.version.build),
        }
        // The answer came after the commit, so the count is already there.
        let accounts = server.store().list_accounts().unwrap();
        let alice = accounts
            .iter()
            .find(|a| a.name.as_str() == "ALICE")
            .unwrap();
        assert_eq!(alice.failed_logins as usize, i + 1);
        let audit = server.store().recent_audit(1).unwrap();
        assert_eq!(audit[0].outcome, "wrong_password");
        assert_eq!(audit[0].name, "ALICE");
        assert_eq!(audit[0].build, build.version.build);
    }
}

#[test]
fn the_proof_failure_has_each_layouts_size() {
    let server = server();
    for (build, expected) in [
        (ClientBuild::VANILLA, vec![0x01, 0x04]),
        (ClientBuild::WOTLK, vec![0x01, 0x04, 0x00, 0x00]),
    ] {
        let mut c = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
        let name = AccountName::parse(b"alice").unwrap();
        let reply = c.send_challenge(name).unwrap();
        let password = gatehouse::account::Password::parse(b"wrong").unwrap();
        let (_, proof) = LogonClient::proof_for(&name, &password, &reply).unwrap();
        let mut msg = Vec::new();
        proof.encode(build.layout(), &mut msg).unwrap();
        c.send(&msg).unwrap();
        let raw = c
            .read_message(|b| LogonProofS2c::check(build.layout(), b))
            .unwrap();
        assert_eq!(raw, expected);
    }
}

fn challenge_result(server: &TestServer, build: ClientBuild, name: &str) -> LogonChallengeS2c {
    let mut c = LogonClient::connect(server.addr, build, TIMEOUT).unwrap();
    c.send_challenge(AccountName::parse(name.as_bytes()).unwrap())
        .unwrap()
}

#[test]
fn refusals_carry_their_result_codes() {
    let server = server();
    for build in ClientBuild::ALL {
        for (name, result) in [
            ("nobody", LoginResult::FailUnknownAccount),
            ("banned", LoginResult::FailBanned),
            ("resting", LoginResult::FailSuspended),
        ] {
            assert_eq!(
                challenge_result(&server, build, name),
                LogonChallengeS2c::Failure(result),
                "{name} on build {}",
                build.version.build
            );
        }
    }
    // Refusals of real accounts are audited (the row is committed after the answer, so wait
    // for it); a name that is no account is only counted: it costs the database no write.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let audit = loop {
        let audit = server.store().recent_audit(50).unwrap();
        let found = |o: &str| audit.iter().filter(|a| a.outcome == o).count();
        if found("banned") == 3 && found("suspended") == 3 {
            break audit;
        }
        assert!(std::time::Instant::now() < deadline, "{audit:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        audit.iter().all(|a| a.outcome != "unknown_account"),
        "{audit:?}"
    );
    let unknown = server
        .counters()
        .outcomes
        .table(i64::MAX)
        .into_iter()
        .find(|(o, _, _)| *o == LoginOutcome::UnknownAccount)
        .map(|(_, total, _)| total);
    assert_eq!(unknown, Some(3), "counted in memory");
}

/// Challenges anyone can send without knowing an account — unknown names, builds that are not
/// accepted — make the database write nothing (issue 12.2: 49 addresses wrote 931 audit rows
/// in 10 s before), however many come.
#[test]
fn a_flood_of_unknown_names_and_old_builds_writes_no_audit_rows() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| config.server.accepted_builds = vec![12340],
    );
    for i in 0..100 {
        let name = format!("nobody{i}");
        assert_eq!(
            challenge_result(&server, ClientBuild::WOTLK, &name),
            LogonChallengeS2c::Failure(LoginResult::FailUnknownAccount)
        );
        assert_eq!(
            challenge_result(&server, ClientBuild::TBC, "alice"),
            LogonChallengeS2c::Failure(LoginResult::FailVersionInvalid)
        );
    }
    // A wrong password for a real account is still audited, and is committed before the
    // answer: once it is there, anything written before it would be too.
    assert!(LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "nope", TIMEOUT).is_err());
    let audit = server.store().recent_audit(500).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].outcome, "wrong_password");
}

#[test]
fn builds_that_are_not_accepted_get_version_invalid() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| config.server.accepted_builds = vec![5875, 12340],
    );
    for build in [ClientBuild::TBC, ClientBuild::from_build(6005)] {
        assert_eq!(
            challenge_result(&server, build, "alice"),
            LogonChallengeS2c::Failure(LoginResult::FailVersionInvalid)
        );
    }
    assert!(
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).is_ok()
    );
}

/// Another process holding the database's write lock does not stall the server: account
/// lookups (reads) go on, a write waits a bounded time and the client hears "busy", and once
/// the lock is gone logons succeed again.
#[test]
fn a_stuck_writer_elsewhere_means_busy_in_bounded_time_not_a_stall() {
    use std::time::{Duration, Instant};
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |_| {},
    );
    let db = server.db.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE; UPDATE accounts SET failed_logins = failed_logins;")
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(6));
        conn.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let name = AccountName::parse(b"alice").unwrap();
    let password = gatehouse::account::Password::parse(b"secret").unwrap();
    let mut client = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    let asked = Instant::now();
    let reply = client.send_challenge(name).unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the lookup waited for the writer"
    );
    let (_, proof) = LogonClient::proof_for(&name, &password, &reply).unwrap();
    let mut msg = Vec::new();
    proof.encode(client.layout(), &mut msg).unwrap();
    let sent = Instant::now();
    client.send(&msg).unwrap();
    assert_eq!(
        client.read_proof_reply().unwrap(),
        LogonProofS2c::Failure(LoginResult::FailDbBusy)
    );
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "busy only after {:?}",
        sent.elapsed()
    );
    // A wrong password that cannot be counted is not judged either (issue 12.1): "busy" like
    // the right one, so the answers tell nothing while the lockout cannot count.
    let wrong = gatehouse::account::Password::parse(b"guess").unwrap();
    let mut client = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    let reply = client.send_challenge(name).unwrap();
    let (_, proof) = LogonClient::proof_for(&name, &wrong, &reply).unwrap();
    msg.clear();
    proof.encode(client.layout(), &mut msg).unwrap();
    client.send(&msg).unwrap();
    assert_eq!(
        client.read_proof_reply().unwrap(),
        LogonProofS2c::Failure(LoginResult::FailDbBusy),
        "a wrong password is answered like the right one while nothing can be counted"
    );
    holder.join().unwrap();
    LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
}

/// `audit.keep_days`: the daemon deletes older rows at start (and hourly), keeps the rest.
#[test]
fn the_daemon_prunes_audit_rows_older_than_keep_days() {
    use gatehouse::store::LoginAttempt;
    use gatehouse::values::LockoutPolicy;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let server = TestServer::start(
        |store| {
            let id = account(store, "alice", "secret");
            for at in [now - 3 * 86_400, now - 60] {
                let attempt = LoginAttempt {
                    account: Some(id),
                    name: AccountName::parse(b"alice").unwrap(),
                    peer: "192.0.2.1".parse().unwrap(),
                    build: Build(12340),
                    client: Default::default(),
                    outcome: LoginOutcome::WrongPassword,
                    at,
                };
                store
                    .record_login_failure(&attempt, &LockoutPolicy::OFF)
                    .unwrap();
            }
        },
        |config| config.audit.keep_days = 2,
    );
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let audit = server.store().recent_audit(10).unwrap();
        if audit.len() == 1 {
            assert_eq!(audit[0].at, now - 60);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{audit:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
