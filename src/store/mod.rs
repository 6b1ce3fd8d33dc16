//! The store: accounts, bans, realms, character counts, session tickets, realm link keys and
//! the login audit, behind one API.
//!
//! In the architecture picture this is the box under the DB threads: the event loop never calls
//! a [`Store`] itself; it sends [`worker::StoreRequest`]s to a [`worker::StorePool`], whose
//! threads each own one store (one connection) and post [`worker::StoreResponse`]s back.
//! Administration (the CLI now, the console later) may call a store directly, off the loop.
//!
//! Everything read back from the database is validated on the way in: a row that does not fit
//! the types (a salt that is not 32 bytes, a name that does not normalise) is
//! [`StoreError::Corrupt`], never a panic. Tables read whole (realms, IP bans) skip such a row
//! instead, with an error line naming it, and serve the rest (`rows`).

mod audit_query;
pub mod azerothcore;
pub mod bignum_hex;
pub mod cmangos;
pub mod lockout;
pub mod mangos_family;
pub mod migrations;
pub mod mysql;
mod rows;
pub mod sqlite;
pub mod test_delay;
pub mod worker;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::account::{AccountName, AccountStanding, IpLock};
use crate::pin_grid::SealedPin;
use crate::protocol::client_tags::ClientTags;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpStep};
use crate::values::{AccountId, LinkKey, LockoutPolicy, RealmId};

pub use lockout::{LockScope, LockoutStanding};

pub use crate::values::{IpBan, RealmAccess, RealmLocal};

pub use self::mysql::tls::{DbTls, TlsMode};
pub use self::mysql::MysqlStore;
pub use azerothcore::AzerothCoreStore;
pub use cmangos::CmangosStore;
pub use sqlite::SqliteStore;
pub use worker::{StoreOp, StorePool, StoreReply, StoreRequest, StoreResponse, StoreStats};

/// One storage backend. Each value is one connection: a DB thread owns one, and an admin
/// command opens its own. Times are unix seconds.
pub trait Store: Send {
    // --- login path (called from DB threads) ---

    /// The account a client names, with its standing computed from its active bans as of now.
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError>;

    /// Whether the account lockout keeps logons of `account` from `peer` out at `now`
    /// ([`lockout`]: a known address's own lock, else the lock on new addresses). Without the
    /// lockout rows (a foreign schema before `gatehouse db init`) a lock is a ban row, part of
    /// the account's standing, and this is always clear.
    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError>;

    /// Commits a failed attempt in one transaction: an audit row always; for wrong credentials
    /// ([`LoginOutcome::counts_against_account`]) of a known account, `failed_logins` grows by
    /// one (it counts since the last good logon, for the operator) and the failure is counted
    /// under `lockout` in the row of `attempt.peer` if that address has logged into the
    /// account before, else in the account's row for new addresses ([`lockout`]); reaching
    /// the limit locks that scope until `attempt.at + lockout.duration` (`unban` lifts it).
    /// Without the lockout rows (a foreign schema before `db init`) the count is
    /// `failed_logins` alone and a lock is a ban row, as the schema's own server does.
    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        lockout: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError>;

    /// Commits a success in one transaction: last login time and IP, `failed_logins = 0`, a
    /// fresh session ticket (the key, issued at `attempt.at`, expiring at `expires_at`, not
    /// taken: a new logon replaces the old ticket), an audit row; `attempt.peer` becomes a
    /// known address of the account with an empty lockout count. With an authenticator token
    /// (`totp_step`), the step is remembered, only if it is later than the last one the account
    /// used: an earlier or the same step is [`StoreError::TokenReused`] and nothing is
    /// committed. Returns the account's character counts per realm. `attempt.account` must be
    /// `Some` ([`StoreError::Invalid`] otherwise).
    fn record_login_success(
        &mut self,
        attempt: &LoginAttempt,
        key: &SessionKey,
        expires_at: i64,
        totp_step: Option<TotpStep>,
    ) -> Result<Vec<CharacterCount>, StoreError>;

    /// Uses up an authenticator time step of `account` outside a logon's success (a console
    /// login): [`StoreError::TokenReused`] if the account used that step or a later one
    /// before, as [`Store::record_login_success`] checks it. Without the step table (a foreign
    /// schema before `db init`) nothing is remembered.
    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError>;

    /// A world server (realm `realm`) takes the account's session ticket. In one transaction:
    /// the live ticket is read and locked (it exists, has not expired: `expires_at > now`, and
    /// is not taken yet); with a `proof`, its key must be the one the client's digest was made
    /// with ([`proof_admits`]); only then is it marked taken by `realm`. Atomic in the
    /// database, so several gatehouse nodes sharing it can never hand one ticket out twice, and
    /// a ticket replaced by a new logon meanwhile is never handed out against an old digest.
    ///
    /// [`TakeOutcome::NoTicket`]: no such account, no ticket, expired, or already taken.
    /// [`TakeOutcome::WrongDigest`] (only with a `proof`): nothing is written, and the ticket
    /// can still be taken.
    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError>;

    /// Commits a successful reconnect in one transaction, only if the account still has a
    /// session key: the ticket becomes takeable again (not taken, expiring at `expires_at`),
    /// last login time and IP, an audit row with outcome
    /// [`LoginOutcome::ReconnectSuccess`] (whatever `attempt.outcome` says). Returns the
    /// character counts like [`Store::record_login_success`]. No key: [`StoreError::NoSession`];
    /// no account: [`StoreError::NoSuchAccountId`]; `attempt.account = None`:
    /// [`StoreError::Invalid`].
    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError>;

