//! The store on an unchanged CMaNGOS realmd database, read and written the way CMaNGOS's own
//! realmd and tools do, so its mangosd, website and GM commands keep working beside gatehouse.
//!
//! Where CMaNGOS has a column, gatehouse uses it: `account` (upper-case `username`, `s` and
//! `v` as `BN_bn2hex` text of the little-endian wire numbers, `sessionkey` likewise for K,
//! `failed_logins`, `gmlevel`, `token`), `account_logons` (a row per good logon),
//! `account_banned`, `ip_banned`, `realmlist` (`realmflags`, space-separated `realmbuilds`)
//! and `realmcharacters`. What it has no place for lives in `gatehouse_` tables beside them
//! ([`migrations`]), created by `gatehouse db init`; without them the store serves logons with
//! the features that need them off ([`OwnTables`]). The connection handling is the MySQL store's,
//! and so is taking a ticket (`take_ticket`: read `FOR UPDATE`, then mark).
//!
//! CMaNGOS's authenticator (`account.token`, a base32 TOTP secret, empty = none): a
//! 20-byte secret is sealed on load under gatehouse's `totp.key`, so 2.4.3/3.3.5a clients are
//! asked for the token; anything gatehouse cannot check (no `totp.key`, bad base32, another
//! length) loads as a second factor that never opens, and a 1.12 client, which has no
//! authenticator field, cannot satisfy it either: such logons are refused, never let in on the
//! password alone.

pub mod migrations;

use mysql::prelude::Queryable;
use mysql::{Row, TxOpts};

use ipnet::IpNet;

use std::net::IpAddr;

use super::bignum_hex::{from_bn_hex, salt_fits_cmangos, to_bn_hex};
use super::mangos_family::{
    self, account_id, ban_dates, character_counts, forget_account, forget_ticket, insert_audit,
    link_key_sql, seal_foreign_totp, split_address, IpBannedColumns, OwnTables, BANNED_BY,
};
use super::mysql::write_tx::WriteTx;
use super::mysql::{
    bool_col, exists, float, int, is_duplicate, name_col, opt_bytes, opt_int, opt_text, raw_text,
    take_ticket, text, u32_col, u8_col, MysqlStore,
};
use super::rows::{keep_good, realm_row};
use super::DbTls;
use super::{
    ip_text, lockout_reason, standing, unix_now, AccountRecord, AccountSummary, AuditQuery,
    AuditRow, BatchEnd, CharacterCount, CountsWritten, FailureRecorded, Feature, IpLockSetting,
    LockoutStanding, LoginAttempt, LoginOutcome, NewRealm, RealmChanges, RealmKind, RealmRecord,
    RealmRef, SessionTicket, Store, StoreError, TakeOutcome, TakenSession,
};
use crate::account::{AccountName, IpLockRefusal};
use crate::pin_grid::SealedPin;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpKey, TotpStep, SECRET_LEN};
use crate::values::{AccountId, IpBan, LinkKey, LockoutPolicy, RealmAccess, RealmId};

/// `account_logons.loginSource` for a logon through the login server (CMaNGOS's
/// LOGIN_TYPE_REALMD).
const LOGIN_SOURCE_REALMD: u32 = 0;

/// A store on a CMaNGOS realmd database, one connection.
#[derive(Debug)]
pub struct CmangosStore {
    db: MysqlStore,
    /// Whether `gatehouse db init` has made gatehouse's tables here.
    own: OwnTables,
    /// gatehouse's `totp.key`, to seal CMaNGOS's authenticator secrets on load.
    totp_key: Option<TotpKey>,
}

impl CmangosStore {
    /// Connects to `mysql://USER[:PASSWORD]@HOST:PORT/realmd` and looks for gatehouse's own
    /// `gatehouse_` tables there (it never creates them: [`CmangosStore::init`]); CMaNGOS's
    /// tables must exist.
    pub fn open_with_password(
        url: &str,
        password: Option<&str>,
        tls: &DbTls,
    ) -> Result<CmangosStore, StoreError> {
        let mut db = MysqlStore::connect(url, password, tls)?;
        let own = migrations::state(db.conn()?)?;
        Ok(CmangosStore {
            db,
            own,
            totp_key: None,
        })
    }

