//! Checking templates before they can break mail (issue 12): every variable a template names,
//! in every branch (strict mode alone does not see a missing `{{#if x}}`), against sample data
//! for each kind of message.
use super::*;

/// Collects the variables of `t` that are not in the innermost scope (`scopes`' last: the
/// sample data at the top, an `{{#each}}`'s first item or a `{{#with}}`'s value inside one),
/// with the line each is on. Handlebars looks a name up in the innermost scope only (no
/// implicit parent lookup), so that is where it must be.
pub(super) fn walk(
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
    let answering = json!({
        "answering": "\"Re: [SEC-2026-0001]\", sent 2026-11-28 09:00:00 +0000",
        "answering_subject": "Re: [SEC-2026-0001]",
        "answering_date": "2026-11-28 09:00:00 +0000",
    });
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
        Kind::Ack | Kind::NotForUs => merge(
            answering.clone(),
            json!({
                "reporter_name": "Rita Reporter",
                "encrypted": true,
                "ask_for": ["the affected versions"],
                "their_subject": "Heap overflow in the parser",
            }),
        ),
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
            "unanswered": "the ack to the sender was held back (rate limit per domain)",
            "unauthenticated": "clear text beside the encrypted part",
            "withheld": ["bob@example.org (cert expired)"],
            "attachments": ["poc.txt"],
        }),
        Kind::NoIntegrity | Kind::Unreadable => merge(
            answering.clone(),
            json!({
                "reason": "no integrity protection",
                "case_id": null,
                "case_address": null,
            }),
        ),
        Kind::TeamAlert => merge(
            answering.clone(),
            json!({
                "member": "Alice Demo",
                "what": "mail loop",
                "text": "A message came back to us.",
                "case_id": null,
                "case_address": null,
                "messages": [{
                    "id": "733a92138403",
                    "sender": "w2@hostile.example",
                    "date": "2026-11-28T10:00:00Z",
                    "size": 697,
                    "message_id": "02-no-integrity@hostile.example",
                    "reason": "encrypted without integrity protection",
                    "note": "the sender was asked to send it again",
                }],
            }),
        ),
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
                "not_executed": ["/state fixed — below the quoted text's end"],
            }),
        ),
        Kind::CommandRefused => merge(
            merge(member.clone(), answering),
            json!({
                "reasons": ["the signature is older than 7 days"],
                "member_fingerprint": "D678A78DB66B90D400198BCA41A7F5D9754DD361",
                "member_address": "alice@example.org",
                "max_age": "7d",
                "not_executed": ["/state fixed — below the quoted text's end"],
            }),
        ),
        Kind::Relay => merge(reporter.clone(), json!({ "text": "We have a fix." })),
        Kind::ContactOffer => reporter.clone(),
        Kind::ContactMade => merge(
            reporter.clone(),
            json!({ "other_name": "Otto Other", "other_address": "otto@other.test" }),
        ),
        Kind::Reminder => merge(member.clone(), deadline),
        Kind::Escalation => merge(merge(member.clone(), deadline), json!({ "holder": true })),
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
        Kind::TooLarge => json!({
                "answering": "sent 2026-11-28 09:00:00 +0000",
                "answering_subject": null,
                "answering_date": "2026-11-28 09:00:00 +0000",
                "encrypted": true,
                "size": "30 MB (31457280 bytes)",
                "limit": "25 MB",
                "policy": "https://example.org/security",
                "case_id": null,
                "case_address": null,
        }),
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
