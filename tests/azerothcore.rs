//! gatehouse on an unchanged AzerothCore auth database (`--schema azerothcore`, issue 11):
//! accounts written the way AzerothCore's own tools write them log in, and what gatehouse
//! writes back (session key, last_ip, failed_logins, bans, gm levels) is in AzerothCore's
//! rows where its worldserver and tools read them. The tables come from the project's own
//! copy of AzerothCore's structures (tests/data/compat/azerothcore-auth.sql).
//! Skipped, saying so, where no MariaDB is installed (unless GATEHOUSE_REQUIRE_MYSQL=1).

mod common;

use common::mariadb::MariaDb;
use common::{run_gatehouse, TestServer, TIMEOUT};
use gatehouse::account::{AccountName, Password};
use gatehouse::protocol::result::LoginResult;
use gatehouse::realms::link::client::Client;
use gatehouse::realms::link::LinkKey;
use gatehouse::srp6::{compute_verifier, Salt};
use gatehouse::store::azerothcore::totp_master::TotpMasterSecret;
use gatehouse::store::{AzerothCoreStore, RealmRef, Schema, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};
use gatehouse::totp::{code_at, TotpKey, TotpSecret};

const TABLES: &str = include_str!("data/compat/azerothcore-auth.sql");
const SECRET: &[u8] = b"a long shared realm secret";

/// A fresh database holding the schema's tables and gatehouse's (as `gatehouse db init`
/// makes them): its URL and its name.
fn acore_auth(server: &MariaDb) -> (String, String) {
    let (url, db) = acore_auth_alone(server);
    AzerothCoreStore::init(&url, None, &gatehouse::store::DbTls::Off).expect("db init");
    (url, db)
}

/// A fresh database holding only AzerothCore's tables, as an operator's is before `db init`.
fn acore_auth_alone(server: &MariaDb) -> (String, String) {
    server.database_with(TABLES)
}

fn hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn name(s: &str) -> AccountName {
    AccountName::parse(s.as_bytes()).unwrap()
}

/// Inserts an account as AzerothCore's AccountMgr::CreateAccount does: upper-case username,
/// the salt's wire bytes and v as 32 little-endian bytes, both binary.
fn insert_account(server: &MariaDb, db: &str, user: &str, password: &str) -> i64 {
    let salt = Salt::random();
    let verifier = compute_verifier(
        &name(user),
        &Password::parse(password.as_bytes()).unwrap(),
        &salt,
    );
    sql(
        server,
        db,
        &format!(
            "INSERT INTO account (username, salt, verifier, reg_mail, email, joindate)
             VALUES ('{}', X'{}', X'{}', '', '', NOW()); SELECT LAST_INSERT_ID();",
            user.to_ascii_uppercase(),
            hex(&salt.0),
            hex(&verifier.0)
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
            config.store.schema = Schema::AzerothCore;
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
fn an_azerothcore_account_logs_in_and_its_session_key_is_where_the_worldserver_reads_it() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    let id = insert_account(server, &db, "alice", "secret");
    sql(
        server,
        &db,
        &format!("UPDATE account SET failed_logins = 2, last_ip = '10.9.9.9' WHERE id = {id}"),
    );
    sql(
        server,
        &db,
        "INSERT INTO realmlist (id, name, address, port, icon, flag, timezone, population,
                                gamebuild)
         VALUES (1, 'Azeroth', '10.0.0.7', 8086, 1, 32, 8, 0.5, 12340)",
    );
    sql(
        server,
        &db,
        &format!("INSERT INTO realmcharacters (realmid, acctid, numchars) VALUES (1, {id}, 3)"),
    );
    let gh = serve(&url, |_| {});

    let mut logged =
        LogonClient::login(gh.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT HEX(session_key), last_ip, failed_logins, last_login IS NOT NULL,
                    last_attempt_ip, locale, os
             FROM account WHERE id = {id}"
        ),
    );
    // The worldserver reads the key, the locale (enUS = 0) for its texts, os for its Warden.
    assert_eq!(
        row.trim_end(),
        format!(
            "{}\t127.0.0.1\t0\t1\t127.0.0.1\t0\tWin",
            hex(&logged.session_key.0)
        ),
        "AzerothCore's worldserver reads exactly the client's key"
    );

    // realmlist rows are the realm list: address:port, icon, flag, timezone, the count.
    let list = logged.client.realm_list().unwrap();
    assert_eq!(list.realms.len(), 1);
    let realm = &list.realms[0];
    assert_eq!(realm.name, "Azeroth");
    // The row's default localAddress/localSubnetMask (127.0.0.1, 255.255.255.0): a client on
    // 127.0.0.0/24 is given the local address, on the realm's port, as AzerothCore gives it.
    assert_eq!(realm.address, "127.0.0.1:8086");
    assert_eq!(realm.realm_type, 1);
    assert_eq!(realm.flags, 32);
    assert_eq!(realm.category, 8);
    assert_eq!(realm.characters, 3);
    assert_eq!(realm.realm_id, 1);

    // gamebuild is the realm's one build.
    let mut store = AzerothCoreStore::open(&url).unwrap();
    let realms = store.list_realms().unwrap();
    assert_eq!(
        realms[0].builds,
        vec![gatehouse::protocol::version::Build(12340)]
    );
}

