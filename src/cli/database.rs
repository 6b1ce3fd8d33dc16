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

/// Opens the configured store for a command. It never creates an SQLite file: a missing one
/// is a mistyped `--db` or `store.path`, said with the way to make one (`serve` and `db init`
/// create it).
pub fn open_store(config: &Config) -> Result<Box<dyn Store>> {
    let location = config.store.location();
    let password = match location {
        StoreLocation::Mysql { .. } => config.store.password()?,
        StoreLocation::Sqlite(_) => None,
    };
    match store::open(&location, password.as_deref(), store::Create::Never) {
        Ok(store) => Ok(store),
        Err(e @ store::StoreError::NoDatabase { .. }) => {
            bail!("{e}: check --db/store.path, or create it with `gatehouse db init`")
        }
        Err(e) => Err(e.into()),
    }
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
    let new_file = match &location {
        StoreLocation::Sqlite(path) => !path.exists(),
        StoreLocation::Mysql { .. } => false,
    };
    match store::init(&location, password.as_deref())? {
        store::Initialised::AlreadyThere if new_file => {
            println!("{location}: created a new database")
        }
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
    println!("{}", admin_text(config, &op)?);
    Ok(())
}

fn admin_text(config: &Config, op: &admin::AdminOp) -> Result<String> {
    let mut store = open_store(config)?;
    let text = match admin::run(&mut *store, op)? {
        admin::AdminAnswer::Text(t) | admin::AdminAnswer::IpBansChanged { text: t, .. } => t,
        admin::AdminAnswer::ConsolePassword(_) => String::new(),
    };
    if let Some(e) = text.strip_prefix("error: ") {
        bail!("{e}");
    }
    Ok(text)
}
