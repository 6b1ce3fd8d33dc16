//! The shared backend: MySQL or MariaDB, for several gatehouse nodes on one database.
//!
//! One [`MysqlStore`] is one connection, owned by one DB thread (or an admin command); the
//! driver is synchronous and never runs on the loop. Every write call is one InnoDB
//! transaction, and rows a decision depends on are read `FOR UPDATE` — taking a session ticket
//! too ([`take_ticket`]), so two nodes can never hand one ticket out twice. Statements
//! are prepared once per connection (the driver's statement cache). A connection the server
//! dropped fails its call as [`BackendErrorKind::Unavailable`] and is opened again on the next.
//!
//! The schema is gatehouse's own (the SQLite tables and columns in MySQL types), created and
//! migrated at open by [`migrations`]. TLS to the server, when asked for, is [`tls`].

pub mod lockout;
pub mod migrations;
pub mod tls;
pub(super) mod write_tx;

use mysql::consts::CapabilityFlags;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Row, TxOpts, Value};

use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::rows::local_from_columns;
use super::rows::{keep_good, realm_row, BadRow, RealmBuilds};
use super::{
    ip_text, proof_admits, standing, unix_now, AccountRecord, AccountSummary, AuditQuery, AuditRow,
    BackendError, BackendErrorKind, BatchEnd, CharacterCount, CountsWritten, FailureRecorded,
    IpLockSetting, LockoutStanding, LoginAttempt, LoginOutcome, NewRealm, RealmChanges, RealmKind,
    RealmRecord, RealmRef, SessionTicket, Store, StoreError, TakeOutcome, TakenSession,
};
use crate::account::{AccountName, IpLockRefusal};
use crate::pin_grid::SealedPin;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpStep};
use crate::values::{AccountId, IpBan, LinkKey, LockoutPolicy, RealmAccess, RealmId};
use tls::DbTls;
use write_tx::{Batching, WriteTx};

/// Statements per connection: the whole API is about 30, so this keeps all of them.
const STATEMENT_CACHE: usize = 64;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one read or write on the connection may take: a server that stops answering
/// (hung, paused, a network that drops packets) costs a DB thread this long, not forever.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection idle this long is pinged before use: servers close idle connections
/// (`wait_timeout`), and a quiet night should not cost the morning's first logon.
const IDLE_PING: Duration = Duration::from_secs(60);

/// A store on one MySQL/MariaDB connection.
pub struct MysqlStore {
    opts: Opts,
    /// What `opts` were given for TLS, for messages.
    tls: DbTls,
    /// `None` after the connection was lost; the next call connects again.
    conn: Option<Conn>,
    last_used: Instant,
    /// Since when the server has been unreachable: an outage is logged once when it begins
    /// and once when it ends, not once per request.
    down_since: Option<Instant>,
    /// The URL without its password, for messages.
    shown: String,
    /// Whether a group commit is open on the connection.
    batch: Batching,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlStore")
            .field("url", &self.shown)
            .field("tls", &self.tls)
            .finish()
    }
}

impl MysqlStore {
    /// Connects to `mysql://USER[:PASSWORD]@HOST:PORT/DBNAME` (the database must exist) and
    /// creates or migrates gatehouse's tables in it. An unreachable server or a refused login
    /// is [`StoreError::Connect`]; a schema from a newer binary is [`StoreError::SchemaTooNew`].
    pub fn open(url: &str) -> Result<MysqlStore, StoreError> {
        Self::open_with_password(url, None, &DbTls::Off)
    }

    /// Like [`MysqlStore::open`], with the password given apart from the URL (from a file or
    /// the environment; `Some` replaces a password in the URL) and TLS as `tls` says. A failed
    /// TLS handshake is [`StoreError::Connect`] with a message that names TLS.
    pub fn open_with_password(
        url: &str,
        password: Option<&str>,
        tls: &DbTls,
    ) -> Result<MysqlStore, StoreError> {
        let mut store = Self::connect(url, password, tls)?;
        if let Some(conn) = store.conn.as_mut() {
            migrations::run(conn)?;
        }
        Ok(store)
    }

