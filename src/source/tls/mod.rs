//! TLS to database servers, over rustls: the trust roots, the client certificate, and how much of
//! the server's certificate is checked. PostgreSQL's `sslmode` and MySQL's `ssl-mode` both come
//! down to one of three checks ([`Check`]); what each connection ended up with is a
//! [`Security`], which `dsar check` prints and plaintext to a remote host warns about.
//!
//! Each kind's connection string names these settings its own way, as its own client does:
//! [`libpq`] reads PostgreSQL's (`sslmode`, `sslrootcert`, …), [`mysql`] the mysql client's
//! (`ssl-mode`, `ssl-ca`, …); both come down to the [`Settings`] here.

pub mod libpq;
pub mod mysql;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;

use crate::error::UserError;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Encrypt only: any certificate is taken (libpq's `require` without a root certificate,
    /// `prefer`; MySQL's `REQUIRED`, `PREFERRED`). The handshake's signatures are still checked.
    Nothing,
    /// The chain up to a trusted root, not the host name (`verify-ca`, `VERIFY_CA`).
    Chain,
    /// The chain and the host name (`verify-full`, `VERIFY_IDENTITY`).
    Full,
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// None given (only [`Check::Nothing`] works without).
    None,
    /// A PEM file of CA certificates (`sslrootcert=FILE`, `ssl-ca=FILE`).
    File(PathBuf),
    /// The operating system's trusted roots (`sslrootcert=system`).
    System,
}

/// What a TLS connection needs besides the host: the check, its roots, a client certificate.
#[derive(Debug, Clone)]
pub struct Settings {
    pub check: Check,
    pub roots: Roots,
    /// A client certificate chain and its key (PEM files), to authenticate with.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// How one connection was made, for `dsar check` and the plaintext warning.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Security {
    /// `TLS` or `plaintext`.
    pub transport: &'static str,
    /// The protocol version the server reports (`TLSv1.3`), when encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Whether the server's certificate was verified: `full` (chain and host name), `chain`,
    /// or `no`.
    pub verified: &'static str,
    /// The host name the certificate was verified for (`full` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A Unix socket or a loopback address: plaintext there never crosses a network.
    pub local: bool,
}

impl Security {
    /// A connection without TLS to `host` (`local` when a socket or loopback).
    pub fn plaintext(local: bool) -> Security {
        Security {
            transport: "plaintext",
            protocol: None,
            verified: "no",
            host: None,
            local,
        }
    }

    /// A TLS connection of `protocol`, its certificate checked by `check` for `host`.
    pub fn tls(protocol: Option<String>, check: Check, host: &str, local: bool) -> Security {
        Security {
            transport: "TLS",
            protocol,
            verified: match check {
                Check::Nothing => "no",
                Check::Chain => "chain",
                Check::Full => "full",
            },
            host: (check == Check::Full).then(|| host.to_string()),
            local,
        }
    }

    /// One line for `dsar check`: `TLS (TLSv1.3, certificate verified for db.example.com)`.
    pub fn describe(&self) -> String {
        if self.transport == "plaintext" {
            return if self.local {
                "plaintext (local)".to_string()
            } else {
                "plaintext".to_string()
            };
        }
        let protocol = self.protocol.as_deref().unwrap_or("TLS");
        match (self.verified, &self.host) {
            ("full", Some(host)) => format!("TLS ({protocol}, certificate verified for {host})"),
            ("chain", _) => format!("TLS ({protocol}, certificate chain verified, host name not checked)"),
            _ => format!("TLS ({protocol}, certificate not verified)"),
        }
    }

    /// The warning a plaintext connection to a remote host earns, once per source.
    pub fn warning(&self, source: &str, place: &str) -> Option<String> {
        (self.transport == "plaintext" && !self.local).then(|| {
            format!(
                "source `{source}` ({place}): connected without TLS; personal data crosses the network unencrypted (set sslmode=verify-full or ssl-mode=VERIFY_IDENTITY)"
            )
        })
    }
}

/// Sources already warned about in this process: one warning per source per run.
static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Whether `--quiet` silenced warnings (set once by `main`).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Silence [`warn_once`] (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Print `warning` on stderr the first time `source` earns it in this process.
pub fn warn_once(source: &str, warning: &str) {
    let first = WARNED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(source.to_string());
    if first && !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("warning: {warning}");
    }
}

