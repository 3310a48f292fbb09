//! Schedule: the policy's clock over the cases (DESIGN.md "Policies and timers"). Given the
//! cases, the config and `now`, it decides which reminders, escalations, progress updates and
//! digests are due, and returns them as [`Changes`] (changed cases, drafts, the digest time). The daemon calls it
//! periodically and `run --once` once per cycle; tests call it with any clock they like.
//!
//! Invariants: pure; each timer fires once — it is recorded on its case as a `Timer` event in
//! the same store batch as its mail (the digest by its time under `timer/digest`), so a
//! restart never repeats one; a progress update states the case's state in fixed words and
//! never carries a team note; team mail is always encrypted (`apply::member_message`).
use super::apply::{member_message, record_sent, reporter_message};
use super::calendar::Span;
use super::compose::{compose_with, Templates};
use super::draft::{Draft, Kind};
use super::effect::{Changes, Mark};
use super::keys::{self, Cert};
use crate::core::settings::Policy;
use crate::core::settings::Settings;
use crate::model::{Case, EventKind, Severity, State, TeamMember, TeamRole};
use chrono::{DateTime, Utc};
use serde_json::json;

/// One promise of the policy on one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// ack, triage, response, fix
    pub name: &'static str,
    /// What was promised, in words for mail.
    pub promise: String,
    /// What the team does to meet it.
    pub how: &'static str,
    pub start: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub met: bool,
}

/// The policy's deadlines for a case (none for closed or disclosed cases, nor for imported
/// history no team member has acted on; once one has, they count from that moment).
pub fn deadlines(case: &Case, policy: &Policy) -> Vec<Deadline> {
    if !is_running(case) || case.is_history() {
        return Vec::new();
    }
    let start = case.clock_start();
    let cal = &policy.calendar;
    let to_reporter = |kinds: &[&str]| {
        case.timeline.iter().any(|e| match &e.kind {
            EventKind::Sent { kind, to, .. } => {
                kinds.contains(&kind.as_str()) && case.reporter(to).is_some()
            }
            _ => false,
        })
    };
    let mut out = Vec::new();
    let mut add = |name, span: Option<Span>, promise: &str, how, met| {
        if let Some(span) = span {
            out.push(Deadline {
                name,
                promise: format!("{promise} (within {})", span.describe()),
                how,
                start,
                due: cal.add(start, span),
                met,
            });
        }
    };
    add(
        "ack",
        policy.ack_within,
        "an acknowledgement to the reporter",
        "answer the reporter with a signed /reply (the automatic acknowledgement did not go out)",
        to_reporter(&["ack", "ack-coalesced", "not-for-us", "relay", "progress"]),
    );
    add(
        "triage",
        policy.triage_within,
        "triage: the report confirmed, rejected or marked duplicate",
        "/state confirmed, /state rejected or /duplicate CASE",
        !matches!(case.state, State::New | State::Triage),
    );
    add(
        "response",
        policy.response_within,
        "a detailed response to the reporter with the next steps",
        "write to the reporter with a signed /reply",
        to_reporter(&["relay"]),
    );
    if case.severity >= Some(Severity::High) {
        add(
            "fix",
            policy.fix_within,
            "a fix for a high or critical issue",
            "/state fix-ready once the fix is ready",
            matches!(
                case.state,
                State::FixReady | State::PreNotified | State::Disclosed
            ),
        );
    }
    out
}

/// Open and not yet public: the policy's clock runs.
fn is_running(case: &Case) -> bool {
    case.state.is_running()
}