    /// Connects without touching the schema: the AzerothCore store shares this connection
    /// handling (timeouts, reconnects, outage logging) on its own tables.
    pub(super) fn connect(
        url: &str,
        password: Option<&str>,
        tls: &DbTls,
    ) -> Result<MysqlStore, StoreError> {
        let shown = super::redact_url(url);
        let connect_err = |source: BackendError| StoreError::Connect {
            url: shown.clone(),
            source,
        };
        // The driver's URL errors never quote the URL, so its password cannot leak through them.
        let parsed = Opts::from_url(url).map_err(|e| {
            connect_err(BackendError::new(
                BackendErrorKind::CannotOpen,
                format!("bad database URL: {e}"),
                None,
            ))
        })?;
        if parsed.get_db_name().is_none_or(str::is_empty) {
            return Err(connect_err(BackendError::new(
                BackendErrorKind::CannotOpen,
                "the database URL names no database (mysql://USER@HOST:PORT/DBNAME)",
                None,
            )));
        }
        let mut builder = OptsBuilder::from_opts(parsed)
            .stmt_cache_size(STATEMENT_CACHE)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT))
            // "Rows matched", not "rows changed": an UPDATE that writes the values a row
            // already has still found it (set_password to the same password is no miss).
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            .init(vec!["SET NAMES utf8mb4"]);
        if let Some(password) = password {
            builder = builder.pass(Some(password));
        }
        let opts = tls::apply(Opts::from(builder), tls).map_err(&connect_err)?;
        let conn =
            Conn::new(opts.clone()).map_err(|e| connect_err(tls::connect_error(e, &opts, tls)))?;
        Ok(MysqlStore {
            opts,
            tls: tls.clone(),
            conn: Some(conn),
            last_used: Instant::now(),
            down_since: None,
            shown,
            batch: Batching::Alone,
        })
    }

    /// The database URL, without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The cipher of this connection's TLS session as the server sees it (`Ssl_cipher`);
    /// `None` on a plain connection. How to check that `store.tls` is in effect.
    pub fn tls_cipher(&mut self) -> Result<Option<String>, StoreError> {
        let result = self.conn().and_then(|conn| {
            let row: Option<Row> = conn.query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")?;
            match row {
                Some(row) => Ok(opt_text(&row, 1, &|| "Ssl_cipher".to_owned())?
                    .filter(|cipher| !cipher.is_empty())),
                None => Ok(None),
            }
        });
        self.settle(result)
    }

    pub(super) fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        if self.batch == Batching::InBatch && self.conn.is_none() {
            // A new connection would run the rest of the batch outside its transaction.
            return Err(StoreError::Backend(BackendError::new(
                BackendErrorKind::Unavailable,
                "the connection was lost during a group commit",
                None,
            )));
        }
        let idle = self.last_used.elapsed() >= IDLE_PING;
        self.last_used = Instant::now();
        let conn = match self.conn.take() {
            Some(mut conn) if idle => match conn.ping() {
                Ok(()) => conn,
                Err(e) => {
                    log::info!(
                        "store: idle connection to {} is gone ({e}); reconnecting",
                        self.shown
                    );
                    self.reconnect()?
                }
            },
            Some(conn) => conn,
            None => {
                let conn = self.reconnect()?;
                if let Some(since) = self.down_since.take() {
                    log::info!(
                        "store: {} is reachable again (after {} s)",
                        self.shown,
                        since.elapsed().as_secs()
                    );
                }
                conn
            }
        };
        Ok(self.conn.insert(conn))
    }

    /// A new connection with the options of the first (a certificate refused now is worded as
    /// at start).
    fn reconnect(&self) -> Result<Conn, StoreError> {
        Conn::new(self.opts.clone())
            .map_err(|e| StoreError::Backend(tls::connect_error(e, &self.opts, &self.tls)))
    }

    /// Whether the writes now run inside a group commit.
    pub(super) fn batching(&self) -> Batching {
        self.batch
    }

    /// [`Store::begin_batch`]: one transaction on the connection for the writes that follow.
    pub(super) fn open_batch(&mut self) -> Result<(), StoreError> {
        if self.batch == Batching::InBatch {
            return Err(StoreError::Invalid("a group commit is open already"));
        }
        let begun = self
            .conn()
            .and_then(|conn| Ok(conn.query_drop("START TRANSACTION")?));
        self.settle(begun)?;
        self.batch = Batching::InBatch;
        Ok(())
    }

    /// [`Store::end_batch`]: commits (or rolls back) the group commit's transaction.
    pub(super) fn close_batch(&mut self, end: BatchEnd) -> Result<(), StoreError> {
        if self.batch != Batching::InBatch {
            return Err(StoreError::Invalid("no group commit is open"));
        }
        let ended = self.conn().and_then(|conn| {
            let sql = match end {
                BatchEnd::Commit => "COMMIT",
                BatchEnd::Abandon => "ROLLBACK",
            };
            Ok(conn.query_drop(sql)?)
        });
        self.batch = Batching::Alone;
        self.settle(ended)
    }

    /// Forgets a connection the server dropped, so the next call opens a new one. The call
    /// itself is not retried: a write might have committed before the connection broke.
    pub(super) fn settle<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            if e.backend_kind() == Some(BackendErrorKind::Unavailable) {
                if self.down_since.is_none() {
                    log::warn!(
                        "store: lost the connection to {}: {e}; answering \"busy\" until it is back",
                        self.shown
                    );
                    self.down_since = Some(Instant::now());
                }
                self.conn = None;
            }
        }
        result
    }
}

// --- errors: only this file and migrations.rs name the driver ---

/// MySQL and MariaDB server error codes the store acts on.
mod code {
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const DEADLOCK: u16 = 1213;
    pub const DUP_ENTRY: u16 = 1062;
    pub const DUP_ENTRY_WITH_KEY: u16 = 1586;
    pub const BAD_NULL: u16 = 1048;
    pub const ROW_IS_REFERENCED: u16 = 1451;
    pub const NO_REFERENCED_ROW: u16 = 1452;
    pub const CHECK_MYSQL: u16 = 3819;
    pub const CHECK_MARIADB: u16 = 4025;
    pub const OPTION_PREVENTS: u16 = 1290;
    pub const READ_ONLY_TRANSACTION: u16 = 1792;
    pub const TABLE_READ_ONLY: u16 = 1036;
    pub const INNODB_READ_ONLY: u16 = 1874;
    pub const DISK_FULL: u16 = 1021;
    pub const RECORD_FILE_FULL: u16 = 1114;
    pub const DBACCESS_DENIED: u16 = 1044;
    pub const ACCESS_DENIED: u16 = 1045;
    pub const BAD_DB: u16 = 1049;
    pub const ACCESS_DENIED_NO_PASSWORD: u16 = 1698;
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    pub const SERVER_SHUTDOWN: u16 = 1053;
    pub const CONNECTION_KILLED: u16 = 1927;
    pub const SERVER_GONE: u16 = 2006;
    pub const SERVER_LOST: u16 = 2013;
    pub const CLIENT_INTERACTION_TIMEOUT: u16 = 4031;
    pub const CRASHED_TABLE: u16 = 1194;
    pub const CRASHED_TABLE_REPAIR_FAILED: u16 = 1195;
}

fn server_kind(code: u16) -> BackendErrorKind {
    match code {
        code::LOCK_WAIT_TIMEOUT | code::DEADLOCK => BackendErrorKind::Busy,
        code::DUP_ENTRY
        | code::DUP_ENTRY_WITH_KEY
        | code::BAD_NULL
        | code::ROW_IS_REFERENCED
        | code::NO_REFERENCED_ROW
        | code::CHECK_MYSQL
        | code::CHECK_MARIADB => BackendErrorKind::Constraint,
        code::OPTION_PREVENTS
        | code::READ_ONLY_TRANSACTION
        | code::TABLE_READ_ONLY
        | code::INNODB_READ_ONLY => BackendErrorKind::ReadOnly,
        code::DISK_FULL | code::RECORD_FILE_FULL => BackendErrorKind::Full,
        code::DBACCESS_DENIED
        | code::ACCESS_DENIED
        | code::BAD_DB
        | code::ACCESS_DENIED_NO_PASSWORD => BackendErrorKind::CannotOpen,
        code::TOO_MANY_CONNECTIONS
        | code::SERVER_SHUTDOWN
        | code::CONNECTION_KILLED
        | code::SERVER_GONE
        | code::SERVER_LOST
        | code::CLIENT_INTERACTION_TIMEOUT => BackendErrorKind::Unavailable,
        code::CRASHED_TABLE | code::CRASHED_TABLE_REPAIR_FAILED => BackendErrorKind::Damaged,
        _ => BackendErrorKind::Other,
    }
}

impl From<mysql::Error> for BackendError {
    fn from(err: mysql::Error) -> BackendError {
        match &err {
            mysql::Error::MySqlError(e) => BackendError::new(
                server_kind(e.code),
                err.to_string(),
                Some(i32::from(e.code)),
            ),
            // The socket, the packet stream or TLS failed: the connection is gone.
            mysql::Error::IoError(_) | mysql::Error::CodecError(_) | mysql::Error::TlsError(_) => {
                BackendError::new(BackendErrorKind::Unavailable, err.to_string(), None)
            }
            mysql::Error::DriverError(d) => {
                let kind = match d {
                    mysql::DriverError::CouldNotConnect(_)
                    | mysql::DriverError::ConnectTimeout
                    | mysql::DriverError::PacketOutOfSync => BackendErrorKind::Unavailable,
                    _ => BackendErrorKind::Other,
                };
                BackendError::new(kind, err.to_string(), None)
            }
            _ => BackendError::new(BackendErrorKind::Other, err.to_string(), None),
        }
    }
}

