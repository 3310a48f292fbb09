//! No report is lost (issue 11): reports as real clients send them open a case and are
//! answered, whatever the client adds.
use super::attack::craft::{pipeline, Actor};
use super::gpg::pgp_mime;
use secmail::core::effect::Queued;

/// The armor headers GopenPGP (ProtonMail), Mailvelope, FlowCrypt, Enigmail and
/// `gpg --emit-version --comment` put after the armor line.
fn with_armor_headers(armored: &str, headers: &[&str]) -> String {
    let (first, rest) = armored.split_once('\n').unwrap();
    let rest = rest.trim_start_matches(['\r', '\n']);
    format!("{first}\n{}\n\n{rest}", headers.join("\n"))
}

#[test]
fn pgp_mime_with_armor_headers_is_decrypted_and_answered() {
    let rita = Actor::rita();
    for headers in [
        &["Version: GopenPGP 2.7.4", "Comment: https://gopenpgp.org"][..],
        &[
            "Version: Mailvelope v5.1.2",
            "Comment: https://mailvelope.com",
        ],
        &["Comment: FlowCrypt 8.5 Gmail Encryption"],
        &[
            "Version: GnuPG v2",
            "Comment: Using GnuPG with Thunderbird - https://www.enigmail.net/",
        ],
    ] {
        let p = pipeline();
        let armored = rita.encrypt(
            "Content-Type: text/plain\r\n\r\nThe parser overflows.\r\n",
            true,
        );
        let raw = pgp_mime(
            "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <armor@reporter.example>\r\n",
            &with_armor_headers(&armored, headers),
        );
        let r = p.process(&raw);
        assert!(r.opened_case, "{headers:?}: {}", r.summary);
        assert_eq!(r.record.encryption, "decrypted", "{headers:?}");
        assert!(
            r.outgoing().iter().any(|q| q.kind == "ack"),
            "{headers:?}: {}",
            r.summary
        );
    }
}

#[test]
fn a_returning_reporter_gets_an_encrypted_ack_with_the_cert_learnt_before() {
    let p = pipeline();
    let rita = Actor::rita();
    let first = rita.pgp_mime(
        &format!(
            "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <first@reporter.example>\r\n{}",
            rita.autocrypt("rita@reporter.example")
        ),
        "Content-Type: text/plain\n\nFirst report.\n",
    );
    let r = p.process(&first);
    assert!(r.opened_case, "{}", r.summary);
    // The second report, in the clear from a webmail: a new case, the ack encrypted all the same.
    let second = b"From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: Another bug\r\nMessage-ID: <second@reporter.example>\r\n\r\nA second, unrelated problem.\r\n";
    let r = p.process(second);
    assert!(r.opened_case, "{}", r.summary);
    assert!(r.summary.contains("ack (encrypted)"), "{}", r.summary);
}

/// A clear report in `charset`, with `body` already in that charset's bytes.
fn report_in(charset: &str, subject: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "From: Taro <taro@reporter.example>\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <{charset}@reporter.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw.extend_from_slice(b"\r\n");
    raw
}

#[test]
fn legacy_charsets_reach_the_team_as_text() {
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let cases: [(&str, &str, Vec<u8>, &str); 3] = [
        (
            "iso-2022-jp",
            "=?iso-2022-jp?b?GyRCQEg8ZUAtJE5KczlwGyhC?=",
            b"\x1b$B@H<e@-$NJs9p$G$9!#\x1b(B".to_vec(),
            "脆弱性の報告です。",
        ),
        (
            "shift_jis",
            "report",
            hex("90c68ee390ab82cc95f18d9082c582b78142"),
            "脆弱性の報告です。",
        ),
        (
            "koi8-r",
            "report",
            hex("f5d1dad7c9cdcfd3d4d8"),
            "Уязвимость",
        ),
    ];
    for (charset, subject, body, text) in cases {
        let p = pipeline();
        let r = p.process(&report_in(charset, subject, &body));
        assert!(
            r.record.text.contains(text),
            "{charset}: {:?}",
            r.record.text
        );
        if charset == "iso-2022-jp" {
            let case = r.case().unwrap();
            assert_eq!(case.title, "脆弱性の報告", "RFC 2047 subject in {charset}");
        }
    }
}

