//! Announce: the announcement (`/disclose`) and what is said when the embargo ends, by
//! disclosure or by a leak: to the announce list, to the reporters, and to each distributor that
//! was sent a notice (DESIGN.md "Distributors and advance notice", "Cases" for the credit).
//!
//! Invariants: the announcement is signed, not encrypted, and credits the reporters as they
//! chose; a reporter's message quotes nothing of the report and names no distributor; each
//! distributor hears the end of the embargo encrypted to its cert alone.
use super::notice::{notice, usable_cert};
use super::{refuse, sent_event, Ctx, Effects, Refusal};
use crate::core::apply::base_vars;
use crate::core::draft::{self, Draft, Kind};
use crate::core::keys;
use crate::core::parse::Mailbox;
use crate::core::settings::Settings;
use crate::model::{Case, Credit, DistributorId, EventKind, State};
use serde_json::json;
use std::time::SystemTime;

/// `/disclose`: the announcement (signed, not encrypted) to the announce address, crediting
/// the reporter as they chose; reporter and notified distributors told the embargo is over;
/// the case becomes disclosed and the advisories are written.
pub fn disclose(
    case: &mut Case,
    text: Option<&str>,
    force: bool,
    ctx: &Ctx,
) -> Result<Effects, Refusal> {
    let Some(announce) = ctx.config.project.announce_address.clone() else {
        return refuse("no announce address: set [project] announce-address in the configuration");
    };
    if case.state.is_closed() || case.state == State::Disclosed {
        return refuse(format!("{} is already {}", case.id, case.state));
    }
    if let Some(e) = &case.embargo {
        if !e.public && e.until > ctx.now && !force {
            return refuse(format!(
                "the embargo runs until {}: distributors were promised that date; wait, or /disclose force",
                ctx.policy.human(e.until)
            ));
        }
    }
    if let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) {
        case.disclosure.text = Some(t.to_string());
    }
    let Some(body) = case.disclosure.text.clone() else {
        return refuse("an announcement needs text: write it below the command line (or send /notify-distributors with it first)");
    };
    let mut fx = Effects::default();
    let credit = credit_line(case);
    let id = draft::message_id(
        Kind::Announcement,
        Some(&case.id),
        &format!("announce/{}", ctx.cause),
        &announce,
        &ctx.config.project,
    );
    let vars = base_vars(
        ctx.config,
        Some(case),
        json!({
            "text": body,
            "credit": credit,
            "affected": crate::model::versions::join(&case.affected),
            "fixed": crate::model::versions::join(&case.fixed),
            "cve": case.cve,
            "severity": case.severity.map(|s| format!("{s:?}").to_lowercase()),
        }),
    );
    let announcement = Draft {
        kind: Kind::Announcement,
        case_id: Some(case.id.clone()),
        to: Mailbox {
            address: announce.clone(),
            name: None,
        },
        encrypt_to: None,
        vars,
        subject: advisory_subject(case, ctx.config),
        inner_subject: None,
        in_reply_to: None,
        references: Vec::new(),
        reply_to: Some(ctx.config.project.security_address.clone()),
        message_id: id,
        attachments: Vec::new(),
        language: None,
    };
    sent_event(case, &announcement, ctx);
    case.push(
        ctx.now,
        ctx.actor,
        EventKind::Disclosed {
            announce_message_id: announcement.message_id.clone(),
        },
    );
    fx.drafts.push(announcement);
    fx.said.push(format!("announcement sent to {announce}"));
    // Credit is asked, not assumed (issue 13.5): say whom the announcement names, and who
    // was not named because they never said how.
    fx.said.push(match &credit {
        Some(c) => format!("credited: {c}"),
        None => "nobody credited".into(),
    });
    let undecided: Vec<&str> = case
        .reporters
        .iter()
        .filter(|r| r.credit == Credit::Undecided)
        .map(|r| r.address.as_str())
        .collect();
    if !undecided.is_empty() {
        fx.said.push(format!(
            "not credited, as they did not say how: {} (/credit ADDRESS NAME before /disclose names them)",
            undecided.join(", ")
        ));
    }
    let text = "The issue you reported has now been disclosed; the embargo is over.\nThank you for reporting it to us and for keeping it confidential\nuntil now.";
    let told = to_reporters(case, Kind::EmbargoOver, "disclosed", text, ctx);
    for d in &told {
        sent_event(case, d, ctx);
    }
    fx.drafts.extend(told);
    fx.drafts.extend(embargo_over(case, false, ctx));
    case.disclosure.disclosed_at = Some(ctx.now);
    case.set_state(ctx.now, ctx.actor, State::Disclosed);
    fx.write_advisories = true;
    fx.said
        .push("reporter and notified distributors told the embargo is over".into());
    Ok(fx)
}

