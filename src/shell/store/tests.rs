//! The store's own tests: the index of running cases, the outbox sending only what is flushed,
//! and the snapshot written at close.
use super::*;
use crate::core::effect::Queued;
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

#[test]
fn close_writes_the_snapshot_only_as_the_last_handle_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let now = Utc::now();
    let store = Store::open(&path).unwrap();
    for n in 1..=50 {
        store
            .commit(&changes(case(n, State::New, now), vec![]), now)
            .unwrap();
    }
    let other = store.clone();
    // Another handle still holds sled: only flushed, no snapshot.
    assert!(!store.close().unwrap());
    assert!(other.close().unwrap());
    // sled names its snapshot files snap.<lsn>: one is there now, and the store reads back.
    let snapshots = std::fs::read_dir(&path)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .count();
    assert!(snapshots >= 1, "no snapshot written");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.case_count(), 50);
    assert_eq!(store.running_cases().len(), 50);
}
