//! The hostile corpus (fixtures/mail/hostile, made by its generate.sh; expectations in the
//! golden files beside each message): every message through the pipeline within a time bound,
//! nothing we send carries an injected header, an over-long line or text of the hostile
//! message; and the whole corpus through the real binary in one `run --once` without a crash,
//! each message filed to .Processed or .Quarantine as its expectation says.
use super::common::{repo, Pipeline};
use super::service::Local;
use secmail::core::effect::Queued;
use std::time::{Duration, Instant};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = repo().join("fixtures/mail/hostile");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 15, "hostile corpus missing");
    out
}

#[test]
fn hostile_mail_is_bounded_and_injects_nothing() {
    let p = Pipeline::demo();
    for (name, raw) in corpus() {
        let started = Instant::now();
        let processed = p.process(&raw);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        let from = processed.record.from.clone().unwrap_or_default();
        for Queued { mail: o, kind, .. } in processed.outgoing() {
            for r in &o.rcpts {
                assert!(
                    *r == from || p.config.team_member(r).is_some(),
                    "{name}: {kind} to {r}"
                );
            }
            let text = String::from_utf8_lossy(&o.raw);
            let head = text.split("\r\n\r\n").next().unwrap();
            for line in head.lines() {
                assert!(
                    line.len() <= 998,
                    "{name}: {kind} header line of {} bytes",
                    line.len()
                );
                let l = line.to_ascii_lowercase();
                assert!(
                    !l.starts_with("bcc:") && !l.contains('\0'),
                    "{name}: {kind}: {line}"
                );
            }
            assert!(
                !text.contains("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                "{name}: {kind} quotes the hostile subject"
            );
            if !o.encrypted {
                assert!(
                    !text.contains("the parser overflows"),
                    "{name}: plaintext {kind} quotes the report"
                );
            }
        }
    }
}

#[test]
fn hostile_corpus_through_the_daemon() {
    let local = Local::new();
    let corpus = corpus();
    for (name, raw) in &corpus {
        local.deliver(raw, name);
    }
    let out = local.cmd(&["run", "--once"]).output().unwrap();
    super::service::assert_ok(&out, &["run", "--once"]);
    let filed = |folder: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(local.maildir().join(folder).join("cur"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let quarantined = filed(".Quarantine");
    let processed = filed(".Processed");
    assert_eq!(quarantined.len() + processed.len(), corpus.len());
    for (name, _) in &corpus {
        let expected = std::fs::read_to_string(
            repo()
                .join("fixtures/mail/hostile")
                .join(format!("{name}.expected.json")),
        )
        .unwrap();
        let q = expected.contains("\"disposition\": \"quarantine");
        assert_eq!(quarantined.contains(name), q, "{name} filed wrongly");
    }
    // Again: nothing new, nothing sent twice.
    let again = local.ok(&["run", "--once"]);
    assert!(again.starts_with("0 new message(s)"), "{again}");
}
