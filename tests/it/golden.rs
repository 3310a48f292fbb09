//! Golden mail fixtures: `fixtures/mail/<group>/NAME.eml` with `NAME.expected.json`. Each group
//! is one scenario: its messages go through the pipeline in name order into one store, so
//! threading across messages is tested too. On a mismatch `NAME.actual.json` is written and the
//! test fails naming it; with `SECMAIL_BLESS=1` the expected files are (re)written instead.
use super::common::{repo, Pipeline};
use secmail::core::apply::Disposition;
use secmail::core::effect::Queued;
use secmail::core::pipeline::Processed;
use secmail::model::EventKind;
use serde_json::{json, Value};

fn summary(p: &Processed) -> Value {
    let case = p.case();
    let rule = case.and_then(|c| {
        c.timeline.iter().rev().find_map(|e| match &e.kind {
            EventKind::Received {
                msg_hash,
                thread_rule,
                ..
            } if *msg_hash == p.hash => Some(thread_rule.clone()),
            _ => None,
        })
    });
    json!({
        "disposition": match &p.disposition {
            Disposition::Processed => "processed".to_string(),
            Disposition::Quarantine(r) => format!("quarantine: {r}"),
        },
        "duplicate": p.duplicate,
        "case": case.map(|c| c.id.to_string()),
        "opened_case": p.opened_case,
        "thread_rule": rule,
        "encryption": p.record.encryption,
        "signature": p.record.signature,
        "sent": p.outgoing().iter().map(|Queued { mail: o, kind, .. }| json!({"kind": kind, "to": o.rcpts, "encrypted": o.encrypted})).collect::<Vec<_>>(),
        "summary": p.summary,
    })
}

#[test]
fn golden_mail_fixtures() {
    let root = repo().join("fixtures/mail");
    let bless = std::env::var_os("SECMAIL_BLESS").is_some();
    let mut groups: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    let mut ran = 0;
    let mut failures = Vec::new();
    for group in groups {
        let pipeline = Pipeline::demo();
        let mut mails: Vec<_> = std::fs::read_dir(&group)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        mails.sort();
        for mail in mails {
            let raw = std::fs::read(&mail).unwrap();
            let actual = summary(&pipeline.process(&raw));
            let expected_path = mail.with_extension("expected.json");
            let actual_path = mail.with_extension("actual.json");
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            ran += 1;
            if bless {
                std::fs::write(&expected_path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&expected_path)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                Some(expected) if expected == actual => {
                    let _ = std::fs::remove_file(&actual_path);
                }
                _ => {
                    std::fs::write(&actual_path, &text).unwrap();
                    failures.push(actual_path.display().to_string());
                }
            }
        }
    }
    assert!(ran > 0, "no golden fixture ran");
    assert!(
        failures.is_empty(),
        "golden mismatches (compare with .expected.json):\n{}",
        failures.join("\n")
    );
}

