//! The daemon: inbound (Maildir or IMAP with IDLE) → pipeline → store (one batch, flushed) →
//! only then the move on the server → outbox. Messages in batches (`shell::batch`): opened on
//! every core, finished in arrival order, one flush per batch before any move or send.
//!
//! Also owns what makes it a service (issue 5): readiness, status and watchdog keep-alives to
//! systemd (`shell::systemd`), the reload of config, team and templates on SIGHUP (swapped
//! behind locks held only to clone an `Arc`, so a message in hand finishes with the config it
//! started with), and waiting with backoff while a server or the store is unavailable.
//!
//! Invariants: a message is moved on the server only after its case change is flushed; a
//! store that cannot be written stops inbound (nothing is moved) until it can; log lines carry
//! case ids, hashes, classes and outcomes, never report text or addresses of distributors.
use super::batch;
use super::clock::Clock;
use super::imap::{ImapInbox, Wake};
use super::maildir;
use super::outbox;
use super::store::Store;
use super::systemd::Notifier;
use super::transport::Sender;
use crate::config::{Config, Inbound};
use crate::core::apply::Disposition;
use crate::core::compose::{self, Templates};
use crate::core::pipeline;
use crate::model::EventKind;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Messages taken through the pipeline together (`shell::batch`): one flush for all of them,
/// both cores busy. Bounds the memory of a batch and how long a SIGTERM waits.
const BATCH: usize = 32;

/// Messages asked of the IMAP server in one `UID FETCH`.
const FETCH: usize = 100;

/// Marks an error as "the store could not be written" (disk full, I/O error), so the inbound
/// loop reports the store rather than the mail server, and waits for it.
#[derive(Debug, thiserror::Error)]
#[error("the store could not be written")]
pub struct StoreUnwritable;

pub struct Daemon {
    config: RwLock<Arc<Config>>,
    templates: RwLock<Arc<Templates>>,
    pub store: Store,
    pub clock: Clock,
    sender: RwLock<Arc<Sender>>,
    outbox_wake: Arc<Notify>,
    /// Woken by a reload: the inbound session reconnects with the new settings.
    reloaded: Notify,
    notifier: Notifier,
    status: Mutex<Status>,
    /// When the message in hand started, for the watchdog: a message stuck for longer than
    /// the watchdog interval stops the keep-alives, and systemd restarts us.
    busy_since: Mutex<Option<Instant>>,
    /// Print one line per message to stdout (`run --once`, for people watching).
    pub print: bool,
    /// Test hook (`SECMAIL_FAIL_AFTER_COMMIT=N`): fail right after the Nth message is durable
    /// and before it is moved on the server, as a crash there would.
    fail_after_commit: Option<u32>,
    committed: std::sync::atomic::AtomicU32,
    /// Threads a batch runs on (the machine's cores).
    threads: usize,
    /// Held while a case is read, changed and written (a message, or the disclosure timers),
    /// so the inbound task and the timer pass never overwrite each other's change.
    pub(super) case_write: tokio::sync::Mutex<()>,
}

/// The readiness state shown in `systemctl status` (STATUS=) and logged when it changes.
#[derive(Default)]
struct Status {
    ready: bool,
    inbound: String,
    outbox: String,
}

/// What happened to one message.
#[derive(Debug, Clone)]
pub struct Handled {
    pub summary: String,
    pub quarantined: bool,
    pub duplicate: bool,
    pub queued: usize,
}

// Moved to `shell::templates` (issue 12.6: built-in fallbacks, checked by `check`).
pub use super::templates::load_templates;

impl Daemon {
    pub fn new(config: Config, clock: Clock) -> Result<Daemon> {
        Self::with_notifier(config, clock, Notifier::none())
    }

    /// A daemon that reports readiness, status and keep-alives to systemd through `notifier`.
    pub fn with_notifier(config: Config, clock: Clock, notifier: Notifier) -> Result<Daemon> {
        let store = Store::open(&config.store_path)?;
        Self::with_store(config, clock, notifier, store)
    }

