//! Scenario tests: one per policy preset (shared/seeds/README.md). Each drives cases through the
//! pure pipeline, the store and the scheduler on a moving clock — across a weekend and the
//! 2026-12-25 / 2027-01-01 holidays — and asserts every message that goes out, when, and to
//! whom (DESIGN.md "Policies and timers").
use super::common::{
    open_sent, pairs, plain_mail, secret, sent, signed_encrypted, text_payload, Pipeline,
};
use chrono::{DateTime, Utc};
use secmail::core::calendar::Span;
use secmail::model::{versions, Credit, EventKind, State};

const HOLIDAYS: &str = r#"holidays = ["2026-12-25", "2027-01-01"]"#;
const RITA: &str = "Rita Reporter <rita@reporter.example>";
const TEAM: [&str; 3] = ["alice@example.org", "bob@example.org", "carol@example.org"];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A scheduler pass at `at`: what went out.
fn tick(p: &mut Pipeline, at: &str) -> Vec<(String, String)> {
    p.at(t(at));
    sent(&p.schedule().outbox)
}

fn digests() -> Vec<(String, String)> {
    TEAM.iter()
        .map(|m| ("digest".to_string(), m.to_string()))
        .collect()
}

fn report_from(p: &mut Pipeline, at: &str, from: &str, msgid: &str) -> Vec<(String, String)> {
    p.at(t(at));
    let r = p.process(&plain_mail(
        from,
        "security@example.org",
        "Remote crash in the packet parser",
        msgid,
        "",
        "A crafted packet crashes the daemon.",
    ));
    sent(r.outgoing())
}

fn opened(reporter: &str) -> Vec<(String, String)> {
    let mut v = vec![("ack".to_string(), reporter.to_string())];
    v.extend(
        TEAM.iter()
            .map(|m| ("team-copy".to_string(), m.to_string())),
    );
    v
}

/// Alice's signed command mail on `case`, written to the case address.
fn alice(p: &mut Pipeline, at: &str, case: &str, body: &str, n: u32) -> Vec<(String, String)> {
    p.at(t(at));
    let headers = format!(
        "From: Alice <alice@example.org>\r\nTo: security+{case}@example.org\r\nSubject: Re: [{case}]\r\nMessage-ID: <alice-{n}@example.org>\r\n"
    );
    let (raw, _) = signed_encrypted(
        &secret("team-alice-secret.asc"),
        &headers,
        &text_payload(body),
        t(at),
    );
    let r = p.process(&raw);
    sent(r.outgoing())
}

