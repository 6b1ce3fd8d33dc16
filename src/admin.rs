//! Operator commands on the store: what `gatehouse account ...` and `gatehouse realm ...` do
//! (and, later, the console). They run synchronously on the caller's thread — never on the
//! event loop — and validate everything an operator types before it reaches the store.

use std::time::Duration;

use crate::account::{AccountName, CredentialError, Password};
use crate::operator_text::{format_time, standing};
use crate::protocol::version::Build;
use crate::realms::link::key::MIN_SECRET_LEN;
use crate::srp6::{compute_verifier, Salt};
use crate::store::{IpLockSetting, NewRealm, RealmChanges, RealmRef, Store, StoreError};
use crate::totp::{TotpError, TotpKey, TotpSecret};
use crate::values::RealmLocal;
use crate::values::{AccountId, LinkKey, RealmId};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "no [totp] key is configured, so authenticator secrets cannot be stored: set totp.key \
         in the config file (generate one with: openssl rand -hex 32)"
    )]
    NoTotpKey,
    #[error(
        "account {0} already has an authenticator; disable it first to enrol a new one \
         (the old one then stops working)"
    )]
    TotpAlreadyEnabled(AccountName),
    #[error(transparent)]
    Totp(#[from] TotpError),
    #[error(transparent)]
    Pin(#[from] crate::pin_grid::PinError),
    #[error(
        "a ban for {} is longer than {} years; leave the duration out for a ban until lifted",
        humantime::format_duration(*.0),
        MAX_BAN_YEARS
    )]
    BanTooLong(Duration),
    #[error("a ban must last at least a second (or leave the duration out for one until lifted)")]
    BanTooShort,
}

/// The longest ban with an end, in years as durations count them ("100y" = 100 × 365.25
/// days); a ban without an end lasts until lifted.
pub const MAX_BAN_YEARS: u64 = 100;
const MAX_BAN: Duration = Duration::from_secs(MAX_BAN_YEARS * 31_557_600);

/// When a ban for `duration` from `unix_now` ends. A ban of under a second (never in force)
/// or of over [`MAX_BAN_YEARS`] is refused: the end is never a wrapped, past or
/// unprintable time.
pub fn ban_until(unix_now: i64, duration: Duration) -> Result<i64, AdminError> {
    if duration < Duration::from_secs(1) {
        return Err(AdminError::BanTooShort);
    }
    if duration > MAX_BAN {
        return Err(AdminError::BanTooLong(duration));
    }
    i64::try_from(duration.as_secs())
        .ok()
        .and_then(|secs| unix_now.checked_add(secs))
        .ok_or(AdminError::BanTooLong(duration))
}

/// A random salt whose last wire byte is not zero: every schema can use it, and CMaNGOS's
/// realmd (which sends the salt from its hex text unpadded) could not use the others.
fn fresh_salt() -> Salt {
    loop {
        let salt = Salt::random();
        if crate::store::bignum_hex::salt_fits_cmangos(&salt.0) {
            return salt;
        }
    }
}

pub fn create_account(
    store: &mut dyn Store,
    name: &str,
    password: &str,
) -> Result<AccountId, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let password = Password::parse(password.as_bytes())?;
    let salt = fresh_salt();
    let verifier = compute_verifier(&name, &password, &salt);
    Ok(store.create_account(&name, &salt, &verifier)?)
}

pub fn set_password(store: &mut dyn Store, name: &str, password: &str) -> Result<(), AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let password = Password::parse(password.as_bytes())?;
    let salt = fresh_salt();
    let verifier = compute_verifier(&name, &password, &salt);
    Ok(store.set_password(&name, &salt, &verifier)?)
}

pub fn set_security_level(store: &mut dyn Store, name: &str, level: u8) -> Result<(), AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    Ok(store.set_security_level(&name, level)?)
}

/// What `gatehouse account totp enable` shows the operator, once: the otpauth URI carries the
/// secret, so this type has no `Debug` and is never logged.
pub struct TotpEnrolment {
    pub account: AccountName,
    pub uri: String,
}

/// Gives the account a fresh authenticator secret, sealed under `key` and bound to the
/// account's id, and returns the URI to hand to the player's authenticator app. Refuses an
/// account that already has one, so a typo cannot silently lock its player out.
pub fn enable_totp(
    store: &mut dyn Store,
    key: Option<&TotpKey>,
    issuer: &str,
    name: &str,
) -> Result<TotpEnrolment, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let key = key.ok_or(AdminError::NoTotpKey)?;
    let account = store
        .load_account(&name)?
        .ok_or(StoreError::NoSuchAccount(name))?;
    if account.totp.is_some() {
        return Err(AdminError::TotpAlreadyEnabled(name));
    }
    let secret = TotpSecret::generate();
    // Before anything is stored: a name the URI cannot carry leaves the account as it was.
    let uri = crate::totp::otpauth_uri(issuer, name.as_str(), &secret)?;
    let sealed = crate::totp::seal(key, account.id, &secret)?;
    store.set_totp_secret(&name, Some(&sealed))?;
    Ok(TotpEnrolment { account: name, uri })
}

