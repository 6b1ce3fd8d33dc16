//! The SRP ceiling (`gatehouse srp-ceiling`, hidden; row 1 of `scripts/bench.sh`): the
//! server's SRP work for one logon — [`ServerHandshake::new`] (a fresh b and B) then
//! [`ServerHandshake::verify`] of a right proof (S, K, M1, M2) — in a tight loop on one
//! thread. Logons per second of that alone is the most one core could serve if nothing else
//! (sockets, the database, the loop) cost anything: the yardstick for full logons.
//!
//! Only the two server calls are timed; the client's answer between them is computed with the
//! fixed-ephemeral client and left out. A run lasts until the server calls have taken
//! `seconds`; the report is the median of `runs` runs (the machine is noisy). Beside it, the
//! median time of one logon's server calls over all runs: a logon preempted by another process
//! counts as one slow sample there, not as lost throughput, so it stays near the unloaded cost
//! on a busy machine.

use std::fmt;
use std::time::{Duration, Instant};

use crate::account::{AccountName, Password};
use crate::srp6::fixed_ephemeral::FixedEphemeralClient;
use crate::srp6::{compute_verifier, Salt, ServerHandshake, Srp6Error};
use crate::tools::percentile::{median, Latencies};

#[derive(Debug, Clone, clap::Args)]
pub struct CeilingArgs {
    /// Server time per run.
    #[arg(long, value_name = "SECS", default_value_t = 1.5)]
    pub seconds: f64,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    #[error("--seconds must be above 0 and --runs at least 1")]
    BadArgs,
    #[error("the client side could not answer: {0}")]
    Client(#[from] Srp6Error),
    /// Would mean the server side is broken: the benchmark refuses to time a failing path.
    #[error("the server refused a right proof")]
    Refused,
    #[error(transparent)]
    Histogram(#[from] crate::tools::percentile::HistogramError),
}

#[derive(Debug, Clone)]
pub struct CeilingReport {
    /// Logons per second of each run, in the order run.
    pub runs: Vec<f64>,
    /// The server calls' time for each logon of every run.
    pub per_logon: Latencies,
}

impl CeilingReport {
    pub fn median(&self) -> f64 {
        median(&self.runs).unwrap_or(0.0)
    }

    /// The median logon's server time.
    pub fn typical(&self) -> Duration {
        self.per_logon.percentile(50.0)
    }
}

impl fmt::Display for CeilingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs: Vec<String> = self.runs.iter().map(|r| format!("{r:.0}")).collect();
        let m = self.median();
        let typical_us = self.typical().as_secs_f64() * 1e6;
        writeln!(
            f,
            "srp ceiling: {m:.0} logons/s on one thread, median of {} runs: {}",
            runs.len(),
            runs.join(" ")
        )?;
        writeln!(
            f,
            "median server SRP time per logon: {typical_us:.1} µs ({:.0} logons/s unpreempted)",
            1e6 / typical_us.max(1e-9)
        )?;
        write!(
            f,
            "summary: rate={m:.1} runs={} per_logon_us={typical_us:.2}",
            runs.join(",")
        )
    }
}

/// Server-side handshakes until they have taken `budget`: logons per second, and each
/// logon's server time (appended to `per_logon`).
fn one_run(budget: Duration, per_logon: &mut Latencies) -> Result<f64, CeilingError> {
    let name = AccountName::parse(b"CEILING").map_err(|_| CeilingError::BadArgs)?;
    let password = Password::parse(b"CEILING").map_err(|_| CeilingError::BadArgs)?;
    let salt = Salt::random();
    let verifier = compute_verifier(&name, &password, &salt);
    let client = FixedEphemeralClient::random(&name, &password, &salt);
    let mut spent = Duration::ZERO;
    let mut logons = 0u64;
    while spent < budget {
        let t = Instant::now();
        let server = ServerHandshake::new(verifier, salt);
        let challenge = t.elapsed();
        let answer = client.handshake(server.public_key())?;
        let t = Instant::now();
        let verified = server.verify(&name, &answer.public_key, &answer.client_proof);
        let logon = challenge + t.elapsed();
        if verified.is_err() {
            return Err(CeilingError::Refused);
        }
        spent += logon;
        per_logon.record(logon);
        logons += 1;
    }
    Ok(logons as f64 / spent.as_secs_f64())
}

pub fn run(args: &CeilingArgs) -> Result<CeilingReport, CeilingError> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds < 1e6) || args.runs == 0 {
        return Err(CeilingError::BadArgs);
    }
    let budget = Duration::from_secs_f64(args.seconds);
    let mut per_logon = Latencies::new()?;
    let runs = (0..args.runs)
        .map(|_| one_run(budget, &mut per_logon))
        .collect::<Result<_, _>>()?;
    Ok(CeilingReport { runs, per_logon })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_reports_a_positive_median() {
        let report = run(&CeilingArgs {
            seconds: 0.01,
            runs: 3,
        })
        .unwrap();
        assert_eq!(report.runs.len(), 3);
        assert!(report.median() > 0.0);
        assert!(!report.per_logon.is_empty());
        assert!(report.typical() > Duration::ZERO);
        assert!(report
            .to_string()
            .lines()
            .last()
            .unwrap()
            .starts_with("summary: rate="));
    }

    #[test]
    fn nonsense_arguments_are_refused() {
        for (seconds, runs) in [(0.0, 3), (1.0, 0), (f64::NAN, 1)] {
            assert!(matches!(
                run(&CeilingArgs { seconds, runs }),
                Err(CeilingError::BadArgs)
            ));
        }
    }
}
