//! A batch of inbound messages through the pipeline on every core (issue 6), with the result of
//! handling them one at a time:
//!
//! 1. all are opened (parsed, decrypted, verified) at once, spread over the cores: that part
//!    only reads the store;
//! 2. then, in arrival order, each is finished (threaded, its case changed) with its outgoing
//!    messages signed and encrypted over the cores, and written to the store in its own batch,
//!    so the next message sees the change (per-case order and case numbers as before).
//!
//! Nothing here flushes: the caller flushes once for the whole batch before any outside effect
//! (a move on the server, a send). A panic met by one message quarantines that message only.
use super::daemon::StoreUnwritable;
use super::store::Store;
use crate::config::Config;
use crate::core::compose::{self, Templates};
use crate::core::pipeline::{self, Processed};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// One message's result: what the pipeline made of it, how many outbox entries it queued, and
/// whether it met a bug (and was quarantined for it).
pub struct Done {
    pub processed: Processed,
    pub queued: usize,
    pub panicked: bool,
}

/// Runs `raws` through the pipeline with up to `threads` threads and commits each result in
/// arrival order. Blocking: call it from a blocking task.
pub fn handle_all(
    raws: &[Vec<u8>],
    store: &Store,
    config: &Config,
    templates: &Templates,
    now: DateTime<Utc>,
    threads: usize,
) -> Result<Vec<Done>> {
    // Poison messages (SECURITY.md, cost bombs). A batch that was in flight when the process
    // died is handled one message at a time, so that only the message in flight is blamed;
    // one whose attempts alone never finished `poison-after` times is not opened again.
    let hashes: Vec<String> = raws.iter().map(|r| pipeline::hash(r)).collect();
    let prior = store.attempts(&hashes).context(StoreUnwritable)?;
    if raws.len() > 1 && prior.iter().any(|a| a.total > 0) {
        let mut all = Vec::with_capacity(raws.len());
        for raw in raws {
            all.extend(handle_all(
                std::slice::from_ref(raw),
                store,
                config,
                templates,
                now,
                threads,
            )?);
        }
        return Ok(all);
    }
    let attempts = store
        .begin_attempts(&hashes, raws.len() == 1)
        .context(StoreUnwritable)?;
    // Only a message alone in its batch can be poison (a batch with earlier attempts was split
    // above): it is not opened, since opening may be what stops us.
    if let ([raw], [tries]) = (raws, attempts.as_slice()) {
        if tries.alone >= config.limits.poison_after {
            let processed = pipeline::poisoned(raw, tries.alone, config, templates, now);
            let queued = store
                .commit(&processed.changes, now)
                .context(StoreUnwritable)?;
            return Ok(vec![Done {
                processed,
                queued,
                panicked: false,
            }]);
        }
    }
    let openings = map(raws, threads, |raw| pipeline::open(raw, store, config, now));
    let compose_all = |drafts: &[crate::core::draft::Draft]| {
        map(drafts, threads, |d| {
            compose::render(d, templates, &config.keys, &config.project, now)
        })
        .into_iter()
        // A panic while composing is the message's: its catch below quarantines it.
        .map(|r| r.unwrap_or_else(|p| resume_unwind(p)))
        .collect()
    };
    let mut done = Vec::with_capacity(raws.len());
    for (raw, opening) in raws.iter().zip(openings) {
        let finished = opening.and_then(|o| {
            catch_unwind(AssertUnwindSafe(|| {
                pipeline::finish(raw, o, store, config, now, &compose_all)
            }))
        });
        let (processed, panicked) = match finished {
            Ok(p) => (p, false),
            Err(_) => (
                pipeline::quarantined(
                    raw,
                    "internal error while handling it",
                    config,
                    templates,
                    now,
                ),
                true,
            ),
        };
        let queued = store
            .commit(&processed.changes, now)
            .context(StoreUnwritable)?;
        done.push(Done {
            processed,
            queued,
            panicked,
        });
    }
    Ok(done)
}

/// `f` over `items` on up to `threads` threads, results in item order; a panic in `f` becomes
/// that item's `Err`. The threads are a pool kept for the process (rayon), one per `threads`
/// asked for: this runs once per message (its drafts), and a thread started and joined per
/// call cost more than the work it shared (issue 14: a clone, a fresh stack's page faults and
/// its unmapping, per report).
pub fn map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<std::thread::Result<R>> {
    use rayon::prelude::*;
    let call = |x: &T| catch_unwind(AssertUnwindSafe(|| f(x)));
    match pool(threads.min(items.len())) {
        None => items.iter().map(call).collect(),
        Some(pool) => pool.install(|| items.par_iter().map(call).collect()),
    }
}

/// The kept pool of `threads` threads; none for one thread (the caller's own), or if the
/// system refuses threads (then the caller does the work alone).
fn pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    static POOLS: Mutex<BTreeMap<usize, Arc<rayon::ThreadPool>>> = Mutex::new(BTreeMap::new());
    if threads <= 1 {
        return None;
    }
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Some(p.clone());
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("secmail-crypto-{i}"))
        .build();
    match built {
        Ok(p) => {
            let p = Arc::new(p);
            pools.insert(threads, p.clone());
            Some(p)
        }
        Err(e) => {
            tracing::warn!(error = %e, threads, "no worker threads: handling on one");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order_and_catches_panics() {
        let items: Vec<u32> = (0..50).collect();
        for threads in [1, 2, 4, 100] {
            let out = map(&items, threads, |&x| {
                if x == 7 {
                    panic!("seven");
                }
                x * 2
            });
            assert_eq!(out.len(), 50);
            for (i, r) in out.into_iter().enumerate() {
                match r {
                    Ok(v) => assert_eq!(v, i as u32 * 2),
                    Err(_) => assert_eq!(i, 7),
                }
            }
        }
        assert!(map(&[] as &[u32], 2, |&x| x).is_empty());
    }

    #[test]
    fn map_uses_more_than_one_thread() {
        let barrier = std::sync::Barrier::new(2);
        // Two items wait for each other: this only finishes if two threads run them.
        let out = map(&[0u32, 1], 2, |_| {
            barrier.wait();
            std::thread::current().id()
        });
        let ids: Vec<_> = out.into_iter().map(|r| r.unwrap()).collect();
        assert_ne!(ids[0], ids[1]);
    }
}
