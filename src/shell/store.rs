//! The sled store: cases, messages (raw and decrypted), indexes and the outbox, in one tree
//! with key prefixes, so that everything one message changes is written in one atomic batch.
//!
//! Keys: `case/<id>` Case JSON · `live/<id>` present while the case's timers run ·
//! `index/live` set once `live/` covers every case · `mid/<message-id>` case id (sent and received) ·
//! `rmid/<from>/<message-id>` hash of a received message · `msg/<hash>` MessageRecord JSON ·
//! `raw/<hash>` bytes as received · `att/<hash>/<n>` attachment bytes · `seq/<prefix>/<year>`
//! last case number · `rate/<addr>` recent automatic replies · `told/<addr>` fingerprint told ·
//! `cert/<addr>` learnt cert · `out/<id>` outbox entry · `dead/<id>` undeliverable entry ·
//! `imap/<uidvalidity>` last handled uid · `sig/<digest>` time a signed command mail acted
//! (replay protection) · `timer/digest` when the last team digest went out · `dist/<id>`
//! Distributor JSON (confidential: never logged).
//!
//! sled allows one process: while the daemon runs, other commands cannot open the store and
//! say so ([`Store::open`] names the lock).
//!
//! Invariant: callers flush (`flush`) before any outside effect that relies on a write.
use crate::core::disclose::ListChange;
use crate::core::effect::{Changes, Mark, Queued};
use crate::core::keys::{self, Cert};
use crate::core::limits;
use crate::core::pipeline::View;
use crate::core::thread::Lookup;
use crate::model::{Case, CaseId, Distributor, DistributorId, EventKind};
use anyhow::{Context, Result};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One record of the store as `export` gives it: (tree name, key, value).
pub type Record = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Unfinished attempts at one message: in any batch, and as the only message in flight (only
/// those blame the message itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    pub total: u32,
    pub alone: u32,
}

impl Attempts {
    fn to_bytes(self) -> [u8; 8] {
        let mut b = [0; 8];
        b[..4].copy_from_slice(&self.total.to_be_bytes());
        b[4..].copy_from_slice(&self.alone.to_be_bytes());
        b
    }

