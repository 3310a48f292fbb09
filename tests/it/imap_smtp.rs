//! The IMAP inbound (`shell::imap`) and the outbound transports (`shell::transport`) against a
//! real Dovecot and Postfix: fetch after an IDLE wake and by polling, moves to the processed and
//! quarantine folders, the size limit, folder creation, reconnecting after a server restart,
//! SMTP delivery and the transient/permanent split of its failures, the file transport.

use std::time::{Duration, Instant};

use secmail::shell::imap::{check_login, ImapInbox, Security, Wake};
use secmail::shell::transport::{Mailer, SendError, Transport};

use crate::harness::mail::numbered_mail;
use crate::harness::{servers_or_skip, wait_until_async, MailServers};

const SECURITY: &str = "security@example.org";
const REPORTER: &str = "reporter@reporter.test";
const ALICE: &str = "alice@team.test";
const BOB: &str = "bob@team.test";
const USERS: &[&str] = &[SECURITY, REPORTER, ALICE, BOB];
/// Deadline for conditions that normally hold within milliseconds (Dovecot's IDLE: ~0.5 s).
const WITHIN: Duration = Duration::from_secs(20);

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Polls `fetch_new` until `n` messages are there (the way a poller sees them).
pub(crate) async fn fetch_until(
    inbox: &mut ImapInbox,
    n: usize,
) -> Vec<secmail::shell::imap::Fetched> {
    let mut got = Vec::new();
    wait_until_async(
        &format!("{n} messages fetched by polling"),
        WITHIN,
        async || {
            got = inbox.fetch_new(0, 100).await.unwrap();
            got.len() >= n
        },
        String::new,
    )
    .await;
    got
}

#[tokio::test]
async fn idle_wakes_on_new_mail_and_fetch_returns_it() {
    let start = Instant::now();
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    eprintln!(
        "timing: dovecot + postfix up (configs, CA, ready): {:?}",
        start.elapsed()
    );
    let mut inbox = ImapInbox::connect(&servers.imap_settings(SECURITY))
        .await
        .unwrap();
    assert!(inbox.uid_validity() > 0);
    assert!(inbox.fetch_new(0, 100).await.unwrap().is_empty());

    let raw = numbered_mail(REPORTER, SECURITY, "idle report", "hello over idle");
    let mut submitted = None;
    let (wake, ()) = tokio::join!(inbox.wait(WITHIN), async {
        servers.submit(REPORTER, &[SECURITY], &raw).await.unwrap();
        submitted = Some(Instant::now());
    });
    let latency = submitted.unwrap().elapsed();
    eprintln!("timing: smtp 250 to IDLE wake: {latency:?}");
    assert_eq!(wake.unwrap(), Wake::NewMail);

    let got = inbox.fetch_new(0, 100).await.unwrap();
    assert_eq!(got.len(), 1);
    let raw_got = got[0].raw.as_deref().unwrap();
    assert!(contains(raw_got, "hello over idle"));
    assert_eq!(got[0].size, raw_got.len() as u64);
    // Nothing newer than what we have.
    assert!(inbox.fetch_new(got[0].uid, 100).await.unwrap().is_empty());
    inbox.logout().await;
}

#[tokio::test]
async fn wait_times_out_without_mail() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut inbox = ImapInbox::connect(&servers.imap_settings(SECURITY))
        .await
        .unwrap();
    let start = Instant::now();
    let wake = inbox.wait(Duration::from_millis(300)).await.unwrap();
    assert_eq!(wake, Wake::Timeout);
    assert!(start.elapsed() >= Duration::from_millis(300));
    // The session is still usable after DONE.
    assert!(inbox.fetch_new(0, 10).await.unwrap().is_empty());
    inbox.logout().await;
}

