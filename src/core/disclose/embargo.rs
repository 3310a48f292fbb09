//! Embargo: setting, moving and lifting the disclosure date (`/embargo DATE`, `/embargo
//! public`) and merging the dates of duplicate cases (DESIGN.md "Team commands", "Distributors
//! and advance notice").
//!
//! Invariants: a date is checked against the [`Rules`] before the case changes (not in the
//! past, not Friday to Sunday, not past the maximum, unless forced); a closed or disclosed case
//! has no embargo to change.
use super::announce::{embargo_over, to_reporters};
use super::{refuse, resolve, Ctx, Effects, Refusal, Rules};
use crate::core::apply::alert;
use crate::core::command::When;
use crate::core::draft::Kind;
use crate::model::{Case, Embargo, EventKind, State};
use chrono::{DateTime, Datelike, Utc, Weekday};

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
            policy.human(until)
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
            policy.human(until),
            local.format("%A")
        ));
    }
    if let Some(latest) = policy.latest(now) {
        if until > latest {
            return refuse(format!(
                "{} is past the policy's maximum embargo of {} (latest {}); add `force` to go beyond it",
                policy.human(until),
                policy.max_embargo.map(|m| m.describe()).unwrap_or_default(),
                policy.human(latest)
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
    let until = resolve(when, ctx.policy)?;
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
        Some(old) => format!(
            "embargo moved from {} to {}",
            ctx.policy.human(old),
            ctx.policy.human(until)
        ),
        None => format!("embargo set: disclosure {}", ctx.policy.human(until)),
    });
    fx.said.push(format!(
        "advance notice due {} (when the case is fix-ready)",
        ctx.policy.human(ctx.policy.notice_at(until))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::disclosure::parse_when;
    use chrono::TimeZone;

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
            resolve(parse_when("2026-12-08", None).unwrap(), &policy).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap()
        );
    }

    /// Issue 13.2: a bare time is read in the policy's zone, and said in that zone and in UTC.
    #[test]
    fn a_bare_time_is_the_policys_and_said_in_both_zones() {
        let mut policy = Rules::default();
        policy.calendar.zone = chrono_tz::Europe::Berlin;
        let t = |d: &str, time: &str| resolve(parse_when(d, Some(time)).unwrap(), &policy);
        let winter = t("2026-12-16", "14:00").unwrap();
        assert_eq!(
            winter,
            Utc.with_ymd_and_hms(2026, 12, 16, 13, 0, 0).unwrap()
        );
        assert_eq!(
            policy.human(winter),
            "Wednesday 2026-12-16 14:00 Europe/Berlin (13:00 UTC)"
        );
        let summer = t("2027-06-16", "14:00").unwrap();
        assert_eq!(summer, Utc.with_ymd_and_hms(2027, 6, 16, 12, 0, 0).unwrap());
        let late = Utc.with_ymd_and_hms(2026, 12, 16, 23, 30, 0).unwrap();
        assert_eq!(
            policy.human(late),
            "Thursday 2026-12-17 00:30 Europe/Berlin (2026-12-16 23:30 UTC)"
        );
        assert_eq!(
            super::super::stamp(winter, policy.calendar.zone),
            "2026-12-16 14:00:00 +01:00"
        );
        // The clocks go back at 03:00 on 2026-10-25: 02:30 happens twice; refused, not guessed.
        let twice = t("2026-10-25", "02:30").unwrap_err().0;
        assert!(
            twice.contains("+02:00") && twice.contains("+01:00"),
            "{twice}"
        );
        assert!(t("2027-03-28", "02:30").is_err());
        assert_eq!(
            Rules::default().human(winter),
            "Wednesday 2026-12-16 13:00 UTC"
        );
    }
}
