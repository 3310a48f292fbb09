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

mod check;
pub use check::sample_vars;
use check::walk;

/// The message templates, in strict mode: one per kind (`templates/<kind>.hbs`, or the
/// built-in one), and per language those its directory has (`templates/<lang>/<kind>.hbs`,
/// registered as `<dir>/<kind>`), each overriding its kind in that language (issue 12.6).
pub struct Templates {
    hb: Handlebars<'static>,
    /// The language directories: (canonical tag, the directory's name as written).
    languages: Vec<(String, String)>,
    /// Kinds whose template at the top is the built-in one, whose text is English.
    built_in: Vec<String>,
    /// The policy default: the language of the templates at the top, when it is said.
    default: Option<String>,
}

/// What the shipped templates are written in.
const BUILT_IN_LANGUAGE: &str = "en";

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
        // Every kind a running daemon may send.
        for name in Kind::ALL.map(Kind::template) {
            if !hb.has_template(name) {
                errors.push(format!("template {name}.hbs is missing"));
            }
        }
        if errors.is_empty() {
            Ok(Templates {
                hb,
                languages: Vec::new(),
                built_in: Vec::new(),
                default: None,
            })
        } else {
            Err(errors)
        }
    }

    /// Adds the templates of the directory `dir` (`templates/<dir>/`) for the language `tag`
    /// (canonical): `sources` as in [`Templates::from_sources`], any subset of the kinds; a kind
    /// without one stays the top's in that language. Errors name every bad template.
    pub fn add_language(
        &mut self,
        tag: &str,
        dir: &str,
        sources: &[(String, String)],
    ) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if let Some((_, other)) = self
            .languages
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(tag))
        {
            errors.push(format!(
                "template directories {other} and {dir} are both the language {tag}"
            ));
        }
        for (name, text) in sources {
            if let Err(e) = self
                .hb
                .register_template_string(&format!("{dir}/{name}"), text)
            {
                errors.push(format!("template {dir}/{name}: {e}"));
            }
        }
        if errors.is_empty() {
            self.languages.push((tag.to_string(), dir.to_string()));
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The kinds whose top template is the built-in one (whose text is English), and the
    /// policy default language (that of the top templates): what [`Templates::pick`] says a
    /// message is written in.
    pub fn set_origin(&mut self, built_in: &[&str], default: Option<&str>) {
        self.built_in = built_in.iter().map(|k| k.to_string()).collect();
        self.default = default.map(String::from);
    }

    /// The languages with a directory, canonical tags in the order added.
    pub fn languages(&self) -> Vec<String> {
        self.languages.iter().map(|(t, _)| t.clone()).collect()
    }

    /// The template that renders `kind` in `language` (`None`: the policy default) and the
    /// language its text is in, if known: the language's own when its directory has the kind,
    /// else the top's — `templates/<kind>.hbs` in the policy default, the built-in one in English.
    pub fn pick(&self, kind: Kind, language: Option<&str>) -> (String, Option<String>) {
        let name = kind.template();
        let own = language.or(self.default.as_deref()).and_then(|l| {
            let (tag, dir) = self
                .languages
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(l))?;
            let full = format!("{dir}/{name}");
            self.hb
                .has_template(&full)
                .then(|| (full, Some(tag.clone())))
        });
        own.unwrap_or_else(|| {
            let written_in = if self.built_in.iter().any(|b| b == name) {
                Some(BUILT_IN_LANGUAGE.to_string())
            } else {
                self.default.clone()
            };
            (name.to_string(), written_in)
        })
    }

    /// What `secmail check` finds wrong with the templates, one line each naming the
    /// template and the variable: every variable a template names, in every branch (`{{else}}`
    /// and the body of an `{{#if}}` or `{{#each}}` included), must be one its kind's drafts
    /// carry ([`sample_vars`]), and each template must render in strict mode from that sample.
    ///
    /// The walk is needed beside the render: strict mode lets `{{#if nmae}}` through (a missing
    /// value is simply false), and a render takes one branch of each `{{#if}}` only.
    /// A language directory's templates are held to the same rules (`template de/ack.hbs …`).
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for kind in Kind::ALL {
            let name = kind.template();
            if !self.hb.has_template(name) {
                problems.push(format!("template {name}.hbs is missing"));
                continue;
            }
            self.check_one(name, kind, &mut problems);
        }
        for (_, dir) in &self.languages {
            for kind in Kind::ALL {
                let name = format!("{dir}/{}", kind.template());
                if self.hb.has_template(&name) {
                    self.check_one(&name, kind, &mut problems);
                }
            }
        }
        problems
    }

    /// [`Templates::check`] of the template `name`, which renders `kind`.
    fn check_one(&self, name: &str, kind: Kind, problems: &mut Vec<String>) {
        let sample = sample_vars(kind);
        let kind_name = kind.template();
        if let Some(t) = self.hb.get_template(name) {
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
                    "template {name}.hbs{at}: unknown variable `{var}` ({kind_name} messages have: {})",
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
    let (template, language) = templates.pick(d.kind, d.language.as_deref());
    let body = templates.render(&template, &d.vars)?;
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
    let mut text_part = text_part(&body);
    // RFC 3282: the language of the text, on the text part itself, so that under encryption
    // it says nothing about the reporter to whoever sees the envelope.
    if let Some(l) = &language {
        text_part
            .headers
            .push_str(&format!("Content-Language: {l}\r\n"));
    }
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

/// Composes drafts one after the other with these templates and keys.
pub fn compose_with<'a>(
    templates: &'a Templates,
    config: &'a crate::core::settings::Settings,
    now: DateTime<Utc>,
) -> impl Fn(&[Draft]) -> Vec<Result<Outgoing, ComposeError>> + 'a {
    move |drafts| {
        drafts
            .iter()
            .map(|d| render(d, templates, &config.keys, &config.project, now))
            .collect()
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
