//! Realm-link messages: every variant round-trips, every prefix is incomplete, the layout and
//! the example session match docs/realm-link.md, bad frames are refused, and random or
//! mutated bytes never panic.

use super::*;

fn samples() -> Vec<LinkMessage> {
    let name = match AccountName::parse(b"alice") {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    vec![
        LinkMessage::Hello {
            version: LINK_VERSION,
            nonce: [0xAB; 32],
        },
        LinkMessage::Auth {
            realm_id: RealmId(3),
            answer: [0x5A; 32],
        },
        LinkMessage::AuthResult { status: 0 },
        LinkMessage::AuthResult { status: 9 },
        LinkMessage::Register(RealmAnnouncement {
            realm_id: RealmId(3),
            name: "Nordrassil".into(),
            address: "127.0.0.1:8085".into(),
            realm_type: 1,
            flags: 0,
            timezone: 8,
            builds: vec![Build::VANILLA, Build::WOTLK],
        }),
        LinkMessage::Register(RealmAnnouncement {
            realm_id: RealmId(u32::MAX),
            name: "é".repeat(32),
            address: format!("{}:1", "h".repeat(253)),
            realm_type: 0,
            flags: 0xFF,
            timezone: 0,
            builds: vec![Build(1); MAX_BUILDS],
        }),
        LinkMessage::Register(RealmAnnouncement {
            realm_id: RealmId(1),
            name: "x".into(),
            address: "[::1]:8085".into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            builds: vec![],
        }),
        LinkMessage::Registered { status: 1 },
        LinkMessage::Heartbeat {
            population: 0.5,
            online: 120,
        },
        LinkMessage::Unregister,
        LinkMessage::TakeSession {
            request_id: 7,
            account_name: name,
        },
        LinkMessage::Session {
            request_id: 7,
            grant: None,
        },
        LinkMessage::Session {
            request_id: 8,
            grant: Some(SessionGrant {
                session_key: SessionKey([0xC3; 40]),
                account_id: AccountId(42),
                security_level: 3,
            }),
        },
        LinkMessage::TakeSessionChecked {
            request_id: 9,
            account_name: name,
            proof: ClientDigest {
                client_seed: 0x0102_0304,
                server_seed: u32::MAX,
                digest: Proof([0x7E; 20]),
            },
        },
        LinkMessage::SessionChecked {
            request_id: 9,
            outcome: CheckedTake::NoTicket,
        },
        LinkMessage::SessionChecked {
            request_id: 10,
            outcome: CheckedTake::WrongDigest,
        },
        LinkMessage::SessionChecked {
            request_id: 11,
            outcome: CheckedTake::Taken(SessionGrant {
                session_key: SessionKey([0xC3; 40]),
                account_id: AccountId(i64::MAX),
                security_level: 255,
            }),
        },
        LinkMessage::CharacterCounts {
            request_id: 12,
            counts: vec![],
        },
        LinkMessage::CharacterCounts {
            request_id: 13,
            counts: vec![(AccountId(9), 3), (AccountId(i64::MAX), 255)],
        },
        LinkMessage::CharacterCounts {
            request_id: u32::MAX,
            counts: (0..MAX_CHARACTER_COUNTS as i64)
                .map(|i| (AccountId(i), i as u8))
                .collect(),
        },
        LinkMessage::CharacterCountsStored {
            request_id: 13,
            status: counts_status::STORED,
            written: 1,
            unknown: 1,
        },
        LinkMessage::Error {
            code: error_code::REALM_MISMATCH,
            message: "realm id mismatch".into(),
        },
        LinkMessage::Error {
            code: 0,
            message: String::new(),
        },
    ]
}

fn bytes(msg: &LinkMessage) -> Vec<u8> {
    match msg.to_bytes() {
        Ok(b) => b,
        Err(e) => panic!("{msg:?} does not encode: {e}"),
    }
}

#[test]
fn every_message_round_trips() {
    for msg in samples() {
        let b = bytes(&msg);
        assert_eq!(b.len(), msg.encoded_len(), "{msg:?}");
        assert_eq!(LinkMessage::check_frame(&b), Check::Complete(b.len()));
        assert_eq!(LinkMessage::parse(&b).as_ref(), Ok(&msg));
        // A second frame behind it does not change what the first one frames to.
        let mut two = b.clone();
        two.extend_from_slice(&b);
        assert_eq!(LinkMessage::check_frame(&two), Check::Complete(b.len()));
    }
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for msg in samples() {
        let b = bytes(&msg);
        for n in 0..b.len() {
            assert_eq!(
                LinkMessage::check_frame(&b[..n]),
                Check::Incomplete,
                "{msg:?} cut at {n}"
            );
        }
    }
}

#[test]
fn wire_layout_is_as_documented() {
    let hb = bytes(&LinkMessage::Heartbeat {
        population: 1.0,
        online: 2,
    });
    assert_eq!(hb, [9, 0, 0, 0, 0x12, 0, 0, 0x80, 0x3f, 2, 0, 0, 0]);
    assert_eq!(bytes(&LinkMessage::Unregister), [1, 0, 0, 0, 0x13]);
}

fn frame_of(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 1) as u32).to_le_bytes().to_vec();
    out.push(ty);
    out.extend_from_slice(payload);
    out
}

