//! [`Settings`]: the part of the configuration the core decides with — who the project is, its
//! keys and team, limits, policy, how advisories and security.txt are written, the languages
//! mail is written in — and the readers of those sections (`[project]`, `[limits]`,
//! `[advisories]`, `[security-txt]`; `[keys]` and `[[team]]` in `keys.rs`, `[policy]` in
//! `policy.rs`) and of the languages ([`read_languages`]).
//!
//! Invariants:
//! - No server detail (host, port, user) and no password lives here: the core never sees them.
//!   The project's secret keys do (decrypting and signing are core work); their `Debug` prints
//!   fingerprints only.
//! - Everything the core reads from the configuration lives here, so that core functions can
//!   take `&Settings` instead of `&Config`.
use std::path::Path;
use std::time::Duration;

use super::policy::Policy;
use super::reader::{Errors, Section};
use crate::core::draft::language::{self, Directory};
pub use crate::core::settings::{Advisories, Languages, Limits, Project, SecurityTxt, Settings};

pub(super) fn read_project(t: &toml::Table, e: &mut Errors) -> Option<Project> {
    let mut s = Section::new("project", t);
    let name = s.str("name", e);
    let address = s
        .str("security-address", e)
        .map(|a| a.trim().to_ascii_lowercase());
    let case_prefix = s.str_or("case-prefix", "SEC", e);
    let separator = s.str_or("address-separator", "+", e);
    let instance = s.opt_str("instance", e);
    let demo_keys = s.opt_bool("demo-keys", e).unwrap_or(false);
    let announce_address = s
        .opt_str("announce-address", e)
        .map(|a| a.trim().to_ascii_lowercase());
    if let Some(a) = &announce_address {
        if !a.contains('@') || a.contains(char::is_whitespace) {
            e.add(
                "project.announce-address",
                format!("{a:?} is not an address like announce@lists.example.org"),
            );
        }
    }
    if case_prefix.is_empty()
        || !case_prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        e.add(
            "project.case-prefix",
            format!("{case_prefix:?} must be upper-case letters and digits"),
        );
    }
    if !matches!(separator.as_str(), "+" | "-" | "_" | ".") {
        e.add(
            "project.address-separator",
            format!("{separator:?} must be one of + - _ ."),
        );
    }
    s.done(e);
    let address = address?;
    let Some((local, domain)) = address
        .split_once('@')
        .filter(|(l, d)| !l.is_empty() && d.contains('.') || d == &"localhost")
    else {
        e.add(
            "project.security-address",
            format!("{address:?} is not an address like security@example.org"),
        );
        return None;
    };
    Some(Project {
        name: name?,
        instance: instance.unwrap_or_else(|| format!("{local}@{domain}")),
        local_part: local.to_string(),
        domain: domain.to_string(),
        security_address: address.clone(),
        case_prefix,
        separator,
        demo_keys,
        announce_address,
        id_secret: Default::default(),
    })
}

/// `[limits]`; `max_message_bytes` is `[inbound]`'s, given by the caller.
pub(super) fn read_limits(t: &toml::Table, max_message_bytes: u64, e: &mut Errors) -> Limits {
    let mut s = Section::new("limits", t);
    let limits = Limits {
        auto_replies_per_address: s
            .opt_int("auto-replies-per-address", 1, 10_000, e)
            .map_or(5, |n| n as u32),
        auto_replies_per_domain: s
            .opt_int("auto-replies-per-domain", 1, 100_000, e)
            .map_or(20, |n| n as u32),
        auto_replies_overall: s
            .opt_int("auto-replies-overall", 1, 1_000_000, e)
            .map_or(100, |n| n as u32),
        auto_reply_window: s
            .opt_duration("auto-reply-window", e)
            .unwrap_or(Duration::from_secs(3600)),
        message_time_budget: s
            .opt_duration("message-time-budget", e)
            .unwrap_or(Duration::from_secs(120)),
        poison_after: s
            .opt_int("poison-after", 1, 1_000, e)
            .map_or(2, |n| n as u32),
        command_max_age: s
            .opt_duration("command-max-age", e)
            .unwrap_or(Duration::from_secs(7 * 86_400)),
        max_message_bytes,
    };
    s.done(e);
    limits
}

pub(super) fn read_advisories(
    t: &toml::Table,
    base: &Path,
    project: Option<&Project>,
    e: &mut Errors,
) -> Advisories {
    let mut s = Section::new("advisories", t);
    let name = project.map(|p| p.name.clone()).unwrap_or_default();
    let domain = project.map(|p| p.domain.clone()).unwrap_or_default();
    let a = Advisories {
        dir: s.opt_path("dir", base, e),
        ecosystem: s.opt_str("ecosystem", e),
        package: s.str_or("package", &name, e),
        vendor: s.str_or("vendor", &name, e),
        namespace: s.str_or("namespace", &format!("https://{domain}"), e),
        url_base: s.opt_str("url-base", e),
        id_prefix: s.opt_str("id-prefix", e),
        cve_org_id: s.opt_str("cve-org-id", e),
    };
    if let Some(p) = a.id_prefix.as_deref().filter(|p| {
        !p.starts_with(|c: char| c.is_ascii_uppercase())
            || !p
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }) {
        e.add(
            "advisories.id-prefix",
            format!("{p:?} must be capital letters and digits, like EXAMPLE"),
        );
    }
    if let Some(id) = a.cve_org_id.as_deref().filter(|id| {
        let parts: Vec<&str> = id.split('-').collect();
        parts.iter().map(|p| p.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12]
            || !parts
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
    }) {
        e.add(
            "advisories.cve-org-id",
            format!("{id:?} is not a UUID like 8254265b-2729-46b6-b9e3-3dfca2d5bfca"),
        );
    }
    if !a.namespace.starts_with("https://") && !a.namespace.starts_with("http://") {
        e.add(
            "advisories.namespace",
            format!("{:?} must be a URL", a.namespace),
        );
    }
    s.done(e);
    a
}

