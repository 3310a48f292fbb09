//! Disclose: coordinated disclosure as pure functions of (case, distributor list, policy, now):
//! setting the embargo, advance and final notices to distributors, the announcement, and the
//! timers that drive them (DESIGN.md "Distributors and advance notice"; the pyca/cryptography
//! policy in shared/seeds/002: notice about a week before, reporter told the date at the same
//! time, announcement crediting the reporter).
//!
//! Invariants:
//! - A notice goes to each distributor as its own draft, encrypted to that distributor's cert
//!   alone; a distributor without a usable cert gets nothing and the team is told. No draft for
//!   anyone outside the team names a distributor (the list is confidential).
//! - A notice that would go out earlier than a distributor's cap allows is refused with the
//!   reason; the timers send it once the cap allows.
//! - Every function validates before it changes the case: a refusal leaves it untouched.
//! - Times are UTC. A date without a time means [`Rules::time`] (16:00 UTC); a date from Friday
//!   to Sunday is refused unless forced.
use super::apply::{alert, base_vars};
use super::calendar::{Calendar, Span};
use super::command::{DisclosureCommand, ListCommand, When};
use super::decrypt::Attachment;
use super::draft::{self, Draft, Kind};
use super::keys::{self, Cert};
use super::parse::Mailbox;
use crate::core::settings::Settings;
use crate::model::{
    Case, Credit, Distributor, DistributorId, Embargo, EventKind, NoticeKind, Notified, State,
};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde_json::json;
use std::time::SystemTime;

/// The rules every disclosure step applies: the disclosure side of the project's published
/// [`Policy`](crate::core::settings::Policy) (DESIGN.md "Policies and timers"), read from its
/// `[policy]` section by [`policy_of`], with the fixed rules the section does not set (the
/// final notice, weekends, the default time). There is one policy, `settings::Policy`; this is
/// what disclosure derives from it, hence not a second `Policy`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How long before the date the advance notice goes out (pyca: about a week).
    pub advance_notice: Span,
    /// How long before the date the final notice goes out.
    pub final_notice: Duration,
    /// The longest embargo the policy allows; a later date needs `force`.
    pub max_embargo: Option<Span>,
    /// Refuse dates from Friday to Sunday (in the calendar's zone) unless forced.
    pub avoid_weekend: bool,
    /// The time of day (UTC) of a date given without one.
    pub time: NaiveTime,
    /// Working days and the zone that working-day spans are counted in.
    pub calendar: Calendar,
}

impl Rules {
    /// When the advance notice for a disclosure at `until` is due.
    pub fn notice_at(&self, until: DateTime<Utc>) -> DateTime<Utc> {
        self.calendar.sub(until, self.advance_notice)
    }

