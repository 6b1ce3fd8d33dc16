//! gatehouse on an unchanged CMaNGOS realmd database (`--schema cmangos`, issue 11): accounts
//! written the way CMaNGOS's own tools write them log in with 1.12.1, 2.4.3 and 3.3.5a, and
//! what gatehouse writes back (sessionkey, account_logons, failed_logins, bans, gm levels) is
//! in CMaNGOS's rows where its mangosd and tools read them. The tables come from the project's
//! own copy of CMaNGOS's structures (tests/data/compat/cmangos-realmd.sql).
//! Skipped, saying so, where no MariaDB is installed (unless GATEHOUSE_REQUIRE_MYSQL=1).

mod common;

use common::mariadb::MariaDb;
use common::{run_gatehouse, TestServer, TIMEOUT};
use gatehouse::account::{AccountName, Password};
use gatehouse::protocol::result::LoginResult;
use gatehouse::realms::link::client::Client;
use gatehouse::realms::link::LinkKey;
use gatehouse::srp6::{compute_verifier, Salt};
use gatehouse::store::bignum_hex::{from_bn_hex, salt_fits_cmangos, to_bn_hex};
use gatehouse::store::{CmangosStore, RealmRef, Schema, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};
use gatehouse::totp::{code_at, TotpKey, TotpSecret};

const TABLES: &str = include_str!("data/compat/cmangos-realmd.sql");
const SECRET: &[u8] = b"a long shared realm secret";

/// A fresh database holding the schema's tables and gatehouse's (as `gatehouse db init`
/// makes them): its URL and its name.
fn realmd(server: &MariaDb) -> (String, String) {
    let (url, db) = realmd_alone(server);
    CmangosStore::init(&url, None, &gatehouse::store::DbTls::Off).expect("db init");
    (url, db)
}

/// A fresh database holding only CMaNGOS's tables, as an operator's is before `db init`.
fn realmd_alone(server: &MariaDb) -> (String, String) {
    server.database_with(TABLES)
}

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
}

/// A random salt CMaNGOS's realmd can send (its last wire byte is not zero).
fn cmangos_salt() -> Salt {
    loop {
        let salt = Salt::random();
        if salt_fits_cmangos(&salt.0) {
            return salt;
        }
    }
}

/// Inserts an account as CMaNGOS's AccountMgr::CreateAccount does: upper-case username, s and
/// v as BN_bn2hex text of the little-endian numbers.
fn insert_account(server: &MariaDb, db: &str, user: &str, password: &str) -> i64 {
    let salt = cmangos_salt();
    let verifier = compute_verifier(
        &name(user),
        &Password::parse(password.as_bytes()).unwrap(),
        &salt,
    );
    sql(
        server,
        db,
        &format!(
            "INSERT INTO account (username, v, s, joindate) VALUES ('{}', '{}', '{}', NOW());
             SELECT LAST_INSERT_ID();",
            user.to_ascii_uppercase(),
            to_bn_hex(&verifier.0),
            to_bn_hex(&salt.0)
        ),
    )
    .trim()
    .parse()
    .unwrap()
}

fn sql(server: &MariaDb, db: &str, sql: &str) -> String {
    server.sql_in(db, sql)
}

fn serve(url: &str, configure: impl FnOnce(&mut gatehouse::config::Config)) -> TestServer {
    let url = url.to_owned();
    TestServer::start(
        |_| {},
        move |config| {
            config.store.url = Some(url);
            config.store.schema = Schema::Cmangos;
            configure(config);
        },
    )
}

fn refused(result: Result<impl Sized, ClientError>) -> LoginResult {
    match result {
        Err(ClientError::Refused { result, .. }) => result,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("logged in; expected a refusal"),
    }
}

