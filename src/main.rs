//! The `gatehouse` binary: flags, subcommands and wiring. The work is in the library.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use gatehouse::account::AccountStanding;
use gatehouse::admin;
use gatehouse::config::{Config, ConfigSource, LogLevel, DEFAULT_CONFIG_TEXT};
use gatehouse::daemon::Daemon;
use gatehouse::realms::link::message::RealmAnnouncement;
use gatehouse::store::{self, NewRealm, Schema, Store, StoreLocation};
use gatehouse::tools::world_gate::over_link::{GateOptions, RunningGate};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Login server for WoW 1.12.1, 2.4.3 and 3.3.5a clients"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct Global {
    /// Config file (TOML); see `gatehouse config default`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The database: an SQLite file (PATH or sqlite://PATH) or
    /// mysql://USER@HOST:PORT/DBNAME (overrides store.path and store.url).
    #[arg(long, global = true, value_name = "PATH|URL")]
    db: Option<String>,
    /// Whose tables a MySQL/MariaDB database holds: gatehouse (the default), azerothcore (an
    /// unchanged AzerothCore auth database) or cmangos (an unchanged CMaNGOS realmd database);
    /// overrides store.schema.
    #[arg(long, global = true, value_name = "SCHEMA")]
    schema: Option<Schema>,
    /// off, error, warn, info, debug or trace (overrides log.level).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<LogLevel>,
    /// Address the server listens on (repeatable; overrides server.listen).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the login server (the default).
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The debug console.
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// Manage the realms in the realm list.
    #[command(subcommand)]
    Realm(RealmCommand),
    /// Config file helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The database itself.
    #[command(subcommand)]
    Db(DbCommand),
    /// Ban an account or an address/network (a running server applies IP bans within
    /// realms.refresh_secs, account bans at the next logon).
    #[command(subcommand)]
    Ban(BanCommand),
    /// Lift an account's or an address's bans.
    #[command(subcommand)]
    Unban(UnbanCommand),
    /// Run N concurrent full logons against a running server and report the rate and latency.
    Load(gatehouse::tools::client::load::LoadArgs),
    /// The server's SRP work per logon in a tight loop on one thread (scripts/bench.sh).
    #[command(hide = true)]
    SrpCeiling(gatehouse::tools::srp_ceiling::CeilingArgs),
    /// A reference world gateway: registers one realm over the realm link, heartbeats, and
    /// admits game clients whose CMSG_AUTH_SESSION matches the key taken from gatehouse.
    WorldGate(WorldGateArgs),
}

#[derive(Args)]
struct WorldGateArgs {
    /// gatehouse's realm-link address.
    #[arg(long, default_value = "127.0.0.1:3725")]
    link: SocketAddr,
    /// The realm's id (as `gatehouse realm list` shows it).
    #[arg(long)]
    realm: u32,
    /// Read the realm's link secret as one line from standard input.
    #[arg(long)]
    link_secret_stdin: bool,
    /// Realm name to announce.
    #[arg(long)]
    name: String,
    /// Where game clients connect ("host:port"); the gate listens there.
    #[arg(long, value_name = "HOST:PORT")]
    address: String,
    /// The client build this world speaks.
    #[arg(long, default_value_t = 12340)]
    build: u16,
    /// pve, pvp, rp, rppvp, or a number.
    #[arg(long = "type", default_value = "pve")]
    realm_type: String,
    #[arg(long, default_value_t = 1)]
    timezone: u8,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 5)]
    heartbeat_secs: u64,
}

#[derive(Subcommand)]
enum BanCommand {
    /// Ban an account: for good, or suspended for a while with --for.
    Account {
        name: String,
        #[command(flatten)]
        ban: BanArgs,
    },
    /// Refuse an address or network (IPv4 or IPv6, e.g. 203.0.113.7, 10.0.0.0/8,
    /// 2001:db8::/32) at accept, before any logon work.
    Ip {
        #[arg(value_parser = admin::parse_net)]
        net: ipnet::IpNet,
        #[command(flatten)]
        ban: BanArgs,
    },
    /// List the IP bans in force and the banned or suspended accounts.
    List,
}

