//! The config file (TOML) and its defaults. Every key is optional; an unknown key is an error,
//! so a typo is reported instead of silently ignored. Command-line flags override the file.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::integrity::{ChecksumSeed, ChecksumSeeds, ClientOs, VersionCheck};
use crate::protocol::version::Build;
use crate::store::azerothcore::totp_master::TotpMasterSecret;
use crate::store::{redact_url, DbTls, Schema, StoreLocation, TlsMode};
use crate::totp::TotpKey;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `FILE:LINE:COL: message`, as compilers say where; `LINE:COL` is 1-based, the column
    /// counted in characters.
    #[error("{}: {message}", where_parsed(path, *at))]
    Parse {
        path: PathBuf,
        /// Line and column, when the parser said where.
        at: Option<(usize, usize)>,
        message: String,
    },
    #[error("config: {0}")]
    Invalid(String),
    #[error("config: {key} = {value} is out of range: it must be between {min} and {max}")]
    OutOfRange {
        key: &'static str,
        value: String,
        min: String,
        max: String,
    },
}

/// `FILE:LINE:COL` (`FILE` alone without a position; `config` for text not from a file).
fn where_parsed(path: &Path, at: Option<(usize, usize)>) -> String {
    let file = if path.as_os_str().is_empty() {
        "config".into()
    } else {
        path.display().to_string()
    };
    match at {
        Some((line, column)) => format!("{file}:{line}:{column}"),
        None => file,
    }
}

/// The 1-based line and column (in characters) of `byte` in `text`.
fn line_column(text: &str, byte: usize) -> Option<(usize, usize)> {
    let before = text.get(..byte)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((
        before.matches('\n').count() + 1,
        before[start..].chars().count() + 1,
    ))
}

/// The `section.name` of the key whose line holds `byte`; `None` when that line is not a
/// plain `name = value` (a value that spans lines, a syntax error).
fn key_at(text: &str, byte: usize) -> Option<String> {
    let before = text.get(..byte)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let end = text
        .get(byte..)?
        .find('\n')
        .map_or(text.len(), |i| byte + i);
    let (name, _) = text.get(start..end)?.split_once('=')?;
    let name = name.trim();
    let plain = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    if !plain(name) {
        return None;
    }
    let section = before[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match section {
        Some(section) if plain(section) => format!("{section}.{name}"),
        Some(_) => return None,
        None => name.to_string(),
    })
}

/// The one range check: `value` of `key` must lie in `range`, else an error that names the
/// key, the value and the range. A NaN is in no range.
fn check_range<T: PartialOrd + fmt::Display>(
    key: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::OutOfRange {
        key,
        value: value.to_string(),
        min: range.start().to_string(),
        max: range.end().to_string(),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub timeouts: TimeoutConfig,
    pub limits: LimitConfig,
    pub realms: RealmConfig,
    pub sessions: SessionConfig,
    pub patches: PatchConfig,
    pub link: LinkConfig,
    pub console: ConsoleConfig,
    pub metrics: MetricsConfig,
    pub lockout: LockoutConfig,
    pub log: LogConfig,
    pub totp: TotpConfig,
    pub audit: AuditConfig,
}

/// The login audit: how long its rows are kept.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Rows older than this many days are deleted (checked at start and every hour); 0 keeps
    /// them for ever.
    pub keep_days: u32,
}

impl AuditConfig {
    /// The longest keep_days (a century), so the cut-off is never out of range.
    pub const MAX_KEEP_DAYS: u32 = 36_500;

    /// The unix second before which rows go, as of `now`; `None` when rows are kept for ever.
    pub fn cutoff(&self, now: i64) -> Option<i64> {
        (self.keep_days > 0).then(|| now.saturating_sub(i64::from(self.keep_days) * 86_400))
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { keep_days: 90 }
    }
}

/// The authenticator (TOTP) second factor: the key that seals every account's secret in the
/// database, and the issuer name apps show.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotpConfig {
    /// 64 hex digits; empty = authenticators cannot be enabled, and accounts that have one
    /// cannot log in. Neither `Debug` nor `config check` shows it.
    #[serde(deserialize_with = "totp_key", serialize_with = "redacted")]
    pub key: Option<TotpKey>,
    pub issuer: String,
}

impl Default for TotpConfig {
    fn default() -> Self {
        Self {
            key: None,
            issuer: "gatehouse".into(),
        }
    }
}

/// A secret as `config check` prints it: whether there is one, never what it is.
fn redacted<T, S: serde::Serializer>(secret: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match secret {
        Some(_) => "<redacted>",
        None => "",
    })
}

/// `store.url` with any password in it replaced (`redact_url`).
fn url_redacted<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_some(&redact_url(url)),
        None => s.serialize_none(),
    }
}

/// A value written as its config text (`"azerothcore"`, `"verify"`).
fn as_text<T: fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// An empty string is "no key"; anything else must be a well-formed key. The error says what is
/// wrong with the text, never the text.
fn totp_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TotpKey>, D::Error> {
    let text = zeroize::Zeroizing::new(String::deserialize(d)?);
    if text.trim().is_empty() {
        return Ok(None);
    }
    TotpKey::from_hex(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatchConfig {
    /// Patches for old builds, named `<build><locale>.mpq` (e.g. `5464enUS.mpq`).
    pub dir: PathBuf,
}

impl Default for PatchConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("patches"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds a session ticket (the key a world server takes) stays valid after a logon or
    /// reconnect.
    pub ticket_ttl_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ticket_ttl_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Where the telnet-style debug console listens; empty = off. Keep it on loopback.
    pub listen: Vec<SocketAddr>,
}

/// The Prometheus `/metrics` endpoint (README "Metrics").
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; empty = off. Loopback addresses only, unless
    /// `allow_public` is set.
    pub listen: Vec<SocketAddr>,
    /// Lets `listen` hold addresses other than loopback ones (the page has no password: put
    /// it behind a firewall that only lets the scraper in).
    pub allow_public: bool,
}

impl MetricsConfig {
    /// Refuses a listen address that is not loopback unless `allow_public` is set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.listen.iter().find(|a| !a.ip().is_loopback()) {
            Some(addr) if !self.allow_public => Err(ConfigError::Invalid(format!(
                "metrics.listen {addr} is not a loopback address: the metrics page has no \
                 password; set metrics.allow_public = true to serve it there anyway"
            ))),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Where world servers connect to register their realms; empty disables the listener.
    pub listen: Vec<SocketAddr>,
    /// Seconds without a heartbeat after which a linked realm is shown offline.
    pub heartbeat_timeout_secs: u64,
    /// Session takes per second one link may make (each is a write transaction); 0 = no limit.
    pub take_rate: f64,
    /// Takes a link may make at once before `take_rate` applies.
    pub take_burst: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 3725))],
            heartbeat_timeout_secs: 15,
            take_rate: 500.0,
            take_burst: 2000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Addresses the game listener binds; one `listening on` line each.
    pub listen: Vec<SocketAddr>,
    /// Client builds allowed to log in; any other gets FAIL_VERSION_INVALID.
    pub accepted_builds: Vec<u16>,
    /// TCP proxies (HAProxy, nginx stream) whose connections start with a PROXY protocol
    /// header (v1 or v2) naming the player's address; empty = off.
    pub proxy_from: Vec<IpNet>,
    /// Several gatehouse processes on this machine take turns accepting on the game
    /// listener's port (`SO_REUSEPORT`: the kernel spreads new connections over them), one per
    /// core, sharing the database as nodes do.
    pub share_port: bool,
    /// The client integrity check: the proof's crc_hash must be SHA1(A ‖ the checksum seed of
    /// the client's build and OS), else "version invalid" (docs/protocol.md §7.3).
    pub strict_version_check: bool,
    /// Checksum seeds for builds beyond the built-in 5875, 8606 and 12340 (or replacing one).
    pub build_seeds: Vec<BuildSeedConfig>,
}

