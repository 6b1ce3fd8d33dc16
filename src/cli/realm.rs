//! `gatehouse realm ...`: the realms in the realm list.

use anyhow::Result;
use clap::{Args, Subcommand};

use gatehouse::admin;
use gatehouse::config::Config;
use gatehouse::store::{NewRealm, RealmChanges, RealmRef};
use gatehouse::values::{RealmAccess, RealmId};

use super::database::open_store;
use super::hidden::{read_hidden, LINK_SECRET};
use super::output::table;

#[derive(Subcommand)]
pub enum RealmCommand {
    /// Add a realm.
    Add {
        #[arg(long)]
        name: String,
        /// Where clients connect for this realm's world server.
        #[arg(long, value_name = "HOST:PORT")]
        address: String,
        /// The realm id (1-255) the realm's world server is configured with; refused if a
        /// realm has it. Default: the next free id.
        #[arg(long, value_name = "N")]
        id: Option<u32>,
        /// pve, pvp, rp, rppvp, or a number.
        #[arg(long = "type", default_value = "pve")]
        realm_type: String,
        /// Realm flags: a number (0x20 or 32) or names joined by commas: recommended (0x20),
        /// new (0x40), full (0x80), offline (0x02), invalid (0x01).
        #[arg(long, default_value = "0")]
        flags: String,
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
        #[command(flatten)]
        visibility: VisibilityArgs,
    },
    /// Change some fields of a realm; its id, link secret and character counts stay.
    Set(SetArgs),
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

/// Who sees a realm, and at which address (`realm add` and `realm set`).
#[derive(Args)]
pub struct VisibilityArgs {
    /// Accounts whose security level is below N do not see the realm (default 0: every
    /// account). On AzerothCore and CMaNGOS databases this is `allowedSecurityLevel`, applied
    /// as their own servers apply it (AzerothCore lists the realm locked instead).
    #[arg(long, value_name = "N")]
    allowed_level: Option<u8>,
    /// The address given instead of --address to clients whose address is in --local-subnet
    /// (players on the realm's own network). AzerothCore: its localAddress, an IPv4 address on
    /// the realm's port; not supported on CMaNGOS.
    #[arg(long, value_name = "HOST:PORT", requires = "local_subnet")]
    local_address: Option<String>,
    /// The network whose clients get --local-address: IPv4 or IPv6 (192.168.1.0/24, fd00::/8).
    #[arg(long, value_name = "NET", requires = "local_address")]
    local_subnet: Option<String>,
}

/// `realm set`: only the fields given change; at least one must be.
#[derive(Args)]
pub struct SetArgs {
    /// Realm id or name.
    realm: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_name = "HOST:PORT")]
    address: Option<String>,
    /// pve, pvp, rp, rppvp, or a number.
    #[arg(long = "type")]
    realm_type: Option<String>,
    /// A number (0x20 or 32) or names joined by commas (recommended, new, full, offline).
    #[arg(long)]
    flags: Option<String>,
    #[arg(long)]
    timezone: Option<u8>,
    #[arg(long)]
    population: Option<f32>,
    /// Client builds, comma-separated; "all" (or "") = every accepted build.
    #[arg(long, value_name = "BUILDS")]
    builds: Option<String>,
    #[command(flatten)]
    visibility: VisibilityArgs,
    /// Remove the realm's local address: every client is given --address.
    #[arg(long, conflicts_with_all = ["local_address", "local_subnet"])]
    no_local_address: bool,
}

fn builds_arg(text: &str) -> Result<Vec<gatehouse::protocol::version::Build>> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(Vec::new());
    }
    Ok(admin::parse_builds(text)?)
}