#[test]
fn an_encrypted_attachment_typed_application_pgp_encrypted_is_decrypted() {
    // A script's or a webmail's `report.txt.asc` inside multipart/mixed: not an EFAIL nesting.
    let p = pipeline();
    let rita = Actor::rita();
    let armored = rita.encrypt("Remote crash in the parser.\n", true);
    let raw = format!(
        "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: report attached\r\nMessage-ID: <att@reporter.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n--b\r\nContent-Type: application/pgp-encrypted; name=\"report.txt.asc\"\r\nContent-Disposition: attachment; filename=\"report.txt.asc\"\r\n\r\n{}\r\n--b--\r\n",
        armored.replace('\n', "\r\n")
    );
    let r = p.process(raw.as_bytes());
    assert!(r.opened_case, "{}", r.summary);
    assert_eq!(r.record.encryption, "decrypted", "{}", r.summary);
    // EFAIL rules kept: the clear part is unauthenticated, not spliced into the text.
    assert!(
        !r.record.text.contains("See the attachment."),
        "{:?}",
        r.record.text
    );
}

fn with_id(received: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Received: {received}\r\nFrom: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <same@reporter.example>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn the_same_message_id_with_other_content_is_a_new_message_and_the_same_content_a_duplicate() {
    let p = pipeline();
    let first = p.process(&with_id(
        "from a by b; Thu, 24 Dec 2026 10:00:00 +0000",
        "Overflow",
        "The parser overflows.",
    ));
    assert!(first.opened_case, "{}", first.summary);
    // Delivered again by another route: a duplicate.
    let again = p.process(&with_id(
        "from c by d; Thu, 24 Dec 2026 10:05:00 +0000",
        "Overflow",
        "The parser overflows.",
    ));
    assert!(again.duplicate, "{}", again.summary);
    // A script reusing its Message-ID for a different report: a new message the team sees.
    let other = p.process(&with_id(
        "from a by b; Thu, 24 Dec 2026 11:00:00 +0000",
        "Use after free",
        "Another bug entirely.",
    ));
    assert!(!other.duplicate, "{}", other.summary);
    let copy = other
        .outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| {
            super::common::open_sent(&o.raw, &super::common::secret("team-alice-secret.asc"))
        })
        .expect("the team sees it");
    assert!(copy.contains("Another bug entirely."), "{copy}");
    assert!(copy.contains("same Message-ID"), "{copy}");
}

#[test]
fn mail_not_encrypted_to_us_reaches_the_team_with_the_key_ids_it_names() {
    let p = pipeline();
    let rita = super::gpg::Gpg::with_keys(&[
        &super::common::repo().join("fixtures/keys/reporter-rita-secret.asc")
    ]);
    // Encrypted to the reporter's own key by mistake.
    let armored = rita.sign_encrypt(
        "rita@reporter.example",
        "rita@reporter.example",
        b"Content-Type: text/plain\r\n\r\nOops.\r\n",
    );
    let raw = pgp_mime(
        "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <wrongkey@reporter.example>\r\n",
        &armored,
    );
    let r = p.process(&raw);
    assert_eq!(r.record.encryption, "not-for-us", "{}", r.summary);
    let copy = r
        .outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| {
            super::common::open_sent(&o.raw, &super::common::secret("team-alice-secret.asc"))
        })
        .expect("the team sees it");
    let ids = match secmail::core::decrypt::message(&raw, &p.config.keys, &[], p.now.into()).outcome
    {
        secmail::core::decrypt::Crypt::NotForUs { recipients } => recipients,
        other => panic!("{other:?}"),
    };
    assert!(!ids.is_empty());
    for id in ids {
        assert!(copy.contains(&id), "{id} not named:\n{copy}");
    }
}

