//! World servers over the realm link: registration makes the realm list live, heartbeats keep
//! it online, and a player's session key is handed to exactly one world gate, once — with
//! check-then-take, only against the client's right digest, so a wrong one burns nothing.
//! Reconnect renews a live ticket. Values out of range are clamped (heartbeats) or refused
//! (Register).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{account, connect_from, hung_up, TestServer, TIMEOUT};
use gatehouse::account::AccountName;
use gatehouse::protocol::realm_list::REALM_FLAG_OFFLINE;
use gatehouse::protocol::result::LoginResult;
use gatehouse::protocol::version::Build;
use gatehouse::realms::link::client::{Client, CountsStored, LinkClientError};
use gatehouse::realms::link::message::{
    CheckedTake, LinkMessage, RealmAnnouncement, STATUS_BAD_VALUE,
};
use gatehouse::realms::link::LinkKey;
use gatehouse::realms::RealmId;
use gatehouse::srp6::{world_server_proof, ClientDigest, SessionKey};
use gatehouse::store::{NewRealm, Store};
use gatehouse::tools::client::{ClientBuild, ClientError, LogonClient};
use gatehouse::tools::world_gate::client::world_login;
use gatehouse::tools::world_gate::over_link::{GateOptions, RunningGate};
use gatehouse::tools::world_gate::packets::AuthResult;
use gatehouse::values::AccountId;

const SECRET: &[u8] = b"a long shared realm secret";

fn server(configure: impl FnOnce(&mut gatehouse::config::Config)) -> (TestServer, RealmId) {
    let mut realm = RealmId(0);
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            account(store, "bob", "secret");
            realm = store
                .add_realm(&NewRealm {
                    name: "Configured".into(),
                    address: "127.0.0.1:1".into(),
                    realm_type: 0,
                    flags: 0,
                    timezone: 1,
                    population: 0.0,
                    builds: Vec::new(),
                    link_key: Some(LinkKey::derive(SECRET)),
                    allowed_level: 0,
                    local: None,
                })
                .unwrap();
        },
        configure,
    );
    (server, realm)
}

fn announcement(realm: RealmId, name: &str, address: &str, build: u16) -> RealmAnnouncement {
    RealmAnnouncement {
        realm_id: realm,
        name: name.into(),
        address: address.into(),
        realm_type: 1,
        flags: 0,
        timezone: 2,
        builds: vec![Build(build)],
    }
}

fn gate(server: &TestServer, realm: RealmId, build: ClientBuild) -> RunningGate {
    RunningGate::start(GateOptions {
        link: server.link,
        secret: SECRET.to_vec(),
        realm: announcement(realm, "Linked", "127.0.0.1:0", build.version.build.0),
        build: build.version.build,
        heartbeat_every: Duration::from_millis(200),
        timeout: TIMEOUT,
    })
    .unwrap()
}

/// Logs in and returns the key and the realm list's first entry (name, address, flags).
fn login(
    server: &TestServer,
    build: ClientBuild,
    name: &str,
) -> (SessionKey, (String, String, u8)) {
    let mut l = LogonClient::login(server.addr, build, name, "secret", TIMEOUT).unwrap();
    let list = l.client.realm_list().unwrap();
    let r = &list.realms[0];
    (l.session_key, (r.name.clone(), r.address.clone(), r.flags))
}

fn first_realm(server: &TestServer, build: ClientBuild) -> (String, String, u8) {
    login(server, build, "bob").1
}

