//! The account lockout's rows and the authenticator's last steps on MySQL/MariaDB, for the
//! three stores that run there: gatehouse's own schema (`login_addresses`, `totp_steps`) and
//! the tables beside a foreign one (`gatehouse_login_addresses`, `gatehouse_totp_steps`).
//! What the rows mean is [`super::super::lockout`]; this module only moves them.
//!
//! Locking: every write here begins by touching the account's new-addresses row (an upsert
//! that changes nothing), which takes that InnoDB row's exclusive lock until commit, whatever
//! engine the account table has (CMaNGOS's are MyISAM, without transactions). So writes to
//! one account's lockout rows and step row run one after the other on every node, the reads
//! here need no `FOR UPDATE` (whose gap locks would make concurrent first failures deadlock),
//! and the conditional step update cannot let one token in twice. Callers use up a step before
//! they write anything a MyISAM table could not roll back.

use mysql::prelude::Queryable;
use mysql::{Conn, Row, Transaction};

use super::super::lockout::{self, LockoutRow, LockoutStanding, WrongCounted, NEW_ADDRESSES};
use super::super::{FailureRecorded, LoginAttempt, StoreError, PRUNE_BATCH};
use super::{opt_int, raw_text};
use crate::totp::TotpStep;
use crate::values::{AccountId, LockoutPolicy};

/// A connection or a transaction, with the count of rows its last statement changed.
pub(in crate::store) trait Changed: Queryable {
    fn changed(&self) -> u64;
}

impl Changed for Conn {
    fn changed(&self) -> u64 {
        self.affected_rows()
    }
}

impl Changed for Transaction<'_> {
    fn changed(&self) -> u64 {
        self.affected_rows()
    }
}

// The prune statement's LIMIT is written out; it must be the batch every prune uses.
const _: () = assert!(PRUNE_BATCH == 5000);

/// One table pair's statements.
pub(in crate::store) struct LockoutSql {
    touch: &'static str,
    rows: &'static str,
    write: &'static str,
    known: &'static str,
    lift: &'static str,
    prune: &'static str,
    step_row: &'static str,
    step_use: &'static str,
}

macro_rules! lockout_sql {
    ($addresses:literal, $steps:literal) => {
        LockoutSql {
            touch: concat!(
                "INSERT INTO ",
                $addresses,
                " (account_id, address, failures) VALUES (?, '*', 0)
                 ON DUPLICATE KEY UPDATE failures = failures"
            ),
            rows: concat!(
                "SELECT address, failures, last_failed_at, locked_until, last_login_at FROM ",
                $addresses,
                " WHERE account_id = ? AND address IN (?, '*')"
            ),
            write: concat!(
                "INSERT INTO ",
                $addresses,
                " (account_id, address, failures, last_failed_at, locked_until) VALUES (?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE failures = ?, last_failed_at = ?, locked_until = ?"
            ),
            known: concat!(
                "INSERT INTO ",
                $addresses,
                " (account_id, address, failures, last_login_at) VALUES (?, ?, 0, ?)
                 ON DUPLICATE KEY UPDATE failures = 0, locked_until = NULL, last_login_at = ?"
            ),
            lift: concat!(
                "UPDATE ",
                $addresses,
                " SET failures = 0, locked_until = NULL WHERE account_id = ?"
            ),
            prune: concat!(
                "DELETE FROM ",
                $addresses,
                " WHERE COALESCE(last_login_at, 0) < ? AND COALESCE(last_failed_at, 0) < ?
                   AND COALESCE(locked_until, 0) < ? LIMIT 5000"
            ),
            step_row: concat!(
                "INSERT IGNORE INTO ",
                $steps,
                " (account_id, last_step) VALUES (?, -1)"
            ),
            step_use: concat!(
                "UPDATE ",
                $steps,
                " SET last_step = ? WHERE account_id = ? AND last_step < ?"
            ),
        }
    };
}

/// gatehouse's own schema.
pub(in crate::store) const OWN: LockoutSql = lockout_sql!("login_addresses", "totp_steps");
/// Beside AzerothCore's or CMaNGOS's tables.
pub(in crate::store) const BESIDE: LockoutSql =
    lockout_sql!("gatehouse_login_addresses", "gatehouse_totp_steps");

