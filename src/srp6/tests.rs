//! SRP6 against the reference vectors in `tests/data/vectors/` and a captured client's
//! exchange, plus round trips with random keys and the values that must be refused.

use super::*;

macro_rules! vectors {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/vectors/",
                $path
            )),
        )
    };
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("hex {text:?}: {e}"))
}

/// raw-hex(w): the bytes in wire order, exactly w of them.
fn raw<const W: usize>(text: &str) -> [u8; W] {
    hex(text).try_into().unwrap()
}

/// BE-hex(w): big-endian text of an integer; reverse, then pad at the end up to w bytes.
/// Odd digit counts and missing leading zero bytes both occur.
fn be<const W: usize>(text: &str) -> [u8; W] {
    let padded = if text.len() % 2 == 1 {
        format!("0{text}")
    } else {
        text.to_owned()
    };
    let mut bytes = hex(&padded);
    bytes.reverse();
    assert!(bytes.len() <= W, "{text} is wider than {W} bytes");
    bytes.resize(W, 0);
    bytes.try_into().unwrap()
}

fn name(text: &str) -> AccountName {
    AccountName::parse(text.as_bytes()).unwrap()
}

fn password(text: &str) -> Password {
    Password::parse(text.as_bytes()).unwrap()
}

/// Every non-empty line with its 1-based number and columns; also checks the line count so
/// that a truncated copy cannot pass silently.
fn cases<'a>(
    (path, text): (&'a str, &'a str),
    expected_lines: usize,
) -> impl Iterator<Item = (String, Vec<&'a str>)> {
    let lines: Vec<(String, Vec<&str>)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (format!("{path}:{}", i + 1), l.split(' ').collect()))
        .collect();
    assert_eq!(lines.len(), expected_lines, "{path}: number of cases");
    lines.into_iter()
}

#[test]
fn constants_match_the_spec() {
    assert_eq!(be::<32>(N_BE_HEX), N_WIRE);
    let pinned: [u8; 32] = WowGroup::PARAMS
        .modulus()
        .as_ref()
        .to_le_bytes()
        .as_slice()
        .try_into()
        .unwrap();
    assert_eq!(pinned, N_WIRE);
    // N itself reduces to 0, and the constants are the protocol's.
    assert_eq!(wire_wide(&residue(&N_WIRE)), [0u8; 32]);
    assert_eq!(wire_wide(&G)[0], GENERATOR);
    assert_eq!(wire_wide(&K)[0], K_MULTIPLIER);
    let h_n = sha1_parts(&[&N_WIRE]);
    let h_g = sha1_parts(&[&[GENERATOR]]);
    let xor: Vec<u8> = h_n.iter().zip(h_g.iter()).map(|(a, b)| a ^ b).collect();
    assert_eq!(xor, H_N_XOR_H_G);
}

#[test]
fn x_values() {
    let salt = Salt(be(
        "CAC94AF32D817BA64B13F18FDEDEF92AD4ED7EF7AB0E19E9F2AE13C828AEAF57",
    ));
    for (at, c) in cases(vectors!("srp6_internal/calculate_x_values.txt"), 1000) {
        let x = compute_x(&name(c[0]), &password(c[1]), &salt);
        assert_eq!(x, be::<20>(c[2]), "{at}");
    }
}

#[test]
fn x_salt_values() {
    let (u, p) = (name("USERNAME123"), password("PASSWORD123"));
    for (at, c) in cases(vectors!("srp6_internal/calculate_x_salt_values.txt"), 1000) {
        assert_eq!(compute_x(&u, &p, &Salt(be(c[0]))), be::<20>(c[1]), "{at}");
    }
}

#[test]
fn v_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_v_values.txt"), 1000) {
        let v = compute_verifier(&name(c[0]), &password(c[1]), &Salt(be(c[2])));
        assert_eq!(v, Verifier(be(c[3])), "{at}");
    }
}

#[test]
fn a_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_A_values.txt"), 1000) {
        let a = PrivateKey::from_bytes(be(c[0]));
        assert_eq!(compute_public_key_a(&a), PublicKey(be(c[1])), "{at}");
    }
}

