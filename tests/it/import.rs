//! `secmail import` (issue 5): an mbox file and an IMAP folder of old mail become cases, old
//! reporters get nothing (recorded "not sent: imported"), the source is left as it was, and a
//! second run changes nothing.
use super::common::repo;
use super::crash::{submit_reports, Live, REPORTERS, SECURITY};
use super::harness::{servers_or_skip, wait_until_async, WAIT};
use super::service::Local;

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
    wait_until_async(
        "the five reports in INBOX",
        WAIT,
        async || servers.list(SECURITY, "INBOX").await.unwrap().len() >= 5,
        String::new,
    )
    .await;
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

#[test]
fn imported_cases_are_history_until_a_team_member_acts() {
    // Issue 11.10: after an import, the timers wrote to old reporters (progress updates) and
    // escalated deadlines long missed; and a case opened at the import time.
    let local = super::harness::Deployment::local()
        .policy("preset = \"enarx\"")
        .build();
    let old = b"From: Old Reporter <old@reporter.example>\r\nTo: security@example.org\r\nSubject: An old overflow\r\nMessage-ID: <old-1@reporter.example>\r\nDate: Mon, 02 Mar 2020 10:00:00 +0000\r\n\r\nThe parser overflowed, back in 2020.\r\n".to_vec();
    let mbox = local.path().join("old.mbox");
    std::fs::write(&mbox, mbox_of(&[old])).unwrap();
    let at = |t: &str, args: &[&str]| {
        let out = local.cmd(args).env("SECMAIL_NOW", t).output().unwrap();
        super::service::assert_ok(&out, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    at(
        "2026-11-30T09:00:00Z",
        &["import", "--mbox", mbox.to_str().unwrap()],
    );
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["cases", "--json"])).unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(
        cases[0]["opened"], "2020-03-02T10:00:00Z",
        "an imported case opens at its mail's Date"
    );
    // A month of timer passes later: nothing to the reporter, no reminder, no escalation.
    for day in [
        "2026-12-02T10:00:00Z",
        "2026-12-09T10:00:00Z",
        "2026-12-30T10:00:00Z",
    ] {
        at(day, &["run", "--once"]);
    }
    let sent: Vec<String> = local
        .outbox_files()
        .into_iter()
        .filter(|f| !f.starts_with("digest."))
        .collect();
    assert!(sent.is_empty(), "imported history wrote: {sent:?}");

    // A member takes it up: from then on the policy's clock runs for it, from that moment.
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let id = cases[0]["id"].as_str().unwrap();
    let (command, _) = super::common::signed_encrypted(
        &super::common::secret("team-alice-secret.asc"),
        &format!("From: Alice Demo <alice@example.org>\r\nTo: security@example.org\r\nSubject: Re: [{id}] An old overflow\r\nMessage-ID: <take-up@example.org>\r\n"),
        &super::common::text_payload(&format!("/case {id}\n/assign me\n")),
        t("2027-01-05T10:00:00Z"),
    );
    local.deliver(&command, "take-up.eml");
    let out = at("2027-01-05T10:00:00Z", &["run", "--once"]);
    assert!(out.contains("team command"), "{out}");
    at("2027-01-12T10:00:00Z", &["run", "--once"]);
    let timers: Vec<String> = local
        .outbox_files()
        .into_iter()
        .filter(|f| {
            ["reminder.", "escalation.", "progress."]
                .iter()
                .any(|k| f.starts_with(k))
        })
        .collect();
    assert!(
        !timers.is_empty(),
        "the clock did not start once a member acted: {:?}",
        local.outbox_files()
    );
    let case: serde_json::Value = serde_json::from_str(&local.ok(&["case", id, "--json"])).unwrap();
    assert_eq!(case["opened"], "2020-03-02T10:00:00Z");
}

#[test]
fn an_import_tells_the_team_of_what_it_kept_in_one_alert() {
    // With --team-copies the team hears of imported mail; what became no case is one batched
    // alert for the whole import, not one per message (issue 11).
    let local = Local::new();
    let kept: Vec<Vec<u8>> = (0..3)
        .map(|n| format!("To: security@example.org\r\nSubject: no sender {n}\r\nMessage-ID: <nofrom-{n}@example.net>\r\n\r\nwho am I\r\n").into_bytes())
        .collect();
    let mbox = local.path().join("old.mbox");
    std::fs::write(&mbox, mbox_of(&kept)).unwrap();
    let out = local.ok(&["import", "--mbox", mbox.to_str().unwrap(), "--team-copies"]);
    assert!(out.contains("3 quarantined"), "{out}");
    local.ok(&["run", "--once"]);
    let alerts: Vec<String> = local
        .outbox_files()
        .into_iter()
        .filter(|f| f.starts_with("team-alert."))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alice = super::common::secret("team-alice-secret.asc");
    let text = super::common::open_sent(
        &std::fs::read(local.outbox().join(&alerts[0])).unwrap(),
        &alice,
    );
    for n in 0..3 {
        assert!(text.contains(&format!("nofrom-{n}@example.net")), "{text}");
    }
}
