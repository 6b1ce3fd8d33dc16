//! The store on an unchanged AzerothCore auth database (`acore_auth`), read and written the
//! way AzerothCore's own authserver and tools do, so its worldserver, website and GM commands
//! keep working beside gatehouse.
//!
//! Where AzerothCore has a column, gatehouse uses it: `account` (upper-case `username`,
//! `salt` = the wire bytes, `verifier` = v as 32 little-endian bytes, `session_key` = K's 40
//! bytes as the client computed them, `failed_logins`, `last_ip`, `last_login`),
//! `account_access` (security level), `account_banned`, `ip_banned`, `realmlist` and
//! `realmcharacters`. What it has no place for lives in `gatehouse_` tables beside them
//! ([`migrations`]), created by `gatehouse db init`; without them the store serves logons with
//! the features that need them off ([`OwnTables`]). The connection handling is the MySQL store's (timeouts, reconnects,
//! outage logging), and so is taking a ticket (`take_ticket`: read `FOR UPDATE`, then mark).
//!
//! AzerothCore's own authenticator (`account.totp_secret`): a raw 20-byte secret (an
//! authserver without `TOTPMasterSecret` writes those), or one encrypted under
//! `TOTPMasterSecret` when `store.totp_master_secret` holds the same value ([`totp_master`]),
//! is sealed on load under gatehouse's `totp.key`, so the login path checks it like
//! gatehouse's own. Anything else (a secret that does not decrypt, another length, no
//! `totp.key`) loads as a second factor that can never be satisfied: the account is refused
//! (logged), never let in on its password.

pub mod migrations;
pub mod totp_master;

use mysql::prelude::Queryable;
use mysql::{Row, TxOpts};

use std::net::IpAddr;

use ipnet::IpNet;

use super::mangos_family::{
    self, account_id, ban_dates, character_counts, forget_account, forget_ticket, insert_audit,
    link_key_sql, seal_foreign_totp, split_address, IpBannedColumns, OwnTables, BANNED_BY,
};
use super::mysql::write_tx::WriteTx;
use super::mysql::{
    bool_col, bytes, exists, fixed, float, int, is_duplicate, name_col, opt_bytes, opt_int,
    opt_text, raw_text, take_ticket, text, u32_col, u8_col, MysqlStore,
};
use super::rows::{keep_good, realm_row};
use super::DbTls;
use super::Feature;
use super::{
    ip_text, lockout_reason, standing, unix_now, AccountRecord, AccountSummary, AuditQuery,
    AuditRow, BatchEnd, CharacterCount, CountsWritten, FailureRecorded, IpLockSetting,
    LockoutStanding, LoginAttempt, LoginOutcome, NewRealm, RealmChanges, RealmKind, RealmLocal,
    RealmRecord, RealmRef, SessionTicket, Store, StoreError, TakeOutcome, TakenSession,
};
use crate::account::{AccountName, IpLockRefusal};
use crate::pin_grid::SealedPin;
use crate::protocol::version::Build;
use crate::srp6::{ClientDigest, Salt, SessionKey, Verifier};
use crate::totp::{SealedTotpSecret, TotpKey, TotpStep, SECRET_LEN};
use crate::values::{AccountId, IpBan, LinkKey, LockoutPolicy, RealmAccess, RealmId};
use totp_master::TotpMasterSecret;

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The build a realm added without one gets (`realmlist.gamebuild` holds exactly one).
const DEFAULT_BUILD: u16 = 12340;

/// A realm's builds as `realmlist.gamebuild` holds them: one build (none = 3.3.5a).
fn realm_builds_value(builds: &[Build]) -> Result<(&'static str, mysql::Value), StoreError> {
    match builds {
        [] => Ok(("gamebuild", DEFAULT_BUILD.into())),
        [build] => Ok(("gamebuild", build.0.into())),
        _ => Err(StoreError::Invalid(
            "an AzerothCore realm has one build (realmlist.gamebuild)",
        )),
    }
}

/// A store on an AzerothCore auth database, one connection.
#[derive(Debug)]
pub struct AzerothCoreStore {
    db: MysqlStore,
    /// Whether `gatehouse db init` has made gatehouse's tables here.
    own: OwnTables,
    /// gatehouse's `totp.key`, to seal AzerothCore's raw authenticator secrets on load.
    totp_key: Option<TotpKey>,
    /// AzerothCore's `TOTPMasterSecret` (`store.totp_master_secret`), when its authenticator
    /// secrets are encrypted under one.
    totp_master: Option<TotpMasterSecret>,
}

impl AzerothCoreStore {
    /// Connects to `mysql://USER[:PASSWORD]@HOST:PORT/acore_auth` and looks for gatehouse's
    /// own `gatehouse_` tables there (it never creates them: [`AzerothCoreStore::init`]);
    /// AzerothCore's tables must exist.
    pub fn open_with_password(
        url: &str,
        password: Option<&str>,
        tls: &DbTls,
    ) -> Result<AzerothCoreStore, StoreError> {
        let mut db = MysqlStore::connect(url, password, tls)?;
        let own = migrations::state(db.conn()?)?;
        Ok(AzerothCoreStore {
            db,
            own,
            totp_key: None,
            totp_master: None,
        })
    }

    /// `gatehouse db init`: creates gatehouse's `gatehouse_` tables beside AzerothCore's;
    /// `true` if they were not there.
    pub fn init(url: &str, password: Option<&str>, tls: &DbTls) -> Result<bool, StoreError> {
        let mut db = MysqlStore::connect(url, password, tls)?;
        migrations::init(db.conn()?)
    }

