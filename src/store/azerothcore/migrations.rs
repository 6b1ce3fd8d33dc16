//! gatehouse's own tables inside an AzerothCore auth database, for what AzerothCore has no
//! place for: the login audit, session tickets' issue/expiry/taken state (the key itself is
//! `account.session_key`), realm link keys, gatehouse's settings and its sealed authenticator secrets; from
//! version 2 the account lockout per address and the authenticator steps used.
//!
//! Every table is `gatehouse_`-prefixed and created with `IF NOT EXISTS`, only by `gatehouse db
//! init` ([`init`]): opening a store only looks ([`state`]), and without them the store serves
//! logons with [`Feature::NEED_OWN_TABLES`](super::super::Feature::NEED_OWN_TABLES) off.
//! AzerothCore's own tables are never altered or dropped. The statements are idempotent, so
//! two operators running `db init` at once need no lock; the version row says which set is in
//! place. A database at an older version counts as without them until `db init` adds what is
//! new (the statements only ever create tables, so running them again is harmless).

use mysql::prelude::Queryable;
use mysql::Conn;

use super::super::mangos_family::OwnTables;
use super::super::StoreError;

/// The version of the set below; a database at this version is left alone.
pub const VERSION: u32 = 3;

const STATEMENTS: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS gatehouse_ac_schema (
    version     INT          NOT NULL PRIMARY KEY,
    applied_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // The ticket of account.session_key: valid while session_key equals the account's.
    r#"CREATE TABLE IF NOT EXISTS gatehouse_sessions (
    account_id  INT UNSIGNED NOT NULL PRIMARY KEY,
    session_key BINARY(40)   NOT NULL,
    issued_at   BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    taken_by    INT          NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
];

/// The tables every foreign schema's store keeps the same way (the CMaNGOS store shares them).
pub(in crate::store) const SHARED: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS gatehouse_login_audit (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at            BIGINT      NOT NULL,
    account_id    BIGINT      NULL,
    account_name  VARCHAR(64) NOT NULL,
    peer_ip       VARCHAR(64) NOT NULL,
    build         INT         NOT NULL,
    outcome       VARCHAR(64) NOT NULL,
    KEY gatehouse_login_audit_by_account (account_id, at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    r#"CREATE TABLE IF NOT EXISTS gatehouse_realm_keys (
    realm_id  INT UNSIGNED  NOT NULL PRIMARY KEY,
    link_key  VARBINARY(32) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    r#"CREATE TABLE IF NOT EXISTS gatehouse_settings (
    `key`   VARCHAR(64) NOT NULL PRIMARY KEY,
    value   TEXT        NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // gatehouse's own sealed authenticator secrets (not AzerothCore's account.totp_secret).
    r#"CREATE TABLE IF NOT EXISTS gatehouse_totp (
    account_id  INT UNSIGNED  NOT NULL PRIMARY KEY,
    secret      VARBINARY(60) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // Version 2. The account lockout per address (crate::store::lockout): one row per
    // address that has logged into the account, one ('*') for every other address.
    r#"CREATE TABLE IF NOT EXISTS gatehouse_login_addresses (
    account_id     INT UNSIGNED NOT NULL,
    address        VARCHAR(64)  NOT NULL,
    failures       INT          NOT NULL DEFAULT 0,
    last_failed_at BIGINT       NULL,
    locked_until   BIGINT       NULL,
    last_login_at  BIGINT       NULL,
    PRIMARY KEY (account_id, address)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // Version 2. The last authenticator time step each account used (RFC 6238 §5.2).
    r#"CREATE TABLE IF NOT EXISTS gatehouse_totp_steps (
    account_id  INT UNSIGNED NOT NULL PRIMARY KEY,
    last_step   BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // Version 3. Fixed PINs for the PIN grid, sealed under gatehouse's totp.key
    // (crate::pin_grid; vMaNGOS keeps its own elsewhere).
    r#"CREATE TABLE IF NOT EXISTS gatehouse_pins (
    account_id  INT UNSIGNED  NOT NULL PRIMARY KEY,
    pin         VARBINARY(51) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
];

/// MySQL's "table doesn't exist".
const ER_NO_SUCH_TABLE: u16 = 1146;

/// Whether the gatehouse_ tables are in place, at this version.
pub fn state(conn: &mut Conn) -> Result<OwnTables, StoreError> {
    state_of(conn, "gatehouse_ac_schema", VERSION)
}

/// Creates the gatehouse_ tables unless the version row says they are there; `true` if it
/// created them.
pub fn init(conn: &mut Conn) -> Result<bool, StoreError> {
    init_set(
        conn,
        "gatehouse_ac_schema",
        VERSION,
        &[STATEMENTS, SHARED],
        "AzerothCore's",
    )
}

/// The version `version_table` records, 0 when there is no such table.
fn found_version(conn: &mut Conn, version_table: &str) -> Result<i64, mysql::Error> {
    match conn.query_first::<Option<i64>, _>(format!("SELECT MAX(version) FROM {version_table}")) {
        Ok(v) => Ok(v.flatten().unwrap_or(0)),
        Err(mysql::Error::MySqlError(e)) if e.code == ER_NO_SUCH_TABLE => Ok(0),
        Err(e) => Err(e),
    }
}

/// Present only when `version_table` says version `version` is in place; an older set (a
/// future gatehouse's upgrade path) counts as absent until `db init` brings it up to date.
pub(in crate::store) fn state_of(
    conn: &mut Conn,
    version_table: &str,
    version: u32,
) -> Result<OwnTables, StoreError> {
    let found = found_version(conn, version_table)?;
    if found > i64::from(version) {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: version,
        });
    }
    Ok(if found == i64::from(version) {
        OwnTables::Present
    } else {
        OwnTables::Absent
    })
}

/// Creates one store's gatehouse_ tables (`sets`, the first creating `version_table`) unless
/// `version_table` says version `version` is in place; `true` if it created them.
pub(in crate::store) fn init_set(
    conn: &mut Conn,
    version_table: &str,
    version: u32,
    sets: &[&[&str]],
    beside: &str,
) -> Result<bool, StoreError> {
    let failed = |source: mysql::Error| StoreError::Migration {
        version,
        source: source.into(),
    };
    if state_of(conn, version_table, version)? == OwnTables::Present {
        return Ok(false);
    }
    log::info!("store: creating gatehouse's own tables (gatehouse_*) beside {beside}");
    for sql in sets.iter().flat_map(|set| set.iter()) {
        conn.query_drop(sql).map_err(failed)?;
    }
    conn.exec_drop(
        format!("INSERT IGNORE INTO {version_table} (version, applied_at) VALUES (?, ?)"),
        (version, super::super::unix_now()),
    )
    .map_err(failed)?;
    Ok(true)
}
