//! Parse: the headers secmail decides on, read from the raw bytes (RFC 5322, via mail-parser).
//!
//! Invariant: nothing here trusts an `X-Secmail-*` header except to compare the loop marker with
//! our own instance (DESIGN.md "OpenPGP": strip headers that imitate ours before looking at mail).
use crate::core::mime;
use mail_parser::{HeaderValue, MessageParser};

/// An address with its display name; the address is lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// The headers of an incoming message that classification and threading need.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub from: Option<Mailbox>,
    /// More than one From address (RFC 5322 allows it; we answer nobody then).
    pub from_count: usize,
    /// Lowercased addresses from To, Cc, Delivered-To and X-Original-To.
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    /// The Date header, RFC 3339, when it parses.
    pub date: Option<String>,
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: bool,
    /// `Some("")` for the null return path `<>` of bounces.
    pub return_path: Option<String>,
    /// The `X-Secmail-Loop` value, if any (compared with ours, then ignored).
    pub loop_marker: Option<String>,
    /// `type/subtype`, lowercased.
    pub content_type: String,
    pub report_type: Option<String>,
    /// `Accept-Language` and `Content-Language` as written (several headers joined by `, `):
    /// the languages the sender reads and writes (`draft::language`, issue 12.6).
    pub accept_language: Option<String>,
    pub content_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a mail message")]
    NotMail,
    #[error("no From address")]
    NoFrom,
}

/// Reads the headers. A message without a usable From address is an error: it can be neither
/// answered nor attributed, so the caller quarantines it.
pub fn headers(raw: &[u8]) -> Result<Headers, ParseError> {
    // Charset labels mail-parser lacks (Python's `big5_tw`…) made ones it knows first.
    let raw = mime::relabel_words(raw);
    let msg = MessageParser::default()
        .parse_headers(&raw)
        .ok_or(ParseError::NotMail)?;
    if msg.headers().is_empty() {
        return Err(ParseError::NotMail);
    }
    let mut h = Headers::default();
    // Every From header counts: with several, mail-parser's `from()` is the last, DMARC checks
    // the first (SECURITY.md: such a sender is unauthenticated and never answered).
    let froms: Vec<&mail_parser::Address> = msg
        .headers()
        .iter()
        .filter(|x| matches!(x.name, mail_parser::HeaderName::From))
        .filter_map(|x| x.value().as_address())
        .collect();
    h.from_count = froms.iter().map(|a| a.iter().count()).sum();
    if let Some(from) = froms.first() {
        h.from = from.first().and_then(mailbox);
    }
    h.date = msg.date().map(|d| d.to_rfc3339());
    for addr in msg.all_to().chain(msg.all_cc()) {
        for a in addr.iter() {
            if let Some(x) = a.address() {
                h.recipients.push(x.trim().to_ascii_lowercase());
            }
        }
    }
    for (name, value) in msg.headers_raw() {
        let lname = name.to_ascii_lowercase();
        let v = value.trim();
        match lname.as_str() {
            "delivered-to" | "x-original-to" => h
                .recipients
                .push(v.trim_matches(['<', '>']).to_ascii_lowercase()),
            "auto-submitted" => h.auto_submitted = Some(first_token(v)),
            "precedence" => h.precedence = Some(first_token(v)),
            "list-id" => h.list_id = true,
            "return-path" => {
                h.return_path = Some(v.trim_matches(['<', '>', ' ']).to_ascii_lowercase())
            }
            "x-secmail-loop" => h.loop_marker = Some(v.to_string()),
            "accept-language" => join_list(&mut h.accept_language, v),
            "content-language" => join_list(&mut h.content_language, v),
            _ => {}
        }
    }
    h.subject = msg
        .subject()
        .map(|s| mime::repair_jis(s.trim()).into_owned());
    h.message_id = msg
        .message_id()
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    h.in_reply_to = ids(msg.in_reply_to());
    h.references = ids(msg.references());
    if let Some(ct) = msg
        .root_part()
        .headers()
        .iter()
        .find_map(|hd| hd.value().as_content_type())
    {
        h.content_type = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        h.report_type = ct.attribute("report-type").map(str::to_ascii_lowercase);
    } else {
        h.content_type = "text/plain".into();
    }
    Ok(h)
}

/// An address as mail-parser read it (RFC 2047 decoded) as a [`Mailbox`]: lowercased, the
/// display name trimmed and its ISO-2022-JP runs repaired ([`mime::repair_jis`]); `None`
/// when it has no `@`.
pub(crate) fn mailbox(a: &mail_parser::Addr) -> Option<Mailbox> {
    let address = a.address()?.trim().to_ascii_lowercase();
    address.contains('@').then(|| Mailbox {
        address,
        name: a
            .name()
            .map(|n| mime::repair_jis(n.trim()).into_owned())
            .filter(|n| !n.is_empty()),
    })
}