#[test]
fn a_cmangos_account_logs_in_with_every_build_and_its_session_key_is_where_mangosd_reads_it() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let id = insert_account(server, &db, "alice", "secret");
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET failed_logins = 2 WHERE id = {id};
             INSERT INTO realmlist (id, name, address, port, icon, realmflags, timezone,
                                    population, realmbuilds)
             VALUES (1, 'Kalimdor', '10.0.0.7', 8086, 1, 32, 8, 0.5, '5875 8606 12340');
             INSERT INTO realmcharacters (realmid, acctid, numchars) VALUES (1, {id}, 3)"
        ),
    );
    let gh = serve(&url, |_| {});

    for build in ClientBuild::ALL {
        let mut logged = LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT)
            .unwrap_or_else(|e| panic!("{build:?}: {e}"));
        let row = sql(
            server,
            &db,
            &format!("SELECT sessionkey, failed_logins FROM account WHERE id = {id}"),
        );
        let (key, failed) = row.trim_end().split_once('\t').unwrap();
        assert_eq!(
            key,
            to_bn_hex(&logged.session_key.0),
            "{build:?}: BN_bn2hex of K"
        );
        assert_eq!(
            from_bn_hex::<40>(key).unwrap(),
            logged.session_key.0,
            "{build:?}: mangosd's BN_hex2bn gives the client's key back"
        );
        assert_eq!(failed, "0");
        let list = logged.client.realm_list().unwrap();
        assert_eq!(list.realms.len(), 1, "{build:?}: realmbuilds allows it");
        let realm = &list.realms[0];
        assert_eq!(realm.name, "Kalimdor");
        assert_eq!(realm.address, "10.0.0.7:8086");
        assert_eq!(realm.flags & 0x20, 0x20);
        assert_eq!(realm.characters, 3);
    }
    let logons = sql(
        server,
        &db,
        &format!(
            "SELECT COUNT(*), MIN(ip), MIN(loginSource) FROM account_logons WHERE accountId = {id}"
        ),
    );
    assert_eq!(logons.trim_end(), "3\t127.0.0.1\t0", "one row per logon");
    // What the challenge said of the client, as realmd writes it (mangosd picks Warden by os).
    let tags = sql(
        server,
        &db,
        &format!("SELECT locale, os, platform FROM account WHERE id = {id}"),
    );
    assert_eq!(tags.trim_end(), "enUS\tWin\tx86");

    // realmbuilds lists the realm's builds.
    sql(
        server,
        &db,
        "UPDATE realmlist SET realmbuilds = '12340' WHERE id = 1",
    );
    let mut store = CmangosStore::open(&url).unwrap();
    assert_eq!(
        store.list_realms().unwrap()[0].builds,
        vec![gatehouse::protocol::version::Build(12340)]
    );
}

