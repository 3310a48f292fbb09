//! Notice: the advance and final notices to distributors (`/notify-distributors` and the
//! timers; DESIGN.md "Distributors and advance notice"), and how each is recorded or refused.
//!
//! Invariants: each distributor gets its own draft, encrypted to its cert alone, naming no other
//! distributor; one without a usable cert gets nothing and the team is told; a notice earlier
//! than a distributor's cap allows is refused with the reason, and the timers send it later.
use super::announce::to_reporters;
use super::{refuse, sent_event, Ctx, Effects, Refusal};
use crate::core::apply::{alert, base_vars};
use crate::core::decrypt::Attachment;
use crate::core::draft::{self, Draft, Kind};
use crate::core::keys::{self, Cert};
use crate::core::parse::Mailbox;
use crate::model::{
    Case, Distributor, DistributorId, Embargo, EventKind, NoticeKind, Notified, State,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::SystemTime;

/// Which notice a distributor is owed, and whether it may go now.
fn cap_allows(d: &Distributor, until: DateTime<Utc>, ctx: &Ctx) -> Result<(), String> {
    let now = ctx.now;
    match d.cap() {
        Some(cap) if until - now > cap => Err(format!(
            "the date is {} days away and this list accepts at most {} days of embargo: its notice goes out from {}",
            (until - now).num_days(),
            cap.num_days(),
            until
                .checked_sub_signed(cap)
                .map(|t| ctx.policy.human(t))
                .unwrap_or_else(|| "a later date".into())
        )),
        _ => Ok(()),
    }
}

pub(super) fn usable_cert(d: &Distributor, now: DateTime<Utc>) -> Result<Cert, String> {
    let armored = d.cert.as_deref().ok_or("no cert on file")?;
    let cert = keys::parse_cert(armored.as_bytes()).map_err(|e| e.to_string())?;
    let sys: SystemTime = now.into();
    keys::usable_for_encryption(&cert, sys)?;
    Ok(cert)
}

/// `/notify-distributors` (or the timer): the advance notice, one message per distributor,
/// each encrypted to that distributor alone; the reporter told the date at the same time; the
/// case becomes pre-notified. `only_due`: the timer's call, which leaves out distributors whose
/// cap does not allow it yet and those already refused for want of a cert, instead of refusing
/// them again.
pub fn advance_notice(
    case: &mut Case,
    text: Option<&str>,
    only_due: bool,
    ctx: &Ctx,
) -> Result<Effects, Refusal> {
    let Some(embargo) = case.embargo.clone() else {
        return refuse(format!(
            "{} has no disclosure date: set one with /embargo YYYY-MM-DD first",
            case.id
        ));
    };
    if embargo.public {
        return refuse("the embargo is over (the issue is public): use /disclose");
    }
    if case.state.is_closed() || case.state == State::Disclosed {
        return refuse(format!("{} is {}", case.id, case.state));
    }
    if embargo.until <= ctx.now {
        return refuse(format!(
            "the disclosure date {} has passed: set a new one or /disclose",
            ctx.policy.human(embargo.until)
        ));
    }
    if let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) {
        case.disclosure.text = Some(t.to_string());
    }
    if case.disclosure.text.is_none() {
        return refuse("an advance notice needs a description and remedy steps: write them below the command line");
    }
    let mut fx = Effects::default();
    let mut no_cert = Vec::new();
    let mut sent = 0;
    for d in ctx
        .distributors
        .iter()
        .filter(|d| d.takes(NoticeKind::Advance))
    {
        if case
            .disclosure
            .sent_for(&d.id, NoticeKind::Advance, embargo.until)
        {
            continue;
        }
        if let Err(why) = cap_allows(d, embargo.until, ctx) {
            if !only_due {
                refused(case, d, NoticeKind::Advance, &why, ctx);
                fx.said
                    .push(format!("{} ({}): refused: {why}", d.name, d.id));
            }
            continue;
        }
        let cert = match usable_cert(d, ctx.now) {
            Ok(c) => c,
            Err(why) => {
                if !(only_due && refused_before(case, &d.id, NoticeKind::Advance)) {
                    let why = format!("no usable cert ({why}): nothing was sent");
                    refused(case, d, NoticeKind::Advance, &why, ctx);
                    no_cert.push(format!("{} <{}> ({})", d.name, d.address, d.id));
                }
                continue;
            }
        };
        let draft = notice(case, d, cert, Kind::AdvanceNotice, &embargo, ctx);
        record(case, d, NoticeKind::Advance, &draft, ctx);
        fx.drafts.push(draft);
        sent += 1;
    }
    if !no_cert.is_empty() {
        let text = format!(
            "{}: these distributors have no usable OpenPGP cert and were sent NO advance notice:\n  {}\nAdd a cert (/distributors add ADDRESS with the key attached) and send /notify-distributors again.",
            case.id,
            no_cert.join("\n  ")
        );
        fx.drafts.extend(alert(
            ctx.config,
            &format!("{}/no-cert/{}", case.id, ctx.cause),
            "distributor without a cert",
            &text,
            None,
        ));
        fx.said.push(format!(
            "{} distributor(s) without a usable cert got nothing; the team was told",
            no_cert.len()
        ));
    }
    // The reporter hears the date at the same time (pyca policy), once per date.
    let date_text = format!(
        "We plan to disclose the issue you reported on\n  {}.\nUntil then please keep it confidential, and tell us if the date\ndoes not work for you.",
        ctx.policy.human(embargo.until)
    );
    let told = to_reporters(
        case,
        Kind::DisclosureDate,
        &format!("date/{}", embargo.until.timestamp()),
        &date_text,
        ctx,
    );
    let told: Vec<Draft> = told
        .into_iter()
        .filter(|d| !case.message_ids.contains(&d.message_id))
        .collect();
    for d in &told {
        sent_event(case, d, ctx);
    }
    if !told.is_empty() {
        fx.said.push(format!(
            "reporter told the date ({})",
            ctx.policy.human(embargo.until)
        ));
    }
    fx.drafts.extend(told);
    if sent > 0 || !only_due {
        fx.said
            .push(format!("advance notice sent to {sent} distributor(s)"));
    }
    if matches!(
        case.state,
        State::New | State::Triage | State::Confirmed | State::Fixing | State::FixReady
    ) {
        case.set_state(ctx.now, ctx.actor, State::PreNotified);
    }
    Ok(fx)
}

