//! Compose: a [`Draft`] → the exact bytes we send: rendered from its template, signed by the
//! project key, and encrypted to its recipient when the draft says so (RFC 3156, with the
//! headers protected as in RFC 9788).
//!
//! Invariants: the clear header never carries the protected subject; everything is signed;
//! every message carries our loop marker, `Auto-Submitted` and a stable Message-ID.
use super::draft::{Draft, Kind};
use super::keys::ProjectKeys;
use super::seal;
use crate::core::settings::Project;
use base64::Engine;
use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The message templates, one per kind (`templates/<kind>.hbs`), in strict mode.
pub struct Templates {
    hb: Handlebars<'static>,
}

/// Every template a running daemon needs.
pub const REQUIRED: &[&str] = &[
    "ack",
    "team-copy",
    "not-for-us",
    "no-integrity",
    "unreadable",
    "team-alert",
    "advance-notice",
    "final-notice",
    "embargo-over",
    "disclosure-date",
    "announcement",
    "command-result",
    "command-refused",
    "relay",
    "contact-offer",
    "contact-made",
    "reminder",
    "escalation",
    "progress",
    "ack-coalesced",
    "digest",
];

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("template {name}: {msg}")]
    Template { name: String, msg: String },
    #[error("signing or encryption failed: {0}")]
    Seal(#[from] seal::SealError),
}

impl Templates {
    /// `sources`: (name without `.hbs`, text). Errors name every bad or missing template.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Templates, Vec<String>> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        let mut errors = Vec::new();
        for (name, text) in sources {
            if let Err(e) = hb.register_template_string(name, text) {
                errors.push(format!("template {name}: {e}"));
            }
        }
        for name in REQUIRED {
            if !hb.has_template(name) {
                errors.push(format!("template {name}.hbs is missing"));
            }
        }
        if errors.is_empty() {
            Ok(Templates { hb })
        } else {
            Err(errors)
        }
    }

    /// What `secmail check` finds wrong with the templates, one line each naming the
    /// template and the variable: every variable a template names, in every branch (`{{else}}`
    /// and the body of an `{{#if}}` or `{{#each}}` included), must be one its kind's drafts
    /// carry ([`sample_vars`]), and each template must render in strict mode from that sample.
    ///
    /// The walk is needed beside the render: strict mode lets `{{#if nmae}}` through (a missing
    /// value is simply false), and a render takes one branch of each `{{#if}}` only.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for kind in Kind::ALL {
            let name = kind.template();
            let sample = sample_vars(kind);
            let Some(t) = self.hb.get_template(name) else {
                problems.push(format!("template {name}.hbs is missing"));
                continue;
            };
            let mut unknown = Vec::new();
            walk(t, &mut vec![&sample], None, &mut unknown);
            unknown.dedup();
            let known = || {
                let mut k: Vec<&str> = sample
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                k.sort_unstable();
                k.join(", ")
            };
            for (var, line) in &unknown {
                let at = line.map(|l| format!(" line {l}")).unwrap_or_default();
                problems.push(format!(
                    "template {name}.hbs{at}: unknown variable `{var}` ({name} messages have: {})",
                    known()
                ));
            }
            if unknown.is_empty() {
                if let Err(e) = self.hb.render(name, &sample) {
                    let why = match e.reason() {
                        handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
                            format!("unknown variable `{v}`")
                        }
                        _ => e.to_string(),
                    };
                    let at = e.line_no.map(|l| format!(" line {l}")).unwrap_or_default();
                    problems.push(format!("template {name}.hbs{at}: {why}"));
                }
            }
        }
        problems
    }

    pub fn render(&self, name: &str, vars: &serde_json::Value) -> Result<String, ComposeError> {
        self.hb
            .render(name, vars)
            .map_err(|e| ComposeError::Template {
                name: name.to_string(),
                msg: e.to_string(),
            })
    }
}

