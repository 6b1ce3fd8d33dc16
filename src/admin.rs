//! Operator commands on the store: what `gatehouse account ...` and `gatehouse realm ...` do
//! (and, later, the console). They run synchronously on the caller's thread — never on the
//! event loop — and validate everything an operator types before it reaches the store.

use crate::account::{AccountId, AccountName, CredentialError, Password};
use crate::protocol::version::Build;
use crate::realms::link::key::{LinkKey, MIN_SECRET_LEN};
use crate::realms::RealmId;
use crate::srp6::{compute_verifier, Salt};
use crate::store::{NewRealm, RealmRef, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

pub fn create_account(
    store: &mut dyn Store,
    name: &str,
    password: &str,
) -> Result<AccountId, AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let password = Password::parse(password.as_bytes())?;
    let salt = Salt::random();
    let verifier = compute_verifier(&name, &password, &salt);
    Ok(store.create_account(&name, &salt, &verifier)?)
}

pub fn set_password(store: &mut dyn Store, name: &str, password: &str) -> Result<(), AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    let password = Password::parse(password.as_bytes())?;
    let salt = Salt::random();
    let verifier = compute_verifier(&name, &password, &salt);
    Ok(store.set_password(&name, &salt, &verifier)?)
}

pub fn set_security_level(store: &mut dyn Store, name: &str, level: u8) -> Result<(), AdminError> {
    let name = AccountName::parse(name.as_bytes())?;
    Ok(store.set_security_level(&name, level)?)
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

/// Realm types by the names operators use (login-protocol.md §2.4), or a number.
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

/// A comma-separated build list, e.g. "5875,8606".
pub fn parse_builds(s: &str) -> Result<Vec<Build>, AdminError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|&b| b > 0)
                .map(Build)
                .ok_or_else(|| AdminError::Invalid(format!("build {p:?} is not a build number")))
        })
        .collect()
}

/// Checks what a realm entry will show: the client takes the address as `host:port` text.
pub fn validate_realm(realm: &NewRealm) -> Result<(), AdminError> {
    let name = realm.name.trim();
    if name.is_empty() || name.len() > 64 || name.contains('\0') {
        return Err(AdminError::Invalid(
            "realm name must be 1-64 characters without NUL".into(),
        ));
    }
    let Some((host, port)) = realm.address.rsplit_once(':') else {
        return Err(AdminError::Invalid(format!(
            "realm address {:?} must be HOST:PORT",
            realm.address
        )));
    };
    if host.is_empty() || realm.address.contains('\0') || realm.address.len() > 255 {
        return Err(AdminError::Invalid(format!(
            "realm address {:?} must be HOST:PORT",
            realm.address
        )));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => {
            return Err(AdminError::Invalid(format!(
                "realm address {:?}: port must be 1-65535",
                realm.address
            )))
        }
    }
    if !realm.population.is_finite() || realm.population < 0.0 {
        return Err(AdminError::Invalid(
            "population must be a non-negative number".into(),
        ));
    }
    Ok(())
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
        }
    }

    fn temp_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gatehouse.db")).unwrap();
        (dir, store)
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
    }
}
