//! Headers read from inside a message: protected headers and Autocrypt.
//!
//! Owns: the header fields of a cryptographic payload root (RFC 9788 `hp=`, or the older
//! `protected-headers="v1"`), and the cert of an `Autocrypt` header (Autocrypt Level 1).
//!
//! Invariants:
//! - [`protected_headers`] reads a part only when it is marked as a protected-headers payload
//!   root; the caller passes only the root of the cryptographic payload, never a nested part.
//! - An Autocrypt header counts only when its `addr=` equals the single From address and the
//!   cert carries that address; an unknown critical attribute voids it (§2.1).

use super::keys::{self, Cert};
use super::{bare_address, mime, ProtectedHeaders};

/// Protected headers of `part` when it is marked as a protected-headers payload root:
/// RFC 9788 `hp="cipher"|"clear"` or the older `protected-headers="v1"`.
pub(super) fn protected_headers(part: &mime::Part) -> ProtectedHeaders {
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
pub(super) fn headers_of(part: &mime::Part) -> ProtectedHeaders {
    let mut block = mime::relabel_words(part.header_block).into_owned();
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
                    Some(n) if !n.is_empty() => format!("{} <{addr}>", mime::repair_jis(n)),
                    _ => addr.to_string(),
                })
            })
            .collect();
        (!v.is_empty()).then(|| v.join(", "))
    };
    let raw = |name: &str| part.header(name).map(|v| v.trim().to_string());
    ProtectedHeaders {
        subject: msg.subject().map(|s| mime::repair_jis(s).into_owned()),
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
pub(super) fn autocrypt(root: &mime::Part) -> Option<Cert> {
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