#[test]
fn accounts_created_by_gatehouse_are_azerothcore_accounts_and_gm_levels_and_bans_apply() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    // Through the admin path, as `gatehouse account create --schema azerothcore` does.
    let mut store = AzerothCoreStore::open(&url).unwrap();
    gatehouse::admin::create_account(&mut store, "bob", "hunter2").unwrap();
    let row = sql(
        server,
        &db,
        "SELECT id, username, HEX(salt), HEX(verifier) FROM account WHERE username = 'BOB'",
    );
    let cols: Vec<&str> = row.trim_end().split('\t').collect();
    assert_eq!(
        cols[1], "BOB",
        "upper-case, as AzerothCore's AccountMgr writes it"
    );
    let salt: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&cols[2][2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let salt = Salt(salt.try_into().unwrap());
    let v = compute_verifier(&name("bob"), &Password::parse(b"hunter2").unwrap(), &salt);
    assert_eq!(
        cols[3],
        hex(&v.0),
        "v as 32 little-endian bytes of the stored salt"
    );
    let bob: i64 = cols[0].parse().unwrap();

    let carol = insert_account(server, &db, "carol", "pw");
    let dave = insert_account(server, &db, "dave", "pw");
    let erin = insert_account(server, &db, "erin", "pw");
    // gm level 2 on every realm, 3 on realm 1 only.
    sql(
        server,
        &db,
        &format!(
            "INSERT INTO account_access (id, gmlevel, RealmID) VALUES ({bob}, 2, -1), ({bob}, 3, 1);
             INSERT INTO account_banned (id, bandate, unbandate, bannedby, banreason, active)
               VALUES ({carol}, 1000, 1000, 'GM', 'permanent', 1),
                      ({dave}, UNIX_TIMESTAMP(), UNIX_TIMESTAMP() + 3600, 'GM', 'timed', 1),
                      ({erin}, 1000, 1000, 'GM', 'lifted', 0),
                      ({erin}, 2000, 2100, 'GM', 'over', 1);
             INSERT INTO realmlist (id, name, address, port, flag, gamebuild)
               VALUES (1, 'One', '127.0.0.1', 8085, 0, 12340), (2, 'Two', '127.0.0.1', 8086, 0, 12340)"
        ),
    );
    let bob_record = store.load_account(&name("bob")).unwrap().unwrap();
    assert_eq!(
        bob_record.security_level, 3,
        "the highest level on any realm"
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

    // The ticket over the realm link: taken once, with the realm's gm level.
    let logged = LogonClient::login(gh.addr, build, "bob", "hunter2", TIMEOUT).unwrap();
    let mut two = Client::connect(gh.link, gatehouse::values::RealmId(2), SECRET, TIMEOUT).unwrap();
    let mut one = Client::connect(gh.link, gatehouse::values::RealmId(1), SECRET, TIMEOUT).unwrap();
    let grant = two.take_session(&name("bob")).unwrap().expect("the ticket");
    assert_eq!(grant.session_key, logged.session_key);
    assert_eq!(
        grant.security_level, 2,
        "realm 2 gets the every-realm level"
    );
    assert!(
        one.take_session(&name("bob")).unwrap().is_none(),
        "taken once"
    );
    LogonClient::login(gh.addr, build, "bob", "hunter2", TIMEOUT).unwrap();
    let grant = one
        .take_session(&name("bob"))
        .unwrap()
        .expect("a new logon, a new ticket");
    assert_eq!(grant.security_level, 3);

    // gatehouse's bans are AzerothCore rows.
    store.ban_account(&name("erin"), None, "spam").unwrap();
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT unbandate = bandate, bannedby, banreason FROM account_banned
             WHERE id = {erin} AND active = 1 AND bandate > 2000"
        ),
    );
    assert_eq!(row.trim_end(), "1\tgatehouse\tspam");
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "erin", "pw", TIMEOUT)),
        LoginResult::FailBanned
    );
    store.unban_account(&name("erin")).unwrap();
    LogonClient::login(gh.addr, build, "erin", "pw", TIMEOUT).unwrap();
    store.set_security_level(&name("erin"), 1).unwrap();
    let row = sql(
        server,
        &db,
        &format!("SELECT gmlevel, RealmID FROM account_access WHERE id = {erin}"),
    );
    assert_eq!(row.trim_end(), "1\t-1");
}