    // --- group commit (called from the DB threads that write) ---

    /// Opens a group commit ([`worker`]): the login path's writes that follow (failures,
    /// successes, takes, renewals) run inside one transaction, each in its own savepoint (so
    /// one that fails leaves the others in), until [`Store::end_batch`]. A DB thread that finds
    /// several writes waiting so pays for one commit and one sync to disk, not one each.
    /// Nothing is committed before `end_batch` says so: nobody may be answered before.
    fn begin_batch(&mut self) -> Result<(), StoreError>;

    /// Closes the group commit [`Store::begin_batch`] opened: commits every write that
    /// succeeded in it ([`BatchEnd::Commit`]), or none ([`BatchEnd::Abandon`]). An error means
    /// none of them is committed.
    fn end_batch(&mut self, end: BatchEnd) -> Result<(), StoreError>;

    /// The key a realm's world server proves itself with; `None` for a static realm (no link).
    /// [`StoreError::NoSuchRealm`] if the realm is not configured.
    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError>;

    /// Every configured realm, by id. A realm whose row (or build list) does not parse or
    /// breaks the realm-list rules is left out with an error line naming it; the rest load.
    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError>;

    // --- administration (CLI now, console later) ---

    /// [`StoreError::DuplicateAccount`] if the name is taken.
    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError>;

    /// Replaces salt and verifier and forgets the session key (a reconnect must not outlive a
    /// password change). [`StoreError::NoSuchAccount`] if unknown.
    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError>;

    /// Deletes the account with its bans and character counts; audit rows stay.
    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError>;

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError>;

    /// Adds a ban: `until = None` is permanent, `Some(t)` suspends until unix second `t`.
    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// Lifts every active ban of the account (they stay in the table, inactive, as history).
    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError>;

    /// [`StoreError::DuplicateRealm`] if the name is taken (case-insensitive). The id is the
    /// next after the highest in use, or the lowest free one once 255 is taken.
    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError>;

    /// Like [`Store::add_realm`], with the id the operator chose (`realm add --id`), so a
    /// world server configured with it keeps working: [`StoreError::RealmIdTaken`] if a realm
    /// has it, [`StoreError::RealmIdOutOfRange`] outside 1..=255.
    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError>;

    /// Changes the given fields of a realm and leaves the rest (its id, link key and character
    /// counts) as they are; returns its id. [`StoreError::NoSuchRealm`] if unknown,
    /// [`StoreError::DuplicateRealm`] if the new name is another realm's,
    /// [`StoreError::Invalid`] if nothing is to change.
    fn update_realm(
        &mut self,
        realm: &RealmRef,
        changes: &RealmChanges,
    ) -> Result<RealmId, StoreError>;

    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError>;

    /// Same rows as [`Store::load_realms`]; separate so the admin side can grow columns.
    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError>;

    /// Sets (or replaces) a realm's link key, which makes it [`RealmKind::Linkable`].
    /// [`StoreError::NoSuchRealm`] if unknown.
    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError>;

    /// Bans an address or network (refused at accept) until `until` (unix seconds) or for good.
    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError>;

    /// Lifts an IP ban; `false` if there was none.
    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError>;

    /// The IP bans in force at `now`. A ban whose address or network (or date) does not parse
    /// is left out with an error line naming it; the rest are enforced.
    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError>;

    /// Stores the console password's hash (`admin::hash_console_password`).
    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError>;

    /// The console password's hash, if one was set.
    fn console_password(&mut self) -> Result<Option<String>, StoreError>;

    /// The account's GM / security level, as world servers get it with the session.
    /// [`StoreError::NoSuchAccount`] if unknown.
    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError>;

    /// Locks the account to the address it last logged on from (`account lock-ip`), or lifts
    /// the lock. Locking returns that address; an account that never logged on has none to be
    /// locked to: [`StoreError::NoLastAddress`]. Lifting returns `None`.
    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: IpLockSetting,
    ) -> Result<Option<String>, StoreError>;

    /// Sets (`Some`) or clears (`None`) the account's sealed authenticator secret.
    /// [`StoreError::NoSuchAccount`] if unknown.
    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError>;

    /// Sets (`Some`) or clears (`None`) the account's sealed fixed PIN (the PIN grid, vMaNGOS's
    /// PIN). [`StoreError::NoSuchAccount`] if unknown. On a foreign schema it lives in
    /// `gatehouse_pins` ([`Feature::OwnAuthenticators`]).
    fn set_pin(&mut self, name: &AccountName, pin: Option<&SealedPin>) -> Result<(), StoreError>;

    /// Upserts how many characters one account has on a realm (an operator's
    /// `account characters`): [`Store::set_character_counts`] with one count, an unknown
    /// account an error.
    fn set_character_count(
        &mut self,
        account: AccountId,
        realm: RealmId,
        count: u8,
    ) -> Result<(), StoreError> {
        let written = self.set_character_counts(realm, &[(account, count)])?;
        match written.unknown.first() {
            Some(unknown) => Err(StoreError::NoSuchAccountId(*unknown)),
            None => Ok(()),
        }
    }

    /// A world server's report of its realm's character counts, in one transaction: each
    /// account's count on `realm` is upserted (other realms' rows are left alone); an account
    /// that does not exist is skipped, not an error for the batch. [`StoreError::NoSuchRealm`]
    /// if the realm is not configured.
    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsWritten, StoreError>;

    /// The newest `limit` audit rows, newest first.
    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError>;

    /// The audit rows that match every filter of `query`, newest first, at most
    /// `query.limit` (`gatehouse audit`).
    fn query_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;

    /// Deletes the audit rows of attempts before `before` (unix seconds, `audit.keep_days`);
    /// how many went. Nothing to do where there is no audit table.
    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError>;

    /// What this store cannot do on this database: on a foreign schema without gatehouse's own
    /// tables, [`Feature::NEED_OWN_TABLES`]; nothing otherwise.
    fn features_off(&self) -> &'static [Feature] {
        &[]
    }
}

