//! `secmail import` (issue 5): an mbox file and an IMAP folder of old mail become cases, old
//! reporters get nothing (recorded "not sent: imported"), the source is left as it was, and a
//! second run changes nothing.
use super::common::repo;
use super::crash::{submit_reports, Live, REPORTERS, SECURITY};
use super::harness::servers_or_skip;
use super::service::Local;
use std::time::{Duration, Instant};

fn mbox_of(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(b"From someone@example.net Sat Nov 28 10:00:00 2026\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            let gt = line.iter().take_while(|&&b| b == b'>').count();
            if line[gt..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        if !m.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

#[test]
fn import_mbox_twice_opens_cases_once_and_writes_to_nobody() {
    let local = Local::new();
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(repo().join("fixtures/demo/maildir/new"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    messages.push(b"From: x@example.net\r\nSubject: quoting\r\nMessage-ID: <q@example.net>\r\n\r\nFrom the start of a line.\r\n".to_vec());
    let mbox = local.path().join("old.mbox");
    std::fs::write(&mbox, mbox_of(&messages)).unwrap();
    let out = local.ok(&["import", "--mbox", mbox.to_str().unwrap()]);
    assert!(
        out.contains(&format!("imported {} message(s)", messages.len())),
        "{out}"
    );
    assert!(out.contains("0 message(s) queued"), "{out}");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["cases", "--json"])).unwrap();
    assert!(cases.len() >= 4, "{cases:?}");
    assert!(local.outbox_files().is_empty(), "an import sent mail");
    let case = local.ok(&["case", cases[0]["id"].as_str().unwrap()]);
    assert!(case.contains("not sent: imported"), "{case}");
    assert!(!case.contains("sent ack"), "{case}");

    let again = local.ok(&["import", "--mbox", mbox.to_str().unwrap()]);
    assert!(
        again.contains(&format!("0 new, {} already known", messages.len())),
        "{again}"
    );
    let after: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["cases", "--json"])).unwrap();
    assert_eq!(after.len(), cases.len());
    // The daemon, started later, has nothing to send for the imported mail.
    local.ok(&["run", "--once"]);
    assert!(
        local.outbox_files().is_empty(),
        "imported mail answered later"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_imap_folder_reads_without_moving() {
    let Some(servers) = servers_or_skip(&[SECURITY, REPORTERS]) else {
        return;
    };
    let live = Live::new(&servers, None);
    submit_reports(&servers, 1..=5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while servers.list(SECURITY, "INBOX").await.unwrap().len() < 5 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for round in 0..2 {
        let out = live
            .cmd(&["import", "--imap-folder", "INBOX"])
            .output()
            .unwrap();
        super::service::assert_ok(&out, &["import"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let want = if round == 0 {
            "5 new, 0 already known"
        } else {
            "0 new, 5 already known"
        };
        assert!(stdout.contains(want), "{stdout}");
    }
    assert_eq!(
        servers.list(SECURITY, "INBOX").await.unwrap().len(),
        5,
        "import moved mail"
    );
    let config = secmail::config::Config::load(&live.conf, std::time::SystemTime::now()).unwrap();
    let store = secmail::shell::store::Store::open(&config.store_path).unwrap();
    assert_eq!(store.cases().len(), 5);
    assert_eq!(store.outbox_len(), 0);
}