    /// With gatehouse's `totp.key`, accounts with a raw AzerothCore authenticator secret can
    /// log in with their token; without it they are refused.
    pub fn with_totp_key(mut self, key: Option<TotpKey>) -> AzerothCoreStore {
        self.totp_key = key;
        self
    }

    /// With AzerothCore's `TOTPMasterSecret`, `account.totp_secret` is read as encrypted under
    /// it (as AzerothCore's authserver with that setting reads it); without, as a raw secret.
    pub fn with_totp_master_secret(mut self, secret: Option<TotpMasterSecret>) -> AzerothCoreStore {
        self.totp_master = secret;
        self
    }

    pub fn open(url: &str) -> Result<AzerothCoreStore, StoreError> {
        Self::open_with_password(url, None, &DbTls::Off)
    }
}

/// `last_ip` is varchar(15): an address that does not fit (IPv6) leaves the old value.
fn last_ip(peer: IpAddr) -> Option<String> {
    Some(ip_text(peer)).filter(|t| t.len() <= 15)
}

/// The standing columns over `account_banned`: the first `?` is now. A row whose unbandate
/// equals its bandate is permanent, as AzerothCore reads it.
macro_rules! ac_standing_columns {
    () => {
        "EXISTS (SELECT 1 FROM account_banned b
                 WHERE b.id = a.id AND b.active = 1 AND b.unbandate = b.bandate),
         (SELECT MAX(b.unbandate) FROM account_banned b
                 WHERE b.id = a.id AND b.active = 1 AND b.unbandate <> b.bandate
                       AND b.unbandate > ?),
         (SELECT COALESCE(MAX(x.gmlevel), 0) FROM account_access x WHERE x.id = a.id)"
    };
}

/// What a logon reads of an account, up to its standing (the first `?` is now).
macro_rules! ac_account_head {
    () => {
        concat!(
            "SELECT a.id, a.username, a.salt, a.verifier, a.failed_logins, a.session_key, ",
            ac_standing_columns!()
        )
    };
}

/// What `account list` shows of an account, up to its standing (the first `?` is now).
macro_rules! ac_summary_head {
    () => {
        concat!(
            "SELECT a.id, a.username, UNIX_TIMESTAMP(a.joindate), ",
            "UNIX_TIMESTAMP(a.last_login), a.last_ip, a.failed_logins, ",
            ac_standing_columns!()
        )
    };
}

/// The second factor of an account with an AzerothCore authenticator secret: sealed for the
/// login path when it is a raw secret (or, with `master`, decrypts to one) and gatehouse has a
/// key, else one that never opens.
fn azerothcore_totp(
    name: &AccountName,
    id: i64,
    secret: &[u8],
    key: Option<&TotpKey>,
    master: Option<&TotpMasterSecret>,
) -> Result<SealedTotpSecret, StoreError> {
    let raw = match master {
        Some(master) => master
            .decrypt(secret)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                <[u8; SECRET_LEN]>::try_from(&plain[..]).map_err(|_| {
                    format!(
                        "it decrypts to {} bytes, not a {SECRET_LEN}-byte secret",
                        plain.len()
                    )
                })
            }),
        None => <[u8; SECRET_LEN]>::try_from(secret).map_err(|_| {
            format!(
                "it is {} bytes, not a raw {SECRET_LEN}-byte secret (if AzerothCore's \
                 authserver has a TOTPMasterSecret, set store.totp_master_secret to it)",
                secret.len()
            )
        }),
    };
    seal_foreign_totp(
        name,
        id,
        raw,
        key,
        "an AzerothCore authenticator (account.totp_secret)",
    )
}

fn account_from_row(
    row: &Row,
    totp_key: Option<&TotpKey>,
    totp_master: Option<&TotpMasterSecret>,
) -> Result<AccountRecord, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    let name = name_col(row, 1, id)?;
    let what_salt = || format!("account #{id}: salt");
    let salt = fixed::<32>(bytes(row, 2, &what_salt)?, &what_salt)?;
    let what_v = || format!("account #{id}: verifier");
    let verifier = fixed::<32>(bytes(row, 3, &what_v)?, &what_v)?;
    let failed_logins = u32_col(row, 4, &|| format!("account #{id}: failed_logins"))?;
    let permanent = bool_col(row, 6, &|| format!("account #{id}: ban"))?;
    let until = opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?;
    let security_level = u8_col(row, 8, &|| format!("account #{id}: gmlevel"))?;
    // A key without gatehouse's ticket row (AzerothCore's own authserver wrote it), or a
    // ticket for an older key, is no ticket: nothing to reconnect with or hand out.
    let what_k = || format!("account #{id}: session_key");
    let key = opt_bytes(row, 5, &what_k)?;
    let matches = opt_int(row, 12, &|| format!("account #{id}: ticket"))? == Some(1);
    let session = match key {
        Some(key) if matches => {
            let key = SessionKey(fixed::<40>(key, &what_k)?);
            let taken_by = opt_int(row, 11, &|| format!("account #{id}: taken_by"))?
                .map(|realm| {
                    u32::try_from(realm).map(RealmId).map_err(|_| {
                        StoreError::corrupt(format!("account #{id}: taken by realm {realm}"))
                    })
                })
                .transpose()?;
            Some(SessionTicket {
                key,
                issued_at: int(row, 9, &|| format!("account #{id}: issued_at"))?,
                expires_at: int(row, 10, &|| format!("account #{id}: expires_at"))?,
                taken_by,
            })
        }
        _ => None,
    };
    let totp = if let Some(secret) = opt_bytes(row, 13, &|| format!("account #{id}: totp_secret"))?
    {
        Some(azerothcore_totp(&name, id, secret, totp_key, totp_master)?)
    } else {
        let what = || format!("account #{id}: gatehouse_totp");
        opt_bytes(row, 14, &what)?
            .map(|b| {
                SealedTotpSecret::from_bytes(b)
                    .map_err(|e| StoreError::corrupt(format!("{}: {e}", what())))
            })
            .transpose()?
    };
    // As AzerothCore's authserver: any non-zero `locked` allows logons from `last_ip` only.
    let ip_lock = super::stored_ip_lock(
        &name,
        int(row, 15, &|| format!("account #{id}: locked"))? != 0,
        &text(row, 16, &|| format!("account #{id}: last_ip"))?,
        IpLockRefusal::LockedEnforced,
    );
    Ok(AccountRecord {
        id: AccountId(id),
        name,
        salt: Salt(salt),
        verifier: Verifier(verifier),
        standing: standing(permanent, until),
        failed_logins,
        security_level,
        session,
        totp,
        pin: super::mysql::pin_col(row, 17, id)?,
        ip_lock,
        lockout: LockoutStanding::Clear,
    })
}

