//! Opening an incoming message: decryption and signature verification in every form we accept.
//!
//! Owns: the entry point [`message`] and its result, [`Opened`]. The flow, one room each:
//! [`mime`](super::mime) parses the raw bytes into a tree → `open_root` names the form and
//! `forms` applies the EFAIL rules to it (PGP/MIME, signed, Exchange repair, inline blocks,
//! encrypted attachments) → `armor` finds and repairs armored blocks → `packets` decrypts
//! with the project keys (and `aead` the LibrePGP AEAD packet sequoia does not parse) →
//! `verify` checks signatures → `content` collects text, attachments and attached keys
//! from the authenticated tree → `protected` reads protected headers and Autocrypt.
//!
//! Invariants:
//! - Pure and total: [`message`] never panics and never errors; every outcome is a value.
//!   The clock is the `now` argument. Limits bound the work on hostile input (MIME depth and
//!   part count, decrypted size against compression bombs).
//! - EFAIL (DESIGN.md "OpenPGP"): we decrypt only an encrypted part at the root of the message,
//!   under a single multipart/signed wrapper, in the repairable Exchange forms, or an inline
//!   block / encrypted attachment of a simple (non-nested) message. Clear text beside an
//!   encrypted part is never spliced into [`Opened::text`]; it goes to
//!   [`Opened::unauthenticated`].
//! - No integrity, no plaintext: a SED packet (no MDC) is [`Crypt::NoIntegrity`]; a failed
//!   MDC or AEAD tag is [`Crypt::Damaged`]; in both cases `text` stays empty
//!   (RFC 9580 §5.13, §13.7).
//! - Signatures are verified over the bytes as RFC 3156 §5 defines them: the first part of
//!   multipart/signed with every line ending made CRLF, the CRLF before the boundary excluded.
//!   We are strict: a signature made over other bytes is Bad.
//! - Protected headers are read only from the root of the cryptographic payload
//!   (RFC 9788 §2, `hp=` parameter, or the older `protected-headers="v1"`), never from a
//!   nested part or from unprotected content.
//! - Reasons in [`Crypt::Damaged`] never contain plaintext.

mod aead;
mod armor;
mod content;
mod forms;
mod packets;
pub use packets::MAX_DECRYPTION_ATTEMPTS;
mod protected;
mod verify;

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use super::keys::{self, Cert, ProjectKeys};
use super::mime::{self, MAX_DEPTH, MAX_PARTS};
use content::{attachment_of, finish_certs};
use forms::{
    exchange_payload, open_clear, open_encrypted_bytes, open_pgp_mime, open_signed_root, Exchange,
};
use protected::autocrypt;

/// Largest decrypted (and decompressed) payload we accept: a compression bomb stops here.
const MAX_PLAINTEXT: usize = 64 << 20;
/// Certs taken from one message (attached, Autocrypt): a real mail carries one or two; a
/// flood of key packets cost minutes of CPU (SECURITY.md, cost bombs).
pub const MAX_ATTACHED_CERTS: usize = 16;
/// Key data larger than this is not parsed as keys (it stays an attachment for the team).
pub const MAX_KEY_BYTES: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The result
// ---------------------------------------------------------------------------------------------

/// How the message carried its OpenPGP content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// No OpenPGP at all (S/MIME content is treated as opaque clear content too).
    Clear,
    /// RFC 3156 §4 multipart/encrypted (possibly under one multipart/signed wrapper).
    PgpMime,
    /// Armored blocks inside text parts.
    Inline,
    /// An encrypted `.asc` / `.gpg` / `.pgp` attachment.
    Attachment,
    /// The Microsoft Exchange / "mixed-up" mangling of PGP/MIME, repaired.
    ExchangeRepaired,
    /// RFC 3156 §5 multipart/signed, not encrypted.
    Signed,
}

