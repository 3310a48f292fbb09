//! Outbound transports: hands finished messages to an SMTP server, or writes them as `.eml`
//! files into a directory (the shipped default, and what tests read).
//!
//! Owns one SMTP connection per [`Mailer`], kept open and reused for message after message
//! (lettre's protocol client over a socket of our own, with Nagle's algorithm off: lettre
//! writes a message and its final dot separately, and with Nagle on each message waited
//! for the server's delayed ACK, 40 ms). The bytes given to [`Mailer::send`] are sent as they
//! are: composing, signing and the Message-ID happen before. The settings are
//! `config::server`'s; certificates, server names and the plaintext guard are `tls.rs`'s.
//!
//! Invariants:
//! - A 4xx reply or any connection, TLS or timeout problem is [`SendError::Transient`] (the
//!   outbox retries with backoff); a refused login (535, or no authentication mechanism in
//!   common) is [`SendError::Config`], which the outbox also keeps the message for, since the
//!   message is fine and the configuration is not; only a 5xx reply to the message itself is
//!   [`SendError::Permanent`].
//! - Plaintext SMTP goes only to a loopback host (checked once, in [`Mailer::new`]).
//! - A file appears whole or not at all (written to a temporary name, synced, renamed).
//! - Nothing of a message is logged; only sizes, recipient counts and file names.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::config::server::Security;
use crate::shell::failure::FailureClass;
use crate::shell::tls;

mod file;
#[cfg(test)]
use file::sanitize_stem;
use file::{write_file, write_files, write_message};

// The settings are config values (config names no shell module); re-exported here under
// their old paths.
pub use crate::config::server::{SmtpSettings, Transport};

/// One message for [`Mailer::send_all`], as [`Mailer::send`] takes it.
pub struct Outbound<'a> {
    pub envelope_from: &'a str,
    pub rcpts: &'a [String],
    pub raw: &'a [u8],
    pub file_stem: &'a str,
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
    /// The server refused our login (535, or no authentication mechanism in common): the
    /// configuration is wrong, the message is not. Keep it, and retry only slowly
    /// (`FailureClass::Config`).
    #[error("smtp configuration refused: {0}")]
    Config(String),
}

impl SendError {
    /// What the failure calls for, as `shell::failure` words it: `None` for a message the
    /// server refused (that one message is given up, the server is fine).
    pub fn class(&self) -> Option<FailureClass> {
        match self {
            SendError::Transient(_) => Some(FailureClass::Unavailable),
            SendError::Config(_) => Some(FailureClass::Config),
            SendError::Permanent(_) => None,
        }
    }
}

/// Sends messages over one transport. Cheap to share behind an `Arc`; the SMTP connection is
/// kept and reused, one message at a time (checked with NOOP after a pause).
pub struct Mailer {
    inner: Inner,
}

enum Inner {
    Smtp(Box<Smtp>),
    File { dir: PathBuf },
}

struct Smtp {
    server: String,
    /// Where to connect: the address checked for plaintext, else the host name.
    connect_to: String,
    port: u16,
    security: Security,
    host: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    conn: tokio::sync::Mutex<Slot>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Smtp(s) => write!(f, "Mailer(smtp {})", s.server),
            Inner::File { dir } => write!(f, "Mailer(file {dir:?})"),
        }
    }
}

/// Time allowed for each SMTP command and for connecting.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection unused for longer is checked with NOOP before the next message.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// A connection unused for longer is closed and a new one opened (servers drop idle clients).
const IDLE_MAX: Duration = Duration::from_secs(60);

impl Mailer {
    /// Builds the transport. Resolves the host once, to refuse plaintext to a non-loopback
    /// host; connects only when the first message is sent.
    pub fn new(t: &Transport) -> Result<Mailer> {
        let inner = match t {
            Transport::File { dir } => Inner::File { dir: dir.clone() },
            Transport::Smtp(s) => {
                let server = format!("{}:{}", s.host, s.port);
                Inner::Smtp(Box::new(
                    Smtp::new(s).with_context(|| format!("smtp {server}"))?,
                ))
            }
        };
        Ok(Mailer { inner })
    }

