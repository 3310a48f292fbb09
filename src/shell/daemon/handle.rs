//! One batch of inbound mail through the pipeline (`shell::batch`), flushed before anything
//! leaves; the store alerts; the render-and-commit of what the daemon decides outside a batch;
//! and what is done after a flush ([`After`]: advisories).
use super::{short, Daemon, Handled, StoreUnwritable};
use crate::core::apply::Disposition;
use crate::core::compose;
use crate::core::effect::{After, Changes, Mark};
use crate::core::pipeline;
use crate::model::EventKind;
use crate::shell::batch;
use anyhow::{Context, Result};
use std::time::Instant;

impl Daemon {
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
            batch::handle_all(&raws, &store, &config, &templates, now, threads)
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
            for e in &p.changes.errors {
                tracing::error!(msg_hash = %short(&p.hash), error = %e, "could not compose a message");
            }
            let quarantined = matches!(p.disposition, Disposition::Quarantine(_));
            tracing::info!(
                case_id = %p.record.case_id.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                msg_hash = %short(&p.hash),
                sender_class = %sender_class(&p),
                outcome = %p.summary,
                "message handled"
            );
            self.say(&p.summary);
            self.after(&p.changes, now);
            self.count_handled(if p.duplicate {
                "duplicate"
            } else if quarantined {
                "quarantined"
            } else {
                "processed"
            });
            queued_any |= d.queued > 0;
            handled.push(Handled {
                summary: p.summary,
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
        let mut changes = Changes {
            marks: vec![Mark::QuotaTold(level)],
            ..Changes::default()
        };
        if let Some(text) = &text {
            tracing::warn!(
                size_mib = size >> 20,
                max_mib = config.store_max_bytes >> 20,
                "store near or over its size limit; team told"
            );
            let cause = format!("store-quota/{level}/{}", now.format("%Y-%m-%d"));
            changes.drafts = crate::core::apply::alert(&config, &cause, "store size", text, None);
        }
        self.render(&mut changes, now);
        self.store.commit(&changes, now).context(StoreUnwritable)?;
        self.store.flush().await.context(StoreUnwritable)?;
        Ok(!changes.outbox.is_empty())
    }

    /// The one render step for what the daemon decides outside a message batch: drafts
    /// composed (or withheld, recorded on their case), failures logged.
    pub(super) fn render(&self, changes: &mut Changes, now: chrono::DateTime<chrono::Utc>) {
        let (config, templates) = (self.config(), self.templates());
        changes.render(&compose::compose_with(&templates, &config, now), None, now);
        for e in &changes.errors {
            tracing::error!(error = %e, "could not compose a message");
        }
    }

    /// What to do once a step's changes are durable ([`After`]).
    pub(super) fn after(&self, changes: &Changes, now: chrono::DateTime<chrono::Utc>) {
        for a in &changes.after {
            match a {
                After::WriteAdvisories(id) => {
                    if let Some(case) = changes.case(id) {
                        self.write_advisories(case, now);
                    }
                }
            }
        }
    }

    /// One line for people watching (`run --once`).
    pub(super) fn say(&self, line: &str) {
        if let Some(say) = &self.say {
            say(line);
        }
    }

    /// At disclosure: the OSV and CSAF advisories into `[advisories] dir`. A failure is logged
    /// and does not undo the disclosure (`secmail export` writes them again).
    fn write_advisories(&self, case: &crate::model::Case, now: chrono::DateTime<chrono::Utc>) {
        let config = self.config();
        let Some(dir) = &config.advisories.dir else {
            return;
        };
        match crate::shell::advisories::write_advisories(dir, case, &config, now) {
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

    /// Mail too large to fetch, by its header: the team alerted, the sender told once how to
    /// send large material (`pipeline::oversize`), durable before the caller moves it. Under
    /// the case-write lock, since the answer reads and writes the sender's marks.
    pub(super) async fn oversize(&self, o: pipeline::Oversize<'_>) -> Result<()> {
        let now = self.clock.now();
        let _writing = self.case_write.lock().await;
        let p = pipeline::oversize(o, &self.store, &self.config(), &self.templates(), now);
        self.store
            .commit(&p.changes, now)
            .context(StoreUnwritable)?;
        self.store.flush().await.context(StoreUnwritable)?;
        for e in &p.changes.errors {
            tracing::error!(msg_hash = %short(&p.hash), error = %e, "could not compose a message");
        }
        tracing::warn!(
            size = o.size,
            msg_hash = %short(&p.hash),
            sender_told = p.outgoing().iter().any(|q| q.kind == "too-large"),
            "message over the size limit quarantined; team told"
        );
        self.say(&p.summary);
        self.outbox_wake.notify_one();
        Ok(())
    }

    pub(super) fn store_has_oversize(&self, cause: &str) -> bool {
        self.store
            .message(&pipeline::hash(cause.as_bytes()))
            .is_some()
    }
}

/// The sender class the case's timeline recorded for this message (reporter, team, machine,
/// bounce, …); `none` when the message reached no case.
fn sender_class(p: &pipeline::Processed) -> String {
    p.case()
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
