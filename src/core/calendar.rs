//! Calendar: deadlines in wall-clock time or in working days, in the project's time zone
//! (DESIGN.md "Policies and timers": working days, holidays and the time zone).
//!
//! Invariants: pure (the time is an argument); every answer is a UTC instant; working-day
//! arithmetic counts whole local days, skipping weekends and holidays, and always ends (a
//! calendar has at least one working day, and the walk is bounded).
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A span of time as a policy states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Wall-clock time ("48h", "3d"): weekends count.
    Clock(Duration),
    /// Working days ("5 working days", "1 business day").
    WorkingDays(u32),
}

impl Span {
    /// As written in config and mail: "48h", "3d", "5 working days".
    pub fn describe(&self) -> String {
        match self {
            Span::WorkingDays(1) => "1 working day".into(),
            Span::WorkingDays(n) => format!("{n} working days"),
            Span::Clock(d) => {
                let s = d.num_seconds();
                if s % 86_400 == 0 {
                    format!("{}d", s / 86_400)
                } else if s % 3600 == 0 {
                    format!("{}h", s / 3600)
                } else if s % 60 == 0 {
                    format!("{}m", s / 60)
                } else {
                    format!("{s}s")
                }
            }
        }
    }
}

/// "5 working days", "1 business day", or a wall-clock duration ("48h", "7d", "2w").
pub fn parse_span(s: &str) -> Result<Span, String> {
    let t = s.trim().to_ascii_lowercase();
    let words: Vec<&str> = t.split_whitespace().collect();
    if let [n, kind, day] = words.as_slice() {
        if matches!(*kind, "working" | "business" | "work") && matches!(*day, "day" | "days") {
            return match n.parse::<u32>() {
                Ok(n) if n <= 3650 => Ok(Span::WorkingDays(n)),
                _ => Err(format!(
                    "{s:?} is not a number of working days (at most 3650)"
                )),
            };
        }
    }
    super::duration::parse_duration(&t).and_then(|d| {
        Duration::from_std(d)
            .map(Span::Clock)
            .map_err(|_| format!("{s:?} is too long"))
    })
}

/// Working days, holidays and the zone in which days begin and end.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Monday first.
    pub working_days: [bool; 7],
    pub holidays: Vec<NaiveDate>,
    pub zone: Tz,
}

impl Default for Calendar {
    /// Monday to Friday, no holidays, UTC.
    fn default() -> Calendar {
        Calendar {
            working_days: [true, true, true, true, true, false, false],
            holidays: Vec::new(),
            zone: Tz::UTC,
        }
    }
}

/// The most days a working-day walk looks at (about 27 years): a bound, not a limit anyone meets.
const MAX_WALK: u32 = 10_000;

