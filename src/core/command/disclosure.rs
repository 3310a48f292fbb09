//! The disclosure commands' grammar: `/embargo`, `/notify-distributors`, `/disclose` and
//! `/distributors` (DESIGN.md "Team commands", "Distributors and advance notice"). The parent
//! module's `parse` hands these names here; what they do to a case is `core::disclose`'s.
//!
//! Invariants: pure and total; a line is checked for form only (a date that parses, an address
//! that looks like one), never against the case or the policy: that is `core::disclose`'s.
use crate::model::NoticeKind;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A disclosure command from a signed team mail (DESIGN.md "Team commands").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisclosureCommand {
    /// `/embargo DATE [TIME] [force] [ADDRESS…]`: the addresses are the need-to-know list
    /// (people outside the team who may know before the date).
    Embargo {
        date: When,
        force: bool,
        need_to_know: Vec<String>,
    },
    /// `/embargo public`: the issue leaked.
    EmbargoPublic,
    /// `/notify-distributors`
    NotifyDistributors,
    /// `/disclose [force]`
    Disclose { force: bool },
    /// `/distributors list|add|remove …`
    Distributors(ListCommand),
}

impl DisclosureCommand {
    /// The command word, as [`Command::name`](super::Command::name) names commands.
    pub fn name(&self) -> &'static str {
        match self {
            DisclosureCommand::Embargo { .. } | DisclosureCommand::EmbargoPublic => "embargo",
            DisclosureCommand::NotifyDistributors => "notify-distributors",
            DisclosureCommand::Disclose { .. } => "disclose",
            DisclosureCommand::Distributors(_) => "distributors",
        }
    }
}

/// A disclosure date as written in a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A day: the policy's time applies.
    Day(NaiveDate),
    /// A moment fixed by what was written: an offset, `Z`, `UTC` or an IANA zone.
    At(DateTime<Utc>),
    /// A wall-clock time without a zone: read in the policy's time zone (issue 13.2).
    Local(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListCommand {
    List,
    /// `/distributors add ADDRESS [--name "NAME"] [--cap 14d] [--notices advance,final]`; the
    /// cert comes from the mail's attached `application/pgp-keys`.
    Add {
        address: String,
        name: Option<String>,
        cap: Option<Duration>,
        notices: Option<Vec<NoticeKind>>,
    },
    /// `/distributors remove ID|ADDRESS`
    Remove(String),
}

/// The command names this grammar owns.
pub const NAMES: &[&str] = &["embargo", "notify-distributors", "disclose", "distributors"];

/// One `/command args` line. `None`: not one of this module's commands; `Some(Err)`: ours but
/// malformed, with the reason for the team member.
pub fn parse(line: &str) -> Option<Result<DisclosureCommand, String>> {
    let rest = line.trim().strip_prefix('/')?;
    let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    parse_args(name, args)
}

/// The arguments of a command named `name` (without its slash), for a command grammar that
/// has already split the line ([`super::parse`]). `None` when the name is not one of ours.
pub fn parse_args(name: &str, args: &str) -> Option<Result<DisclosureCommand, String>> {
    let name = name.to_ascii_lowercase();
    if !NAMES.contains(&name.as_str()) {
        return None;
    }
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Some(Err(e)),
    };
    Some(match name.as_str() {
        "embargo" => parse_embargo(&words),
        "notify-distributors" if words.is_empty() => Ok(DisclosureCommand::NotifyDistributors),
        "notify-distributors" => Err("/notify-distributors takes no arguments".into()),
        "disclose" => match words.as_slice() {
            [] => Ok(DisclosureCommand::Disclose { force: false }),
            [f] if f.eq_ignore_ascii_case("force") => {
                Ok(DisclosureCommand::Disclose { force: true })
            }
            _ => Err("usage: /disclose [force]".into()),
        },
        _ => parse_list_command(&words).map(DisclosureCommand::Distributors),
    })
}