#[test]
fn accounts_created_by_gatehouse_are_cmangos_accounts_and_gm_levels_and_bans_apply() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    // Through the admin path, as `gatehouse account create --schema cmangos` does.
    let mut store = CmangosStore::open(&url).unwrap();
    gatehouse::admin::create_account(&mut store, "bob", "hunter2").unwrap();
    let bob: i64 = sql(server, &db, "SELECT id FROM account WHERE username = 'BOB'")
        .trim()
        .parse()
        .unwrap();

    let carol = insert_account(server, &db, "carol", "pw");
    let dave = insert_account(server, &db, "dave", "pw");
    let erin = insert_account(server, &db, "erin", "pw");
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET gmlevel = 2 WHERE id = {bob};
             INSERT INTO account_banned (account_id, banned_at, expires_at, banned_by, reason, active)
               VALUES ({carol}, 1000, 1000, 'GM', 'permanent', 1),
                      ({dave}, UNIX_TIMESTAMP(), UNIX_TIMESTAMP() + 3600, 'GM', 'timed', 1),
                      ({erin}, 1000, 1000, 'GM', 'lifted', 0),
                      ({erin}, 2000, 2100, 'GM', 'over', 1);
             INSERT INTO realmlist (id, name, address, port, realmflags, realmbuilds)
               VALUES (1, 'One', '127.0.0.1', 8085, 0, '12340'),
                      (2, 'Two', '127.0.0.1', 8086, 0, '12340')"
        ),
    );
    assert_eq!(
        store
            .load_account(&name("bob"))
            .unwrap()
            .unwrap()
            .security_level,
        2
    );
    for realm in [1, 2] {
        store
            .set_realm_link_key(
                &RealmRef::Id(gatehouse::values::RealmId(realm)),
                &LinkKey::derive(SECRET),
            )
            .unwrap();
    }

    let gh = serve(&url, |_| {});
    let build = ClientBuild::WOTLK;
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "carol", "pw", TIMEOUT)),
        LoginResult::FailBanned
    );
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "dave", "pw", TIMEOUT)),
        LoginResult::FailSuspended
    );
    LogonClient::login(gh.addr, build, "erin", "pw", TIMEOUT)
        .expect("an inactive and an expired ban do not count");

    // The ticket over the realm link: taken once, with account.gmlevel.
    let logged = LogonClient::login(gh.addr, build, "bob", "hunter2", TIMEOUT).unwrap();
    let mut two = Client::connect(gh.link, gatehouse::values::RealmId(2), SECRET, TIMEOUT).unwrap();
    let mut one = Client::connect(gh.link, gatehouse::values::RealmId(1), SECRET, TIMEOUT).unwrap();
    let grant = two.take_session(&name("bob")).unwrap().expect("the ticket");
    assert_eq!(grant.session_key, logged.session_key);
    assert_eq!(grant.security_level, 2);
    assert!(
        one.take_session(&name("bob")).unwrap().is_none(),
        "taken once"
    );

    // gatehouse's bans are CMaNGOS rows; unbanning keeps the row, inactive, saying who.
    store.ban_account(&name("erin"), None, "spam").unwrap();
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT expires_at = banned_at, banned_by, reason FROM account_banned
             WHERE account_id = {erin} AND active = 1 AND banned_at > 2000"
        ),
    );
    assert_eq!(row.trim_end(), "1\tgatehouse\tspam");
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "erin", "pw", TIMEOUT)),
        LoginResult::FailBanned
    );
    store.unban_account(&name("erin")).unwrap();
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT COUNT(*) FROM account_banned WHERE account_id = {erin} AND active = 0
             AND unbanned_by = 'gatehouse' AND unbanned_at > 0"
        ),
    );
    assert_eq!(row.trim(), "2");
    LogonClient::login(gh.addr, build, "erin", "pw", TIMEOUT).unwrap();
    store.set_security_level(&name("erin"), 1).unwrap();
    let row = sql(
        server,
        &db,
        &format!("SELECT gmlevel FROM account WHERE id = {erin}"),
    );
    assert_eq!(row.trim(), "1");

    // gatehouse's IP bans are ip_banned rows, and ip_banned rows refuse.
    store
        .ban_ip(&"127.0.0.2/32".parse().unwrap(), None, "flood")
        .unwrap();
    let row = sql(
        server,
        &db,
        "SELECT expires_at = banned_at, reason FROM ip_banned WHERE ip = '127.0.0.2'",
    );
    assert_eq!(row.trim_end(), "1\tflood");
    let bans = store.ip_bans(0).unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].until, None);
    assert!(store.unban_ip(&"127.0.0.2/32".parse().unwrap()).unwrap());
    assert!(store
        .ban_ip(&"10.1.2.0/24".parse().unwrap(), None, "net")
        .is_err());

    // gatehouse's console password has a gatehouse_ table of its own.
    assert_eq!(store.console_password().unwrap(), None);
    store.set_console_password("hash").unwrap();
    assert_eq!(store.console_password().unwrap().as_deref(), Some("hash"));
}

#[test]
fn without_gatehouse_tables_wrong_passwords_lock_with_an_account_banned_row() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    // Before `gatehouse db init` there are no lockout rows: the lock is the schema's own.
    let (url, db) = realmd_alone(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |c| {
        c.lockout.account_attempts = 3;
        c.lockout.account_window_secs = 600;
        c.lockout.account_suspend_secs = 600;
    });
    let build = ClientBuild::TBC;
    for _ in 0..2 {
        refused(LogonClient::login(
            gh.addr, build, "alice", "guess", TIMEOUT,
        ));
    }
    let failed = sql(
        server,
        &db,
        &format!("SELECT failed_logins FROM account WHERE id = {id}"),
    );
    assert_eq!(failed.trim(), "2");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr, build, "alice", "guess", TIMEOUT
        )),
        LoginResult::FailSuspended
    );
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT expires_at - banned_at, active, banned_by FROM account_banned
             WHERE account_id = {id}"
        ),
    );
    assert_eq!(row, "600\t1\tgatehouse\n");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr, build, "alice", "secret", TIMEOUT
        )),
        LoginResult::FailSuspended
    );
}