impl From<mysql::Error> for StoreError {
    fn from(err: mysql::Error) -> StoreError {
        StoreError::Backend(err.into())
    }
}

pub(super) fn is_duplicate(err: &mysql::Error) -> bool {
    matches!(err, mysql::Error::MySqlError(e)
        if e.code == code::DUP_ENTRY || e.code == code::DUP_ENTRY_WITH_KEY)
}

// --- decoding rows: every conversion that the server's content can break returns Corrupt ---

pub(super) fn col(row: &Row, idx: usize) -> Result<&Value, StoreError> {
    row.as_ref(idx)
        .ok_or_else(|| StoreError::corrupt(format!("a row has no column {idx}")))
}

/// A column as it is stored, whatever its type, to name a row in a log line.
pub(super) fn raw_text(row: &Row, idx: usize) -> String {
    match row.as_ref(idx) {
        None => "<no column>".to_owned(),
        Some(Value::NULL) => "NULL".to_owned(),
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::UInt(v)) => v.to_string(),
        Some(Value::Bytes(b)) => format!("{:?}", String::from_utf8_lossy(b)),
        Some(other) => format!("{other:?}"),
    }
}

pub(super) fn opt_int(
    row: &Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<Option<i64>, StoreError> {
    match col(row, idx)? {
        Value::NULL => Ok(None),
        Value::Int(v) => Ok(Some(*v)),
        Value::UInt(v) => i64::try_from(*v)
            .map(Some)
            .map_err(|_| StoreError::corrupt(format!("{} is {v}", what()))),
        // The text protocol (and some expressions) send numbers as digits.
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| StoreError::corrupt(format!("{} is not an integer", what()))),
        other => Err(StoreError::corrupt(format!(
            "{} is {other:?}, not an integer",
            what()
        ))),
    }
}

pub(super) fn int(row: &Row, idx: usize, what: &dyn Fn() -> String) -> Result<i64, StoreError> {
    opt_int(row, idx, what)?.ok_or_else(|| StoreError::corrupt(format!("{} is NULL", what())))
}

pub(super) fn u32_col(row: &Row, idx: usize, what: &dyn Fn() -> String) -> Result<u32, StoreError> {
    let v = int(row, idx, what)?;
    u32::try_from(v).map_err(|_| StoreError::corrupt(format!("{} is {v}", what())))
}

pub(super) fn u8_col(row: &Row, idx: usize, what: &dyn Fn() -> String) -> Result<u8, StoreError> {
    let v = int(row, idx, what)?;
    u8::try_from(v).map_err(|_| StoreError::corrupt(format!("{} is {v}", what())))
}

pub(super) fn bool_col(
    row: &Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<bool, StoreError> {
    Ok(int(row, idx, what)? != 0)
}

pub(super) fn opt_bytes<'r>(
    row: &'r Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<Option<&'r [u8]>, StoreError> {
    match col(row, idx)? {
        Value::NULL => Ok(None),
        Value::Bytes(b) => Ok(Some(b)),
        other => Err(StoreError::corrupt(format!(
            "{} is {other:?}, not bytes",
            what()
        ))),
    }
}

pub(super) fn bytes<'r>(
    row: &'r Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<&'r [u8], StoreError> {
    opt_bytes(row, idx, what)?.ok_or_else(|| StoreError::corrupt(format!("{} is NULL", what())))
}

pub(super) fn opt_text(
    row: &Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<Option<String>, StoreError> {
    opt_bytes(row, idx, what)?
        .map(|b| {
            String::from_utf8(b.to_vec())
                .map_err(|_| StoreError::corrupt(format!("{} is not UTF-8", what())))
        })
        .transpose()
}

pub(super) fn text(row: &Row, idx: usize, what: &dyn Fn() -> String) -> Result<String, StoreError> {
    opt_text(row, idx, what)?.ok_or_else(|| StoreError::corrupt(format!("{} is NULL", what())))
}

pub(super) fn float(row: &Row, idx: usize, what: &dyn Fn() -> String) -> Result<f64, StoreError> {
    match col(row, idx)? {
        Value::Double(v) => Ok(*v),
        Value::Float(v) => Ok(f64::from(*v)),
        Value::Int(v) => Ok(*v as f64),
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| StoreError::corrupt(format!("{} is not a number", what()))),
        other => Err(StoreError::corrupt(format!(
            "{} is {other:?}, not a number",
            what()
        ))),
    }
}

pub(super) fn fixed<const N: usize>(
    bytes: &[u8],
    what: &dyn Fn() -> String,
) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("{} is {} bytes, not {N}", what(), bytes.len())))
}

pub(super) fn name_col(row: &Row, idx: usize, id: i64) -> Result<AccountName, StoreError> {
    let raw = bytes(row, idx, &|| format!("account #{id}: name"))?;
    let name = AccountName::parse(raw)
        .map_err(|e| StoreError::corrupt(format!("account #{id}: name: {e}")))?;
    // A lower-case name in the table would never match a lookup; say so instead.
    if name.as_bytes() != raw {
        return Err(StoreError::corrupt(format!(
            "account #{id}: name {name:?} is not upper case"
        )));
    }
    Ok(name)
}

/// The standing columns, as SQL: the first `?` is now. Shared by the login read and the list.
macro_rules! standing_columns {
    () => {
        "EXISTS (SELECT 1 FROM account_bans b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at IS NULL),
         (SELECT MAX(b.expires_at) FROM account_bans b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at > ?)"
    };
}

fn account_from_row(row: &Row) -> Result<AccountRecord, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    let name = name_col(row, 1, id)?;
    let salt = fixed::<32>(bytes(row, 2, &|| format!("account #{id}: salt"))?, &|| {
        format!("account #{id}: salt")
    })?;
    let verifier = fixed::<32>(
        bytes(row, 3, &|| format!("account #{id}: verifier"))?,
        &|| format!("account #{id}: verifier"),
    )?;
    let failed_logins = u32_col(row, 4, &|| format!("account #{id}: failed_logins"))?;
    let security_level = u8_col(row, 8, &|| format!("account #{id}: security_level"))?;
    let permanent = bool_col(row, 6, &|| format!("account #{id}: ban"))?;
    let until = opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?;
    // Locked to the last logon's address, refused as AzerothCore refuses it.
    let ip_lock = super::stored_ip_lock(
        &name,
        int(row, 13, &|| format!("account #{id}: ip_locked"))? == 1,
        opt_text(row, 14, &|| format!("account #{id}: last_login_ip"))?
            .as_deref()
            .unwrap_or(""),
        IpLockRefusal::LockedEnforced,
    );
    Ok(AccountRecord {
        id: AccountId(id),
        name,
        salt: Salt(salt),
        verifier: Verifier(verifier),
        standing: standing(permanent, until),
        failed_logins,
        security_level,
        session: ticket_from_row(row, id, 5, 9)?,
        totp: totp_from_row(row, id, 12)?,
        pin: pin_col(row, 15, id)?,
        ip_lock,
        lockout: LockoutStanding::Clear,
    })
}