/// The address's own row and the new-addresses row of an account.
fn rows(
    q: &mut impl Queryable,
    sql: &LockoutSql,
    account: AccountId,
    address: &str,
) -> Result<(Option<LockoutRow>, Option<LockoutRow>), StoreError> {
    let mut own = None;
    let mut new = None;
    for row in q.exec::<Row, _, _>(sql.rows, (account.0, address))? {
        let what = || format!("account {account}: lockout row {}", raw_text(&row, 0));
        let parsed = LockoutRow {
            failures: opt_int(&row, 1, &what)?.unwrap_or(0),
            last_failed_at: opt_int(&row, 2, &what)?,
            locked_until: opt_int(&row, 3, &what)?,
            last_login_at: opt_int(&row, 4, &what)?,
        };
        match row.get_opt::<String, _>(0) {
            Some(Ok(a)) if a == NEW_ADDRESSES => new = Some(parsed),
            _ => own = Some(parsed),
        }
    }
    Ok((own, new))
}

impl LockoutSql {
    /// [`Store::lockout_standing`](super::super::Store::lockout_standing).
    pub(in crate::store) fn standing(
        &self,
        q: &mut impl Queryable,
        account: AccountId,
        peer: std::net::IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        let (own, new) = rows(q, self, account, &lockout::address_text(peer))?;
        Ok(LockoutStanding::of(own.as_ref(), new.as_ref(), now))
    }

    /// Counts a wrong credential of `account` in the row its address counts in.
    pub(in crate::store) fn count_failure(
        &self,
        tx: &mut impl Queryable,
        account: AccountId,
        attempt: &LoginAttempt,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        tx.exec_drop(self.touch, (account.0,))?;
        let address = lockout::address_text(attempt.peer);
        let (own, new) = rows(tx, self, account, &address)?;
        let WrongCounted { key, row, recorded } =
            lockout::count_wrong(&address, own, new, policy, attempt.at);
        tx.exec_drop(
            self.write,
            (
                account.0,
                key,
                row.failures,
                row.last_failed_at,
                row.locked_until,
                row.failures,
                row.last_failed_at,
                row.locked_until,
            ),
        )?;
        Ok(recorded)
    }

    /// A good logon: `attempt.peer` becomes a known address with an empty count, and the
    /// token's step (if any) is used up. Called before the success writes anything else.
    pub(in crate::store) fn note_success(
        &self,
        tx: &mut impl Changed,
        account: AccountId,
        attempt: &LoginAttempt,
        totp_step: Option<TotpStep>,
    ) -> Result<(), StoreError> {
        if let Some(step) = totp_step {
            self.use_step(tx, account, step)?;
        } else {
            tx.exec_drop(self.touch, (account.0,))?;
        }
        let address = lockout::address_text(attempt.peer);
        tx.exec_drop(self.known, (account.0, address, attempt.at, attempt.at))?;
        Ok(())
    }

    /// Uses up `step` for `account`: [`StoreError::TokenReused`] unless it is later than every
    /// step the account used before. Touches the account's row first (the module's note on
    /// locks), so two uses of one step on two nodes run one after the other.
    pub(in crate::store) fn use_step(
        &self,
        tx: &mut impl Changed,
        account: AccountId,
        step: TotpStep,
    ) -> Result<(), StoreError> {
        tx.exec_drop(self.touch, (account.0,))?;
        let step = i64::try_from(step.0).map_err(|_| StoreError::TokenReused)?;
        tx.exec_drop(self.step_row, (account.0,))?;
        tx.exec_drop(self.step_use, (step, account.0, step))?;
        if tx.changed() == 0 {
            return Err(StoreError::TokenReused);
        }
        Ok(())
    }

    /// `unban`: every lock of the account lifted, every count emptied.
    pub(in crate::store) fn lift(
        &self,
        q: &mut impl Queryable,
        account: AccountId,
    ) -> Result<(), StoreError> {
        q.exec_drop(self.lift, (account.0,))?;
        Ok(())
    }

    /// Rows with nothing after `before`: an address that has not logged in since is new again.
    /// How many went.
    pub(in crate::store) fn prune(
        &self,
        q: &mut impl Changed,
        before: i64,
    ) -> Result<u64, StoreError> {
        let mut gone = 0u64;
        loop {
            q.exec_drop(self.prune, (before, before, before))?;
            let batch = q.changed();
            gone = gone.saturating_add(batch);
            if batch < u64::from(PRUNE_BATCH) {
                return Ok(gone);
            }
        }
    }
}
