//! The embedded default backend: one SQLite file, created on first start.
//!
//! One [`SqliteStore`] is one connection. Each DB thread opens its own; WAL mode lets their
//! reads run beside one writer, and the busy timeout makes writers queue for each other instead
//! of failing. Statements are cached per connection (`prepare_cached`), so the login path
//! parses no SQL after warm-up.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use super::rows::local_from_columns;
use super::rows::{keep_good, realm_row, BadRow, RealmBuilds};
use super::{
    ip_text, migrations, proof_admits, standing, unix_now, AccountRecord, AccountSummary,
    AuditQuery, AuditRow, BackendError, BackendErrorKind, BatchEnd, CharacterCount, CountsWritten,
    Create, FailureRecorded, IpLockSetting, LockoutStanding, LoginAttempt, LoginOutcome, NewRealm,
    RealmChanges, RealmKind, RealmRecord, RealmRef, SessionTicket, Store, StoreError, TakeOutcome,
    TakenSession,
};
use crate::account::{AccountName, IpLockRefusal};
use crate::pin_grid::SealedPin;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpStep};
use crate::values::{AccountId, IpBan, LinkKey, LockoutPolicy, RealmAccess, RealmId};

/// How long a writer waits for another connection's write lock before giving up with
/// SQLITE_BUSY. Login writes are a few rows, so 5 s only runs out when something is wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements per connection: the whole API is about 25, so this keeps all of them.
const STATEMENT_CACHE: usize = 64;

/// A store on one SQLite connection.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    turns: WriteTurns,
    /// The turn a group commit holds from `begin_batch` to `end_batch`; `None` outside one.
    batch: Option<Turn>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating on first start) the database at `path`, sets it up and migrates it.
    /// A missing directory or an unwritable file is [`StoreError::Open`]; a schema from a newer
    /// binary is [`StoreError::SchemaTooNew`].
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_as(path, Create::IfMissing)
    }

    /// Like [`open`](Self::open); with [`Create::Never`] a missing file is
    /// [`StoreError::NoDatabase`] and nothing is created.
    pub fn open_as(path: &Path, create: Create) -> Result<SqliteStore, StoreError> {
        Self::open_inner(path, WriteTurns::default(), create)
    }

    /// Opens one of several connections that write in turns (the DB threads of one pool).
    pub fn open_with_turns(path: &Path, turns: WriteTurns) -> Result<SqliteStore, StoreError> {
        Self::open_inner(path, turns, Create::IfMissing)
    }

    fn open_inner(
        path: &Path,
        turns: WriteTurns,
        create: Create,
    ) -> Result<SqliteStore, StoreError> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        };
        let mut conn = match create {
            Create::IfMissing => Connection::open(path).map_err(open_err)?,
            Create::Never => {
                // Checked first for the clear error; the flags (Connection::open's without
                // CREATE) keep a file removed meanwhile from being made anew.
                if !path.exists() {
                    return Err(StoreError::NoDatabase {
                        path: path.to_path_buf(),
                    });
                }
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                Connection::open_with_flags(path, flags).map_err(open_err)?
            }
        };
        configure(&conn).map_err(open_err)?;
        // SQLite quietly falls back to read-only when it cannot write the file; the store
        // would then fail on its first login instead of at start.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: BackendError::new(
                    BackendErrorKind::ReadOnly,
                    "the database file is not writable",
                    Some(rusqlite::ffi::SQLITE_READONLY),
                ),
            });
        }
        migrations::run(&mut conn)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            turns,
            batch: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write's turn among this process's writers; inside a group commit the batch has it.
    fn turn(&self) -> Option<Turn> {
        self.batch.is_none().then(|| self.turns.take())
    }

    /// How long a write waits for another process's write lock before it is "busy". The
    /// daemon's DB threads wait less than the CLI: a client waits for the answer.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        Ok(self.conn.busy_timeout(timeout)?)
    }

    fn account_id(&self, name: &AccountName) -> Result<AccountId, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM accounts WHERE name = ?1")?;
        stmt.query_row([name.as_str()], |row| row.get(0))
            .optional()?
            .map(AccountId)
            .ok_or(StoreError::NoSuchAccount(*name))
    }

    /// Every realm that parses; the others are left out, each with an error line (`rows`).
    fn realms(&self) -> Result<Vec<RealmRecord>, StoreError> {
        let mut realms = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, name, address, realm_type, flags, timezone, population, link_key,
                        allowed_level, local_address, local_subnet
                 FROM realms ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                realms.push((format!("id {}", raw_text(row, 0)), realm_from_row(row)));
            }
        }
        let mut builds = RealmBuilds::default();
        {
            // Joined, so that a build of no realm (foreign keys off for a hand edit) is not read.
            let mut stmt = self.conn.prepare_cached(
                "SELECT b.realm_id, b.build FROM realm_builds b JOIN realms r ON r.id = b.realm_id
                 ORDER BY b.realm_id, b.build",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                // The join matched it with an integer id, so the realm id reads.
                let Ok(realm_id) = row.get::<_, i64>(0) else {
                    continue;
                };
                builds.add(realm_id, row.get::<_, i64>(1).map_err(|e| e.to_string()));
            }
        }
        Ok(keep_good(
            "realms",
            realms
                .into_iter()
                .map(|(key, realm)| realm_row(key, builds.attach(realm))),
        ))
    }

    /// The id for a new realm: after the highest, or the lowest gap once 255 is used, so that
    /// ids of removed realms are only reused when there is no other choice (a world server may
    /// still be configured with the old one).
    /// `add_realm` and `add_realm_with_id`: the next free id, or the one given.
    fn insert_realm(
        &mut self,
        realm: &NewRealm,
        chosen: Option<RealmId>,
    ) -> Result<RealmId, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = match chosen {
            None => SqliteStore::next_realm_id(&tx)?,
            Some(id) => {
                super::check_chosen_realm_id(id)?;
                let taken = tx
                    .prepare_cached("SELECT 1 FROM realms WHERE id = ?1")?
                    .query_row([id.0], |_| Ok(()))
                    .optional()?
                    .is_some();
                if taken {
                    return Err(StoreError::RealmIdTaken(id));
                }
                id
            }
        };
        let inserted = tx
            .prepare_cached(
                "INSERT INTO realms (id, name, address, realm_type, flags, timezone, population,
                                     link_key, allowed_level, local_address, local_subnet)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                id.0,
                realm.name,
                realm.address,
                realm.realm_type,
                realm.flags,
                realm.timezone,
                f64::from(realm.population),
                realm.link_key.as_ref().map(|k| &k.0[..]),
                realm.allowed_level,
                realm.local.as_ref().map(|l| &l.address),
                realm.local.as_ref().map(|l| l.subnet.to_string()),
            ]);
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::DuplicateRealm(realm.name.clone()))
            }
            Err(e) => return Err(e.into()),
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO realm_builds (realm_id, build) VALUES (?1, ?2)",
            )?;
            for build in &realm.builds {
                stmt.execute(params![id.0, build.0])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    fn next_realm_id(conn: &Connection) -> Result<RealmId, StoreError> {
        let next: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM realms")?
            .query_row([], |row| row.get(0))?;
        if (1..=255).contains(&next) {
            return Ok(RealmId(next as u32));
        }
        let gap: Option<i64> = conn
            .prepare_cached(
                "SELECT MIN(c) FROM (
                    SELECT 1 AS c WHERE NOT EXISTS (SELECT 1 FROM realms WHERE id = 1)
                    UNION ALL
                    SELECT id + 1 FROM realms
                    WHERE id < 255 AND id + 1 NOT IN (SELECT id FROM realms)
                )",
            )?
            .query_row([], |row| row.get(0))?;
        match gap {
            Some(id) if (1..=255).contains(&id) => Ok(RealmId(id as u32)),
            _ => Err(StoreError::RealmIdsExhausted),
        }
    }
}

