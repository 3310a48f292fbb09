//! The policy timers in the daemon: `core::schedule` over the stored cases at the clock's now,
//! its result written in one batch (cases, outbox, digest time), then the outbox woken.
//! Runs once per `run --once` cycle and every `TICK` in the long-running daemon, followed by
//! the disclosure timers (`core::disclose::tick`, in [`Daemon::disclosure_tick`]).
//!
//! Invariant: a timer's mail and its record are one batch, flushed before the outbox sends it,
//! so no timer fires twice across restarts.
use super::Daemon;
use crate::core::schedule;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the daemon looks at the policy's clock. Deadlines are hours or days apart; a
/// minute is exact enough and costs one scan of the cases.
const TICK: Duration = Duration::from_secs(60);

impl Daemon {
    /// One scheduler pass; returns the number of messages queued.
    pub async fn schedule_pass(&self) -> Result<usize> {
        let (config, templates, store) = (self.config(), self.templates(), self.store.clone());
        let now = self.clock.now();
        // A message and a timer pass never change the same case at once.
        let _writing = self.case_write.lock().await;
        let (s, queued) = tokio::task::spawn_blocking(move || -> Result<_> {
            // Closed and disclosed cases have no timers: only the running ones are read.
            let cases = store.running_cases();
            let s = schedule::pass(&cases, &config, &templates, store.last_digest(), &[], now);
            let queued = store.commit(&s, now)?;
            Ok((s, queued))
        })
        .await
        .context("the scheduler task failed")??;
        self.store.flush().await?;
        for e in &s.errors {
            tracing::error!(error = %e, "could not compose a timer message");
        }
        for q in &s.outbox {
            let case = q
                .case
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into());
            tracing::info!(case_id = %case, kind = %q.kind, "timer message queued");
            self.say(&format!("{case}: timer → {}", q.kind));
        }
        if queued > 0 {
            self.wake_outbox();
        }
        Ok(queued)
    }

    /// Until `stop`: a scheduler pass every tick. A failed pass is logged and retried.
    pub async fn timer_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            if let Err(e) = self.schedule_pass().await {
                tracing::error!(error = %format!("{e:#}"), "scheduler pass failed");
            }
            // The disclosure timers (core::disclose): advance and final notices, reminders.
            if let Err(e) = self.disclosure_tick().await {
                tracing::error!(error = %format!("{e:#}"), "disclosure timers failed");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// The disclosure timers (advance notice at the lead time, the not-ready reminder, the
    /// final notice, embargo expiry) over every case: each case's change and its mail in one
    /// batch. Returns how many messages were queued.
    pub async fn disclosure_tick(&self) -> Result<usize> {
        let (config, templates, store) = (self.config(), self.templates(), self.store.clone());
        let now = self.clock.now();
        let _writing = self.case_write.lock().await;
        let (changes, fired) = tokio::task::spawn_blocking(move || -> Result<_> {
            let list = store.distributors();
            let (mut changes, fired) = crate::core::disclose::tick(
                store.running_cases(),
                &list,
                &config,
                &|p| store.attachment(&p.msg_hash, p.index),
                now,
            );
            changes.render(
                &crate::core::compose::compose_with(&templates, &config, now),
                None,
                now,
            );
            store.commit(&changes, now)?;
            Ok((changes, fired))
        })
        .await
        .context("the disclosure timer task failed")??;
        self.store.flush().await?;
        for e in &changes.errors {
            tracing::error!(error = %e, "could not compose a message");
        }
        for f in &fired {
            tracing::info!(case_id = %f.case, timer = ?f.timer, messages = f.drafts, "disclosure timer");
            self.say(&format!(
                "{}: disclosure timer {:?} → {} message(s)",
                f.case, f.timer, f.drafts
            ));
        }
        let queued = changes.outbox.len();
        if queued > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(queued)
    }
}
