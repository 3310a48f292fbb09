//! End to end against a real Dovecot and Postfix: a reporter using gpg sends an encrypted
//! report over SMTP; the real `secmail` binary (with `--once`, and as the long-running daemon on
//! IDLE) opens the case, the acknowledgement arrives in the reporter's IMAP inbox and decrypts
//! with the reporter's key, each team member gets a copy only their key opens, a follow-up
//! threads into the same case, and nothing is lost or doubled across a stop between the store
//! write and the move on the server.
use super::common::repo;
use super::gpg::{pgp_mime, pgp_mime_payload, Gpg};
use super::harness::{servers_or_skip, wait_until_async, MailServers};
use chrono::Datelike;
use std::path::PathBuf;
use std::time::Duration;

/// The addresses, the one Deployment, Rita's gpg report and the header reader by the names
/// e2e_disclosure.rs knows them by.
pub(super) use super::harness::mail::{gpg_report as report, header, ALICE, BOB, RITA, SECURITY};
pub(super) use super::harness::Deployment;
pub(super) const WAIT: Duration = Duration::from_secs(30);

impl Deployment {
    /// The end-to-end deployment: IMAP and SMTP on the harness's servers, Alice (handler) and
    /// Bob in the team, `project_extra` lines in `[project]` and `sections` appended.
    pub(super) fn with(servers: &MailServers, project_extra: &str, sections: &str) -> Deployment {
        Deployment::imap(servers)
            .project(project_extra)
            .member("Bob Demo", BOB, &repo().join("keys/team-bob.asc"), None)
            .extra(sections)
            .build()
    }
}

/// The end-to-end deployment with nothing added.
fn deployment(servers: &MailServers) -> Deployment {
    Deployment::with(servers, "", "")
}

pub(super) fn keys(name: &str) -> PathBuf {
    repo().join("fixtures/keys").join(name)
}

pub(super) fn project_cert() -> PathBuf {
    repo().join("keys/demo-project.asc")
}

/// Rita submits `raw` to security@; returns once it is in the security INBOX.
async fn deliver_report(servers: &MailServers, raw: &[u8]) {
    servers.submit(RITA, &[SECURITY], raw).await.unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
}