#[test]
fn without_gatehouse_tables_wrong_passwords_lock_with_an_account_banned_row() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    // Before `gatehouse db init` there are no lockout rows: the lock is the schema's own.
    let (url, db) = acore_auth_alone(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |c| {
        c.lockout.account_attempts = 3;
        c.lockout.account_window_secs = 600;
        c.lockout.account_suspend_secs = 600;
    });
    let build = ClientBuild::WOTLK;
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
            "SELECT unbandate - bandate, active, bannedby FROM account_banned WHERE id = {id};
             SELECT failed_logins FROM account WHERE id = {id}"
        ),
    );
    assert_eq!(row, "600\t1\tgatehouse\n0\n");
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
    let (url, db) = acore_auth(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |c| {
        c.lockout.account_attempts = 3;
        c.lockout.account_window_secs = 600;
        c.lockout.account_suspend_secs = 600;
        c.limits.exempt = vec!["127.0.0.0/8".parse().unwrap()];
    });
    let build = ClientBuild::WOTLK;
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
            "SELECT COUNT(*) FROM account_banned WHERE id = {id};
             SELECT address, COALESCE(locked_until, 0) > 0 FROM gatehouse_login_addresses
             WHERE account_id = {id} ORDER BY address"
        ),
    );
    assert_eq!(rows, "0\n*\t1\n127.0.0.1\t0\n");
}
#[test]
fn ip_banned_rows_refuse_and_an_azerothcore_authenticator_is_never_skipped() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    insert_account(server, &db, "alice", "secret");
    let totp = insert_account(server, &db, "tina", "secret");
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET totp_secret = X'0102030405060708090A' WHERE id = {totp};
             INSERT INTO ip_banned (ip, bandate, unbandate, bannedby, banreason)
             VALUES ('127.0.0.2', 1000, 1000, 'GM', 'permanent'),
                    ('127.0.0.3', UNIX_TIMESTAMP(), UNIX_TIMESTAMP() + 3600, 'GM', 'timed'),
                    ('127.0.0.4', 1000, 2000, 'GM', 'over')"
        ),
    );
    let gh = serve(&url, |_| {});
    let build = ClientBuild::WOTLK;
    let login_from = |source: &str| {
        let stream = common::connect_from(source, gh.addr).unwrap();
        LogonClient::from_stream(stream, build, TIMEOUT)
            .map_err(ClientError::from)
            .and_then(|c| c.log_in("alice", "secret", None))
    };
    for banned in ["127.0.0.2", "127.0.0.3"] {
        assert!(login_from(banned).is_err(), "{banned} is banned");
    }
    login_from("127.0.0.4").expect("an ip ban that is over");

    // Right password, but an authenticator gatehouse cannot check (no totp.key here to hold
    // a raw secret): refused ("busy", as AzerothCore answers a secret it cannot open), never
    // let in on the password alone.
    assert_eq!(
        refused(LogonClient::login(
            gh.addr, build, "tina", "secret", TIMEOUT
        )),
        LoginResult::FailDbBusy
    );

    // gatehouse's IP bans are ip_banned rows.
    let mut store = AzerothCoreStore::open(&url).unwrap();
    store
        .ban_ip(&"10.1.2.3/32".parse().unwrap(), None, "flood")
        .unwrap();
    let row = sql(
        server,
        &db,
        "SELECT unbandate = bandate, banreason FROM ip_banned WHERE ip = '10.1.2.3'",
    );
    assert_eq!(row.trim_end(), "1\tflood");
    assert!(store
        .ban_ip(&"10.1.2.0/24".parse().unwrap(), None, "net")
        .is_err());
    assert!(store.unban_ip(&"10.1.2.3/32".parse().unwrap()).unwrap());
    assert!(!store.unban_ip(&"10.1.2.3/32".parse().unwrap()).unwrap());

    // gatehouse's console password has a gatehouse_ table of its own.
    assert_eq!(store.console_password().unwrap(), None);
    store.set_console_password("hash").unwrap();
    assert_eq!(store.console_password().unwrap().as_deref(), Some("hash"));
}

