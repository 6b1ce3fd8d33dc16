//! Versioned schema migrations for the MySQL/MariaDB store, run by [`super::MysqlStore::open`].
//!
//! The schema version is the highest row of `gatehouse_schema`. MySQL commits DDL on its own,
//! so a step cannot roll back with the version row: instead every statement of a step can run
//! again (`IF NOT EXISTS`; an `ADD COLUMN` that ran before is passed over), and the whole run holds a named server lock (`GET_LOCK`) so that
//! several connections or gatehouse nodes opening one database at once apply each step once.
//! Steps are append-only: never edit a released one, add the next.
//!
//! Version 1 is the SQLite schema at its version 4 (same tables and columns), in MySQL types;
//! version 2 is SQLite's version 5, 3 its 6 (realm visibility and local address), 4 its 7
//! (account IP lock), 5 its 8 (fixed PINs).

use mysql::prelude::Queryable;
use mysql::Conn;

use super::super::{BackendError, BackendErrorKind, StoreError};

/// One schema step: applying it moves the database from `version - 1` to `version`.
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    /// Run one by one (the driver sends one statement per query).
    pub statements: &'static [&'static str],
}

/// Every step, in order; versions are 1, 2, 3, … with no gaps.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts, bans, realms, character counts, login audit, session tickets, \
                  realm link keys, IP bans, settings, authenticator secrets",
        statements: &[
            // Upper-case names as the client hashes them, compared byte for byte.
            r#"CREATE TABLE IF NOT EXISTS accounts (
    id                 BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name               VARCHAR(32)   NOT NULL,
    salt               VARBINARY(32) NOT NULL CHECK (LENGTH(salt) = 32),
    verifier           VARBINARY(32) NOT NULL CHECK (LENGTH(verifier) = 32),
    created_at         BIGINT        NOT NULL,
    last_login_at      BIGINT        NULL,
    last_login_ip      VARCHAR(64)   NULL,
    failed_logins      INT           NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    last_failed_at     BIGINT        NULL,
    session_key        VARBINARY(40) NULL CHECK (session_key IS NULL OR LENGTH(session_key) = 40),
    session_key_at     BIGINT        NULL,
    security_level     INT           NOT NULL DEFAULT 0 CHECK (security_level BETWEEN 0 AND 255),
    -- A ticket is takeable while session_key IS NOT NULL, session_expires_at > now and
    -- session_taken_by IS NULL; taking it is one conditional UPDATE.
    session_expires_at BIGINT        NULL,
    -- No foreign key: removing a realm must not make its taken tickets takeable again.
    session_taken_by   INT           NULL
        CHECK (session_taken_by IS NULL OR session_taken_by BETWEEN 1 AND 255),
    totp_secret        VARBINARY(60) NULL CHECK (totp_secret IS NULL OR LENGTH(totp_secret) = 60),
    UNIQUE KEY accounts_by_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            r#"CREATE TABLE IF NOT EXISTS account_bans (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    account_id  BIGINT        NOT NULL,
    banned_at   BIGINT        NOT NULL,
    -- NULL = permanent.
    expires_at  BIGINT        NULL,
    reason      VARCHAR(1024) NOT NULL DEFAULT '',
    -- Unbanning clears this instead of deleting, so the history stays.
    active      TINYINT       NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    KEY account_bans_by_account (account_id, active),
    CONSTRAINT account_bans_account FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            // Realm names are unique case-insensitively, like SQLite's COLLATE NOCASE.
            r#"CREATE TABLE IF NOT EXISTS realms (
    id          INT           NOT NULL PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
    name        VARCHAR(255)  CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
    address     VARCHAR(255)  NOT NULL,
    realm_type  INT           NOT NULL DEFAULT 0 CHECK (realm_type BETWEEN 0 AND 255),
    flags       INT           NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 255),
    timezone    INT           NOT NULL DEFAULT 1 CHECK (timezone BETWEEN 0 AND 255),
    population  DOUBLE        NOT NULL DEFAULT 0,
    -- HMAC-SHA256 of the realm's secret (realms::link::key); NULL = a static realm, no link.
    link_key    VARBINARY(32) NULL CHECK (link_key IS NULL OR LENGTH(link_key) = 32),
    UNIQUE KEY realms_by_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            // No rows for a realm = every accepted build.
            r#"CREATE TABLE IF NOT EXISTS realm_builds (
    realm_id    INT NOT NULL,
    build       INT NOT NULL CHECK (build BETWEEN 0 AND 65535),
    PRIMARY KEY (realm_id, build),
    CONSTRAINT realm_builds_realm FOREIGN KEY (realm_id) REFERENCES realms (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            r#"CREATE TABLE IF NOT EXISTS realm_characters (
    account_id  BIGINT NOT NULL,
    realm_id    INT    NOT NULL,
    count       INT    NOT NULL CHECK (count BETWEEN 0 AND 255),
    PRIMARY KEY (account_id, realm_id),
    KEY realm_characters_by_realm (realm_id),
    CONSTRAINT realm_characters_account FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE CASCADE,
    CONSTRAINT realm_characters_realm FOREIGN KEY (realm_id) REFERENCES realms (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            // Deliberately no foreign key: the audit is history and outlives deleted accounts.
            r#"CREATE TABLE IF NOT EXISTS login_audit (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at            BIGINT      NOT NULL,
    account_id    BIGINT      NULL,
    account_name  VARCHAR(64) NOT NULL,
    peer_ip       VARCHAR(64) NOT NULL,
    build         INT         NOT NULL,
    outcome       VARCHAR(64) NOT NULL,
    KEY login_audit_by_account (account_id, at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            // An address (/32, /128) or a network; refused at accept while active.
            r#"CREATE TABLE IF NOT EXISTS ip_bans (
    net        VARCHAR(64)   NOT NULL PRIMARY KEY,
    banned_at  BIGINT        NOT NULL,
    expires_at BIGINT        NULL,
    reason     VARCHAR(1024) NOT NULL DEFAULT ''
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            r#"CREATE TABLE IF NOT EXISTS settings (
    `key`   VARCHAR(64) NOT NULL PRIMARY KEY,
    value   TEXT        NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
        ],
    },
    Migration {
        version: 2,
        description: "the account lockout per address, authenticator steps used",
        statements: &[
            // crate::store::lockout: one row per address that has logged into the account (an
            // IPv4 address or an IPv6 /64), and one ('*') for every other address.
            r#"CREATE TABLE IF NOT EXISTS login_addresses (
    account_id     BIGINT      NOT NULL,
    address        VARCHAR(64) NOT NULL,
    failures       INT         NOT NULL DEFAULT 0,
    last_failed_at BIGINT      NULL,
    locked_until   BIGINT      NULL,
    last_login_at  BIGINT      NULL,
    PRIMARY KEY (account_id, address),
    CONSTRAINT login_addresses_account FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
            // The last authenticator time step each account used (RFC 6238 §5.2).
            r#"CREATE TABLE IF NOT EXISTS totp_steps (
    account_id  BIGINT NOT NULL PRIMARY KEY,
    last_step   BIGINT NOT NULL,
    CONSTRAINT totp_steps_account FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
        ],
    },
    Migration {
        version: 3,
        description: "realm visibility (allowed security level) and local address",
        statements: &[
            // Accounts below this security level do not see the realm (0: every account does).
            r#"ALTER TABLE realms ADD COLUMN allowed_level INT NOT NULL DEFAULT 0
    CHECK (allowed_level BETWEEN 0 AND 255)"#,
            // "host:port" given instead of `address` to clients whose address is in
            // local_subnet (an IPv4 or IPv6 network); both NULL or both set.
            r#"ALTER TABLE realms ADD COLUMN local_address VARCHAR(255) NULL"#,
            r#"ALTER TABLE realms ADD COLUMN local_subnet VARCHAR(64) NULL"#,
        ],
    },
    Migration {
        version: 4,
        description: "account IP lock",
        statements: &[
            // 1: the account logs on only from last_login_ip (`gatehouse account lock-ip`).
            r#"ALTER TABLE accounts ADD COLUMN ip_locked TINYINT NOT NULL DEFAULT 0
    CHECK (ip_locked IN (0, 1))"#,
        ],
    },
    Migration {
        version: 5,
        description: "fixed PINs for the PIN grid",
        statements: &[
            // SQLite's version 8: the fixed PIN sealed under [totp] key (crate::pin_grid).
            r#"CREATE TABLE IF NOT EXISTS account_pins (
    account_id  BIGINT        NOT NULL PRIMARY KEY,
    pin         VARBINARY(51) NOT NULL CHECK (LENGTH(pin) = 51),
    CONSTRAINT account_pins_account FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
        ],
    },
];