/// Removes the account's authenticator; `false` if it had none.
pub fn disable_totp(store: &mut dyn Store, name: &str) -> Result<bool, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let account = store
        .load_account(&name)?
        .ok_or(StoreError::NoSuchAccount(name))?;
    store.set_totp_secret(&name, None)?;
    Ok(account.totp.is_some())
}

/// Gives the account a fixed PIN for the PIN grid (4–10 digits), sealed under `totp.key`;
/// replaces one it had. Returns the account's name as stored.
pub fn set_pin(
    store: &mut dyn Store,
    key: Option<&TotpKey>,
    name: &str,
    pin: &str,
) -> Result<AccountName, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let pin = crate::pin_grid::Pin::parse(pin.as_bytes())?;
    let key = key.ok_or(AdminError::NoTotpKey)?;
    let account = store
        .load_account(&name)?
        .ok_or(StoreError::NoSuchAccount(name))?;
    let sealed = crate::pin_grid::seal(key, account.id, &pin)?;
    store.set_pin(&name, Some(&sealed))?;
    Ok(name)
}

/// Removes the account's fixed PIN; `false` if it had none.
pub fn clear_pin(store: &mut dyn Store, name: &str) -> Result<bool, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let account = store
        .load_account(&name)?
        .ok_or(StoreError::NoSuchAccount(name))?;
    store.set_pin(&name, None)?;
    Ok(account.pin.is_some())
}

/// How an operator names a realm on the command line: a number is an id, anything else a name.
pub fn parse_realm_ref(s: &str) -> RealmRef {
    match s.parse::<u32>() {
        Ok(id) => RealmRef::Id(RealmId(id)),
        Err(_) => RealmRef::Name(s.to_owned()),
    }
}

/// The link key for a realm secret an operator typed. The secret itself goes no further: the
/// error never quotes it, and only the derived key is stored.
pub fn link_key_from_secret(secret: &str) -> Result<LinkKey, AdminError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(AdminError::Invalid(format!(
            "the realm link secret must be at least {MIN_SECRET_LEN} bytes (got {})",
            secret.len()
        )));
    }
    Ok(LinkKey::derive(secret.as_bytes()))
}

/// Sets (or replaces) the link secret of an existing realm.
pub fn set_realm_secret(
    store: &mut dyn Store,
    realm: &RealmRef,
    secret: &str,
) -> Result<(), AdminError> {
    let key = link_key_from_secret(secret)?;
    Ok(store.set_realm_link_key(realm, &key)?)
}

/// Security level from which an account may log in to the console.
pub const ADMIN_LEVEL: u8 = 3;

/// PBKDF2-HMAC-SHA256 rounds for the console password: slow on purpose, so a console login
/// checks it on the hashing thread (`console::login`), never on the loop or a DB thread.
const CONSOLE_HASH_ROUNDS: u32 = 100_000;
/// A stored hash asking for more rounds than this is refused unchecked rather than let it hold
/// the hashing thread for minutes.
const CONSOLE_HASH_MAX_ROUNDS: u32 = 10_000_000;
/// The format before PHC strings: `pbkdf2-sha256$ROUNDS$SALT$KEY`, salt and key in hex.
const LEGACY_CONSOLE_HASH_PREFIX: &str = "pbkdf2-sha256";