#[test]
fn an_azerothcore_authenticator_with_a_raw_secret_asks_for_its_token() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    let raw = insert_account(server, &db, "tina", "secret");
    // 20 bytes + IV (12) + tag (12): what an authserver with a TOTPMasterSecret writes.
    let sealed = insert_account(server, &db, "tom", "secret");
    let secret = [0x5Au8; 20];
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET totp_secret = X'{}' WHERE id = {raw};
             UPDATE account SET totp_secret = X'{}' WHERE id = {sealed}",
            hex(&secret),
            hex(&[7u8; 44])
        ),
    );
    let gh = serve(&url, |c| {
        c.totp.key = Some(TotpKey::from_hex(&"ab".repeat(32)).unwrap());
    });
    let build = ClientBuild::WOTLK;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = code_at(&TotpSecret::from_bytes(secret), now);
    LogonClient::login_with_token(gh.addr, build, "tina", "secret", Some(&token), TIMEOUT)
        .expect("password and token");
    // Without the token, or with a wrong one: refused like a wrong password.
    assert_eq!(
        refused(LogonClient::login(
            gh.addr, build, "tina", "secret", TIMEOUT
        )),
        LoginResult::FailUnknownAccount
    );
    let wrong = if token == "000000" {
        "111111"
    } else {
        "000000"
    };
    let wrong = refused(LogonClient::login_with_token(
        gh.addr,
        build,
        "tina",
        "secret",
        Some(wrong),
        TIMEOUT,
    ));
    assert_eq!(wrong, LoginResult::FailUnknownAccount);
    let failed = sql(
        server,
        &db,
        &format!("SELECT failed_logins FROM account WHERE id = {raw}"),
    );
    assert_eq!(
        failed.trim(),
        "2",
        "wrong tokens count like wrong passwords"
    );
    // A secret encrypted under AzerothCore's TOTPMasterSecret, with no
    // store.totp_master_secret to decrypt it: refused.
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