/// Collects the variables of `t` that are not in the innermost scope (`scopes`' last: the
/// sample data at the top, an `{{#each}}`'s first item or a `{{#with}}`'s value inside one),
/// with the line each is on. Handlebars looks a name up in the innermost scope only (no
/// implicit parent lookup), so that is where it must be.
fn walk(
    t: &handlebars::template::Template,
    scopes: &mut Vec<&serde_json::Value>,
    outer_line: Option<usize>,
    out: &mut Vec<(String, Option<usize>)>,
) {
    use handlebars::template::{Parameter, TemplateElement};
    for (i, e) in t.elements.iter().enumerate() {
        let line = t.mapping.get(i).map(|m| m.0).or(outer_line);
        match e {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                if h.params.is_empty() && h.hash.is_empty() {
                    // `{{name}}`: a variable (no helper of ours takes no argument).
                    match &h.name {
                        Parameter::Name(n) => check_path(n, scopes, line, out),
                        p => check_param(p, scopes, line, out),
                    }
                } else {
                    for p in h.params.iter().chain(h.hash.values()) {
                        check_param(p, scopes, line, out);
                    }
                }
            }
            TemplateElement::HelperBlock(h) => {
                for p in h.params.iter().chain(h.hash.values()) {
                    check_param(p, scopes, line, out);
                }
                let helper = match &h.name {
                    Parameter::Name(n) => n.as_str(),
                    _ => "",
                };
                // The scope inside `each` and `with`: the sample's first item or value.
                let inner = match (helper, h.params.first()) {
                    ("each" | "with", Some(Parameter::Path(p))) => {
                        let value = path_raw(p).and_then(|raw| resolve(raw, scopes));
                        Some(match (helper, value) {
                            ("each", Some(serde_json::Value::Array(a))) => a.first(),
                            ("each", Some(serde_json::Value::Object(m))) => m.values().next(),
                            ("with", v) => v,
                            _ => None,
                        })
                    }
                    _ => None,
                };
                if let Some(body) = &h.template {
                    match inner {
                        // Nothing to look names up in: a sample without an item.
                        Some(None) => {}
                        Some(Some(v)) => {
                            scopes.push(v);
                            walk(body, scopes, line, out);
                            scopes.pop();
                        }
                        None => walk(body, scopes, line, out),
                    }
                }
                if let Some(inverse) = &h.inverse {
                    walk(inverse, scopes, line, out);
                }
            }
            _ => {}
        }
    }
}

fn check_param(
    p: &handlebars::template::Parameter,
    scopes: &[&serde_json::Value],
    line: Option<usize>,
    out: &mut Vec<(String, Option<usize>)>,
) {
    use handlebars::template::Parameter;
    match p {
        Parameter::Path(path) => {
            if let Some(raw) = path_raw(path) {
                check_path(raw, scopes, line, out)
            }
        }
        Parameter::Subexpression(sub) => {
            for p in sub.params().into_iter().flatten() {
                check_param(p, scopes, line, out);
            }
        }
        Parameter::Name(_) | Parameter::Literal(_) => {}
        _ => {}
    }
}

/// The path as written; `None` for a helper's local (`@index`, `../@last`).
fn path_raw(p: &handlebars::Path) -> Option<&str> {
    match p {
        handlebars::Path::Relative((_, raw)) => Some(raw),
        handlebars::Path::Local(_) => None,
    }
}

fn check_path(
    raw: &str,
    scopes: &[&serde_json::Value],
    line: Option<usize>,
    out: &mut Vec<(String, Option<usize>)>,
) {
    // `@index`, `@last`, `this`: the helper's own, always there.
    if raw.starts_with('@') || raw == "this" || raw == "." {
        return;
    }
    if resolve(raw, scopes).is_none() {
        out.push((raw.to_string(), line));
    }
}

