//! Console commands: parsing a line into a [`Command`], and the help text.

use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// Everything an operator can ask the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Stats,
    Conns,
    /// By peer address (`127.0.0.1:50000` or an IP) or account name.
    Kick(String),
    Realms,
    AccountCreate {
        name: String,
        password: String,
    },
    AccountPasswd {
        name: String,
        password: String,
    },
    AccountBan {
        name: String,
        duration: Option<Duration>,
    },
    AccountUnban {
        name: String,
    },
    AccountInfo {
        name: String,
    },
    /// How many characters the account has on a realm (id or name), as a world server reports.
    AccountCharacters {
        name: String,
        realm: String,
        count: u8,
    },
    BanIp {
        net: IpNet,
        duration: Option<Duration>,
    },
    UnbanIp {
        net: IpNet,
    },
    /// Lock an account to the address it last logged on from, or lift the lock.
    AccountLockIp {
        name: String,
        setting: crate::store::IpLockSetting,
    },
    LogLevel(log::LevelFilter),
    Reload,
    Shutdown,
    Quit,
}

pub const HELP: &str = "\
help                                this text
stats                               uptime, connections, logons, loop, store, realms
conns                               connections: peer, state, account, age
kick <peer|account>                 close a client's connection
realms                              the realm list as clients see it
account create <name> <password>    create an account
account passwd <name> <password>    change a password
account ban <name> [duration]       ban (permanently, or e.g. 2h, 7d)
account unban <name>                lift an account's bans
account info <name>                 standing, IP lock, failed logons, last login
account characters <name> <realm> <n>   set the account's character count on a realm
account lock-ip <name> [on|off]     log on only from the last logon's address (or again anywhere)
ban ip <addr|cidr> [duration]       refuse an address or network at accept
unban ip <addr|cidr>                lift an IP ban
loglevel <level>                    off, error, warn, info, debug, trace
reload                              re-read the config file (like SIGHUP)
shutdown                            drain and stop the server (like SIGTERM)
quit                                close this console
";

fn duration(word: Option<&str>) -> Result<Option<Duration>, String> {
    match word {
        None => Ok(None),
        Some(w) => humantime::parse_duration(w)
            .map(Some)
            .map_err(|e| format!("bad duration {w:?}: {e} (e.g. 30m, 2h, 7d)")),
    }
}

/// Parses one line; `Err` is the message to show.
pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let usage = |u: &str| Err(format!("usage: {u}"));
    match words.as_slice() {
        ["help"] | ["?"] => Ok(Command::Help),
        ["stats"] => Ok(Command::Stats),
        ["conns"] => Ok(Command::Conns),
        ["kick", who] => Ok(Command::Kick(who.to_string())),
        ["kick", ..] => usage("kick <peer|account>"),
        ["realms"] => Ok(Command::Realms),
        ["account", "create", name, password] => Ok(Command::AccountCreate {
            name: name.to_string(),
            password: password.to_string(),
        }),
        ["account", "create", ..] => usage("account create <name> <password>"),
        ["account", "passwd", name, password] => Ok(Command::AccountPasswd {
            name: name.to_string(),
            password: password.to_string(),
        }),
        ["account", "passwd", ..] => usage("account passwd <name> <password>"),
        ["account", "ban", name, rest @ ..] if rest.len() <= 1 => Ok(Command::AccountBan {
            name: name.to_string(),
            duration: duration(rest.first().copied())?,
        }),
        ["account", "ban", ..] => usage("account ban <name> [duration]"),
        ["account", "unban", name] => Ok(Command::AccountUnban {
            name: name.to_string(),
        }),
        ["account", "info", name] => Ok(Command::AccountInfo {
            name: name.to_string(),
        }),
        ["account", "characters", name, realm, count] => Ok(Command::AccountCharacters {
            name: name.to_string(),
            realm: realm.to_string(),
            count: count
                .parse()
                .map_err(|_| format!("bad count {count:?}: a number 0-255"))?,
        }),
        ["account", "characters", ..] => usage("account characters <name> <realm> <count>"),
        ["account", "lock-ip", name, rest @ ..] if rest.len() <= 1 => Ok(Command::AccountLockIp {
            name: name.to_string(),
            setting: match rest.first().copied() {
                None | Some("on") => crate::store::IpLockSetting::On,
                Some("off") => crate::store::IpLockSetting::Off,
                Some(other) => return Err(format!("bad setting {other:?}: on or off")),
            },
        }),
        ["account", "lock-ip", ..] => usage("account lock-ip <name> [on|off]"),
        ["account", ..] => usage("account create|passwd|ban|unban|info|characters|lock-ip ..."),
        ["ban", "ip", what, rest @ ..] if rest.len() <= 1 => Ok(Command::BanIp {
            net: crate::admin::parse_net(what)?,
            duration: duration(rest.first().copied())?,
        }),
        ["ban", ..] => usage("ban ip <addr|cidr> [duration]"),
        ["unban", "ip", what] => Ok(Command::UnbanIp {
            net: crate::admin::parse_net(what)?,
        }),
        ["unban", ..] => usage("unban ip <addr|cidr>"),
        ["loglevel", level] => log::LevelFilter::from_str(level)
            .map(Command::LogLevel)
            .map_err(|_| format!("unknown level {level:?}")),
        ["reload"] => Ok(Command::Reload),
        ["shutdown"] => Ok(Command::Shutdown),
        ["quit"] | ["exit"] => Ok(Command::Quit),
        [] => Err(String::new()),
        [other, ..] => Err(format!("unknown command {other:?}; try help")),
    }
}

