//! What AzerothCore's and CMaNGOS's auth databases have in common, for the two stores that
//! sit on them: the tables they share in shape (`account` ids, `realmlist`,
//! `realmcharacters`), how a foreign authenticator secret is made usable, and gatehouse's own
//! `gatehouse_` tables beside them (audit, realm link keys, settings, gatehouse's
//! authenticator secrets), so each operation on those is written once for both schemas.
//!
//! The `gatehouse_` tables are there only after `gatehouse db init` ([`OwnTables`]); every
//! operation here that needs them says what it does without: reads find nothing, the login
//! path's writes (audit, failure times) are skipped, and operator commands that would store
//! something there fail with [`StoreError::NeedsOwnTables`].

use mysql::prelude::Queryable;
use mysql::{Conn, Row, TxOpts};

use super::lockout::{self, Counted, LockScope, LockoutRow};
use super::mysql::lockout as lockout_rows;
use super::mysql::{audit_from_row, exists, int, raw_text, text, u32_col, u8_col};
use super::rows::{keep_good, BadRow};
use super::{
    ip_text, unix_now, AuditQuery, AuditRow, CharacterCount, FailureRecorded, Feature,
    LockoutStanding, LoginAttempt, RealmChanges, RealmRef, StoreError,
};
use crate::account::AccountName;
use crate::pin_grid::SealedPin;
use crate::totp::{SealedTotpSecret, TotpKey, TotpSecret, TotpStep, SEALED_LEN, SECRET_LEN};
use crate::values::{AccountId, IpBan, LinkKey, LockoutPolicy, RealmId};

use std::net::IpAddr;

use ipnet::IpNet;

/// Whether gatehouse's own `gatehouse_` tables are in a foreign schema's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnTables {
    Present,
    /// Not created (`gatehouse db init` does): [`Feature::NEED_OWN_TABLES`] are off.
    Absent,
}

impl OwnTables {
    /// `Ok` when the tables `feature` needs are there.
    pub(super) fn require(self, feature: Feature) -> Result<(), StoreError> {
        match self {
            OwnTables::Present => Ok(()),
            OwnTables::Absent => Err(StoreError::NeedsOwnTables(feature)),
        }
    }

    pub(super) fn features_off(self) -> &'static [Feature] {
        match self {
            OwnTables::Present => &[],
            OwnTables::Absent => Feature::NEED_OWN_TABLES,
        }
    }

    /// One of two statements: the one that reads the `gatehouse_` tables, or the one that
    /// reads only the foreign schema's.
    pub(super) fn pick(self, with: &'static str, without: &'static str) -> &'static str {
        match self {
            OwnTables::Present => with,
            OwnTables::Absent => without,
        }
    }
}

/// A foreign schema's authenticator secret (`raw`, or why there is none usable) as the login
/// path takes it: sealed under gatehouse's `totp.key`, else a second factor that can never be
/// satisfied, with a log line saying why, so the account never logs in on its password alone.
pub(super) fn seal_foreign_totp(
    name: &AccountName,
    id: i64,
    raw: Result<[u8; SECRET_LEN], String>,
    key: Option<&TotpKey>,
    whose: &str,
) -> Result<SealedTotpSecret, StoreError> {
    let why = match (raw, key) {
        (Ok(raw), Some(key)) => {
            let secret = TotpSecret::from_bytes(raw);
            return crate::totp::seal(key, AccountId(id), &secret)
                .map_err(|e| StoreError::corrupt(format!("account #{id}: authenticator: {e}")));
        }
        (Ok(_), None) => "no totp.key is configured to hold it".to_owned(),
        (Err(why), _) => why,
    };
    log::warn!(
        "store: account {name} has {whose} that gatehouse cannot check: {why}; its logons are \
         refused"
    );
    SealedTotpSecret::from_bytes(&[0u8; SEALED_LEN])
        .map_err(|e| StoreError::corrupt(format!("unusable authenticator: {e}")))
}

