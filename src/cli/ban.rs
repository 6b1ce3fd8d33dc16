//! `gatehouse ban ...` and `gatehouse unban ...`: account and address bans.

use anyhow::Result;
use clap::{Args, Subcommand};

use gatehouse::account::AccountStanding;
use gatehouse::admin;
use gatehouse::config::Config;

use super::database::{admin_op, open_store};
use super::output::{format_time, standing, table, unix_now};

#[derive(Subcommand)]
pub enum BanCommand {
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
pub struct BanArgs {
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
pub enum UnbanCommand {
    /// Lift every active ban (and lockout suspension) of an account.
    Account { name: String },
    /// Lift an IP ban (the exact address or network it was made with).
    Ip {
        #[arg(value_parser = admin::parse_net)]
        net: ipnet::IpNet,
    },
}

pub fn ban(cmd: BanCommand, config: &Config) -> Result<()> {
    match cmd {
        BanCommand::Account { name, ban } => {
            let until = ban.until()?;
            let reason = ban.reason();
            let op = admin::AdminOp::BanAccount {
                name,
                until,
                reason,
            };
            admin_op(config, op)
        }
        BanCommand::Ip { net, ban } => {
            let until = ban.until()?;
            let reason = ban.reason();
            admin_op(config, admin::AdminOp::BanIp { net, until, reason })
        }
        BanCommand::List => {
            let mut store = open_store(config)?;
            let now = unix_now();
            let mut ips = table(["address or network", "ends"]);
            for b in store.ip_bans(now)? {
                let ends = b
                    .until
                    .map_or_else(|| "never (until lifted)".into(), format_time);
                ips.add_row(vec![b.net.to_string(), ends]);
            }
            let mut accounts = table(["account", "standing"]);
            for a in store.list_accounts()? {
                let in_force = match a.standing {
                    AccountStanding::Active => false,
                    AccountStanding::Banned => true,
                    AccountStanding::Suspended { until } => until > now,
                };
                if in_force {
                    accounts.add_row(vec![a.name.as_str().to_owned(), standing(a.standing, now)]);
                }
            }
            println!("{ips}");
            println!();
            println!("{accounts}");
            Ok(())
        }
    }
}

pub fn unban(cmd: UnbanCommand, config: &Config) -> Result<()> {
    match cmd {
        UnbanCommand::Account { name } => admin_op(config, admin::AdminOp::UnbanAccount { name }),
        UnbanCommand::Ip { net } => admin_op(config, admin::AdminOp::UnbanIp { net }),
    }
}