#[test]
fn with_gatehouse_tables_strangers_lock_out_strangers_only_and_no_ban_is_written() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |c| {
        c.lockout.account_attempts = 3;
        c.lockout.account_window_secs = 600;
        c.lockout.account_suspend_secs = 600;
        c.limits.exempt = vec!["127.0.0.0/8".parse().unwrap()];
    });
    let build = ClientBuild::TBC;
    // Alice has logged in from 127.0.0.1 before.
    LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT).expect("alice logs in");
    let from = |source: &str, password: &str| {
        let stream = common::connect_from(source, gh.addr).expect("connect");
        LogonClient::from_stream(stream, build, TIMEOUT)
            .expect("client")
            .log_in("alice", password, None)
    };
    let guess = |source: &str| refused(from(source, "guess"));
    assert_eq!(guess("127.0.0.2"), LoginResult::FailUnknownAccount);
    assert_eq!(guess("127.0.0.3"), LoginResult::FailUnknownAccount);
    assert_eq!(guess("127.0.0.4"), LoginResult::FailSuspended);
    // Strangers are locked out; alice at her address is not.
    assert_eq!(
        refused(from("127.0.0.5", "secret")),
        LoginResult::FailSuspended
    );
    LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT)
        .expect("a known address is not locked out by strangers");
    let rows = sql(
        server,
        &db,
        &format!(
            "SELECT COUNT(*) FROM account_banned WHERE account_id = {id};
             SELECT address, COALESCE(locked_until, 0) > 0 FROM gatehouse_login_addresses
             WHERE account_id = {id} ORDER BY address"
        ),
    );
    assert_eq!(rows, "0\n*\t1\n127.0.0.1\t0\n");
}
#[test]
fn a_cmangos_token_is_asked_for_and_never_skipped() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let tina = insert_account(server, &db, "tina", "secret");
    let bad = insert_account(server, &db, "tom", "secret");
    let secret = [0x5Au8; 20];
    let base32 = totp_rs::Secret::new(secret.to_vec().into_boxed_slice()).to_base32();
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET token = '{base32}' WHERE id = {tina};
             UPDATE account SET token = 'not base32!' WHERE id = {bad}"
        ),
    );
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let token = code_at(&TotpSecret::from_bytes(secret), now());

    // Without a totp.key gatehouse cannot hold the secret: refused, even with the token.
    {
        let gh = serve(&url, |_| {});
        assert_eq!(
            refused(LogonClient::login_with_token(
                gh.addr,
                ClientBuild::WOTLK,
                "tina",
                "secret",
                Some(&token),
                TIMEOUT
            )),
            LoginResult::FailDbBusy
        );
    }

    let gh = serve(&url, |c| {
        c.totp.key = Some(TotpKey::from_hex(&"ab".repeat(32)).unwrap());
    });
    let build = ClientBuild::WOTLK;
    let token = code_at(&TotpSecret::from_bytes(secret), now());
    LogonClient::login_with_token(gh.addr, build, "tina", "secret", Some(&token), TIMEOUT)
        .expect("password and token");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr, build, "tina", "secret", TIMEOUT
        )),
        LoginResult::FailUnknownAccount,
        "no token: refused like a wrong password"
    );
    // 1.12.1 has no authenticator field: the password alone never lets it in.
    assert!(LogonClient::login(gh.addr, ClientBuild::VANILLA, "tina", "secret", TIMEOUT).is_err());
    // A token gatehouse cannot read: refused.
    assert_eq!(
        refused(LogonClient::login_with_token(
            gh.addr,
            build,
            "tom",
            "secret",
            Some(&token),
            TIMEOUT
        )),
        LoginResult::FailDbBusy
    );
}