/// What decryption came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crypt {
    /// Nothing was encrypted.
    Clear,
    /// Decrypted, with integrity protection verified.
    Decrypted,
    /// Encrypted, but not to any project key: the recipients' key ids or fingerprints (hex).
    NotForUs { recipients: Vec<String> },
    /// Encrypted without integrity protection (no MDC, no AEAD): refused, no plaintext.
    NoIntegrity,
    /// Malformed, tampered or refused: a short reason, never plaintext.
    Damaged(String),
}

/// Headers from the cryptographic payload (RFC 9788; `protected-headers="v1"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectedHeaders {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub reply_to: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

impl ProtectedHeaders {
    /// True when no protected header was found.
    pub fn is_empty(&self) -> bool {
        *self == ProtectedHeaders::default()
    }
}

/// The result of checking one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigStatus {
    Good,
    Bad,
    UnknownKey,
    /// Cryptographically good, but the signing cert or key is expired at `now`.
    Expired,
    /// Cryptographically good or not, the signing cert or key is revoked.
    Revoked,
}

/// One checked signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub status: SigStatus,
    /// Full hex fingerprint of the signing cert, when known.
    pub fingerprint: Option<String>,
    /// The issuer as carried in the signature (fingerprint or key id, hex); empty if none.
    pub issuer: String,
    /// Lowercased addresses of the signing cert's valid user ids.
    pub signer_emails: Vec<String>,
    /// The signature's creation time (RFC 9580 §5.2.3.11), when it carries one: team commands
    /// are accepted only while it is fresh (DESIGN.md "Team commands").
    pub created: Option<SystemTime>,
    /// The replay key: sha256 (hex) of what the signature covers — signer, hashed area, digest
    /// of the signed data (`verify::replay_key`) — stable when an attacker changes the
    /// unhashed area. Empty when there was no parsable signature packet.
    pub digest: String,
    /// sha256 (hex) of the serialized signature packet: the replay key of secmail 0.x, still
    /// checked so that a command used before the upgrade does not act again.
    pub packet_digest: String,
}

/// Where a cert learnt from this message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertSource {
    /// An attached `application/pgp-keys` cert that made a Good signature on this message.
    AttachedSigner,
    /// The `Autocrypt` header, whose `addr=` equals the From address.
    Autocrypt,
    /// Attached, but it did not sign this message.
    Attached,
}

/// A cert learnt from the message. Trust is the caller's decision.
#[derive(Debug, Clone)]
pub struct LearntCert {
    pub cert: Cert,
    pub source: CertSource,
}

/// An attachment of the authenticated content (keys and signatures excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Everything we learnt from opening a message.
#[derive(Debug, Clone)]
pub struct Opened {
    pub form: Form,
    pub outcome: Crypt,
    /// The authenticated body text: decrypted (or clear, if not encrypted), HTML reduced to
    /// crude text. Never contains sibling clear text of an encrypted part.
    pub text: String,
    /// Clear text parts beside an encrypted (or inline-signed) part, kept apart.
    pub unauthenticated: Vec<String>,
    pub protected: ProtectedHeaders,
    pub signatures: Vec<Signature>,
    pub certs: Vec<LearntCert>,
    pub attachments: Vec<Attachment>,
    pub autocrypt: Option<Cert>,
    /// Some of `text` came from an HTML part (no plain alternative): team commands are never
    /// read from HTML (DESIGN.md "Team commands").
    pub html: bool,
    /// How many separately authenticated blocks (inline signed or encrypted blocks, encrypted
    /// attachments) were joined into `text` and `attachments`. Above one, no single signature
    /// covers the whole: team commands are refused (SECURITY.md, command splicing).
    pub pieces: usize,
    /// sha256 (hex) of each decrypted payload: the same ciphertext sent again — by anyone,
    /// under any headers — has the same id (SECURITY.md, decryption oracle).
    pub payload_ids: Vec<String>,
}

impl Opened {
    fn new() -> Opened {
        Opened {
            form: Form::Clear,
            outcome: Crypt::Clear,
            text: String::new(),
            unauthenticated: Vec::new(),
            protected: ProtectedHeaders::default(),
            signatures: Vec::new(),
            certs: Vec::new(),
            attachments: Vec::new(),
            autocrypt: None,
            html: false,
            pieces: 0,
            payload_ids: Vec::new(),
        }
    }