/// The account's character counts per realm, in realm order (the login replies carry them).
fn character_counts(
    conn: &Connection,
    account: AccountId,
) -> Result<Vec<CharacterCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT realm_id, count FROM realm_characters WHERE account_id = ?1 ORDER BY realm_id",
    )?;
    let mut rows = stmt.query([account.0])?;
    let mut counts = Vec::new();
    while let Some(row) = rows.next()? {
        let realm = u32_col(row, 0, || format!("account {account}: character realm"))?;
        let count = u8_col(row, 1, || format!("account {account}: character count"))?;
        counts.push(CharacterCount {
            realm: RealmId(realm),
            count,
        });
    }
    Ok(counts)
}

/// Per-connection settings; none of them persist in the file except the journal mode.
fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) cannot do WAL; SQLite keeps the rollback
        // journal, which is correct, only slower under concurrent readers.
        log::warn!("store: journal_mode is {mode}, not WAL; reads will wait for writes");
    }
    // FULL rather than NORMAL: in WAL mode NORMAL survives a crash of gatehouse itself but an
    // OS crash or power cut can roll back the last commits, and the design promises that
    // accounts, bans, failed-attempt counters and session keys are durable before the client
    // hears "success". The cost is one fsync of the WAL per commit, small beside a logon.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// SQLite's errors in the store's terms; only this file and `migrations.rs` name rusqlite.