    /// Sending the same message again replaces the first copy instead of delivering a second
    /// (the file transport: one file per Message-ID).
    pub fn resend_replaces(&self) -> bool {
        matches!(self.inner, Inner::File { .. })
    }

    /// Sends several messages, one result each in the same order: over SMTP one after the
    /// other; as files by one blocking task, the directory synced once for all of them.
    pub async fn send_all(&self, messages: &[Outbound<'_>]) -> Vec<Result<(), SendError>> {
        match &self.inner {
            Inner::File { dir } if messages.len() > 1 => write_files(dir, messages).await,
            _ => {
                let mut out = Vec::with_capacity(messages.len());
                for m in messages {
                    out.push(
                        self.send(m.envelope_from, m.rcpts, m.raw, m.file_stem)
                            .await,
                    );
                }
                out
            }
        }
    }

    /// The first half of [`Mailer::send`]: over SMTP, MAIL, RCPT and DATA up to the server's
    /// 354, so that the caller can do other work (flush the previous message's sent-mark)
    /// while the server answers; nothing is delivered before [`Opened::finish`]. A file is
    /// written only by `finish`.
    pub async fn open<'a>(&'a self, m: &Outbound<'a>) -> Result<Opened<'a>, SendError> {
        match &self.inner {
            Inner::Smtp(smtp) => {
                let envelope = envelope(m.envelope_from, m.rcpts)?;
                smtp.open(&envelope, m.raw).await
            }
            Inner::File { dir } => Ok(Opened {
                inner: OpenedInner::File {
                    dir,
                    stem: m.file_stem,
                    raw: m.raw,
                },
            }),
        }
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
            Inner::Smtp(smtp) => {
                let envelope = envelope(envelope_from, rcpts)?;
                smtp.send(&envelope, raw).await?;
                tracing::debug!(
                    server = %smtp.server,
                    rcpts = rcpts.len(),
                    bytes = raw.len(),
                    "smtp sent"
                );
                Ok(())
            }
            Inner::File { dir } => write_message(dir, file_stem, raw).await,
        }
    }

    /// SMTP connects, greets and sends NOOP (authenticating when credentials are set); file
    /// checks that the directory can be created and written.
    pub async fn check(&self) -> Result<()> {
        self.check_as(None).await
    }

