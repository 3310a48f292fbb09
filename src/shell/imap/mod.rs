//! IMAP inbound: one logged-in session on the security mailbox.
//!
//! Owns the connection to the IMAP server (TLS, STARTTLS, or plaintext to loopback only; the TLS
//! set-up itself is `tls.rs`'s, the settings are `config::server`'s), the names folders have on
//! the server (the configured levels, written with `/`, joined with the server's hierarchy
//! delimiter and encoded in modified UTF-7, RFC 3501 §5.1.3), the creation of the processed and
//! quarantine folders, what `check --online` checks, fetching new messages by UID (sizes first,
//! whole bodies only within `max-message-bytes`, of a larger one its header alone, capped, with
//! `BODY.PEEK` so that it stays unseen), moving a message out of the inbox once its
//! case change is durable (DESIGN.md "Keeping data"), and waiting for new mail with IDLE or a
//! poll interval.
//!
//! Invariants:
//! - Plaintext (`security = "plain"`) is refused unless every address of the host is loopback.
//! - Nothing of a message (subject, text, addresses) is logged here; only UIDs, sizes, counts.
//! - Any error leaves the session in an unknown state: the caller drops it and reconnects. The
//!   same holds when a future of this module is cancelled half-way (e.g. on shutdown).
//! - A refusal that retrying will not cure (a wrong password, `[CANNOT]` create a folder, a
//!   folder that does not exist) carries `FailureClass::Config` (`shell::failure`); every
//!   other error is `Unavailable`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_imap::imap_proto::{MailboxDatum, RequestId, Response, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use crate::core::pipeline::OVERSIZE_HEADER_MAX;
use crate::shell::failure::{imap_response_class, FailureClass};
use crate::shell::tls;

// The settings are config values (config names no shell module); re-exported here under
// their old paths.
pub use crate::config::server::{ImapSettings, Security};

mod check;
mod folders;
pub use check::{check, check_login, FolderCheck, ServerCheck};
use folders::FolderNames;
pub use folders::{folder_on_server, mutf7};

/// One message seen in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    /// RFC822.SIZE as the server reports it.
    pub size: u64,
    /// The whole message, or `None` when `size > max_message_bytes` (not fetched).
    pub raw: Option<Vec<u8>>,
    /// Only when `raw` is `None`: the message's header (`BODY.PEEK[HEADER]`), at most
    /// [`OVERSIZE_HEADER_MAX`] bytes; `None` when the server sent none.
    pub header: Option<Vec<u8>>,
}

/// Why [`ImapInbox::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced new messages (or may have: fetch to find out).
    NewMail,
    /// The wait ran its full length; a poller fetches now anyway.
    Timeout,
}

/// Time allowed to set up a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Time allowed for one ordinary command (login, select, move, ...).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for one fetch of many whole messages.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything the session runs over: a TCP stream, or TLS over one.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}
type Stream = Box<dyn Io>;

/// A logged-in IMAP session with the inbox folder selected.
pub struct ImapInbox {
    session: Session<Stream>,
    server: String,
    processed_folder: String,
    quarantine_folder: String,
    /// The quarantine folder as configured (levels joined with `/`, not encoded): how people
    /// name it.
    quarantine_shown: String,
    max_message_bytes: u64,
    uid_validity: u32,
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
    /// Set while an IDLE command runs; a cancelled `wait` leaves it set and the session unusable.
    idling: bool,
}

impl fmt::Debug for ImapInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapInbox")
            .field("server", &self.server)
            .field("uid_validity", &self.uid_validity)
            .field("has_move", &self.has_move)
            .field("has_uidplus", &self.has_uidplus)
            .field("has_idle", &self.has_idle)
            .finish_non_exhaustive()
    }
}

