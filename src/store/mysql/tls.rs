//! TLS between gatehouse and a MySQL/MariaDB server (`store.tls`, `store.tls_ca`): what each
//! setting asks of the driver (its rustls connector), and how a failed handshake is worded.
//!
//! The driver (mysql 28) trusts its built-in roots (Mozilla's, from webpki-roots) and, when
//! given one, a CA file besides them; it has no switch to use the CA file alone and does not read
//! the system's certificate store. `required` turns all checking off (any certificate, any name),
//! which keeps out only someone who can listen, not someone who can intercept.

use std::fmt;
use std::path::{Path, PathBuf};

use mysql::{Opts, OptsBuilder, SslOpts};

use crate::store::{BackendError, BackendErrorKind};

/// How gatehouse protects its connection to a database server (`store.tls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP (unless the URL carries the driver's own TLS parameters).
    #[default]
    Off,
    /// Encrypted, but any certificate is accepted: protects against passive eavesdropping only.
    Required,
    /// Encrypted, and the certificate chain and host name are checked.
    Verify,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Required => "required",
            TlsMode::Verify => "verify",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS a MySQL connection is opened with: `store.tls` with, for `verify`, `store.tls_ca`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum DbTls {
    /// No TLS from gatehouse; the driver's TLS parameters in the URL (`root_cert_path=…`) still
    /// apply.
    #[default]
    Off,
    /// Encrypt; accept any certificate.
    Required,
    /// Encrypt; check the chain against `ca` (a PEM file) and the built-in roots, or against
    /// the built-in roots alone, and the certificate's name against the URL's host.
    Verify { ca: Option<PathBuf> },
}

impl DbTls {
    /// From the two config keys; `ca` only counts for `verify` (the config check refuses it
    /// with the others).
    pub fn from_config(mode: TlsMode, ca: Option<&Path>) -> DbTls {
        match mode {
            TlsMode::Off => DbTls::Off,
            TlsMode::Required => DbTls::Required,
            TlsMode::Verify => DbTls::Verify {
                ca: ca.map(Path::to_path_buf),
            },
        }
    }

    pub fn mode(&self) -> TlsMode {
        match self {
            DbTls::Off => TlsMode::Off,
            DbTls::Required => TlsMode::Required,
            DbTls::Verify { .. } => TlsMode::Verify,
        }
    }

    /// The driver's options for this setting, on top of the URL's (`url`): the setting decides
    /// what is checked (the CA, the `danger_` switches), while a client certificate or cipher
    /// list from the URL is kept. `None` for `Off`, which leaves the URL's own as they are.
    /// The CA file is read here once, so a missing or wrong file is named as such instead of
    /// surfacing as a bare "No such file or directory" from inside the handshake.
    fn ssl_opts(&self, url: Option<&SslOpts>) -> Result<Option<SslOpts>, BackendError> {
        let base = url.cloned().unwrap_or_default();
        let (ca, check) = match self {
            DbTls::Off => return Ok(None),
            DbTls::Required => (None, false),
            DbTls::Verify { ca: None } => (None, true),
            DbTls::Verify { ca: Some(ca) } => {
                check_ca_file(ca)?;
                (Some(ca.clone()), true)
            }
        };
        Ok(Some(
            base.with_root_cert_path(ca)
                .with_danger_accept_invalid_certs(!check)
                .with_danger_skip_domain_validation(!check),
        ))
    }
}

/// As it reads in messages: `verify (CA /etc/gatehouse/db-ca.pem)`.
impl fmt::Display for DbTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbTls::Verify { ca: Some(ca) } => write!(f, "verify (CA {})", ca.display()),
            DbTls::Verify { ca: None } => f.write_str("verify (built-in roots)"),
            other => f.write_str(other.mode().as_str()),
        }
    }
}

