//! The account lockout's rows (`login_addresses`) and the authenticator's last steps
//! (`totp_steps`) in the SQLite file. What the rows mean is [`super::super::lockout`]; this
//! module only moves them. Every write runs inside the caller's IMMEDIATE transaction, which
//! already has the file's write lock, so reads here see what the write will change.

use std::net::IpAddr;

use rusqlite::{params, Connection, Row};

use super::super::lockout::{self, LockoutRow, LockoutStanding, WrongCounted, NEW_ADDRESSES};
use super::super::{FailureRecorded, LoginAttempt, StoreError};
use crate::totp::TotpStep;
use crate::values::{AccountId, LockoutPolicy};

fn lockout_row(row: &Row<'_>) -> Result<LockoutRow, rusqlite::Error> {
    Ok(LockoutRow {
        failures: row.get(1)?,
        last_failed_at: row.get(2)?,
        locked_until: row.get(3)?,
        last_login_at: row.get(4)?,
    })
}

/// The address's own row and the new-addresses row of an account.
fn rows(
    conn: &Connection,
    account: AccountId,
    address: &str,
) -> Result<(Option<LockoutRow>, Option<LockoutRow>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, failures, last_failed_at, locked_until, last_login_at
         FROM login_addresses WHERE account_id = ?1 AND address IN (?2, '*')",
    )?;
    let mut found = stmt.query(params![account.0, address])?;
    let (mut own, mut new) = (None, None);
    while let Some(row) = found.next()? {
        let parsed = lockout_row(row)
            .map_err(|e| StoreError::corrupt(format!("account {account}: a lockout row: {e}")))?;
        let key: String = row.get(0)?;
        if key == NEW_ADDRESSES {
            new = Some(parsed);
        } else {
            own = Some(parsed);
        }
    }
    Ok((own, new))
}

/// [`Store::lockout_standing`](super::super::Store::lockout_standing).
pub(super) fn standing(
    conn: &Connection,
    account: AccountId,
    peer: IpAddr,
    now: i64,
) -> Result<LockoutStanding, StoreError> {
    let (own, new) = rows(conn, account, &lockout::address_text(peer))?;
    Ok(LockoutStanding::of(own.as_ref(), new.as_ref(), now))
}

/// Counts a wrong credential of `account` in the row its address counts in.
pub(super) fn count_failure(
    conn: &Connection,
    account: AccountId,
    attempt: &LoginAttempt,
    policy: &LockoutPolicy,
) -> Result<FailureRecorded, StoreError> {
    let address = lockout::address_text(attempt.peer);
    let (own, new) = rows(conn, account, &address)?;
    let WrongCounted { key, row, recorded } =
        lockout::count_wrong(&address, own, new, policy, attempt.at);
    conn.prepare_cached(
        "INSERT INTO login_addresses (account_id, address, failures, last_failed_at, locked_until)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account_id, address) DO UPDATE SET failures = excluded.failures,
             last_failed_at = excluded.last_failed_at, locked_until = excluded.locked_until",
    )?
    .execute(params![
        account.0,
        key,
        row.failures,
        row.last_failed_at,
        row.locked_until
    ])?;
    Ok(recorded)
}

/// A good logon: `attempt.peer` becomes a known address with an empty count, and the token's
/// step (if any) is used up; a step not after the last one is [`StoreError::TokenReused`].
pub(super) fn note_success(
    conn: &Connection,
    account: AccountId,
    attempt: &LoginAttempt,
    totp_step: Option<TotpStep>,
) -> Result<(), StoreError> {
    if let Some(step) = totp_step {
        use_step(conn, account, step)?;
    }
    conn.prepare_cached(
        "INSERT INTO login_addresses (account_id, address, failures, last_login_at)
         VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (account_id, address) DO UPDATE SET failures = 0, locked_until = NULL,
             last_login_at = excluded.last_login_at",
    )?
    .execute(params![
        account.0,
        lockout::address_text(attempt.peer),
        attempt.at
    ])?;
    Ok(())
}

/// Uses up `step` for `account`: [`StoreError::TokenReused`] unless it is later than every
/// step the account used before.
pub(super) fn use_step(
    conn: &Connection,
    account: AccountId,
    step: TotpStep,
) -> Result<(), StoreError> {
    let step = i64::try_from(step.0).map_err(|_| StoreError::TokenReused)?;
    let used = conn
        .prepare_cached(
            "INSERT INTO totp_steps (account_id, last_step) VALUES (?1, ?2)
             ON CONFLICT (account_id) DO UPDATE SET last_step = excluded.last_step
             WHERE totp_steps.last_step < excluded.last_step",
        )?
        .execute(params![account.0, step])?;
    if used == 0 {
        return Err(StoreError::TokenReused);
    }
    Ok(())
}

/// `unban`: every lock of the account lifted, every count emptied.
pub(super) fn lift(conn: &Connection, account: AccountId) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE login_addresses SET failures = 0, locked_until = NULL WHERE account_id = ?1",
    )?
    .execute([account.0])?;
    Ok(())
}

/// One batch of rows with nothing after `before` (an address that has not logged in since is
/// new again); how many went.
pub(super) fn prune_batch(conn: &Connection, before: i64, batch: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM login_addresses WHERE (account_id, address) IN
                 (SELECT account_id, address FROM login_addresses
                  WHERE COALESCE(last_login_at, 0) < ?1 AND COALESCE(last_failed_at, 0) < ?1
                    AND COALESCE(locked_until, 0) < ?1 LIMIT ?2)",
        )?
        .execute(params![before, batch])?)
}
