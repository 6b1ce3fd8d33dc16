//! The debug console over a real TCP socket, as `telnet` or `nc` would use it: login first
//! (three strikes), telnet negotiation bytes tolerated, and every command; logins held to the
//! account's standing, the account and address lockouts, the authenticator and the audit.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{account, connect_from, realm, TestServer, TIMEOUT};
use gatehouse::account::{AccountId, AccountName};
use gatehouse::config::Config;
use gatehouse::policy::RefusalReason;
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::{AuditRow, LockoutStanding, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LoggedIn, LogonClient};
use gatehouse::totp::{code_at, TotpKey, TotpSecret};

const CONSOLE_PASSWORD: &str = "console secret";
const ADMIN_PASSWORD: &str = "adminpw";

fn server() -> TestServer {
    server_with(|_| {}, |_| {})
}

/// ALICE (a player, "secret"), ADMIN (level 3, "adminpw"), a realm and the console password;
/// then `seed` and `configure`.
fn server_with(
    seed: impl FnOnce(&mut SqliteStore),
    configure: impl FnOnce(&mut Config),
) -> TestServer {
    TestServer::start(
        |store| {
            account(store, "alice", "secret");
            admin(store, "admin", ADMIN_PASSWORD);
            realm(store, "Azeroth", "127.0.0.1:8085", &[]);
            let hash = gatehouse::admin::hash_console_password(CONSOLE_PASSWORD).unwrap();
            store.set_console_password(&hash).unwrap();
            seed(store);
        },
        |config| {
            config.console.listen = vec!["127.0.0.1:0".parse().unwrap()];
            configure(config);
        },
    )
}