/// The sealed authenticator secret, if any; one that cannot be a sealed secret is corrupt.
fn totp_from_row(row: &Row, id: i64, idx: usize) -> Result<Option<SealedTotpSecret>, StoreError> {
    let what = || format!("account #{id}: totp_secret");
    opt_bytes(row, idx, &what)?
        .map(|b| {
            SealedTotpSecret::from_bytes(b)
                .map_err(|e| StoreError::corrupt(format!("{}: {e}", what())))
        })
        .transpose()
}

/// The session ticket from its four columns, as the SQLite store reads them: no key means no
/// ticket, and then expiry and taker must be empty too; a half-written ticket is corrupt.
fn ticket_from_row(
    row: &Row,
    id: i64,
    key_idx: usize,
    times_idx: usize,
) -> Result<Option<SessionTicket>, StoreError> {
    let issued_at = opt_int(row, times_idx, &|| format!("account #{id}: session_key_at"))?;
    let expires_at = opt_int(row, times_idx + 1, &|| {
        format!("account #{id}: session_expires_at")
    })?;
    let taken_by = opt_int(row, times_idx + 2, &|| {
        format!("account #{id}: session_taken_by")
    })?;
    let what = || format!("account #{id}: session key");
    let Some(key) = opt_bytes(row, key_idx, &what)? else {
        if expires_at.is_some() || taken_by.is_some() {
            return Err(StoreError::corrupt(format!(
                "account #{id}: session expiry or taker without a session key"
            )));
        }
        return Ok(None);
    };
    let key = SessionKey(fixed::<40>(key, &what)?);
    let missing =
        |what: &str| StoreError::corrupt(format!("account #{id}: session key without {what}"));
    let taken_by = taken_by
        .map(|realm| {
            u8::try_from(realm)
                .ok()
                .filter(|&r| r != 0)
                .map(|r| RealmId(u32::from(r)))
                .ok_or_else(|| {
                    StoreError::corrupt(format!("account #{id}: session taken by realm {realm}"))
                })
        })
        .transpose()?;
    Ok(Some(SessionTicket {
        key,
        issued_at: issued_at.ok_or_else(|| missing("session_key_at"))?,
        expires_at: expires_at.ok_or_else(|| missing("session_expires_at"))?,
        taken_by,
    }))
}

fn summary_from_row(row: &Row) -> Result<AccountSummary, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    Ok(AccountSummary {
        id: AccountId(id),
        name: name_col(row, 1, id)?,
        created_at: int(row, 2, &|| format!("account #{id}: created_at"))?,
        last_login_at: opt_int(row, 3, &|| format!("account #{id}: last_login_at"))?,
        last_login_ip: opt_text(row, 4, &|| format!("account #{id}: last_login_ip"))?,
        failed_logins: u32_col(row, 5, &|| format!("account #{id}: failed_logins"))?,
        security_level: u8_col(row, 8, &|| format!("account #{id}: security_level"))?,
        standing: standing(
            bool_col(row, 6, &|| format!("account #{id}: ban"))?,
            opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?,
        ),
        totp: bool_col(row, 9, &|| format!("account #{id}: totp"))?,
        ip_lock: opt_text(row, 10, &|| format!("account #{id}: ip lock"))?,
    })
}

fn realm_from_row(row: &Row) -> Result<RealmRecord, StoreError> {
    let id = int(row, 0, &|| "realm id".to_owned())?;
    let id = u8::try_from(id)
        .ok()
        .filter(|&id| id != 0)
        .ok_or_else(|| StoreError::corrupt(format!("realm id {id} is outside 1..=255")))?;
    let what = || format!("realm {id}: link key");
    let kind = match opt_bytes(row, 7, &what)? {
        None => RealmKind::Static,
        // Read only to check it: a key the handshake could not use must not list as linkable.
        Some(key) => {
            fixed::<32>(key, &what)?;
            RealmKind::Linkable
        }
    };
    Ok(RealmRecord {
        id: RealmId(u32::from(id)),
        name: text(row, 1, &|| format!("realm {id}: name"))?,
        address: text(row, 2, &|| format!("realm {id}: address"))?,
        realm_type: u8_col(row, 3, &|| format!("realm {id}: realm_type"))?,
        flags: u8_col(row, 4, &|| format!("realm {id}: flags"))?,
        timezone: u8_col(row, 5, &|| format!("realm {id}: timezone"))?,
        population: float(row, 6, &|| format!("realm {id}: population"))? as f32,
        builds: Vec::new(),
        kind,
        access: match u8_col(row, 8, &|| format!("realm {id}: allowed_level"))? {
            0 => RealmAccess::Open,
            level => RealmAccess::HiddenBelow(level),
        },
        local: local_from_columns(
            id,
            opt_text(row, 9, &|| format!("realm {id}: local_address"))?,
            opt_text(row, 10, &|| format!("realm {id}: local_subnet"))?,
        )?,
    })
}

/// One IP ban; `net` is its key (the row's primary key, as stored).
fn ip_ban_from_row(row: &Row) -> Result<IpBan, BadRow> {
    let key = || format!("net {}", raw_text(row, 0));
    let stored = text(row, 0, &|| "net".to_owned()).map_err(|e| BadRow::from_error(key(), e))?;
    let net = stored
        .parse::<IpNet>()
        .map_err(|_| BadRow::new(key(), "not a network (ADDRESS/PREFIX, e.g. 10.0.0.0/8)"))?;
    let until =
        opt_int(row, 1, &|| "expires_at".to_owned()).map_err(|e| BadRow::from_error(key(), e))?;
    Ok(IpBan { net, until })
}

pub(super) fn audit_from_row(row: &Row) -> Result<AuditRow, StoreError> {
    let id = int(row, 0, &|| "audit id".to_owned())?;
    let build = int(row, 5, &|| format!("audit #{id}: build"))?;
    Ok(AuditRow {
        at: int(row, 1, &|| format!("audit #{id}: at"))?,
        account: opt_int(row, 2, &|| format!("audit #{id}: account_id"))?.map(AccountId),
        name: text(row, 3, &|| format!("audit #{id}: account_name"))?,
        peer: text(row, 4, &|| format!("audit #{id}: peer_ip"))?,
        build: Build(
            u16::try_from(build)
                .map_err(|_| StoreError::corrupt(format!("audit #{id}: build {build}")))?,
        ),
        outcome: text(row, 6, &|| format!("audit #{id}: outcome"))?,
    })
}