    fn from_bytes(v: &[u8]) -> Attempts {
        let word = |i: usize| {
            v.get(i..i + 4)
                .and_then(|w| w.try_into().ok())
                .map_or(0, u32::from_be_bytes)
        };
        Attempts {
            total: word(0),
            alone: word(4),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Outbox ids: the highest written, and the highest known flushed. The outbox sends only
    /// entries up to `durable`, so nothing goes out before the change that queued it is on disk,
    /// however long the writer waits before its flush (a whole inbound batch).
    written: Arc<AtomicU64>,
    durable: Arc<AtomicU64>,
}

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

/// A case with its Message-ID index and its place in the index of running cases (`live/`).
fn put_case(b: &mut sled::Batch, case: &Case) {
    b.insert(format!("case/{}", case.id).as_bytes(), json(case));
    for id in &case.message_ids {
        b.insert(format!("mid/{id}").as_bytes(), case.id.as_str().as_bytes());
    }
    let live = format!("live/{}", case.id);
    if case.state.is_running() {
        b.insert(live.as_bytes(), &[]);
    } else {
        b.remove(live.as_bytes());
    }
    // Every store open has its index complete before anything writes (Store::open), so a
    // case written here keeps it so: a new store is marked with its first case.
    b.insert(LIVE_INDEXED, &[]);
}

/// Set once the `live/` index covers every case (stores written before it get it at open).
const LIVE_INDEXED: &[u8] = b"index/live";
/// 32 random bytes, made when the store is first opened (`Project::id_secret`).
const ID_SECRET: &[u8] = b"meta/id-secret";
/// The store-quota level the team was last told of.
const QUOTA_TOLD: &[u8] = b"meta/quota-told";

fn out_key(id: u64) -> String {
    format!("out/{id:020}")
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        // The store holds every report in the clear: its directory is 0700 before sled
        // writes a byte into it, and what an earlier version left wider is narrowed.
        crate::shell::private::create_dir_private(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let db = match sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            // sled's default page cache is 1 GiB; a daemon on a small machine keeps to 16 MiB
            // (the working set is the recent cases and the indexes; older cases are read from
            // disk, through the kernel's page cache, when needed).
            .cache_capacity(16 << 20)
            .open()
        {
            Ok(db) => db,
            Err(e) if is_lock_error(&e) => {
                return Err(anyhow::Error::new(StoreLocked(path.display().to_string())))
            }
            Err(e) => {
                return Err(e).with_context(|| format!("opening the store at {}", path.display()))
            }
        };
        crate::shell::private::restrict_tree(path)
            .with_context(|| format!("restricting the permissions in {}", path.display()))?;
        // Whatever is in the store when it opens is on disk; ids only grow.
        let start = db.generate_id().context("opening the store")?;
        let store = Store {
            db,
            written: Arc::new(AtomicU64::new(start)),
            durable: Arc::new(AtomicU64::new(start)),
        };
        store.index_running_cases(false)?;
        store.ensure_id_secret()?;
        Ok(store)
    }

    /// The distributor list, by id.
    pub fn distributors(&self) -> Vec<Distributor> {
        self.db
            .scan_prefix(b"dist/")
            .filter_map(|kv| kv.ok())
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    /// Adds, replaces or removes one distributor, flushed before returning.
    pub fn change_distributors(&self, change: &ListChange) -> Result<()> {
        let mut b = sled::Batch::default();
        apply_list_change(&mut b, change);
        self.db
            .apply_batch(b)
            .context("changing the distributor list")?;
        self.flush_blocking()
    }

    /// Bytes of an attachment kept with a message.
    pub fn attachment(&self, hash: &str, index: usize) -> Option<Vec<u8>> {
        self.db
            .get(format!("att/{hash}/{index}").as_bytes())
            .ok()?
            .map(|v| v.to_vec())
    }

    /// Adds outbox entries to `b`; returns the highest id used, for [`Store::written`] once
    /// the batch is applied.
    fn queue(&self, b: &mut sled::Batch, outgoing: &[Queued], now: DateTime<Utc>) -> Result<u64> {
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
    fn written(&self, id: u64) {
        self.written.fetch_max(id, Ordering::SeqCst);
    }

    fn get_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        let v = self.db.get(key.as_bytes()).ok()??;
        serde_json::from_slice(&v).ok()
    }

    /// Makes everything written so far durable (and the outbox entries among it sendable).
    pub async fn flush(&self) -> Result<()> {
        let upto = self.written.load(Ordering::SeqCst);
        self.db.flush_async().await.context("flushing the store")?;
        self.durable.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    pub fn flush_blocking(&self) -> Result<()> {
        let upto = self.written.load(Ordering::SeqCst);
        self.db.flush().context("flushing the store")?;
        self.durable.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// The cases whose timers run (open and not yet public), without reading the others.
    pub fn running_cases(&self) -> Vec<Case> {
        self.db
            .scan_prefix(b"live/")
            .keys()
            .filter_map(|k| k.ok())
            .filter_map(|k| {
                let id = std::str::from_utf8(&k[b"live/".len()..]).ok()?.to_string();
                self.get_json(&format!("case/{id}"))
            })
            .collect()
    }

    /// How many cases there are (every key is read: slow with a long history).
    pub fn case_count(&self) -> usize {
        self.db.scan_prefix(b"case/").keys().count()
    }

    /// How many cases are open (their timers run): the `live/` index only.
    /// The store's Message-ID secret (SECURITY.md, predictable ids). The shell sets it into
    /// `Project::id_secret` before the core makes any mail.
    pub fn id_secret(&self) -> crate::core::settings::IdSecret {
        crate::core::settings::IdSecret(
            self.db
                .get(ID_SECRET)
                .ok()
                .flatten()
                .map(|v| v.to_vec())
                .unwrap_or_default(),
        )
    }

    /// Makes the secret once, before any id derives from it.
    fn ensure_id_secret(&self) -> Result<()> {
        if self
            .db
            .get(ID_SECRET)
            .context("reading the store")?
            .is_some()
        {
            return Ok(());
        }
        let secret: [u8; 32] = rand::random();
        self.db
            .compare_and_swap(ID_SECRET, None as Option<&[u8]>, Some(&secret[..]))
            .context("writing the store")?
            .ok();
        // No flush of its own: mail with an id from it goes out only after a later flush,
        // which makes this earlier write durable too (sled flushes in order).
        Ok(())
    }

    /// Poison messages (SECURITY.md, cost bombs): the earlier attempts at each message that
    /// never finished (a crash, an abort, the time budget), without counting a new one.
    pub fn attempts(&self, hashes: &[String]) -> Result<Vec<Attempts>> {
        hashes
            .iter()
            .map(|h| {
                let v = self
                    .db
                    .get(format!("try/{h}").as_bytes())
                    .context("reading the store")?;
                Ok(v.map(|v| Attempts::from_bytes(&v)).unwrap_or_default())
            })
            .collect()
    }

    /// Counts one more attempt at each message (`alone`: it is the only one in flight),
    /// durably, before any is opened; returns the earlier counts. A count is removed when the
    /// message's result is committed.
    pub fn begin_attempts(&self, hashes: &[String], alone: bool) -> Result<Vec<Attempts>> {
        let before = self.attempts(hashes)?;
        let mut b = sled::Batch::default();
        for (h, a) in hashes.iter().zip(&before) {
            let next = Attempts {
                total: a.total + 1,
                alone: a.alone + u32::from(alone),
            };
            b.insert(format!("try/{h}").as_bytes(), &next.to_bytes());
        }
        self.db.apply_batch(b).context("writing to the store")?;
        self.flush_blocking()?;
        Ok(before)
    }

    /// Bytes the store takes on disk (sled's own figure).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// The store-quota level the team was last told of (`core::limits::store_quota`).
    pub fn quota_told(&self) -> u8 {
        self.db
            .get(QUOTA_TOLD)
            .ok()
            .flatten()
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
    }

    pub fn open_case_count(&self) -> usize {
        self.db.scan_prefix(b"live/").keys().count()
    }

    /// Builds the `live/` index from every case, once (a store written before it existed, or
    /// one just restored from a backup).
    fn index_running_cases(&self, force: bool) -> Result<()> {
        if !force
            && self
                .db
                .get(LIVE_INDEXED)
                .context("reading the store")?
                .is_some()
        {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        let mut any = false;
        for case in self.cases() {
            put_case(&mut b, &case);
            any = true;
        }
        // An empty store needs no index yet (and must stay empty for a restore).
        if !any {
            return Ok(());
        }
        b.insert(LIVE_INDEXED, &[]);
        self.db
            .apply_batch(b)
            .context("indexing the running cases")?;
        self.flush_blocking()
    }

    pub fn cases(&self) -> Vec<Case> {
        self.db
            .scan_prefix(b"case/")
            .filter_map(|kv| kv.ok())
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    pub fn message(&self, hash: &str) -> Option<crate::core::pipeline::MessageRecord> {
        self.get_json(&format!("msg/{hash}"))
    }

    pub fn raw(&self, hash: &str) -> Option<Vec<u8>> {
        self.db
            .get(format!("raw/{hash}").as_bytes())
            .ok()?
            .map(|v| v.to_vec())
    }

    /// Writes one step's [`Changes`] in one batch: the only place that writes one (the
    /// distributor list and restores aside). Returns the number of outbox entries queued;
    /// nothing is durable until [`Store::flush`].
    pub fn commit(&self, c: &Changes, now: DateTime<Utc>) -> Result<usize> {
        let mut b = sled::Batch::default();
        if let Some(m) = &c.message {
            let hash = &m.record.hash;
            b.insert(format!("msg/{hash}").as_bytes(), json(&m.record));
            b.insert(format!("raw/{hash}").as_bytes(), m.raw.as_slice());
            for (i, a) in m.attachments.iter().enumerate() {
                b.insert(format!("att/{hash}/{i}").as_bytes(), a.as_slice());
            }
            if let (Some(id), Some(from)) = (&m.record.message_id, &m.record.from) {
                b.insert(format!("rmid/{from}/{id}").as_bytes(), hash.as_bytes());
            }
        }
        for case in &c.cases {
            put_case(&mut b, case);
        }
        // One write per key even when several marks share it (the batch holds the last).
        let mut rates: std::collections::BTreeMap<String, Vec<DateTime<Utc>>> = Default::default();
        for mark in &c.marks {
            match mark {
                // Handled, whatever the outcome: no longer a poison candidate.
                Mark::Handled(hash) => b.remove(format!("try/{hash}").as_bytes()),
                Mark::CaseNumber(id) => {
                    let (prefix, year, seq) = split_id(id);
                    b.insert(
                        format!("seq/{prefix}/{year}").as_bytes(),
                        &seq.to_be_bytes(),
                    );
                }
                Mark::AutoReplied(addr) => {
                    for key in limits::keys(addr) {
                        let times = rates
                            .remove(&key)
                            .unwrap_or_else(|| self.recent_auto_replies(&key));
                        rates.insert(key, limits::record(times, c.rate_window, now));
                    }
                }
                Mark::ToldFingerprint(addr) => {
                    b.insert(format!("told/{addr}").as_bytes(), json(&now))
                }
                Mark::SignatureSeen(d) => b.insert(format!("sig/{d}").as_bytes(), json(&now)),
                Mark::CertLearnt { address, armored } => {
                    b.insert(format!("cert/{address}").as_bytes(), armored.as_bytes())
                }
                Mark::Payload { id, case } => {
                    b.insert(format!("pay/{id}").as_bytes(), case.as_str().as_bytes())
                }
                Mark::DigestSent(t) => b.insert(b"timer/digest".as_slice(), json(t)),
                Mark::QuotaTold(level) => b.insert(QUOTA_TOLD, &[*level]),
            }
        }
        for (key, times) in rates {
            b.insert(format!("rate/{key}").as_bytes(), json(&times));
        }
        for change in &c.list {
            apply_list_change(&mut b, change);
        }
        let last = self.queue(&mut b, &c.outbox, now)?;
        self.db.apply_batch(b).context("writing to the store")?;
        self.written(last);
        Ok(c.outbox.len())
    }

    /// When the last team digest went out (`timer/digest`).
    pub fn last_digest(&self) -> Option<DateTime<Utc>> {
        self.get_json("timer/digest")
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

    /// Every tree and record of the store, for `secmail backup`. Consistent because the
    /// store is opened exclusively (sled locks it): no daemon writes meanwhile.
    pub fn export(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for name in self.db.tree_names() {
            let tree = self
                .db
                .open_tree(&name)
                .context("opening a tree of the store")?;
            for kv in tree.iter() {
                let (k, v) = kv.context("reading the store")?;
                out.push((name.to_vec(), k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }

    /// True when the store holds no record at all (a restore goes only into such a store).
    /// What opening wrote (the id secret, the index marker) does not count.
    pub fn is_empty(&self) -> bool {
        self.db.tree_names().iter().all(|n| {
            self.db.open_tree(n).is_ok_and(|t| {
                t.iter().keys().all(|k| {
                    k.is_ok_and(|k| k == ID_SECRET || k == LIVE_INDEXED || k == QUOTA_TOLD)
                })
            })
        })
    }

    /// Whether these records carry a store's id secret (a backup made before it existed
    /// does not: the restored store keeps the one it made when opened).
    pub fn records_have_id_secret(records: &[Record]) -> bool {
        records
            .iter()
            .any(|(t, k, _)| t.as_slice() == b"__sled__default" && k.as_slice() == ID_SECRET)
    }

    /// Writes records exported by [`Store::export`] and flushes.
    pub fn import(&self, records: &[Record]) -> Result<()> {
        for (tree, k, v) in records {
            let t = self
                .db
                .open_tree(tree)
                .context("creating a tree of the store")?;
            t.insert(k.as_slice(), v.as_slice())
                .context("writing to the store")?;
        }
        self.index_running_cases(true)?;
        self.flush_blocking()
    }

    pub fn imap_last_uid(&self, uid_validity: u32) -> u32 {
        self.db
            .get(format!("imap/{uid_validity}").as_bytes())
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(0)
    }

    pub fn set_imap_last_uid(&self, uid_validity: u32, uid: u32) -> Result<()> {
        self.db
            .insert(
                format!("imap/{uid_validity}").as_bytes(),
                &uid.to_be_bytes(),
            )
            .context("recording the last IMAP uid")?;
        Ok(())
    }
}

/// The store is held by another process (sled's file lock), typically a running daemon.
#[derive(Debug, thiserror::Error)]
#[error("the store {0} is in use by another secmail process (a running `secmail run`?): sled lets one process open it at a time; stop the daemon first, or change the distributor list with a signed /distributors command to the security address")]
pub struct StoreLocked(pub String);

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn apply_list_change(b: &mut sled::Batch, change: &ListChange) {
    match change {
        ListChange::Add(d) => b.insert(format!("dist/{}", d.id).as_bytes(), json(d)),
        ListChange::Remove(id) => b.remove(dist_key(id).as_bytes()),
    }
}

fn dist_key(id: &DistributorId) -> String {
    format!("dist/{id}")
}

fn split_id(id: &CaseId) -> (String, String, u32) {
    let s = id.as_str();
    let mut parts = s.rsplitn(3, '-');
    let seq = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let year = parts.next().unwrap_or("").to_string();
    let prefix = parts.next().unwrap_or("").to_string();
    (prefix, year, seq)
}

impl Lookup for Store {
    fn case_of_message_id(&self, message_id: &str) -> Option<CaseId> {
        let v = self.db.get(format!("mid/{message_id}").as_bytes()).ok()??;
        let s = String::from_utf8(v.to_vec()).ok()?;
        serde_json::from_value(serde_json::Value::String(s)).ok()
    }

    fn case(&self, id: &CaseId) -> Option<Case> {
        self.get_json(&format!("case/{id}"))
    }
}

impl View for Store {
    fn seen(&self, hash: &str, _message_id: Option<&str>, _from: Option<&str>) -> bool {
        self.db
            .contains_key(format!("msg/{hash}").as_bytes())
            .unwrap_or(false)
    }

    fn earlier_with_id(&self, message_id: &str, from: &str) -> Option<Vec<u8>> {
        let hash = self
            .db
            .get(format!("rmid/{from}/{message_id}").as_bytes())
            .ok()??;
        let hash = String::from_utf8(hash.to_vec()).ok()?;
        self.db
            .get(format!("raw/{hash}").as_bytes())
            .ok()?
            .map(|v| v.to_vec())
    }

    fn recent_auto_replies(&self, address: &str) -> Vec<DateTime<Utc>> {
        self.get_json(&format!("rate/{address}"))
            .unwrap_or_default()
    }

    fn told_fingerprint(&self, address: &str) -> bool {
        self.db
            .contains_key(format!("told/{address}").as_bytes())
            .unwrap_or(false)
    }

    fn next_case_id(&self, prefix: &str, year: i32) -> CaseId {
        let last = self
            .db
            .get(format!("seq/{prefix}/{year}").as_bytes())
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(0);
        CaseId::new(prefix, year, last + 1)
    }

    fn distributors(&self) -> Vec<Distributor> {
        Store::distributors(self)
    }

    fn signature_seen(&self, digest: &str) -> bool {
        self.db
            .contains_key(format!("sig/{digest}").as_bytes())
            .unwrap_or(false)
    }

    fn case_of_payload(&self, id: &str) -> Option<CaseId> {
        let v = self.db.get(format!("pay/{id}").as_bytes()).ok()??;
        let s = String::from_utf8(v.to_vec()).ok()?;
        serde_json::from_value(serde_json::Value::String(s)).ok()
    }

    fn cert_for(&self, address: &str) -> Option<Cert> {
        let v = self.db.get(format!("cert/{address}").as_bytes()).ok()??;
        keys::parse_cert(&v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn changes(case: Case, outbox: Vec<Queued>) -> Changes {
        Changes {
            cases: vec![case],
            outbox,
            ..Changes::default()
        }
    }

    fn case(n: u32, state: State, now: DateTime<Utc>) -> Case {
        let mut c = Case::new(CaseId::new("SEC", 2026, n), format!("case {n}"), now);
        c.set_state(now, "test", state);
        c
    }

    #[test]
    fn only_running_cases_are_indexed_and_the_index_is_built_for_old_stores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let now = Utc::now();
        {
            let store = Store::open(&path).unwrap();
            let states = [State::New, State::Closed, State::Fixing, State::Disclosed];
            for (i, s) in states.into_iter().enumerate() {
                store
                    .commit(&changes(case(i as u32 + 1, s, now), vec![]), now)
                    .unwrap();
            }
            let ids = |store: &Store| -> Vec<String> {
                store
                    .running_cases()
                    .iter()
                    .map(|c| c.id.to_string())
                    .collect()
            };
            assert_eq!(ids(&store), ["SEC-2026-0001", "SEC-2026-0003"]);
            // Closing a case takes it out; reopening puts it back.
            store
                .commit(&changes(case(1, State::Rejected, now), vec![]), now)
                .unwrap();
            store
                .commit(&changes(case(2, State::Triage, now), vec![]), now)
                .unwrap();
            assert_eq!(ids(&store), ["SEC-2026-0002", "SEC-2026-0003"]);
            assert_eq!(store.case_count(), 4);
            // As a store written before the index: no index, no marker.
            for k in store.db.scan_prefix(b"live/").keys() {
                store.db.remove(k.unwrap()).unwrap();
            }
            store.db.remove(LIVE_INDEXED).unwrap();
            assert!(store.running_cases().is_empty());
            store.flush_blocking().unwrap();
        }
        // sled's background flusher may hold the file lock a moment after the drop: wait for
        // the lock to go (only that error), as a restarted daemon does.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(&path) {
                Ok(s) => break s,
                Err(e) if e.is::<StoreLocked>() && std::time::Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => panic!("{e:#}"),
            }
        };
        let ids: Vec<String> = store
            .running_cases()
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        assert_eq!(ids, ["SEC-2026-0002", "SEC-2026-0003"]);
    }

    #[test]
    fn the_outbox_sends_only_what_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let now = Utc::now();
        let out = crate::core::compose::Outgoing {
            message_id: "a@example.org".into(),
            envelope_from: "security@example.org".into(),
            rcpts: vec!["r@example.org".into()],
            raw: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            encrypted: false,
        };
        let c = case(1, State::New, now);
        store
            .commit(
                &changes(
                    c.clone(),
                    vec![Queued {
                        mail: out,
                        case: Some(c.id.clone()),
                        kind: "ack".into(),
                    }],
                ),
                now,
            )
            .unwrap();
        assert_eq!(store.outbox_len(), 1);
        assert_eq!(store.outbox_due(now).count(), 0, "not flushed yet");
        assert!(store.outbox_next_due().is_none());
        store.flush_blocking().unwrap();
        let due: Vec<_> = store.outbox_due(now).collect();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.message_id, "a@example.org");
    }
}