fn wait_until(mut done: impl FnMut() -> bool, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn alice() -> AccountName {
    AccountName::parse(b"alice").unwrap()
}

#[test]
fn a_player_is_admitted_once_with_the_key_from_gatehouse() {
    let (server, realm) = server(|_| {});
    for build in ClientBuild::ALL {
        let gate = gate(&server, realm, build);
        let (key, (name, address, flags)) = login(&server, build, "alice");
        // The list shows what the world server announced, within the same second.
        assert_eq!(name, "Linked");
        assert_eq!(address, gate.local_addr().to_string());
        assert_eq!(flags & REALM_FLAG_OFFLINE, 0);

        let b = build.version.build.0;
        let ok = world_login(gate.local_addr(), b, &alice(), &key, TIMEOUT).unwrap();
        assert_eq!(ok.result, AuthResult::Ok, "build {b}");
        // The same key a second time: the ticket is gone.
        let again = world_login(gate.local_addr(), b, &alice(), &key, TIMEOUT).unwrap();
        assert_eq!(again.result, AuthResult::UnknownAccount, "build {b}");
        gate.stop().unwrap();
    }
}

#[test]
fn a_forged_key_and_an_expired_ticket_are_refused() {
    let (server, realm) = server(|config| config.sessions.ticket_ttl_secs = 1);
    let build = ClientBuild::WOTLK;
    let gate = gate(&server, realm, build);
    let (key, _) = login(&server, build, "alice");
    let mut forged = key;
    forged.0[0] ^= 1;
    let r = world_login(gate.local_addr(), 12340, &alice(), &forged, TIMEOUT).unwrap();
    assert_ne!(r.result, AuthResult::Ok);

    // A fresh logon, then wait past the ticket's lifetime.
    let (key, _) = login(&server, build, "alice");
    thread::sleep(Duration::from_millis(2100));
    let r = world_login(gate.local_addr(), 12340, &alice(), &key, TIMEOUT).unwrap();
    assert_eq!(r.result, AuthResult::UnknownAccount);
    gate.stop().unwrap();
}

/// The digest alice's client sends a world server that challenged it with `server_seed`.
fn alice_proof(key: &SessionKey, client_seed: u32, server_seed: u32) -> ClientDigest {
    ClientDigest {
        client_seed,
        server_seed,
        digest: world_server_proof(&alice(), client_seed, server_seed, key),
    }
}

/// Check-then-take (issue 12 point 5): gatehouse checks the client's digest against the
/// ticket's key before it hands the ticket over. A wrong digest is answered as such, counted,
/// and leaves the ticket for the right one; then it is taken, once.
#[test]
fn a_checked_take_hands_the_ticket_over_only_for_the_right_digest() {
    let (server, realm) = server(|_| {});
    let (key, _) = login(&server, ClientBuild::WOTLK, "alice");
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();

    let mut forged = key;
    forged.0[0] ^= 1;
    let mut other_seed = alice_proof(&key, 0x0102_0304, 0xDEAD_BEEF);
    other_seed.server_seed ^= 1;
    for wrong in [alice_proof(&forged, 0x0102_0304, 0xDEAD_BEEF), other_seed] {
        assert_eq!(
            link.take_session_checked(&alice(), &wrong).unwrap(),
            CheckedTake::WrongDigest
        );
    }
    assert_eq!(server.counters().link_wrong_digests, 2);

    let right = alice_proof(&key, 0x0102_0304, 0xDEAD_BEEF);
    match link.take_session_checked(&alice(), &right).unwrap() {
        CheckedTake::Taken(grant) => {
            assert_eq!(grant.session_key, key);
            assert_eq!(grant.security_level, 0);
        }
        other => panic!("expected the ticket, got {other:?}"),
    }
    // Taken once: the same digest again, or a plain take, finds no ticket.
    assert_eq!(
        link.take_session_checked(&alice(), &right).unwrap(),
        CheckedTake::NoTicket
    );
    assert!(link.take_session(&alice()).unwrap().is_none());
    // bob never logged in.
    let bob = AccountName::parse(b"bob").unwrap();
    assert_eq!(
        link.take_session_checked(&bob, &right).unwrap(),
        CheckedTake::NoTicket
    );
    assert_eq!(server.counters().link_wrong_digests, 2);
}

/// An expired ticket is "no ticket" to a checked take, even with the right digest.
#[test]
fn a_checked_take_of_an_expired_ticket_finds_none() {
    let (server, realm) = server(|config| config.sessions.ticket_ttl_secs = 1);
    let (key, _) = login(&server, ClientBuild::WOTLK, "alice");
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        link.take_session_checked(&alice(), &alice_proof(&key, 5, 6))
            .unwrap(),
        CheckedTake::NoTicket
    );
    assert_eq!(server.counters().link_wrong_digests, 0);
}

