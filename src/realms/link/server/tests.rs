//! What a linked world server's Register and Heartbeat do to the registry, values out of range
//! included: a Register is refused whole with its own status, a Heartbeat is clamped, and
//! neither closes the link. And how both takes go: the same rate, one store request (with the
//! client's proof for a checked take), the answer in the frame that goes with the request.

use std::time::{Duration, Instant};

use super::*;
use crate::protocol::version::Build;
use crate::realms::link::message::{RealmAnnouncement, MAX_ONLINE};
use crate::realms::registry::Liveness;
use crate::store::{RealmKind, RealmRecord};
use crate::values::{RealmAccess, MAX_POPULATION};

const TOKEN: ConnToken = ConnToken {
    slot: 0,
    generation: 0,
};
const REALM: RealmId = RealmId(1);

struct World {
    session: LinkSession,
    registry: RealmRegistry,
    log: LogThrottle,
    now: Instant,
    take_rate: crate::policy::bucket::Rate,
    takes_limited: u64,
    wrong_digests: u64,
}

impl World {
    fn linked() -> World {
        let mut registry = RealmRegistry::new(Duration::from_secs(15));
        registry.set_configured(vec![RealmRecord {
            id: REALM,
            name: "Configured".into(),
            address: "127.0.0.1:1".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: vec![],
            kind: RealmKind::Linkable,
            access: RealmAccess::Open,
            local: None,
        }]);
        let mut session = LinkSession::new("127.0.0.1:4000".parse().unwrap(), [0; 32]);
        session.state = LinkState::Linked { realm: REALM };
        World {
            session,
            registry,
            log: LogThrottle::new(Duration::from_secs(10)),
            now: Instant::now(),
            take_rate: crate::policy::bucket::Rate {
                per_second: 500.0,
                burst: 2000,
            },
            takes_limited: 0,
            wrong_digests: 0,
        }
    }

    /// Handles one frame: what was sent back, whether the list changed, and whether the link
    /// stays linked.
    fn frame(&mut self, message: LinkMessage) -> (Vec<LinkMessage>, bool, bool) {
        let (sent, changed, step) =
            self.run(|session, state, cx| on_frame(session, state, message, cx));
        let linked = matches!(step, LinkStep::Become(_))
            && matches!(self.session.state, LinkState::Linked { .. });
        (sent, changed, linked)
    }

