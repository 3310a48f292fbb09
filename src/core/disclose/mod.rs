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
//! - Times are kept in UTC and written to people in the policy's zone and in UTC ([`human`]). A
//!   date without a time means [`Rules::time`] (16:00 UTC); a bare time is in the policy's zone;
//!   a date from Friday to Sunday (in that zone) is refused unless forced.
//!
//! Rooms: this file owns what every step shares ([`Rules`], [`Ctx`], [`Effects`], [`Refusal`])
//! and [`carry_out`], the entry point of the disclosure commands; `embargo` sets, lifts and merges
//! the date; `notice` sends the advance and final notices to distributors; `announce` is the
//! announcement and what reporters and distributors are told when the embargo ends; `timers`
//! decides which of these are due; `list` changes the distributor list. The commands'
//! grammar is `core::command::disclosure`'s.
mod announce;
mod embargo;
mod list;
mod notice;
mod tick;
mod timers;

pub use announce::{credit_line, disclose};
pub use embargo::{check_date, duplicate_embargo, embargo_public, set_embargo, shorter};
pub use list::{change_list, list_text, ListChange};
pub use notice::{advance_notice, final_notice};
pub use tick::{tick, Fired};
pub use timers::{due, on_timer, Timer};

use super::calendar::{Calendar, Span};
use super::command::{DisclosureCommand, When};
use super::decrypt::Attachment;
use super::draft::{Draft, Kind};
use super::keys::Cert;
use crate::core::settings::Settings;
use crate::model::{Case, Distributor};
use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

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
    /// A moment as written to people, in the policy's zone and UTC ([`human`]).
    pub fn human(&self, t: DateTime<Utc>) -> String {
        human(t, self.calendar.zone)
    }

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

/// The moment a [`When`] names: a day at the policy's default time (UTC), a wall-clock time
/// in the policy's time zone (issue 13.2). A local time the zone skips (the clocks go forward)
/// or passes twice (they go back) is refused with the two readings, never guessed.
pub fn resolve(when: When, policy: &Rules) -> Result<DateTime<Utc>, Refusal> {
    let zone = policy.calendar.zone;
    match when {
        When::Day(d) => Ok(Utc.from_utc_datetime(&d.and_time(policy.time))),
        When::At(t) => Ok(t),
        When::Local(local) => match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => refuse(format!(
                "{} happens twice in {zone} (the clocks go back): write the offset, {} or {}",
                local.format("%Y-%m-%d %H:%M"),
                a.format("%Y-%m-%dT%H:%M%:z"),
                b.format("%Y-%m-%dT%H:%M%:z")
            )),
            LocalResult::None => refuse(format!(
                "{} does not exist in {zone} (the clocks go forward): choose another time",
                local.format("%Y-%m-%d %H:%M")
            )),
        },
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

/// How a moment is written to people: in the policy's zone and in UTC (issue 13.2; the CERT/CC
/// VINCE tracker's complaints of times without a zone): `Wednesday 2026-12-16 14:00
/// Europe/Berlin (13:00 UTC)`, the UTC date too when it is another day; `Tuesday 2026-12-08
/// 16:00 UTC` when the zone is UTC.
pub fn human(t: DateTime<Utc>, zone: Tz) -> String {
    if zone == Tz::UTC {
        return t.format("%A %Y-%m-%d %H:%M UTC").to_string();
    }
    let local = t.with_timezone(&zone);
    let utc = if local.date_naive() == t.date_naive() {
        t.format("%H:%M UTC")
    } else {
        t.format("%Y-%m-%d %H:%M UTC")
    };
    format!("{} {zone} ({utc})", local.format("%A %Y-%m-%d %H:%M"))
}

/// A timeline stamp: the time in the policy's zone with its offset, `2026-12-16 14:00:00
/// +01:00` (issue 13.2).
pub fn stamp(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// Records a draft as sent on the timeline (each delivery is recorded as it is decided).
fn sent_event(case: &mut Case, d: &Draft, ctx: &Ctx) {
    crate::core::draft::record_sent(case, d, ctx.now);
    if matches!(d.kind, Kind::DisclosureDate | Kind::EmbargoOver)
        && case.reporter(&d.to.address).is_some()
    {
        case.last_reporter_update = Some(ctx.now);
    }
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
pub fn carry_out(
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