/// A URL query value with `%XX` decoded; `None` when not valid UTF-8 or a bad escape.
pub fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `host` is this machine: `localhost`, a loopback address, or a Unix socket path.
pub fn is_local(host: &str) -> bool {
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A rustls client configuration for `settings`. Files that cannot be read or hold no
/// certificate or key are one clear error naming the setting (`what` names it as the user
/// wrote it: `sslrootcert`, `ssl-ca`), exit 2.
pub fn client_config(settings: &Settings, source: &str, names: &Names) -> Result<rustls::ClientConfig, UserError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UserError::runtime(format!("source `{source}`: TLS cannot be set up: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match settings.check {
        Check::Nothing => Arc::new(AnyCertificate(provider.clone())),
        check => {
            let roots = root_store(&settings.roots, source, names)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| UserError::usage(format!("source `{source}`: {}: {e}", names.root)))?;
            if check == Check::Chain {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    match &settings.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = certificates(cert, source, names.cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                UserError::usage(format!(
                    "source `{source}`: {} {}: {}",
                    names.key,
                    key.display(),
                    pem_error(&e)
                ))
                .with_hint(format!(
                    "{} must name a readable PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    names.key
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                UserError::usage(format!(
                    "source `{source}`: {} and {} do not make a client certificate: {e}",
                    names.cert, names.key
                ))
            })
        }
    }
}

/// How the settings are spelt where the user wrote them, for errors.
pub struct Names {
    pub root: &'static str,
    pub cert: &'static str,
    pub key: &'static str,
}

/// Read the files `settings` names (a CA file, a client certificate and key) the way a
/// connection would, so a bad one is an error naming it before any connection is tried.
pub fn check_files(settings: &Settings, source: &str, names: &Names) -> Result<(), UserError> {
    if let Roots::File(path) = &settings.roots {
        certificates(path, source, names.root)?;
    }
    if settings.client.is_some() {
        client_config(
            &Settings {
                check: Check::Nothing,
                roots: Roots::None,
                client: settings.client.clone(),
            },
            source,
            names,
        )?;
    }
    Ok(())
}

/// The trusted roots `roots` names.
fn root_store(roots: &Roots, source: &str, names: &Names) -> Result<RootCertStore, UserError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::None => {
            return Err(UserError::usage(format!(
                "source `{source}`: verifying the server's certificate needs trusted roots, and none were given"
            ))
            .with_hint(format!(
                "set {0}=/path/to/ca.pem (the CA that signed the server's certificate), or {0}=system",
                names.root
            )));
        }
        Roots::File(path) => {
            for cert in certificates(path, source, names.root)? {
                store.add(cert).map_err(|e| {
                    UserError::usage(format!(
                        "source `{source}`: {} {}: not a CA certificate: {e}",
                        names.root,
                        path.display()
                    ))
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(UserError::usage(format!(
                    "source `{source}`: {}=system, but this system has no trusted root certificates",
                    names.root
                ))
                .with_hint("install the ca-certificates package, or name a CA file"));
            }
        }
    }
    Ok(store)
}

/// Every certificate of a PEM file, at least one.
fn certificates(path: &Path, source: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, UserError> {
    let unreadable = |detail: String| {
        UserError::usage(format!("source `{source}`: {what} {}: {detail}", path.display()))
            .with_hint(format!("{what} must name a readable PEM file of certificates"))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(pem_error(&e)))?;
    if certs.is_empty() {
        return Err(unreadable("holds no PEM certificate".into()));
    }
    Ok(certs)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "holds no PEM item of that kind".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// Encrypt, whoever the server is: libpq's `require` without a root certificate. The
/// handshake's signatures are checked, so the session is still bound to the certificate shown.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The rustls error somewhere in `error`'s chain. tokio-rustls reports a refused certificate as
/// an I/O error wrapping rustls's, and an I/O error's `source()` skips what it wraps: look
/// inside.
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    std::iter::successors(Some(error), |e| e.source()).find_map(|e| {
        e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        })
    })
}

/// When `error` is a certificate refused only for its host name, a DNS name the certificate
/// does list (a wildcard's label filled in): what a chain-only check can verify it against.
pub fn name_in_certificate(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { presented, .. }) =
        rustls_error(error)?
    else {
        return None;
    };
    // webpki lists them as `DnsName("db.example.com")`.
    presented.iter().find_map(|name| {
        let dns = name.strip_prefix("DnsName(\"")?.strip_suffix("\")")?;
        Some(match dns.strip_prefix("*.") {
            Some(rest) => format!("dsar.{rest}"),
            None => dns.to_string(),
        })
    })
}

/// A handshake failure explained: what went wrong with the certificate, and what to set. `None`
/// when `error` (anywhere in its chain) is not a certificate problem rustls reported.
pub fn explain(error: &(dyn std::error::Error + 'static), host: &str, names: &Names) -> Option<(String, String)> {
    let rustls_error = rustls_error(error)?;
    let rustls::Error::InvalidCertificate(cert) = rustls_error else {
        return Some((
            format!("the TLS handshake failed: {rustls_error}"),
            "check the server's TLS settings".into(),
        ));
    };
    Some(match cert {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            format!("the server's certificate is not valid for the host name `{host}`"),
            format!(
                "connect by a name the certificate lists, or check the chain only ({})",
                if names.root == "ssl-ca" {
                    "ssl-mode=VERIFY_CA"
                } else {
                    "sslmode=verify-ca"
                }
            ),
        ),
        CertificateError::UnknownIssuer | CertificateError::BadSignature => (
            "the server's certificate was not signed by a trusted root".to_string(),
            format!(
                "set {} to the CA certificate that signed the server's certificate",
                names.root
            ),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            "the server's certificate has expired".to_string(),
            "renew the server's certificate".to_string(),
        ),
        other => (
            format!("the server's certificate was refused: {other:?}"),
            format!("check {} and the server's certificate", names.root),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_sockets_are_local() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.0.0.53",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert!(is_local(host), "{host}");
        }
        for host in ["db.example.com", "10.0.0.5", "192.168.1.1", "::ffff:10.0.0.1"] {
            assert!(!is_local(host), "{host}");
        }
    }

    #[test]
    fn security_reads_as_one_line() {
        assert_eq!(
            Security::tls(Some("TLSv1.3".into()), Check::Full, "db", false).describe(),
            "TLS (TLSv1.3, certificate verified for db)"
        );
        assert_eq!(Security::plaintext(true).describe(), "plaintext (local)");
        assert!(Security::plaintext(false).warning("s", "h:1/d").is_some());
        assert!(Security::plaintext(true).warning("s", "h:1/d").is_none());
    }
}
