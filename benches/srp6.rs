//! The server's SRP work per logon: B at the challenge, then S, K, M1 and M2 at the proof.
//! These two are the CPU floor of a logon; `compute_verifier` is the registration cost.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gatehouse::account::{AccountName, Password};
use gatehouse::srp6::{compute_verifier, ClientHandshake, PrivateKey, Salt, ServerHandshake};

fn credentials() -> (AccountName, Password, Salt) {
    let name = AccountName::parse(b"BENCHMARK").unwrap();
    let password = Password::parse(b"PASSWORD").unwrap();
    (name, password, Salt([0x5a; 32]))
}

fn srp6(c: &mut Criterion) {
    let (name, password, salt) = credentials();
    let verifier = compute_verifier(&name, &password, &salt);

    c.bench_function("compute_verifier", |bench| {
        bench.iter(|| compute_verifier(black_box(&name), black_box(&password), black_box(&salt)))
    });

    c.bench_function("server_challenge (ServerHandshake::new)", |bench| {
        bench.iter(|| ServerHandshake::new(black_box(verifier), black_box(salt)))
    });

    // A fixed b, so the client proof can be prepared outside the measured part; verify
    // consumes the handshake, so each iteration gets a fresh clone of the same one.
    let b = PrivateKey::from_bytes([0x3c; 32]);
    let prepared = ServerHandshake::with_private_key(b.clone(), verifier, salt);
    let client = ClientHandshake::new(&name, &password, &salt, prepared.public_key()).unwrap();
    c.bench_function("server_proof (ServerHandshake::verify)", |bench| {
        bench.iter_batched(
            || ServerHandshake::with_private_key(b.clone(), verifier, salt),
            |server| {
                let ok = server.verify(&name, &client.public_key, &client.client_proof);
                assert!(ok.is_ok());
                ok
            },
            BatchSize::SmallInput,
        )
    });

    // One logon as the server sees it: a fresh b and B, then the proof. The client's side is
    // prepared in the setup because it depends on B.
    c.bench_function("server_logon (new + verify)", |bench| {
        bench.iter_batched(
            || {
                let b = PrivateKey::random();
                let preview = ServerHandshake::with_private_key(b.clone(), verifier, salt);
                let client =
                    ClientHandshake::new(&name, &password, &salt, preview.public_key()).unwrap();
                (b, client)
            },
            |(b, client)| {
                let server = ServerHandshake::with_private_key(b, verifier, salt);
                let ok = server.verify(&name, &client.public_key, &client.client_proof);
                assert!(ok.is_ok());
                ok
            },
            BatchSize::SmallInput,
        )
    });

    c.bench_function("client_handshake (test/load client)", |bench| {
        bench.iter(|| ClientHandshake::new(&name, &password, &salt, prepared.public_key()).unwrap())
    });
}

criterion_group!(benches, srp6);
criterion_main!(benches);
