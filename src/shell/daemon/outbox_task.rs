//! The outbox task: sends what is durable and due, sleeps until the next entry is due or new
//! mail is queued, and shows a stuck outbox in STATUS.
use super::{brief, release_freed_memory, Daemon};
use crate::shell::outbox;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Daemon {
    pub(super) async fn outbox_loop(self: Arc<Self>, stop: CancellationToken) {
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
}