/// Encrypts `secret` as AzerothCore's authserver does under `TOTPMasterSecret = master_hex`:
/// AES-128-GCM, the key being the hex number as 16 little-endian bytes, stored as
/// ciphertext ‖ IV (12 bytes) ‖ tag (12 bytes).
fn encrypt_like_azerothcore(master_hex: &str, iv: [u8; 12], secret: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::consts::U12;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let mut key: Vec<u8> = (0..master_hex.len() / 2)
        .map(|i| u8::from_str_radix(&master_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    key.reverse();
    let cipher = aes_gcm::AesGcm::<aes_gcm::aes::Aes128, U12, U12>::new_from_slice(&key).unwrap();
    let mut data = secret.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&iv.into(), &[], data.as_mut_slice().into())
        .unwrap();
    data.extend_from_slice(&iv);
    data.extend_from_slice(&tag);
    data
}

#[test]
fn an_authenticator_encrypted_under_the_totp_master_secret_asks_for_its_token() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    const MASTER: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
    let secret = [0xC3u8; 20];
    let mia = insert_account(server, &db, "mia", "secret");
    // A raw secret in a database whose authserver has a TOTPMasterSecret is no secret it
    // could read either.
    let raw = insert_account(server, &db, "rob", "secret");
    sql(
        server,
        &db,
        &format!(
            "UPDATE account SET totp_secret = X'{}' WHERE id = {mia};
             UPDATE account SET totp_secret = X'{}' WHERE id = {raw}",
            hex(&encrypt_like_azerothcore(MASTER, [0x11; 12], &secret)),
            hex(&secret)
        ),
    );
    let serve_with = |master: &str| {
        let master = TotpMasterSecret::from_hex(master).unwrap();
        serve(&url, move |c| {
            c.totp.key = Some(TotpKey::from_hex(&"cd".repeat(32)).unwrap());
            c.store.totp_master_secret = Some(master);
        })
    };
    let gh = serve_with(MASTER);
    let build = ClientBuild::WOTLK;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = code_at(&TotpSecret::from_bytes(secret), now);
    LogonClient::login_with_token(gh.addr, build, "mia", "secret", Some(&token), TIMEOUT)
        .expect("password and the token of the decrypted secret");
    let wrong = if token == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        refused(LogonClient::login_with_token(
            gh.addr,
            build,
            "mia",
            "secret",
            Some(wrong),
            TIMEOUT
        )),
        LoginResult::FailUnknownAccount
    );
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "mia", "secret", TIMEOUT)),
        LoginResult::FailUnknownAccount,
        "no token"
    );
    assert_eq!(
        refused(LogonClient::login_with_token(
            gh.addr,
            build,
            "rob",
            "secret",
            Some(&token),
            TIMEOUT
        )),
        LoginResult::FailDbBusy
    );
    drop(gh);

    // Another master secret (one digit off, or the right bytes in the wrong order): the
    // secret does not decrypt, and the account is refused with the right token.
    let reversed: String = (0..16).rev().map(|i| &MASTER[2 * i..2 * i + 2]).collect();
    for master in ["0F1E2D3C4B5A69788796A5B4C3D2E1F1", reversed.as_str()] {
        let gh = serve_with(master);
        assert_eq!(
            refused(LogonClient::login_with_token(
                gh.addr,
                build,
                "mia",
                "secret",
                Some(&token),
                TIMEOUT
            )),
            LoginResult::FailDbBusy,
            "{master}"
        );
    }
}

#[test]
fn realms_added_by_gatehouse_are_realmlist_rows() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    let mut store = AzerothCoreStore::open(&url).unwrap();
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
    let id = store.add_realm(&realm("Northrend", vec![8606])).unwrap();
    assert_eq!(id, gatehouse::values::RealmId(1));
    let row = sql(
        server,
        &db,
        "SELECT id, name, address, port, icon, flag, timezone, population, gamebuild
         FROM realmlist",
    );
    assert_eq!(row, "1\tNorthrend\t10.0.0.5\t8090\t6\t64\t2\t1.5\t8606\n");
    assert!(matches!(
        store.add_realm(&realm("northrend", vec![])),
        Err(gatehouse::store::StoreError::DuplicateRealm(_))
    ));
    assert!(store
        .add_realm(&realm("Two builds", vec![8606, 12340]))
        .is_err());
    let id = store.add_realm(&realm("Default", vec![])).unwrap();
    let realms = store.list_realms().unwrap();
    assert_eq!(realms.len(), 2);
    assert_eq!(realms[1].id, id);
    assert_eq!(realms[1].address, "10.0.0.5:8090");
    assert_eq!(
        realms[1].builds,
        vec![gatehouse::protocol::version::Build(12340)],
        "realmlist.gamebuild needs one: 3.3.5a's"
    );
    store
        .remove_realm(&RealmRef::Name("NORTHREND".into()))
        .unwrap();
    assert_eq!(store.list_realms().unwrap().len(), 1);
    assert!(store
        .remove_realm(&RealmRef::Id(gatehouse::values::RealmId(1)))
        .is_err());
}