/// An account of the console's security level.
fn admin(store: &mut SqliteStore, name: &str, password: &str) -> AccountId {
    let id = account(store, name, password);
    store
        .set_security_level(&AccountName::parse(name.as_bytes()).unwrap(), 3)
        .unwrap();
    id
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The console logins' audit rows, newest first.
fn console_audit(server: &TestServer) -> Vec<AuditRow> {
    server
        .store()
        .recent_audit(500)
        .unwrap()
        .into_iter()
        .filter(|row| row.outcome.starts_with("console_"))
        .collect()
}

fn outcomes(rows: &[AuditRow]) -> Vec<&str> {
    rows.iter().map(|row| row.outcome.as_str()).collect()
}

/// How a login attempt on the console ended, as the person typing sees it.
#[derive(Debug, PartialEq, Eq)]
enum End {
    LoggedIn,
    Failed,
}

struct Console {
    stream: TcpStream,
    seen: String,
}

impl Console {
    fn connect(addr: SocketAddr) -> Console {
        Console::over(TcpStream::connect_timeout(&addr, TIMEOUT).unwrap())
    }

    fn over(stream: TcpStream) -> Console {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Console {
            stream,
            seen: String::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn line(&mut self, text: &str) {
        self.send(format!("{text}\r\n").as_bytes());
    }

    /// Reads until `needle` appears in what arrived since the last call; returns that text.
    fn expect(&mut self, needle: &str) -> String {
        self.expect_any(&[needle]).1
    }

    /// Reads until one of `needles` appears; which one came first, and the text up to it.
    fn expect_any(&mut self, needles: &[&str]) -> (usize, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            let first = needles
                .iter()
                .enumerate()
                .filter_map(|(i, n)| self.seen.find(n).map(|at| (at, i, n.len())))
                .min();
            if let Some((at, i, len)) = first {
                let rest = self.seen.split_off(at + len);
                return (i, std::mem::replace(&mut self.seen, rest));
            }
            assert!(
                Instant::now() < deadline,
                "none of {needles:?} in {:?}",
                self.seen
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("closed while waiting for {needles:?}; got {:?}", self.seen),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
    }

    fn closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }

    /// Whether the server hung up within a few seconds (a read timeout is not a hang-up).
    fn hung_up(&mut self) -> bool {
        common::hung_up(&mut self.stream, Duration::from_secs(5))
    }

    fn login(addr: SocketAddr, user: &str, password: &str) -> Console {
        Console::connect(addr).log_in(user, password)
    }

    fn log_in(mut self, user: &str, password: &str) -> Console {
        let c = &mut self;
        c.expect("user");
        c.line(user);
        c.expect("password: ");
        c.line(password);
        c.expect("logged in");
        c.expect("gatehouse> ");
        self
    }

    /// Types a user name and a password at the user prompt.
    fn type_credentials(&mut self, user: &str, password: &str) {
        self.expect("user");
        self.line(user);
        self.expect("password: ");
        self.line(password);
    }

    /// How the login just typed ended.
    fn end(&mut self) -> End {
        match self.expect_any(&["logged in as", "login failed"]).0 {
            0 => End::LoggedIn,
            _ => End::Failed,
        }
    }

    /// A whole login without an authenticator: user, password, and how it ended.
    fn attempt(&mut self, user: &str, password: &str) -> End {
        self.type_credentials(user, password);
        self.end()
    }

    fn run(&mut self, command: &str) -> String {
        self.line(command);
        self.expect("gatehouse> ")
    }
}

#[test]
fn nothing_runs_before_login_and_three_wrong_passwords_close() {
    let server = server();
    let mut c = Console::connect(server.console.unwrap());
    c.expect("user");
    // A command typed at the user prompt is just a user name.
    c.line("stats");
    c.expect("password: ");
    c.line("wrong");
    let text = c.expect("login failed");
    assert!(!text.contains("uptime"));
    c.expect("user");
    c.line("");
    c.line("still wrong");
    c.expect("login failed");
    c.line("admin");
    c.line("not the admin password");
    c.expect("goodbye");
    assert!(c.closed());
    // An account below the admin level cannot log in even with its right password.
    let mut c = Console::connect(server.console.unwrap());
    c.expect("user");
    c.line("alice");
    c.line("secret");
    c.expect("login failed");
}

#[test]
fn every_command_works_over_a_telnet_connection() {
    let server = server();
    let console = server.console.unwrap();
    let mut c = Console::connect(console);
    // What `telnet` sends at connect: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, subnegotiation.
    c.send(&[
        255, 253, 3, 255, 251, 24, 255, 250, 24, 0, b'x', b't', 255, 240,
    ]);
    c.expect("user");
    c.line("");
    let prompt = c.expect("password: ");
    assert!(
        prompt.as_bytes().windows(3).any(|w| w == [255, 251, 1]) || prompt.contains('\u{FFFD}')
    );
    c.line(CONSOLE_PASSWORD);
    c.expect("logged in as console");
    c.expect("gatehouse> ");

    assert!(c.run("help").contains("account create"));
    let mut game =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    let stats = c.run("stats");
    for part in [
        "uptime",
        "connections",
        "success",
        "loop",
        "store",
        "realms",
        "session takes",
    ] {
        assert!(stats.contains(part), "{part} missing from {stats}");
    }
    let conns = c.run("conns");
    assert!(
        conns.contains("ALICE") && conns.contains("WorldSelect"),
        "{conns}"
    );
    assert!(c.run("realms").contains("Azeroth"));
    assert!(c.run("kick alice").contains("kicked 1"));
    assert!(game.client.is_closed_by_server(TIMEOUT));

    assert!(c
        .run("account create bob hunter22")
        .contains("created account BOB"));
    assert!(c.run("account create bob again").contains("already exists"));
    LogonClient::login(
        server.addr,
        ClientBuild::VANILLA,
        "bob",
        "hunter22",
        TIMEOUT,
    )
    .unwrap();
    assert!(c
        .run("account passwd bob hunter33")
        .contains("password changed"));
    LogonClient::login(
        server.addr,
        ClientBuild::VANILLA,
        "bob",
        "hunter33",
        TIMEOUT,
    )
    .unwrap();
    assert!(c.run("account ban bob").contains("banned"));
    match LogonClient::login(server.addr, ClientBuild::TBC, "bob", "hunter33", TIMEOUT) {
        Err(ClientError::Refused {
            result: LoginResult::FailBanned,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    // Times and standings in words, as the CLI prints them: not a unix time, not a Rust value.
    let suspended = c.run("account ban bob 1h");
    assert!(
        suspended.contains("suspended until 20") && suspended.contains(" UTC"),
        "{suspended}"
    );
    // (The ban without an end is still in force beside the suspension.)
    let info = c.run("account info bob");
    assert!(info.contains("BOB #3: banned,"), "{info}");
    assert!(c.run("account unban bob").contains("unbanned"));
    // A ban so long that its end wrapped to 1970 and was not in force: refused instead.
    let long = c.run("account ban bob 292471208678years");
    assert!(long.contains("longer than 100 years"), "{long}");
    assert!(c
        .run("ban ip 10.9.9.9 292471208678years")
        .contains("longer than 100 years"));
    LogonClient::login(server.addr, ClientBuild::TBC, "bob", "hunter33", TIMEOUT).unwrap();
    let info = c.run("account info bob");
    assert!(
        info.contains(": active,") && info.contains(" UTC from 127.0.0.1"),
        "{info}"
    );
    assert!(c.run("account info nobody").contains("no account"));
    // The IP lock: to the last logon's address, shown by `account info`, and lifted.
    let locked = c.run("account lock-ip bob");
    assert!(
        locked.contains("BOB may log on from 127.0.0.1 only"),
        "{locked}"
    );
    let info = c.run("account info bob");
    assert!(info.contains("IP-locked to 127.0.0.1"), "{info}");
    assert!(c
        .run("account lock-ip bob off")
        .contains("from any address"));
    assert!(c.run("account info bob").contains("not IP-locked"));
    assert!(c.run("account lock-ip nobody").contains("no account"));
    // Character counts, as a world server would report them: the next logon's list shows them.
    let set = c.run("account characters alice Azeroth 3");
    assert!(set.contains("ALICE has 3 characters"), "{set}");
    let mut shown =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    assert_eq!(shown.client.realm_list().unwrap().realms[0].characters, 3);
    assert!(c
        .run("account characters alice Nowhere 1")
        .contains("no such realm"));
    assert!(c
        .run("account characters nobody 1 1")
        .contains("no account"));
    assert!(c.run("account characters alice 1 300").contains("0-255"));

    assert!(c.run("ban ip 127.0.0.0/8 1h").contains("banned"));
    let mut refused = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    assert!(
        refused.is_closed_by_server(TIMEOUT),
        "a banned address was served"
    );
    assert!(c.run("unban ip 127.0.0.0/8").contains("unbanned"));
    LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    assert!(c.run("unban ip 10.1.2.3").contains("was not banned"));

    assert!(c.run("loglevel debug").to_lowercase().contains("debug"));
    assert!(c.run("reload").contains("no --config"));
    assert!(c.run("frobnicate").contains("unknown command"));
    c.line("quit");
    c.expect("bye");
    assert!(c.closed());

    // An admin account may log in too; shutdown stops the server.
    let mut admin = Console::login(console, "admin", "adminpw");
    admin.line("shutdown");
    admin.expect("shutting down");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&server.addr, TIMEOUT).is_ok()
        && LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).is_ok()
    {
        assert!(Instant::now() < deadline, "still serving after shutdown");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything the console changed was committed.
    let bob = server
        .store()
        .load_account(&AccountName::parse(b"bob").unwrap())
        .unwrap();
    assert!(bob.is_some());
}

/// Connections that never log in cannot lock the operator out: a few per address, and when
/// the console's slots are full the oldest one that has not logged in makes room.
#[test]
fn idle_unauthenticated_consoles_cannot_lock_the_operator_out() {
    let server = server();
    let console = server.console.unwrap();
    let idle_from = |source: &str| {
        let mut c = Console::over(connect_from(source, console).unwrap());
        c.expect("user");
        c
    };
    // Four idle consoles from one address; the fifth from there is closed at accept.
    let mut idle: Vec<Console> = (0..4).map(|_| idle_from("127.0.0.1")).collect();
    let mut fifth = Console::over(connect_from("127.0.0.1", console).unwrap());
    assert!(
        fifth.hung_up(),
        "a fifth unauthenticated console from one address"
    );
    // Idle ones from more addresses fill every slot...
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        idle.extend((0..4).map(|_| idle_from(source)));
    }
    assert_eq!(idle.len(), 16);
    // ...and the operator still gets in: the oldest idle one made room.
    let mut operator =
        Console::over(connect_from("127.0.0.9", console).unwrap()).log_in("", CONSOLE_PASSWORD);
    assert!(operator.run("stats").contains("connections"));
    assert!(idle[0].hung_up(), "the oldest idle console was closed");
    assert!(!idle[15].hung_up(), "the newest idle console is still open");
}

/// A telnet subnegotiation that never ends is cut off like an over-long line, not buffered.
#[test]
fn an_unterminated_subnegotiation_closes_the_console() {
    let server = server();
    let mut c = Console::connect(server.console.unwrap());
    c.expect("user");
    let mut flood = vec![255u8, 250, 24];
    flood.extend(std::iter::repeat_n(b'x', 2000));
    // The server may close before it has read everything.
    let _ = c.stream.write_all(&flood);
    assert!(c.hung_up());
}

/// Console login as an account from a fresh connection from 127.0.0.1.
fn console_attempt(server: &TestServer, user: &str, password: &str) -> End {
    Console::connect(server.console.unwrap()).attempt(user, password)
}

fn game_login(server: &TestServer, name: &str, password: &str) -> Result<LoggedIn, ClientError> {
    LogonClient::login(server.addr, ClientBuild::WOTLK, name, password, TIMEOUT)
}

fn game_login_from(
    source: &str,
    server: &TestServer,
    name: &str,
    password: &str,
) -> Result<LoggedIn, ClientError> {
    let stream = connect_from(source, server.addr)?;
    LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT)?.log_in(name, password, None)
}

fn refused_with(result: Result<LoggedIn, ClientError>) -> LoginResult {
    match result {
        Err(ClientError::Refused { result, .. }) => result,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a logon"),
    }
}

/// A banned or suspended admin account is refused with its right password, exactly like a
/// wrong one to the person typing; the log and the audit say why.
#[test]
fn banned_and_suspended_admin_accounts_cannot_log_into_the_console() {
    let server = server_with(
        |store| {
            admin(store, "banned", "bannedpw");
            admin(store, "suspended", "suspendedpw");
            store
                .ban_account(&AccountName::parse(b"banned").unwrap(), None, "test")
                .unwrap();
            store
                .ban_account(
                    &AccountName::parse(b"suspended").unwrap(),
                    Some(unix_now() + 3600),
                    "test",
                )
                .unwrap();
        },
        |_| {},
    );
    assert_eq!(console_attempt(&server, "banned", "bannedpw"), End::Failed);
    assert_eq!(
        console_attempt(&server, "suspended", "suspendedpw"),
        End::Failed
    );
    // A wrong password for a banned account looks just the same.
    assert_eq!(console_attempt(&server, "banned", "guess"), End::Failed);
    assert_eq!(
        console_attempt(&server, "admin", ADMIN_PASSWORD),
        End::LoggedIn
    );

    let rows = console_audit(&server);
    assert_eq!(
        outcomes(&rows),
        [
            "console_success",
            "console_banned",
            "console_suspended",
            "console_banned"
        ],
        "{rows:?}"
    );
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ADMIN", "BANNED", "SUSPENDED", "BANNED"]);
    assert!(rows
        .iter()
        .all(|r| r.account.is_some() && r.peer == "127.0.0.1"));
}

/// Wrong passwords typed at the console count towards the account lockout the game's do: the
/// address is locked out of the account, for the console and for game logons alike.
#[test]
fn wrong_console_passwords_lock_the_account_for_game_logons_too() {
    let server = server_with(|_| {}, |config| config.lockout.account_attempts = 3);
    let mut c = Console::connect(server.console.unwrap());
    assert_eq!(c.attempt("admin", "guess one"), End::Failed);
    assert_eq!(c.attempt("admin", "guess two"), End::Failed);
    assert_eq!(c.attempt("admin", "guess three"), End::Failed);
    c.expect("goodbye");
    assert!(c.closed());

    // The lock is the account lockout's for addresses that never logged into the account
    // (store::lockout), this one among them.
    let name = AccountName::parse(b"admin").unwrap();
    let record = server.store().load_account(&name).unwrap().unwrap();
    let lockout = server
        .store()
        .lockout_standing(record.id, "127.0.0.1".parse().unwrap(), unix_now())
        .unwrap();
    assert!(
        matches!(lockout, LockoutStanding::LockedOut { until, .. } if until > unix_now()),
        "{lockout:?}"
    );
    assert_eq!(
        refused_with(game_login(&server, "admin", ADMIN_PASSWORD)),
        LoginResult::FailSuspended
    );
    // The right password at the console meets the same suspension.
    assert_eq!(
        console_attempt(&server, "admin", ADMIN_PASSWORD),
        End::Failed
    );
    assert_eq!(
        outcomes(&console_audit(&server)),
        [
            "console_suspended",
            "console_wrong_password",
            "console_wrong_password",
            "console_wrong_password"
        ]
    );
    // Lifting the lock lets both in again.
    server.store().unban_account(&name).unwrap();
    game_login(&server, "admin", ADMIN_PASSWORD).unwrap();
    assert_eq!(
        console_attempt(&server, "admin", ADMIN_PASSWORD),
        End::LoggedIn
    );
}

/// Wrong console passwords (no user, so no account) count towards the address lockout, and
/// are audited; a locked address is refused before the store or any hashing, and its game
/// logons are refused too.
#[test]
fn console_password_failures_count_against_the_address_and_are_audited() {
    let server = server_with(|_| {}, |config| config.lockout.address_attempts = 2);
    let console = server.console.unwrap();
    let mut c = Console::over(connect_from("127.0.0.2", console).unwrap());
    assert_eq!(c.attempt("", "not it"), End::Failed);
    assert_eq!(c.attempt("", "not it either"), End::Failed);
    let rows = console_audit(&server);
    assert_eq!(
        outcomes(&rows),
        ["console_wrong_password", "console_wrong_password"]
    );
    for row in &rows {
        assert_eq!(row.account, None);
        assert_eq!(row.name, "(CONSOLE)");
        assert_eq!(row.peer, "127.0.0.2");
    }
    // The address is locked now: even the right password fails, with no store work at all.
    assert_eq!(c.attempt("", CONSOLE_PASSWORD), End::Failed);
    assert_eq!(console_audit(&server).len(), 2);
    assert!(server.counters().refused_for(RefusalReason::AddressLocked) >= 1);
    // The game's logons from there meet the same lock; other addresses do not.
    assert_eq!(
        refused_with(game_login_from("127.0.0.2", &server, "alice", "secret")),
        LoginResult::FailSuspended
    );
    let mut other = Console::over(connect_from("127.0.0.3", console).unwrap());
    assert_eq!(other.attempt("", CONSOLE_PASSWORD), End::LoggedIn);
    let newest = &console_audit(&server)[0];
    assert_eq!(newest.outcome, "console_success");
    assert_eq!((newest.account, newest.name.as_str()), (None, "(CONSOLE)"));
}

/// Every console login that names an account or the console password leaves an audit row
/// with its outcome; a name that is no account leaves none (anyone can type one).
#[test]
fn every_console_login_is_audited() {
    let mut admin_id = None;
    let server = server_with(
        |store| {
            admin_id = store
                .load_account(&AccountName::parse(b"admin").unwrap())
                .unwrap()
                .map(|a| a.id)
        },
        |_| {},
    );
    assert_eq!(
        console_attempt(&server, "admin", ADMIN_PASSWORD),
        End::LoggedIn
    );
    assert_eq!(
        console_attempt(&server, "", CONSOLE_PASSWORD),
        End::LoggedIn
    );
    // A player with the right password is not an operator.
    assert_eq!(console_attempt(&server, "alice", "secret"), End::Failed);
    assert_eq!(console_attempt(&server, "admin", "wrong"), End::Failed);
    assert_eq!(console_attempt(&server, "nobody", "wrong"), End::Failed);
    let rows = console_audit(&server);
    assert_eq!(
        outcomes(&rows),
        [
            "console_wrong_password",
            "console_not_admin",
            "console_success",
            "console_success"
        ]
    );
    assert_eq!(rows[3].account, admin_id);
    assert_eq!(rows[3].name, "ADMIN");
    assert_eq!(
        (rows[2].account, rows[2].name.as_str()),
        (None, "(CONSOLE)")
    );
    assert!(rows[1].account.is_some() && rows[1].name == "ALICE");
    // The console's wrong password counted against the account, not the player's.
    let accounts = server.store().list_accounts().unwrap();
    let failed = |name: &str| {
        accounts
            .iter()
            .find(|a| a.name.as_str() == name)
            .unwrap()
            .failed_logins
    };
    assert_eq!((failed("ADMIN"), failed("ALICE")), (1, 0));
}

const TOTP_KEY_HEX: &str = "3c1f9a7e5d2b8c4a6e0f1d3b5a7c9e2f4d6b8a0c1e3f5a7b9d2c4e6f8a0b1c3d";

/// Six digits that no step near now accepts.
fn wrong_code(secret: &TotpSecret) -> String {
    let now = unix_now() as u64;
    let near: Vec<String> = (0..5).map(|i| code_at(secret, now - 60 + 30 * i)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// An admin account with an authenticator is asked for its code after the password (whatever
/// the password was, so the prompt tells a guesser nothing); a wrong code is refused and
/// counted like a wrong password, and the right one logs in.
#[test]
fn an_admin_with_an_authenticator_is_asked_for_the_code() {
    let key = TotpKey::from_hex(TOTP_KEY_HEX).unwrap();
    let mut uri = None;
    let server = server_with(
        |store| {
            let enrolment =
                gatehouse::admin::enable_totp(store, Some(&key), "gatehouse", "admin").unwrap();
            uri = Some(enrolment.uri);
        },
        |config| config.totp.key = Some(TotpKey::from_hex(TOTP_KEY_HEX).unwrap()),
    );
    let uri = uri.unwrap();
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap();
    let secret = TotpSecret::from_base32(b32).unwrap();

    let mut c = Console::connect(server.console.unwrap());
    // The right password alone does not log in: the code is asked for, and a wrong one fails.
    c.type_credentials("admin", ADMIN_PASSWORD);
    c.expect("authenticator code: ");
    c.line(&wrong_code(&secret));
    assert_eq!(c.end(), End::Failed);
    // A missing code is a wrong one.
    c.type_credentials("admin", ADMIN_PASSWORD);
    c.expect("authenticator code: ");
    c.line("");
    assert_eq!(c.end(), End::Failed);
    // A wrong password is asked for the code too, and fails even with the right code.
    c.type_credentials("admin", "not the password");
    c.expect("authenticator code: ");
    c.line(&code_at(&secret, unix_now() as u64));
    assert_eq!(c.end(), End::Failed);
    c.expect("goodbye");

    let mut c = Console::connect(server.console.unwrap());
    let now = unix_now() as u64;
    let code = code_at(&secret, now);
    c.type_credentials("admin", ADMIN_PASSWORD);
    c.expect("authenticator code: ");
    c.line(&code);
    assert_eq!(c.end(), End::LoggedIn);
    c.expect("gatehouse> ");
    assert!(c.run("stats").contains("console_wrong_token"));

    // The code that logged in cannot log in again (RFC 6238 §5.2), nor can an older one;
    // the next step's can.
    for used in [code.clone(), code_at(&secret, now - 30)] {
        let mut again = Console::connect(server.console.unwrap());
        again.type_credentials("admin", ADMIN_PASSWORD);
        again.expect("authenticator code: ");
        again.line(&used);
        assert_eq!(again.end(), End::Failed);
    }
    let mut next = Console::connect(server.console.unwrap());
    next.type_credentials("admin", ADMIN_PASSWORD);
    next.expect("authenticator code: ");
    next.line(&code_at(&secret, now + 30));
    assert_eq!(next.end(), End::LoggedIn);

    assert_eq!(
        outcomes(&console_audit(&server)),
        [
            "console_success",
            "console_wrong_token",
            "console_wrong_token",
            "console_success",
            "console_wrong_password",
            "console_wrong_token",
            "console_wrong_token"
        ]
    );
    // The code is never part of the audit (only the outcome), and the account without an
    // authenticator (the console password) is not asked for one.
    let mut plain = Console::connect(server.console.unwrap());
    plain.type_credentials("", CONSOLE_PASSWORD);
    assert_eq!(plain.end(), End::LoggedIn);
}