/// `account lock-ip NAME on|off` ([`Store::set_ip_lock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpLockSetting {
    On,
    Off,
}

/// How a group commit ends ([`Store::end_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchEnd {
    Commit,
    Abandon,
}

/// What committing a failed attempt did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRecorded {
    /// Only the audit row (not wrong credentials, or no such account).
    Audited,
    /// Counted: the account's failure count is now this.
    Counted(u32),
    /// This failure locked `scope` of the account out until this unix second.
    Locked { until: i64, scope: LockScope },
}

/// What gatehouse does on an AzerothCore or CMaNGOS database only when its own `gatehouse_`
/// tables are there beside the other project's (`gatehouse db init` creates them). Logons,
/// reconnects (with the key in the account row), bans, security levels, the failed-login
/// counter and the realm list work without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The login audit (`gatehouse_login_audit`, `gatehouse audit`).
    LoginAudit,
    /// World servers taking session keys over the realm link (`gatehouse_realm_keys`,
    /// `gatehouse_sessions`); the other project's world servers read the key from `account`.
    RealmLink,
    /// Session tickets that expire and are taken once; without them a reconnect is checked
    /// against the account's last key, however old, as the other project's authserver does.
    TicketExpiry,
    /// The account lockout per address, and its decay (`gatehouse_login_addresses`); without
    /// it `failed_logins` counts wrong passwords from anywhere until a good logon, and reaching
    /// the limit bans the account for everyone for a while, as the other project's server does.
    AddressLockout,
    /// Authenticator tokens accepted once (`gatehouse_totp_steps`); without it a token can be
    /// used again within its 90-second window.
    TokenReplay,
    /// The console password kept in the database (`gatehouse_settings`).
    ConsolePassword,
    /// Authenticators enabled with `gatehouse account totp` (`gatehouse_totp`); the schema's
    /// own (AzerothCore `totp_secret`, CMaNGOS `token`) are checked either way.
    OwnAuthenticators,
}

impl Feature {
    /// Everything that lives in the `gatehouse_` tables.
    pub const NEED_OWN_TABLES: &'static [Feature] = &[
        Feature::LoginAudit,
        Feature::RealmLink,
        Feature::TicketExpiry,
        Feature::AddressLockout,
        Feature::TokenReplay,
        Feature::ConsolePassword,
        Feature::OwnAuthenticators,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::LoginAudit => "the login audit",
            Feature::RealmLink => "the realm link (world servers taking session keys)",
            Feature::TicketExpiry => "session tickets that expire and are taken once",
            Feature::AddressLockout => "the account lockout per address, and its decay",
            Feature::TokenReplay => "authenticator tokens accepted once",
            Feature::ConsolePassword => "the console password kept in the database",
            Feature::OwnAuthenticators => "authenticators enabled with `gatehouse account totp`",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the login path needs to know about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: AccountId,
    pub name: AccountName,
    pub salt: Salt,
    pub verifier: Verifier,
    pub standing: AccountStanding,
    pub failed_logins: u32,
    /// The GM / security level world servers get with the session (0 = player).
    pub security_level: u8,
    /// The ticket of the last successful login, for reconnects and world servers.
    pub session: Option<SessionTicket>,
    /// The authenticator secret, sealed; `Some` = a token is required after the password.
    pub totp: Option<SealedTotpSecret>,
    /// The fixed PIN the player chose, sealed (`gatehouse account pin set`); `Some` = the PIN
    /// grid is required wherever the client has it (docs/protocol.md §2.3).
    pub pin: Option<SealedPin>,
    /// `Some`: logons only from one address (the foreign schemas' `account.locked`).
    pub ip_lock: Option<IpLock>,
    /// The account lockout as it stands for the address of the logon that loaded the record
    /// ([`Store::lockout_standing`]); `Clear` from [`Store::load_account`], which has none.
    pub lockout: LockoutStanding,
}

/// The "boarding pass" of a successful logon: the session key a world server asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTicket {
    pub key: SessionKey,
    /// Unix seconds of the logon that made the key.
    pub issued_at: i64,
    /// Unix seconds after which no world server may take it (a reconnect renews it).
    pub expires_at: i64,
    /// The realm whose world server took it; `None` while it is waiting to be taken.
    pub taken_by: Option<RealmId>,
}

/// What a world server gets when it takes a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakenSession {
    pub account: AccountId,
    pub key: SessionKey,
    pub security_level: u8,
}

/// What [`Store::take_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeOutcome {
    /// The ticket is now marked taken by the realm that asked.
    Taken(TakenSession),
    /// No live ticket: no such account, no ticket, expired, or already taken.
    NoTicket,
    /// A live ticket, but the client's digest was not made with its key: left untouched.
    WrongDigest,
}

impl TakeOutcome {
    /// The session, if it was taken.
    pub fn taken(self) -> Option<TakenSession> {
        match self {
            TakeOutcome::Taken(t) => Some(t),
            TakeOutcome::NoTicket | TakeOutcome::WrongDigest => None,
        }
    }
}

