//! The disclosure commands' grammar: `/embargo`, `/notify-distributors`, `/disclose` and
//! `/distributors` (DESIGN.md "Team commands", "Distributors and advance notice"). The parent
//! module's `parse` hands these names here; what they do to a case is `core::disclose`'s.
//!
//! Invariants: pure and total; a line is checked for form only (a date that parses, an address
//! that looks like one), never against the case or the policy: that is `core::disclose`'s.
use crate::model::NoticeKind;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

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
    At(DateTime<Utc>),
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
  /embargo DATE [HH:MM] [force] [ADDRESS…]  disclosure date (default 16:00 UTC;
                         Friday to Sunday and dates past the policy's maximum need force);
                         addresses: who outside the team may know before (need to know)
  /embargo public        the issue leaked: reporter and team told, disclose now
  /notify-distributors   advance notice to each distributor (text below the commands:
                         description and remedy; attachments: patches); reporter told the date
  /disclose [force]      announcement to the announce list, embargo over, advisories written
  /distributors list | add ADDRESS [--name \"NAME\"] [--cap 14d] [--notices advance,final]
                         (attach their cert) | remove ID|ADDRESS";

fn parse_embargo(words: &[String]) -> Result<DisclosureCommand, String> {
    let usage =
        "usage: /embargo YYYY-MM-DD [HH:MM] [force] [need-to-know ADDRESS…] | /embargo public";
    if words.len() == 1 && words[0].eq_ignore_ascii_case("public") {
        return Ok(DisclosureCommand::EmbargoPublic);
    }
    let (mut date, mut time, mut force, mut need_to_know) = (None, None, false, Vec::new());
    for w in words {
        if w.eq_ignore_ascii_case("force") {
            force = true;
        } else if w.contains('@') {
            let a = w.trim_matches(['<', '>', ',']).to_ascii_lowercase();
            if !is_address(&a) {
                return Err(format!("{w:?} is not an address; {usage}"));
            }
            need_to_know.push(a);
        } else if date.is_none() {
            date = Some(w.as_str());
        } else if time.is_none() {
            time = Some(w.as_str());
        } else {
            return Err(format!("{w:?}: {usage}"));
        }
    }
    let date = date
        .and_then(|d| parse_when(d, time))
        .ok_or_else(|| format!("{}: {usage}", words.join(" ")))?;
    Ok(DisclosureCommand::Embargo {
        date,
        force,
        need_to_know,
    })
}

/// `2026-12-08`, `2026-12-08 14:00` (UTC), `2026-12-08T14:00:00Z` or any RFC 3339 time.
pub fn parse_when(date: &str, time: Option<&str>) -> Option<When> {
    if let Ok(t) = DateTime::parse_from_rfc3339(date) {
        return time.is_none().then(|| When::At(t.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    match time {
        None => Some(When::Day(day)),
        Some(t) => {
            let t = t.trim_end_matches("UTC").trim_end_matches('Z');
            let t = NaiveTime::parse_from_str(t, "%H:%M").ok()?;
            Some(When::At(Utc.from_utc_datetime(&day.and_time(t))))
        }
    }
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
        check(
            "/embargo 2026-12-08 14:30",
            Some(Ok(DisclosureCommand::Embargo {
                date: at("2026-12-08T14:30:00Z"),
                force: false,
                need_to_know: vec![],
            })),
        );
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
}
