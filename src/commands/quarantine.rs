//! `secmail quarantine list | show ID | release ID`: the messages kept without a case (issue 11),
//! seen and acted on by the operator.
//!
//! Each command's logic is a function of the [`Store`] that returns a value to print ([`list`],
//! [`show`], [`release`]), so that a control socket of the running daemon can call it as this
//! command does; [`run`] reaches the store (directly, or through the running daemon) and prints,
//! as text or `--json`.
//!
//! Invariants: nothing here prints or logs a message's text — `show` gives the header section
//! and the reason, never the body, so never the plaintext of ciphertext that failed its
//! integrity check; header values are printed without control characters. Of mail over the
//! size limit the store has the header alone (`pipeline::oversize`): shown like any other, its
//! size the message's, never released (it was never fetched whole). `release` handles
//! the stored bytes again through the same pipeline as live mail and is idempotent: a released
//! message is no longer in the quarantine, and one kept again for the same reason changes
//! nothing.
use super::ExitCode;
use crate::cli::QuarantineCommand;
use crate::config::Config;
use crate::core::apply::{Disposition, Encryption, Signed};
use crate::core::compose::Templates;
use crate::core::draft::Kept;
use crate::core::keys::Cert;
use crate::core::pipeline::{self, MessageRecord, View};
use crate::core::thread::Lookup;
use crate::model::{Case, CaseId, Distributor};
use crate::shell::clock::Clock;
use crate::shell::store::Store;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One kept message as `list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The first twelve hex digits of the hash: what people type.
    pub id: String,
    pub hash: String,
    pub received_at: DateTime<Utc>,
    /// The Date header, as the message has it.
    pub date: Option<String>,
    pub sender: Option<String>,
    /// Bytes as received (of oversize mail, its size on the server: only its header was read;
    /// 0 for oversize mail kept before the header was read).
    pub size: usize,
    pub message_id: Option<String>,
    pub reason: String,
}

/// One kept message as `show` shows it: its entry, how it was read, and its header section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shown {
    #[serde(flatten)]
    pub entry: Entry,
    pub encryption: Encryption,
    pub signature: Signed,
    /// The header lines as received (unfolded lines kept apart), without control characters.
    pub headers: Vec<String>,
    /// Over the size limit: only the header was read.
    #[serde(default)]
    pub oversize: bool,
}

/// What `release` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Released {
    /// Handled again: the pipeline's summary, the case it became or joined, mail queued. Kept
    /// again for another reason, `kept` says which (the team was told).
    Handled {
        id: String,
        summary: String,
        case: Option<CaseId>,
        queued: usize,
        kept: Option<String>,
    },
    /// Handled again and kept for the same reason: nothing was written.
    StillKept { id: String, reason: String },
    /// The same message was handled since (delivered again): taken out of the quarantine.
    AlreadyHandled { id: String },
    /// Not in the quarantine (released before, or never kept): nothing to do.
    NotKept { id: String },
}

/// Every message in the quarantine, oldest first.
pub fn list(store: &Store) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = store.messages().filter_map(|r| entry(store, &r)).collect();
    out.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// The kept message `id` (a unique prefix of its hash): its entry and its header section.
pub fn show(store: &Store, id: &str) -> Result<Shown> {
    let record = find(store, id)?;
    let entry = entry(store, &record)
        .ok_or_else(|| anyhow!("{} is not in the quarantine", short(&record.hash)))
        .context(ExitCode::DataErr)?;
    let raw = store.raw(&record.hash).unwrap_or_default();
    Ok(Shown {
        entry,
        encryption: record.encryption,
        signature: record.signature,
        headers: header_lines(&raw),
        oversize: record.oversize.is_some(),
    })
}

/// Handles the kept message `id` again through the pipeline at `now` and writes the result
/// (flushed before returning). `config` carries the store's id secret.
pub fn release(
    store: &Store,
    config: &Config,
    templates: &Templates,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Released> {
    let record = find(store, id)?;
    let id = short(&record.hash).to_string();
    let Disposition::Quarantine(reason) = &record.disposition else {
        return Ok(Released::NotKept { id });
    };
    let raw = store
        .raw(&record.hash)
        .filter(|r| !r.is_empty() && record.oversize.is_none())
        .ok_or_else(|| {
            anyhow!("{id} was never fetched (oversize mail): read it in the quarantine folder")
        })
        .context(ExitCode::DataErr)?;
    let again = Again {
        store,
        hash: &record.hash,
    };
    let p = pipeline::process(&raw, &again, config, templates, now);
    if p.duplicate {
        // Delivered again and handled since: this copy leaves the quarantine, nothing else.
        let mut done = record.clone();
        done.disposition = Disposition::Processed;
        let changes = crate::core::effect::Changes {
            message: Some(crate::core::effect::Stored {
                record: done,
                raw,
                attachments: Vec::new(),
            }),
            ..Default::default()
        };
        store.commit(&changes, now).context(ExitCode::IoErr)?;
        store.flush_blocking().context(ExitCode::IoErr)?;
        return Ok(Released::AlreadyHandled { id });
    }
    if p.disposition.quarantine_reason() == Some(reason.as_str()) {
        return Ok(Released::StillKept {
            id,
            reason: reason.clone(),
        });
    }
    let queued = store.commit(&p.changes, now).context(ExitCode::IoErr)?;
    store.flush_blocking().context(ExitCode::IoErr)?;
    Ok(Released::Handled {
        id,
        summary: p.summary.clone(),
        case: p.case_id.clone(),
        queued,
        kept: p.disposition.quarantine_reason().map(str::to_string),
    })
}

/// `secmail quarantine …`: opens the store and prints what the command returns.
pub fn run(config_path: &Path, cmd: &QuarantineCommand) -> Result<()> {
    let clock = Clock::from_env();
    let mut config = super::load(config_path, clock)?;
    // Beside a running daemon, through its control socket (`commands::remote`).
    let store = super::remote::open(&config)?;
    match cmd {
        QuarantineCommand::List { json } => {
            let entries = store.quarantine_list()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("no message in quarantine");
            } else {
                println!(
                    "{:<12}  {:<16}  {:>9}  {:<32}  reason",
                    "id", "received", "bytes", "sender"
                );
                for e in &entries {
                    println!(
                        "{:<12}  {:<16}  {:>9}  {:<32}  {}",
                        e.id,
                        e.received_at.format("%Y-%m-%d %H:%M"),
                        e.size,
                        e.sender.as_deref().unwrap_or("-"),
                        e.reason
                    );
                }
            }
        }
        QuarantineCommand::Show { id, json } => {
            let s = store.quarantine_show(id)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let e = &s.entry;
                println!("Message:    {} ({})", e.id, e.hash);
                println!("Received:   {}", e.received_at.format("%Y-%m-%d %H:%M UTC"));
                println!("From:       {}", e.sender.as_deref().unwrap_or("-"));
                println!("Date:       {}", e.date.as_deref().unwrap_or("-"));
                println!("Message-ID: {}", e.message_id.as_deref().unwrap_or("-"));
                println!("Size:       {} bytes", e.size);
                println!("Reason:     {}", e.reason);
                println!("Encryption: {}", s.encryption);
                println!("Signature:  {}", s.signature);
                println!();
                if s.headers.is_empty() {
                    println!("(no header: the bytes were not fetched, or hold no header)");
                } else if s.oversize {
                    println!("(over the size limit: its header alone was read; the message is in the quarantine folder)");
                }
                for h in &s.headers {
                    println!("{h}");
                }
            }
        }
        QuarantineCommand::Release { id, json } => {
            let r = store.quarantine_release(&mut config, id, clock.now())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", describe(&r));
            }
        }
    }
    Ok(())
}

/// One line for the operator.
pub fn describe(r: &Released) -> String {
    match r {
        Released::Handled {
            id,
            summary,
            queued,
            kept,
            ..
        } => format!(
            "{id}: released and handled again: {summary}; {queued} message(s) queued{}",
            match kept {
                Some(why) => format!(" (kept again: {why}; the team is told)"),
                None => String::new(),
            }
        ),
        Released::StillKept { id, reason } => format!(
            "{id}: handled again and still kept for the same reason ({reason}); nothing changed"
        ),
        Released::AlreadyHandled { id } => format!(
            "{id}: the same message was handled since; taken out of the quarantine, nothing sent"
        ),
        Released::NotKept { id } => format!("{id}: not in the quarantine; nothing to do"),
    }
}

/// The record whose hash starts with `id` (at least six hex digits, one match only).
fn find(store: &Store, id: &str) -> Result<MessageRecord> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 6 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(anyhow!(
            "{id:?} is not a message id: give the id `secmail quarantine list` shows"
        ))
        .context(ExitCode::Usage);
    }
    if id.len() == 64 {
        if let Some(r) = store.message(&id) {
            return Ok(r);
        }
    }
    let mut found: Vec<MessageRecord> = store
        .messages()
        .filter(|r| r.hash.starts_with(&id))
        .collect();
    match found.len() {
        0 => Err(anyhow!("no message {id} in the store")).context(ExitCode::DataErr),
        1 => Ok(found.remove(0)),
        n => Err(anyhow!("{id} names {n} messages: give more of its digits"))
            .context(ExitCode::Usage),
    }
}

/// `record` as `list` shows it, when it is in the quarantine. Sender and Message-ID as parsed
/// when the record has them, else read from the raw header ([`Kept::of_raw`]: oversize mail's
/// record has only that).
fn entry(store: &Store, record: &MessageRecord) -> Option<Entry> {
    let reason = record.disposition.quarantine_reason()?;
    let raw = store.raw(&record.hash).unwrap_or_default();
    let scanned = Kept::of_raw(&raw, &record.hash, reason);
    Some(Entry {
        id: short(&record.hash).to_string(),
        hash: record.hash.clone(),
        received_at: record.received_at,
        date: scanned.date,
        sender: record.from.clone().or(scanned.sender),
        size: record
            .oversize
            .map_or(raw.len(), |s| usize::try_from(s).unwrap_or(usize::MAX)),
        message_id: record.message_id.clone().or(scanned.message_id),
        reason: reason.to_string(),
    })
}

/// The header section of `raw`, a line each (at most 500 lines of 998 characters), with no
/// control character but tabs: the body is never read.
fn header_lines(raw: &[u8]) -> Vec<String> {
    let head = &raw[..raw.len().min(256 << 10)];
    String::from_utf8_lossy(head)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .take(500)
        .map(|l| {
            l.chars()
                .filter(|c| *c == '\t' || !c.is_control())
                .take(998)
                .collect()
        })
        .collect()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The store as the pipeline sees it when a kept message is handled again: the message's own
/// record does not make it a duplicate of itself.
struct Again<'a> {
    store: &'a Store,
    hash: &'a str,
}

impl Lookup for Again<'_> {
    fn case_of_message_id(&self, message_id: &str) -> Option<CaseId> {
        self.store.case_of_message_id(message_id)
    }

    fn case(&self, id: &CaseId) -> Option<Case> {
        Lookup::case(self.store, id)
    }
}

impl View for Again<'_> {
    fn seen(&self, hash: &str, message_id: Option<&str>, from: Option<&str>) -> bool {
        hash != self.hash && self.store.seen(hash, message_id, from)
    }

    fn earlier_with_id(&self, message_id: &str, from: &str) -> Option<Vec<u8>> {
        self.store
            .earlier_with_id(message_id, from)
            .filter(|raw| pipeline::hash(raw) != self.hash)
    }

    fn recent_auto_replies(&self, key: &str) -> Vec<DateTime<Utc>> {
        self.store.recent_auto_replies(key)
    }

    fn told_fingerprint(&self, address: &str) -> bool {
        self.store.told_fingerprint(address)
    }

    fn told_too_large(&self, address: &str) -> bool {
        self.store.told_too_large(address)
    }

    fn next_case_id(&self, prefix: &str, year: i32) -> CaseId {
        self.store.next_case_id(prefix, year)
    }

    fn cert_for(&self, address: &str) -> Option<Cert> {
        self.store.cert_for(address)
    }

    fn distributors(&self) -> Vec<Distributor> {
        View::distributors(self.store)
    }

    fn signature_seen(&self, digest: &str) -> bool {
        self.store.signature_seen(digest)
    }

    fn case_of_payload(&self, id: &str) -> Option<CaseId> {
        self.store.case_of_payload(id)
    }
}

#[cfg(test)]
mod tests {
    use super::header_lines;

    #[test]
    fn only_the_header_section_is_shown_without_control_characters() {
        let raw =
            b"From: a@b\r\nSubject: x\x1b[31m red\r\n\tfolded\r\n\r\nThe body, never shown.\r\n";
        assert_eq!(
            header_lines(raw),
            ["From: a@b", "Subject: x[31m red", "\tfolded"]
        );
        assert!(header_lines(b"").is_empty());
    }
}
