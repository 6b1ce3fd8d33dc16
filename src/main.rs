//! The `gatehouse` binary: flags, subcommands and wiring. The work is in the library.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};

use gatehouse::admin;
use gatehouse::config::{Config, ConfigSource, LogLevel, DEFAULT_CONFIG_TEXT};
use gatehouse::daemon::Daemon;
use gatehouse::realms::link::message::RealmAnnouncement;
use gatehouse::store::Schema;
use gatehouse::tools::world_gate::over_link::{GateOptions, RunningGate};

use cli::account::AccountCommand;
use cli::ban::{BanCommand, UnbanCommand};
use cli::database::{db_init, open_store, DbCommand};
use cli::generate::{CompletionsArgs, ManArgs};
use cli::hidden::{read_hidden, LINK_SECRET, PASSWORD};
use cli::link_listen::LinkListen;
use cli::realm::RealmCommand;
use cli::world_gate::WorldGateArgs;

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
    /// Address the realm-link listener binds (repeatable), or `off` for none; overrides
    /// link.listen. A second gatehouse on one machine needs its own, or `off`.
    #[arg(long, global = true, value_name = "ADDR|off")]
    link_listen: Vec<LinkListen>,
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
    /// Read the login audit: newest first, filtered by account, address, time and outcome.
    Audit(cli::audit::AuditArgs),
    /// Run N concurrent full logons against a running server and report the rate and latency.
    Load(gatehouse::tools::client::load::LoadArgs),
    /// The server's SRP work per logon in a tight loop on one thread (scripts/bench.sh).
    #[command(hide = true)]
    SrpCeiling(gatehouse::tools::srp_ceiling::CeilingArgs),
    /// A reference world gateway: registers one realm over the realm link, heartbeats, and
    /// admits game clients whose CMSG_AUTH_SESSION matches the key taken from gatehouse.
    WorldGate(WorldGateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Write the man pages (gatehouse.1 and one per subcommand) into a directory.
    Man(ManArgs),
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
enum ConfigCommand {
    /// Print a commented config file with every default.
    Default,
    /// Check a config file (--config FILE) and print what it resolves to, as TOML; secrets
    /// are shown as <redacted>.
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

fn config_source(global: &Global) -> Result<ConfigSource> {
    Ok(ConfigSource {
        path: global.config.clone(),
        db: global.db.clone(),
        schema: global.schema,
        log_level: global.log_level,
        listen: global.listen.clone(),
        link_listen: cli::link_listen::resolve(&global.link_listen)?,
    })
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(
        command,
        Command::Serve | Command::WorldGate(_) | Command::Load(_)
    ) {
        stdout_closed_ends_quietly();
    }
    let source = config_source(&cli.global)?;
    let config = source.load()?;
    match command {
        Command::Serve => {
            gatehouse::logging::init(config.log.level.0);
            let (config_file, resolved) = (source.path.clone(), config.clone());
            let (mut event_loop, mut daemon) = Daemon::start(config)?;
            log::info!(
                "{}",
                cli::serve::startup_line(
                    config_file.as_deref(),
                    &resolved,
                    &daemon.local_addrs(),
                    &daemon.link_addrs(),
                    &daemon.console_addrs(),
                )
            );
            // SIGTERM/SIGINT drain and stop, SIGHUP reloads `source`.
            daemon.serve_as_service(&event_loop, source)?;
            let result = daemon.run(&mut event_loop);
            gatehouse::logging::flush();
            result?;
        }
        Command::Account(cmd) => cli::account::run(cmd, &config)?,
        Command::Console(ConsoleCommand::SetPassword { password_stdin }) => {
            let password = read_hidden(&PASSWORD, password_stdin, true)?;
            let hash = admin::hash_console_password(&password)?;
            open_store(&config)?.set_console_password(&hash)?;
            println!("console password set");
        }
        Command::Realm(cmd) => {
            admin_logging(&config);
            cli::realm::run(cmd, &config)?
        }
        Command::Ban(cmd) => {
            admin_logging(&config);
            cli::ban::ban(cmd, &config)?
        }
        Command::Unban(cmd) => cli::ban::unban(cmd, &config)?,
        Command::Audit(args) => cli::audit::run(args, &config)?,
        Command::Db(DbCommand::Init) => db_init(&config)?,
        Command::Config(ConfigCommand::Default) => print!("{DEFAULT_CONFIG_TEXT}"),
        Command::Config(ConfigCommand::Check) => {
            if source.path.is_none() {
                bail!("no config file given: gatehouse config check --config FILE");
            }
            print!("{}", config.to_toml()?);
        }
        Command::Completions(args) => cli::generate::completions(Cli::command(), &args),
        Command::Man(args) => cli::generate::man(Cli::command(), &args)?,
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

/// Output to a closed pipe (`gatehouse config check | head -3`) ends the command quietly, as
/// it ends Unix tools: SIGPIPE's default action, which Rust's start-up replaces with "ignore"
/// (so that writes return EPIPE and `println!` panics). Not for the commands that hold network
/// connections (`serve`, `world-gate`, `load`): a peer that hangs up must be an error on its
/// socket there, never the end of the process.
fn stdout_closed_ends_quietly() {
    // SAFETY: signal(2) with SIG_DFL installs no handler; called at start, before any thread
    // is spawned, so nothing races the change of disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logging for the commands that read the realm list or the IP bans (`realm list`,
/// `ban list`): a row the store skips is said on stderr, as the server would log it. Warnings
/// and errors only: an operator's command needs no info lines (a schema migration).
fn admin_logging(config: &Config) {
    gatehouse::logging::init(config.log.level.0.min(log::LevelFilter::Warn));
}
