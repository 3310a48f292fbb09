//! Team commands through the pure pipeline and the store (DESIGN.md "Team commands"): a signed
//! command mail from a team member changes the case, relays `/reply` text to the reporter and
//! is confirmed; every unsigned, forged, replayed, stale, HTML-only or half-bad one changes no
//! field of the case and is answered to the member with the reason.
use super::common::{
    now, open_sent, pairs, plain_mail, secret, sent, signed_encrypted, text_payload, Pipeline,
};
use chrono::Duration;
use secmail::core::effect::Queued;
use secmail::model::{Credit, EventKind, Severity, State};

const RITA: &str = "Rita Reporter <rita@reporter.example>";

/// A report from Rita; returns the Message-ID of Alice's team copy.
fn report(p: &Pipeline) -> String {
    let r = p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Heap overflow in parse_packet",
        "r1@reporter.example",
        "",
        "parse_packet() overflows on a 70000-byte record.",
    ));
    assert!(r.opened_case, "{}", r.summary);
    r.outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| o.message_id.clone())
        .unwrap()
}

fn reply_headers(from: &str, msgid: &str, in_reply_to: &str) -> String {
    format!("From: {from}\r\nTo: security@example.org\r\nSubject: Re: [SEC-2026-0001] Security case update\r\nMessage-ID: <{msgid}>\r\nIn-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n")
}

/// The case's fields, without its timeline: what "nothing changed" compares.
fn fields(p: &Pipeline) -> serde_json::Value {
    let mut v = serde_json::to_value(p.case("SEC-2026-0001")).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timeline");
    o.remove("message_ids");
    v
}

/// The reasons of the last refusal on the case.
fn last_refusal(p: &Pipeline) -> String {
    p.case("SEC-2026-0001")
        .timeline
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::CommandRefused { reasons, .. } => Some(reasons.join("; ")),
            _ => None,
        })
        .unwrap_or_default()
}

const COMMANDS: &str = "/assign me
/state triage
/severity high CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
/affected <2.4.2
/cve CVE-2026-12345
/credit Rita R.
/reply

Hello Rita,

thank you, we can reproduce the overflow and are working on a fix.

On Sat, Alice wrote:
> Case: SEC-2026-0001
> From: alice@example.org

-- 
Alice <alice@example.org>";

#[test]
fn a_signed_command_mail_changes_the_case_relays_and_confirms() {
    let p = Pipeline::demo();
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("Alice <alice@example.org>", "c1@example.org", &copy),
        &text_payload(COMMANDS),
        now() - Duration::minutes(5),
    );
    let r = p.process(&raw);
    assert_eq!(
        pairs(&sent(r.outgoing())),
        vec![
            ("relay", "rita@reporter.example"),
            ("command-result", "alice@example.org"),
            ("team-copy", "bob@example.org"),
        ],
        "{}",
        r.summary
    );
    let case = p.case("SEC-2026-0001");
    assert_eq!(case.state, State::Triage);
    assert_eq!(case.handler.as_deref(), Some("alice@example.org"));
    assert_eq!(case.severity, Some(Severity::High));
    assert!(case.cvss.as_deref().unwrap().starts_with("CVSS:3.1/"));
    assert_eq!(secmail::model::versions::join(&case.affected), "<2.4.2");
    assert_eq!(case.cve.as_deref(), Some("CVE-2026-12345"));
    assert_eq!(case.reporters[0].credit, Credit::Handle("Rita R.".into()));
    let commands = case
        .timeline
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Command { .. }))
        .count();
    assert_eq!(commands, 7);
    assert_eq!(case.last_reporter_update, Some(now()));

    // The relay: from the security address, the text only — no command, quote, signature or
    // team address.
    let relay = &r.outgoing()[0].mail;
    let raw = String::from_utf8_lossy(&relay.raw).into_owned();
    assert!(
        raw.contains("From: \"Example Project Security\" <security@example.org>")
            || raw.contains("From: Example Project Security <security@example.org>"),
        "{raw}"
    );
    let text = open_sent(&relay.raw, &secret("reporter-rita-secret.asc"));
    assert!(text.contains("we can reproduce the overflow"), "{text}");
    for leak in ["/state", "/reply", "alice@example.org", "> Case:", "wrote:"] {
        assert!(
            !text.contains(leak),
            "{leak:?} reached the reporter:\n{text}"
        );
        assert!(!raw.contains(leak), "{leak:?} in the raw relay");
    }
    // The confirmation lists what was done; the stored text has no command lines.
    let conf = open_sent(&r.outgoing()[1].mail.raw, &alice);
    assert!(
        conf.contains("/state triage — state new → triage"),
        "{conf}"
    );
    assert!(!r.record.text.contains("/state"), "{}", r.record.text);
}

