//! The `[policy]` section → [`Policy`]: the project's promises as deadlines, the calendar they
//! are counted in, and who is reminded and escalated to (DESIGN.md "Policies and timers").
//!
//! A `preset` names one of the five policies in shared/seeds/ (their README says what each
//! promises); every other key overrides the preset field by field. Without a `[policy]`
//! section there are no timers at all (the acknowledgement still goes out at once), nor with
//! one that only names the default `language`.
//!
//! Invariants: a `Policy` only exists when every key was understood; the calendar has at least
//! one working day; escalation steps name a role or a configured team member.
use super::reader::{Errors, Section};
use crate::core::calendar::{parse_span, Span};
use crate::core::draft::language;
pub use crate::core::settings::Policy;
use chrono::{Duration, NaiveDate, NaiveTime};
use toml::{Table, Value};

/// The presets, one per seed policy (shared/seeds/README.md), as the keys they set.
pub const PRESETS: &[(&str, &str)] = &[
    // 000: "ack receipt within 24 hours, verify each potential vulnerability within 3 days, and
    // if the vulnerability is a significant network risk […] develop a fix within 7 days."
    (
        "ntpsec",
        r#"
ack-within = "24h"
triage-within = "3d"
fix-within = "7d"
digest-every = "1 working day"
"#,
    ),
    // 001: "acknowledged within 48 hours […] a more detailed response within 96 hours […]
    // updates […] at least every five working days"; escalation to the coordinator, then the
    // back-up contact.
    (
        "enarx",
        r#"
ack-within = "48h"
response-within = "96h"
update-every = "5 working days"
escalation = ["handler", "coordinator", "backup"]
digest-every = "1 working day"
"#,
    ),
    // 002: "an acknowledgment within 48 hours"; advance notice "approximately one week before
    // full public disclosure".
    (
        "pyca-cryptography",
        r#"
ack-within = "48h"
advance-notice = "7d"
digest-every = "1 working day"
"#,
    ),
    // 003: "no formal response-time guarantees"; asks for description, impact, steps to
    // reproduce and environment.
    (
        "rptp",
        r#"
digest-every = "5 working days"
ask-reporters-for = [
  "a description of the issue and its potential impact",
  "steps to reproduce, if possible",
  "relevant environment details (OS, Rust version, configuration)",
]
"#,
    ),
    // 004: "If the discoverer does not specify a timeline, then use one business day".
    (
        "coordinated-disclosure",
        r#"
ack-within = "1 working day"
digest-every = "1 working day"
"#,
    ),
];

pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// Reads `[policy]`: the preset's keys first, each key of the section over them.
pub fn read(t: &Table, e: &mut Errors) -> Policy {
    let mut merged = Table::new();
    let mut preset = None;
    if let Some(v) = t.get("preset") {
        match v.as_str() {
            Some(name) => match PRESETS.iter().find(|(n, _)| *n == name) {
                Some((n, keys)) => {
                    preset = Some(n.to_string());
                    if let Ok(table) = keys.parse::<Table>() {
                        merged.extend(table);
                    }
                }
                None => e.add(
                    "policy.preset",
                    format!("{name:?} must be one of {}", preset_names().join(", ")),
                ),
            },
            None => e.add("policy.preset", "expected a string"),
        }
    }
    for (k, v) in t {
        if k != "preset" {
            merged.insert(k.clone(), v.clone());
        }
    }
    let mut s = Section::new("policy", &merged);
    let mut p = Policy {
        preset,
        ack_within: span(&mut s, "ack-within", e),
        triage_within: span(&mut s, "triage-within", e),
        response_within: span(&mut s, "response-within", e),
        update_every: span(&mut s, "update-every", e),
        fix_within: span(&mut s, "fix-within", e),
        advance_notice: span(&mut s, "advance-notice", e),
        max_embargo: span(&mut s, "max-embargo", e),
        remind_before: span(&mut s, "remind-before", e),
        // Keys present in a [policy] section mean the team wants to hear about open cases;
        // a language alone promises nothing, so it starts no digest.
        digest_every: if merged.contains_key("digest-every") {
            span(&mut s, "digest-every", e)
        } else if merged.len() == 1 && merged.contains_key("language") {
            None
        } else {
            Some(Span::WorkingDays(1))
        },
        ..Policy::default()
    };
    if let Some(es) = span(&mut s, "escalate-every", e) {
        p.escalate_every = es;
    }
    if let Some(cw) = span(&mut s, "cert-warning", e) {
        p.cert_warning = match cw {
            Span::Clock(d) => d,
            Span::WorkingDays(n) => Duration::days(i64::from(n)),
        };
    }
    let chain = s.str_list("escalation", e);
    if merged.contains_key("escalation") {
        if chain.is_empty() {
            e.add("policy.escalation", "needs at least one step");
        }
        p.escalation = chain;
    }
    p.ask_reporters_for = s.str_list("ask-reporters-for", e);
    if let Some(l) = s.opt_str("language", e) {
        match language::tag(&l) {
            Some(t) => p.language = Some(t),
            None => e.add(
                "policy.language",
                format!("{l:?} is not a language tag like \"de\" or \"pt-BR\" (BCP 47)"),
            ),
        }
    }
    if let Some(days) = merged.get("working-days") {
        let names = s.str_list("working-days", e);
        let mut wd = [false; 7];
        for n in &names {
            match weekday(n) {
                Some(i) => wd[i] = true,
                None => e.add(
                    "policy.working-days",
                    format!("{n:?} is not a weekday like \"mon\""),
                ),
            }
        }
        if !wd.iter().any(|d| *d) && matches!(days, Value::Array(_)) {
            e.add("policy.working-days", "needs at least one working day");
        } else {
            p.calendar.working_days = wd;
        }
    }
    for h in s.str_list("holidays", e) {
        match NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d") {
            Ok(d) => p.calendar.holidays.push(d),
            Err(_) => e.add(
                "policy.holidays",
                format!("{h:?} is not a date like 2026-12-25"),
            ),
        }
    }
    if let Some(t) = s.opt_str("digest-time", e) {
        match NaiveTime::parse_from_str(t.trim(), "%H:%M") {
            Ok(t) => p.digest_time = t,
            Err(_) => e.add(
                "policy.digest-time",
                format!("{t:?} is not a time like \"09:00\""),
            ),
        }
    }
    if let Some(z) = s.opt_str("time-zone", e) {
        match z.parse() {
            Ok(tz) => p.calendar.zone = tz,
            Err(_) => e.add(
                "policy.time-zone",
                format!("{z:?} is not a time zone like \"Europe/Berlin\" or \"UTC\""),
            ),
        }
    }
    s.done(e);
    p
}

