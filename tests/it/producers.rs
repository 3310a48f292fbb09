//! Issue 11's interop suite: reports made at test time by independent OpenPGP and mail software
//! (contrib/interop/generate.sh: GnuPG, sq, sqop, RNP, GopenPGP, PGPainless, PGPy, OpenPGP.js,
//! mutt; plain mail in legacy charsets from s-nail and Python), each through the whole pipeline
//! and held to its row of contrib/interop/expected.tsv: what decryption and verification found,
//! whether a case opened or the message was quarantined, what the reporter was sent (an ack
//! encrypted to the cert the message taught us, or signed only), and what the team got (copies
//! they can read, carrying the report's text, or an alert). In CI every producer must be there.
use super::common::{open_sent, repo, secret, Pipeline};
use secmail::core::apply::Disposition;
use secmail::core::effect::Queued;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One row of expected.tsv: the outcome a message must come to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    message: String,
    producer: String,
    encryption: String,
    signature: String,
    /// "case" (a new case opened) or "quarantine".
    outcome: String,
    /// What the sender got: "ack-encrypted" (which the sender's own software decrypted and
    /// found signed by the project), "ack-signed" (signed, in the clear), another kind of
    /// answer ("not-for-us"…), or "none".
    reporter: String,
    /// What the team got: "copies=N" (team copies) and/or "alert".
    team: String,
    /// The case's title ("-" when there is no case).
    title: String,
    /// The reporter's display name as the case records it ("-" when there is no case).
    sender: String,
    /// Text the stored message and the team's copy must contain ("-": none, it was refused).
    text: String,
}

impl Row {
    fn cells(&self) -> [&str; 10] {
        [
            &self.message,
            &self.producer,
            &self.encryption,
            &self.signature,
            &self.outcome,
            &self.reporter,
            &self.team,
            &self.title,
            &self.sender,
            &self.text,
        ]
    }
}

const HEADER: [&str; 10] = [
    "message",
    "producer",
    "encryption",
    "signature",
    "outcome",
    "reporter",
    "team",
    "title",
    "sender",
    "text",
];

fn expected_rows() -> Vec<Row> {
    let path = repo().join("contrib/interop/expected.tsv");
    let table = std::fs::read_to_string(&path).unwrap();
    let mut rows = Vec::new();
    for line in table.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), HEADER.len(), "{}: {line:?}", path.display());
        if c == HEADER {
            continue;
        }
        rows.push(Row {
            message: c[0].into(),
            producer: c[1].into(),
            encryption: c[2].into(),
            signature: c[3].into(),
            outcome: c[4].into(),
            reporter: c[5].into(),
            team: c[6].into(),
            title: c[7].into(),
            sender: c[8].into(),
            text: c[9].into(),
        });
    }
    rows
}