/// One `[[server.build_seeds]]` entry: a build's checksum seed for one OS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSeedConfig {
    pub build: u16,
    /// "Win" or "OSX", as the client's challenge names its OS.
    pub os: String,
    /// 40 hex digits (AzerothCore `build_info.winChecksumSeed` / `macChecksumSeed`).
    pub seed: String,
}

impl BuildSeedConfig {
    fn parse(&self) -> Result<ChecksumSeed, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(m);
        let build = self.build;
        check_range("server.build_seeds.build", build, 1..=u16::MAX)?;
        let os = ClientOs::from_fourcc(self.os.as_bytes()).ok_or_else(|| {
            bad(format!(
                "server.build_seeds: build {build} has os = {:?}; it must be \"Win\" or \"OSX\"",
                self.os
            ))
        })?;
        let mut seed = [0u8; 20];
        hex::decode_to_slice(self.seed.trim(), &mut seed).map_err(|_| {
            bad(format!(
                "server.build_seeds: the seed of build {build} {os} must be 40 hex digits"
            ))
        })?;
        Ok(ChecksumSeed {
            build: crate::protocol::version::Build(build),
            os,
            seed,
        })
    }
}

#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Optional: which backend `url`/`path` must name (a check, the location decides).
    pub backend: Option<StoreBackend>,
    /// The SQLite file, created on first start (unless `url` is set).
    pub path: PathBuf,
    /// `mysql://USER[:PASSWORD]@HOST:PORT/DBNAME` or `sqlite://PATH`; wins over `path`.
    /// `Debug` and `config check` never show a password in it.
    #[serde(serialize_with = "url_redacted")]
    pub url: Option<String>,
    /// Whose tables a MySQL/MariaDB database holds: "gatehouse" (its own, the default) or
    /// "azerothcore" (an unchanged AzerothCore auth database) or "cmangos" (an unchanged
    /// CMaNGOS realmd database). Not for SQLite.
    #[serde(serialize_with = "as_text")]
    pub schema: Schema,
    /// A file whose first line is the database password; without it the environment's
    /// `GATEHOUSE_DB_PASSWORD` is used (both only for a database server).
    pub password_file: Option<PathBuf>,
    /// AzerothCore's `TOTPMasterSecret` (hex), when its authserver encrypts
    /// `account.totp_secret` under one; only with `schema = "azerothcore"`. Empty = the
    /// secrets are raw. Neither `Debug` nor `config check` shows it.
    #[serde(deserialize_with = "totp_master_secret", serialize_with = "redacted")]
    pub totp_master_secret: Option<TotpMasterSecret>,
    /// TLS to a MySQL/MariaDB server: "off" (the default), "required" (encrypted, any
    /// certificate) or "verify" (encrypted, chain and host name checked). Not for SQLite.
    #[serde(serialize_with = "as_text")]
    pub tls: TlsMode,
    /// A PEM file of the CA certificates `tls = "verify"` trusts, besides the driver's
    /// built-in roots; only with "verify".
    pub tls_ca: Option<PathBuf>,
    /// DB worker threads (each with its own connection).
    pub threads: usize,
    /// Requests that may wait for a DB thread; beyond it logons are answered FAIL_DB_BUSY.
    pub queue: usize,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("path", &self.path)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("schema", &self.schema)
            .field("password_file", &self.password_file)
            .field("totp_master_secret", &self.totp_master_secret)
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .field("threads", &self.threads)
            .field("queue", &self.queue)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    Sqlite,
    Mysql,
}