#[test]
fn forged_unsigned_replayed_stale_html_and_half_bad_commands_change_nothing() {
    let mut p = Pipeline::demo();
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let bob = secret("team-bob-secret.asc");
    let (raw, armored) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "c1@example.org", &copy),
        &text_payload("/state triage"),
        now(),
    );
    assert_eq!(
        pairs(&sent(p.process(&raw).outgoing())),
        vec![
            ("command-result", "alice@example.org"),
            ("team-copy", "bob@example.org")
        ]
    );
    let before = fields(&p);
    // Each attempt: the raw mail and the reason the member is told.
    let attempts: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "replayed",
            super::gpg::pgp_mime(
                &reply_headers("alice@example.org", "c1-again@example.org", &copy),
                &armored,
            ),
            "already used once",
        ),
        (
            "unsigned",
            plain_mail(
                "alice@example.org",
                "security@example.org",
                "Re: [SEC-2026-0001]",
                "c2@example.org",
                &format!("In-Reply-To: <{copy}>\r\n"),
                "/state closed",
            ),
            "not signed",
        ),
        (
            "From forged, signed by another member",
            signed_encrypted(
                &bob,
                &reply_headers("alice@example.org", "c3@example.org", &copy),
                &text_payload("/state closed"),
                now(),
            )
            .0,
            "signed by the key of bob@example.org",
        ),
        (
            "stale",
            signed_encrypted(
                &alice,
                &reply_headers("alice@example.org", "c4@example.org", &copy),
                &text_payload("/state closed"),
                now() - Duration::days(8),
            )
            .0,
            "more than 7d ago",
        ),
        (
            "HTML only",
            signed_encrypted(
                &alice,
                &reply_headers("alice@example.org", "c5@example.org", &copy),
                "Content-Type: text/html; charset=utf-8\n\n<p>/state closed</p>",
                now(),
            )
            .0,
            "HTML",
        ),
        (
            "one bad argument",
            signed_encrypted(
                &alice,
                &reply_headers("alice@example.org", "c6@example.org", &copy),
                &text_payload("/state closed\n/severity huge"),
                now(),
            )
            .0,
            "/severity huge: unknown level",
        ),
        (
            "assign to a stranger",
            signed_encrypted(
                &alice,
                &reply_headers("alice@example.org", "c7@example.org", &copy),
                &text_payload("/state closed\n/assign eve@evil.example"),
                now(),
            )
            .0,
            "eve@evil.example is not a team member",
        ),
    ];
    for (i, (what, raw, reason)) in attempts.into_iter().enumerate() {
        // Refusals are rate-limited like every automatic answer: space them out.
        p.at(now() + Duration::minutes(20 * (i as i64 + 1)));
        let r = p.process(&raw);
        assert_eq!(
            pairs(&sent(r.outgoing())),
            vec![("command-refused", "alice@example.org")],
            "{what}: {}",
            r.summary
        );
        assert_eq!(fields(&p), before, "{what} changed the case");
        let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
        assert!(told.contains(reason), "{what}: {told}");
        assert!(last_refusal(&p).contains(reason), "{what}");
    }

    // Alice's key under another From: answered at her configured address, never the From.
    p.at(now() + Duration::hours(4));
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@personal.example", "c8@example.org", &copy),
        &text_payload("/state closed"),
        now(),
    );
    let r = p.process(&raw);
    assert_eq!(
        pairs(&sent(r.outgoing())),
        vec![("command-refused", "alice@example.org")]
    );
    assert_eq!(fields(&p), before);

    // A reporter's text starting with a slash is just text.
    let r = p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Re: [SEC-2026-0001]",
        "r2@reporter.example",
        "",
        "/state closed\nplease",
    ));
    assert!(
        r.summary.contains("follow-up from reporter"),
        "{}",
        r.summary
    );
    assert_eq!(fields(&p)["state"], "triage");
}