impl ImapInbox {
    /// Connects, logs in, creates the processed and quarantine folders if missing, and selects
    /// the inbox folder.
    pub async fn connect(s: &ImapSettings) -> Result<ImapInbox> {
        let server = format!("{}:{}", s.host, s.port);
        for name in [&s.folder, &s.processed_folder, &s.quarantine_folder] {
            check_folder_name(name).with_context(|| format!("imap {server}"))?;
        }
        let mut session = login(s).await?;
        let result = async {
            let caps = timeout(COMMAND_TIMEOUT, session.capabilities())
                .await
                .context("timed out")?
                .context("capability")?;
            let (has_move, has_uidplus, has_idle) = (
                caps.has_str("MOVE"),
                caps.has_str("UIDPLUS"),
                caps.has_str("IDLE"),
            );
            let names = FolderNames::ask(&mut session, s).await?;
            for folder in [&names.processed, &names.quarantine] {
                timeout(COMMAND_TIMEOUT, ensure_folder(&mut session, folder))
                    .await
                    .context("timed out")??;
            }
            let mailbox = timeout(COMMAND_TIMEOUT, session.select(&names.inbox))
                .await
                .context("timed out")?
                .map_err(|e| refused(e, FailureClass::Config))
                .with_context(|| format!("select {:?}", names.inbox))?;
            let uid_validity = mailbox.uid_validity.ok_or_else(|| {
                anyhow!("select {:?}: the server sent no UIDVALIDITY", names.inbox)
            })?;
            Ok::<_, anyhow::Error>((has_move, has_uidplus, has_idle, uid_validity, names))
        }
        .await;
        let (has_move, has_uidplus, has_idle, uid_validity, names) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = timeout(Duration::from_secs(2), session.logout()).await;
                return Err(e.context(format!("imap {server}")));
            }
        };
        tracing::debug!(
            server = %server,
            uid_validity,
            has_move,
            has_uidplus,
            has_idle,
            "imap session ready"
        );
        Ok(ImapInbox {
            session,
            server,
            processed_folder: names.processed,
            quarantine_folder: names.quarantine,
            quarantine_shown: s.quarantine_folder.clone(),
            max_message_bytes: s.max_message_bytes,
            uid_validity,
            has_move,
            has_uidplus,
            has_idle,
            idling: false,
        })
    }

    /// UIDVALIDITY of the selected folder: when it changes, UIDs seen before mean nothing.
    /// Whether the server announced IDLE (RFC 2177); without it `wait` is a poll interval.
    pub fn has_idle(&self) -> bool {
        self.has_idle
    }

    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// The quarantine folder as configured (`secmail/quarantine`), for people.
    pub fn quarantine_folder_shown(&self) -> &str {
        &self.quarantine_shown
    }

    /// The messages with a UID above `after_uid`, lowest first, at most `limit` of them.
    ///
    /// Asks for all sizes first, then fetches the bodies of those within `max_message_bytes` in
    /// one `UID FETCH` of a UID set (one round trip, however many messages), and the headers of
    /// the others in another ([`header_item`]). A message within the limit that someone else
    /// expunged between the steps is left out; one over it comes without a header.
    pub async fn fetch_new(&mut self, after_uid: u32, limit: usize) -> Result<Vec<Fetched>> {
        self.usable()?;
        let Some(first) = after_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let server = self.server.clone();
        let max = self.max_message_bytes;
        let session = &mut self.session;
        let fetched = async {
            // RFC 3501 §6.4.8: "n:*" always includes the highest UID, even when it is below n,
            // so the answer is filtered by UID.
            let sizes = uid_fetch(
                session,
                format!("{first}:*"),
                "(UID RFC822.SIZE)",
                COMMAND_TIMEOUT,
                "uid fetch sizes",
            )
            .await?;
            let mut sizes: BTreeMap<u32, u64> = sizes
                .iter()
                .filter_map(|f| Some((f.uid?, u64::from(f.size?))))
                .filter(|(uid, _)| *uid >= first)
                .collect();
            while sizes.len() > limit {
                sizes.pop_last();
            }
            let wanted: Vec<u32> = sizes
                .iter()
                .filter(|(_, size)| **size <= max)
                .map(|(uid, _)| *uid)
                .collect();
            let mut bodies = BTreeMap::new();
            if !wanted.is_empty() {
                let fetches = uid_fetch(
                    session,
                    uid_set(&wanted),
                    "(UID BODY.PEEK[])",
                    FETCH_TIMEOUT,
                    "uid fetch bodies",
                )
                .await?;
                bodies = by_uid(&fetches, &sizes, |f| f.body().map(<[u8]>::to_vec));
            }
            let over: Vec<u32> = sizes
                .iter()
                .filter(|(_, size)| **size > max)
                .map(|(uid, _)| *uid)
                .collect();
            let mut headers = BTreeMap::new();
            if !over.is_empty() {
                let fetches = uid_fetch(
                    session,
                    uid_set(&over),
                    &header_item(OVERSIZE_HEADER_MAX),
                    COMMAND_TIMEOUT,
                    "uid fetch headers",
                )
                .await?;
                headers = by_uid(&fetches, &sizes, |f| {
                    f.header().map(|h| capped(h, OVERSIZE_HEADER_MAX))
                });
            }
            let mut out = Vec::with_capacity(sizes.len());
            for (uid, size) in sizes {
                if size > max {
                    tracing::debug!(
                        uid,
                        size,
                        max,
                        "imap message too large, its header alone fetched"
                    );
                    out.push(Fetched {
                        uid,
                        size,
                        raw: None,
                        header: headers.remove(&uid),
                    });
                } else if let Some(raw) = bodies.remove(&uid) {
                    out.push(Fetched {
                        uid,
                        size,
                        raw: Some(raw),
                        header: None,
                    });
                } else {
                    tracing::debug!(uid, "imap message gone before its body was fetched");
                }
            }
            Ok::<_, anyhow::Error>(out)
        }
        .await
        .with_context(|| format!("imap {server}"))?;
        tracing::debug!(after_uid, count = fetched.len(), "imap fetched");
        Ok(fetched)
    }

    /// Moves the message out of the inbox into the processed folder. Moving a UID that is no
    /// longer there succeeds and does nothing, so a repeat after a crash is harmless.
    pub async fn move_to_processed(&mut self, uid: u32) -> Result<()> {
        self.move_all(&[uid], false).await
    }

    /// Moves the message out of the inbox into the quarantine folder.
    pub async fn move_to_quarantine(&mut self, uid: u32) -> Result<()> {
        self.move_all(&[uid], true).await
    }

    /// Moves several messages into the processed (or quarantine) folder in one command.
    pub async fn move_all(&mut self, uids: &[u32], quarantine: bool) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let folder = if quarantine {
            self.quarantine_folder.clone()
        } else {
            self.processed_folder.clone()
        };
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        self.move_to(&uid_set(&sorted), &folder).await
    }

    async fn move_to(&mut self, uid_s: &str, folder: &str) -> Result<()> {
        self.usable()?;
        let (has_move, has_uidplus) = (self.has_move, self.has_uidplus);
        let session = &mut self.session;
        timeout(COMMAND_TIMEOUT, async {
            if has_move {
                // RFC 6851
                session.uid_mv(uid_s, folder).await.context("uid move")?;
            } else {
                // RFC 3501 without MOVE: copy, flag, expunge. Without UIDPLUS a plain EXPUNGE
                // also removes other messages someone flagged \Deleted in this folder.
                session.uid_copy(uid_s, folder).await.context("uid copy")?;
                let _: Vec<_> = session
                    .uid_store(uid_s, "+FLAGS.SILENT (\\Deleted)")
                    .await
                    .context("uid store")?
                    .try_collect()
                    .await
                    .context("uid store")?;
                if has_uidplus {
                    let _: Vec<_> = session
                        .uid_expunge(uid_s)
                        .await
                        .context("uid expunge")?
                        .try_collect()
                        .await
                        .context("uid expunge")?;
                } else {
                    let _: Vec<_> = session
                        .expunge()
                        .await
                        .context("expunge")?
                        .try_collect()
                        .await
                        .context("expunge")?;
                }
            }
            Ok::<_, anyhow::Error>(())
        })
        .await
        .context("timed out")
        .and_then(|r| r)
        .with_context(|| format!("imap {}: move uid {uid_s} to {folder:?}", self.server))?;
        tracing::debug!(uids = uid_s, folder, "imap moved");
        Ok(())
    }

    /// Waits for new mail for at most `max`.
    ///
    /// With IDLE (RFC 2177) this returns as soon as the server announces a message (Dovecot
    /// batches its notifications: about half a second after delivery); the cap is kept here,
    /// since server keepalives would reset a timeout on responses. Without IDLE it sleeps `max`
    /// as a poll interval, then sends a NOOP. A BYE or a closed connection is an error: the
    /// caller reconnects.
    pub async fn wait(&mut self, max: Duration) -> Result<Wake> {
        self.usable()?;
        // Untagged EXISTS/RECENT that came with earlier commands: new mail may already be there.
        if self.take_unsolicited_news() {
            return Ok(Wake::NewMail);
        }
        let result = if self.has_idle {
            self.idle(max).await
        } else {
            tokio::time::sleep(max).await;
            self.noop().await
        };
        result.with_context(|| format!("imap {}", self.server))
    }

    /// Sends LOGOUT and closes the connection; errors are only logged (we are leaving anyway).
    pub async fn logout(mut self) {
        if self.idling {
            // A cancelled wait left IDLE running; end it so LOGOUT is understood.
            let _ = self.session.run_command_untagged("DONE").await;
        }
        match timeout(Duration::from_secs(5), self.session.logout()).await {
            Ok(Ok(())) => tracing::debug!(server = %self.server, "imap logged out"),
            Ok(Err(e)) => tracing::debug!(server = %self.server, error = %e, "imap logout failed"),
            Err(_) => tracing::debug!(server = %self.server, "imap logout timed out"),
        }
    }

    fn usable(&self) -> Result<()> {
        if self.idling {
            bail!(
                "imap {}: session left in IDLE by a cancelled wait; reconnect",
                self.server
            );
        }
        Ok(())
    }

    fn take_unsolicited_news(&mut self) -> bool {
        let mut news = false;
        while let Ok(u) = self.session.unsolicited_responses.try_recv() {
            if matches!(
                u,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            ) {
                news = true;
            }
        }
        news
    }

    async fn noop(&mut self) -> Result<Wake> {
        timeout(COMMAND_TIMEOUT, self.session.noop())
            .await
            .context("noop timed out")?
            .context("noop")?;
        Ok(if self.take_unsolicited_news() {
            Wake::NewMail
        } else {
            Wake::Timeout
        })
    }

    /// IDLE by hand rather than with async-imap's `Handle`, so that a BYE and a closed
    /// connection are errors, EXISTS during the start counts, and the cap is ours.
    async fn idle(&mut self, max: Duration) -> Result<Wake> {
        let deadline = Instant::now() + max;
        self.idling = true;
        let tag = timeout(COMMAND_TIMEOUT, self.session.run_command("IDLE"))
            .await
            .context("idle timed out")?
            .context("idle")?;
        let mut wake = None;
        // Until the continuation: the server may report changes first, or refuse.
        loop {
            let resp = timeout(COMMAND_TIMEOUT, self.session.read_response())
                .await
                .context("idle start timed out")?;
            let resp = next_response(resp)?;
            match resp.parsed() {
                Response::Continue { .. } => break,
                Response::Done {
                    tag: t,
                    status,
                    information,
                    ..
                } if *t == tag => {
                    self.idling = false;
                    bail!(
                        "idle refused: {:?} {}",
                        status,
                        information.as_deref().unwrap_or("")
                    );
                }
                other => {
                    if announces_mail(other)? {
                        wake = Some(Wake::NewMail);
                    }
                }
            }
        }
        while wake.is_none() {
            let Ok(resp) = timeout_at(deadline, self.session.read_response()).await else {
                wake = Some(Wake::Timeout);
                break;
            };
            let resp = next_response(resp)?;
            if announces_mail(resp.parsed())? {
                wake = Some(Wake::NewMail);
            }
        }
        self.session
            .run_command_untagged("DONE")
            .await
            .context("idle done")?;
        timeout(COMMAND_TIMEOUT, self.finish_idle(&tag, &mut wake))
            .await
            .context("idle done timed out")??;
        self.idling = false;
        Ok(wake.unwrap_or(Wake::Timeout))
    }

    /// Reads up to the tagged answer to IDLE after DONE.
    async fn finish_idle(&mut self, tag: &RequestId, wake: &mut Option<Wake>) -> Result<()> {
        loop {
            let resp = next_response(self.session.read_response().await)?;
            match resp.parsed() {
                Response::Done {
                    tag: t,
                    status,
                    information,
                    ..
                } if t == tag => {
                    if *status != Status::Ok {
                        bail!(
                            "idle ended with {:?} {}",
                            status,
                            information.as_deref().unwrap_or("")
                        );
                    }
                    return Ok(());
                }
                other => {
                    if announces_mail(other)? {
                        *wake = Some(Wake::NewMail);
                    }
                }
            }
        }
    }
}

