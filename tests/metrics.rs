//! The Prometheus endpoint over TCP: off unless `metrics.listen` is set; `GET /metrics` is
//! Prometheus text whose counters move with real logons and realm links; other requests are
//! refused; the console's `stats` reads the same counters.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{account, realm, TestServer, TIMEOUT};
use gatehouse::protocol::version::Build;
use gatehouse::realms::link::message::RealmAnnouncement;
use gatehouse::realms::link::LinkKey;
use gatehouse::realms::RealmId;
use gatehouse::store::{NewRealm, Store};
use gatehouse::tools::client::{ClientBuild, LogonClient};
use gatehouse::tools::world_gate::over_link::{GateOptions, RunningGate};

const SECRET: &[u8] = b"a long shared realm secret";
const CONSOLE_PASSWORD: &str = "console secret";

/// alice ("secret"), a static realm and a linkable one, the console password; metrics and
/// the console on.
fn server() -> (TestServer, RealmId) {
    let mut linkable = RealmId(0);
    let server = TestServer::start(
        |store| {
            account(store, "alice", "secret");
            realm(store, "Static \"Realm\"", "127.0.0.1:8085", &[]);
            linkable = store
                .add_realm(&NewRealm {
                    name: "Linkable".into(),
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
            let hash = gatehouse::admin::hash_console_password(CONSOLE_PASSWORD).unwrap();
            store.set_console_password(&hash).unwrap();
        },
        |config| {
            config.metrics.listen = vec!["127.0.0.1:0".parse().unwrap()];
            config.console.listen = vec!["127.0.0.1:0".parse().unwrap()];
        },
    );
    (server, linkable)
}

/// Sends `request` and reads until the server closes: (status code, headers, body).
fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("the server answers and closes");
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse().ok())
        .expect("a Content-Length");
    assert_eq!(length, body.len(), "Content-Length is the body's length");
    (code, head.to_string(), body.to_string())
}

