//! `gatehouse audit`: the login audit for people, newest first, filtered by account, address
//! (or network), age and outcome, printed as a table with dates.

use anyhow::{bail, Result};
use clap::Args;

use gatehouse::account::AccountName;
use gatehouse::config::Config;
use gatehouse::store::{AuditQuery, LoginOutcome};

use super::database::open_store;
use super::output::{format_time, table, unix_now};

/// The filters; a row is listed if it matches every one given.
#[derive(Args)]
pub struct AuditArgs {
    /// Only attempts that named this account.
    #[arg(long)]
    account: Option<String>,
    /// Only attempts from this address, or from a network (10.0.0.0/8, 2001:db8::/32).
    #[arg(long, value_name = "IP-OR-NET")]
    address: Option<String>,
    /// Only attempts in the last DURATION (30m, 2h, 7d).
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Only these outcomes (repeat the flag, or separate with commas): success,
    /// wrong_password, banned, … (an unknown one is refused with the list).
    #[arg(long, value_name = "OUTCOME", value_delimiter = ',')]
    outcome: Vec<String>,
    /// At most this many rows, the newest.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

fn outcome(word: &str) -> Result<LoginOutcome> {
    match LoginOutcome::from_str_opt(word.trim()) {
        Some(o) => Ok(o),
        None => {
            let known: Vec<&str> = LoginOutcome::ALL.iter().map(|o| o.as_str()).collect();
            bail!(
                "unknown outcome {word:?}; the outcomes are: {}",
                known.join(", ")
            )
        }
    }
}

/// The query the flags ask for, at `now`.
fn query(args: &AuditArgs, now: i64) -> Result<AuditQuery> {
    let account = args
        .account
        .as_deref()
        .map(|n| AccountName::parse(n.as_bytes()))
        .transpose()?;
    let address = args
        .address
        .as_deref()
        .map(gatehouse::admin::parse_net)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let since = match args.since.as_deref() {
        None => None,
        Some(text) => {
            let d = humantime::parse_duration(text)
                .map_err(|e| anyhow::anyhow!("--since {text:?}: {e} (e.g. 30m, 2h, 7d)"))?;
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            Some(now.saturating_sub(secs))
        }
    };
    let outcomes = args
        .outcome
        .iter()
        .filter(|w| !w.trim().is_empty())
        .map(|w| outcome(w))
        .collect::<Result<Vec<_>>>()?;
    Ok(AuditQuery {
        account,
        address,
        since,
        outcomes,
        limit: args.limit,
    })
}

pub fn run(args: AuditArgs, config: &Config) -> Result<()> {
    let query = query(&args, unix_now())?;
    let mut store = open_store(config)?;
    let rows = store.query_audit(&query)?;
    let mut out = table(["time", "account", "id", "address", "outcome", "build"]);
    for row in rows {
        out.add_row(vec![
            format_time(row.at),
            row.name,
            row.account.map_or("-".to_string(), |a| a.0.to_string()),
            row.peer,
            row.outcome,
            row.build.to_string(),
        ]);
    }
    println!("{out}");
    Ok(())
}