/// One login attempt, as the audit and the counters record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    /// `None` when the name is unknown.
    pub account: Option<AccountId>,
    pub name: AccountName,
    pub peer: IpAddr,
    pub build: Build,
    /// What the challenge said of the client (AzerothCore and CMaNGOS keep it per account).
    pub client: ClientTags,
    pub outcome: LoginOutcome,
    /// Unix seconds.
    pub at: i64,
}

/// How an attempt ended; `as_str` is what the audit column holds, so these strings are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginOutcome {
    Success,
    ReconnectSuccess,
    UnknownAccount,
    WrongPassword,
    /// Right password, but the authenticator token was wrong or missing.
    WrongToken,
    /// Right password, but the PIN typed on the PIN grid (a fixed PIN or the authenticator
    /// token) was wrong or missing.
    WrongPin,
    /// Right password, but the proof's crc_hash is not the client integrity hash of its build
    /// and OS (`server.strict_version_check`), or no seed is known for them.
    VersionMismatch,
    ReconnectFailed,
    Banned,
    Suspended,
    VersionInvalid,
    TooManyAttempts,
    IpBanned,
    DbBusy,
    /// Right password from an old build: the client was sent a patch instead of a session.
    Patched,
    /// The account is locked to another address ([`AccountRecord::ip_lock`]).
    IpLocked,
    /// Refused at the challenge: wrong passwords locked this address out of the account.
    LockedOut,
    // --- the debug console's logins (an account of ADMIN_LEVEL, or the console password) ---
    /// Logged in to the console.
    ConsoleSuccess,
    /// A wrong console password, or a wrong account password at the console.
    ConsoleWrongPassword,
    /// Right password, but the authenticator code was wrong or missing.
    ConsoleWrongToken,
    /// The account is banned.
    ConsoleBanned,
    /// The account is suspended (a ban with an end, or a lockout).
    ConsoleSuspended,
    /// Right password (and code), but the account's security level is below the console's.
    ConsoleNotAdmin,
    /// The account's authenticator secret cannot be opened (no or another `totp.key`, a
    /// damaged row): the server's fault, not counted against the account.
    ConsoleTotpUnusable,
}

impl LoginOutcome {
    pub const ALL: [LoginOutcome; 24] = [
        LoginOutcome::Success,
        LoginOutcome::ReconnectSuccess,
        LoginOutcome::UnknownAccount,
        LoginOutcome::WrongPassword,
        LoginOutcome::WrongToken,
        LoginOutcome::WrongPin,
        LoginOutcome::VersionMismatch,
        LoginOutcome::ReconnectFailed,
        LoginOutcome::Banned,
        LoginOutcome::Suspended,
        LoginOutcome::VersionInvalid,
        LoginOutcome::TooManyAttempts,
        LoginOutcome::IpBanned,
        LoginOutcome::DbBusy,
        LoginOutcome::Patched,
        LoginOutcome::IpLocked,
        LoginOutcome::LockedOut,
        LoginOutcome::ConsoleSuccess,
        LoginOutcome::ConsoleWrongPassword,
        LoginOutcome::ConsoleWrongToken,
        LoginOutcome::ConsoleBanned,
        LoginOutcome::ConsoleSuspended,
        LoginOutcome::ConsoleNotAdmin,
        LoginOutcome::ConsoleTotpUnusable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::ReconnectSuccess => "reconnect_success",
            LoginOutcome::UnknownAccount => "unknown_account",
            LoginOutcome::WrongPassword => "wrong_password",
            LoginOutcome::WrongToken => "wrong_token",
            LoginOutcome::WrongPin => "wrong_pin",
            LoginOutcome::VersionMismatch => "version_mismatch",
            LoginOutcome::ReconnectFailed => "reconnect_failed",
            LoginOutcome::Banned => "banned",
            LoginOutcome::Suspended => "suspended",
            LoginOutcome::VersionInvalid => "version_invalid",
            LoginOutcome::TooManyAttempts => "too_many_attempts",
            LoginOutcome::IpBanned => "ip_banned",
            LoginOutcome::DbBusy => "db_busy",
            LoginOutcome::Patched => "patched",
            LoginOutcome::IpLocked => "ip_locked",
            LoginOutcome::LockedOut => "locked_out",
            LoginOutcome::ConsoleSuccess => "console_success",
            LoginOutcome::ConsoleWrongPassword => "console_wrong_password",
            LoginOutcome::ConsoleWrongToken => "console_wrong_token",
            LoginOutcome::ConsoleBanned => "console_banned",
            LoginOutcome::ConsoleSuspended => "console_suspended",
            LoginOutcome::ConsoleNotAdmin => "console_not_admin",
            LoginOutcome::ConsoleTotpUnusable => "console_totp_unusable",
        }
    }

    /// Whether the attempt counts against the account (`failed_logins`): a wrong credential,
    /// password or authenticator token alike, so a guesser learns nothing from which was wrong;
    /// at the console as in the game.
    pub fn counts_against_account(self) -> bool {
        matches!(
            self,
            LoginOutcome::WrongPassword
                | LoginOutcome::WrongToken
                | LoginOutcome::WrongPin
                | LoginOutcome::ConsoleWrongPassword
                | LoginOutcome::ConsoleWrongToken
        )
    }

    /// The outcome an audit string stands for, if this binary knows it.
    pub fn from_str_opt(s: &str) -> Option<LoginOutcome> {
        LoginOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for LoginOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a realm's world server links to gatehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealmKind {
    /// No link key: the entry is configured by hand and always listed as configured.
    Static,
    /// Has a link key: a world server is expected to connect over the realm link.
    Linkable,
}