#[test]
fn a_reporter_verified_by_signature_is_not_limited_per_address() {
    // A busy reporter (or a backlog) with a good signature bound to From: every report is
    // answered. A forger cannot sign as the victim, so the backscatter limit is not needed.
    let p = pipeline();
    let rita = Actor::rita();
    let limit = p.config.limits.auto_replies_per_address as usize;
    let mut acks = 0;
    for n in 0..limit + 3 {
        let raw = rita.pgp_mime(
            &format!(
                "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: Report {n}\r\nMessage-ID: <signed-{n}@reporter.example>\r\n{}",
                rita.autocrypt("rita@reporter.example")
            ),
            &format!("Content-Type: text/plain\n\nReport number {n}: the parser overflows.\n"),
        );
        let r = p.process(&raw);
        acks += r.outgoing().iter().filter(|q| q.kind == "ack").count();
    }
    assert_eq!(acks, limit + 3);
    // Unsigned, the same address is limited as before.
    let unsigned = b"From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: plain\r\nMessage-ID: <plain@reporter.example>\r\n\r\nA plain one.\r\n";
    let r = p.process(unsigned);
    assert_eq!(
        r.outgoing().iter().filter(|q| q.kind == "ack").count(),
        0,
        "{}",
        r.summary
    );
}

#[test]
fn acknowledgements_held_by_the_rate_limit_are_coalesced_into_one_later_message() {
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let mut p = super::common::Pipeline::with_policy("preset = \"ntpsec\"");
    p.at(t("2026-12-22T10:00:00Z"));
    let limit = p.config.limits.auto_replies_per_address as usize;
    let mut held = Vec::new();
    for n in 0..limit + 2 {
        let raw = format!(
            "From: Busy <busy@reporter.example>\r\nTo: security@example.org\r\nSubject: Bug {n}\r\nMessage-ID: <busy-{n}@reporter.example>\r\n\r\nBug number {n}.\r\n"
        );
        let r = p.process(raw.as_bytes());
        if !r.outgoing().iter().any(|q| q.kind == "ack") {
            held.push(r.case().unwrap().id.to_string());
        }
    }
    assert_eq!(held.len(), 2);
    let coalesced = |p: &super::common::Pipeline| -> Vec<String> {
        p.schedule()
            .outbox
            .iter()
            .filter(|q| q.kind == "ack-coalesced")
            .map(|Queued { mail: o, .. }| o.rcpts.join(","))
            .collect()
    };
    // Within the window: not yet.
    p.at(t("2026-12-22T10:30:00Z"));
    assert!(coalesced(&p).is_empty());
    // The window has room again: one message for both cases, then never again.
    p.at(t("2026-12-22T11:05:00Z"));
    assert_eq!(coalesced(&p), ["busy@reporter.example"]);
    p.at(t("2026-12-22T12:05:00Z"));
    assert!(coalesced(&p).is_empty());
    for id in held {
        let c = p.case(&id);
        assert!(
            c.timeline.iter().any(|e| matches!(&e.kind, secmail::model::EventKind::Sent { kind, .. } if kind == "ack-coalesced")),
            "{id}: the timeline shows how the reporter was answered"
        );
    }
}

#[test]
fn an_answer_to_a_command_mail_threads_under_it_and_names_it() {
    // Issue 11.8: a member who sent three command mails can tell which one was refused.
    let p = pipeline();
    super::attack::craft::report(&p, "r1@reporter.example", "Overflow");
    let raw = b"From: Alice <alice@example.org>\r\nTo: security@example.org\r\nSubject: Re: [SEC-2026-0001] triage please\r\nMessage-ID: <cmd-unsigned@example.org>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\n/state triage\r\n";
    let r = p.process(raw);
    let Queued { mail: o, .. } = r
        .outgoing()
        .iter()
        .find(|q| q.kind == "command-refused")
        .unwrap_or_else(|| panic!("no refusal: {}", r.summary));
    let head = String::from_utf8_lossy(&o.raw);
    assert!(
        head.contains("In-Reply-To: <cmd-unsigned@example.org>"),
        "{head}"
    );
    let text = super::common::open_sent(&o.raw, &super::common::secret("team-alice-secret.asc"));
    assert!(
        text.contains("\"Re: [SEC-2026-0001] triage please\""),
        "{text}"
    );
    assert!(text.contains("2026-12-24"), "{text}");
}

