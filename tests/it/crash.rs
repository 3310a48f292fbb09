//! Crash safety against the real servers (issue 5): the real `secmail run` daemon is killed
//! with SIGKILL at random points while it works through a batch of reports, restarted, killed
//! again; afterwards every report is in exactly one case, every acknowledgement and team copy
//! went out, none twice except the one in flight at a kill (same Message-ID), and the store
//! opens cleanly with an empty outbox.
//!
//! CI size: 60 reports, 5 kills. `SECMAIL_KILL_MESSAGES` and `SECMAIL_KILLS` make it bigger
//! (contrib/stress/kill-loop.sh runs 300 and 30 in release mode).
use super::common::repo;
use super::harness::{servers_or_skip, MailServers};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const SECURITY: &str = "security@example.org";
pub const ALICE: &str = "alice@example.org";
/// Every reporter writes as `rep+N@reporter.example`; all land in this one mailbox.
pub const REPORTERS: &str = "rep@reporter.example";
pub const WAIT: Duration = Duration::from_secs(60);

/// secmail against the test servers: config, store and logs in a temp dir.
pub struct Live {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    runs: usize,
    pids: Vec<u32>,
}

impl Drop for Live {
    /// A failed test must not leave its daemon running.
    fn drop(&mut self) {
        kill_leftovers(&self.pids, &self.conf);
    }
}

/// SIGKILLs those of `pids` still running `secmail --config conf`.
pub fn kill_leftovers(pids: &[u32], conf: &Path) {
    for pid in pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&*conf.to_string_lossy()) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

impl Live {
    pub fn new(servers: &MailServers, store: Option<&Path>) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("imap-password");
        std::fs::write(&pw, MailServers::password(SECURITY)).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = repo();
        let conf = dir.path().join("security.conf");
        let store = store
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("store"));
        std::fs::write(
            &conf,
            format!(
                r#"
[project]
name = "Example Project"
security-address = "{SECURITY}"
demo-keys = true
[keys]
secret = ["{r}/keys/demo-project-secret.asc"]
[inbound]
kind = "imap"
host = "127.0.0.1"
port = {imap}
security = "plain"
user = "{SECURITY}"
password-file = "{pw}"
idle-max = "20s"
[outbound]
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
security = "plain"
retry-min = "1s"
[store]
path = "{store}"
[templates]
dir = "{r}/templates"
# One test mailbox receives every reporter's ack: the backscatter limits are raised.
[limits]
auto-replies-per-address = 10000
auto-replies-per-domain = 10000
auto-replies-overall = 10000
# The kills here are the test's, not the messages': none is a poison message.
poison-after = 1000
[[team]]
name = "Alice Demo"
address = "{ALICE}"
cert = "{r}/keys/team-alice.asc"
role = "handler"
"#,
                r = r.display(),
                imap = servers.imap_port(),
                smtp = servers.smtp_port(),
                pw = pw.display(),
                store = store.display(),
            ),
        )
        .unwrap();
        Live {
            dir,
            conf,
            runs: 0,
            pids: Vec::new(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        crate::common::secmail(&self.conf, args)
    }

    /// Starts the daemon; its log is `run-N.log`.
    pub fn spawn(&mut self, env: &[(&str, &str)]) -> Child {
        self.runs += 1;
        let child = crate::common::spawn_logged(self.cmd(&["run"]), &self.log_path(), env);
        self.pids.push(child.id());
        child
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("run-{}.log", self.runs))
    }

    /// The log of the current run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn wait_log(&self, what: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the daemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&self, mut child: Child) {
        signal(&child, "TERM");
        let status = child.wait().unwrap();
        assert!(status.success(), "exit status {status}:\n{}", self.log());
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {}", child.id());
}

/// Reports 1 to n (or any range) submitted over SMTP, each from its own `rep+N@` address.
pub async fn submit_reports(servers: &MailServers, range: std::ops::RangeInclusive<usize>) {
    for i in range {
        servers
            .submit(
                &format!("rep+{i}@reporter.example"),
                &[SECURITY],
                &report(i),
            )
            .await
            .unwrap();
    }
}

pub fn report(n: usize) -> Vec<u8> {
    format!(
        "From: Reporter {n} <rep+{n}@reporter.example>\r\nTo: {SECURITY}\r\nSubject: Issue {n}\r\n\
         Message-ID: <report-{n}@reporter.example>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nDetails of issue {n}.\r\n"
    )
    .into_bytes()
}

pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next()?;
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::to_string)
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
        let Some(id) = header(&m, "Message-ID").filter(|i| i.starts_with(prefix)) else {
            continue;
        };
        let key = header(&m, by).unwrap_or_default();
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
    live: &Live,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got: BTreeSet<String> = servers
            .list(user, "INBOX")
            .await
            .unwrap()
            .iter()
            .filter_map(|m| header(m, "Message-ID"))
            .filter(|i| i.starts_with(prefix))
            .collect();
        if got.len() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{user}: {} of {n} {prefix}… delivered\n{}",
            got.len(),
            live.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything the end state must satisfy after `n` reports and `kills` SIGKILLs.
pub async fn check_nothing_lost(servers: &MailServers, live: &Live, n: usize, kills: usize) {
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
    let mut live = Live::new(&servers, None);
    submit_reports(&servers, 1..=n).await;
    let seed: u64 = rand::thread_rng().gen();
    eprintln!("kill loop seed {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let started = Instant::now();
    let mut handled_at_kill = Vec::new();
    for _ in 0..kills {
        let mut child = live.spawn(&[]);
        // A random point: after the start-up, somewhere in the work.
        let after = Duration::from_millis(rng.gen_range(150..1200));
        std::thread::sleep(after);
        signal(&child, "KILL");
        child.wait().unwrap();
        handled_at_kill.push(live.log().matches("message handled").count());
    }
    eprintln!("messages handled per run before its SIGKILL: {handled_at_kill:?}");
    let child = live.spawn(&[]);
    wait_delivered(&servers, REPORTERS, "<ack.", n, &live).await;
    wait_delivered(&servers, ALICE, "<team-copy.", n, &live).await;
    live.stop(child);
    eprintln!(
        "kill loop: {n} reports, {kills} kills, done in {:?}",
        started.elapsed()
    );
    check_nothing_lost(&servers, &live, n, kills).await;
}