// --- statements shared by several calls; `q` is a connection or a transaction ---

fn insert_audit(q: &mut impl Queryable, attempt: &LoginAttempt) -> Result<(), mysql::Error> {
    q.exec_drop(
        "INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
         VALUES (?, ?, ?, ?, ?, ?)",
        (
            attempt.at,
            attempt.account.map(|a| a.0),
            attempt.name.as_str(),
            ip_text(attempt.peer),
            attempt.build.0,
            attempt.outcome.as_str(),
        ),
    )
}

/// The account's character counts per realm, in realm order (the login replies carry them).
fn character_counts(
    q: &mut impl Queryable,
    account: AccountId,
) -> Result<Vec<CharacterCount>, StoreError> {
    let rows: Vec<Row> = q.exec(
        "SELECT realm_id, count FROM realm_characters WHERE account_id = ? ORDER BY realm_id",
        (account.0,),
    )?;
    rows.iter()
        .map(|row| {
            Ok(CharacterCount {
                realm: RealmId(u32_col(row, 0, &|| {
                    format!("account {account}: character realm")
                })?),
                count: u8_col(row, 1, &|| format!("account {account}: character count"))?,
            })
        })
        .collect()
}

pub(super) fn exists(q: &mut impl Queryable, sql: &str, id: i64) -> Result<bool, mysql::Error> {
    Ok(q.exec_first::<Row, _, _>(sql, (id,))?.is_some())
}

fn account_id(q: &mut impl Queryable, name: &AccountName) -> Result<AccountId, StoreError> {
    let row: Option<Row> =
        q.exec_first("SELECT id FROM accounts WHERE name = ?", (name.as_str(),))?;
    match row {
        Some(row) => Ok(AccountId(int(&row, 0, &|| format!("account {name}: id"))?)),
        None => Err(StoreError::NoSuchAccount(*name)),
    }
}

/// Every realm that parses; the others are left out, each with an error line (`rows`).
fn realms(q: &mut impl Queryable) -> Result<Vec<RealmRecord>, StoreError> {
    let rows: Vec<Row> = q.exec(
        "SELECT id, name, address, realm_type, flags, timezone, population, link_key,
                allowed_level, local_address, local_subnet
         FROM realms ORDER BY id",
        (),
    )?;
    let realms: Vec<_> = rows
        .iter()
        .map(|row| (format!("id {}", raw_text(row, 0)), realm_from_row(row)))
        .collect();
    // Joined, so that a build of no realm (foreign keys off for a hand edit) is not read.
    let rows: Vec<Row> = q.exec(
        "SELECT b.realm_id, b.build FROM realm_builds b JOIN realms r ON r.id = b.realm_id
         ORDER BY b.realm_id, b.build",
        (),
    )?;
    let mut builds = RealmBuilds::default();
    for row in &rows {
        // The join matched it with an integer id, so the realm id reads.
        let Ok(realm_id) = int(row, 0, &|| "realm_builds.realm_id".to_owned()) else {
            continue;
        };
        let build = int(row, 1, &|| "build".to_owned()).map_err(|e| match e {
            StoreError::Corrupt { what } => what,
            other => other.to_string(),
        });
        builds.add(realm_id, build);
    }
    Ok(keep_good(
        "realms",
        realms
            .into_iter()
            .map(|(key, realm)| realm_row(key, builds.attach(realm))),
    ))
}