    /// The full fingerprint of a Good signature whose signing cert carries `from`
    /// (DESIGN.md "OpenPGP": only then is a sender verified). `from` may be a bare address or
    /// `Name <address>`. Whether the cert itself is trusted (known vs. attached, see
    /// [`Opened::certs`]) is the caller's decision.
    pub fn verified_sender(&self, from: &str) -> Option<String> {
        let addr = bare_address(from)?;
        self.signatures
            .iter()
            .find(|s| s.status == SigStatus::Good && s.signer_emails.contains(&addr))
            .and_then(|s| s.fingerprint.clone())
    }

    /// True when the outcome is a failure to read encrypted content.
    fn failed(&self) -> bool {
        matches!(
            self.outcome,
            Crypt::NotForUs { .. } | Crypt::NoIntegrity | Crypt::Damaged(_)
        )
    }
}

/// `Name <a@b>` or `a@b` → `a@b`, lowercased.
fn bare_address(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let inner = inner.trim().trim_matches('"').trim();
    if inner.contains('@') && !inner.contains(char::is_whitespace) {
        Some(inner.to_lowercase())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Opens `raw` (a whole RFC 5322 message): decrypts with `keys`, verifies signatures with
/// `known` certs plus the message's own: certs attached to the authenticated content and the
/// cert of its Autocrypt header (as Thunderbird, Delta Chat and K-9 send it; a signature it
/// makes counts as one by an attached cert does). Never panics, never errors.
pub fn message(raw: &[u8], keys: &ProjectKeys, known: &[Cert], now: SystemTime) -> Opened {
    let mut budget = MAX_PARTS;
    let root = mime::parse(skip_mbox_line(raw), 0, &mut budget);
    let autocrypt = autocrypt(&root);
    let with_autocrypt: Vec<Cert>;
    let known = match &autocrypt {
        Some(cert) => {
            with_autocrypt = known.iter().chain([cert]).cloned().collect();
            &with_autocrypt[..]
        }
        None => known,
    };
    let ctx = Ctx { keys, known, now };
    let mut opened = Opened::new();
    let mut found = Found::default();
    open_root(&root, &ctx, &mut opened, &mut found);
    opened.html = found.html;
    if opened.failed() {
        // No plaintext of any kind leaves a failed decryption.
        opened.text.clear();
        opened.attachments.clear();
        opened.protected = ProtectedHeaders::default();
    }
    finish_certs(&mut opened, found.keys);
    if let Some(cert) = autocrypt {
        opened.certs.push(LearntCert {
            cert: cert.clone(),
            source: CertSource::Autocrypt,
        });
        opened.autocrypt = Some(cert);
    }
    opened
}

/// Drops an mbox `From ` separator line that some stores leave at the top of a message.
fn skip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        if let Some(nl) = raw.iter().position(|&b| b == b'\n') {
            return &raw[nl + 1..];
        }
    }
    raw
}

struct Ctx<'a> {
    keys: &'a ProjectKeys,
    known: &'a [Cert],
    now: SystemTime,
}

/// Content gathered from an authenticated (or clear) tree.
#[derive(Default)]
struct Found {
    texts: Vec<String>,
    /// A text part was HTML.
    html: bool,
    attachments: Vec<Attachment>,
    keys: Vec<Cert>,
}

