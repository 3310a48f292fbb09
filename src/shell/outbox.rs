//! The outbox: sends what the store queued, retrying with backoff; nothing is removed before
//! the transport accepted it, so a crash re-sends at most the one message in flight, with the
//! same Message-ID: each removal is flushed before the next message is completed (with the file
//! transport, where a re-send overwrites the same file, once per 16 sends).
//!
//! Over SMTP that flush overlaps the next message's envelope: MAIL, RCPT and DATA go out while
//! the store writes the previous sent-mark, and the content with its final dot (the moment the
//! server takes the message) only once the mark is on disk. The MTA's time per message and the
//! store's fsync run side by side instead of one after the other (issue 14.3).
use super::store::{OutboxEntry, Store};
use super::transport::{Mailer, Outbound, SendError};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Give up on a message that could not be sent for this long.
const GIVE_UP_AFTER: i64 = 5 * 24 * 3600;

#[derive(Debug, Default, Clone)]
pub struct Drained {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// Why the last deferred message was not sent (for the readiness status).
    pub last_error: Option<String>,
    /// Set when the server refused the configuration (`SendError::Config`: a wrong password):
    /// `run --once` exits 78 on it.
    pub config_error: Option<String>,
}

/// `min` (30 s by default, `[outbound] retry-min`), doubling per attempt, capped at one hour.
pub fn backoff(attempts: u32, min: Duration) -> Duration {
    min.saturating_mul(1u32 << attempts.min(12))
        .min(Duration::from_secs(3600))
}

/// Sends every due entry once.
pub async fn drain(
    store: &Store,
    sender: &Mailer,
    now: DateTime<Utc>,
    retry_min: Duration,
) -> Result<Drained> {
    drain_until(store, sender, now, retry_min, None).await
}

/// As [`drain`], ending early (between two sends) once `stop` is cancelled. After the first
/// transient failure of a pass the remaining due entries are deferred without trying: the
/// server is down for all of them.
pub async fn drain_until(
    store: &Store,
    sender: &Mailer,
    now: DateTime<Utc>,
    retry_min: Duration,
    stop: Option<&tokio_util::sync::CancellationToken>,
) -> Result<Drained> {
    let mut d = Drained::default();
    // Set by the first transient failure: the time the rest of this pass waits for.
    let mut down: Option<DateTime<Utc>> = None;
    // One at a time, each removal flushed before the next message's final dot, so that a
    // crash re-sends at most the one in flight. Where a re-send replaces the first copy (the file transport
    // names files by Message-ID) up to 16 go at once and one flush follows: a crash re-writes
    // those files, nobody gets two.
    let group = if sender.resend_replaces() { 16 } else { 1 };
    let mut due = store.outbox_due(now);
    // A sent-mark written but not yet flushed (SMTP: flushed beside the next envelope).
    let mut unflushed = false;
    loop {
        if stop.is_some_and(|s| s.is_cancelled()) {
            break;
        }
        let chunk: Vec<(Vec<u8>, OutboxEntry)> = due.by_ref().take(group).collect();
        if chunk.is_empty() {
            break;
        }
        if let Some(next) = down {
            for (key, mut entry) in chunk {
                entry.next_attempt = next;
                store.outbox_retry(&key, &entry)?;
                d.deferred += 1;
            }
            continue;
        }
        let prepared: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|(_, entry)| {
                let stem = entry.message_id.replace(
                    |c: char| !c.is_ascii_alphanumeric() && !".-_".contains(c),
                    "_",
                );
                (stem, entry.bytes())
            })
            .collect();
        let messages: Vec<Outbound> = chunk
            .iter()
            .zip(&prepared)
            .map(|((_, entry), (stem, raw))| Outbound {
                envelope_from: &entry.envelope_from,
                rcpts: &entry.rcpts,
                raw,
                file_stem: stem,
            })
            .collect();
        let results = match messages.as_slice() {
            [one] if unflushed => {
                let (flushed, opened) = tokio::join!(store.flush(), sender.open(one));
                // Nothing of the next message is delivered unless the last mark is durable.
                flushed?;
                unflushed = false;
                vec![match opened {
                    Ok(o) => o.finish().await,
                    Err(e) => Err(e),
                }]
            }
            _ => sender.send_all(&messages).await,
        };
        drop(messages);
        let mut sent_any = false;
        for ((key, mut entry), result) in chunk.into_iter().zip(results) {
            // A refused login leaves the message as good as it was: kept and retried like a
            // server that is down (the daemon backs off on `SendError::class`).
            let (config, why) = match result {
                Ok(()) => {
                    store.outbox_sent(&key)?;
                    sent_any = true;
                    tracing::info!(message_id = %entry.message_id, kind = %entry.kind, case_id = %entry.case_id.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "-".into()), "sent");
                    d.sent += 1;
                    continue;
                }
                Err(SendError::Permanent(why)) => {
                    let why = redact(&why, &entry.rcpts);
                    tracing::warn!(message_id = %entry.message_id, kind = %entry.kind, error = %why, "refused by the mail server; giving up");
                    store.outbox_failed(&key, &entry, &why, now)?;
                    d.failed += 1;
                    continue;
                }
                Err(SendError::Config(why)) => (true, why),
                Err(SendError::Transient(why)) => (false, why),
            };
            let why = redact(&why, &entry.rcpts);
            if config {
                d.config_error = Some(why.clone());
            }
            entry.attempts += 1;
            entry.last_error = Some(why.clone());
            if (now - entry.queued).num_seconds() > GIVE_UP_AFTER {
                tracing::warn!(message_id = %entry.message_id, error = %why, "undeliverable for 5 days; giving up");
                store.outbox_failed(
                    &key,
                    &entry,
                    &format!("gave up after {} attempts: {why}", entry.attempts),
                    now,
                )?;
                d.failed += 1;
            } else {
                let wait = backoff(entry.attempts.saturating_sub(1), retry_min);
                entry.next_attempt =
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                tracing::warn!(message_id = %entry.message_id, error = %why, retry_in_s = wait.as_secs(), "send failed; will retry");
                store.outbox_retry(&key, &entry)?;
                d.deferred += 1;
                d.last_error = Some(why);
                down = Some(entry.next_attempt);
            }
        }
        if sent_any {
            if group == 1 {
                unflushed = true;
            } else {
                store.flush().await?;
            }
        }
    }
    store.flush().await?;
    Ok(d)
}