impl Calendar {
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.working_days[d.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&d)
    }

    /// `start` plus `span`. Working days: when `start` falls on a working day, the deadline is
    /// the same local time `n` working days later (Friday 17:00 + 1 → Monday 17:00); a start on a
    /// weekend or holiday gives all of the next `n` working days, so the deadline is the end of
    /// the n-th (Saturday + 1 → Tuesday 00:00; Saturday + 5 → the next Saturday 00:00).
    pub fn add(&self, start: DateTime<Utc>, span: Span) -> DateTime<Utc> {
        match span {
            Span::Clock(d) => start
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Span::WorkingDays(0) => start,
            Span::WorkingDays(n) => {
                let local = start.with_timezone(&self.zone);
                let mut day = local.date_naive();
                if !self.is_working_day(day) {
                    // The first working day counts whole; the deadline is its n-th's midnight.
                    day = self.next_working_day(day);
                    for _ in 1..n {
                        day = self.next_working_day(day);
                    }
                    return self.instant(day.succ_opt().unwrap_or(day), NaiveTime::MIN);
                }
                for _ in 0..n {
                    day = self.next_working_day(day);
                }
                self.instant(day, local.time())
            }
        }
    }

    /// `deadline` minus `span`, for reminders: the wall-clock part only (working-day leads are
    /// taken as that many working days back).
    pub fn sub(&self, deadline: DateTime<Utc>, span: Span) -> DateTime<Utc> {
        match span {
            Span::Clock(d) => deadline
                .checked_sub_signed(d)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            Span::WorkingDays(n) => {
                let local = deadline.with_timezone(&self.zone);
                let mut day = local.date_naive();
                let mut left = n;
                let mut walked = 0;
                while left > 0 && walked < MAX_WALK {
                    day = day.pred_opt().unwrap_or(day);
                    walked += 1;
                    if self.is_working_day(day) {
                        left -= 1;
                    }
                }
                self.instant(day, local.time())
            }
        }
    }

    fn next_working_day(&self, mut day: NaiveDate) -> NaiveDate {
        for _ in 0..MAX_WALK {
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                break;
            }
        }
        day
    }

    /// A local date and time as UTC; a time skipped by a DST change moves an hour on, an
    /// ambiguous one takes the earlier instant.
    fn instant(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let naive = day.and_time(time);
        self.zone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
    }

    /// The local date of an instant, for mail ("2026-12-01 17:00 CET").
    pub fn show(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spans_parse() {
        let check = |s: &str, expected: Result<Span, ()>| {
            assert_eq!(parse_span(s).map_err(|_| ()), expected, "{s}");
        };
        check("48h", Ok(Span::Clock(Duration::hours(48))));
        check("3d", Ok(Span::Clock(Duration::days(3))));
        check("5 working days", Ok(Span::WorkingDays(5)));
        check("1 Business Day", Ok(Span::WorkingDays(1)));
        check("x working days", Err(()));
        check("5 fortnights", Err(()));
        assert_eq!(Span::WorkingDays(5).describe(), "5 working days");
        assert_eq!(Span::Clock(Duration::hours(96)).describe(), "4d");
        assert_eq!(Span::Clock(Duration::hours(36)).describe(), "36h");
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        // 2026-12-24 is a Thursday, 12-25 a Friday (holiday), 12-26/27 the weekend.
        let cal = Calendar {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
            ..Calendar::default()
        };
        let check = |start: &str, span: Span, expected: &str| {
            assert_eq!(
                cal.add(utc(start), span),
                utc(expected),
                "{start} + {span:?}"
            );
        };
        check(
            "2026-12-23T10:00:00Z",
            Span::WorkingDays(1),
            "2026-12-24T10:00:00Z",
        );
        // Thursday + 1: Friday is a holiday, the weekend follows → Monday.
        check(
            "2026-12-24T10:00:00Z",
            Span::WorkingDays(1),
            "2026-12-28T10:00:00Z",
        );
        check(
            "2026-12-24T10:00:00Z",
            Span::WorkingDays(2),
            "2026-12-29T10:00:00Z",
        );
        // Starting on a holiday or weekend: counted from the next working morning.
        check(
            "2026-12-25T15:00:00Z",
            Span::WorkingDays(1),
            "2026-12-29T00:00:00Z",
        );
        check(
            "2026-11-28T12:00:00Z",
            Span::WorkingDays(1),
            "2026-12-01T00:00:00Z",
        );
        check(
            "2026-11-28T12:00:00Z",
            Span::WorkingDays(5),
            "2026-12-05T00:00:00Z",
        );
        check(
            "2026-11-27T17:00:00Z",
            Span::WorkingDays(1),
            "2026-11-30T17:00:00Z",
        );
        check(
            "2026-11-27T17:00:00Z",
            Span::WorkingDays(0),
            "2026-11-27T17:00:00Z",
        );
        // Wall clock ignores the calendar.
        check(
            "2026-12-24T10:00:00Z",
            Span::Clock(Duration::hours(48)),
            "2026-12-26T10:00:00Z",
        );
    }

    #[test]
    fn working_days_follow_the_time_zone() {
        let cal = Calendar {
            zone: "Europe/Berlin".parse().unwrap(),
            ..Calendar::default()
        };
        // Friday 23:30 UTC is already Saturday 00:30 in Berlin: counting starts Monday 00:00.
        assert_eq!(
            cal.add(utc("2026-11-27T23:30:00Z"), Span::WorkingDays(1)),
            utc("2026-11-30T23:00:00Z")
        );
        // Across the end of summer time (2026-10-25): local 10:00 stays 10:00.
        assert_eq!(
            cal.add(utc("2026-10-23T08:00:00Z"), Span::WorkingDays(1)),
            utc("2026-10-26T09:00:00Z")
        );
        assert_eq!(
            cal.sub(utc("2026-10-26T09:00:00Z"), Span::WorkingDays(1)),
            utc("2026-10-23T08:00:00Z")
        );
        assert!(cal
            .show(utc("2026-11-30T23:00:00Z"))
            .contains("2026-12-01 00:00 CET"));
    }

    #[test]
    fn a_calendar_without_working_days_still_ends() {
        let cal = Calendar {
            working_days: [false; 7],
            ..Calendar::default()
        };
        let t = cal.add(utc("2026-11-27T17:00:00Z"), Span::WorkingDays(2));
        assert!(t > utc("2026-11-27T17:00:00Z"));
    }
}