impl RealmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RealmKind::Static => "static",
            RealmKind::Linkable => "linkable",
        }
    }
}

impl fmt::Display for RealmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configured realm.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmRecord {
    /// Always in 1..=255: it is the realm-list id byte.
    pub id: RealmId,
    pub name: String,
    /// "host:port" of the world server, as sent to clients.
    pub address: String,
    /// The realm-list "icon" (0 normal, 1 PvP, 6 RP, 8 RP-PvP).
    pub realm_type: u8,
    pub flags: u8,
    /// The realm-list category / timezone byte.
    pub timezone: u8,
    pub population: f32,
    /// Builds this realm accepts; empty = every build the server accepts.
    pub builds: Vec<Build>,
    /// Linkable when it has a link key (the key itself is only read by the link handshake).
    pub kind: RealmKind,
    /// Who the realm is listed to (`allowed_level`; the foreign schemas'
    /// `allowedSecurityLevel`).
    pub access: RealmAccess,
    /// The address clients on the realm's own network are given instead of `address`.
    pub local: Option<RealmLocal>,
}

/// A realm to add: a [`RealmRecord`] without its id, which the store picks, and with the
/// link key (if any) instead of its kind, so a linkable realm is added in one step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRealm {
    pub name: String,
    pub address: String,
    pub realm_type: u8,
    pub flags: u8,
    pub timezone: u8,
    pub population: f32,
    pub builds: Vec<Build>,
    /// `Some` makes the realm [`RealmKind::Linkable`].
    pub link_key: Option<LinkKey>,
    /// The security level an account needs to see the realm (0: every account).
    pub allowed_level: u8,
    pub local: Option<RealmLocal>,
}

/// What `realm set` changes: the fields that are `Some`; the others stay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RealmChanges {
    pub name: Option<String>,
    pub address: Option<String>,
    pub realm_type: Option<u8>,
    pub flags: Option<u8>,
    pub timezone: Option<u8>,
    pub population: Option<f32>,
    /// `Some(empty)` = every build the server accepts.
    pub builds: Option<Vec<Build>>,
    pub allowed_level: Option<u8>,
    /// `Some(None)` removes the local address.
    pub local: Option<Option<RealmLocal>>,
}

impl RealmChanges {
    /// Whether no field is to change.
    pub fn is_empty(&self) -> bool {
        self == &RealmChanges::default()
    }
}

/// What [`Store::set_character_counts`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountsWritten {
    /// Counts written.
    pub written: usize,
    /// Accounts that do not exist, skipped.
    pub unknown: Vec<AccountId>,
}

/// The filters of `gatehouse audit`: a row is listed if it matches every one that is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The name the attempt gave (stored upper-case).
    pub account: Option<AccountName>,
    /// The client's address, or a network it is in.
    pub address: Option<IpNet>,
    /// Attempts at or after this unix second.
    pub since: Option<i64>,
    /// Any of these outcomes; empty = every outcome.
    pub outcomes: Vec<LoginOutcome>,
    /// At most this many rows, the newest.
    pub limit: u32,
}

impl AuditQuery {
    /// No filter: the newest `limit` rows.
    pub fn newest(limit: u32) -> AuditQuery {
        AuditQuery {
            account: None,
            address: None,
            since: None,
            outcomes: Vec::new(),
            limit,
        }
    }
}

/// How an operator names a realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmRef {
    Id(RealmId),
    Name(String),
}

impl fmt::Display for RealmRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealmRef::Id(id) => write!(f, "{id}"),
            RealmRef::Name(name) => write!(f, "realm {name:?}"),
        }
    }
}

/// How many characters an account has on a realm (the realm list shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacterCount {
    pub realm: RealmId,
    pub count: u8,
}

/// An account as the admin listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub id: AccountId,
    pub name: AccountName,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub last_login_ip: Option<String>,
    pub failed_logins: u32,
    pub security_level: u8,
    pub standing: AccountStanding,
    /// Whether an authenticator (TOTP) is enabled.
    pub totp: bool,
    /// The address the account may log on from, when it is IP-locked (as the schema keeps
    /// it: gatehouse's and AzerothCore's last logon address, CMaNGOS's `lockedIp`).
    pub ip_lock: Option<String>,
}

/// One login audit row. `outcome` is kept as text so rows written by a newer binary still list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: i64,
    pub account: Option<AccountId>,
    pub name: String,
    pub peer: String,
    pub build: Build,
    pub outcome: String,
}

