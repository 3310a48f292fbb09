//! The daemon: inbound (Maildir or IMAP with IDLE) → pipeline → store (one batch, flushed) →
//! only then the move on the server → outbox. One message at a time, in arrival order.
use super::clock::Clock;
use super::imap::{ImapInbox, Wake};
use super::maildir;
use super::outbox;
use super::store::Store;
use super::transport::Sender;
use crate::config::{Config, Inbound};
use crate::core::apply::Disposition;
use crate::core::compose::{self, Templates};
use crate::core::pipeline;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Daemon {
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
    pub store: Store,
    pub clock: Clock,
    pub sender: Sender,
    outbox_wake: Arc<Notify>,
    /// Print one line per message to stdout (`run --once`, for people watching).
    pub print: bool,
    /// Test hook (`SECMAIL_FAIL_AFTER_COMMIT=N`): fail right after the Nth message is durable
    /// and before it is moved on the server, as a crash there would.
    fail_after_commit: Option<u32>,
    committed: std::sync::atomic::AtomicU32,
    /// Held while a case is read, changed and written (a message, or the disclosure timers),
    /// so the inbound task and the timer pass never overwrite each other's change.
    pub(super) case_write: tokio::sync::Mutex<()>,
}

/// What happened to one message.
#[derive(Debug, Clone)]
pub struct Handled {
    pub summary: String,
    pub quarantined: bool,
    pub duplicate: bool,
    pub queued: usize,
}

/// Loads `templates/*.hbs`.
pub fn load_templates(dir: &Path) -> Result<Templates> {
    let mut sources = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading templates from {}", dir.display()))?;
    for e in entries.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "hbs") {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            sources.push((name, text));
        }
    }
    Templates::from_sources(&sources)
        .map_err(|errs| anyhow::anyhow!("{}: {}", dir.display(), errs.join("; ")))
}