fn scrape(server: &TestServer) -> Page {
    let addr = server.metrics.expect("metrics listener");
    let (code, head, body) = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(code, 200, "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    Page::parse(&body)
}

/// A Prometheus text page, checked line by line as it is read: every line is `# HELP`,
/// `# TYPE` or a sample `name{labels} value` of the family the last `# TYPE` declared.
struct Page {
    /// "name{k=\"v\",…}" → value.
    samples: HashMap<String, f64>,
    types: HashMap<String, String>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Reads `{k="v",…}` at the start of `s`: the labels (unescaped) and the rest.
fn labels(s: &str) -> (Vec<(String, String)>, &str) {
    let Some(mut rest) = s.strip_prefix('{') else {
        return (Vec::new(), s);
    };
    let mut out = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (out, r);
        }
        let (key, r) = rest.split_once("=\"").expect("label key=\"value\"");
        assert!(is_name(key), "label name {key:?}");
        let mut value = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((key.to_string(), value));
        rest = &r[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

impl Page {
    fn parse(text: &str) -> Page {
        let mut samples = HashMap::new();
        let mut types = HashMap::new();
        let mut family: Option<(String, String)> = None;
        assert!(text.ends_with('\n'), "the page ends with a newline");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').expect("# HELP name text");
                assert!(is_name(name), "{line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
                assert!(is_name(name), "{line}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "{name} declared twice"
                );
                family = Some((name.to_string(), kind.to_string()));
                continue;
            }
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let end = line.find(['{', ' ']).expect("name then value");
            let name = &line[..end];
            assert!(is_name(name), "{line}");
            let (labels, rest) = labels(&line[end..]);
            let value = rest.strip_prefix(' ').expect("a space before the value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let (fam, kind) = family.as_ref().expect("a sample after its # TYPE");
            let belongs = name == fam
                || (kind == "histogram"
                    && [
                        format!("{fam}_bucket"),
                        format!("{fam}_sum"),
                        format!("{fam}_count"),
                    ]
                    .iter()
                    .any(|n| n == name));
            assert!(belongs, "{name} is not of family {fam}");
            let key = Self::key(name, &labels);
            assert!(samples.insert(key, value).is_none(), "{line} twice");
        }
        Page { samples, types }
    }

    fn key(name: &str, labels: &[(String, String)]) -> String {
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        format!("{name}{{{}}}", inner.join(","))
    }

    /// A sample's value, if the page has it.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&Self::key(name, &labels)).copied()
    }

    /// A sample's value, zero if the page does not have it (yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_are_off_by_default() {
    assert!(gatehouse::config::Config::default()
        .metrics
        .listen
        .is_empty());
    let server = TestServer::start(|_| {}, |_| {});
    assert_eq!(
        server.metrics, None,
        "no metrics listener unless configured"
    );
}

#[test]
fn the_page_is_prometheus_text_and_moves_with_real_logons() {
    let (server, _) = server();
    let before = scrape(&server);
    assert_eq!(before.types["gatehouse_logons_total"], "counter");
    assert_eq!(before.types["gatehouse_loop_pass_seconds"], "histogram");
    assert_eq!(before.types["gatehouse_store_latency_seconds"], "histogram");
    // Every abuse policy has its series from the start.
    for policy in [
        "address_banned",
        "server_full",
        "too_many_connections",
        "connect_rate",
        "challenge_rate",
        "address_locked",
    ] {
        assert_eq!(
            before.get("gatehouse_refusals_total", &[("policy", policy)]),
            Some(0.0),
            "{policy}"
        );
    }
    // This scrape is the one metrics connection open.
    assert_eq!(
        before.get("gatehouse_connections_open", &[("kind", "metrics")]),
        Some(1.0)
    );
    assert!(before.value("gatehouse_loop_pass_seconds_count", &[]) > 0.0);

    let ok = [("outcome", "success"), ("build", "12340")];
    let wrong = [("outcome", "wrong_password"), ("build", "12340")];
    let unknown = [("outcome", "unknown_account"), ("build", "12340")];
    let mut logged_in =
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    logged_in.client.realm_list().unwrap();
    assert!(
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "wrong", TIMEOUT).is_err()
    );
    assert!(LogonClient::login(server.addr, ClientBuild::WOTLK, "nobody", "x", TIMEOUT).is_err());

    let after = scrape(&server);
    assert_eq!(
        after.value("gatehouse_logons_total", &ok),
        before.value("gatehouse_logons_total", &ok) + 1.0
    );
    assert_eq!(
        after.value("gatehouse_logons_total", &wrong),
        before.value("gatehouse_logons_total", &wrong) + 1.0
    );
    assert_eq!(
        after.value("gatehouse_logons_total", &unknown),
        before.value("gatehouse_logons_total", &unknown) + 1.0
    );
    assert_eq!(
        after.value(
            "gatehouse_logons_total",
            &[("outcome", "success"), ("build", "5875")]
        ),
        0.0,
        "another build's series did not move"
    );
    assert_eq!(
        after.value("gatehouse_logons_completed_total", &[]),
        before.value("gatehouse_logons_completed_total", &[]) + 1.0
    );
    // The logged-in client is still connected, at the realm list.
    assert_eq!(
        after.get(
            "gatehouse_game_connections_open",
            &[("state", "world_select")]
        ),
        Some(1.0)
    );
    // Loading accounts and recording attempts went through the store and were timed.
    let jobs = after.value("gatehouse_store_latency_seconds_count", &[]);
    assert!(
        jobs >= before.value("gatehouse_store_latency_seconds_count", &[]) + 4.0,
        "{jobs}"
    );
    assert_eq!(
        after.get("gatehouse_store_latency_seconds_bucket", &[("le", "+Inf")]),
        Some(jobs)
    );
    assert!(after.get("gatehouse_store_queue_depth", &[]).is_some());
    drop(logged_in);
}

#[test]
fn realms_show_online_and_linked_with_escaped_names() {
    let (server, linkable) = server();
    let page = scrape(&server);
    let static_realm = [("realm_id", "1"), ("realm_name", "Static \"Realm\"")];
    assert_eq!(page.get("gatehouse_realm_online", &static_realm), Some(1.0));
    assert_eq!(page.get("gatehouse_realm_linked", &static_realm), Some(0.0));
    assert_eq!(
        page.get("gatehouse_realm_population", &static_realm),
        Some(1.5)
    );
    assert_eq!(page.get("gatehouse_realms_listed", &[]), Some(2.0));

    let gate = RunningGate::start(GateOptions {
        link: server.link,
        secret: SECRET.to_vec(),
        realm: RealmAnnouncement {
            realm_id: linkable,
            name: "Linked".into(),
            address: "127.0.0.1:0".into(),
            realm_type: 1,
            flags: 0,
            timezone: 2,
            builds: vec![Build(12340)],
        },
        build: Build(12340),
        heartbeat_every: Duration::from_millis(100),
        timeout: TIMEOUT,
    })
    .unwrap();
    let id = linkable.0.to_string();
    let linked = [("realm_id", id.as_str()), ("realm_name", "Linked")];
    wait_until(
        || scrape(&server).get("gatehouse_realm_linked", &linked) == Some(1.0),
        "the registered realm to show linked",
    );
    let page = scrape(&server);
    assert_eq!(page.get("gatehouse_realm_online", &linked), Some(1.0));
    assert!(page.get("gatehouse_realm_players", &linked).is_some());
    assert_eq!(
        page.get("gatehouse_connections_open", &[("kind", "link")]),
        Some(1.0)
    );
    gate.stop().unwrap();
    wait_until(
        || scrape(&server).get("gatehouse_realm_online", &linked) == Some(0.0),
        "the realm to show offline once its link is gone",
    );
}

#[test]
fn other_methods_paths_and_junk_are_refused() {
    let (server, _) = server();
    let addr = server.metrics.unwrap();
    let (code, head, _) = exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(code, 405);
    assert!(head.contains("Allow: GET"), "{head}");
    assert_eq!(exchange(addr, b"GET / HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(exchange(addr, b"GET /metricsx HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(exchange(addr, b"\x16\x03\x01\x02\x00\x01\r\n\r\n").0, 400);

    // A request head larger than the ring is closed unanswered.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 16 * 1024));
    let _ = s.write_all(&huge);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));

    let page = scrape(&server);
    let of = |result| page.value("gatehouse_metrics_requests_total", &[("result", result)]);
    assert_eq!(of("method_not_allowed"), 1.0);
    assert_eq!(of("not_found"), 2.0);
    assert_eq!(of("bad_request"), 1.0);
    // This scrape is counted once its page has been built.
    assert_eq!(of("ok"), 0.0);
    assert_eq!(
        scrape(&server).value("gatehouse_metrics_requests_total", &[("result", "ok")]),
        1.0
    );
}

#[test]
fn idle_connections_cannot_lock_the_scraper_out() {
    let (server, _) = server();
    let addr = server.metrics.unwrap();
    // More idle connections than the table holds: the oldest give way.
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(100));
    let page = scrape(&server);
    assert!(page.value("gatehouse_connections_open", &[("kind", "metrics")]) <= 8.0);
    drop(idle);
}

