//! gatehouse's own tables inside a CMaNGOS realmd database, for what CMaNGOS has no place
//! for: the login audit, session tickets' issue/expiry/taken state (the key itself is
//! `account.sessionkey`), the account lockout per address, the authenticator steps used, realm
//! link keys, gatehouse's settings and its sealed authenticator secrets. The same tables as beside
//! AzerothCore's (shared with that store), but for the ticket, which names its key the way
//! `account.sessionkey` holds it (hex text).
//!
//! Every table is `gatehouse_`-prefixed and created with `IF NOT EXISTS`, only by `gatehouse db
//! init` ([`init`]); opening a store only looks ([`state`]). CMaNGOS's own tables are never
//! altered or dropped.

use mysql::Conn;

use super::super::azerothcore::migrations::{init_set, state_of, SHARED};
use super::super::mangos_family::OwnTables;
use super::super::StoreError;

/// The version of the set below; a database at this version is left alone.
pub const VERSION: u32 = 3;

const STATEMENTS: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS gatehouse_cm_schema (
    version     INT          NOT NULL PRIMARY KEY,
    applied_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
    // The ticket of account.sessionkey: valid while session_key equals the account's text.
    r#"CREATE TABLE IF NOT EXISTS gatehouse_sessions (
    account_id  INT UNSIGNED NOT NULL PRIMARY KEY,
    session_key VARCHAR(96)  NOT NULL,
    issued_at   BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    taken_by    INT          NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"#,
];

/// Whether the gatehouse_ tables are in place, at this version.
pub fn state(conn: &mut Conn) -> Result<OwnTables, StoreError> {
    state_of(conn, "gatehouse_cm_schema", VERSION)
}

/// Creates the gatehouse_ tables unless the version row says they are there; `true` if it
/// created them.
pub fn init(conn: &mut Conn) -> Result<bool, StoreError> {
    init_set(
        conn,
        "gatehouse_cm_schema",
        VERSION,
        &[STATEMENTS, SHARED],
        "CMaNGOS's",
    )
}