// Generic because async-imap does not export its `ResponseData` type by name.
fn next_response<T>(resp: Option<std::io::Result<T>>) -> Result<T> {
    match resp {
        None => bail!("connection closed by the server"),
        Some(Err(e)) => Err(e).context("reading from the server"),
        Some(Ok(r)) => Ok(r),
    }
}

/// Does this response during IDLE mean new mail? A BYE is an error.
fn announces_mail(resp: &Response<'_>) -> Result<bool> {
    match resp {
        Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)) => Ok(true),
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => bail!(
            "server said BYE: {}",
            information.as_deref().unwrap_or("(no reason)")
        ),
        _ => Ok(false),
    }
}

async fn login(s: &ImapSettings) -> Result<Session<Stream>> {
    let server = format!("{}:{}", s.host, s.port);
    let stream = open(s)
        .await
        .with_context(|| format!("imap {server}: connecting"))?;
    let mut client = Client::new(stream);
    let greeting = timeout(COMMAND_TIMEOUT, client.read_response())
        .await
        .with_context(|| format!("imap {server}: no greeting"))?;
    let greeting = next_response(greeting).with_context(|| format!("imap {server}: greeting"))?;
    if let Response::Data {
        status: Status::Bye,
        information,
        ..
    } = greeting.parsed()
    {
        bail!(
            "imap {server}: server refused the connection: {}",
            information.as_deref().unwrap_or("")
        );
    }
    let client = if s.security == Security::StartTls {
        timeout(
            COMMAND_TIMEOUT,
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await
        .context("timed out")
        .and_then(|r| r.context("starttls"))
        .with_context(|| format!("imap {server}"))?;
        let tcp = client.into_inner();
        let tls = tls_handshake(tcp, &s.host, s.ca_file.as_deref())
            .await
            .with_context(|| format!("imap {server}: starttls"))?;
        // RFC 3501 §6.2.1: no new greeting after STARTTLS.
        Client::new(tls)
    } else {
        client
    };
    // RFC 3501 §6.2.3: a NO to LOGIN is "user name or password rejected": a configuration
    // error, unless its code says the server is only unavailable for now (RFC 5530).
    let session = timeout(COMMAND_TIMEOUT, client.login(&s.user, &s.password))
        .await
        .with_context(|| format!("imap {server}: login timed out"))?
        .map_err(|(e, _)| refused(e, FailureClass::Config))
        .with_context(|| format!("imap {server}: login as {:?}", s.user))?;
    tracing::debug!(server = %server, user = %s.user, "imap logged in");
    Ok(session)
}

/// TCP connect (to the addresses checked for loopback when plaintext), then TLS if wanted.
async fn open(s: &ImapSettings) -> Result<Stream> {
    let addrs: Vec<SocketAddr> = timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((s.host.as_str(), s.port)),
    )
    .await
    .context("resolving timed out")?
    .context("resolving")?
    .collect();
    if s.security == Security::Plain {
        tls::require_loopback(&addrs, &s.host, "imap.security")?;
    }
    let mut last = None;
    let mut tcp = None;
    for addr in &addrs {
        match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(t)) => {
                tcp = Some(t);
                break;
            }
            Ok(Err(e)) => last = Some(anyhow::Error::from(e).context(format!("connect {addr}"))),
            Err(_) => last = Some(anyhow!("connect {addr}: timed out")),
        }
    }
    let tcp = match (tcp, last) {
        (Some(t), _) => t,
        (None, Some(e)) => return Err(e),
        (None, None) => bail!("{} resolves to no address", s.host),
    };
    let _ = tcp.set_nodelay(true);
    let stream: Stream = Box::new(tcp);
    if s.security == Security::Tls {
        tls_handshake(stream, &s.host, s.ca_file.as_deref()).await
    } else {
        Ok(stream)
    }
}