/// The reference world gate takes with check-then-take: a client with a wrong digest (a forged
/// or stale key) is refused without using up the player's ticket, so the player's own client
/// still gets in, once.
#[test]
fn a_wrong_digest_at_the_gate_does_not_burn_the_players_ticket() {
    let (server, realm) = server(|_| {});
    for build in ClientBuild::ALL {
        let gate = gate(&server, realm, build);
        let (key, _) = login(&server, build, "alice");
        let b = build.version.build.0;
        let mut forged = key;
        forged.0[7] ^= 0x10;
        let r = world_login(gate.local_addr(), b, &alice(), &forged, TIMEOUT).unwrap();
        assert_eq!(r.result, AuthResult::Failed, "build {b}");
        let ok = world_login(gate.local_addr(), b, &alice(), &key, TIMEOUT).unwrap();
        assert_eq!(ok.result, AuthResult::Ok, "build {b}");
        let again = world_login(gate.local_addr(), b, &alice(), &key, TIMEOUT).unwrap();
        assert_eq!(again.result, AuthResult::UnknownAccount, "build {b}");
        gate.stop().unwrap();
    }
    assert_eq!(server.counters().link_wrong_digests, 3);
}

#[test]
fn a_link_with_a_wrong_secret_cannot_register() {
    let (server, realm) = server(|_| {});
    match Client::connect(server.link, realm, b"not the realm secret", TIMEOUT) {
        Err(LinkClientError::Refused { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a wrong secret was accepted"),
    }
    // Nor can a realm that does not exist link, whatever the secret.
    assert!(Client::connect(server.link, RealmId(200), SECRET, TIMEOUT).is_err());
    // The realm still shows as configured.
    assert_eq!(first_realm(&server, ClientBuild::WOTLK).0, "Configured");
}

#[test]
fn a_realm_goes_offline_when_its_link_drops_or_falls_silent_and_comes_back() {
    let (server, realm) = server(|config| config.link.heartbeat_timeout_secs = 1);
    let build = ClientBuild::WOTLK;
    let offline = |s: &TestServer| first_realm(s, build).2 & REALM_FLAG_OFFLINE != 0;

    // Registered and heartbeating: online.
    let mut gate = gate(&server, realm, build);
    assert!(!offline(&server));
    // Heartbeats stop: offline within the timeout (plus the one-second sweep).
    gate.stop_heartbeats();
    wait_until(
        || offline(&server),
        Duration::from_secs(4),
        "offline after silence",
    );
    gate.stop().unwrap();

    // A new link registers: online again, and the name it announced.
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    link.register(&announcement(realm, "Reborn", "127.0.0.1:9", 12340))
        .unwrap();
    wait_until(|| !offline(&server), Duration::from_secs(2), "back online");
    assert_eq!(first_realm(&server, build).0, "Reborn");
    // Its link drops: offline at once, not removed.
    drop(link);
    wait_until(
        || offline(&server),
        Duration::from_secs(2),
        "offline after drop",
    );
    assert_eq!(first_realm(&server, build).0, "Reborn");
    // A heartbeat from a fresh registration brings it back.
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    link.register(&announcement(realm, "Reborn", "127.0.0.1:9", 12340))
        .unwrap();
    link.heartbeat(250.0, 3).unwrap();
    wait_until(
        || !offline(&server),
        Duration::from_secs(2),
        "online after heartbeat",
    );
    link.unregister().unwrap();
    wait_until(
        || offline(&server),
        Duration::from_secs(2),
        "offline after unregister",
    );
}

#[test]
fn reconnect_works_for_every_build_and_renews_the_ticket() {
    let (server, realm) = server(|_| {});
    for build in ClientBuild::ALL {
        let (key, _) = login(&server, build, "alice");
        // The world server takes the ticket; the player drops and reconnects.
        let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
        assert!(link.take_session(&alice()).unwrap().is_some());
        assert!(link.take_session(&alice()).unwrap().is_none());
        let mut again = LogonClient::reconnect(server.addr, build, "alice", &key, TIMEOUT)
            .unwrap_or_else(|e| panic!("build {}: {e}", build.version.build.0));
        assert_eq!(again.realm_list().unwrap().realms.len(), 1);
        // Renewed: takeable once more, with the same key.
        let grant = link.take_session(&alice()).unwrap().unwrap();
        assert_eq!(grant.session_key, key);
        let audit = server.store().recent_audit(1).unwrap();
        assert_eq!(audit[0].outcome, "reconnect_success");
    }
}

#[test]
fn a_wrong_reconnect_proof_or_no_live_ticket_fails_cleanly() {
    let (server, _) = server(|_| {});
    for build in ClientBuild::ALL {
        let (key, _) = login(&server, build, "alice");
        let mut wrong = key;
        wrong.0[5] ^= 0x40;
        match LogonClient::reconnect(server.addr, build, "alice", &wrong, TIMEOUT) {
            Err(ClientError::Refused {
                stage: "reconnect proof",
                result: LoginResult::FailUnknownAccount,
            }) => {}
            other => panic!("build {}: {:?}", build.version.build.0, other.err()),
        }
        // bob never logged in: no ticket to reconnect with.
        match LogonClient::reconnect(server.addr, build, "bob", &key, TIMEOUT) {
            Err(ClientError::Refused {
                stage: "reconnect challenge",
                result: LoginResult::FailUnknownAccount,
            }) => {}
            other => panic!("build {}: {:?}", build.version.build.0, other.err()),
        }
    }
    let audit = server.store().recent_audit(1).unwrap();
    assert_eq!(audit[0].outcome, "reconnect_failed");
}

/// Reads the Hello a new link gets: it was accepted and served.
fn hello(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).expect("a Hello frame");
    let mut body = vec![0u8; u32::from_le_bytes(head) as usize];
    stream.read_exact(&mut body).expect("a Hello body");
}

/// Links that never authenticate cannot lock a real world server out: a few per address, and
/// when the unauthenticated ones fill their share the oldest makes room.
#[test]
fn unauthenticated_links_cannot_lock_a_world_server_out() {
    let (server, realm) = server(|_| {});
    let mut idle: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect_from("127.0.0.1", server.link).unwrap();
            hello(&mut s);
            s
        })
        .collect();
    let mut ninth = connect_from("127.0.0.1", server.link).unwrap();
    assert!(
        hung_up(&mut ninth, Duration::from_secs(5)),
        "a ninth unauthenticated link from one address"
    );
    // The world server, from its own address, links at once.
    let stream = connect_from("127.0.0.2", server.link).unwrap();
    let linked = Client::over(stream, realm, SECRET, TIMEOUT).expect("the world server links");
    drop(linked);
    // Unauthenticated links from many addresses, up to their share of the table...
    for source in 10..17 {
        for _ in 0..8 {
            let mut s = connect_from(&format!("127.0.0.{source}"), server.link).unwrap();
            hello(&mut s);
            idle.push(s);
        }
    }
    // ...and the world server still links: the oldest idle link made room.
    let stream = connect_from("127.0.0.3", server.link).unwrap();
    Client::over(stream, realm, SECRET, TIMEOUT).expect("the world server links again");
    assert!(hung_up(&mut idle[0], Duration::from_secs(5)));
}