/// Decides what is due at `now`. `last_digest`: when the last digest went out; `other_certs`:
/// more certs to watch for expiry in the digest (the disclosure work's distributors), by name.
pub fn due(
    cases: &[Case],
    config: &Settings,
    last_digest: Option<DateTime<Utc>>,
    other_certs: &[(String, Cert)],
    now: DateTime<Utc>,
) -> Changes {
    let policy = &config.policy;
    let mut out = Changes::default();
    let mut sorted: Vec<&Case> = cases.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for case in sorted {
        let mut c = case.clone();
        let mut drafts = Vec::new();
        for d in deadlines(case, policy) {
            if d.met {
                continue;
            }
            deadline_timers(&mut c, &d, config, now, &mut drafts);
        }
        progress(&mut c, config, now, &mut drafts);
        if c != *case {
            out.cases.push(c);
        }
        out.drafts.extend(drafts);
    }
    coalesce_acks(cases, config, now, &mut out);
    if let Some(every) = policy.digest_every {
        if digest_due(
            &policy.calendar,
            every,
            policy.digest_time,
            last_digest,
            now,
        ) {
            // Set when the digest was due (sent, or nothing to say): the new `timer/digest`.
            out.marks.push(Mark::DigestSent(now));
            out.drafts
                .extend(digest(cases, config, other_certs, last_digest, now));
        }
    }
    out
}

/// Acknowledgements the per-address limit held back (issue 11.5): once the window has room
/// again, one content-free message per address names every such case, and each case counts as
/// acknowledged. A case is answered this way once (timer `ack-coalesced`).
fn coalesce_acks(cases: &[Case], config: &Settings, now: DateTime<Utc>, out: &mut Changes) {
    let window = chrono::Duration::from_std(config.limits.auto_reply_window)
        .unwrap_or(chrono::Duration::hours(1));
    let mut by_address: std::collections::BTreeMap<String, Vec<Case>> = Default::default();
    for case in cases {
        // The scheduler may have changed this case already in this pass.
        let current = out
            .cases
            .iter()
            .find(|c| c.id == case.id)
            .cloned()
            .unwrap_or_else(|| case.clone());
        if !is_running(&current) || current.is_history() || current.timer_fired("ack-coalesced") {
            continue;
        }
        let held = current.timeline.iter().find_map(|e| match &e.kind {
            EventKind::Suppressed { kind, reason }
                if kind == "ack" && reason == crate::core::limits::Held::Address.reason() =>
            {
                Some(e.at)
            }
            _ => None,
        });
        let answered = current.timeline.iter().any(
            |e| matches!(&e.kind, EventKind::Sent { kind, .. } if kind == "ack" || kind == "relay"),
        );
        let Some(reporter) = current.reporters.first() else {
            continue;
        };
        match held {
            Some(at) if !answered && now - at >= window => by_address
                .entry(crate::core::limits::normalize(&reporter.address))
                .or_default()
                .push(current),
            _ => {}
        }
    }
    for (_, mut group) in by_address {
        group.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<String> = group.iter().map(|c| c.id.to_string()).collect();
        let first = &group[0];
        let reporter = first.reporters[0].clone();
        let d = reporter_message(
            Kind::AckCoalesced,
            first,
            &reporter,
            json!({ "cases": ids }),
            format!("[{}] Your security reports", first.id),
            &format!("ack-coalesced/{}", ids.join(",")),
            config,
            now,
        );
        for mut c in group {
            record_sent(&mut c, &d, now);
            c.push(
                now,
                "secmail",
                EventKind::Timer {
                    timer: "ack-coalesced".into(),
                    due: now,
                    to: vec![reporter.address.clone()],
                },
            );
            out.put_case(c);
        }
        out.drafts.push(d);
    }
}

/// The digest goes out on working days at `digest-time` (local), once `every` passed since the
/// last: for working days, that many working days later by date; for wall-clock spans, that
/// long after the last one.
fn digest_due(
    cal: &crate::core::calendar::Calendar,
    every: Span,
    at: chrono::NaiveTime,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let local = now.with_timezone(&cal.zone);
    if !cal.is_working_day(local.date_naive()) || local.time() < at {
        return false;
    }
    let Some(last) = last else { return true };
    match every {
        Span::Clock(d) => now >= last + d,
        Span::WorkingDays(n) => {
            let mut day = last.with_timezone(&cal.zone).date_naive();
            let today = local.date_naive();
            let mut count = 0;
            while day < today && count < n {
                day = day.succ_opt().unwrap_or(today);
                if cal.is_working_day(day) {
                    count += 1;
                }
            }
            count >= n.max(1)
        }
    }
}