#[tokio::test]
async fn polling_fetches_case_address_mail_in_uid_order_with_limit() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut inbox = ImapInbox::connect(&servers.imap_settings(SECURITY))
        .await
        .unwrap();
    // recipient_delimiter "+": the case address lands in security@'s INBOX.
    let case_addr = "security+SEC-2026-0001@example.org";
    for i in 0..3 {
        let raw = numbered_mail(
            REPORTER,
            case_addr,
            &format!("follow-up {i}"),
            &format!("body {i}"),
        );
        servers.submit(REPORTER, &[case_addr], &raw).await.unwrap();
    }
    let all = fetch_until(&mut inbox, 3).await;
    assert_eq!(all.len(), 3, "three messages visible by polling");
    assert!(all.windows(2).all(|w| w[0].uid < w[1].uid));
    // Postfix delivers in parallel: UID order need not be submission order.
    for i in 0..3 {
        let want = format!("body {i}");
        let hits = all
            .iter()
            .filter(|f| contains(f.raw.as_deref().unwrap(), &want))
            .count();
        assert_eq!(hits, 1, "{want}");
    }
    assert!(all
        .iter()
        .all(|f| contains(f.raw.as_deref().unwrap(), case_addr)));
    let first_two = inbox.fetch_new(0, 2).await.unwrap();
    assert_eq!(
        first_two.iter().map(|f| f.uid).collect::<Vec<_>>(),
        all[..2].iter().map(|f| f.uid).collect::<Vec<_>>()
    );
    let after = inbox.fetch_new(all[0].uid, 100).await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(inbox.fetch_new(u32::MAX, 100).await.unwrap().is_empty());
    assert!(inbox.fetch_new(0, 0).await.unwrap().is_empty());
    inbox.logout().await;
}

#[tokio::test]
async fn moves_to_processed_and_quarantine() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut inbox = ImapInbox::connect(&servers.imap_settings(SECURITY))
        .await
        .unwrap();
    for s in ["goes to processed", "goes to quarantine"] {
        servers
            .submit(
                REPORTER,
                &[SECURITY],
                &numbered_mail(REPORTER, SECURITY, s, s),
            )
            .await
            .unwrap();
    }
    let got = fetch_until(&mut inbox, 2).await;
    assert_eq!(got.len(), 2);
    let uid_of = |subject: &str| {
        got.iter()
            .find(|f| contains(f.raw.as_deref().unwrap(), subject))
            .unwrap()
            .uid
    };
    let (processed_uid, quarantine_uid) = (uid_of("goes to processed"), uid_of("goes to quar"));
    inbox.move_to_processed(processed_uid).await.unwrap();
    inbox.move_to_quarantine(quarantine_uid).await.unwrap();
    // A repeat (e.g. after a crash between store and move) changes nothing and succeeds.
    inbox.move_to_processed(processed_uid).await.unwrap();
    assert!(inbox.fetch_new(0, 100).await.unwrap().is_empty());

    assert!(servers.list(SECURITY, "INBOX").await.unwrap().is_empty());
    let processed = servers.list(SECURITY, "Processed").await.unwrap();
    assert_eq!(processed.len(), 1);
    assert!(contains(&processed[0], "Subject: goes to processed"));
    let quarantined = servers.list(SECURITY, "Quarantine").await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(contains(&quarantined[0], "Subject: goes to quarantine"));
    inbox.logout().await;
}

#[tokio::test]
async fn oversize_message_is_not_fetched_whole() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut settings = servers.imap_settings(SECURITY);
    settings.max_message_bytes = 4000;
    let mut inbox = ImapInbox::connect(&settings).await.unwrap();
    let small = numbered_mail(REPORTER, SECURITY, "small", "short");
    let big = numbered_mail(REPORTER, SECURITY, "big", &"x".repeat(70).repeat(200));
    servers.submit(REPORTER, &[SECURITY], &small).await.unwrap();
    servers.submit(REPORTER, &[SECURITY], &big).await.unwrap();
    let got = fetch_until(&mut inbox, 2).await;
    assert_eq!(got.len(), 2);
    // Either may have arrived first.
    let (small, big): (Vec<_>, Vec<_>) = got.iter().partition(|f| f.size <= 4000);
    assert_eq!((small.len(), big.len()), (1, 1), "{got:?}");
    assert!(contains(small[0].raw.as_deref().unwrap(), "short"));
    assert!(big[0].raw.is_none(), "the big one is not fetched");
    assert!(
        big[0].size > 14_000,
        "but its size is known: {}",
        big[0].size
    );
    // Its header alone was (BODY.PEEK[HEADER]): none of its body, and it is not \Seen.
    let head = big[0].header.as_deref().expect("the header of the big one");
    assert!(contains(head, "Subject: big"), "{head:?}");
    assert!(contains(head, "Message-ID: <it-"), "{head:?}");
    assert!(!contains(head, "xxxx"), "body in the header: {head:?}");
    assert!(small[0].header.is_none(), "a small one is fetched whole");
    assert_eq!(unseen(&servers, "INBOX").await, [true, true]);
    // It can still be moved out of the way, unread.
    inbox.move_to_quarantine(big[0].uid).await.unwrap();
    assert_eq!(servers.list(SECURITY, "Quarantine").await.unwrap().len(), 1);
    assert_eq!(unseen(&servers, "Quarantine").await, [true]);
    inbox.logout().await;
}