/// Adds the list `v` of a repeated header to what came before; bounded, since anyone writes it
/// (`draft::language` reads only so many entries anyway).
fn join_list(to: &mut Option<String>, v: &str) {
    const MAX: usize = 1024;
    let v = one_line(v);
    let joined = match to.take() {
        Some(before) => format!("{before}, {v}"),
        None => v,
    };
    *to = Some(joined.chars().take(MAX).collect());
}

fn first_token(v: &str) -> String {
    v.split([';', ' ', '\t', '('])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn ids(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Message-ID-like tokens `<local@domain>` anywhere in `raw` (bounded): bounces quote the
/// headers of the message that bounced (its Message-ID, In-Reply-To, References), and that is
/// how we find the case of ours it was.
pub fn cited_message_ids(raw: &[u8], max: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(256 * 1024)]);
    let mut out = Vec::new();
    for (i, _) in text.match_indices('<') {
        let Some(end) = text[i..].find('>') else {
            break;
        };
        let token = &text[i..=i + end];
        if token.len() < 200 && token.contains('@') && !token.contains(char::is_whitespace) {
            let id = token[1..token.len() - 1].to_string();
            if !out.contains(&id) {
                out.push(id);
            }
            if out.len() >= max {
                break;
            }
        }
    }
    out
}

/// One short line: no control characters, at most 200 characters.
pub fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// `Name <a@b>` or `a@b` → `a@b`, lowercased.
pub fn address_of(s: &str) -> String {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    inner.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_headers_that_matter() {
        let raw = b"Return-Path: <>\r\nFrom: \"Rita R\" <Rita@Reporter.Example>\r\nTo: security@example.org\r\nCc: Other <o@x.test>\r\nDelivered-To: security+SEC-2026-0001@example.org\r\nSubject:  Hello \r\nMessage-ID: <abc@x>\r\nIn-Reply-To: <p@x>\r\nReferences: <a@x> <b@x>\r\nAuto-Submitted: auto-replied; x=y\r\nPrecedence: Bulk\r\nList-Id: <l.x>\r\nX-Secmail-Loop: inst\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\nbody";
        let h = headers(raw).unwrap();
        assert_eq!(
            h.from,
            Some(Mailbox {
                address: "rita@reporter.example".into(),
                name: Some("Rita R".into())
            })
        );
        assert_eq!(
            h.recipients,
            vec![
                "security@example.org",
                "o@x.test",
                "security+sec-2026-0001@example.org"
            ]
        );
        assert_eq!(h.subject.as_deref(), Some("Hello"));
        assert_eq!(h.message_id.as_deref(), Some("abc@x"));
        assert_eq!(h.in_reply_to, vec!["p@x"]);
        assert_eq!(h.references, vec!["a@x", "b@x"]);
        assert_eq!(h.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(h.precedence.as_deref(), Some("bulk"));
        assert!(h.list_id);
        assert_eq!(h.return_path.as_deref(), Some(""));
        assert_eq!(h.loop_marker.as_deref(), Some("inst"));
        assert_eq!(h.content_type, "multipart/report");
        assert_eq!(h.report_type.as_deref(), Some("delivery-status"));
    }

    #[test]
    fn header_words_as_s_nail_and_python_write_them() {
        // s-nail labels ISO-2022-JP words us-ascii; Python labels Big5 words big5_tw (both
        // found by the interop suite, contrib/interop).
        let raw = b"From: =?us-ascii?B?GyRCOzNFREJATzobKEI=?= <snail@reporter.example>\r\nSubject: =?us-ascii?B?GyRCQEg8ZUAtJE5Kczlw?=\r\n\r\n";
        let h = headers(raw).unwrap();
        assert_eq!(h.subject.as_deref(), Some("脆弱性の報告"));
        assert_eq!(h.from.and_then(|m| m.name).as_deref(), Some("山田太郎"));
        let raw = b"From: =?big5_tw?b?s6+kaqTl?= <python@reporter.example>\r\nSubject: =?big5_tw?b?unysfbP4p2k=?=\r\n\r\n";
        let h = headers(raw).unwrap();
        assert_eq!(h.subject.as_deref(), Some("漏洞報告"));
        assert_eq!(h.from.and_then(|m| m.name).as_deref(), Some("陳大文"));
    }

    #[test]
    fn rejects_what_cannot_be_answered() {
        assert_eq!(headers(b"").err(), Some(ParseError::NotMail));
        let garbage = headers(b"\x00\x01\x02garbage");
        assert!(garbage.map(|h| h.from.is_none()).unwrap_or(true));
        let h = headers(b"Subject: x\r\n\r\nbody").unwrap();
        assert!(h.from.is_none());
    }

    #[test]
    fn finds_our_message_ids_in_a_bounce() {
        let raw = b"...\r\nMessage-ID: <ack.SEC-2026-0001.abcd@example.org>\r\nIn-Reply-To: <foo@other.test>\r\n<not an id@example.org>";
        assert_eq!(
            cited_message_ids(raw, 10),
            vec!["ack.SEC-2026-0001.abcd@example.org", "foo@other.test"]
        );
    }
}