/// The final notice, 24 hours before the date, to those who got the advance notice.
pub fn final_notice(case: &mut Case, ctx: &Ctx) -> Effects {
    let mut fx = Effects::default();
    let Some(embargo) = case.embargo.clone() else {
        return fx;
    };
    let owed: Vec<&Distributor> = ctx
        .distributors
        .iter()
        .filter(|d| {
            d.takes(NoticeKind::Final)
                && case
                    .disclosure
                    .sent_for(&d.id, NoticeKind::Advance, embargo.until)
                && !case
                    .disclosure
                    .sent_for(&d.id, NoticeKind::Final, embargo.until)
        })
        .collect();
    for d in owed {
        let Ok(cert) = usable_cert(d, ctx.now) else {
            continue;
        };
        let draft = notice(case, d, cert, Kind::FinalNotice, &embargo, ctx);
        record(case, d, NoticeKind::Final, &draft, ctx);
        fx.drafts.push(draft);
    }
    if !fx.drafts.is_empty() {
        fx.said.push(format!(
            "final notice sent to {} distributor(s)",
            fx.drafts.len()
        ));
    }
    fx
}

/// One notice to one distributor, encrypted to its cert alone. Its variables name that
/// distributor and no other.
pub(super) fn notice(
    case: &Case,
    d: &Distributor,
    cert: Cert,
    kind: Kind,
    embargo: &Embargo,
    ctx: &Ctx,
) -> Draft {
    let patches: Vec<Attachment> = if kind == Kind::AdvanceNotice {
        ctx.patches.to_vec()
    } else {
        Vec::new()
    };
    let vars = base_vars(
        ctx.config,
        Some(case),
        json!({
            "distributor": d.name,
            "text": case.disclosure.text.clone().unwrap_or_default(),
            "date": ctx.policy.human(embargo.until),
            "affected": crate::model::versions::join(&case.affected),
            "fixed": crate::model::versions::join(&case.fixed),
            "cve": case.cve,
            "severity": case.severity.map(|s| format!("{s:?}").to_lowercase()),
            "patches": patches.iter().map(|p| p.filename.clone().unwrap_or_else(|| "(unnamed)".into())).collect::<Vec<_>>(),
            "leaked": embargo.public,
            "reporter_name": null,
        }),
    );
    let phrase = match kind {
        Kind::AdvanceNotice => "Embargoed security advance notice",
        Kind::FinalNotice => "Embargoed security notice: disclosure in 24 hours",
        _ => "Security notice: the embargo is over",
    };
    Draft {
        kind,
        case_id: Some(case.id.clone()),
        to: Mailbox {
            address: d.address.clone(),
            name: Some(d.name.clone()),
        },
        encrypt_to: Some(cert),
        vars,
        subject: format!("[{}] {phrase}", case.id),
        inner_subject: Some(format!(
            "[{}] {} {phrase}",
            case.id, ctx.config.project.name
        )),
        in_reply_to: None,
        references: Vec::new(),
        reply_to: Some(ctx.config.project.case_address(case.id.as_str())),
        message_id: draft::message_id(
            kind,
            Some(&case.id),
            &format!("{}/{}", embargo.until.timestamp(), ctx.cause),
            &d.address,
            &ctx.config.project,
        ),
        attachments: patches,
        // Distributors are not reporters: the policy default language.
        language: None,
    }
}

fn record(case: &mut Case, d: &Distributor, kind: NoticeKind, draft: &Draft, ctx: &Ctx) {
    sent_event(case, draft, ctx);
    let until = case.embargo.as_ref().map(|e| e.until).unwrap_or(ctx.now);
    case.disclosure.notified.push(Notified {
        distributor: d.id.clone(),
        address: d.address.clone(),
        kind,
        at: ctx.now,
        message_id: draft.message_id.clone(),
        until: Some(until),
    });
}

fn refused(case: &mut Case, d: &Distributor, kind: NoticeKind, why: &str, ctx: &Ctx) {
    case.push(
        ctx.now,
        ctx.actor,
        EventKind::NoticeRefused {
            distributor: d.id.to_string(),
            kind: kind.as_str().into(),
            reason: why.to_string(),
        },
    );
}

pub(super) fn refused_before(case: &Case, id: &DistributorId, kind: NoticeKind) -> bool {
    case.timeline.iter().any(|e| {
        matches!(&e.kind, EventKind::NoticeRefused { distributor, kind: k, reason }
            if distributor == id.as_str() && k == kind.as_str() && reason.starts_with("no usable cert"))
    })
}
