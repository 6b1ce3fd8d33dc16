//! `gatehouse account ...`: create, change, list and delete accounts, and their authenticators.

use anyhow::Result;
use clap::Subcommand;

use gatehouse::admin;
use gatehouse::config::Config;
use gatehouse::store::IpLockSetting;

use super::database::open_store;
use super::hidden::{read_hidden, PASSWORD, PIN};
use super::output::{format_time, standing, table, unix_now};

#[derive(Subcommand)]
pub enum AccountCommand {
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
    /// Set how many characters the account has on a realm (world servers report this over
    /// the realm link; this is for a world server that does not).
    Characters {
        name: String,
        /// Realm id or name.
        #[arg(long)]
        realm: String,
        count: u8,
    },
    /// Turn an account's authenticator (TOTP; 2.4.3 and 3.3.5a clients) on or off.
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Lock an account to the address it last logged on from (on, the default), or let it log
    /// on from anywhere again (off). A logon from another address is refused as the schema's
    /// own server refuses it.
    LockIp {
        name: String,
        #[arg(value_enum, default_value = "on")]
        setting: OnOff,
    },
    /// Give an account a fixed PIN for the PIN grid (every client that has one), or remove it.
    #[command(subcommand)]
    Pin(PinCommand),
}

/// `on` or `off`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// Set the account's PIN, 4 to 10 digits (asks for it without echo). Needs totp.key in
    /// the config, which seals it.
    Set {
        name: String,
        /// Read the PIN as one line from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Remove the account's PIN.
    Clear { name: String },
}

#[derive(Subcommand)]
pub enum TotpCommand {
    /// Give the account a new authenticator secret and print its otpauth URI, once.
    /// Needs totp.key in the config.
    Enable { name: String },
    /// Remove the account's authenticator: the password alone logs in again.
    Disable { name: String },
}

pub fn run(cmd: AccountCommand, config: &Config) -> Result<()> {
    match cmd {
        AccountCommand::Characters { name, realm, count } => {
            let realm = admin::parse_realm_ref(&realm);
            let mut store = open_store(config)?;
            let (name, realm) = admin::set_character_count(&mut *store, &name, &realm, count)?;
            println!("{name} has {count} characters on {realm}");
        }
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
        AccountCommand::LockIp { name, setting } => {
            let setting = match setting {
                OnOff::On => IpLockSetting::On,
                OnOff::Off => IpLockSetting::Off,
            };
            let mut store = open_store(config)?;
            println!("{}", admin::set_ip_lock(&mut *store, &name, setting)?);
        }
        AccountCommand::Pin(PinCommand::Set { name, pin_stdin }) => {
            let pin = zeroize::Zeroizing::new(read_hidden(&PIN, pin_stdin, true)?);
            let mut store = open_store(config)?;
            let name = admin::set_pin(&mut *store, config.totp.key.as_ref(), &name, &pin)?;
            println!("PIN set for {name}: the PIN grid asks for it at every logon");
        }
        AccountCommand::Pin(PinCommand::Clear { name }) => {
            let mut store = open_store(config)?;
            let name_shown = name.to_ascii_uppercase();
            if admin::clear_pin(&mut *store, &name)? {
                println!("PIN removed for {name_shown}");
            } else {
                println!("{name_shown} had no PIN");
            }
        }
        AccountCommand::List => {
            let mut store = open_store(config)?;
            let now = unix_now();
            let mut rows = table([
                "id",
                "name",
                "last login",
                "last ip",
                "failed",
                "level",
                "totp",
                "ip lock",
                "standing",
            ]);
            for a in store.list_accounts()? {
                rows.add_row(vec![
                    a.id.0.to_string(),
                    a.name.as_str().to_owned(),
                    a.last_login_at
                        .map(format_time)
                        .unwrap_or_else(|| "never".into()),
                    a.last_login_ip.unwrap_or_default(),
                    a.failed_logins.to_string(),
                    a.security_level.to_string(),
                    if a.totp { "on" } else { "off" }.to_owned(),
                    match a.ip_lock {
                        None => "off".to_owned(),
                        Some(address) if address.is_empty() => "no address".to_owned(),
                        Some(address) => address,
                    },
                    standing(a.standing, now),
                ]);
            }
            println!("{rows}");
        }
    }
    Ok(())
}