/// A link that does not authenticate in time is told so and closed.
#[test]
fn a_link_that_never_authenticates_is_closed_at_its_deadline() {
    let (server, _) = server(|config| config.timeouts.logon_secs = 1);
    let mut s = TcpStream::connect_timeout(&server.link, TIMEOUT).unwrap();
    hello(&mut s);
    let started = Instant::now();
    assert!(hung_up(&mut s, Duration::from_secs(5)));
    assert!(started.elapsed() >= Duration::from_millis(500));
}

/// What the first entry of the realm list shows bob: name, flags, population.
fn first_entry(logged: &mut LogonClient) -> (String, u8, f32) {
    let list = logged.realm_list().unwrap();
    let r = &list.realms[0];
    (r.name.clone(), r.flags, r.population)
}

/// A world server that reports nonsense — a NaN or negative population, more players than
/// exist — keeps its realm online with the values clamped (population 0, players capped), the
/// daemon keeps serving, and the realm list is not re-encoded at every such heartbeat: NaN is
/// never "changed" (NaN != NaN).
#[test]
fn nonsense_heartbeats_are_clamped_and_do_not_re_encode_the_list() {
    let (server, realm) = server(|_| {});
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    link.register(&announcement(realm, "Linked", "127.0.0.1:9", 12340))
        .unwrap();
    link.heartbeat(f32::NAN, u32::MAX).unwrap();
    let mut bob = LogonClient::login(server.addr, ClientBuild::WOTLK, "bob", "secret", TIMEOUT)
        .unwrap()
        .client;
    wait_until(
        || first_entry(&mut bob).0 == "Linked",
        Duration::from_secs(2),
        "the linked realm",
    );
    let (_, flags, population) = first_entry(&mut bob);
    assert_eq!(
        flags & REALM_FLAG_OFFLINE,
        0,
        "a clamped heartbeat keeps it online"
    );
    assert_eq!(population, 0.0, "NaN is shown as 0");
    let before = server.counters().realm_list;

    let populations = [f32::NAN, -f32::NAN, -1.0, f32::NEG_INFINITY, 0.0];
    let onlines = [u32::MAX, u32::MAX - 1, 2_000_000, 0];
    for i in 0..100 {
        link.heartbeat(
            populations[i % populations.len()],
            onlines[i % onlines.len()],
        )
        .unwrap();
    }
    // A round trip on the link: every heartbeat before it has been handled.
    assert!(link.take_session(&alice()).unwrap().is_none());
    assert_eq!(first_entry(&mut bob).2, 0.0);
    let after = server.counters().realm_list;
    assert_eq!(
        after, before,
        "100 heartbeats that change nothing visible: no change, no encoding"
    );

    // A real change still shows, once.
    link.heartbeat(1.5, 10).unwrap();
    wait_until(
        || first_entry(&mut bob).2 == 1.5,
        Duration::from_secs(2),
        "the new population",
    );
    let changed = server.counters().realm_list;
    assert_eq!(changed.changes, after.changes + 1);
    assert_eq!(changed.encodings, after.encodings + 1);
    // And the daemon serves new logons throughout.
    login(&server, ClientBuild::VANILLA, "alice");
}

