//! Who sees which realm at which address, and where an account may log on from, over TCP:
//! a realm's allowed security level hides it from lower accounts; a realm's local address is
//! given to clients in its local subnet (the player a PROXY header names, behind a load
//! balancer); an IP-locked account logs on only from the address it last logged on from.

mod common;

use std::io::Write;
use std::net::SocketAddr;

use common::{account, connect_from, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::{IpLockSetting, NewRealm, SqliteStore, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};
use gatehouse::values::RealmLocal;

fn add(store: &mut SqliteStore, name: &str, allowed_level: u8, local: Option<(&str, &str)>) {
    store
        .add_realm(&NewRealm {
            name: name.into(),
            address: format!("203.0.113.1:{}", 8085 + name.len()),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: vec![],
            link_key: None,
            allowed_level,
            local: local.map(|(address, subnet)| RealmLocal {
                address: address.into(),
                subnet: subnet.parse().unwrap(),
            }),
        })
        .expect("add realm");
}

/// The realms as a client from `source` logged on as `name` sees them: (name, address).
fn seen_from(
    server: SocketAddr,
    source: &str,
    name: &str,
    build: ClientBuild,
) -> Vec<(String, String)> {
    let stream = connect_from(source, server).unwrap();
    let client = LogonClient::from_stream(stream, build, TIMEOUT).unwrap();
    let mut logged_in = client.log_in(name, "secret", None).unwrap();
    realms_of(&mut logged_in.client)
}

fn realms_of(client: &mut LogonClient) -> Vec<(String, String)> {
    client
        .realm_list()
        .unwrap()
        .realms
        .into_iter()
        .map(|r| (r.name, r.address))
        .collect()
}

fn names(list: &[(String, String)]) -> Vec<&str> {
    list.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_realm_is_hidden_from_accounts_below_its_level() {
    let server = TestServer::start(
        |store| {
            account(store, "player", "secret");
            account(store, "gm", "secret");
            account(store, "admin", "secret");
            gatehouse::admin::set_security_level(store, "gm", 1).unwrap();
            gatehouse::admin::set_security_level(store, "admin", 3).unwrap();
            add(store, "Public", 0, None);
            add(store, "Staff", 1, None);
            add(store, "Admins", 3, None);
        },
        |config| config.limits.realm_list_interval_ms = 0,
    );
    for build in ClientBuild::ALL {
        let seen = |name| names(&seen_from(server.addr, "127.0.0.1", name, build)).join(",");
        assert_eq!(seen("player"), "Public", "{build:?}");
        assert_eq!(seen("gm"), "Public,Staff", "{build:?}");
        assert_eq!(seen("admin"), "Public,Staff,Admins", "{build:?}");
    }
}

#[test]
fn a_client_in_the_local_subnet_is_given_the_local_address() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            add(store, "Home", 0, Some(("192.168.1.10:8085", "127.0.0.0/8")));
            add(store, "Away", 0, Some(("10.0.0.5:8085", "10.0.0.0/8")));
            add(store, "Plain", 0, None);
        },
        |config| {
            config.limits.realm_list_interval_ms = 0;
            // 127.0.0.2 is a load balancer that names the player in a PROXY header.
            config.server.proxy_from = vec!["127.0.0.2/32".parse().unwrap()];
        },
    );
    let expected_here = [
        ("Home", "192.168.1.10:8085"),
        ("Away", "203.0.113.1:8089"),
        ("Plain", "203.0.113.1:8090"),
    ];
    for build in ClientBuild::ALL {
        let seen = seen_from(server.addr, "127.0.0.1", "alice", build);
        let seen: Vec<(&str, &str)> = seen.iter().map(|(n, a)| (n.as_str(), a.as_str())).collect();
        assert_eq!(seen, expected_here, "{build:?}");
    }

    // Behind the proxy, the player's address decides, not the proxy's.
    let behind_proxy = |player: &str| {
        let mut stream = connect_from("127.0.0.2", server.addr).unwrap();
        let header = format!(
            "PROXY TCP4 {player} {} 50000 {}\r\n",
            server.addr.ip(),
            server.addr.port()
        );
        stream.write_all(header.as_bytes()).unwrap();
        let client = LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT).unwrap();
        let mut logged_in = client.log_in("alice", "secret", None).unwrap();
        realms_of(&mut logged_in.client)
    };
    let seen = behind_proxy("10.9.8.7");
    assert_eq!(
        seen[0].1, "203.0.113.1:8089",
        "Home: 10.9.8.7 is not in 127/8"
    );
    assert_eq!(seen[1].1, "10.0.0.5:8085", "Away: 10.9.8.7 is in 10/8");
    let seen = behind_proxy("198.51.100.1");
    assert_eq!(seen[0].1, "203.0.113.1:8089");
    assert_eq!(seen[1].1, "203.0.113.1:8089");
}