    /// As [`Daemon::with_notifier`], with the store already open (see [`open_store_patiently`]).
    pub fn with_store(
        config: Config,
        clock: Clock,
        notifier: Notifier,
        store: Store,
    ) -> Result<Daemon> {
        let mut config = config;
        config.settings.project.id_secret = store.id_secret();
        let templates = load_templates(&config.templates_dir)?;
        let sender = Sender::new(&config.outbound)?;
        Ok(Daemon {
            config: RwLock::new(Arc::new(config)),
            templates: RwLock::new(Arc::new(templates)),
            store,
            clock,
            sender: RwLock::new(Arc::new(sender)),
            outbox_wake: Arc::new(Notify::new()),
            reloaded: Notify::new(),
            notifier,
            status: Mutex::new(Status::default()),
            busy_since: Mutex::new(None),
            print: false,
            fail_after_commit: std::env::var("SECMAIL_FAIL_AFTER_COMMIT")
                .ok()
                .and_then(|v| v.parse().ok()),
            committed: std::sync::atomic::AtomicU32::new(0),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            case_write: tokio::sync::Mutex::new(()),
        })
    }

    /// The config in force (replaced as a whole by a reload).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Wakes the outbox task (after something was queued outside `handle`).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    pub fn templates(&self) -> Arc<Templates> {
        self.templates
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn sender(&self) -> Arc<Sender> {
        self.sender
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// SIGHUP: reads the config file, the team's certs and the templates again and swaps them
    /// in, all or nothing. A config or template that does not load is refused with its errors
    /// and the running one stays. The store path cannot change under a running daemon.
    pub fn reload(&self, path: &Path) -> Result<()> {
        self.notifier.status("reloading the configuration");
        let result = (|| -> Result<()> {
            let mut config = Config::load(path, self.clock.now().into())?;
            config.settings.project.id_secret = self.store.id_secret();
            let templates = load_templates(&config.templates_dir)?;
            let sender = Sender::new(&config.outbound)?;
            let old = self.config();
            if config.store_path != old.store_path {
                anyhow::bail!(
                    "store.path changed from {} to {}: restart the service to move the store",
                    old.store_path.display(),
                    config.store_path.display()
                );
            }
            for w in &config.warnings {
                tracing::warn!("{w}");
            }
            let team = config.team.len();
            *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
            *self.templates.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(templates);
            *self.sender.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(sender);
            tracing::info!(config = %path.display(), team, "configuration reloaded");
            Ok(())
        })();
        if let Err(e) = &result {
            tracing::error!(config = %path.display(), error = %format!("{e:#}"), "reload refused; the running configuration stays");
        }
        self.reloaded.notify_waiters();
        self.outbox_wake.notify_one();
        self.show_status();
        result
    }

    fn show_status(&self) {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        self.notifier.status(&status_line(&s));
    }

    /// Sets the inbound part of the readiness state; the first success makes us READY.
    fn inbound_status(&self, text: &str, ok: bool) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if s.inbound == text && (s.ready || !ok) {
            return;
        }
        s.inbound = text.to_string();
        if ok && !s.ready {
            s.ready = true;
            self.notifier.ready(&status_line(&s));
            tracing::info!(status = %status_line(&s), "ready");
        } else {
            self.notifier.status(&status_line(&s));
        }
    }