/// Logs into the console with its password and runs `stats`.
fn console_stats(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut seen = Vec::new();
    let mut until = |s: &mut TcpStream, needle: &str| {
        let start = seen.len();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = String::from_utf8_lossy(&seen[start..]).to_string();
            if let Some(at) = text.find(needle) {
                return text[..at].to_string();
            }
            assert!(Instant::now() < deadline, "no {needle:?} in {text:?}");
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "console closed: {text:?}");
            seen.extend_from_slice(&buf[..n]);
        }
    };
    until(&mut s, "user");
    s.write_all(b"\r\n").unwrap();
    until(&mut s, "password: ");
    s.write_all(format!("{CONSOLE_PASSWORD}\r\n").as_bytes())
        .unwrap();
    until(&mut s, "gatehouse> ");
    s.write_all(b"stats\r\n").unwrap();
    until(&mut s, "gatehouse> ")
}

#[test]
fn the_console_stats_and_the_page_read_the_same_counters() {
    let (server, _) = server();
    for _ in 0..2 {
        LogonClient::login(server.addr, ClientBuild::WOTLK, "alice", "secret", TIMEOUT).unwrap();
    }
    assert!(LogonClient::login(server.addr, ClientBuild::VANILLA, "alice", "no", TIMEOUT).is_err());
    let stats = console_stats(server.console.unwrap());
    // The console's own login is counted too, under build 0.
    let page = scrape(&server);
    let count = |outcome: &str| -> u64 {
        let line = stats
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{outcome} ")))
            .unwrap_or_else(|| panic!("no {outcome} in {stats}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(count("success"), 2);
    assert_eq!(count("wrong_password"), 1);
    assert_eq!(count("console_success"), 1);
    let on_page = |outcome: &str, build: &str| {
        page.value(
            "gatehouse_logons_total",
            &[("outcome", outcome), ("build", build)],
        ) as u64
    };
    assert_eq!(on_page("success", "12340"), count("success"));
    assert_eq!(on_page("wrong_password", "5875"), count("wrong_password"));
    assert_eq!(on_page("console_success", "0"), count("console_success"));
    assert!(stats.contains(" metrics"), "{stats}");
}

#[test]
fn the_grafana_dashboard_uses_only_metrics_the_page_has() {
    let (server, _) = server();
    let page = scrape(&server);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/grafana-dashboard.json"
    );
    let dashboard = std::fs::read_to_string(path).unwrap();
    let mut used = 0;
    for (at, _) in dashboard.match_indices("gatehouse_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| page.types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(&name);
        assert!(
            page.types.contains_key(family),
            "the dashboard uses {name}, which the page does not have"
        );
        used += 1;
    }
    assert!(used > 10, "the dashboard queries gatehouse's metrics");
}
