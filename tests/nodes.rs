//! Several gatehouse nodes on one MariaDB database (issue 11 "Several nodes on one
//! database"): what one node writes, the other sees — accounts, bans, the session a reconnect
//! needs — and a world server linked to both takes a player's ticket exactly once.
//! Skipped, saying so, where no MariaDB is installed (unless GATEHOUSE_REQUIRE_MYSQL=1).

mod common;

use std::time::{Duration, Instant};

use common::mariadb::MariaDb;
use common::{TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::result::LoginResult;
use gatehouse::realms::link::client::Client;
use gatehouse::realms::link::LinkKey;
use gatehouse::store::mysql::MysqlStore;
use gatehouse::store::{NewRealm, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};

const SECRET: &[u8] = b"a long shared realm secret";

/// A node serving the database at `url`.
fn node(url: &str) -> TestServer {
    let url = url.to_owned();
    TestServer::start(
        |_| {},
        move |config| {
            config.store.url = Some(url);
            config.realms.refresh_secs = 1;
        },
    )
}

fn refused_as(result: Result<impl Sized, ClientError>, expected: LoginResult) {
    match result {
        Err(ClientError::Refused { result, .. }) => assert_eq!(result, expected),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("logged in; expected {expected:?}"),
    }
}

#[test]
fn two_nodes_share_accounts_bans_sessions_and_tickets() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let url = server.database();
    let realm = {
        let mut store = MysqlStore::open(&url).expect("open the shared database");
        gatehouse::admin::create_account(&mut store, "alice", "secret").unwrap();
        store
            .add_realm(&NewRealm {
                name: "Shared".into(),
                address: "127.0.0.1:8085".into(),
                realm_type: 0,
                flags: 0,
                timezone: 1,
                population: 0.0,
                builds: Vec::new(),
                link_key: Some(LinkKey::derive(SECRET)),
                allowed_level: 0,
                local: None,
            })
            .unwrap()
    };
    let a = node(&url);
    let b = node(&url);
    let build = ClientBuild::WOTLK;

    // An account created through node A's database is known to node B.
    let mut store = MysqlStore::open(&url).unwrap();
    gatehouse::admin::create_account(&mut store, "bob", "hunter2").unwrap();
    LogonClient::login(b.addr, build, "bob", "hunter2", TIMEOUT).unwrap();

    // A player who logged in on A reconnects on B.
    let logged = LogonClient::login(a.addr, build, "alice", "secret", TIMEOUT).unwrap();
    LogonClient::reconnect(b.addr, build, "alice", &logged.session_key, TIMEOUT).unwrap();

    // A world server linked to both takes the ticket from either, exactly once.
    let alice = AccountName::parse(b"alice").unwrap();
    let mut link_a = Client::connect(a.link, realm, SECRET, TIMEOUT).unwrap();
    let mut link_b = Client::connect(b.link, realm, SECRET, TIMEOUT).unwrap();
    let first = link_b.take_session(&alice).unwrap();
    let second = link_a.take_session(&alice).unwrap();
    assert!(first.is_some(), "the ticket is there for the first taker");
    assert!(second.is_none(), "and never for a second, on any node");

    // A ban made through node A's database is enforced on B at once (account bans are read
    // with the account); an IP ban within realms.refresh_secs.
    store
        .ban_account(&AccountName::parse(b"bob").unwrap(), None, "test")
        .unwrap();
    refused_as(
        LogonClient::login(b.addr, build, "bob", "hunter2", TIMEOUT),
        LoginResult::FailBanned,
    );
    store
        .ban_ip(&"127.0.0.0/8".parse().unwrap(), None, "test")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while LogonClient::login(b.addr, build, "alice", "secret", TIMEOUT).is_ok() {
        assert!(Instant::now() < deadline, "node B never applied the IP ban");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The database server goes down and comes back: meanwhile clients are answered "busy" (no
/// hang, no crash), and afterwards logons succeed again without a restart of gatehouse.
#[test]
fn a_database_outage_means_busy_then_recovery_by_itself() {
    let Some(mut server) = MariaDb::start() else {
        return;
    };
    let url = server.database();
    {
        let mut store = MysqlStore::open(&url).expect("open");
        gatehouse::admin::create_account(&mut store, "alice", "secret").unwrap();
    }
    let gatehouse = node(&url);
    let build = ClientBuild::WOTLK;
    LogonClient::login(gatehouse.addr, build, "alice", "secret", TIMEOUT).unwrap();
    server.restart(|| {
        for _ in 0..3 {
            let asked = Instant::now();
            refused_as(
                LogonClient::login(gatehouse.addr, build, "alice", "secret", TIMEOUT),
                LoginResult::FailDbBusy,
            );
            assert!(asked.elapsed() < TIMEOUT, "answered, not left hanging");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Err(e) = LogonClient::login(gatehouse.addr, build, "alice", "secret", TIMEOUT) {
        assert!(
            Instant::now() < deadline,
            "no logon after the database came back: {e}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// More than one core (issue 13): processes with `server.share_port` accept on one port, the
/// kernel spreading new connections over them; a process without it is refused the port.
/// In one test process the two daemons stand for two gatehouse processes (each has its own
/// SQLite file here, with the same account).
#[test]
fn daemons_that_share_the_port_each_get_a_share_of_the_logons() {
    let seed = |store: &mut gatehouse::store::SqliteStore| {
        common::account(store, "alice", "secret");
    };
    let first = TestServer::start(seed, |config| {
        config.server.share_port = true;
        config.link.listen = Vec::new();
    });
    let port = first.addr;
    let second = TestServer::start(seed, move |config| {
        config.server.share_port = true;
        config.server.listen = vec![port];
        config.link.listen = Vec::new();
    });
    assert_eq!(second.addr, port);
    for _ in 0..40 {
        LogonClient::login(port, ClientBuild::WOTLK, "alice", "secret", TIMEOUT)
            .expect("a logon on the shared port");
    }
    let (a, b) = (first.counters().logons_ok, second.counters().logons_ok);
    assert_eq!(a + b, 40);
    assert!(a > 0 && b > 0, "one daemon got every logon: {a} and {b}");

    // Without share_port the port is taken.
    let mut config = gatehouse::config::Config::default();
    config.server.listen = vec![port];
    config.link.listen = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    config.store.path = dir.path().join("g.db");
    match gatehouse::daemon::Daemon::start(config) {
        Err(e) => assert!(e.to_string().contains("cannot listen"), "{e}"),
        Ok(_) => panic!("a daemon without share_port bound a shared port"),
    }
}
