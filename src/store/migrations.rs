//! Versioned schema migrations for the SQLite store, run by [`super::SqliteStore::open`].
//!
//! The schema version lives in `PRAGMA user_version` (part of the database header, so it
//! commits or rolls back with the step that sets it). Each step runs in its own IMMEDIATE
//! transaction and re-reads the version inside it, so several connections opening the same
//! file at once (the DB threads) cannot apply a step twice. Steps are append-only: never edit a
//! released one, add the next.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// One schema step: applying it moves the database from `version - 1` to `version`.
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every step, in order; versions are 1, 2, 3, … with no gaps.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts, bans, realms, character counts, login audit",
        sql: r#"
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    -- Upper-case as the client hashes it (AccountName normalises before it gets here).
    name            TEXT    NOT NULL UNIQUE,
    salt            BLOB    NOT NULL CHECK (length(salt) = 32),
    verifier        BLOB    NOT NULL CHECK (length(verifier) = 32),
    created_at      INTEGER NOT NULL,
    last_login_at   INTEGER,
    last_login_ip   TEXT,
    failed_logins   INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    last_failed_at  INTEGER,
    session_key     BLOB    CHECK (session_key IS NULL OR length(session_key) = 40),
    session_key_at  INTEGER
);

CREATE TABLE account_bans (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    banned_at   INTEGER NOT NULL,
    -- NULL = permanent.
    expires_at  INTEGER,
    reason      TEXT    NOT NULL DEFAULT '',
    -- Unbanning clears this instead of deleting, so the history stays.
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
-- Every login reads an account's active bans.
CREATE INDEX account_bans_by_account ON account_bans(account_id, active);

CREATE TABLE realms (
    -- The realm-list id byte, hence 1..=255.
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    address     TEXT    NOT NULL,
    realm_type  INTEGER NOT NULL DEFAULT 0 CHECK (realm_type BETWEEN 0 AND 255),
    flags       INTEGER NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 255),
    timezone    INTEGER NOT NULL DEFAULT 1 CHECK (timezone BETWEEN 0 AND 255),
    population  REAL    NOT NULL DEFAULT 0
);

-- A child table rather than a "5875,8606" text column: nothing to parse, and the rows go
-- with their realm. No rows for a realm = every accepted build.
CREATE TABLE realm_builds (
    realm_id    INTEGER NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    build       INTEGER NOT NULL CHECK (build BETWEEN 0 AND 65535),
    PRIMARY KEY (realm_id, build)
) WITHOUT ROWID;

CREATE TABLE realm_characters (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    realm_id    INTEGER NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    count       INTEGER NOT NULL CHECK (count BETWEEN 0 AND 255),
    -- The primary key serves the login path's "counts of this account".
    PRIMARY KEY (account_id, realm_id)
) WITHOUT ROWID;
-- Deleting a realm cascades by realm_id.
CREATE INDEX realm_characters_by_realm ON realm_characters(realm_id);