/// A server's error text with the recipients' addresses taken out: it goes to the log and the
/// outbox, and a recipient may be a confidential distributor (DESIGN.md "Distributors and
/// advance notice": never in a log line) or a reporter.
fn redact(why: &str, rcpts: &[String]) -> String {
    let mut out = why.to_string();
    for r in rcpts.iter().filter(|r| !r.is_empty()) {
        let r = r.to_ascii_lowercase();
        out = replace_ci(&out, &r, "<recipient>");
        // Servers also name the parts: "user dana unknown", "relay for distro-a.example".
        if let Some((local, domain)) = r.rsplit_once('@') {
            out = replace_ci(&out, domain, "<domain>");
            // A very short local part ("a", "me") would take out ordinary words too.
            if local.len() >= 3 {
                out = replace_ci(&out, local, "<local>");
            }
        }
    }
    out
}

/// Replaces every ASCII-case-insensitive occurrence of `needle` (lowercase).
fn replace_ci(text: &str, needle: &str, with: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut result = String::new();
    let mut last = 0;
    for (i, _) in lower.match_indices(needle) {
        result.push_str(&text[last..i]);
        result.push_str(with);
        last = i + needle.len();
    }
    result.push_str(&text[last..]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_do_not_name_the_recipient() {
        let rcpts = vec!["dana@distro-a.example".to_string()];
        assert_eq!(
            redact(
                "550 5.1.1 <Dana@Distro-A.example>: Recipient address rejected",
                &rcpts
            ),
            "550 5.1.1 <<recipient>>: Recipient address rejected"
        );
        assert_eq!(redact("421 try later", &rcpts), "421 try later");
        // The parts on their own too (SECURITY.md, smaller ones).
        assert_eq!(
            redact(
                "550 user DANA unknown; no relay for distro-a.example",
                &rcpts
            ),
            "550 user <local> unknown; no relay for <domain>"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let min = Duration::from_secs(30);
        assert_eq!(backoff(0, min).as_secs(), 30);
        assert_eq!(backoff(1, min).as_secs(), 60);
        assert_eq!(backoff(3, min).as_secs(), 240);
        assert_eq!(backoff(20, min).as_secs(), 3600);
        assert_eq!(backoff(0, Duration::from_millis(500)).as_millis(), 500);
        assert_eq!(backoff(2, Duration::from_secs(1)).as_secs(), 4);
    }
}