/// Like `totp.key`: empty is "none", anything else must be well-formed, and the error says
/// what is wrong with the text, never the text.
fn totp_master_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<TotpMasterSecret>, D::Error> {
    let text = zeroize::Zeroizing::new(String::deserialize(d)?);
    if text.trim().is_empty() {
        return Ok(None);
    }
    TotpMasterSecret::from_hex(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The environment variable the database password is read from when no file names it.
pub const DB_PASSWORD_ENV: &str = "GATEHOUSE_DB_PASSWORD";

impl StoreConfig {
    /// Where the store is: `url` when set, else the SQLite file at `path`.
    pub fn location(&self) -> StoreLocation {
        match &self.url {
            Some(url) => match StoreLocation::parse(url) {
                StoreLocation::Mysql { url, .. } => StoreLocation::Mysql {
                    url,
                    schema: self.schema,
                    tls: DbTls::from_config(self.tls, self.tls_ca.as_deref()),
                },
                sqlite => sqlite,
            },
            None => StoreLocation::Sqlite(self.path.clone()),
        }
    }

    /// The database password: the first line of `password_file`, else
    /// `GATEHOUSE_DB_PASSWORD`, else none (then a password in the URL, if any, is used).
    pub fn password(&self) -> Result<Option<String>, ConfigError> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let line = text.lines().next().unwrap_or("");
            return Ok(Some(line.trim_end_matches('\r').to_owned()));
        }
        Ok(std::env::var(DB_PASSWORD_ENV).ok())
    }

    /// Whether backend, location and schema fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let location = self.location();
        if self.schema != Schema::Gatehouse && matches!(location, StoreLocation::Sqlite(_)) {
            return Err(ConfigError::Invalid(format!(
                "store.schema = \"{}\" needs a MySQL/MariaDB database \
                 (store.url = \"mysql://USER@HOST:PORT/DBNAME\"); SQLite holds only gatehouse's own",
                self.schema
            )));
        }
        if self.totp_master_secret.is_some() && self.schema != Schema::AzerothCore {
            return Err(ConfigError::Invalid(format!(
                "store.totp_master_secret is AzerothCore's TOTPMasterSecret: it needs \
                 store.schema = \"azerothcore\", not \"{}\"",
                self.schema
            )));
        }
        if self.tls != TlsMode::Off && matches!(location, StoreLocation::Sqlite(_)) {
            return Err(ConfigError::Invalid(format!(
                "store.tls = \"{}\" is for a MySQL/MariaDB server \
                 (store.url = \"mysql://USER@HOST:PORT/DBNAME\"); SQLite is a local file",
                self.tls
            )));
        }
        if self.tls_ca.is_some() && self.tls != TlsMode::Verify {
            return Err(ConfigError::Invalid(format!(
                "store.tls_ca is the CA that tls = \"verify\" checks the server's certificate \
                 against; it needs store.tls = \"verify\", not \"{}\"",
                self.tls
            )));
        }
        match (self.backend, &location) {
            (Some(StoreBackend::Mysql), StoreLocation::Sqlite(_)) => Err(ConfigError::Invalid(
                "store.backend = \"mysql\" needs store.url = \"mysql://USER@HOST:PORT/DBNAME\""
                    .into(),
            )),
            (Some(StoreBackend::Sqlite), StoreLocation::Mysql { .. }) => Err(ConfigError::Invalid(
                "store.url is a mysql:// URL but store.backend is \"sqlite\"".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutConfig {
    /// Seconds a client has from connecting to a completed logon.
    pub logon_secs: u64,
    /// Seconds a logged-in client may stay idle on the realm list.
    pub realm_list_idle_secs: u64,
    /// Seconds a failed client is given to read its answer and hang up.
    pub after_failure_secs: u64,
    /// Seconds a patch download may make no progress before it is closed.
    pub transfer_idle_secs: u64,
    /// Seconds logons in flight get to finish after SIGTERM before the rest are closed.
    pub drain_secs: u64,
}

/// The smallest unauthenticated input ring: a challenge (50 bytes) and the largest proof
/// (388 bytes) sent in one write must fit.
pub const MIN_UNAUTHENTICATED_INPUT: usize = 448;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitConfig {
    /// Connections held at once; beyond it new ones are closed at accept.
    pub max_connections: usize,
    /// Connections one address (IPv4 address, IPv6 /64) may hold at once; 0 = no limit.
    pub max_connections_per_address: u32,
    /// New connections per second one address may open, sustained; 0 = no limit.
    pub connect_rate: f64,
    /// New connections one address may open in a burst.
    pub connect_burst: u32,
    /// Logon and reconnect challenges per second one address may send, sustained; 0 = no limit.
    pub challenge_rate: f64,
    /// Challenges one address may send in a burst.
    pub challenge_burst: u32,
    /// Addresses whose rates and failures are remembered; beyond it the least recently seen
    /// are forgotten.
    pub tracked_addresses: usize,
    /// Networks the per-address limits do not apply to (bans and account lockout still do).
    pub exempt: Vec<IpNet>,
    /// Minimum milliseconds between two realm-list answers on one connection.
    pub realm_list_interval_ms: u64,
    /// Input ring (bytes) of a connection that has not proven a password yet.
    pub unauthenticated_input_buffer: usize,
    /// Input ring per logged-in connection (bytes).
    pub input_buffer: usize,
    /// Output ring (bytes) of a client that is sent a patch: the file's CMD_XFER_DATA chunks
    /// stream through it (at least one 4,099-byte chunk is always let in). Other clients keep
    /// a 512-byte ring, logged in or not: realm lists are sent from one shared encoding.
    pub output_buffer: usize,
}

/// Failed-logon lockout: of an account (in the store, so it survives restarts and is shared by
/// nodes) and of an address (in memory).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Wrong passwords or tokens within `account_window_secs` that lock the account out of one
    /// known address, or out of every new one (`store::lockout`); 0 = off.
    pub account_attempts: u32,
    pub account_window_secs: u64,
    /// How long a lock lasts.
    pub account_suspend_secs: u64,
    /// Wrong passwords or tokens from one address within `address_window_secs` that block the
    /// address's logons; 0 = off.
    pub address_attempts: u32,
    pub address_window_secs: u64,
    /// How long a blocked address's logons are refused.
    pub address_block_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealmConfig {
    /// Seconds between re-reading the realm table from the store.
    pub refresh_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: LogLevel,
}

/// A log level as written in the config or on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub log::LevelFilter);

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        log::LevelFilter::from_str(s)
            .map(LogLevel)
            .map_err(|_| format!("unknown log level {s:?} (off, error, warn, info, debug, trace)"))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_str().to_ascii_lowercase())
    }
}

impl Serialize for LogLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 3724))],
            accepted_builds: vec![5875, 8606, 12340],
            proxy_from: Vec::new(),
            share_port: false,
            strict_version_check: false,
            build_seeds: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: None,
            path: PathBuf::from("gatehouse.db"),
            url: None,
            schema: Schema::Gatehouse,
            password_file: None,
            totp_master_secret: None,
            tls: TlsMode::Off,
            tls_ca: None,
            threads: 2,
            queue: 4096,
        }
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            logon_secs: 30,
            realm_list_idle_secs: 300,
            after_failure_secs: 10,
            transfer_idle_secs: 60,
            drain_secs: 10,
        }
    }
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_address: 16,
            connect_rate: 2.0,
            connect_burst: 20,
            challenge_rate: 1.0,
            challenge_burst: 10,
            tracked_addresses: 65_536,
            exempt: Vec::new(),
            realm_list_interval_ms: 1000,
            unauthenticated_input_buffer: 512,
            input_buffer: 1024,
            output_buffer: 16 * 1024,
        }
    }
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            account_attempts: 10,
            account_window_secs: 900,
            account_suspend_secs: 900,
            address_attempts: 30,
            address_window_secs: 900,
            address_block_secs: 900,
        }
    }
}

impl Default for RealmConfig {
    fn default() -> Self {
        Self { refresh_secs: 5 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: LogLevel(log::LevelFilter::Info),
        }
    }
}

/// What `gatehouse config default` prints: every key with its default and what it does.
pub const DEFAULT_CONFIG_TEXT: &str = r#"# gatehouse configuration. Every key is optional; the values below are the defaults.
# Command-line flags (--listen, --link-listen, --db, --log-level) override this file. Every
# number has a range, shown as (1 to 64): a value outside it is refused, by `gatehouse config
# check`, at start and at a reload (SIGHUP), with the key's name.

[server]
# Addresses the game listener binds (clients connect here).
listen = ["0.0.0.0:3724"]
# Client builds that may log in: 5875 = 1.12.1, 8606 = 2.4.3, 12340 = 3.3.5a.
# Any other build is answered "version invalid".
accepted_builds = [5875, 8606, 12340]
# TCP load balancers in front of the game listener (HAProxy "send-proxy"/"send-proxy-v2",
# nginx stream "proxy_protocol on"): connections from these networks must begin with a PROXY
# protocol header (v1 or v2), and bans, limits and the audit see the address it names.
# Connections from anywhere else are served directly. Empty = off.
proxy_from = []
# More than one core: run one gatehouse per core, each with share_port = true, the same
# listen addresses and database, and its own (or no) link and console listeners. The kernel
# spreads new connections over them (SO_REUSEPORT, Linux). Per-address limits and the address
# lockout then count per process.
share_port = false
# The client integrity check (AzerothCore's, CMaNGOS's and vMaNGOS's StrictVersionCheck): the
# proof's crc_hash must be SHA1(A + the checksum seed of the client's build and OS), else the
# client is answered "version invalid" and the attempt audited as version_mismatch. The seeds
# of 5875, 8606 and 12340 (Windows and macOS) are built in; a build or OS with no seed is
# refused while this is on.
strict_version_check = false
# More seeds (or a replacement for a built-in one), one table each, after the [server] keys:
#   [[server.build_seeds]]
#   build = 6005
#   os = "Win"            # or "OSX"
#   seed = "<40 hex digits>"