pub fn run(cmd: RealmCommand, config: &Config) -> Result<()> {
    match cmd {
        RealmCommand::Add {
            name,
            address,
            id,
            realm_type,
            flags,
            timezone,
            population,
            builds,
            link_secret_stdin,
            visibility,
        } => {
            let realm = NewRealm {
                name: name.trim().to_string(),
                address,
                realm_type: admin::parse_realm_type(&realm_type)?,
                flags: admin::parse_realm_flags(&flags)?,
                timezone,
                population,
                builds: builds
                    .as_deref()
                    .map(builds_arg)
                    .transpose()?
                    .unwrap_or_default(),
                link_key: None,
                allowed_level: visibility.allowed_level.unwrap_or(0),
                local: admin::parse_realm_local(
                    visibility.local_address,
                    visibility.local_subnet.as_deref(),
                )?,
            };
            admin::validate_realm(&realm)?;
            let link_key = if link_secret_stdin {
                let secret = read_hidden(&LINK_SECRET, true, false)?;
                Some(admin::link_key_from_secret(&secret)?)
            } else {
                None
            };
            let realm = NewRealm { link_key, ..realm };
            let mut store = open_store(config)?;
            let id = match id {
                Some(id) => store.add_realm_with_id(&realm, RealmId(id))?,
                None => store.add_realm(&realm)?,
            };
            let kind = if realm.link_key.is_some() {
                "linkable"
            } else {
                "static"
            };
            println!("added {kind} realm {} (id {})", realm.name, id.0);
        }
        RealmCommand::Set(args) => {
            let realm = admin::parse_realm_ref(&args.realm);
            let changes = RealmChanges {
                name: args.name.map(|n| n.trim().to_string()),
                address: args.address,
                realm_type: args
                    .realm_type
                    .as_deref()
                    .map(admin::parse_realm_type)
                    .transpose()?,
                flags: args
                    .flags
                    .as_deref()
                    .map(admin::parse_realm_flags)
                    .transpose()?,
                timezone: args.timezone,
                population: args.population,
                builds: args.builds.as_deref().map(builds_arg).transpose()?,
                allowed_level: args.visibility.allowed_level,
                local: if args.no_local_address {
                    Some(None)
                } else {
                    admin::parse_realm_local(
                        args.visibility.local_address,
                        args.visibility.local_subnet.as_deref(),
                    )?
                    .map(Some)
                },
            };
            admin::validate_realm_changes(&changes)?;
            let mut store = open_store(config)?;
            let id = admin::update_realm(&mut *store, &realm, &changes)?;
            match realm {
                RealmRef::Id(_) => println!("changed realm {}", id.0),
                RealmRef::Name(_) => println!("changed {realm} (id {})", id.0),
            }
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
            let mut rows = table([
                "id",
                "name",
                "address",
                "type",
                "flags",
                "tz",
                "population",
                "kind",
                "builds",
                "level",
                "local address",
            ]);
            for r in store.list_realms()? {
                let builds: Vec<String> = r.builds.iter().map(|b| b.to_string()).collect();
                rows.add_row(vec![
                    r.id.0.to_string(),
                    r.name,
                    r.address,
                    realm_type_name(r.realm_type),
                    format!("{:#04x}", r.flags),
                    r.timezone.to_string(),
                    r.population.to_string(),
                    r.kind.as_str().to_string(),
                    if builds.is_empty() {
                        "all".into()
                    } else {
                        builds.join(",")
                    },
                    access_text(r.access),
                    r.local.map_or_else(
                        || "-".into(),
                        |l| format!("{} from {}", l.address, l.subnet),
                    ),
                ]);
            }
            println!("{rows}");
        }
        RealmCommand::Remove { realm } => {
            let r = admin::parse_realm_ref(&realm);
            let mut store = open_store(config)?;
            store.remove_realm(&r)?;
            // RealmRef shows itself as `realm 3` or `realm "Name"`.
            println!("removed {r}");
        }
    }
    Ok(())
}

/// The `level` column: the level an account needs, and how a lower one sees the realm (by
/// the rule of the schema it comes from).
fn access_text(access: RealmAccess) -> String {
    match access {
        RealmAccess::Open => "0".into(),
        RealmAccess::HiddenBelow(level) => format!("{level} (hidden below)"),
        RealmAccess::LockedBelow(level) => format!("{level} (locked below)"),
        RealmAccess::HiddenFromPlayers(level) => {
            format!("{level} (hidden from 0, locked below)")
        }
        RealmAccess::Unlisted => "unlisted".into(),
    }
}

/// The realm type by the name `--type` takes, or the number for another.
fn realm_type_name(realm_type: u8) -> String {
    match realm_type {
        0 => "pve".into(),
        1 => "pvp".into(),
        6 => "rp".into(),
        8 => "rppvp".into(),
        other => other.to_string(),
    }
}