CREATE TABLE login_audit (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    -- Deliberately no foreign key: the audit is history and outlives deleted accounts.
    account_id    INTEGER,
    account_name  TEXT    NOT NULL,
    peer_ip       TEXT    NOT NULL,
    build         INTEGER NOT NULL,
    outcome       TEXT    NOT NULL
);
CREATE INDEX login_audit_by_account ON login_audit(account_id, at);
"#,
    },
    Migration {
        version: 2,
        description: "session tickets (expiry, taken by), security level, realm link keys",
        sql: r#"
ALTER TABLE accounts ADD COLUMN security_level INTEGER NOT NULL DEFAULT 0
    CHECK (security_level BETWEEN 0 AND 255);
-- A ticket is takeable while session_key IS NOT NULL, session_expires_at > now and
-- session_taken_by IS NULL; taking it is one conditional UPDATE.
ALTER TABLE accounts ADD COLUMN session_expires_at INTEGER;
-- The realm whose world server took the ticket. No foreign key: removing a realm must not
-- make its taken tickets takeable again.
ALTER TABLE accounts ADD COLUMN session_taken_by INTEGER
    CHECK (session_taken_by IS NULL OR session_taken_by BETWEEN 1 AND 255);
-- Keys written by version 1 had no expiry: they count as expired at issue, so no world server
-- can take them, while a reconnect (which renews) still works.
UPDATE accounts SET session_expires_at = COALESCE(session_key_at, 0),
                    session_key_at = COALESCE(session_key_at, 0)
    WHERE session_key IS NOT NULL;
-- HMAC-SHA256 of the realm's secret (realms::link::key); NULL = a static realm, no link.
ALTER TABLE realms ADD COLUMN link_key BLOB
    CHECK (link_key IS NULL OR length(link_key) = 32);
"#,
    },
    Migration {
        version: 3,
        description: "IP bans, server settings (console password)",
        sql: r#"
-- An address (/32, /128) or a network; refused at accept while active.
CREATE TABLE ip_bans (
    net        TEXT PRIMARY KEY,
    banned_at  INTEGER NOT NULL,
    expires_at INTEGER,
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    },
    Migration {
        version: 4,
        description: "authenticator (TOTP) secrets",
        sql: r#"
-- The account's TOTP secret sealed under the config's [totp] key (crate::totp::seal:
-- nonce, ciphertext, tag); NULL = no authenticator.
ALTER TABLE accounts ADD COLUMN totp_secret BLOB
    CHECK (totp_secret IS NULL OR length(totp_secret) = 60);
"#,
    },
    Migration {
        version: 5,
        description: "the account lockout per address, authenticator steps used",
        sql: r#"
-- crate::store::lockout: one row per address that has logged into the account (an IPv4
-- address or an IPv6 /64), and one ('*') for every other address. A lock is no longer a
-- ban row.
CREATE TABLE login_addresses (
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address        TEXT    NOT NULL,
    failures       INTEGER NOT NULL DEFAULT 0,
    last_failed_at INTEGER,
    locked_until   INTEGER,
    last_login_at  INTEGER,
    PRIMARY KEY (account_id, address)
) WITHOUT ROWID;
-- The last authenticator time step each account used (RFC 6238 section 5.2).
CREATE TABLE totp_steps (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    last_step   INTEGER NOT NULL
);
"#,
    },
    Migration {
        version: 6,
        description: "realm visibility (allowed security level) and local address",
        sql: r#"
-- Accounts below this security level do not see the realm (0: every account does).
ALTER TABLE realms ADD COLUMN allowed_level INTEGER NOT NULL DEFAULT 0
    CHECK (allowed_level BETWEEN 0 AND 255);
-- "host:port" given instead of `address` to clients whose address is in local_subnet (an
-- IPv4 or IPv6 network, "192.168.1.0/24"); both NULL or both set.
ALTER TABLE realms ADD COLUMN local_address TEXT;
ALTER TABLE realms ADD COLUMN local_subnet TEXT
    CHECK ((local_subnet IS NULL) = (local_address IS NULL));
"#,
    },
    Migration {
        version: 7,
        description: "account IP lock",
        sql: r#"
-- 1: the account logs on only from last_login_ip (`gatehouse account lock-ip`).
ALTER TABLE accounts ADD COLUMN ip_locked INTEGER NOT NULL DEFAULT 0
    CHECK (ip_locked IN (0, 1));
"#,
    },
    Migration {
        version: 8,
        description: "fixed PINs for the PIN grid",
        sql: r#"
-- The account's fixed PIN sealed under the config's [totp] key (crate::pin_grid::seal:
-- nonce, ciphertext of the length and ten digit bytes, tag).
CREATE TABLE account_pins (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    pin         BLOB    NOT NULL CHECK (length(pin) = 51)
);
"#,
    },
];

/// The version this binary's schema ends at.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version the database says it has.
pub fn current_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the schema up to [`latest_version`]; a no-op on an up-to-date database. Refuses a
/// database from a newer binary rather than guess at a schema it does not know.
/// Returns the version the database is at afterwards.
pub fn run(conn: &mut Connection) -> Result<u32, StoreError> {
    let supported = latest_version();
    // The common case, an up-to-date file, is answered by a read: no write lock is taken, so
    // opening another connection never waits behind (or blocks) logins already running.
    let found = current_version(conn).map_err(|source| StoreError::Migration {
        version: supported,
        source: source.into(),
    })?;
    if found < 0 {
        return Err(StoreError::corrupt(format!("schema version {found}")));
    }
    if found > i64::from(supported) {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    if found == i64::from(supported) {
        return Ok(supported);
    }
    for step in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Migration {
                version: step.version,
                source: source.into(),
            })?;
        let found = current_version(&tx).map_err(|source| StoreError::Migration {
            version: step.version,
            source: source.into(),
        })?;
        // Another process may have migrated since the read above.
        if found > i64::from(supported) {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        if found >= i64::from(step.version) {
            continue;
        }
        log::info!(
            "store: migrating schema to version {}: {}",
            step.version,
            step.description
        );
        let apply = || -> Result<(), rusqlite::Error> {
            tx.execute_batch(step.sql)?;
            tx.pragma_update(None, "user_version", step.version)?;
            Ok(())
        };
        apply()
            .and_then(|()| tx.commit())
            .map_err(|source| StoreError::Migration {
                version: step.version,
                source: source.into(),
            })?;
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

    #[test]
    fn runs_once_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(run(&mut conn).unwrap(), latest_version());
        assert_eq!(run(&mut conn).unwrap(), latest_version());
        assert_eq!(current_version(&conn).unwrap(), i64::from(latest_version()));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        match run(&mut conn) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, i64::from(latest_version() + 1));
                assert_eq!(supported, latest_version());
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