/// What the store's operations fail with, whatever the backend: the backend's own errors are
/// carried as a [`BackendError`], so nothing outside a backend names its driver crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An SQLite file that is not there, opened with [`Create::Never`].
    #[error("no database at {}", path.display())]
    NoDatabase { path: PathBuf },
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },
    /// A database server could not be reached or refused the login; `url` has no password.
    #[error("cannot connect to database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: BackendError,
    },
    #[error("schema migration to version {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: BackendError,
    },
    #[error(
        "database schema version {found} is newer than this gatehouse knows ({supported}); \
         run a newer gatehouse or point it at another database"
    )]
    SchemaTooNew { found: i64, supported: u32 },
    #[error("account {0} already exists")]
    DuplicateAccount(AccountName),
    #[error("no account named {0}")]
    NoSuchAccount(AccountName),
    #[error("no account {0}")]
    NoSuchAccountId(AccountId),
    #[error("a realm named {0:?} already exists")]
    DuplicateRealm(String),
    #[error("no such realm: {0}")]
    NoSuchRealm(String),
    #[error("account {0} has no session key")]
    NoSession(AccountId),
    #[error("account {0} has never logged on: there is no address to lock it to")]
    NoLastAddress(AccountName),
    #[error("every realm id from 1 to 255 is taken")]
    RealmIdsExhausted,
    #[error("realm id {} is taken by another realm (`gatehouse realm list` shows it)", .0.0)]
    RealmIdTaken(RealmId),
    #[error("realm id {0} is out of range: a realm id is 1 to 255")]
    RealmIdOutOfRange(u32),
    #[error("corrupt data in the database: {what}")]
    Corrupt { what: String },
    #[error("invalid store request: {0}")]
    Invalid(&'static str),
    /// A foreign schema's database without gatehouse's own tables (`gatehouse db init` makes
    /// them) cannot do this.
    #[error(
        "{0} needs gatehouse's own tables (gatehouse_*) in this database: run \
         `gatehouse db init` with the same --db and --schema"
    )]
    NeedsOwnTables(Feature),
    /// The authenticator token's time step was used before by this account (RFC 6238 §5.2).
    #[error("the authenticator token was used before")]
    TokenReused,
    #[error("the database queue is full")]
    Busy,
    #[error("the database pool has stopped")]
    Stopped,
    #[error("a database thread panicked while handling the request")]
    Panicked,
    #[error("cannot start a database thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The backend failed a statement or a transaction.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Corrupt { what: what.into() }
    }

    /// Whether a write that failed with this inside a group commit may have undone more than
    /// itself: a database's error (a deadlock or a full disk can roll back the whole
    /// transaction) or a panic. A refusal decided by the store's own rules (a reused token, an
    /// account deleted meanwhile, a corrupt row) leaves the others' writes as they were.
    pub fn spoils_batch(&self) -> bool {
        matches!(self, StoreError::Backend(_) | StoreError::Panicked)
    }

    /// The kind of backend failure behind this error, if the backend failed.
    pub fn backend_kind(&self) -> Option<BackendErrorKind> {
        match self {
            StoreError::Open { source, .. }
            | StoreError::Connect { source, .. }
            | StoreError::Migration { source, .. } => Some(source.kind()),
            StoreError::Backend(e) => Some(e.kind()),
            _ => None,
        }
    }
}

/// A failure reported by the database backend, in the store's own terms: a kind the rest of
/// gatehouse can act on, the backend's message, and its numeric code if it has one (for SQLite
/// the extended result code). Each backend classifies its own errors into this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    kind: BackendErrorKind,
    message: String,
    code: Option<i32>,
}

impl BackendError {
    pub fn new(kind: BackendErrorKind, message: impl Into<String>, code: Option<i32>) -> Self {
        Self {
            kind,
            message: message.into(),
            code,
        }
    }

    pub fn kind(&self) -> BackendErrorKind {
        self.kind
    }

    /// The backend's message, as its driver worded it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The backend's own numeric error code, when it gave one.
    pub fn code(&self) -> Option<i32> {
        self.code
    }
}

/// What kind of backend failure a [`BackendError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendErrorKind {
    /// Another connection held a lock for longer than the backend waits (SQLite: busy, locked).
    Busy,
    /// A write broke a constraint (unique, check, foreign key, not null).
    Constraint,
    /// The database cannot be written: a read-only file, directory or medium.
    ReadOnly,
    /// The disk, or the database's size limit, is full.
    Full,
    /// The database file could not be opened, or the server refused the login or does not
    /// have the database.
    CannotOpen,
    /// The database server could not be reached, or the connection to it was lost; a later
    /// attempt may succeed.
    Unavailable,
    /// The file is not a database, or is damaged.
    Damaged,
    /// Anything else (a bad statement, a type mismatch, an I/O error, ...).
    Other,
}

/// Where the store lives, as `--db` or `store.url` name it.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file, created on first start.
    Sqlite(PathBuf),
    /// A MySQL/MariaDB database: `mysql://USER[:PASSWORD]@HOST:PORT/DBNAME`, holding
    /// gatehouse's own tables or another login server's, reached with or without TLS.
    Mysql {
        url: String,
        schema: Schema,
        tls: DbTls,
    },
}

/// Whose tables a MySQL/MariaDB database holds (`store.schema`, `--schema`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// gatehouse's own tables, created and migrated at open.
    #[default]
    Gatehouse,
    /// An unchanged AzerothCore auth database (`acore_auth`), plus `gatehouse_` tables.
    AzerothCore,
    /// An unchanged CMaNGOS realmd database, plus `gatehouse_` tables.
    Cmangos,
}