/// The id for a new realm: after the highest, or the lowest gap once 255 is used (ids of
/// removed realms are only reused when there is no other choice). Locks the realm rows, so
/// two nodes adding at once take turns instead of picking the same id.
fn next_realm_id(q: &mut impl Queryable) -> Result<RealmId, StoreError> {
    let ids: Vec<Row> = q.exec("SELECT id FROM realms ORDER BY id FOR UPDATE", ())?;
    let ids = ids
        .iter()
        .map(|row| int(row, 0, &|| "realm id".to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    let next = ids.last().map_or(1, |max| max + 1);
    if (1..=255).contains(&next) {
        return Ok(RealmId(next as u32));
    }
    (1..=255u32)
        .find(|id| !ids.contains(&i64::from(*id)))
        .map(RealmId)
        .ok_or(StoreError::RealmIdsExhausted)
}

/// [`Store::take_session`] on every MySQL-family schema, written once. `read` reads the live
/// ticket `FOR UPDATE`: a second taker (on this node or another, or a new logon replacing the
/// ticket) waits for that row lock until this transaction ends, and then finds it taken (or a
/// new key). Only if [`proof_admits`] does `mark` set the ticket taken — matching the row only
/// while it is untaken — and the transaction commit. Returning before the commit drops the
/// transaction, which rolls it back: a refused digest writes nothing.
pub(super) fn take_ticket(
    mut tx: WriteTx<'_>,
    name: &AccountName,
    proof: Option<&ClientDigest>,
    read: impl FnOnce(&mut WriteTx<'_>) -> Result<Option<TakenSession>, StoreError>,
    mark: impl FnOnce(&mut WriteTx<'_>, AccountId) -> Result<(), mysql::Error>,
) -> Result<TakeOutcome, StoreError> {
    let Some(taken) = read(&mut tx)? else {
        return Ok(TakeOutcome::NoTicket);
    };
    if !proof_admits(proof, name, &taken.key) {
        return Ok(TakeOutcome::WrongDigest);
    }
    mark(&mut tx, taken.account)?;
    if tx.affected_rows() != 1 {
        // Cannot happen while the row is locked; if it does, nothing is handed out.
        return Ok(TakeOutcome::NoTicket);
    }
    tx.commit()?;
    Ok(TakeOutcome::Taken(taken))
}

/// Implements a `Store` method by running it on the live connection (reconnecting first if
/// the last one was lost) and then settling the result.
/// `add_realm` and `add_realm_with_id`: the next free id, or the one given.
fn insert_realm(
    conn: &mut Conn,
    realm: &NewRealm,
    chosen: Option<RealmId>,
) -> Result<RealmId, StoreError> {
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = match chosen {
        None => next_realm_id(&mut tx)?,
        Some(id) => {
            super::check_chosen_realm_id(id)?;
            if exists(
                &mut tx,
                "SELECT 1 FROM realms WHERE id = ? FOR UPDATE",
                i64::from(id.0),
            )? {
                return Err(StoreError::RealmIdTaken(id));
            }
            id
        }
    };
    let inserted = tx.exec_drop(
        "INSERT INTO realms (id, name, address, realm_type, flags, timezone, population,
                                 link_key, allowed_level, local_address, local_subnet)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        mysql::Params::Positional(vec![
            id.0.into(),
            realm.name.as_str().into(),
            realm.address.as_str().into(),
            realm.realm_type.into(),
            realm.flags.into(),
            realm.timezone.into(),
            f64::from(realm.population).into(),
            realm.link_key.as_ref().map(|k| k.0.to_vec()).into(),
            realm.allowed_level.into(),
            realm.local.as_ref().map(|l| l.address.clone()).into(),
            realm.local.as_ref().map(|l| l.subnet.to_string()).into(),
        ]),
    );
    match inserted {
        Ok(()) => {}
        Err(e) if is_duplicate(&e) => return Err(StoreError::DuplicateRealm(realm.name.clone())),
        Err(e) => return Err(e.into()),
    }
    for build in &realm.builds {
        tx.exec_drop(
            "INSERT IGNORE INTO realm_builds (realm_id, build) VALUES (?, ?)",
            (id.0, build.0),
        )?;
    }
    tx.commit()?;
    Ok(id)
}

macro_rules! on_conn {
    ($self:ident, |$conn:ident| $body:block) => {{
        let result = (|| {
            let $conn = $self.conn()?;
            $body
        })();
        $self.settle(result)
    }};
}

impl Store for MysqlStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(
                concat!(
                    "SELECT a.id, a.name, a.salt, a.verifier, a.failed_logins, a.session_key, ",
                    standing_columns!(),
                    ", a.security_level, a.session_key_at, a.session_expires_at, ",
                    "a.session_taken_by, a.totp_secret, a.ip_locked, a.last_login_ip, ",
                    "(SELECT p.pin FROM account_pins p WHERE p.account_id = a.id) ",
                    "FROM accounts a WHERE a.name = ?"
                ),
                (unix_now(), name.as_str()),
            )?;
            row.as_ref().map(account_from_row).transpose()
        })
    }

    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: std::net::IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        on_conn!(self, |conn| {
            lockout::OWN.standing(conn, account, peer, now)
        })
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        let batching = self.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            insert_audit(&mut tx, attempt)?;
            let mut recorded = FailureRecorded::Audited;
            if let (Some(account), true) =
                (attempt.account, attempt.outcome.counts_against_account())
            {
                // No row when the account was deleted since it was loaded: nothing to count.
                tx.exec_drop(
                    "UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_at = ?
                     WHERE id = ?",
                    (attempt.at, account.0),
                )?;
                if tx.affected_rows() == 1 {
                    recorded = lockout::OWN.count_failure(&mut tx, account, attempt, policy)?;
                }
            }
            tx.commit()?;
            Ok(recorded)
        })
    }

    fn record_login_success(
        &mut self,
        attempt: &LoginAttempt,
        key: &SessionKey,
        expires_at: i64,
        totp_step: Option<TotpStep>,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt.account.ok_or(StoreError::Invalid(
            "a successful login without an account id",
        ))?;
        let batching = self.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            tx.exec_drop(
                "UPDATE accounts SET last_login_at = ?, last_login_ip = ?, failed_logins = 0,
                        session_key = ?, session_key_at = ?, session_expires_at = ?,
                        session_taken_by = NULL
                 WHERE id = ?",
                (
                    attempt.at,
                    ip_text(attempt.peer),
                    &key.0[..],
                    attempt.at,
                    expires_at,
                    account.0,
                ),
            )?;
            if tx.affected_rows() == 0 {
                // Deleted between load and proof: no key to hand a world server, so no success.
                return Err(StoreError::NoSuchAccountId(account));
            }
            // After the account's row (its rows refer to it); every table here is InnoDB, so a
            // reused token rolls the whole success back.
            lockout::OWN.note_success(&mut tx, account, attempt, totp_step)?;
            insert_audit(&mut tx, attempt)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            lockout::OWN.use_step(&mut tx, account, step)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        let batching = self.batching();
        on_conn!(self, |conn| {
            let tx = WriteTx::begin(conn, batching)?;
            take_ticket(
                tx,
                name,
                proof,
                |tx| {
                    let row: Option<Row> = tx.exec_first(
                        "SELECT id, session_key, security_level FROM accounts
                         WHERE name = ? AND session_key IS NOT NULL AND session_expires_at > ?
                               AND session_taken_by IS NULL
                         FOR UPDATE",
                        (name.as_str(), now),
                    )?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let id = int(&row, 0, &|| format!("account {name}: id"))?;
                    let what = || format!("account #{id}: session key");
                    let key = fixed::<40>(bytes(&row, 1, &what)?, &what)?;
                    let security_level =
                        u8_col(&row, 2, &|| format!("account #{id}: security_level"))?;
                    Ok(Some(TakenSession {
                        account: AccountId(id),
                        key: SessionKey(key),
                        security_level,
                    }))
                },
                |tx, account| {
                    tx.exec_drop(
                        "UPDATE accounts SET session_taken_by = ?
                         WHERE id = ? AND session_taken_by IS NULL",
                        (realm.0, account.0),
                    )
                },
            )
        })
    }

    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt
            .account
            .ok_or(StoreError::Invalid("a reconnect without an account id"))?;
        let batching = self.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            tx.exec_drop(
                "UPDATE accounts SET session_taken_by = NULL, session_expires_at = ?,
                        last_login_at = ?, last_login_ip = ?
                 WHERE id = ? AND session_key IS NOT NULL",
                (expires_at, attempt.at, ip_text(attempt.peer), account.0),
            )?;
            if tx.affected_rows() == 0 {
                // A password change (or a deletion) since the reconnect proof was checked.
                let found = exists(&mut tx, "SELECT 1 FROM accounts WHERE id = ?", account.0)?;
                return Err(if found {
                    StoreError::NoSession(account)
                } else {
                    StoreError::NoSuchAccountId(account)
                });
            }
            let audit = LoginAttempt {
                outcome: LoginOutcome::ReconnectSuccess,
                ..attempt.clone()
            };
            insert_audit(&mut tx, &audit)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.open_batch()
    }

    fn end_batch(&mut self, end: BatchEnd) -> Result<(), StoreError> {
        self.close_batch(end)
    }

    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> =
                conn.exec_first("SELECT link_key FROM realms WHERE id = ?", (realm.0,))?;
            let Some(row) = row else {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            };
            let what = || format!("realm {realm}: link key");
            opt_bytes(&row, 0, &what)?
                .map(|key| fixed::<32>(key, &what).map(LinkKey))
                .transpose()
        })
    }

    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn) })
    }

    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        on_conn!(self, |conn| {
            let inserted = conn.exec_drop(
                "INSERT INTO accounts (name, salt, verifier, created_at) VALUES (?, ?, ?, ?)",
                (name.as_str(), &salt.0[..], &verifier.0[..], unix_now()),
            );
            match inserted {
                Ok(()) => {
                    let id = i64::try_from(conn.last_insert_id()).map_err(|_| {
                        StoreError::corrupt(format!("account {name}: id out of range"))
                    })?;
                    Ok(AccountId(id))
                }
                Err(e) if is_duplicate(&e) => Err(StoreError::DuplicateAccount(*name)),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "UPDATE accounts SET salt = ?, verifier = ?, session_key = NULL,
                        session_key_at = NULL, session_expires_at = NULL,
                        session_taken_by = NULL
                 WHERE name = ?",
                (&salt.0[..], &verifier.0[..], name.as_str()),
            )?;
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccount(*name));
            }
            Ok(())
        })
    }

    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop("DELETE FROM accounts WHERE name = ?", (name.as_str(),))?;
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccount(*name));
            }
            Ok(())
        })
    }

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        on_conn!(self, |conn| {
            let rows: Vec<Row> = conn.exec(
                concat!(
                    "SELECT a.id, a.name, a.created_at, a.last_login_at, a.last_login_ip, ",
                    "a.failed_logins, ",
                    standing_columns!(),
                    ", a.security_level, a.totp_secret IS NOT NULL, ",
                    "CASE WHEN a.ip_locked = 1 THEN COALESCE(a.last_login_ip, '') END ",
                    "FROM accounts a ORDER BY a.id"
                ),
                (unix_now(),),
            )?;
            rows.iter().map(summary_from_row).collect()
        })
    }

    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            conn.exec_drop(
                "INSERT INTO account_bans (account_id, banned_at, expires_at, reason, active)
                 VALUES (?, ?, ?, ?, 1)",
                (id.0, unix_now(), until, reason),
            )?;
            Ok(())
        })
    }

    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            conn.exec_drop(
                "UPDATE account_bans SET active = 0 WHERE account_id = ? AND active = 1",
                (id.0,),
            )?;
            lockout::OWN.lift(conn, id)?;
            Ok(())
        })
    }

    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        on_conn!(self, |conn| { insert_realm(conn, realm, None) })
    }

    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError> {
        on_conn!(self, |conn| { insert_realm(conn, realm, Some(id)) })
    }

    fn update_realm(
        &mut self,
        realm: &RealmRef,
        changes: &RealmChanges,
    ) -> Result<RealmId, StoreError> {
        if changes.is_empty() {
            return Err(StoreError::Invalid(
                "a realm edit changes at least one field",
            ));
        }
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let row: Option<Row> = match realm {
                RealmRef::Id(id) => {
                    tx.exec_first("SELECT id FROM realms WHERE id = ? FOR UPDATE", (id.0,))?
                }
                RealmRef::Name(name) => tx.exec_first(
                    "SELECT id FROM realms WHERE name = ? FOR UPDATE",
                    (name.as_str(),),
                )?,
            };
            let Some(row) = row else {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            };
            let id = int(&row, 0, &|| "realm id".to_owned())?;
            let mut sets: Vec<(&str, Value)> = Vec::new();
            if let Some(name) = &changes.name {
                sets.push(("name", name.as_str().into()));
            }
            if let Some(address) = &changes.address {
                sets.push(("address", address.as_str().into()));
            }
            if let Some(v) = changes.realm_type {
                sets.push(("realm_type", v.into()));
            }
            if let Some(v) = changes.flags {
                sets.push(("flags", v.into()));
            }
            if let Some(v) = changes.timezone {
                sets.push(("timezone", v.into()));
            }
            if let Some(v) = changes.population {
                sets.push(("population", f64::from(v).into()));
            }
            if let Some(v) = changes.allowed_level {
                sets.push(("allowed_level", v.into()));
            }
            if let Some(local) = &changes.local {
                sets.push((
                    "local_address",
                    local.as_ref().map(|l| l.address.clone()).into(),
                ));
                sets.push((
                    "local_subnet",
                    local.as_ref().map(|l| l.subnet.to_string()).into(),
                ));
            }
            for (column, value) in sets {
                let updated = tx.exec_drop(
                    format!("UPDATE realms SET {column} = ? WHERE id = ?"),
                    (value, id),
                );
                match updated {
                    Err(e) if is_duplicate(&e) => {
                        return Err(StoreError::DuplicateRealm(
                            changes.name.clone().unwrap_or_default(),
                        ))
                    }
                    other => other?,
                }
            }
            if let Some(builds) = &changes.builds {
                tx.exec_drop("DELETE FROM realm_builds WHERE realm_id = ?", (id,))?;
                for build in builds {
                    tx.exec_drop(
                        "INSERT IGNORE INTO realm_builds (realm_id, build) VALUES (?, ?)",
                        (id, build.0),
                    )?;
                }
            }
            tx.commit()?;
            u32::try_from(id)
                .map(RealmId)
                .map_err(|_| StoreError::corrupt(format!("realm id {id}")))
        })
    }

    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            match realm {
                RealmRef::Id(id) => conn.exec_drop("DELETE FROM realms WHERE id = ?", (id.0,))?,
                RealmRef::Name(name) => {
                    conn.exec_drop("DELETE FROM realms WHERE name = ?", (name.as_str(),))?
                }
            }
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            }
            Ok(())
        })
    }

    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn) })
    }

    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            match realm {
                RealmRef::Id(id) => conn.exec_drop(
                    "UPDATE realms SET link_key = ? WHERE id = ?",
                    (&key.0[..], id.0),
                )?,
                RealmRef::Name(name) => conn.exec_drop(
                    "UPDATE realms SET link_key = ? WHERE name = ?",
                    (&key.0[..], name.as_str()),
                )?,
            }
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            }
            Ok(())
        })
    }

    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "INSERT INTO ip_bans (net, banned_at, expires_at, reason) VALUES (?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE banned_at = VALUES(banned_at),
                     expires_at = VALUES(expires_at), reason = VALUES(reason)",
                (net.trunc().to_string(), unix_now(), until, reason),
            )?;
            Ok(())
        })
    }

    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "DELETE FROM ip_bans WHERE net = ?",
                (net.trunc().to_string(),),
            )?;
            Ok(conn.affected_rows() > 0)
        })
    }

    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        on_conn!(self, |conn| {
            let rows: Vec<Row> = conn.exec(
                "SELECT net, expires_at FROM ip_bans WHERE expires_at IS NULL OR expires_at > ?",
                (now,),
            )?;
            Ok(keep_good("ip_bans", rows.iter().map(ip_ban_from_row)))
        })
    }

    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "INSERT INTO settings (`key`, value) VALUES ('console_password', ?)
                 ON DUPLICATE KEY UPDATE value = VALUES(value)",
                (hash,),
            )?;
            Ok(())
        })
    }

    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(
                "SELECT value FROM settings WHERE `key` = 'console_password'",
                (),
            )?;
            row.map(|row| text(&row, 0, &|| "settings.console_password".to_owned()))
                .transpose()
        })
    }

    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "UPDATE accounts SET security_level = ? WHERE name = ?",
                (level, name.as_str()),
            )?;
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccount(*name));
            }
            Ok(())
        })
    }

    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let row: Option<Row> = tx.exec_first(
                "SELECT last_login_ip FROM accounts WHERE name = ? FOR UPDATE",
                (name.as_str(),),
            )?;
            let row = row.ok_or(StoreError::NoSuchAccount(*name))?;
            let last = opt_text(&row, 0, &|| format!("account {name}: last_login_ip"))?;
            let (locked, address) = match setting {
                IpLockSetting::On => (1, Some(last.ok_or(StoreError::NoLastAddress(*name))?)),
                IpLockSetting::Off => (0, None),
            };
            tx.exec_drop(
                "UPDATE accounts SET ip_locked = ? WHERE name = ?",
                (locked, name.as_str()),
            )?;
            tx.commit()?;
            Ok(address)
        })
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            conn.exec_drop(
                "UPDATE accounts SET totp_secret = ? WHERE name = ?",
                (secret.map(|s| s.as_bytes().to_vec()), name.as_str()),
            )?;
            if conn.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccount(*name));
            }
            Ok(())
        })
    }

    fn set_pin(&mut self, name: &AccountName, pin: Option<&SealedPin>) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
            let id: Option<i64> =
                tx.exec_first("SELECT id FROM accounts WHERE name = ?", (name.as_str(),))?;
            let id = id.ok_or(StoreError::NoSuchAccount(*name))?;
            match pin {
                Some(pin) => tx.exec_drop(
                    "INSERT INTO account_pins (account_id, pin) VALUES (?, ?)
                     ON DUPLICATE KEY UPDATE pin = VALUES(pin)",
                    (id, &pin.as_bytes()[..]),
                )?,
                None => tx.exec_drop("DELETE FROM account_pins WHERE account_id = ?", (id,))?,
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsWritten, StoreError> {
        on_conn!(self, |conn| {
            write_character_counts(conn, &COUNT_TABLES, realm, counts)
        })
    }

    fn query_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            query_audit_table(conn, "login_audit", query)
        })
    }

    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            let rows: Vec<Row> = conn.exec(
                "SELECT id, at, account_id, account_name, peer_ip, build, outcome
                 FROM login_audit ORDER BY id DESC LIMIT ?",
                (limit,),
            )?;
            rows.iter().map(audit_from_row).collect()
        })
    }

    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        on_conn!(self, |conn| {
            let gone = prune_audit_table(conn, "login_audit", before)?;
            lockout::OWN.prune(conn, before)?;
            Ok(gone)
        })
    }
}