    /// `gatehouse db init`: creates gatehouse's `gatehouse_` tables beside CMaNGOS's; `true`
    /// if they were not there.
    pub fn init(url: &str, password: Option<&str>, tls: &DbTls) -> Result<bool, StoreError> {
        let mut db = MysqlStore::connect(url, password, tls)?;
        migrations::init(db.conn()?)
    }

    /// With gatehouse's `totp.key`, accounts with a CMaNGOS token can log in with it (2.4.3
    /// and 3.3.5a clients); without it they are refused.
    pub fn with_totp_key(mut self, key: Option<TotpKey>) -> CmangosStore {
        self.totp_key = key;
        self
    }

    pub fn open(url: &str) -> Result<CmangosStore, StoreError> {
        Self::open_with_password(url, None, &DbTls::Off)
    }
}

/// `account_logons.ip` is varchar(30): a longer (IPv6) address is written empty.
fn logon_ip(peer: IpAddr) -> String {
    Some(ip_text(peer))
        .filter(|t| t.len() <= 30)
        .unwrap_or_default()
}

/// The raw secret of a CMaNGOS `account.token` (base32), or why there is none usable.
fn token_secret(token: &str) -> Result<[u8; SECRET_LEN], String> {
    let cleaned: String = token
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let secret =
        totp_rs::Secret::try_from_base32(&cleaned).map_err(|_| "it is not base32".to_owned())?;
    let bytes = secret.as_bytes();
    <[u8; SECRET_LEN]>::try_from(bytes).map_err(|_| {
        format!(
            "it is {} bytes, not {SECRET_LEN} (other lengths are not supported yet)",
            bytes.len()
        )
    })
}

/// The standing columns over `account_banned`: the first `?` is now. A row whose expires_at
/// equals its banned_at is permanent, as CMaNGOS reads it.
macro_rules! cm_standing_columns {
    () => {
        "EXISTS (SELECT 1 FROM account_banned b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at = b.banned_at),
         (SELECT MAX(b.expires_at) FROM account_banned b
                 WHERE b.account_id = a.id AND b.active = 1 AND b.expires_at <> b.banned_at
                       AND b.expires_at > ?),
         a.gmlevel"
    };
}

/// What a logon reads of an account, up to its standing (the first `?` is now).
macro_rules! cm_account_head {
    () => {
        concat!(
            "SELECT a.id, a.username, a.s, a.v, a.failed_logins, a.sessionkey, ",
            cm_standing_columns!()
        )
    };
}

/// What `account list` shows of an account, up to its standing (the first `?` is now).
macro_rules! cm_summary_head {
    () => {
        concat!(
            "SELECT a.id, a.username, UNIX_TIMESTAMP(a.joindate), ",
            "(SELECT UNIX_TIMESTAMP(MAX(l.loginTime)) FROM account_logons l ",
            "WHERE l.accountId = a.id), ",
            "(SELECT l.ip FROM account_logons l WHERE l.accountId = a.id ",
            "ORDER BY l.id DESC LIMIT 1), a.failed_logins, ",
            cm_standing_columns!()
        )
    };
}

fn hex_col<const N: usize>(
    row: &Row,
    idx: usize,
    what: &dyn Fn() -> String,
) -> Result<[u8; N], StoreError> {
    let t = text(row, idx, what)?;
    from_bn_hex::<N>(&t).map_err(|e| StoreError::corrupt(format!("{}: {e}", what())))
}