/// Lines for the team's `/help`.
pub const HELP: &str = "\
  /embargo DATE [HH:MM [ZONE]] [force] [ADDRESS…]  disclosure date (default 16:00 UTC;
                         a bare HH:MM is in the policy's time zone; 2026-12-08T14:00Z too;
                         Friday to Sunday and dates past the policy's maximum need force);
                         addresses: who outside the team may know before (need to know)
  /embargo public        the issue leaked: reporter and team told, disclose now
  /notify-distributors   advance notice to each distributor (text below the commands:
                         description and remedy; attachments: patches); reporter told the date
  /disclose [force]      announcement to the announce list, embargo over, advisories written
  /distributors list | add ADDRESS [--name \"NAME\"] [--cap 14d] [--notices advance,final]
                         (attach their cert) | remove ID|ADDRESS";

fn parse_embargo(words: &[String]) -> Result<DisclosureCommand, String> {
    if words.len() == 1 && words[0].eq_ignore_ascii_case("public") {
        return Ok(DisclosureCommand::EmbargoPublic);
    }
    let (mut when, mut force, mut need_to_know) = (Vec::new(), false, Vec::new());
    for w in words {
        if w.eq_ignore_ascii_case("force") {
            force = true;
        } else if w.contains('@') {
            let a = w.trim_matches(['<', '>', ',']).to_ascii_lowercase();
            if !is_address(&a) {
                return Err(format!("{w:?} is not an address; {}", usage(words)));
            }
            need_to_know.push(a);
        } else {
            when.push(w.as_str());
        }
    }
    let date = match when.as_slice() {
        [d] => parse_when(d, None),
        [d, t] => parse_when(d, Some(t)),
        [d, t, z] => parse_when(d, Some(&format!("{t} {z}"))),
        _ => None,
    }
    .ok_or_else(|| {
        if when.is_empty() {
            format!("missing DATE; {}", usage(words))
        } else {
            format!(
                "{} is not a date and time of these forms; {}",
                when.join(" "),
                usage(words)
            )
        }
    })?;
    Ok(DisclosureCommand::Embargo {
        date,
        force,
        need_to_know,
    })
}

/// The accepted forms, with the date (and time) the member wrote filled in, so that a retry is
/// one edit (issue 13.7).
fn usage(words: &[String]) -> String {
    let date = words
        .iter()
        .find_map(|w| {
            let head = w.get(..10)?;
            NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()?;
            Some(head.to_string())
        })
        .unwrap_or_else(|| "YYYY-MM-DD".into());
    let time = words
        .iter()
        .find_map(|w| {
            let i = w.find(':')?;
            let hm = w.get(i.checked_sub(2)?..i + 3)?;
            NaiveTime::parse_from_str(hm, "%H:%M").ok()?;
            Some(hm.to_string())
        })
        .unwrap_or_else(|| "14:00".into());
    format!(
        "write one of: /embargo {date} (at 16:00 UTC) | /embargo {date} {time} (in the policy's time zone) | /embargo {date} {time} UTC | /embargo {date} {time} Europe/Berlin (an IANA zone) | /embargo {date}T{time}Z | /embargo {date}T{time}+01:00 | /embargo public; then [force] [need-to-know ADDRESS…]"
    )
}

/// A date, and optionally a time: `2026-12-08` (the policy's time of day),
/// `2026-12-08 14:00` (in the policy's zone), `2026-12-08 14:00 UTC`, `2026-12-08 14:00
/// Europe/Berlin`, `2026-12-08 14:00Z`, `2026-12-08 14:00+01:00`, and ISO 8601 / RFC 3339 in
/// one word: `2026-12-08T14:00Z`, `2026-12-08T14:00:00+01:00`, `2026-12-08T14:00` (policy
/// zone). A local time that does not exist in the zone named (the clocks went forward) is not
/// a date.
pub fn parse_when(date: &str, time: Option<&str>) -> Option<When> {
    if let Some((d, t)) = date.split_once(['T', 't']) {
        if time.is_some() {
            return None;
        }
        let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
        return at(day, t);
    }
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    match time {
        None => Some(When::Day(day)),
        Some(t) => at(day, t),
    }
}

/// `HH:MM[:SS]` with an optional zone (`Z`, `+01:00`, `+0100`, `+01`, ` UTC`, ` GMT`, ` Zone/Name`).
fn at(day: NaiveDate, t: &str) -> Option<When> {
    let t = t.trim();
    let (clock, zone) = match t.split_once(char::is_whitespace) {
        Some((c, z)) => (c, Some(z.trim())),
        None => {
            let cut = t.find(['Z', 'z', '+', '-']).unwrap_or(t.len());
            let (c, z) = t.split_at(cut);
            (c, (!z.is_empty()).then_some(z))
        }
    };
    let clock = NaiveTime::parse_from_str(clock, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M"))
        .ok()?;
    let local = day.and_time(clock);
    let Some(zone) = zone else {
        return Some(When::Local(local));
    };
    if let Some(offset) = offset(zone) {
        return offset
            .from_local_datetime(&local)
            .single()
            .map(|t| When::At(t.with_timezone(&Utc)));
    }
    let tz: Tz = match zone.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" => Tz::UTC,
        _ => zone.parse().ok()?,
    };
    tz.from_local_datetime(&local)
        .single()
        .map(|t| When::At(t.with_timezone(&Utc)))
}

/// `Z`, `+01:00`, `-0500`, `+01` as an offset.
fn offset(z: &str) -> Option<FixedOffset> {
    if z.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let sign = match z.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = match &digits[2..] {
        "" => 0,
        mm => mm.parse().ok()?,
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn parse_list_command(words: &[String]) -> Result<ListCommand, String> {
    let usage = "usage: /distributors list | add ADDRESS [--name \"NAME\"] [--cap 14d] [--notices advance,final,disclosure] | remove ID|ADDRESS";
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("list") if words.len() == 1 => Ok(ListCommand::List),
        Some("remove") if words.len() == 2 => Ok(ListCommand::Remove(words[1].clone())),
        Some("add") if words.len() >= 2 => {
            let address = words[1].trim_matches(['<', '>']).to_ascii_lowercase();
            if !is_address(&address) {
                return Err(format!("{address:?} is not an address; {usage}"));
            }
            let (mut name, mut cap, mut notices) = (None, None, None);
            let mut it = words[2..].iter();
            while let Some(flag) = it.next() {
                let value = it
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value; {usage}"))?;
                match flag.as_str() {
                    "--name" => name = Some(value.clone()),
                    "--cap" => cap = Some(parse_cap(value)?),
                    "--notices" => notices = Some(NoticeKind::parse_list(value)?),
                    other => return Err(format!("unknown option {other}; {usage}")),
                }
            }
            Ok(ListCommand::Add {
                address,
                name,
                cap,
                notices,
            })
        }
        _ => Err(usage.into()),
    }
}

/// `14d`, `2w`, `336h`: the cap of a distributor list.
pub fn parse_cap(s: &str) -> Result<Duration, String> {
    let d = crate::core::duration::parse_duration(s)?;
    let d = Duration::from_std(d).map_err(|_| format!("{s:?} is too long"))?;
    if d < Duration::hours(1) {
        return Err(format!("a cap of {s:?} is too short to send any notice"));
    }
    Ok(d)
}

/// An address on the distributor list or the need-to-know list: a local part, a dotted domain,
/// no whitespace, control characters or `<>,;"` (stricter than the parent's `/assign` check).
pub fn is_address(a: &str) -> bool {
    a.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty()
            && d.contains('.')
            && !a.contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
    })
}