fn check_ca_file(ca: &Path) -> Result<(), BackendError> {
    let text = std::fs::read(ca).map_err(|e| {
        BackendError::new(
            BackendErrorKind::CannotOpen,
            format!("cannot read store.tls_ca {}: {e}", ca.display()),
            None,
        )
    })?;
    // The driver would take anything else for one DER certificate and fail in the handshake.
    if !text
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(BackendError::new(
            BackendErrorKind::CannotOpen,
            format!(
                "store.tls_ca {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ca.display()
            ),
            None,
        ));
    }
    Ok(())
}

/// `opts` with `tls` applied (over the URL's TLS parameters, see [`DbTls::ssl_opts`]), and a
/// connection that asks for TLS stays on TCP. (The driver otherwise moves a loopback connection to the
/// server's Unix socket after the handshake, where it does no TLS: the operator asked for an
/// encrypted connection, and `Ssl_cipher` should say so.) A socket named in the URL cannot be
/// encrypted, so TLS with one is refused rather than silently not done.
pub(super) fn apply(opts: Opts, tls: &DbTls) -> Result<Opts, BackendError> {
    let opts = match tls.ssl_opts(opts.get_ssl_opts())? {
        Some(ssl) => Opts::from(OptsBuilder::from_opts(opts).ssl_opts(Some(ssl))),
        None => opts,
    };
    if opts.get_ssl_opts().is_none() {
        return Ok(opts);
    }
    if opts.get_socket().is_some() {
        return Err(BackendError::new(
            BackendErrorKind::CannotOpen,
            "TLS is asked for but the URL names a Unix socket (socket=…), which the driver \
             does not encrypt; connect over TCP or set store.tls = \"off\"",
            None,
        ));
    }
    Ok(Opts::from(
        OptsBuilder::from_opts(opts).prefer_socket(false),
    ))
}