#[test]
fn b_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_B_values.txt"), 1000) {
        let b = PrivateKey::from_bytes(be(c[1]));
        let b_pub = compute_b_pub(&Verifier(be(c[0])), &b);
        assert_eq!(b_pub, PublicKey(be(c[2])), "{at}");
    }
}

#[test]
fn u_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_u_values.txt"), 1000) {
        let u = compute_u(&PublicKey(be(c[0])), &PublicKey(be(c[1])));
        assert_eq!(u, be::<20>(c[2]), "{at}");
    }
}

#[test]
fn s_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_S_values.txt"), 1000) {
        let s = compute_server_s(
            &PublicKey(be(c[0])),
            &Verifier(be(c[1])),
            &be(c[2]),
            &PrivateKey::from_bytes(be(c[3])),
        );
        assert_eq!(s, be::<32>(c[4]), "{at}");
    }
}

#[test]
fn client_s_values() {
    for (at, c) in cases(
        vectors!("srp6_internal/calculate_client_S_values.txt"),
        1000,
    ) {
        let s = compute_client_s(
            &PublicKey(be(c[0])),
            &PrivateKey::from_bytes(be(c[1])),
            &be(c[2]),
            &be(c[3]),
        );
        assert_eq!(s, be::<32>(c[4]), "{at}");
    }
}

#[test]
fn interleaved_values() {
    for (at, c) in cases(
        vectors!("srp6_internal/calculate_interleaved_values.txt"),
        1000,
    ) {
        assert_eq!(interleave(&raw(c[0])), SessionKey(raw(c[1])), "{at}");
    }
}

#[test]
fn session_key_values() {
    let mut zero_skips = Vec::new();
    for (at, c) in cases(
        vectors!("srp6_internal/calculate_session_key_values.txt"),
        1000,
    ) {
        let a_pub = PublicKey(raw(c[0]));
        let v = Verifier(raw(c[1]));
        let b = PrivateKey::from_bytes(raw(c[2]));
        let b_pub = compute_b_pub(&v, &b);
        let s = compute_server_s(&a_pub, &v, &compute_u(&a_pub, &b_pub), &b);
        if s[0] == 0 {
            zero_skips.push(at.clone());
        }
        assert_eq!(interleave(&s), SessionKey(raw(c[3])), "{at}");
    }
    // The two lines that exercise the zero-skip rule must really have been run.
    assert_eq!(
        zero_skips,
        [
            "srp6_internal/calculate_session_key_values.txt:174",
            "srp6_internal/calculate_session_key_values.txt:818"
        ]
    );
}

#[test]
fn interleave_zero_skip_known_answer() {
    // docs/srp6.md §6, session_key_values line 174.
    let s = raw("006bc986eda586004b31989b3e3f53f930a21451a6af160b48481a8430565244");
    let k = raw("ec565f71595fcbfca86a46aef0fd73e13d2892ab8a2cdb6c5caa60e2a4ac631f13f93641b7adfba9");
    assert_eq!(interleave(&s), SessionKey(k));
    // All-zero S: everything is skipped and both halves hash the empty string.
    let empty = sha1_parts(&[]);
    let k = interleave(&[0u8; 32]);
    for (pair, e) in k.0.chunks_exact(2).zip(empty) {
        assert_eq!(pair, [e, e]);
    }
}

#[test]
fn m1_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_M1_values.txt"), 1000) {
        let m1 = compute_m1(
            &name(c[0]),
            &Salt(be(c[4])),
            &PublicKey(be(c[2])),
            &PublicKey(be(c[3])),
            &SessionKey(raw(c[1])),
        );
        assert_eq!(m1, Proof(be(c[5])), "{at}");
    }
}

#[test]
fn m2_values() {
    for (at, c) in cases(vectors!("srp6_internal/calculate_M2_values.txt"), 1000) {
        let m2 = compute_m2(
            &PublicKey(be(c[0])),
            &Proof(be(c[1])),
            &SessionKey(raw(c[2])),
        );
        assert_eq!(m2, Proof(be(c[3])), "{at}");
    }
}

