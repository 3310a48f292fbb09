//! A team member's signed command mail, applied to the case it threads into (DESIGN.md "Team
//! commands"), or refused.
//!
//! Invariants: all or nothing — the commands act on copies of the case (and of a case a
//! `/duplicate` names), and the copies are kept only when every command succeeded; a refused
//! mail changes no field or state (its refusal is recorded on the case for the audit trail) and
//! is answered to the configured member, encrypted; `/reply` text reaches the reporter without
//! command lines, quotes, signature or any team address; each accepted command is a timeline
//! event and one confirmation lists them all.
use super::team::{team_copies, About};
use super::{may_auto_reply, received, Incoming, Memory, Outcome};
use crate::core::command::{self, Command, Parsed, HELP};
use crate::core::draft::{member_message, record_sent, reporter_message, Draft, Kind};
use crate::core::settings::Settings;
use crate::core::thread::{self, Threaded};
use crate::model::versions;
use crate::model::{Case, CaseId, ContactOffer, EventKind, State, TeamMember};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Refused: nothing changes; the member is told why (rate-limited like every automatic answer).
pub(super) fn refused(
    inc: &Incoming,
    answer_to: Option<&TeamMember>,
    reasons: &[String],
    parsed: &Parsed,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Outcome {
    let mut out = Outcome {
        stored_text: Some(parsed.text.clone()),
        ..Outcome::default()
    };
    let mut case = match &inc.threaded {
        Threaded::Existing { case, .. } => Some((**case).clone()),
        Threaded::New { .. } => None,
    };
    if let Some(c) = case.as_mut() {
        c.push(
            now,
            inc.headers
                .from
                .as_ref()
                .map(|f| f.address.as_str())
                .unwrap_or("-"),
            EventKind::CommandRefused {
                msg_hash: inc.hash.to_string(),
                reasons: reasons.to_vec(),
            },
        );
    }
    let mut answered = "not answered";
    if let Some(m) = answer_to {
        if may_auto_reply(mem, config, false, now).is_ok() {
            let max_age = chrono::Duration::from_std(config.limits.command_max_age)
                .map(|d| crate::core::calendar::Span::Clock(d).describe())
                .unwrap_or_else(|_| "7d".into());
            if let Some(d) = member_message(
                Kind::CommandRefused,
                case.as_ref(),
                m,
                json!({
                    "reasons": reasons,
                    "not_executed": parsed.not_executed,
                    "member_fingerprint": m.fingerprint,
                    "member_address": m.address,
                    "max_age": max_age,
                }),
                "Your commands were refused".into(),
                inc.hash,
                config,
                now,
            ) {
                let d = answering(d, inc);
                if let Some(c) = case.as_mut() {
                    record_sent(c, &d, now);
                }
                out.auto_replied.push(m.address.clone());
                out.drafts.push(d);
                answered = "member told";
            }
        } else {
            answered = "not answered (rate limit)";
        }
    }
    out.summary = format!(
        "{}: team commands refused ({} reason{}) → {answered}",
        case.as_ref()
            .map(|c| c.id.to_string())
            .unwrap_or_else(|| "no case".into()),
        reasons.len(),
        if reasons.len() == 1 { "" } else { "s" }
    );
    out.case = case;
    out
}

/// Accepted by signature: checked against the case, then applied whole or refused whole.
#[allow(clippy::too_many_arguments)]
pub(super) fn accepted(
    inc: &Incoming,
    member: &TeamMember,
    digest: &str,
    parsed: &Parsed,
    about: &About,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Outcome {
    let refuse = |why: Vec<String>| refused(inc, Some(member), &why, parsed, mem, config, now);
    let Threaded::Existing { case, rule } = &inc.threaded else {
        return refuse(vec![
            "the message matches no case: reply to a message of the case or write to its case address".into(),
        ]);
    };
    let mut case = (**case).clone();
    // A signed command mail acts only on the case its signed content names (SECURITY.md,
    // re-targeting): the headers that threaded it are not signed. A note whose command lines
    // all stand outside the block acts on nothing: it needs no target.
    let note = parsed.commands.is_empty();
    if !note {
        if let Err(why) = signed_target(parsed, about, &case.id, &config.project.case_prefix) {
            return refuse(vec![why]);
        }
    }

    let mut related = mem.related.clone();
    let mut errors = Vec::new();
    let mut done = Vec::new();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut events = Vec::new();
    let mut changed_related = Vec::new();
    let mut relay = false;
    let mut disclosing = super::disclosure::Disclosing::new(&mem.distributors);
    for (line, cmd) in &parsed.commands {
        let result = match cmd {
            Command::Disclosure(dc) => disclosing.run(
                &mut case,
                dc,
                &parsed.text,
                about.opened,
                inc.hash,
                &member.address,
                config,
                now,
            ),
            Command::Reply => {
                relay = true;
                check_relay(&case, parsed, config)
            }
            Command::Help => Ok("help sent".into()),
            Command::Case(id) => Ok(format!("for case {id}")),
            Command::Assign(a) => {
                let a = if a == "me" {
                    member.address.clone()
                } else {
                    a.clone()
                };
                match config.team_member(&a) {
                    Some(m) => {
                        case.handler = Some(m.address.clone());
                        Ok(format!("handler is now {}", m.address))
                    }
                    None => Err(format!("{a} is not a team member")),
                }
            }
            Command::State(st) => {
                let from = case.state;
                if from != *st {
                    case.state = *st;
                    events.push(EventKind::StateChanged { from, to: *st });
                }
                Ok(format!("state {from} → {st}"))
            }
            Command::Severity(sev, cvss) => {
                case.severity = Some(*sev);
                case.cvss = cvss.clone();
                // The score, and a warning when it disagrees with the level (issue 13.4).
                let scored = cvss
                    .as_deref()
                    .and_then(|v| crate::core::advisory::cvss::score(v).ok());
                Ok(format!(
                    "severity {}{}{}",
                    sev.as_str(),
                    scored
                        .as_ref()
                        .map(|s| format!(" ({}, score {})", s.vector, s.describe()))
                        .unwrap_or_default(),
                    scored
                        .as_ref()
                        .and_then(|s| crate::core::advisory::cvss::disagreement(*sev, s))
                        .map(|w| format!(" — {w}"))
                        .unwrap_or_default()
                ))
            }
            // Shown back as understood, in words and as ranges (issue 13.3).
            Command::Affected(v) => {
                case.affected = v.clone();
                Ok(format!(
                    "affected versions: {} ({})",
                    versions::describe(v),
                    versions::join(v)
                ))
            }
            Command::Fixed(v) => {
                case.fixed = v.clone();
                Ok(format!("fixed versions: {}", versions::join(v)))
            }
            Command::Cve(id) => {
                case.cve = Some(id.clone());
                Ok(format!("CVE {id}"))
            }
            Command::Credit { reporter, credit } => {
                let n = case.reporters.len();
                let target = match reporter {
                    Some(a) => case
                        .reporter_mut(a)
                        .ok_or(format!("{a} is not a reporter of this case")),
                    None if n == 1 => Ok(&mut case.reporters[0]),
                    None => Err(format!(
                        "the case has {n} reporters: name one, /credit ADDRESS NAME"
                    )),
                };
                target.map(|r| {
                    r.credit = credit.clone();
                    format!(
                        "{} credited {}",
                        r.address,
                        match credit {
                            crate::model::Credit::Anonymous => "anonymously".to_string(),
                            crate::model::Credit::Undecided => "not yet".to_string(),
                            crate::model::Credit::Name => "by name".to_string(),
                            crate::model::Credit::Handle(h) => format!("as {h}"),
                        }
                    )
                })
            }
            Command::Duplicate(id) => duplicate(
                &mut case,
                id,
                &mut related,
                &mut events,
                &mut drafts,
                &mut changed_related,
                member,
                config,
                now,
            ),
        };
        match result {
            Ok(detail) => done.push((line.clone(), detail)),
            Err(why) => errors.push(format!("{line}: {why}")),
        }
    }
    if !errors.is_empty() {
        return refuse(errors);
    }

    // Everything checked: record and send.
    if let Some(id) = &inc.headers.message_id {
        case.add_message_id(id);
    }
    case.push(
        now,
        &member.address,
        received(
            inc,
            "team",
            about.encryption,
            about.signature,
            Some(member.fingerprint.clone()),
            rule.as_str(),
        ),
    );
    for e in events {
        case.push(now, &member.address, e);
    }
    for (line, detail) in &done {
        case.push(
            now,
            &member.address,
            EventKind::Command {
                line: line.clone(),
                detail: detail.clone(),
            },
        );
    }
    let id = case.id.clone();
    for d in drafts.iter().filter(|d| d.case_id.as_ref() == Some(&id)) {
        record_sent(&mut case, d, now);
    }
    // Already on the timeline (core::disclose records each delivery as it decides it).
    drafts.append(&mut disclosing.drafts);
    let mut relays = 0;
    if relay {
        let text = command::relay_text(&parsed.text);
        for r in case.reporters.clone() {
            let d = reporter_message(
                Kind::Relay,
                &case,
                &r,
                json!({ "text": text }),
                format!("[{}] Update on your security report", case.id),
                inc.hash,
                config,
                now,
            );
            record_sent(&mut case, &d, now);
            drafts.push(d);
            relays += 1;
        }
        case.last_reporter_update = Some(now);
    }
    let lines: Vec<String> = done.iter().map(|(l, d)| format!("{l} — {d}")).collect();
    if let Some(d) = member_message(
        Kind::CommandResult,
        Some(&case),
        member,
        json!({
            "done": lines,
            "not_executed": parsed.not_executed,
            "state": case.state.as_str(),
            "handler": case.handler,
            "help": if parsed.has("help") { HELP } else { "" },
        }),
        if note {
            "Commands not executed".into()
        } else {
            "Commands done".into()
        },
        inc.hash,
        config,
        now,
    ) {
        let d = answering(d, inc);
        record_sent(&mut case, &d, now);
        drafts.push(d);
    }
    let about = About {
        commands: done.iter().map(|(l, _)| l.clone()).collect(),
        relayed: relay,
        ..*about
    };
    // `/help` is for its sender: the rest of the team is not sent a copy (issue 13.6).
    let help_only = parsed.has("help")
        && parsed
            .commands
            .iter()
            .all(|(_, c)| matches!(c, Command::Help | Command::Case(_)));
    let copies = if help_only {
        Vec::new()
    } else {
        team_copies(
            &mut case,
            config,
            Some(&member.address),
            &about,
            about.opened.attachments.clone(),
            now,
        )
    };
    let names: Vec<&str> = parsed.commands.iter().map(|(_, c)| c.name()).collect();
    let not_executed = match parsed.not_executed.len() {
        0 => String::new(),
        1 => ", 1 line not executed".to_string(),
        n => format!(", {n} lines not executed"),
    };
    let summary = format!(
        "{}: {} team command{} ({}){not_executed} → {}{} confirmation, {} team cop{}",
        case.id,
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if relays > 0 {
            format!(
                "relayed to {relays} reporter{}, ",
                if relays == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        },
        1,
        copies.len(),
        if copies.len() == 1 { "y" } else { "ies" }
    );
    drafts.extend(copies);
    Outcome {
        case: Some(case),
        drafts,
        summary,
        linked: changed_related,
        seen_signatures: vec![digest.to_string()],
        stored_text: Some(parsed.text.clone()),
        distributors: disclosing.changes,
        write_advisories: disclosing.write_advisories,
        ..Outcome::default()
    }
}

/// `/reply` needs a reporter, some text, and no team address in it (DESIGN.md "Team
/// commands": relayed from the security address, never revealing team members' addresses).
fn check_relay(case: &Case, parsed: &Parsed, config: &Settings) -> Result<String, String> {
    if case.reporters.is_empty() {
        return Err("the case has no reporter to reply to".into());
    }
    let text = command::relay_text(&parsed.text);
    if text.trim().is_empty() {
        return Err("nothing to relay: write the reply below the command lines".into());
    }
    if let Some(marker) = command::internal_marker(&text) {
        return Err(format!(
            "the reply contains text of a team copy or note (\"{marker}\"); quote the reporter only"
        ));
    }
    let lower = text.to_lowercase();
    if let Some(m) = config.team.iter().find(|m| lower.contains(&m.address)) {
        return Err(format!(
            "the reply names the team address {}; reporters never see team addresses",
            m.address
        ));
    }
    let n = case.reporters.len();
    Ok(format!(
        "relayed to {n} reporter{}",
        if n == 1 { "" } else { "s" }
    ))
}

/// `/duplicate CASE`: this case duplicates `id`. Both cases are linked, the shorter embargo
/// wins (`disclose::duplicate_embargo`), and each first reporter is offered contact with the other.
#[allow(clippy::too_many_arguments)]
fn duplicate(
    case: &mut Case,
    id: &crate::model::CaseId,
    related: &mut [Case],
    events: &mut Vec<EventKind>,
    drafts: &mut Vec<Draft>,
    changed: &mut Vec<Case>,
    member: &TeamMember,
    config: &Settings,
    now: DateTime<Utc>,
) -> Result<String, String> {
    if *id == case.id {
        return Err("a case cannot duplicate itself".into());
    }
    if let Some(d) = &case.duplicate_of {
        return Err(format!("this case is already a duplicate of {d}"));
    }
    let Some(target) = related.iter_mut().find(|c| c.id == *id) else {
        return Err(format!("there is no case {id}"));
    };
    if let Some(orig) = &target.duplicate_of {
        return Err(format!(
            "{id} is itself a duplicate of {orig}: use /duplicate {orig}"
        ));
    }
    let from = case.state;
    case.state = State::Duplicate;
    case.duplicate_of = Some(target.id.clone());
    events.push(EventKind::StateChanged {
        from,
        to: State::Duplicate,
    });
    events.push(EventKind::Linked {
        case: target.id.clone(),
        relation: "duplicate-of".into(),
    });
    if !target.duplicates.contains(&case.id) {
        target.duplicates.push(case.id.clone());
    }
    target.push(
        now,
        &member.address,
        EventKind::Linked {
            case: case.id.clone(),
            relation: "duplicate".into(),
        },
    );
    // DESIGN.md "Team commands": the shortest embargo of the two wins.
    crate::core::disclose::duplicate_embargo(target, case, &member.address, now);

    // Offer contact between the first reporters, each in a message of their own; neither
    // learns anything of the other before both agree.
    let mut offered = false;
    let pair = (
        case.reporters.first().cloned(),
        target.reporters.first().cloned(),
    );
    if let (Some(mine), Some(theirs)) = pair {
        if !mine.address.eq_ignore_ascii_case(&theirs.address) {
            let (case_id, target_id) = (case.id.clone(), target.id.clone());
            let offer = |c: &mut Case,
                         r: &crate::model::Reporter,
                         other_case: &crate::model::CaseId,
                         other: &str| {
                let d = reporter_message(
                    Kind::ContactOffer,
                    c,
                    r,
                    json!({}),
                    format!("[{}] Another report of the same issue", c.id),
                    &format!("offer/{}/{other_case}", c.id),
                    config,
                    now,
                );
                c.contact_offers.push(ContactOffer {
                    reporter: r.address.clone(),
                    other_case: other_case.clone(),
                    other_reporter: other.to_string(),
                    message_id: d.message_id.clone(),
                    consented: false,
                    introduced: false,
                });
                d
            };
            // This case's offer is recorded by the caller with the other events.
            drafts.push(offer(case, &mine, &target_id, &theirs.address));
            let d = offer(target, &theirs, &case_id, &mine.address);
            record_sent(target, &d, now);
            drafts.push(d);
            offered = true;
        }
    }
    changed.retain(|c| c.id != target.id);
    changed.push(target.clone());
    Ok(format!(
        "duplicate of {}{}",
        target.id,
        if offered {
            "; both reporters offered contact"
        } else {
            ""
        }
    ))
}

/// Checks that the signed content names `threaded` as the case the commands are for, in this
/// order: a `/case` line; the protected Subject's `[case]` tag (RFC 9788); the `Case:` line of
/// the quoted team copy; the one case id the text mentions. Unsigned headers (In-Reply-To,
/// References, To, Subject) found the case; only signed content may say which it is.
fn signed_target(
    parsed: &Parsed,
    about: &About,
    threaded: &CaseId,
    prefix: &str,
) -> Result<(), String> {
    let check = |named: &CaseId, how: &str| {
        if named == threaded {
            Ok(())
        } else {
            Err(format!(
                "{how} names {named} but the message threads into {threaded}: nothing was done (the unsigned headers point elsewhere than the signed text)"
            ))
        }
    };
    let lines: Vec<&CaseId> = parsed
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            Command::Case(id) => Some(id),
            _ => None,
        })
        .collect();
    if let Some(first) = lines.first() {
        if lines.iter().any(|id| id != first) {
            return Err("the /case lines name different cases".into());
        }
        return check(first, "the /case line");
    }
    if let Some(subject) = &about.opened.protected.subject {
        let tags = thread::subject_tags(subject, prefix);
        if let Some(first) = tags.first() {
            return if tags.contains(threaded) {
                Ok(())
            } else {
                check(first, "the signed (protected) subject")
            };
        }
    }
    // The team copy a reply quotes starts with "Case:  ID (state)".
    let case_line = parsed.text.lines().find_map(|l| {
        let l = l.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
        let rest = l.strip_prefix("Case:")?;
        CaseId::parse(prefix, rest.split_whitespace().next()?)
    });
    if let Some(id) = case_line {
        return check(&id, "the quoted team copy");
    }
    let mut named: Vec<CaseId> = Vec::new();
    for word in parsed
        .text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
    {
        if let Some(id) = CaseId::parse(prefix, word) {
            if !named.contains(&id) {
                named.push(id);
            }
        }
    }
    match named.as_slice() {
        [one] => check(one, "the signed text"),
        [] => Err(format!(
            "the signed text names no case: commands act only on a case named inside the signature — reply quoting the team copy, or add a line /case {threaded}"
        )),
        several => Err(format!(
            "the signed text names several cases ({}): add a line /case {threaded} to say which one the commands are for",
            several.iter().map(CaseId::as_str).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// An answer to a member's command mail threads under it (RFC 5322 §3.6.4) and names it inside
/// the encryption — its date and subject — so that of three command mails the member can tell
/// which one this answers (issue 11.8).
fn answering(mut d: Draft, inc: &Incoming) -> Draft {
    if let Some(id) = &inc.headers.message_id {
        d.in_reply_to = Some(id.clone());
        d.references = inc.headers.references.clone();
        d.references.push(id.clone());
    }
    let subject = inc
        .opened
        .and_then(|o| o.protected.subject.clone())
        .or_else(|| inc.headers.subject.clone())
        .unwrap_or_else(|| "(no subject)".into());
    let named = format!(
        "\"{}\"{}",
        super::one_line(&subject),
        inc.headers
            .date
            .as_deref()
            .map(|t| format!(", sent {t}"))
            .unwrap_or_default()
    );
    if let Some(map) = d.vars.as_object_mut() {
        map.insert("answering".into(), serde_json::Value::String(named));
    }
    d
}