    /// `secmail check --online`: as [`Mailer::check`], and over SMTP `MAIL FROM` with
    /// `sender` (the security address every message is sent from), then `RSET`: a submission
    /// server that does not let this login send as that address says so now, not at the first
    /// acknowledgement. A refused login or sender carries `FailureClass::Config`.
    pub async fn check_as(&self, sender: Option<&str>) -> Result<()> {
        match &self.inner {
            Inner::Smtp(smtp) => {
                let mut conn = smtp.connect().await.map_err(|e| {
                    let class = e.class().unwrap_or(FailureClass::Config);
                    anyhow::anyhow!("{e}").context(class)
                })?;
                let result = async {
                    if let Some(from) = sender {
                        let address = from
                            .parse::<Address>()
                            .with_context(|| format!("sender {from:?}"))
                            .context(FailureClass::Config)?;
                        use lettre::transport::smtp::commands::{Mail, Rset};
                        let answer = tokio::time::timeout(
                            SMTP_TIMEOUT,
                            conn.command(Mail::new(Some(address), vec![])),
                        )
                        .await
                        .map_err(|_| anyhow::anyhow!("mail from: timed out"))?;
                        if let Err(e) = answer {
                            let class = if e.is_permanent() {
                                FailureClass::Config
                            } else {
                                FailureClass::Unavailable
                            };
                            return Err(anyhow::Error::new(e)
                                .context(class)
                                .context(format!("MAIL FROM:<{from}> refused")));
                        }
                        let _ = tokio::time::timeout(SMTP_TIMEOUT, conn.command(Rset)).await;
                    }
                    if !conn.test_connected().await {
                        bail!("connection test failed");
                    }
                    Ok(())
                }
                .await;
                let _ = conn.quit().await;
                result.with_context(|| format!("smtp {}", smtp.server))
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

impl Smtp {
    fn new(s: &SmtpSettings) -> Result<Smtp> {
        let (mut connect_to, mut tls, mut starttls) = (s.host.clone(), None, None);
        match s.security {
            Security::Tls => tls = Some(Arc::new(tls::client_config(s.ca_file.as_deref())?)),
            Security::StartTls => {
                starttls = Some(tls::starttls_parameters(&s.host, s.ca_file.as_deref())?)
            }
            Security::Plain => {
                let addrs: Vec<SocketAddr> = (s.host.as_str(), s.port)
                    .to_socket_addrs()
                    .with_context(|| format!("resolving {}", s.host))?
                    .collect();
                tls::require_loopback(&addrs, &s.host, "smtp.security")?;
                // Connect to the address just checked, not to a second lookup of the name.
                connect_to = addrs[0].ip().to_string();
            }
        }
        let credentials = match (&s.user, &s.password) {
            (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
            (None, None) => None,
            _ => bail!("smtp.user and smtp.password must be set together"),
        };
        Ok(Smtp {
            server: format!("{}:{}", s.host, s.port),
            connect_to,
            port: s.port,
            security: s.security,
            host: s.host.clone(),
            tls,
            starttls,
            credentials,
            hello: s
                .helo_name
                .clone()
                .map(ClientId::Domain)
                .unwrap_or_default(),
            conn: tokio::sync::Mutex::new(None),
        })
    }

    fn transient(&self, what: &str, e: impl fmt::Display) -> SendError {
        SendError::Transient(format!("smtp {}: {what}: {e}", self.server))
    }

    /// A new connection: greeted, TLS as configured, authenticated.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = tokio::time::timeout(
            SMTP_TIMEOUT,
            TcpStream::connect((self.connect_to.as_str(), self.port)),
        )
        .await
        .map_err(|_| self.transient("connecting", "timed out"))?
        .map_err(|e| self.transient("connecting", e))?;
        tcp.set_nodelay(true)
            .map_err(|e| self.transient("setting TCP_NODELAY", e))?;
        let stream: Box<dyn AsyncTokioStream> = match (&self.security, &self.tls) {
            (Security::Tls, Some(config)) => {
                let name = tls::server_name(&self.host)
                    .map_err(|e| SendError::Permanent(format!("smtp {}: {e}", self.server)))?;
                let tls = tls::handshake(config.clone(), name, tcp, SMTP_TIMEOUT)
                    .await
                    .map_err(|e| match e {
                        tls::HandshakeError::TimedOut(_) => {
                            self.transient("tls handshake", "timed out")
                        }
                        tls::HandshakeError::Failed(e) => self.transient("tls handshake", e),
                    })?;
                Box::new(TlsStream(tls))
            }
            _ => Box::new(tcp),
        };
        let setup = async {
            let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
                .await
                .map_err(|e| classify(&self.server, &e))?;
            if let Some(params) = &self.starttls {
                if !conn.can_starttls() {
                    return Err(self.transient("starttls", "the server does not offer STARTTLS"));
                }
                conn.starttls(params.clone(), &self.hello)
                    .await
                    .map_err(|e| classify(&self.server, &e))?;
            }
            if let Some(c) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                    .await
                    .map_err(|e| classify_auth(&self.server, &e))?;
            }
            Ok(conn)
        };
        tokio::time::timeout(SMTP_TIMEOUT, setup)
            .await
            .map_err(|_| self.transient("greeting", "timed out"))?
    }

    /// The kept connection, opening a new one when there is none, it broke, or it sat idle
    /// too long.
    async fn ready(&self) -> Result<tokio::sync::MutexGuard<'_, Slot>, SendError> {
        let mut slot = self.conn.lock().await;
        if let Some((conn, used)) = slot.as_mut() {
            let idle = used.elapsed();
            let usable = !conn.has_broken()
                && idle < IDLE_MAX
                && (idle < CHECK_AFTER || conn.test_connected().await);
            if !usable {
                if let Some((mut old, _)) = slot.take() {
                    old.abort().await;
                }
            }
        }
        if slot.is_none() {
            *slot = Some((self.connect().await?, Instant::now()));
        }
        Ok(slot)
    }

    /// Sends one message over the kept connection.
    async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let mut slot = self.ready().await?;
        let (conn, used) = slot
            .as_mut()
            .expect("ready() leaves a connection in the slot");
        let result = tokio::time::timeout(SMTP_TIMEOUT, conn.send(envelope, raw)).await;
        *used = Instant::now();
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                // lettre closes the connection after a refusal; a new one is opened next time.
                if conn.has_broken() {
                    *slot = None;
                }
                Err(classify(&self.server, &e))
            }
            Err(_) => {
                *slot = None;
                Err(self.transient("sending", "timed out"))
            }
        }
    }

    /// MAIL, RCPT and DATA for one message (as lettre's `send` words them), up to the
    /// server's 354: the message is not delivered until [`Opened::finish`] sends it and its
    /// final dot. On any refusal the connection is closed, as lettre does.
    async fn open<'a>(
        &'a self,
        envelope: &Envelope,
        raw: &'a [u8],
    ) -> Result<Opened<'a>, SendError> {
        use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
        use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
        let mut slot = self.ready().await?;
        let (conn, used) = slot
            .as_mut()
            .expect("ready() leaves a connection in the slot");
        let mut options = vec![];
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a: &Address| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError::Permanent(format!(
                    "smtp {}: non-ASCII addresses, and the server does not offer SMTPUTF8",
                    self.server
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError::Permanent(format!(
                    "smtp {}: 8-bit message, and the server does not offer 8BITMIME",
                    self.server
                )));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let commands = async {
            conn.command(Mail::new(envelope.from().cloned(), options))
                .await?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), vec![])).await?;
            }
            conn.command(Data).await
        };
        let result = tokio::time::timeout(SMTP_TIMEOUT, commands).await;
        *used = Instant::now();
        let failed = match result {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(classify(&self.server, &e)),
            Err(_) => Some(self.transient("sending", "timed out")),
        };
        if let Some(e) = failed {
            if let Some((mut conn, _)) = slot.take() {
                conn.abort().await;
            }
            return Err(e);
        }
        Ok(Opened {
            inner: OpenedInner::Smtp {
                smtp: self,
                slot,
                raw,
            },
        })
    }
}

