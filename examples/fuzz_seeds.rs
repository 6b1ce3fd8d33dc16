//! Writes the seed corpora of the fuzz targets (fuzz/, see README.md "Fuzzing"):
//! `packets` gets every reference packet of tests/data/packets with its selector byte in front,
//! plus a few whole conversations; `link_frames` gets one encoded frame of every realm-link
//! message type, plus the example session of docs/realm-link.md as one stream.
//!
//! `cargo run --example fuzz_seeds [OUT_DIR]` (default: fuzz/seeds). The output is committed;
//! rerun it when the reference packets or the link messages change.

use std::fs;
use std::path::{Path, PathBuf};

use gatehouse::account::{AccountId, AccountName};
use gatehouse::protocol::version::Build;
use gatehouse::realms::link::message::{
    error_code, LinkMessage, RealmAnnouncement, SessionGrant, LINK_VERSION, MAX_BUILDS,
};
use gatehouse::realms::RealmId;
use gatehouse::srp6::SessionKey;

/// Selector byte of the `packets` target: bits 0–1 the layout, bit 2 the reader.
const LAYOUT_V2: u8 = 0;
const LAYOUT_V3: u8 = 1;
const LAYOUT_V8: u8 = 2;
const LAYOUT_NONE: u8 = 3;
const READER_CLIENT: u8 = 0b100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/seeds"));
    let packets = root.join("tests/data/packets");
    let n = packet_seeds(&packets, &out.join("packets"))?;
    println!("packets: {n} seeds");
    let n = link_seeds(&out.join("link_frames"))?;
    println!("link_frames: {n} seeds");
    Ok(())
}

/// Loads a reference packet: `#` lines dropped, the rest hex pairs.
fn load_hex(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let text = fs::read_to_string(path)?;
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    for pair in hex.as_bytes().chunks(2) {
        bytes.push(u8::from_str_radix(std::str::from_utf8(pair)?, 16)?);
    }
    Ok(bytes)
}

fn write_seed(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), std::io::Error> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)
}

fn packet_seeds(src: &Path, dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let mut names: Vec<PathBuf> = fs::read_dir(src)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    names.retain(|p| p.extension().is_some_and(|e| e == "hex"));
    names.sort();
    let mut count = 0;
    for path in &names {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("file name is not UTF-8")?;
        let bytes = load_hex(path)?;
        // xfer_data, xfer_initiate and the logon/realm-list "server" files are read by the
        // client; the rest ("client", accept/resume/cancel, survey) by the server, except the
        // survey, which only the client-side codec set covers.
        let server_sent = stem.contains("_server")
            || stem.starts_with("xfer_data")
            || stem.starts_with("xfer_initiate")
            || stem.starts_with("survey_result");
        let reader = if server_sent { READER_CLIENT } else { 0 };
        // One seed per protocol version named in the file; versions without a layout of
        // their own (5, 6, 7) are nearest to V8.
        let mut layouts: Vec<(u8, &str)> = Vec::new();
        for part in stem.split('_') {
            let layout = match part {
                "v2" => (LAYOUT_V2, "v2"),
                "v3" => (LAYOUT_V3, "v3"),
                "v5" | "v6" | "v7" | "v8" => (LAYOUT_V8, "v8"),
                _ => continue,
            };
            if !layouts.contains(&layout) {
                layouts.push(layout);
            }
        }
        for (layout, tag) in layouts {
            let mut seed = vec![layout | reader];
            seed.extend_from_slice(&bytes);
            write_seed(dir, &format!("{stem}.as_{tag}"), &seed)?;
            count += 1;
        }
    }

    // Whole conversations, as one stream each, starting before the layout is known.
    let conversations: [(&str, u8, &[&str]); 6] = [
        (
            "session_logon_v3",
            LAYOUT_NONE,
            &[
                "logon_challenge_client_v3",
                "logon_proof_client_v3",
                "realm_list_client_v2_v3_v5_v6_v7_v8",
                "realm_list_client_v2_v3_v5_v6_v7_v8",
            ],
        ),
        (
            "session_reconnect_v2",
            LAYOUT_NONE,
            &[
                "reconnect_challenge_client_v2_16char",
                "reconnect_proof_client_v2_v5_v6_v7_v8",
                "realm_list_client_v2_v3_v5_v6_v7_v8",
            ],
        ),
        (
            "session_patch",
            LAYOUT_V3,
            &["xfer_resume_v3", "xfer_accept_v3", "xfer_cancel_v3"],
        ),
        (
            "client_logon_v8",
            LAYOUT_V8 | READER_CLIENT,
            &[
                "logon_challenge_server_v8_matrix_authenticator",
                "logon_proof_server_v8_fail_no_time",
                "realm_list_server_v8_specify_build",
            ],
        ),
        (
            "client_logon_v3",
            LAYOUT_V3 | READER_CLIENT,
            &[
                "logon_challenge_server_v3_pin",
                "logon_proof_server_v2_v3",
                "xfer_initiate_v3",
                "xfer_data_v3",
                "xfer_data_v3",
            ],
        ),
        (
            "client_reconnect_v2",
            LAYOUT_V2 | READER_CLIENT,
            &[
                "reconnect_challenge_server_v2",
                "reconnect_proof_server_v2",
                "realm_list_server_v2_v3",
            ],
        ),
    ];
    for (name, selector, parts) in conversations {
        let mut seed = vec![selector];
        for part in parts {
            seed.extend(load_hex(&src.join(format!("{part}.hex")))?);
        }
        write_seed(dir, name, &seed)?;
        count += 1;
    }
    Ok(count)
}