[store]
# The SQLite file (embedded, created on first start).
path = "gatehouse.db"
# A MySQL/MariaDB database instead, shared by several gatehouse nodes (the database must
# exist; gatehouse creates its tables): url = "mysql://gatehouse@127.0.0.1:3306/gatehouse".
# The password: the first line of password_file, else the GATEHOUSE_DB_PASSWORD environment
# variable, else one in the URL. It is never logged or printed.
# url = "mysql://USER@HOST:PORT/DBNAME"
# password_file = "/etc/gatehouse/db-password"
# TLS to the MySQL/MariaDB server: "off" (plain TCP), "required" or "verify".
# "required" encrypts but accepts any server certificate: it protects only against passive
# eavesdropping, not against someone who can intercept or redirect the connection.
# "verify" encrypts and checks the server's certificate chain and that it names the URL's
# host, against tls_ca (a PEM file of CA certificates, trusted besides the built-in Mozilla
# roots) or, without tls_ca, the built-in roots alone (not the system's certificate store).
tls = "off"
# tls_ca = "/etc/gatehouse/db-ca.pem"
# Optional check that url/path name this backend: "sqlite" or "mysql".
# backend = "sqlite"
# Whose tables the MySQL/MariaDB database holds: "gatehouse" (its own, created at start) or
# "azerothcore" (an unchanged AzerothCore auth database, acore_auth) or "cmangos" (an
# unchanged CMaNGOS realmd database); see the README.
# schema = "gatehouse"
# With schema = "azerothcore" only: the TOTPMasterSecret of AzerothCore's authserver.conf
# (hex, copied as it is there), when it has one: the accounts' authenticator secrets
# (account.totp_secret) are encrypted under it. Empty = they are stored raw. An account whose
# secret does not decrypt is refused. It is never logged or printed.
# totp_master_secret = ""
# Database worker threads, each with its own connection. With two or more, half serve
# account lookups and the rest writes, so a stuck writer never holds up the lookups. (1 to 64)
threads = 2
# Requests that may queue for a database thread; beyond it logons get "server busy".
# (1 to 100000)
queue = 4096

[timeouts]
# All but drain_secs: 1 to 86400 (a day). drain_secs: 0 to 3600.
# Seconds from connect to a completed logon; a slower or silent client is closed.
logon_secs = 30
# Seconds a logged-in client may sit idle on the realm list.
realm_list_idle_secs = 300
# Seconds a client that was refused has to read the answer and hang up.
after_failure_secs = 10
# Seconds a patch download may make no progress before it is closed.
transfer_idle_secs = 60
# Seconds logons in flight get to finish after SIGTERM/SIGINT before the rest are closed.
drain_secs = 10

[limits]
# Connections held at once; new ones beyond it are closed at accept (it is also kept below
# the process's open-file limit). (1 to 1000000)
max_connections = 10000
# Per address (an IPv4 address, or an IPv6 /64): connections held at once (0 = no limit),
# new connections per second (sustained rate, and burst) and logon/reconnect challenges per
# second (rate and burst; rate 0 = no limit). Excess connections are closed at accept; excess
# challenges are answered "server busy". Connections per address 0 to 1000000, rates 0 to
# 10000, bursts 0 to 100000 (at least 1 when its rate is set).
max_connections_per_address = 16
connect_rate = 2.0
connect_burst = 20
challenge_rate = 1.0
challenge_burst = 10
# Addresses whose rates and failures are remembered; the least recently seen are forgotten.
# (1 to 1000000)
tracked_addresses = 65536
# Networks the per-address limits above (and the address lockout) do not apply to, e.g.
# ["127.0.0.1/32", "10.0.0.0/8"]. Bans and the account lockout still apply.
exempt = []
# Minimum milliseconds between two realm-list answers on one connection; faster requests wait.
# (0 to 60000)
realm_list_interval_ms = 1000
# Input buffer in bytes before the password is proven (the largest logon packet is 388 bytes).
# (448 to input_buffer)
unauthenticated_input_buffer = 512
# Per-connection input buffer in bytes once logged in. (256 to 1048576)
input_buffer = 1024
# Output buffer in bytes of a client that is sent a patch (its chunks stream through it).
# Other clients keep 512 bytes, logged in or not: the realm list is sent from one shared
# encoding, not copied into each connection. (4096 to 1048576)
output_buffer = 16384

[lockout]
# account_attempts wrong passwords (or authenticator tokens) within account_window_secs lock
# the account for account_suspend_secs, per address: from an address that has logged into
# the account before, that address alone; from any other, all addresses that have not (they
# share one count), so strangers cannot lock a player out of the addresses they use. The
# count decays by one every account_window_secs / account_attempts seconds. 0 attempts = off.
# Attempts 0 to 10000; windows and durations 1 to 2592000 seconds (30 days).
account_attempts = 10
account_window_secs = 900
account_suspend_secs = 900
# The same per address, in memory: its logons are refused ("suspended") for
# address_block_secs.
address_attempts = 30
address_window_secs = 900
address_block_secs = 900

[realms]
# Seconds between re-reading the realm table, so `gatehouse realm add` shows up live.
# (1 to 86400)
refresh_secs = 5

[audit]
# Login audit rows older than this many days are deleted (at start, then hourly); 0 = keep
# them for ever (at most 36500).
keep_days = 90

[patches]
# Patches for clients older than accepted_builds, named <build><locale>.mpq (e.g. 5464enUS.mpq).
# A client whose build has a patch for its locale is sent it after proving its password.
dir = "patches"

[sessions]
# Seconds a session ticket (the key a world server takes for a player) stays valid.
# (1 to 86400)
ticket_ttl_secs = 900

[link]
# Where world servers connect to register their realms (docs/realm-link.md); [] disables it
# (as --link-listen off does on the command line).
listen = ["127.0.0.1:3725"]
# Seconds without a heartbeat after which a linked realm is shown offline. (1 to 86400)
heartbeat_timeout_secs = 15
# Session takes per second one link may make (each is a database write); a take beyond it is
# answered "no ticket" and counted. 0 = no limit. (0 to 100000)
take_rate = 500.0
# Takes a link may make at once before take_rate applies. (1 to 1000000)
take_burst = 2000

[console]
# The telnet-style debug console; off unless listed. Keep it on loopback, e.g.
# listen = ["127.0.0.1:3443"]. Log in with `gatehouse console set-password`'s password or an
# account of security level 3 or more.
listen = []

[metrics]
# The Prometheus endpoint (GET /metrics, text format); off unless listed, e.g.
# listen = ["127.0.0.1:9724"]. Loopback addresses only, unless allow_public = true: the page
# has no password, so a public address needs a firewall that lets only the scraper in.
listen = []
allow_public = false

[log]
# off, error, warn, info, debug or trace.
level = "info"

[totp]
# The key that encrypts the accounts' authenticator (TOTP) secrets in the database: 64 hex
# digits, e.g. from `openssl rand -hex 32`. Empty = `gatehouse account totp enable` refuses,
# and an account that already has an authenticator cannot log in. Keep it secret and keep it:
# with another key the stored secrets cannot be read. It is never logged or printed.
key = ""
# The issuer name authenticator apps show beside the account.
issuer = "gatehouse"
"#;

/// Where the running config came from, so SIGHUP can read it again: the file, and the
/// command-line flags that override it.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub path: Option<PathBuf>,
    /// `--db`: an SQLite path, `sqlite://PATH` or `mysql://…`; overrides the file's store.
    pub db: Option<String>,
    /// `--schema`: whose tables the database holds; overrides store.schema.
    pub schema: Option<Schema>,
    pub log_level: Option<LogLevel>,
    pub listen: Vec<SocketAddr>,
    /// `--link-listen`: the realm-link listener's addresses, empty for none; `None` keeps
    /// link.listen.
    pub link_listen: Option<Vec<SocketAddr>>,
}