#[test]
fn bad_frames_are_errors() {
    // Unknown type.
    assert_eq!(
        LinkMessage::parse(&frame_of(0x55, &[])),
        Err(LinkError::UnknownType(0x55))
    );
    // Trailing bytes.
    assert!(LinkMessage::parse(&frame_of(types::UNREGISTER, &[0])).is_err());
    let mut hb = bytes(&LinkMessage::AuthResult { status: 0 });
    hb[0] += 1;
    hb.push(0);
    assert_eq!(
        LinkMessage::parse(&hb),
        Err(LinkError::Wire(ProtocolError::TrailingBytes))
    );
    // Truncated payload.
    assert!(LinkMessage::parse(&frame_of(types::HELLO, &[1; 10])).is_err());
    // Bad account names: lower-level rule, empty, too long.
    let take = |name: &[u8]| {
        let mut p = 7u32.to_le_bytes().to_vec();
        p.push(name.len() as u8);
        p.extend_from_slice(name);
        LinkMessage::parse(&frame_of(types::TAKE_SESSION, &p))
    };
    assert!(matches!(take(b"al\x01ce"), Err(LinkError::BadName(_))));
    assert!(take(b"").is_err());
    assert!(take(&[b'A'; 17]).is_err());
    assert!(take(b"ALICE").is_ok());
    // build_count 17.
    let mut reg = bytes(&samples()[4]);
    let count_at = reg.len() - 5;
    assert_eq!(reg[count_at], 2);
    reg[count_at] = 17;
    assert_eq!(LinkMessage::parse(&reg), Err(LinkError::TooManyBuilds(17)));
    // found = 2.
    let mut p = 7u32.to_le_bytes().to_vec();
    p.push(2);
    assert!(matches!(
        LinkMessage::parse(&frame_of(types::SESSION, &p)),
        Err(LinkError::BadValue { field: "found", .. })
    ));
    // Account id above i64::MAX.
    let mut p = 7u32.to_le_bytes().to_vec();
    p.push(1);
    p.extend_from_slice(&[0; 40]);
    p.extend_from_slice(&u64::MAX.to_le_bytes());
    p.push(0);
    assert!(LinkMessage::parse(&frame_of(types::SESSION, &p)).is_err());
}

/// TakeSessionChecked and SessionChecked: every truncation is refused (never a panic, never a
/// shorter message), and so are a bad name and an outcome byte that means nothing.
#[test]
fn bad_checked_takes_and_answers_are_errors() {
    let checked: Vec<Vec<u8>> = samples()
        .iter()
        .filter(|m| {
            matches!(
                m,
                LinkMessage::TakeSessionChecked { .. } | LinkMessage::SessionChecked { .. }
            )
        })
        .map(bytes)
        .collect();
    assert_eq!(checked.len(), 4);
    for frame in &checked {
        let (ty, payload) = (frame[4], &frame[5..]);
        // A frame whose length field is honest but whose payload is cut short.
        for cut in 0..payload.len() {
            assert!(
                LinkMessage::parse(&frame_of(ty, &payload[..cut])).is_err(),
                "type {ty:#04x} cut at {cut}"
            );
        }
        // One byte too many.
        let mut long = payload.to_vec();
        long.push(0);
        assert!(LinkMessage::parse(&frame_of(ty, &long)).is_err());
    }
    // A take whose name is empty, too long or not a name.
    let take = |name: &[u8]| {
        let mut p = 7u32.to_le_bytes().to_vec();
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&[0xAA; 20]);
        p.push(name.len() as u8);
        p.extend_from_slice(name);
        LinkMessage::parse(&frame_of(types::TAKE_SESSION_CHECKED, &p))
    };
    assert!(matches!(take(b"al\x01ce"), Err(LinkError::BadName(_))));
    assert!(take(b"").is_err());
    assert!(take(&[b'A'; 17]).is_err());
    assert!(matches!(
        take(b"alice"),
        Ok(LinkMessage::TakeSessionChecked { proof, .. })
            if proof == ClientDigest { client_seed: 1, server_seed: 2, digest: Proof([0xAA; 20]) }
    ));
    // Outcome 3 means nothing.
    let mut p = 7u32.to_le_bytes().to_vec();
    p.push(3);
    assert!(matches!(
        LinkMessage::parse(&frame_of(types::SESSION_CHECKED, &p)),
        Err(LinkError::BadValue {
            field: "outcome",
            value: 3
        })
    ));
    // A taken session whose account id is above i64::MAX.
    let mut p = 7u32.to_le_bytes().to_vec();
    p.push(checked_outcome::TAKEN);
    p.extend_from_slice(&[0; 40]);
    p.extend_from_slice(&u64::MAX.to_le_bytes());
    p.push(0);
    assert!(LinkMessage::parse(&frame_of(types::SESSION_CHECKED, &p)).is_err());
    // The length field itself cut short: framing waits, never a panic.
    for frame in &checked {
        for n in 0..frame.len() {
            assert_eq!(LinkMessage::check_frame(&frame[..n]), Check::Incomplete);
        }
    }
}