/// The version table itself, created before the first step.
const VERSION_TABLE: &str = r#"CREATE TABLE IF NOT EXISTS gatehouse_schema (
    version     INT          NOT NULL PRIMARY KEY,
    description VARCHAR(255) NOT NULL,
    applied_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#;

/// The named lock migrations hold, per database (lock names are server-wide).
const LOCK_NAME: &str = "LEFT(CONCAT('gatehouse_schema.', DATABASE()), 64)";

/// Seconds to wait for another connection's migration before giving up.
const LOCK_WAIT_SECS: u32 = 60;

/// MySQL's "table doesn't exist".
const ER_NO_SUCH_TABLE: u16 = 1146;

/// MySQL's "duplicate column name": an `ADD COLUMN` that ran before, in a step whose version
/// row was not written (MySQL has no `ADD COLUMN IF NOT EXISTS`, MariaDB's; one column per
/// statement, so running the step again adds the rest).
const ER_DUP_FIELDNAME: u16 = 1060;

/// The version this binary's schema ends at.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version the database says it has (0 before the first migration).
pub fn current_version(conn: &mut Conn) -> Result<i64, mysql::Error> {
    match conn.query_first::<Option<i64>, _>("SELECT MAX(version) FROM gatehouse_schema") {
        Ok(v) => Ok(v.flatten().unwrap_or(0)),
        Err(mysql::Error::MySqlError(e)) if e.code == ER_NO_SUCH_TABLE => Ok(0),
        Err(e) => Err(e),
    }
}

