//! Class 5, decryption oracle ("surreptitious forwarding", Müller et al. 2019): re-sending a
//! captured report's ciphertext From the attacker, with the attacker's key, must not make us
//! answer with anything of the decrypted content. Ciphertext already seen is a copy of the
//! earlier message: shown to the team on that case, not answered; and no automatic answer
//! repeats decrypted content to a sender the content does not confirm.
use super::super::gpg::{pgp_mime, pgp_mime_payload};
use super::craft::{pipeline, Actor, CASE1};
use secmail::core::effect::Queued;

const SECRET_SUBJECT: &str = "Remote root in the login daemon";
const SECRET_TEXT: &str = "send 5000 bytes to port 513";

fn report_ciphertext(rita: &Actor) -> String {
    let inner = format!(
        "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nSubject: {SECRET_SUBJECT}\r\n\r\nTo reproduce: {SECRET_TEXT}.\r\n"
    );
    rita.encrypt(&inner, false)
}

fn headers(from: &str, msgid: &str, extra: &str) -> String {
    format!("From: {from}\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <{msgid}>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n{extra}")
}

/// Every message sent to Mallory, decrypted where she can decrypt it.
fn to_mallory(out: &[Queued], m: &Actor) -> Vec<String> {
    out.iter()
        .filter(|Queued { mail: o, .. }| o.rcpts.iter().any(|r| r == "mallory@attacker.example"))
        .map(
            |Queued {
                 mail: o, kind: k, ..
             }| {
                let raw = String::from_utf8_lossy(&o.raw).into_owned();
                let opened = if raw.contains("-----BEGIN PGP MESSAGE-----") {
                    m.decrypt(&pgp_mime_payload(&o.raw)).unwrap_or_default()
                } else {
                    String::new()
                };
                format!("{k}: {raw}\n{opened}")
            },
        )
        .collect()
}

#[test]
fn a_captured_ciphertext_resent_by_the_attacker_is_a_copy_and_is_not_answered() {
    let p = pipeline();
    let rita = Actor::rita();
    let mallory = Actor::mallory("Mallory <mallory@attacker.example>");
    let ct = report_ciphertext(&rita);
    let first = p.process(&pgp_mime(
        &headers(
            "Rita Reporter <rita@reporter.example>",
            "r1@reporter.example",
            "",
        ),
        &ct,
    ));
    assert!(first.opened_case, "{}", first.summary);
    let again = p.process(&pgp_mime(
        &headers(
            "Mallory <mallory@attacker.example>",
            "resent@attacker.example",
            &mallory.autocrypt("mallory@attacker.example"),
        ),
        &ct,
    ));
    assert!(!again.opened_case, "{}", again.summary);
    let sent = to_mallory(again.outgoing(), &mallory);
    assert!(sent.is_empty(), "answered the attacker: {sent:?}");
    // The team sees the copy on the first case.
    assert!(
        again.outgoing().iter().any(
            |Queued {
                 mail: o,
                 case: c,
                 kind: k,
             }| k == "team-copy"
                && c.as_ref().map(|c| c.as_str()) == Some(CASE1)
                && o.rcpts == ["alice@example.org"]
        ),
        "{}",
        again.summary
    );
}

#[test]
fn an_answer_to_an_unconfirmed_sender_repeats_nothing_of_the_decrypted_content() {
    // Mallory is first with Rita's ciphertext (read off the wire): a new case, but the
    // acknowledgement, encrypted to Mallory's Autocrypt key, must not quote what she can't read.
    let p = pipeline();
    let rita = Actor::rita();
    let mallory = Actor::mallory("Mallory <mallory@attacker.example>");
    let ct = report_ciphertext(&rita);
    let r = p.process(&pgp_mime(
        &headers(
            "Mallory <mallory@attacker.example>",
            "first@attacker.example",
            &mallory.autocrypt("mallory@attacker.example"),
        ),
        &ct,
    ));
    for m in to_mallory(r.outgoing(), &mallory) {
        assert!(
            !m.contains(SECRET_SUBJECT),
            "the protected subject reached the attacker:\n{m}"
        );
        assert!(
            !m.contains(SECRET_TEXT),
            "report text reached the attacker:\n{m}"
        );
    }
}