#[test]
fn help_answers_with_the_command_list() {
    let p = Pipeline::demo();
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "h1@example.org", &copy),
        &text_payload("/help"),
        now(),
    );
    let r = p.process(&raw);
    // For its sender only: the rest of the team is not sent a copy (issue 13.6).
    assert_eq!(
        pairs(&sent(r.outgoing())),
        vec![("command-result", "alice@example.org")],
        "{}",
        r.summary
    );
    let text = open_sent(&r.outgoing()[0].mail.raw, &alice);
    assert!(text.contains("/duplicate CASE"), "{text}");
    // Without /reply nothing goes to the reporter: an internal note for the team.
    assert!(r
        .outgoing()
        .iter()
        .all(|Queued { mail: o, .. }| o.rcpts != ["rita@reporter.example"]));
}

/// The same commands as people write them (issue 13.1): capitalised, below mutt's and
/// Thunderbird's attribution line and quote, and on top of an Outlook-style quoted copy. Each
/// mail executes.
#[test]
fn commands_from_mutt_thunderbird_and_outlook_all_execute() {
    let team_copy = "Case:         SEC-2026-0001 (new)\nFrom:         Rita Reporter <rita@reporter.example>\n\n----- message text -----\nparse_packet() overflows on a 70000-byte record.\n----- end of message text -----";
    let quoted: String = team_copy.lines().map(|l| format!("> {l}\n")).collect();
    let mutt = format!(
        "On Sat, Nov 28, 2026 at 12:00:00PM +0000, Example Project Security wrote:\n{quoted}\n/State Confirmed\n/Severity high\n/reply\n\nHello Rita,\n\nconfirmed, a fix is under way.\n\n-- \nAlice\n"
    );
    let thunderbird = format!(
        "On 11/28/26 12:00 PM, Example Project Security wrote:\n{quoted}\n/state confirmed\n/SEVERITY High\n/Reply\n\nHello Rita,\n\nconfirmed, a fix is under way.\n"
    );
    let outlook = format!(
        "/State Confirmed\n/Severity high\n/Reply\n\nHello Rita,\n\nconfirmed, a fix is under way.\n\n-----Original Message-----\nFrom: Example Project Security <security@example.org>\nSent: Saturday, November 28, 2026 12:00 PM\nTo: alice@example.org\nSubject: [SEC-2026-0001] New security report\n\n{team_copy}\n"
    );
    for (client, body) in [
        ("mutt", mutt),
        ("Thunderbird", thunderbird),
        ("Outlook", outlook),
    ] {
        let p = Pipeline::demo();
        let copy = report(&p);
        let alice = secret("team-alice-secret.asc");
        let (raw, _) = signed_encrypted(
            &alice,
            &reply_headers("Alice <alice@example.org>", "m1@example.org", &copy),
            &text_payload(&body),
            now(),
        );
        let r = p.process(&raw);
        assert_eq!(
            pairs(&sent(r.outgoing())),
            vec![
                ("relay", "rita@reporter.example"),
                ("command-result", "alice@example.org"),
                ("team-copy", "bob@example.org"),
            ],
            "{client}: {}",
            r.summary
        );
        let case = p.case("SEC-2026-0001");
        assert_eq!(case.state, State::Confirmed, "{client}");
        assert_eq!(case.severity, Some(Severity::High), "{client}");
        let relayed = open_sent(
            &r.outgoing()[0].mail.raw,
            &secret("reporter-rita-secret.asc"),
        );
        assert!(
            relayed.contains("a fix is under way"),
            "{client}: {relayed}"
        );
        for leak in ["/state", "/State", "Case:", "wrote:", "Original Message"] {
            assert!(
                !relayed.contains(leak),
                "{client}: {leak:?} relayed:\n{relayed}"
            );
        }
    }
}