impl ConfigSource {
    /// The file's config (or the defaults) with the flags applied.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        self.apply_flags(&mut config);
        // The flags may pair a schema with a store it does not fit.
        config.store.validate()?;
        Ok(config)
    }

    pub fn apply_flags(&self, config: &mut Config) {
        if let Some(db) = &self.db {
            match StoreLocation::parse(db) {
                StoreLocation::Sqlite(path) => {
                    config.store.path = path;
                    config.store.url = None;
                }
                StoreLocation::Mysql { url, .. } => config.store.url = Some(url),
            }
            // The flag names the backend; a file's `backend` check is about the file's store.
            config.store.backend = None;
        }
        if let Some(schema) = self.schema {
            config.store.schema = schema;
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
        }
        if !self.listen.is_empty() {
            config.server.listen = self.listen.clone();
        }
        if let Some(link) = &self.link_listen {
            config.link.listen = link.clone();
        }
    }
}

impl Config {
    /// The config as a TOML file, for `config check`; it reads back to the same config but
    /// for its secrets (the `totp.key`, the `store.totp_master_secret`, a password in
    /// `store.url`), which are shown as `<redacted>` or `***`, never as they are.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Invalid(format!("cannot print: {e}")))
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, at, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                at,
                message,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            at: e.span().and_then(|s| line_column(text, s.start)),
            message: e.message().trim_end().to_string()
                + &e.span()
                    .map(|s| Self::key_hint(text, s.start))
                    .unwrap_or_default(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// What a parse error's message adds: the key on the error's line with its range if it
    /// has one (a number too large for its type never reaches `validate`). Never the line's
    /// text, which may hold a secret.
    fn key_hint(text: &str, byte: usize) -> String {
        let Some(key) = key_at(text, byte) else {
            return String::new();
        };
        let defaults = Config::default();
        let whole = defaults
            .whole_numbers()
            .into_iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, r)| (r.start().to_string(), r.end().to_string()));
        let real = || {
            defaults
                .real_numbers()
                .into_iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, _, r)| (r.start().to_string(), r.end().to_string()))
        };
        match whole.or_else(real) {
            Some((min, max)) => {
                format!(" ({key}: it must be between {min} and {max})")
            }
            None => format!(" ({key})"),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.server.listen.is_empty() {
            return bad("server.listen needs at least one address");
        }
        if self.server.accepted_builds.is_empty() {
            return bad("server.accepted_builds is empty: no client could log in");
        }
        for build in &self.server.accepted_builds {
            check_range("server.accepted_builds", *build, 1..=u16::MAX)?;
        }
        self.checksum_seeds()?;
        for (key, value, range) in self.whole_numbers() {
            check_range(key, value, range)?;
        }
        for (key, value, range) in self.real_numbers() {
            check_range(key, value, range)?;
        }
        self.store.validate()?;
        // A challenge and the largest proof, sent in one write, must fit; and the ring grows
        // (never shrinks) once the password is proven.
        if self.limits.unauthenticated_input_buffer > self.limits.input_buffer {
            return Err(ConfigError::Invalid(format!(
                "limits.unauthenticated_input_buffer must be between {MIN_UNAUTHENTICATED_INPUT} and limits.input_buffer"
            )));
        }
        for (key, rate, burst) in [
            (
                "limits.connect",
                self.limits.connect_rate,
                self.limits.connect_burst,
            ),
            (
                "limits.challenge",
                self.limits.challenge_rate,
                self.limits.challenge_burst,
            ),
        ] {
            if rate > 0.0 && burst == 0 {
                return Err(ConfigError::Invalid(format!(
                    "{key}_burst must be at least 1 when {key}_rate is set"
                )));
            }
        }
        self.totp.validate()?;
        self.metrics.validate()?;
        Ok(())
    }

    /// Every whole-number key, its value and the values it may take: the one place the ranges
    /// are written (the default config text and the README repeat them). The bounds keep what
    /// is allocated at start (queues, tables, rings) allocatable and every duration far from
    /// overflowing the arithmetic it goes into.
    fn whole_numbers(&self) -> [(&'static str, u64, RangeInclusive<u64>); 27] {
        const DAY: u64 = 86_400;
        const MIB: u64 = 1024 * 1024;
        let (store, t, l, lock) = (&self.store, &self.timeouts, &self.limits, &self.lockout);
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("store.threads", n(store.threads), 1..=64),
            ("store.queue", n(store.queue), 1..=100_000),
            ("timeouts.logon_secs", t.logon_secs, 1..=DAY),
            (
                "timeouts.realm_list_idle_secs",
                t.realm_list_idle_secs,
                1..=DAY,
            ),
            ("timeouts.after_failure_secs", t.after_failure_secs, 1..=DAY),
            ("timeouts.transfer_idle_secs", t.transfer_idle_secs, 1..=DAY),
            ("timeouts.drain_secs", t.drain_secs, 0..=3_600),
            (
                "limits.max_connections",
                n(l.max_connections),
                1..=1_000_000,
            ),
            (
                "limits.max_connections_per_address",
                u64::from(l.max_connections_per_address),
                0..=1_000_000,
            ),
            (
                "limits.connect_burst",
                u64::from(l.connect_burst),
                0..=100_000,
            ),
            (
                "limits.challenge_burst",
                u64::from(l.challenge_burst),
                0..=100_000,
            ),
            (
                "limits.tracked_addresses",
                n(l.tracked_addresses),
                1..=1_000_000,
            ),
            (
                "limits.realm_list_interval_ms",
                l.realm_list_interval_ms,
                0..=60_000,
            ),
            (
                "limits.unauthenticated_input_buffer",
                n(l.unauthenticated_input_buffer),
                n(MIN_UNAUTHENTICATED_INPUT)..=MIB,
            ),
            ("limits.input_buffer", n(l.input_buffer), 256..=MIB),
            ("limits.output_buffer", n(l.output_buffer), 4096..=MIB),
            (
                "lockout.account_attempts",
                u64::from(lock.account_attempts),
                0..=10_000,
            ),
            (
                "lockout.account_window_secs",
                lock.account_window_secs,
                1..=30 * DAY,
            ),
            (
                "lockout.account_suspend_secs",
                lock.account_suspend_secs,
                1..=30 * DAY,
            ),
            (
                "lockout.address_attempts",
                u64::from(lock.address_attempts),
                0..=10_000,
            ),
            (
                "lockout.address_window_secs",
                lock.address_window_secs,
                1..=30 * DAY,
            ),
            (
                "lockout.address_block_secs",
                lock.address_block_secs,
                1..=30 * DAY,
            ),
            ("realms.refresh_secs", self.realms.refresh_secs, 1..=DAY),
            (
                "link.take_burst",
                u64::from(self.link.take_burst),
                1..=1_000_000,
            ),
            (
                "audit.keep_days",
                u64::from(self.audit.keep_days),
                0..=u64::from(AuditConfig::MAX_KEEP_DAYS),
            ),
            (
                "sessions.ticket_ttl_secs",
                self.sessions.ticket_ttl_secs,
                1..=DAY,
            ),
            (
                "link.heartbeat_timeout_secs",
                self.link.heartbeat_timeout_secs,
                1..=DAY,
            ),
        ]
    }

    /// The same for the keys that take fractions (per-second rates; 0 = no limit).
    fn real_numbers(&self) -> [(&'static str, f64, RangeInclusive<f64>); 3] {
        [
            ("link.take_rate", self.link.take_rate, 0.0..=100_000.0),
            (
                "limits.connect_rate",
                self.limits.connect_rate,
                0.0..=10_000.0,
            ),
            (
                "limits.challenge_rate",
                self.limits.challenge_rate,
                0.0..=10_000.0,
            ),
        ]
    }

    /// The seeds of `[[server.build_seeds]]`, each checked.
    fn checksum_seeds(&self) -> Result<Vec<ChecksumSeed>, ConfigError> {
        let seeds = self
            .server
            .build_seeds
            .iter()
            .map(BuildSeedConfig::parse)
            .collect::<Result<Vec<_>, _>>()?;
        for (i, s) in seeds.iter().enumerate() {
            if seeds
                .iter()
                .skip(i + 1)
                .any(|t| (t.build, t.os) == (s.build, s.os))
            {
                return Err(ConfigError::Invalid(format!(
                    "server.build_seeds: build {} {} is given twice",
                    s.build, s.os
                )));
            }
        }
        Ok(seeds)
    }

    /// The client integrity check as the config sets it (a loaded config is valid, so every
    /// seed parses).
    pub fn version_check(&self) -> VersionCheck {
        match self.server.strict_version_check {
            false => VersionCheck::Off,
            true => VersionCheck::Strict(ChecksumSeeds::with_extra(
                self.checksum_seeds().unwrap_or_default(),
            )),
        }
    }

    pub fn accepted_builds(&self) -> Vec<Build> {
        self.server
            .accepted_builds
            .iter()
            .copied()
            .map(Build)
            .collect()
    }
}