/// Where a schema keeps accounts, realms and character counts, for
/// [`write_character_counts`].
pub(super) struct CountTables {
    /// `SELECT 1 … WHERE id = ?` on the accounts.
    pub account_exists: &'static str,
    /// `SELECT 1 … WHERE id = ?` on the realms.
    pub realm_exists: &'static str,
    /// Upserts `(realm, account, count)` in that order, leaving other realms' rows alone.
    pub upsert: &'static str,
}

const COUNT_TABLES: CountTables = CountTables {
    account_exists: "SELECT 1 FROM accounts WHERE id = ?",
    realm_exists: "SELECT 1 FROM realms WHERE id = ?",
    upsert: "INSERT INTO realm_characters (realm_id, account_id, count) VALUES (?, ?, ?)
             ON DUPLICATE KEY UPDATE count = VALUES(count)",
};

/// [`Store::set_character_counts`] on a MySQL schema, in one transaction.
pub(super) fn write_character_counts(
    conn: &mut Conn,
    tables: &CountTables,
    realm: RealmId,
    counts: &[(AccountId, u8)],
) -> Result<CountsWritten, StoreError> {
    let mut tx = conn.start_transaction(TxOpts::default())?;
    if !exists(&mut tx, tables.realm_exists, i64::from(realm.0))? {
        return Err(StoreError::NoSuchRealm(realm.to_string()));
    }
    let mut done = CountsWritten::default();
    for &(account, count) in counts {
        if !exists(&mut tx, tables.account_exists, account.0)? {
            done.unknown.push(account);
            continue;
        }
        tx.exec_drop(tables.upsert, (realm.0, account.0, count))?;
        done.written += 1;
    }
    tx.commit()?;
    Ok(done)
}