/// A PHC string (`$pbkdf2-sha256$i=100000,l=32$SALT$KEY`, the format of the `password-hash`
/// crates), for `gatehouse console set-password`.
pub fn hash_console_password(password: &str) -> Result<String, AdminError> {
    use pbkdf2::password_hash::CustomizedPasswordHasher;
    if password.chars().count() < 8 {
        return Err(AdminError::Invalid(
            "the console password must be at least 8 characters".into(),
        ));
    }
    let mut salt = [0u8; 16];
    crate::srp6::fill_random(&mut salt);
    let params = pbkdf2::Params::new_with_output_len(CONSOLE_HASH_ROUNDS, 32)
        .map_err(|e| AdminError::Invalid(format!("console password hash: {e}")))?;
    let hash = pbkdf2::Pbkdf2::default()
        .hash_password_customized(password.as_bytes(), &salt, None, None, params)
        .map_err(|e| AdminError::Invalid(format!("console password hash: {e}")))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored hash, a PHC string or the older
/// `pbkdf2-sha256$ROUNDS$SALT$KEY`, in constant time; a malformed hash never matches.
pub fn verify_console_password(stored: &str, password: &str) -> bool {
    use pbkdf2::password_hash::PasswordVerifier;
    if !stored.starts_with('$') {
        return verify_legacy_console_password(stored, password);
    }
    let Ok(hash) = pbkdf2::phc::PasswordHash::new(stored) else {
        return false;
    };
    match pbkdf2::Params::try_from(&hash) {
        Ok(params) if params.rounds() <= CONSOLE_HASH_MAX_ROUNDS => {}
        _ => return false,
    }
    pbkdf2::Pbkdf2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// `pbkdf2-sha256$ROUNDS$SALT$KEY` (hex), what `console set-password` stored before PHC strings.
fn verify_legacy_console_password(stored: &str, password: &str) -> bool {
    use subtle::ConstantTimeEq;
    let parts: Vec<&str> = stored.split('$').collect();
    let [LEGACY_CONSOLE_HASH_PREFIX, rounds, salt, key] = parts.as_slice() else {
        return false;
    };
    let (Ok(rounds), Ok(salt), Ok(key)) =
        (rounds.parse::<u32>(), hex::decode(salt), hex::decode(key))
    else {
        return false;
    };
    if rounds == 0 || rounds > CONSOLE_HASH_MAX_ROUNDS || key.len() != 32 {
        return false;
    }
    let mut computed = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &salt, rounds, &mut computed);
    computed.ct_eq(&key[..]).into()
}

/// A password on its way to the store: never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The console password's stored hash (`pbkdf2-sha256$…`), on its way from the store to the
/// hashing thread. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsolePasswordHash(pub String);

impl std::fmt::Debug for ConsolePasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsolePasswordHash(***)")
    }
}

/// An operator command the console sends to a DB thread.
#[derive(Debug, Clone)]
pub enum AdminOp {
    /// Console login, first step: the console password's hash (a login without a user).
    /// Only loaded here; the DB thread never hashes (see `console::login`).
    LoadConsolePassword,
    CreateAccount {
        name: String,
        password: Secret,
    },
    SetPassword {
        name: String,
        password: Secret,
    },
    BanAccount {
        name: String,
        until: Option<i64>,
        /// Stored with the ban: who and why ("console: ADMIN", "cli: cheating").
        reason: String,
    },
    UnbanAccount {
        name: String,
    },
    AccountInfo {
        name: String,
    },
    SetCharacterCount {
        name: String,
        realm: RealmRef,
        count: u8,
    },
    BanIp {
        net: ipnet::IpNet,
        until: Option<i64>,
        /// Stored with the ban: who and why ("console: ADMIN", "cli: cheating").
        reason: String,
    },
    UnbanIp {
        net: ipnet::IpNet,
    },
    /// `lock-ip NAME on|off`.
    LockIp {
        name: String,
        setting: IpLockSetting,
    },
}

/// What the console shows (or does) after an [`AdminOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAnswer {
    /// Text for the operator (also for refusals such as "no account named X").
    Text(String),
    /// Done, and the IP bans changed: the bans now in force come along, so the daemon
    /// applies them before the operator hears it is done.
    IpBansChanged {
        text: String,
        bans: Vec<crate::values::IpBan>,
    },
    /// The console password's hash, or `None` if none was set.
    ConsolePassword(Option<ConsolePasswordHash>),
}

impl AdminOp {
    /// Whether the command only reads (queued with the logons' reads) or writes.
    pub fn access(&self) -> crate::store::worker::Access {
        use crate::store::worker::Access;
        match self {
            AdminOp::LoadConsolePassword => Access::Read,
            // The other commands mostly write; they queue with the writes.
            AdminOp::CreateAccount { .. }
            | AdminOp::SetPassword { .. }
            | AdminOp::BanAccount { .. }
            | AdminOp::UnbanAccount { .. }
            | AdminOp::AccountInfo { .. }
            | AdminOp::SetCharacterCount { .. }
            | AdminOp::BanIp { .. }
            | AdminOp::UnbanIp { .. }
            | AdminOp::LockIp { .. } => Access::Write,
        }
    }
}

fn text(result: Result<String, AdminError>) -> Result<AdminAnswer, StoreError> {
    match result {
        Ok(t) => Ok(AdminAnswer::Text(t)),
        // Refusals are answers for the operator; only a failing store is an error.
        Err(AdminError::Store(e)) if !is_refusal(&e) => Err(e),
        Err(e) => Ok(AdminAnswer::Text(format!("error: {e}"))),
    }
}

fn is_refusal(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::DuplicateAccount(_)
            | StoreError::NoSuchAccount(_)
            | StoreError::NoSuchRealm(_)
            | StoreError::NoLastAddress(_)
            | StoreError::Invalid(_)
    )
}