fn summary_from_row(row: &Row) -> Result<AccountSummary, StoreError> {
    let id = int(row, 0, &|| "account id".to_owned())?;
    let last_login_at = opt_int(row, 3, &|| format!("account #{id}: last_login"))?;
    Ok(AccountSummary {
        id: AccountId(id),
        name: name_col(row, 1, id)?,
        created_at: int(row, 2, &|| format!("account #{id}: joindate"))?,
        last_login_at,
        // last_ip has a default ('127.0.0.1') before any logon: shown only after one.
        last_login_ip: opt_text(row, 4, &|| format!("account #{id}: last_ip"))?
            .filter(|_| last_login_at.is_some()),
        failed_logins: u32_col(row, 5, &|| format!("account #{id}: failed_logins"))?,
        standing: standing(
            bool_col(row, 6, &|| format!("account #{id}: ban"))?,
            opt_int(row, 7, &|| format!("account #{id}: ban expiry"))?,
        ),
        security_level: u8_col(row, 8, &|| format!("account #{id}: gmlevel"))?,
        totp: bool_col(row, 9, &|| format!("account #{id}: totp"))?,
        ip_lock: opt_text(row, 10, &|| format!("account #{id}: ip lock"))?,
    })
}

fn realm_from_row(row: &Row) -> Result<RealmRecord, StoreError> {
    let id = int(row, 0, &|| "realmlist.id".to_owned())?;
    let id = u8::try_from(id)
        .ok()
        .filter(|&id| id != 0)
        .ok_or_else(|| StoreError::corrupt(format!("realmlist.id {id} is outside 1..=255")))?;
    let what = || format!("realm {id}: link key");
    let kind = match opt_bytes(row, 9, &what)? {
        None => RealmKind::Static,
        Some(key) => {
            fixed::<32>(key, &what)?;
            RealmKind::Linkable
        }
    };
    let host = text(row, 2, &|| format!("realm {id}: address"))?;
    let port = int(row, 3, &|| format!("realm {id}: port"))?;
    let build = int(row, 8, &|| format!("realm {id}: gamebuild"))?;
    let build = u16::try_from(build)
        .map_err(|_| StoreError::corrupt(format!("realm {id}: gamebuild {build}")))?;
    let flag = u8_col(row, 5, &|| format!("realm {id}: flag"))?;
    let local = local_from_row(
        &host,
        port,
        &text(row, 11, &|| format!("realm {id}: localAddress"))?,
        &text(row, 12, &|| format!("realm {id}: localSubnetMask"))?,
    );
    Ok(RealmRecord {
        id: RealmId(u32::from(id)),
        name: text(row, 1, &|| format!("realm {id}: name"))?,
        address: format!("{host}:{port}"),
        realm_type: u8_col(row, 4, &|| format!("realm {id}: icon"))?,
        flags: flag,
        timezone: u8_col(row, 6, &|| format!("realm {id}: timezone"))?,
        population: float(row, 7, &|| format!("realm {id}: population"))? as f32,
        builds: if build == 0 {
            Vec::new()
        } else {
            vec![Build(build)]
        },
        kind,
        access: realm_access(
            flag,
            u8_col(row, 10, &|| format!("realm {id}: allowedSecurityLevel"))?,
        ),
        local,
    })
}

/// The local address of a realm as AzerothCore's authserver reads `localAddress` and
/// `localSubnetMask`: a client in the IPv4 network of the local address under the mask is
/// given the local address, on the realm's one port. None when the local address is the
/// public host (nothing to choose), under a /32 mask (how gatehouse writes "none": it stays
/// none when the public address changes), or is not an IPv4 address with a contiguous mask:
/// a host name, which AzerothCore resolves at its start and gatehouse does not (the realm is
/// then listed with its public address only, not left out).
fn local_from_row(host: &str, port: i64, local: &str, mask: &str) -> Option<RealmLocal> {
    if local == host {
        return None;
    }
    let address = local.parse::<Ipv4Addr>().ok()?;
    let prefix = ipnet::ipv4_mask_to_prefix(mask.parse::<Ipv4Addr>().ok()?).ok()?;
    if prefix == 32 {
        return None;
    }
    let subnet = Ipv4Net::new(address, prefix).ok()?.trunc();
    Some(RealmLocal {
        address: format!("{address}:{port}"),
        subnet: subnet.into(),
    })
}