/// The attempt's audit row; nothing without the audit table.
pub(super) fn insert_audit(
    own: OwnTables,
    q: &mut impl Queryable,
    attempt: &LoginAttempt,
) -> Result<(), mysql::Error> {
    if own == OwnTables::Absent {
        return Ok(());
    }
    q.exec_drop(
        "INSERT INTO gatehouse_login_audit (at, account_id, account_name, peer_ip, build, outcome)
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

pub(super) fn character_counts(
    q: &mut impl Queryable,
    account: AccountId,
) -> Result<Vec<CharacterCount>, StoreError> {
    let rows: Vec<Row> = q.exec(
        "SELECT realmid, numchars FROM realmcharacters WHERE acctid = ? ORDER BY realmid",
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

pub(super) fn account_id(
    q: &mut impl Queryable,
    name: &AccountName,
) -> Result<AccountId, StoreError> {
    let row: Option<Row> = q.exec_first(
        "SELECT id FROM account WHERE username = ?",
        (name.as_str(),),
    )?;
    match row {
        Some(row) => Ok(AccountId(int(&row, 0, &|| format!("account {name}: id"))?)),
        None => Err(StoreError::NoSuchAccount(*name)),
    }
}

pub(super) fn realm_id(q: &mut impl Queryable, realm: &RealmRef) -> Result<RealmId, StoreError> {
    let row: Option<Row> = match realm {
        RealmRef::Id(id) => q.exec_first("SELECT id FROM realmlist WHERE id = ?", (id.0,))?,
        RealmRef::Name(name) => {
            q.exec_first("SELECT id FROM realmlist WHERE name = ?", (name.as_str(),))?
        }
    };
    match row {
        Some(row) => Ok(RealmId(u32_col(&row, 0, &|| "realmlist.id".to_owned())?)),
        None => Err(StoreError::NoSuchRealm(realm.to_string())),
    }
}

pub(super) fn next_realm_id(q: &mut impl Queryable) -> Result<RealmId, StoreError> {
    let ids: Vec<Row> = q.exec("SELECT id FROM realmlist ORDER BY id FOR UPDATE", ())?;
    let ids = ids
        .iter()
        .map(|row| int(row, 0, &|| "realmlist.id".to_owned()))
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

/// The id a new realm gets: the next free one, or the one the operator chose if it is free.
pub(super) fn pick_realm_id(
    q: &mut impl Queryable,
    chosen: Option<RealmId>,
) -> Result<RealmId, StoreError> {
    let Some(id) = chosen else {
        return next_realm_id(q);
    };
    super::check_chosen_realm_id(id)?;
    if exists(
        q,
        "SELECT 1 FROM realmlist WHERE id = ? FOR UPDATE",
        i64::from(id.0),
    )? {
        return Err(StoreError::RealmIdTaken(id));
    }
    Ok(id)
}

/// Changes the given fields of a `realmlist` row; `flag_column` is the schema's name for the
/// flags, `extra` the schema's own columns and their values (the build column when the builds
/// change, AzerothCore's local address columns).
pub(super) fn update_realm(
    conn: &mut Conn,
    realm: &RealmRef,
    changes: &RealmChanges,
    flag_column: &str,
    extra: Vec<(&'static str, mysql::Value)>,
) -> Result<RealmId, StoreError> {
    if changes.is_empty() {
        return Err(StoreError::Invalid(
            "a realm edit changes at least one field",
        ));
    }
    let address = changes.address.as_deref().map(split_address).transpose()?;
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = realm_id(&mut tx, realm)?;
    let mut sets: Vec<(&str, mysql::Value)> = Vec::new();
    if let Some(name) = &changes.name {
        sets.push(("name", name.as_str().into()));
    }
    if let Some((host, port)) = address {
        sets.push(("address", host.into()));
        sets.push(("port", port.into()));
    }
    if let Some(v) = changes.realm_type {
        sets.push(("icon", v.into()));
    }
    if let Some(v) = changes.flags {
        sets.push((flag_column, v.into()));
    }
    if let Some(v) = changes.timezone {
        sets.push(("timezone", v.into()));
    }
    if let Some(v) = changes.population {
        sets.push(("population", v.into()));
    }
    if let Some(v) = changes.allowed_level {
        sets.push(("allowedSecurityLevel", v.into()));
    }
    sets.extend(extra);
    for (column, value) in sets {
        let updated = tx.exec_drop(
            format!("UPDATE realmlist SET {column} = ? WHERE id = ?"),
            (value, id.0),
        );
        match updated {
            Err(e) if super::mysql::is_duplicate(&e) => {
                return Err(StoreError::DuplicateRealm(
                    changes.name.clone().unwrap_or_default(),
                ))
            }
            other => other?,
        }
    }
    tx.commit()?;
    Ok(id)
}

/// Where both schemas keep character counts: `realmcharacters (realmid, acctid, numchars)`,
/// keyed on (realmid, acctid), which the world server writes too. An upsert of one realm's
/// rows leaves the other realms' alone.
pub(super) const COUNT_TABLES: super::mysql::CountTables = super::mysql::CountTables {
    account_exists: "SELECT 1 FROM account WHERE id = ?",
    realm_exists: "SELECT 1 FROM realmlist WHERE id = ?",
    upsert: "INSERT INTO realmcharacters (realmid, acctid, numchars) VALUES (?, ?, ?)
             ON DUPLICATE KEY UPDATE numchars = VALUES(numchars)",
};

/// `gatehouse audit` on `gatehouse_login_audit`.
pub(super) fn query_audit(
    own: OwnTables,
    conn: &mut Conn,
    query: &AuditQuery,
) -> Result<Vec<AuditRow>, StoreError> {
    own.require(Feature::LoginAudit)?;
    super::mysql::query_audit_table(conn, "gatehouse_login_audit", query)
}

/// `realmlist` keeps host and port apart.
pub(super) fn split_address(address: &str) -> Result<(&str, u16), StoreError> {
    address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse().ok()?)))
        .filter(|(host, _)| !host.is_empty())
        .ok_or(StoreError::Invalid("a realm address is HOST:PORT"))
}

/// `(bandate, unbandate)` as AzerothCore writes them: equal = permanent. A timed ban that has
/// already ended gets a bandate before its unbandate, so it never reads as permanent.
pub(super) fn ban_dates(now: i64, until: Option<i64>) -> (i64, i64) {
    match until {
        None => (now, now),
        Some(until) => (now.min(until - 1).max(0), until.max(1)),
    }
}

pub(super) fn set_realm_link_key(
    own: OwnTables,
    conn: &mut Conn,
    realm: &RealmRef,
    key: &LinkKey,
) -> Result<(), StoreError> {
    own.require(Feature::RealmLink)?;
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = realm_id(&mut tx, realm)?;
    tx.exec_drop(
        "INSERT INTO gatehouse_realm_keys (realm_id, link_key) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE link_key = VALUES(link_key)",
        (id.0, &key.0[..]),
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn set_console_password(
    own: OwnTables,
    conn: &mut Conn,
    hash: &str,
) -> Result<(), StoreError> {
    own.require(Feature::ConsolePassword)?;
    conn.exec_drop(
        "INSERT INTO gatehouse_settings (`key`, value) VALUES ('console_password', ?)
         ON DUPLICATE KEY UPDATE value = VALUES(value)",
        (hash,),
    )?;
    Ok(())
}

/// `None` without the settings table: no console password is set.
pub(super) fn console_password(
    own: OwnTables,
    conn: &mut Conn,
) -> Result<Option<String>, StoreError> {
    if own == OwnTables::Absent {
        return Ok(None);
    }
    let row: Option<Row> = conn.exec_first(
        "SELECT value FROM gatehouse_settings WHERE `key` = 'console_password'",
        (),
    )?;
    row.map(|row| {
        text(&row, 0, &|| {
            "gatehouse_settings.console_password".to_owned()
        })
    })
    .transpose()
}

pub(super) fn set_pin(
    own: OwnTables,
    conn: &mut Conn,
    name: &AccountName,
    pin: Option<&SealedPin>,
) -> Result<(), StoreError> {
    own.require(Feature::OwnAuthenticators)?;
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = account_id(&mut tx, name)?;
    match pin {
        Some(pin) => tx.exec_drop(
            "INSERT INTO gatehouse_pins (account_id, pin) VALUES (?, ?)
             ON DUPLICATE KEY UPDATE pin = VALUES(pin)",
            (id.0, &pin.as_bytes()[..]),
        )?,
        None => tx.exec_drop("DELETE FROM gatehouse_pins WHERE account_id = ?", (id.0,))?,
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn set_totp_secret(
    own: OwnTables,
    conn: &mut Conn,
    name: &AccountName,
    secret: Option<&SealedTotpSecret>,
) -> Result<(), StoreError> {
    own.require(Feature::OwnAuthenticators)?;
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = account_id(&mut tx, name)?;
    match secret {
        Some(secret) => tx.exec_drop(
            "INSERT INTO gatehouse_totp (account_id, secret) VALUES (?, ?)
             ON DUPLICATE KEY UPDATE secret = VALUES(secret)",
            (id.0, &secret.as_bytes()[..]),
        )?,
        None => tx.exec_drop("DELETE FROM gatehouse_totp WHERE account_id = ?", (id.0,))?,
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn recent_audit(
    own: OwnTables,
    conn: &mut Conn,
    limit: u32,
) -> Result<Vec<AuditRow>, StoreError> {
    own.require(Feature::LoginAudit)?;
    let rows: Vec<Row> = conn.exec(
        "SELECT id, at, account_id, account_name, peer_ip, build, outcome
         FROM gatehouse_login_audit ORDER BY id DESC LIMIT ?",
        (limit,),
    )?;
    rows.iter().map(audit_from_row).collect()
}

/// Prunes gatehouse's audit table; without it there is nothing to prune.
pub(super) fn prune_audit(own: OwnTables, conn: &mut Conn, before: i64) -> Result<u64, StoreError> {
    match own {
        OwnTables::Present => {
            let gone = super::mysql::prune_audit_table(conn, "gatehouse_login_audit", before)?;
            lockout_rows::BESIDE.prune(conn, before)?;
            Ok(gone)
        }
        OwnTables::Absent => Ok(0),
    }
}

/// The columns of an `ip_banned` table: both schemas keep one address per row, a ban date and
/// an end date (equal = permanent), under their own names.
pub(super) struct IpBannedColumns {
    pub banned_at: &'static str,
    pub until: &'static str,
    pub banned_by: &'static str,
    pub reason: &'static str,
}

/// Who gatehouse's own bans name as their author.
pub(super) const BANNED_BY: &str = "gatehouse";

pub(super) fn ban_ip(
    conn: &mut Conn,
    cols: &IpBannedColumns,
    ip: &str,
    until: Option<i64>,
    reason: &str,
) -> Result<(), StoreError> {
    let (banned_at, ends) = ban_dates(unix_now(), until);
    let IpBannedColumns {
        banned_at: b,
        until: u,
        banned_by: by,
        reason: r,
    } = cols;
    conn.exec_drop(
        format!(
            "INSERT INTO ip_banned (ip, {b}, {u}, {by}, {r}) VALUES (?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE {u} = VALUES({u}), {r} = VALUES({r})"
        ),
        (ip, banned_at, ends, BANNED_BY, reason),
    )?;
    Ok(())
}

/// The IP bans in force at `now`.
pub(super) fn ip_bans(
    conn: &mut Conn,
    cols: &IpBannedColumns,
    now: i64,
) -> Result<Vec<IpBan>, StoreError> {
    let IpBannedColumns {
        banned_at: b,
        until: u,
        ..
    } = cols;
    let rows: Vec<Row> = conn.exec(
        format!("SELECT ip, {b}, {u} FROM ip_banned WHERE {u} = {b} OR {u} > ?"),
        (now,),
    )?;
    // Written by another tool too: one bad row must not lift every other ban.
    let ban = |row: &Row| -> Result<IpBan, BadRow> {
        let key = || format!("ip {}", raw_text(row, 0));
        let ip = text(row, 0, &|| "ip".to_owned()).map_err(|e| BadRow::from_error(key(), e))?;
        let addr = ip
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| BadRow::new(key(), "not an IP address"))?;
        let banned_at =
            int(row, 1, &|| (*b).to_owned()).map_err(|e| BadRow::from_error(key(), e))?;
        let ends = int(row, 2, &|| (*u).to_owned()).map_err(|e| BadRow::from_error(key(), e))?;
        Ok(IpBan {
            net: IpNet::from(addr),
            until: (ends != banned_at).then_some(ends),
        })
    };
    Ok(keep_good("ip_banned", rows.iter().map(ban)))
}

/// Removes a realm with its character counts (as in gatehouse's own schema) and link key.
pub(super) fn remove_realm(
    own: OwnTables,
    conn: &mut Conn,
    realm: &RealmRef,
) -> Result<(), StoreError> {
    let mut tx = conn.start_transaction(TxOpts::default())?;
    let id = realm_id(&mut tx, realm)?;
    tx.exec_drop("DELETE FROM realmlist WHERE id = ?", (id.0,))?;
    tx.exec_drop("DELETE FROM realmcharacters WHERE realmid = ?", (id.0,))?;
    if own == OwnTables::Present {
        tx.exec_drop(
            "DELETE FROM gatehouse_realm_keys WHERE realm_id = ?",
            (id.0,),
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Marks the account's ticket in gatehouse's tables taken by `realm` (the last step of a take,
/// after the locking read and the digest check).
pub(super) fn mark_taken(
    tx: &mut impl Queryable,
    account: AccountId,
    realm: RealmId,
) -> Result<(), mysql::Error> {
    tx.exec_drop(
        "UPDATE gatehouse_sessions SET taken_by = ?
         WHERE account_id = ? AND taken_by IS NULL",
        (realm.0, account.0),
    )
}

/// Forgets an account's session ticket in gatehouse's tables (a new password voids it).
pub(super) fn forget_ticket(
    own: OwnTables,
    q: &mut impl Queryable,
    account: AccountId,
) -> Result<(), mysql::Error> {
    if own == OwnTables::Present {
        q.exec_drop(
            "DELETE FROM gatehouse_sessions WHERE account_id = ?",
            (account.0,),
        )?;
    }
    Ok(())
}

/// Forgets what gatehouse's tables hold about a deleted account (its audit rows stay).
pub(super) fn forget_account(
    own: OwnTables,
    q: &mut impl Queryable,
    account: AccountId,
) -> Result<(), mysql::Error> {
    if own == OwnTables::Present {
        for sql in [
            "DELETE FROM gatehouse_sessions WHERE account_id = ?",
            "DELETE FROM gatehouse_login_addresses WHERE account_id = ?",
            "DELETE FROM gatehouse_totp_steps WHERE account_id = ?",
            "DELETE FROM gatehouse_totp WHERE account_id = ?",
            "DELETE FROM gatehouse_pins WHERE account_id = ?",
        ] {
            q.exec_drop(sql, (account.0,))?;
        }
    }
    Ok(())
}

/// Whether the account lockout keeps `account`'s logons from `peer` out: without
/// gatehouse's tables a lock is a ban row (the account's standing), so this is clear.
pub(super) fn lockout_standing(
    own: OwnTables,
    q: &mut impl Queryable,
    account: AccountId,
    peer: IpAddr,
    now: i64,
) -> Result<LockoutStanding, StoreError> {
    match own {
        OwnTables::Present => lockout_rows::BESIDE.standing(q, account, peer, now),
        OwnTables::Absent => Ok(LockoutStanding::Clear),
    }
}

/// Counts a wrong credential of `account` ([`Store::record_login_failure`]): with gatehouse's
/// tables per address ([`lockout`](super::lockout)), `failed_logins` growing by one for the
/// operator; without them as the schema's own server counts, in `failed_logins` alone (no
/// decay), and a lock is a ban row that `ban` writes (with the lock's end) into the schema's
/// own ban table.
///
/// [`Store::record_login_failure`]: super::Store::record_login_failure
pub(super) fn count_failure<T: lockout_rows::Changed>(
    own: OwnTables,
    tx: &mut T,
    account: AccountId,
    attempt: &LoginAttempt,
    policy: &LockoutPolicy,
    ban: impl FnOnce(&mut T, i64) -> Result<(), StoreError>,
) -> Result<FailureRecorded, StoreError> {
    if own == OwnTables::Present {
        // No row when the account was deleted since it was loaded: nothing to count.
        tx.exec_drop(
            "UPDATE account SET failed_logins = failed_logins + 1 WHERE id = ?",
            (account.0,),
        )?;
        if tx.changed() == 0 {
            return Ok(FailureRecorded::Audited);
        }
        return lockout_rows::BESIDE.count_failure(tx, account, attempt, policy);
    }
    let row: Option<Row> = tx.exec_first(
        "SELECT failed_logins FROM account WHERE id = ? FOR UPDATE",
        (account.0,),
    )?;
    let Some(row) = row else {
        return Ok(FailureRecorded::Audited);
    };
    let failures = int(&row, 0, &|| format!("account {account}: failed_logins"))?;
    let stored = LockoutRow {
        failures,
        ..LockoutRow::default()
    };
    let (counted_row, counted) = lockout::count(stored, policy, attempt.at);
    tx.exec_drop(
        "UPDATE account SET failed_logins = ? WHERE id = ?",
        (counted_row.failures, account.0),
    )?;
    if let Counted::Locked { until } = counted {
        ban(tx, until)?;
    }
    Ok(counted.recorded(LockScope::EveryAddress))
}

/// A good logon's part in gatehouse's tables: the address becomes known, the token's step is
/// used up ([`StoreError::TokenReused`] if it was used before). Without them, nothing.
pub(super) fn note_success(
    own: OwnTables,
    tx: &mut impl lockout_rows::Changed,
    account: AccountId,
    attempt: &LoginAttempt,
    totp_step: Option<TotpStep>,
) -> Result<(), StoreError> {
    match own {
        OwnTables::Present => lockout_rows::BESIDE.note_success(tx, account, attempt, totp_step),
        OwnTables::Absent => Ok(()),
    }
}

/// [`Store::use_totp_step`](super::Store::use_totp_step): without gatehouse's tables there is
/// nowhere to remember a step, and it is accepted.
pub(super) fn use_totp_step(
    own: OwnTables,
    conn: &mut Conn,
    account: AccountId,
    step: TotpStep,
) -> Result<(), StoreError> {
    if own == OwnTables::Absent {
        return Ok(());
    }
    let mut tx = conn.start_transaction(TxOpts::default())?;
    lockout_rows::BESIDE.use_step(&mut tx, account, step)?;
    tx.commit()?;
    Ok(())
}

/// `unban`'s part in gatehouse's tables: every lockout of the account lifted.
pub(super) fn lift_lockout(
    own: OwnTables,
    q: &mut impl Queryable,
    account: AccountId,
) -> Result<(), StoreError> {
    match own {
        OwnTables::Present => lockout_rows::BESIDE.lift(q, account),
        OwnTables::Absent => Ok(()),
    }
}

/// The realm's link key (`NULL` when it has none, or without gatehouse's tables); `?` is the
/// realm id, and no row means no such realm.
pub(super) fn link_key_sql(own: OwnTables) -> &'static str {
    own.pick(
        "SELECT k.link_key FROM realmlist r
         LEFT JOIN gatehouse_realm_keys k ON k.realm_id = r.id WHERE r.id = ?",
        "SELECT NULL FROM realmlist r WHERE r.id = ?",
    )
}

/// A newly added realm's link key: whatever a removed realm of that id left goes. Without
/// gatehouse's tables a realm can only be static.
pub(super) fn replace_link_key(
    own: OwnTables,
    q: &mut impl Queryable,
    id: RealmId,
    key: Option<&LinkKey>,
) -> Result<(), StoreError> {
    if own == OwnTables::Absent {
        return match key {
            Some(_) => Err(StoreError::NeedsOwnTables(Feature::RealmLink)),
            None => Ok(()),
        };
    }
    q.exec_drop(
        "DELETE FROM gatehouse_realm_keys WHERE realm_id = ?",
        (id.0,),
    )?;
    if let Some(key) = key {
        q.exec_drop(
            "INSERT INTO gatehouse_realm_keys (realm_id, link_key) VALUES (?, ?)",
            (id.0, &key.0[..]),
        )?;
    }
    Ok(())
}
