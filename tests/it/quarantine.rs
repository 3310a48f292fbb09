//! Nothing quarantined in silence (issue 11): every message that becomes or joins no case is
//! shown to the team in an encrypted alert naming its sender, date, size, Message-ID and the
//! reason (never the plaintext of refused ciphertext); `secmail quarantine list | show |
//! release` sees and acts on what is kept.
use super::common::{open_sent, repo, secret, Pipeline};
use super::harness::Deployment;
use super::service::Local;
use secmail::core::effect::Queued;
use secmail::core::pipeline::Processed;

/// The alert `member` got about `p`, decrypted with their key.
fn alert(p: &Processed, member: &str) -> Option<String> {
    let key = secret(&format!("team-{}-secret.asc", member));
    p.outgoing()
        .iter()
        .find(|q| q.kind == "team-alert" && q.mail.rcpts == [format!("{member}@example.org")])
        .map(|Queued { mail, .. }| open_sent(&mail.raw, &key))
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(repo().join("fixtures/mail").join(path)).unwrap()
}

/// Unsigned command lines in Alice's name, naming no case.
fn forged_command(n: usize) -> Vec<u8> {
    format!("From: Alice Demo <alice@example.org>\r\nTo: security@example.org\r\nSubject: hello\r\nMessage-ID: <forged-{n}@example.org>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\n/state closed\r\n").into_bytes()
}

/// One way into the quarantine (or to no case at all), and what the team's alert must name.
struct Row {
    what: &'static str,
    raw: Vec<u8>,
    sender: &'static str,
    message_id: &'static str,
    date: &'static str,
    reason: &'static str,
    /// Text of the message the alert must not carry (refused ciphertext's plaintext).
    secret: Option<&'static str>,
}

#[test]
fn every_message_that_reaches_no_case_is_shown_to_the_team() {
    let rows = [
        Row {
            what: "not a mail message",
            raw: b"\r\n\r\nno header at all, just a body\r\n".to_vec(),
            sender: "unknown",
            message_id: "none",
            date: "none",
            reason: "not a mail message",
            secret: None,
        },
        Row {
            what: "binary garbage",
            raw: fixture("malformed/02-binary-garbage.eml"),
            sender: "unknown",
            message_id: "none",
            date: "none",
            reason: "no From address",
            secret: None,
        },
        Row {
            what: "no From",
            raw: fixture("malformed/01-no-from.eml"),
            sender: "unknown",
            message_id: "x1@nowhere",
            date: "none",
            reason: "no From address",
            secret: None,
        },
        Row {
            what: "our own mail back",
            raw: fixture("machines/04-our-loop.eml"),
            sender: "security@example.org",
            message_id: "m4@example.org",
            date: "2026-11-27",
            reason: "mail loop",
            secret: None,
        },
        Row {
            what: "no integrity protection",
            raw: fixture("hostile/02-no-integrity.eml"),
            sender: "w2@hostile.example",
            message_id: "02-no-integrity@hostile.example",
            date: "2026-11-28",
            reason: "integrity",
            secret: Some("the parser overflows"),
        },
        Row {
            what: "truncated armor",
            raw: fixture("hostile/04-truncated-armor.eml"),
            sender: "w4@hostile.example",
            message_id: "04-truncated-armor@hostile.example",
            date: "2026-11-28",
            reason: "damaged",
            secret: None,
        },
        Row {
            what: "tampered ciphertext",
            raw: fixture("hostile/05-tampered-ciphertext.eml"),
            sender: "w5@hostile.example",
            message_id: "05-tampered-ciphertext@hostile.example",
            date: "2026-11-28",
            reason: "damaged",
            secret: Some("the parser overflows"),
        },
        Row {
            what: "the sixth forged command mail in an hour, matching no case",
            raw: forged_command(5),
            sender: "alice@example.org",
            message_id: "forged-5@example.org",
            date: "2026-12-24",
            reason: "commands refused",
            secret: None,
        },
    ];
    for row in rows {
        let p = Pipeline::demo();
        if row.what.starts_with("the sixth forged") {
            // The five before it were answered to Alice: the per-address limit is spent.
            for n in 0..5 {
                let r = p.process(&forged_command(n));
                assert!(
                    r.outgoing().iter().any(|q| q.kind == "command-refused"),
                    "{}",
                    r.summary
                );
            }
        }
        let r = p.process(&row.raw);
        let what = row.what;
        assert!(r.case().is_none(), "{what}: {}", r.summary);
        for member in ["alice", "bob"] {
            let text = alert(&r, member)
                .unwrap_or_else(|| panic!("{what}: {member} not told: {}", r.summary));
            for needle in [
                row.sender,
                row.message_id,
                row.date,
                row.reason,
                &format!("{} bytes", row.raw.len()),
            ] {
                assert!(
                    text.contains(needle),
                    "{what}: {needle:?} not in the alert:\n{text}"
                );
            }
            if let Some(secret) = row.secret {
                assert!(
                    !text.contains(secret),
                    "{what}: plaintext in the alert:\n{text}"
                );
            }
        }
    }
}

