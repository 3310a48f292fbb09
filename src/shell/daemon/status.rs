//! What the daemon tells systemd and the log about itself: the STATUS line (inbound and
//! outbox parts; the first inbound success makes it READY) and the watchdog keep-alives.
use super::Daemon;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The readiness state shown in `systemctl status` (STATUS=) and logged when it changes.
#[derive(Default)]
pub(super) struct Status {
    pub(super) ready: bool,
    pub(super) inbound: String,
    pub(super) outbox: String,
}

impl Daemon {
    pub(super) fn show_status(&self) {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        self.notifier.status(&status_line(&s));
    }

    /// Sets the inbound part of the readiness state; the first success makes us READY.
    pub(super) fn inbound_status(&self, text: &str, ok: bool) {
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