impl From<rusqlite::Error> for BackendError {
    fn from(err: rusqlite::Error) -> BackendError {
        let (kind, code) = match &err {
            rusqlite::Error::SqliteFailure(e, _) => (backend_kind(e.code), Some(e.extended_code)),
            _ => (BackendErrorKind::Other, None),
        };
        BackendError::new(kind, err.to_string(), code)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> StoreError {
        StoreError::Backend(err.into())
    }
}

fn backend_kind(code: ErrorCode) -> BackendErrorKind {
    match code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => BackendErrorKind::Busy,
        ErrorCode::ConstraintViolation => BackendErrorKind::Constraint,
        ErrorCode::ReadOnly => BackendErrorKind::ReadOnly,
        ErrorCode::DiskFull => BackendErrorKind::Full,
        ErrorCode::CannotOpen | ErrorCode::PermissionDenied => BackendErrorKind::CannotOpen,
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => BackendErrorKind::Damaged,
        _ => BackendErrorKind::Other,
    }
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

// --- decoding rows: every conversion that the file's content can break returns Corrupt ---

fn bytes_col<'r>(row: &'r Row<'_>, idx: usize, what: &str) -> Result<&'r [u8], StoreError> {
    match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        other => Err(StoreError::corrupt(format!(
            "{what} is {:?}, not bytes",
            other.data_type()
        ))),
    }
}

/// A column as it is stored, whatever its type, to name a row in a log line.
fn raw_text(row: &Row<'_>, idx: usize) -> String {
    match row.get_ref(idx) {
        Ok(ValueRef::Null) => "NULL".to_owned(),
        Ok(ValueRef::Integer(i)) => i.to_string(),
        Ok(ValueRef::Real(f)) => f.to_string(),
        Ok(ValueRef::Text(t)) => format!("{:?}", String::from_utf8_lossy(t)),
        Ok(ValueRef::Blob(b)) => format!("<{} bytes>", b.len()),
        Err(e) => format!("<{e}>"),
    }
}

fn fixed<const N: usize>(
    bytes: &[u8],
    what: impl FnOnce() -> String,
) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("{} is {} bytes, not {N}", what(), bytes.len())))
}

fn name_col(row: &Row<'_>, idx: usize, id: i64) -> Result<AccountName, StoreError> {
    let raw = bytes_col(row, idx, &format!("account #{id}: name"))?;
    let name = AccountName::parse(raw)
        .map_err(|e| StoreError::corrupt(format!("account #{id}: name: {e}")))?;
    // A lower-case name in the file would never match a lookup; say so instead.
    if name.as_bytes() != raw {
        return Err(StoreError::corrupt(format!(
            "account #{id}: name {name:?} is not upper case"
        )));
    }
    Ok(name)
}

fn u32_col(row: &Row<'_>, idx: usize, what: impl FnOnce() -> String) -> Result<u32, StoreError> {
    let v: i64 = row.get(idx)?;
    u32::try_from(v).map_err(|_| StoreError::corrupt(format!("{} is {v}", what())))
}

fn u8_col(row: &Row<'_>, idx: usize, what: impl FnOnce() -> String) -> Result<u8, StoreError> {
    let v: i64 = row.get(idx)?;
    u8::try_from(v).map_err(|_| StoreError::corrupt(format!("{} is {v}", what())))
}

/// The standing columns, as SQL: `?1` is now. Shared by the login read and the admin list.
macro_rules! standing_columns {
    () => {
        "EXISTS (SELECT 1 FROM account_bans b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at IS NULL),
         (SELECT MAX(b.expires_at) FROM account_bans b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at > ?1)"
    };
}

fn account_from_row(row: &Row<'_>) -> Result<AccountRecord, StoreError> {
    let id: i64 = row.get(0)?;
    let name = name_col(row, 1, id)?;
    let salt = fixed::<32>(bytes_col(row, 2, "salt")?, || {
        format!("account #{id}: salt")
    })?;
    let verifier = fixed::<32>(bytes_col(row, 3, "verifier")?, || {
        format!("account #{id}: verifier")
    })?;
    let failed_logins = u32_col(row, 4, || format!("account #{id}: failed_logins"))?;
    let security_level = u8_col(row, 8, || format!("account #{id}: security_level"))?;
    // Locked to the last logon's address, refused as AzerothCore refuses it.
    let ip_lock = super::stored_ip_lock(
        &name,
        row.get::<_, i64>(13)? == 1,
        row.get::<_, Option<String>>(14)?.as_deref().unwrap_or(""),
        IpLockRefusal::LockedEnforced,
    );
    Ok(AccountRecord {
        id: AccountId(id),
        name,
        salt: Salt(salt),
        verifier: Verifier(verifier),
        standing: standing(row.get(6)?, row.get(7)?),
        failed_logins,
        security_level,
        session: ticket_from_row(row, id, 5, 9)?,
        totp: totp_from_row(row, id, 12)?,
        pin: pin_from_row(row, id, 15)?,
        ip_lock,
        lockout: LockoutStanding::Clear,
    })
}

/// The sealed fixed PIN, if any; one that cannot be a sealed PIN is corrupt.
fn pin_from_row(row: &Row<'_>, id: i64, idx: usize) -> Result<Option<SealedPin>, StoreError> {
    let bytes: Option<Vec<u8>> = row.get(idx)?;
    bytes
        .map(|b| {
            SealedPin::from_bytes(&b)
                .map_err(|e| StoreError::corrupt(format!("account #{id}: pin: {e}")))
        })
        .transpose()
}

