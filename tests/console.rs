//! The debug console over a real TCP socket, as `telnet` or `nc` would use it: login first
//! (three strikes), telnet negotiation bytes tolerated, and every command.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{account, connect_from, realm, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::result::LoginResult;
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};

const CONSOLE_PASSWORD: &str = "console secret";

fn server() -> TestServer {
    TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "admin", "adminpw");
            store
                .set_security_level(&AccountName::parse(b"admin").unwrap(), 3)
                .unwrap();
            realm(store, "Azeroth", "127.0.0.1:8085", &[]);
            let hash = gatehouse::admin::hash_console_password(CONSOLE_PASSWORD).unwrap();
            store.set_console_password(&hash).unwrap();
        },
        |config| config.console.listen = vec!["127.0.0.1:0".parse().unwrap()],
    )
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
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = self.seen.find(needle) {
                let rest = self.seen.split_off(at + needle.len());
                return std::mem::replace(&mut self.seen, rest);
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in {:?}",
                self.seen
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("closed while waiting for {needle:?}; got {:?}", self.seen),
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
    assert!(c.run("account ban bob 1h").contains("suspended until"));
    assert!(c.run("account unban bob").contains("unbanned"));
    // A ban so long that its end wrapped to 1970 and was not in force: refused instead.
    let long = c.run("account ban bob 292471208678years");
    assert!(long.contains("longer than 100 years"), "{long}");
    assert!(c
        .run("ban ip 10.9.9.9 292471208678years")
        .contains("longer than 100 years"));
    LogonClient::login(server.addr, ClientBuild::TBC, "bob", "hunter33", TIMEOUT).unwrap();
    assert!(c.run("account info bob").contains("BOB"));
    assert!(c.run("account info nobody").contains("no account"));

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
