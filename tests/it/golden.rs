//! Golden mail fixtures: `fixtures/mail/<group>/NAME.eml` with `NAME.expected.json`. Each group
//! is one scenario: its messages go through the pipeline in name order into one store, so
//! threading across messages is tested too. On a mismatch `NAME.actual.json` is written and the
//! test fails naming it; with `SECMAIL_BLESS=1` the expected files are (re)written instead.
use super::common::{repo, Pipeline};
use secmail::core::apply::Disposition;
use secmail::core::pipeline::Processed;
use secmail::model::EventKind;
use serde_json::{json, Value};

fn summary(p: &Processed) -> Value {
    let case = p.outcome.case.as_ref();
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
        "disposition": match &p.outcome.disposition {
            Disposition::Processed => "processed".to_string(),
            Disposition::Quarantine(r) => format!("quarantine: {r}"),
        },
        "duplicate": p.duplicate,
        "case": case.map(|c| c.id.to_string()),
        "opened_case": p.outcome.opened_case,
        "thread_rule": rule,
        "encryption": p.record.encryption,
        "signature": p.record.signature,
        "sent": p.outgoing.iter().map(|(o, _, kind)| json!({"kind": kind, "to": o.rcpts, "encrypted": o.encrypted})).collect::<Vec<_>>(),
        "summary": p.outcome.summary,
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