/// The sealed authenticator secret, if any; one that cannot be a sealed secret is corrupt.
fn totp_from_row(
    row: &Row<'_>,
    id: i64,
    idx: usize,
) -> Result<Option<SealedTotpSecret>, StoreError> {
    if let ValueRef::Null = row.get_ref(idx)? {
        return Ok(None);
    }
    let what = format!("account #{id}: totp_secret");
    SealedTotpSecret::from_bytes(bytes_col(row, idx, &what)?)
        .map(Some)
        .map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

/// The session ticket from its four columns: the key at `key_idx`, then issued-at, expires-at
/// and taken-by at `times_idx..`. No key means no ticket, and then the other three must be
/// empty too: a half-written ticket is corrupt, not quietly ignored.
fn ticket_from_row(
    row: &Row<'_>,
    id: i64,
    key_idx: usize,
    times_idx: usize,
) -> Result<Option<SessionTicket>, StoreError> {
    let int = |idx: usize, what: &str| -> Result<Option<i64>, StoreError> {
        match row.get_ref(idx)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => Err(StoreError::corrupt(format!(
                "account #{id}: {what} is {:?}, not an integer",
                other.data_type()
            ))),
        }
    };
    let issued_at = int(times_idx, "session_key_at")?;
    let expires_at = int(times_idx + 1, "session_expires_at")?;
    let taken_by = int(times_idx + 2, "session_taken_by")?;
    if let ValueRef::Null = row.get_ref(key_idx)? {
        // Every writer sets or clears the key with its expiry and taker; only a hand edit
        // leaves them behind. (A stray issue time alone is harmless, and version 1 wrote
        // none without a key anyway.)
        if expires_at.is_some() || taken_by.is_some() {
            return Err(StoreError::corrupt(format!(
                "account #{id}: session expiry or taker without a session key"
            )));
        }
        return Ok(None);
    }
    let key = SessionKey(fixed::<40>(
        bytes_col(row, key_idx, "session key")?,
        || format!("account #{id}: session key"),
    )?);
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

/// A live ticket as the take reads it: `id, session_key, security_level`.
fn taken_from_row(row: &Row<'_>) -> Result<TakenSession, StoreError> {
    let id: i64 = row.get(0)?;
    let key = fixed::<40>(bytes_col(row, 1, "session key")?, || {
        format!("account #{id}: session key")
    })?;
    let security_level = u8_col(row, 2, || format!("account #{id}: security_level"))?;
    Ok(TakenSession {
        account: AccountId(id),
        key: SessionKey(key),
        security_level,
    })
}

fn summary_from_row(row: &Row<'_>) -> Result<AccountSummary, StoreError> {
    let id: i64 = row.get(0)?;
    Ok(AccountSummary {
        id: AccountId(id),
        name: name_col(row, 1, id)?,
        created_at: row.get(2)?,
        last_login_at: row.get(3)?,
        last_login_ip: row.get(4)?,
        failed_logins: u32_col(row, 5, || format!("account #{id}: failed_logins"))?,
        security_level: u8_col(row, 8, || format!("account #{id}: security_level"))?,
        standing: standing(row.get(6)?, row.get(7)?),
        totp: row.get(9)?,
        ip_lock: row.get(10)?,
    })
}

fn realm_from_row(row: &Row<'_>) -> Result<RealmRecord, StoreError> {
    let id: i64 = row.get(0)?;
    let id = u8::try_from(id)
        .ok()
        .filter(|&id| id != 0)
        .ok_or_else(|| StoreError::corrupt(format!("realm id {id} is outside 1..=255")))?;
    let population: f64 = row.get(6)?;
    let kind = match row.get_ref(7)? {
        ValueRef::Null => RealmKind::Static,
        // Read only to check it: a key the handshake could not use must not list as linkable.
        _ => {
            fixed::<32>(bytes_col(row, 7, "link key")?, || {
                format!("realm {id}: link key")
            })?;
            RealmKind::Linkable
        }
    };
    Ok(RealmRecord {
        id: RealmId(u32::from(id)),
        name: row.get(1)?,
        address: row.get(2)?,
        realm_type: u8_col(row, 3, || format!("realm {id}: realm_type"))?,
        flags: u8_col(row, 4, || format!("realm {id}: flags"))?,
        timezone: u8_col(row, 5, || format!("realm {id}: timezone"))?,
        population: population as f32,
        builds: Vec::new(),
        kind,
        access: match u8_col(row, 8, || format!("realm {id}: allowed_level"))? {
            0 => RealmAccess::Open,
            level => RealmAccess::HiddenBelow(level),
        },
        local: local_from_columns(id, row.get(9)?, row.get(10)?)?,
    })
}

/// One IP ban; `net` is its key (the row's primary key, as stored).
fn ip_ban_from_row(row: &Row<'_>) -> Result<IpBan, BadRow> {
    let key = || format!("net {}", raw_text(row, 0));
    let text: String = row.get(0).map_err(|e| BadRow::new(key(), e))?;
    let net = text
        .parse::<IpNet>()
        .map_err(|_| BadRow::new(key(), "not a network (ADDRESS/PREFIX, e.g. 10.0.0.0/8)"))?;
    let until = row
        .get(1)
        .map_err(|e| BadRow::new(key(), format!("expires_at: {e}")))?;
    Ok(IpBan { net, until })
}

fn audit_from_row(row: &Row<'_>) -> Result<AuditRow, StoreError> {
    let id: i64 = row.get(0)?;
    let build: i64 = row.get(5)?;
    Ok(AuditRow {
        at: row.get(1)?,
        account: row.get::<_, Option<i64>>(2)?.map(AccountId),
        name: row.get(3)?,
        peer: row.get(4)?,
        build: Build(
            u16::try_from(build)
                .map_err(|_| StoreError::corrupt(format!("audit #{id}: build {build}")))?,
        ),
        outcome: row.get(6)?,
    })
}

fn insert_audit(conn: &Connection, attempt: &LoginAttempt) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        attempt.at,
        attempt.account.map(|a| a.0),
        attempt.name.as_str(),
        ip_text(attempt.peer),
        attempt.build.0,
        attempt.outcome.as_str(),
    ])?;
    Ok(())
}

