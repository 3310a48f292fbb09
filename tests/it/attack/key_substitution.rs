//! Class 4, key substitution: a reporter's cert, once learnt, is never replaced from an
//! unauthenticated source. An unsigned mail forged From the reporter with an Autocrypt header
//! or an attached key, or one signed only by the key it offers, leaves the known cert in use
//! (the team is told); a new cert offered in a mail signed by the known cert replaces it.
use super::craft::{mail, pipeline, report, Actor, CASE1, RITA};
use secmail::model::EventKind;

/// Rita's first mail into the case teaches her cert (Autocrypt); returns its fingerprint.
fn learnt(p: &super::super::common::Pipeline, rita: &Actor) -> String {
    report(p, "r1@reporter.example", "Overflow in the parser");
    let raw = mail(
        RITA,
        "r2@reporter.example",
        &rita.autocrypt("rita@reporter.example"),
        &rita.clearsign("More detail: it needs 70000 bytes.\n"),
    );
    let r = p.process(&raw);
    let fpr = p.case(CASE1).reporters[0].cert_fingerprint.clone();
    assert_eq!(
        fpr.as_deref(),
        Some(rita.fingerprint().as_str()),
        "{}",
        r.summary
    );
    fpr.unwrap()
}

fn team_told(p: &super::super::common::Pipeline, offered: &str) -> bool {
    p.case(CASE1)
        .timeline
        .iter()
        .any(|e| matches!(&e.kind, EventKind::CertChangeRefused { offered: o, .. } if o == offered))
}

#[test]
fn a_forged_unsigned_mail_with_an_autocrypt_key_does_not_replace_the_learnt_cert() {
    let p = pipeline();
    let rita = Actor::rita();
    let known = learnt(&p, &rita);
    let mallory = Actor::mallory("Rita Reporter <rita@reporter.example>");
    p.process(&mail(
        RITA,
        "forged@attacker.example",
        &mallory.autocrypt("rita@reporter.example"),
        "Please use my new key from now on.",
    ));
    assert_eq!(
        p.case(CASE1).reporters[0].cert_fingerprint.as_deref(),
        Some(known.as_str())
    );
    assert!(team_told(&p, &mallory.fingerprint()));
}

#[test]
fn a_mail_signed_only_by_the_key_it_attaches_does_not_replace_the_learnt_cert() {
    let p = pipeline();
    let rita = Actor::rita();
    let known = learnt(&p, &rita);
    let mallory = Actor::mallory("Rita Reporter <rita@reporter.example>");
    // PGP/MIME signed by the attacker's key, which rides along as an attachment: its signature
    // is good, by a cert that carries Rita's address — and proves nothing about Rita.
    let content = format!(
        "Content-Type: multipart/mixed; boundary=\"c\"\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nNew key attached, signed with it.\r\n--c\r\nContent-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n{}\r\n--c--",
        mallory.cert().trim_end().replace('\n', "\r\n")
    );
    let raw = format!(
        "From: {RITA}\r\nTo: security@example.org\r\nSubject: Re: [{CASE1}] Security case update\r\nMessage-ID: <attached@attacker.example>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n{}",
        mallory.multipart_signed(&content)
    );
    let r = p.process(raw.as_bytes());
    assert_eq!(
        p.case(CASE1).reporters[0].cert_fingerprint.as_deref(),
        Some(known.as_str()),
        "{}",
        r.summary
    );
    assert!(team_told(&p, &mallory.fingerprint()), "{}", r.summary);
}

#[test]
fn a_new_cert_offered_under_a_signature_of_the_known_cert_replaces_it() {
    let p = pipeline();
    let rita = Actor::rita();
    learnt(&p, &rita);
    let new_key = Actor::mallory("Rita Reporter <rita@reporter.example>");
    // Rita rolls her key: the mail is signed by the old one and carries the new one.
    p.process(&mail(
        RITA,
        "rollover@reporter.example",
        &new_key.autocrypt("rita@reporter.example"),
        &rita.clearsign("I have a new key.\n"),
    ));
    assert_eq!(
        p.case(CASE1).reporters[0].cert_fingerprint.as_deref(),
        Some(new_key.fingerprint().as_str())
    );
}