async fn tls_handshake(stream: Stream, host: &str, ca_file: Option<&Path>) -> Result<Stream> {
    let config = tls::client_config(ca_file)?;
    let name = tls::server_name(host)
        .with_context(|| format!("{host:?} is not a valid TLS server name"))?;
    let stream = tls::handshake(Arc::new(config), name, stream, CONNECT_TIMEOUT)
        .await
        .map_err(|e| match e {
            tls::HandshakeError::TimedOut(e) => {
                anyhow::Error::from(e).context("tls handshake timed out")
            }
            tls::HandshakeError::Failed(e) => anyhow::Error::from(e).context("tls handshake"),
        })?;
    Ok(Box::new(stream))
}

/// Folder names go on the wire as quoted strings (non-ASCII in modified UTF-7): each level
/// non-empty, without `"` `\\` `*` `%` or control characters. Checked before logging in, so
/// that a bad name costs the server no login.
fn check_folder_name(name: &str) -> Result<()> {
    if name.split('/').any(str::is_empty)
        || name.contains(['"', '\\', '*', '%'])
        || name.chars().any(char::is_control)
    {
        return Err(anyhow!(
            "imap folder name {name:?}: each level (between /) must be non-empty, without \" \\ * % or control characters"
        )
        .context(FailureClass::Config));
    }
    Ok(())
}