fn account_info(store: &mut dyn Store, name: &str) -> Result<String, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let account = store
        .list_accounts()?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or(StoreError::NoSuchAccount(name))?;
    Ok(format!(
        "{} {}: {}, level {}, authenticator {}, {}, {} failed logons, last login {} from {}",
        account.name,
        account.id,
        standing(account.standing, now()),
        account.security_level,
        if account.totp { "on" } else { "off" },
        ip_lock_text(account.ip_lock.as_deref()),
        account.failed_logins,
        account
            .last_login_at
            .map_or("never".to_string(), format_time),
        account.last_login_ip.unwrap_or_else(|| "-".into())
    ))
}

/// How `account info` and `account list` show an account's IP lock.
pub fn ip_lock_text(lock: Option<&str>) -> String {
    match lock {
        None => "not IP-locked".into(),
        Some("") => "IP-locked to no address".into(),
        Some(address) => format!("IP-locked to {address}"),
    }
}

/// `account lock-ip NAME on|off`: locks the account to the address it last logged on from,
/// or lifts the lock; says which.
pub fn set_ip_lock(
    store: &mut dyn Store,
    name: &str,
    setting: IpLockSetting,
) -> Result<String, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    Ok(match store.set_ip_lock(&name, setting)? {
        Some(address) => format!("{name} may log on from {address} only"),
        None => format!("{name} may log on from any address"),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs an operator command on a DB thread.
pub fn run(store: &mut dyn Store, op: &AdminOp) -> Result<AdminAnswer, StoreError> {
    match op {
        AdminOp::LoadConsolePassword => Ok(AdminAnswer::ConsolePassword(
            store.console_password()?.map(ConsolePasswordHash),
        )),
        AdminOp::CreateAccount { name, password } => text(
            create_account(store, name, &password.0)
                .map(|id| format!("created account {} ({id})", name.to_ascii_uppercase())),
        ),
        AdminOp::SetPassword { name, password } => text(
            set_password(store, name, &password.0)
                .map(|()| format!("password changed for {}", name.to_ascii_uppercase())),
        ),
        AdminOp::BanAccount {
            name,
            until,
            reason,
        } => text(
            AccountName::parse(name.as_bytes())
                .map_err(AdminError::from)
                .and_then(|n| {
                    store
                        .ban_account(&n, *until, reason)
                        .map_err(AdminError::from)
                        .map(|()| match until {
                            Some(t) => format!("{n} suspended until {}", format_time(*t)),
                            None => format!("{n} banned"),
                        })
                }),
        ),
        AdminOp::UnbanAccount { name } => text(
            AccountName::parse(name.as_bytes())
                .map_err(AdminError::from)
                .and_then(|n| {
                    store
                        .unban_account(&n)
                        .map_err(AdminError::from)
                        .map(|()| format!("{n} unbanned"))
                }),
        ),
        AdminOp::AccountInfo { name } => text(account_info(store, name)),
        AdminOp::SetCharacterCount { name, realm, count } => text(
            set_character_count(store, name, realm, *count)
                .map(|(name, realm)| format!("{name} has {count} characters on {realm}")),
        ),
        AdminOp::BanIp { net, until, reason } => {
            store.ban_ip(net, *until, reason)?;
            Ok(AdminAnswer::IpBansChanged {
                text: match until {
                    Some(t) => format!("{net} banned until {}", format_time(*t)),
                    None => format!("{net} banned"),
                },
                bans: store.ip_bans(now())?,
            })
        }
        AdminOp::LockIp { name, setting } => text(set_ip_lock(store, name, *setting)),
        AdminOp::UnbanIp { net } => Ok(if store.unban_ip(net)? {
            AdminAnswer::IpBansChanged {
                text: format!("{net} unbanned"),
                bans: store.ip_bans(now())?,
            }
        } else {
            AdminAnswer::Text(format!("{net} was not banned"))
        }),
    }
}

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`, `::1`).
pub fn parse_net(word: &str) -> Result<ipnet::IpNet, String> {
    use std::str::FromStr;
    ipnet::IpNet::from_str(word)
        .or_else(|_| word.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{word:?} is not an address or a network (e.g. 10.0.0.0/8)"))
}

/// Realm types by the names operators use (docs/protocol.md §2.4), or a number.
pub fn parse_realm_type(s: &str) -> Result<u8, AdminError> {
    match s.to_ascii_lowercase().as_str() {
        "pve" | "normal" => Ok(0),
        "pvp" => Ok(1),
        "rp" => Ok(6),
        "rppvp" | "rp-pvp" => Ok(8),
        other => other.parse().map_err(|_| {
            AdminError::Invalid(format!(
                "realm type {s:?}: use pve, pvp, rp, rppvp or a number 0-255"
            ))
        }),
    }
}

/// The client builds gatehouse knows (`Build::known_version`): the only ones a realm may be
/// restricted to.
pub const KNOWN_BUILDS: [Build; 5] = [
    Build(5875),
    Build(6005),
    Build(6141),
    Build::TBC,
    Build::WOTLK,
];

fn known_builds_text() -> String {
    KNOWN_BUILDS
        .iter()
        .filter_map(|b| b.known_version())
        .map(|v| format!("{} ({}.{}.{})", v.build, v.major, v.minor, v.patch))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A comma-separated build list, e.g. "5875,8606": each a client build gatehouse knows
/// ([`KNOWN_BUILDS`]); anything else is refused with one line listing them.
pub fn parse_builds(s: &str) -> Result<Vec<Build>, AdminError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .map(Build)
                .filter(|b| b.known_version().is_some())
                .ok_or_else(|| {
                    AdminError::Invalid(format!(
                        "build {p:?} is not a client build gatehouse knows; known builds: {}",
                        known_builds_text()
                    ))
                })
        })
        .collect()
}

/// Realm flags by name, as `--flags` takes them (login-protocol.md §2.4). OFFLINE is
/// gatehouse's to set for a linked realm, but an operator may mark a static realm offline.
pub const REALM_FLAG_NAMES: [(&str, u8); 6] = [
    ("none", 0x00),
    ("invalid", 0x01),
    ("offline", 0x02),
    ("recommended", 0x20),
    ("new", 0x40),
    ("full", 0x80),
];

/// `--flags`: a number (`0x20` hex, `32` decimal) or names joined by `,` or `|`
/// (`recommended`, `new,full`). Bits with no meaning (0x08, 0x10) and SPECIFY_BUILD (0x04,
/// gatehouse's to set) are refused, as the realm link refuses them.
pub fn parse_realm_flags(s: &str) -> Result<u8, AdminError> {
    let names = || {
        REALM_FLAG_NAMES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = || {
        AdminError::Invalid(format!(
            "realm flags {s:?}: use a number (0x20 or 32) or names joined by , ({})",
            names()
        ))
    };
    let word = s.trim();
    let flags = if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        u8::from_str_radix(hex, 16).map_err(|_| bad())?
    } else if word.starts_with(|c: char| c.is_ascii_digit()) {
        word.parse::<u8>().map_err(|_| bad())?
    } else {
        let mut flags = 0u8;
        for part in word.split([',', '|']).map(str::trim) {
            let (_, bit) = REALM_FLAG_NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(part))
                .ok_or_else(bad)?;
            flags |= bit;
        }
        flags
    };
    let refused = flags & (crate::realms::link::message::UNKNOWN_REALM_FLAGS | 0x04);
    if refused != 0 {
        return Err(AdminError::Invalid(format!(
            "realm flags {s:?}: bits {refused:#04x} have no meaning an operator can set \
             (use {})",
            names()
        )));
    }
    Ok(flags)
}

/// What `realm set` changes, checked by the rules [`validate_realm`] applies to a new realm.
pub fn validate_realm_changes(changes: &RealmChanges) -> Result<(), AdminError> {
    use crate::values::{check_build, check_population, check_realm_address, check_realm_name};
    let invalid = |e: crate::values::RealmValueError| AdminError::Invalid(format!("realm {e}"));
    if changes.is_empty() {
        return Err(AdminError::Invalid(
            "nothing to change: give at least one of --name, --address, --type, --flags, \
             --timezone, --population, --builds, --allowed-level, --local-address and \
             --local-subnet, --no-local-address"
                .into(),
        ));
    }
    if let Some(Some(local)) = &changes.local {
        check_realm_address(&local.address).map_err(invalid)?;
    }
    if let Some(name) = &changes.name {
        check_realm_name(name.trim()).map_err(invalid)?;
    }
    if let Some(address) = &changes.address {
        check_realm_address(address).map_err(invalid)?;
    }
    if let Some(population) = changes.population {
        check_population(population).map_err(invalid)?;
    }
    for build in changes.builds.iter().flatten() {
        check_build(build.0).map_err(invalid)?;
    }
    Ok(())
}

/// `realm set`: changes the given fields of a realm (its id, link key and character counts
/// stay), after checking them.
pub fn update_realm(
    store: &mut dyn Store,
    realm: &RealmRef,
    changes: &RealmChanges,
) -> Result<RealmId, AdminError> {
    validate_realm_changes(changes)?;
    Ok(store.update_realm(realm, changes)?)
}

/// `account characters NAME --realm R COUNT`: sets how many characters the account has on a
/// realm, as a world server's report would.
pub fn set_character_count(
    store: &mut dyn Store,
    name: &str,
    realm: &RealmRef,
    count: u8,
) -> Result<(AccountName, RealmId), AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let account = store
        .load_account(&name)?
        .ok_or(StoreError::NoSuchAccount(name))?;
    let realm_id = match realm {
        RealmRef::Id(id) => *id,
        RealmRef::Name(wanted) => store
            .list_realms()?
            .into_iter()
            .find(|r| r.name.eq_ignore_ascii_case(wanted))
            .map(|r| r.id)
            .ok_or_else(|| StoreError::NoSuchRealm(realm.to_string()))?,
    };
    store.set_character_count(account.id, realm_id, count)?;
    Ok((name, realm_id))
}

/// Checks what a realm entry will show, by the rules the store and the realm link apply too
/// (`values::check_realm_*`), so a realm added here is never one the store skips as bad.
pub fn validate_realm(realm: &NewRealm) -> Result<(), AdminError> {
    use crate::values::{check_build, check_population, check_realm_address, check_realm_name};
    let invalid = |e: crate::values::RealmValueError| AdminError::Invalid(format!("realm {e}"));
    check_realm_name(realm.name.trim()).map_err(invalid)?;
    check_realm_address(&realm.address).map_err(invalid)?;
    check_population(realm.population).map_err(invalid)?;
    for build in &realm.builds {
        check_build(build.0).map_err(invalid)?;
    }
    if let Some(local) = &realm.local {
        check_realm_address(&local.address).map_err(invalid)?;
    }
    Ok(())
}

/// `--local-address HOST:PORT --local-subnet NET`: given together or not at all. The subnet
/// is an IPv4 or IPv6 network (`192.168.1.0/24`, `fd00::/8`; an address alone is itself);
/// host bits are dropped (`192.168.1.7/24` is `192.168.1.0/24`).
pub fn parse_realm_local(
    address: Option<String>,
    subnet: Option<&str>,
) -> Result<Option<RealmLocal>, AdminError> {
    match (address, subnet) {
        (None, None) => Ok(None),
        (Some(address), Some(subnet)) => {
            let subnet = parse_net(subnet.trim())
                .map_err(AdminError::Invalid)?
                .trunc();
            crate::values::check_realm_address(&address)
                .map_err(|e| AdminError::Invalid(format!("local {e}")))?;
            Ok(Some(RealmLocal { address, subnet }))
        }
        _ => Err(AdminError::Invalid(
            "--local-address and --local-subnet go together: clients in the subnet are given \
             the local address"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RealmKind, SqliteStore};

    fn realm(address: &str) -> NewRealm {
        NewRealm {
            name: "Azeroth".into(),
            address: address.into(),
            realm_type: 0,
            flags: 0,
            timezone: 1,
            population: 0.0,
            builds: vec![],
            link_key: None,
            allowed_level: 0,
            local: None,
        }
    }

    fn temp_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gatehouse.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_ban_end_is_in_the_future_and_at_most_a_hundred_years_away() {
        let now = 1_700_000_000;
        let parse = |text| humantime::parse_duration(text).unwrap();
        assert_eq!(ban_until(now, parse("2h")).unwrap(), now + 7200);
        let hundred = ban_until(now, parse("100y")).unwrap();
        assert_eq!(hundred, now + 3_155_760_000);
        // The console's "292471208678years" used to wrap to a time before 1970.
        for long in ["292471208678years", "101y", "1000000y"] {
            let e = ban_until(now, parse(long)).unwrap_err();
            assert!(matches!(e, AdminError::BanTooLong(_)), "{long}: {e}");
            assert!(e.to_string().contains("longer than 100 years"), "{e}");
        }
        assert!(matches!(
            ban_until(now, Duration::MAX),
            Err(AdminError::BanTooLong(_))
        ));
        assert!(matches!(
            ban_until(now, parse("0s")),
            Err(AdminError::BanTooShort)
        ));
        // Near the end of time the end does not wrap either.
        assert!(ban_until(i64::MAX - 10, parse("1m")).is_err());
    }

    #[test]
    fn link_secrets_are_checked_and_stored_as_keys() {
        let short = "x".repeat(MIN_SECRET_LEN - 1);
        let err = link_key_from_secret(&short).unwrap_err().to_string();
        assert!(err.contains("at least"), "{err}");
        assert!(
            !err.contains(&short),
            "the error must not quote the secret: {err}"
        );
        assert!(!err.contains('\n'));
        let secret = "y".repeat(MIN_SECRET_LEN);
        assert_eq!(
            link_key_from_secret(&secret).unwrap(),
            LinkKey::derive(secret.as_bytes())
        );

        let (_dir, mut store) = temp_store();
        let id = store.add_realm(&realm("127.0.0.1:8085")).unwrap();
        assert_eq!(store.list_realms().unwrap()[0].kind, RealmKind::Static);
        set_realm_secret(
            &mut store,
            &parse_realm_ref("azeroth"),
            "correct horse battery",
        )
        .unwrap();
        assert_eq!(
            store.realm_link_key(id).unwrap(),
            Some(LinkKey::derive(b"correct horse battery"))
        );
        assert_eq!(store.list_realms().unwrap()[0].kind, RealmKind::Linkable);
        set_realm_secret(&mut store, &parse_realm_ref("1"), "another long secret").unwrap();
        assert_eq!(
            store.realm_link_key(id).unwrap(),
            Some(LinkKey::derive(b"another long secret"))
        );
        // A short secret is refused before the store is touched.
        assert!(matches!(
            set_realm_secret(&mut store, &parse_realm_ref("1"), "short"),
            Err(AdminError::Invalid(_))
        ));
        for missing in ["9", "Nowhere"] {
            assert!(matches!(
                set_realm_secret(
                    &mut store,
                    &parse_realm_ref(missing),
                    "correct horse battery"
                ),
                Err(AdminError::Store(StoreError::NoSuchRealm(_)))
            ));
        }
    }

    #[test]
    fn realm_flags_take_hex_decimal_and_names() {
        assert_eq!(parse_realm_flags("0x20").unwrap(), 0x20);
        assert_eq!(parse_realm_flags("0X40").unwrap(), 0x40);
        assert_eq!(parse_realm_flags("32").unwrap(), 0x20);
        assert_eq!(parse_realm_flags("0").unwrap(), 0);
        assert_eq!(parse_realm_flags("recommended").unwrap(), 0x20);
        assert_eq!(parse_realm_flags("New,Full").unwrap(), 0xC0);
        assert_eq!(parse_realm_flags("offline|recommended").unwrap(), 0x22);
        for bad in [
            "0x100", "256", "-1", "shiny", "0x08", "16", "0x04", "", "new,",
        ] {
            let e = parse_realm_flags(bad).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        assert!(parse_realm_flags("shiny")
            .unwrap_err()
            .to_string()
            .contains("recommended"));
    }

    #[test]
    fn realm_edits_change_only_what_is_given() {
        let (_dir, mut store) = temp_store();
        let id = store.add_realm(&realm("127.0.0.1:8085")).unwrap();
        assert!(matches!(
            update_realm(&mut store, &parse_realm_ref("1"), &RealmChanges::default()),
            Err(AdminError::Invalid(_))
        ));
        let bad_address = RealmChanges {
            address: Some("nowhere".into()),
            ..RealmChanges::default()
        };
        assert!(update_realm(&mut store, &parse_realm_ref("1"), &bad_address).is_err());
        let changes = RealmChanges {
            name: Some("Northrend".into()),
            flags: Some(0x20),
            ..RealmChanges::default()
        };
        assert_eq!(
            update_realm(&mut store, &parse_realm_ref("Azeroth"), &changes).unwrap(),
            id
        );
        let r = &store.list_realms().unwrap()[0];
        assert_eq!((r.id, r.name.as_str(), r.flags), (id, "Northrend", 0x20));
        assert_eq!(r.address, "127.0.0.1:8085");
    }

    #[test]
    fn security_levels_are_set_by_name() {
        let (_dir, mut store) = temp_store();
        create_account(&mut store, "alice", "secret").unwrap();
        set_security_level(&mut store, "Alice", 3).unwrap();
        let a = store
            .load_account(&AccountName::parse(b"ALICE").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(a.security_level, 3);
        assert!(matches!(
            set_security_level(&mut store, "bob", 1),
            Err(AdminError::Store(StoreError::NoSuchAccount(_)))
        ));
        assert!(matches!(
            set_security_level(&mut store, "", 1),
            Err(AdminError::Credential(_))
        ));
    }

    #[test]
    fn realm_input_is_checked() {
        assert!(validate_realm(&realm("127.0.0.1:8085")).is_ok());
        assert!(validate_realm(&realm("world.example:8085")).is_ok());
        assert!(validate_realm(&realm("127.0.0.1")).is_err());
        assert!(validate_realm(&realm(":8085")).is_err());
        assert!(validate_realm(&realm("h:0")).is_err());
        assert!(validate_realm(&realm("h:99999")).is_err());
        assert_eq!(parse_realm_type("PvP").unwrap(), 1);
        assert_eq!(parse_realm_type("8").unwrap(), 8);
        assert!(parse_realm_type("chaos").is_err());
        assert_eq!(
            parse_builds("5875, 8606").unwrap(),
            vec![Build(5875), Build(8606)]
        );
        assert!(parse_builds("58x").is_err());
        // Impossible builds are refused, with the known ones listed on one line.
        for bad in ["0", "1", "65535", "5876"] {
            let e = parse_builds(bad).unwrap_err().to_string();
            assert!(
                e.contains("5875 (1.12.1)") && e.contains("12340 (3.3.5)"),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        assert_eq!(parse_builds("6005").unwrap(), vec![Build(6005)]);
        let known: Vec<Build> = (1..=u16::MAX)
            .map(Build)
            .filter(|b| b.known_version().is_some())
            .collect();
        assert_eq!(
            known,
            KNOWN_BUILDS.to_vec(),
            "KNOWN_BUILDS follows known_version"
        );
    }

    #[test]
    fn totp_is_enabled_once_with_a_key_and_disabled() {
        let (_dir, mut store) = temp_store();
        let id = create_account(&mut store, "alice", "secret").unwrap();
        let key = TotpKey::from_bytes([7; 32]);
        assert!(matches!(
            enable_totp(&mut store, None, "gatehouse", "alice"),
            Err(AdminError::NoTotpKey)
        ));
        let e = AdminError::NoTotpKey.to_string();
        assert!(
            e.contains("openssl rand -hex 32") && !e.contains('\n'),
            "{e}"
        );

        let enrolment = enable_totp(&mut store, Some(&key), "My Realm", "alice").unwrap();
        assert_eq!(enrolment.account.as_str(), "ALICE");
        let prefix = "otpauth://totp/My%20Realm:ALICE?secret=";
        assert!(enrolment.uri.starts_with(prefix), "{}", enrolment.uri);
        let b32 = enrolment.uri[prefix.len()..].split('&').next().unwrap();
        let secret = TotpSecret::from_base32(b32).unwrap();
        let name = AccountName::parse(b"alice").unwrap();
        let sealed = store.load_account(&name).unwrap().unwrap().totp.unwrap();
        let opened = crate::totp::open(&key, id, &sealed).unwrap();
        assert_eq!(opened.as_bytes(), secret.as_bytes());

        assert!(matches!(
            enable_totp(&mut store, Some(&key), "gatehouse", "alice"),
            Err(AdminError::TotpAlreadyEnabled(_))
        ));
        assert!(matches!(
            enable_totp(&mut store, Some(&key), "gatehouse", "bob"),
            Err(AdminError::Store(StoreError::NoSuchAccount(_)))
        ));
        assert!(disable_totp(&mut store, "alice").unwrap());
        assert!(!disable_totp(&mut store, "alice").unwrap());
        assert_eq!(store.load_account(&name).unwrap().unwrap().totp, None);
        assert!(matches!(
            disable_totp(&mut store, "bob"),
            Err(AdminError::Store(StoreError::NoSuchAccount(_)))
        ));
    }

    #[test]
    fn console_passwords_are_phc_strings_and_the_older_format_still_verifies() {
        let stored = hash_console_password("console secret").unwrap();
        assert!(
            stored.starts_with("$pbkdf2-sha256$i=100000,l=32$"),
            "{stored}"
        );
        assert!(verify_console_password(&stored, "console secret"));
        assert!(!verify_console_password(&stored, "console secreT"));
        // A fresh salt each time.
        assert_ne!(hash_console_password("console secret").unwrap(), stored);
        assert!(matches!(
            hash_console_password("short"),
            Err(AdminError::Invalid(_))
        ));

        // What `console set-password` stored before (computed elsewhere: Python's hashlib).
        let legacy = "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$\
                      3ee832711087a65fcee8ebb9060ae5c71b3f8ac77d365fef46914c2b9241957a";
        assert!(verify_console_password(legacy, "console secret"));
        assert!(!verify_console_password(legacy, "console secrets"));

        // Malformed or unreasonably costly hashes never match.
        for bad in [
            "",
            "$",
            "pbkdf2-sha256$1000$00$zz",
            "pbkdf2-sha256$0$0001$3ee8",
            "$pbkdf2-sha256$i=100000,l=32$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "$pbkdf2-sha256$i=4000000000,l=32$AAECAwQFBgcICQoLDA0ODw$\
             PugycRCHpl/O6Ou5Bgrlxxs/isd9Nl/vRpFMK5JBlXo",
        ] {
            assert!(!verify_console_password(bad, "console secret"), "{bad}");
        }
    }

    #[test]
    fn an_account_name_the_otpauth_uri_cannot_carry_gets_no_authenticator() {
        let (_dir, mut store) = temp_store();
        create_account(&mut store, "a:b", "secret").unwrap();
        let key = TotpKey::from_bytes([7; 32]);
        let refused = enable_totp(&mut store, Some(&key), "gatehouse", "a:b");
        assert!(matches!(
            refused,
            Err(AdminError::Totp(TotpError::ColonInLabel))
        ));
        let name = AccountName::parse(b"a:b").unwrap();
        assert!(store.load_account(&name).unwrap().unwrap().totp.is_none());
    }
}