/// The `(localAddress, localSubnetMask)` a realm's local address is written as, on a realm
/// whose public address is `public` (`HOST:PORT`): AzerothCore keeps one port and an IPv4
/// mask, and takes the network from the local address, so the local address must be an IPv4
/// address inside an IPv4 subnet (wider than /32), on the realm's port. No local address is
/// written as the public host under a /32 mask, which reads back as none.
fn local_columns(public: &str, local: Option<&RealmLocal>) -> Result<(String, String), StoreError> {
    let (host, port) = split_address(public)?;
    let Some(local) = local else {
        return Ok((host.to_owned(), Ipv4Addr::BROADCAST.to_string()));
    };
    let (local_host, local_port) = split_address(&local.address)?;
    if local_port != port {
        return Err(StoreError::Invalid(
            "AzerothCore's realmlist has one port: the local address must use the realm's",
        ));
    }
    let Ok(address) = local_host.parse::<Ipv4Addr>() else {
        return Err(StoreError::Invalid(
            "AzerothCore's localAddress is an IPv4 address here (its network is the subnet's)",
        ));
    };
    match local.subnet {
        ipnet::IpNet::V4(net) if net.contains(&address) && net.prefix_len() < 32 => {
            Ok((address.to_string(), net.netmask().to_string()))
        }
        _ => Err(StoreError::Invalid(
            "AzerothCore keeps the local subnet as the local address's IPv4 network and mask: \
             the subnet must be IPv4, wider than /32, and contain the local address",
        )),
    }
}

/// Who a realm is listed to, as AzerothCore's authserver decides it: a realm whose `flag` is
/// exactly 3 is not loaded (`WHERE flag <> 3`); the others are listed to every account, locked
/// (2.4.3/3.3.5a: the entry's lock byte) to accounts whose level is below
/// `allowedSecurityLevel`.
fn realm_access(flag: u8, allowed_security_level: u8) -> RealmAccess {
    match (flag, allowed_security_level) {
        (3, _) => RealmAccess::Unlisted,
        (_, 0) => RealmAccess::Open,
        (_, level) => RealmAccess::LockedBelow(level),
    }
}

/// Every realm that parses; the others are left out, each with an error line (`rows`).
fn realms(q: &mut impl Queryable, own: OwnTables) -> Result<Vec<RealmRecord>, StoreError> {
    let rows: Vec<Row> = q.exec(
        own.pick(
            "SELECT r.id, r.name, r.address, r.port, r.icon, r.flag, r.timezone, r.population,
                    r.gamebuild, k.link_key, r.allowedSecurityLevel, r.localAddress,
                    r.localSubnetMask
             FROM realmlist r LEFT JOIN gatehouse_realm_keys k ON k.realm_id = r.id
             ORDER BY r.id",
            "SELECT r.id, r.name, r.address, r.port, r.icon, r.flag, r.timezone, r.population,
                    r.gamebuild, NULL, r.allowedSecurityLevel, r.localAddress,
                    r.localSubnetMask
             FROM realmlist r ORDER BY r.id",
        ),
        (),
    )?;
    Ok(keep_good(
        "realmlist",
        rows.iter()
            .map(|row| realm_row(format!("id {}", raw_text(row, 0)), realm_from_row(row))),
    ))
}

/// What a second ban of one account in the same second (AzerothCore's key is `(id, bandate)`)
/// does to the first: over an active one, the stronger wins (permanent, else the later end);
/// over a lifted one, the new ban replaces it. `unbandate` is assigned before `active`, so it
/// sees the old `active`.
macro_rules! same_second_ban {
    () => {
        "unbandate = IF(active = 0, VALUES(unbandate),
             IF(VALUES(unbandate) = bandate OR unbandate = bandate, bandate,
                GREATEST(unbandate, VALUES(unbandate)))),
         banreason = VALUES(banreason), active = 1"
    };
}

/// `ip_banned.ip` holds one IPv4 address as text.
fn banned_ip_text(net: &IpNet) -> Result<String, StoreError> {
    match net {
        IpNet::V4(v4) if v4.prefix_len() == 32 => Ok(v4.addr().to_string()),
        _ => Err(StoreError::Invalid(
            "AzerothCore's ip_banned holds single IPv4 addresses, not networks or IPv6",
        )),
    }
}

/// AzerothCore's `ip_banned` columns.
const IP_BANNED: IpBannedColumns = IpBannedColumns {
    banned_at: "bandate",
    until: "unbandate",
    banned_by: "bannedby",
    reason: "banreason",
};

macro_rules! on_conn {
    ($self:ident, |$conn:ident| $body:block) => {{
        let result = (|| {
            let $conn = $self.db.conn()?;
            $body
        })();
        $self.db.settle(result)
    }};
}

