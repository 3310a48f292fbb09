//! Outbound transports: hands finished messages to an SMTP server, or writes them as `.eml`
//! files into a directory (the shipped default, and what tests read).
//!
//! Owns one reusable, pooled lettre SMTP transport per [`Sender`]. The bytes given to
//! [`Sender::send`] are sent as they are: composing, signing and the Message-ID happen before.
//!
//! Invariants:
//! - A 4xx reply or any connection, TLS or timeout problem is [`SendError::Transient`] (the
//!   outbox retries with backoff); only a 5xx reply is [`SendError::Permanent`].
//! - Plaintext SMTP goes only to a loopback host (checked once, in [`Sender::new`]).
//! - A file appears whole or not at all (written to a temporary name, synced, renamed).
//! - Nothing of a message is logged; only sizes, recipient counts and file names.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::shell::imap::{require_loopback, Security};

/// Where outgoing mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// One `<file_stem>.eml` per message in `dir`.
    File {
        dir: PathBuf,
    },
}

/// The SMTP server that relays our mail.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Set both or neither.
    pub user: Option<String>,
    pub password: Option<String>,
    /// An extra trust anchor (PEM), for servers with a self-signed or private CA certificate.
    pub ca_file: Option<PathBuf>,
    /// The EHLO name; lettre's default (`localhost`) when unset.
    pub helo_name: Option<String>,
}

// The password stays out of debug output.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("helo_name", &self.helo_name)
            .finish()
    }
}

/// Why a message was not sent: the outbox retries the first, gives up on the second.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 4xx, connection refused or lost, TLS, timeout, disk full: try again later.
    #[error("transient send failure: {0}")]
    Transient(String),
    /// 5xx (unknown recipient, refused sender, message refused) or an invalid address: retrying
    /// will not help.
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

/// Sends messages over one transport. Cheap to share behind an `Arc`; SMTP connections are
/// pooled and reused (a pooled connection is checked with NOOP before reuse).
pub struct Sender {
    inner: Inner,
}

enum Inner {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        server: String,
    },
    File {
        dir: PathBuf,
    },
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Smtp { server, .. } => write!(f, "Sender(smtp {server})"),
            Inner::File { dir } => write!(f, "Sender(file {dir:?})"),
        }
    }
}

/// Time allowed for each SMTP command and for connecting.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

impl Sender {
    /// Builds the transport. Must be called inside a tokio runtime (the SMTP pool runs a
    /// clean-up task). Resolves the host once, to refuse plaintext to a non-loopback host.
    pub fn new(t: &Transport) -> Result<Sender> {
        let inner = match t {
            Transport::File { dir } => Inner::File { dir: dir.clone() },
            Transport::Smtp(s) => {
                let server = format!("{}:{}", s.host, s.port);
                let transport = smtp_transport(s).with_context(|| format!("smtp {server}"))?;
                Inner::Smtp { transport, server }
            }
        };
        Ok(Sender { inner })
    }

    /// Sends `raw` (a complete RFC 5322 message) to `rcpts` with `envelope_from` as the
    /// return path (`""` for the null return path). A message to several recipients fails as a
    /// whole if any is refused; send one message per recipient where that matters.
    ///
    /// The file transport writes `<dir>/<file_stem>.eml` (stem sanitized to `[A-Za-z0-9._-]`),
    /// replacing a file of the same name, so a re-send after a crash leaves one file.
    pub async fn send(
        &self,
        envelope_from: &str,
        rcpts: &[String],
        raw: &[u8],
        file_stem: &str,
    ) -> Result<(), SendError> {
        match &self.inner {
            Inner::Smtp { transport, server } => {
                let envelope = envelope(envelope_from, rcpts)?;
                match transport.send_raw(&envelope, raw).await {
                    Ok(_) => {
                        tracing::debug!(
                            server = %server,
                            rcpts = rcpts.len(),
                            bytes = raw.len(),
                            "smtp sent"
                        );
                        Ok(())
                    }
                    Err(e) => Err(classify(server, &e)),
                }
            }
            Inner::File { dir } => {
                let path = write_file(dir, file_stem, raw)
                    .await
                    .map_err(|e| SendError::Transient(format!("{e:#}")))?;
                tracing::debug!(path = %path.display(), bytes = raw.len(), "message written");
                Ok(())
            }
        }
    }

    /// `secmail check --online`: SMTP connects, greets and sends NOOP (authenticating when
    /// credentials are set); file checks that the directory can be created and written.
    pub async fn check(&self) -> Result<()> {
        match &self.inner {
            Inner::Smtp { transport, server } => {
                let ok = transport
                    .test_connection()
                    .await
                    .with_context(|| format!("smtp {server}"))?;
                if !ok {
                    bail!("smtp {server}: connection test failed");
                }
                Ok(())
            }
            Inner::File { dir } => {
                let probe = write_file(dir, ".secmail-check", b"check\r\n").await?;
                tokio::fs::remove_file(&probe)
                    .await
                    .with_context(|| format!("removing {probe:?}"))?;
                Ok(())
            }
        }
    }
}

