//! Mail over `max-message-size` (issue 11.7), through the real binary: only its header is read
//! (a Maildir file up to its first empty line; over IMAP `BODY.PEEK[HEADER]`, so the message is
//! never marked \Seen), it is moved to the quarantine folder unread, the team's encrypted alert
//! names its sender, date and Message-ID (never its subject or text), and the sender is told
//! once per address how to send large material — a machine, never.
use super::common::{open_sent, repo, secret, Pipeline};
use super::harness::mail::{header, ALICE, BOB, RITA, SECURITY};
use super::harness::{servers_or_skip, Deployment, MailServers, WAIT};
use secmail::core::pipeline::{self, Oversize};

/// The limit the deployments here run with; every `big` mail is well over it.
const LIMIT: &str = "max-message-size = \"8KB\"";

/// A large mail from `from` with Message-ID `id`: a subject and a body that must reach nobody.
fn big(from: &str, id: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {SECURITY}\r\nSubject: Exploit for the parser\r\n\
         Date: Thu, 24 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra}\
         Content-Type: text/plain\r\n\r\n{}",
        "core dump line that is secret\r\n".repeat(1000)
    )
    .into_bytes()
}

/// Rita's display name, RFC 2047 encoded as her client sends it.
const RITA_FROM: &str = "=?utf-8?q?Rita_R=C3=A9porter?= <rita@reporter.example>";

/// The outbox files of `kind` (`team-alert`, `too-large`).
fn sent(local: &Deployment, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = local
        .outbox_files()
        .into_iter()
        .filter(|f| f.starts_with(&format!("{kind}.")))
        .collect();
    v.sort();
    v
}

/// Alice's alerts in the outbox, decrypted with her key.
fn alerts_to_alice(local: &Deployment) -> Vec<String> {
    let key = secret("team-alice-secret.asc");
    sent(local, "team-alert")
        .iter()
        .map(|f| std::fs::read(local.outbox().join(f)).unwrap())
        .filter(|raw| {
            header(&String::from_utf8_lossy(raw), "To").is_some_and(|to| to.contains(ALICE))
        })
        .map(|raw| open_sent(&raw, &key))
        .collect()
}

fn run_once(local: &Deployment) -> String {
    let out = local.once(&[]);
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{all}");
    all
}

