//! Timers: which disclosure steps are due for a case at a moment, and carrying them out
//! (DESIGN.md "Distributors and advance notice", "Policies and timers"): the advance notice once
//! the lead time (or a distributor's cap) allows, the final notice, and the reminders when the
//! case is not ready or the date passed without `/disclose`.
//!
//! Invariants: [`due`] reads and never changes; each reminder is sent once per date (the case
//! remembers it); a distributor refused for want of a cert is not retried by the timer.
use super::announce::to_reporters;
use super::notice::{advance_notice, final_notice, refused_before};
use super::{sent_event, Ctx, Effects, Rules};
use crate::core::apply::alert;
use crate::core::draft::Kind;
use crate::model::{Case, Distributor, EventKind, NoticeKind, State};
use chrono::{DateTime, Utc};

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
                .map(|e| ctx.policy.human(e.until))
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
                ctx.policy.human(until)
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