#[test]
fn bad_registers_are_refused_both_ways() {
    let base = match &samples()[4] {
        LinkMessage::Register(a) => a.clone(),
        _ => unreachable!(),
    };
    let bad = [
        RealmAnnouncement {
            name: String::new(),
            ..base.clone()
        },
        RealmAnnouncement {
            name: "n".repeat(65),
            ..base.clone()
        },
        RealmAnnouncement {
            name: "a\0b".into(),
            ..base.clone()
        },
        RealmAnnouncement {
            address: "nohost".into(),
            ..base.clone()
        },
        RealmAnnouncement {
            address: "host:0".into(),
            ..base.clone()
        },
        RealmAnnouncement {
            address: ":8085".into(),
            ..base.clone()
        },
        RealmAnnouncement {
            builds: vec![Build(1); 17],
            ..base.clone()
        },
    ];
    for a in bad {
        let msg = LinkMessage::Register(a);
        let mut out = Vec::new();
        assert!(msg.encode(&mut out).is_err(), "{msg:?}");
        assert!(out.is_empty(), "nothing written for a refused message");
    }
    // The same rules on the receiving side: a NUL in the name.
    let mut reg = bytes(&LinkMessage::Register(base));
    let name_at = 4 + 1 + 4 + 1;
    reg[name_at] = 0;
    assert_eq!(
        LinkMessage::parse(&reg),
        Err(LinkError::Wire(ProtocolError::NulInString))
    );
}

#[test]
fn debug_hides_session_keys() {
    for msg in [&samples()[12], &samples()[16]] {
        let shown = format!("{msg:?}");
        assert!(shown.contains("***"), "{shown}");
        assert!(!shown.contains("195"), "{shown}"); // 0xC3, the key's byte
    }
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("hex {s:?}: {e}"))
}

/// The vector in docs/realm-link.md, computed with Python's hmac module, not with our code.
#[test]
fn link_key_known_answer() {
    let key = super::super::LinkKey::derive(b"correct horse battery staple");
    assert_eq!(
        key.0.to_vec(),
        unhex("4bfa208b0104b70801a2000dbc5f37ed61ca87f9e66ac23581a9719d55c79c53")
    );
    let nonce: [u8; 32] = std::array::from_fn(|i| i as u8);
    assert_eq!(
        key.answer(&nonce, 3).to_vec(),
        unhex("afa60f8413903a1bd3bdfdd40e49727d4bc8913b2be0bf882bba72894460cf0e")
    );
}