/// The sample value a path names (`a`, `a.b`, `a/b`, `this.a`, `../a`, `@root.a`), if any.
fn resolve<'a>(raw: &str, scopes: &[&'a serde_json::Value]) -> Option<&'a serde_json::Value> {
    let mut depth = scopes.len().checked_sub(1)?;
    let mut rest = raw;
    loop {
        if let Some(r) = rest.strip_prefix("../") {
            depth = depth.checked_sub(1)?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("@root.").or(rest.strip_prefix("@root/")) {
            depth = 0;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("this.").or(rest.strip_prefix("this/")) {
            rest = r;
        } else {
            break;
        }
    }
    let mut v = *scopes.get(depth)?;
    for seg in rest.split(['.', '/']).filter(|s| !s.is_empty()) {
        v = match v {
            serde_json::Value::Object(m) => m.get(seg)?,
            serde_json::Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Sample variables for `kind`: every variable its drafts carry (the drafts are made in
/// `core::apply`, `core::apply::commands`, `core::apply::consent`, `core::schedule` and
/// `core::disclose`; `base_vars` adds the first six to all), each with a value that makes an
/// `{{#if}}` true and an `{{#each}}` run once, so that a strict render reaches the variables
/// inside them. `check` holds every template to these names: a variable added to a kind's
/// drafts must be added here too, or `check` refuses templates that use it.
pub fn sample_vars(kind: Kind) -> serde_json::Value {
    use serde_json::json;
    let mut v = json!({
        "project": "Example Project",
        "security_address": "security@example.org",
        "fingerprint": "29B8CE0FA0ABB91C11E521B0AC0FF7F0307A94FE",
        "fingerprint_spaced": "29B8 CE0F A0AB B91C 11E5 21B0 AC0F F7F0 307A 94FE",
        "case_id": "SEC-2026-0001",
        "case_address": "security+SEC-2026-0001@example.org",
    });
    let reporter = json!({ "reporter_name": "Rita Reporter", "encrypted": true });
    let member = json!({ "member": "Alice Demo" });
    let answering = json!({ "answering": "\"Re: [SEC-2026-0001]\" of 2026-11-28" });
    let notice = json!({
        "distributor": "Distro-A",
        "text": "A heap overflow in the parser; update to 1.2.3.",
        "date": "Tuesday 2026-12-15 12:00 UTC",
        "affected": "< 1.2.3",
        "fixed": "1.2.3",
        "cve": "CVE-2026-12345",
        "severity": "high",
        "patches": ["0001-fix.patch"],
        "leaked": true,
        "reporter_name": null,
    });
    let to_reporters = json!({
        "reporter_name": "Rita Reporter",
        "text": "We plan to disclose the issue you reported.",
        "date": "Tuesday 2026-12-15 12:00 UTC",
        "encrypted": true,
        "distributor": null,
        "leaked": true,
    });
    let deadline = json!({
        "promise": "a first answer by a person",
        "how": "answer the reporter with /reply",
        "due": "Monday 2026-11-30 12:00 UTC",
        "left": "2 days",
        "state": "triage",
        "handler": "alice@example.org",
        "preset": "enarx",
        "step": 1,
    });
    let extra = match kind {
        Kind::Ack | Kind::NotForUs => json!({
            "reporter_name": "Rita Reporter",
            "encrypted": true,
            "ask_for": ["the affected versions"],
            "their_subject": "Heap overflow in the parser",
        }),
        Kind::TeamCopy => json!({
            "member": "Alice Demo",
            "from": "reporter@reporter.test",
            "from_name": "Rita Reporter",
            "title": "Heap overflow in the parser",
            "state": "new",
            "encryption": "encrypted to the project key",
            "signature": "good, by the sender",
            "text": "The parser overflows on long input.",
            "commands": ["/state triage"],
            "relayed": true,
            "warning": "the signature is not by the sender",
            "unauthenticated": "clear text beside the encrypted part",
            "withheld": ["bob@example.org (cert expired)"],
            "attachments": ["poc.txt"],
        }),
        Kind::NoIntegrity | Kind::Unreadable => json!({
            "reason": "no integrity protection",
            "case_id": null,
            "case_address": null,
        }),
        Kind::TeamAlert => json!({
            "member": "Alice Demo",
            "what": "mail loop",
            "text": "A message came back to us.",
            "case_id": null,
            "case_address": null,
        }),
        Kind::AdvanceNotice | Kind::FinalNotice => notice,
        // To a distributor (`notice`) or to a reporter (`to_reporters`).
        Kind::EmbargoOver => {
            let mut both = notice;
            if let (Some(m), serde_json::Value::Object(r)) = (both.as_object_mut(), to_reporters) {
                for (k, val) in r {
                    if !val.is_null() {
                        m.insert(k, val);
                    }
                }
            }
            both
        }
        Kind::DisclosureDate => to_reporters,
        Kind::Announcement => json!({
            "text": "A heap overflow in the parser; update to 1.2.3.",
            "credit": "Rita Reporter",
            "affected": "< 1.2.3",
            "fixed": "1.2.3",
            "cve": "CVE-2026-12345",
            "severity": "high",
        }),
        Kind::CommandResult => merge(
            merge(member.clone(), answering.clone()),
            json!({
                "done": ["/state triage — state triage"],
                "state": "triage",
                "handler": "alice@example.org",
                "help": "Commands: /state, /assign, …",
            }),
        ),
        Kind::CommandRefused => merge(
            merge(member.clone(), answering),
            json!({
                "reasons": ["the signature is older than 7 days"],
                "member_fingerprint": "D678A78DB66B90D400198BCA41A7F5D9754DD361",
                "member_address": "alice@example.org",
                "max_age": "7d",
            }),
        ),
        Kind::Relay => merge(reporter.clone(), json!({ "text": "We have a fix." })),
        Kind::ContactOffer => reporter.clone(),
        Kind::ContactMade => merge(
            reporter.clone(),
            json!({ "other_name": "Otto Other", "other_address": "otto@other.test" }),
        ),
        Kind::Reminder | Kind::Escalation => merge(member.clone(), deadline),
        Kind::Progress => merge(
            reporter.clone(),
            json!({
                "state_text": "confirmed; a fix is being prepared",
                "every": "2 weeks",
                "fixed": "1.2.3",
            }),
        ),
        Kind::AckCoalesced => merge(
            reporter,
            json!({ "cases": ["SEC-2026-0001", "SEC-2026-0002"] }),
        ),
        Kind::Digest => merge(
            member,
            json!({
                "case_id": null,
                "case_address": null,
                "now": "Saturday 2026-11-28 12:00 UTC",
                "case_count": 1,
                "breach_count": 1,
                "cases": [{
                    "id": "SEC-2026-0001",
                    "state": "triage",
                    "handler": "alice@example.org",
                    "title": "Heap overflow in the parser",
                    "deadlines": ["first answer due Monday 2026-11-30: in 2 days"],
                }],
                "breaches": ["SEC-2026-0002 first answer: was due Friday 2026-11-27"],
                "certs": ["bob@example.org: cert 2D33… expires 2026-12-01"],
                "suppressed_count": 1,
                "suppressed": ["ack to forged@example.net"],
                "refused_count": 1,
                "refused": ["Distro-A: no usable cert"],
            }),
        ),
    };
    merge(v.take(), extra)
}

fn merge(mut a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
    if let (Some(m), serde_json::Value::Object(b)) = (a.as_object_mut(), b) {
        m.extend(b);
    }
    a
}

/// A message ready for the outbox.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message_id: String,
    pub envelope_from: String,
    pub rcpts: Vec<String>,
    pub raw: Vec<u8>,
    pub encrypted: bool,
}

pub fn render(
    d: &Draft,
    templates: &Templates,
    keys: &ProjectKeys,
    project: &Project,
    now: DateTime<Utc>,
) -> Result<Outgoing, ComposeError> {
    let body = templates.render(d.kind.template(), &d.vars)?;
    let sys_now: SystemTime = now.into();
    let from = format!(
        "{} <{}>",
        encode_phrase(&format!("{} Security", project.name)),
        project.security_address
    );
    let to = match &d.to.name {
        Some(n) => format!("{} <{}>", encode_phrase(n), d.to.address),
        None => d.to.address.clone(),
    };
    let date = now.to_rfc2822();
    let msgid = format!("<{}>", d.message_id);
    let seed = d.message_id.as_str();

    let mut outer = Vec::new();
    let mut h = |k: &str, v: &str| outer.push(format!("{k}: {v}"));
    h("From", &from);
    h("To", &to);
    h("Subject", &encode_unstructured(&d.subject));
    h("Date", &date);
    h("Message-ID", &msgid);
    if let Some(r) = &d.in_reply_to {
        h("In-Reply-To", &format!("<{r}>"));
    }
    if !d.references.is_empty() {
        let refs: Vec<String> = d
            .references
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|r| format!("<{r}>"))
            .collect();
        h("References", &refs.join(" "));
    }
    if let Some(r) = &d.reply_to {
        h("Reply-To", r);
    }
    h("Auto-Submitted", d.kind.auto_submitted());
    h("X-Secmail-Loop", &project.instance);
    h("MIME-Version", "1.0");

    // The payload (what is signed, and encrypted when it is): RFC 9788 header protection puts
    // the real headers on its root part.
    let mut inner_headers = vec![
        format!("From: {from}"),
        format!("To: {to}"),
        format!(
            "Subject: {}",
            encode_unstructured(d.inner_subject.as_deref().unwrap_or(&d.subject))
        ),
        format!("Date: {date}"),
        format!("Message-ID: {msgid}"),
    ];
    if let Some(r) = &d.reply_to {
        inner_headers.push(format!("Reply-To: {r}"));
    }
    let text_part = text_part(&body);
    let payload = if d.attachments.is_empty() {
        let mut p =
            "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\n".to_string();
        p.push_str(&text_part.headers);
        for l in &inner_headers {
            p.push_str(l);
            p.push_str("\r\n");
        }
        p.push_str("\r\n");
        p.push_str(&text_part.body);
        p
    } else {
        let b = boundary(seed, "mixed");
        let mut p = format!(
            "Content-Type: multipart/mixed; boundary=\"{b}\"; protected-headers=\"v1\"\r\n"
        );
        for l in &inner_headers {
            p.push_str(l);
            p.push_str("\r\n");
        }
        p.push_str(&format!(
            "\r\n--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n{}\r\n{}\r\n",
            text_part.headers, text_part.body
        ));
        for a in &d.attachments {
            let name = sanitize_filename(a.filename.as_deref().unwrap_or("attachment.bin"));
            p.push_str(&format!(
                "--{b}\r\nContent-Type: {}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                sanitize_ctype(&a.content_type),
                base64_lines(&a.data)
            ));
        }
        p.push_str(&format!("--{b}--\r\n"));
        p
    };

    let (content, encrypted) = match &d.encrypt_to {
        Some(cert) => {
            let armored = seal::sign_and_encrypt(keys, &[cert], payload.as_bytes(), sys_now)?;
            let b = boundary(seed, "enc");
            (
                format!(
                    "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"{b}\"\r\n\r\nThis is an OpenPGP/MIME encrypted message (RFC 3156).\r\n--{b}\r\nContent-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n--{b}\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\nContent-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n{}\r\n--{b}--\r\n",
                    crlf(&armored)
                ),
                true,
            )
        }
        None => {
            // RFC 3156 §5: the signature covers the first part exactly as sent, CRLF, and
            // without the CRLF that precedes the boundary.
            let signed = payload.trim_end_matches("\r\n").to_string();
            let sig = seal::sign_detached(keys, signed.as_bytes(), sys_now)?;
            let b = boundary(seed, "sig");
            (
                format!(
                    "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"{b}\"\r\n\r\nThis is an OpenPGP/MIME signed message (RFC 3156).\r\n--{b}\r\n{signed}\r\n--{b}\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Description: OpenPGP digital signature\r\nContent-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n{}\r\n--{b}--\r\n",
                    crlf(&sig)
                ),
                false,
            )
        }
    };
    let mut raw = outer.join("\r\n");
    raw.push_str("\r\n");
    raw.push_str(&content);
    Ok(Outgoing {
        message_id: d.message_id.clone(),
        envelope_from: project.security_address.clone(),
        rcpts: vec![d.to.address.clone()],
        raw: raw.into_bytes(),
        encrypted,
    })
}

struct TextPart {
    /// Transfer-encoding header line(s), CRLF-terminated.
    headers: String,
    body: String,
}

/// 7bit when it can be, quoted-printable otherwise: signed parts must be 7-bit clean (RFC 3156 §3).
fn text_part(text: &str) -> TextPart {
    let text = crlf(text);
    let plain = text.is_ascii()
        && text
            .split("\r\n")
            .all(|l| l.len() <= 76 && !l.ends_with(' ') && !l.starts_with("From "));
    if plain {
        TextPart {
            headers: "Content-Transfer-Encoding: 7bit\r\n".into(),
            body: text,
        }
    } else {
        TextPart {
            headers: "Content-Transfer-Encoding: quoted-printable\r\n".into(),
            body: quoted_printable(&text),
        }
    }
}

/// RFC 2045 §6.7, line by line.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut col = 0;
        let bytes = line.as_bytes();
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let enc = match b {
                b'=' => true,
                b' ' | b'\t' => last,
                33..=126 => col == 0 && (b == b'.' || line[j..].starts_with("From ")),
                _ => true,
            };
            let piece = if enc {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if col + piece.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            out.push_str(&piece);
            col += piece.len();
        }
    }
    out
}

pub fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

fn base64_lines(data: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn boundary(seed: &str, what: &str) -> String {
    let d = Sha256::digest(format!("{seed}/{what}").as_bytes());
    format!("=_secmail_{}_{}", what, &hex::encode(d)[..24])
}

/// RFC 2047 for a display name; quoted when plain ASCII needs it.
fn encode_phrase(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if !s.is_ascii() {
        return encoded_word(&s);
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c))
    {
        s
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// RFC 2047 for an unstructured header (Subject); control characters dropped.
fn encode_unstructured(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.is_ascii() && s.len() < 900 {
        s
    } else {
        encoded_word(&s)
    }
}

fn encoded_word(s: &str) -> String {
    // Split on char boundaries so that each encoded word stays under 75 chars (RFC 2047 §2).
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 42 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn sanitize_filename(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if clean.is_empty() {
        "attachment.bin".into()
    } else {
        clean
    }
}

fn sanitize_ctype(s: &str) -> String {
    let ok = s.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/.+-".contains(c))
    });
    if ok {
        s.to_ascii_lowercase()
    } else {
        "application/octet-stream".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_round_trips_through_mail_parser() {
        for text in [
            "plain",
            "Grüße, £35.00 = ok",
            &"x".repeat(200),
            "trailing space \nFrom me\n.dot",
        ] {
            let qp = quoted_printable(&crlf(text));
            assert!(qp.is_ascii());
            assert!(qp.split("\r\n").all(|l| l.len() <= 76), "{qp}");
            let raw = format!("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{qp}");
            let m = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap();
            assert_eq!(
                m.body_text(0).unwrap().replace("\r\n", "\n"),
                text.replace("\r\n", "\n")
            );
        }
    }

    #[test]
    fn headers_are_encoded() {
        assert_eq!(encode_phrase("Rita R"), "Rita R");
        assert_eq!(encode_phrase("R. \"x\""), "\"R. \\\"x\\\"\"");
        assert!(encode_phrase("Jürgen").starts_with("=?utf-8?b?"));
        assert_eq!(encode_unstructured("a\r\nBcc: evil@x"), "aBcc: evil@x");
        let long = encoded_word(&"ü".repeat(100));
        assert!(long.split("\r\n ").all(|w| w.len() <= 75));
        assert_eq!(sanitize_filename("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(
            sanitize_ctype("text/html\r\nX: y"),
            "application/octet-stream"
        );
    }
}