/// The embargo is over (disclosed or leaked): every distributor that was sent a notice about
/// the case hears it, encrypted to them alone.
pub(super) fn embargo_over(case: &mut Case, leaked: bool, ctx: &Ctx) -> Vec<Draft> {
    let mut out = Vec::new();
    let ids: Vec<DistributorId> = case
        .disclosure
        .notified
        .iter()
        .map(|n| n.distributor.clone())
        .fold(Vec::new(), |mut v, id| {
            if !v.contains(&id) {
                v.push(id);
            }
            v
        });
    let Some(embargo) = case.embargo.clone() else {
        return out;
    };
    for d in ctx.distributors.iter().filter(|d| ids.contains(&d.id)) {
        let Ok(cert) = usable_cert(d, ctx.now) else {
            continue;
        };
        let mut draft = notice(case, d, cert, Kind::EmbargoOver, &embargo, ctx);
        if let Some(v) = draft.vars.as_object_mut() {
            v.insert("leaked".into(), json!(leaked));
        }
        sent_event(case, &draft, ctx);
        case.add_message_id(&draft.message_id);
        out.push(draft);
    }
    out
}

/// A short message to each reporter of the case, encrypted when their cert is known. Quotes
/// nothing of the report and names no distributor.
pub(super) fn to_reporters(
    case: &Case,
    kind: Kind,
    cause: &str,
    text: &str,
    ctx: &Ctx,
) -> Vec<Draft> {
    let sys: SystemTime = ctx.now.into();
    case.reporters
        .iter()
        .map(|r| {
            let cert = r
                .cert
                .as_deref()
                .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
                .filter(|c| keys::usable_for_encryption(c, sys).is_ok());
            let subject = match kind {
                Kind::DisclosureDate => format!("[{}] Planned disclosure date", case.id),
                _ => format!("[{}] The embargo is over", case.id),
            };
            Draft {
                kind,
                case_id: Some(case.id.clone()),
                to: Mailbox {
                    address: r.address.clone(),
                    name: r.name.clone(),
                },
                vars: base_vars(
                    ctx.config,
                    Some(case),
                    json!({
                        "reporter_name": r.name,
                        "text": text,
                        "date": case.embargo.as_ref().map(|e| ctx.policy.human(e.until)),
                        "encrypted": cert.is_some(),
                        "distributor": null,
                        "leaked": case.embargo.as_ref().is_some_and(|e| e.public),
                    }),
                ),
                inner_subject: cert.is_some().then(|| subject.clone()),
                encrypt_to: cert,
                subject,
                in_reply_to: None,
                references: Vec::new(),
                reply_to: Some(ctx.config.project.case_address(case.id.as_str())),
                message_id: draft::message_id(
                    kind,
                    Some(&case.id),
                    cause,
                    &r.address,
                    &ctx.config.project,
                ),
                attachments: Vec::new(),
                language: r.language.clone(),
            }
        })
        .collect()
}

/// How the announcement credits the reporters (DESIGN.md "Cases": name / handle / anonymous).
/// `None` when nobody is to be named: every reporter anonymous or not asked yet (issue 13.5:
/// the From display name is no consent). An address is never published: `name` without a
/// display name is its local part.
pub fn credit_line(case: &Case) -> Option<String> {
    let names = crate::core::advisory::credits(case);
    (!names.is_empty()).then(|| names.join(", "))
}

fn advisory_subject(case: &Case, config: &Settings) -> String {
    match &case.cve {
        Some(cve) => format!(
            "[{}] {} security advisory ({cve})",
            case.id, config.project.name
        ),
        None => format!("[{}] {} security advisory", case.id, config.project.name),
    }
}
