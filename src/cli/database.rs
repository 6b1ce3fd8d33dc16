//! Opening the configured store for a command, `gatehouse db init`, and running an operator
//! command as the console would.

use anyhow::{bail, Result};
use clap::Subcommand;

use gatehouse::admin;
use gatehouse::config::Config;
use gatehouse::store::{self, Schema, Store, StoreLocation};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Create gatehouse's tables. Beside an AzerothCore or CMaNGOS schema (--schema) these are
    /// the gatehouse_ tables (audit, realm link tickets and keys, lockout times, settings,
    /// gatehouse's authenticators), which nothing else creates; gatehouse's own schema is
    /// created and migrated whenever it is opened, so there this only checks it.
    Init,
}

pub fn open_store(config: &Config) -> Result<Box<dyn Store>> {
    let location = config.store.location();
    let password = match location {
        StoreLocation::Mysql { .. } => config.store.password()?,
        StoreLocation::Sqlite(_) => None,
    };
    Ok(store::open(&location, password.as_deref())?)
}

pub fn db_init(config: &Config) -> Result<()> {
    let location = config.store.location();
    let password = match location {
        StoreLocation::Mysql { .. } => config.store.password()?,
        StoreLocation::Sqlite(_) => None,
    };
    let schema = match &location {
        StoreLocation::Mysql { schema, .. } => *schema,
        StoreLocation::Sqlite(_) => Schema::Gatehouse,
    };
    match store::init(&location, password.as_deref())? {
        store::Initialised::Created => {
            println!("{location}: created gatehouse's own tables (gatehouse_*) beside {schema}'s")
        }
        store::Initialised::AlreadyThere => {
            println!("{location}: gatehouse's tables are in place ({schema} schema)")
        }
    }
    Ok(())
}

/// Runs an operator command as the console would, and prints its answer; a refusal (no such
/// account) is an error.
pub fn admin_op(config: &Config, op: admin::AdminOp) -> Result<()> {
    let mut store = open_store(config)?;
    let text = match admin::run(&mut *store, &op)? {
        admin::AdminAnswer::Text(t) | admin::AdminAnswer::IpBansChanged { text: t, .. } => t,
        admin::AdminAnswer::ConsolePassword(_) => String::new(),
    };
    if let Some(e) = text.strip_prefix("error: ") {
        bail!("{e}");
    }
    println!("{text}");
    Ok(())
}