/// A Register with values out of range (flag bits with no meaning, build 0) is refused with its
/// own status, the realm keeps what it had, and the link stays usable. The client refuses to
/// send one in the first place; a world server with its own client gets the server's answer.
#[test]
fn a_register_with_values_out_of_range_is_refused_and_the_link_stays() {
    let (server, realm) = server(|_| {});
    let stream = TcpStream::connect_timeout(&server.link, TIMEOUT).unwrap();
    let mut raw = stream.try_clone().unwrap();
    let mut link = Client::over(stream, realm, SECRET, TIMEOUT).unwrap();
    link.register(&announcement(realm, "Good", "127.0.0.1:9", 12340))
        .unwrap();

    let mut bad_flags = announcement(realm, "Bad", "127.0.0.1:9", 12340);
    bad_flags.flags = 0x10;
    let mut bad_build = announcement(realm, "Bad", "127.0.0.1:9", 12340);
    bad_build.builds.push(Build(0));
    for bad in [bad_flags, bad_build] {
        assert!(matches!(
            link.register(&bad),
            Err(LinkClientError::Protocol(_))
        ));
        // Past the client, straight onto the wire: the server's own check.
        raw.write_all(&LinkMessage::Register(bad).to_bytes().unwrap())
            .unwrap();
        let mut answer = [0u8; 6];
        raw.set_read_timeout(Some(TIMEOUT)).unwrap();
        raw.read_exact(&mut answer).unwrap();
        assert_eq!(
            LinkMessage::parse(&answer).unwrap(),
            LinkMessage::Registered {
                status: STATUS_BAD_VALUE
            }
        );
    }
    assert_eq!(first_realm(&server, ClientBuild::WOTLK).0, "Good");
    // The link is still in step and usable.
    link.heartbeat(0.5, 3).unwrap();
    assert!(link.take_session(&alice()).unwrap().is_none());
    link.register(&announcement(realm, "Renamed", "127.0.0.1:9", 12340))
        .unwrap();
    wait_until(
        || first_realm(&server, ClientBuild::WOTLK).0 == "Renamed",
        Duration::from_secs(2),
        "the good Register after the bad ones",
    );
}