/// Every message kind of the team commands and the policy timers, rendered by the real code
/// paths, opened with its recipient's key, compared with `fixtures/templates/KIND.expected.txt`
/// (`SECMAIL_BLESS=1` rewrites; a mismatch writes `KIND.actual.txt` and fails naming it).
#[test]
fn golden_timer_and_command_templates() {
    use super::common::{open_sent, plain_mail, secret, signed_encrypted, text_payload};
    use chrono::{DateTime, Utc};
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let mut p = Pipeline::with_policy(
        "preset = \"enarx\"\ntriage-within = \"3d\"\nholidays = [\"2026-12-25\"]",
    );
    let mut bodies: Vec<(String, Vec<u8>, String)> = Vec::new();
    let mut keep = |out: &[Queued]| {
        for Queued {
            mail: o, kind: k, ..
        } in out
        {
            bodies.push((k.clone(), o.raw.clone(), o.rcpts.join(",")));
        }
    };
    let report = |p: &mut Pipeline, at: &str, from: &str, id: &str| {
        p.at(t(at));
        p.process(&plain_mail(
            from,
            "security@example.org",
            "Remote crash",
            id,
            "",
            "Crash.",
        ))
    };
    let alice = secret("team-alice-secret.asc");
    let command = |p: &mut Pipeline, at: &str, case: &str, body: &str, n: u32| {
        p.at(t(at));
        let h = format!("From: alice@example.org\r\nTo: security+{case}@example.org\r\nSubject: Re: [{case}]\r\nMessage-ID: <g{n}@example.org>\r\n");
        p.process(&signed_encrypted(&alice, &h, &text_payload(body), t(at)).0)
    };
    keep(
        report(
            &mut p,
            "2026-12-23T10:00:00Z",
            "Rita <rita@reporter.example>",
            "g-r1@x",
        )
        .outgoing(),
    );
    for at in [
        "2026-12-23T10:00:00Z",
        "2026-12-26T10:00:00Z",
        "2026-12-27T10:00:00Z",
    ] {
        p.at(t(at));
        keep(&p.schedule().outbox);
    }
    keep(
        command(
            &mut p,
            "2026-12-28T09:00:00Z",
            "SEC-2026-0001",
            "/state triage\n/assign me\n/help\n/reply\n\nWe reproduced it.",
            1,
        )
        .outgoing(),
    );
    keep(
        command(
            &mut p,
            "2026-12-28T09:10:00Z",
            "SEC-2026-0001",
            "/state bogus",
            2,
        )
        .outgoing(),
    );
    p.at(t("2027-01-05T09:00:00Z"));
    keep(&p.schedule().outbox);
    keep(
        report(
            &mut p,
            "2027-01-05T10:00:00Z",
            "Sam <sam@other.example>",
            "g-s1@x",
        )
        .outgoing(),
    );
    let dup = command(
        &mut p,
        "2027-01-05T10:10:00Z",
        "SEC-2027-0001",
        "/duplicate SEC-2026-0001",
        3,
    );
    keep(dup.outgoing());
    let offer = |p: &Pipeline, id: &str| p.case(id).contact_offers[0].message_id.clone();
    let (o1, o2) = (offer(&p, "SEC-2026-0001"), offer(&p, "SEC-2027-0001"));
    for (from, o, id) in [
        ("sam@other.example", o2, "g-s2@x"),
        ("Rita <rita@reporter.example>", o1, "g-r2@x"),
    ] {
        p.at(t("2027-01-05T11:00:00Z"));
        keep(
            p.process(&plain_mail(
                from,
                "security@example.org",
                "Re",
                id,
                &format!("In-Reply-To: <{o}>\r\n"),
                "YES",
            ))
            .outgoing(),
        );
    }

    let keys = [
        ("alice@example.org", secret("team-alice-secret.asc")),
        ("bob@example.org", secret("team-bob-secret.asc")),
        ("rita@reporter.example", secret("reporter-rita-secret.asc")),
    ];
    let dir = repo().join("fixtures/templates");
    let bless = std::env::var_os("SECMAIL_BLESS").is_some();
    let mut failures = Vec::new();
    let kinds = [
        "ack",
        "relay",
        "command-result",
        "command-refused",
        "contact-offer",
        "contact-made",
        "reminder",
        "escalation",
        "progress",
        "digest",
    ];
    for kind in kinds {
        let Some((_, raw, to)) = bodies
            .iter()
            .find(|(k, _, to)| k == kind && keys.iter().any(|(a, _)| a == to))
        else {
            failures.push(format!(
                "no {kind} message to a recipient whose key the test holds"
            ));
            continue;
        };
        let key = &keys.iter().find(|(a, _)| a == to).unwrap().1;
        let text = format!(
            "To: {to}\n\n{}\n",
            open_sent(raw, key).replace("\r\n", "\n").trim_end()
        );
        let expected = dir.join(format!("{kind}.expected.txt"));
        let actual = dir.join(format!("{kind}.actual.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&expected, &text).unwrap();
        } else if std::fs::read_to_string(&expected).ok().as_deref() == Some(text.as_str()) {
            let _ = std::fs::remove_file(&actual);
        } else {
            std::fs::write(&actual, &text).unwrap();
            failures.push(actual.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "template goldens:\n{}",
        failures.join("\n")
    );
}