/// The example session of docs/realm-link.md, frame by frame (hex made with Python).
#[test]
fn example_session_matches_the_document() {
    let key = super::super::LinkKey::derive(b"correct horse battery staple");
    let nonce: [u8; 32] = std::array::from_fn(|i| i as u8);
    let alice = match AccountName::parse(b"ALICE") {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    let session = [
        (
            LinkMessage::Hello { version: 1, nonce },
            "220000000101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
        (
            LinkMessage::Auth {
                realm_id: RealmId(3),
                answer: key.answer(&nonce, 3),
            },
            "250000000203000000afa60f8413903a1bd3bdfdd40e49727d4bc8913b2be0bf882bba72894460cf0e",
        ),
        (LinkMessage::AuthResult { status: 0 }, "020000000300"),
        (
            LinkMessage::Register(RealmAnnouncement {
                realm_id: RealmId(3),
                name: "Nordrassil".into(),
                address: "127.0.0.1:8085".into(),
                realm_type: 1,
                flags: 0,
                timezone: 1,
                builds: vec![Build::WOTLK],
            }),
            "2500000010030000000a4e6f726472617373696c0e3132372e302e302e313a38303835010001013430",
        ),
        (LinkMessage::Registered { status: 0 }, "020000001100"),
        (
            LinkMessage::Heartbeat {
                population: 0.25,
                online: 10,
            },
            "09000000120000803e0a000000",
        ),
        (
            LinkMessage::TakeSession {
                request_id: 1,
                account_name: alice,
            },
            "0b000000200100000005414c494345",
        ),
        (
            LinkMessage::Session {
                request_id: 1,
                grant: Some(SessionGrant {
                    session_key: SessionKey([0x42; 40]),
                    account_id: AccountId(9),
                    security_level: 0,
                }),
            },
            "3700000021010000000142424242424242424242424242424242424242424242424242424242424242424242424242424242090000000000000000",
        ),
        (
            LinkMessage::TakeSession {
                request_id: 2,
                account_name: alice,
            },
            "0b000000200200000005414c494345",
        ),
        (
            LinkMessage::Session {
                request_id: 2,
                grant: None,
            },
            "06000000210200000000",
        ),
        (LinkMessage::Unregister, "0100000013"),
    ];
    for (msg, hex) in session {
        let wire = unhex(hex);
        assert_eq!(bytes(&msg), wire, "{msg:?}");
        assert_eq!(LinkMessage::parse(&wire), Ok(msg));
    }
}

/// The check-then-take example of docs/realm-link.md: the digest (computed with Python's
/// hashlib, not our code) and the frames byte for byte.
#[test]
fn checked_take_example_matches_the_document() {
    let alice = match AccountName::parse(b"ALICE") {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    let key = SessionKey([0x42; 40]);
    let (client_seed, server_seed) = (0x0102_0304, 0xDEAD_BEEF);
    let right = crate::srp6::world_server_proof(&alice, client_seed, server_seed, &key);
    assert_eq!(
        right.0.to_vec(),
        unhex("57664124070061b2aa83e927983d719982c95617")
    );
    let mut wrong = right;
    wrong.0[0] ^= 1;
    let take = |request_id, digest| LinkMessage::TakeSessionChecked {
        request_id,
        account_name: alice,
        proof: ClientDigest {
            client_seed,
            server_seed,
            digest,
        },
    };
    let answer = |request_id, outcome| LinkMessage::SessionChecked {
        request_id,
        outcome,
    };
    let session = [
        (
            take(3, wrong),
            "27000000220300000004030201efbeadde56664124070061b2aa83e927983d719982c9561705414c494345",
        ),
        (
            answer(3, CheckedTake::WrongDigest),
            "06000000230300000002",
        ),
        (
            take(4, right),
            "27000000220400000004030201efbeadde57664124070061b2aa83e927983d719982c9561705414c494345",
        ),
        (
            answer(
                4,
                CheckedTake::Taken(SessionGrant {
                    session_key: key,
                    account_id: AccountId(9),
                    security_level: 0,
                }),
            ),
            "3700000023040000000142424242424242424242424242424242424242424242424242424242424242424242424242424242090000000000000000",
        ),
        (
            take(5, right),
            "27000000220500000004030201efbeadde57664124070061b2aa83e927983d719982c9561705414c494345",
        ),
        (answer(5, CheckedTake::NoTicket), "06000000230500000000"),
    ];
    for (msg, hex) in session {
        let wire = unhex(hex);
        assert_eq!(bytes(&msg), wire, "{msg:?}");
        assert_eq!(LinkMessage::parse(&wire), Ok(msg));
    }
}

/// CharacterCounts and its answer: every truncation is refused (never a panic, never a
/// shorter message), and so are more pairs than allowed, an account id beyond i64 and a
/// count that does not match the pairs that follow.
#[test]
fn bad_character_counts_are_errors() {
    let reports: Vec<Vec<u8>> = samples()
        .iter()
        .filter(|m| {
            matches!(
                m,
                LinkMessage::CharacterCounts { .. } | LinkMessage::CharacterCountsStored { .. }
            )
        })
        .map(bytes)
        .collect();
    assert_eq!(reports.len(), 4);
    for frame in &reports {
        let payload = &frame[LENGTH_FIELD + 1..];
        for cut in 0..payload.len() {
            let short = frame_of(frame[LENGTH_FIELD], &payload[..cut]);
            assert!(
                LinkMessage::parse(&short).is_err(),
                "{:#04x} cut to {cut} payload bytes parsed",
                frame[LENGTH_FIELD]
            );
        }
        let mut long = payload.to_vec();
        long.push(0);
        assert!(LinkMessage::parse(&frame_of(frame[LENGTH_FIELD], &long)).is_err());
    }
    // The largest report fits a frame.
    assert!(reports[2].len() <= frame::MAX_FRAME + LENGTH_FIELD);
    // 101 pairs: refused when parsed and when encoded.
    let mut p = 1u32.to_le_bytes().to_vec();
    p.push(MAX_CHARACTER_COUNTS as u8 + 1);
    for _ in 0..=MAX_CHARACTER_COUNTS {
        p.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
    assert_eq!(
        LinkMessage::parse(&frame_of(types::CHARACTER_COUNTS, &p)),
        Err(LinkError::TooManyCounts(MAX_CHARACTER_COUNTS + 1))
    );
    let too_many = LinkMessage::CharacterCounts {
        request_id: 1,
        counts: vec![(AccountId(1), 1); MAX_CHARACTER_COUNTS + 1],
    };
    assert!(matches!(
        too_many.to_bytes(),
        Err(LinkError::TooManyCounts(_))
    ));
    // An account id above i64::MAX, and a negative one to encode.
    let mut p = 1u32.to_le_bytes().to_vec();
    p.push(1);
    p.extend_from_slice(&u64::MAX.to_le_bytes());
    p.push(1);
    assert!(matches!(
        LinkMessage::parse(&frame_of(types::CHARACTER_COUNTS, &p)),
        Err(LinkError::BadValue {
            field: "account id",
            ..
        })
    ));
    let negative = LinkMessage::CharacterCounts {
        request_id: 1,
        counts: vec![(AccountId(-1), 1)],
    };
    assert!(negative.to_bytes().is_err());
    // Says two pairs, carries one.
    let mut p = 1u32.to_le_bytes().to_vec();
    p.push(2);
    p.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 3]);
    assert!(LinkMessage::parse(&frame_of(types::CHARACTER_COUNTS, &p)).is_err());
}

#[test]
fn character_counts_example_matches_the_document() {
    let session = [
        (
            LinkMessage::CharacterCounts {
                request_id: 6,
                counts: vec![(AccountId(9), 3), (AccountId(12), 0)],
            },
            "180000002406000000020900000000000000030c0000000000000000",
        ),
        (
            LinkMessage::CharacterCountsStored {
                request_id: 6,
                status: counts_status::STORED,
                written: 1,
                unknown: 1,
            },
            "080000002506000000000101",
        ),
    ];
    for (msg, hex) in session {
        let wire = unhex(hex);
        assert_eq!(bytes(&msg), wire, "{msg:?}");
        assert_eq!(LinkMessage::parse(&wire), Ok(msg));
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    // xorshift64: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = samples().iter().map(bytes).collect();
    for i in 0..20_000 {
        let mut buf = if i % 2 == 0 {
            let len = (next() % 64) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            seeds[(next() as usize) % seeds.len()].clone()
        };
        for _ in 0..(next() % 4) {
            if buf.is_empty() {
                break;
            }
            let at = (next() as usize) % buf.len();
            buf[at] = next() as u8;
        }
        if next() % 4 == 0 {
            let cut = (next() as usize) % (buf.len() + 1);
            buf.truncate(cut);
        }
        match LinkMessage::check_frame(&buf) {
            Check::Complete(n) => {
                assert!(n <= buf.len());
                if let Ok(msg) = LinkMessage::parse(&buf[..n]) {
                    // Whatever parses re-encodes to a frame that parses (names come back
                    // normalised, so the bytes may differ in case).
                    let again = bytes(&msg);
                    assert_eq!(
                        LinkMessage::check_frame(&again),
                        Check::Complete(again.len())
                    );
                    assert!(LinkMessage::parse(&again).is_ok());
                }
            }
            Check::Incomplete | Check::Invalid(_) => {
                let _ = LinkMessage::parse(&buf);
            }
        }
    }
}
