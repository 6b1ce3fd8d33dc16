//! Scrapes as a kind of connection: a monitoring system on the metrics listener
//! (`metrics.listen`). One HTTP/1.1 request is read from the input ring (`metrics::http`),
//! `GET /metrics` goes to the router as a [`Call::Metrics`] (the page needs every table), any
//! other request is refused here; the answer goes out through the output ring and the
//! connection closes once it is written.
//!
//! Bounded like the other kinds: a few connections at once (the oldest gives way to a new
//! one), a small input ring (a request head that does not fit is closed), and one short
//! deadline for the whole exchange, so a slow or idle client is closed too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{DbReply, Target, Timer};
use super::services::Services;
use super::stats_view::{game_states, StatsView};
use super::table::{Buffers, Call, ConnIo, Kind, Refusal, Shape, Stopped, Turn};
use crate::event_loop::{ConnToken, TableId};
use crate::metrics::http::{self, Request, Status};
use crate::metrics::{exposition, RealmRow, Snapshot, StoreRow};
use crate::net::CloseReason;
use crate::protocol::realm_list::REALM_FLAG_OFFLINE;
use crate::realms::registry::Liveness;
use crate::session::outcomes::OTHER_BUILDS;

/// Scrape connections held at once.
pub(crate) const MAX_SCRAPES: usize = 8;
/// The whole exchange (request in, page out) must be done within this long.
const DEADLINE: Duration = Duration::from_secs(10);
/// A request head larger than this is closed unanswered.
const REQUEST_INPUT: usize = 4 * 1024;
/// A refusal fits; the page gets a ring of its own size when it is answered.
const REPLY_OUTPUT: usize = 512;
/// The largest page served (the ring grows to the page's size, at most this).
pub(super) const MAX_PAGE: usize = 4 * 1024 * 1024;

/// Where a scrape is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The request head is coming in.
    Reading,
    /// The router builds the page.
    Waiting,
    /// The answer is in the output ring: close once it is written.
    Answered,
}

/// One scrape connection.
pub struct Scrape {
    peer: SocketAddr,
    phase: Phase,
}

impl Scrape {
    /// The router has queued the answer.
    pub(super) fn answered(&mut self) {
        self.phase = Phase::Answered;
    }

    /// Closes once what is queued has been written.
    fn until_written(io: &ConnIo<'_>, handled: usize) -> Turn {
        if io.output.is_empty() {
            Turn::close(CloseReason::PeerClosed)
        } else {
            Turn::stopped(handled, Stopped::NeedOutputRoom, None)
        }
    }
}

impl Kind for Scrape {
    const TABLE: TableId = TableId(3);
    const LABEL: &'static str = "metrics";

    fn target(token: ConnToken) -> Target {
        Target::Scrape(token)
    }