impl AzerothCoreStore {
    /// `add_realm` and `add_realm_with_id`: the next free id, or the one given.
    fn insert_realm(
        &mut self,
        realm: &NewRealm,
        chosen: Option<RealmId>,
    ) -> Result<RealmId, StoreError> {
        let (host, port) = split_address(&realm.address)?;
        let build = match realm.builds.as_slice() {
            [] => DEFAULT_BUILD,
            [build] => build.0,
            _ => {
                return Err(StoreError::Invalid(
                    "an AzerothCore realm has one build (realmlist.gamebuild)",
                ))
            }
        };
        let (local_address, local_mask) = local_columns(&realm.address, realm.local.as_ref())?;
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = mangos_family::pick_realm_id(&mut tx, chosen)?;
            let inserted = tx.exec_drop(
                "INSERT INTO realmlist (id, name, address, port, icon, flag, timezone,
                                        population, gamebuild, allowedSecurityLevel,
                                        localAddress, localSubnetMask)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    id.0,
                    realm.name.as_str(),
                    host,
                    port,
                    realm.realm_type,
                    realm.flags,
                    realm.timezone,
                    realm.population,
                    build,
                    realm.allowed_level,
                    local_address.as_str(),
                    local_mask.as_str(),
                ),
            );
            match inserted {
                Ok(()) => {}
                Err(e) if is_duplicate(&e) => {
                    return Err(StoreError::DuplicateRealm(realm.name.clone()))
                }
                Err(e) => return Err(e.into()),
            }
            mangos_family::replace_link_key(self.own, &mut tx, id, realm.link_key.as_ref())?;
            tx.commit()?;
            Ok(id)
        })
    }
}

