//! Crash safety against the real servers (issue 5): the real `secmail run` daemon is killed
//! with SIGKILL at random points while it works through a batch of reports, restarted, killed
//! again; afterwards every report is in exactly one case, every acknowledgement and team copy
//! went out, none twice except the one in flight at a kill (same Message-ID), and the store
//! opens cleanly with an empty outbox.
//!
//! CI size: 60 reports, 5 kills. `SECMAIL_KILL_MESSAGES` and `SECMAIL_KILLS` make it bigger
//! (contrib/stress/kill-loop.sh runs 300 and 30 in release mode).
use super::harness::mail::{header, plain_report};
use super::harness::{servers_or_skip, wait_until_async, Deployment, MailServers, Setup};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The addresses by the names faults.rs and import.rs use.
pub use super::harness::mail::{ALICE, SECURITY};
/// Every reporter writes as `rep+N@reporter.example`; all land in this one mailbox.
pub const REPORTERS: &str = "rep@reporter.example";
pub const WAIT: Duration = Duration::from_secs(60);

/// secmail against the test servers as the crash and fault tests run it: IMAP in, SMTP out
/// retried after a second, Alice the one team member, the backscatter limits raised (one test
/// mailbox receives every reporter's ack) and no poison messages (the kills are the test's).
pub fn live(servers: &MailServers) -> Setup {
    Deployment::imap(servers).retry_min("1s").extra(
        "[limits]\n\
         auto-replies-per-address = 10000\n\
         auto-replies-per-domain = 10000\n\
         auto-replies-overall = 10000\n\
         poison-after = 1000",
    )
}

/// [`live`] by the name import.rs uses, with the store at `store` if given.
pub struct Live;

impl Live {
    #[allow(clippy::new_ret_no_self)] // a preset of `Deployment`, not a type of its own
    pub fn new(servers: &MailServers, store: Option<&Path>) -> Deployment {
        match store {
            Some(path) => live(servers).store(&path.display().to_string()),
            None => live(servers),
        }
        .build()
    }
}

/// Reports 1 to n (or any range) submitted over SMTP, each from its own `rep+N@` address.
pub async fn submit_reports(servers: &MailServers, range: std::ops::RangeInclusive<usize>) {
    for i in range {
        let from = format!("rep+{i}@reporter.example");
        servers
            .submit(&from, &[SECURITY], &plain_report(i, &from))
            .await
            .unwrap();
    }
}

/// The Message-ID of a raw message.
fn message_id(raw: &[u8]) -> Option<String> {
    header(&String::from_utf8_lossy(raw), "Message-ID").map(str::to_string)
}

/// Message-IDs of the messages in `user`'s INBOX whose Message-ID starts with `prefix`,
/// grouped by the given header (e.g. To); each value counts copies per Message-ID.
pub async fn delivered(
    servers: &MailServers,
    user: &str,
    prefix: &str,
    by: &str,
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for m in servers.list(user, "INBOX").await.unwrap() {
        let Some(id) = message_id(&m).filter(|i| i.starts_with(prefix)) else {
            continue;
        };
        let key = header(&String::from_utf8_lossy(&m), by)
            .unwrap_or_default()
            .to_string();
        *out.entry(key).or_default().entry(id).or_default() += 1;
    }
    out
}

/// Waits until `user`'s INBOX holds `n` distinct Message-IDs starting with `prefix`.
pub async fn wait_delivered(
    servers: &MailServers,
    user: &str,
    prefix: &str,
    n: usize,
    live: &Deployment,
) {
    let got = std::cell::Cell::new(0);
    wait_until_async(
        &format!("{n} {prefix}… delivered to {user}"),
        WAIT,
        async || {
            got.set(
                servers
                    .list(user, "INBOX")
                    .await
                    .unwrap()
                    .iter()
                    .filter_map(|m| message_id(m))
                    .filter(|i| i.starts_with(prefix))
                    .collect::<BTreeSet<String>>()
                    .len(),
            );
            got.get() >= n
        },
        || format!("{user}: {} of {n} delivered\n{}", got.get(), live.log()),
    )
    .await;
}

