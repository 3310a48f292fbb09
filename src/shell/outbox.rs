//! The outbox: sends what the store queued, retrying with backoff; nothing is removed before
//! the transport accepted it, so a crash re-sends at most the one message in flight, with the
//! same Message-ID.
use super::store::Store;
use super::transport::{SendError, Sender};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Give up on a message that could not be sent for this long.
const GIVE_UP_AFTER: i64 = 5 * 24 * 3600;

#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
}

/// 30 s, 1 min, 2 min, … capped at one hour.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs((30u64 << attempts.min(7)).min(3600))
}

/// Sends every due entry once.
pub async fn drain(store: &Store, sender: &Sender, now: DateTime<Utc>) -> Result<Drained> {
    let mut d = Drained::default();
    for (key, mut entry) in store.outbox_due(now) {
        let stem = entry.message_id.replace(
            |c: char| !c.is_ascii_alphanumeric() && !".-_".contains(c),
            "_",
        );
        match sender
            .send(&entry.envelope_from, &entry.rcpts, &entry.bytes(), &stem)
            .await
        {
            Ok(()) => {
                store.outbox_sent(&key)?;
                tracing::info!(message_id = %entry.message_id, kind = %entry.kind, case_id = ?entry.case_id.as_ref().map(|c| c.to_string()), "sent");
                d.sent += 1;
            }
            Err(SendError::Permanent(why)) => {
                let why = redact(&why, &entry.rcpts);
                tracing::warn!(message_id = %entry.message_id, kind = %entry.kind, error = %why, "refused by the mail server; giving up");
                store.outbox_failed(&key, &entry, &why, now)?;
                d.failed += 1;
            }
            Err(SendError::Transient(why)) => {
                let why = redact(&why, &entry.rcpts);
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
                    let wait = backoff(entry.attempts);
                    entry.next_attempt = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    tracing::warn!(message_id = %entry.message_id, error = %why, retry_in_s = wait.as_secs(), "send failed; will retry");
                    store.outbox_retry(&key, &entry)?;
                    d.deferred += 1;
                }
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
        let lower = out.to_ascii_lowercase();
        let needle = r.to_ascii_lowercase();
        let mut result = String::new();
        let mut last = 0;
        for (i, _) in lower.match_indices(&needle) {
            result.push_str(&out[last..i]);
            result.push_str("<recipient>");
            last = i + needle.len();
        }
        result.push_str(&out[last..]);
        out = result;
    }
    out
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
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0).as_secs(), 30);
        assert_eq!(backoff(1).as_secs(), 60);
        assert_eq!(backoff(3).as_secs(), 240);
        assert_eq!(backoff(20).as_secs(), 3600);
    }
}