fn link_seeds(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let alice = AccountName::parse(b"alice")?;
    let register = RealmAnnouncement {
        realm_id: RealmId(3),
        name: "Nordrassil".into(),
        address: "127.0.0.1:8085".into(),
        realm_type: 1,
        flags: 0,
        timezone: 1,
        builds: vec![Build::WOTLK],
    };
    let messages = [
        (
            "hello",
            LinkMessage::Hello {
                version: LINK_VERSION,
                nonce: std::array::from_fn(|i| i as u8),
            },
        ),
        (
            "auth",
            LinkMessage::Auth {
                realm_id: RealmId(3),
                answer: [0x5A; 32],
            },
        ),
        ("auth_result", LinkMessage::AuthResult { status: 0 }),
        ("register", LinkMessage::Register(register.clone())),
        (
            "register_largest",
            LinkMessage::Register(RealmAnnouncement {
                realm_id: RealmId(u32::MAX),
                name: "é".repeat(32),
                address: format!("[::1]:{}", u16::MAX),
                realm_type: 8,
                flags: 0xFF,
                timezone: 0xFF,
                builds: vec![Build::VANILLA; MAX_BUILDS],
            }),
        ),
        ("registered", LinkMessage::Registered { status: 1 }),
        (
            "heartbeat",
            LinkMessage::Heartbeat {
                population: 0.25,
                online: 10,
            },
        ),
        ("unregister", LinkMessage::Unregister),
        (
            "take_session",
            LinkMessage::TakeSession {
                request_id: 1,
                account_name: alice,
            },
        ),
        (
            "session_found",
            LinkMessage::Session {
                request_id: 1,
                grant: Some(SessionGrant {
                    session_key: SessionKey([0x42; 40]),
                    account_id: AccountId(9),
                    security_level: 3,
                }),
            },
        ),
        (
            "session_none",
            LinkMessage::Session {
                request_id: 2,
                grant: None,
            },
        ),
        (
            "error",
            LinkMessage::Error {
                code: error_code::REALM_MISMATCH,
                message: "realm id mismatch".into(),
            },
        ),
    ];
    let mut stream = Vec::new();
    for (name, msg) in &messages {
        let bytes = msg.to_bytes()?;
        write_seed(dir, name, &bytes)?;
        stream.extend_from_slice(&bytes);
    }
    // A whole link session in one stream, frames back to back.
    write_seed(dir, "stream_all", &stream)?;
    Ok(messages.len() + 1)
}
