//! The load client (`gatehouse load`): full logons (connect, challenge, proof with the M2
//! check, realm list), each on its own connection, against a running server; one thread drives
//! them all ([`engine`]). It measures; it asserts nothing about speed.
//!
//! Modes, chosen by flags:
//! - closed loop (the default): `--concurrency` logons in flight, a new one as each finishes,
//!   for `--logons` logons or `--duration` seconds; reports logons/s and latency;
//! - open loop (`--rate N`): N logons started per second on a fixed grid, latency measured from
//!   each one's scheduled start ([`schedule`]), so queueing in the server shows;
//! - parking (`--park N`, with `--logged-in`): N connections sent the challenge (or logged in
//!   and given the realm list) and then held idle, to measure what a connection costs the
//!   server; prints `parked: …` once they all are, and holds them for `--hold` seconds;
//! - realm lists (`--realm-lists N`): `--concurrency` connections log in, then each asks for
//!   the realm list N times in a row; reports the round trips.
//!
//! `--fixed-ephemeral` makes the client cheaper ([`prover`]): one exponentiation per logon
//! instead of three, so a client core can keep a server core busy. The last line of every
//! report is a `summary:` line of `key=value` pairs for scripts (`scripts/bench.sh`).

mod dialogue;
mod engine;
mod prover;
mod schedule;
mod ticker;

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::account::{AccountName, CredentialError, Password};
use crate::tools::percentile::Latencies;

use super::ClientBuild;
use dialogue::Goal;
use engine::{Notice, Outcome, Plan};
use schedule::Pacing;

/// Logons a closed-loop run makes when neither `--logons` nor `--duration` is given.
const DEFAULT_LOGONS: u64 = 2000;

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The login server to load.
    #[arg(long, default_value = "127.0.0.1:3724")]
    pub server: SocketAddr,
    /// Account to log in as (it must exist).
    #[arg(long)]
    pub account: String,
    /// Its password.
    #[arg(long)]
    pub password: String,
    /// Connections in flight at once, all driven by one thread. With --rate: the most in
    /// flight; with --park: the most connecting at once; with --realm-lists: the connections.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Logons to run (default 2000 unless --duration is given).
    #[arg(long)]
    pub logons: Option<u64>,
    /// Measure for this many seconds (after --warmup) instead of a number of logons.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Run this many seconds before measuring starts (not counted).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub warmup: f64,
    /// Open loop: start this many logons per second whatever the server does, and measure
    /// each one's latency from its scheduled start.
    #[arg(long, value_name = "PER_SEC", conflicts_with_all = ["park", "realm_lists"])]
    pub rate: Option<f64>,
    /// Reuse one client ephemeral key for every logon: one modular exponentiation per logon
    /// instead of three (the server's work is unchanged; M1 and M2 are still checked).
    #[arg(long)]
    pub fixed_ephemeral: bool,
    /// Hold this many connections after the challenge (no proof) instead of logging on.
    #[arg(long, value_name = "N", conflicts_with = "realm_lists")]
    pub park: Option<u64>,
    /// With --park: hold them after a full logon and the realm list instead.
    #[arg(long, requires = "park")]
    pub logged_in: bool,
    /// With --park: how long to hold them once all are parked.
    #[arg(long, value_name = "SECS", default_value_t = 600.0)]
    pub hold: f64,
    /// Log --concurrency connections in, then ask each for the realm list this many times in
    /// a row, and report the round trips.
    #[arg(long, value_name = "N")]
    pub realm_lists: Option<u32>,
    /// A connection that has not finished this long after its start fails.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Client build to impersonate (5875, 8606 or 12340).
    #[arg(long, default_value_t = 12340)]
    pub build: u16,
    /// Also fetch the realm list after each logon.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub realm_list: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("--{flag} must be {expected}, not {value}")]
    BadValue {
        flag: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("credentials: {0}")]
    Credential(#[from] CredentialError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Histogram(#[from] crate::tools::percentile::HistogramError),
}

/// What kind of run the flags ask for (decides what the report says).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Closed,
    Open { per_second: f64 },
    Park { logged_in: bool },
    RealmLists,
}

fn seconds(flag: &'static str, value: f64, zero_ok: bool) -> Result<Duration, LoadError> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 1e9;
    if !ok {
        return Err(LoadError::BadValue {
            flag,
            expected: if zero_ok {
                "a number of seconds, 0 or more"
            } else {
                "a number of seconds above 0"
            },
            value: value.to_string(),
        });
    }
    Ok(Duration::from_secs_f64(value))
}