#[test]
fn realms_added_by_gatehouse_are_realmlist_rows() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let mut store = CmangosStore::open(&url).unwrap();
    let realm = |name: &str, builds: Vec<u16>| gatehouse::store::NewRealm {
        name: name.into(),
        address: "10.0.0.5:8090".into(),
        realm_type: 6,
        flags: 0x40,
        timezone: 2,
        population: 1.5,
        builds: builds
            .into_iter()
            .map(gatehouse::protocol::version::Build)
            .collect(),
        link_key: None,
        allowed_level: 0,
        local: None,
    };
    let id = store
        .add_realm(&realm("Outland", vec![8606, 12340]))
        .unwrap();
    assert_eq!(id, gatehouse::values::RealmId(1));
    let row = sql(
        server,
        &db,
        "SELECT id, name, address, port, icon, realmflags, timezone, population, realmbuilds
         FROM realmlist",
    );
    assert_eq!(
        row,
        "1\tOutland\t10.0.0.5\t8090\t6\t64\t2\t1.5\t8606 12340\n"
    );
    let realms = store.list_realms().unwrap();
    assert_eq!(realms[0].builds.len(), 2);
    store
        .remove_realm(&RealmRef::Name("Outland".into()))
        .unwrap();
    assert!(store.list_realms().unwrap().is_empty());
}

#[test]
fn the_command_line_creates_cmangos_accounts_with_schema_cmangos() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let out = run_gatehouse(
        &[
            "account",
            "create",
            "frank",
            "--password-stdin",
            "--db",
            &url,
            "--schema",
            "cmangos",
        ],
        "s3cret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = sql(
        server,
        &db,
        "SELECT s, v FROM account WHERE username = 'FRANK'",
    );
    let (s, v) = row.trim_end().split_once('\t').expect("one row");
    for text in [s, v] {
        assert_eq!(text, text.to_ascii_uppercase(), "upper-case hex");
        // BN_bn2hex prints whole bytes, so a top byte below 0x10 starts with one '0' digit;
        // what it never prints is a leading zero byte.
        assert!(!text.starts_with("00"), "no leading zero bytes: {text}");
        assert_eq!(text.len() % 2, 0, "whole bytes: {text}");
    }
    assert_eq!(s.len(), 64, "the salt's top byte is not zero: {s}");
    let salt = Salt(from_bn_hex::<32>(s).unwrap());
    let verifier = compute_verifier(&name("frank"), &Password::parse(b"s3cret").unwrap(), &salt);
    assert_eq!(v, to_bn_hex(&verifier.0), "v recomputed from the stored s");
    let tables = sql(server, &db, "SHOW TABLES LIKE 'accounts'");
    assert_eq!(tables, "", "gatehouse's own tables were not made");
    let gh = serve(&url, |_| {});
    LogonClient::login(gh.addr, ClientBuild::VANILLA, "frank", "s3cret", TIMEOUT).unwrap();

    // CMaNGOS's tables are MySQL's: on an SQLite file the flag is one clear error.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.db");
    let out = run_gatehouse(
        &[
            "account",
            "list",
            "--db",
            file.to_str().unwrap(),
            "--schema",
            "cmangos",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("store.schema"), "{err}");
    assert!(!file.exists(), "no SQLite file was made");
}