/// The open connection and when it was last used.
type Slot = Option<(AsyncSmtpConnection, Instant)>;

/// One message whose envelope the server has accepted ([`Mailer::open`]), its connection held:
/// nothing is delivered until [`Opened::finish`]. Dropped unfinished, the connection is closed
/// and the server discards the message.
pub struct Opened<'a> {
    inner: OpenedInner<'a>,
}

enum OpenedInner<'a> {
    Smtp {
        smtp: &'a Smtp,
        slot: tokio::sync::MutexGuard<'a, Slot>,
        raw: &'a [u8],
    },
    File {
        dir: &'a Path,
        stem: &'a str,
        raw: &'a [u8],
    },
    Done,
}

impl Opened<'_> {
    /// Sends the content and its final dot; the server's answer is the message's result.
    pub async fn finish(mut self) -> Result<(), SendError> {
        match std::mem::replace(&mut self.inner, OpenedInner::Done) {
            OpenedInner::Smtp {
                smtp,
                mut slot,
                raw,
            } => {
                let Some((conn, used)) = slot.as_mut() else {
                    return Err(smtp.transient("sending", "connection lost"));
                };
                let result = tokio::time::timeout(SMTP_TIMEOUT, conn.message(raw)).await;
                *used = Instant::now();
                match result {
                    Ok(Ok(_)) => {
                        tracing::debug!(server = %smtp.server, bytes = raw.len(), "smtp sent");
                        Ok(())
                    }
                    Ok(Err(e)) => {
                        if let Some((mut conn, _)) = slot.take() {
                            conn.abort().await;
                        }
                        Err(classify(&smtp.server, &e))
                    }
                    Err(_) => {
                        *slot = None;
                        Err(smtp.transient("sending", "timed out"))
                    }
                }
            }
            OpenedInner::File { dir, stem, raw } => write_message(dir, stem, raw).await,
            OpenedInner::Done => Ok(()),
        }
    }
}