impl LoadArgs {
    /// The mode and the engine's plan, checked.
    fn plan(&self) -> Result<(Mode, Plan), LoadError> {
        let build = ClientBuild::from_build(self.build);
        let name = AccountName::parse(self.account.as_bytes())?;
        let mut challenge = Vec::new();
        build.challenge(name).encode(&mut challenge);
        let cap = self.concurrency.max(1);
        let mode = match (self.rate, self.park, self.realm_lists) {
            (Some(per_second), _, _) => {
                if !(per_second.is_finite() && per_second > 0.0) {
                    return Err(LoadError::BadValue {
                        flag: "rate",
                        expected: "a number of logons per second above 0",
                        value: per_second.to_string(),
                    });
                }
                Mode::Open { per_second }
            }
            (None, Some(_), _) => Mode::Park {
                logged_in: self.logged_in,
            },
            (None, None, Some(_)) => Mode::RealmLists,
            (None, None, None) => Mode::Closed,
        };
        let duration = self
            .duration
            .map(|d| seconds("duration", d, false))
            .transpose()?;
        let (goal, pacing, limit) = match mode {
            Mode::Closed | Mode::Open { .. } => (
                Goal::Logon {
                    realm_list: self.realm_list,
                },
                match mode {
                    Mode::Open { per_second } => Pacing::Open { per_second },
                    _ => Pacing::Closed,
                },
                self.logons.or(duration.is_none().then_some(DEFAULT_LOGONS)),
            ),
            Mode::Park { logged_in } => (
                if logged_in {
                    Goal::ParkLoggedIn
                } else {
                    Goal::ParkAfterChallenge
                },
                Pacing::Closed,
                self.park,
            ),
            Mode::RealmLists => (
                Goal::RealmLists(self.realm_lists.unwrap_or(1)),
                Pacing::Closed,
                Some(cap as u64),
            ),
        };
        // Parking and realm lists run to their count, not for a time.
        let duration = match mode {
            Mode::Closed | Mode::Open { .. } => duration,
            _ => None,
        };
        let plan = Plan {
            server: self.server,
            layout: build.layout(),
            challenge,
            goal,
            pacing,
            cap,
            limit,
            warmup: seconds("warmup", self.warmup, true)?,
            duration,
            timeout: seconds("timeout", self.timeout, false)?,
            hold: seconds("hold", self.hold, true)?,
        };
        Ok((mode, plan))
    }
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub mode: Mode,
    pub outcome: Outcome,
    /// Logon latencies, or realm-list round trips in `--realm-lists` mode.
    pub latencies: Latencies,
}

impl LoadReport {
    /// Goals reached per second of the measured window.
    pub fn per_second(&self) -> f64 {
        self.outcome.counted as f64 / self.outcome.window.as_secs_f64().max(1e-9)
    }

    pub fn failed(&self) -> u64 {
        self.outcome.failed
    }

    pub fn attempted(&self) -> u64 {
        self.outcome.ok + self.outcome.failed
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        let l = &self.latencies;
        let percentiles = format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            ms(l.percentile(50.0)),
            ms(l.percentile(90.0)),
            ms(l.percentile(99.0)),
            ms(l.max())
        );
        match self.mode {
            Mode::Closed | Mode::Open { .. } => {
                writeln!(
                    f,
                    "logons: {} ok, {} failed in {:.2} s = {:.0} logons/s",
                    o.counted,
                    o.failed,
                    o.window.as_secs_f64(),
                    self.per_second()
                )?;
                writeln!(f, "latency ms: {percentiles}")?;
            }
            Mode::Park { logged_in } => writeln!(
                f,
                "parked: {} connections {}, {} failed, {} closed by the server while held",
                o.ok,
                if logged_in {
                    "logged in"
                } else {
                    "after the challenge"
                },
                o.failed,
                o.dropped
            )?,
            Mode::RealmLists => {
                writeln!(
                    f,
                    "realm lists: {} answered on {} connections, {} failed",
                    l.len(),
                    o.ok,
                    o.failed
                )?;
                writeln!(f, "round trip ms: {percentiles}")?;
            }
        }
        if let Mode::Open { per_second } = self.mode {
            writeln!(
                f,
                "open loop at {per_second} logons/s: {} starts over 1 ms late (the in-flight \
                 cap was full, or the client was busy), the latest by {:.2} ms; latency is \
                 from the scheduled start",
                o.late,
                ms(o.max_late)
            )?;
        }
        if let Some(realms) = o.realms {
            writeln!(f, "realms in the last realm list: {realms}")?;
        }
        if let Some(cpu) = o.client_cpu {
            writeln!(f, "client cpu: {:.0}% of one core", cpu * 100.0)?;
        }
        if let Some(e) = &o.first_error {
            writeln!(f, "first error: {e}")?;
        }
        write!(
            f,
            "summary: ok={} failed={} dropped={} counted={} secs={:.3} rate={:.1} samples={} \
             p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} late={} realms={} client_cpu={}",
            o.ok,
            o.failed,
            o.dropped,
            o.counted,
            o.window.as_secs_f64(),
            self.per_second(),
            l.len(),
            ms(l.percentile(50.0)),
            ms(l.percentile(90.0)),
            ms(l.percentile(99.0)),
            ms(l.max()),
            o.late,
            o.realms.map_or("-".to_string(), |r| r.to_string()),
            o.client_cpu
                .map_or("-".to_string(), |c| format!("{:.2}", c)),
        )
    }
}

