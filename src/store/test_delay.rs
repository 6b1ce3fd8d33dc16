//! TEST-ONLY: a [`Store`] that sleeps before every call, to make the database slow on purpose
//! (benchmarks and tests of what a slow database does to everything else; `scripts/bench.sh`
//! row 5 uses it). Not a feature: never set it on a server that serves players.
//!
//! The environment variable [`ENV`] (`GATEHOUSE_TEST_STORE_DELAY_MS`, whole milliseconds) is
//! read once, when the daemon opens its DB threads' stores; every store a DB thread owns is
//! then wrapped, so each call a DB thread makes (a logon's account load and lockout read are
//! two calls) first sleeps that long on that thread. Unset, empty or 0: nothing is wrapped and
//! nothing changes. Admin commands and the daemon's first read at start are not slowed.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{
    AccountRecord, AccountSummary, AuditRow, CharacterCount, FailureRecorded, Feature, IpBan,
    LockoutStanding, LoginAttempt, NewRealm, RealmRecord, RealmRef, Store, StoreError, TakeOutcome,
};
use crate::account::AccountName;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpStep};
use crate::values::{AccountId, LinkKey, LockoutPolicy, RealmId};

/// The test-only knob: milliseconds every DB-thread store call sleeps first.
pub const ENV: &str = "GATEHOUSE_TEST_STORE_DELAY_MS";

/// The most the knob accepts (a minute): beyond it every request would time out anyway.
const MAX_MS: u64 = 60_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{ENV}={value:?} is not a number of milliseconds from 0 to {MAX_MS} (test-only knob)")]
pub struct DelayError {
    value: String,
}

/// The delay [`ENV`] asks for: `None` when it is unset, empty or 0.
pub fn from_env() -> Result<Option<Duration>, DelayError> {
    parse(std::env::var(ENV).ok().as_deref())
}

fn parse(value: Option<&str>) -> Result<Option<Duration>, DelayError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(ms) if ms <= MAX_MS => Ok(Some(Duration::from_millis(ms))),
        _ => Err(DelayError {
            value: text.to_string(),
        }),
    }
}

/// `store` as it is, or wrapped to sleep `delay` before every call.
pub fn wrap(store: Box<dyn Store>, delay: Option<Duration>) -> Box<dyn Store> {
    match delay {
        Some(delay) => Box::new(DelayedStore {
            inner: store,
            delay,
        }),
        None => store,
    }
}

/// Sleeps, then forwards. Every method of [`Store`] is forwarded, so the wrapped store behaves
/// exactly as the inner one, only later.
pub struct DelayedStore {
    inner: Box<dyn Store>,
    delay: Duration,
}

impl DelayedStore {
    fn inner(&mut self) -> &mut dyn Store {
        std::thread::sleep(self.delay);
        self.inner.as_mut()
    }
}

impl Store for DelayedStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        self.inner().load_account(name)
    }

    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        self.inner().lockout_standing(account, peer, now)
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        lockout: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        self.inner().record_login_failure(attempt, lockout)
    }

    fn record_login_success(
        &mut self,
        attempt: &LoginAttempt,
        key: &SessionKey,
        expires_at: i64,
        totp_step: Option<TotpStep>,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        self.inner()
            .record_login_success(attempt, key, expires_at, totp_step)
    }

    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError> {
        self.inner().use_totp_step(account, step)
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.inner().begin_batch()
    }

    fn end_batch(&mut self, end: super::BatchEnd) -> Result<(), StoreError> {
        // The batch's commit is one call: it waits once, as one statement would.
        self.inner().end_batch(end)
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        self.inner().take_session(name, realm, now, proof)
    }

    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        self.inner().renew_session(attempt, expires_at)
    }

    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        self.inner().realm_link_key(realm)
    }

    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.inner().load_realms()
    }

    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        self.inner().create_account(name, salt, verifier)
    }

    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError> {
        self.inner().set_password(name, salt, verifier)
    }

    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        self.inner().delete_account(name)
    }

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        self.inner().list_accounts()
    }

    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.inner().ban_account(name, until, reason)
    }

    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        self.inner().unban_account(name)
    }

    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        self.inner().add_realm(realm)
    }

    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError> {
        self.inner().add_realm_with_id(realm, id)
    }
    fn update_realm(
        &mut self,
        realm: &RealmRef,
        changes: &crate::store::RealmChanges,
    ) -> Result<RealmId, StoreError> {
        self.inner().update_realm(realm, changes)
    }
    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<crate::store::CountsWritten, StoreError> {
        self.inner().set_character_counts(realm, counts)
    }
    fn query_audit(
        &mut self,
        query: &crate::store::AuditQuery,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.inner().query_audit(query)
    }
    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        self.inner().remove_realm(realm)
    }

    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        self.inner().list_realms()
    }

    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        self.inner().set_realm_link_key(realm, key)
    }

    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError> {
        self.inner().ban_ip(net, until, reason)
    }

    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError> {
        self.inner().unban_ip(net)
    }

    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        self.inner().ip_bans(now)
    }

    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        self.inner().set_console_password(hash)
    }

    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        self.inner().console_password()
    }

    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        self.inner().set_security_level(name, level)
    }

    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: super::IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        self.inner().set_ip_lock(name, setting)
    }

    fn set_pin(
        &mut self,
        name: &AccountName,
        pin: Option<&crate::pin_grid::SealedPin>,
    ) -> Result<(), StoreError> {
        self.inner().set_pin(name, pin)
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        self.inner().set_totp_secret(name, secret)
    }

    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        self.inner().recent_audit(limit)
    }

    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        self.inner().prune_audit(before)
    }

    /// A property of the database, not a call to it: not slowed.
    fn features_off(&self) -> &'static [Feature] {
        self.inner.features_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn the_knob_reads_milliseconds_and_is_off_by_default() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some("")), Ok(None));
        assert_eq!(parse(Some("0")), Ok(None));
        assert_eq!(parse(Some(" 50 ")), Ok(Some(Duration::from_millis(50))));
        assert!(parse(Some("fast")).is_err());
        assert!(parse(Some("-5")).is_err());
        assert!(parse(Some("60001")).is_err());
    }

    #[test]
    fn a_wrapped_store_answers_as_the_inner_one_only_later() {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let mut store = wrap(Box::new(inner), Some(Duration::from_millis(1)));
        assert!(store.load_realms().unwrap().is_empty());
        assert!(store.list_accounts().unwrap().is_empty());
        assert!(store.features_off().is_empty());
    }

    #[test]
    fn no_delay_leaves_the_store_unwrapped() {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let mut store = wrap(Box::new(inner), None);
        assert!(store.load_realms().unwrap().is_empty());
    }
}
