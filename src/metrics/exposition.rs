//! The `/metrics` page: a [`Snapshot`] of the daemon's counters, copied on the loop when a
//! scrape asks (plain integers, so the hot path never pays for the exposition), written in
//! the Prometheus text format (0.0.4) by `prometheus-client` as a collector of constant
//! values. The metric names here are the ones the README and `scripts/grafana-dashboard.json`
//! use: renaming one breaks dashboards.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::histogram::Log2Histogram;

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Histogram buckets go up to 2^22 µs (about 4 s); slower samples are in `+Inf` only.
const HISTOGRAM_TOP: u32 = 22;

/// One realm of the list clients see.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmRow {
    pub id: u32,
    pub name: String,
    /// Shown without the offline flag.
    pub online: bool,
    /// A world server holds its realm link.
    pub linked: bool,
    /// The population value clients are shown.
    pub population: f64,
    /// Players its world server reported in its last heartbeat (linked realms only).
    pub players: Option<u32>,
}

/// The DB pool's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreRow {
    pub queue_depth: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected_busy: u64,
}

/// Everything `/metrics` shows, copied at one instant on the loop.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub start_time_unix: i64,
    /// (kind, open): game, link, console, metrics.
    pub connections: Vec<(&'static str, u64)>,
    /// (state, open) of the game clients.
    pub game_states: Vec<(&'static str, u64)>,
    pub accepted: u64,
    pub closed: u64,
    /// Game connections admitted by the policies for which no slot was left.
    pub unseated: u64,
    pub protocol_errors: u64,
    pub deadlines: u64,
    /// (outcome, build, attempts): the audit's outcome names.
    pub logons: Vec<(&'static str, String, u64)>,
    /// Logons and reconnects that reached the realm list.
    pub logons_completed: u64,
    /// (policy, refusals).
    pub refusals: Vec<(&'static str, u64)>,
    pub store: Option<StoreRow>,
    pub store_latency: Log2Histogram,
    pub loop_pass: Log2Histogram,
    pub inbox_depth: u64,
    pub realms: Vec<RealmRow>,
    pub realm_list_changes: u64,
    pub realm_list_encodings: u64,
    pub patch_bytes: u64,
    pub link_takes_limited: u64,
    pub link_wrong_digests: u64,
    /// (result, scrapes) of this endpoint.
    pub scrapes: Vec<(&'static str, u64)>,
}

/// The page for `snapshot`.
pub fn encode(snapshot: Snapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut page = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut page, &registry)?;
    Ok(page)
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

fn gauge<N>(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: N) -> fmt::Result
where
    N: prometheus_client::encoding::EncodeGaugeValue + Send + Sync + fmt::Debug,
{
    let m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// A counter family with one label.
fn counters_by(
    e: &mut DescriptorEncoder<'_>,
    (name, help, label): (&str, &str, &'static str),
    rows: &[(&'static str, u64)],
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, n) in rows {
        ConstCounter::new(*n).encode(m.encode_family(&[(label, *value)])?)?;
    }
    Ok(())
}

fn gauges_by(
    e: &mut DescriptorEncoder<'_>,
    (name, help, label): (&str, &str, &'static str),
    rows: &[(&'static str, u64)],
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (value, n) in rows {
        ConstGauge::new(*n).encode(m.encode_family(&[(label, *value)])?)?;
    }
    Ok(())
}

fn histogram(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &Log2Histogram,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    let buckets = h.buckets_seconds(HISTOGRAM_TOP);
    m.encode_histogram::<NoLabelSet>(h.sum().as_secs_f64(), h.count(), &buckets, None)
}

/// The labels of a realm's series.
fn realm_labels(r: &RealmRow) -> [(&'static str, String); 2] {
    [
        ("realm_id", r.id.to_string()),
        ("realm_name", r.name.clone()),
    ]
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let e = &mut e;
        gauge(
            e,
            "gatehouse_start_time_seconds",
            "When the daemon started, in seconds since 1970.",
            self.start_time_unix,
        )?;
        gauges_by(
            e,
            (
                "gatehouse_connections_open",
                "Connections open, by kind (game, link, console, metrics).",
                "kind",
            ),
            &self.connections,
        )?;
        gauges_by(
            e,
            (
                "gatehouse_game_connections_open",
                "Game client connections open, by state (logon, update, world_select, closing).",
                "state",
            ),
            &self.game_states,
        )?;
        counter(
            e,
            "gatehouse_connections_accepted",
            "Game client connections accepted.",
            self.accepted,
        )?;
        counter(
            e,
            "gatehouse_connections_closed",
            "Game client connections closed.",
            self.closed,
        )?;
        counter(
            e,
            "gatehouse_connections_unseated",
            "Game client connections the policies admitted but no slot was left for.",
            self.unseated,
        )?;
        counter(
            e,
            "gatehouse_protocol_errors",
            "Game client connections closed for breaking the protocol.",
            self.protocol_errors,
        )?;
        counter(
            e,
            "gatehouse_deadlines",
            "Game client connections closed at a state's deadline.",
            self.deadlines,
        )?;
        {
            let mut m = e.encode_descriptor(
                "gatehouse_logons",
                "Logon attempts by outcome (the audit's names) and client build (0: console).",
                None,
                MetricType::Counter,
            )?;
            for (outcome, build, n) in &self.logons {
                let labels = [
                    ("outcome", (*outcome).to_string()),
                    ("build", build.clone()),
                ];
                ConstCounter::new(*n).encode(m.encode_family(&labels)?)?;
            }
        }
        counter(
            e,
            "gatehouse_logons_completed",
            "Logons and reconnects that reached the realm list.",
            self.logons_completed,
        )?;
        counters_by(
            e,
            (
                "gatehouse_refusals",
                "Connections and logons refused by an abuse policy, by policy.",
                "policy",
            ),
            &self.refusals,
        )?;
        if let Some(s) = self.store {
            gauge(
                e,
                "gatehouse_store_queue_depth",
                "Store jobs waiting for a DB thread.",
                s.queue_depth,
            )?;
            counter(
                e,
                "gatehouse_store_jobs_completed",
                "Store jobs answered (with a result or an error).",
                s.completed,
            )?;
            counter(
                e,
                "gatehouse_store_jobs_failed",
                "Store jobs answered with an error.",
                s.failed,
            )?;
            counter(
                e,
                "gatehouse_store_jobs_busy",
                "Store jobs refused because the queue was full (clients heard FAIL_DB_BUSY).",
                s.rejected_busy,
            )?;
        }
        histogram(
            e,
            "gatehouse_store_latency_seconds",
            "Store job time from submit to reply (queue wait and execution).",
            &self.store_latency,
        )?;
        histogram(
            e,
            "gatehouse_loop_pass_seconds",
            "Event-loop pass time, from the end of the poll to the end of the pass.",
            &self.loop_pass,
        )?;
        gauge(
            e,
            "gatehouse_loop_inbox_depth",
            "Messages waiting in the loop's inbox when the scrape's pass began.",
            self.inbox_depth,
        )?;
        gauge(
            e,
            "gatehouse_realms_listed",
            "Realms in the list clients see.",
            self.realms.len() as u64,
        )?;
        {
            let mut m = e.encode_descriptor(
                "gatehouse_realm_online",
                "1 if the realm is listed online, 0 if it is shown offline.",
                None,
                MetricType::Gauge,
            )?;
            for r in &self.realms {
                ConstGauge::new(i64::from(r.online)).encode(m.encode_family(&realm_labels(r))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "gatehouse_realm_linked",
                "1 if a world server holds the realm's link, 0 for a static realm.",
                None,
                MetricType::Gauge,
            )?;
            for r in &self.realms {
                ConstGauge::new(i64::from(r.linked)).encode(m.encode_family(&realm_labels(r))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "gatehouse_realm_population",
                "The population value clients are shown for the realm.",
                None,
                MetricType::Gauge,
            )?;
            for r in &self.realms {
                ConstGauge::new(r.population).encode(m.encode_family(&realm_labels(r))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "gatehouse_realm_players",
                "Players online as the realm's world server last reported (linked realms).",
                None,
                MetricType::Gauge,
            )?;
            for r in &self.realms {
                if let Some(players) = r.players {
                    ConstGauge::new(i64::from(players))
                        .encode(m.encode_family(&realm_labels(r))?)?;
                }
            }
        }
        counter(
            e,
            "gatehouse_realm_list_changes",
            "Changes of the realm list.",
            self.realm_list_changes,
        )?;
        counter(
            e,
            "gatehouse_realm_list_encodings",
            "Encodings of the realm list (one per change and client layout).",
            self.realm_list_encodings,
        )?;
        counter(
            e,
            "gatehouse_patch_bytes_sent",
            "Patch file bytes queued to clients.",
            self.patch_bytes,
        )?;
        counter(
            e,
            "gatehouse_link_takes_limited",
            "Session takes answered 'no ticket' because their link was over link.take_rate.",
            self.link_takes_limited,
        )?;
        counter(
            e,
            "gatehouse_link_wrong_digests",
            "Checked session takes refused for a wrong client digest.",
            self.link_wrong_digests,
        )?;
        counters_by(
            e,
            (
                "gatehouse_metrics_requests",
                "Requests to this endpoint, by answer.",
                "result",
            ),
            &self.scrapes,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_page_is_prometheus_text_with_escaped_labels() {
        let mut loop_pass = Log2Histogram::default();
        loop_pass.record(Duration::from_micros(3));
        let page = encode(Snapshot {
            logons: vec![("success", "12340".into(), 2)],
            realms: vec![RealmRow {
                id: 1,
                name: "Quote\"d\nRealm".into(),
                online: true,
                linked: false,
                population: 1.5,
                players: None,
            }],
            loop_pass,
            ..Snapshot::default()
        })
        .unwrap();
        assert!(
            page.contains("gatehouse_logons_total{outcome=\"success\",build=\"12340\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("# TYPE gatehouse_logons_total counter\n"),
            "{page}"
        );
        assert!(
            page.contains(
                "gatehouse_realm_online{realm_id=\"1\",realm_name=\"Quote\\\"d\\nRealm\"} 1\n"
            ),
            "{page}"
        );
        assert!(
            page.contains("gatehouse_loop_pass_seconds_bucket{le=\"+Inf\"} 1\n"),
            "{page}"
        );
        assert!(
            page.contains("gatehouse_loop_pass_seconds_count 1\n"),
            "{page}"
        );
        assert!(!page.contains("# EOF"), "{page}");
    }
}