    fn shape(_svc: &Services) -> Shape {
        let rings = Buffers {
            input: REQUEST_INPUT,
            output: REPLY_OUTPUT,
        };
        Shape {
            max_open: MAX_SCRAPES,
            // A scrape never proves anything: the oldest yields its slot to a newcomer.
            unproven_per_address: None,
            unproven_max: None,
            unproven: rings,
            proven: rings,
        }
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn admit(
        peer: SocketAddr,
        _open: usize,
        _now: Instant,
        _unix_now: i64,
        _svc: &mut Services,
    ) -> Result<Self, Refusal> {
        Ok(Scrape {
            peer,
            phase: Phase::Reading,
        })
    }

    fn on_open(&mut self, _io: &mut ConnIo<'_>, _svc: &mut Services) -> Turn {
        log::debug!("metrics {}: connected", self.peer);
        Turn {
            deadline: Some(DEADLINE),
            ..Turn::default()
        }
    }

    fn on_input(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        match self.phase {
            Phase::Waiting => return Turn::stopped(0, Stopped::Held, None),
            Phase::Answered => return Self::until_written(io, 0),
            Phase::Reading => {}
        }
        let status = match http::parse(io.input.contiguous()) {
            Request::Incomplete => return Turn::stopped(0, Stopped::NeedInput, None),
            Request::Metrics => {
                self.phase = Phase::Waiting;
                return Turn {
                    handled: 1,
                    call: Some(Call::Metrics),
                    ..Turn::default()
                };
            }
            Request::NotFound => Status::NotFound,
            Request::MethodNotAllowed => Status::MethodNotAllowed,
            Request::Bad => Status::BadRequest,
        };
        svc.counters.scraped(status);
        log::debug!("metrics {}: refused: {}", self.peer, status.as_str());
        io.output.push(&http::refusal(status));
        self.phase = Phase::Answered;
        Self::until_written(io, 1)
    }

    fn on_reply(&mut self, _reply: DbReply, _io: &mut ConnIo<'_>, _svc: &mut Services) -> Turn {
        // A scrape asks the store nothing.
        Turn::default()
    }

    fn on_timer(&mut self, timer: Timer, _io: &mut ConnIo<'_>, _svc: &mut Services) -> Turn {
        match timer {
            Timer::Deadline => Turn::close(CloseReason::Deadline("metrics")),
            Timer::Wake => Turn::default(),
        }
    }

    fn on_closed(
        &mut self,
        _token: ConnToken,
        reason: &CloseReason,
        now: Instant,
        svc: &mut Services,
    ) {
        match (self.phase, reason) {
            (Phase::Answered, _) => log::debug!("metrics {}: answered", self.peer),
            (_, CloseReason::PeerClosed) => log::debug!("metrics {}: closed", self.peer),
            _ => svc.info(
                now,
                "metrics closed",
                format_args!("metrics {}: closed: {reason}", self.peer),
            ),
        }
    }
}

/// The page's numbers, copied from the same counters the console's `stats` reads.
pub(super) fn snapshot(view: &StatsView<'_>, svc: &Services) -> Snapshot {
    let c = &svc.counters;
    let started = view.now.saturating_duration_since(svc.started).as_secs();
    let logons = c
        .outcomes
        .by_build()
        .map(|(build, outcome, n)| {
            let build = match build {
                OTHER_BUILDS => "other".to_string(),
                b => b.0.to_string(),
            };
            (outcome.as_str(), build, n)
        })
        .collect();
    let realms = svc
        .realms
        .realms()
        .iter()
        .map(|r| {
            let linked = svc.registry.liveness(r.id) == Some(Liveness::Online);
            RealmRow {
                id: r.id.0,
                name: r.name.clone(),
                online: r.flags & REALM_FLAG_OFFLINE == 0,
                linked,
                population: f64::from(r.population),
                players: svc.registry.online_players(r.id),
            }
        })
        .collect();
    let store = svc.store_stats().map(|(depth, s)| StoreRow {
        queue_depth: depth as u64,
        completed: s.completed,
        failed: s.failed,
        rejected_busy: s.rejected_busy,
    });
    let list = svc.realms.stats();
    Snapshot {
        start_time_unix: view
            .unix_now
            .saturating_sub(i64::try_from(started).unwrap_or(0)),
        connections: vec![
            ("game", view.clients.len() as u64),
            ("link", view.links as u64),
            ("console", view.consoles as u64),
            ("metrics", view.scrapes as u64),
        ],
        game_states: game_states(view.clients).to_vec(),
        accepted: c.accepted,
        closed: c.closed,
        unseated: c.refused_full,
        protocol_errors: c.protocol_errors,
        deadlines: c.deadlines,
        logons,
        logons_completed: c.logons_ok,
        refusals: svc
            .policies
            .refused()
            .into_iter()
            .map(|(r, n)| (r.as_str(), n))
            .collect(),
        store,
        store_latency: c.store_latency.clone(),
        loop_pass: view.loop_stats.pass_time().clone(),
        inbox_depth: view.inbox_depth as u64,
        realms,
        realm_list_changes: list.changes,
        realm_list_encodings: list.encodings,
        patch_bytes: c.patch_bytes_read,
        link_takes_limited: c.link_takes_limited,
        link_wrong_digests: c.link_wrong_digests,
        scrapes: Status::ALL
            .iter()
            .zip(c.scrapes)
            .map(|(s, n)| (s.as_str(), n))
            .collect(),
    }
}

/// The answer to `GET /metrics`: the page, or 503 if it cannot be written.
pub(super) fn answer(snapshot: Snapshot, svc: &mut Services) -> Vec<u8> {
    match exposition::encode(snapshot) {
        Ok(page) => {
            svc.counters.scraped(Status::Ok);
            http::response(Status::Ok, exposition::CONTENT_TYPE, &page)
        }
        Err(e) => {
            log::error!("metrics: the page could not be written: {e}");
            svc.counters.scraped(Status::Unavailable);
            http::refusal(Status::Unavailable)
        }
    }
}
