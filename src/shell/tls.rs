//! How a mail connection is protected, shared by IMAP (`imap.rs`) and SMTP (`transport.rs`):
//! the rustls client configuration (the webpki roots, the system's certificate store as
//! rustls-native-certs finds it — /etc/ssl/certs, or `SSL_CERT_FILE` / `SSL_CERT_DIR` — and an
//! optional `ca-file`), the server name
//! checked against the certificate, the handshake under a time limit, lettre's parameters for
//! SMTP STARTTLS, and the guard that lets plaintext go to loopback addresses only.
//!
//! Invariants:
//! - The server certificate is always verified, against the webpki roots, the system store
//!   and the certificates of `ca-file`; there is no switch to turn verification off. A system
//!   store that cannot be read adds nothing (logged once), it never disables verification.
//! - A `ca-file` that holds no PEM certificate is an error, not an empty extra trust store.
//! - Plaintext is refused unless every resolved address of the host is a loopback address
//!   (checked on the addresses actually connected to, not on the name).
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};

/// The system's trust anchors, read once per process (a few hundred files).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system certificate store");
        }
        tracing::debug!(certs = found.certs.len(), "system certificate store");
        found.certs
    })
}

/// rustls with the webpki roots and the system's store, plus the certificates of `ca_file`
/// as extra trust anchors.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Certificates rustls cannot use as anchors (old, odd encodings) are skipped one by one.
    let (_added, _skipped) = roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).with_context(|| format!("reading ca-file {path:?}"))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.with_context(|| format!("parsing ca-file {path:?}"))?;
            roots
                .add(cert)
                .with_context(|| format!("adding a certificate of ca-file {path:?}"))?;
            added += 1;
        }
        if added == 0 {
            bail!("ca-file {path:?} holds no PEM certificate");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("tls protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The name the server's certificate must carry: the configured host (a DNS name or an IP).
pub fn server_name(host: &str) -> Result<ServerName<'static>, InvalidDnsNameError> {
    ServerName::try_from(host.to_string())
}

/// Why a TLS handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("tls handshake timed out")]
    TimedOut(#[source] tokio::time::error::Elapsed),
    /// Refused certificate, protocol error, connection lost.
    #[error("tls handshake")]
    Failed(#[source] std::io::Error),
}

/// The client side of a TLS handshake over `stream`, within `limit`.
pub async fn handshake<S>(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    stream: S,
    limit: Duration,
) -> Result<TlsStream<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout(limit, connector.connect(name, stream))
        .await
        .map_err(HandshakeError::TimedOut)?
        .map_err(HandshakeError::Failed)
}

/// lettre's parameters for SMTP STARTTLS (lettre upgrades the connection itself, with its own
/// rustls setup): the host as server name, the system's store and the certificate of
/// `ca_file` as trust anchors.
pub fn starttls_parameters(host: &str, ca_file: Option<&Path>) -> Result<TlsParameters> {
    let mut b = TlsParameters::builder(host.to_string());
    // lettre's default store is the webpki roots; the system's are added as in `client_config`.
    // Only those rustls takes as anchors: lettre fails the whole set-up on one it cannot.
    for der in system_roots() {
        let usable = rustls::RootCertStore::empty().add(der.clone()).is_ok();
        if let (true, Ok(cert)) = (usable, Certificate::from_der(der.to_vec())) {
            b = b.add_root_certificate(cert);
        }
    }
    if let Some(path) = ca_file {
        // lettre accepts a file without any certificate in it; rustls' reader does not.
        client_config(Some(path))?;
        let pem = std::fs::read(path).with_context(|| format!("reading ca-file {path:?}"))?;
        let cert =
            Certificate::from_pem(&pem).with_context(|| format!("parsing ca-file {path:?}"))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls().context("tls parameters")
}

/// Refuses plaintext unless every resolved address of `host` is a loopback address.
pub fn require_loopback(addrs: &[SocketAddr], host: &str, key: &str) -> Result<()> {
    if addrs.is_empty() {
        bail!("{host} resolves to no address");
    }
    if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "{key} = \"plain\" sends passwords and mail in clear text and is allowed only for a \
             loopback host, but {host} resolves to {}; use \"tls\" or \"starttls\"",
            a.ip()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_only_to_loopback() {
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        assert!(require_loopback(&[a("127.0.0.1:143")], "localhost", "imap.security").is_ok());
        assert!(require_loopback(&[a("[::1]:143")], "localhost", "imap.security").is_ok());
        let e = require_loopback(
            &[a("127.0.0.1:143"), a("192.0.2.1:143")],
            "mail.example.org",
            "imap.security",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("imap.security") && e.contains("192.0.2.1"),
            "{e}"
        );
        assert!(require_loopback(&[], "nowhere", "imap.security").is_err());
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a pem\n").unwrap();
        assert!(client_config(Some(&p)).is_err());
        assert!(client_config(None).is_ok());
        assert!(starttls_parameters("localhost", Some(&p)).is_err());
        assert!(starttls_parameters("localhost", None).is_ok());
        let missing = dir.path().join("missing.pem");
        assert!(client_config(Some(&missing)).is_err());
        assert!(starttls_parameters("localhost", Some(&missing)).is_err());
    }

    #[test]
    fn server_names() {
        for ok in ["mail.example.org", "localhost", "127.0.0.1", "::1"] {
            assert!(server_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "mail example.org", "a..b"] {
            assert!(server_name(bad).is_err(), "{bad:?}");
        }
    }
}