fn account_from_row(row: &Row, totp_key: Option<&TotpKey>) -> Result<AccountRecord, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    let name = name_col(row, 1, id)?;
    let salt = hex_col::<32>(row, 2, &|| format!("account #{id}: s"))?;
    let verifier = hex_col::<32>(row, 3, &|| format!("account #{id}: v"))?;
    let failed_logins = u32_col(row, 4, &|| format!("account #{id}: failed_logins"))?;
    let permanent = bool_col(row, 6, &|| format!("account #{id}: ban"))?;
    let until = opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?;
    let security_level = u8_col(row, 8, &|| format!("account #{id}: gmlevel"))?;
    // A key without gatehouse's ticket row (CMaNGOS's realmd wrote it), or a ticket for an
    // older key, is no ticket.
    let matches = opt_int(row, 12, &|| format!("account #{id}: ticket"))? == Some(1);
    let session = if matches {
        let key = hex_col::<40>(row, 5, &|| format!("account #{id}: sessionkey"))?;
        let taken_by = opt_int(row, 11, &|| format!("account #{id}: taken_by"))?
            .map(|realm| {
                u32::try_from(realm).map(RealmId).map_err(|_| {
                    StoreError::corrupt(format!("account #{id}: taken by realm {realm}"))
                })
            })
            .transpose()?;
        Some(SessionTicket {
            key: SessionKey(key),
            issued_at: int(row, 9, &|| format!("account #{id}: issued_at"))?,
            expires_at: int(row, 10, &|| format!("account #{id}: expires_at"))?,
            taken_by,
        })
    } else {
        None
    };
    let token =
        opt_text(row, 13, &|| format!("account #{id}: token"))?.filter(|t| !t.trim().is_empty());
    let totp = if let Some(token) = token {
        Some(seal_foreign_totp(
            &name,
            id,
            token_secret(&token),
            totp_key,
            "a CMaNGOS authenticator (account.token)",
        )?)
    } else {
        let what = || format!("account #{id}: gatehouse_totp");
        opt_bytes(row, 14, &what)?
            .map(|b| {
                SealedTotpSecret::from_bytes(b)
                    .map_err(|e| StoreError::corrupt(format!("{}: {e}", what())))
            })
            .transpose()?
    };
    // As CMaNGOS's realmd: `locked = 1` (that value only) allows logons from `lockedIp`.
    let ip_lock = super::stored_ip_lock(
        &name,
        int(row, 15, &|| format!("account #{id}: locked"))? == 1,
        &text(row, 16, &|| format!("account #{id}: lockedIp"))?,
        IpLockRefusal::Suspended,
    );
    Ok(AccountRecord {
        id: AccountId(id),
        name,
        salt: Salt(salt),
        verifier: Verifier(verifier),
        standing: standing(permanent, until),
        failed_logins,
        security_level,
        session,
        totp,
        pin: super::mysql::pin_col(row, 17, id)?,
        ip_lock,
        lockout: LockoutStanding::Clear,
    })
}

fn summary_from_row(row: &Row) -> Result<AccountSummary, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    Ok(AccountSummary {
        id: AccountId(id),
        name: name_col(row, 1, id)?,
        created_at: int(row, 2, &|| format!("account #{id}: joindate"))?,
        last_login_at: opt_int(row, 3, &|| format!("account #{id}: last logon"))?,
        last_login_ip: opt_text(row, 4, &|| format!("account #{id}: last logon ip"))?
            .filter(|ip| !ip.is_empty()),
        failed_logins: u32_col(row, 5, &|| format!("account #{id}: failed_logins"))?,
        standing: standing(
            bool_col(row, 6, &|| format!("account #{id}: ban"))?,
            opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?,
        ),
        security_level: u8_col(row, 8, &|| format!("account #{id}: gmlevel"))?,
        totp: bool_col(row, 9, &|| format!("account #{id}: totp"))?,
        ip_lock: opt_text(row, 10, &|| format!("account #{id}: ip lock"))?,
    })
}

/// CMaNGOS's `realmlist` has no column for a local address, and its realmd no such rule: a
/// realm added or changed with one is refused rather than half-stored.
const NO_LOCAL_ADDRESS: StoreError = StoreError::Invalid(
    "CMaNGOS's realmlist has no local address (AzerothCore's localAddress): not supported \
     on this schema",
);

/// `realmlist.realmbuilds`: builds separated by spaces; empty = any.
fn parse_builds(id: u8, text: &str) -> Result<Vec<Build>, StoreError> {
    text.split_whitespace()
        .map(|b| {
            b.parse::<u16>()
                .map(Build)
                .map_err(|_| StoreError::corrupt(format!("realm {id}: realmbuilds {text:?}")))
        })
        .collect()
}