/// A reminder before the deadline; once missed, one escalation per step of the chain, the
/// first of them to the first step (the handler) as well.
fn deadline_timers(
    c: &mut Case,
    d: &Deadline,
    config: &Settings,
    now: DateTime<Utc>,
    drafts: &mut Vec<Draft>,
) {
    let policy = &config.policy;
    let cal = &policy.calendar;
    let chain = &policy.escalation;
    if now < d.due {
        let remind_at = match policy.remind_before {
            Some(span) => cal.sub(d.due, span),
            None => d.due - (d.due - d.start) / 4,
        };
        let name = format!("reminder:{}", d.name);
        if now >= remind_at && !c.timer_fired(&name) {
            let to = recipients(c, chain.first().map(String::as_str), &config.team);
            fire(
                c,
                &name,
                d,
                Kind::Reminder,
                1,
                (&to, &[]),
                config,
                now,
                drafts,
            );
        }
        return;
    }
    let mut at = d.due;
    // A chain of the handler alone still tells the handler of the miss (step 1 of none).
    for i in 1..chain.len().max(2) {
        let step = chain.get(i).map(String::as_str);
        if i > 1 {
            at = cal.add(at, policy.escalate_every);
        }
        if now < at {
            break;
        }
        let name = format!("escalation:{}:{}", d.name, i);
        if !c.timer_fired(&name) {
            let mut to = recipients(c, step, &config.team);
            // At the miss the first step (the handler) is told too, not only the next one
            // (issue 13.6): whoever holds the case learns that its deadline passed.
            let first = if i == 1 {
                recipients(c, chain.first().map(String::as_str), &config.team)
            } else {
                Vec::new()
            };
            to.retain(|m| !first.iter().any(|f| f.address == m.address));
            let holders = first.clone();
            to.splice(0..0, first);
            fire(
                c,
                &name,
                d,
                Kind::Escalation,
                i + 1,
                (&to, &holders),
                config,
                now,
                drafts,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fire(
    c: &mut Case,
    name: &str,
    d: &Deadline,
    kind: Kind,
    step: usize,
    (to, holders): (&[&TeamMember], &[&TeamMember]),
    config: &Settings,
    now: DateTime<Utc>,
    drafts: &mut Vec<Draft>,
) {
    let cal = &config.policy.calendar;
    let mut sent_to = Vec::new();
    for m in to {
        // The first step of the chain, told of the miss beside the step it reached.
        let holder = holders.iter().any(|h| h.address == m.address);
        let vars = json!({
            "promise": d.promise,
            "how": d.how,
            "due": cal.show(d.due),
            "left": human(d.due - now),
            "state": c.state.as_str(),
            "handler": c.handler,
            "preset": config.policy.preset,
            "step": step,
            "holder": holder,
        });
        let subject = match kind {
            Kind::Reminder => format!("Reminder: {} due", d.name),
            _ => format!("Deadline missed: {}", d.name),
        };
        let cause = format!("timer/{name}");
        if let Some(draft) = member_message(kind, Some(c), m, vars, subject, &cause, config, now) {
            record_sent(c, &draft, now);
            sent_to.push(m.address.clone());
            drafts.push(draft);
        } else {
            c.push(
                now,
                "secmail",
                EventKind::Withheld {
                    to: m.address.clone(),
                    kind: kind.as_str().into(),
                    reason: "no usable cert".into(),
                },
            );
        }
    }
    c.push(
        now,
        "secmail",
        EventKind::Timer {
            timer: name.to_string(),
            due: d.due,
            to: sent_to,
        },
    );
}

/// A step of the escalation chain → team members: `handler` is the case's handler (or the
/// members with that role, or else the whole team); `coordinator` and `backup` are roles; an
/// address is that member.
fn recipients<'a>(case: &Case, step: Option<&str>, team: &'a [TeamMember]) -> Vec<&'a TeamMember> {
    let role = |r: TeamRole| team.iter().filter(|m| m.role == r).collect::<Vec<_>>();
    match step {
        None => Vec::new(),
        Some("handler") => {
            if let Some(h) = case
                .handler
                .as_deref()
                .and_then(|h| team.iter().find(|m| m.address.eq_ignore_ascii_case(h)))
            {
                return vec![h];
            }
            let r = role(TeamRole::Handler);
            if r.is_empty() {
                team.iter().collect()
            } else {
                r
            }
        }
        Some("coordinator") => role(TeamRole::Coordinator),
        Some("backup") => role(TeamRole::Backup),
        Some(addr) => team
            .iter()
            .filter(|m| m.address.eq_ignore_ascii_case(addr))
            .collect(),
    }
}

/// The progress update the policy promises when `update-every` passed without a message the
/// reporter saw (DESIGN.md "Policies and timers").
fn progress(c: &mut Case, config: &Settings, now: DateTime<Utc>, drafts: &mut Vec<Draft>) {
    let policy = &config.policy;
    let (Some(every), Some(last)) = (policy.update_every, c.last_reporter_update) else {
        return;
    };
    // Imported history writes to nobody until the team takes it up, and then counts from then.
    if !is_running(c) || c.reporters.is_empty() || c.is_history() {
        return;
    }
    let last = last.max(c.clock_start());
    let due = policy.calendar.add(last, every);
    let name = format!("update:{}", due.format("%Y-%m-%dT%H:%MZ"));
    if now < due || c.timer_fired(&name) {
        return;
    }
    let mut to = Vec::new();
    for r in c.reporters.clone() {
        let d = reporter_message(
            Kind::Progress,
            c,
            &r,
            json!({
                "state_text": state_text(c.state),
                "every": every.describe(),
                "fixed": crate::model::versions::join(&c.fixed),
            }),
            format!("[{}] Progress on your security report", c.id),
            &format!("timer/{name}"),
            config,
            now,
        );
        record_sent(c, &d, now);
        to.push(r.address.clone());
        drafts.push(d);
    }
    c.last_reporter_update = Some(now);
    c.push(
        now,
        "secmail",
        EventKind::Timer {
            timer: name,
            due,
            to,
        },
    );
}

/// The state in words for a reporter: fixed text, nothing from the case's notes.
pub fn state_text(s: State) -> &'static str {
    match s {
        State::New => "received; the team will start on it shortly.",
        State::Triage => "being triaged: the team is checking and reproducing the report.",
        State::Confirmed => "confirmed: the team has verified the issue.",
        State::Fixing => "confirmed, and a fix is being prepared.",
        State::FixReady => "a fix is ready; a coordinated release is being prepared.",
        State::PreNotified => "a fix is ready and the release date is set.",
        State::Disclosed => "disclosed.",
        State::Closed => "closed.",
        State::Rejected => "closed: not considered a security issue.",
        State::Duplicate => "closed as a duplicate of another report.",
    }
}

/// The team digest: open cases with their deadlines, missed deadlines, expiring certs. Nothing
/// when there is nothing to say.
fn digest(
    cases: &[Case],
    config: &Settings,
    other_certs: &[(String, Cert)],
    last_digest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Draft> {
    let policy = &config.policy;
    let cal = &policy.calendar;
    // Since the last digest (SECURITY.md, backscatter and forged commands): every automatic
    // answer held back by a limit, and every refused command attempt, whatever its case state.
    let since = |t: &DateTime<Utc>| last_digest.is_none_or(|l| *t > l) && *t <= now;
    let mut suppressed = Vec::new();
    let mut refused = Vec::new();
    let mut by_id: Vec<&Case> = cases.iter().collect();
    by_id.sort_by(|a, b| a.id.cmp(&b.id));
    for c in by_id {
        for e in c.timeline.iter().filter(|e| since(&e.at)) {
            match &e.kind {
                EventKind::Suppressed { kind, reason } if reason.starts_with("rate limit") => {
                    suppressed.push(format!(
                        "{} {}: {kind} not sent, {reason}",
                        c.id,
                        cal.show(e.at)
                    ))
                }
                EventKind::CommandRefused { reasons, .. } => refused.push(format!(
                    "{} {}: from {}: {}",
                    c.id,
                    cal.show(e.at),
                    e.actor,
                    reasons.join("; ")
                )),
                _ => {}
            }
        }
    }
    let mut open: Vec<&Case> = cases.iter().filter(|c| is_running(c)).collect();
    open.sort_by(|a, b| a.id.cmp(&b.id));
    let mut breaches = Vec::new();
    let rows: Vec<serde_json::Value> = open
        .iter()
        .map(|c| {
            let lines: Vec<String> = deadlines(c, policy)
                .iter()
                .map(|d| {
                    let status = if d.met {
                        "met".to_string()
                    } else if now >= d.due {
                        breaches.push(format!("{} {}: was due {}", c.id, d.name, cal.show(d.due)));
                        "MISSED".to_string()
                    } else {
                        format!("in {}", human(d.due - now))
                    };
                    format!("{} due {}: {status}", d.name, cal.show(d.due))
                })
                .collect();
            json!({
                "id": c.id, "state": c.state.as_str(), "handler": c.handler,
                "title": c.title, "deadlines": lines,
            })
        })
        .collect();
    let warn = now + policy.cert_warning;
    let mut certs = Vec::new();
    let named: Vec<(String, &Cert)> = config
        .team
        .iter()
        .map(|m| (m.address.clone(), &m.cert))
        .chain(other_certs.iter().map(|(n, c)| (n.clone(), c)))
        .collect();
    for (name, cert) in named {
        if let Err(why) = keys::usable_for_encryption(cert, now.into()) {
            certs.push(format!(
                "{name}: cert {} NOT USABLE: {why}",
                keys::fingerprint(cert)
            ));
        } else if let Some(exp) = keys::expires(cert, now.into()).map(DateTime::<Utc>::from) {
            if exp <= warn {
                certs.push(format!(
                    "{name}: cert {} expires {}",
                    keys::fingerprint(cert),
                    exp.format("%Y-%m-%d")
                ));
            }
        }
    }
    if rows.is_empty() && certs.is_empty() && suppressed.is_empty() && refused.is_empty() {
        return Vec::new();
    }
    let cause = format!("digest/{}", now.to_rfc3339());
    config
        .team
        .iter()
        .filter_map(|m| {
            member_message(
                Kind::Digest,
                None,
                m,
                json!({
                    "now": cal.show(now),
                    "case_count": rows.len(),
                    "breach_count": breaches.len(),
                    "cases": rows,
                    "breaches": breaches,
                    "certs": certs,
                    "suppressed_count": suppressed.len(),
                    "suppressed": suppressed,
                    "refused_count": refused.len(),
                    "refused": refused,
                }),
                "security digest".into(),
                &cause,
                config,
                now,
            )
        })
        .collect()
}

/// "3d 4h", "5h", "20m" — never negative.
fn human(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, h) => format!("{h}h"),
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// [`due`], then every draft rendered, signed and encrypted ([`Changes::render`]).
pub fn pass(
    cases: &[Case],
    config: &Settings,
    templates: &Templates,
    last_digest: Option<DateTime<Utc>>,
    other_certs: &[(String, Cert)],
    now: DateTime<Utc>,
) -> Changes {
    let mut changes = due(cases, config, last_digest, other_certs, now);
    changes.render(&compose_with(templates, config, now), None, now);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human(chrono::Duration::minutes(20)), "20m");
        assert_eq!(human(chrono::Duration::hours(5)), "5h");
        assert_eq!(human(chrono::Duration::hours(76)), "3d 4h");
        assert_eq!(human(chrono::Duration::hours(-3)), "0m");
    }

    #[test]
    fn every_state_has_words_for_the_reporter() {
        for s in ["new", "triage", "fix-ready", "rejected"] {
            let st = State::parse(s).unwrap();
            assert!(state_text(st).ends_with('.'));
        }
    }
}