    fn outbox_status(&self, text: String) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if s.outbox != text {
            s.outbox = text;
            self.notifier.status(&status_line(&s));
        }
    }

    /// Runs one message through the pipeline and makes the result durable. Returns once the
    /// store is flushed: the caller may then move the message on the server.
    pub async fn handle(&self, raw: Vec<u8>) -> Result<Handled> {
        let mut done = self.handle_batch(vec![raw]).await?;
        done.pop().context("a batch of one gave no result")
    }

    /// Runs messages through the pipeline on every core (`shell::batch`: the same result as
    /// one at a time, in this order) and makes all of it durable with one flush. Returns once
    /// the store is flushed: the caller may then move them on the server.
    pub async fn handle_batch(&self, raws: Vec<Vec<u8>>) -> Result<Vec<Handled>> {
        *self.busy_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let result = self.handle_batch_inner(raws).await;
        *self.busy_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
        result
    }

    async fn handle_batch_inner(&self, raws: Vec<Vec<u8>>) -> Result<Vec<Handled>> {
        let (config, templates, store) = (self.config(), self.templates(), self.store.clone());
        let now = self.clock.now();
        let threads = self.threads;
        let _writing = self.case_write.lock().await;
        let budget = config.limits.message_time_budget * raws.len().max(1) as u32;
        let work = tokio::task::spawn_blocking(move || {
            batch::run(&raws, &store, &config, &templates, now, threads)
        });
        let done = match tokio::time::timeout(budget, work).await {
            Ok(joined) => joined.context("the pipeline task was cancelled")??,
            Err(_) => {
                // A thread cannot be stopped from outside, and one still running would commit
                // later: exit and let the service manager restart us. The attempt stays
                // counted in the store; a message that does this twice is quarantined
                // unopened (shell::batch).
                tracing::error!(
                    budget_s = budget.as_secs(),
                    "a message took longer than [limits] message-time-budget; exiting to be restarted"
                );
                self.notifier
                    .status("exiting: a message exceeded its time budget");
                std::process::exit(70);
            }
        };
        self.store.flush().await.context(StoreUnwritable)?;
        let mut handled = Vec::with_capacity(done.len());
        let mut queued_any = false;
        for d in done {
            let n = self
                .committed
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if self.fail_after_commit == Some(n) {
                anyhow::bail!(
                    "SECMAIL_FAIL_AFTER_COMMIT={n}: stopping after the store write, before the move"
                );
            }
            let p = d.processed;
            if d.panicked {
                // A bug met by one message must not stop the daemon or loop on that message:
                // it is kept in quarantine; the others go on.
                tracing::error!(msg_hash = %short(&p.hash), "internal error while handling a message; quarantined");
            }
            for e in &p.errors {
                tracing::error!(msg_hash = %short(&p.hash), error = %e, "could not compose a message");
            }
            let quarantined = matches!(p.outcome.disposition, Disposition::Quarantine(_));
            tracing::info!(
                case_id = %p.record.case_id.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                msg_hash = %short(&p.hash),
                sender_class = %sender_class(&p),
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
            queued_any |= d.queued > 0;
            handled.push(Handled {
                summary: p.outcome.summary,
                quarantined,
                duplicate: p.duplicate,
                queued: d.queued,
            });
        }
        if self.check_store_quota(now).await? {
            queued_any = true;
        }
        if queued_any {
            self.outbox_wake.notify_one();
        }
        Ok(handled)
    }

    /// The store against `[store] max-size`: the team is alerted when it passes 80 % and when
    /// it reaches the limit, once per rise (SECURITY.md, cost bombs). Returns whether mail was
    /// queued.
    async fn check_store_quota(&self, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        let config = self.config();
        let told = self.store.quota_told();
        let size = self.store.size_on_disk();
        let (level, text) = crate::core::limits::store_quota(size, config.store_max_bytes, told);
        if level == told {
            return Ok(false);
        }
        let mut s = crate::core::schedule::Scheduled {
            cases: Vec::new(),
            outgoing: Vec::new(),
            digest_at: None,
            errors: Vec::new(),
        };
        if let Some(text) = &text {
            tracing::warn!(
                size_mib = size >> 20,
                max_mib = config.store_max_bytes >> 20,
                "store near or over its size limit; team told"
            );
            let cause = format!("store-quota/{level}/{}", now.format("%Y-%m-%d"));
            let templates = self.templates();
            for d in crate::core::apply::alert(&config, &cause, "store size", text, None) {
                match crate::core::compose::render(
                    &d,
                    &templates,
                    &config.keys,
                    &config.project,
                    now,
                ) {
                    Ok(o) => s.outgoing.push((o, None, d.kind.as_str().to_string())),
                    Err(e) => tracing::error!(error = %e, "could not compose the store-size alert"),
                }
            }
        }
        self.store
            .commit_quota(level, &s, now)
            .context(StoreUnwritable)?;
        self.store.flush().await.context(StoreUnwritable)?;
        Ok(!s.outgoing.is_empty())
    }

    /// At disclosure: the OSV and CSAF advisories into `[advisories] dir`. A failure is logged
    /// and does not undo the disclosure (`secmail export` writes them again).
    fn write_advisories(&self, case: &crate::model::Case, now: chrono::DateTime<chrono::Utc>) {
        let config = self.config();
        let Some(dir) = &config.advisories.dir else {
            return;
        };
        match super::advisories::write_advisories(dir, case, &config, now) {
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
        let (config, templates, store) = (self.config(), self.templates(), self.store.clone());
        let now = self.clock.now();
        let print = self.print;
        let _writing = self.case_write.lock().await;
        let queued = tokio::task::spawn_blocking(move || -> Result<usize> {
            use crate::core::disclose;
            let policy = disclose::policy_of(&config);
            let list = store.distributors();
            let mut queued = 0;
            for mut case in store.running_cases() {
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

    /// Queues a team alert for mail too large to fetch.
    async fn oversize(&self, size: u64, cause: &str) -> Result<()> {
        let now = self.clock.now();
        let p = pipeline::oversize(size, &self.config(), &self.templates(), now, cause);
        self.store.commit(&p, b"", now).context(StoreUnwritable)?;
        self.store.flush().await.context(StoreUnwritable)?;
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
        self.inbound_pass_maildir_until(root, move_processed, max, None)
            .await
    }

    /// As `inbound_pass_maildir`, ending early (between two batches) once `stop` is cancelled.
    async fn inbound_pass_maildir_until(
        &self,
        root: &Path,
        move_processed: bool,
        max: u64,
        stop: Option<&CancellationToken>,
    ) -> Result<usize> {
        let mut n = 0;
        for chunk in maildir::list(root)?.chunks(BATCH) {
            if stop.is_some_and(|s| s.is_cancelled()) {
                break;
            }
            let mut raws = Vec::with_capacity(chunk.len());
            let mut paths = Vec::with_capacity(chunk.len());
            for item in chunk {
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
                match std::fs::read(&item.path) {
                    Ok(r) => {
                        raws.push(r);
                        paths.push(&item.path);
                    }
                    Err(e) => {
                        tracing::warn!(path = %item.path.display(), error = %e, "cannot read a maildir message; skipped");
                    }
                }
            }
            if raws.is_empty() {
                continue;
            }
            let handled = self.handle_batch(raws).await?;
            for (path, h) in paths.into_iter().zip(handled) {
                if !h.duplicate {
                    n += 1;
                }
                if move_processed {
                    maildir::file_away(root, path, h.quarantined)?;
                }
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
        self.inbound_pass_imap_until(inbox, None).await
    }

    /// As `inbound_pass_imap`, ending early (between two batches) once `stop` is cancelled.
    async fn inbound_pass_imap_until(
        &self,
        inbox: &mut ImapInbox,
        stop: Option<&CancellationToken>,
    ) -> Result<usize> {
        let mut n = 0;
        loop {
            let uv = inbox.uid_validity();
            let last = self.store.imap_last_uid(uv);
            let fetched = inbox.fetch_new(last, FETCH).await?;
            if fetched.is_empty() {
                return Ok(n);
            }
            let mut fetched = fetched.into_iter().peekable();
            while fetched.peek().is_some() {
                if stop.is_some_and(|s| s.is_cancelled()) {
                    return Ok(n);
                }
                let chunk: Vec<_> = fetched.by_ref().take(BATCH).collect();
                let (mut processed, mut quarantined) = (Vec::new(), Vec::new());
                let mut raws = Vec::with_capacity(chunk.len());
                let mut uids = Vec::with_capacity(chunk.len());
                for f in &chunk {
                    match &f.raw {
                        None => {
                            self.oversize(f.size, &format!("imap:{uv}:{}", f.uid))
                                .await?;
                            quarantined.push(f.uid);
                        }
                        Some(_) => uids.push(f.uid),
                    }
                }
                raws.extend(chunk.into_iter().filter_map(|f| f.raw));
                let handled = self.handle_batch(raws).await?;
                for (uid, h) in uids.iter().zip(&handled) {
                    if h.quarantined {
                        quarantined.push(*uid);
                    } else {
                        processed.push(*uid);
                    }
                    if !h.duplicate {
                        n += 1;
                    }
                }
                // Flushed: now the moves, one command per folder.
                inbox.move_all(&processed, false).await?;
                inbox.move_all(&quarantined, true).await?;
                if let Some(&top) = processed.iter().chain(&quarantined).max() {
                    self.store
                        .set_imap_last_uid(uv, top)
                        .context(StoreUnwritable)?;
                }
            }
        }
    }

    /// `run --once`: one full inbound pass, then one outbox pass.
    pub async fn run_once(&self) -> Result<(usize, outbox::Drained)> {
        let config = self.config();
        let n = match &config.inbound {
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
        let drained = outbox::drain(
            &self.store,
            &self.sender(),
            self.clock.now(),
            config.retry_min,
        )
        .await?;
        Ok((n, drained))
    }

    /// The long-running daemon, until `stop` is cancelled: inbound, outbox and the watchdog
    /// as three tasks; on `stop` the message in hand is finished, the store flushed, and the
    /// outbox task ends between two sends.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> Result<()> {
        let out = tokio::spawn(self.clone().outbox_loop(stop.clone()));
        let watchdog = tokio::spawn(self.clone().watchdog_loop(stop.clone()));
        let timers = tokio::spawn(self.clone().timer_loop(stop.clone()));
        let mut failures = 0u32;
        let inbound = loop {
            if stop.is_cancelled() {
                break Ok(());
            }
            let config = self.config();
            let result = match &config.inbound {
                Inbound::Maildir {
                    path,
                    move_processed,
                    max_message_bytes,
                } => {
                    self.maildir_session(path, *move_processed, *max_message_bytes, &stop)
                        .await
                }
                Inbound::Imap {
                    settings,
                    poll_interval,
                } => self.imap_session(settings, *poll_interval, &stop).await,
            };
            match result {
                Ok(Session::Stopped) => break Ok(()),
                Ok(Session::Reload) => {
                    failures = 0;
                    continue;
                }
                Err((e, progressed)) => {
                    if progressed {
                        failures = 0;
                    }
                    failures += 1;
                    let wait = retry_wait(failures);
                    if e.downcast_ref::<StoreUnwritable>().is_some() {
                        // sled does not recover from a failed write in the same process (it
                        // hangs on the next one): leave, unmoved mail stays on the server, and
                        // the service manager starts us again (Restart=on-failure); start-up
                        // then waits until the store can be opened.
                        let err = format!("{e:#}");
                        tracing::error!(error = %err, "the store cannot be written; exiting so that a fresh start can wait for it");
                        self.inbound_status(
                            &format!("the store cannot be written ({}); exiting", brief(&err)),
                            false,
                        );
                        stop.cancel();
                        let _ = tokio::time::timeout(Duration::from_secs(5), out).await;
                        let _ = tokio::time::timeout(Duration::from_secs(5), watchdog).await;
                        return Err(e);
                    }
                    let what = if matches!(config.inbound, Inbound::Imap { .. }) {
                        "waiting for the IMAP server"
                    } else {
                        "cannot read the maildir"
                    };
                    let err = format!("{e:#}");
                    tracing::warn!(error = %err, retry_in_s = wait.as_secs_f32(), "{what}; retrying");
                    self.inbound_status(
                        &format!("{what} ({}); retry in {}s", brief(&err), wait.as_secs()),
                        false,
                    );
                    tokio::select! {
                        _ = stop.cancelled() => break Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.reloaded.notified() => {}
                    }
                }
            }
        };
        self.notifier.stopping();
        stop.cancel();
        out.await.context("the outbox task failed")?;
        watchdog.await.context("the watchdog task failed")?;
        timers.await.context("the timer task failed")?;
        self.store.flush().await?;
        inbound
    }

    /// Maildir passes every 2 s until stopped or reloaded. The error says whether a pass
    /// succeeded before it (the retry backoff then starts over).
    async fn maildir_session(
        &self,
        path: &Path,
        move_processed: bool,
        max: u64,
        stop: &CancellationToken,
    ) -> Result<Session, (anyhow::Error, bool)> {
        let mut progressed = false;
        loop {
            self.inbound_pass_maildir_until(path, move_processed, max, Some(stop))
                .await
                .map_err(|e| (e, progressed))?;
            progressed = true;
            self.inbound_status(&format!("watching maildir {}", path.display()), true);
            tokio::select! {
                _ = stop.cancelled() => return Ok(Session::Stopped),
                _ = self.reloaded.notified() => return Ok(Session::Reload),
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    /// One IMAP session: connect, handle what is there, then IDLE (or poll) and repeat.
    async fn imap_session(
        &self,
        settings: &super::imap::ImapSettings,
        poll_interval: Duration,
        stop: &CancellationToken,
    ) -> Result<Session, (anyhow::Error, bool)> {
        let connect = tokio::select! {
            _ = stop.cancelled() => return Ok(Session::Stopped),
            c = ImapInbox::connect(settings) => c,
        };
        let mut inbox = connect.map_err(|e| (e, false))?;
        tracing::info!(host = %settings.host, "connected to the IMAP server");
        let mut progressed = false;
        loop {
            // Not raced against `stop`: the message in hand is finished (DESIGN.md "Keeping
            // data"); the pass checks `stop` between messages.
            self.inbound_pass_imap_until(&mut inbox, Some(stop))
                .await
                .map_err(|e| (e, progressed))?;
            progressed = true;
            self.inbound_status(
                &format!(
                    "connected to imap {}:{}, waiting for mail",
                    settings.host, settings.port
                ),
                true,
            );
            if stop.is_cancelled() {
                inbox.logout().await;
                return Ok(Session::Stopped);
            }
            let wait = if inbox.has_idle() {
                settings.idle_max
            } else {
                poll_interval
            };
            tokio::select! {
                _ = stop.cancelled() => { inbox.logout().await; return Ok(Session::Stopped) }
                _ = self.reloaded.notified() => { inbox.logout().await; return Ok(Session::Reload) }
                w = inbox.wait(wait) => { let _: Wake = w.map_err(|e| (e, progressed))?; }
            }
        }
    }

    async fn outbox_loop(self: Arc<Self>, stop: CancellationToken) {
        let mut last_error: Option<String> = None;
        loop {
            let config = self.config();
            let wait = match outbox::drain_until(
                &self.store,
                &self.sender(),
                self.clock.now(),
                config.retry_min,
                Some(&stop),
            )
            .await
            {
                Ok(d) => {
                    let waiting = self.store.outbox_len();
                    if d.sent > 0 && waiting == 0 {
                        // A burst is over: what it freed goes back to the system.
                        release_freed_memory();
                    }
                    if d.deferred > 0 || waiting > 0 {
                        self.outbox_status(format!(
                            "outbox: {waiting} waiting{}",
                            d.last_error
                                .as_deref()
                                .map(|e| format!(" ({})", brief(e)))
                                .unwrap_or_default()
                        ));
                    } else {
                        self.outbox_status(String::new());
                    }
                    last_error = None;
                    // Sleep until the next entry is due (at most 30 s: new entries wake us).
                    self.store
                        .outbox_next_due()
                        .map(|t| (t - self.clock.now()).to_std().unwrap_or(Duration::ZERO))
                        .unwrap_or(Duration::from_secs(30))
                        .clamp(Duration::from_millis(50), Duration::from_secs(30))
                }
                Err(e) => {
                    let err = format!("{e:#}");
                    if last_error.as_deref() != Some(err.as_str()) {
                        tracing::error!(error = %err, "outbox pass failed");
                    }
                    self.outbox_status(format!("outbox: store error ({})", brief(&err)));
                    last_error = Some(err);
                    config.retry_min.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends WATCHDOG=1 at half the interval systemd asked for, as long as no message has
    /// been in hand for longer than that interval (a wedged store or pipeline stops them).
    async fn watchdog_loop(self: Arc<Self>, stop: CancellationToken) {
        let Some(interval) = self.notifier.watchdog() else {
            return;
        };
        loop {
            let stuck = self
                .busy_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|t| t.elapsed() > interval);
            if stuck {
                tracing::error!(
                    watchdog_s = interval.as_secs(),
                    "a message has been in hand longer than the watchdog interval; no keep-alive"
                );
            } else {
                self.notifier.keep_alive();
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval / 2) => {}
            }
        }
    }
}

/// Opens the store, waiting while it cannot be opened (a full disk, or the lock still held by
/// a process that is exiting) with backoff up to a minute, saying so in the log and STATUS;
/// `None` when `stop` came first.
pub async fn open_store_patiently(
    path: &Path,
    notifier: &Notifier,
    stop: &CancellationToken,
) -> Option<Store> {
    let mut failures = 0u32;
    loop {
        let p = path.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || Store::open(&p))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match opened {
            Ok(store) => return Some(store),
            Err(e) => {
                failures += 1;
                let wait = retry_wait(failures);
                let err = format!("{e:#}");
                tracing::warn!(error = %err, retry_in_s = wait.as_secs(), "waiting for the store");
                notifier.status(&format!(
                    "waiting for the store ({}); retry in {}s",
                    brief(&err),
                    wait.as_secs()
                ));
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// How an inbound session ended without an error.
enum Session {
    Stopped,
    Reload,
}

/// Reconnect and retry waits: 1 s, 2 s, 4 s … capped at one minute.
/// Returns memory freed by the allocator to the system (glibc keeps it otherwise, and a daemon
/// that has cleared a backlog would stay at its peak).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn retry_wait(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.saturating_sub(1).min(6)).min(60))
}

fn status_line(s: &Status) -> String {
    if s.outbox.is_empty() {
        s.inbound.clone()
    } else {
        format!("{}; {}", s.inbound, s.outbox)
    }
}

/// The last link of an error chain, shortened for a STATUS line.
fn brief(err: &str) -> String {
    let last = err.rsplit(": ").next().unwrap_or(err);
    last.chars().take(80).collect()
}

/// The sender class the case's timeline recorded for this message (reporter, team, machine,
/// bounce, …); `none` when the message reached no case.
fn sender_class(p: &pipeline::Processed) -> String {
    p.outcome
        .case
        .as_ref()
        .and_then(|c| {
            c.timeline.iter().rev().find_map(|e| match &e.kind {
                EventKind::Received {
                    msg_hash,
                    sender_class,
                    ..
                } if *msg_hash == p.hash => Some(sender_class.clone()),
                _ => None,
            })
        })
        .unwrap_or_else(|| "none".into())
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