fn realm_from_row(row: &Row) -> Result<RealmRecord, StoreError> {
    let id = int(row, 0, &|| "realmlist.id".to_owned())?;
    let id = u8::try_from(id)
        .ok()
        .filter(|&id| id != 0)
        .ok_or_else(|| StoreError::corrupt(format!("realmlist.id {id} is outside 1..=255")))?;
    let what = || format!("realm {id}: link key");
    let kind = match opt_bytes(row, 9, &what)? {
        None => RealmKind::Static,
        Some(key) => {
            super::mysql::fixed::<32>(key, &what)?;
            RealmKind::Linkable
        }
    };
    let host = text(row, 2, &|| format!("realm {id}: address"))?;
    let port = int(row, 3, &|| format!("realm {id}: port"))?;
    let builds = text(row, 8, &|| format!("realm {id}: realmbuilds"))?;
    let flags = u8_col(row, 5, &|| format!("realm {id}: realmflags"))?;
    Ok(RealmRecord {
        id: RealmId(u32::from(id)),
        name: text(row, 1, &|| format!("realm {id}: name"))?,
        address: format!("{host}:{port}"),
        realm_type: u8_col(row, 4, &|| format!("realm {id}: icon"))?,
        flags,
        timezone: u8_col(row, 6, &|| format!("realm {id}: timezone"))?,
        population: float(row, 7, &|| format!("realm {id}: population"))? as f32,
        builds: parse_builds(id, &builds)?,
        kind,
        local: None,
        access: realm_access(
            flags,
            u8_col(row, 10, &|| format!("realm {id}: allowedSecurityLevel"))?,
        ),
    })
}

/// Who a realm is listed to, as CMaNGOS's realmd decides it: a realm flagged invalid
/// (`realmflags & 0x01`) is not loaded; one with an `allowedSecurityLevel` is not listed to
/// player accounts (gmlevel 0) and is locked (2.4.3/3.3.5a: the lock byte; 1.12: offline) to
/// other accounts below that level.
fn realm_access(flags: u8, allowed_security_level: u8) -> RealmAccess {
    match (flags & 0x01, allowed_security_level) {
        (0x01, _) => RealmAccess::Unlisted,
        (_, 0) => RealmAccess::Open,
        (_, level) => RealmAccess::HiddenFromPlayers(level),
    }
}

/// Every realm that parses; the others are left out, each with an error line (`rows`).
fn realms(q: &mut impl Queryable, own: OwnTables) -> Result<Vec<RealmRecord>, StoreError> {
    let rows: Vec<Row> = q.exec(
        own.pick(
            "SELECT r.id, r.name, r.address, r.port, r.icon, r.realmflags, r.timezone,
                    r.population, r.realmbuilds, k.link_key, r.allowedSecurityLevel
             FROM realmlist r LEFT JOIN gatehouse_realm_keys k ON k.realm_id = r.id
             ORDER BY r.id",
            "SELECT r.id, r.name, r.address, r.port, r.icon, r.realmflags, r.timezone,
                    r.population, r.realmbuilds, NULL, r.allowedSecurityLevel
             FROM realmlist r ORDER BY r.id",
        ),
        (),
    )?;
    Ok(keep_good(
        "realmlist",
        rows.iter()
            .map(|row| realm_row(format!("id {}", raw_text(row, 0)), realm_from_row(row))),
    ))
}

/// `ip_banned.ip` holds one address as text.
fn banned_ip_text(net: &IpNet) -> Result<String, StoreError> {
    if net.prefix_len() != net.max_prefix_len() {
        return Err(StoreError::Invalid(
            "CMaNGOS's ip_banned holds single addresses, not networks",
        ));
    }
    let ip = ip_text(net.addr());
    if ip.len() > 32 {
        return Err(StoreError::Invalid(
            "CMaNGOS's ip_banned.ip holds at most 32 characters",
        ));
    }
    Ok(ip)
}

/// CMaNGOS's realmd sends the salt from its hex text unpadded: refuse one it cannot send.
fn check_salt(salt: &Salt) -> Result<(), StoreError> {
    if salt_fits_cmangos(&salt.0) {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "a CMaNGOS salt must not end in a zero byte (its realmd could not send it)",
        ))
    }
}

