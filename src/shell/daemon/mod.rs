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
//!
//! Rooms: [`handle`] (a batch through the pipeline, the render-and-commit of what is decided
//! outside one, what follows a flush), [`inbound`] (the [`inbound::Source`] trait over Maildir
//! and IMAP, and the sessions), [`timers`] (the policy and disclosure timers), [`outbox_task`]
//! and [`status`] (STATUS, READY, watchdog). This file: the daemon's state, reload, and the
//! tasks' supervision.
mod control;
mod handle;
mod inbound;
mod metrics;
mod outbox_task;
mod status;
mod timers;

use super::clock::Clock;
use super::failure::FailureClass;
use super::imap::ImapInbox;
use super::outbox;
use super::store::Store;
use super::systemd::Notifier;
use super::transport::Mailer;
use crate::config::{Config, Inbound};
use crate::core::compose::Templates;
use anyhow::{Context, Result};
pub use status::Runtime;
use status::Status;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Messages taken through the pipeline together (`shell::batch`): one flush for all of them,
/// both cores busy. Bounds the memory of a batch and how long a SIGTERM waits.
pub(super) const BATCH: usize = 32;

/// Messages asked of the IMAP server in one `UID FETCH`.
pub(super) const FETCH: usize = 100;

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
    sender: RwLock<Arc<Mailer>>,
    outbox_wake: Arc<Notify>,
    /// Woken by a reload: the inbound session reconnects with the new settings.
    reloaded: Notify,
    notifier: Notifier,
    status: Mutex<Status>,
    /// When this daemon started (for `secmail status`).
    started: chrono::DateTime<chrono::Utc>,
    /// When the message in hand started, for the watchdog: a message stuck for longer than
    /// the watchdog interval stops the keep-alives, and systemd restarts us.
    busy_since: Mutex<Option<Instant>>,
    /// Where one line per message and per timer goes for people watching (`run --once` sets
    /// it from `commands::run`); none in the service, whose log carries the same.
    pub say: Option<Say>,
    /// Serves the CLI on `[control] socket` while the daemon runs (`commands::remote`, set by
    /// `commands::run`); none for `run --once`, which holds the store only briefly.
    pub control: Option<crate::shell::control::Handler>,
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

/// Where lines for people watching go (`run --once`): a sink set by `commands::run`.
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// What happened to one message.
#[derive(Debug, Clone)]
pub struct Handled {
    pub summary: String,
    pub quarantined: bool,
    pub duplicate: bool,
    pub queued: usize,
}

// Templates are loaded by `shell::templates` (built-in fallbacks, checked by `check`).
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
        let templates = load_templates(&config)?;
        let sender = Mailer::new(&config.outbound)?;
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
            started: clock.now(),
            busy_since: Mutex::new(None),
            say: None,
            control: None,
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

    fn sender(&self) -> Arc<Mailer> {
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
            let templates = load_templates(&config)?;
            let sender = Mailer::new(&config.outbound)?;
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

    /// `run --once`: one full inbound pass, then one outbox pass.
    pub async fn run_once(&self) -> Result<(usize, outbox::Drained)> {
        let config = self.config();
        let n = match &config.inbound {
            Inbound::Maildir {
                path,
                move_processed,
                max_message_bytes,
            } => {
                let mut source =
                    inbound::MaildirSource::new(path, *move_processed, *max_message_bytes);
                self.inbound_pass(&mut source, None).await?
            }
            Inbound::Imap { settings, .. } => {
                let mut inbox = ImapInbox::connect(settings).await?;
                let n = self
                    .inbound_pass(&mut inbound::ImapSource::new(&mut inbox, &self.store), None)
                    .await?;
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
        // Test hooks are honest about themselves in the log (README, "For developers").
        if let super::clock::Clock::Fixed(t) = self.clock {
            tracing::warn!(now = %t, "SECMAIL_NOW pins the clock: timers will not move");
        }
        if let Some(n) = self.fail_after_commit {
            tracing::warn!(
                n,
                "SECMAIL_FAIL_AFTER_COMMIT: the daemon stops after message {n}"
            );
        }
        // Config loaded, store open: the service is up. Servers being down is STATUS, not a
        // boot held until TimeoutStartSec (issue 12).
        let socket = self.config().control_socket.clone();
        let control = match &self.control {
            Some(handler) => {
                let listener = Self::bind_control(&socket)?;
                tracing::info!(socket = %socket.display(), "control socket ready");
                Some(tokio::spawn(self.clone().control_loop(
                    listener,
                    handler.clone(),
                    stop.clone(),
                )))
            }
            None => None,
        };
        let metrics = self.config().metrics.clone();
        let mut side = Vec::new();
        if let Some(addr) = metrics.listen {
            let listener = Self::bind_metrics(addr).await?;
            tracing::info!(listen = %addr, "metrics endpoint ready");
            side.push(tokio::spawn(
                self.clone().metrics_loop(listener, stop.clone()),
            ));
        }
        if let Some(path) = metrics.textfile {
            side.push(tokio::spawn(self.clone().textfile_loop(path, stop.clone())));
        }
        self.ready();
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
                    // A server that refuses our configuration (a wrong password, a folder it
                    // cannot create) is not helped by retrying soon, and fast retries get us
                    // banned (fail2ban): minutes, and a reload (SIGHUP) tries at once.
                    let refused = FailureClass::of(&e) == FailureClass::Config;
                    let wait = if refused {
                        refused_wait(failures)
                    } else {
                        wait
                    };
                    let what = match (&config.inbound, refused) {
                        (Inbound::Imap { .. }, true) => {
                            "the IMAP server refuses the configuration (fix security.conf, then reload)"
                        }
                        (Inbound::Imap { .. }, false) => "waiting for the IMAP server",
                        (Inbound::Maildir { .. }, _) => "cannot read the maildir",
                    };
                    let err = format!("{e:#}");
                    if refused {
                        tracing::error!(error = %err, retry_in_s = wait.as_secs_f32(), "{what}; retrying");
                    } else {
                        tracing::warn!(error = %err, retry_in_s = wait.as_secs_f32(), "{what}; retrying");
                    }
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
        for task in side {
            task.await.context("the metrics task failed")?;
        }
        if let Some(control) = control {
            control.await.context("the control task failed")?;
            let _ = std::fs::remove_file(&socket);
        }
        self.store.flush().await?;
        inbound
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

/// Waits after a refused configuration: 5 min, 10, 20, capped at 30 min.
fn refused_wait(failures: u32) -> Duration {
    Duration::from_secs((300u64 << failures.saturating_sub(1).min(3)).min(1800))
}

fn retry_wait(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.saturating_sub(1).min(6)).min(60))
}

/// The last link of an error chain, shortened for a STATUS line.
fn brief(err: &str) -> String {
    let last = err.rsplit(": ").next().unwrap_or(err);
    last.chars().take(80).collect()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