fn v(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn with_copies(first: &[(&str, &str)], except: &str) -> Vec<(String, String)> {
    let mut out = v(first);
    out.extend(
        TEAM.iter()
            .filter(|m| **m != except)
            .map(|m| ("team-copy".to_string(), m.to_string())),
    );
    out
}

/// NTPsec: ack within 24 h, verify within 3 days, a fix within 7 days for a significant
/// network risk; duplicates: reporters put in contact with each other.
#[test]
fn ntpsec_ack_verify_fix_and_duplicates_meet() {
    let mut p = Pipeline::with_policy(&format!("preset = \"ntpsec\"\n{HOLIDAYS}"));
    const RITA_ADDR: &str = "rita@reporter.example";
    // Thursday before Christmas: the acknowledgement goes at once.
    assert_eq!(
        report_from(&mut p, "2026-12-24T10:00:00Z", RITA, "r1@x"),
        opened(RITA_ADDR)
    );
    assert_eq!(tick(&mut p, "2026-12-24T10:05:00Z"), digests());
    // Christmas is a holiday: no digest; nothing is due yet.
    assert_eq!(tick(&mut p, "2026-12-25T09:30:00Z"), vec![]);
    // Verify is due Sunday 10:00 (3 days, wall clock); the handler is reminded when three
    // quarters of the time are gone; when it is missed the handler and the coordinator are
    // told (issue 13.6: not the coordinator alone).
    assert_eq!(tick(&mut p, "2026-12-26T15:59:00Z"), vec![]);
    assert_eq!(
        tick(&mut p, "2026-12-26T16:00:00Z"),
        v(&[("reminder", "alice@example.org")])
    );
    assert_eq!(tick(&mut p, "2026-12-26T17:00:00Z"), vec![], "fires once");
    assert_eq!(
        tick(&mut p, "2026-12-27T10:00:00Z"),
        v(&[
            ("escalation", "alice@example.org"),
            ("escalation", "bob@example.org")
        ])
    );
    // Monday is the next working day: the digest, with the breach in it.
    p.at(t("2026-12-28T09:00:00Z"));
    let s = p.schedule();
    assert_eq!(sent(&s.outbox), digests());
    let digest = open_sent(&s.outbox[0].mail.raw, &secret("team-alice-secret.asc"));
    assert!(digest.contains("SEC-2026-0001 triage: was due"), "{digest}");
    // Alice verifies: confirmed, critical, hers. The 7-day fix deadline now runs.
    assert_eq!(
        alice(
            &mut p,
            "2026-12-28T09:30:00Z",
            "SEC-2026-0001",
            "/state confirmed\n/severity critical\n/assign me",
            1
        ),
        with_copies(
            &[("command-result", "alice@example.org")],
            "alice@example.org"
        )
    );
    assert_eq!(tick(&mut p, "2026-12-29T09:00:00Z"), digests());
    // Fix due Thursday 10:00 (opened + 7 days): the handler reminded Tuesday 16:00.
    assert_eq!(
        tick(&mut p, "2026-12-29T16:00:00Z"),
        v(&[("reminder", "alice@example.org")])
    );
    let mut expected = v(&[
        ("escalation", "alice@example.org"),
        ("escalation", "bob@example.org"),
    ]);
    expected.extend(digests());
    assert_eq!(tick(&mut p, "2026-12-31T10:00:00Z"), expected);
    alice(
        &mut p,
        "2026-12-31T11:00:00Z",
        "SEC-2026-0001",
        "/state fix-ready",
        2,
    );
    assert_eq!(p.case("SEC-2026-0001").state, State::FixReady);

    // Sam reports the same issue; Alice marks it a duplicate. Each reporter is asked.
    assert_eq!(
        report_from(
            &mut p,
            "2026-12-31T12:00:00Z",
            "Sam <sam@other.example>",
            "s1@x"
        ),
        opened("sam@other.example")
    );
    assert_eq!(
        alice(
            &mut p,
            "2026-12-31T12:30:00Z",
            "SEC-2026-0002",
            "/duplicate SEC-2026-0001",
            3
        ),
        with_copies(
            &[
                ("contact-offer", "sam@other.example"),
                ("contact-offer", RITA_ADDR),
                ("command-result", "alice@example.org"),
            ],
            "alice@example.org"
        )
    );
    let (one, two) = (p.case("SEC-2026-0001"), p.case("SEC-2026-0002"));
    assert_eq!(two.state, State::Duplicate);
    assert_eq!(two.duplicate_of, Some(one.id.clone()));
    assert_eq!(one.duplicates, vec![two.id.clone()]);
    // They meet only when both said yes, each in a reply to their own offer.
    let yes = |p: &mut Pipeline, at: &str, from: &str, offer: &str, id: &str| {
        p.at(t(at));
        let r = p.process(&plain_mail(
            from,
            "security@example.org",
            "Re: Another report",
            id,
            &format!("In-Reply-To: <{offer}>\r\n"),
            "Yes.\n\n> Would you like us to put you in touch?",
        ));
        sent(r.outgoing())
    };
    let mut copies = TEAM
        .iter()
        .map(|m| ("team-copy".to_string(), m.to_string()))
        .collect::<Vec<_>>();
    assert_eq!(
        yes(
            &mut p,
            "2026-12-31T13:00:00Z",
            "sam@other.example",
            &two.contact_offers[0].message_id,
            "s2@x"
        ),
        copies
    );
    let mut expected = v(&[
        ("contact-made", RITA_ADDR),
        ("contact-made", "sam@other.example"),
    ]);
    expected.append(&mut copies);
    assert_eq!(
        yes(
            &mut p,
            "2026-12-31T14:00:00Z",
            RITA,
            &one.contact_offers[0].message_id,
            "r2@x"
        ),
        expected
    );
    assert!(p.case("SEC-2026-0001").contact_offers[0].introduced);
    // New Year's Day is a holiday; the fixed case and the duplicate need nothing.
    assert_eq!(tick(&mut p, "2027-01-01T10:00:00Z"), vec![]);
}

/// Enarx: ack within 48 h, a detailed response within 96 h, updates at least every five working
/// days; escalation to the coordinator, then the back-up contact.
#[test]
fn enarx_response_escalation_chain_and_progress_updates() {
    // The digest is switched off here, field by field over the preset.
    let mut p = Pipeline::with_policy(&format!(
        "preset = \"enarx\"\ndigest-every = \"never\"\n{HOLIDAYS}"
    ));
    assert_eq!(
        p.config.policy.update_every,
        Some(Span::WorkingDays(5)),
        "from the preset"
    );
    assert_eq!(
        report_from(&mut p, "2026-12-23T10:00:00Z", RITA, "r1@x"),
        opened("rita@reporter.example")
    );
    // The response is due Sunday 10:00 (96 h): reminder a quarter before, then the chain.
    assert_eq!(tick(&mut p, "2026-12-24T09:00:00Z"), vec![]);
    assert_eq!(
        tick(&mut p, "2026-12-26T10:00:00Z"),
        v(&[("reminder", "alice@example.org")])
    );
    assert_eq!(
        tick(&mut p, "2026-12-27T10:00:00Z"),
        v(&[
            ("escalation", "alice@example.org"),
            ("escalation", "bob@example.org")
        ])
    );
    // The next step a working day later: Monday is the first, so the end of Monday.
    assert_eq!(tick(&mut p, "2026-12-28T23:59:00Z"), vec![]);
    assert_eq!(
        tick(&mut p, "2026-12-29T00:00:00Z"),
        v(&[("escalation", "carol@example.org")])
    );
    // Alice answers: the response deadline is met and the update clock restarts.
    assert_eq!(
        alice(
            &mut p,
            "2026-12-29T09:00:00Z",
            "SEC-2026-0001",
            "/state triage\n/reply\n\nWe reproduced it; next we audit the parser for similar bugs.",
            1
        ),
        with_copies(
            &[
                ("relay", "rita@reporter.example"),
                ("command-result", "alice@example.org")
            ],
            "alice@example.org"
        )
    );
    // An internal note: the team only, and never in what the reporter is sent.
    alice(
        &mut p,
        "2027-01-04T11:00:00Z",
        "SEC-2026-0001",
        "INTERNAL: the exploit also works on 3.x",
        2,
    );
    // Five working days after Tuesday 29th, skipping New Year's Day: Wednesday 6th.
    assert_eq!(tick(&mut p, "2027-01-06T08:59:00Z"), vec![]);
    p.at(t("2027-01-06T09:00:00Z"));
    let s = p.schedule();
    assert_eq!(
        pairs(&sent(&s.outbox)),
        vec![("progress", "rita@reporter.example")]
    );
    let text = open_sent(&s.outbox[0].mail.raw, &secret("reporter-rita-secret.asc"));
    assert!(text.contains("being triaged"), "{text}");
    assert!(
        !text.contains("INTERNAL") && !text.contains("3.x"),
        "{text}"
    );
    assert_eq!(tick(&mut p, "2027-01-06T10:00:00Z"), vec![], "fires once");
    assert_eq!(
        tick(&mut p, "2027-01-13T09:00:00Z"),
        v(&[("progress", "rita@reporter.example")])
    );
    // Closing the case stops the clock.
    alice(
        &mut p,
        "2027-01-14T09:00:00Z",
        "SEC-2026-0001",
        "/state closed",
        3,
    );
    assert_eq!(tick(&mut p, "2027-02-14T09:00:00Z"), vec![]);
}

/// pyca/cryptography: an acknowledgement within 48 hours; advance notice about a week before
/// disclosure (the disclosure work uses it). When the automatic acknowledgement cannot go out
/// (the reporter hit the rate limit), the promise still holds: a coalesced acknowledgement
/// goes once the limit has room.
#[test]
fn pyca_acknowledgement_promise_holds_when_the_automatic_one_cannot_go() {
    let mut p = Pipeline::with_policy(&format!(
        "preset = \"pyca-cryptography\"\ndigest-every = \"off\"\n{HOLIDAYS}"
    ));
    assert_eq!(
        p.config.policy.advance_notice,
        Some(Span::Clock(chrono::Duration::days(7)))
    );
    for i in 0..5 {
        let out = report_from(
            &mut p,
            &format!("2026-12-18T17:0{i}:00Z"),
            RITA,
            &format!("r{i}@x"),
        );
        assert_eq!(out[0].0, "ack");
    }
    // The sixth in the hour: no automatic answer (rate limit), the team still gets it.
    let out = report_from(&mut p, "2026-12-18T17:05:00Z", RITA, "r5@x");
    assert_eq!(out.iter().filter(|(k, _)| k == "ack").count(), 0);
    // Issue 11.5: once the rate window has room again, the held acknowledgement goes as one
    // content-free message, and the 48-hour promise is kept by it: no reminder, no escalation.
    assert_eq!(tick(&mut p, "2026-12-18T17:30:00Z"), vec![]);
    assert_eq!(
        tick(&mut p, "2026-12-18T18:05:00Z"),
        v(&[("ack-coalesced", "rita@reporter.example")])
    );
    assert_eq!(tick(&mut p, "2026-12-20T05:05:00Z"), vec![]);
    assert_eq!(tick(&mut p, "2026-12-20T17:05:00Z"), vec![]);
    // Alice answers and records what the advisory will need.
    assert_eq!(
        alice(
            &mut p,
            "2026-12-21T09:00:00Z",
            "SEC-2026-0006",
            "/affected <46.0.2\n/fixed 46.0.2\n/credit Rita R.\n/reply\n\nThanks, we are on it.",
            1
        ),
        with_copies(
            &[
                ("relay", "rita@reporter.example"),
                ("command-result", "alice@example.org")
            ],
            "alice@example.org"
        )
    );
    let c = p.case("SEC-2026-0006");
    assert_eq!(
        (versions::join(&c.affected), versions::join(&c.fixed)),
        ("<46.0.2".to_string(), "46.0.2".to_string())
    );
    assert_eq!(c.reporters[0].credit, Credit::Handle("Rita R.".into()));
    assert_eq!(tick(&mut p, "2026-12-22T17:05:00Z"), vec![]);
}

/// rptp: best effort, no time promises; the acknowledgement asks for description, impact,
/// steps to reproduce and environment. Over a month only the weekly-ish digest goes out.
#[test]
fn rptp_makes_no_time_promises() {
    let mut p = Pipeline::with_policy(&format!("preset = \"rptp\"\n{HOLIDAYS}"));
    p.at(t("2026-12-24T08:00:00Z"));
    let r = p.process(&plain_mail(
        RITA,
        "security@example.org",
        "PTP spoofing",
        "r1@x",
        "",
        "Spoofed Sync messages move the clock.",
    ));
    let ack = String::from_utf8_lossy(&r.outgoing()[0].mail.raw).into_owned();
    for ask in [
        "potential impact",
        "steps to reproduce",
        "environment details",
    ] {
        assert!(
            ack.contains(ask),
            "the acknowledgement must ask for {ask}:\n{ack}"
        );
    }
    let mut digest_days = Vec::new();
    let mut day = t("2026-12-24T09:00:00Z");
    while day < t("2027-01-23T00:00:00Z") {
        let out = tick(&mut p, &day.to_rfc3339());
        if !out.is_empty() {
            assert_eq!(out, digests(), "{day}: only digests");
            digest_days.push(day.format("%m-%d").to_string());
        }
        day += chrono::Duration::days(1);
    }
    // Every five working days, skipping weekends and both holidays.
    assert_eq!(digest_days, vec!["12-24", "01-04", "01-11", "01-18"]);
    assert!(p
        .case("SEC-2026-0001")
        .timeline
        .iter()
        .all(|e| !matches!(e.kind, EventKind::Timer { .. })));
}

/// The coordinated-disclosure guide: an answer within one business day from the security
/// address that recognises a security report; the discoverer may stay anonymous. Counted in the
/// project's time zone.
#[test]
fn coordinated_disclosure_answers_at_once_and_allows_anonymity() {
    let mut p = Pipeline::with_policy(&format!(
        "preset = \"coordinated-disclosure\"\ntime-zone = \"America/New_York\"\n{HOLIDAYS}"
    ));
    // Saturday: the answer goes at once anyway.
    p.at(t("2026-11-28T12:00:00Z"));
    let r = p.process(&plain_mail(
        RITA,
        "security@example.org",
        "XSS in the admin page",
        "r1@x",
        "",
        "Stored XSS.",
    ));
    assert_eq!(sent(r.outgoing()), opened("rita@reporter.example"));
    let ack = String::from_utf8_lossy(&r.outgoing()[0].mail.raw).into_owned();
    assert!(
        ack.contains("From: Example Project Security <security@example.org>"),
        "{ack}"
    );
    assert!(ack.contains("recognised it as a security report"), "{ack}");
    // The promise (end of Monday, New York) is met: nothing but the Monday digest at 09:00 local.
    assert_eq!(tick(&mut p, "2026-11-28T14:00:00Z"), vec![], "weekend");
    assert_eq!(
        tick(&mut p, "2026-11-30T13:59:00Z"),
        vec![],
        "08:59 in New York"
    );
    assert_eq!(tick(&mut p, "2026-11-30T14:00:00Z"), digests());
    assert_eq!(tick(&mut p, "2026-12-01T05:00:00Z"), vec![], "no breach");
    alice(
        &mut p,
        "2026-12-01T15:00:00Z",
        "SEC-2026-0001",
        "/credit anonymous",
        1,
    );
    assert_eq!(
        p.case("SEC-2026-0001").reporters[0].credit,
        Credit::Anonymous
    );
}