#[test]
fn an_acknowledgement_held_by_the_domain_limit_is_named_in_the_team_copy() {
    // Held per domain (or overall), an ack is not coalesced later: the team must know that
    // the reporter was not answered.
    let mut p = Pipeline::demo();
    p.config.settings.limits.auto_replies_per_domain = 1;
    for n in 0..2 {
        let raw = format!(
            "From: R{n} <r{n}@big.example>\r\nTo: security@example.org\r\nSubject: Bug {n}\r\nMessage-ID: <d{n}@big.example>\r\n\r\nBug {n}.\r\n"
        );
        let r = p.process(raw.as_bytes());
        assert!(r.opened_case, "{}", r.summary);
        let copy = r
            .outgoing()
            .iter()
            .find(|q| q.kind == "team-copy" && q.mail.rcpts == ["alice@example.org"])
            .map(|q| open_sent(&q.mail.raw, &secret("team-alice-secret.asc")))
            .expect("a team copy");
        let acked = r.outgoing().iter().any(|q| q.kind == "ack");
        assert_eq!(acked, n == 0, "{}", r.summary);
        assert_eq!(
            copy.contains("rate limit per domain"),
            !acked,
            "the copy does not say the reporter was not answered:\n{copy}"
        );
    }
}

/// A message kept in quarantine by the daemon (a bug met while handling it), in `local`'s store.
fn quarantine_one(local: &Deployment, raw: &[u8]) -> String {
    let store = secmail::shell::store::Store::open(&local.path().join("store")).unwrap();
    let config = secmail::config::Config::load(&local.conf, super::common::now().into()).unwrap();
    let templates = secmail::shell::daemon::load_templates(&config).unwrap();
    let mut config = config;
    config.settings.project.id_secret = store.id_secret();
    let p = secmail::core::pipeline::quarantined(
        raw,
        "internal error while handling it",
        &config,
        &templates,
        super::common::now(),
    );
    store.commit(&p.changes, super::common::now()).unwrap();
    store.flush_blocking().unwrap();
    p.hash
}

#[test]
fn quarantine_list_show_and_release_once() {
    let local = Local::new();
    let report = b"From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: Overflow\r\nMessage-ID: <kept@reporter.example>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\nThe parser overflows on long lines.\r\n";
    let hash = quarantine_one(&local, report);
    let id = &hash[..12];

    let list: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["quarantine", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["sender"], "rita@reporter.example");
    assert_eq!(list[0]["size"], report.len());
    assert_eq!(list[0]["reason"], "internal error while handling it");
    let text = local.ok(&["quarantine", "list"]);
    assert!(
        text.contains(id) && text.contains("rita@reporter.example"),
        "{text}"
    );

    let shown = local.ok(&["quarantine", "show", id]);
    assert!(
        shown.contains("Message-ID: <kept@reporter.example>"),
        "{shown}"
    );
    assert!(
        shown.contains("internal error while handling it"),
        "{shown}"
    );
    assert!(
        !shown.contains("The parser overflows"),
        "show printed the body:\n{shown}"
    );

    let released = local.ok(&["quarantine", "release", id]);
    assert!(released.contains("SEC-"), "{released}");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["cases", "--json"])).unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    // Released: no longer in the quarantine; a second release does nothing new.
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["quarantine", "list", "--json"])).unwrap();
    assert!(list.is_empty(), "{list:?}");
    let outbox = local.outbox_files().len();
    let again = local.cmd(&["quarantine", "release", id]).output().unwrap();
    let again_text = String::from_utf8_lossy(&again.stdout).into_owned()
        + &String::from_utf8_lossy(&again.stderr);
    assert!(again_text.contains("not in the quarantine"), "{again_text}");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["cases", "--json"])).unwrap();
    assert_eq!(cases.len(), 1);
    local.ok(&["run", "--once"]);
    let acks = local
        .outbox_files()
        .iter()
        .filter(|f| f.starts_with("ack."))
        .count();
    assert_eq!(acks, 1, "released once, answered once ({outbox} before)");
}

#[test]
fn quarantine_show_never_prints_the_text_of_refused_ciphertext() {
    let local = Local::new();
    local.deliver(&fixture("hostile/02-no-integrity.eml"), "1.eml");
    local.ok(&["run", "--once"]);
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["quarantine", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().unwrap().to_string();
    let shown = local.ok(&["quarantine", "show", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert!(v["reason"].as_str().unwrap().contains("integrity"), "{v}");
    assert!(!shown.contains("the parser overflows"), "{shown}");
    // Releasing it meets the same refusal: nothing new, still kept.
    let out = local.ok(&["quarantine", "release", &id]);
    assert!(out.contains("still"), "{out}");
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["quarantine", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 1);
}

#[test]
fn a_poison_message_and_one_that_met_a_bug_are_named_to_the_team() {
    // Neither is parsed again (it may be what stops the daemon): the alert reads the raw header.
    let p = Pipeline::demo();
    let raw = b"From: Rita <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: x\r\nMessage-ID: <poison@reporter.example>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\nA message that stops the daemon.\r\n";
    for (r, reason) in [
        (
            secmail::core::pipeline::poisoned(raw, 2, &p.config, &p.templates, p.now),
            "poison message",
        ),
        (
            secmail::core::pipeline::quarantined(
                raw,
                "internal error while handling it",
                &p.config,
                &p.templates,
                p.now,
            ),
            "internal error",
        ),
    ] {
        assert!(r.case().is_none(), "{}", r.summary);
        let text = alert(&r, "bob").unwrap_or_else(|| panic!("bob not told: {}", r.summary));
        for needle in [
            "rita@reporter.example",
            "poison@reporter.example",
            "Thu, 24 Dec 2026 10:00:00 +0000",
            &format!("{} bytes", raw.len()),
            reason,
        ] {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
        assert!(!text.contains("stops the daemon"), "{text}");
    }
}