/// A command line where no command runs is answered "not executed", naming the line and why
/// (issue 13.1); the note still reaches the rest of the team and changes nothing.
#[test]
fn command_lines_outside_the_block_are_answered_not_executed() {
    let p = Pipeline::demo();
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "n1@example.org", &copy),
        &text_payload("Looks real to me, I will take it.\n/State Confirmed\n/assign me"),
        now(),
    );
    let r = p.process(&raw);
    assert_eq!(
        pairs(&sent(r.outgoing())),
        vec![
            ("command-result", "alice@example.org"),
            ("team-copy", "bob@example.org"),
        ],
        "{}",
        r.summary
    );
    let case = p.case("SEC-2026-0001");
    assert_eq!(case.state, State::New);
    assert_eq!(case.handler, None);
    let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
    assert!(told.contains("NOT EXECUTED"), "{told}");
    assert!(
        told.contains("/State Confirmed: below the message text"),
        "{told}"
    );
    assert!(
        told.contains("/assign me: below the message text"),
        "{told}"
    );

    // After an executed block: the block runs, the later line is named.
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "n2@example.org", &copy),
        &text_payload("/assign me\n\nTaking it.\n/state triage"),
        now(),
    );
    let r = p.process(&raw);
    let case = p.case("SEC-2026-0001");
    assert_eq!(case.handler.as_deref(), Some("alice@example.org"));
    assert_eq!(case.state, State::New);
    let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
    assert!(told.contains("/assign me — handler is now"), "{told}");
    assert!(
        told.contains("/state triage: not in the command block"),
        "{told}"
    );
}

/// Issue 13.2 and 13.7: dates as people write them. A bare time is the policy's zone
/// (Europe/Berlin here), `Z`, `UTC` and offsets are accepted, the one confirmation states the
/// date in both zones, and a form still refused comes back with the accepted forms filled in.
#[test]
fn embargo_times_are_read_in_the_policy_zone_and_confirmed_in_both() {
    let mut p = Pipeline::with_policy("time-zone = \"Europe/Berlin\"");
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let mail = |id: &str, body: &str| {
        signed_encrypted(
            &alice,
            &reply_headers("alice@example.org", id, &copy),
            &text_payload(body),
            now(),
        )
        .0
    };
    let r = p.process(&mail("e1@example.org", "/embargo 2026-12-16 14:00"));
    let results: Vec<_> = r
        .outgoing()
        .iter()
        .filter(|q| q.kind == "command-result")
        .collect();
    assert_eq!(results.len(), 1, "{}", r.summary);
    let told = open_sent(&results[0].mail.raw, &alice);
    assert!(
        told.contains("disclosure Wednesday 2026-12-16 14:00 Europe/Berlin (13:00 UTC)"),
        "{told}"
    );
    let until = |p: &Pipeline| p.case("SEC-2026-0001").embargo.unwrap().until;
    assert_eq!(until(&p).to_rfc3339(), "2026-12-16T13:00:00+00:00");
    for (i, (line, utc)) in [
        ("/embargo 2026-12-15T14:00Z", "2026-12-15T14:00:00+00:00"),
        ("/embargo 2026-12-15 14:00 UTC", "2026-12-15T14:00:00+00:00"),
        (
            "/embargo 2026-12-15T14:00+01:00",
            "2026-12-15T13:00:00+00:00",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        p.at(now() + Duration::minutes(20 * (i as i64 + 1)));
        let r = p.process(&mail(&format!("e{}@example.org", i + 2), line));
        assert_eq!(until(&p).to_rfc3339(), utc, "{line}: {}", r.summary);
    }
    p.at(now() + Duration::hours(2));
    let r = p.process(&mail("e9@example.org", "/embargo 2026-12-15T14h"));
    assert_eq!(
        pairs(&sent(r.outgoing())),
        vec![("command-refused", "alice@example.org")]
    );
    let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
    for form in [
        "/embargo 2026-12-15 14:00 UTC",
        "/embargo 2026-12-15T14:00Z",
    ] {
        assert!(told.contains(form), "{form:?} not offered:\n{told}");
    }
}

/// Issue 13.3 and 13.4: `/affected` keeps ranges as ranges and shows them back; `/severity`
/// scores the vector and warns when the level disagrees with the score.
#[test]
fn versions_are_ranges_and_cvss_is_scored() {
    let p = Pipeline::demo();
    let copy = report(&p);
    let alice = secret("team-alice-secret.asc");
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "v1@example.org", &copy),
        &text_payload(
            "/affected 2.0 - 2.3.1, >=3.0, <3.0.4\n/fixed 2.3.2, 3.0.4\n/severity low CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        ),
        now(),
    );
    let r = p.process(&raw);
    let case = p.case("SEC-2026-0001");
    let shown = secmail::model::versions::join(&case.affected);
    assert_eq!(shown, "[>=2.0, <=2.3.1], [>=3.0, <3.0.4]");
    assert!(!shown.contains(" - "), "no \"-\" version");
    let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
    assert!(
        told.contains("affected versions: 2.0 through 2.3.1; 3.0 up to 3.0.4 (not included)"),
        "{told}"
    );
    assert!(told.contains("score 9.8 critical"), "{told}");
    assert!(
        told.contains("WARNING: the level low disagrees with the vector's score 9.8 critical"),
        "{told}"
    );
    // A range is no fixed version; a bad vector is refused with the crate's reason.
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "v2@example.org", &copy),
        &text_payload("/fixed <2.3.2\n/severity high CVSS:3.1/AV:N/AC:L"),
        now(),
    );
    let mut p = p;
    p.at(now() + Duration::minutes(30));
    let r = p.process(&raw);
    let told = open_sent(&r.outgoing()[0].mail.raw, &alice);
    assert!(
        told.contains("is a range; /fixed names the versions"),
        "{told}"
    );
    assert!(told.contains("the base metric PR is missing"), "{told}");
}

