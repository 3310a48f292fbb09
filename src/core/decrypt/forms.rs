//! The OpenPGP forms of a message, and which of them we decrypt (DESIGN.md "OpenPGP", EFAIL).
//!
//! Owns: RFC 3156 multipart/signed at the root (PGP/MIME, or an S/MIME wrapper looked through
//! once), RFC 3156 §4 multipart/encrypted, the Microsoft Exchange and Google Workspace
//! manglings of PGP/MIME (repaired), and simple messages with inline armored blocks or
//! encrypted `.asc` / `.gpg` / `.pgp` attachments.
//!
//! Invariants:
//! - An encrypted part is decrypted only at the root, under one multipart/signed wrapper, in
//!   a repairable Exchange form, or as an inline block / encrypted attachment of a message
//!   with no nested encrypted part; anything else is refused as an EFAIL nesting.
//! - Clear text beside encrypted content goes to [`Opened::unauthenticated`], never into
//!   [`Opened::text`]; a signed block beside encrypted content is clear text too.
//! - Several blocks: any failure wins ([`combine`]), so no partial plaintext is presented as
//!   the message.

use super::armor::{find_line, split_blocks};
use super::content::{
    collect, decode_charset, looks_like_mime, open_plaintext, text_bytes, text_of,
};
use super::packets::{decrypt, Decrypted};
use super::protected::protected_headers;
use super::verify::{canonical_crlf, verify_cleartext, verify_detached};
use super::{
    certs_for, join_texts, mime, payload_id, push_unauthenticated, Attachment, Crypt, Ctx, Form,
    Found, Opened, MAX_DEPTH,
};

/// Root multipart/signed: a PGP/MIME signature (RFC 3156 §5), or an S/MIME wrapper we can't
/// verify and look through once.
pub(super) fn open_signed_root(
    root: &mime::Part,
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
) {
    let Some(content) = root.children.first() else {
        opened.outcome = Crypt::Damaged("multipart/signed without parts".into());
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

/// RFC 3156 §4: multipart/encrypted with an application/pgp-encrypted control part and an
/// application/octet-stream payload.
pub(super) fn open_pgp_mime(part: &mime::Part, ctx: &Ctx, opened: &mut Opened, found: &mut Found) {
    let protocol = part.param("protocol").unwrap_or_default().to_lowercase();
    if !protocol.is_empty() && protocol != "application/pgp-encrypted" {
        opened.outcome = Crypt::Damaged(format!("unsupported encryption protocol {protocol}"));
        return;
    }
    let payload = match part.children.as_slice() {
        [control, payload, ..] if control.mime == "application/pgp-encrypted" => payload,
        [payload] if payload.mime == "application/octet-stream" => payload,
        _ => {
            opened.outcome = Crypt::Damaged("malformed PGP/MIME structure".into());
            return;
        }
    };
    let data = payload.decoded();
    open_encrypted_bytes(&data, true, ctx, opened, found);
}

/// Decrypts `data` (armored or binary OpenPGP) and opens the plaintext. `is_mime`: the
/// plaintext is a MIME entity (RFC 3156 §4) rather than bare text.
pub(super) fn open_encrypted_bytes(
    data: &[u8],
    is_mime: bool,
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
) {
    match decrypt(data, ctx, &[]) {
        Decrypted::Plain { plaintext, sigs } => {
            opened.outcome = Crypt::Decrypted;
            opened.signatures.extend(sigs);
            payload_id(opened, &plaintext);
            open_plaintext(&plaintext, is_mime, data, ctx, opened, found, 0);
        }
        other => opened.outcome = other.into_outcome(),
    }
}

/// A message (or signed content) that is not PGP/MIME encrypted at the root. Looks for
/// nested encrypted parts (refused), inline armored blocks and encrypted attachments.
pub(super) fn open_clear(
    part: &mime::Part,
    ctx: &Ctx,
    opened: &mut Opened,
    found: &mut Found,
    allow_inline: bool,
) {
    if has_nested_encrypted(part) {
        // EFAIL: an encrypted part beside other content is not decrypted (DESIGN.md).
        opened.form = Form::PgpMime;
        opened.outcome = Crypt::Damaged(
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
            opened.outcome = Crypt::Clear;
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
    let mut outcomes: Vec<Crypt> = Vec::new();
    let mut clear: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    // Each authenticated segment is one piece, whatever it yields (text or attachment).
    let mut pieces = 0;
    for seg in segments {
        if matches!(
            seg,
            Segment::Signed(_) | Segment::SignedIn(..) | Segment::Message(_) | Segment::File(..)
        ) && !(encrypted && matches!(seg, Segment::Signed(_) | Segment::SignedIn(..)))
        {
            pieces += 1;
        }
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
                    outcomes.push(Crypt::Decrypted);
                    payload_id(opened, &plaintext);
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
                    outcomes.push(Crypt::Decrypted);
                    payload_id(opened, &plaintext);
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
    opened.pieces = pieces;
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
fn combine(outcomes: Vec<Crypt>) -> Crypt {
    if let Some(bad) = outcomes
        .iter()
        .find(|o| matches!(o, Crypt::Damaged(_) | Crypt::NoIntegrity))
    {
        return bad.clone();
    }
    if outcomes.contains(&Crypt::Decrypted) {
        return Crypt::Decrypted;
    }
    let mut recipients = Vec::new();
    let mut any = false;
    for o in outcomes {
        if let Crypt::NotForUs { recipients: r } = o {
            any = true;
            for x in r {
                if !recipients.contains(&x) {
                    recipients.push(x);
                }
            }
        }
    }
    if any {
        Crypt::NotForUs { recipients }
    } else {
        Crypt::Clear
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
pub(super) enum Segment {
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
        // An application/pgp-encrypted leaf holding a whole OpenPGP message is an encrypted
        // attachment (a script's `report.txt.asc`), opened as one; the RFC 3156 control part
        // ("Version: 1") outside a multipart/encrypted root is a nesting.
        if depth > 0
            && (p.mime == "multipart/encrypted"
                || (p.mime == "application/pgp-encrypted" && !is_encrypted_file(p)))
        {
            return true;
        }
        p.children.iter().any(|c| walk(c, depth + 1))
    }
    walk(part, 0)
}

pub(super) enum Exchange<'p, 'a> {
    /// Google Workspace form: the multipart/encrypted part itself.
    Parts(&'p mime::Part<'a>),
    /// Exchange form: the encrypted payload bytes.
    Data(Vec<u8>),
}

/// The Exchange mangling (multipart/mixed: text/plain, application/pgp-encrypted
/// "Version: 1", application/octet-stream) and Delta Chat's Google Workspace variant
/// (multipart/mixed: empty text/plain, multipart/encrypted). Returns the clear text part and
/// the payload.
pub(super) fn exchange_payload<'p, 'a>(
    root: &'p mime::Part<'a>,
) -> Option<(String, Exchange<'p, 'a>)> {
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