    /// When the final notice is due.
    pub fn final_at(&self, until: DateTime<Utc>) -> DateTime<Utc> {
        until
            .checked_sub_signed(self.final_notice)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The latest disclosure date the policy allows for an embargo set at `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.max_embargo.map(|m| self.calendar.add(now, m))
    }
}

impl Default for Rules {
    /// A week of advance notice (pyca), 24 hours of final notice, at most 90 days of embargo,
    /// Monday to Thursday at 16:00 UTC.
    fn default() -> Rules {
        Rules {
            advance_notice: Span::Clock(Duration::days(7)),
            final_notice: Duration::hours(24),
            max_embargo: Some(Span::Clock(Duration::days(90))),
            avoid_weekend: true,
            time: NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default(),
            calendar: Calendar::default(),
        }
    }
}

/// The disclosure rules of a configuration: `[policy] advance-notice` and `max-embargo` (and
/// its calendar) where set, the defaults of [`Rules::default`] otherwise.
pub fn policy_of(config: &Settings) -> Rules {
    let p = &config.policy;
    let d = Rules::default();
    Rules {
        advance_notice: p.advance_notice.unwrap_or(d.advance_notice),
        max_embargo: p.max_embargo.or(d.max_embargo),
        calendar: p.calendar.clone(),
        ..d
    }
}

/// The moment a [`When`] names, under the policy's default time.
pub fn resolve(when: When, policy: &Rules) -> DateTime<Utc> {
    match when {
        When::Day(d) => Utc.from_utc_datetime(&d.and_time(policy.time)),
        When::At(t) => t,
    }
}

/// Why a command or notice was not carried out; said to the team member, changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

/// What a disclosure step leads to besides the changed case.
#[derive(Debug, Default)]
pub struct Effects {
    pub drafts: Vec<Draft>,
    /// One line each for the confirmation to the team (team-internal: may name distributors).
    pub said: Vec<String>,
    /// Write the OSV and CSAF advisories (the case was disclosed).
    pub write_advisories: bool,
}

/// What every step needs besides the case.
pub struct Ctx<'a> {
    pub config: &'a Settings,
    pub policy: &'a Rules,
    /// The distributor list, as stored.
    pub distributors: &'a [Distributor],
    /// The team member who asked, or "secmail" for a timer.
    pub actor: &'a str,
    /// Patches for the advance notice: the attachments of the command mail (or, for a timer,
    /// those kept from it).
    pub patches: &'a [Attachment],
    /// What caused this step (a message hash or a timer name): Message-IDs derive from it.
    pub cause: &'a str,
    pub now: DateTime<Utc>,
}

/// Checks a requested date against the policy: not in the past, not Friday to Sunday, not past
/// the policy's maximum, unless forced (DESIGN.md "Distributors and advance notice").
pub fn check_date(
    until: DateTime<Utc>,
    force: bool,
    policy: &Rules,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if until <= now {
        return refuse(format!(
            "{} is in the past; for a leaked issue use /embargo public",
            human(until)
        ));
    }
    if force {
        return Ok(());
    }
    let local = until.with_timezone(&policy.calendar.zone);
    if policy.avoid_weekend && matches!(local.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun)
    {
        return refuse(format!(
            "{} is a {}: disclosures avoid Friday to Sunday, when few people can patch; choose Monday to Thursday, or add `force`",
            human(until),
            local.format("%A")
        ));
    }
    if let Some(latest) = policy.latest(now) {
        if until > latest {
            return refuse(format!(
                "{} is past the policy's maximum embargo of {} (latest {}); add `force` to go beyond it",
                human(until),
                policy.max_embargo.map(|m| m.describe()).unwrap_or_default(),
                human(latest)
            ));
        }
    }
    Ok(())
}

/// `/embargo DATE`: sets (or moves) the disclosure date. Confirmed to the team; distributors
/// already notified of another date get a new advance notice from the timers or the next
/// `/notify-distributors`.
pub fn set_embargo(
    case: &mut Case,
    when: When,
    force: bool,
    need_to_know: &[String],
    ctx: &Ctx,
) -> Result<Effects, Refusal> {
    closed_check(case)?;
    let until = resolve(when, ctx.policy);
    check_date(until, force, ctx.policy, ctx.now)?;
    // Given: the new list; not given: the list stays.
    let need_to_know = if need_to_know.is_empty() {
        case.embargo
            .as_ref()
            .map(|e| e.need_to_know.clone())
            .unwrap_or_default()
    } else {
        need_to_know.to_vec()
    };
    let moved = case.embargo.as_ref().map(|e| e.until);
    case.embargo = Some(Embargo {
        until,
        asked_by: ctx.actor.to_string(),
        set_at: ctx.now,
        need_to_know,
        max_secs: ctx
            .policy
            .latest(ctx.now)
            .map(|l| (l - ctx.now).num_seconds()),
        forced: force,
        public: false,
    });
    case.disclosure.not_ready_reminded = false;
    case.disclosure.expiry_reminded = false;
    case.push(
        ctx.now,
        ctx.actor,
        EventKind::EmbargoSet {
            until,
            forced: force,
            public: false,
        },
    );
    let mut fx = Effects::default();
    fx.said.push(match moved {
        Some(old) => format!("embargo moved from {} to {}", human(old), human(until)),
        None => format!("embargo set: disclosure {}", human(until)),
    });
    fx.said.push(format!(
        "advance notice due {} (when the case is fix-ready)",
        human(ctx.policy.notice_at(until))
    ));
    if let Some(e) = &case.embargo {
        if !e.need_to_know.is_empty() {
            fx.said
                .push(format!("need to know: {}", e.need_to_know.join(", ")));
        }
    }
    Ok(fx)
}

/// `/embargo public`: the issue leaked. The reporter is told at once, distributors already
/// notified are told the embargo is over, and disclosure is planned now.
pub fn embargo_public(case: &mut Case, ctx: &Ctx) -> Result<Effects, Refusal> {
    closed_check(case)?;
    let need_to_know = case
        .embargo
        .as_ref()
        .map(|e| e.need_to_know.clone())
        .unwrap_or_default();
    case.embargo = Some(Embargo {
        until: ctx.now,
        asked_by: ctx.actor.to_string(),
        set_at: ctx.now,
        need_to_know,
        max_secs: ctx
            .policy
            .latest(ctx.now)
            .map(|l| (l - ctx.now).num_seconds()),
        forced: true,
        public: true,
    });
    case.push(
        ctx.now,
        ctx.actor,
        EventKind::EmbargoSet {
            until: ctx.now,
            forced: true,
            public: true,
        },
    );
    let mut fx = Effects::default();
    let text = "The issue you reported has become public before the agreed date.\nWe are preparing the disclosure now and will tell you when the\nadvisory is out.";
    fx.drafts
        .extend(to_reporters(case, Kind::EmbargoOver, "leaked", text, ctx));
    fx.drafts.extend(embargo_over(case, true, ctx));
    // The whole team hears of a leak, not only the member who said it.
    fx.drafts.extend(alert(
        ctx.config,
        &format!("{}/leaked/{}", case.id, ctx.cause),
        "embargo broken",
        &format!(
            "{}: the issue is public (said by {}). The reporter was told; plan the disclosure now (/disclose).",
            case.id, ctx.actor
        ),
        None,
    ));
    fx.said
        .push("embargo lifted: the issue is public; reporter and team told".into());
    Ok(fx)
}

/// The shorter of two embargoes (DESIGN.md "Team commands": `/duplicate`, shortest embargo of
/// the two wins). A public (leaked) one is always the shorter.
pub fn shorter<'a>(a: Option<&'a Embargo>, b: Option<&'a Embargo>) -> Option<&'a Embargo> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.until < a.until { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// `/duplicate`: both cases end with the shorter of their two embargoes (DESIGN.md "Team
/// commands"; NTPsec's policy: "shortest embargo wins"). A change is an `EmbargoSet` event on
/// the case whose date moved.
pub fn duplicate_embargo(
    original: &mut Case,
    duplicate: &mut Case,
    actor: &str,
    now: DateTime<Utc>,
) {
    let Some(won) = shorter(original.embargo.as_ref(), duplicate.embargo.as_ref()).cloned() else {
        return;
    };
    for case in [original, duplicate] {
        if case.embargo.as_ref().map(|e| e.until) != Some(won.until) {
            case.embargo = Some(Embargo {
                need_to_know: case
                    .embargo
                    .as_ref()
                    .map(|e| e.need_to_know.clone())
                    .unwrap_or_else(|| won.need_to_know.clone()),
                ..won.clone()
            });
            case.disclosure.expiry_reminded = false;
            case.push(
                now,
                actor,
                EventKind::EmbargoSet {
                    until: won.until,
                    forced: won.forced,
                    public: won.public,
                },
            );
        }
    }
}

fn closed_check(case: &Case) -> Result<(), Refusal> {
    if case.state.is_closed() || case.state == State::Disclosed {
        return refuse(format!(
            "{} is {}: no embargo to change",
            case.id, case.state
        ));
    }
    Ok(())
}

/// Which notice a distributor is owed, and whether it may go now.
fn cap_allows(d: &Distributor, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    match d.cap() {
        Some(cap) if until - now > cap => Err(format!(
            "the date is {} days away and this list accepts at most {} days of embargo: its notice goes out from {}",
            (until - now).num_days(),
            cap.num_days(),
            until
                .checked_sub_signed(cap)
                .map(human)
                .unwrap_or_else(|| "a later date".into())
        )),
        _ => Ok(()),
    }
}

fn usable_cert(d: &Distributor, now: DateTime<Utc>) -> Result<Cert, String> {
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
            human(embargo.until)
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
        if let Err(why) = cap_allows(d, embargo.until, ctx.now) {
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
        human(embargo.until)
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
        fx.said
            .push(format!("reporter told the date ({})", human(embargo.until)));
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
                human(e.until)
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
            "affected": case.affected.join(", "),
            "fixed": case.fixed.join(", "),
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
fn embargo_over(case: &mut Case, leaked: bool, ctx: &Ctx) -> Vec<Draft> {
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

/// One notice to one distributor, encrypted to its cert alone. Its variables name that
/// distributor and no other.
fn notice(
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
            "date": human(embargo.until),
            "affected": case.affected.join(", "),
            "fixed": case.fixed.join(", "),
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
    }
}

/// A short message to each reporter of the case, encrypted when their cert is known. Quotes
/// nothing of the report and names no distributor.
fn to_reporters(case: &Case, kind: Kind, cause: &str, text: &str, ctx: &Ctx) -> Vec<Draft> {
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
                        "date": case.embargo.as_ref().map(|e| human(e.until)),
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
            }
        })
        .collect()
}

fn sent_event(case: &mut Case, d: &Draft, ctx: &Ctx) {
    case.push(
        ctx.now,
        "secmail",
        EventKind::Sent {
            message_id: d.message_id.clone(),
            kind: d.kind.as_str().into(),
            to: d.to.address.clone(),
            encrypted: d.encrypt_to.is_some(),
        },
    );
    case.add_message_id(&d.message_id);
    if matches!(d.kind, Kind::DisclosureDate | Kind::EmbargoOver)
        && case.reporter(&d.to.address).is_some()
    {
        case.last_reporter_update = Some(ctx.now);
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

fn refused_before(case: &Case, id: &DistributorId, kind: NoticeKind) -> bool {
    case.timeline.iter().any(|e| {
        matches!(&e.kind, EventKind::NoticeRefused { distributor, kind: k, reason }
            if distributor == id.as_str() && k == kind.as_str() && reason.starts_with("no usable cert"))
    })
}

/// How the announcement credits the reporters (DESIGN.md "Cases": name / handle / anonymous).
/// `None` when every reporter chose to stay anonymous.
pub fn credit_line(case: &Case) -> Option<String> {
    let names: Vec<String> = case
        .reporters
        .iter()
        .filter_map(|r| match &r.credit {
            Credit::Anonymous => None,
            Credit::Handle(h) => Some(h.clone()),
            Credit::Name => Some(r.name.clone().unwrap_or_else(|| r.address.clone())),
        })
        .collect();
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

/// `Tuesday 2026-12-08 16:00 UTC`: how dates are written to people.
pub fn human(t: DateTime<Utc>) -> String {
    t.format("%A %Y-%m-%d %H:%M UTC").to_string()
}

/// A disclosure timer that is due (DESIGN.md "Distributors and advance notice").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The policy's lead time has come and the case is fix-ready (or already pre-notified and
    /// a distributor is owed its notice, e.g. one whose cap now allows it or one newly added).
    AdvanceNotice,
    /// The lead time has come but the case is not fix-ready (or has no description for the
    /// notice): remind the team, once per date.
    NotReady,
    /// 24 hours before the date.
    FinalNotice,
    /// The date has passed without `/disclose`: remind the team and tell the reporter, once.
    Expired,
}

/// When a distributor's advance notice may go: the policy's lead time, or later when its cap
/// is shorter. A cap too large for the calendar never delays it.
fn window_opens(d: &Distributor, until: DateTime<Utc>, policy: &Rules) -> DateTime<Utc> {
    let lead = policy.notice_at(until);
    match d.cap().and_then(|c| until.checked_sub_signed(c)) {
        Some(capped) => lead.max(capped),
        None => lead,
    }
}

/// The timers due for a case at `now`.
pub fn due(
    case: &Case,
    distributors: &[Distributor],
    policy: &Rules,
    now: DateTime<Utc>,
) -> Vec<Timer> {
    let mut out = Vec::new();
    let Some(e) = &case.embargo else {
        return out;
    };
    if case.state.is_closed() || case.state == State::Disclosed {
        return out;
    }
    if e.until <= now {
        if !case.disclosure.expiry_reminded {
            out.push(Timer::Expired);
        }
        return out;
    }
    if e.public {
        return out;
    }
    let lead_reached = now >= policy.notice_at(e.until);
    let ready = matches!(case.state, State::FixReady | State::PreNotified);
    let has_text = case.disclosure.text.is_some();
    if lead_reached && !(ready && has_text) && !case.disclosure.not_ready_reminded {
        out.push(Timer::NotReady);
    }
    if ready && has_text {
        let owed = distributors.iter().any(|d| {
            d.takes(NoticeKind::Advance)
                && !case
                    .disclosure
                    .sent_for(&d.id, NoticeKind::Advance, e.until)
                && !refused_before(case, &d.id, NoticeKind::Advance)
                && now >= window_opens(d, e.until, policy)
        });
        if owed {
            out.push(Timer::AdvanceNotice);
        }
    }
    if now >= policy.final_at(e.until) {
        let owed = distributors.iter().any(|d| {
            d.takes(NoticeKind::Final)
                && case
                    .disclosure
                    .sent_for(&d.id, NoticeKind::Advance, e.until)
                && !case.disclosure.sent_for(&d.id, NoticeKind::Final, e.until)
        });
        if owed {
            out.push(Timer::FinalNotice);
        }
    }
    out
}

/// Carries out a due timer. Drafts for the team are team alerts.
pub fn on_timer(case: &mut Case, timer: Timer, ctx: &Ctx) -> Effects {
    match timer {
        Timer::AdvanceNotice => advance_notice(case, None, true, ctx).unwrap_or_default(),
        Timer::FinalNotice => final_notice(case, ctx),
        Timer::NotReady => {
            case.disclosure.not_ready_reminded = true;
            let until = case
                .embargo
                .as_ref()
                .map(|e| human(e.until))
                .unwrap_or_default();
            let why = if matches!(case.state, State::FixReady | State::PreNotified) {
                "there is no description for it yet".to_string()
            } else {
                format!("the case is {}, not fix-ready", case.state)
            };
            let what = format!(
                "{}: the advance notice to distributors is due now (disclosure {until}), but {why}. Set /state fix-ready and send /notify-distributors with the description and remedy below it and the patches attached, or move the date with /embargo.",
                case.id
            );
            case.push(
                ctx.now,
                "secmail",
                EventKind::Reminder {
                    what: "advance notice due, not fix-ready".into(),
                },
            );
            Effects {
                drafts: alert(
                    ctx.config,
                    &format!("{}/not-ready/{until}", case.id),
                    "advance notice due",
                    &what,
                    None,
                ),
                said: vec!["team reminded: advance notice due, case not fix-ready".into()],
                write_advisories: false,
            }
        }
        Timer::Expired => {
            case.disclosure.expiry_reminded = true;
            let until = case.embargo.as_ref().map(|e| e.until).unwrap_or(ctx.now);
            let what = format!(
                "{}: the embargo ended {} and the case is not disclosed. Publish with /disclose (the announcement goes to the announce list).",
                case.id,
                human(until)
            );
            case.push(
                ctx.now,
                "secmail",
                EventKind::Reminder {
                    what: "embargo over, not disclosed".into(),
                },
            );
            let mut drafts = alert(
                ctx.config,
                &format!("{}/expired/{}", case.id, until.timestamp()),
                "embargo over",
                &what,
                None,
            );
            let text = "The agreed embargo date for the issue you reported has been reached.\nWe are publishing the advisory; you are free to discuss the issue\nonce it is out.";
            let told = to_reporters(
                case,
                Kind::EmbargoOver,
                &format!("expired/{}", until.timestamp()),
                text,
                ctx,
            );
            for d in &told {
                sent_event(case, d, ctx);
            }
            drafts.extend(told);
            Effects {
                drafts,
                said: vec!["embargo over: team reminded, reporter told".into()],
                write_advisories: false,
            }
        }
    }
}

/// A `/distributors` command: the changed list, and the answer to the team member.
#[derive(Debug)]
pub enum ListChange {
    Add(Distributor),
    Remove(DistributorId),
}

/// `/distributors …` (and `secmail distributors add`): validates and returns the change.
/// `certs`: certs attached to the command mail (or given with `--cert`); the first that carries
/// the address is imported.
pub fn change_list(
    cmd: &ListCommand,
    list: &[Distributor],
    certs: &[Cert],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Option<ListChange>, String), Refusal> {
    match cmd {
        ListCommand::List => Ok((None, list_text(list))),
        ListCommand::Remove(which) => {
            let which = which.trim_matches(['<', '>']);
            let d = list
                .iter()
                .find(|d| d.id.as_str() == which || d.address.eq_ignore_ascii_case(which))
                .ok_or_else(|| Refusal(format!("no distributor {which:?} on the list")))?;
            Ok((
                Some(ListChange::Remove(d.id.clone())),
                format!(
                    "removed {} <{}> ({}): it gets no further notices",
                    d.name, d.address, d.id
                ),
            ))
        }
        ListCommand::Add {
            address,
            name,
            cap,
            notices,
        } => {
            let name = name
                .clone()
                .unwrap_or_else(|| address.split('@').nth(1).unwrap_or(address).to_string());
            let id = DistributorId::from_name(&name)
                .ok_or_else(|| Refusal(format!("{name:?} gives no usable id")))?;
            let existing = list
                .iter()
                .find(|d| d.address.eq_ignore_ascii_case(address) || d.id == id);
            if let Some(e) = existing {
                if !e.address.eq_ignore_ascii_case(address) {
                    return refuse(format!(
                        "the id {id} is taken by another distributor: choose another --name"
                    ));
                }
            }
            let sys: SystemTime = now.into();
            let cert = certs.iter().find(|c| keys::has_email(c, address));
            if cert.is_none() && !certs.is_empty() {
                return refuse(format!(
                    "the attached cert carries no user id for {address}"
                ));
            }
            let cert_note = match cert {
                None if existing.and_then(|e| e.cert.as_ref()).is_some() => "cert kept".to_string(),
                None => "NO CERT: it will get no notices until one is added".to_string(),
                Some(c) => match keys::usable_for_encryption(c, sys) {
                    Ok(()) => format!("cert {}", keys::fingerprint(c)),
                    Err(why) => {
                        format!("cert not usable for encryption ({why}): it will get no notices")
                    }
                },
            };
            let d = Distributor {
                id: id.clone(),
                name: name.clone(),
                address: address.clone(),
                cert: cert
                    .map(keys::armored)
                    .or_else(|| existing.and_then(|e| e.cert.clone())),
                cert_fingerprint: cert
                    .map(keys::fingerprint)
                    .or_else(|| existing.and_then(|e| e.cert_fingerprint.clone())),
                notices: notices
                    .clone()
                    .or_else(|| existing.map(|e| e.notices.clone()))
                    .unwrap_or_else(|| NoticeKind::ALL.to_vec()),
                cap_secs: cap
                    .map(|c| c.num_seconds())
                    .or_else(|| existing.and_then(|e| e.cap_secs)),
                added: existing.map(|e| e.added).unwrap_or(now),
                added_by: actor.to_string(),
            };
            let verb = if existing.is_some() {
                "updated"
            } else {
                "added"
            };
            let msg = format!("{verb} {} <{}> ({}): {cert_note}", d.name, d.address, d.id);
            Ok((Some(ListChange::Add(d)), msg))
        }
    }
}

/// The list as the team sees it (team-internal only).
pub fn list_text(list: &[Distributor]) -> String {
    if list.is_empty() {
        return "no distributors".into();
    }
    list.iter()
        .map(|d| {
            format!(
                "{:<20} {:<32} notices {:<24} cap {:<6} cert {}",
                d.id,
                d.address,
                d.notices
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                d.cap()
                    .map(|c| format!("{}d", c.num_days()))
                    .unwrap_or_else(|| "-".into()),
                d.cert_fingerprint.as_deref().unwrap_or("NONE")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What one disclosure command did.
#[derive(Debug, Default)]
pub struct Applied {
    pub effects: Effects,
    /// A change to the distributor list, written in the same batch as the case.
    pub list_change: Option<ListChange>,
}

/// Carries out one parsed command on `case` (the command framework's entry point). `text`: the
/// body below the command lines (description and remedy, or announcement text); `certs`: certs
/// attached to the command mail. A refusal changes nothing.
pub fn run(
    case: &mut Case,
    cmd: &DisclosureCommand,
    text: Option<&str>,
    certs: &[Cert],
    ctx: &Ctx,
) -> Result<Applied, Refusal> {
    let mut work = case.clone();
    let applied = match cmd {
        DisclosureCommand::Embargo {
            date,
            force,
            need_to_know,
        } => {
            let effects = set_embargo(&mut work, *date, *force, need_to_know, ctx)?;
            // Text below `/embargo` is the description and remedy the timer's advance
            // notice will carry, unless `/notify-distributors` gives another.
            if let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) {
                work.disclosure.text = Some(t.to_string());
            }
            Applied {
                effects,
                list_change: None,
            }
        }
        DisclosureCommand::EmbargoPublic => Applied {
            effects: embargo_public(&mut work, ctx)?,
            list_change: None,
        },
        DisclosureCommand::NotifyDistributors => Applied {
            effects: advance_notice(&mut work, text, false, ctx)?,
            list_change: None,
        },
        DisclosureCommand::Disclose { force } => Applied {
            effects: disclose(&mut work, text, *force, ctx)?,
            list_change: None,
        },
        DisclosureCommand::Distributors(lc) => {
            let (change, said) = change_list(lc, ctx.distributors, certs, ctx.actor, ctx.now)?;
            Applied {
                effects: Effects {
                    said: vec![said],
                    ..Effects::default()
                },
                list_change: change,
            }
        }
    };
    *case = work;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::disclosure::parse_when;

    #[test]
    fn dates_avoid_weekends_the_past_and_the_maximum() {
        let policy = Rules::default();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let check = |when: &str, force: bool, ok: bool| {
            let t = DateTime::parse_from_rfc3339(when)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(
                check_date(t, force, &policy, now).is_ok(),
                ok,
                "{when} force={force}"
            );
        };
        check("2026-12-08T16:00:00Z", false, true); // Tuesday
        check("2026-12-10T16:00:00Z", false, true); // Thursday
        check("2026-12-11T16:00:00Z", false, false); // Friday
        check("2026-12-12T16:00:00Z", false, false); // Saturday
        check("2026-12-13T16:00:00Z", false, false); // Sunday
        check("2026-12-13T16:00:00Z", true, true);
        check("2026-11-28T11:00:00Z", true, false); // past, even forced
        check("2027-03-15T16:00:00Z", false, false); // over 90 days
        check("2027-03-15T16:00:00Z", true, true);
        assert_eq!(
            resolve(parse_when("2026-12-08", None).unwrap(), &policy),
            Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap()
        );
    }
}