#[test]
fn reconnection_values() {
    for (at, c) in cases(
        vectors!("srp6_internal/calculate_reconnection_values.txt"),
        1001,
    ) {
        let (u, r1, challenge, k) = (name(c[0]), raw(c[1]), raw(c[2]), SessionKey(raw(c[3])));
        let r2 = Proof(raw(c[4]));
        assert_eq!(reconnect_proof(&u, &r1, &challenge, &k), r2, "{at}");
        assert!(verify_reconnect_proof(&u, &r1, &challenge, &k, &r2), "{at}");
        let mut wrong = r2;
        wrong.0[19] ^= 1;
        assert!(
            !verify_reconnect_proof(&u, &r1, &challenge, &k, &wrong),
            "{at}"
        );
    }
}

fn check_world_server_proofs(file: (&str, &str), key: impl Fn(&str) -> SessionKey) {
    for (at, c) in cases(file, 1000) {
        // AccountName::parse upper-cases the mixed-case names of the srp6_internal file.
        let u = name(c[0]);
        let k = key(c[1]);
        let server_seed = u32::from_le_bytes(raw(c[2]));
        let client_seed = u32::from_le_bytes(raw(c[3]));
        let digest = Proof(raw(c[4]));
        assert_eq!(
            world_server_proof(&u, client_seed, server_seed, &k),
            digest,
            "{at}"
        );
        assert!(
            verify_world_server_proof(&u, client_seed, server_seed, &k, &digest),
            "{at}"
        );
        assert!(
            !verify_world_server_proof(&u, server_seed, client_seed, &k, &digest),
            "{at}"
        );
    }
}

#[test]
fn world_server_proof_values() {
    check_world_server_proofs(
        vectors!("srp6_internal/calculate_world_server_proof.txt"),
        |k| SessionKey(raw(k)),
    );
}

#[test]
fn world_server_proof_values_big_endian_key() {
    check_world_server_proofs(
        vectors!("encryption/calculate_world_server_proof.txt"),
        |k| SessionKey(be(k)),
    );
}

/// docs/srp6.md §11: values produced by a real client, account "A" / password "A".
#[test]
fn real_client_known_answer() {
    let (u, p) = (name("A"), password("A"));
    let salt = Salt(raw(
        "3c817155ed2215bf1623b08ae339977c294e590a39c8f64e9fea0bb3131e7765",
    ));
    assert_eq!(
        compute_x(&u, &p, &salt),
        raw::<20>("1b493f09d1176b85da31e6c7cf0b6d797c86a704")
    );
    let v = compute_verifier(&u, &p, &salt);
    assert_eq!(
        v,
        Verifier(raw(
            "549bdc598d3e4a88c293722e5f693a6101bf704997d1a4ab966dcefff99f544d"
        ))
    );
    let b = PrivateKey::from_bytes(raw(
        "6e02f53aad8929c3fd8f21e4c28b1516b3fd071dfe2a70dd7c9eab6aa7d21b29",
    ));
    let server = ServerHandshake::with_private_key(b.clone(), v, salt);
    let b_pub = PublicKey(raw(
        "0040e2c566241c044108ccbc9d1a20c279a78b3c5ec051a44a0cc5a70821ed13",
    ));
    assert_eq!(*server.public_key(), b_pub);
    assert_eq!(*server.salt(), salt);

    let a_pub = PublicKey(raw(
        "fa7e7b8c996c1e2fc5da2b4dc14570d872364aac0d29e8151d72605d641e072e",
    ));
    let u_digest = compute_u(&a_pub, &b_pub);
    assert_eq!(
        u_digest,
        raw::<20>("28744edbcd8205de41ffe3f07381df8669c46dfa")
    );
    let s = compute_server_s(&a_pub, &v, &u_digest, &b);
    assert_eq!(
        s,
        raw::<32>("e254772a41169518eccd58d72d0a200d0d74e8897c5a467dbcdac40c8b85bf52")
    );
    let k = SessionKey(raw(
        "39cdb95ec12bdf4c283dd9379afc3df4ee7f8f1c4fb1c303ed3ff6bffc1a6fc5ae5bc7d4b6dae8b3",
    ));
    assert_eq!(interleave(&s), k);

    let m1 = Proof(raw("e6430af65434d7669f5d58449c96068c0c6e1eb9"));
    let m2 = Proof(raw("0b78221a4e3cc8d270320443187af2b68568000e"));
    assert_eq!(compute_m1(&u, &salt, &a_pub, &b_pub, &k), m1);
    let success = server.verify(&u, &a_pub, &m1).unwrap();
    assert_eq!(success.session_key, k);
    assert_eq!(success.server_proof, m2);
}