#[test]
fn oversize_mail_names_its_sender_to_the_team_and_the_sender_is_told_once() {
    let local = Deployment::local().inbound(LIMIT).build();
    local.deliver(
        &big(
            RITA_FROM,
            "big-1@reporter.example",
            "Reply-To: Other Address <other@reporter.example>\r\n",
        ),
        "1.big",
    );
    let out = run_once(&local);
    assert!(out.contains("over the size limit; team told"), "{out}");
    // Logs and the operator's lines keep sizes and ids: no address, subject or text.
    for secret in ["rita@reporter.example", "Exploit", "core dump", "Réporter"] {
        assert!(!out.contains(secret), "{secret:?} in the output:\n{out}");
    }
    assert!(local.maildir().join(".Quarantine/cur/1.big").exists());

    // The team (Alice): an encrypted alert naming who sent it, when, its id, size and place.
    let alerts = alerts_to_alice(&local);
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    for needle in [
        "Rita Réporter <rita@reporter.example>",
        "other@reporter.example",
        "2026-12-24",
        "big-1@reporter.example",
        "bytes",
        "8192",
        ".Quarantine",
        "too-large",
    ] {
        assert!(
            alert.contains(needle),
            "{needle:?} not in the alert:\n{alert}"
        );
    }
    for secret in ["Exploit for the parser", "core dump"] {
        assert!(!alert.contains(secret), "{secret:?} in the alert:\n{alert}");
    }

    // The sender: one signed answer under their message, saying the limit and what to do,
    // quoting nothing of it.
    let answers = sent(&local, "too-large");
    assert_eq!(answers.len(), 1, "{:?}", local.outbox_files());
    let raw = std::fs::read_to_string(local.outbox().join(&answers[0])).unwrap();
    assert_eq!(
        header(&raw, "To").map(|t| t.contains(RITA)),
        Some(true),
        "{raw}"
    );
    assert_eq!(
        header(&raw, "In-Reply-To"),
        Some("<big-1@reporter.example>")
    );
    assert!(header(&raw, "References")
        .unwrap()
        .contains("<big-1@reporter.example>"));
    assert_eq!(header(&raw, "Auto-Submitted"), Some("auto-replied"));
    assert!(raw.contains("multipart/signed"), "{raw}");
    for needle in ["8 KB", "split", "compress", "link", "29B8 CE0F A0AB B91C"] {
        assert!(raw.contains(needle), "{needle:?} not in the answer:\n{raw}");
    }
    for secret in ["Exploit", "core dump line", "Réporter", "R=C3=A9porter"] {
        assert!(!raw.contains(secret), "{secret:?} in the answer:\n{raw}");
    }

    // A second one from the same address: a second alert, no second answer.
    local.deliver(&big(RITA_FROM, "big-2@reporter.example", ""), "2.big");
    run_once(&local);
    assert!(local.maildir().join(".Quarantine/cur/2.big").exists());
    let alerts = alerts_to_alice(&local);
    assert_eq!(alerts.len(), 2, "{:?}", local.outbox_files());
    assert_eq!(
        sent(&local, "too-large").len(),
        1,
        "{:?}",
        local.outbox_files()
    );
    let second = alerts
        .into_iter()
        .find(|a| a.contains("big-2@reporter.example"))
        .expect("an alert about the second message");
    assert!(second.contains("told before"), "{second}");

    // The quarantine shows who sent them, now that it is known; the body was never read.
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&local.ok(&["quarantine", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let first = list
        .iter()
        .find(|e| e["message_id"] == "big-1@reporter.example")
        .unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(first["sender"], "rita@reporter.example");
    assert_eq!(first["date"], "Thu, 24 Dec 2026 10:00:00 +0000");
    assert!(first["size"].as_u64().unwrap() > 8192, "{first}");
    let id = first["id"].as_str().unwrap();
    let shown = local.ok(&["quarantine", "show", id]);
    for needle in [
        "Message-ID: <big-1@reporter.example>",
        "Date: Thu, 24 Dec 2026 10:00:00 +0000",
        "rita@reporter.example",
    ] {
        assert!(shown.contains(needle), "{needle:?} not in:\n{shown}");
    }
    assert!(!shown.contains("core dump"), "{shown}");
    let release = local.cmd(&["quarantine", "release", id]).output().unwrap();
    assert!(!release.status.success());
    assert!(
        String::from_utf8_lossy(&release.stderr).contains("never fetched"),
        "{}",
        String::from_utf8_lossy(&release.stderr)
    );
}

#[test]
fn oversize_machine_mail_and_mail_without_a_sender_get_no_answer() {
    let local = Deployment::local().inbound(LIMIT).build();
    local.deliver(
        &big(
            "CI Robot <robot@ci.example>",
            "robot-1@ci.example",
            "Auto-Submitted: auto-generated\r\n",
        ),
        "1.robot",
    );
    let mut nofrom = big(RITA, "nofrom@reporter.example", "");
    nofrom.drain(..format!("From: {RITA}\r\n").len());
    local.deliver(&nofrom, "2.nofrom");
    run_once(&local);
    assert!(
        sent(&local, "too-large").is_empty(),
        "{:?}",
        local.outbox_files()
    );
    let alerts = alerts_to_alice(&local);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let robot = alerts
        .iter()
        .find(|a| a.contains("robot-1@ci.example"))
        .unwrap();
    assert!(
        robot.contains("robot@ci.example") && robot.contains("Auto-Submitted: auto-generated"),
        "{robot}"
    );
    let nobody = alerts
        .iter()
        .find(|a| a.contains("nofrom@reporter.example"))
        .unwrap();
    assert!(nobody.contains("no usable From"), "{nobody}");
}

#[test]
fn the_answer_is_encrypted_when_a_cert_is_known_for_the_sender() {
    let mut p = Pipeline::demo();
    let rita = std::fs::read(repo().join("fixtures/keys/reporter-rita.asc")).unwrap();
    p.config
        .settings
        .known_certs
        .push(secmail::core::keys::parse_cert(&rita).unwrap());
    let raw = big(RITA_FROM, "big-enc@reporter.example", "");
    let header = &raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4];
    let o = Oversize {
        size: raw.len() as u64,
        header,
        cause: "maildir:/x/new/1.big",
        place: "the maildir's .Quarantine folder",
    };
    let r = pipeline::oversize(o, &p.store, &p.config, &p.templates, p.now);
    let answer = r
        .outgoing()
        .iter()
        .find(|q| q.kind == "too-large")
        .unwrap_or_else(|| panic!("{}", r.summary));
    assert!(answer.mail.encrypted);
    assert_eq!(answer.mail.rcpts, [RITA]);
    let text = open_sent(&answer.mail.raw, &secret("reporter-rita-secret.asc"));
    assert!(text.contains("encrypted to your OpenPGP key"), "{text}");
    assert!(text.contains("25 MB"), "{text}");
    assert!(!text.contains("Exploit"), "{text}");
    // Once per address: the store remembers it once the step is written.
    p.store.commit(&r.changes, p.now).unwrap();
    let again = pipeline::oversize(
        Oversize {
            cause: "maildir:/x/new/2.big",
            ..o
        },
        &p.store,
        &p.config,
        &p.templates,
        p.now,
    );
    assert!(
        !again.outgoing().iter().any(|q| q.kind == "too-large"),
        "{}",
        again.summary
    );
    assert!(again.outgoing().iter().any(|q| q.kind == "team-alert"));
}

/// The flags of every message in `folder` of `user`, read without changing them (EXAMINE).
async fn flags(servers: &MailServers, user: &str, folder: &str) -> Vec<String> {
    let flags = servers.flags(user, folder).await.unwrap();
    flags.iter().map(|f| format!("{f:?}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_mail_over_imap_is_read_by_its_header_only_and_answered() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = Deployment::imap(&servers)
        .inbound(LIMIT)
        .member(
            "Bob Demo",
            BOB,
            &super::common::repo().join("keys/team-bob.asc"),
            None,
        )
        .build();
    servers
        .submit(
            RITA,
            &[SECURITY],
            &big(RITA_FROM, "big-imap@reporter.example", ""),
        )
        .await
        .unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[]);
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("over the size limit; team told"), "{all}");

    // Moved to the quarantine folder as before, whole and not \Seen: only its header was read.
    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());
    let kept = servers.list(SECURITY, "secmail/quarantine").await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(String::from_utf8_lossy(&kept[0]).contains("core dump line"));
    let f = flags(&servers, SECURITY, "secmail/quarantine").await;
    assert_eq!(f.len(), 1);
    assert!(!f[0].contains("Seen"), "marked seen: {f:?}");

    // Rita is told, under her message; Alice's alert names the sender and the folder.
    let answer = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <too-large.")
        })
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert_eq!(
        header(&answer, "In-Reply-To"),
        Some("<big-imap@reporter.example>")
    );
    assert!(!answer.contains("Exploit"), "{answer}");
    let alert = servers
        .wait_for(ALICE, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <team-alert.")
        })
        .await
        .unwrap();
    let text = open_sent(&alert, &secret("team-alice-secret.asc"));
    for needle in [
        "rita@reporter.example",
        "big-imap@reporter.example",
        "secmail/quarantine",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert!(!text.contains("Exploit"), "{text}");

    // Handled once: the next cycle finds nothing new and tells nobody again.
    let again = d.once(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 new message(s) handled; 0 sent"));
    servers.wait_queue_empty(WAIT).unwrap();
    let answers = servers
        .list(RITA, "INBOX")
        .await
        .unwrap()
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("Message-ID: <too-large."))
        .count();
    assert_eq!(answers, 1);
}