impl Schema {
    pub fn as_str(self) -> &'static str {
        match self {
            Schema::Gatehouse => "gatehouse",
            Schema::AzerothCore => "azerothcore",
            Schema::Cmangos => "cmangos",
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Schema {
    type Err = String;

    fn from_str(s: &str) -> Result<Schema, String> {
        match s {
            "gatehouse" => Ok(Schema::Gatehouse),
            "azerothcore" => Ok(Schema::AzerothCore),
            "cmangos" => Ok(Schema::Cmangos),
            other => Err(format!(
                "unknown schema {other:?} (gatehouse, azerothcore or cmangos)"
            )),
        }
    }
}

impl StoreLocation {
    /// `mysql://…` is MySQL/MariaDB; `sqlite://PATH` or anything else is an SQLite path.
    pub fn parse(text: &str) -> StoreLocation {
        if text.starts_with("mysql://") {
            StoreLocation::Mysql {
                url: text.to_owned(),
                schema: Schema::Gatehouse,
                tls: DbTls::Off,
            }
        } else if let Some(path) = text.strip_prefix("sqlite://") {
            StoreLocation::Sqlite(PathBuf::from(path))
        } else {
            StoreLocation::Sqlite(PathBuf::from(text))
        }
    }
}

/// Shows the location with any password in a URL replaced, so it can be logged; a schema
/// other than gatehouse's and TLS are named after it: `mysql://… (azerothcore, TLS verify)`.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Mysql { url, schema, tls } => {
                f.write_str(&redact_url(url))?;
                match (schema, tls) {
                    (Schema::Gatehouse, DbTls::Off) => Ok(()),
                    (Schema::Gatehouse, tls) => write!(f, " (TLS {tls})"),
                    (schema, DbTls::Off) => write!(f, " ({schema})"),
                    (schema, tls) => write!(f, " ({schema}, TLS {tls})"),
                }
            }
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreLocation::Mysql { url, schema, tls } => f
                .debug_struct("Mysql")
                .field("url", &redact_url(url))
                .field("schema", schema)
                .field("tls", tls)
                .finish(),
        }
    }
}

/// Whether opening an SQLite store may create its file. Only the server and `gatehouse db
/// init` create one: for any other command a missing file is a mistyped path, and a new empty
/// database there would hide it. A database server's database is never created by opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Create the SQLite file (and gatehouse's tables) when it is not there.
    IfMissing,
    /// A missing SQLite file is [`StoreError::NoDatabase`].
    Never,
}

/// Opens one connection to the store at `location`. `password` is for a database server
/// (`Some` replaces one in the URL); SQLite ignores it, and creates its file only with
/// [`Create::IfMissing`].
pub fn open(
    location: &StoreLocation,
    password: Option<&str>,
    create: Create,
) -> Result<Box<dyn Store>, StoreError> {
    match location {
        StoreLocation::Sqlite(path) => Ok(Box::new(SqliteStore::open_as(path, create)?)),
        StoreLocation::Mysql { .. } => open_with_totp_key(location, password, None, None),
    }
}

/// Like [`open`], for a store that serves logons: an AzerothCore or CMaNGOS database's authenticator
/// secrets are sealed under `totp_key` (gatehouse's `totp.key`) as accounts are loaded, so the
/// login path can check them; the other schemas keep sealed secrets and ignore it. An
/// AzerothCore database's secrets are first decrypted under `totp_master` (its authserver's
/// `TOTPMasterSecret`) when that is given; the other schemas ignore it.
pub fn open_with_totp_key(
    location: &StoreLocation,
    password: Option<&str>,
    totp_key: Option<&crate::totp::TotpKey>,
    totp_master: Option<&azerothcore::totp_master::TotpMasterSecret>,
) -> Result<Box<dyn Store>, StoreError> {
    Ok(match location {
        StoreLocation::Sqlite(path) => Box::new(SqliteStore::open(path)?),
        StoreLocation::Mysql {
            url,
            schema: Schema::Gatehouse,
            tls,
        } => Box::new(MysqlStore::open_with_password(url, password, tls)?),
        StoreLocation::Mysql {
            url,
            schema: Schema::AzerothCore,
            tls,
        } => Box::new(
            AzerothCoreStore::open_with_password(url, password, tls)?
                .with_totp_key(totp_key.cloned())
                .with_totp_master_secret(totp_master.cloned()),
        ),
        StoreLocation::Mysql {
            url,
            schema: Schema::Cmangos,
            tls,
        } => Box::new(
            CmangosStore::open_with_password(url, password, tls)?.with_totp_key(totp_key.cloned()),
        ),
    })
}

/// A realm id an operator chose (`realm add --id`): the realm-list id byte, 1 to 255.
pub(crate) fn check_chosen_realm_id(id: RealmId) -> Result<(), StoreError> {
    if (1..=255).contains(&id.0) {
        Ok(())
    } else {
        Err(StoreError::RealmIdOutOfRange(id.0))
    }
}

/// Audit rows a prune deletes per statement, so that no one statement holds the writers up
/// for long (each backend loops until a batch comes back short).
pub(crate) const PRUNE_BATCH: u32 = 5000;

/// What `gatehouse db init` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initialised {
    /// It created the tables.
    Created,
    /// They were already there, at this gatehouse's version.
    AlreadyThere,
}

/// `gatehouse db init`: makes gatehouse's tables at `location`. On gatehouse's own schema
/// opening a store migrates it anyway, so this only opens one; beside an AzerothCore or CMaNGOS
/// schema it creates the `gatehouse_` tables, which nothing else does.
pub fn init(location: &StoreLocation, password: Option<&str>) -> Result<Initialised, StoreError> {
    let created = match location {
        StoreLocation::Sqlite(_)
        | StoreLocation::Mysql {
            schema: Schema::Gatehouse,
            ..
        } => {
            open(location, password, Create::IfMissing)?;
            return Ok(Initialised::AlreadyThere);
        }
        StoreLocation::Mysql {
            url,
            schema: Schema::AzerothCore,
            tls,
        } => AzerothCoreStore::init(url, password, tls)?,
        StoreLocation::Mysql {
            url,
            schema: Schema::Cmangos,
            tls,
        } => CmangosStore::init(url, password, tls)?,
    };
    Ok(if created {
        Initialised::Created
    } else {
        Initialised::AlreadyThere
    })
}

/// `scheme://user:password@host/…` with the password replaced by `***`; anything else as is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The last '@': a password may hold an '@' or a '/' of its own, a database name neither.
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

