//! Mail as the tests' senders write it, in one place: clear reports and follow-ups, the
//! machines and spam of a flood, PGP/MIME around an armored message, a team member's signed
//! and encrypted mail (secmail's own OpenPGP code, as a client would make it) and a reporter's
//! report made with the gpg command line; and the two readers the tests use on what comes
//! back (a header, the armored payload). The modules that used to hold these re-export them.
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use secmail::core::keys::ProjectKeys;
use secmail::core::seal;

use crate::common::{project_cert, repo};
use crate::gpg::Gpg;

/// The project's security address (the IMAP user of the harness's deployments).
pub const SECURITY: &str = "security@example.org";
/// The demo team's handler and second member.
pub const ALICE: &str = "alice@example.org";
pub const BOB: &str = "bob@example.org";
/// The reporter who uses gpg (fixtures/keys/reporter-rita*.asc).
pub const RITA: &str = "rita@reporter.example";

/// A clear mail from a reporter.
pub fn plain_mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}Date: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Plain report `n` from a new reporter at `from` to the security address (answered with a
/// signed, plaintext acknowledgement). Its text is secret: it must never reach a log.
pub fn plain_report(n: usize, from: &str) -> Vec<u8> {
    format!(
        "From: Reporter {n} <{from}>\r\nTo: {SECURITY}\r\nSubject: Issue {n}\r\n\
         Message-ID: <report-{n}@{dom}>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nSecret details of issue {n}: overflow in module {n}.\r\n",
        dom = from.split('@').nth(1).unwrap_or("example.net")
    )
    .into_bytes()
}

/// [`plain_report`] with 200 KiB of random base64 appended (to fill a disk quickly).
pub fn big_report(n: usize) -> Vec<u8> {
    use base64::Engine;
    use rand::RngCore;
    let mut noise = vec![0u8; 200 << 10];
    rand::thread_rng().fill_bytes(&mut noise);
    let mut raw = plain_report(n, &format!("big{n}@plain.example"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&noise);
    for line in b64.as_bytes().chunks(76) {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    raw
}

/// A small text mail with a Message-ID no other call in this process gets.
pub fn numbered_mail(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Message-ID: <it-{n}-{}@reporter.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        std::process::id()
    )
    .into_bytes()
}

/// Machine mail number `i` of a flood, in turn: an out-of-office reply, a bounce of one of our
/// acknowledgements, a mailing-list digest, a looped copy of our own mail.
pub fn machine_mail(i: usize) -> Vec<u8> {
    match i % 4 {
        0 => format!(
            "From: Out Of Office <ooo{i}@corp.example>\r\nTo: {SECURITY}\r\nSubject: Auto: away\r\n\
             Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-{i}@corp.example>\r\n\r\nI am away.\r\n"
        ),
        1 => format!(
            "From: MAILER-DAEMON@mx{i}.example\r\nReturn-Path: <>\r\nTo: {SECURITY}\r\nSubject: Undelivered\r\n\
             Message-ID: <bounce-{i}@mx.example>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/rfc822-headers\r\n\r\n\
             Message-ID: <ack.SEC-2026-{i:04}.x@example.org>\r\n--b--\r\n"
        ),
        2 => format!(
            "From: list@lists.example\r\nTo: {SECURITY}\r\nSubject: digest {i}\r\nList-Id: <l.lists.example>\r\n\
             Precedence: list\r\nMessage-ID: <list-{i}@lists.example>\r\n\r\ndigest\r\n"
        ),
        _ => format!(
            "From: {SECURITY}\r\nTo: {SECURITY}\r\nSubject: [SEC-2026-0001] looped\r\n\
             X-Secmail-Loop: {SECURITY}\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <loop-{i}@example.org>\r\n\r\nours\r\n"
        ),
    }
    .into_bytes()
}

/// Spam "report" number `i`, from one of five spammers (`spam0@` to `spam4@spam.example`).
pub fn spam_mail(i: usize) -> Vec<u8> {
    let who = i % 5;
    format!(
        "From: Spammer <spam{who}@spam.example>\r\nTo: {SECURITY}\r\nSubject: URGENT vuln {i}\r\n\
         Message-ID: <spam-{i}@spam.example>\r\n\r\nBuy now {i}.\r\n"
    )
    .into_bytes()
}

/// A PGP/MIME encrypted mail (RFC 3156 §4) around an armored message.
pub fn pgp_mime(headers: &str, armored: &str) -> Vec<u8> {
    format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b1\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n{}\r\n--b1--\r\n",
        armored.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}

/// A PGP/MIME message signed by `signer` (at `signed_at`) and encrypted to the project, as a
/// team member's mail client sends it. `headers` end with CRLF; `inner` is the MIME payload.
pub fn signed_encrypted(
    signer: &ProjectKeys,
    headers: &str,
    inner: &str,
    signed_at: DateTime<Utc>,
) -> (Vec<u8>, String) {
    let inner = protect_subject(headers, inner);
    let armored = seal::sign_and_encrypt(
        signer,
        &[&project_cert()],
        inner.replace('\n', "\r\n").as_bytes(),
        signed_at.into(),
    )
    .unwrap();
    (pgp_mime(headers, &armored), armored)
}

/// The outer Subject copied into the payload as an RFC 9788 protected header, as Thunderbird
/// and Delta Chat do: the signed content then names the case a reply is for (SECURITY.md,
/// re-targeting). A payload that already has protected headers is left alone.
fn protect_subject(headers: &str, inner: &str) -> String {
    let subject = headers
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Subject: "))
        .filter(|_| !inner.contains("protected-headers") && inner.starts_with("Content-Type: "));
    match (subject, inner.split_once('\n')) {
        (Some(subject), Some((first, rest))) => {
            format!("{first}; protected-headers=\"v1\"\nSubject: {subject}\n{rest}")
        }
        _ => inner.to_string(),
    }
}

/// A plain text payload for [`signed_encrypted`].
pub fn text_payload(body: &str) -> String {
    format!("Content-Type: text/plain; charset=utf-8\n\n{body}")
}

/// Rita's report as gpg and a careful client make it: PGP/MIME, signed and encrypted to the
/// project, her cert attached, the real subject protected (the outer one is "...").
pub fn gpg_report(
    gpg: &Gpg,
    message_id: &str,
    subject: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    let cert = std::fs::read_to_string(repo().join("fixtures/keys/reporter-rita.asc")).unwrap();
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"i1\"; protected-headers=\"v1\"\r\nSubject: {subject}\r\n\r\n--i1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--i1\r\nContent-Type: application/pgp-keys; name=\"rita.asc\"\r\nContent-Disposition: attachment; filename=\"rita.asc\"\r\n\r\n{}\r\n--i1--\r\n",
        cert.replace('\n', "\r\n")
    );
    let armored = gpg.sign_encrypt(RITA, SECURITY, inner.as_bytes());
    let headers = format!("From: Rita Reporter <{RITA}>\r\nTo: {SECURITY}\r\nSubject: ...\r\nMessage-ID: <{message_id}>\r\n{extra_headers}");
    pgp_mime(&headers, &armored)
}

/// The value of header `name` (the first one, unfolded lines only) in `raw`'s header block.
pub fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.split("\r\n\r\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// The armored OpenPGP message inside a PGP/MIME encrypted mail.
pub fn pgp_mime_payload(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let start = text
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("no PGP message in the mail");
    let end = text
        .find("-----END PGP MESSAGE-----")
        .expect("unterminated PGP message")
        + "-----END PGP MESSAGE-----".len();
    text[start..end].as_bytes().to_vec()
}
