//! The authenticated content: what a decrypted (or clear) tree says.
//!
//! Owns: opening decrypted bytes (a MIME entity, possibly signed inside or encrypted once more,
//! or bare text), collecting its text parts, attachments and attached keys, sorting attached
//! certs into signers and bystanders, charset decoding and the crude HTML-to-text reduction.
//!
//! Invariants:
//! - Protected headers are read only at the payload root (RFC 9788 §2), or from the header
//!   section of a `message/rfc822` payload (draft-melnikov-smime-header-signing).
//! - Signatures, legacy-display parts (RFC 9788 §4.5.3) and nested encrypted parts are never
//!   collected as content; a nested multipart/encrypted is opened at most twice deep.
//! - HTML is reduced to text locally; no remote content is ever touched (EFAIL).

use super::armor::find_line;
use super::keys::{self, Cert};
use super::packets::{decrypt, Decrypted};
use super::protected::{headers_of, protected_headers};
use super::verify::{canonical_crlf, verify_detached};
use super::{
    certs_for, join_texts, mime, Attachment, CertSource, Crypt, Ctx, Found, LearntCert, Opened,
    SigStatus, Signature, MAX_ATTACHED_CERTS, MAX_DEPTH, MAX_KEY_BYTES, MAX_PARTS,
};

/// Opens decrypted bytes: a MIME payload (possibly signed inside, with protected headers) or
/// bare text. `ciphertext` is kept to re-verify inner signatures once attached certs are known.
pub(super) fn open_plaintext(
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
                    Crypt::Damaged(r) => r,
                    Crypt::NoIntegrity => "no integrity protection".into(),
                    Crypt::NotForUs { .. } => "not encrypted to us".into(),
                    _ => "unreadable".into(),
                };
                opened.outcome = Crypt::Damaged(format!("inner encrypted part: {why}"));
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
pub(super) fn looks_like_mime(b: &[u8]) -> bool {
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

/// Walks a content tree: text parts to `texts`, keys to `keys`, the rest to `attachments`.
/// Signatures, legacy-display parts and nested encrypted parts are left out.
pub(super) fn collect(part: &mime::Part, found: &mut Found, depth: usize) {
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
            let data = part.decoded();
            if data.len() > MAX_KEY_BYTES {
                found.attachments.push(attachment_of(part));
                return;
            }
            let mut certs = certs_in(&data, found.keys.len());
            if certs.is_empty() {
                // Some clients declare quoted-printable but leave armor's `=` unescaped.
                certs = certs_in(part.body, found.keys.len());
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
            if data.len() <= MAX_KEY_BYTES
                && find_line(&data, b"-----BEGIN PGP PUBLIC KEY BLOCK-----").is_some()
            {
                let certs = certs_in(&data, found.keys.len());
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

pub(super) fn attachment_of(part: &mime::Part) -> Attachment {
    Attachment {
        filename: part.filename(),
        content_type: part.mime.clone(),
        data: part.decoded(),
    }
}

/// The certs in key material, up to what the message may still carry (`MAX_ATTACHED_CERTS`
/// over all its parts: SECURITY.md, cost bombs).
fn certs_in(data: &[u8], have: usize) -> Vec<Cert> {
    keys::parse_certs_capped(data, MAX_ATTACHED_CERTS.saturating_sub(have))
}

/// Sorts attached certs into signers and bystanders and adds them to `opened.certs`.
pub(super) fn finish_certs(opened: &mut Opened, attached: Vec<Cert>) {
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
pub(super) fn text_of(part: &mime::Part) -> String {
    let (bytes, charset) = text_bytes(part);
    decode_charset(&bytes, &charset)
}

/// Transfer-decoded bytes of a text part and their charset; HTML is converted to text first
/// (and the result is UTF-8).
pub(super) fn text_bytes(part: &mime::Part) -> (Vec<u8>, String) {
    let charset = part.param("charset").unwrap_or("utf-8").to_lowercase();
    let data = part.decoded();
    if part.mime == "text/html" {
        let s = decode_charset(&data, &charset);
        (html_to_text(&s).into_bytes(), "utf-8".into())
    } else {
        (data, charset)
    }
}

pub(super) fn decode_charset(b: &[u8], charset: &str) -> String {
    match charset {
        // ASCII-labelled text may be JIS that its mailer did not label (mime::repair_jis).
        "" | "utf-8" | "utf8" | "us-ascii" | "ascii" => {
            mime::repair_jis(&String::from_utf8_lossy(b)).into_owned()
        }
        cs => match mime::charset_decoder(cs) {
            Some(dec) => dec(b),
            None => String::from_utf8_lossy(b).into_owned(),
        },
    }
}

/// Crude HTML to text: drops script/style, turns block ends into line breaks, strips tags and
/// decodes entities. No remote content is ever touched (DESIGN.md EFAIL rules).
pub(super) fn html_to_text(html: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_mislabelled_or_python_labelled_charsets() {
        // JIS sent as us-ascii (or unlabelled), and Python's codec name for Big5.
        assert_eq!(
            decode_charset(b"\x1b$B@H<e@-\x1b(B report", "us-ascii"),
            "脆弱性 report"
        );
        assert_eq!(decode_charset(&[0xBA, 0x7C, 0xAC, 0x7D], "big5_tw"), "漏洞");
    }

    #[test]
    fn html_reduced_to_text() {
        assert_eq!(
            html_to_text("<p>a&amp;b</p><script>x</script>c&#65;"),
            "a&b\ncA"
        );
    }
}