#[derive(Args)]
struct BanArgs {
    /// How long, e.g. 30m, 2h, 7d (default: until lifted).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<std::time::Duration>,
    /// Why; stored with the ban.
    #[arg(long, default_value = "")]
    reason: String,
}

impl BanArgs {
    /// When the ban ends; a duration too long (or too short) to be a ban is refused.
    fn until(&self) -> Result<Option<i64>, admin::AdminError> {
        self.duration
            .map(|d| admin::ban_until(unix_now(), d))
            .transpose()
    }
    fn reason(&self) -> String {
        if self.reason.is_empty() {
            "cli".to_owned()
        } else {
            format!("cli: {}", self.reason)
        }
    }
}

#[derive(Subcommand)]
enum UnbanCommand {
    /// Lift every active ban (and lockout suspension) of an account.
    Account { name: String },
    /// Lift an IP ban (the exact address or network it was made with).
    Ip {
        #[arg(value_parser = admin::parse_net)]
        net: ipnet::IpNet,
    },
}

#[derive(Subcommand)]
enum ConsoleCommand {
    /// Set the console password (asks without echo, or reads one line with --password-stdin).
    SetPassword {
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account (asks for the password without echo).
    Create {
        name: String,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account.
    Delete { name: String },
    /// Set an account's GM / security level (0 = player), as world servers get it.
    SetLevel { name: String, level: u8 },
    /// List accounts.
    List,
    /// Turn an account's authenticator (TOTP; 2.4.3 and 3.3.5a clients) on or off.
    #[command(subcommand)]
    Totp(TotpCommand),
}

#[derive(Subcommand)]
enum TotpCommand {
    /// Give the account a new authenticator secret and print its otpauth URI, once.
    /// Needs totp.key in the config.
    Enable { name: String },
    /// Remove the account's authenticator: the password alone logs in again.
    Disable { name: String },
}

#[derive(Subcommand)]
enum RealmCommand {
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

#[derive(Subcommand)]
enum DbCommand {
    /// Create gatehouse's tables. Beside an AzerothCore or CMaNGOS schema (--schema) these are
    /// the gatehouse_ tables (audit, realm link tickets and keys, lockout times, settings,
    /// gatehouse's authenticators), which nothing else creates; gatehouse's own schema is
    /// created and migrated whenever it is opened, so there this only checks it.
    Init,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented config file with every default.
    Default,
    /// Check a config file and print what it resolves to.
    Check,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            gatehouse::logging::flush();
            eprintln!("gatehouse: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out causes the message already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
    }
    line.replace('\n', " ")
}

fn config_source(global: &Global) -> ConfigSource {
    ConfigSource {
        path: global.config.clone(),
        db: global.db.clone(),
        schema: global.schema,
        log_level: global.log_level,
        listen: global.listen.clone(),
    }
}

fn open_store(config: &Config) -> Result<Box<dyn Store>> {
    let location = config.store.location();
    let password = match location {
        StoreLocation::Mysql { .. } => config.store.password()?,
        StoreLocation::Sqlite(_) => None,
    };
    Ok(store::open(&location, password.as_deref())?)
}

fn db_init(config: &Config) -> Result<()> {
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

fn run() -> Result<()> {
    let cli = Cli::parse();
    let source = config_source(&cli.global);
    let config = source.load()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            gatehouse::logging::init(config.log.level.0);
            let (mut event_loop, mut daemon) = Daemon::start(config)?;
            // SIGTERM/SIGINT drain and stop, SIGHUP reloads `source`.
            daemon.serve_as_service(&event_loop, source)?;
            let result = daemon.run(&mut event_loop);
            gatehouse::logging::flush();
            result?;
        }
        Command::Account(cmd) => account(cmd, &config)?,
        Command::Console(ConsoleCommand::SetPassword { password_stdin }) => {
            let password = read_hidden(&PASSWORD, password_stdin, true)?;
            let hash = admin::hash_console_password(&password)?;
            open_store(&config)?.set_console_password(&hash)?;
            println!("console password set");
        }
        Command::Realm(cmd) => {
            admin_logging(&config);
            realm(cmd, &config)?
        }
        Command::Ban(cmd) => {
            admin_logging(&config);
            ban(cmd, &config)?
        }
        Command::Unban(cmd) => unban(cmd, &config)?,
        Command::Db(DbCommand::Init) => db_init(&config)?,
        Command::Config(ConfigCommand::Default) => print!("{DEFAULT_CONFIG_TEXT}"),
        Command::Config(ConfigCommand::Check) => println!("{config:#?}"),
        Command::WorldGate(args) => {
            gatehouse::logging::init(config.log.level.0);
            let secret = read_hidden(&LINK_SECRET, args.link_secret_stdin, false)?;
            let build = gatehouse::protocol::version::Build(args.build);
            let gate = RunningGate::start(GateOptions {
                link: args.link,
                secret: secret.into_bytes(),
                realm: RealmAnnouncement {
                    realm_id: gatehouse::realms::RealmId(args.realm),
                    name: args.name,
                    address: args.address,
                    realm_type: admin::parse_realm_type(&args.realm_type)?,
                    flags: 0,
                    timezone: args.timezone,
                    builds: vec![build],
                },
                build,
                heartbeat_every: std::time::Duration::from_secs(args.heartbeat_secs.max(1)),
                timeout: std::time::Duration::from_secs(10),
            })?;
            gate.wait();
            gatehouse::logging::flush();
        }
        Command::Load(args) => {
            gatehouse::logging::init(config.log.level.0);
            let report = gatehouse::tools::client::load::run(&args)?;
            println!("{report}");
            if report.failed() > 0 {
                bail!(
                    "{} of {} connections failed",
                    report.failed(),
                    report.attempted()
                );
            }
        }
        Command::SrpCeiling(args) => {
            println!("{}", gatehouse::tools::srp_ceiling::run(&args)?);
        }
    }
    gatehouse::logging::flush();
    Ok(())
}

/// Logging for the commands that read the realm list or the IP bans (`realm list`,
/// `ban list`): a row the store skips is said on stderr, as the server would log it. Warnings
/// and errors only: an operator's command needs no info lines (a schema migration).
fn admin_logging(config: &Config) {
    gatehouse::logging::init(config.log.level.0.min(log::LevelFilter::Warn));
}

/// What a hidden input is, for prompts and errors: the password or a realm's link secret.
struct Hidden {
    what: &'static str,
    prompt: &'static str,
    flag: &'static str,
}

const PASSWORD: Hidden = Hidden {
    what: "password",
    prompt: "Password: ",
    flag: "--password-stdin",
};

const LINK_SECRET: Hidden = Hidden {
    what: "link secret",
    prompt: "Link secret: ",
    flag: "--link-secret-stdin",
};

/// Reads a password or secret: one line from stdin, or a no-echo prompt (twice when
/// `confirm`). Never echoed, printed or logged.
fn read_hidden(hidden: &Hidden, from_stdin: bool, confirm: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("reading the {} from standard input", hidden.what))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no terminal to ask for the {}: use {}",
            hidden.what,
            hidden.flag
        );
    }
    let first = rpassword::prompt_password(hidden.prompt)
        .with_context(|| format!("reading the {}", hidden.what))?;
    if confirm {
        let again = rpassword::prompt_password("Again: ")
            .with_context(|| format!("reading the {}", hidden.what))?;
        if again != first {
            bail!("the {}s do not match", hidden.what);
        }
    }
    Ok(first)
}

