//! What the daemon tells systemd and the log about itself: the STATUS line (inbound and
//! outbox parts), READY once the config is loaded and the store open, the watchdog keep-alives,
//! and the runtime figures `secmail status` and the metrics read ([`Runtime`]).
use super::Daemon;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The readiness state shown in `systemctl status` (STATUS=) and logged when it changes, and
/// the figures `secmail status` and the metrics show.
#[derive(Default)]
pub(super) struct Status {
    pub(super) ready: bool,
    pub(super) inbound: String,
    pub(super) outbox: String,
    /// The last inbound pass succeeded (the server is reachable, the maildir readable).
    pub(super) inbound_ok: bool,
    pub(super) last_fetch: Option<DateTime<Utc>>,
    /// Messages handled since start, by outcome (processed, quarantined, duplicate).
    pub(super) handled: BTreeMap<String, u64>,
}

/// What the running daemon knows about itself (the store knows the rest): for `secmail status`
/// and the metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runtime {
    pub started: DateTime<Utc>,
    /// "maildir" or "imap".
    pub inbound_kind: String,
    pub inbound_ok: bool,
    /// The inbound part of STATUS (the server and its state, or the error and the retry).
    pub inbound: String,
    pub last_fetch: Option<DateTime<Utc>>,
    pub handled: BTreeMap<String, u64>,
    /// The outbox part of STATUS (waiting entries and the last error), empty when all is sent.
    pub outbox: String,
}

impl Daemon {
    /// A snapshot of [`Runtime`].
    pub fn runtime(&self) -> Runtime {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let inbound_kind = match self.config().inbound {
            crate::config::Inbound::Maildir { .. } => "maildir",
            crate::config::Inbound::Imap { .. } => "imap",
        };
        Runtime {
            started: self.started,
            inbound_kind: inbound_kind.into(),
            inbound_ok: s.inbound_ok,
            inbound: s.inbound.clone(),
            last_fetch: s.last_fetch,
            handled: s.handled.clone(),
            outbox: s.outbox.clone(),
        }
    }

    /// Counts one handled message by its outcome.
    pub(super) fn count_handled(&self, outcome: &str) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        *s.handled.entry(outcome.to_string()).or_default() += 1;
    }

    /// Marks the service READY: the config is loaded and the store open. A mail server that is
    /// down shows in STATUS and `secmail status`, and does not hold up the boot.
    pub(super) fn ready(&self) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if !s.ready {
            s.ready = true;
            if s.inbound.is_empty() {
                s.inbound = "starting".into();
            }
            self.notifier.ready(&status_line(&s));
            tracing::info!(status = %status_line(&s), "ready");
        }
    }

    pub(super) fn show_status(&self) {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        self.notifier.status(&status_line(&s));
    }

    /// Sets the inbound part of the readiness state. READY is not its business: the daemon is
    /// ready before its first inbound pass ([`Daemon::ready`]).
    pub(super) fn inbound_status(&self, text: &str, ok: bool) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.inbound_ok = ok;
        if ok {
            s.last_fetch = Some(self.clock.now());
        }
        if s.inbound != text {
            s.inbound = text.to_string();
            self.notifier.status(&status_line(&s));
        }
    }

    pub(super) fn outbox_status(&self, text: String) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if s.outbox != text {
            s.outbox = text;
            self.notifier.status(&status_line(&s));
        }
    }

    /// Sends WATCHDOG=1 at half the interval systemd asked for, as long as no message has
    /// been in hand for longer than that interval (a wedged store or pipeline stops them).
    pub(super) async fn watchdog_loop(self: Arc<Self>, stop: CancellationToken) {
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

fn status_line(s: &Status) -> String {
    if s.outbox.is_empty() {
        s.inbound.clone()
    } else {
        format!("{}; {}", s.inbound, s.outbox)
    }
}
