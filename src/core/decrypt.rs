//! Opening an incoming message: decryption and signature verification in every form we accept.
//!
//! Owns: recognising the OpenPGP form of a raw RFC 5322 message (PGP/MIME encrypted or signed,
//! inline armor, encrypted attachments, the Exchange / "mixed-up" mangling), decrypting it with
//! the project keys, verifying signatures against known and attached certs, reading protected
//! headers, and reporting the result as one [`Opened`] value.
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
//! - No integrity, no plaintext: a SED packet (no MDC) is [`Outcome::NoIntegrity`]; a failed
//!   MDC or AEAD tag is [`Outcome::Damaged`]; in both cases `text` stays empty
//!   (RFC 9580 §5.13, §13.7).
//! - Signatures are verified over the bytes as RFC 3156 §5 defines them: the first part of
//!   multipart/signed with every line ending made CRLF, the CRLF before the boundary excluded.
//!   We are strict: a signature made over other bytes is Bad.
//! - Protected headers are read only from the root of the cryptographic payload
//!   (RFC 9788 §2, `hp=` parameter, or the older `protected-headers="v1"`), never from a
//!   nested part or from unprotected content.
//! - Reasons in [`Outcome::Damaged`] never contain plaintext.

use std::io::Read;
use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::cert::prelude::*;
use openpgp::crypto::SessionKey;
use openpgp::packet::{Packet, Tag, PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, DetachedVerifierBuilder, MessageLayer, MessageStructure,
    VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::parse::{PacketParserBuilder, PacketParserResult, Parse};
use openpgp::types::{RevocationStatus, SymmetricAlgorithm};
use openpgp::{Fingerprint, KeyHandle};

use super::keys::{self, Cert, ProjectKeys, POLICY};

/// Largest decrypted (and decompressed) payload we accept: a compression bomb stops here.
const MAX_PLAINTEXT: usize = 64 << 20;
/// MIME nesting and part-count limits: hostile structure costs bounded work.
const MAX_DEPTH: usize = 24;
const MAX_PARTS: usize = 2000;

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
pub enum Outcome {
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
    /// sha256 (hex) of the serialized signature packet: a stable id for replay protection.
    /// Empty when there was no parsable signature packet.
    pub digest: String,
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
    pub outcome: Outcome,
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
}

impl Opened {
    fn new() -> Opened {
        Opened {
            form: Form::Clear,
            outcome: Outcome::Clear,
            text: String::new(),
            unauthenticated: Vec::new(),
            protected: ProtectedHeaders::default(),
            signatures: Vec::new(),
            certs: Vec::new(),
            attachments: Vec::new(),
            autocrypt: None,
            html: false,
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
            Outcome::NotForUs { .. } | Outcome::NoIntegrity | Outcome::Damaged(_)
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
/// `known` certs plus certs attached to the authenticated content. Never panics, never errors.
pub fn message(raw: &[u8], keys: &ProjectKeys, known: &[Cert], now: SystemTime) -> Opened {
    let ctx = Ctx { keys, known, now };
    let mut budget = MAX_PARTS;
    let root = mime::parse(skip_mbox_line(raw), 0, &mut budget);
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
    if let Some(cert) = autocrypt(&root) {
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
            opened.outcome = Outcome::Clear;
            found.attachments.push(attachment_of(root));
            opened.attachments = std::mem::take(&mut found.attachments);
        }
        _ => open_clear(root, ctx, opened, found, true),
    }
}

/// Root multipart/signed: a PGP/MIME signature (RFC 3156 §5), or an S/MIME wrapper we can't
/// verify and look through once.
fn open_signed_root(root: &mime::Part, ctx: &Ctx, opened: &mut Opened, found: &mut Found) {
    let Some(content) = root.children.first() else {
        opened.outcome = Outcome::Damaged("multipart/signed without parts".into());
        return;
    };
    let protocol = root.param("protocol").unwrap_or_default().to_lowercase();
    let is_pgp = protocol == "application/pgp-signature";
    let sig_part = root.children.get(1);
    if content.mime == "multipart/encrypted" {
        // A single signature wrapper around the root encrypted part: decrypt it. The outer
        // signature covers only ciphertext, which its signer may never have read, so it says
        // nothing about the plaintext's author; Thunderbird ignores it too.
        opened.form = Form::PgpMime;
        open_pgp_mime(content, ctx, opened, found);
        return;
    }
    if !is_pgp {
        // S/MIME (or unknown) signature: we don't verify it; look at the content once.
        if content.mime == "multipart/signed" {
            open_signed_root(content, ctx, opened, found);
        } else {
            open_clear(content, ctx, opened, found, true);
        }
        return;
    }
    let Some(sig_part) = sig_part else {
        // The signature part was stripped: the content is simply unsigned.
        open_clear(content, ctx, opened, found, true);
        return;
    };
    opened.form = Form::Signed;
    // Certs attached inside the signed content may verify the signature.
    let mut inner = Found::default();
    collect(content, &mut inner, 0);
    let signed = canonical_crlf(content.raw);
    let sig_bytes = sig_part.decoded();
    let certs = certs_for(ctx, &inner.keys);
    opened.signatures = verify_detached(&sig_bytes, &signed, certs, ctx.now);
    opened.protected = protected_headers(content);
    open_clear(content, ctx, opened, found, true);
}

/// The verifying certs: the caller's known certs plus `attached`.
fn certs_for(ctx: &Ctx, attached: &[Cert]) -> Vec<Cert> {
    let mut v: Vec<Cert> = ctx.known.to_vec();
    v.extend(attached.iter().cloned());
    v
}

/// RFC 3156 §4: multipart/encrypted with an application/pgp-encrypted control part and an
/// application/octet-stream payload.
fn open_pgp_mime(part: &mime::Part, ctx: &Ctx, opened: &mut Opened, found: &mut Found) {
    let protocol = part.param("protocol").unwrap_or_default().to_lowercase();
    if !protocol.is_empty() && protocol != "application/pgp-encrypted" {
        opened.outcome = Outcome::Damaged(format!("unsupported encryption protocol {protocol}"));
        return;
    }
    let payload = match part.children.as_slice() {
        [control, payload, ..] if control.mime == "application/pgp-encrypted" => payload,
        [payload] if payload.mime == "application/octet-stream" => payload,
        _ => {
            opened.outcome = Outcome::Damaged("malformed PGP/MIME structure".into());
            return;
        }
    };
    let data = payload.decoded();
    open_encrypted_bytes(&data, true, ctx, opened, found);
}

/// Decrypts `data` (armored or binary OpenPGP) and opens the plaintext. `is_mime`: the
/// plaintext is a MIME entity (RFC 3156 §4) rather than bare text.
fn open_encrypted_bytes(
    data: &[u8],
    is_mime: bool,
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
) {
    match decrypt(data, ctx, &[]) {
        Decrypted::Plain { plaintext, sigs } => {
            opened.outcome = Outcome::Decrypted;
            opened.signatures.extend(sigs);
            open_plaintext(&plaintext, is_mime, data, ctx, opened, found, 0);
        }
        other => opened.outcome = other.into_outcome(),
    }
}

/// Opens decrypted bytes: a MIME payload (possibly signed inside, with protected headers) or
/// bare text. `ciphertext` is kept to re-verify inner signatures once attached certs are known.
fn open_plaintext(
    plaintext: &[u8],
    is_mime: bool,
    ciphertext: &[u8],
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
    depth: usize,
) {
    if !(is_mime || looks_like_mime(plaintext)) {
        found
            .texts
            .push(String::from_utf8_lossy(plaintext).into_owned());
        opened.text = join_texts(&found.texts);
        return;
    }
    let mut budget = MAX_PARTS;
    let root = mime::parse(plaintext, 0, &mut budget);
    let mut content = &root;
    if root.mime == "multipart/signed" {
        if let (Some(first), Some(sig)) = (root.children.first(), root.children.get(1)) {
            let is_pgp = root
                .param("protocol")
                .map(|p| p.eq_ignore_ascii_case("application/pgp-signature"))
                .unwrap_or(false);
            if is_pgp {
                let mut inner = Found::default();
                collect(first, &mut inner, 0);
                let certs = certs_for(ctx, &inner.keys);
                let sigs =
                    verify_detached(&sig.decoded(), &canonical_crlf(first.raw), certs, ctx.now);
                opened.signatures.extend(sigs);
            }
            content = first;
        }
    } else if root.mime == "multipart/encrypted" && depth < 2 {
        // Encrypted twice: open the inner layer the same way, once more at most.
        let inner = root
            .children
            .get(1)
            .map(|p| p.decoded())
            .unwrap_or_default();
        match decrypt(&inner, ctx, &[]) {
            Decrypted::Plain { plaintext, sigs } => {
                opened.signatures.extend(sigs);
                open_plaintext(&plaintext, true, &inner, ctx, opened, found, depth + 1);
            }
            other => {
                let why = match other.into_outcome() {
                    Outcome::Damaged(r) => r,
                    Outcome::NoIntegrity => "no integrity protection".into(),
                    Outcome::NotForUs { .. } => "not encrypted to us".into(),
                    _ => "unreadable".into(),
                };
                opened.outcome = Outcome::Damaged(format!("inner encrypted part: {why}"));
            }
        }
        return;
    }
    // RFC 9788 §2 / protected-headers="v1": only at the payload root.
    let mut protected = protected_headers(content);
    if content.mime == "message/rfc822" {
        // draft-melnikov-smime-header-signing: the payload is a whole message whose header
        // section is protected.
        let mut budget = MAX_PARTS;
        let decoded = content.decoded();
        let inner = mime::parse(&decoded, 1, &mut budget);
        protected = headers_of(&inner);
        collect(&inner, found, 0);
    } else {
        collect(content, found, 0);
    }
    opened.protected = protected;
    opened.text = join_texts(&found.texts);
    opened.attachments = std::mem::take(&mut found.attachments);
    // A combined signature whose cert was attached inside: verify again with it.
    let needs_retry = opened
        .signatures
        .iter()
        .any(|s| s.status == SigStatus::UnknownKey);
    if needs_retry && !found.keys.is_empty() && depth == 0 {
        if let Decrypted::Plain { sigs, .. } = decrypt(ciphertext, ctx, &found.keys) {
            let detached: Vec<Signature> = opened
                .signatures
                .iter()
                .filter(|s| !sigs.iter().any(|n| n.issuer == s.issuer))
                .cloned()
                .collect();
            opened.signatures = sigs;
            opened.signatures.extend(detached);
        }
    }
}

/// The plaintext starts with a MIME header section naming a Content-Type.
fn looks_like_mime(b: &[u8]) -> bool {
    let head = &b[..b.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let mut saw_ct = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            return saw_ct;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return false;
        }
        if name.eq_ignore_ascii_case("content-type") {
            saw_ct = true;
        }
    }
    saw_ct
}

fn join_texts(texts: &[String]) -> String {
    texts
        .iter()
        .map(|t| t.trim_end_matches(['\r', '\n']))
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn push_unauthenticated(opened: &mut Opened, text: String) {
    if !text.trim().is_empty() {
        opened.unauthenticated.push(text);
    }
}

// ---------------------------------------------------------------------------------------------
// Clear messages: inline blocks, encrypted attachments, EFAIL refusals
// ---------------------------------------------------------------------------------------------

/// A message (or signed content) that is not PGP/MIME encrypted at the root. Looks for
/// nested encrypted parts (refused), inline armored blocks and encrypted attachments.
fn open_clear(
    part: &mime::Part,
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
    allow_inline: bool,
) {
    if has_nested_encrypted(part) {
        // EFAIL: an encrypted part beside other content is not decrypted (DESIGN.md).
        opened.form = Form::PgpMime;
        opened.outcome = Outcome::Damaged(
            "encrypted part nested inside the message, not at its root: not decrypted".into(),
        );
        let mut clear = Found::default();
        collect(part, &mut clear, 0);
        for t in clear.texts {
            push_unauthenticated(opened, t);
        }
        return;
    }
    let mut leaves = Vec::new();
    if allow_inline {
        leaves_for_inline(part, &mut leaves, 0);
    }
    let mut any_block = false;
    let mut segments: Vec<Segment> = Vec::new();
    for leaf in &leaves {
        match leaf {
            Leaf::Text(p) => {
                found.html |= p.mime == "text/html";
                let (bytes, charset) = text_bytes(p);
                let segs = split_blocks(&bytes);
                if segs.iter().any(|s| !matches!(s, Segment::Clear(_))) {
                    any_block = true;
                }
                for s in segs {
                    segments.push(match s {
                        Segment::Clear(b) => Segment::ClearText(decode_charset(&b, &charset)),
                        Segment::Signed(b) => Segment::SignedIn(b, charset.clone()),
                        other => other,
                    });
                }
            }
            Leaf::EncryptedFile(p) => {
                any_block = true;
                segments.push(Segment::File(p.decoded(), p.filename()));
            }
            Leaf::Other(p) => {
                let mut f = Found::default();
                collect(p, &mut f, 0);
                found.html |= f.html;
                for t in f.texts {
                    segments.push(Segment::ClearText(t));
                }
            }
        }
    }
    if !any_block {
        if opened.form != Form::Signed {
            opened.form = Form::Clear;
            opened.outcome = Outcome::Clear;
        }
        collect(part, found, 0);
        opened.text = join_texts(&found.texts);
        opened.attachments = std::mem::take(&mut found.attachments);
        return;
    }
    open_blocks(segments, ctx, opened, found);
}

/// Decrypts / verifies the inline blocks and encrypted attachments of a simple message.
fn open_blocks(segments: Vec<Segment>, ctx: &Ctx, opened: &mut Opened, found: &mut Found) {
    let encrypted = segments
        .iter()
        .any(|s| matches!(s, Segment::Message(_) | Segment::File(..)));
    let only_files = segments.iter().all(|s| {
        !matches!(
            s,
            Segment::Message(_) | Segment::Signed(_) | Segment::SignedIn(..)
        )
    });
    if opened.form != Form::Signed {
        opened.form = if only_files {
            Form::Attachment
        } else {
            Form::Inline
        };
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut clear: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for seg in segments {
        match seg {
            Segment::ClearText(t) => clear.push(t),
            Segment::Clear(b) => clear.push(String::from_utf8_lossy(&b).into_owned()),
            Segment::Signed(b) | Segment::SignedIn(b, _) if encrypted => {
                // A signed block beside encrypted content is not authenticated content of
                // the encrypted message.
                clear.push(String::from_utf8_lossy(&b).into_owned());
            }
            Segment::Signed(b) => {
                let (text, sigs) = verify_cleartext(&b, ctx, "utf-8");
                texts.push(text);
                opened.signatures.extend(sigs);
            }
            Segment::SignedIn(b, charset) => {
                let (text, sigs) = verify_cleartext(&b, ctx, &charset);
                texts.push(text);
                opened.signatures.extend(sigs);
            }
            Segment::Message(b) => match decrypt(&b, ctx, &[]) {
                Decrypted::Plain { plaintext, sigs } => {
                    outcomes.push(Outcome::Decrypted);
                    opened.signatures.extend(sigs);
                    let mut sub = Opened::new();
                    let mut f = Found::default();
                    open_plaintext(&plaintext, false, &b, ctx, &mut sub, &mut f, 1);
                    absorb(opened, sub, &mut texts, found, f);
                }
                other => outcomes.push(other.into_outcome()),
            },
            Segment::File(data, name) => match decrypt(&data, ctx, &[]) {
                Decrypted::Plain { plaintext, sigs } => {
                    outcomes.push(Outcome::Decrypted);
                    opened.signatures.extend(sigs);
                    if looks_like_mime(&plaintext) {
                        let mut sub = Opened::new();
                        let mut f = Found::default();
                        open_plaintext(&plaintext, true, &data, ctx, &mut sub, &mut f, 1);
                        absorb(opened, sub, &mut texts, found, f);
                    } else if is_text(&plaintext) {
                        texts.push(String::from_utf8_lossy(&plaintext).into_owned());
                    } else {
                        found.attachments.push(Attachment {
                            filename: name.map(|n| strip_crypto_ext(&n)),
                            content_type: "application/octet-stream".into(),
                            data: plaintext,
                        });
                    }
                }
                other => outcomes.push(other.into_outcome()),
            },
        }
    }
    for c in clear {
        push_unauthenticated(opened, c);
    }
    opened.outcome = combine(outcomes);
    opened.text = join_texts(&texts);
    opened.attachments.append(&mut found.attachments);
}

/// Moves what a sub-open found into the outer result.
fn absorb(opened: &mut Opened, sub: Opened, texts: &mut Vec<String>, found: &mut Found, f: Found) {
    if !sub.text.is_empty() {
        texts.push(sub.text);
    }
    opened.signatures.extend(sub.signatures);
    found.attachments.extend(sub.attachments);
    found.keys.extend(f.keys);
    if opened.protected.is_empty() {
        opened.protected = sub.protected;
    }
}

/// Several blocks: any failure wins (no partial plaintext is presented as the message), then
/// decrypted, then not-for-us.
fn combine(outcomes: Vec<Outcome>) -> Outcome {
    if let Some(bad) = outcomes
        .iter()
        .find(|o| matches!(o, Outcome::Damaged(_) | Outcome::NoIntegrity))
    {
        return bad.clone();
    }
    if outcomes.contains(&Outcome::Decrypted) {
        return Outcome::Decrypted;
    }
    let mut recipients = Vec::new();
    let mut any = false;
    for o in outcomes {
        if let Outcome::NotForUs { recipients: r } = o {
            any = true;
            for x in r {
                if !recipients.contains(&x) {
                    recipients.push(x);
                }
            }
        }
    }
    if any {
        Outcome::NotForUs { recipients }
    } else {
        Outcome::Clear
    }
}

fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

fn strip_crypto_ext(name: &str) -> String {
    let lower = name.to_lowercase();
    for ext in [".asc", ".gpg", ".pgp"] {
        if lower.ends_with(ext) && name.len() > ext.len() {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name.to_string()
}

/// A piece of a text part: clear text or an armored block.
enum Segment {
    Clear(Vec<u8>),
    ClearText(String),
    /// `BEGIN PGP MESSAGE` block (armored bytes).
    Message(Vec<u8>),
    /// `BEGIN PGP SIGNED MESSAGE` block (bytes), charset utf-8.
    Signed(Vec<u8>),
    /// Signed block with the charset of its part.
    SignedIn(Vec<u8>, String),
    /// An encrypted attachment: data and filename.
    File(Vec<u8>, Option<String>),
}

enum Leaf<'p, 'a> {
    Text(&'p mime::Part<'a>),
    EncryptedFile(&'p mime::Part<'a>),
    Other(&'p mime::Part<'a>),
}

/// The parts of a simple message that may carry inline blocks, in order: text parts (the
/// text/plain alternative when there is one) and encrypted attachments.
fn leaves_for_inline<'p, 'a>(part: &'p mime::Part<'a>, out: &mut Vec<Leaf<'p, 'a>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match part.mime.as_str() {
        "multipart/alternative" => {
            let plain = part.children.iter().find(|c| c.mime == "text/plain");
            if let Some(c) = plain.or_else(|| part.children.last()) {
                leaves_for_inline(c, out, depth + 1);
            }
        }
        m if m.starts_with("multipart/") => {
            for c in &part.children {
                leaves_for_inline(c, out, depth + 1);
            }
        }
        _ if is_encrypted_file(part) => out.push(Leaf::EncryptedFile(part)),
        "text/plain" | "text/html" if !part.is_attachment() => out.push(Leaf::Text(part)),
        _ => out.push(Leaf::Other(part)),
    }
}

/// An attachment named `.asc` / `.gpg` / `.pgp` (or typed application/pgp-encrypted) that
/// holds an OpenPGP message.
fn is_encrypted_file(part: &mime::Part) -> bool {
    let named = part
        .filename()
        .map(|n| {
            let n = n.to_lowercase();
            n.ends_with(".asc") || n.ends_with(".gpg") || n.ends_with(".pgp")
        })
        .unwrap_or(false);
    let typed = part.mime == "application/pgp-encrypted";
    if !(named || typed) || part.mime.starts_with("text/") && !part.is_attachment() {
        return false;
    }
    let data = part.decoded();
    if find_line(&data, b"-----BEGIN PGP MESSAGE-----").is_some() {
        return true;
    }
    // Binary: the first packet is a PKESK (tag 1) or SKESK (tag 3).
    match data.first() {
        Some(b) if b & 0x80 != 0 => {
            let tag = if b & 0x40 != 0 {
                b & 0x3f
            } else {
                (b >> 2) & 0x0f
            };
            tag == 1 || tag == 3
        }
        _ => false,
    }
}

/// A multipart/encrypted (or application/pgp-encrypted control part) anywhere below the root,
/// outside forwarded messages (those stay opaque attachments).
fn has_nested_encrypted(part: &mime::Part) -> bool {
    fn walk(p: &mime::Part, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        if depth > 0 && (p.mime == "multipart/encrypted" || p.mime == "application/pgp-encrypted") {
            return true;
        }
        p.children.iter().any(|c| walk(c, depth + 1))
    }
    walk(part, 0)
}

enum Exchange<'p, 'a> {
    /// Google Workspace form: the multipart/encrypted part itself.
    Parts(&'p mime::Part<'a>),
    /// Exchange form: the encrypted payload bytes.
    Data(Vec<u8>),
}

/// The Exchange mangling (multipart/mixed: text/plain, application/pgp-encrypted
/// "Version: 1", application/octet-stream) and Delta Chat's Google Workspace variant
/// (multipart/mixed: empty text/plain, multipart/encrypted). Returns the clear text part and
/// the payload.
fn exchange_payload<'p, 'a>(root: &'p mime::Part<'a>) -> Option<(String, Exchange<'p, 'a>)> {
    match root.children.as_slice() {
        [text, control, payload]
            if text.mime == "text/plain"
                && control.mime == "application/pgp-encrypted"
                && payload.mime == "application/octet-stream" =>
        {
            let version = String::from_utf8_lossy(&control.decoded()).to_lowercase();
            if !version.contains("version: 1") && !version.trim().is_empty() {
                return None;
            }
            Some((text_of(text), Exchange::Data(payload.decoded())))
        }
        [control, payload]
            if control.mime == "application/pgp-encrypted"
                && payload.mime == "application/octet-stream" =>
        {
            Some((String::new(), Exchange::Data(payload.decoded())))
        }
        [text, enc] if text.mime == "text/plain" && enc.mime == "multipart/encrypted" => {
            // Only an empty first part (a signature delimiter at most): nothing to splice.
            let t = text_of(text);
            let rest: String = t
                .lines()
                .filter(|l| l.trim() != "--")
                .collect::<Vec<_>>()
                .join("");
            if rest.trim().is_empty() {
                Some((String::new(), Exchange::Parts(enc)))
            } else {
                None
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Collecting text, attachments and keys from a content tree
// ---------------------------------------------------------------------------------------------

/// Walks a content tree: text parts to `texts`, keys to `keys`, the rest to `attachments`.
/// Signatures, legacy-display parts and nested encrypted parts are left out.
fn collect(part: &mime::Part, found: &mut Found, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let m = part.mime.as_str();
    match m {
        "multipart/alternative" => {
            let plain = part
                .children
                .iter()
                .find(|c| c.mime == "text/plain" && !c.is_attachment());
            if let Some(c) = plain.or_else(|| part.children.last()) {
                collect(c, found, depth + 1);
            }
        }
        "multipart/signed" => {
            // A signature below the payload root covers only its part; its content is shown,
            // the signature not checked (Thunderbird does the same).
            if let Some(c) = part.children.first() {
                collect(c, found, depth + 1);
            }
        }
        "multipart/encrypted" => {}
        _ if m.starts_with("multipart/") => {
            for c in &part.children {
                collect(c, found, depth + 1);
            }
        }
        "application/pgp-signature" | "application/pgp-encrypted" => {}
        "text/rfc822-headers" => {} // legacy display of protected headers
        "text/plain" if part.param("hp-legacy-display").is_some() => {} // RFC 9788 §4.5.3
        "application/pgp-keys" => {
            let mut certs = certs_in(&part.decoded());
            if certs.is_empty() {
                // Some clients declare quoted-printable but leave armor's `=` unescaped.
                certs = certs_in(part.body);
            }
            found.keys.extend(certs);
        }
        _ => {
            if !part.is_attachment() && (m == "text/plain" || m == "text/html") {
                found.html |= m == "text/html";
                found.texts.push(text_of(part));
                return;
            }
            let data = part.decoded();
            if find_line(&data, b"-----BEGIN PGP PUBLIC KEY BLOCK-----").is_some() {
                let certs = certs_in(&data);
                if !certs.is_empty() {
                    found.keys.extend(certs);
                    return;
                }
            }
            if find_line(&data, b"-----BEGIN PGP SIGNATURE-----").is_some()
                && data.len() < 16 * 1024
            {
                return;
            }
            found.attachments.push(attachment_of(part));
        }
    }
}

fn attachment_of(part: &mime::Part) -> Attachment {
    Attachment {
        filename: part.filename(),
        content_type: part.mime.clone(),
        data: part.decoded(),
    }
}

fn certs_in(data: &[u8]) -> Vec<Cert> {
    keys::parse_certs(data).unwrap_or_default()
}

/// Sorts attached certs into signers and bystanders and adds them to `opened.certs`.
fn finish_certs(opened: &mut Opened, attached: Vec<Cert>) {
    let mut seen: Vec<String> = Vec::new();
    for cert in attached {
        let fpr = keys::fingerprint(&cert);
        if seen.contains(&fpr) {
            continue;
        }
        seen.push(fpr.clone());
        let signed = opened
            .signatures
            .iter()
            .any(|s| s.status == SigStatus::Good && s.fingerprint.as_deref() == Some(&fpr));
        opened.certs.push(LearntCert {
            cert,
            source: if signed {
                CertSource::AttachedSigner
            } else {
                CertSource::Attached
            },
        });
    }
}

/// The decoded text of a text part; HTML reduced to crude text.
fn text_of(part: &mime::Part) -> String {
    let (bytes, charset) = text_bytes(part);
    decode_charset(&bytes, &charset)
}

/// Transfer-decoded bytes of a text part and their charset; HTML is converted to text first
/// (and the result is UTF-8).
fn text_bytes(part: &mime::Part) -> (Vec<u8>, String) {
    let charset = part.param("charset").unwrap_or("utf-8").to_lowercase();
    let data = part.decoded();
    if part.mime == "text/html" {
        let s = decode_charset(&data, &charset);
        (html_to_text(&s).into_bytes(), "utf-8".into())
    } else {
        (data, charset)
    }
}

fn decode_charset(b: &[u8], charset: &str) -> String {
    match charset {
        "" | "utf-8" | "utf8" | "us-ascii" | "ascii" => String::from_utf8_lossy(b).into_owned(),
        cs => match mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes()) {
            Some(dec) => dec(b),
            None => String::from_utf8_lossy(b).into_owned(),
        },
    }
}

/// Crude HTML to text: drops script/style, turns block ends into line breaks, strips tags and
/// decodes entities. No remote content is ever touched (DESIGN.md EFAIL rules).
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    // ASCII lowercasing keeps byte offsets aligned with `html`.
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let Some(end) = html[i..].find('>').map(|e| i + e) else {
                break;
            };
            let tag = lower[i + 1..end].trim();
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if (name == "script" || name == "style") && !tag.starts_with('/') {
                let close = format!("</{name}");
                i = match lower[end..].find(&close) {
                    Some(c) => lower[end + c..]
                        .find('>')
                        .map(|g| end + c + g + 1)
                        .unwrap_or(bytes.len()),
                    None => bytes.len(),
                };
                continue;
            }
            let block = matches!(
                name.as_str(),
                "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "pre" | "blockquote"
            );
            if block && !out.ends_with('\n') && !out.is_empty() {
                out.push('\n');
            }
            i = end + 1;
        } else {
            let next = html[i..].find('<').map(|n| i + n).unwrap_or(bytes.len());
            out.push_str(&decode_entities(&html[i..next]));
            i = next;
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&n| n <= 10);
        let decoded = semi.and_then(|n| {
            let ent = &after[..n];
            let c = match ent {
                "nbsp" => Some('\u{a0}'),
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, n))
        });
        match decoded {
            Some((c, n)) => {
                out.push(c);
                rest = &after[n + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Headers: protected headers, Autocrypt
// ---------------------------------------------------------------------------------------------

/// Protected headers of `part` when it is marked as a protected-headers payload root:
/// RFC 9788 `hp="cipher"|"clear"` or the older `protected-headers="v1"`.
fn protected_headers(part: &mime::Part) -> ProtectedHeaders {
    let marked = part.param("hp").is_some()
        || part
            .param("protected-headers")
            .map(|v| v.eq_ignore_ascii_case("v1"))
            .unwrap_or(false);
    if marked {
        headers_of(part)
    } else {
        ProtectedHeaders::default()
    }
}

/// Reads the header fields of `part` (RFC 2047 decoded; addresses as `Name <addr>`).
fn headers_of(part: &mime::Part) -> ProtectedHeaders {
    let mut block = part.header_block.to_vec();
    block.extend_from_slice(b"\r\n\r\n");
    let parser = mail_parser::MessageParser::default();
    let Some(msg) = parser.parse_headers(&block) else {
        return ProtectedHeaders::default();
    };
    let addrs = |a: Option<&mail_parser::Address>| -> Option<String> {
        let a = a?;
        let v: Vec<String> = a
            .iter()
            .filter_map(|x| {
                let addr = x.address()?;
                Some(match x.name() {
                    Some(n) if !n.is_empty() => format!("{n} <{addr}>"),
                    _ => addr.to_string(),
                })
            })
            .collect();
        (!v.is_empty()).then(|| v.join(", "))
    };
    let raw = |name: &str| part.header(name).map(|v| v.trim().to_string());
    ProtectedHeaders {
        subject: msg.subject().map(str::to_string),
        from: addrs(msg.from()),
        to: addrs(msg.to()),
        cc: addrs(msg.cc()),
        reply_to: addrs(msg.reply_to()),
        message_id: raw("message-id"),
        in_reply_to: raw("in-reply-to"),
        references: raw("references"),
    }
}

/// The cert of an `Autocrypt` header whose `addr=` equals the (single) From address
/// (Autocrypt Level 1 §2.1: unknown critical attributes void the header).
fn autocrypt(root: &mime::Part) -> Option<Cert> {
    let froms: Vec<&str> = root.headers_named("from").collect();
    let [from] = froms.as_slice() else {
        return None;
    };
    if from.contains(',') {
        return None;
    }
    let from = bare_address(from)?;
    for value in root.headers_named("autocrypt") {
        let mut addr = None;
        let mut keydata = None;
        let mut critical_unknown = false;
        for attr in value.split(';') {
            let Some((k, v)) = attr.split_once('=') else {
                continue;
            };
            let k = k.trim().to_lowercase();
            match k.as_str() {
                "addr" => addr = Some(v.trim().trim_matches('"').to_lowercase()),
                "keydata" => keydata = Some(v),
                "prefer-encrypt" => {}
                _ if k.starts_with('_') => {}
                _ => critical_unknown = true,
            }
        }
        if critical_unknown || addr.as_deref() != Some(from.as_str()) {
            continue;
        }
        let b64: String = keydata?.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = mime::base64_decode(b64.as_bytes());
        if let Ok(cert) = keys::parse_cert(&bytes) {
            if keys::has_email(&cert, &from) {
                return Some(cert);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Armor: finding and repairing inline blocks
// ---------------------------------------------------------------------------------------------

/// Position of the first line (trimmed) that starts with `marker`.
fn find_line(data: &[u8], marker: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for line in data.split(|&b| b == b'\n') {
        if trim_armor(line).starts_with(marker) {
            return Some(pos);
        }
        pos += line.len() + 1;
    }
    None
}

/// Trims ASCII whitespace and non-ASCII bytes (NBSP in UTF-8 or Latin-1) from both ends of an
/// armor line: armor is ASCII, so nothing of value is lost (Thunderbird repairs the same way).
fn trim_armor(line: &[u8]) -> &[u8] {
    let bad = |b: &u8| b.is_ascii_whitespace() || *b >= 0x80;
    let start = line.iter().position(|b| !bad(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !bad(b))
        .map(|e| e + 1)
        .unwrap_or(start);
    &line[start..end.max(start)]
}

/// Splits a text into clear text and armored blocks (messages and cleartext-signed).
fn split_blocks(data: &[u8]) -> Vec<Segment> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    let mut clear: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = trim_armor(lines[i]);
        let (end_marker, signed) = if t == b"-----BEGIN PGP MESSAGE-----" {
            (&b"-----END PGP MESSAGE-----"[..], false)
        } else if t == b"-----BEGIN PGP SIGNED MESSAGE-----" {
            (&b"-----END PGP SIGNATURE-----"[..], true)
        } else {
            clear.extend_from_slice(lines[i]);
            i += 1;
            continue;
        };
        let end = (i + 1..lines.len()).find(|&j| trim_armor(lines[j]) == end_marker);
        let Some(end) = end else {
            clear.extend_from_slice(lines[i]);
            i += 1;
            continue;
        };
        if !clear.is_empty() {
            out.push(Segment::Clear(std::mem::take(&mut clear)));
        }
        let block = &lines[i..=end];
        out.push(if signed {
            Segment::Signed(repair_signed(block))
        } else {
            Segment::Message(repair_armor(block))
        });
        i = end + 1;
    }
    if !clear.is_empty() {
        out.push(Segment::Clear(clear));
    }
    out
}

/// Rebuilds an armored block from its lines: trimmed lines, header lines first, one empty
/// separator line, then the base64 body (mangled separators like NBSP or `&nbsp;` repaired;
/// RFC 9580 §6.2).
fn repair_armor(lines: &[&[u8]]) -> Vec<u8> {
    let trimmed: Vec<&[u8]> = lines.iter().map(|l| trim_armor(l)).collect();
    let mut out = Vec::new();
    let Some((first, rest)) = trimmed.split_first() else {
        return out;
    };
    out.extend_from_slice(first);
    out.push(b'\n');
    let Some((last, middle)) = rest.split_last() else {
        return out;
    };
    let mut in_headers = true;
    for l in middle {
        if l.is_empty() {
            in_headers = false;
            continue;
        }
        let is_header = in_headers && is_armor_header(l);
        if is_header {
            out.extend_from_slice(l);
            out.push(b'\n');
            continue;
        }
        if in_headers {
            out.push(b'\n');
            in_headers = false;
        }
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    if in_headers {
        out.push(b'\n');
    }
    out.extend_from_slice(last);
    out.push(b'\n');
    out
}

fn is_armor_header(l: &[u8]) -> bool {
    match l.iter().position(|&b| b == b':') {
        Some(p) => {
            p > 0
                && l[..p]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && l.get(p + 1) == Some(&b' ')
        }
        None => false,
    }
}

/// Rebuilds a cleartext-signed block (RFC 9580 §7): the header lines and separator are
/// repaired, the signed text lines are kept byte for byte, the signature armor is repaired.
fn repair_signed(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"-----BEGIN PGP SIGNED MESSAGE-----\n");
    let mut i = 1;
    while i < lines.len() && is_armor_header(trim_armor(lines[i])) {
        out.extend_from_slice(trim_armor(lines[i]));
        out.push(b'\n');
        i += 1;
    }
    // The separator line (possibly NBSP-only) after the headers.
    if i < lines.len() && trim_armor(lines[i]).is_empty() {
        i += 1;
    }
    out.push(b'\n');
    let sig_start = (i..lines.len())
        .find(|&j| trim_armor(lines[j]) == b"-----BEGIN PGP SIGNATURE-----")
        .unwrap_or(lines.len());
    for l in &lines[i..sig_start] {
        out.extend_from_slice(l);
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    if sig_start < lines.len() {
        out.extend_from_slice(&repair_armor(&lines[sig_start..]));
    }
    out
}

/// The binary OpenPGP data of `data`: de-armored (with repairs) when armored.
fn dearmor(data: &[u8]) -> Result<Vec<u8>, String> {
    let Some(start) = find_line(data, b"-----BEGIN PGP") else {
        return Ok(data.to_vec());
    };
    let text = &data[start..];
    if trim_armor(text.split(|&b| b == b'\n').next().unwrap_or_default())
        == b"-----BEGIN PGP SIGNED MESSAGE-----"
    {
        return Err("not encrypted: the encrypted part holds a cleartext-signed message".into());
    }
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let end = lines
        .iter()
        .position(|l| trim_armor(l).starts_with(b"-----END PGP"))
        .ok_or("armor without an end line")?;
    let fixed = repair_armor(&lines[..=end]);
    let mut reader = armor::Reader::from_bytes(
        &fixed,
        armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
    );
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|_| "damaged armor".to_string())?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Decryption
// ---------------------------------------------------------------------------------------------

enum Decrypted {
    Plain {
        plaintext: Vec<u8>,
        sigs: Vec<Signature>,
    },
    NotForUs(Vec<String>),
    NoIntegrity,
    Damaged(String),
}

impl Decrypted {
    fn into_outcome(self) -> Outcome {
        match self {
            Decrypted::Plain { .. } => Outcome::Decrypted,
            Decrypted::NotForUs(recipients) => Outcome::NotForUs { recipients },
            Decrypted::NoIntegrity => Outcome::NoIntegrity,
            Decrypted::Damaged(r) => Outcome::Damaged(r),
        }
    }
}

/// What the packet structure says before any key is used.
enum Container {
    /// SEIPD v1 (MDC) or v2 (AEAD).
    Seip,
    /// The LibrePGP AEAD packet (tag 20, e.g. `gpg --force-ocb`).
    Aead,
    /// Symmetrically encrypted without integrity protection (tag 9).
    Sed,
    None,
}

struct Scan {
    recipients: Vec<Option<KeyHandle>>,
    skesk: bool,
    container: Container,
}

/// Reads the session-key packets and the kind of encryption container without decrypting.
fn scan(bin: &[u8]) -> Result<Scan, String> {
    let mut s = Scan {
        recipients: Vec::new(),
        skesk: false,
        container: Container::None,
    };
    let mut ppr = PacketParserBuilder::from_bytes(bin)
        .and_then(|b| b.dearmor(openpgp::parse::Dearmor::Disabled).build())
        .map_err(|e| format!("not an OpenPGP message: {}", keys::short(&e)))?;
    while let PacketParserResult::Some(pp) = ppr {
        match &pp.packet {
            Packet::PKESK(p) => s.recipients.push(p.recipient()),
            Packet::SKESK(_) => s.skesk = true,
            Packet::Marker(_) => {}
            Packet::SEIP(_) => {
                s.container = Container::Seip;
                break;
            }
            Packet::Unknown(u) if u.tag() == Tag::SED => {
                s.container = Container::Sed;
                break;
            }
            Packet::Unknown(u) if u.tag() == Tag::AED => {
                s.container = Container::Aead;
                break;
            }
            _ => break,
        }
        ppr = match pp.next() {
            Ok((_, next)) => next,
            Err(e) => return Err(format!("malformed OpenPGP message: {}", keys::short(&e))),
        };
    }
    Ok(s)
}

/// Decrypts `data` with the project keys; signatures inside are verified with the known certs
/// plus `extra`.
fn decrypt(data: &[u8], ctx: &Ctx, extra: &[Cert]) -> Decrypted {
    let bin = match dearmor(data) {
        Ok(b) => b,
        Err(r) => return Decrypted::Damaged(r),
    };
    let scan = match scan(&bin) {
        Ok(s) => s,
        Err(r) => return Decrypted::Damaged(r),
    };
    let recipients: Vec<String> = scan
        .recipients
        .iter()
        .map(|r| match r {
            Some(h) => h.to_hex(),
            None => "0000000000000000".into(),
        })
        .collect();
    match scan.container {
        Container::None => {
            return Decrypted::Damaged("not encrypted: no encrypted data packet".into())
        }
        // RFC 9580 §5.7: SED must not be decrypted without integrity protection (EFAIL).
        Container::Sed => return Decrypted::NoIntegrity,
        _ => {}
    }
    let ours = our_keys(ctx.keys);
    let for_us = scan.recipients.iter().any(|r| match r {
        None => true, // hidden recipient: try our keys
        Some(h) => ours.iter().any(|k| k.handle.aliases(h)),
    });
    if !for_us {
        let _ = scan.skesk; // passphrase-encrypted mail is not for us either
        return Decrypted::NotForUs(recipients);
    }
    if let Container::Aead = scan.container {
        return aead::decrypt(&bin, ctx, extra, &ours);
    }
    let unlocked = std::cell::Cell::new(false);
    let got_key = std::cell::Cell::new(false);
    let helper = Helper {
        ours: &ours,
        certs: certs_for(ctx, extra),
        now: ctx.now,
        decrypted: &unlocked,
        got_key: &got_key,
        results: Vec::new(),
    };
    let decryptor = DecryptorBuilder::from_bytes(&bin[..]).and_then(|b| {
        b.buffer_size(MAX_PLAINTEXT.min(8 << 20))
            .with_policy(POLICY, ctx.now, helper)
    });
    let mut decryptor = match decryptor {
        Ok(d) => d,
        Err(e) => return decrypt_error(&e, unlocked.get(), got_key.get(), recipients),
    };
    let mut plaintext = Vec::new();
    let read = (&mut decryptor)
        .take(MAX_PLAINTEXT as u64 + 1)
        .read_to_end(&mut plaintext);
    let helper = decryptor.into_helper();
    if let Err(e) = read {
        plaintext.clear();
        let e = anyhow::Error::from(e);
        return decrypt_error(&e, unlocked.get(), got_key.get(), recipients);
    }
    if plaintext.len() > MAX_PLAINTEXT {
        return Decrypted::Damaged("decrypted content larger than 64 MiB".into());
    }
    Decrypted::Plain {
        plaintext,
        sigs: helper.results,
    }
}

/// `decrypted`: a session key was accepted; `got_key`: one of our keys yielded a session key
/// (if the container then rejected it, the ciphertext was modified: SEIPDv2 checks the first
/// chunk's tag before accepting the key).
fn decrypt_error(
    e: &anyhow::Error,
    decrypted: bool,
    got_key: bool,
    recipients: Vec<String>,
) -> Decrypted {
    let manipulated = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<openpgp::Error>(),
            Some(openpgp::Error::ManipulatedMessage)
        )
    });
    if manipulated {
        return Decrypted::Damaged("integrity check failed: the ciphertext was modified".into());
    }
    if !decrypted && got_key {
        return Decrypted::Damaged("integrity check failed: the ciphertext was modified".into());
    }
    if !decrypted {
        let msg = e.to_string().to_lowercase();
        if msg.contains("no key to decrypt") {
            return Decrypted::NotForUs(recipients);
        }
        return Decrypted::Damaged(format!("decryption failed: {}", keys::short(e)));
    }
    // After the session key: the content failed (decompression, packet structure, MDC).
    Decrypted::Damaged(format!(
        "decrypted content is damaged (integrity not confirmed): {}",
        keys::short(e)
    ))
}

/// One of our secret decryption keys.
struct OurKey {
    handle: KeyHandle,
    cert: Cert,
    key: openpgp::packet::Key<
        openpgp::packet::key::SecretParts,
        openpgp::packet::key::UnspecifiedRole,
    >,
}

/// Every unlocked secret key of every project cert that can decrypt. Validity is not checked:
/// mail encrypted to an expired or revoked key is still ours to read.
fn our_keys(keys: &ProjectKeys) -> Vec<OurKey> {
    let mut out = Vec::new();
    for cert in keys.tsks() {
        for ka in cert.keys().secret() {
            let key = ka.key();
            if !key.has_unencrypted_secret() || !key.pk_algo().for_encryption() {
                continue;
            }
            out.push(OurKey {
                handle: KeyHandle::from(key.fingerprint()),
                cert: cert.clone(),
                key: key.clone(),
            });
        }
    }
    out
}

/// Tries our keys on the PKESKs; `try_sk` is called with each candidate session key until it
/// accepts one. Named recipients first, then hidden (wildcard) recipients with every key.
fn unlock_session<T>(
    pkesks: &[PKESK],
    ours: &[OurKey],
    sym_algo: Option<SymmetricAlgorithm>,
    mut try_sk: impl FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> Option<T>,
) -> Option<(T, Fingerprint)> {
    for pkesk in pkesks {
        let Some(rcpt) = pkesk.recipient() else {
            continue;
        };
        for k in ours.iter().filter(|k| k.handle.aliases(&rcpt)) {
            if let Some(r) = try_key(pkesk, k, sym_algo, &mut try_sk) {
                return Some(r);
            }
        }
    }
    for pkesk in pkesks.iter().filter(|p| p.recipient().is_none()) {
        for k in ours {
            if let Some(r) = try_key(pkesk, k, sym_algo, &mut try_sk) {
                return Some(r);
            }
        }
    }
    None
}

fn try_key<T>(
    pkesk: &PKESK,
    k: &OurKey,
    sym_algo: Option<SymmetricAlgorithm>,
    try_sk: &mut impl FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> Option<T>,
) -> Option<(T, Fingerprint)> {
    let mut pair = k.key.clone().into_keypair().ok()?;
    let (algo, sk) = pkesk.decrypt(&mut pair, sym_algo)?;
    try_sk(algo, &sk).map(|t| (t, k.cert.fingerprint()))
}

struct Helper<'a> {
    ours: &'a [OurKey],
    certs: Vec<Cert>,
    now: SystemTime,
    /// Set once a session key was accepted (outlives the helper, which the builder consumes).
    decrypted: &'a std::cell::Cell<bool>,
    /// Set once one of our keys yielded a session key, accepted or not.
    got_key: &'a std::cell::Cell<bool>,
    results: Vec<Signature>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        self.results = signatures_of(structure, self.now);
        // Bad signatures are recorded, never fatal: the caller decides what they mean.
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let got_key = self.got_key;
        let found = unlock_session(pkesks, self.ours, sym_algo, |algo, sk| {
            got_key.set(true);
            decrypt(algo, sk).then_some(())
        });
        match found {
            Some(((), fpr)) => {
                self.decrypted.set(true);
                Ok(self
                    .ours
                    .iter()
                    .find(|k| k.cert.fingerprint() == fpr)
                    .map(|k| k.cert.clone().strip_secret_key_material()))
            }
            None => Err(anyhow::anyhow!("No key to decrypt message")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

/// Every signature result of a verified message structure.
fn signatures_of(structure: MessageStructure, now: SystemTime) -> Vec<Signature> {
    let mut out = Vec::new();
    for layer in structure.into_iter() {
        if let MessageLayer::SignatureGroup { results } = layer {
            for r in results {
                out.push(signature_of(&r, now));
            }
        }
    }
    out
}

fn issuer_of(sig: &openpgp::packet::Signature) -> String {
    let issuers = sig.get_issuers();
    // Prefer a fingerprint over a key id when both are carried.
    issuers
        .iter()
        .find(|h| matches!(h, KeyHandle::Fingerprint(_)))
        .or_else(|| issuers.first())
        .map(|h| h.to_hex())
        .unwrap_or_default()
}

/// Maps one verification result; a cryptographically good signature from a cert (or key)
/// that is revoked or expired at `now` is reported as such (GnuPG's REVKEYSIG / EXPKEYSIG).
fn signature_of(
    r: &Result<openpgp::parse::stream::GoodChecksum, VerificationError>,
    now: SystemTime,
) -> Signature {
    let mk = |status, cert: Option<&Cert>, sig: &openpgp::packet::Signature| Signature {
        status,
        fingerprint: cert.map(keys::fingerprint),
        issuer: issuer_of(sig),
        signer_emails: cert.map(keys::emails).unwrap_or_default(),
        created: sig.signature_creation_time(),
        digest: sig_digest(sig),
    };
    match r {
        Ok(good) => {
            let cert = good.ka.cert();
            let key = good.ka.key().fingerprint();
            let status = state_at(cert, &key, now).unwrap_or(SigStatus::Good);
            mk(status, Some(cert), good.sig)
        }
        Err(VerificationError::MissingKey { sig }) => mk(SigStatus::UnknownKey, None, sig),
        Err(VerificationError::UnboundKey { sig, cert, .. }) => {
            let status = state_at(cert, &cert.fingerprint(), now).unwrap_or(SigStatus::Bad);
            mk(status, Some(cert), sig)
        }
        Err(VerificationError::BadKey { sig, ka, .. }) => {
            let cert = ka.cert();
            let status = state_at(cert, &ka.key().fingerprint(), now).unwrap_or(SigStatus::Bad);
            mk(status, Some(cert), sig)
        }
        Err(VerificationError::BadSignature { sig, ka, .. }) => {
            mk(SigStatus::Bad, Some(ka.cert()), sig)
        }
        Err(VerificationError::MalformedSignature { sig, .. }) => mk(SigStatus::Bad, None, sig),
        Err(_) => bad_signature(),
    }
}

/// A signature we could not even read: Bad, with nothing to identify it.
fn bad_signature() -> Signature {
    Signature {
        status: SigStatus::Bad,
        fingerprint: None,
        issuer: String::new(),
        signer_emails: Vec::new(),
        created: None,
        digest: String::new(),
    }
}

/// sha256 of the serialized signature packet, hex.
fn sig_digest(sig: &openpgp::packet::Signature) -> String {
    use openpgp::serialize::MarshalInto;
    use sha2::{Digest, Sha256};
    sig.to_vec()
        .map(|b| hex::encode(Sha256::digest(&b)))
        .unwrap_or_default()
}

/// Revoked or Expired when the cert or the signing key is so at `now`.
fn state_at(cert: &Cert, key: &Fingerprint, now: SystemTime) -> Option<SigStatus> {
    if let RevocationStatus::Revoked(_) = cert.revocation_status(POLICY, now) {
        return Some(SigStatus::Revoked);
    }
    let vc = match cert.with_policy(POLICY, now) {
        Ok(vc) => vc,
        Err(_) => return None,
    };
    if vc.alive().is_err() {
        return Some(SigStatus::Expired);
    }
    if let Some(ka) = vc.keys().key_handle(key.clone()).next() {
        if let RevocationStatus::Revoked(_) = ka.revocation_status() {
            return Some(SigStatus::Revoked);
        }
        if ka.alive().is_err() {
            return Some(SigStatus::Expired);
        }
    }
    None
}

/// Verifies a detached signature over `data`. A signature that cannot even be parsed is one
/// Bad signature.
fn verify_detached(sig: &[u8], data: &[u8], certs: Vec<Cert>, now: SystemTime) -> Vec<Signature> {
    let helper = VHelper {
        certs,
        now,
        results: Vec::new(),
    };
    let bad = || vec![bad_signature()];
    let verifier =
        DetachedVerifierBuilder::from_bytes(sig).and_then(|b| b.with_policy(POLICY, now, helper));
    let mut v = match verifier {
        Ok(v) => v,
        Err(_) => return bad(),
    };
    if v.verify_bytes(data).is_err() {
        let r = v.into_helper().results;
        return if r.is_empty() { bad() } else { r };
    }
    let r = v.into_helper().results;
    if r.is_empty() {
        bad()
    } else {
        r
    }
}

/// Verifies a cleartext-signed block (RFC 9580 §7); returns the signed text (decoded with
/// `charset`) and the signatures. An unparsable block yields its raw text and one Bad
/// signature.
fn verify_cleartext(block: &[u8], ctx: &Ctx, charset: &str) -> (String, Vec<Signature>) {
    let helper = VHelper {
        certs: ctx.known.to_vec(),
        now: ctx.now,
        results: Vec::new(),
    };
    let fallback = || {
        (
            decode_charset(&cleartext_body(block), charset),
            vec![bad_signature()],
        )
    };
    let verifier =
        VerifierBuilder::from_bytes(block).and_then(|b| b.with_policy(POLICY, ctx.now, helper));
    let mut v = match verifier {
        Ok(v) => v,
        Err(_) => return fallback(),
    };
    let mut out = Vec::new();
    if (&mut v)
        .take(MAX_PLAINTEXT as u64)
        .read_to_end(&mut out)
        .is_err()
    {
        return fallback();
    }
    let sigs = v.into_helper().results;
    (decode_charset(&out, charset), sigs)
}

/// The dash-unescaped text of a cleartext-signed block, for display when verification fails.
fn cleartext_body(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_text = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let t = trim_armor(line);
        if !in_text {
            if t.is_empty() {
                in_text = true;
            }
            continue;
        }
        if t == b"-----BEGIN PGP SIGNATURE-----" {
            break;
        }
        out.extend_from_slice(line.strip_prefix(b"- ").unwrap_or(line));
    }
    out
}

struct VHelper {
    certs: Vec<Cert>,
    now: SystemTime,
    results: Vec<Signature>,
}

impl VerificationHelper for VHelper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }
    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        self.results = signatures_of(structure, self.now);
        Ok(())
    }
}

/// RFC 3156 §5.1: the signed part with every line ending as CRLF (bare LF and bare CR
/// become CRLF). The CRLF before the boundary was already excluded by the MIME parser.
fn canonical_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 32);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The LibrePGP AEAD packet (tag 20), which sequoia 2 no longer parses
// ---------------------------------------------------------------------------------------------

mod aead {
    //! Decryption of the LibrePGP "AEAD Encrypted Data" packet (tag 20, version 1; made by
    //! `gpg --force-ocb` and GnuPG 2.3+ defaults). Layout (draft-koch-librepgp §5.16):
    //! version, cipher, AEAD mode, chunk size octet c, IV; then chunks of 2^(c+6) bytes each
    //! followed by a tag; then a final tag over the empty string. The nonce of chunk i is the IV
    //! with the last 8 bytes XORed with i; the associated data is the packet header octet, the
    //! four parameter octets, and i (8 bytes), plus the total length (8 bytes) for the final tag.

    use super::*;
    use openpgp::types::AEADAlgorithm;

    pub(super) fn decrypt(bin: &[u8], ctx: &Ctx, extra: &[Cert], ours: &[OurKey]) -> Decrypted {
        let (pkesks, body) = match split(bin) {
            Ok(x) => x,
            Err(r) => return Decrypted::Damaged(r.to_string()),
        };
        let mut failure: Option<String> = None;
        let found = unlock_session(&pkesks, ours, None, |algo, sk| {
            let algo = algo?;
            match open(&body, algo, sk) {
                Ok(p) => Some(p),
                Err(r) => {
                    failure = Some(r);
                    None
                }
            }
        });
        let Some((packets, _)) = found else {
            return Decrypted::Damaged(
                failure.unwrap_or_else(|| "could not decrypt the session key".into()),
            );
        };
        // The plaintext is an OpenPGP message (compressed / literal / signed): verify it.
        let helper = VHelper {
            certs: certs_for(ctx, extra),
            now: ctx.now,
            results: Vec::new(),
        };
        let v = VerifierBuilder::from_bytes(&packets[..])
            .and_then(|b| b.with_policy(POLICY, ctx.now, helper));
        let mut v = match v {
            Ok(v) => v,
            Err(e) => {
                return Decrypted::Damaged(format!(
                    "decrypted content is damaged: {}",
                    keys::short(&e)
                ))
            }
        };
        let mut plaintext = Vec::new();
        if let Err(e) = (&mut v)
            .take(MAX_PLAINTEXT as u64 + 1)
            .read_to_end(&mut plaintext)
        {
            return Decrypted::Damaged(format!("decrypted content is damaged: {e}"));
        }
        if plaintext.len() > MAX_PLAINTEXT {
            return Decrypted::Damaged("decrypted content larger than 64 MiB".into());
        }
        Decrypted::Plain {
            plaintext,
            sigs: v.into_helper().results,
        }
    }

    /// The PKESKs and the body of the AEAD packet.
    fn split(bin: &[u8]) -> Result<(Vec<PKESK>, Vec<u8>), &'static str> {
        let mut pkesks = Vec::new();
        let mut pos = 0;
        while pos < bin.len() {
            let (tag, hdr, len) = header(&bin[pos..]).ok_or("malformed packet header")?;
            let start = pos + hdr;
            if tag == 20 {
                // Partial body lengths: gather the chunks.
                return body(bin, pos).map(|b| (pkesks, b));
            }
            let end = start
                .checked_add(len)
                .filter(|&e| e <= bin.len())
                .ok_or("truncated packet")?;
            if tag == 1 {
                if let Ok(Packet::PKESK(p)) = Packet::from_bytes(&bin[pos..end]) {
                    pkesks.push(p);
                }
            }
            pos = end;
        }
        Err("no AEAD packet")
    }

    /// Returns (tag, header length, body length) for a packet with a definite length.
    fn header(b: &[u8]) -> Option<(u8, usize, usize)> {
        let first = *b.first()?;
        if first & 0x80 == 0 {
            return None;
        }
        if first & 0x40 != 0 {
            let tag = first & 0x3f;
            let (len, n) = new_len(&b[1..])?;
            Some((tag, 1 + n, len?))
        } else {
            let tag = (first >> 2) & 0x0f;
            match first & 3 {
                0 => Some((tag, 2, *b.get(1)? as usize)),
                1 => Some((
                    tag,
                    3,
                    u16::from_be_bytes([*b.get(1)?, *b.get(2)?]) as usize,
                )),
                2 => Some((
                    tag,
                    5,
                    u32::from_be_bytes([*b.get(1)?, *b.get(2)?, *b.get(3)?, *b.get(4)?]) as usize,
                )),
                _ => None,
            }
        }
    }

    /// New-format length: (Some(len) | None for partial, octets used).
    fn new_len(b: &[u8]) -> Option<(Option<usize>, usize)> {
        let o = *b.first()? as usize;
        Some(match o {
            0..=191 => (Some(o), 1),
            192..=223 => (Some(((o - 192) << 8) + *b.get(1)? as usize + 192), 2),
            255 => (
                Some(u32::from_be_bytes([*b.get(1)?, *b.get(2)?, *b.get(3)?, *b.get(4)?]) as usize),
                5,
            ),
            _ => (None, 1),
        })
    }

    /// The whole body of the packet at `pos`, joining partial body lengths.
    fn body(bin: &[u8], pos: usize) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::new();
        let first = bin[pos];
        if first & 0x40 == 0 {
            let (_, hdr, len) = header(&bin[pos..]).ok_or("malformed packet header")?;
            let end = (pos + hdr)
                .checked_add(len)
                .filter(|&e| e <= bin.len())
                .ok_or("truncated")?;
            return Ok(bin[pos + hdr..end].to_vec());
        }
        let mut p = pos + 1;
        loop {
            let rest = bin.get(p..).ok_or("truncated")?;
            let o = *rest.first().ok_or("truncated")? as usize;
            if (224..255).contains(&o) {
                let n = 1usize << (o & 0x1f);
                let chunk = bin.get(p + 1..p + 1 + n).ok_or("truncated")?;
                out.extend_from_slice(chunk);
                p += 1 + n;
                if out.len() > MAX_PLAINTEXT * 2 {
                    return Err("too large");
                }
                continue;
            }
            let (len, n) = new_len(rest).ok_or("truncated")?;
            let len = len.ok_or("bad length")?;
            let chunk = bin.get(p + n..p + n + len).ok_or("truncated")?;
            out.extend_from_slice(chunk);
            return Ok(out);
        }
    }

    /// Decrypts and authenticates every chunk and the final tag.
    fn open(body: &[u8], sym: SymmetricAlgorithm, sk: &SessionKey) -> Result<Vec<u8>, String> {
        let [version, cipher_octet, mode, c, rest @ ..] = body else {
            return Err("truncated AEAD packet".into());
        };
        if *version != 1 {
            return Err(format!("unsupported AEAD packet version {version}"));
        }
        let cipher = SymmetricAlgorithm::from(*cipher_octet);
        if cipher != sym {
            return Err("AEAD cipher mismatch".into());
        }
        let aead = AEADAlgorithm::from(*mode);
        let iv_len = match aead {
            AEADAlgorithm::EAX => 16,
            AEADAlgorithm::OCB => 15,
            _ => return Err("unsupported AEAD mode".into()),
        };
        if *c > 16 {
            return Err("AEAD chunk size too large".into());
        }
        let chunk = 1usize << (*c as usize + 6);
        let tag_len = 16;
        if rest.len() < iv_len + tag_len {
            return Err("truncated AEAD packet".into());
        }
        let (iv, data) = rest.split_at(iv_len);
        let (chunks, final_tag) = data.split_at(data.len() - tag_len);
        let prefix = [0xC0 | 20, *version, *cipher_octet, *mode, *c];
        let mut out = Vec::new();
        let mut index: u64 = 0;
        let nonce_for = |i: u64| {
            let mut n = iv.to_vec();
            let l = n.len();
            for (k, b) in i.to_be_bytes().iter().enumerate() {
                n[l - 8 + k] ^= b;
            }
            n
        };
        let integrity = || "integrity check failed: the ciphertext was modified".to_string();
        for piece in chunks.chunks(chunk + tag_len) {
            if piece.len() < tag_len {
                return Err(integrity());
            }
            let mut ad = prefix.to_vec();
            ad.extend_from_slice(&index.to_be_bytes());
            let nonce = nonce_for(index);
            let dst = open_chunk(aead, cipher, sk, &ad, &nonce, piece).map_err(|e| {
                if e.is_empty() {
                    integrity()
                } else {
                    e
                }
            })?;
            out.extend_from_slice(&dst);
            if out.len() > MAX_PLAINTEXT {
                return Err("decrypted content larger than 64 MiB".into());
            }
            index += 1;
        }
        let mut ad = prefix.to_vec();
        ad.extend_from_slice(&index.to_be_bytes());
        ad.extend_from_slice(&(out.len() as u64).to_be_bytes());
        let nonce = nonce_for(index);
        open_chunk(aead, cipher, sk, &ad, &nonce, final_tag).map_err(|e| {
            if e.is_empty() {
                integrity()
            } else {
                e
            }
        })?;
        Ok(out)
    }

    /// Decrypts and authenticates one chunk (ciphertext followed by its 16-byte tag). An empty
    /// error string means the tag did not verify. OCB goes through our own RFC 7253 code when
    /// the crypto backend lacks it (nettle before 3.9).
    fn open_chunk(
        aead: AEADAlgorithm,
        cipher: SymmetricAlgorithm,
        sk: &SessionKey,
        ad: &[u8],
        nonce: &[u8],
        piece: &[u8],
    ) -> Result<Vec<u8>, String> {
        match aead
            .context(cipher, sk, ad, nonce)
            .and_then(|b| b.for_decryption())
        {
            Ok(mut ctx) => {
                let mut dst = vec![0u8; piece.len().saturating_sub(ctx.digest_size())];
                ctx.decrypt_verify(&mut dst, piece)
                    .map(|()| dst)
                    .map_err(|_| String::new())
            }
            Err(_) if aead == AEADAlgorithm::OCB => ocb::open(cipher, sk, ad, nonce, piece),
            Err(e) => Err(keys::short(&e)),
        }
    }

    mod ocb {
        //! OCB3 decryption (RFC 7253) with a 128-bit tag and a 120-bit nonce over AES, built on
        //! the AES block cipher.

        use super::super::SymmetricAlgorithm;
        use nettle::cipher::{Aes128, Aes192, Aes256, Cipher};

        type Block = [u8; 16];

        fn xor(a: &Block, b: &Block) -> Block {
            let mut o = [0u8; 16];
            for (i, x) in o.iter_mut().enumerate() {
                *x = a[i] ^ b[i];
            }
            o
        }

        /// RFC 7253 §2: double(S) = S << 1, xor 0x87 when the top bit was set.
        fn double(s: &Block) -> Block {
            let mut o = [0u8; 16];
            for (i, x) in o.iter_mut().enumerate() {
                *x = (s[i] << 1) | s.get(i + 1).map(|n| n >> 7).unwrap_or(0);
            }
            if s[0] & 0x80 != 0 {
                o[15] ^= 0x87;
            }
            o
        }

        type BlockFn = Box<dyn FnMut(&Block) -> Block>;

        fn aes<C: Cipher + 'static>(key: &[u8]) -> Result<(BlockFn, BlockFn), String> {
            let mut e = C::with_encrypt_key(key).map_err(|_| "bad session key".to_string())?;
            let mut d = C::with_decrypt_key(key).map_err(|_| "bad session key".to_string())?;
            Ok((
                Box::new(move |b: &Block| {
                    let mut o = [0u8; 16];
                    e.encrypt(&mut o, b);
                    o
                }),
                Box::new(move |b: &Block| {
                    let mut o = [0u8; 16];
                    d.decrypt(&mut o, b);
                    o
                }),
            ))
        }

        /// `L_i` (RFC 7253 §4.1), extended on demand.
        fn l_at(l: &mut Vec<Block>, i: usize) -> Block {
            while l.len() <= i {
                let next = double(&l[l.len() - 1]);
                l.push(next);
            }
            l[i]
        }

        pub(super) fn open(
            cipher: SymmetricAlgorithm,
            key: &[u8],
            ad: &[u8],
            nonce: &[u8],
            piece: &[u8],
        ) -> Result<Vec<u8>, String> {
            let (mut enc, mut dec) = match cipher {
                SymmetricAlgorithm::AES128 => aes::<Aes128>(key)?,
                SymmetricAlgorithm::AES192 => aes::<Aes192>(key)?,
                SymmetricAlgorithm::AES256 => aes::<Aes256>(key)?,
                _ => return Err("unsupported cipher for OCB".into()),
            };
            if nonce.len() != 15 || piece.len() < 16 {
                return Err(String::new());
            }
            let (ct, tag) = piece.split_at(piece.len() - 16);
            let l_star = enc(&[0u8; 16]);
            let l_dollar = double(&l_star);
            let mut l = vec![double(&l_dollar)];
            // RFC 7253 §4.2: Nonce = num2str(TAGLEN mod 128, 7) || zeros || 1 || N.
            let mut n: Block = [0u8; 16];
            n[0] = 0x01;
            n[1..].copy_from_slice(nonce);
            let bottom = (n[15] & 0x3f) as usize;
            let mut top = n;
            top[15] &= 0xc0;
            let ktop = enc(&top);
            let mut stretch = [0u8; 24];
            stretch[..16].copy_from_slice(&ktop);
            for i in 0..8 {
                stretch[16 + i] = ktop[i] ^ ktop[i + 1];
            }
            let mut offset: Block = [0u8; 16];
            let (byte, bit) = (bottom / 8, bottom % 8);
            for (i, o) in offset.iter_mut().enumerate() {
                let hi = stretch[byte + i];
                let lo = stretch.get(byte + i + 1).copied().unwrap_or(0);
                *o = if bit == 0 {
                    hi
                } else {
                    (hi << bit) | (lo >> (8 - bit))
                };
            }
            let mut checksum: Block = [0u8; 16];
            let mut out = Vec::with_capacity(ct.len());
            let mut blocks = ct.chunks_exact(16);
            for (i, c) in (&mut blocks).enumerate() {
                offset = xor(&offset, &l_at(&mut l, (i + 1).trailing_zeros() as usize));
                let mut cb: Block = [0u8; 16];
                cb.copy_from_slice(c);
                let p = xor(&offset, &dec(&xor(&cb, &offset)));
                checksum = xor(&checksum, &p);
                out.extend_from_slice(&p);
            }
            let rest = blocks.remainder();
            if !rest.is_empty() {
                offset = xor(&offset, &l_star);
                let pad = enc(&offset);
                let mut padded: Block = [0u8; 16];
                for (i, c) in rest.iter().enumerate() {
                    let p = c ^ pad[i];
                    padded[i] = p;
                    out.push(p);
                }
                padded[rest.len()] = 0x80;
                checksum = xor(&checksum, &padded);
            }
            let full = enc(&xor(&xor(&checksum, &offset), &l_dollar));
            // HASH(K, A), RFC 7253 §4.1.
            let mut sum: Block = [0u8; 16];
            let mut aoff: Block = [0u8; 16];
            let mut ablocks = ad.chunks_exact(16);
            for (i, a) in (&mut ablocks).enumerate() {
                aoff = xor(&aoff, &l_at(&mut l, (i + 1).trailing_zeros() as usize));
                let mut ab: Block = [0u8; 16];
                ab.copy_from_slice(a);
                sum = xor(&sum, &enc(&xor(&ab, &aoff)));
            }
            let arest = ablocks.remainder();
            if !arest.is_empty() {
                aoff = xor(&aoff, &l_star);
                let mut ab: Block = [0u8; 16];
                ab[..arest.len()].copy_from_slice(arest);
                ab[arest.len()] = 0x80;
                sum = xor(&sum, &enc(&xor(&ab, &aoff)));
            }
            let expect = xor(&full, &sum);
            // Compare the whole tag without an early exit.
            let diff = expect.iter().zip(tag).fold(0u8, |d, (a, b)| d | (a ^ b));
            if diff == 0 {
                Ok(out)
            } else {
                Err(String::new())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal MIME tree over the raw bytes
// ---------------------------------------------------------------------------------------------

mod mime {
    //! MIME structure over raw bytes, so that the exact bytes of a signed part are at hand
    //! (RFC 3156 §5). RFC 2045/2046: header section up to the first empty line; multipart
    //! bodies split at `--boundary` lines, the line break before a delimiter belonging to the
    //! delimiter (RFC 2046 §5.1.1).

    use super::{MAX_DEPTH, MAX_PARTS};

    pub struct Part<'a> {
        /// Headers and body exactly as in the message.
        pub raw: &'a [u8],
        /// The header section (without the empty line ending it).
        pub header_block: &'a [u8],
        /// (lowercased name, unfolded value).
        pub headers: Vec<(String, String)>,
        pub body: &'a [u8],
        /// Lowercased `type/subtype`; text/plain when absent.
        pub mime: String,
        params: Vec<(String, String)>,
        pub children: Vec<Part<'a>>,
    }

    impl<'a> Part<'a> {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers_named(name).next()
        }

        pub fn headers_named<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> + 's {
            let name = name.to_ascii_lowercase();
            self.headers
                .iter()
                .filter(move |(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        }

        pub fn param(&self, name: &str) -> Option<&str> {
            self.params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }

        pub fn is_attachment(&self) -> bool {
            self.header("content-disposition")
                .map(|d| d.trim().to_lowercase().starts_with("attachment"))
                .unwrap_or(false)
        }

        pub fn filename(&self) -> Option<String> {
            let disp = self
                .header("content-disposition")
                .map(|d| parse_params(d).1)
                .unwrap_or_default();
            let from_disp = disp
                .into_iter()
                .find(|(n, _)| n == "filename")
                .map(|(_, v)| v);
            from_disp
                .or_else(|| self.param("name").map(str::to_string))
                .map(|n| decode_words(&n))
                .filter(|n| !n.is_empty())
        }

        /// The body with its Content-Transfer-Encoding undone.
        pub fn decoded(&self) -> Vec<u8> {
            let cte = self
                .header("content-transfer-encoding")
                .unwrap_or("")
                .trim()
                .to_lowercase();
            match cte.as_str() {
                "base64" => base64_decode(self.body),
                "quoted-printable" => qp_decode(self.body),
                _ => self.body.to_vec(),
            }
        }
    }

    /// Parses a part (or a whole message); `depth` and `budget` bound the work.
    pub fn parse<'a>(raw: &'a [u8], depth: usize, budget: &mut usize) -> Part<'a> {
        *budget = budget.saturating_sub(1);
        let (header_block, body) = split_header(raw);
        let headers = parse_headers(header_block);
        let (mime, params) = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| parse_params(v))
            .map(|(m, p)| {
                (
                    if m.contains('/') {
                        m
                    } else {
                        "text/plain".into()
                    },
                    p,
                )
            })
            .unwrap_or_else(|| ("text/plain".into(), Vec::new()));
        let mut part = Part {
            raw,
            header_block,
            headers,
            body,
            mime,
            params,
            children: Vec::new(),
        };
        if part.mime.starts_with("multipart/") && depth < MAX_DEPTH && *budget > 0 {
            if let Some(boundary) = part.param("boundary").map(str::to_string) {
                for child in split_multipart(body, boundary.as_bytes()) {
                    if *budget == 0 {
                        break;
                    }
                    part.children.push(parse(child, depth + 1, budget));
                }
            }
        }
        part
    }

    /// (header section, body). A part that starts with a non-header line has no headers.
    fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
        let mut pos = 0;
        let mut first = true;
        while pos < raw.len() {
            let end = raw[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|e| pos + e + 1)
                .unwrap_or(raw.len());
            let line = &raw[pos..end];
            let content = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(line);
            if content.is_empty() {
                let hdr_end = pos;
                return (&raw[..hdr_end], &raw[end..]);
            }
            let is_cont = content.starts_with(b" ") || content.starts_with(b"\t");
            let is_field = content
                .iter()
                .position(|&b| b == b':')
                .map(|c| c > 0 && content[..c].iter().all(|b| b.is_ascii_graphic()))
                .unwrap_or(false);
            if !(is_field || (is_cont && !first)) {
                if first {
                    return (&raw[..0], raw);
                }
                return (&raw[..pos], &raw[pos..]);
            }
            first = false;
            pos = end;
        }
        (raw, &raw[raw.len()..])
    }

    fn parse_headers(block: &[u8]) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(block);
        let mut out: Vec<(String, String)> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                if let Some(last) = out.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            if let Some((n, v)) = line.split_once(':') {
                out.push((n.trim().to_lowercase(), v.trim().to_string()));
            }
        }
        out
    }

    /// `type/subtype; a=b; c="d"` → (lowercased type, lowercased-name params). RFC 2231
    /// extended (`name*=charset''pct`) and continued (`name*0=`) values are joined.
    pub fn parse_params(v: &str) -> (String, Vec<(String, String)>) {
        let mut items = split_semicolons(v).into_iter();
        let mime = items.next().unwrap_or_default().trim().to_lowercase();
        let mut params: Vec<(String, String)> = Vec::new();
        let mut continued: Vec<(String, usize, String, bool)> = Vec::new();
        for item in items {
            let Some((n, val)) = item.split_once('=') else {
                continue;
            };
            let n = n.trim().to_lowercase();
            let val = unquote(val.trim());
            if let Some((base, idx)) = n.split_once('*') {
                let ext = idx.ends_with('*') || idx.is_empty();
                let num = idx.trim_end_matches('*').parse::<usize>().unwrap_or(0);
                continued.push((base.to_string(), num, val, ext));
            } else {
                params.push((n, val));
            }
        }
        continued.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        let mut joined: Vec<(String, String)> = Vec::new();
        for (base, num, val, ext) in continued {
            let val = if ext {
                let v = if num == 0 {
                    // charset'language'value
                    val.splitn(3, '\'').nth(2).unwrap_or(&val).to_string()
                } else {
                    val
                };
                pct_decode(&v)
            } else {
                val
            };
            match joined.iter_mut().find(|(n, _)| *n == base) {
                Some(j) => j.1.push_str(&val),
                None => joined.push((base, val)),
            }
        }
        for (n, v) in joined {
            params.retain(|(p, _)| *p != n);
            params.push((n, v));
        }
        (mime, params)
    }

    fn split_semicolons(v: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut escaped = false;
        for c in v.chars() {
            if escaped {
                cur.push(c);
                escaped = false;
                continue;
            }
            match c {
                '\\' if quoted => {
                    cur.push(c);
                    escaped = true;
                }
                '"' => {
                    quoted = !quoted;
                    cur.push(c);
                }
                ';' if !quoted => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    fn unquote(v: &str) -> String {
        if let Some(inner) = v.strip_prefix('"') {
            let inner = inner.strip_suffix('"').unwrap_or(inner);
            let mut out = String::new();
            let mut esc = false;
            for c in inner.chars() {
                if esc {
                    out.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    out.push(c);
                }
            }
            out
        } else {
            v.to_string()
        }
    }

    fn pct_decode(v: &str) -> String {
        let b = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                if let Some(x) = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// RFC 2047 encoded words in a parameter value (some clients put them in filenames).
    fn decode_words(v: &str) -> String {
        if !v.contains("=?") {
            return v.to_string();
        }
        let hdr = format!("Subject: {v}\r\n\r\n");
        mail_parser::MessageParser::default()
            .parse_headers(hdr.as_bytes())
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_else(|| v.to_string())
    }

    /// The parts of a multipart body, each without the line break before its delimiter.
    fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
        let mut delim = b"--".to_vec();
        delim.extend_from_slice(boundary);
        let mut parts = Vec::new();
        let mut start: Option<usize> = None;
        let mut pos = 0;
        while pos < body.len() {
            let end = body[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|e| pos + e + 1)
                .unwrap_or(body.len());
            let line = &body[pos..end];
            if let Some(rest) = line.strip_prefix(delim.as_slice()) {
                let closing = rest.starts_with(b"--");
                let tail = if closing { &rest[2..] } else { rest };
                if tail.iter().all(|b| b.is_ascii_whitespace()) {
                    if let Some(s) = start {
                        // The CRLF (or LF) before the delimiter belongs to the delimiter.
                        let mut e = pos;
                        if e > s && body[e - 1] == b'\n' {
                            e -= 1;
                            if e > s && body[e - 1] == b'\r' {
                                e -= 1;
                            }
                        }
                        parts.push(&body[s..e.max(s)]);
                    }
                    if closing {
                        return parts;
                    }
                    start = Some(end);
                    if parts.len() >= MAX_PARTS {
                        return parts;
                    }
                }
            }
            pos = end;
        }
        if let Some(s) = start {
            if s < body.len() {
                parts.push(&body[s..]);
            }
        }
        parts
    }

    /// Tolerant base64: non-alphabet bytes are skipped, decoding stops at padding.
    pub fn base64_decode(b: &[u8]) -> Vec<u8> {
        fn val(c: u8) -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => (c - b'A') as u32,
                b'a'..=b'z' => (c - b'a' + 26) as u32,
                b'0'..=b'9' => (c - b'0' + 52) as u32,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            })
        }
        let mut out = Vec::with_capacity(b.len() * 3 / 4);
        let mut acc: u32 = 0;
        let mut n = 0;
        for &c in b {
            if c == b'=' {
                break;
            }
            let Some(v) = val(c) else { continue };
            acc = (acc << 6) | v;
            n += 1;
            if n == 4 {
                out.push((acc >> 16) as u8);
                out.push((acc >> 8) as u8);
                out.push(acc as u8);
                acc = 0;
                n = 0;
            }
        }
        match n {
            2 => out.push((acc >> 4) as u8),
            3 => {
                out.push((acc >> 10) as u8);
                out.push((acc >> 2) as u8);
            }
            _ => {}
        }
        out
    }

    /// Quoted-printable (RFC 2045 §6.7): soft line breaks removed, `=XX` decoded, trailing
    /// whitespace on lines dropped; malformed escapes kept as they are.
    pub fn qp_decode(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(b.len());
        for line in b.split_inclusive(|&c| c == b'\n') {
            let (content, eol): (&[u8], &[u8]) = if let Some(l) = line.strip_suffix(b"\r\n") {
                (l, b"\r\n")
            } else if let Some(l) = line.strip_suffix(b"\n") {
                (l, b"\n")
            } else {
                (line, b"")
            };
            let mut end = content.len();
            while end > 0 && (content[end - 1] == b' ' || content[end - 1] == b'\t') {
                end -= 1;
            }
            let content = &content[..end];
            let (content, soft) = match content.strip_suffix(b"=") {
                Some(c) => (c, true),
                None => (content, false),
            };
            let mut i = 0;
            while i < content.len() {
                if content[i] == b'=' {
                    let hex = content.get(i + 1..i + 3);
                    if let Some(x) = hex
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                }
                out.push(content[i]);
                i += 1;
            }
            if !soft {
                out.extend_from_slice(eol);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::seal;
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
            assert_eq!(o.outcome, Outcome::Decrypted, "{suite:?}");
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
            assert_eq!(o.outcome, Outcome::Decrypted);
            assert_eq!(o.signatures[0].status, SigStatus::UnknownKey);
            assert_eq!(o.verified_sender("rep@example.net"), None);
        }
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
            Outcome::NotForUs { recipients } => assert_eq!(recipients.len(), 1),
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
        assert_eq!(o.outcome, Outcome::Decrypted);
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
        assert!(matches!(o.outcome, Outcome::Damaged(_)), "{:?}", o.outcome);
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
        assert_eq!(
            canonical_crlf(b"a\nb\r\nc\rd"),
            b"a\r\nb\r\nc\r\nd".to_vec()
        );
        assert_eq!(
            mime::qp_decode(b"caf=C3=A9=\r\n ok\r\n"),
            "café ok\r\n".as_bytes()
        );
        assert_eq!(mime::base64_decode(b"aGVs\r\nbG8=\r\n"), b"hello".to_vec());
        assert_eq!(
            html_to_text("<p>a&amp;b</p><script>x</script>c&#65;"),
            "a&b\ncA"
        );
        assert_eq!(bare_address("\"X\" <A@B.org>").as_deref(), Some("a@b.org"));
        let (m, p) = mime::parse_params("Text/Plain; charset=\"utf-8\"; name*=utf-8''r%C3%A9.txt");
        assert_eq!(m, "text/plain");
        assert!(p.contains(&("name".into(), "ré.txt".into())));
    }
}