/// Everything the end state must satisfy after `n` reports and `kills` SIGKILLs.
pub async fn check_nothing_lost(servers: &MailServers, live: &Deployment, n: usize, kills: usize) {
    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());
    assert_eq!(
        servers
            .list(SECURITY, "secmail/processed")
            .await
            .unwrap()
            .len(),
        n,
        "processed folder"
    );
    // The store opens cleanly (the daemon is stopped): one case per report, one reporter each,
    // one received event each, an empty outbox.
    let config = secmail::config::Config::load(&live.conf, std::time::SystemTime::now()).unwrap();
    let store = secmail::shell::store::Store::open(&config.store_path).unwrap();
    let cases = store.cases();
    assert_eq!(cases.len(), n, "one case per report");
    let mut reporters = BTreeSet::new();
    for c in &cases {
        assert_eq!(c.reporters.len(), 1, "{}", c.id);
        assert!(
            reporters.insert(c.reporters[0].address.clone()),
            "two cases for {}",
            c.reporters[0].address
        );
        let received = c
            .timeline
            .iter()
            .filter(|e| matches!(e.kind, secmail::model::EventKind::Received { .. }))
            .count();
        assert_eq!(received, 1, "{} received the report {received} times", c.id);
    }
    assert_eq!(store.outbox_len(), 0, "outbox not drained");
    drop(store);

    // Every acknowledgement once, except re-sends of one in flight at a kill (same Message-ID).
    let acks = delivered(servers, REPORTERS, "<ack.", "To").await;
    assert_eq!(acks.len(), n, "reporters with an acknowledgement");
    let mut resent = 0;
    for (to, ids) in &acks {
        assert_eq!(ids.len(), 1, "{to} got different acknowledgements: {ids:?}");
        resent += ids.values().sum::<usize>() - 1;
    }
    let copies = delivered(servers, ALICE, "<team-copy.", "Message-ID").await;
    assert_eq!(copies.len(), n, "team copies");
    resent += copies
        .values()
        .map(|m| m.values().sum::<usize>() - 1)
        .sum::<usize>();
    eprintln!("{n} reports, {kills} kills: {resent} message(s) re-sent after a kill");
    assert!(resent <= kills, "{resent} re-sends for {kills} kills");
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_points_loses_nothing() {
    let Some(servers) = servers_or_skip(&[SECURITY, ALICE, REPORTERS]) else {
        return;
    };
    let n = env_or("SECMAIL_KILL_MESSAGES", 60);
    let kills = env_or("SECMAIL_KILLS", 5);
    let live = live(&servers).build();
    submit_reports(&servers, 1..=n).await;
    let seed: u64 = rand::thread_rng().gen();
    eprintln!("kill loop seed {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let started = Instant::now();
    let mut handled_at_kill = Vec::new();
    for _ in 0..kills {
        let mut daemon = live.spawn(&[]);
        // A random point: after the start-up, somewhere in the work. (The sleep is the point
        // in time chosen, not a wait for a condition.)
        let after = Duration::from_millis(rng.gen_range(150..1200));
        std::thread::sleep(after);
        daemon.kill();
        handled_at_kill.push(daemon.log().matches("message handled").count());
    }
    eprintln!("messages handled per run before its SIGKILL: {handled_at_kill:?}");
    // Started (READY=1), not spawned: when the killed runs sent everything, the deliveries
    // below are there at once, and the SIGTERM would land in the middle of the start-up.
    let daemon = live.start();
    wait_delivered(&servers, REPORTERS, "<ack.", n, &live).await;
    wait_delivered(&servers, ALICE, "<team-copy.", n, &live).await;
    daemon.stop();
    eprintln!(
        "kill loop: {n} reports, {kills} kills, done in {:?}",
        started.elapsed()
    );
    check_nothing_lost(&servers, &live, n, kills).await;
}
