//! `gatehouse realm ...`: the realms in the realm list.

use anyhow::Result;
use clap::Subcommand;

use gatehouse::admin;
use gatehouse::config::Config;
use gatehouse::store::NewRealm;

use super::database::open_store;
use super::hidden::{read_hidden, LINK_SECRET};

#[derive(Subcommand)]
pub enum RealmCommand {
    /// Add a realm.
    Add {
        #[arg(long)]
        name: String,
        /// Where clients connect for this realm's world server.
        #[arg(long, value_name = "HOST:PORT")]
        address: String,
        /// pve, pvp, rp, rppvp, or a number.
        #[arg(long = "type", default_value = "pve")]
        realm_type: String,
        /// Realm flags byte (0x20 recommended, 0x40 new, 0x80 full).
        #[arg(long, default_value_t = 0)]
        flags: u8,
        /// Realm category ("timezone" tab) index.
        #[arg(long, default_value_t = 1)]
        timezone: u8,
        /// Population level shown by the client.
        #[arg(long, default_value_t = 0.0)]
        population: f32,
        /// Client builds the realm takes, comma-separated (default: every accepted build).
        #[arg(long, value_name = "BUILDS")]
        builds: Option<String>,
        /// Read the realm-link secret (one line) from standard input; the realm's world server
        /// then links to gatehouse with it. Without it the realm is static.
        #[arg(long)]
        link_secret_stdin: bool,
    },
    /// Set or replace a realm's link secret (asks for it without echo).
    SetSecret {
        /// Realm id or name.
        realm: String,
        /// Read the secret as one line from standard input.
        #[arg(long)]
        link_secret_stdin: bool,
    },
    /// List realms.
    List,
    /// Remove a realm by id or name.
    Remove { realm: String },
}

pub fn run(cmd: RealmCommand, config: &Config) -> Result<()> {
    match cmd {
        RealmCommand::Add {
            name,
            address,
            realm_type,
            flags,
            timezone,
            population,
            builds,
            link_secret_stdin,
        } => {
            let link_key = if link_secret_stdin {
                let secret = read_hidden(&LINK_SECRET, true, false)?;
                Some(admin::link_key_from_secret(&secret)?)
            } else {
                None
            };
            let realm = NewRealm {
                name: name.trim().to_string(),
                address,
                realm_type: admin::parse_realm_type(&realm_type)?,
                flags,
                timezone,
                population,
                builds: builds
                    .as_deref()
                    .map(admin::parse_builds)
                    .transpose()?
                    .unwrap_or_default(),
                link_key,
            };
            admin::validate_realm(&realm)?;
            let mut store = open_store(config)?;
            let id = store.add_realm(&realm)?;
            let kind = if realm.link_key.is_some() {
                "linkable"
            } else {
                "static"
            };
            println!("added {kind} realm {} ({})", realm.name, id.0);
        }
        RealmCommand::SetSecret {
            realm,
            link_secret_stdin,
        } => {
            let realm = admin::parse_realm_ref(&realm);
            let secret = read_hidden(&LINK_SECRET, link_secret_stdin, true)?;
            let mut store = open_store(config)?;
            admin::set_realm_secret(&mut *store, &realm, &secret)?;
            println!("link secret set for {realm}");
        }
        RealmCommand::List => {
            let mut store = open_store(config)?;
            println!(
                "{:>3}  {:<24}  {:<22}  {:>4}  {:>5}  {:>3}  {:<8}  builds",
                "id", "name", "address", "type", "flags", "tz", "kind"
            );
            for r in store.list_realms()? {
                let builds: Vec<String> = r.builds.iter().map(|b| b.to_string()).collect();
                println!(
                    "{:>3}  {:<24}  {:<22}  {:>4}  {:>#5x}  {:>3}  {:<8}  {}",
                    r.id.0,
                    r.name,
                    r.address,
                    r.realm_type,
                    r.flags,
                    r.timezone,
                    r.kind.as_str(),
                    if builds.is_empty() {
                        "all".into()
                    } else {
                        builds.join(",")
                    }
                );
            }
        }
        RealmCommand::Remove { realm } => {
            let r = admin::parse_realm_ref(&realm);
            let mut store = open_store(config)?;
            store.remove_realm(&r)?;
            println!("removed realm {r}");
        }
    }
    Ok(())
}
