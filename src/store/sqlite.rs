//! The embedded default backend: one SQLite file, created on first start.
//!
//! One [`SqliteStore`] is one connection. Each DB thread opens its own; WAL mode lets their
//! reads run beside one writer, and the busy timeout makes writers queue for each other instead
//! of failing. Statements are cached per connection (`prepare_cached`), so the login path
//! parses no SQL after warm-up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ipnet::IpNet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use super::{
    migrations, AccountRecord, AccountSummary, AuditRow, BackendError, BackendErrorKind,
    CharacterCount, FailureRecorded, LoginAttempt, LoginOutcome, NewRealm, RealmKind, RealmRecord,
    RealmRef, SessionTicket, Store, StoreError, TakenSession,
};
use crate::account::{AccountName, AccountStanding};
use crate::protocol::version::Build;
use crate::srp6::{Salt, SessionKey, Verifier};
use crate::totp::SealedTotpSecret;
use crate::values::{AccountId, FailureCount, IpBan, LinkKey, LockoutPolicy, RealmId};

/// How long a writer waits for another connection's write lock before giving up with
/// SQLITE_BUSY. Login writes are a few rows, so 5 s only runs out when something is wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements per connection: the whole API is about 25, so this keeps all of them.
const STATEMENT_CACHE: usize = 64;

/// Writers of one database in this process take turns on this lock before they begin a
/// write transaction. SQLite lets only one writer in at a time and makes the others poll with
/// growing sleeps, which starves an unlucky DB thread for seconds under load; waiting on a
/// mutex instead keeps the turns short and fair. Other processes (the CLI) still meet SQLite's
/// busy timeout.
#[derive(Clone, Default)]
pub struct WriteTurns(Arc<Mutex<()>>);

impl WriteTurns {
    fn take(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data: a writer that panicked leaves nothing half-done behind it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store on one SQLite connection.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    turns: WriteTurns,
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
        Self::open_with_turns(path, WriteTurns::default())
    }

    /// Opens one of several connections that write in turns (the DB threads of one pool).
    pub fn open_with_turns(path: &Path, turns: WriteTurns) -> Result<SqliteStore, StoreError> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    fn realms(&self) -> Result<Vec<RealmRecord>, StoreError> {
        let mut realms = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, name, address, realm_type, flags, timezone, population, link_key
                 FROM realms ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                realms.push(realm_from_row(row)?);
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT realm_id, build FROM realm_builds ORDER BY realm_id, build")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let realm_id: i64 = row.get(0)?;
            let build: i64 = row.get(1)?;
            let build = u16::try_from(build)
                .map_err(|_| StoreError::corrupt(format!("realm {realm_id}: build {build}")))?;
            // The foreign key guarantees a parent; a miss means the file was edited by hand.
            let realm = realms
                .iter_mut()
                .find(|r| i64::from(r.id.0) == realm_id)
                .ok_or_else(|| {
                    StoreError::corrupt(format!("build {build} for missing realm {realm_id}"))
                })?;
            realm.builds.push(Build(build));
        }
        Ok(realms)
    }

    /// The id for a new realm: after the highest, or the lowest gap once 255 is used, so that
    /// ids of removed realms are only reused when there is no other choice (a world server may
    /// still be configured with the old one).
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

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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

/// Standing from the two ban aggregates the account queries compute: whether an active
/// permanent ban exists, and the latest expiry of active bans still in the future.
fn standing(permanent: bool, until: Option<i64>) -> AccountStanding {
    match (permanent, until) {
        (true, _) => AccountStanding::Banned,
        (false, Some(until)) => AccountStanding::Suspended { until },
        (false, None) => AccountStanding::Active,
    }
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
    })
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
    })
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

/// IPv4-mapped IPv6 peers (a dual-stack listener) are written as plain IPv4, so one client
/// has one address in the audit whichever socket it came in on.
fn ip_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

