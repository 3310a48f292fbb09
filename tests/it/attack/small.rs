//! Class 11, the smaller ones: two From headers, what the "could not read" notice says, and
//! what `/reply` relays.
use super::super::common::{open_sent, secret, sent};
use super::craft::{pipeline, report, Actor, CASE1};
use secmail::core::effect::Queued;

fn two_froms(first: &str, second: &str, msgid: &str) -> Vec<u8> {
    format!(
        "From: {first}\r\nFrom: {second}\r\nTo: security@example.org\r\nSubject: A report\r\nMessage-ID: <{msgid}>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\nThe parser overflows.\r\n"
    )
    .into_bytes()
}

#[test]
fn two_from_headers_get_no_automatic_answer_and_the_team_sees_the_report() {
    // DMARC checks the first From, a mail reader may show the last: whoever we answered, we
    // could be answering the wrong one. Nobody is answered; the report is not lost.
    let p = pipeline();
    let r = p.process(&two_froms(
        "Mallory <mallory@attacker.example>",
        "Victim <victim@victim.example>",
        "two@attacker.example",
    ));
    let out = sent(r.outgoing());
    assert!(
        out.iter().all(|(k, _)| k == "team-copy"),
        "automatic answer to a two-From mail: {out:?} ({})",
        r.summary
    );
    let copy = r
        .outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| open_sent(&o.raw, &secret("team-alice-secret.asc")))
        .expect("the team sees the report");
    assert!(copy.contains("several From"), "{copy}");
}

#[test]
fn a_members_signed_command_under_two_from_headers_does_not_act() {
    let p = pipeline();
    let copy_id = report(&p, "r1@reporter.example", "Overflow");
    let alice = Actor::alice();
    let signed = alice.clearsign(&format!("/case {CASE1}\n/state rejected\n"));
    let raw = format!(
        "From: Mallory <mallory@attacker.example>\r\nFrom: Alice <alice@example.org>\r\nTo: security@example.org\r\nSubject: Re: [{CASE1}]\r\nMessage-ID: <two-cmd@attacker.example>\r\nIn-Reply-To: {copy_id}\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\n{signed}"
    );
    let r = p.process(raw.as_bytes());
    let case = p.case(CASE1);
    assert_ne!(case.state.as_str(), "rejected", "{}", r.summary);
}

#[test]
fn the_could_not_read_notice_gives_one_plain_reason_and_the_team_the_details() {
    let p = pipeline();
    // A PGP/MIME message whose ciphertext is cut short.
    let raw = "From: Rita Reporter <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <cut@reporter.example>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA0tq1TiYvfpsAQf/Vv3z\r\n-----END PGP MESSAGE-----\r\n\r\n--b--\r\n";
    let r = p.process(raw.as_bytes());
    let notice: Vec<String> = r
        .outgoing()
        .iter()
        .filter(|Queued { mail: o, .. }| o.rcpts == ["rita@reporter.example"])
        .map(|Queued { mail: o, .. }| String::from_utf8_lossy(&o.raw).into_owned())
        .collect();
    assert_eq!(notice.len(), 1, "{}", r.summary);
    for detail in [
        "packet", "armor", "damaged:", "parse", "sequoia", "eof", "EOF",
    ] {
        assert!(
            !notice[0].contains(detail),
            "the notice names a decryption step ({detail}):\n{}",
            notice[0]
        );
    }
    let team = r
        .outgoing()
        .iter()
        .find(|Queued { mail: o, .. }| o.rcpts == ["alice@example.org"])
        .map(|Queued { mail: o, .. }| open_sent(&o.raw, &secret("team-alice-secret.asc")))
        .expect("the team is told");
    assert!(team.contains("damaged"), "{team}");
}

#[test]
fn reply_does_not_relay_outlook_or_gmail_style_quotes_of_internal_text() {
    use secmail::core::command::relay_text;
    let outlook = "Hello Rita, fixed in 2.4.1.\n\n-----Original Message-----\nFrom: security@example.org\nSent: Thursday, December 24, 2026 10:00\nTo: alice@example.org\nSubject: [SEC-2026-0001]\n\nInternal: Bob thinks this is exploitable remotely.\n";
    assert_eq!(relay_text(outlook), "Hello Rita, fixed in 2.4.1.");
    let headers_only = "Hello Rita.\n\nFrom: secmail <security@example.org>\nSent: Thursday, December 24, 2026 10:00\nTo: Alice\nSubject: note\n\nInternal note text.\n";
    assert_eq!(relay_text(headers_only), "Hello Rita.");
    let underscores = "Hello Rita.\n\n________________________________\nFrom: security@example.org\nInternal note text.\n";
    assert_eq!(relay_text(underscores), "Hello Rita.");
}

#[test]
fn a_reply_quoting_a_team_copy_is_refused() {
    use secmail::core::command::internal_marker;
    let pasted = "Hello Rita.\n\nCase address: security+SEC-2026-0001@example.org\n----- message text -----\nInternal.\n";
    assert!(internal_marker(pasted).is_some());
    assert!(internal_marker("Hello Rita, the fix is in 2.4.1.").is_none());
}
