//! The realm list is sent from one shared encoding: every realm is listed however long the
//! list, and a logged-in connection keeps a small output ring.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{account, realm, TestServer, TIMEOUT};
use gatehouse::net::connection::Standing;
use gatehouse::protocol::realm_list::RealmListS2c;
use gatehouse::store::Store;
use gatehouse::tools::client::{ClientBuild, LogonClient};

const REALMS: u32 = 250;

fn name(i: u32) -> String {
    format!("Realm {i:03} of a network whose realms have rather long names")
}

fn server(configure: impl FnOnce(&mut gatehouse::config::Config)) -> TestServer {
    TestServer::start(
        |store| {
            let alice = account(store, "alice", "secret");
            for i in 1..=REALMS {
                let id = realm(
                    store,
                    &name(i),
                    &format!("192.168.{}.{}:8085", i / 200, i),
                    &[],
                );
                if i % 50 == 0 {
                    store
                        .set_character_count(alice, id, (i / 50) as u8)
                        .unwrap();
                }
            }
        },
        configure,
    )
}

#[test]
fn two_hundred_and_fifty_realms_are_all_listed_and_the_logged_in_ring_stays_small() {
    // Realms are not re-read during the test, so the encoding stays the same.
    let server = server(|config| config.limits.realm_list_interval_ms = 0);
    for build in ClientBuild::ALL {
        let mut logged_in =
            LogonClient::login(server.addr, build, "alice", "secret", TIMEOUT).unwrap();
        let list = logged_in.client.realm_list().unwrap();
        let mut encoded = Vec::new();
        list.encode(build.layout(), &mut encoded).unwrap();
        // Far more than the 16 KiB output ring that used to hold the list.
        assert!(encoded.len() > 20_000, "{} bytes", encoded.len());
        assert_eq!(list.realms.len(), REALMS as usize, "build {:?}", build);
        for (i, r) in (1..).zip(&list.realms) {
            assert_eq!(r.name, name(i), "build {:?}", build);
            let characters = if i % 50 == 0 { (i / 50) as u8 } else { 0 };
            assert_eq!(r.characters, characters, "realm {i}");
        }

        // Three requests in one write: each answer waits for the one before it to go out,
        // and all three arrive whole and in order.
        let stream = logged_in.client.stream();
        stream.write_all(&[0x10, 0, 0, 0, 0].repeat(3)).unwrap();
        for _ in 0..3 {
            let again = logged_in
                .client
                .read_message(|b| RealmListS2c::check(build.layout(), b))
                .unwrap();
            assert_eq!(again, encoded);
        }

        let buffers = server.client_buffers();
        let proven: Vec<_> = buffers
            .iter()
            .filter(|(standing, _)| *standing == Standing::Proven)
            .collect();
        assert_eq!(proven.len(), 1, "{buffers:?}");
        let rings = proven[0].1;
        assert!(
            rings.output <= 512,
            "a logged-in client's output ring is {} bytes",
            rings.output
        );
        assert!(
            rings.input + rings.output <= 2048,
            "a logged-in client's rings are {rings:?}"
        );
        drop(logged_in);
        let start = Instant::now();
        while !server.client_buffers().is_empty() {
            assert!(start.elapsed() < TIMEOUT, "the client's close was not seen");
            thread::sleep(Duration::from_millis(10));
        }
    }
}