/// For each message in `folder` of the security mailbox: whether it lacks \Seen (read
/// without changing it: EXAMINE, FLAGS).
async fn unseen(servers: &MailServers, folder: &str) -> Vec<bool> {
    let flags = servers.flags(SECURITY, folder).await.unwrap();
    flags
        .iter()
        .map(|f| !f.contains(&async_imap::types::Flag::Seen))
        .collect()
}

#[tokio::test]
async fn an_oversize_header_is_read_up_to_its_cap() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut settings = servers.imap_settings(SECURITY);
    settings.max_message_bytes = 4000;
    let mut inbox = ImapInbox::connect(&settings).await.unwrap();
    // 100 KiB of header fields, then a body: appended as is (an MTA may cut such a header).
    let mut raw =
        b"From: <reporter@reporter.test>\r\nMessage-ID: <huge-header@reporter.test>\r\n".to_vec();
    for n in 0..1600 {
        raw.extend_from_slice(format!("X-Filler-{n:04}: {}\r\n", "f".repeat(50)).as_bytes());
    }
    raw.extend_from_slice(b"\r\nthe body\r\n");
    servers.append_all(SECURITY, "INBOX", &[raw]).await.unwrap();
    let got = fetch_until(&mut inbox, 1).await;
    let head = got[0].header.as_deref().expect("a header");
    let cap = secmail::core::pipeline::OVERSIZE_HEADER_MAX;
    assert_eq!(head.len(), cap, "cut at the cap");
    assert!(head.starts_with(b"From: <reporter@reporter.test>\r\n"));
    assert!(!contains(head, "the body"));
    assert_eq!(unseen(&servers, "INBOX").await, [true]);
    inbox.logout().await;
}

#[tokio::test]
async fn missing_folders_are_created() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut settings = servers.imap_settings(SECURITY);
    settings.processed_folder = "secmail/done".into();
    settings.quarantine_folder = "secmail quarantine".into();
    assert!(servers.list(SECURITY, "secmail/done").await.is_err());
    check_login(&settings).await.unwrap();
    assert!(
        servers.list(SECURITY, "secmail/done").await.is_err(),
        "check_login creates nothing"
    );
    let inbox = ImapInbox::connect(&settings).await.unwrap();
    inbox.logout().await;
    assert!(servers
        .list(SECURITY, "secmail/done")
        .await
        .unwrap()
        .is_empty());
    assert!(servers
        .list(SECURITY, "secmail quarantine")
        .await
        .unwrap()
        .is_empty());
    // Existing folders are fine the second time.
    ImapInbox::connect(&settings).await.unwrap().logout().await;
}