impl Store for SqliteStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT a.id, a.name, a.salt, a.verifier, a.failed_logins, a.session_key, ",
            standing_columns!(),
            ", a.security_level, a.session_key_at, a.session_expires_at, a.session_taken_by",
            ", a.totp_secret FROM accounts a WHERE a.name = ?2"
        ))?;
        let mut rows = stmt.query(params![unix_now(), name.as_str()])?;
        match rows.next()? {
            Some(row) => account_from_row(row).map(Some),
            None => Ok(None),
        }
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        lockout: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        let _turn = self.turns.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert_audit(&tx, attempt)?;
        let mut recorded = FailureRecorded::Audited;
        if let (Some(account), true) = (attempt.account, attempt.outcome.counts_against_account()) {
            // None when the account was deleted since it was loaded: nothing to count.
            let previous: Option<(i64, Option<i64>)> = tx
                .prepare_cached("SELECT failed_logins, last_failed_at FROM accounts WHERE id = ?1")?
                .query_row([account.0], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((level, last)) = previous {
                let level = u32::try_from(level).unwrap_or(0);
                let since = attempt.at.saturating_sub(last.unwrap_or(attempt.at)).max(0);
                let elapsed = Duration::from_secs(u64::try_from(since).unwrap_or(0));
                let (level, locked_until) = match lockout.count(level, elapsed) {
                    FailureCount::Counted(n) => (n, None),
                    FailureCount::Locked => (
                        0,
                        Some(attempt.at.saturating_add(
                            i64::try_from(lockout.duration.as_secs()).unwrap_or(i64::MAX),
                        )),
                    ),
                };
                tx.prepare_cached(
                    "UPDATE accounts SET failed_logins = ?2, last_failed_at = ?3 WHERE id = ?1",
                )?
                .execute(params![account.0, level, attempt.at])?;
                recorded = match locked_until {
                    None => FailureRecorded::Counted(level),
                    Some(until) => {
                        let reason = format!(
                            "locked: {} wrong passwords within {} s",
                            lockout.attempts,
                            lockout.window.as_secs()
                        );
                        tx.prepare_cached(
                            "INSERT INTO account_bans (account_id, banned_at, expires_at, reason, active)
                             VALUES (?1, ?2, ?3, ?4, 1)",
                        )?
                        .execute(params![account.0, attempt.at, until, reason])?;
                        FailureRecorded::Locked { until }
                    }
                };
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
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt.account.ok_or(StoreError::Invalid(
            "a successful login without an account id",
        ))?;
        let _turn = self.turns.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        insert_audit(&tx, attempt)?;
        let counts = character_counts(&tx, account)?;
        tx.commit()?;
        Ok(counts)
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
    ) -> Result<Option<TakenSession>, StoreError> {
        let _turn = self.turns.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The check and the mark are one statement: whoever's UPDATE runs second finds
        // session_taken_by already set and gets no row, in this process or another node.
        let taken = {
            let mut stmt = tx.prepare_cached(
                "UPDATE accounts SET session_taken_by = ?1
                 WHERE name = ?2 AND session_key IS NOT NULL AND session_expires_at > ?3
                       AND session_taken_by IS NULL
                 RETURNING id, session_key, security_level",
            )?;
            let mut rows = stmt.query(params![realm.0, name.as_str(), now])?;
            match rows.next()? {
                None => None,
                Some(row) => {
                    let id: i64 = row.get(0)?;
                    let key = fixed::<40>(bytes_col(row, 1, "session key")?, || {
                        format!("account #{id}: session key")
                    })?;
                    let security_level =
                        u8_col(row, 2, || format!("account #{id}: security_level"))?;
                    Some(TakenSession {
                        account: AccountId(id),
                        key: SessionKey(key),
                        security_level,
                    })
                }
            }
        };
        // A corrupt row returned early above, rolling the mark back with the transaction.
        tx.commit()?;
        Ok(taken)
    }

    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt
            .account
            .ok_or(StoreError::Invalid("a reconnect without an account id"))?;
        let _turn = self.turns.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
            ", a.security_level, a.totp_secret IS NOT NULL FROM accounts a ORDER BY a.id"
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
        Ok(())
    }

    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = SqliteStore::next_realm_id(&tx)?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO realms (id, name, address, realm_type, flags, timezone, population,
                                     link_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
            let text: String = row.get(0)?;
            let net = text.parse::<IpNet>().map_err(|_| StoreError::Corrupt {
                what: format!("ip_bans.net {text:?} is not a network"),
            })?;
            bans.push(IpBan {
                net,
                until: row.get(1)?,
            });
        }
        Ok(bans)
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

    fn set_character_count(
        &mut self,
        account: AccountId,
        realm: RealmId,
        count: u8,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Checked first so the caller learns which side is missing; the foreign keys alone
        // would only say "constraint failed".
        let exists = |sql: &str, id: i64| -> Result<bool, rusqlite::Error> {
            tx.prepare_cached(sql)?
                .query_row([id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        };
        if !exists("SELECT 1 FROM accounts WHERE id = ?1", account.0)? {
            return Err(StoreError::NoSuchAccountId(account));
        }
        if !exists("SELECT 1 FROM realms WHERE id = ?1", i64::from(realm.0))? {
            return Err(StoreError::NoSuchRealm(realm.to_string()));
        }
        tx.prepare_cached(
            "INSERT INTO realm_characters (account_id, realm_id, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id, realm_id) DO UPDATE SET count = excluded.count",
        )?
        .execute(params![account.0, realm.0, count])?;
        tx.commit()?;
        Ok(())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AccountName {
        AccountName::parse(s.as_bytes()).unwrap()
    }

    fn temp_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gatehouse.db")).unwrap();
        (dir, store)
    }

    fn salt(b: u8) -> Salt {
        Salt(std::array::from_fn(|i| b.wrapping_add(i as u8)))
    }

    fn verifier(b: u8) -> Verifier {
        Verifier(std::array::from_fn(|i| b ^ (i as u8).wrapping_mul(7)))
    }

    fn attempt(
        account: Option<AccountId>,
        n: &str,
        outcome: LoginOutcome,
        at: i64,
    ) -> LoginAttempt {
        LoginAttempt {
            account,
            name: name(n),
            peer: "192.0.2.7".parse().unwrap(),
            build: Build::WOTLK,
            outcome,
            at,
        }
    }

    fn realm(n: &str) -> NewRealm {
        NewRealm {
            name: n.to_owned(),
            address: "127.0.0.1:8085".to_owned(),
            realm_type: 1,
            flags: 0,
            timezone: 1,
            population: 0.5,
            builds: vec![],
            link_key: None,
        }
    }

    fn tables(store: &SqliteStore) -> Vec<String> {
        let mut stmt = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn open_creates_every_table_and_reopen_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut expected = vec![
            "account_bans",
            "accounts",
            "ip_bans",
            "login_audit",
            "realm_builds",
            "realm_characters",
            "realms",
            "settings",
        ];
        expected.sort_unstable();
        assert_eq!(tables(&store), expected);
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: bool = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk);
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(store);

        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(tables(&store), expected);
        assert_eq!(
            migrations::current_version(&store.conn).unwrap(),
            i64::from(migrations::latest_version())
        );
        // Data survives a reopen (the migrations did not recreate anything).
        store
            .create_account(&name("a"), &salt(1), &verifier(1))
            .unwrap();
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert!(store.load_account(&name("a")).unwrap().is_some());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", migrations::latest_version() + 5)
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn an_unopenable_path_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("gatehouse.db");
        let err = SqliteStore::open(&missing).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-dir"), "{err}");
        // A directory where the file should be.
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    }

    #[test]
    fn sqlite_errors_become_classified_backend_errors() {
        let (_dir, store) = temp_store();
        let err: StoreError = store
            .conn
            .execute(
                "INSERT INTO realms (id, name, address) VALUES (0, 'bad', 'x')",
                [],
            )
            .unwrap_err()
            .into();
        assert_eq!(err.backend_kind(), Some(BackendErrorKind::Constraint));
        let StoreError::Backend(backend) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            backend.code().map(|c| c & 0xff),
            Some(rusqlite::ffi::SQLITE_CONSTRAINT)
        );
        assert!(err.to_string().contains("CHECK"), "{err}");
        for (code, kind) in [
            (rusqlite::ffi::SQLITE_BUSY, BackendErrorKind::Busy),
            (rusqlite::ffi::SQLITE_LOCKED, BackendErrorKind::Busy),
            (rusqlite::ffi::SQLITE_READONLY, BackendErrorKind::ReadOnly),
            (rusqlite::ffi::SQLITE_FULL, BackendErrorKind::Full),
            (rusqlite::ffi::SQLITE_CANTOPEN, BackendErrorKind::CannotOpen),
            (rusqlite::ffi::SQLITE_NOTADB, BackendErrorKind::Damaged),
            (rusqlite::ffi::SQLITE_MISMATCH, BackendErrorKind::Other),
        ] {
            let err = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            assert_eq!(BackendError::from(err).kind(), kind, "code {code}");
        }
        let missing = store
            .conn
            .query_row("SELECT 1 WHERE 0", [], |r| r.get::<_, i64>(0));
        let err = StoreError::from(missing.unwrap_err());
        assert_eq!(err.backend_kind(), Some(BackendErrorKind::Other));
        // Errors of the store's own making are not the backend's.
        assert_eq!(StoreError::Busy.backend_kind(), None);
    }

    #[test]
    fn accounts_create_duplicate_list_password_delete() {
        let (_dir, mut store) = temp_store();
        let alice = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        let bob = store
            .create_account(&name("BOB"), &salt(2), &verifier(2))
            .unwrap();
        assert_ne!(alice, bob);
        assert!(matches!(
            store.create_account(&name("Alice"), &salt(3), &verifier(3)),
            Err(StoreError::DuplicateAccount(n)) if n == name("ALICE")
        ));

        let list = store.list_accounts().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id, alice);
        assert_eq!(list[0].name, name("ALICE"));
        assert_eq!(list[0].failed_logins, 0);
        assert_eq!(list[0].last_login_at, None);
        assert_eq!(list[0].standing, AccountStanding::Active);
        assert!(list[0].created_at > 0);
        assert_eq!(list[1].name, name("BOB"));

        store
            .set_password(&name("alice"), &salt(9), &verifier(9))
            .unwrap();
        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!((a.salt, a.verifier), (salt(9), verifier(9)));
        assert!(matches!(
            store.set_password(&name("carol"), &salt(9), &verifier(9)),
            Err(StoreError::NoSuchAccount(_))
        ));

        store.delete_account(&name("alice")).unwrap();
        assert!(store.load_account(&name("alice")).unwrap().is_none());
        assert!(matches!(
            store.delete_account(&name("alice")),
            Err(StoreError::NoSuchAccount(_))
        ));
        assert_eq!(store.list_accounts().unwrap().len(), 1);
    }

    #[test]
    fn load_account_round_trips_bytes_exactly() {
        let (_dir, mut store) = temp_store();
        assert!(store.load_account(&name("nobody")).unwrap().is_none());
        let id = store
            .create_account(&name("alice"), &salt(0xf0), &verifier(0x5a))
            .unwrap();
        let a = store.load_account(&name("ALICE")).unwrap().unwrap();
        assert_eq!(a.id, id);
        assert_eq!(a.name, name("ALICE"));
        assert_eq!(a.salt, salt(0xf0));
        assert_eq!(a.verifier, verifier(0x5a));
        assert_eq!(a.session, None);
        assert_eq!(a.failed_logins, 0);
        assert_eq!(a.security_level, 0);
        assert_eq!(a.standing, AccountStanding::Active);

        let key = SessionKey(std::array::from_fn(|i| 255 - i as u8));
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 100),
                &key,
                1000,
            )
            .unwrap();
        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(
            a.session,
            Some(SessionTicket {
                key,
                issued_at: 100,
                expires_at: 1000,
                taken_by: None,
            })
        );
        store.set_security_level(&name("alice"), 255).unwrap();
        assert_eq!(
            store
                .load_account(&name("alice"))
                .unwrap()
                .unwrap()
                .security_level,
            255
        );
        assert!(matches!(
            store.set_security_level(&name("nobody"), 1),
            Err(StoreError::NoSuchAccount(_))
        ));

        // A password change forgets the key, so an old session cannot reconnect.
        store
            .set_password(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        assert_eq!(
            store.load_account(&name("alice")).unwrap().unwrap().session,
            None
        );
    }

    #[test]
    fn wrong_passwords_lock_the_account_for_the_policy_duration_and_decay() {
        let (_dir, mut store) = temp_store();
        let id = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        let policy = LockoutPolicy {
            attempts: 3,
            window: Duration::from_secs(300),
            duration: Duration::from_secs(600),
        };
        let t = unix_now();
        let wrong = |at| attempt(Some(id), "alice", LoginOutcome::WrongPassword, at);
        // Decay: one failure forgiven every 100 s, so failures 150 s apart never lock.
        for i in 0..5 {
            let r = store.record_login_failure(&wrong(t - 2_000 + 150 * i), &policy);
            assert_eq!(r.unwrap(), FailureRecorded::Counted(1));
        }
        // A refused build or an unknown name is audited, not counted.
        let other = attempt(Some(id), "alice", LoginOutcome::VersionInvalid, t);
        assert_eq!(
            store.record_login_failure(&other, &policy).unwrap(),
            FailureRecorded::Audited
        );
        // Three within the window lock; the third is the one that does.
        assert_eq!(
            store.record_login_failure(&wrong(t), &policy).unwrap(),
            FailureRecorded::Counted(1)
        );
        assert_eq!(
            store.record_login_failure(&wrong(t + 1), &policy).unwrap(),
            FailureRecorded::Counted(2)
        );
        assert_eq!(
            store.record_login_failure(&wrong(t + 2), &policy).unwrap(),
            FailureRecorded::Locked { until: t + 602 }
        );
        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(a.standing, AccountStanding::Suspended { until: t + 602 });
        assert_eq!(a.failed_logins, 0, "the count starts again after a lock");
        // The lock is an ordinary ban row: `unban` lifts it.
        store.unban_account(&name("alice")).unwrap();
        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(a.standing, AccountStanding::Active);
    }

    #[test]
    fn login_failure_counts_and_audits() {
        let (_dir, mut store) = temp_store();
        let id = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        store
            .record_login_failure(
                &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 10),
                &LockoutPolicy::OFF,
            )
            .unwrap();
        store
            .record_login_failure(
                &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 11),
                &LockoutPolicy::OFF,
            )
            .unwrap();
        store
            .record_login_failure(
                &attempt(None, "ghost", LoginOutcome::UnknownAccount, 12),
                &LockoutPolicy::OFF,
            )
            .unwrap();

        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(a.failed_logins, 2);
        let last_failed: i64 = store
            .conn
            .query_row(
                "SELECT last_failed_at FROM accounts WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(last_failed, 11);

        let audit = store.recent_audit(10).unwrap();
        assert_eq!(audit.len(), 3);
        assert_eq!(
            audit[0],
            AuditRow {
                at: 12,
                account: None,
                name: "GHOST".to_owned(),
                peer: "192.0.2.7".to_owned(),
                build: Build::WOTLK,
                outcome: "unknown_account".to_owned(),
            }
        );
        assert_eq!(audit[1].account, Some(id));
        assert_eq!(audit[1].outcome, "wrong_password");
        assert_eq!(audit[2].at, 10);
        assert_eq!(store.recent_audit(1).unwrap().len(), 1);
    }

    #[test]
    fn login_success_resets_counter_stores_key_and_returns_counts() {
        let (_dir, mut store) = temp_store();
        let id = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        let other = store
            .create_account(&name("bob"), &salt(1), &verifier(1))
            .unwrap();
        let r1 = store.add_realm(&realm("One")).unwrap();
        let r2 = store.add_realm(&realm("Two")).unwrap();
        store.set_character_count(id, r2, 3).unwrap();
        store.set_character_count(id, r1, 1).unwrap();
        store.set_character_count(id, r1, 2).unwrap(); // upsert
        store.set_character_count(other, r1, 9).unwrap();
        assert!(matches!(
            store.set_character_count(AccountId(999), r1, 1),
            Err(StoreError::NoSuchAccountId(_))
        ));
        assert!(matches!(
            store.set_character_count(id, RealmId(77), 1),
            Err(StoreError::NoSuchRealm(_))
        ));
        store
            .record_login_failure(
                &attempt(Some(id), "alice", LoginOutcome::WrongPassword, 10),
                &LockoutPolicy::OFF,
            )
            .unwrap();

        let key = SessionKey([7; 40]);
        let mut ok = attempt(Some(id), "alice", LoginOutcome::Success, 20);
        ok.peer = "::ffff:198.51.100.1".parse().unwrap();
        let counts = store.record_login_success(&ok, &key, 900).unwrap();
        assert_eq!(
            counts,
            vec![
                CharacterCount {
                    realm: r1,
                    count: 2
                },
                CharacterCount {
                    realm: r2,
                    count: 3
                },
            ]
        );
        let a = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(a.failed_logins, 0);
        assert_eq!(a.session.map(|t| t.key), Some(key));
        let s = &store.list_accounts().unwrap()[0];
        assert_eq!(s.last_login_at, Some(20));
        assert_eq!(s.last_login_ip.as_deref(), Some("198.51.100.1"));
        let key_at: i64 = store
            .conn
            .query_row(
                "SELECT session_key_at FROM accounts WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(key_at, 20);
        let audit = store.recent_audit(1).unwrap();
        assert_eq!(audit[0].outcome, "success");
        assert_eq!(audit[0].peer, "198.51.100.1");

        // Removing a realm takes its character counts with it.
        store.remove_realm(&RealmRef::Id(r2)).unwrap();
        let counts = store.record_login_success(&ok, &key, 900).unwrap();
        assert_eq!(
            counts,
            vec![CharacterCount {
                realm: r1,
                count: 2
            }]
        );

        // No account id, or an account deleted since it was loaded: no success is recorded.
        let mut anon = ok.clone();
        anon.account = None;
        assert!(matches!(
            store.record_login_success(&anon, &key, 900),
            Err(StoreError::Invalid(_))
        ));
        let before = store.recent_audit(100).unwrap().len();
        store.delete_account(&name("alice")).unwrap();
        assert!(matches!(
            store.record_login_success(&ok, &key, 900),
            Err(StoreError::NoSuchAccountId(_))
        ));
        assert_eq!(store.recent_audit(100).unwrap().len(), before);
        let counts: i64 = store
            .conn
            .query_row(
                "SELECT COUNT(*) FROM realm_characters WHERE account_id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counts, 0, "character counts go with the account");
    }

    #[test]
    fn bans_decide_standing() {
        let (_dir, mut store) = temp_store();
        store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        let standing = |store: &mut SqliteStore| {
            store
                .load_account(&name("alice"))
                .unwrap()
                .unwrap()
                .standing
        };
        let now = unix_now();

        // Expired bans are ignored.
        store
            .ban_account(&name("alice"), Some(now - 60), "old")
            .unwrap();
        assert_eq!(standing(&mut store), AccountStanding::Active);

        store
            .ban_account(&name("alice"), Some(now + 3600), "cool off")
            .unwrap();
        store
            .ban_account(&name("alice"), Some(now + 60), "shorter")
            .unwrap();
        assert_eq!(
            standing(&mut store),
            AccountStanding::Suspended { until: now + 3600 }
        );

        store.ban_account(&name("alice"), None, "cheating").unwrap();
        assert_eq!(standing(&mut store), AccountStanding::Banned);
        assert_eq!(
            store.list_accounts().unwrap()[0].standing,
            AccountStanding::Banned
        );

        store.unban_account(&name("alice")).unwrap();
        assert_eq!(standing(&mut store), AccountStanding::Active);
        let history: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM account_bans", [], |r| r.get(0))
            .unwrap();
        assert_eq!(history, 4, "unban keeps the history");

        assert!(matches!(
            store.ban_account(&name("nobody"), None, ""),
            Err(StoreError::NoSuchAccount(_))
        ));
        assert!(matches!(
            store.unban_account(&name("nobody")),
            Err(StoreError::NoSuchAccount(_))
        ));
    }

    #[test]
    fn realms_add_list_duplicate_remove() {
        let (_dir, mut store) = temp_store();
        let mut one = realm("Lordaeron");
        one.builds = vec![Build::VANILLA, Build::TBC, Build::VANILLA];
        let id1 = store.add_realm(&one).unwrap();
        let id2 = store.add_realm(&realm("Kalimdor")).unwrap();
        assert_eq!((id1, id2), (RealmId(1), RealmId(2)));
        assert!(matches!(
            store.add_realm(&realm("lordaeron")),
            Err(StoreError::DuplicateRealm(_))
        ));

        let realms = store.list_realms().unwrap();
        assert_eq!(realms.len(), 2);
        assert_eq!(
            realms[0],
            RealmRecord {
                id: id1,
                name: "Lordaeron".to_owned(),
                address: "127.0.0.1:8085".to_owned(),
                realm_type: 1,
                flags: 0,
                timezone: 1,
                population: 0.5,
                builds: vec![Build::VANILLA, Build::TBC],
                kind: RealmKind::Static,
            }
        );
        assert!(realms[1].builds.is_empty());
        assert_eq!(store.load_realms().unwrap(), realms);

        store
            .remove_realm(&RealmRef::Name("LORDAERON".to_owned()))
            .unwrap();
        store.remove_realm(&RealmRef::Id(id2)).unwrap();
        assert!(store.list_realms().unwrap().is_empty());
        assert!(matches!(
            store.remove_realm(&RealmRef::Id(id2)),
            Err(StoreError::NoSuchRealm(_))
        ));
        assert!(matches!(
            store.remove_realm(&RealmRef::Name("Nope".to_owned())),
            Err(StoreError::NoSuchRealm(_))
        ));
        let builds: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM realm_builds", [], |r| r.get(0))
            .unwrap();
        assert_eq!(builds, 0, "builds go with their realm");
    }

    #[test]
    fn realm_ids_stay_in_one_to_255() {
        let (_dir, mut store) = temp_store();
        for bad in [0, 256, -1] {
            let err = store
                .conn
                .execute(
                    "INSERT INTO realms (id, name, address) VALUES (?1, ?2, 'x')",
                    params![bad, format!("bad{bad}")],
                )
                .unwrap_err();
            assert_eq!(
                err.sqlite_error_code(),
                Some(ErrorCode::ConstraintViolation)
            );
        }
        for i in 1..=255 {
            assert_eq!(
                store.add_realm(&realm(&format!("r{i}"))).unwrap(),
                RealmId(i)
            );
        }
        assert!(matches!(
            store.add_realm(&realm("one too many")),
            Err(StoreError::RealmIdsExhausted)
        ));
        // Once 255 is taken, the lowest gap is reused.
        store.remove_realm(&RealmRef::Id(RealmId(1))).unwrap();
        store.remove_realm(&RealmRef::Id(RealmId(40))).unwrap();
        assert_eq!(store.add_realm(&realm("again")).unwrap(), RealmId(1));
        assert_eq!(store.add_realm(&realm("again2")).unwrap(), RealmId(40));
    }

    /// Writes a row the schema's CHECKs would refuse, as a hand edit or another tool might.
    fn corrupt(store: &SqliteStore, sql: &str) {
        store
            .conn
            .pragma_update(None, "ignore_check_constraints", true)
            .unwrap();
        store.conn.execute_batch(sql).unwrap();
        store
            .conn
            .pragma_update(None, "ignore_check_constraints", false)
            .unwrap();
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let (_dir, mut store) = temp_store();
        corrupt(
            &store,
            "INSERT INTO accounts (name, salt, verifier, created_at)
             VALUES ('SHORT', zeroblob(31), zeroblob(32), 0);
             INSERT INTO accounts (name, salt, verifier, created_at, session_key)
             VALUES ('BADKEY', zeroblob(32), zeroblob(32), 0, zeroblob(39));
             INSERT INTO accounts (name, salt, verifier, created_at)
             VALUES ('lower', zeroblob(32), zeroblob(32), 0);",
        );
        match store.load_account(&name("short")) {
            Err(StoreError::Corrupt { what }) => assert!(what.contains("salt"), "{what}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(matches!(
            store.load_account(&name("badkey")),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.list_accounts(),
            Err(StoreError::Corrupt { .. })
        ));

        let (_dir, mut store) = temp_store();
        corrupt(
            &store,
            "INSERT INTO realms (id, name, address, realm_type) VALUES (3, 'X', 'x', 300);",
        );
        assert!(matches!(
            store.load_realms(),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_version_1_file_upgrades_to_2_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        {
            // A database as the version-1 binary left it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(migrations::MIGRATIONS[0].sql).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO accounts (id, name, salt, verifier, created_at, last_login_at,
                                       failed_logins, session_key, session_key_at)
                 VALUES (5, 'ALICE', zeroblob(32), zeroblob(32), 1, 50, 2, zeroblob(40), 50),
                        (6, 'BOB', zeroblob(32), zeroblob(32), 2, NULL, 0, NULL, NULL);
                 INSERT INTO realms (id, name, address) VALUES (3, 'Old', 'h:1');
                 INSERT INTO realm_builds (realm_id, build) VALUES (3, 5875);
                 INSERT INTO realm_characters (account_id, realm_id, count) VALUES (5, 3, 4);
                 INSERT INTO login_audit (at, account_id, account_name, peer_ip, build, outcome)
                 VALUES (50, 5, 'ALICE', '192.0.2.1', 5875, 'success');",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            migrations::current_version(&store.conn).unwrap(),
            i64::from(migrations::latest_version())
        );

        let alice = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(alice.id, AccountId(5));
        assert_eq!(alice.failed_logins, 2);
        assert_eq!(alice.security_level, 0);
        // An old key had no expiry: it is kept for reconnects but counts as expired.
        assert_eq!(
            alice.session,
            Some(SessionTicket {
                key: SessionKey([0; 40]),
                issued_at: 50,
                expires_at: 50,
                taken_by: None,
            })
        );
        assert_eq!(
            store.take_session(&name("alice"), RealmId(3), 51).unwrap(),
            None
        );
        let bob = store.load_account(&name("bob")).unwrap().unwrap();
        assert_eq!((bob.session, bob.security_level), (None, 0));

        let realms = store.list_realms().unwrap();
        assert_eq!(realms.len(), 1);
        assert_eq!(realms[0].name, "Old");
        assert_eq!(realms[0].builds, vec![Build::VANILLA]);
        assert_eq!(realms[0].kind, RealmKind::Static);
        assert_eq!(store.realm_link_key(RealmId(3)).unwrap(), None);
        assert_eq!(store.recent_audit(10).unwrap().len(), 1);
        let counts = store
            .renew_session(
                &attempt(
                    Some(AccountId(5)),
                    "alice",
                    LoginOutcome::ReconnectSuccess,
                    60,
                ),
                960,
            )
            .unwrap();
        assert_eq!(
            counts,
            vec![CharacterCount {
                realm: RealmId(3),
                count: 4
            }]
        );
        // The new columns have their constraints.
        let err = store
            .conn
            .execute("UPDATE accounts SET security_level = 256 WHERE id = 5", [])
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation)
        );
        let err = store
            .conn
            .execute("UPDATE realms SET link_key = zeroblob(31) WHERE id = 3", [])
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation)
        );
    }

    /// A store with ALICE logged in at 100 with a ticket until 1000, and two realms.
    fn logged_in(store: &mut SqliteStore, key: SessionKey) -> (AccountId, RealmId, RealmId) {
        let id = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        let r1 = store.add_realm(&realm("One")).unwrap();
        let r2 = store.add_realm(&realm("Two")).unwrap();
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 100),
                &key,
                1000,
            )
            .unwrap();
        (id, r1, r2)
    }

    #[test]
    fn a_ticket_is_taken_once_until_the_next_logon() {
        let (_dir, mut store) = temp_store();
        let key = SessionKey([9; 40]);
        let (id, r1, r2) = logged_in(&mut store, key);
        store.set_security_level(&name("alice"), 2).unwrap();

        let taken = store.take_session(&name("ALICE"), r1, 500).unwrap();
        assert_eq!(
            taken,
            Some(TakenSession {
                account: id,
                key,
                security_level: 2
            })
        );
        let ticket = store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .session
            .unwrap();
        assert_eq!(ticket.taken_by, Some(r1));
        // Taken is taken: for the same realm and for another.
        assert_eq!(store.take_session(&name("alice"), r1, 500).unwrap(), None);
        assert_eq!(store.take_session(&name("alice"), r2, 500).unwrap(), None);
        assert_eq!(store.take_session(&name("nobody"), r1, 500).unwrap(), None);

        // A new logon replaces the ticket, which can be taken again.
        let key2 = SessionKey([10; 40]);
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 600),
                &key2,
                1500,
            )
            .unwrap();
        let ticket = store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .session
            .unwrap();
        assert_eq!(
            (ticket.issued_at, ticket.expires_at, ticket.taken_by),
            (600, 1500, None)
        );
        assert_eq!(
            store
                .take_session(&name("alice"), r2, 700)
                .unwrap()
                .map(|t| t.key),
            Some(key2)
        );
        assert_eq!(
            store
                .load_account(&name("alice"))
                .unwrap()
                .unwrap()
                .session
                .unwrap()
                .taken_by,
            Some(r2)
        );

        // Expired: at the expiry second and after, nobody gets it.
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 800),
                &key,
                900,
            )
            .unwrap();
        assert_eq!(store.take_session(&name("alice"), r1, 900).unwrap(), None);
        assert_eq!(store.take_session(&name("alice"), r1, 5000).unwrap(), None);
        assert_eq!(
            store
                .take_session(&name("alice"), r1, 899)
                .unwrap()
                .map(|t| t.account),
            Some(id)
        );

        // No key (a password change forgets it): nothing to take.
        store
            .record_login_success(
                &attempt(Some(id), "alice", LoginOutcome::Success, 800),
                &key,
                2000,
            )
            .unwrap();
        store
            .set_password(&name("alice"), &salt(2), &verifier(2))
            .unwrap();
        assert_eq!(store.take_session(&name("alice"), r1, 900).unwrap(), None);
    }

    #[test]
    fn racing_takes_on_two_connections_hand_the_ticket_out_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        let mut setup = SqliteStore::open(&path).unwrap();
        let (id, r1, r2) = logged_in(&mut setup, SessionKey([1; 40]));
        // Separate stores with separate write turns: as two gatehouse nodes on one database,
        // only SQLite itself stands between them.
        let stores: Vec<_> = (0..2)
            .map(|_| std::sync::Arc::new(Mutex::new(SqliteStore::open(&path).unwrap())))
            .collect();
        for round in 0..50i64 {
            setup
                .record_login_success(
                    &attempt(Some(id), "alice", LoginOutcome::Success, 100 + round),
                    &SessionKey([round as u8; 40]),
                    10_000,
                )
                .unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = stores
                .iter()
                .zip([r1, r2])
                .map(|(store, realm)| {
                    let store = std::sync::Arc::clone(store);
                    let barrier = std::sync::Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        let mut store = store.lock().unwrap();
                        barrier.wait();
                        store.take_session(&name("alice"), realm, 5000).unwrap()
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let winners: Vec<_> = results.iter().flatten().collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            assert_eq!(winners[0].key, SessionKey([round as u8; 40]));
            let taken_by = setup
                .load_account(&name("alice"))
                .unwrap()
                .unwrap()
                .session
                .unwrap()
                .taken_by;
            let winner_realm = if results[0].is_some() { r1 } else { r2 };
            assert_eq!(taken_by, Some(winner_realm), "round {round}");
        }
    }

    #[test]
    fn a_reconnect_renews_the_ticket() {
        let (_dir, mut store) = temp_store();
        let key = SessionKey([4; 40]);
        let (id, r1, r2) = logged_in(&mut store, key);
        store.set_character_count(id, r2, 5).unwrap();
        assert!(store
            .take_session(&name("alice"), r1, 500)
            .unwrap()
            .is_some());

        let mut reconnect = attempt(Some(id), "alice", LoginOutcome::ReconnectSuccess, 700);
        reconnect.peer = "198.51.100.2".parse().unwrap();
        let counts = store.renew_session(&reconnect, 1600).unwrap();
        assert_eq!(
            counts,
            vec![CharacterCount {
                realm: r2,
                count: 5
            }]
        );
        let ticket = store
            .load_account(&name("alice"))
            .unwrap()
            .unwrap()
            .session
            .unwrap();
        assert_eq!(
            ticket,
            SessionTicket {
                key,
                issued_at: 100,
                expires_at: 1600,
                taken_by: None
            }
        );
        let summary = &store.list_accounts().unwrap()[0];
        assert_eq!(summary.last_login_at, Some(700));
        assert_eq!(summary.last_login_ip.as_deref(), Some("198.51.100.2"));
        let audit = store.recent_audit(1).unwrap();
        assert_eq!(audit[0].outcome, "reconnect_success");
        assert_eq!(audit[0].at, 700);
        assert_eq!(audit[0].account, Some(id));
        // Takeable again, until the new expiry.
        assert!(store
            .take_session(&name("alice"), r2, 1599)
            .unwrap()
            .is_some());

        // The audit says what happened, whatever the attempt was labelled.
        reconnect.outcome = LoginOutcome::Success;
        store.renew_session(&reconnect, 1700).unwrap();
        assert_eq!(
            store.recent_audit(1).unwrap()[0].outcome,
            "reconnect_success"
        );

        // No key, no renewal, and nothing is written.
        store
            .set_password(&name("alice"), &salt(2), &verifier(2))
            .unwrap();
        let before = store.recent_audit(100).unwrap().len();
        assert!(matches!(
            store.renew_session(&reconnect, 2000),
            Err(StoreError::NoSession(a)) if a == id
        ));
        assert_eq!(store.recent_audit(100).unwrap().len(), before);
        assert_eq!(
            store.load_account(&name("alice")).unwrap().unwrap().session,
            None
        );

        let mut anon = reconnect.clone();
        anon.account = None;
        assert!(matches!(
            store.renew_session(&anon, 2000),
            Err(StoreError::Invalid(_))
        ));
        store.delete_account(&name("alice")).unwrap();
        assert!(matches!(
            store.renew_session(&reconnect, 2000),
            Err(StoreError::NoSuchAccountId(_))
        ));
    }

    #[test]
    fn link_keys_round_trip_and_make_a_realm_linkable() {
        let (_dir, mut store) = temp_store();
        let key = LinkKey(std::array::from_fn(|i| i as u8 * 3));
        let mut linked = realm("Linked");
        linked.link_key = Some(key);
        let static_id = store.add_realm(&realm("Static")).unwrap();
        let linked_id = store.add_realm(&linked).unwrap();
        assert_eq!(store.realm_link_key(static_id).unwrap(), None);
        assert_eq!(store.realm_link_key(linked_id).unwrap(), Some(key));
        let kinds: Vec<_> = store
            .list_realms()
            .unwrap()
            .iter()
            .map(|r| r.kind)
            .collect();
        assert_eq!(kinds, vec![RealmKind::Static, RealmKind::Linkable]);

        let other = LinkKey([0xee; 32]);
        store
            .set_realm_link_key(&RealmRef::Name("STATIC".to_owned()), &other)
            .unwrap();
        assert_eq!(store.realm_link_key(static_id).unwrap(), Some(other));
        store
            .set_realm_link_key(&RealmRef::Id(linked_id), &other)
            .unwrap();
        assert_eq!(store.realm_link_key(linked_id).unwrap(), Some(other));

        assert!(matches!(
            store.set_realm_link_key(&RealmRef::Id(RealmId(99)), &key),
            Err(StoreError::NoSuchRealm(_))
        ));
        assert!(matches!(
            store.set_realm_link_key(&RealmRef::Name("Nope".to_owned()), &key),
            Err(StoreError::NoSuchRealm(_))
        ));
        assert!(matches!(
            store.realm_link_key(RealmId(99)),
            Err(StoreError::NoSuchRealm(_))
        ));

        corrupt(
            &store,
            &format!(
                "UPDATE realms SET link_key = zeroblob(31) WHERE id = {}",
                linked_id.0
            ),
        );
        match store.realm_link_key(linked_id) {
            Err(StoreError::Corrupt { what }) => assert!(what.contains("link key"), "{what}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(matches!(
            store.list_realms(),
            Err(StoreError::Corrupt { .. })
        ));
        corrupt(
            &store,
            &format!("UPDATE realms SET link_key = 7 WHERE id = {}", linked_id.0),
        );
        assert!(matches!(
            store.realm_link_key(linked_id),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn corrupt_tickets_are_errors_not_panics() {
        let cases = [
            // Taken by a realm id that cannot exist.
            "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 2,
             session_taken_by = 0",
            "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 2,
             session_taken_by = 300",
            // A key without its times.
            "session_key = zeroblob(40), session_key_at = 1, session_expires_at = NULL",
            "session_key = zeroblob(40), session_key_at = NULL, session_expires_at = 2",
            // An expiry or a taker without a key.
            "session_key = NULL, session_expires_at = 2",
            "session_key = NULL, session_taken_by = 1",
            // Wrong types.
            "session_key = zeroblob(40), session_key_at = 1, session_expires_at = 'soon'",
            "security_level = 256",
            "security_level = -1",
        ];
        for set in cases {
            let (_dir, mut store) = temp_store();
            store
                .create_account(&name("alice"), &salt(1), &verifier(1))
                .unwrap();
            corrupt(&store, &format!("UPDATE accounts SET {set}"));
            assert!(
                matches!(
                    store.load_account(&name("alice")),
                    Err(StoreError::Corrupt { .. })
                ),
                "{set}"
            );
        }
        // A bad level is caught by the take too, and the mark is rolled back with it.
        let (_dir, mut store) = temp_store();
        logged_in(&mut store, SessionKey([1; 40]));
        corrupt(&store, "UPDATE accounts SET security_level = 300");
        assert!(matches!(
            store.take_session(&name("alice"), RealmId(1), 500),
            Err(StoreError::Corrupt { .. })
        ));
        let taken: Option<i64> = store
            .conn
            .query_row("SELECT session_taken_by FROM accounts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(taken, None);
    }

    #[test]
    fn ip_bans_and_the_console_password_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let net: IpNet = "10.1.2.0/24".parse().unwrap();
        store.ban_ip(&net, None, "t").unwrap();
        store
            .ban_ip(&"192.0.2.7/32".parse().unwrap(), Some(100), "t")
            .unwrap();
        let bans = store.ip_bans(50).unwrap();
        assert_eq!(bans.len(), 2);
        assert_eq!(
            store.ip_bans(200).unwrap().len(),
            1,
            "expired bans are not in force"
        );
        assert!(store.unban_ip(&net).unwrap());
        assert!(!store.unban_ip(&net).unwrap());
        assert_eq!(store.console_password().unwrap(), None);
        store.set_console_password("h1").unwrap();
        store.set_console_password("h2").unwrap();
        assert_eq!(store.console_password().unwrap().as_deref(), Some("h2"));
    }

    fn sealed(b: u8) -> SealedTotpSecret {
        SealedTotpSecret::from_bytes(&[b; crate::totp::SEALED_LEN]).unwrap()
    }

    #[test]
    fn totp_secrets_are_set_listed_and_cleared() {
        let (_dir, mut store) = temp_store();
        store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        store
            .create_account(&name("bob"), &salt(2), &verifier(2))
            .unwrap();
        assert_eq!(
            store.load_account(&name("alice")).unwrap().unwrap().totp,
            None
        );

        store
            .set_totp_secret(&name("alice"), Some(&sealed(9)))
            .unwrap();
        let alice = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(alice.totp, Some(sealed(9)));
        assert_eq!(
            store.load_account(&name("bob")).unwrap().unwrap().totp,
            None
        );
        let list = store.list_accounts().unwrap();
        assert_eq!(
            list.iter().map(|a| a.totp).collect::<Vec<_>>(),
            [true, false]
        );

        store.set_totp_secret(&name("alice"), None).unwrap();
        assert_eq!(
            store.load_account(&name("alice")).unwrap().unwrap().totp,
            None
        );
        assert!(matches!(
            store.set_totp_secret(&name("nobody"), Some(&sealed(1))),
            Err(StoreError::NoSuchAccount(_))
        ));
        let err = store
            .conn
            .execute("UPDATE accounts SET totp_secret = zeroblob(59)", [])
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation)
        );
    }

    #[test]
    fn a_wrong_token_counts_like_a_wrong_password() {
        let (_dir, mut store) = temp_store();
        let id = store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        for (outcome, at) in [
            (LoginOutcome::WrongToken, 10),
            (LoginOutcome::WrongPassword, 11),
            (LoginOutcome::DbBusy, 12),
        ] {
            store
                .record_login_failure(
                    &attempt(Some(id), "alice", outcome, at),
                    &LockoutPolicy::OFF,
                )
                .unwrap();
        }
        assert_eq!(
            store
                .load_account(&name("alice"))
                .unwrap()
                .unwrap()
                .failed_logins,
            2
        );
        let audit = store.recent_audit(10).unwrap();
        assert_eq!(audit[2].outcome, "wrong_token");
        assert_eq!(
            LoginOutcome::from_str_opt("wrong_token"),
            Some(LoginOutcome::WrongToken)
        );
    }

    #[test]
    fn a_corrupt_totp_secret_is_an_error_not_a_panic() {
        let (_dir, mut store) = temp_store();
        store
            .create_account(&name("alice"), &salt(1), &verifier(1))
            .unwrap();
        for bad in [
            "zeroblob(12)",
            "'not a blob at all, sixty bytes of text.....................'",
            "42",
        ] {
            corrupt(&store, &format!("UPDATE accounts SET totp_secret = {bad}"));
            match store.load_account(&name("alice")) {
                Err(StoreError::Corrupt { what }) => {
                    assert!(what.contains("totp_secret"), "{what}")
                }
                other => panic!("{bad}: expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_version_3_file_upgrades_to_4_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        {
            let conn = Connection::open(&path).unwrap();
            for m in &migrations::MIGRATIONS[..3] {
                conn.execute_batch(m.sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO accounts (id, name, salt, verifier, created_at, failed_logins,
                                       security_level)
                 VALUES (5, 'ALICE', zeroblob(32), zeroblob(32), 1, 2, 3);
                 INSERT INTO ip_bans (net, banned_at) VALUES ('192.0.2.0/24', 1);
                 INSERT INTO settings (key, value) VALUES ('console_password', 'h');",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(migrations::current_version(&store.conn).unwrap(), 4);
        let alice = store.load_account(&name("alice")).unwrap().unwrap();
        assert_eq!(
            (
                alice.id,
                alice.failed_logins,
                alice.security_level,
                alice.totp
            ),
            (AccountId(5), 2, 3, None)
        );
        assert_eq!(store.ip_bans(0).unwrap().len(), 1);
        assert_eq!(store.console_password().unwrap().as_deref(), Some("h"));
        store
            .set_totp_secret(&name("alice"), Some(&sealed(4)))
            .unwrap();
        assert_eq!(
            store.load_account(&name("alice")).unwrap().unwrap().totp,
            Some(sealed(4))
        );
    }
}