    /// Runs one handler: what it sent, whether the list changed, and its step (whose state,
    /// on Become or Ask, is now the session's; a Become or Ask step is handed back with a
    /// placeholder in its place).
    fn run(
        &mut self,
        handle: impl FnOnce(&mut LinkSession, LinkState, &mut LinkCx<'_>) -> LinkStep,
    ) -> (Vec<LinkMessage>, bool, LinkStep) {
        let mut out = Vec::new();
        let mut changed = false;
        let state = self.session.take_state();
        let step = {
            let mut cx = LinkCx {
                now: self.now,
                unix_now: 0,
                token: TOKEN,
                out: &mut out,
                registry: &mut self.registry,
                realms_changed: &mut changed,
                log: &mut self.log,
                take_rate: self.take_rate,
                takes_limited: &mut self.takes_limited,
                wrong_digests: &mut self.wrong_digests,
            };
            handle(&mut self.session, state, &mut cx)
        };
        let step = match step {
            LinkStep::Become(state) => {
                self.session.state = state;
                LinkStep::Become(LinkState::Placeholder)
            }
            LinkStep::Ask(state, op) => {
                self.session.state = state;
                LinkStep::Ask(LinkState::Placeholder, op)
            }
            other => other,
        };
        let mut sent = Vec::new();
        let mut rest = &out[..];
        while !rest.is_empty() {
            let len = match LinkMessage::check_frame(rest) {
                crate::protocol::wire::Check::Complete(len) => len,
                other => panic!("{other:?}"),
            };
            sent.push(LinkMessage::parse(&rest[..len]).unwrap());
            rest = &rest[len..];
        }
        (sent, changed, step)
    }

    /// Handles the store's answer to the take in flight: what was sent back.
    fn taken(&mut self, result: Result<TakeOutcome, StoreError>) -> Vec<LinkMessage> {
        let reply = StoreReply::SessionTaken(result);
        let (sent, _, step) =
            self.run(|session, state, cx| on_store_reply(session, state, reply, cx));
        assert!(matches!(step, LinkStep::Become(_)));
        assert!(matches!(self.session.state, LinkState::Linked { .. }));
        sent
    }
}

fn announcement(name: &str) -> RealmAnnouncement {
    RealmAnnouncement {
        realm_id: REALM,
        name: name.into(),
        address: "127.0.0.1:8085".into(),
        realm_type: 1,
        flags: 0x20,
        timezone: 2,
        builds: vec![Build::WOTLK],
    }
}

fn registered(status: u8) -> Vec<LinkMessage> {
    vec![LinkMessage::Registered { status }]
}

#[test]
fn a_register_with_values_out_of_range_is_refused_whole_and_the_link_stays() {
    let mut w = World::linked();
    assert_eq!(
        w.frame(LinkMessage::Register(announcement("Live"))),
        (registered(STATUS_OK), true, true)
    );
    let mut unknown_flag = announcement("Bad");
    unknown_flag.flags = 0x08;
    let mut build_zero = announcement("Bad");
    build_zero.builds = vec![Build::WOTLK, Build(0)];
    for bad in [unknown_flag, build_zero] {
        assert_eq!(
            w.frame(LinkMessage::Register(bad)),
            (registered(STATUS_BAD_VALUE), false, true)
        );
    }
    // The realm keeps what it had.
    assert_eq!(w.registry.visible()[0].name, "Live");
    // Another realm's id is the older refusal, with its own status.
    let mut other = announcement("Other");
    other.realm_id = RealmId(2);
    assert_eq!(
        w.frame(LinkMessage::Register(other)),
        (registered(STATUS_REFUSED), false, true)
    );
    // Flags gatehouse sets itself are tolerated (and cleared), as before.
    let mut offline = announcement("Live");
    offline.flags = 0x02 | 0x04 | 0x20;
    assert_eq!(
        w.frame(LinkMessage::Register(offline)),
        (registered(STATUS_OK), true, true)
    );
}

#[test]
fn heartbeats_out_of_range_are_clamped_keep_the_realm_online_and_change_nothing_twice() {
    let mut w = World::linked();
    w.frame(LinkMessage::Register(announcement("Live")));
    let beat = |population, online| LinkMessage::Heartbeat { population, online };

    // NaN is shown as 0, once: the same NaN again is no change.
    assert_eq!(w.frame(beat(0.5, 1)), (vec![], true, true));
    assert_eq!(w.frame(beat(f32::NAN, u32::MAX)), (vec![], true, true));
    assert_eq!(w.registry.visible()[0].population, 0.0);
    for (population, online) in [
        (f32::NAN, u32::MAX),
        (-f32::NAN, 7),
        (-1.0, MAX_ONLINE + 1),
        (f32::NEG_INFINITY, 0),
        (0.0, u32::MAX),
    ] {
        assert_eq!(
            w.frame(beat(population, online)),
            (vec![], false, true),
            "{population} {online}"
        );
    }
    assert_eq!(w.registry.online_summary(), (1, MAX_ONLINE));
    assert_eq!(w.registry.liveness(REALM), Some(Liveness::Online));

    // Too high: the top of the range.
    assert_eq!(w.frame(beat(f32::INFINITY, 3)), (vec![], true, true));
    assert_eq!(w.registry.visible()[0].population, MAX_POPULATION);
    assert_eq!(w.frame(beat(1e30, 3)), (vec![], false, true));
    assert_eq!(w.frame(beat(1.5, 3)), (vec![], true, true));
    assert_eq!(w.registry.online_summary(), (1, 3));
}

#[test]
fn clamping_keeps_good_values_and_says_what_was_out_of_range() {
    use crate::realms::link::message::{clamp_heartbeat, Load};
    assert_eq!(
        clamp_heartbeat(0.25, 40),
        Ok(Load {
            population: 0.25,
            online: 40
        })
    );
    let (load, why) = clamp_heartbeat(f32::NAN, u32::MAX).unwrap_err();
    assert_eq!(
        load,
        Load {
            population: 0.0,
            online: MAX_ONLINE
        }
    );
    assert!(why.to_string().contains("NaN"), "{why}");
    let (load, why) = clamp_heartbeat(0.5, MAX_ONLINE + 1).unwrap_err();
    assert_eq!(load.population, 0.5);
    assert!(why.to_string().contains("online players"), "{why}");
}

fn alice() -> crate::account::AccountName {
    crate::account::AccountName::parse(b"alice").unwrap()
}

fn proof() -> ClientDigest {
    ClientDigest {
        client_seed: 7,
        server_seed: 9,
        digest: crate::srp6::Proof([0xD1; 20]),
    }
}

fn taken_session() -> crate::store::TakenSession {
    crate::store::TakenSession {
        account: crate::values::AccountId(4),
        key: crate::srp6::SessionKey([0x42; 40]),
        security_level: 1,
    }
}

fn grant() -> SessionGrant {
    SessionGrant {
        session_key: crate::srp6::SessionKey([0x42; 40]),
        account_id: crate::values::AccountId(4),
        security_level: 1,
    }
}

#[test]
fn a_checked_take_asks_the_store_with_the_proof_and_answers_each_outcome_in_kind() {
    let mut w = World::linked();
    for (outcome, answer) in [
        (TakeOutcome::WrongDigest, CheckedTake::WrongDigest),
        (TakeOutcome::NoTicket, CheckedTake::NoTicket),
        (
            TakeOutcome::Taken(taken_session()),
            CheckedTake::Taken(grant()),
        ),
    ] {
        let (sent, _, step) = w.run(|session, state, cx| {
            let take = LinkMessage::TakeSessionChecked {
                request_id: 5,
                account_name: alice(),
                proof: proof(),
            };
            on_frame(session, state, take, cx)
        });
        assert!(sent.is_empty(), "nothing before the store answers");
        match step {
            LinkStep::Ask(_, StoreOp::TakeSession { name, proof: p, .. }) => {
                assert_eq!(name, alice());
                assert_eq!(p, Some(proof()));
            }
            _ => panic!("expected a store request"),
        }
        assert!(
            w.session.holds_input(),
            "the next frame waits for the answer"
        );
        assert_eq!(
            w.taken(Ok(outcome)),
            vec![LinkMessage::SessionChecked {
                request_id: 5,
                outcome: answer,
            }]
        );
    }
    assert_eq!(w.wrong_digests, 1, "the wrong digest is counted");
}

#[test]
fn a_plain_take_asks_without_a_proof_and_is_answered_with_session() {
    let mut w = World::linked();
    let (_, _, step) = w.run(|session, state, cx| {
        let take = LinkMessage::TakeSession {
            request_id: 6,
            account_name: alice(),
        };
        on_frame(session, state, take, cx)
    });
    assert!(matches!(
        step,
        LinkStep::Ask(_, StoreOp::TakeSession { proof: None, .. })
    ));
    assert_eq!(
        w.taken(Ok(TakeOutcome::Taken(taken_session()))),
        vec![LinkMessage::Session {
            request_id: 6,
            grant: Some(grant()),
        }]
    );
}

#[test]
fn both_takes_share_the_links_rate() {
    let mut w = World::linked();
    w.take_rate = crate::policy::bucket::Rate {
        per_second: 0.001,
        burst: 1,
    };
    let (_, _, step) = w.run(|session, state, cx| {
        let take = LinkMessage::TakeSession {
            request_id: 1,
            account_name: alice(),
        };
        on_frame(session, state, take, cx)
    });
    assert!(matches!(step, LinkStep::Ask(..)));
    w.taken(Ok(TakeOutcome::NoTicket));
    // The burst is spent: a checked take is answered "no ticket" at once, without the store.
    let checked = LinkMessage::TakeSessionChecked {
        request_id: 2,
        account_name: alice(),
        proof: proof(),
    };
    assert_eq!(
        w.frame(checked),
        (
            vec![LinkMessage::SessionChecked {
                request_id: 2,
                outcome: CheckedTake::NoTicket,
            }],
            false,
            true
        )
    );
    assert_eq!((w.takes_limited, w.wrong_digests), (1, 0));
}