/// Issue 13.5: the acknowledgement asks how to credit; without an answer nobody is named;
/// the reporter's `Credit: …` in a reply records it; `/credit` overrides.
#[test]
fn credit_is_asked_recorded_from_the_reply_and_overridden_by_credit() {
    let p = Pipeline::demo();
    let r = p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Heap overflow in parse_packet",
        "r1@reporter.example",
        "",
        "parse_packet() overflows on a 70000-byte record.",
    ));
    let ack = r.outgoing().iter().find(|q| q.kind == "ack").unwrap();
    let ack_text = String::from_utf8_lossy(&ack.mail.raw).into_owned();
    assert!(
        ack_text.contains("How would you like to be credited"),
        "{ack_text}"
    );
    let case = p.case("SEC-2026-0001");
    assert_eq!(case.reporters[0].credit, Credit::Undecided);
    assert_eq!(
        secmail::core::disclose::credit_line(&case),
        None,
        "no consent, no name"
    );

    // A forged From without our Message-ID cannot choose for her.
    p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Re: [SEC-2026-0001]",
        "forged@evil.example",
        "",
        "Credit: Eve was here",
    ));
    assert_eq!(
        p.case("SEC-2026-0001").reporters[0].credit,
        Credit::Undecided
    );
    // Her reply to the acknowledgement does.
    let ack_id = ack.mail.message_id.clone();
    p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Re: [SEC-2026-0001] Your security report",
        "r2@reporter.example",
        &format!("In-Reply-To: <{ack_id}>\r\nReferences: <{ack_id}>\r\n"),
        "Thanks!\r\n\r\nCredit: Rita R. (@rita)\r\n",
    ));
    let case = p.case("SEC-2026-0001");
    assert_eq!(
        case.reporters[0].credit,
        Credit::Handle("Rita R. (@rita)".into())
    );
    assert!(case
        .timeline
        .iter()
        .any(|e| matches!(e.kind, EventKind::CreditChosen { .. })));
    // The team's /credit overrides, and a later answer no longer changes it.
    let copy = p
        .case("SEC-2026-0001")
        .timeline
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Sent {
                kind,
                to,
                message_id,
                ..
            } if kind == "team-copy" && to == "alice@example.org" => Some(message_id.clone()),
            _ => None,
        })
        .unwrap();
    let alice = secret("team-alice-secret.asc");
    let (raw, _) = signed_encrypted(
        &alice,
        &reply_headers("alice@example.org", "k1@example.org", &copy),
        &text_payload("/credit anonymous"),
        now(),
    );
    p.process(&raw);
    p.process(&plain_mail(
        RITA,
        "security@example.org",
        "Re: [SEC-2026-0001] Your security report",
        "r3@reporter.example",
        &format!("In-Reply-To: <{ack_id}>\r\nReferences: <{ack_id}>\r\n"),
        "Credit: Rita Reporter",
    ));
    assert_eq!(
        p.case("SEC-2026-0001").reporters[0].credit,
        Credit::Anonymous
    );
}