/// A connect failure, worded so that a TLS failure says it is one: the driver reports a refused
/// certificate as a bare I/O error ("invalid peer certificate: UnknownIssuer"). Failures before
/// the handshake (no route, refused, timed out) and the server's own refusals keep its words.
pub(super) fn connect_error(err: mysql::Error, opts: &Opts, tls: &DbTls) -> BackendError {
    let during_tls = opts.get_ssl_opts().is_some()
        && matches!(
            err,
            mysql::Error::TlsError(_)
                | mysql::Error::IoError(_)
                | mysql::Error::CodecError(_)
                | mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)
        );
    let backend = BackendError::from(err);
    if !during_tls {
        return backend;
    }
    let setting = match tls {
        DbTls::Off => "from the URL's parameters".to_owned(),
        other => format!("store.tls = {other}"),
    };
    BackendError::new(
        backend.kind(),
        format!(
            "TLS with the server failed ({setting}): {}",
            backend.message()
        ),
        backend.code(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str, tls: &DbTls) -> Result<Opts, BackendError> {
        apply(Opts::from_url(url).unwrap(), tls)
    }

    #[test]
    fn each_setting_asks_the_driver_for_what_it_says() {
        let url = "mysql://u@db.example:3306/g";
        let off = opts(url, &DbTls::Off).unwrap();
        assert!(off.get_ssl_opts().is_none());
        assert!(
            off.get_prefer_socket(),
            "off leaves the driver's default alone"
        );

        let required = opts(url, &DbTls::Required).unwrap();
        let ssl = required.get_ssl_opts().unwrap();
        assert!(ssl.accept_invalid_certs() && ssl.skip_domain_validation());
        assert!(!required.get_prefer_socket());

        let verify = opts(url, &DbTls::Verify { ca: None }).unwrap();
        let ssl = verify.get_ssl_opts().unwrap();
        assert!(!ssl.accept_invalid_certs() && !ssl.skip_domain_validation());
        assert_eq!(ssl.root_cert_path(), None);

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let with_ca = opts(
            url,
            &DbTls::Verify {
                ca: Some(ca.clone()),
            },
        )
        .unwrap();
        let ssl = with_ca.get_ssl_opts().unwrap();
        assert_eq!(ssl.root_cert_path(), Some(ca.as_path()));
        assert!(!ssl.accept_invalid_certs() && !ssl.skip_domain_validation());
    }

    #[test]
    fn the_setting_decides_over_the_urls_tls_parameters_and_off_keeps_them() {
        let url = "mysql://u@db.example:3306/g?danger_accept_invalid_certs=true";
        let kept = opts(url, &DbTls::Off).unwrap();
        assert!(kept.get_ssl_opts().unwrap().accept_invalid_certs());
        assert!(!kept.get_prefer_socket());
        let replaced = opts(url, &DbTls::Verify { ca: None }).unwrap();
        assert!(!replaced.get_ssl_opts().unwrap().accept_invalid_certs());
        let url = "mysql://u@h/g?root_cert_path=%2Fold.pem&cert_chain_path=%2Fc.pem&priv_key_path=%2Fk.pem";
        let merged = opts(url, &DbTls::Verify { ca: None }).unwrap();
        let ssl = merged.get_ssl_opts().unwrap();
        assert_eq!(
            ssl.root_cert_path(),
            None,
            "the setting decides what is trusted"
        );
        assert!(
            ssl.client_identity().is_some(),
            "a client certificate is kept"
        );
        let merged = opts(url, &DbTls::Required).unwrap();
        assert!(merged.get_ssl_opts().unwrap().accept_invalid_certs());
        assert!(merged.get_ssl_opts().unwrap().client_identity().is_some());
        // mysql 28 has no `require_ssl` (mysql_async has): the README says such a URL is refused.
        assert!(Opts::from_url("mysql://u@h/g?require_ssl=true").is_err());
    }

    #[test]
    fn a_bad_ca_file_or_a_socket_is_refused_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = opts(
            "mysql://u@h/g",
            &DbTls::Verify {
                ca: Some(missing.clone()),
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::CannotOpen);
        assert!(err.message().contains("store.tls_ca"), "{err}");
        assert!(err.message().contains("nope.pem"), "{err}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let err = opts("mysql://u@h/g", &DbTls::Verify { ca: Some(garbage) }).unwrap_err();
        assert!(err.message().contains("no PEM certificate"), "{err}");

        let err = opts("mysql://u@h/g?socket=%2Ftmp%2Fsock", &DbTls::Required).unwrap_err();
        assert!(err.message().contains("Unix socket"), "{err}");
        assert!(opts("mysql://u@h/g?socket=%2Ftmp%2Fsock", &DbTls::Off).is_ok());
    }

    #[test]
    fn a_failure_during_the_handshake_names_tls_and_others_do_not() {
        let tls = DbTls::Verify { ca: None };
        let with = opts("mysql://u@h/g", &tls).unwrap();
        let io = || {
            mysql::Error::IoError(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "invalid peer certificate: UnknownIssuer",
            ))
        };
        let err = connect_error(io(), &with, &tls);
        assert!(
            err.message()
                .starts_with("TLS with the server failed (store.tls = verify (built-in roots)): "),
            "{err}"
        );
        assert!(err.message().contains("invalid peer certificate"), "{err}");
        assert_eq!(err.kind(), BackendErrorKind::Unavailable);
        let err = connect_error(
            mysql::Error::DriverError(mysql::DriverError::TlsNotSupported),
            &with,
            &tls,
        );
        assert!(
            err.message().starts_with("TLS with the server failed"),
            "{err}"
        );
        // Nothing listening is not a TLS failure.
        let refused = mysql::Error::DriverError(mysql::DriverError::ConnectTimeout);
        assert!(!connect_error(refused, &with, &tls)
            .message()
            .contains("TLS"));
        // Without TLS an I/O error is only an I/O error.
        let without = opts("mysql://u@h/g", &DbTls::Off).unwrap();
        assert!(!connect_error(io(), &without, &DbTls::Off)
            .message()
            .contains("TLS"));
    }
}