fn account(cmd: AccountCommand, config: &Config) -> Result<()> {
    match cmd {
        AccountCommand::Create {
            name,
            password_stdin,
        } => {
            let password = read_hidden(&PASSWORD, password_stdin, true)?;
            let mut store = open_store(config)?;
            let id = admin::create_account(&mut *store, &name, &password)?;
            println!("created account {} ({id})", name.to_ascii_uppercase());
        }
        AccountCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_hidden(&PASSWORD, password_stdin, true)?;
            let mut store = open_store(config)?;
            admin::set_password(&mut *store, &name, &password)?;
            println!("password changed for {}", name.to_ascii_uppercase());
        }
        AccountCommand::Delete { name } => {
            let name = gatehouse::account::AccountName::parse(name.as_bytes())?;
            let mut store = open_store(config)?;
            store.delete_account(&name)?;
            println!("deleted account {name}");
        }
        AccountCommand::SetLevel { name, level } => {
            let mut store = open_store(config)?;
            admin::set_security_level(&mut *store, &name, level)?;
            println!(
                "security level of {} set to {level}",
                name.to_ascii_uppercase()
            );
        }
        AccountCommand::Totp(TotpCommand::Enable { name }) => {
            let mut store = open_store(config)?;
            let enrolment = admin::enable_totp(
                &mut *store,
                config.totp.key.as_ref(),
                &config.totp.issuer,
                &name,
            )?;
            println!("{}", enrolment.uri);
            println!(
                "authenticator enabled for {}: add the URI above to the player's authenticator \
                 app (as text or a QR code); it is not shown again",
                enrolment.account
            );
        }
        AccountCommand::Totp(TotpCommand::Disable { name }) => {
            let mut store = open_store(config)?;
            let name_shown = name.to_ascii_uppercase();
            if admin::disable_totp(&mut *store, &name)? {
                println!("authenticator disabled for {name_shown}");
            } else {
                println!("{name_shown} had no authenticator");
            }
        }
        AccountCommand::List => {
            let mut store = open_store(config)?;
            println!(
                "{:>6}  {:<16}  {:<20}  {:<15}  {:>6}  {:>5}  {:<4}  standing",
                "id", "name", "last login", "last ip", "failed", "level", "totp"
            );
            for a in store.list_accounts()? {
                println!(
                    "{:>6}  {:<16}  {:<20}  {:<15}  {:>6}  {:>5}  {:<4}  {:?}",
                    a.id.0,
                    a.name.as_str(),
                    a.last_login_at
                        .map(format_time)
                        .unwrap_or_else(|| "never".into()),
                    a.last_login_ip.unwrap_or_default(),
                    a.failed_logins,
                    a.security_level,
                    if a.totp { "on" } else { "off" },
                    a.standing
                );
            }
        }
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs an operator command as the console would, and prints its answer; a refusal (no such
/// account) is an error.
fn admin_op(config: &Config, op: admin::AdminOp) -> Result<()> {
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

fn ban(cmd: BanCommand, config: &Config) -> Result<()> {
    match cmd {
        BanCommand::Account { name, ban } => admin_op(
            config,
            admin::AdminOp::BanAccount {
                name,
                until: ban.until()?,
                reason: ban.reason(),
            },
        ),
        BanCommand::Ip { net, ban } => admin_op(
            config,
            admin::AdminOp::BanIp {
                net,
                until: ban.until()?,
                reason: ban.reason(),
            },
        ),
        BanCommand::List => {
            let mut store = open_store(config)?;
            let now = unix_now();
            println!("{:<40}  until", "address or network");
            for b in store.ip_bans(now)? {
                let until = b.until.map_or_else(|| "lifted".into(), format_time);
                println!("{:<40}  {until}", b.net.to_string());
            }
            println!();
            println!("{:<16}  standing", "account");
            for a in store.list_accounts()? {
                let standing = match a.standing {
                    AccountStanding::Active => continue,
                    AccountStanding::Banned => "banned".to_owned(),
                    AccountStanding::Suspended { until } if until > now => {
                        format!("suspended until {}", format_time(until))
                    }
                    AccountStanding::Suspended { .. } => continue,
                };
                println!("{:<16}  {standing}", a.name.as_str());
            }
            Ok(())
        }
    }
}

fn unban(cmd: UnbanCommand, config: &Config) -> Result<()> {
    match cmd {
        UnbanCommand::Account { name } => admin_op(config, admin::AdminOp::UnbanAccount { name }),
        UnbanCommand::Ip { net } => admin_op(config, admin::AdminOp::UnbanIp { net }),
    }
}

/// An RFC 3339 time; the bare number for one humantime cannot print (after the year 9999,
/// e.g. an expiry another program wrote into a shared database).
fn format_time(unix: i64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    match u64::try_from(unix.max(0)) {
        Ok(secs) if secs < YEAR_10000 => {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            humantime::format_rfc3339_seconds(t).to_string()
        }
        _ => format!("{unix} (unix time)"),
    }
}

fn realm(cmd: RealmCommand, config: &Config) -> Result<()> {
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