#[test]
fn without_gatehouse_tables_players_log_in_and_db_init_makes_them() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    // A realmd database as CMaNGOS left it: gatehouse opens it and creates nothing.
    let (url, db) = realmd_alone(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |_| {});
    for build in [ClientBuild::VANILLA, ClientBuild::TBC, ClientBuild::WOTLK] {
        let logged = LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT).unwrap();
        let key = sql(
            server,
            &db,
            &format!("SELECT sessionkey FROM account WHERE id = {id}"),
        );
        assert_eq!(
            from_bn_hex::<40>(key.trim_end()).unwrap(),
            logged.session_key.0
        );
        // A reconnect is checked against account.sessionkey, as CMaNGOS's realmd does.
        LogonClient::reconnect(gh.addr, build, "alice", &logged.session_key, TIMEOUT).unwrap();
    }
    assert_eq!(
        refused(LogonClient::login(
            gh.addr,
            ClientBuild::WOTLK,
            "alice",
            "wrong",
            TIMEOUT
        )),
        LoginResult::FailUnknownAccount
    );
    assert_eq!(
        sql(
            server,
            &db,
            &format!("SELECT failed_logins FROM account WHERE id = {id}")
        )
        .trim_end(),
        "1"
    );
    assert_eq!(sql(server, &db, "SHOW TABLES LIKE 'gatehouse%'"), "");
    let mut store = CmangosStore::open(&url).unwrap();
    assert_eq!(
        store.features_off(),
        gatehouse::store::Feature::NEED_OWN_TABLES
    );
    assert!(store.recent_audit(10).is_err());
    drop(gh);

    let out = run_gatehouse(&["db", "init", "--db", &url, "--schema", "cmangos"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created"));
    let tables = sql(server, &db, "SHOW TABLES LIKE 'gatehouse%'");
    assert_eq!(tables.lines().count(), 9, "{tables}");
    assert!(CmangosStore::open(&url).unwrap().features_off().is_empty());
}

/// CMaNGOS's realmd: `account.locked = 1` (that value only) allows logons from `lockedIp`
/// only and answers the others AUTH_LOGON_FAILED_SUSPENDED (0x0C) on every build, before it
/// looks at bans.
#[test]
fn a_locked_account_logs_in_only_from_its_locked_ip() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |_| {});
    let lock = |locked: u8, ip: &str| {
        sql(
            server,
            &db,
            &format!("UPDATE account SET locked = {locked}, lockedIp = '{ip}' WHERE id = {id}"),
        );
    };
    let login_from = |source: &str, build: ClientBuild| {
        let stream = common::connect_from(source, gh.addr).unwrap();
        LogonClient::from_stream(stream, build, TIMEOUT)
            .map_err(ClientError::from)
            .and_then(|c| c.log_in("alice", "secret", None))
    };

    lock(1, "127.0.0.1");
    for build in ClientBuild::ALL {
        LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT)
            .unwrap_or_else(|e| panic!("{build:?}: from its own address: {e}"));
    }
    lock(1, "127.0.0.2");
    login_from("127.0.0.2", ClientBuild::WOTLK).expect("from lockedIp");
    assert_eq!(
        refused(login_from("127.0.0.1", ClientBuild::WOTLK)),
        LoginResult::FailSuspended
    );

    lock(1, "10.1.2.3");
    for build in ClientBuild::ALL {
        assert_eq!(
            refused(LogonClient::login(
                gh.addr, build, "alice", "secret", TIMEOUT
            )),
            LoginResult::FailSuspended,
            "{build:?}"
        );
    }
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT outcome FROM gatehouse_login_audit WHERE account_id = {id}
             ORDER BY id DESC LIMIT 1;
             SELECT failed_logins FROM account WHERE id = {id}"
        ),
    );
    assert_eq!(row, "ip_locked\n0\n");
    // Only locked = 1 locks, as in CMaNGOS.
    lock(2, "10.1.2.3");
    LogonClient::login(gh.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT)
        .expect("locked = 2 is not locked for CMaNGOS");
    // Locked to text that is no address, or to the default 0.0.0.0: nobody gets in.
    for ip in ["junk", "0.0.0.0", ""] {
        lock(1, ip);
        assert_eq!(
            refused(LogonClient::login(
                gh.addr,
                ClientBuild::TBC,
                "alice",
                "secret",
                TIMEOUT
            )),
            LoginResult::FailSuspended,
            "{ip:?}"
        );
    }
}