impl Command {
    /// Whether the command changes something (and is therefore logged with who did it).
    pub fn changes_something(&self) -> bool {
        !matches!(
            self,
            Command::Help
                | Command::Stats
                | Command::Conns
                | Command::Realms
                | Command::Quit
                | Command::AccountInfo { .. }
        )
    }

    /// How the command is logged: never with a password.
    pub fn describe(&self) -> String {
        match self {
            Command::AccountCreate { name, .. } => format!("account create {name}"),
            Command::AccountPasswd { name, .. } => format!("account passwd {name}"),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_usage_errors_say_how() {
        assert_eq!(parse("stats").unwrap(), Command::Stats);
        assert_eq!(
            parse("account ban alice 2h").unwrap(),
            Command::AccountBan {
                name: "alice".into(),
                duration: Some(Duration::from_secs(7200))
            }
        );
        assert_eq!(
            parse("ban ip 10.0.0.0/8").unwrap(),
            Command::BanIp {
                net: "10.0.0.0/8".parse().unwrap(),
                duration: None
            }
        );
        assert_eq!(
            parse("ban ip ::1 1d").unwrap(),
            Command::BanIp {
                net: "::1/128".parse().unwrap(),
                duration: Some(Duration::from_secs(86400))
            }
        );
        assert!(parse("ban ip nowhere")
            .unwrap_err()
            .contains("not an address"));
        assert!(parse("account create x").unwrap_err().starts_with("usage"));
        assert_eq!(
            parse("account lock-ip alice").unwrap(),
            Command::AccountLockIp {
                name: "alice".into(),
                setting: crate::store::IpLockSetting::On
            }
        );
        assert_eq!(
            parse("account lock-ip alice off").unwrap(),
            Command::AccountLockIp {
                name: "alice".into(),
                setting: crate::store::IpLockSetting::Off
            }
        );
        assert!(parse("account lock-ip alice maybe")
            .unwrap_err()
            .contains("on or off"));
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
        assert_eq!(
            parse("loglevel debug").unwrap(),
            Command::LogLevel(log::LevelFilter::Debug)
        );
        assert_eq!(
            parse("account characters alice Azeroth 3").unwrap(),
            Command::AccountCharacters {
                name: "alice".into(),
                realm: "Azeroth".into(),
                count: 3
            }
        );
        assert!(parse("account characters alice 1 256")
            .unwrap_err()
            .contains("0-255"));
        assert!(parse("account characters alice")
            .unwrap_err()
            .starts_with("usage"));
        let create = parse("account create bob hunter2").unwrap();
        assert!(!create.describe().contains("hunter2"));
    }
}