/// Runs the load and waits for it to finish; `--park` prints `parked: N …` on standard output
/// (flushed) as soon as every connection is parked.
pub fn run(args: &LoadArgs) -> Result<LoadReport, LoadError> {
    let (mode, plan) = args.plan()?;
    // Parking holds thousands of sockets: take the whole open-file allowance.
    if matches!(mode, Mode::Park { .. }) || args.concurrency > 256 {
        let _ = rlimit::increase_nofile_limit(u64::MAX);
    }
    let name = AccountName::parse(args.account.as_bytes())?;
    let password = Password::parse(args.password.as_bytes())?;
    let mut prover = prover::Prover::new(name, password, args.fixed_ephemeral);
    let mut notice = |n: Notice| match n {
        Notice::AllParked { parked, failed } => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "parked: {parked} ({failed} failed); holding");
            let _ = out.flush();
        }
    };
    let outcome = engine::run(&plan, &mut prover, &mut notice, Latencies::new()?)?;
    let latencies = outcome.samples.clone();
    Ok(LoadReport {
        mode,
        outcome,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn plan(args: &[&str]) -> Result<(Mode, Plan), LoadError> {
        let mut argv = vec!["load", "--account", "loadtest", "--password", "pw"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse").load.plan()
    }

    #[test]
    fn the_default_is_a_closed_loop_of_2000_logons() {
        let (mode, plan) = plan(&[]).unwrap();
        assert_eq!(mode, Mode::Closed);
        assert_eq!(plan.pacing, Pacing::Closed);
        assert_eq!(plan.limit, Some(DEFAULT_LOGONS));
        assert_eq!(plan.goal, Goal::Logon { realm_list: true });
        assert_eq!(plan.cap, 16);
    }

    #[test]
    fn a_duration_replaces_the_default_count() {
        let (_, plan) = plan(&["--duration", "2.5", "--warmup", "0.5"]).unwrap();
        assert_eq!(plan.limit, None);
        assert_eq!(plan.duration, Some(Duration::from_millis(2500)));
        assert_eq!(plan.warmup, Duration::from_millis(500));
    }

    #[test]
    fn a_rate_is_an_open_loop() {
        let (mode, plan) = plan(&["--rate", "250", "--duration", "3"]).unwrap();
        assert_eq!(mode, Mode::Open { per_second: 250.0 });
        assert_eq!(plan.pacing, Pacing::Open { per_second: 250.0 });
        assert!(matches!(
            self::plan(&["--rate", "0"]),
            Err(LoadError::BadValue { flag: "rate", .. })
        ));
    }

    #[test]
    fn parking_holds_after_the_challenge_or_logged_in() {
        let (mode, plan) = plan(&["--park", "1000"]).unwrap();
        assert_eq!(mode, Mode::Park { logged_in: false });
        assert_eq!(plan.goal, Goal::ParkAfterChallenge);
        assert_eq!(plan.limit, Some(1000));
        let (_, plan) = self::plan(&["--park", "10", "--logged-in"]).unwrap();
        assert_eq!(plan.goal, Goal::ParkLoggedIn);
        // --logged-in alone, and parking with a rate, are refused by the flag parser.
        let argv = ["load", "--account", "a", "--password", "p", "--logged-in"];
        assert!(Cli::try_parse_from(argv).is_err());
        let argv = ["load", "--account", "a", "--password", "p", "--park", "1"];
        assert!(Cli::try_parse_from(argv.iter().chain(&["--rate", "5"])).is_err());
    }

    #[test]
    fn realm_lists_log_in_one_connection_per_concurrency() {
        let (mode, plan) = plan(&["--realm-lists", "300", "--concurrency", "8"]).unwrap();
        assert_eq!(mode, Mode::RealmLists);
        assert_eq!(plan.goal, Goal::RealmLists(300));
        assert_eq!(plan.limit, Some(8));
        assert_eq!(plan.duration, None);
    }

    #[test]
    fn times_must_be_sensible() {
        for flag in ["--duration", "--timeout"] {
            assert!(matches!(
                plan(&[flag, "0"]),
                Err(LoadError::BadValue { .. })
            ));
            assert!(plan(&[flag, "NaN"]).is_err());
        }
        assert!(plan(&["--warmup", "0"]).is_ok());
        assert!(plan(&["--warmup=-1"]).is_err());
    }

    #[test]
    fn the_summary_line_is_last_and_complete() {
        let report = LoadReport {
            mode: Mode::Closed,
            outcome: Outcome {
                ok: 10,
                counted: 10,
                window: Duration::from_secs(2),
                realms: Some(3),
                client_cpu: Some(0.25),
                ..Outcome::new(Latencies::new().unwrap())
            },
            latencies: Latencies::from_samples(vec![Duration::from_millis(4); 10]).unwrap(),
        };
        let text = report.to_string();
        assert!(text.contains("= 5 logons/s"), "{text}");
        let summary = text.lines().last().unwrap();
        for pair in [
            "ok=10",
            "rate=5.0",
            "p99_ms=4.00",
            "realms=3",
            "client_cpu=0.25",
        ] {
            assert!(summary.contains(pair), "{summary}");
        }
    }
}