/// How many of our acknowledgements are in `user`'s INBOX.
async fn acks(servers: &MailServers, user: &str) -> usize {
    servers
        .list(user, "INBOX")
        .await
        .unwrap()
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("Message-ID: <ack."))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_report_over_imap_and_smtp_with_once() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    let year = chrono::Utc::now().year();
    let case_id = format!("SEC-{year}-0001");

    deliver_report(
        &servers,
        &report(
            &rita,
            "r1@reporter.example",
            "Heap overflow in parse_packet",
            "",
            "parse_packet() overflows on a 70000-byte record.",
        ),
    )
    .await;

    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run --once failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{case_id}: opened from reporter (decrypted, signature good) → ack (encrypted), 2 team copies")), "{stdout}");

    // The acknowledgement: from the security address, neutral clear subject with the tag,
    // Reply-To the case address, auto-replied, encrypted to Rita, decrypts with her key.
    let ack = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <ack.")
        })
        .await
        .unwrap();
    let ack_text = String::from_utf8_lossy(&ack).into_owned();
    assert!(header(&ack_text, "From").unwrap().contains(SECURITY));
    assert_eq!(
        header(&ack_text, "Subject"),
        Some(format!("[{case_id}] Your security report was received").as_str())
    );
    assert_eq!(
        header(&ack_text, "Reply-To"),
        Some(format!("security+{case_id}@example.org").as_str())
    );
    assert_eq!(header(&ack_text, "Auto-Submitted"), Some("auto-replied"));
    assert!(
        !ack_text.contains("Heap overflow"),
        "the protected subject leaked into the clear"
    );
    let opened = rita.decrypt(&pgp_mime_payload(&ack));
    assert!(opened.ok, "{}", opened.status);
    assert!(
        opened.status.contains("GOODSIG"),
        "ack not signed by the project key: {}",
        opened.status
    );
    assert!(
        opened.plaintext.contains(&case_id)
            && opened
                .plaintext
                .contains("recognised it as a security report")
    );
    assert!(
        opened
            .plaintext
            .contains("Subject: Re: Heap overflow in parse_packet"),
        "protected subject inside"
    );

    // Each team member gets a copy that only their key opens.
    let alice = Gpg::with_keys(&[&keys("team-alice-secret.asc"), &project_cert()]);
    let bob = Gpg::with_keys(&[&keys("team-bob-secret.asc"), &project_cert()]);
    for (user, own, other) in [(ALICE, &alice, &bob), (BOB, &bob, &alice)] {
        let copy = servers
            .wait_for(user, "INBOX", WAIT, |m| {
                String::from_utf8_lossy(m).contains("Message-ID: <team-copy.")
            })
            .await
            .unwrap();
        let payload = pgp_mime_payload(&copy);
        let mine = own.decrypt(&payload);
        assert!(
            mine.ok && mine.status.contains("GOODSIG"),
            "{user}: {}",
            mine.status
        );
        assert!(
            mine.plaintext
                .contains("parse_packet() overflows on a 70000-byte record."),
            "{user} copy lacks the report text"
        );
        assert!(
            mine.plaintext.contains("Signature:    good"),
            "{user} copy must state the signature status"
        );
        assert!(
            !other.decrypt(&payload).ok,
            "{user}'s copy opened with another member's key"
        );
    }

    // The report left INBOX for the processed folder only now.
    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());
    assert_eq!(
        servers
            .list(SECURITY, "secmail/processed")
            .await
            .unwrap()
            .len(),
        1
    );

    // A follow-up replying to the acknowledgement threads into the same case.
    let ack_id = header(&ack_text, "Message-ID").unwrap().to_string();
    let fu = report(
        &rita,
        "r2@reporter.example",
        "Re: ...",
        &format!("In-Reply-To: {ack_id}\r\nReferences: {ack_id}\r\n"),
        "Also affects 2.4.1.",
    );
    servers.submit(RITA, &[SECURITY], &fu).await.unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{case_id}: follow-up from reporter")),
        "{stdout}"
    );
    let case = d.case_json(&case_id);
    let received = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "received")
        .count();
    assert_eq!(received, 2, "{case:#}");
    assert_eq!(case["reporters"][0]["cert_source"], "signature");
    assert_eq!(d.cases_json().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_on_idle_answers_within_seconds() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    let daemon = d.start();
    daemon.notified("STATUS=connected to imap");
    let sent = std::time::Instant::now();
    let raw = report(
        &rita,
        "idle-1@reporter.example",
        "Use after free",
        "",
        "UAF in the session cache.",
    );
    // Submitted only: the daemon takes it out of INBOX as soon as IDLE tells it.
    servers.submit(RITA, &[SECURITY], &raw).await.unwrap();
    let ack = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <ack.")
        })
        .await;
    let latency = sent.elapsed();
    daemon.stop();
    let ack = ack.unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(rita.decrypt(&pgp_mime_payload(&ack)).ok);
    eprintln!("IDLE: SMTP submission to acknowledgement in the reporter's inbox: {latency:?}");
    // A second report while the daemon runs again: the restart resumes without doubling.
    let daemon = d.spawn(&[]);
    servers
        .submit(
            RITA,
            &[SECURITY],
            &report(
                &rita,
                "idle-2@reporter.example",
                "Second issue",
                "",
                "Another one.",
            ),
        )
        .await
        .unwrap();
    let second = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <ack.")
                && String::from_utf8_lossy(m).contains("-0002]")
        })
        .await;
    daemon.stop();
    second.unwrap();
    assert_eq!(d.cases_json().len(), 2);
    let acks = acks(&servers, RITA).await;
    assert_eq!(acks, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_lost_or_doubled_when_stopped_between_store_and_move() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    let raw = report(
        &rita,
        "crash-1@reporter.example",
        "Crash test",
        "",
        "Report before the crash.",
    );
    deliver_report(&servers, &raw).await;

    // Stop right after the case is durable, before the move and before sending.
    let out = d.once(&[("SECMAIL_FAIL_AFTER_COMMIT", "1")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECMAIL_FAIL_AFTER_COMMIT"));
    assert_eq!(
        servers.list(SECURITY, "INBOX").await.unwrap().len(),
        1,
        "moved before it was handled"
    );
    assert_eq!(
        d.cases_json().len(),
        1,
        "the case must be durable before the move"
    );

    // Restart: the message is recognised, moved once; the queued mail goes out once.
    let out = d.once(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("already handled"));
    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());
    assert_eq!(
        servers
            .list(SECURITY, "secmail/processed")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(d.cases_json().len(), 1);
    servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <ack.")
        })
        .await
        .unwrap();
    let out = d.once(&[]);
    assert!(out.status.success());
    let acks = acks(&servers, RITA).await;
    assert_eq!(acks, 1, "the acknowledgement went out twice");
    let copies = servers.list(ALICE, "INBOX").await.unwrap().len();
    assert_eq!(copies, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_down_the_outbox_keeps_the_mail_and_sends_it_later() {
    let Some(mut servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    deliver_report(
        &servers,
        &report(
            &rita,
            "down-1@reporter.example",
            "While SMTP is down",
            "",
            "Report.",
        ),
    )
    .await;

    servers.stop_smtp();
    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("0 sent") && stdout.contains("3 deferred"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("send failed; will retry"));
    // The report is handled (moved) even though nothing could be sent: the outbox holds it.
    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());

    servers.start_smtp().unwrap();
    // Not due yet: the backoff is respected.
    let out = d.once(&[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 sent"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Two minutes later (the clock moved, not slept) everything goes out, once.
    let later = (chrono::Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
    let out = d.once(&[("SECMAIL_NOW", later.as_str())]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 sent"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let ack = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <ack.")
        })
        .await
        .unwrap();
    assert!(rita.decrypt(&pgp_mime_payload(&ack)).ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_logs_in_to_both_servers() {
    let Some(mut servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let out = d.cmd(&["check", "--online"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("login ok") && stdout.contains("outbound: ok"),
        "{stdout}"
    );
    // SMTP down: unavailable (69), naming the server.
    servers.stop_smtp();
    let out = d.cmd(&["check", "--online"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `folder` of `user` holds at least `n` messages.
async fn wait_count(servers: &MailServers, user: &str, folder: &str, n: usize) {
    let have = std::cell::Cell::new(0);
    wait_until_async(
        &format!("{n} messages in {user} {folder}"),
        WAIT,
        async || {
            have.set(
                servers
                    .list(user, folder)
                    .await
                    .map(|l| l.len())
                    .unwrap_or(0),
            );
            have.get() >= n
        },
        || format!("{user} {folder}: {} of {n} messages", have.get()),
    )
    .await;
}

/// A team member answers from a gpg mail client: a signed and encrypted PGP/MIME reply to her
/// team copy with `/state triage` and `/reply`. The reporter gets the text (encrypted, from the
/// security address, no team address, no command line); the member a confirmation; a replayed
/// and an unsigned copy of the command change nothing and are answered with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn signed_team_command_round_trip() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB]) else {
        return;
    };
    let d = deployment(&servers);
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    let alice = Gpg::with_keys(&[&keys("team-alice-secret.asc"), &project_cert()]);
    let year = chrono::Utc::now().year();
    let case_id = format!("SEC-{year}-0001");
    servers
        .submit(
            RITA,
            &[SECURITY],
            &report(
                &rita,
                "cmd-r1@reporter.example",
                "Overflow",
                "",
                "Overflow in parse().",
            ),
        )
        .await
        .unwrap();
    wait_count(&servers, SECURITY, "INBOX", 1).await;
    assert!(d.once(&[]).status.success());

    // Alice replies to her team copy.
    let copy = servers
        .wait_for(ALICE, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <team-copy.")
        })
        .await
        .unwrap();
    let copy_id = header(&String::from_utf8_lossy(&copy), "Message-ID")
        .unwrap()
        .to_string();
    // Her client protects the Subject (RFC 9788), which names the case inside the signature.
    let inner = format!("Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nSubject: Re: [{case_id}] Security case update\r\n\r\n/state triage\r\n/reply\r\n\r\nHello Rita, we reproduced the overflow and are fixing it.\r\n\r\n-- \r\nAlice <alice@example.org>\r\n");
    let armored = alice.sign_encrypt(ALICE, SECURITY, inner.as_bytes());
    let headers = |id: &str| {
        format!("From: Alice <{ALICE}>\r\nTo: {SECURITY}\r\nSubject: Re: [{case_id}] Security case update\r\nMessage-ID: <{id}>\r\nIn-Reply-To: {copy_id}\r\nReferences: {copy_id}\r\n")
    };
    servers
        .submit(
            ALICE,
            &[SECURITY],
            &pgp_mime(&headers("cmd-1@example.org"), &armored),
        )
        .await
        .unwrap();
    wait_count(&servers, SECURITY, "INBOX", 1).await;
    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{case_id}: 2 team commands (state, reply) → relayed to 1 reporter"
        )),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The reporter's copy: encrypted, from security@, text only.
    let relay = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <relay.")
        })
        .await
        .unwrap();
    let relay_raw = String::from_utf8_lossy(&relay).into_owned();
    assert!(header(&relay_raw, "From").unwrap().contains(SECURITY));
    assert!(
        !relay_raw.contains(ALICE),
        "a team address reached the reporter"
    );
    let opened = rita.decrypt(&pgp_mime_payload(&relay));
    assert!(
        opened.ok && opened.status.contains("GOODSIG"),
        "{}",
        opened.status
    );
    assert!(opened.plaintext.contains("we reproduced the overflow"));
    for leak in ["/state", "/reply", ALICE] {
        assert!(
            !opened.plaintext.contains(leak),
            "{leak:?} reached the reporter"
        );
    }
    // Alice's confirmation.
    let conf = servers
        .wait_for(ALICE, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <command-result.")
        })
        .await
        .unwrap();
    let conf = alice.decrypt(&pgp_mime_payload(&conf));
    assert!(
        conf.plaintext.contains("/state triage"),
        "{}",
        conf.plaintext
    );
    assert_eq!(d.case_json(&case_id)["state"], "triage");

    // A replay of the same signed mail and an unsigned copy: nothing changes, Alice is told.
    servers
        .submit(
            ALICE,
            &[SECURITY],
            &pgp_mime(&headers("cmd-1-replayed@example.org"), &armored),
        )
        .await
        .unwrap();
    let unsigned = format!(
        "{}\r\n/state closed\r\n/reply\r\n\r\nClosing.\r\n",
        headers("cmd-2@example.org")
    );
    servers
        .submit(ALICE, &[SECURITY], unsigned.as_bytes())
        .await
        .unwrap();
    wait_count(&servers, SECURITY, "INBOX", 2).await;
    assert!(d.once(&[]).status.success());
    for reason in ["already used once", "not signed"] {
        servers
            .wait_for(ALICE, "INBOX", WAIT, |m| {
                String::from_utf8_lossy(m).contains("Message-ID: <command-refused.")
                    && alice
                        .decrypt(&pgp_mime_payload(m))
                        .plaintext
                        .contains(reason)
            })
            .await
            .unwrap_or_else(|e| panic!("no refusal saying {reason:?}: {e:#}"));
    }
    let case = d.case_json(&case_id);
    assert_eq!(case["state"], "triage");
    let relays = servers
        .list(RITA, "INBOX")
        .await
        .unwrap()
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("Message-ID: <relay."))
        .count();
    assert_eq!(relays, 1, "the replay relayed again");
}