/// Classifies the message root and dispatches (DESIGN.md "OpenPGP", EFAIL rules).
fn open_root(root: &mime::Part, ctx: &Ctx, opened: &mut Opened, found: &mut Found) {
    match root.mime.as_str() {
        "multipart/encrypted" => {
            opened.form = Form::PgpMime;
            open_pgp_mime(root, ctx, opened, found);
        }
        "multipart/signed" => open_signed_root(root, ctx, opened, found),
        "multipart/mixed" if exchange_payload(root).is_some() => {
            opened.form = Form::ExchangeRepaired;
            if let Some((clear, payload)) = exchange_payload(root) {
                push_unauthenticated(opened, clear);
                match payload {
                    Exchange::Parts(enc) => open_pgp_mime(enc, ctx, opened, found),
                    Exchange::Data(data) => open_encrypted_bytes(&data, true, ctx, opened, found),
                }
            }
        }
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            // S/MIME: not ours to decrypt; kept opaque (DESIGN.md: S/MIME is clear/opaque).
            opened.form = Form::Clear;
            opened.outcome = Crypt::Clear;
            found.attachments.push(attachment_of(root));
            opened.attachments = std::mem::take(&mut found.attachments);
        }
        _ => open_clear(root, ctx, opened, found, true),
    }
}

/// The verifying certs: the caller's known certs plus `attached`.
fn certs_for(ctx: &Ctx, attached: &[Cert]) -> Vec<Cert> {
    let mut v: Vec<Cert> = ctx.known.to_vec();
    v.extend(attached.iter().cloned());
    v
}