/// Whitespace-separated words; double quotes group words (as a shell reads them).
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quote".into());
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        let day = |y, m, d| When::Day(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let at = |s: &str| When::At(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let check = |line: &str, expected: Option<Result<DisclosureCommand, ()>>| {
            let got = parse(line).map(|r| r.map_err(|_| ()));
            assert_eq!(got, expected, "line {line:?}");
        };
        check(
            "/embargo 2026-12-08",
            Some(Ok(DisclosureCommand::Embargo {
                date: day(2026, 12, 8),
                force: false,
                need_to_know: vec![],
            })),
        );
        check(
            "/embargo 2026-12-11 force",
            Some(Ok(DisclosureCommand::Embargo {
                date: day(2026, 12, 11),
                force: true,
                need_to_know: vec![],
            })),
        );
        let local =
            |s: &str| When::Local(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap());
        let embargo = |date| {
            Some(Ok(DisclosureCommand::Embargo {
                date,
                force: false,
                need_to_know: vec![],
            }))
        };
        // Issue 13.2: a bare time is the policy's; an offset, Z, UTC or an IANA zone fixes it.
        check(
            "/embargo 2026-12-08 14:30",
            embargo(local("2026-12-08 14:30")),
        );
        check(
            "/embargo 2026-12-08T14:30",
            embargo(local("2026-12-08 14:30")),
        );
        check(
            "/embargo 2026-12-15T14:00Z",
            embargo(at("2026-12-15T14:00:00Z")),
        );
        check(
            "/embargo 2026-12-15t14:00z",
            embargo(at("2026-12-15T14:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00 UTC",
            embargo(at("2026-12-15T14:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00Z",
            embargo(at("2026-12-15T14:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00 utc",
            embargo(at("2026-12-15T14:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00 Europe/Berlin",
            embargo(at("2026-12-15T13:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00 America/New_York",
            embargo(at("2026-12-15T19:00:00Z")),
        );
        check(
            "/embargo 2026-12-15T14:00-0500",
            embargo(at("2026-12-15T19:00:00Z")),
        );
        check(
            "/embargo 2026-12-15 14:00+01",
            embargo(at("2026-12-15T13:00:00Z")),
        );
        check(
            "/embargo 2026-12-15T14:00:30+01:00",
            embargo(at("2026-12-15T13:00:30Z")),
        );
        // The clocks go forward at 02:00 in Berlin on 2027-03-28: 02:30 is no time there.
        check("/embargo 2027-03-28 02:30 Europe/Berlin", Some(Err(())));
        check("/embargo 2026-12-15 14:00 Mars/Olympus", Some(Err(())));
        check("/embargo 2026-12-15 25:00", Some(Err(())));
        check(
            "/embargo 2026-12-08T14:30:00+01:00",
            Some(Ok(DisclosureCommand::Embargo {
                date: at("2026-12-08T13:30:00Z"),
                force: false,
                need_to_know: vec![],
            })),
        );
        check(
            "/embargo public",
            Some(Ok(DisclosureCommand::EmbargoPublic)),
        );
        check(
            "/embargo PUBLIC",
            Some(Ok(DisclosureCommand::EmbargoPublic)),
        );
        check("/embargo next tuesday", Some(Err(())));
        check("/embargo", Some(Err(())));
        check(
            "/notify-distributors",
            Some(Ok(DisclosureCommand::NotifyDistributors)),
        );
        check("/notify-distributors now", Some(Err(())));
        check(
            "/disclose",
            Some(Ok(DisclosureCommand::Disclose { force: false })),
        );
        check(
            "/disclose force",
            Some(Ok(DisclosureCommand::Disclose { force: true })),
        );
        check(
            "/distributors list",
            Some(Ok(DisclosureCommand::Distributors(ListCommand::List))),
        );
        check(
            "/distributors remove distro-a",
            Some(Ok(DisclosureCommand::Distributors(ListCommand::Remove(
                "distro-a".into(),
            )))),
        );
        check(
            "/distributors add security@distro-a.example --name \"Distro A\" --cap 14d --notices advance",
            Some(Ok(DisclosureCommand::Distributors(ListCommand::Add {
                address: "security@distro-a.example".into(),
                name: Some("Distro A".into()),
                cap: Some(Duration::days(14)),
                notices: Some(vec![NoticeKind::Advance]),
            }))),
        );
        check("/distributors add not-an-address", Some(Err(())));
        check("/distributors add a@b.example --cap", Some(Err(())));
        check("/distributors add a@b.example --name \"open", Some(Err(())));
        check("/reply", None);
        check("not a command", None);
    }

    /// Issue 13.7: a form that is refused gets the accepted forms back with its own date and
    /// time filled in, so that a retry is one edit.
    #[test]
    fn a_refused_form_gets_the_forms_with_its_date() {
        let why = |line: &str| match parse(line) {
            Some(Err(e)) => e,
            other => panic!("{line}: {other:?}"),
        };
        let e = why("/embargo 2026-03-15T14h");
        for form in [
            "/embargo 2026-03-15 (at 16:00 UTC)",
            "/embargo 2026-03-15 14:00 UTC",
            "/embargo 2026-03-15T14:00Z",
            "/embargo 2026-03-15T14:00+01:00",
        ] {
            assert!(e.contains(form), "{form:?} missing in {e}");
        }
        let e = why("/embargo 2026-03-16 09:30 o'clock");
        assert!(e.contains("/embargo 2026-03-16T09:30Z"), "{e}");
        let e = why("/embargo soon");
        assert!(e.contains("/embargo YYYY-MM-DD 14:00 UTC"), "{e}");
    }
}