fn insert_ban(
    q: &mut impl Queryable,
    account: i64,
    now: i64,
    until: Option<i64>,
    reason: &str,
) -> Result<(), mysql::Error> {
    let (banned_at, expires_at) = ban_dates(now, until);
    q.exec_drop(
        "INSERT INTO account_banned (account_id, banned_at, expires_at, banned_by, reason, active)
         VALUES (?, ?, ?, ?, ?, 1)",
        (account, banned_at, expires_at, BANNED_BY, reason),
    )
}

/// The `account_logons` row of a logon (or reconnect) through the login server.
fn insert_logon(
    q: &mut impl Queryable,
    account: AccountId,
    attempt: &LoginAttempt,
) -> Result<(), mysql::Error> {
    q.exec_drop(
        "INSERT INTO account_logons (accountId, ip, loginTime, loginSource)
         VALUES (?, ?, FROM_UNIXTIME(?), ?)",
        (
            account.0,
            logon_ip(attempt.peer),
            attempt.at,
            LOGIN_SOURCE_REALMD,
        ),
    )
}

/// CMaNGOS's `ip_banned` columns.
const IP_BANNED: IpBannedColumns = IpBannedColumns {
    banned_at: "banned_at",
    until: "expires_at",
    banned_by: "banned_by",
    reason: "reason",
};

/// A realm's builds as `realmlist.realmbuilds` holds them: space-separated, each once.
fn realm_builds_value(builds: &[Build]) -> Result<(&'static str, mysql::Value), StoreError> {
    let mut distinct: Vec<u16> = Vec::with_capacity(builds.len());
    for build in builds {
        if !distinct.contains(&build.0) {
            distinct.push(build.0);
        }
    }
    let text = distinct
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(("realmbuilds", text.into()))
}

macro_rules! on_conn {
    ($self:ident, |$conn:ident| $body:block) => {{
        let result = (|| {
            let $conn = $self.db.conn()?;
            $body
        })();
        $self.db.settle(result)
    }};
}

impl CmangosStore {
    /// `add_realm` and `add_realm_with_id`: the next free id, or the one given.
    fn insert_realm(
        &mut self,
        realm: &NewRealm,
        chosen: Option<RealmId>,
    ) -> Result<RealmId, StoreError> {
        let (host, port) = split_address(&realm.address)?;
        if realm.local.is_some() {
            return Err(NO_LOCAL_ADDRESS);
        }
        let mut distinct: Vec<u16> = Vec::with_capacity(realm.builds.len());
        for build in &realm.builds {
            if !distinct.contains(&build.0) {
                distinct.push(build.0);
            }
        }
        let builds = distinct
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = mangos_family::pick_realm_id(&mut tx, chosen)?;
            let inserted = tx.exec_drop(
                "INSERT INTO realmlist (id, name, address, port, icon, realmflags, timezone,
                                        population, realmbuilds, allowedSecurityLevel)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    id.0,
                    realm.name.as_str(),
                    host,
                    port,
                    realm.realm_type,
                    realm.flags,
                    realm.timezone,
                    realm.population,
                    builds.as_str(),
                    realm.allowed_level,
                ),
            );
            match inserted {
                Ok(()) => {}
                Err(e) if is_duplicate(&e) => {
                    return Err(StoreError::DuplicateRealm(realm.name.clone()))
                }
                Err(e) => return Err(e.into()),
            }
            mangos_family::replace_link_key(self.own, &mut tx, id, realm.link_key.as_ref())?;
            tx.commit()?;
            Ok(id)
        })
    }
}