impl Daemon {
    pub fn new(config: Config, clock: Clock) -> Result<Daemon> {
        let templates = load_templates(&config.templates_dir)?;
        let store = Store::open(&config.store_path)?;
        let sender = Sender::new(&config.outbound)?;
        Ok(Daemon {
            config: Arc::new(config),
            templates: Arc::new(templates),
            store,
            clock,
            sender,
            outbox_wake: Arc::new(Notify::new()),
            print: false,
            fail_after_commit: std::env::var("SECMAIL_FAIL_AFTER_COMMIT")
                .ok()
                .and_then(|v| v.parse().ok()),
            committed: std::sync::atomic::AtomicU32::new(0),
            case_write: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs one message through the pipeline and makes the result durable. Returns once the
    /// store is flushed: the caller may then move the message on the server.
    pub async fn handle(&self, raw: Vec<u8>) -> Result<Handled> {
        let (config, templates, store) = (
            self.config.clone(),
            self.templates.clone(),
            self.store.clone(),
        );
        let now = self.clock.now();
        let _writing = self.case_write.lock().await;
        let raw = Arc::new(raw);
        let input = raw.clone();
        let task = tokio::task::spawn_blocking(move || -> Result<_> {
            let p = pipeline::process(&input, &store, &config, &templates, now);
            let queued = store.commit(&p, &input, now)?;
            Ok((p, queued))
        })
        .await;
        let (p, queued) = match task {
            Ok(result) => result?,
            // A bug met by one message must not stop the daemon or loop on that message:
            // keep it in quarantine, say so, go on.
            Err(join) if join.is_panic() => {
                let p = pipeline::refused(
                    pipeline::hash(&raw),
                    now,
                    "internal error while handling it",
                );
                self.store.commit(&p, &raw, now)?;
                tracing::error!(msg_hash = %short(&p.hash), "internal error while handling a message; quarantined");
                (p, 0)
            }
            Err(join) => return Err(join).context("the pipeline task was cancelled"),
        };
        self.store.flush().await?;
        let n = self
            .committed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if self.fail_after_commit == Some(n) {
            anyhow::bail!(
                "SECMAIL_FAIL_AFTER_COMMIT={n}: stopping after the store write, before the move"
            );
        }
        for e in &p.errors {
            tracing::error!(msg_hash = %short(&p.hash), error = %e, "could not compose a message");
        }
        let quarantined = matches!(p.outcome.disposition, Disposition::Quarantine(_));
        tracing::info!(
            case_id = %p.record.case_id.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            msg_hash = %short(&p.hash),
            outcome = %p.outcome.summary,
            "message handled"
        );
        if self.print {
            println!("{}", p.outcome.summary);
        }
        if p.outcome.write_advisories {
            if let Some(case) = &p.outcome.case {
                self.write_advisories(case, now);
            }
        }
        if queued > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(Handled {
            summary: p.outcome.summary,
            quarantined,
            duplicate: p.duplicate,
            queued,
        })
    }

    /// At disclosure: the OSV and CSAF advisories into `[advisories] dir`. A failure is logged
    /// and does not undo the disclosure (`secmail export` writes them again).
    fn write_advisories(&self, case: &crate::model::Case, now: chrono::DateTime<chrono::Utc>) {
        let Some(dir) = &self.config.advisories.dir else {
            return;
        };
        match crate::commands::export::write_advisories(dir, case, &self.config, now) {
            Ok(paths) => {
                for p in paths {
                    tracing::info!(case_id = %case.id, path = %p.display(), "advisory written");
                }
            }
            Err(e) => {
                tracing::error!(case_id = %case.id, error = %format!("{e:#}"), "could not write the advisories; run `secmail export`")
            }
        }
    }

    /// The disclosure timers (advance notice at the lead time, the not-ready reminder, the
    /// final notice, embargo expiry) over every case: each case's change and its mail in one
    /// batch. Returns how many messages were queued.
    pub async fn disclosure_tick(&self) -> Result<usize> {
        let (config, templates, store) = (
            self.config.clone(),
            self.templates.clone(),
            self.store.clone(),
        );
        let now = self.clock.now();
        let print = self.print;
        let _writing = self.case_write.lock().await;
        let queued = tokio::task::spawn_blocking(move || -> Result<usize> {
            use crate::core::disclose;
            let policy = disclose::policy_of(&config);
            let list = store.distributors();
            let mut queued = 0;
            for mut case in store.cases() {
                let timers = disclose::due(&case, &list, &policy, now);
                if timers.is_empty() {
                    continue;
                }
                let patches: Vec<crate::core::decrypt::Attachment> = case
                    .disclosure
                    .patches
                    .iter()
                    .filter_map(|p| {
                        Some(crate::core::decrypt::Attachment {
                            filename: Some(p.filename.clone()),
                            content_type: p.content_type.clone(),
                            data: store.attachment(&p.msg_hash, p.index)?,
                        })
                    })
                    .collect();
                let mut drafts = Vec::new();
                for t in timers {
                    let ctx = disclose::Ctx {
                        config: &config,
                        policy: &policy,
                        distributors: &list,
                        actor: "secmail",
                        patches: &patches,
                        cause: "timer",
                        now,
                    };
                    let fx = disclose::on_timer(&mut case, t, &ctx);
                    tracing::info!(case_id = %case.id, timer = ?t, messages = fx.drafts.len(), "disclosure timer");
                    if print {
                        println!("{}: disclosure timer {t:?} → {} message(s)", case.id, fx.drafts.len());
                    }
                    drafts.extend(fx.drafts);
                }
                let mut outgoing = Vec::new();
                for d in &drafts {
                    match compose::render(d, &templates, &config.keys, &config.project, now) {
                        Ok(o) => outgoing.push((o, d.case_id.clone(), d.kind.as_str().to_string())),
                        Err(e) => {
                            tracing::error!(case_id = %case.id, kind = d.kind.as_str(), error = %e, "could not compose a message");
                            case.push(
                                now,
                                "secmail",
                                crate::model::EventKind::Withheld {
                                    to: d.to.address.clone(),
                                    kind: d.kind.as_str().into(),
                                    reason: e.to_string(),
                                },
                            );
                        }
                    }
                }
                queued += store.commit_case(&case, &outgoing, now)?;
            }
            Ok(queued)
        })
        .await
        .context("the disclosure timer task failed")??;
        self.store.flush().await?;
        if queued > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(queued)
    }

    /// Wakes the outbox task (after something was queued outside `handle`).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    /// Queues a team alert for mail too large to fetch.
    async fn oversize(&self, size: u64, cause: &str) -> Result<()> {
        let now = self.clock.now();
        let p = pipeline::oversize(size, &self.config, &self.templates, now, cause);
        self.store.commit(&p, b"", now)?;
        self.store.flush().await?;
        tracing::warn!(size, "message over the size limit quarantined; team told");
        if self.print {
            println!("{}", p.outcome.summary);
        }
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// One pass over the inbound source.
    pub async fn inbound_pass_maildir(
        &self,
        root: &Path,
        move_processed: bool,
        max: u64,
    ) -> Result<usize> {
        let mut n = 0;
        for item in maildir::list(root)? {
            if item.size > max {
                let cause = format!("maildir:{}", item.path.display());
                if !self.store_has_oversize(&cause) {
                    self.oversize(item.size, &cause).await?;
                }
                if move_processed {
                    maildir::file_away(root, &item.path, true)?;
                }
                continue;
            }
            let raw = match std::fs::read(&item.path) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(path = %item.path.display(), error = %e, "cannot read a maildir message; skipped");
                    continue;
                }
            };
            let h = self.handle(raw).await?;
            if !h.duplicate {
                n += 1;
            }
            if move_processed {
                maildir::file_away(root, &item.path, h.quarantined)?;
            }
        }
        Ok(n)
    }

    fn store_has_oversize(&self, cause: &str) -> bool {
        self.store
            .message(&pipeline::hash(cause.as_bytes()))
            .is_some()
    }

    /// Fetches and handles everything new on the IMAP server; the move happens only after the
    /// store is flushed.
    async fn inbound_pass_imap(&self, inbox: &mut ImapInbox) -> Result<usize> {
        let mut n = 0;
        loop {
            let uv = inbox.uid_validity();
            let last = self.store.imap_last_uid(uv);
            let batch = inbox.fetch_new(last, 100).await?;
            if batch.is_empty() {
                return Ok(n);
            }
            for f in batch {
                match f.raw {
                    None => {
                        self.oversize(f.size, &format!("imap:{uv}:{}", f.uid))
                            .await?;
                        inbox.move_to_quarantine(f.uid).await?;
                    }
                    Some(raw) => {
                        let h = self.handle(raw).await?;
                        if h.quarantined {
                            inbox.move_to_quarantine(f.uid).await?;
                        } else {
                            inbox.move_to_processed(f.uid).await?;
                        }
                        if !h.duplicate {
                            n += 1;
                        }
                    }
                }
                self.store.set_imap_last_uid(uv, f.uid)?;
            }
        }
    }

    /// `run --once`: one full inbound pass, then one outbox pass.
    pub async fn run_once(&self) -> Result<(usize, outbox::Drained)> {
        let n = match &self.config.inbound {
            Inbound::Maildir {
                path,
                move_processed,
                max_message_bytes,
            } => {
                self.inbound_pass_maildir(path, *move_processed, *max_message_bytes)
                    .await?
            }
            Inbound::Imap { settings, .. } => {
                let mut inbox = ImapInbox::connect(settings).await?;
                let n = self.inbound_pass_imap(&mut inbox).await?;
                inbox.logout().await;
                n
            }
        };
        self.schedule_pass().await?;
        self.disclosure_tick().await?;
        let drained = outbox::drain(&self.store, &self.sender, self.clock.now()).await?;
        Ok((n, drained))
    }

    /// The long-running daemon, until `stop` is cancelled.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> Result<()> {
        let out = tokio::spawn(self.clone().outbox_loop(stop.clone()));
        let timers = tokio::spawn(self.clone().timer_loop(stop.clone()));
        let inbound = match &self.config.inbound {
            Inbound::Maildir {
                path,
                move_processed,
                max_message_bytes,
            } => {
                let (path, mv, max) = (path.clone(), *move_processed, *max_message_bytes);
                loop {
                    if let Err(e) = self.inbound_pass_maildir(&path, mv, max).await {
                        tracing::error!(error = %format!("{e:#}"), "maildir pass failed");
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
            }
            Inbound::Imap {
                settings,
                poll_interval,
            } => {
                let mut failures = 0u32;
                loop {
                    if stop.is_cancelled() {
                        break Ok(());
                    }
                    let session = async {
                        let mut inbox = ImapInbox::connect(settings).await?;
                        tracing::info!(host = %settings.host, "connected to the IMAP server");
                        failures = 0;
                        loop {
                            self.inbound_pass_imap(&mut inbox).await?;
                            let wait = if inbox.has_idle() {
                                settings.idle_max
                            } else {
                                *poll_interval
                            };
                            tokio::select! {
                                _ = stop.cancelled() => { inbox.logout().await; return Ok::<_, anyhow::Error>(()) }
                                w = inbox.wait(wait) => { let _: Wake = w?; }
                            }
                        }
                    };
                    tokio::select! {
                        r = session => match r {
                            Ok(()) => break Ok(()),
                            Err(e) => {
                                failures += 1;
                                let wait = outbox::backoff(failures.saturating_sub(1)).min(Duration::from_secs(300)) / 6;
                                tracing::warn!(error = %format!("{e:#}"), retry_in_s = wait.as_secs(), "IMAP connection lost; reconnecting");
                                tokio::select! {
                                    _ = stop.cancelled() => break Ok(()),
                                    _ = tokio::time::sleep(wait) => {}
                                }
                            }
                        },
                        _ = stop.cancelled() => break Ok(()),
                    }
                }
            }
        };
        stop.cancel();
        out.await.context("the outbox task failed")?;
        timers.await.context("the timer task failed")?;
        self.store.flush().await?;
        inbound
    }

    async fn outbox_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let wait = match outbox::drain(&self.store, &self.sender, self.clock.now()).await {
                Ok(d) if d.deferred > 0 => Duration::from_secs(15),
                Ok(_) => Duration::from_secs(30),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
                    Duration::from_secs(30)
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