impl Store for AzerothCoreStore {
    fn load_account(&mut self, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(
                self.own.pick(
                    concat!(
                        ac_account_head!(),
                        ", t.issued_at, t.expires_at, t.taken_by, ",
                        "t.session_key = a.session_key, a.totp_secret, g.secret, a.locked, ",
                        "a.last_ip, (SELECT p.pin FROM gatehouse_pins p WHERE p.account_id = a.id) ",
                        "FROM account a ",
                        "LEFT JOIN gatehouse_sessions t ON t.account_id = a.id ",
                        "LEFT JOIN gatehouse_totp g ON g.account_id = a.id WHERE a.username = ?"
                    ),
                    // Without gatehouse's tickets, the account's key is the ticket, as
                    // AzerothCore's authserver reconnects with it: issued at the last logon,
                    // never expiring.
                    concat!(
                        ac_account_head!(),
                        ", COALESCE(UNIX_TIMESTAMP(a.last_login), 0), ",
                        "9223372036854775807, NULL, 1, a.totp_secret, NULL, a.locked, a.last_ip, NULL ",
                        "FROM account a WHERE a.username = ?"
                    ),
                ),
                (unix_now(), name.as_str()),
            )?;
            let key = self.totp_key.as_ref();
            row.as_ref()
                .map(|row| account_from_row(row, key, self.totp_master.as_ref()))
                .transpose()
        })
    }

    fn lockout_standing(
        &mut self,
        account: AccountId,
        peer: IpAddr,
        now: i64,
    ) -> Result<LockoutStanding, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::lockout_standing(self.own, conn, account, peer, now)
        })
    }

    fn record_login_failure(
        &mut self,
        attempt: &LoginAttempt,
        policy: &LockoutPolicy,
    ) -> Result<FailureRecorded, StoreError> {
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            insert_audit(self.own, &mut tx, attempt)?;
            // AzerothCore notes the address of every attempt on a known account.
            if let (Some(account), Some(ip)) = (attempt.account, last_ip(attempt.peer)) {
                tx.exec_drop(
                    "UPDATE account SET last_attempt_ip = ? WHERE id = ?",
                    (ip, account.0),
                )?;
            }
            let mut recorded = FailureRecorded::Audited;
            if let (Some(account), true) =
                (attempt.account, attempt.outcome.counts_against_account())
            {
                recorded = mangos_family::count_failure(
                    self.own,
                    &mut tx,
                    account,
                    attempt,
                    policy,
                    |tx, until| {
                        let (bandate, unbandate) = ban_dates(attempt.at, Some(until));
                        tx.exec_drop(
                            concat!(
                                "INSERT INTO account_banned
                                     (id, bandate, unbandate, bannedby, banreason, active)
                                 VALUES (?, ?, ?, ?, ?, 1) ON DUPLICATE KEY UPDATE ",
                                same_second_ban!()
                            ),
                            (
                                account.0,
                                bandate,
                                unbandate,
                                BANNED_BY,
                                lockout_reason(policy),
                            ),
                        )?;
                        Ok(())
                    },
                )?;
            }
            tx.commit()?;
            Ok(recorded)
        })
    }

    fn record_login_success(
        &mut self,
        attempt: &LoginAttempt,
        key: &SessionKey,
        expires_at: i64,
        totp_step: Option<TotpStep>,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt.account.ok_or(StoreError::Invalid(
            "a successful login without an account id",
        ))?;
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            // First: a reused token refuses the success before anything is written.
            mangos_family::note_success(self.own, &mut tx, account, attempt, totp_step)?;
            // What AzerothCore's authserver writes on a good logon (its worldserver reads
            // session_key as is, the locale for its texts and os for its Warden module).
            let ip = last_ip(attempt.peer);
            tx.exec_drop(
                "UPDATE account SET session_key = ?, last_ip = COALESCE(?, last_ip),
                        last_attempt_ip = COALESCE(?, last_attempt_ip),
                        last_login = FROM_UNIXTIME(?), locale = ?, failed_logins = 0, os = ?
                 WHERE id = ?",
                (
                    &key.0[..],
                    ip.as_deref(),
                    ip.as_deref(),
                    attempt.at,
                    attempt.client.locale_number(),
                    attempt.client.os(),
                    account.0,
                ),
            )?;
            if tx.affected_rows() == 0 {
                return Err(StoreError::NoSuchAccountId(account));
            }
            if self.own == OwnTables::Present {
                tx.exec_drop(
                    "INSERT INTO gatehouse_sessions
                         (account_id, session_key, issued_at, expires_at, taken_by)
                     VALUES (?, ?, ?, ?, NULL)
                     ON DUPLICATE KEY UPDATE session_key = VALUES(session_key),
                         issued_at = VALUES(issued_at), expires_at = VALUES(expires_at),
                         taken_by = NULL",
                    (account.0, &key.0[..], attempt.at, expires_at),
                )?;
            }
            insert_audit(self.own, &mut tx, attempt)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn use_totp_step(&mut self, account: AccountId, step: TotpStep) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::use_totp_step(self.own, conn, account, step)
        })
    }

    fn take_session(
        &mut self,
        name: &AccountName,
        realm: RealmId,
        now: i64,
        proof: Option<&ClientDigest>,
    ) -> Result<TakeOutcome, StoreError> {
        // Without gatehouse's tables no realm has a link key, so nobody asks.
        if self.own == OwnTables::Absent {
            return Ok(TakeOutcome::NoTicket);
        }
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let tx = WriteTx::begin(conn, batching)?;
            take_ticket(
                tx,
                name,
                proof,
                |tx| {
                    // The ticket is live while its key is still the account's (a new logon
                    // writes both; anything else that changes the account's key voids it).
                    let row: Option<Row> = tx.exec_first(
                        "SELECT a.id, t.session_key
                         FROM gatehouse_sessions t JOIN account a ON a.id = t.account_id
                         WHERE a.username = ? AND a.session_key = t.session_key
                               AND t.expires_at > ? AND t.taken_by IS NULL
                         FOR UPDATE",
                        (name.as_str(), now),
                    )?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let id = int(&row, 0, &|| format!("account {name}: id"))?;
                    let what = || format!("account #{id}: session key");
                    let key = fixed::<40>(bytes(&row, 1, &what)?, &what)?;
                    // Read apart from the locking read, so GM levels are not locked with it.
                    let level: Option<Row> = tx.exec_first(
                        "SELECT COALESCE(MAX(gmlevel), 0) FROM account_access
                         WHERE id = ? AND (RealmID = -1 OR RealmID = ?)",
                        (id, realm.0),
                    )?;
                    let what = || format!("account #{id}: gmlevel");
                    let level = level
                        .ok_or_else(|| StoreError::corrupt(format!("{} is missing", what())))?;
                    let security_level = u8_col(&level, 0, &what)?;
                    Ok(Some(TakenSession {
                        account: AccountId(id),
                        key: SessionKey(key),
                        security_level,
                    }))
                },
                |tx, account| mangos_family::mark_taken(tx, account, realm),
            )
        })
    }

    fn renew_session(
        &mut self,
        attempt: &LoginAttempt,
        expires_at: i64,
    ) -> Result<Vec<CharacterCount>, StoreError> {
        let account = attempt
            .account
            .ok_or(StoreError::Invalid("a reconnect without an account id"))?;
        let batching = self.db.batching();
        on_conn!(self, |conn| {
            let mut tx = WriteTx::begin(conn, batching)?;
            let renewed = match self.own {
                OwnTables::Present => {
                    tx.exec_drop(
                        "UPDATE gatehouse_sessions t JOIN account a ON a.id = t.account_id
                         SET t.taken_by = NULL, t.expires_at = ?,
                             a.last_login = FROM_UNIXTIME(?), a.last_ip = COALESCE(?, a.last_ip)
                         WHERE a.id = ? AND a.session_key = t.session_key",
                        (expires_at, attempt.at, last_ip(attempt.peer), account.0),
                    )?;
                    tx.affected_rows() > 0
                }
                // The key in the account row is the ticket; an UPDATE that changes nothing
                // (same second, same address) affects no row, so look first.
                OwnTables::Absent => {
                    let keyed = exists(
                        &mut tx,
                        "SELECT 1 FROM account WHERE id = ? AND session_key IS NOT NULL \
                         FOR UPDATE",
                        account.0,
                    )?;
                    if keyed {
                        tx.exec_drop(
                            "UPDATE account SET last_login = FROM_UNIXTIME(?),
                                 last_ip = COALESCE(?, last_ip)
                             WHERE id = ?",
                            (attempt.at, last_ip(attempt.peer), account.0),
                        )?;
                    }
                    keyed
                }
            };
            if !renewed {
                let found = exists(&mut tx, "SELECT 1 FROM account WHERE id = ?", account.0)?;
                return Err(if found {
                    StoreError::NoSession(account)
                } else {
                    StoreError::NoSuchAccountId(account)
                });
            }
            let audit = LoginAttempt {
                outcome: LoginOutcome::ReconnectSuccess,
                ..attempt.clone()
            };
            insert_audit(self.own, &mut tx, &audit)?;
            let counts = character_counts(&mut tx, account)?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.db.open_batch()
    }

    fn end_batch(&mut self, end: BatchEnd) -> Result<(), StoreError> {
        self.db.close_batch(end)
    }

    fn realm_link_key(&mut self, realm: RealmId) -> Result<Option<LinkKey>, StoreError> {
        on_conn!(self, |conn| {
            let row: Option<Row> = conn.exec_first(link_key_sql(self.own), (realm.0,))?;
            let Some(row) = row else {
                return Err(StoreError::NoSuchRealm(realm.to_string()));
            };
            let what = || format!("realm {realm}: link key");
            opt_bytes(&row, 0, &what)?
                .map(|key| fixed::<32>(key, &what).map(LinkKey))
                .transpose()
        })
    }

    fn load_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn, self.own) })
    }

    fn create_account(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<AccountId, StoreError> {
        on_conn!(self, |conn| {
            // AzerothCore's AccountMgr::CreateAccount writes these columns.
            let inserted = conn.exec_drop(
                "INSERT INTO account (username, salt, verifier, reg_mail, email, joindate)
                 VALUES (?, ?, ?, '', '', NOW())",
                (name.as_str(), &salt.0[..], &verifier.0[..]),
            );
            match inserted {
                Ok(()) => {
                    let id = i64::try_from(conn.last_insert_id()).map_err(|_| {
                        StoreError::corrupt(format!("account {name}: id out of range"))
                    })?;
                    Ok(AccountId(id))
                }
                Err(e) if is_duplicate(&e) => Err(StoreError::DuplicateAccount(*name)),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn set_password(
        &mut self,
        name: &AccountName,
        salt: &Salt,
        verifier: &Verifier,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            tx.exec_drop(
                "UPDATE account SET salt = ?, verifier = ?, session_key = NULL WHERE id = ?",
                (&salt.0[..], &verifier.0[..], id.0),
            )?;
            forget_ticket(self.own, &mut tx, id)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn delete_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            // The auth-database rows AzerothCore's AccountMgr::DeleteAccount removes, and ours;
            // the audit stays.
            for sql in [
                "DELETE FROM account WHERE id = ?",
                "DELETE FROM account_access WHERE id = ?",
                "DELETE FROM account_banned WHERE id = ?",
                "DELETE FROM realmcharacters WHERE acctid = ?",
            ] {
                tx.exec_drop(sql, (id.0,))?;
            }
            forget_account(self.own, &mut tx, id)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, StoreError> {
        on_conn!(self, |conn| {
            let rows: Vec<Row> = conn.exec(
                self.own.pick(
                    concat!(
                        ac_summary_head!(),
                        ", a.totp_secret IS NOT NULL OR EXISTS (SELECT 1 FROM gatehouse_totp g ",
                        "WHERE g.account_id = a.id), ",
                        "IF(a.locked <> 0, a.last_ip, NULL) FROM account a ORDER BY a.id"
                    ),
                    concat!(
                        ac_summary_head!(),
                        ", a.totp_secret IS NOT NULL, ",
                        "IF(a.locked <> 0, a.last_ip, NULL) FROM account a ORDER BY a.id"
                    ),
                ),
                (unix_now(),),
            )?;
            rows.iter().map(summary_from_row).collect()
        })
    }

    fn ban_account(
        &mut self,
        name: &AccountName,
        until: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            let (bandate, unbandate) = ban_dates(unix_now(), until);
            conn.exec_drop(
                concat!(
                    "INSERT INTO account_banned
                         (id, bandate, unbandate, bannedby, banreason, active)
                     VALUES (?, ?, ?, ?, ?, 1) ON DUPLICATE KEY UPDATE ",
                    same_second_ban!()
                ),
                (id.0, bandate, unbandate, BANNED_BY, reason),
            )?;
            Ok(())
        })
    }

    fn unban_account(&mut self, name: &AccountName) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let id = account_id(conn, name)?;
            conn.exec_drop(
                "UPDATE account_banned SET active = 0 WHERE id = ? AND active = 1",
                (id.0,),
            )?;
            mangos_family::lift_lockout(self.own, conn, id)?;
            Ok(())
        })
    }

    fn add_realm(&mut self, realm: &NewRealm) -> Result<RealmId, StoreError> {
        self.insert_realm(realm, None)
    }

    fn add_realm_with_id(&mut self, realm: &NewRealm, id: RealmId) -> Result<RealmId, StoreError> {
        self.insert_realm(realm, Some(id))
    }

    fn update_realm(
        &mut self,
        realm: &RealmRef,
        changes: &RealmChanges,
    ) -> Result<RealmId, StoreError> {
        let builds = changes
            .builds
            .as_deref()
            .map(realm_builds_value)
            .transpose()?;
        on_conn!(self, |conn| {
            let mut extra: Vec<(&'static str, mysql::Value)> = builds.clone().into_iter().collect();
            if let Some(local) = &changes.local {
                // Checked against the realm's address as it will be after the edit.
                let public = match &changes.address {
                    Some(address) => address.clone(),
                    None => {
                        let id = mangos_family::realm_id(conn, realm)?;
                        let row: Option<Row> = conn.exec_first(
                            "SELECT address, port FROM realmlist WHERE id = ?",
                            (id.0,),
                        )?;
                        let row = row.ok_or_else(|| StoreError::NoSuchRealm(realm.to_string()))?;
                        let host = text(&row, 0, &|| format!("{realm}: address"))?;
                        let port = int(&row, 1, &|| format!("{realm}: port"))?;
                        format!("{host}:{port}")
                    }
                };
                let (address, mask) = local_columns(&public, local.as_ref())?;
                extra.push(("localAddress", address.into()));
                extra.push(("localSubnetMask", mask.into()));
            }
            mangos_family::update_realm(conn, realm, changes, "flag", extra)
        })
    }

    fn remove_realm(&mut self, realm: &RealmRef) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::remove_realm(self.own, conn, realm)
        })
    }

    fn list_realms(&mut self) -> Result<Vec<RealmRecord>, StoreError> {
        on_conn!(self, |conn| { realms(conn, self.own) })
    }

    fn set_realm_link_key(&mut self, realm: &RealmRef, key: &LinkKey) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_realm_link_key(self.own, conn, realm, key)
        })
    }

    fn ban_ip(&mut self, net: &IpNet, until: Option<i64>, reason: &str) -> Result<(), StoreError> {
        let ip = banned_ip_text(net)?;
        on_conn!(self, |conn| {
            mangos_family::ban_ip(conn, &IP_BANNED, &ip, until, reason)
        })
    }

    fn unban_ip(&mut self, net: &IpNet) -> Result<bool, StoreError> {
        let ip = banned_ip_text(net)?;
        on_conn!(self, |conn| {
            conn.exec_drop("DELETE FROM ip_banned WHERE ip = ?", (ip.as_str(),))?;
            Ok(conn.affected_rows() > 0)
        })
    }

    fn ip_bans(&mut self, now: i64) -> Result<Vec<IpBan>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::ip_bans(conn, &IP_BANNED, now)
        })
    }

    fn set_console_password(&mut self, hash: &str) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_console_password(self.own, conn, hash)
        })
    }

    fn console_password(&mut self) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::console_password(self.own, conn)
        })
    }

    fn set_security_level(&mut self, name: &AccountName, level: u8) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let id = account_id(&mut tx, name)?;
            // As AzerothCore's `account set gmlevel … -1`: the level for every realm replaces
            // the account's rows; level 0 is no row.
            tx.exec_drop("DELETE FROM account_access WHERE id = ?", (id.0,))?;
            if level > 0 {
                tx.exec_drop(
                    "INSERT INTO account_access (id, gmlevel, RealmID, comment)
                     VALUES (?, ?, -1, 'gatehouse')",
                    (id.0, level),
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// As AzerothCore's `account set lock on`: `locked = 1`, which its authserver compares
    /// with `last_ip`, written at every logon.
    fn set_ip_lock(
        &mut self,
        name: &AccountName,
        setting: IpLockSetting,
    ) -> Result<Option<String>, StoreError> {
        on_conn!(self, |conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let row: Option<Row> = tx.exec_first(
                "SELECT last_ip, last_login IS NOT NULL FROM account WHERE username = ?
                 FOR UPDATE",
                (name.as_str(),),
            )?;
            let row = row.ok_or(StoreError::NoSuchAccount(*name))?;
            let last = text(&row, 0, &|| format!("account {name}: last_ip"))?;
            let logged_on = bool_col(&row, 1, &|| format!("account {name}: last_login"))?;
            let (locked, address) = match setting {
                // last_ip has a default ('127.0.0.1') before any logon: no address then.
                IpLockSetting::On if !logged_on => return Err(StoreError::NoLastAddress(*name)),
                IpLockSetting::On => (1, Some(last)),
                IpLockSetting::Off => (0, None),
            };
            tx.exec_drop(
                "UPDATE account SET locked = ? WHERE username = ?",
                (locked, name.as_str()),
            )?;
            tx.commit()?;
            Ok(address)
        })
    }

    fn set_totp_secret(
        &mut self,
        name: &AccountName,
        secret: Option<&SealedTotpSecret>,
    ) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_totp_secret(self.own, conn, name, secret)
        })
    }

    fn set_pin(&mut self, name: &AccountName, pin: Option<&SealedPin>) -> Result<(), StoreError> {
        on_conn!(self, |conn| {
            mangos_family::set_pin(self.own, conn, name, pin)
        })
    }

    fn set_character_counts(
        &mut self,
        realm: RealmId,
        counts: &[(AccountId, u8)],
    ) -> Result<CountsWritten, StoreError> {
        on_conn!(self, |conn| {
            super::mysql::write_character_counts(conn, &mangos_family::COUNT_TABLES, realm, counts)
        })
    }

    fn query_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::query_audit(self.own, conn, query)
        })
    }

    fn recent_audit(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::recent_audit(self.own, conn, limit)
        })
    }

    fn prune_audit(&mut self, before: i64) -> Result<u64, StoreError> {
        on_conn!(self, |conn| {
            mangos_family::prune_audit(self.own, conn, before)
        })
    }

    fn features_off(&self) -> &'static [Feature] {
        self.own.features_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_dates_equal_only_for_permanent_bans() {
        assert_eq!(ban_dates(100, None), (100, 100));
        assert_eq!(ban_dates(100, Some(200)), (100, 200));
        let (bandate, unbandate) = ban_dates(100, Some(50));
        assert!(bandate < unbandate && unbandate <= 100);
        let (bandate, unbandate) = ban_dates(100, Some(100));
        assert!(bandate < unbandate);
    }

    #[test]
    fn addresses_split_and_ip_bans_are_single_ipv4() {
        assert_eq!(split_address("10.0.0.1:8085").unwrap(), ("10.0.0.1", 8085));
        assert!(split_address("nohost").is_err());
        assert!(split_address(":8085").is_err());
        assert_eq!(
            banned_ip_text(&"10.1.2.3/32".parse().unwrap()).unwrap(),
            "10.1.2.3"
        );
        assert!(banned_ip_text(&"10.1.2.0/24".parse().unwrap()).is_err());
        assert!(banned_ip_text(&"::1/128".parse().unwrap()).is_err());
        assert_eq!(
            last_ip("10.0.0.1".parse().unwrap()).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(last_ip("2001:db8::1234:5678:9abc".parse().unwrap()), None);
    }
}