#[tokio::test]
async fn check_login_reports_bad_password_with_the_server() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let mut settings = servers.imap_settings(SECURITY);
    check_login(&settings).await.unwrap();
    settings.password = "wrong".into();
    let e = format!("{:#}", check_login(&settings).await.unwrap_err());
    assert!(
        e.contains(&format!("127.0.0.1:{}", servers.imap_port())),
        "{e}"
    );
    assert!(!e.contains("wrong"), "no password in errors: {e}");
    // Only one failed login per test: Dovecot's auth penalty delays the next ones from
    // 127.0.0.1 by 2, 4, 8 s.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_imap_restart_and_queued_mail_arrives() {
    let Some(mut servers) = servers_or_skip(USERS) else {
        return;
    };
    let settings = servers.imap_settings(SECURITY);
    let mut inbox = ImapInbox::connect(&settings).await.unwrap();
    // A wait in IDLE ends with an error when the server goes away (BYE or closed).
    let t0 = Instant::now();
    let (waited, ()) = tokio::join!(inbox.wait(WITHIN), async {
        tokio::task::block_in_place(|| servers.stop_imap());
    });
    eprintln!(
        "timing: dovecot stop until the IDLE wait failed: {:?}",
        t0.elapsed()
    );
    assert!(
        waited.is_err(),
        "wait must fail when Dovecot stops: {waited:?}"
    );
    drop(inbox);

    let e = format!("{:#}", ImapInbox::connect(&settings).await.unwrap_err());
    assert!(
        e.contains(&format!("127.0.0.1:{}", servers.imap_port())),
        "{e}"
    );
    // Postfix accepts and queues while LMTP is down, and delivers once it is back.
    let raw = numbered_mail(
        REPORTER,
        SECURITY,
        "while down",
        "queued while imap was down",
    );
    servers.submit(REPORTER, &[SECURITY], &raw).await.unwrap();

    let restart = Instant::now();
    servers.start_imap().unwrap();
    eprintln!(
        "timing: dovecot restart until IMAP and LMTP answer: {:?}",
        restart.elapsed()
    );
    let mut inbox = ImapInbox::connect(&settings).await.unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WITHIN, |m| {
            contains(m, "queued while imap was down")
        })
        .await
        .unwrap();
    eprintln!(
        "timing: restart to queued mail in INBOX: {:?}",
        restart.elapsed()
    );
    let got = fetch_until(&mut inbox, 1).await;
    assert_eq!(got.len(), 1);
    inbox.logout().await;
}

