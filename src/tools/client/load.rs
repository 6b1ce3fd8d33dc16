//! The load client (`gatehouse load`): N concurrent workers run full logons (connect,
//! challenge, proof with M2 check, realm list) against a running server, each on its own
//! connection, and the run reports logons per second and latency percentiles.
//!
//! It measures; it asserts nothing about speed.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::{ClientBuild, ClientError, LogonClient};

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
    /// Logons in flight at once (one thread each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Total logons to run.
    #[arg(long, default_value_t = 2000)]
    pub logons: u64,
    /// Client build to impersonate (5875, 8606 or 12340).
    #[arg(long, default_value_t = 12340)]
    pub build: u16,
    /// Also fetch the realm list after each logon.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub realm_list: bool,
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub attempted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed: Duration,
    /// Latency of successful logons, sorted.
    pub latencies: Vec<Duration>,
    pub first_error: Option<String>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile (0..=100) of successful logon latency.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "logons: {} ok, {} failed in {:.2} s = {:.0} logons/s",
            self.succeeded,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.per_second()
        )?;
        write!(
            f,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0))
        )?;
        if let Some(e) = &self.first_error {
            write!(f, "\nfirst error: {e}")?;
        }
        Ok(())
    }
}

fn one_logon(args: &LoadArgs) -> Result<(), ClientError> {
    let build = ClientBuild::from_build(args.build);
    let mut logged_in = LogonClient::login(
        args.server,
        build,
        &args.account,
        &args.password,
        Duration::from_secs(30),
    )?;
    if args.realm_list {
        logged_in.client.realm_list()?;
    }
    Ok(())
}

/// Runs the load and waits for it to finish.
pub fn run(args: &LoadArgs) -> Result<LoadReport, ClientError> {
    let concurrency = args.concurrency.max(1);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = Arc::clone(&next);
            let args = args.clone();
            thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                let mut first_error = None;
                while next.fetch_add(1, Ordering::Relaxed) < args.logons {
                    let t = Instant::now();
                    match one_logon(&args) {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(e) => {
                            failed += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (latencies, failed, first_error)
            })
        })
        .collect();

    let mut report = LoadReport {
        attempted: 0,
        succeeded: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        first_error: None,
    };
    for w in workers {
        let (latencies, failed, first_error) = w
            .join()
            .map_err(|_| ClientError::Io(std::io::Error::other("a load worker panicked")))?;
        report.latencies.extend(latencies);
        report.failed += failed;
        if report.first_error.is_none() {
            report.first_error = first_error;
        }
    }
    report.elapsed = start.elapsed();
    report.latencies.sort();
    report.succeeded = report.latencies.len() as u64;
    report.attempted = report.succeeded + report.failed;
    Ok(report)
}