#[test]
fn the_command_line_creates_azerothcore_accounts_with_schema_azerothcore() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    let out = run_gatehouse(
        &[
            "account",
            "create",
            "frank",
            "--password-stdin",
            "--db",
            &url,
            "--schema",
            "azerothcore",
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
        "SELECT HEX(salt), HEX(verifier) FROM account WHERE username = 'FRANK'",
    );
    let (salt_hex, v_hex) = row.trim_end().split_once('\t').expect("one row");
    let salt: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&salt_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let v = compute_verifier(
        &name("frank"),
        &Password::parse(b"s3cret").unwrap(),
        &Salt(salt.try_into().unwrap()),
    );
    assert_eq!(v_hex, hex(&v.0));
    // gatehouse's own tables were not made in AzerothCore's database.
    let tables = sql(server, &db, "SHOW TABLES LIKE 'accounts'");
    assert_eq!(tables, "");

    // AzerothCore's tables are MySQL's: on an SQLite file the flag is one clear error.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.db");
    let out = run_gatehouse(
        &[
            "account",
            "list",
            "--db",
            file.to_str().unwrap(),
            "--schema",
            "azerothcore",
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
    // An operator's database as AzerothCore left it: gatehouse opens it and creates nothing.
    let (url, db) = acore_auth_alone(server);
    let id = insert_account(server, &db, "alice", "secret");
    insert_account(server, &db, "bob", "secret");
    sql(
        server,
        &db,
        "INSERT INTO realmlist (id, name, address, port, icon, flag, timezone, population,
                                gamebuild)
         VALUES (1, 'Azeroth', '10.0.0.7', 8086, 1, 0, 1, 0, 12340)",
    );
    let gh = serve(&url, |_| {});
    let build = ClientBuild::WOTLK;
    let mut logged = LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT).unwrap();
    assert_eq!(logged.client.realm_list().unwrap().realms.len(), 1);
    let key = sql(
        server,
        &db,
        &format!("SELECT HEX(session_key) FROM account WHERE id = {id}"),
    );
    assert_eq!(key.trim_end(), hex(&logged.session_key.0));
    // A reconnect is checked against the account's key, as AzerothCore's authserver does.
    LogonClient::reconnect(gh.addr, build, "alice", &logged.session_key, TIMEOUT).unwrap();
    // Wrong passwords still count in failed_logins.
    assert_eq!(
        refused(LogonClient::login(gh.addr, build, "bob", "wrong", TIMEOUT)),
        LoginResult::FailUnknownAccount
    );
    assert_eq!(
        sql(
            server,
            &db,
            "SELECT failed_logins FROM account WHERE username = 'BOB'"
        )
        .trim_end(),
        "1"
    );
    assert_eq!(sql(server, &db, "SHOW TABLES LIKE 'gatehouse%'"), "");

    // What needs gatehouse's tables says so, and says how to get them.
    let mut store = AzerothCoreStore::open(&url).unwrap();
    assert_eq!(
        store.features_off(),
        gatehouse::store::Feature::NEED_OWN_TABLES
    );
    let err = store.recent_audit(10).unwrap_err();
    assert!(err.to_string().contains("gatehouse db init"), "{err}");
    assert!(store.set_console_password("x").is_err());
    assert_eq!(store.console_password().unwrap(), None);
    assert!(store
        .set_realm_link_key(&RealmRef::Name("Azeroth".into()), &LinkKey::derive(SECRET))
        .is_err());
    drop(gh);

    // The daemon says once, at start, what is off and how to turn it on.
    let log = start_log(&url);
    let off: Vec<&String> = log.iter().filter(|l| l.contains("these are off")).collect();
    assert_eq!(off.len(), 1, "{log:#?}");
    assert!(
        off[0].contains("the login audit") && off[0].contains("gatehouse db init"),
        "{}",
        off[0]
    );

    // `gatehouse db init` makes them, once.
    let init = |expect: &str| {
        let out = run_gatehouse(&["db", "init", "--db", &url, "--schema", "azerothcore"], "");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(expect), "{stdout}");
    };
    init("created gatehouse's own tables");
    init("in place");
    let tables = sql(server, &db, "SHOW TABLES LIKE 'gatehouse%'");
    assert_eq!(tables.lines().count(), 9, "{tables}");
    let mut store = AzerothCoreStore::open(&url).unwrap();
    assert!(store.features_off().is_empty());
    let gh = serve(&url, |_| {});
    LogonClient::login(gh.addr, build, "alice", "secret", TIMEOUT).unwrap();
    let audit = store.recent_audit(10).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
}