pub(super) fn read_security_txt(t: &toml::Table, base: &Path, e: &mut Errors) -> SecurityTxt {
    let mut s = Section::new("security-txt", t);
    let expires_in = s
        .opt_duration("expires-in", e)
        .unwrap_or(Duration::from_secs(180 * 86_400));
    // RFC 9116 §2.5.5: "it is RECOMMENDED that the value of this field be less than a year".
    if expires_in >= Duration::from_secs(365 * 86_400) || expires_in.is_zero() {
        e.add(
            "security-txt.expires-in",
            "must be more than zero and less than a year (RFC 9116 §2.5.5)",
        );
    }
    let out = SecurityTxt {
        encryption: s.opt_str("encryption", e),
        policy: s.opt_str("policy", e),
        canonical: s.opt_str("canonical", e),
        preferred_languages: s.opt_str("preferred-languages", e),
        expires_in,
        path: s.opt_path("path", base, e),
    };
    for (k, v) in [
        ("encryption", &out.encryption),
        ("policy", &out.policy),
        ("canonical", &out.canonical),
    ] {
        if let Some(v) = v {
            if !v.starts_with("https://") {
                // RFC 9116 §2.5: web URIs in security.txt MUST begin with "https://".
                e.add(
                    &format!("security-txt.{k}"),
                    format!("{v:?} must be an https:// URL"),
                );
            }
        }
    }
    s.done(e);
    out
}

/// The languages mail is written in (issue 12.6): the policy default — `[policy] language`,
/// else the first tag of `[security-txt] preferred-languages` (RFC 9116 §2.5.8: a list in order
/// of preference) — and the languages with a subdirectory of `templates_dir`. The templates
/// themselves are read and checked by `shell::templates`, by the same rule for which directory
/// is a language (`draft::language::directory`); a directory that cannot be read has none.
pub(super) fn read_languages(
    policy: &Policy,
    stxt: &SecurityTxt,
    templates_dir: &Path,
) -> Languages {
    let default = policy.language.clone().or_else(|| {
        stxt.preferred_languages
            .as_deref()
            .and_then(|l| l.split(',').next())
            .and_then(language::tag)
    });
    let mut templated: Vec<String> = std::fs::read_dir(templates_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(
            |e| match language::directory(&e.file_name().to_string_lossy()) {
                Directory::Language(t) => Some(t),
                Directory::Hidden | Directory::NotALanguage => None,
            },
        )
        .collect();
    templated.sort();
    templated.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    Languages { default, templated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn project_addresses() {
        let check = |address: &str, want: Option<(&str, &str)>| {
            let mut e = Errors::default();
            let p = read_project(
                &table(&format!("name = \"X\"\nsecurity-address = \"{address}\"\n")),
                &mut e,
            );
            let got = p
                .as_ref()
                .map(|p| (p.local_part.as_str(), p.domain.as_str()));
            assert_eq!(got, want, "{address}: {:?}", e.0);
        };
        check("Security@Example.org", Some(("security", "example.org")));
        check("sec@localhost", Some(("sec", "localhost")));
        check("not-an-address", None);
        check("@example.org", None);
        check("sec@nodot", None);
    }

    #[test]
    fn case_address_and_instance() {
        let mut e = Errors::default();
        let p = read_project(
            &table("name = \"X\"\nsecurity-address = \"security@example.org\"\naddress-separator = \"-\"\n"),
            &mut e,
        )
        .expect("valid [project]");
        assert!(e.0.is_empty(), "{:?}", e.0);
        assert_eq!(
            p.case_address("SEC-2026-0001"),
            "security-SEC-2026-0001@example.org"
        );
        assert_eq!(p.instance, "security@example.org");
    }

    #[test]
    fn the_default_language_is_the_policy_s_else_the_first_preferred() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["de", "PT-br", ".git", "de_DE"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("ja"), "a file, not a directory").unwrap();
        let stxt = |preferred: Option<&str>| {
            let mut e = Errors::default();
            let mut s = read_security_txt(&table(""), Path::new("."), &mut e);
            s.preferred_languages = preferred.map(String::from);
            s
        };
        let policy = |language: Option<&str>| Policy {
            language: language.map(String::from),
            ..Policy::default()
        };
        let check = |p: Option<&str>, preferred: Option<&str>, want: Option<&str>| {
            let l = read_languages(&policy(p), &stxt(preferred), dir.path());
            assert_eq!(l.default.as_deref(), want, "{p:?} {preferred:?}");
            assert_eq!(l.templated, ["de", "pt-BR"]);
        };
        check(Some("fr"), Some("en, de"), Some("fr"));
        check(None, Some(" EN-gb , de"), Some("en-GB"));
        check(None, Some("not a tag, de"), None);
        check(None, None, None);
        let none = read_languages(&policy(None), &stxt(None), &dir.path().join("missing"));
        assert_eq!(none, Languages::default());
    }

    #[test]
    fn security_txt_urls_and_expiry() {
        let mut e = Errors::default();
        read_security_txt(
            &table("policy = \"http://example.org/p\"\nexpires-in = \"400d\"\n"),
            Path::new("."),
            &mut e,
        );
        let all = e.0.join("\n");
        assert!(all.contains("security-txt.policy"), "{all}");
        assert!(all.contains("security-txt.expires-in"), "{all}");
    }
}
