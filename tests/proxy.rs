//! The PROXY protocol on the game listener: connections from a configured proxy begin with a
//! v1 or v2 header, and the player it names is who bans, limits and the audit see. Nobody
//! else may send one, and a proxy's connection without one is refused.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use common::{account, connect_from, hung_up, TestServer, TIMEOUT};
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, LogonClient};

/// 127.0.0.2 is the load balancer; the harness exempts 127.0.0.1 from per-address limits.
fn server() -> TestServer {
    TestServer::start(
        |store| {
            account(store, "alice", "secret");
        },
        |config| {
            config.server.proxy_from = vec!["127.0.0.2/32".parse().unwrap()];
            config.realms.refresh_secs = 1;
        },
    )
}

fn v1_header(player: &str, server: SocketAddr) -> Vec<u8> {
    format!(
        "PROXY TCP4 {player} {} 50000 {}\r\n",
        server.ip(),
        server.port()
    )
    .into_bytes()
}

fn v2_header(player: [u8; 4], port: u16, server: SocketAddr) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    h.extend(player);
    h.extend([127, 0, 0, 1]);
    h.extend(port.to_be_bytes());
    h.extend(server.port().to_be_bytes());
    h
}

/// A logon through the proxy at 127.0.0.2, whose header names the player.
fn log_in_behind_proxy(server: &TestServer, header: &[u8]) -> bool {
    let mut stream = connect_from("127.0.0.2", server.addr).unwrap();
    stream.write_all(header).unwrap();
    let client = LogonClient::from_stream(stream, ClientBuild::WOTLK, TIMEOUT).unwrap();
    client.log_in("alice", "secret", None).is_ok()
}

fn last_audited_peer(server: &TestServer) -> String {
    server.store().recent_audit(1).unwrap()[0].peer.clone()
}

#[test]
fn the_player_behind_the_proxy_is_who_the_audit_and_bans_see() {
    let server = server();
    assert!(log_in_behind_proxy(
        &server,
        &v1_header("203.0.113.7", server.addr)
    ));
    assert_eq!(last_audited_peer(&server), "203.0.113.7");
    assert!(log_in_behind_proxy(
        &server,
        &v2_header([198, 51, 100, 9], 40000, server.addr)
    ));
    assert_eq!(last_audited_peer(&server), "198.51.100.9");

    // A ban of the player's address refuses it behind the proxy; others still get through.
    server
        .store()
        .ban_ip(&"203.0.113.7/32".parse().unwrap(), None, "test")
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let mut banned = connect_from("127.0.0.2", server.addr).unwrap();
    banned
        .write_all(&v1_header("203.0.113.7", server.addr))
        .unwrap();
    assert!(
        hung_up(&mut banned, Duration::from_secs(5)),
        "a banned player"
    );
    assert!(log_in_behind_proxy(
        &server,
        &v1_header("203.0.113.8", server.addr)
    ));
}

#[test]
fn only_the_proxy_may_send_a_header_and_it_must() {
    let server = server();
    // The proxy's connection without a header is refused.
    let mut bare = connect_from("127.0.0.2", server.addr).unwrap();
    let mut challenge = Vec::new();
    let client = LogonClient::connect(server.addr, ClientBuild::WOTLK, TIMEOUT).unwrap();
    client
        .challenge(gatehouse::account::AccountName::parse(b"alice").unwrap())
        .encode(&mut challenge);
    bare.write_all(&challenge).unwrap();
    assert!(hung_up(&mut bare, Duration::from_secs(5)));
    // A direct client cannot claim another address: its header is a protocol error.
    let mut spoof = connect_from("127.0.0.3", server.addr).unwrap();
    spoof
        .write_all(&v1_header("203.0.113.9", server.addr))
        .unwrap();
    assert!(hung_up(&mut spoof, Duration::from_secs(5)));
    // Direct clients still log in.
    LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    assert_eq!(last_audited_peer(&server), "127.0.0.1");
}
