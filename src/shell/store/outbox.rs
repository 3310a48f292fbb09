//! The outbox in the store: `out/<id>` entries written in the batch of the change that queued
//! them, sendable only once flushed (`durable`), retried with backoff, `dead/<id>` when given up.
use super::{json, out_key, put_case, Store};
use crate::core::effect::Queued;
use crate::core::thread::Lookup;
use crate::model::{CaseId, EventKind};
use anyhow::{Context, Result};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// A message waiting to be sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub message_id: String,
    pub envelope_from: String,
    pub rcpts: Vec<String>,
    /// base64 of the exact bytes to send.
    pub raw: String,
    pub case_id: Option<CaseId>,
    pub kind: String,
    pub queued: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl OutboxEntry {
    pub fn bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.raw)
            .unwrap_or_default()
    }
}

impl Store {
    /// Adds outbox entries to `b`; returns the highest id used, for [`Store::written`] once
    /// the batch is applied.
    pub(super) fn queue(
        &self,
        b: &mut sled::Batch,
        outgoing: &[Queued],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut last = 0;
        for q in outgoing {
            let o = &q.mail;
            let entry = OutboxEntry {
                message_id: o.message_id.clone(),
                envelope_from: o.envelope_from.clone(),
                rcpts: o.rcpts.clone(),
                raw: base64::engine::general_purpose::STANDARD.encode(&o.raw),
                case_id: q.case.clone(),
                kind: q.kind.clone(),
                queued: now,
                attempts: 0,
                next_attempt: now,
                last_error: None,
            };
            last = self.db.generate_id().context("allocating an outbox id")?;
            b.insert(out_key(last).as_bytes(), json(&entry));
        }
        Ok(last)
    }

    /// Outbox entries up to `id` are in the tree (their batch applied).
    pub(super) fn written(&self, id: u64) {
        self.written.fetch_max(id, Ordering::SeqCst);
    }

    /// Outbox entries due at `now` and flushed, oldest first, read one at a time (a backlog of
    /// thousands is never all in memory).
    pub fn outbox_due(
        &self,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = (Vec<u8>, OutboxEntry)> + '_ {
        self.outbox_sendable()
            .filter(move |(_, e)| e.next_attempt <= now)
    }

    /// When the earliest flushed outbox entry is due, if there is one (entries not yet flushed
    /// wake the outbox when they are).
    pub fn outbox_next_due(&self) -> Option<DateTime<Utc>> {
        self.outbox_sendable().map(|(_, e)| e.next_attempt).min()
    }

    fn outbox_sendable(&self) -> impl Iterator<Item = (Vec<u8>, OutboxEntry)> + '_ {
        let durable = self.durable.load(Ordering::SeqCst);
        self.db
            .range(out_key(0).as_bytes()..=out_key(durable).as_bytes())
            .filter_map(|kv| kv.ok())
            .filter_map(|(k, v)| {
                Some((k.to_vec(), serde_json::from_slice::<OutboxEntry>(&v).ok()?))
            })
    }

    pub fn outbox_len(&self) -> usize {
        self.db.scan_prefix(b"out/").count()
    }

    pub fn outbox_sent(&self, key: &[u8]) -> Result<()> {
        self.db
            .remove(key)
            .context("removing a sent outbox entry")?;
        Ok(())
    }

    pub fn outbox_retry(&self, key: &[u8], entry: &OutboxEntry) -> Result<()> {
        self.db
            .insert(key, json(entry))
            .context("updating an outbox entry")?;
        Ok(())
    }

    /// Gives up on an entry: kept under `dead/`, and its case records the failure.
    pub fn outbox_failed(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut b = sled::Batch::default();
        b.remove(key);
        let dead = [
            b"dead/".as_slice(),
            key.strip_prefix(b"out/").unwrap_or(key),
        ]
        .concat();
        b.insert(dead, json(entry));
        if let Some(mut case) = entry.case_id.as_ref().and_then(|c| self.case(c)) {
            case.push(
                now,
                "secmail",
                EventKind::DeliveryFailed {
                    message_id: Some(entry.message_id.clone()),
                    detail: detail.to_string(),
                },
            );
            put_case(&mut b, &case);
        }
        self.db
            .apply_batch(b)
            .context("recording an undeliverable message")?;
        Ok(())
    }

    /// Every entry waiting, flushed or not, oldest first, with its id (`secmail outbox list`).
    pub fn outbox_entries(&self) -> Vec<(u64, OutboxEntry)> {
        self.db
            .scan_prefix(b"out/")
            .filter_map(|kv| kv.ok())
            .filter_map(|(k, v)| {
                let id = std::str::from_utf8(k.strip_prefix(b"out/")?)
                    .ok()?
                    .parse()
                    .ok()?;
                Some((id, serde_json::from_slice::<OutboxEntry>(&v).ok()?))
            })
            .collect()
    }

    /// `secmail outbox retry ID`: due now (its backoff forgotten). False when there is none.
    pub fn outbox_retry_now(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        let key = out_key(id);
        let Some(mut entry) = self.get_json::<OutboxEntry>(&key) else {
            return Ok(false);
        };
        entry.next_attempt = now;
        self.outbox_retry(key.as_bytes(), &entry)?;
        Ok(true)
    }

    /// `secmail outbox drop ID`: given up on by the operator, kept under `dead/` and recorded on
    /// its case as any undeliverable message is. False when there is none.
    pub fn outbox_drop(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        let key = out_key(id);
        let Some(entry) = self.get_json::<OutboxEntry>(&key) else {
            return Ok(false);
        };
        self.outbox_failed(key.as_bytes(), &entry, "dropped by the operator", now)?;
        Ok(true)
    }
}