fn refused(result: Result<impl Sized, ClientError>) -> LoginResult {
    match result {
        Err(ClientError::Refused { result, .. }) => result,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("logged in; expected a refusal"),
    }
}

/// gatehouse's own schema answers a logon from elsewhere as AzerothCore does: "locked
/// enforced" (0x10), and 1.12 clients, which do not know that code, "suspended".
#[test]
fn an_ip_locked_account_logs_on_only_from_its_last_address() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |_| {},
    );
    let log_in_from = |source: &str, build: ClientBuild| {
        let stream = connect_from(source, server.addr).unwrap();
        LogonClient::from_stream(stream, build, TIMEOUT)
            .map_err(ClientError::from)
            .and_then(|c| c.log_in("alice", "secret", None))
    };
    log_in_from("127.0.0.1", ClientBuild::WOTLK).expect("not locked yet");
    let alice = AccountName::parse(b"alice").unwrap();
    assert_eq!(
        server
            .store()
            .set_ip_lock(&alice, IpLockSetting::On)
            .unwrap(),
        Some("127.0.0.1".to_owned())
    );
    for (build, result) in [
        (ClientBuild::WOTLK, LoginResult::FailLockedEnforced),
        (ClientBuild::TBC, LoginResult::FailLockedEnforced),
        (ClientBuild::VANILLA, LoginResult::FailSuspended),
    ] {
        assert_eq!(
            refused(log_in_from("127.0.0.2", build)),
            result,
            "{build:?}"
        );
        log_in_from("127.0.0.1", build).expect("from its own address");
    }
    // The refusal is audited as such and is not a wrong password.
    let audit = server.store().recent_audit(2).unwrap();
    assert!(
        audit
            .iter()
            .any(|row| row.outcome == "ip_locked" && row.peer == "127.0.0.2"),
        "{audit:?}"
    );
    let listed = server.store().list_accounts().unwrap();
    assert_eq!(listed[0].failed_logins, 0);
    assert_eq!(listed[0].ip_lock.as_deref(), Some("127.0.0.1"));

    // Lifted: anywhere again.
    server
        .store()
        .set_ip_lock(&alice, IpLockSetting::Off)
        .unwrap();
    log_in_from("127.0.0.2", ClientBuild::WOTLK).expect("lock lifted");
}

/// `gatehouse account lock-ip`, as an operator runs it on the database of a running server.
#[test]
fn account_lock_ip_locks_to_the_last_logon_and_list_and_info_show_it() {
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "bob", "secret");
        },
        |_| {},
    );
    let db = server.db.to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--db", db.as_str()]);
        common::run_gatehouse(&all, "")
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let refused = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // Never logged on: no address to lock to. No such account: said so.
    let e = refused(&["account", "lock-ip", "alice"]);
    assert!(e.contains("never logged on"), "{e}");
    let e = refused(&["account", "lock-ip", "nobody", "on"]);
    assert!(e.contains("NOBODY"), "{e}");
    refused(&["account", "lock-ip", "alice", "maybe"]);

    let stream = connect_from("127.0.0.1", server.addr).unwrap();
    LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT)
        .unwrap()
        .log_in("alice", "secret", None)
        .unwrap();
    let out = ok(&["account", "lock-ip", "alice"]);
    assert_eq!(out.trim(), "ALICE may log on from 127.0.0.1 only");
    let list = ok(&["account", "list"]);
    assert!(list.lines().next().unwrap().contains("ip lock"), "{list}");
    let row = |list: &str, name: &str| -> String {
        list.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .to_owned()
    };
    assert!(row(&list, "ALICE").contains(" 127.0.0.1 "), "{list}");
    assert!(row(&list, "BOB").contains(" off "), "{list}");

    let e = refused_from(server.addr, "127.0.0.2");
    assert_eq!(e, LoginResult::FailLockedEnforced);

    let out = ok(&["account", "lock-ip", "alice", "off"]);
    assert_eq!(out.trim(), "ALICE may log on from any address");
    assert!(row(&ok(&["account", "list"]), "ALICE").contains(" off "));
    let stream = connect_from("127.0.0.2", server.addr).unwrap();
    LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT)
        .unwrap()
        .log_in("alice", "secret", None)
        .expect("lock lifted");
}

fn refused_from(server: SocketAddr, source: &str) -> LoginResult {
    let stream = connect_from(source, server).unwrap();
    refused(
        LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT)
            .map_err(ClientError::from)
            .and_then(|c| c.log_in("alice", "secret", None)),
    )
}