fn smtp_transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    if tokio::runtime::Handle::try_current().is_err() {
        bail!("the smtp transport must be built inside a tokio runtime");
    }
    let tls_params = || -> Result<TlsParameters> {
        let mut b = TlsParameters::builder(s.host.clone());
        if let Some(path) = &s.ca_file {
            let pem = std::fs::read(path).with_context(|| format!("reading ca-file {path:?}"))?;
            let cert =
                Certificate::from_pem(&pem).with_context(|| format!("parsing ca-file {path:?}"))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().context("tls parameters")
    };
    let (server, tls) = match s.security {
        Security::Tls => (s.host.clone(), Tls::Wrapper(tls_params()?)),
        Security::StartTls => (s.host.clone(), Tls::Required(tls_params()?)),
        Security::Plain => {
            let addrs: Vec<SocketAddr> = (s.host.as_str(), s.port)
                .to_socket_addrs()
                .with_context(|| format!("resolving {}", s.host))?
                .collect();
            require_loopback(&addrs, &s.host, "smtp.security")?;
            // Connect to the address just checked, not to a second lookup of the name.
            (addrs[0].ip().to_string(), Tls::None)
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
        .port(s.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT))
        .pool_config(
            PoolConfig::new()
                .max_size(4)
                .idle_timeout(Duration::from_secs(60)),
        );
    match (&s.user, &s.password) {
        (Some(u), Some(p)) => b = b.credentials(Credentials::new(u.clone(), p.clone())),
        (None, None) => {}
        _ => bail!("smtp.user and smtp.password must be set together"),
    }
    if let Some(name) = &s.helo_name {
        b = b.hello_name(ClientId::Domain(name.clone()));
    }
    Ok(b.build())
}

fn envelope(from: &str, rcpts: &[String]) -> Result<Envelope, SendError> {
    let from = if from.is_empty() {
        None
    } else {
        Some(
            from.parse::<Address>()
                .map_err(|e| SendError::Permanent(format!("envelope sender {from:?}: {e}")))?,
        )
    };
    let to = rcpts
        .iter()
        .map(|r| {
            r.parse::<Address>()
                .map_err(|e| SendError::Permanent(format!("recipient {r:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| SendError::Permanent(format!("envelope: {e}")))
}

/// 5xx is permanent (RFC 5321 §4.2.1); everything else may pass on a later try.
fn classify(server: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let text = format!("smtp {server}: {e}");
    if e.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

/// Keeps `[A-Za-z0-9._-]`, replaces the rest with `_`, never starts with a dot, at most 200
/// bytes; `message` if nothing is left.
fn sanitize_stem(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    s.truncate(200);
    if s.is_empty() {
        s.push_str("message");
    }
    s
}

/// Writes `<dir>/<stem>.eml` atomically and durably; returns its path. A stem starting with a
/// dot is kept as given only for the internal probe of `check`.
async fn write_file(dir: &Path, stem: &str, raw: &[u8]) -> Result<PathBuf> {
    let name = if stem == ".secmail-check" {
        stem.to_string()
    } else {
        format!("{}.eml", sanitize_stem(stem))
    };
    let dir = dir.to_path_buf();
    let raw = raw.to_vec();
    tokio::task::spawn_blocking(move || -> Result<PathBuf> {
        use std::io::Write;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir:?}"))?;
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {tmp:?}"))?;
        f.write_all(&raw)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {tmp:?}"))?;
        drop(f);
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {path:?}"))?;
        // The rename itself survives a crash only once the directory is synced.
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {dir:?}"))?;
        Ok(path)
    })
    .await
    .context("file writer task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        let check = |i: &str, want: &str| assert_eq!(sanitize_stem(i), want, "{i:?}");
        check("SEC-2026-0001.ack.1", "SEC-2026-0001.ack.1");
        check("../../etc/passwd", "_.._etc_passwd");
        check("..hidden", "hidden");
        check("a b/c\\d\0e", "a_b_c_d_e");
        check("", "message");
        check("...", "message");
        check("ü", "_");
        assert_eq!(sanitize_stem(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn envelopes() {
        let e = envelope("security@example.org", &["a@b.test".into()]).unwrap();
        assert_eq!(e.to().len(), 1);
        assert!(envelope("", &["a@b.test".into()]).unwrap().from().is_none());
        assert!(matches!(
            envelope("security@example.org", &[]),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            envelope("security@example.org", &["not an address".into()]),
            Err(SendError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn plaintext_smtp_only_to_loopback() {
        let s = |host: &str| SmtpSettings {
            host: host.into(),
            port: 25,
            security: Security::Plain,
            user: None,
            password: None,
            ca_file: None,
            helo_name: None,
        };
        assert!(Sender::new(&Transport::Smtp(s("127.0.0.1"))).is_ok());
        let e = Sender::new(&Transport::Smtp(s("192.0.2.7"))).unwrap_err();
        assert!(format!("{e:#}").contains("smtp.security"), "{e:#}");
    }

    #[tokio::test]
    async fn file_transport_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outbox/sent");
        let sender = Sender::new(&Transport::File { dir: out.clone() }).unwrap();
        sender.check().await.unwrap();
        let raw = b"Message-ID: <1@x>\r\n\r\nhi\r\n";
        sender
            .send("a@b.test", &["c@d.test".into()], raw, "../SEC 1")
            .await
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["_SEC_1.eml".to_string()]);
        assert_eq!(std::fs::read(out.join("_SEC_1.eml")).unwrap(), raw);
    }
}