/// Each take is a write transaction: a link over `link.take_rate` gets "no ticket" at once,
/// counted, and the database is left alone (issue 12.5: an authenticated world server made
/// about 12,800 takes/s before). A ticket taken within the rate is still handed over.
#[test]
fn session_takes_beyond_the_links_rate_are_answered_none_without_a_write() {
    let (server, realm) = server(|config| {
        config.link.take_rate = 0.5;
        config.link.take_burst = 3;
    });
    let logged =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    let alice = AccountName::parse(b"alice").unwrap();
    let grant = link.take_session(&alice).unwrap().expect("within the rate");
    assert_eq!(grant.session_key, logged.session_key);
    let nobody = AccountName::parse(b"nobody").unwrap();
    for _ in 0..40 {
        assert!(link.take_session(&nobody).unwrap().is_none());
    }
    let limited = server.counters().link_takes_limited;
    // Three in the burst (one of them alice's), at most one more from the refill meanwhile.
    assert!((37..=38).contains(&limited), "{limited} takes limited");
    // The link is still linked: heartbeats and takes go on.
    link.heartbeat(1.0, 1).unwrap();
}

/// The realm list's character counts come from the world servers: one reports them over the
/// link (a batch larger than one frame too, with accounts gatehouse does not know skipped), and
/// the next logon's realm list shows them.
#[test]
fn a_world_server_reports_character_counts_that_the_realm_list_shows() {
    let (server, realm) = server(|_| {});
    let alice_id = server.store().load_account(&alice()).unwrap().unwrap().id;
    let characters = |build: ClientBuild| {
        let mut l = LogonClient::login(server.addr, build, "alice", "secret", TIMEOUT).unwrap();
        let list = l.client.realm_list().unwrap();
        list.realms
            .iter()
            .find(|r| u32::from(r.realm_id) == realm.0)
            .map(|r| r.characters)
            .unwrap()
    };
    assert_eq!(characters(ClientBuild::WOTLK), 0);

    let mut link = Client::connect(server.link, realm, SECRET, TIMEOUT).unwrap();
    let ghost = AccountId(alice_id.0 + 10_000);
    let stored = link
        .report_character_counts(&[(alice_id, 4), (ghost, 1)])
        .unwrap();
    assert_eq!(
        stored,
        CountsStored {
            written: 1,
            unknown: 1
        }
    );
    for build in ClientBuild::ALL {
        assert_eq!(characters(build), 4, "{build:?}");
    }

    // 251 pairs go in three frames; the last word for alice wins.
    let mut batch: Vec<(AccountId, u8)> = (0..250).map(|i| (AccountId(ghost.0 + i), 1)).collect();
    batch.push((alice_id, 2));
    let stored = link.report_character_counts(&batch).unwrap();
    assert_eq!(
        stored,
        CountsStored {
            written: 1,
            unknown: 250
        }
    );
    assert_eq!(characters(ClientBuild::VANILLA), 2);

    // The link is still a link: it registers and heartbeats as before.
    link.register(&announcement(realm, "Linked", "127.0.0.1:8085", 12340))
        .unwrap();
    link.heartbeat(0.5, 1).unwrap();
}