fn join_texts(texts: &[String]) -> String {
    texts
        .iter()
        .map(|t| t.trim_end_matches(['\r', '\n']))
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Remembers a decrypted payload's id (see [`Opened::payload_ids`]).
fn payload_id(opened: &mut Opened, plaintext: &[u8]) {
    use sha2::{Digest, Sha256};
    opened
        .payload_ids
        .push(hex::encode(Sha256::digest(plaintext)));
}

fn push_unauthenticated(opened: &mut Opened, text: String) {
    if !text.trim().is_empty() {
        opened.unauthenticated.push(text);
    }
}

#[cfg(test)]
mod tests {
    use super::armor::dearmor;
    use super::*;
    use crate::core::seal;
    use openpgp::armor;
    use openpgp::cert::prelude::*;
    use openpgp::cert::CipherSuite;
    use openpgp::serialize::Serialize;
    use std::time::Duration;

    const NOW: u64 = 1_795_824_000; // 2026-11-28
    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn gen(uid: &str, suite: CipherSuite, created: u64, validity: Option<Duration>) -> Cert {
        CertBuilder::general_purpose(Some(uid))
            .set_cipher_suite(suite)
            .set_creation_time(t(created))
            .set_validity_period(validity)
            .generate()
            .expect("generate")
            .0
    }

    fn project(cert: &Cert) -> ProjectKeys {
        project_at(cert, NOW)
    }

    fn project_at(cert: &Cert, at: u64) -> ProjectKeys {
        let mut v = Vec::new();
        cert.as_tsk().serialize(&mut v).expect("tsk");
        ProjectKeys::from_secret_keys(&[("p".into(), v)], None, t(at)).expect("keys")
    }

    fn pgp_mime(armored: &str) -> Vec<u8> {
        format!(
            "From: Reporter <rep@example.net>\r\nTo: security@example.org\r\nSubject: ...\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; \
             protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\n\
             Content-Type: application/octet-stream\r\n\r\n{armored}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    const BODY: &str = "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\n\
                        Subject: RCE in the parser\r\n\r\nThe parser overflows.\r\n";

    /// Sign-and-encrypt by `sender` (acting as a project) to `to`, opened by `reader`.
    fn round(sender: &Cert, to: &Cert, reader: &Cert, known: &[Cert], at: u64) -> Opened {
        let sealed = seal::sign_and_encrypt(&project_at(sender, at), &[to], BODY.as_bytes(), t(at))
            .expect("seal");
        message(&pgp_mime(&sealed), &project(reader), known, t(NOW))
    }

    #[test]
    fn round_trips() {
        for suite in [CipherSuite::Cv25519, CipherSuite::RSA3k] {
            let us = gen("Sec <security@example.org>", suite, NOW - 86_400, None);
            let rep = gen("Rep <rep@example.net>", suite, NOW - 86_400, None);
            let pub_us = us.clone().strip_secret_key_material();
            let o = round(&rep, &pub_us, &us, std::slice::from_ref(&rep), NOW);
            assert_eq!(o.outcome, Crypt::Decrypted, "{suite:?}");
            assert_eq!(o.form, Form::PgpMime);
            assert_eq!(o.text.trim(), "The parser overflows.");
            assert_eq!(o.protected.subject.as_deref(), Some("RCE in the parser"));
            assert_eq!(o.signatures.len(), 1);
            assert_eq!(o.signatures[0].status, SigStatus::Good);
            let fpr = keys::fingerprint(&rep);
            assert_eq!(o.verified_sender("Rep <REP@example.net>"), Some(fpr));
            assert_eq!(o.verified_sender("other@example.net"), None);
            // Unknown signer: still decrypted, signature UnknownKey, sender not verified.
            let o = round(&rep, &pub_us, &us, &[], NOW);
            assert_eq!(o.outcome, Crypt::Decrypted);
            assert_eq!(o.signatures[0].status, SigStatus::UnknownKey);
            assert_eq!(o.verified_sender("rep@example.net"), None);
        }
    }

    #[test]
    fn a_signature_by_the_autocrypt_cert_is_good() {
        // Thunderbird, Delta Chat, K-9 send the signer's cert in the Autocrypt header only
        // (found by the interop suite: it read "unknown key" for every one of them).
        use base64::Engine;
        let us = gen(
            "Sec <security@example.org>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let rep = gen(
            "Rep <rep@example.net>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let sealed = seal::sign_and_encrypt(
            &project(&rep),
            &[&us.clone().strip_secret_key_material()],
            BODY.as_bytes(),
            t(NOW),
        )
        .expect("seal");
        let mut cert = Vec::new();
        rep.clone()
            .strip_secret_key_material()
            .serialize(&mut cert)
            .expect("cert");
        let keydata = base64::engine::general_purpose::STANDARD.encode(cert);
        let with = |addr: &str| {
            let mut raw = format!("Autocrypt: addr={addr}; keydata={keydata}\r\n").into_bytes();
            raw.extend(pgp_mime(&sealed));
            message(&raw, &project(&us), &[], t(NOW))
        };
        let o = with("rep@example.net");
        assert_eq!(o.signatures[0].status, SigStatus::Good);
        assert_eq!(
            o.verified_sender("rep@example.net"),
            Some(keys::fingerprint(&rep))
        );
        assert!(o.autocrypt.is_some());
        // An Autocrypt header for another address is no header at all.
        let o = with("other@example.net");
        assert_eq!(o.signatures[0].status, SigStatus::UnknownKey);
        assert!(o.autocrypt.is_none());
    }

    #[test]
    fn not_for_us_and_expired_signer() {
        let us = gen(
            "Sec <security@example.org>",
            CipherSuite::Cv25519,
            NOW - 200 * 86_400,
            None,
        );
        let other = gen(
            "O <o@example.org>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let o = round(&us, &other, &us, &[], NOW);
        match &o.outcome {
            Crypt::NotForUs { recipients } => assert_eq!(recipients.len(), 1),
            x => panic!("{x:?}"),
        }
        assert!(o.text.is_empty());
        // A signer whose key expired after signing: Expired, not Good.
        let old = gen(
            "Old <old@example.net>",
            CipherSuite::Cv25519,
            NOW - 100 * 86_400,
            Some(Duration::from_secs(30 * 86_400)),
        );
        let pub_us = us.clone().strip_secret_key_material();
        let o = round(
            &old,
            &pub_us,
            &us,
            std::slice::from_ref(&old),
            NOW - 90 * 86_400,
        );
        assert_eq!(o.outcome, Crypt::Decrypted);
        assert_eq!(o.signatures[0].status, SigStatus::Expired);
        assert_eq!(o.verified_sender("old@example.net"), None);
    }

    #[test]
    fn tampered_and_garbage_are_damaged() {
        let us = gen(
            "Sec <security@example.org>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let pub_us = us.clone().strip_secret_key_material();
        let sealed = seal::sign_and_encrypt(&project(&us), &[&pub_us], b"secret words", t(NOW))
            .expect("seal");
        let bin = dearmor(sealed.as_bytes()).expect("dearmor");
        let mut flipped = bin.clone();
        let i = flipped.len() - 30;
        flipped[i] ^= 0x01;
        let mut armored = Vec::new();
        {
            let mut w = armor::Writer::new(&mut armored, armor::Kind::Message).expect("w");
            std::io::Write::write_all(&mut w, &flipped).expect("write");
            w.finalize().expect("fin");
        }
        let raw = pgp_mime(&String::from_utf8_lossy(&armored));
        let o = message(&raw, &project(&us), &[], t(NOW));
        assert!(matches!(o.outcome, Crypt::Damaged(_)), "{:?}", o.outcome);
        assert!(o.text.is_empty());
        let cases: &[&[u8]] = &[
            b"",
            b"\r\n\r\n",
            b"Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\n",
            b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--x--\r\n",
            b"Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n!!!!\r\n-----END PGP MESSAGE-----\r\n",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n----\r\n",
            &[0xff, 0xfe, 0x00, b'\n', b'<', b'&', 0xc3],
        ];
        for raw in cases {
            let o = message(raw, &project(&us), &[], t(NOW));
            assert!(o.text.len() < 1000);
        }
    }

    #[test]
    fn detached_signature_verifies_over_crlf() {
        let us = gen(
            "Sec <security@example.org>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let part = "Content-Type: text/plain\r\n\r\nhello team\r\n";
        let sig = seal::sign_detached(&project(&us), part.as_bytes(), t(NOW)).expect("sign");
        let raw = format!(
            "From: security@example.org\r\nContent-Type: multipart/signed; micalg={}; \
             protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n--s\r\n{part}\r\n--s\r\n\
             Content-Type: application/pgp-signature\r\n\r\n{sig}\r\n--s--\r\n",
            seal::MICALG
        );
        let pub_us = us.clone().strip_secret_key_material();
        let o = message(
            raw.as_bytes(),
            &project(&us),
            std::slice::from_ref(&pub_us),
            t(NOW),
        );
        assert_eq!(o.form, Form::Signed);
        assert_eq!(o.signatures[0].status, SigStatus::Good);
        // Stored with LF line endings (Maildir): still Good after canonicalisation.
        let lf = raw.replace("\r\n", "\n");
        let o = message(
            lf.as_bytes(),
            &project(&us),
            std::slice::from_ref(&pub_us),
            t(NOW),
        );
        assert_eq!(o.signatures[0].status, SigStatus::Good);
        // Altered content: Bad.
        let bad = raw.replace("hello team", "hello teem");
        let o = message(bad.as_bytes(), &project(&us), &[pub_us], t(NOW));
        assert_eq!(o.signatures[0].status, SigStatus::Bad);
    }

    #[test]
    fn seal_refuses_unusable_recipients() {
        let us = gen(
            "Sec <security@example.org>",
            CipherSuite::Cv25519,
            NOW - 86_400,
            None,
        );
        let expired = gen(
            "E <e@example.net>",
            CipherSuite::Cv25519,
            NOW - 100 * 86_400,
            Some(Duration::from_secs(86_400)),
        );
        let r = seal::sign_and_encrypt(&project(&us), &[&expired], b"x", t(NOW));
        assert!(matches!(r, Err(seal::SealError::Recipient { .. })), "{r:?}");
        let r = seal::sign_and_encrypt(&project(&us), &[], b"x", t(NOW));
        assert!(matches!(r, Err(seal::SealError::NoRecipients)));
    }

    #[test]
    fn mime_helpers() {
        // The transfer-encoding and parameter cases live beside the MIME tree (core/mime.rs),
        // the CRLF canonicalisation in verify.rs, the HTML reduction in content.rs.
        assert_eq!(bare_address("\"X\" <A@B.org>").as_deref(), Some("a@b.org"));
    }
}