/// Brings the schema up to [`latest_version`]; a no-op (one read) on an up-to-date database.
/// Refuses a database from a newer binary rather than guess at a schema it does not know.
/// Returns the version the database is at afterwards.
pub fn run(conn: &mut Conn) -> Result<u32, StoreError> {
    let supported = latest_version();
    let failed = |version: u32| {
        move |source: mysql::Error| StoreError::Migration {
            version,
            source: source.into(),
        }
    };
    let found = current_version(conn).map_err(failed(supported))?;
    if let Some(done) = checked(found, supported)? {
        return Ok(done);
    }
    let locked: Option<i64> = conn
        .query_first(format!("SELECT GET_LOCK({LOCK_NAME}, {LOCK_WAIT_SECS})"))
        .map_err(failed(supported))?
        .flatten();
    if locked != Some(1) {
        return Err(StoreError::Migration {
            version: supported,
            source: BackendError::new(
                BackendErrorKind::Busy,
                "another connection is migrating the schema and did not finish in time",
                None,
            ),
        });
    }
    let result = migrate(conn, supported);
    // Released whatever happened; a lost connection releases it on the server anyway.
    let _ = conn.query_drop(format!("DO RELEASE_LOCK({LOCK_NAME})"));
    result
}

fn checked(found: i64, supported: u32) -> Result<Option<u32>, StoreError> {
    if found < 0 {
        return Err(StoreError::corrupt(format!("schema version {found}")));
    }
    if found > i64::from(supported) {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    Ok((found == i64::from(supported)).then_some(supported))
}

fn migrate(conn: &mut Conn, supported: u32) -> Result<u32, StoreError> {
    conn.query_drop(VERSION_TABLE)
        .map_err(|source| StoreError::Migration {
            version: 1,
            source: source.into(),
        })?;
    for step in MIGRATIONS {
        let failed = |source: mysql::Error| StoreError::Migration {
            version: step.version,
            source: source.into(),
        };
        // Another node may have migrated since the unlocked read.
        let found = current_version(conn).map_err(failed)?;
        if checked(found, supported)?.is_some() {
            return Ok(supported);
        }
        if found >= i64::from(step.version) {
            continue;
        }
        log::info!(
            "store: migrating schema to version {}: {}",
            step.version,
            step.description
        );
        for sql in step.statements {
            match conn.query_drop(sql) {
                Err(mysql::Error::MySqlError(e)) if e.code == ER_DUP_FIELDNAME => {}
                other => other.map_err(failed)?,
            }
        }
        conn.exec_drop(
            "INSERT INTO gatehouse_schema (version, description, applied_at) VALUES (?, ?, ?)",
            (step.version, step.description, super::super::unix_now()),
        )
        .map_err(failed)?;
    }
    Ok(supported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.description);
        }
    }
}