/// An IMAP error with its class attached: a `NO` or `BAD` answer is `default` unless its
/// response code says otherwise; anything else (connection lost, parse error) is
/// `Unavailable`.
fn refused(e: async_imap::error::Error, default: FailureClass) -> anyhow::Error {
    let class = match &e {
        async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
            imap_response_class(text).unwrap_or(default)
        }
        _ => FailureClass::Unavailable,
    };
    anyhow::Error::new(e).context(class)
}

/// Creates `folder` unless the server already lists it; whether it created it. A `NO` to
/// CREATE (`[CANNOT]`: a name this server's layout does not allow) is a configuration error.
async fn ensure_folder(session: &mut Session<Stream>, folder: &str) -> Result<bool> {
    let exists = folder_exists(session, folder).await?;
    if exists {
        return Ok(false);
    }
    if let Err(e) = session.create(folder).await {
        // Another client may have created it meanwhile (RFC 5530 ALREADYEXISTS).
        if !folder_exists(session, folder).await? {
            return Err(refused(e, FailureClass::Config))
                .with_context(|| format!("create folder {folder:?}"));
        }
        Ok(false)
    } else {
        tracing::info!(folder, "imap folder created");
        Ok(true)
    }
}

async fn folder_exists(session: &mut Session<Stream>, folder: &str) -> Result<bool> {
    let pattern = format!("\"{folder}\"");
    let names: Vec<async_imap::types::Name> = session
        .list(Some(""), Some(&pattern))
        .await
        .with_context(|| format!("list {folder:?}"))?
        .try_collect()
        .await
        .with_context(|| format!("list {folder:?}"))?;
    Ok(names.iter().any(|n| n.name() == folder))
}