impl Store for SqliteStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT a.id, a.name, a.salt, a.verifier, a.failed_logins, a.session_key, ",
            standing_columns!(),
            ", a.security_level, a.session_key_at, a.session_expires_at, a.session_taken_by",
            ", a.totp_secret, a.ip_locked, a.last_login_ip",
            ", (SELECT p.pin FROM account_pins p WHERE p.account_id = a.id)",
            " FROM accounts a WHERE a.name = ?2"
        ))?;
        let mut rows = stmt.query(params![unix_now(), name.as_str()])?;
        match rows.next()? {
            Some(row) => account_from_row(row).map(Some),
            None => Ok(None),
        }
    }

    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        lockout::standing(&self.conn, account, peer, now)
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        lockout: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        let _turn = self.turn();
        let tx = WriteTx::begin(&mut self.conn, self.batch.is_some())?;
        insert_audit(&tx, attempt)?;
        let mut recorded = FailureRecorded::Audited;
        if let (Some(account), true) = (attempt.account, attempt.outcome.counts_against_account()) {
            // No row when the account was deleted since it was loaded: nothing to count.
            let counted = tx
                .prepare_cached(
                    "UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_at = ?2
                     WHERE id = ?1",
                )?
                .execute(params![account.0, attempt.at])?;
            if counted == 1 {
                recorded = lockout::count_failure(&tx, account, attempt, lockout)?;
            }
        }
        tx.commit()?;
        Ok(recorded)
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
        let _turn = self.turn();
        let tx = WriteTx::begin(&mut self.conn, self.batch.is_some())?;
        let updated = tx
            .prepare_cached(
                "UPDATE accounts SET last_login_at = ?2, last_login_ip = ?3, failed_logins = 0,
                        session_key = ?4, session_key_at = ?2, session_expires_at = ?5,
                        session_taken_by = NULL
                 WHERE id = ?1",
            )?
            .execute(params![
                account.0,
                attempt.at,
                ip_text(attempt.peer),
                &key.0[..],
                expires_at,
            ])?;
        if updated == 0 {
            // Deleted between load and proof: no key to hand a world server, so no success.
            return Err(StoreError::NoSuchAccountId(account));
        }
        // A reused token rolls the whole success back (the transaction is dropped).
        lockout::note_success(&tx, account, attempt, totp_step)?;
        insert_audit(&tx, attempt)?;
        let counts = character_counts(&tx, account)?;
        tx.commit()?;
        Ok(counts)
    }

    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError> {
        let _turn = self.turns.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        lockout::use_step(&tx, account, step)?;
        tx.commit()?;
        Ok(())
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        let _turn = self.turn();
        // IMMEDIATE (or the batch's, which is): this connection holds the database's write
        // lock from the read on, so no other writer (a new logon, another node's take) runs
        // between the check and the mark.
        let tx = WriteTx::begin(&mut self.conn, self.batch.is_some())?;
        let live = tx
            .prepare_cached(
                "SELECT id, session_key, security_level FROM accounts
                 WHERE name = ?1 AND session_key IS NOT NULL AND session_expires_at > ?2
                       AND session_taken_by IS NULL",
            )?
            .query_row(params![name.as_str(), now], |row| Ok(taken_from_row(row)))
            .optional()?
            .transpose()?;
        // Returning before the commit rolls the transaction back: nothing was written.
        let Some(taken) = live else {
            return Ok(TakeOutcome::NoTicket);
        };
        if !proof_admits(proof, name, &taken.key) {
            return Ok(TakeOutcome::WrongDigest);
        }
        let marked = tx
            .prepare_cached(
                "UPDATE accounts SET session_taken_by = ?1
                 WHERE id = ?2 AND session_taken_by IS NULL",
            )?
            .execute(params![realm.0, taken.account.0])?;
        if marked != 1 {
            // Cannot happen under the write lock; if it does, nothing is handed out.
            return Ok(TakeOutcome::NoTicket);
        }
        tx.commit()?;
        Ok(TakeOutcome::Taken(taken))
    }

    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt
            .account
            .ok_or(StoreError::Invalid("a reconnect without an account id"))?;
        let _turn = self.turn();
        let tx = WriteTx::begin(&mut self.conn, self.batch.is_some())?;
        let updated = tx
            .prepare_cached(
                "UPDATE accounts SET session_taken_by = NULL, session_expires_at = ?2,
                        last_login_at = ?3, last_login_ip = ?4
                 WHERE id = ?1 AND session_key IS NOT NULL",
            )?
            .execute(params![
                account.0,
                expires_at,
                attempt.at,
                ip_text(attempt.peer)
            ])?;
        if updated == 0 {
            // A password change (or a deletion) since the reconnect proof was checked.
            let exists = tx
                .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
                .query_row([account.0], |_| Ok(()))
                .optional()?
                .is_some();
            return Err(if exists {
                StoreError::NoSession(account)
            } else {
                StoreError::NoSuchAccountId(account)
            });
        }
        let audit = LoginAttempt {
            outcome: LoginOutcome::ReconnectSuccess,
            ..attempt.clone()
        };
        insert_audit(&tx, &audit)?;
        let counts = character_counts(&tx, account)?;
        tx.commit()?;
        Ok(counts)
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_some() {
            return Err(StoreError::Invalid("a group commit is open already"));
        }
        let turn = self.turns.take();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.batch = Some(turn);
        Ok(())
    }

    fn end_batch(&mut self, end: BatchEnd) -> Result<(), StoreError> {
        // The turn passes on once the transaction is over, whatever happened.
        let Some(_turn) = self.batch.take() else {
            return Err(StoreError::Invalid("no group commit is open"));
        };
        let ended = match end {
            BatchEnd::Commit => self.conn.execute_batch("COMMIT"),
            BatchEnd::Abandon => self.conn.execute_batch("ROLLBACK"),
        };
        if ended.is_err() && !self.conn.is_autocommit() {
            // A COMMIT that failed (disk full, I/O error) leaves the transaction open.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        Ok(ended?)
    }

    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT link_key FROM realms WHERE id = ?1")?;
        let mut rows = stmt.query([realm.0])?;
        let Some(row) = rows.next()? else {
            return Err(StoreError::NoSuchRealm(realm.to_string()));
        };
        match row.get_ref(0)? {
            ValueRef::Null => Ok(None),
            _ => Ok(Some(LinkKey(fixed::<32>(
                bytes_col(row, 0, "link key")?,
                || format!("realm {realm}: link key"),
            )?))),
        }
    }

    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.realms()
    }

    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO accounts (name, salt, verifier, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        match stmt.execute(params![
            name.as_str(),
            &salt.0[..],
            &verifier.0[..],
            unix_now()
        ]) {
            Ok(_) => Ok(AccountId(self.conn.last_insert_rowid())),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateAccount(*name)),
            Err(e) => Err(e.into()),
        }
    }

    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError> {
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE accounts SET salt = ?2, verifier = ?3, session_key = NULL,
                        session_key_at = NULL, session_expires_at = NULL,
                        session_taken_by = NULL
                 WHERE name = ?1",
            )?
            .execute(params![name.as_str(), &salt.0[..], &verifier.0[..]])?;
        if updated == 0 {
            return Err(StoreError::NoSuchAccount(*name));
        }
        Ok(())
    }

    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM accounts WHERE name = ?1")?
            .execute([name.as_str()])?;
        if deleted == 0 {
            return Err(StoreError::NoSuchAccount(*name));
        }
        Ok(())
    }

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT a.id, a.name, a.created_at, a.last_login_at, a.last_login_ip, ",
            "a.failed_logins, ",
            standing_columns!(),
            ", a.security_level, a.totp_secret IS NOT NULL, ",
            "CASE WHEN a.ip_locked = 1 THEN COALESCE(a.last_login_ip, '') END ",
            "FROM accounts a ORDER BY a.id"
        ))?;
        let mut rows = stmt.query([unix_now()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(summary_from_row(row)?);
        }
        Ok(out)
    }

    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let id = self.account_id(name)?;
        self.conn
            .prepare_cached(
                "INSERT INTO account_bans (account_id, banned_at, expires_at, reason, active)
                 VALUES (?1, ?2, ?3, ?4, 1)",
            )?
            .execute(params![id.0, unix_now(), until, reason])?;
        Ok(())
    }

    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        let id = self.account_id(name)?;
        self.conn
            .prepare_cached(
                "UPDATE account_bans SET active = 0 WHERE account_id = ?1 AND active = 1",
            )?
            .execute([id.0])?;
        lockout::lift(&self.conn, id)?;
        Ok(())
    }

    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        self.insert_realm(realm, None)
    }

    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError> {
        self.insert_realm(realm, Some(id))
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: Option<i64> = match realm {
            RealmRef::Id(id) => tx
                .prepare_cached("SELECT id FROM realms WHERE id = ?1")?
                .query_row([id.0], |row| row.get(0))
                .optional()?,
            RealmRef::Name(name) => tx
                .prepare_cached("SELECT id FROM realms WHERE name = ?1")?
                .query_row([name], |row| row.get(0))
                .optional()?,
        };
        let id = id.ok_or_else(|| StoreError::NoSuchRealm(realm.to_string()))?;
        let set = |column: &str, value: &dyn rusqlite::ToSql| -> Result<(), rusqlite::Error> {
            tx.prepare_cached(&format!("UPDATE realms SET {column} = ?2 WHERE id = ?1"))?
                .execute(params![id, value])
                .map(drop)
        };
        if let Some(name) = &changes.name {
            match set("name", name) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::DuplicateRealm(name.clone()))
                }
                other => other?,
            }
        }
        if let Some(address) = &changes.address {
            set("address", address)?;
        }
        if let Some(realm_type) = changes.realm_type {
            set("realm_type", &realm_type)?;
        }
        if let Some(flags) = changes.flags {
            set("flags", &flags)?;
        }
        if let Some(timezone) = changes.timezone {
            set("timezone", &timezone)?;
        }
        if let Some(population) = changes.population {
            set("population", &f64::from(population))?;
        }
        if let Some(level) = changes.allowed_level {
            set("allowed_level", &level)?;
        }
        if let Some(local) = &changes.local {
            tx.prepare_cached(
                "UPDATE realms SET local_address = ?2, local_subnet = ?3 WHERE id = ?1",
            )?
            .execute(params![
                id,
                local.as_ref().map(|l| &l.address),
                local.as_ref().map(|l| l.subnet.to_string()),
            ])?;
        }
        if let Some(builds) = &changes.builds {
            tx.prepare_cached("DELETE FROM realm_builds WHERE realm_id = ?1")?
                .execute([id])?;
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO realm_builds (realm_id, build) VALUES (?1, ?2)",
            )?;
            for build in builds {
                stmt.execute(params![id, build.0])?;
            }
        }
        tx.commit()?;
        u32::try_from(id)
            .map(RealmId)
            .map_err(|_| StoreError::corrupt(format!("realm id {id}")))
    }

    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        let deleted = match realm {
            RealmRef::Id(id) => self
                .conn
                .prepare_cached("DELETE FROM realms WHERE id = ?1")?
                .execute([id.0])?,
            RealmRef::Name(name) => self
                .conn
                .prepare_cached("DELETE FROM realms WHERE name = ?1")?
                .execute([name])?,
        };
        if deleted == 0 {
            return Err(StoreError::NoSuchRealm(realm.to_string()));
        }
        Ok(())
    }

    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.realms()
    }

    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        let updated = match realm {
            RealmRef::Id(id) => self
                .conn
                .prepare_cached("UPDATE realms SET link_key = ?2 WHERE id = ?1")?
                .execute(params![id.0, &key.0[..]])?,
            RealmRef::Name(name) => self
                .conn
                .prepare_cached("UPDATE realms SET link_key = ?2 WHERE name = ?1")?
                .execute(params![name, &key.0[..]])?,
        };
        if updated == 0 {
            return Err(StoreError::NoSuchRealm(realm.to_string()));
        }
        Ok(())
    }

    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO ip_bans (net, banned_at, expires_at, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (net) DO UPDATE SET banned_at = ?2, expires_at = ?3, reason = ?4",
            )?
            .execute(params![net.trunc().to_string(), unix_now(), until, reason])?;
        Ok(())
    }

    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM ip_bans WHERE net = ?1")?
            .execute([net.trunc().to_string()])?;
        Ok(removed > 0)
    }

    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT net, expires_at FROM ip_bans WHERE expires_at IS NULL OR expires_at > ?1",
        )?;
        let mut rows = stmt.query([now])?;
        let mut bans = Vec::new();
        while let Some(row) = rows.next()? {
            bans.push(ip_ban_from_row(row));
        }
        Ok(keep_good("ip_bans", bans))
    }

    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES ('console_password', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
            )?
            .execute([hash])?;
        Ok(())
    }

    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = 'console_password'")?
            .query_row([], |row| row.get(0))
            .optional()?)
    }

    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        let updated = self
            .conn
            .prepare_cached("UPDATE accounts SET security_level = ?2 WHERE name = ?1")?
            .execute(params![name.as_str(), level])?;
        if updated == 0 {
            return Err(StoreError::NoSuchAccount(*name));
        }
        Ok(())
    }

    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<Option<String>> = tx
            .prepare_cached("SELECT last_login_ip FROM accounts WHERE name = ?1")?
            .query_row([name.as_str()], |row| row.get(0))
            .optional()?;
        let last = last.ok_or(StoreError::NoSuchAccount(*name))?;
        let (locked, address) = match setting {
            IpLockSetting::On => (1, Some(last.ok_or(StoreError::NoLastAddress(*name))?)),
            IpLockSetting::Off => (0, None),
        };
        tx.prepare_cached("UPDATE accounts SET ip_locked = ?2 WHERE name = ?1")?
            .execute(params![name.as_str(), locked])?;
        tx.commit()?;
        Ok(address)
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        let updated = self
            .conn
            .prepare_cached("UPDATE accounts SET totp_secret = ?2 WHERE name = ?1")?
            .execute(params![name.as_str(), secret.map(|s| &s.as_bytes()[..])])?;
        if updated == 0 {
            return Err(StoreError::NoSuchAccount(*name));
        }
        Ok(())
    }

    fn set_pin(&mut self, name: &AccountName, pin: Option<&SealedPin>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let id: Option<i64> = tx
            .prepare_cached("SELECT id FROM accounts WHERE name = ?1")?
            .query_row(params![name.as_str()], |r| r.get(0))
            .optional()?;
        let id = id.ok_or(StoreError::NoSuchAccount(*name))?;
        match pin {
            Some(pin) => tx
                .prepare_cached(
                    "INSERT INTO account_pins (account_id, pin) VALUES (?1, ?2)
                     ON CONFLICT (account_id) DO UPDATE SET pin = excluded.pin",
                )?
                .execute(params![id, &pin.as_bytes()[..]])?,
            None => tx
                .prepare_cached("DELETE FROM account_pins WHERE account_id = ?1")?
                .execute(params![id])?,
        };
        tx.commit()?;
        Ok(())
    }

    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsWritten, StoreError> {
        let _turn = self.turn();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known_realm = tx
            .prepare_cached("SELECT 1 FROM realms WHERE id = ?1")?
            .query_row([realm.0], |_| Ok(()))
            .optional()?
            .is_some();
        if !known_realm {
            return Err(StoreError::NoSuchRealm(realm.to_string()));
        }
        let mut done = CountsWritten::default();
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO realm_characters (account_id, realm_id, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, realm_id) DO UPDATE SET count = excluded.count",
            )?;
            for &(account, count) in counts {
                if exists
                    .query_row([account.0], |_| Ok(()))
                    .optional()?
                    .is_none()
                {
                    done.unknown.push(account);
                    continue;
                }
                upsert.execute(params![account.0, realm.0, count])?;
                done.written += 1;
            }
        }
        tx.commit()?;
        Ok(done)
    }

    fn query_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let conn = &self.conn;
        super::audit_query::run("login_audit", query, |page| {
            let mut stmt = conn.prepare_cached(&page.sql)?;
            let params = page.params.iter().map(|p| match p {
                super::audit_query::Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
                super::audit_query::Param::Int(i) => rusqlite::types::Value::Integer(*i),
            });
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push((row.get::<_, i64>(0)?, audit_from_row(row)?));
            }
            Ok(out)
        })
    }

    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, account_id, account_name, peer_ip, build, outcome
             FROM login_audit ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(audit_from_row(row)?);
        }
        Ok(out)
    }

    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        // In batches, each its own write turn and transaction, so a first prune of a large
        // table never holds the logons' writers up for long.
        let mut gone = 0u64;
        loop {
            let batch = {
                let _turn = self.turns.take();
                self.conn.execute(
                    "DELETE FROM login_audit WHERE id IN
                         (SELECT id FROM login_audit WHERE at < ?1 LIMIT ?2)",
                    [before, i64::from(super::PRUNE_BATCH)],
                )?
            };
            gone = gone.saturating_add(batch as u64);
            if batch < usize::try_from(super::PRUNE_BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        // Addresses with no logon, failure or lock since then are new again.
        loop {
            let batch = {
                let _turn = self.turns.take();
                lockout::prune_batch(&self.conn, before, i64::from(super::PRUNE_BATCH))?
            };
            if batch < usize::try_from(super::PRUNE_BATCH).unwrap_or(usize::MAX) {
                return Ok(gone);
            }
        }
    }
}

mod lockout;
mod write_tx;

pub use write_tx::WriteTurns;
use write_tx::{Turn, WriteTx};

#[cfg(test)]
mod tests;