/// What `gatehouse serve` on `url` logs up to "listening on"; then it is stopped.
fn start_log(url: &str) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, "[link]\nlisten = []\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--schema",
            "azerothcore",
            "--db",
            url,
        ])
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(TIMEOUT) {
        let done = line.contains("listening on ");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

/// AzerothCore's authserver: `account.locked` (any non-zero value) allows logons from
/// `last_ip` only and answers the others WOW_FAIL_LOCKED_ENFORCED (0x10; 1.12 clients, which
/// do not know that code, get 0x0C), before it looks at bans.
#[test]
fn a_locked_account_logs_in_only_from_its_last_ip() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    let id = insert_account(server, &db, "alice", "secret");
    let gh = serve(&url, |_| {});
    let lock = |locked: u8, last_ip: &str| {
        sql(
            server,
            &db,
            &format!("UPDATE account SET locked = {locked}, last_ip = '{last_ip}' WHERE id = {id}"),
        );
    };
    let login_from = |source: &str, build: ClientBuild| {
        let stream = common::connect_from(source, gh.addr).unwrap();
        LogonClient::from_stream(stream, build, TIMEOUT)
            .map_err(ClientError::from)
            .and_then(|c| c.log_in("alice", "secret", None))
    };

    lock(1, "127.0.0.1");
    LogonClient::login(gh.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT)
        .expect("from its own address");
    lock(2, "127.0.0.2");
    login_from("127.0.0.2", ClientBuild::WOTLK).expect("any non-zero locked, from last_ip");

    lock(1, "10.1.2.3");
    for (build, result) in [
        (ClientBuild::WOTLK, LoginResult::FailLockedEnforced),
        (ClientBuild::TBC, LoginResult::FailLockedEnforced),
        (ClientBuild::VANILLA, LoginResult::FailSuspended),
    ] {
        assert_eq!(
            refused(LogonClient::login(
                gh.addr, build, "alice", "secret", TIMEOUT
            )),
            result,
            "{build:?}"
        );
    }
    // The refusal is audited as such and is not a wrong password.
    let row = sql(
        server,
        &db,
        &format!(
            "SELECT outcome, peer_ip FROM gatehouse_login_audit WHERE account_id = {id}
             ORDER BY id DESC LIMIT 1;
             SELECT failed_logins, last_ip FROM account WHERE id = {id}"
        ),
    );
    assert_eq!(row, "ip_locked\t127.0.0.1\n0\t10.1.2.3\n");
    // Locked to text that is no address: nobody gets in, the account's own address neither.
    lock(1, "not-an-address");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr,
            ClientBuild::WOTLK,
            "alice",
            "secret",
            TIMEOUT
        )),
        LoginResult::FailLockedEnforced
    );
    // Before the bans: a banned account from elsewhere is told it is locked.
    sql(
        server,
        &db,
        &format!(
            "INSERT INTO account_banned (id, bandate, unbandate, bannedby, banreason, active)
             VALUES ({id}, 1000, 1000, 'GM', 'permanent', 1)"
        ),
    );
    lock(1, "10.1.2.3");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr,
            ClientBuild::WOTLK,
            "alice",
            "secret",
            TIMEOUT
        )),
        LoginResult::FailLockedEnforced
    );
    lock(0, "10.1.2.3");
    assert_eq!(
        refused(LogonClient::login(
            gh.addr,
            ClientBuild::WOTLK,
            "alice",
            "secret",
            TIMEOUT
        )),
        LoginResult::FailBanned,
        "unlocked: the ban answers"
    );
}