/// The fetch item for the header of a message over the size limit: `BODY.PEEK`, so that the
/// server does not set `\Seen` (RFC 3501 §6.4.5: `BODY[...]` would), and the partial range
/// `<0.cap>`, so that it sends at most `cap` bytes of a huge header.
/// One `UID FETCH` of `items` for `set`, all its answers, within `wait`.
async fn uid_fetch(
    session: &mut Session<Stream>,
    set: String,
    items: &str,
    wait: Duration,
    what: &str,
) -> Result<Vec<async_imap::types::Fetch>> {
    timeout(wait, async {
        session.uid_fetch(set, items).await?.try_collect().await
    })
    .await
    .context("timed out")?
    .context(what.to_string())
}

/// What `pick` takes of each answer, by UID, for the UIDs asked about (`sizes`): a server may
/// answer with others too.
fn by_uid(
    fetches: &[async_imap::types::Fetch],
    sizes: &BTreeMap<u32, u64>,
    pick: impl Fn(&async_imap::types::Fetch) -> Option<Vec<u8>>,
) -> BTreeMap<u32, Vec<u8>> {
    fetches
        .iter()
        .filter_map(|f| Some((f.uid?, pick(f)?)))
        .filter(|(uid, _)| sizes.contains_key(uid))
        .collect()
}

fn header_item(cap: usize) -> String {
    format!("(UID BODY.PEEK[HEADER]<0.{cap}>)")
}

/// A header as the server sent it, cut at `cap`: a server that ignores the partial range does
/// not make us keep more.
fn capped(header: &[u8], cap: usize) -> Vec<u8> {
    header[..header.len().min(cap)].to_vec()
}

/// A compact UID set: "1:3,7,9:10" (RFC 3501 §9 sequence-set), from sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