#[test]
fn round_trip_with_random_keys() {
    let (u, p) = (name("alice"), password("Correct Horse"));
    let salt = Salt::random();
    let v = compute_verifier(&u, &p, &salt);
    let server = ServerHandshake::new(v, salt);
    let client = ClientHandshake::new(&u, &p, server.salt(), server.public_key()).unwrap();
    let success = server
        .verify(&u, &client.public_key, &client.client_proof)
        .unwrap();
    assert_eq!(success.session_key, client.session_key);
    assert!(client.verify_server_proof(&success.server_proof));
    let mut forged = success.server_proof;
    forged.0[0] ^= 0x80;
    assert!(!client.verify_server_proof(&forged));
}

#[test]
fn wrong_password_is_a_mismatch() {
    let u = name("ALICE");
    let salt = Salt::random();
    let v = compute_verifier(&u, &password("right"), &salt);
    let server = ServerHandshake::new(v, salt);
    let client = ClientHandshake::new(&u, &password("wrong"), &salt, server.public_key()).unwrap();
    let result = server.verify(&u, &client.public_key, &client.client_proof);
    assert_eq!(result.unwrap_err(), ProofFailure::Mismatch);
}

#[test]
fn public_keys_congruent_to_zero_are_refused() {
    let u = name("ALICE");
    let salt = Salt::random();
    let v = compute_verifier(&u, &password("pw"), &salt);
    for bad in [[0u8; 32], N_WIRE] {
        let server = ServerHandshake::new(v, salt);
        let result = server.verify(&u, &PublicKey(bad), &Proof([0; 20]));
        assert_eq!(result.unwrap_err(), ProofFailure::PublicKeyZero);
        let client = ClientHandshake::new(&u, &password("pw"), &salt, &PublicKey(bad));
        assert!(matches!(client, Err(Srp6Error::PublicKeyZero)));
    }
    // N + 1 ≡ 1 is not zero: it is refused only because the proof is wrong.
    let mut n_plus_1 = N_WIRE;
    n_plus_1[0] += 1;
    let server = ServerHandshake::new(v, salt);
    let result = server.verify(&u, &PublicKey(n_plus_1), &Proof([0; 20]));
    assert_eq!(result.unwrap_err(), ProofFailure::Mismatch);
}

#[test]
fn private_keys_and_salts_are_random_and_hidden() {
    assert_ne!(PrivateKey::random().0, PrivateKey::random().0);
    assert_ne!(Salt::random(), Salt::random());
    let key = PrivateKey::from_bytes([0xab; 32]);
    assert_eq!(format!("{key:?}"), "PrivateKey(***)");
    let server = ServerHandshake::with_private_key(key, Verifier([1; 32]), Salt([2; 32]));
    assert!(format!("{server:?}").contains("b: PrivateKey(***)"));
}

/// docs/protocol.md §7.3 against the captured 1.12.1 proof
/// (tests/data/packets/logon_proof_client_v3.hex, from gtker/wow_messages).
#[test]
fn version_proof_matches_captured_client() {
    const LOGON_PROOF_V3: &str = "01f13ee5d183c4c8a9500e3f5a5d8aee4e2e45e1f7cc8f1cf5ee8e11ced31dd7\
         086b1e481b4d04a118d8f2de5c59d55c812e65ec3e4ef52de1805e1a6715ecc8\
         41eeb8908a58bb00d00000";
    let packet = hex(LOGON_PROOF_V3);
    assert_eq!(packet.len(), 75);
    let a_pub = PublicKey(packet[1..33].try_into().unwrap());
    let crc_hash: [u8; 20] = packet[53..73].try_into().unwrap();
    let build_os = raw("95EDB27C7823B363CBDDAB56A392E7CB73FCCA20");
    assert_eq!(version_proof(&a_pub, &build_os), crc_hash);
}