impl Store for CmangosStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(
                self.own.pick(
                    concat!(
                        cm_account_head!(),
                        ", t.issued_at, t.expires_at, t.taken_by, ",
                        "CAST(t.session_key AS BINARY) = CAST(a.sessionkey AS BINARY), ",
                        "a.token, g.secret, a.locked, a.lockedIp, ",
                        "(SELECT p.pin FROM gatehouse_pins p WHERE p.account_id = a.id) ",
                        "FROM account a ",
                        "LEFT JOIN gatehouse_sessions t ON t.account_id = a.id ",
                        "LEFT JOIN gatehouse_totp g ON g.account_id = a.id WHERE a.username = ?"
                    ),
                    // Without gatehouse's tickets, the account's key is the ticket, as
                    // CMaNGOS's realmd reconnects with it: never expiring.
                    concat!(
                        cm_account_head!(),
                        ", 0, 9223372036854775807, NULL, COALESCE(a.sessionkey, '') <> '', ",
                        "a.token, NULL, a.locked, a.lockedIp, NULL FROM account a WHERE a.username = ?"
                    ),
                ),
                (unix_now(), name.as_str()),
            )?;
            let key = self.totp_key.as_ref();
            row.as_ref()
                .map(|row| account_from_row(row, key))
                .transpose()
        })
    }

    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::lockout_standing(self.own, conn, account, peer, now)
        })
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            insert_audit(self.own, &mut tx, attempt)?;
            let mut recorded = FailureRecorded::Audited;
            if let (Some(account), true) =
                (attempt.account, attempt.outcome.counts_against_account())
            {
                recorded = mangos_family::count_failure(
                    self.own,
                    &mut tx,
                    account,
                    attempt,
                    policy,
                    |tx, until| {
                        insert_ban(
                            tx,
                            account.0,
                            attempt.at,
                            Some(until),
                            &lockout_reason(policy),
                        )?;
                        Ok(())
                    },
                )?;
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
        let key_hex = to_bn_hex(&key.0);
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            // First: a reused token refuses the success before anything is written.
            mangos_family::note_success(self.own, &mut tx, account, attempt, totp_step)?;
            // What CMaNGOS's realmd writes on a good logon (mangosd reads sessionkey with
            // BN_hex2bn), and its account_logons row.
            tx.exec_drop(
                "UPDATE account SET sessionkey = ?, locale = ?, failed_logins = 0, os = ?,
                        platform = ?
                 WHERE id = ?",
                (
                    key_hex.as_str(),
                    attempt.client.locale(),
                    attempt.client.os(),
                    attempt.client.platform(),
                    account.0,
                ),
            )?;
            if tx.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccountId(account));
            }
            insert_logon(&mut tx, account, attempt)?;
            if self.own == OwnTables::Present {
                tx.exec_drop(
                    "INSERT INTO gatehouse_sessions
                         (account_id, session_key, issued_at, expires_at, taken_by)
                     VALUES (?, ?, ?, ?, NULL)
                     ON DUPLICATE KEY UPDATE session_key = VALUES(session_key),
                         issued_at = VALUES(issued_at), expires_at = VALUES(expires_at),
                         taken_by = NULL",
                    (account.0, key_hex.as_str(), attempt.at, expires_at),
                )?;
            }
            insert_audit(self.own, &mut tx, attempt)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::use_totp_step(self.own, conn, account, step)
        })
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        // Without gatehouse's tables no realm has a link key, so nobody asks.
        if self.own == OwnTables::Absent {
            return Ok(TakeOutcome::NoTicket);
        }
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let tx = WriteTx::begin(conn, batching)?;
            take_ticket(
                tx,
                name,
                proof,
                |tx| {
                    // The ticket is live while its key is still the account's.
                    let row: Option<Row> = tx.exec_first(
                        "SELECT a.id, t.session_key, a.gmlevel
                         FROM gatehouse_sessions t JOIN account a ON a.id = t.account_id
                         WHERE a.username = ?
                               AND CAST(a.sessionkey AS BINARY) = CAST(t.session_key AS BINARY)
                               AND t.expires_at > ? AND t.taken_by IS NULL
                         FOR UPDATE",
                        (name.as_str(), now),
                    )?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let id = int(&row, 0, &|| format!("account {name}: id"))?;
                    let key = hex_col::<40>(&row, 1, &|| format!("account #{id}: session key"))?;
                    let security_level = u8_col(&row, 2, &|| format!("account #{id}: gmlevel"))?;
                    Ok(Some(TakenSession {
                        account: AccountId(id),
                        key: SessionKey(key),
                        security_level,
                    }))
                },
                |tx, account| mangos_family::mark_taken(tx, account, realm),
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
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            let renewed = match self.own {
                OwnTables::Present => {
                    tx.exec_drop(
                        "UPDATE gatehouse_sessions t JOIN account a ON a.id = t.account_id
                         SET t.taken_by = NULL, t.expires_at = ?
                         WHERE a.id = ?
                               AND CAST(a.sessionkey AS BINARY) = CAST(t.session_key AS BINARY)",
                        (expires_at, account.0),
                    )?;
                    tx.affected_rows() > 0
                }
                // The key in the account row is the ticket.
                OwnTables::Absent => exists(
                    &mut tx,
                    "SELECT 1 FROM account WHERE id = ? AND COALESCE(sessionkey, '') <> ''",
                    account.0,
                )?,
            };
            if !renewed {
                let found = exists(&mut tx, "SELECT 1 FROM account WHERE id = ?", account.0)?;
                return Err(if found {
                    StoreError::NoSession(account)
                } else {
                    StoreError::NoSuchAccountId(account)
                });
            }
            insert_logon(&mut tx, account, attempt)?;
            let audit = LoginAttempt {
                outcome: LoginOutcome::ReconnectSuccess,
                ..attempt.clone()
            };
            insert_audit(self.own, &mut tx, &audit)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.db.open_batch()
    }

    fn end_batch(&mut self, end: BatchEnd) -> Result<(), StoreError> {
        self.db.close_batch(end)
    }

    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(link_key_sql(self.own), (realm.0,))?;
            let Some(row) = row else {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            };
            let what = || format!("realm {realm}: link key");
            opt_bytes(&row, 0, &what)?
                .map(|key| super::mysql::fixed::<32>(key, &what).map(LinkKey))
                .transpose()
        })
    }

    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn, self.own) })
    }

    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        check_salt(salt)?;
        on_conn!(self, |conn| {
            // CMaNGOS's AccountMgr::CreateAccount writes these columns.
            let inserted = conn.exec_drop(
                "INSERT INTO account (username, v, s, joindate) VALUES (?, ?, ?, NOW())",
                (name.as_str(), to_bn_hex(&verifier.0), to_bn_hex(&salt.0)),
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
        check_salt(salt)?;
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            tx.exec_drop(
                "UPDATE account SET v = ?, s = ?, sessionkey = '' WHERE id = ?",
                (to_bn_hex(&verifier.0), to_bn_hex(&salt.0), id.0),
            )?;
            forget_ticket(self.own, &mut tx, id)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            // The realmd rows CMaNGOS's AccountMgr::DeleteAccount removes, and ours; the audit
            // and account_logons stay.
            for sql in [
                "DELETE FROM account WHERE id = ?",
                "DELETE FROM account_banned WHERE account_id = ?",
                "DELETE FROM realmcharacters WHERE acctid = ?",
            ] {
                tx.exec_drop(sql, (id.0,))?;
            }
            forget_account(self.own, &mut tx, id)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        on_conn!(self, |conn| {
            let rows: Vec<Row> = conn.exec(
                self.own.pick(
                    concat!(
                        cm_summary_head!(),
                        ", COALESCE(a.token, '') <> '' OR EXISTS (SELECT 1 FROM gatehouse_totp g ",
                        "WHERE g.account_id = a.id), ",
                        "IF(a.locked = 1, a.lockedIp, NULL) FROM account a ORDER BY a.id"
                    ),
                    concat!(
                        cm_summary_head!(),
                        ", COALESCE(a.token, '') <> '', ",
                        "IF(a.locked = 1, a.lockedIp, NULL) FROM account a ORDER BY a.id"
                    ),
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
            insert_ban(conn, id.0, unix_now(), until, reason)?;
            Ok(())
        })
    }

    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            conn.exec_drop(
                "UPDATE account_banned SET active = 0, unbanned_at = ?, unbanned_by = ?
                 WHERE account_id = ? AND active = 1",
                (unix_now(), BANNED_BY, id.0),
            )?;
            mangos_family::lift_lockout(self.own, conn, id)?;
            Ok(())
        })
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
        if changes.local.is_some() {
            return Err(NO_LOCAL_ADDRESS);
        }
        let builds = changes
            .builds
            .as_deref()
            .map(realm_builds_value)
            .transpose()?;
        on_conn!(self, |conn| {
            mangos_family::update_realm(
                conn,
                realm,
                changes,
                "realmflags",
                builds.clone().into_iter().collect(),
            )
        })
    }

    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::remove_realm(self.own, conn, realm)
        })
    }

    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn, self.own) })
    }

    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_realm_link_key(self.own, conn, realm, key)
        })
    }

    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError> {
        let ip = banned_ip_text(net)?;
        on_conn!(self, |conn| {
            mangos_family::ban_ip(conn, &IP_BANNED, &ip, until, reason)
        })
    }

    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError> {
        let ip = banned_ip_text(net)?;
        on_conn!(self, |conn| {
            conn.exec_drop("DELETE FROM ip_banned WHERE ip = ?", (ip.as_str(),))?;
            Ok(conn.affected_rows() > 0)
        })
    }

    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::ip_bans(conn, &IP_BANNED, now)
        })
    }

    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_console_password(self.own, conn, hash)
        })
    }

    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::console_password(self.own, conn)
        })
    }

    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            conn.exec_drop("UPDATE account SET gmlevel = ? WHERE id = ?", (level, id.0))?;
            Ok(())
        })
    }

    /// As CMaNGOS's `.account lock on`: `locked = 1` and `lockedIp` the address, here the last
    /// logon's (`account_logons`), which realmd compares with the peer's.
    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            match setting {
                IpLockSetting::On => {
                    let row: Option<Row> = tx.exec_first(
                        "SELECT ip FROM account_logons WHERE accountId = ? AND ip <> ''
                         ORDER BY id DESC LIMIT 1",
                        (id.0,),
                    )?;
                    let last = row
                        .map(|row| text(&row, 0, &|| format!("account {name}: last logon ip")))
                        .transpose()?
                        .ok_or(StoreError::NoLastAddress(*name))?;
                    tx.exec_drop(
                        "UPDATE account SET locked = 1, lockedIp = ? WHERE id = ?",
                        (last.as_str(), id.0),
                    )?;
                    tx.commit()?;
                    Ok(Some(last))
                }
                IpLockSetting::Off => {
                    tx.exec_drop("UPDATE account SET locked = 0 WHERE id = ?", (id.0,))?;
                    tx.commit()?;
                    Ok(None)
                }
            }
        })
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_totp_secret(self.own, conn, name, secret)
        })
    }

    fn set_pin(&mut self, name: &AccountName, pin: Option<&SealedPin>) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_pin(self.own, conn, name, pin)
        })
    }

    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsWritten, StoreError> {
        on_conn!(self, |conn| {
            super::mysql::write_character_counts(conn, &mangos_family::COUNT_TABLES, realm, counts)
        })
    }

    fn query_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::query_audit(self.own, conn, query)
        })
    }

    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::recent_audit(self.own, conn, limit)
        })
    }

    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::prune_audit(self.own, conn, before)
        })
    }

    fn features_off(&self) -> &'static [Feature] {
        self.own.features_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base32_twenty_byte_secrets() {
        // RFC 6238's secret "12345678901234567890" in base32.
        let secret = token_secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(&secret, b"12345678901234567890");
        assert_eq!(
            token_secret("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            secret
        );
        assert!(token_secret("not base32!").is_err());
        assert!(token_secret("GEZDGNBVGY3TQOJQ").is_err());
    }

    #[test]
    fn builds_are_space_separated_and_ip_bans_single_addresses() {
        assert_eq!(
            parse_builds(1, "5875 8606  12340").unwrap(),
            vec![Build(5875), Build(8606), Build(12340)]
        );
        assert!(parse_builds(1, "").unwrap().is_empty());
        assert!(parse_builds(1, "x").is_err());
        assert_eq!(
            banned_ip_text(&"10.1.2.3/32".parse().unwrap()).unwrap(),
            "10.1.2.3"
        );
        assert!(banned_ip_text(&"10.1.2.0/24".parse().unwrap()).is_err());
        assert_eq!(logon_ip("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn salts_that_cmangos_cannot_send_are_refused() {
        assert!(check_salt(&Salt([1; 32])).is_ok());
        let mut salt = [1; 32];
        salt[31] = 0;
        assert!(check_salt(&Salt(salt)).is_err());
    }
}