/// [`Store::query_audit`] on a MySQL audit table (gatehouse's own, or `gatehouse_login_audit`
/// beside a foreign schema).
pub(super) fn query_audit_table(
    conn: &mut Conn,
    table: &str,
    query: &AuditQuery,
) -> Result<Vec<AuditRow>, StoreError> {
    super::audit_query::run(table, query, |page| {
        let params: Vec<Value> = page
            .params
            .iter()
            .map(|p| match p {
                super::audit_query::Param::Text(t) => Value::from(t.as_str()),
                super::audit_query::Param::Int(i) => Value::from(*i),
            })
            .collect();
        let rows: Vec<Row> = conn.exec(&page.sql, mysql::Params::Positional(params))?;
        rows.iter()
            .map(|row| {
                Ok((
                    int(row, 0, &|| "audit id".to_owned())?,
                    audit_from_row(row)?,
                ))
            })
            .collect()
    })
}

/// Deletes `table`'s rows with `at < before`, in batches; how many went.
pub(super) fn prune_audit_table(
    conn: &mut Conn,
    table: &str,
    before: i64,
) -> Result<u64, StoreError> {
    let mut gone = 0u64;
    loop {
        conn.exec_drop(
            format!(
                "DELETE FROM {table} WHERE at < ? LIMIT {}",
                super::PRUNE_BATCH
            ),
            (before,),
        )?;
        let batch = conn.affected_rows();
        gone = gone.saturating_add(batch);
        if batch < u64::from(super::PRUNE_BATCH) {
            return Ok(gone);
        }
    }
}

#[cfg(test)]
mod tests;

/// The sealed fixed PIN in a row's `pin` column (`account_pins`, or `gatehouse_pins` beside
/// AzerothCore and CMaNGOS), if any.
pub(super) fn pin_col(
    row: &mysql::Row,
    idx: usize,
    id: i64,
) -> Result<Option<SealedPin>, StoreError> {
    let bytes: Option<Vec<u8>> = row
        .get_opt(idx)
        .transpose()
        .map_err(|e| StoreError::corrupt(format!("account #{id}: pin: {e}")))?
        .flatten();
    bytes
        .map(|b| {
            SealedPin::from_bytes(&b)
                .map_err(|e| StoreError::corrupt(format!("account #{id}: pin: {e}")))
        })
        .transpose()
}