/// The answer of `kind` in `r`, with its raw head and its text as `key` reads it.
fn answer(r: &secmail::core::pipeline::Processed, kind: &str, key: &str) -> (String, String) {
    let q = r
        .outgoing()
        .iter()
        .find(|q| q.kind == kind)
        .unwrap_or_else(|| panic!("no {kind}: {}", r.summary));
    let raw = String::from_utf8_lossy(&q.mail.raw);
    let head = raw.split("\r\n\r\n").next().unwrap_or("").to_string();
    (
        head,
        super::common::open_sent(&q.mail.raw, &super::common::secret(key)),
    )
}

#[test]
fn every_answer_threads_under_the_mail_it_answers_and_names_it() {
    // Issue 11.8: "could not read", "encrypt to this key", acknowledgements and a member's note
    // that matched no case thread under the mail they answer (RFC 5322 §3.6.4) and name it:
    // its date always, its subject only inside encryption.
    let fixture = |p: &str| std::fs::read(super::common::repo().join(p)).unwrap();
    let rita = Actor::rita();
    let signed_report = rita.pgp_mime(
        &format!(
            "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <enc@reporter.example>\r\nDate: Wed, 23 Dec 2026 09:30:00 +0000\r\n{}",
            rita.autocrypt("rita@reporter.example")
        ),
        // The protected From confirms the sender: only then is their subject repeated to them.
        "Content-Type: text/plain; protected-headers=\"v1\"\nFrom: Rita Reporter <rita@reporter.example>\nSubject: Heap overflow in the parser\n\nDetails.\n",
    );
    let (note, _) = super::common::signed_encrypted(
        &super::common::secret("team-alice-secret.asc"),
        "From: Alice Demo <alice@example.org>\r\nTo: security@example.org\r\nSubject: Note on nothing\r\nMessage-ID: <note@example.org>\r\nDate: Tue, 22 Dec 2026 08:00:00 +0000\r\n",
        &super::common::text_payload("Just a note.\n"),
        super::common::now(),
    );
    // (mail, answer kind, reader's key, its Message-ID, date named, subject named or None)
    type Row<'a> = (Vec<u8>, &'a str, &'a str, &'a str, &'a str, Option<&'a str>);
    let rows: [Row; 5] = [
        (
            fixture("fixtures/mail/hostile/02-no-integrity.eml"),
            "no-integrity",
            "reporter-rita-secret.asc",
            "02-no-integrity@hostile.example",
            "2026-11-28",
            None,
        ),
        (
            fixture("fixtures/demo/maildir/new/0006.report-wrong-key.eml"),
            "not-for-us",
            "reporter-rita-secret.asc",
            "report-6@oldkey.example",
            "2026-11-27",
            None,
        ),
        (
            super::common::plain_mail(
                "Sam <sam@reporter.example>",
                "security@example.org",
                "Clear overflow",
                "clear@reporter.example",
                "",
                "A clear report.",
            ),
            "ack",
            "reporter-rita-secret.asc",
            "clear@reporter.example",
            "2026-12-24",
            None,
        ),
        (
            signed_report,
            "ack",
            "reporter-rita-secret.asc",
            "enc@reporter.example",
            "2026-12-23",
            Some("Heap overflow in the parser"),
        ),
        (
            note,
            "team-alert",
            "team-alice-secret.asc",
            "note@example.org",
            "2026-12-22",
            Some("Note on nothing"),
        ),
    ];
    for (raw, kind, key, id, date, subject) in rows {
        let p = pipeline();
        let r = p.process(&raw);
        let (head, text) = answer(&r, kind, key);
        assert!(
            head.contains(&format!("In-Reply-To: <{id}>")),
            "{kind} for {id} does not thread:\n{head}"
        );
        assert!(
            head.contains("References:") && head.contains(&format!("<{id}>")),
            "{kind} for {id}: no References:\n{head}"
        );
        assert!(
            text.contains(date),
            "{kind} for {id} does not name its date {date}:\n{text}"
        );
        if let Some(s) = subject {
            assert!(
                text.contains(s),
                "{kind} for {id} does not name its subject:\n{text}"
            );
        }
    }
}