// --- pieces every backend shares, so their observable behaviour cannot drift apart ---

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a live ticket's key may be handed out: always without a `proof` (plain TakeSession:
/// the world server checks the digest itself), otherwise only if the client's digest was made
/// with this key (constant time). Every backend asks this between reading the ticket (locked)
/// and marking it taken, so the rule is written once.
pub fn proof_admits(proof: Option<&ClientDigest>, name: &AccountName, key: &SessionKey) -> bool {
    proof.is_none_or(|p| p.verify(name, key))
}

/// IPv4-mapped IPv6 peers (a dual-stack listener) are written as plain IPv4, so one client
/// has one address in the audit whichever socket it came in on.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// Standing from the two ban aggregates the account queries compute: whether an active
/// permanent ban exists, and the latest expiry of active bans still in the future.
pub(crate) fn standing(permanent: bool, until: Option<i64>) -> AccountStanding {
    match (permanent, until) {
        (true, _) => AccountStanding::Banned,
        (false, Some(until)) => AccountStanding::Suspended { until },
        (false, None) => AccountStanding::Active,
    }
}

/// The reason on the ban row a lockout writes.
pub(crate) fn lockout_reason(lockout: &LockoutPolicy) -> String {
    format!(
        "locked: {} wrong passwords within {} s",
        lockout.attempts,
        lockout.window.as_secs()
    )
}

/// An account row's address lock: `locked` as the schema's own server reads the column, the
/// address text it keeps, and how that server refuses a logon from elsewhere. Text that is no
/// address locks the account to nothing (never to anywhere), and a log line says so.
pub(super) fn stored_ip_lock(
    name: &AccountName,
    locked: bool,
    stored: &str,
    refusal: crate::account::IpLockRefusal,
) -> Option<crate::account::IpLock> {
    if !locked {
        return None;
    }
    let lock = crate::account::IpLock::from_stored(stored, refusal);
    if lock.address.is_none() {
        log::warn!(
            "store: account {name} is locked to {stored:?}, which is not an IP address; its \
             logons are refused"
        );
    }
    Some(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit column holds these strings: each outcome has its own, and reads back.
    #[test]
    fn outcome_strings_are_distinct_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for outcome in LoginOutcome::ALL {
            assert!(seen.insert(outcome.as_str()), "{outcome} twice");
            assert_eq!(LoginOutcome::from_str_opt(outcome.as_str()), Some(outcome));
        }
        for (text, outcome) in [
            ("console_success", LoginOutcome::ConsoleSuccess),
            ("console_wrong_password", LoginOutcome::ConsoleWrongPassword),
            ("console_wrong_token", LoginOutcome::ConsoleWrongToken),
            ("console_banned", LoginOutcome::ConsoleBanned),
            ("console_suspended", LoginOutcome::ConsoleSuspended),
            ("console_not_admin", LoginOutcome::ConsoleNotAdmin),
            ("console_totp_unusable", LoginOutcome::ConsoleTotpUnusable),
        ] {
            assert_eq!(LoginOutcome::from_str_opt(text), Some(outcome));
        }
        assert_eq!(LoginOutcome::from_str_opt("console_shrug"), None);
    }

    #[test]
    fn locations_parse_and_show_no_password() {
        assert_eq!(
            StoreLocation::parse("gatehouse.db"),
            StoreLocation::Sqlite("gatehouse.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///var/lib/g.db"),
            StoreLocation::Sqlite("/var/lib/g.db".into())
        );
        let url = "mysql://gh:p@ss/w@db:3306/gatehouse";
        let location = StoreLocation::parse(url);
        assert_eq!(
            location,
            StoreLocation::Mysql {
                url: url.into(),
                schema: Schema::Gatehouse,
                tls: DbTls::Off,
            }
        );
        assert_eq!(location.to_string(), "mysql://gh:***@db:3306/gatehouse");
        assert!(!format!("{location:?}").contains("p@ss"));
        let shown = |schema, tls| {
            StoreLocation::Mysql {
                url: url.into(),
                schema,
                tls,
            }
            .to_string()
        };
        assert_eq!(
            shown(Schema::Cmangos, DbTls::Off),
            "mysql://gh:***@db:3306/gatehouse (cmangos)"
        );
        assert_eq!(
            shown(Schema::Gatehouse, DbTls::Required),
            "mysql://gh:***@db:3306/gatehouse (TLS required)"
        );
        assert_eq!(
            shown(
                Schema::AzerothCore,
                DbTls::Verify {
                    ca: Some("/etc/ca.pem".into())
                }
            ),
            "mysql://gh:***@db:3306/gatehouse (azerothcore, TLS verify (CA /etc/ca.pem))"
        );
        assert_eq!(
            redact_url("mysql://gh@db:3306/gatehouse"),
            "mysql://gh@db:3306/gatehouse"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn open_picks_the_backend_from_the_location() {
        let dir = tempfile::tempdir().unwrap();
        let location = StoreLocation::Sqlite(dir.path().join("g.db"));
        let err = open(&location, None, Create::Never).err().unwrap();
        assert!(matches!(err, StoreError::NoDatabase { .. }), "{err:?}");
        let mut store = open(&location, Some("ignored"), Create::IfMissing).unwrap();
        assert_eq!(store.list_accounts().unwrap(), vec![]);
        let err = open(
            &StoreLocation::parse("mysql://u:hunter2@127.0.0.1:1/g"),
            None,
            Create::Never,
        )
        .err()
        .unwrap();
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
