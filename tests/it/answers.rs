//! What goes out, read back as its recipient would: the team copy opened with a member's own
//! key, a member whose cert expired withheld and named to the others, mail over the size limit
//! quarantined with the team told.
use super::common::{now, repo, Pipeline};
use secmail::core::decrypt::{self, Crypt};
use secmail::core::effect::Queued;
use secmail::core::keys::{self, ProjectKeys};
use secmail::model::{EventKind, TeamMember, TeamRole};

fn read(p: &str) -> Vec<u8> {
    std::fs::read(repo().join(p)).unwrap()
}

/// Opens `raw` with the secret key in `key_file`, as that person's mail client would.
fn open_as(raw: &[u8], key_file: &str) -> decrypt::Opened {
    let keys =
        ProjectKeys::from_secret_keys(&[(key_file.into(), read(key_file))], None, now().into())
            .unwrap();
    let project = keys::parse_cert(&read("keys/demo-project.asc")).unwrap();
    decrypt::message(raw, &keys, &[project], now().into())
}

#[test]
fn a_member_with_an_expired_cert_gets_nothing_and_the_others_are_told() {
    let mut p = Pipeline::demo();
    let cert = keys::parse_cert(&read("fixtures/keys/team-carl-expired.asc")).unwrap();
    p.config.team.push(TeamMember {
        name: "Carl".into(),
        address: "carl@example.org".into(),
        role: TeamRole::Backup,
        fingerprint: keys::fingerprint(&cert),
        cert,
    });
    let out = p.process(&read("fixtures/mail/threading/01-report.eml"));
    let to: Vec<&str> = out
        .outgoing()
        .iter()
        .filter(|q| q.kind == "team-copy")
        .map(|Queued { mail: o, .. }| o.rcpts[0].as_str())
        .collect();
    assert_eq!(to, vec!["alice@example.org", "bob@example.org"]);
    let case = out.case().unwrap();
    assert!(case.timeline.iter().any(|e| matches!(&e.kind, EventKind::Withheld { to, reason, .. } if to == "carl@example.org" && reason.contains("expired"))), "{:#?}", case.timeline);

    // Alice opens her copy with her own key: the report, its status, and who did not get it.
    let Queued {
        mail: alice_copy, ..
    } = out
        .outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts[0] == "alice@example.org",
        )
        .unwrap();
    let opened = open_as(&alice_copy.raw, "fixtures/keys/team-alice-secret.asc");
    assert_eq!(opened.outcome, Crypt::Decrypted);
    assert!(
        opened.verified_sender("security@example.org").is_some(),
        "copy not signed by the project key"
    );
    assert!(
        opened.text.contains("The parser crashes on input X."),
        "{}",
        opened.text
    );
    assert!(
        opened
            .text
            .contains("Not sent to (no usable cert): carl@example.org (expired"),
        "{}",
        opened.text
    );
    assert_eq!(
        opened.protected.subject.as_deref(),
        Some(format!("[{}] Crash in parser", case.id).as_str())
    );
    // Bob's key does not open Alice's copy.
    let other = open_as(&alice_copy.raw, "fixtures/keys/team-bob-secret.asc");
    assert!(
        matches!(other.outcome, Crypt::NotForUs { .. }),
        "{:?}",
        other.outcome
    );
}

#[test]
fn a_plain_acknowledgement_is_signed_and_quotes_nothing() {
    let p = Pipeline::demo();
    let out = p.process(&read("fixtures/mail/threading/01-report.eml"));
    let Queued { mail: ack, .. } = out.outgoing().iter().find(|q| q.kind == "ack").unwrap();
    let text = String::from_utf8_lossy(&ack.raw);
    assert!(!ack.encrypted);
    assert!(
        !text.contains("Crash in parser") && !text.contains("input X"),
        "the plain ack quotes the report:\n{text}"
    );
    // Its signature verifies over the signed part (RFC 3156 §5), as a reporter's client checks it.
    let opened = decrypt::message(
        &ack.raw,
        &ProjectKeys::from_secret_keys(
            &[("k".into(), read("fixtures/keys/reporter-rita-secret.asc"))],
            None,
            now().into(),
        )
        .unwrap(),
        &[keys::parse_cert(&read("keys/demo-project.asc")).unwrap()],
        now().into(),
    );
    assert!(
        opened.verified_sender("security@example.org").is_some(),
        "{:?}",
        opened.signatures
    );
    assert!(opened.text.contains("recognised it as a security report"));
}

#[test]
fn oversize_mail_is_quarantined_unread_and_the_team_told() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo();
    let maildir = dir.path().join("in");
    secmail::shell::maildir::deliver(&maildir, &vec![b'x'; 4096], "1.big").unwrap();
    let conf = dir.path().join("security.conf");
    let text = std::fs::read_to_string(r.join("security.conf"))
        .unwrap()
        .replace("keys/", &format!("{}/keys/", r.display()))
        .replace("\"templates\"", &format!("\"{}/templates\"", r.display()))
        .replace("fixtures/demo/maildir", "in")
        .replace("move-processed = false", "move-processed = true")
        .replace("\"25MB\"", "\"1KB\"");
    std::fs::write(&conf, text).unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_secmail"))
            .args(["--config"])
            .arg(&conf)
            .args(["run", "--once"])
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("quarantined: 4096 bytes is over the size limit; team told"),
        "{stdout}"
    );
    assert!(maildir.join(".Quarantine/cur/1.big").exists());
    let outbox: Vec<String> = std::fs::read_dir(dir.path().join("var/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        outbox
            .iter()
            .filter(|n| n.starts_with("team-alert."))
            .count(),
        2,
        "{outbox:?}"
    );
    let again = run();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 new message(s) handled; 0 sent"));
}
