//! The sled store: cases, messages (raw and decrypted), indexes and the outbox, in one tree
//! with key prefixes, so that everything one message changes is written in one atomic batch.
//!
//! Keys: `case/<id>` Case JSON · `live/<id>` present while the case's timers run ·
//! `index/live` set once `live/` covers every case · `mid/<message-id>` case id (sent and received) ·
//! `rmid/<from>/<message-id>` hash of a received message · `msg/<hash>` MessageRecord JSON ·
//! `raw/<hash>` bytes as received (of mail over the size limit, its header alone) · `att/<hash>/<n>` attachment bytes · `seq/<prefix>/<year>`
//! last case number · `rate/<addr>` recent automatic replies · `told/<addr>` fingerprint told ·
//! `large/<addr>` told how to send mail over the size limit ·
//! `cert/<addr>` learnt cert · `out/<id>` outbox entry · `dead/<id>` undeliverable entry ·
//! `imap/<uidvalidity>` last handled uid · `sig/<digest>` time a signed command mail acted
//! (replay protection) · `timer/digest` when the last team digest went out · `dist/<id>`
//! Distributor JSON (confidential: never logged).
//!
//! sled allows one process: while the daemon runs, other commands cannot open the store and
//! say so ([`Store::open`] names the lock).
//!
//! Invariant: callers flush (`flush`) before any outside effect that relies on a write.
//!
//! Rooms: [`outbox`] (the entries waiting to be sent and their bookkeeping), `view` (what the
//! pure pipeline may ask: [`View`] and [`Lookup`]); this file opens the store and writes it.
mod outbox;
mod view;

use crate::core::disclose::ListChange;
use crate::core::effect::{Changes, Mark};
use crate::core::limits;
use crate::core::pipeline::View;
use crate::model::{Case, CaseId, Distributor, DistributorId};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
pub use outbox::OutboxEntry;
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
    /// Where it is, to reopen it once at [`Store::close`].
    path: Arc<std::path::PathBuf>,
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
        let db = open_db(path)?;
        crate::shell::private::restrict_tree(path)
            .with_context(|| format!("restricting the permissions in {}", path.display()))?;
        // Whatever is in the store when it opens is on disk; ids only grow.
        let start = db.generate_id().context("opening the store")?;
        let store = Store {
            db,
            written: Arc::new(AtomicU64::new(start)),
            durable: Arc::new(AtomicU64::new(start)),
            path: Arc::new(path.to_path_buf()),
        };
        store.index_running_cases(false)?;
        store.ensure_id_secret()?;
        Ok(store)
    }

    /// Closes the store after a run (a clean stop of the daemon): flushes it, and, when this
    /// is the last handle, opens and closes it once more. sled writes the snapshot of its log
    /// only when it opens, and replays at every open what was written since the last snapshot:
    /// without this the first start after a long run reads everything that run wrote (815 ms
    /// with 10,000 cases written, issue 14.4); with it the replay happens here, at the stop,
    /// and the next start reads the snapshot. After a crash the next start still replays.
    /// Returns whether the snapshot was written (not while another handle holds the store).
    pub fn close(self) -> Result<bool> {
        self.flush_blocking()?;
        let path = self.path.clone();
        drop(self);
        match open_db(&path) {
            Ok(db) => {
                drop(db);
                Ok(true)
            }
            Err(e) if e.downcast_ref::<StoreLocked>().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Opens sled at `path` (created 0700), or says that another process holds it.
fn open_db(path: &Path) -> Result<sled::Db> {
    {
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
        Ok(db)
    }
}

impl Store {
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

    /// How many messages are kept in quarantine (`secmail status`, the metrics).
    pub fn quarantined_count(&self) -> usize {
        self.messages()
            .filter(|m| {
                matches!(
                    m.disposition,
                    crate::core::apply::Disposition::Quarantine(_)
                )
            })
            .count()
    }

    /// Every message record, read one at a time (only the records: not the raw bytes or the
    /// attachments kept beside them).
    pub fn messages(&self) -> impl Iterator<Item = crate::core::pipeline::MessageRecord> + '_ {
        self.db
            .scan_prefix(b"msg/")
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| serde_json::from_slice(&v).ok())
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
                Mark::ToldTooLarge(addr) => {
                    b.insert(format!("large/{addr}").as_bytes(), json(&now))
                }
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

    /// Every tree and record of the store, for `secmail backup`. Consistent because the caller
    /// holds the store alone (sled's lock) or, in the daemon, its case-write lock, so that no
    /// case changes meanwhile.
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
#[error("the store {0} is in use by another secmail process that does not serve commands (an import, a backup, or a daemon still starting; a running daemon answers on its control socket): wait for it, or change the distributor list with a signed /distributors command to the security address")]
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

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may read the real clock
mod tests;