/// AzerothCore's authserver lists a realm whose `allowedSecurityLevel` is above the account's
/// level to it too, with the entry's lock byte set (it hides none); a realm whose `flag` is
/// exactly 3 it does not load at all.
#[test]
fn a_realm_above_the_accounts_security_level_is_listed_locked() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    insert_account(server, &db, "player", "pw");
    let gm = insert_account(server, &db, "gm", "pw");
    let mid = insert_account(server, &db, "mid", "pw");
    sql(
        server,
        &db,
        &format!(
            "INSERT INTO account_access (id, gmlevel, RealmID) VALUES ({gm}, 3, -1), ({mid}, 2, -1);
             INSERT INTO realmlist (id, name, address, port, flag, allowedSecurityLevel, gamebuild)
             VALUES (1, 'Open', '127.0.0.1', 8085, 0, 0, 12340),
                    (2, 'Staff', '127.0.0.1', 8086, 0, 3, 12340),
                    (3, 'Gone', '127.0.0.1', 8087, 3, 0, 12340),
                    (4, 'Invalid', '127.0.0.1', 8088, 1, 0, 12340)"
        ),
    );
    let gh = serve(&url, |_| {});
    for (user, staff_locked) in [("player", true), ("mid", true), ("gm", false)] {
        for build in [ClientBuild::WOTLK, ClientBuild::TBC] {
            let mut logged = LogonClient::login(gh.addr, build, user, "pw", TIMEOUT).unwrap();
            let list = logged.client.realm_list().unwrap();
            let seen: Vec<(&str, bool)> = list
                .realms
                .iter()
                .map(|r| (r.name.as_str(), r.locked))
                .collect();
            assert_eq!(
                seen,
                [("Open", false), ("Staff", staff_locked), ("Invalid", false)],
                "{user} {build:?}"
            );
        }
    }
}

/// Rows another tool wrote that gatehouse cannot use — a port of 0, an empty host, a ban on a
/// name — are left out (each with an error line naming it); the other realms and bans stay.
#[test]
fn bad_realmlist_and_ip_banned_rows_are_skipped_and_the_rest_served() {
    let Some(server) = MariaDb::shared() else {
        return;
    };
    let (url, db) = acore_auth(server);
    sql(
        server,
        &db,
        "INSERT INTO realmlist (id, name, address, port, gamebuild) VALUES
             (1, 'Good', '10.0.0.7', 8086, 12340),
             (2, 'NoPort', '10.0.0.8', 0, 12340),
             (3, 'NoHost', '', 8085, 12340);
         INSERT INTO ip_banned (ip, bandate, unbandate) VALUES
             ('10.1.2.3', 100, 100),
             ('localhost', 100, 100);",
    );
    let mut store = AzerothCoreStore::open(&url).unwrap();
    for realms in [store.load_realms().unwrap(), store.list_realms().unwrap()] {
        let names: Vec<&str> = realms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Good"]);
    }
    let bans = store.ip_bans(1000).unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].net, "10.1.2.3/32".parse::<ipnet::IpNet>().unwrap());
}