/// CMaNGOS's realmd does not list a realm with an `allowedSecurityLevel` to player accounts
/// (gmlevel 0); to other accounts below its level it lists it locked (2.4.3/3.3.5a: the lock
/// byte; 1.12: offline). A realm flagged invalid (`realmflags & 0x01`) it lists to nobody.
#[test]
fn a_realm_with_an_allowed_security_level_is_hidden_from_players_and_locked_below_it() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    insert_account(server, &db, "player", "pw");
    let mid = insert_account(server, &db, "mid", "pw");
    let gm = insert_account(server, &db, "gm", "pw");
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET gmlevel = 1 WHERE id = {mid};
             UPDATE account SET gmlevel = 3 WHERE id = {gm};
             INSERT INTO realmlist (id, name, address, port, realmflags, allowedSecurityLevel,
                                    realmbuilds)
             VALUES (1, 'Open', '127.0.0.1', 8085, 0, 0, '5875 8606 12340'),
                    (2, 'Staff', '127.0.0.1', 8086, 0, 3, '5875 8606 12340'),
                    (3, 'Invalid', '127.0.0.1', 8087, 1, 0, '5875 8606 12340'),
                    (4, 'InvalidOffline', '127.0.0.1', 8088, 3, 0, '5875 8606 12340')"
        ),
    );
    let gh = serve(&url, |_| {});
    for build in ClientBuild::ALL {
        let vanilla = build == ClientBuild::VANILLA;
        for (user, expected) in [
            ("player", &[("Open", false)][..]),
            ("mid", &[("Open", false), ("Staff", true)][..]),
            ("gm", &[("Open", false), ("Staff", false)][..]),
        ] {
            let mut logged = LogonClient::login(gh.addr, build, user, "pw", TIMEOUT).unwrap();
            let list = logged.client.realm_list().unwrap();
            let seen: Vec<(&str, bool)> = list
                .realms
                .iter()
                .map(|r| {
                    let offline = r.flags & 0x02 != 0;
                    if vanilla {
                        assert!(!r.locked);
                        (r.name.as_str(), offline)
                    } else {
                        assert!(!offline, "{user} {build:?} {}", r.name);
                        (r.name.as_str(), r.locked)
                    }
                })
                .collect();
            assert_eq!(seen, expected, "{user} {build:?}");
        }
    }
}

/// Rows another tool wrote that gatehouse cannot use — a build list that is not numbers, a
/// negative port, an empty host, a ban on a name — are left out (each with an error line
/// naming it); the other realms and bans stay, and the daemon serves them.
#[test]
fn bad_realmlist_and_ip_banned_rows_are_skipped_and_the_rest_served() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = realmd(server);
    let id = insert_account(server, &db, "alice", "secret");
    sql(
        server,
        &db,
        "INSERT INTO realmlist (id, name, address, port, realmflags, population, realmbuilds)
         VALUES
             (1, 'Good', '10.0.0.7', 8086, 0, 0.5, '12340'),
             (2, 'Builds', '10.0.0.8', 8086, 0, 0.5, '12340 three'),
             (3, 'Port', '10.0.0.9', -1, 0, 0.5, ''),
             (4, 'NoHost', '', 8086, 0, 0.5, '');
         INSERT INTO ip_banned (ip, banned_at, expires_at) VALUES
             ('127.0.0.9', 100, 100),
             ('localhost', 100, 100);",
    );
    let mut store = CmangosStore::open(&url).unwrap();
    for realms in [store.load_realms().unwrap(), store.list_realms().unwrap()] {
        let names: Vec<&str> = realms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Good"]);
    }
    let bans = store.ip_bans(1000).unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");

    // The daemon starts on it, lists the good realm and refuses the banned address.
    let gh = serve(&url, |config| config.limits.exempt = Vec::new());
    let mut logged = LogonClient::login(gh.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT)
        .unwrap_or_else(|e| panic!("account {id}: {e}"));
    let list = logged.client.realm_list().unwrap();
    let names: Vec<&str> = list.realms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Good"]);
    let banned = common::connect_from("127.0.0.9", gh.addr).unwrap();
    let mut banned = LogonClient::from_stream(banned, ClientBuild::WOTLK, TIMEOUT).unwrap();
    assert!(banned.is_closed_by_server(TIMEOUT), "127.0.0.9 is banned");
}