impl Drop for Opened<'_> {
    fn drop(&mut self) {
        // Unfinished: the connection is mid-DATA and cannot be reused.
        if let OpenedInner::Smtp { slot, .. } = &mut self.inner {
            **slot = None;
        }
    }
}

/// The TLS stream of an implicit-TLS connection, as lettre's protocol client takes it.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
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

/// A failed AUTH: refused credentials (535 and every other 5xx, RFC 4954 §6) and "no
/// compatible authentication mechanism" (lettre's own, before anything is sent) are
/// configuration errors; a 4xx (454 temporary authentication failure) and a lost connection
/// may pass.
fn classify_auth(server: &str, e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() || e.is_client() {
        SendError::Config(format!("smtp {server}: authentication: {e}"))
    } else {
        classify(server, e)
    }
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
        assert!(Mailer::new(&Transport::Smtp(s("127.0.0.1"))).is_ok());
        let e = Mailer::new(&Transport::Smtp(s("192.0.2.7"))).unwrap_err();
        assert!(format!("{e:#}").contains("smtp.security"), "{e:#}");
    }

    /// A one-connection SMTP server on loopback that offers `auth` in its EHLO (none when
    /// empty) and answers AUTH with `reply`.
    async fn fake_smtp(auth: &'static str, reply: &'static str) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            w.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let answer = match verb.as_str() {
                    "EHLO" if auth.is_empty() => "250 fake\r\n".to_string(),
                    "EHLO" => format!("250-fake\r\n250 AUTH {auth}\r\n"),
                    "AUTH" => format!("{reply}\r\n"),
                    "QUIT" => "221 bye\r\n".to_string(),
                    _ => "250 ok\r\n".to_string(),
                };
                if w.write_all(answer.as_bytes()).await.is_err() || verb == "QUIT" {
                    break;
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn refused_logins_are_configuration_errors() {
        // Issue 12.4: a wrong password is not "server unavailable" (retried fast) nor a
        // refusal of the message (given up): the configuration is wrong.
        type Row = (&'static str, &'static str, fn(&SendError) -> bool);
        let rows: [Row; 4] = [
            (
                "PLAIN LOGIN",
                "535 5.7.8 Authentication credentials invalid",
                |e| matches!(e, SendError::Config(t) if t.contains("535")),
            ),
            (
                "",
                "",
                |e| matches!(e, SendError::Config(t) if t.contains("mechanism")),
            ),
            ("CRAM-MD5", "", |e| matches!(e, SendError::Config(_))),
            ("PLAIN", "454 4.7.0 Temporary authentication failure", |e| {
                matches!(e, SendError::Transient(_))
            }),
        ];
        for (auth, reply, want) in rows {
            let port = fake_smtp(auth, reply).await;
            let sender = Mailer::new(&Transport::Smtp(SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                security: Security::Plain,
                user: Some("security@example.org".into()),
                password: Some("wrong".into()),
                ca_file: None,
                helo_name: None,
            }))
            .unwrap();
            let e = sender
                .send("security@example.org", &["a@b.test".into()], b"x\r\n", "x")
                .await
                .unwrap_err();
            assert!(want(&e), "AUTH {auth:?} answered {reply:?}: {e:?}");
            assert!(!format!("{e}").contains("wrong"), "no password in {e}");
        }
    }

    #[tokio::test]
    async fn file_transport_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outbox/sent");
        let sender = Mailer::new(&Transport::File { dir: out.clone() }).unwrap();
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