/// Checks the escalation steps against the team (roles, or a member's address).
pub fn check_escalation(p: &Policy, team: &[String], e: &mut Errors) {
    for step in &p.escalation {
        let role = matches!(step.as_str(), "handler" | "coordinator" | "backup");
        if !role && !team.iter().any(|a| a.eq_ignore_ascii_case(step)) {
            e.add(
                "policy.escalation",
                format!("{step:?} is neither handler, coordinator, backup nor a [[team]] address"),
            );
        }
    }
}

/// A span key; "never", "off" or "none" switch it off.
fn span(s: &mut Section, k: &str, e: &mut Errors) -> Option<Span> {
    let v = s.opt_str(k, e)?;
    if matches!(v.trim(), "never" | "off" | "none") {
        return None;
    }
    parse_span(&v).map_err(|m| e.add(&s.key(k), m)).ok()
}

fn weekday(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| s.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> (Policy, Vec<String>) {
        let t: Table = s.parse().unwrap();
        let mut e = Errors::default();
        let p = read(&t, &mut e);
        (p, e.0)
    }

    #[test]
    fn every_preset_reads_cleanly() {
        for (name, _) in PRESETS {
            let (p, errs) = read_str(&format!("preset = {name:?}"));
            assert!(errs.is_empty(), "{name}: {errs:?}");
            assert_eq!(p.preset.as_deref(), Some(*name));
        }
    }

    #[test]
    fn keys_override_the_preset_field_by_field() {
        let (p, errs) = read_str(
            r#"
preset = "enarx"
update-every = "3 working days"
time-zone = "Europe/Berlin"
holidays = ["2026-12-25"]
working-days = ["mon", "tue", "wed", "thu"]
"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(p.ack_within, Some(Span::Clock(Duration::hours(48))));
        assert_eq!(p.response_within, Some(Span::Clock(Duration::hours(96))));
        assert_eq!(p.update_every, Some(Span::WorkingDays(3)));
        assert_eq!(p.calendar.zone, chrono_tz::Europe::Berlin);
        assert_eq!(
            p.calendar.working_days,
            [true, true, true, true, false, false, false]
        );
        assert_eq!(p.calendar.holidays.len(), 1);
    }

    #[test]
    fn the_language_is_a_tag_and_alone_starts_no_timer() {
        let (p, errs) = read_str("language = \"pt-br\"");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(p.language.as_deref(), Some("pt-BR"));
        // A language promises nothing: no digest unless another key says so.
        assert_eq!(p.digest_every, None);
        let (p, _) = read_str("language = \"de\"\nack-within = \"48h\"");
        assert_eq!(p.digest_every, Some(Span::WorkingDays(1)));
        let (p, _) = read_str("");
        assert_eq!(
            (p.language, p.digest_every),
            (None, Some(Span::WorkingDays(1)))
        );
        let (_, errs) = read_str("language = \"de_DE\"");
        assert_eq!(
            errs,
            ["policy.language: \"de_DE\" is not a language tag like \"de\" or \"pt-BR\" (BCP 47)"]
        );
    }

    #[test]
    fn bad_keys_are_all_reported() {
        let (_, errs) = read_str(
            r#"
preset = "nope"
ack-within = "soon"
time-zone = "Mars/Olympus"
holidays = ["25.12.2026"]
working-days = ["funday"]
colour = "blue"
"#,
        );
        let all = errs.join("\n");
        for needle in [
            "policy.preset: \"nope\" must be one of ntpsec, enarx, pyca-cryptography, rptp, coordinated-disclosure",
            "policy.ack-within",
            "policy.time-zone",
            "policy.holidays",
            "policy.working-days",
            "policy.colour: unknown key",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
    }
}