#[tokio::test]
async fn sender_delivers_over_smtp_and_reuses_its_connection() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let sender = Mailer::new(&servers.smtp_transport()).unwrap();
    sender.check().await.unwrap();
    for (i, to) in [ALICE, BOB, ALICE].iter().enumerate() {
        let raw = numbered_mail(
            SECURITY,
            to,
            "[SEC-2026-0001] copy",
            &format!("copy {i} for {to}"),
        );
        sender
            .send(SECURITY, &[to.to_string()], &raw, "unused")
            .await
            .unwrap();
    }
    for (i, to) in [ALICE, BOB, ALICE].iter().enumerate() {
        let want = format!("copy {i} for {to}");
        servers
            .wait_for(to, "INBOX", WITHIN, |m| contains(m, &want))
            .await
            .unwrap();
    }
    // 8-bit bytes pass unchanged.
    let raw = numbered_mail(SECURITY, REPORTER, "ack", "Grüße, ça va — 8bit");
    sender
        .send(SECURITY, &[REPORTER.to_string()], &raw, "unused")
        .await
        .unwrap();
    let got = servers
        .wait_for(REPORTER, "INBOX", WITHIN, |m| contains(m, "Grüße"))
        .await
        .unwrap();
    assert!(contains(&got, "ça va — 8bit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_is_transient_and_recovers() {
    let Some(mut servers) = servers_or_skip(USERS) else {
        return;
    };
    let sender = Mailer::new(&servers.smtp_transport()).unwrap();
    let raw = numbered_mail(SECURITY, ALICE, "x", "before");
    sender
        .send(SECURITY, &[ALICE.to_string()], &raw, "x")
        .await
        .unwrap();
    tokio::task::block_in_place(|| servers.stop_smtp());
    let raw = numbered_mail(SECURITY, ALICE, "x", "after restart");
    let e = sender
        .send(SECURITY, &[ALICE.to_string()], &raw, "x")
        .await
        .unwrap_err();
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
    assert!(sender.check().await.is_err());
    tokio::task::block_in_place(|| servers.start_smtp()).unwrap();
    // The pooled connection died with the server; the sender opens a new one.
    sender
        .send(SECURITY, &[ALICE.to_string()], &raw, "x")
        .await
        .unwrap();
    servers
        .wait_for(ALICE, "INBOX", WITHIN, |m| contains(m, "after restart"))
        .await
        .unwrap();
}

#[tokio::test]
async fn refused_recipients_are_permanent() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let sender = Mailer::new(&servers.smtp_transport()).unwrap();
    let raw = numbered_mail(SECURITY, "nobody@example.org", "x", "x");
    for rcpt in ["nobody@example.org", "someone@elsewhere.test"] {
        let e = sender
            .send(SECURITY, &[rcpt.to_string()], &raw, "x")
            .await
            .unwrap_err();
        match e {
            SendError::Permanent(text) => assert!(text.contains('5'), "{text}"),
            other => panic!("{rcpt}: expected permanent, got {other:?}"),
        }
    }
    // The connection is still good for the next message.
    sender
        .send(
            SECURITY,
            &[BOB.to_string()],
            &numbered_mail(SECURITY, BOB, "y", "fine"),
            "y",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn imap_over_tls_and_starttls_trusts_the_ca_file_only() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    servers
        .submit(
            REPORTER,
            &[SECURITY],
            &numbered_mail(REPORTER, SECURITY, "tls", "over tls"),
        )
        .await
        .unwrap();
    let mut tls = servers.imap_settings(SECURITY);
    tls.host = "localhost".into();
    tls.port = servers.imaps_port();
    tls.security = Security::Tls;
    tls.ca_file = Some(servers.ca_file());
    let mut inbox = ImapInbox::connect(&tls).await.unwrap();
    let got = fetch_until(&mut inbox, 1).await;
    assert!(contains(got[0].raw.as_deref().unwrap(), "over tls"));
    inbox.logout().await;

    let mut starttls = tls.clone();
    starttls.port = servers.imap_port();
    starttls.security = Security::StartTls;
    check_login(&starttls).await.unwrap();

    // Without the CA the self-signed chain is refused, naming the server.
    for mut s in [tls, starttls] {
        s.ca_file = None;
        let e = format!("{:#}", check_login(&s).await.unwrap_err());
        assert!(e.contains(&format!("localhost:{}", s.port)), "{e}");
        assert!(e.to_lowercase().contains("certificate"), "{e}");
    }
}

#[tokio::test]
async fn smtp_over_starttls_and_tls_trusts_the_ca_file_only() {
    let Some(servers) = servers_or_skip(USERS) else {
        return;
    };
    let Transport::Smtp(plain) = servers.smtp_transport() else {
        unreachable!()
    };
    let mut starttls = plain.clone();
    starttls.host = "localhost".into();
    starttls.security = Security::StartTls;
    starttls.ca_file = Some(servers.ca_file());
    let mut tls = starttls.clone();
    tls.port = servers.smtps_port();
    tls.security = Security::Tls;
    for (name, settings) in [("starttls", &starttls), ("tls", &tls)] {
        let sender = Mailer::new(&Transport::Smtp(settings.clone())).unwrap();
        sender.check().await.unwrap();
        let want = format!("sent over {name}");
        sender
            .send(
                SECURITY,
                &[ALICE.to_string()],
                &numbered_mail(SECURITY, ALICE, name, &want),
                "x",
            )
            .await
            .unwrap();
        servers
            .wait_for(ALICE, "INBOX", WITHIN, |m| contains(m, &want))
            .await
            .unwrap();

        let mut untrusted = settings.clone();
        untrusted.ca_file = None;
        let sender = Mailer::new(&Transport::Smtp(untrusted)).unwrap();
        let e = sender
            .send(
                SECURITY,
                &[ALICE.to_string()],
                &numbered_mail(SECURITY, ALICE, "n", "n"),
                "x",
            )
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Transient(_)), "{name}: {e:?}");
    }
}

#[tokio::test]
async fn file_transport_writes_the_eml() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("outbox");
    let sender = Mailer::new(&Transport::File { dir: out.clone() }).unwrap();
    let raw = numbered_mail(SECURITY, REPORTER, "ack", "acknowledged");
    sender
        .send(SECURITY, &[REPORTER.to_string()], &raw, "SEC-2026-0001.ack")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(out.join("SEC-2026-0001.ack.eml")).unwrap(),
        raw
    );
    // The same stem again replaces the file (a re-send after a crash leaves one copy).
    sender
        .send(SECURITY, &[REPORTER.to_string()], &raw, "SEC-2026-0001.ack")
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn passwords_follow_the_local_part() {
    assert_eq!(MailServers::password(SECURITY), "secret-security");
}