impl TotpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let issuer = self.issuer.trim();
        if issuer.is_empty() || issuer.len() > 64 || issuer.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(
                "totp.issuer must be 1 to 64 printable characters".into(),
            ));
        }
        // The otpauth URI's label is `issuer:account`: a colon would split it elsewhere.
        if issuer.contains(':') {
            return Err(ConfigError::Invalid(
                "totp.issuer cannot contain ':' (authenticator apps read it as the end of the \
                 issuer)"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl TimeoutConfig {
    pub fn logon(&self) -> Duration {
        Duration::from_secs(self.logon_secs)
    }
    pub fn realm_list_idle(&self) -> Duration {
        Duration::from_secs(self.realm_list_idle_secs)
    }
    pub fn after_failure(&self) -> Duration {
        Duration::from_secs(self.after_failure_secs)
    }
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }
    pub fn transfer_idle(&self) -> Duration {
        Duration::from_secs(self.transfer_idle_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_listen_is_loopback_unless_allowed_public() {
        let on = |addr: &str, public: bool| {
            Config::parse(&format!(
                "[metrics]\nlisten = [\"{addr}\"]\nallow_public = {public}\n"
            ))
        };
        assert!(on("127.0.0.1:9724", false).is_ok());
        assert!(on("[::1]:9724", false).is_ok());
        let e = on("0.0.0.0:9724", false).unwrap_err().to_string();
        assert!(e.contains("metrics.allow_public"), "{e}");
        assert!(on("0.0.0.0:9724", true).is_ok());
        assert!(Config::default().metrics.listen.is_empty());
    }

    #[test]
    fn the_printed_default_config_is_the_default() {
        assert_eq!(
            Config::parse(DEFAULT_CONFIG_TEXT).unwrap(),
            Config::default()
        );
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn config_check_prints_toml_that_reads_back_without_its_secrets() {
        let c = Config::default();
        assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
        let key = "8f3a5c0e1d2b4a6978c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";
        let master = "5C1A9E07B3D24F68A0E1C2B3D4E5F607";
        let c = Config::parse(&format!(
            "[store]\nschema = \"azerothcore\"\nurl = \"mysql://gh:s3cret@db:3306/a\"\n\
             totp_master_secret = \"{master}\"\ntls = \"required\"\n[totp]\nkey = \"{key}\"\n\
             [log]\nlevel = \"debug\"\n"
        ))
        .unwrap();
        let shown = c.to_toml().unwrap();
        for secret in ["s3cret", "8f3a5c0e", "5C1A9E07"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        for line in [
            "url = \"mysql://gh:***@db:3306/a\"",
            "schema = \"azerothcore\"",
            "tls = \"required\"",
            "totp_master_secret = \"<redacted>\"",
            "key = \"<redacted>\"",
            "level = \"debug\"",
        ] {
            assert!(shown.contains(line), "{line} not in {shown}");
        }
    }

    #[test]
    fn parse_errors_say_line_and_column() {
        let e = Config::parse("[server]\nshare_port = true\n  listen_on = 1\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("config:3:3: "), "{text}");
        assert!(text.contains("listen_on"), "{text}");
        assert!(!text.contains("byte"), "{text}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let e = Config::parse("[server]\nlisten_on = [\"1.2.3.4:1\"]\n").unwrap_err();
        assert!(e.to_string().contains("listen_on"), "{e}");
        let e = Config::parse("[nope]\n").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        assert!(Config::parse("[server]\naccepted_builds = []\n").is_err());
        assert!(Config::parse("[log]\nlevel = \"loud\"\n").is_err());
        assert!(Config::parse("[store]\nbackend = \"oracle\"\n").is_err());
        assert!(Config::parse("[timeouts]\nlogon_secs = 0\n").is_err());
    }

    /// `[section]\nname = value\n` for a key written `section.name`.
    fn one_key(key: &str, value: &str) -> String {
        let (section, name) = key.split_once('.').unwrap();
        format!("[{section}]\n{name} = {value}\n")
    }

    fn out_of_range_key(e: &ConfigError) -> Option<&'static str> {
        match e {
            ConfigError::OutOfRange { key, .. } => Some(key),
            _ => None,
        }
    }

    #[test]
    fn every_number_outside_its_range_is_refused_by_name_and_its_bounds_are_taken() {
        let rows = Config::default().whole_numbers();
        for (key, _, range) in rows {
            let mut outside = vec![range.end() + 1];
            if let Some(below) = range.start().checked_sub(1) {
                outside.push(below);
            }
            for value in outside {
                let e = Config::parse(&one_key(key, &value.to_string())).unwrap_err();
                assert_eq!(out_of_range_key(&e), Some(key), "{key} = {value}: {e}");
                let text = e.to_string();
                assert!(text.contains(&value.to_string()), "{text}");
            }
            // Too large even for the key's type (u32 for some): a parse error, which names
            // the key and its range too.
            for value in [u64::MAX.to_string(), "18446744073709551616".into()] {
                let text = Config::parse(&one_key(key, &value))
                    .unwrap_err()
                    .to_string();
                assert!(text.contains(key), "{key} = {value}: {text}");
                let range = format!("between {} and {}", range.start(), range.end());
                assert!(text.contains(&range), "{key} = {value}: {text}");
            }
            for value in [*range.start(), *range.end()] {
                // A bound may still break a rule between keys (a burst of 0 with a rate
                // set); it never breaks its own range.
                if let Err(e) = Config::parse(&one_key(key, &value.to_string())) {
                    assert_eq!(out_of_range_key(&e), None, "{key} = {value}: {e}");
                }
            }
        }
        for (key, _, range) in Config::default().real_numbers() {
            let above = format!("{}", range.end() + 0.5);
            for value in ["-0.5", "nan", "inf", above.as_str()] {
                let e = Config::parse(&one_key(key, value)).unwrap_err();
                assert_eq!(out_of_range_key(&e), Some(key), "{key} = {value}: {e}");
            }
            for value in [range.start(), range.end()] {
                assert!(Config::parse(&one_key(key, &format!("{value:.1}"))).is_ok());
            }
        }

        // The values of the issue, and the bounds an operator is most likely to write.
        let e = Config::parse("[timeouts]\ndrain_secs = 18446744073709551615\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config: timeouts.drain_secs = 18446744073709551615 is out of range: \
             it must be between 0 and 3600"
        );
        for text in [
            "[timeouts]\ntransfer_idle_secs = 18446744073709551615\n",
            "[store]\nqueue = 18446744073709551615\n",
            "[limits]\ntracked_addresses = 18446744073709551615\n",
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(out_of_range_key(&e).is_some(), "{text}: {e}");
        }
        for ok in [
            "[timeouts]\ndrain_secs = 0\n",
            "[timeouts]\ndrain_secs = 3600\ntransfer_idle_secs = 86400\n",
            "[store]\nthreads = 64\nqueue = 100000\n",
            "[limits]\ntracked_addresses = 1000000\ninput_buffer = 1048576\n\
             unauthenticated_input_buffer = 1048576\noutput_buffer = 1048576\n",
            "[limits]\nconnect_rate = 0.0\nconnect_burst = 0\n",
            "[lockout]\naccount_attempts = 0\naccount_suspend_secs = 2592000\n",
        ] {
            assert!(Config::parse(ok).is_ok(), "{ok}");
        }
        // The rules between keys stay.
        assert!(Config::parse("[limits]\nunauthenticated_input_buffer = 2048\n").is_err());
        assert!(Config::parse("[limits]\nconnect_burst = 0\n").is_err());
        let e = Config::parse("[server]\naccepted_builds = [0]\n").unwrap_err();
        assert_eq!(out_of_range_key(&e), Some("server.accepted_builds"), "{e}");
    }

    #[test]
    fn the_range_table_names_real_keys_once_each() {
        let rows = Config::default().whole_numbers();
        let mut keys: Vec<&str> = rows.iter().map(|(k, _, _)| *k).collect();
        keys.extend(Config::default().real_numbers().iter().map(|(k, _, _)| *k));
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count, "a key is listed twice");
        for key in keys {
            // The default config text shows every one of them.
            let name = key.split_once('.').unwrap().1;
            assert!(
                DEFAULT_CONFIG_TEXT.contains(&format!("\n{name} = ")),
                "{key} is not in the default config text"
            );
        }
    }

    #[test]
    fn strict_version_check_and_build_seeds() {
        assert_eq!(Config::default().version_check(), VersionCheck::Off);
        let text = "[server]\nstrict_version_check = true\n[[server.build_seeds]]\nbuild = 6005\nos = \"Win\"\nseed = \"0102030405060708090a0b0c0d0e0f1011121314\"\n";
        let c = Config::parse(text).unwrap();
        let VersionCheck::Strict(seeds) = c.version_check() else {
            panic!("not strict");
        };
        assert_eq!(
            seeds.find(Build(6005), ClientOs::Windows),
            Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
        );
        assert!(seeds.find(Build(5875), ClientOs::MacOs).is_some());
        for bad in [
            "build = 6005\nos = \"Linux\"\nseed = \"0102030405060708090a0b0c0d0e0f1011121314\"",
            "build = 6005\nos = \"Win\"\nseed = \"0102\"",
            "build = 0\nos = \"Win\"\nseed = \"0102030405060708090a0b0c0d0e0f1011121314\"",
        ] {
            let text = format!("[[server.build_seeds]]\n{bad}\n");
            assert!(Config::parse(&text).is_err(), "{bad}");
        }
        let twice = "[[server.build_seeds]]\nbuild = 6005\nos = \"Win\"\nseed = \"0102030405060708090a0b0c0d0e0f1011121314\"\n".repeat(2);
        assert!(Config::parse(&twice).is_err());
    }

    #[test]
    fn the_totp_key_parses_and_never_shows() {
        let hex = "8f3a5c0e1d2b4a6978c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";
        let c =
            Config::parse(&format!("[totp]\nkey = \"{hex}\"\nissuer = \"My Realm\"\n")).unwrap();
        assert_eq!(c.totp.key, Some(TotpKey::from_hex(hex).unwrap()));
        assert_eq!(c.totp.issuer, "My Realm");
        let e = Config::parse("[totp]\nissuer = \"My:Realm\"\n").unwrap_err();
        assert!(e.to_string().contains("cannot contain ':'"), "{e}");
        // `config check` prints this.
        let shown = format!("{c:#?}");
        assert!(!shown.contains("8f3a5c0e"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");

        let e = Config::parse("[totp]\nkey = \"8f3a5c0e1d2b\"\n").unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        assert!(!e.to_string().contains("8f3a5c0e"), "{e}");
        let bad = format!("[totp]\nkey = \"{}xy\"\n", &hex[..62]);
        let e = Config::parse(&bad).unwrap_err();
        assert!(!e.to_string().contains("8f3a5c0e"), "{e}");
        assert!(Config::parse("[totp]\nissuer = \"\"\n").is_err());
        assert_eq!(
            Config::parse("[totp]\nkey = \"\"\n").unwrap().totp.key,
            None
        );
    }

    #[test]
    fn the_totp_master_secret_is_for_azerothcore_only_and_never_shows() {
        let url = "mysql://gh@db.example:3306/acore_auth";
        let hex = "5C1A9E07B3D24F68A0E1C2B3D4E5F607";
        let ac = |extra: &str| {
            Config::parse(&format!(
                "[store]\nschema = \"azerothcore\"\nurl = \"{url}\"\n{extra}"
            ))
        };
        let c = ac(&format!("totp_master_secret = \"{hex}\"\n")).unwrap();
        assert_eq!(
            c.store.totp_master_secret,
            Some(TotpMasterSecret::from_hex(hex).unwrap())
        );
        // `config check` prints this.
        let shown = format!("{c:#?}");
        assert!(!shown.contains("5C1A9E07"), "{shown}");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("totp_master_secret: Some(TotpMasterSecret(<redacted>))"),
            "{shown}"
        );
        assert_eq!(
            ac("totp_master_secret = \"\"\n")
                .unwrap()
                .store
                .totp_master_secret,
            None
        );
        // Not hex, or over 128 bits: an error that does not show the value.
        for bad in [format!("0x{hex}"), format!("{hex}0"), format!("{hex} x")] {
            let e = ac(&format!("totp_master_secret = \"{bad}\"\n")).unwrap_err();
            assert!(e.to_string().contains("totp_master_secret"), "{e}");
            assert!(!e.to_string().contains("5C1A9E07"), "{e}");
        }
        // Only AzerothCore has it: with another schema, by file or by flag, it is an error.
        let line = format!("totp_master_secret = \"{hex}\"\n");
        for schema in ["gatehouse", "cmangos"] {
            let e = Config::parse(&format!(
                "[store]\nschema = \"{schema}\"\nurl = \"{url}\"\n{line}"
            ))
            .unwrap_err();
            assert!(
                e.to_string().contains("store.schema = \"azerothcore\""),
                "{e}"
            );
            assert!(!e.to_string().contains("5C1A9E07"), "{e}");
        }
        assert!(Config::parse(&format!("[store]\n{line}")).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            format!("[store]\nschema = \"azerothcore\"\nurl = \"{url}\"\n{line}"),
        )
        .unwrap();
        let source = |schema| ConfigSource {
            path: Some(path.clone()),
            schema: Some(schema),
            ..ConfigSource::default()
        };
        assert!(source(Schema::AzerothCore).load().is_ok());
        assert!(source(Schema::Cmangos).load().is_err());
    }

    #[test]
    fn the_store_url_wins_over_the_path_and_never_shows_its_password() {
        // Files written for earlier versions stay valid.
        let c = Config::parse("[store]\nbackend = \"sqlite\"\npath = \"x.db\"\n").unwrap();
        assert_eq!(c.store.location(), StoreLocation::Sqlite("x.db".into()));
        let url = "mysql://gh:s3cret@db.example:3306/gatehouse";
        let c = Config::parse(&format!("[store]\npath = \"x.db\"\nurl = \"{url}\"\n")).unwrap();
        assert_eq!(
            c.store.location(),
            StoreLocation::Mysql {
                url: url.into(),
                schema: Schema::Gatehouse,
                tls: DbTls::Off,
            }
        );
        let shown = format!("{c:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("mysql://gh:***@db.example:3306/gatehouse"),
            "{shown}"
        );
        assert!(Config::parse(&format!("[store]\nbackend = \"mysql\"\nurl = \"{url}\"\n")).is_ok());
        let e = Config::parse(&format!("[store]\nbackend = \"sqlite\"\nurl = \"{url}\"\n"))
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(Config::parse("[store]\nbackend = \"mysql\"\n").is_err());

        // --db overrides either way.
        let mut c =
            Config::parse(&format!("[store]\nbackend = \"mysql\"\nurl = \"{url}\"\n")).unwrap();
        let flags = |db: &str| ConfigSource {
            db: Some(db.into()),
            ..ConfigSource::default()
        };
        flags("other.db").apply_flags(&mut c);
        assert_eq!(c.store.location(), StoreLocation::Sqlite("other.db".into()));
        flags("mysql://u@h:1/d").apply_flags(&mut c);
        assert_eq!(
            c.store.location(),
            StoreLocation::Mysql {
                url: "mysql://u@h:1/d".into(),
                schema: Schema::Gatehouse,
                tls: DbTls::Off,
            }
        );
        ConfigSource {
            schema: Some(Schema::AzerothCore),
            ..ConfigSource::default()
        }
        .apply_flags(&mut c);
        assert_eq!(
            c.store.location(),
            StoreLocation::Mysql {
                url: "mysql://u@h:1/d".into(),
                schema: Schema::AzerothCore,
                tls: DbTls::Off,
            }
        );
        // AzerothCore's tables are MySQL's: not on an SQLite file, by file or by flag.
        let err = Config::parse("[store]\nschema = \"azerothcore\"\n").unwrap_err();
        assert!(err.to_string().contains("store.schema"), "{err}");
        // Nor CMaNGOS's.
        let err = Config::parse("[store]\nschema = \"cmangos\"\n").unwrap_err();
        assert!(err.to_string().contains("store.schema"), "{err}");
        let c =
            Config::parse(&format!("[store]\nschema = \"cmangos\"\nurl = \"{url}\"\n")).unwrap();
        assert!(matches!(
            c.store.location(),
            StoreLocation::Mysql {
                schema: Schema::Cmangos,
                ..
            }
        ));
        let c = Config::parse(&format!(
            "[store]\nschema = \"azerothcore\"\nurl = \"{url}\"\n"
        ))
        .unwrap();
        assert!(matches!(
            c.store.location(),
            StoreLocation::Mysql {
                schema: Schema::AzerothCore,
                ..
            }
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "").unwrap();
        let source = ConfigSource {
            path: Some(path),
            schema: Some(Schema::AzerothCore),
            ..ConfigSource::default()
        };
        assert!(source.load().is_err());
    }

    #[test]
    fn store_tls_is_for_a_database_server_and_its_ca_for_verify_only() {
        let url = "mysql://gh@db.example:3306/gatehouse";
        let mysql = |extra: &str| Config::parse(&format!("[store]\nurl = \"{url}\"\n{extra}"));
        let tls_of = |c: Config| match c.store.location() {
            StoreLocation::Mysql { tls, .. } => tls,
            other => panic!("{other:?}"),
        };
        assert_eq!(tls_of(mysql("").unwrap()), DbTls::Off);
        assert_eq!(
            tls_of(mysql("tls = \"required\"\n").unwrap()),
            DbTls::Required
        );
        assert_eq!(
            tls_of(mysql("tls = \"verify\"\n").unwrap()),
            DbTls::Verify { ca: None }
        );
        let c = mysql("tls = \"verify\"\ntls_ca = \"/etc/gatehouse/db-ca.pem\"\n").unwrap();
        assert!(format!("{c:?}").contains("tls: Verify"), "{c:?}");
        assert_eq!(
            tls_of(c),
            DbTls::Verify {
                ca: Some("/etc/gatehouse/db-ca.pem".into())
            }
        );

        // A CA with anything but verify would be ignored: said instead.
        for mode in ["off", "required"] {
            let e = mysql(&format!("tls = \"{mode}\"\ntls_ca = \"/ca.pem\"\n")).unwrap_err();
            assert!(e.to_string().contains("store.tls_ca"), "{e}");
            assert!(e.to_string().contains(mode), "{e}");
        }
        let e = mysql("tls = \"sometimes\"\n").unwrap_err();
        assert!(e.to_string().contains("verify"), "{e}");

        // SQLite has no connection to protect, by file or when --db names a file.
        let e = Config::parse("[store]\ntls = \"verify\"\n").unwrap_err();
        assert!(e.to_string().contains("store.tls"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            format!("[store]\nurl = \"{url}\"\ntls = \"required\"\n"),
        )
        .unwrap();
        let source = |db: &str| ConfigSource {
            path: Some(path.clone()),
            db: Some(db.into()),
            ..ConfigSource::default()
        };
        assert!(source("mysql://u@h:1/d").load().is_ok());
        assert!(source("local.db").load().is_err());
    }

    #[test]
    fn the_password_file_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "p@ss word\r\nsecond line\n").unwrap();
        let store = StoreConfig {
            password_file: Some(file),
            ..StoreConfig::default()
        };
        assert_eq!(store.password().unwrap().as_deref(), Some("p@ss word"));
        let missing = StoreConfig {
            password_file: Some(dir.path().join("nope")),
            ..StoreConfig::default()
        };
        assert!(missing.password().is_err());
    }

    #[test]
    fn values_override_defaults() {
        let c = Config::parse("[server]\nlisten = [\"127.0.0.1:0\"]\naccepted_builds = [5875]\n[log]\nlevel = \"debug\"\n").unwrap();
        assert_eq!(c.server.listen, vec!["127.0.0.1:0".parse().unwrap()]);
        assert_eq!(c.accepted_builds(), vec![Build(5875)]);
        assert_eq!(c.log.level, LogLevel(log::LevelFilter::Debug));
    }
}