/// Runs the generator into `out`; the producers it did not find, with why.
fn generate(out: &Path) -> BTreeMap<String, String> {
    let run = std::process::Command::new("bash")
        .arg(repo().join("contrib/interop/generate.sh"))
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs contrib/interop/generate.sh");
    assert!(
        run.status.success(),
        "contrib/interop/generate.sh failed ({}):\n{}{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out.join("missing"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, why)| (p.to_string(), why.to_string()))
        .collect()
}

/// The sender reads our encrypted answer with the software that sent the report
/// (contrib/interop/open.sh: decrypted with the sender's key, signed by the project key);
/// `Err` says why not.
fn read_back(
    dir: &Path,
    name: &str,
    producer: &str,
    answer: &[u8],
    case: &str,
) -> Result<(), String> {
    let key = dir.join(format!("{name}.key"));
    if !key.exists() {
        return Err("no key of the sender's".into());
    }
    let mail = dir.join(format!("{name}.answer.eml"));
    std::fs::write(&mail, answer).unwrap();
    let run = std::process::Command::new("bash")
        .arg(repo().join("contrib/interop/open.sh"))
        .args([producer.as_ref(), key.as_os_str(), mail.as_os_str()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs contrib/interop/open.sh");
    let plain = String::from_utf8_lossy(&run.stdout);
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        return Err(format!("{}: {}", run.status, err.trim()));
    }
    if !plain.contains(case) {
        return Err(format!("read, but it does not name {case}"));
    }
    Ok(())
}

/// The message through a fresh pipeline at the real time (the producers sign at the real
/// time), and the row it came to.
fn outcome(dir: &Path, name: &str, producer: &str, raw: &[u8], text: &str) -> Row {
    let mut p = Pipeline::demo();
    p.at(chrono::Utc::now());
    let r = p.process(raw);
    let from = r.record.from.clone().unwrap_or_default();
    let to_reporter: Vec<&Queued> = r
        .outgoing()
        .iter()
        .filter(|q| q.mail.rcpts.iter().any(|a| a.eq_ignore_ascii_case(&from)))
        .collect();
    let reporter = match to_reporter.as_slice() {
        [] => "none".to_string(),
        [q] if q.kind == "ack" && q.mail.encrypted => {
            let case = r.case_id.as_ref().map_or("", |c| c.as_str());
            match read_back(dir, name, producer, &q.mail.raw, case) {
                Ok(()) => "ack-encrypted".into(),
                Err(why) => format!("ack-encrypted, unreadable by {producer}: {why}"),
            }
        }
        // In the clear, but signed by the project (DESIGN.md: everything we send is signed).
        [q] if q.kind == "ack"
            && String::from_utf8_lossy(&q.mail.raw).contains("multipart/signed") =>
        {
            "ack-signed".into()
        }
        [q] if q.kind == "ack" => "ack-unsigned".into(),
        qs => qs
            .iter()
            .map(|q| q.kind.as_str())
            .collect::<Vec<_>>()
            .join("+"),
    };
    let kinds: Vec<&str> = r.outgoing().iter().map(|q| q.kind.as_str()).collect();
    let copies = kinds.iter().filter(|k| **k == "team-copy").count();
    let mut team = Vec::new();
    if copies > 0 {
        team.push(format!("copies={copies}"));
    }
    if kinds.contains(&"team-alert") {
        team.push("alert".to_string());
    }
    // Whatever the team gets is encrypted, and Alice can read the report in her copy.
    let alice = secret("team-alice-secret.asc");
    let mut text_seen = r.record.text.contains(text);
    for q in r.outgoing() {
        if q.kind == "team-copy" || q.kind == "team-alert" {
            assert!(q.mail.encrypted, "{name}: {} in the clear", q.kind);
        }
        if q.kind == "team-copy" && q.mail.rcpts == ["alice@example.org"] {
            let copy = open_sent(&q.mail.raw, &alice);
            text_seen &= copy.contains(text);
        }
    }
    let quarantined = matches!(r.disposition, Disposition::Quarantine(_));
    Row {
        message: name.to_string(),
        producer: producer.to_string(),
        encryption: r.record.encryption.to_string(),
        signature: r.record.signature.to_string(),
        outcome: match (r.opened_case, quarantined) {
            (true, false) => "case".into(),
            (false, true) => "quarantine".into(),
            (opened, _) => format!("opened={opened},quarantined={quarantined}"),
        },
        reporter,
        team: if team.is_empty() {
            "none".into()
        } else {
            team.join("+")
        },
        title: r.case().map_or("-".to_string(), |c| c.title.clone()),
        sender: r.case().map_or("-".to_string(), |c| {
            c.reporters
                .iter()
                .find(|p| p.address == from)
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| "(none)".into())
        }),
        text: match (text, text_seen) {
            ("-", _) if r.record.text.is_empty() => "-".into(),
            ("-", _) => "(text kept from refused mail)".into(),
            (t, true) => t.to_string(),
            (_, false) => format!("(not found; stored: {:?})", r.record.text),
        },
    }
}

fn table(rows: &[Row]) -> String {
    let mut widths = HEADER.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.cells()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 10]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(widths) {
            s.push_str(&format!(" {c:<w$} |"));
        }
        s.push('\n');
        s
    };
    let mut out = line(HEADER);
    out.push_str(&line(widths.map(|_| "---")));
    for r in rows {
        out.push_str(&line(r.cells()));
    }
    out
}

#[test]
fn every_producer_s_mail_comes_to_its_expected_outcome() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let missing = generate(dir.path());
    let generated = started.elapsed();
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(p, why)| format!("{p}: {why}"))
            .collect();
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI must run every producer of the interop suite; missing:\n{}",
                list.join("\n")
            );
        }
        // Straight to stderr: the harness captures eprintln! of passing tests.
        let banner = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!!! SKIPPING interop producers (run contrib/test.sh as root to install them):\n!!! {}\n{banner}\n",
            list.join("\n!!! ")
        );
    }
    let expected = expected_rows();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".eml").map(str::to_string)
        })
        .collect();
    names.sort();
    let listed: Vec<&str> = expected.iter().map(|r| r.message.as_str()).collect();
    for n in &names {
        assert!(
            listed.contains(&n.as_str()),
            "{n}.eml has no row in expected.tsv"
        );
    }
    let mut actual = Vec::new();
    let mut wrong = Vec::new();
    for row in &expected {
        if missing.contains_key(&row.producer) {
            continue;
        }
        assert!(
            names.contains(&row.message),
            "{}: {} is installed but made no message",
            row.message,
            row.producer
        );
        let raw = std::fs::read(dir.path().join(format!("{}.eml", row.message))).unwrap();
        let got = outcome(dir.path(), &row.message, &row.producer, &raw, &row.text);
        if &got != row {
            wrong.push(format!(
                "expected {:?}\n     got {:?}",
                row.cells(),
                got.cells()
            ));
        }
        actual.push(got);
    }
    let versions = std::fs::read_to_string(dir.path().join("versions")).unwrap();
    eprintln!(
        "interop producers ({} messages, generated in {:.1?}, all in {:.1?}):\n{versions}\n{}",
        actual.len(),
        generated,
        started.elapsed(),
        table(&actual)
    );
    assert!(
        wrong.is_empty(),
        "{} of {} messages did not come to their expected outcome:\n{}\n\nactual:\n{}",
        wrong.len(),
        actual.len(),
        wrong.join("\n"),
        table(&actual)
    );
}
