//! Command: the team's command lines at the top of a message body (DESIGN.md "Team commands").
//!
//! Owns the grammar (which lines are commands, what they mean, what text is left for the
//! reporter). Its rooms: [`disclosure`] is the grammar of the disclosure commands
//! (`/embargo`, `/notify-distributors`, `/disclose`, `/distributors`); `authority` is the gate
//! ([`authorize`]: who may give them — signature, freshness, replay); `relay` is what a
//! `/reply` hands to the reporter. What the commands do to a case is `core::apply`'s (and
//! `core::disclose`'s for the disclosure commands).
//!
//! Invariants: pure and total; a command line is `/name args` with `name` of letters and
//! dashes, in any case (`/State Confirmed` is `/state confirmed`); the block stands at the top
//! of the body or right below the attribution line and quoted lines a reply starts with
//! (`block`), and ends at the first other line (a blank line too), so "/usr/bin is broken" in
//! prose is text, not a command. A line naming a command anywhere else is not executed and
//! listed in [`Parsed::not_executed`] with why, for the sender's answer. A message whose block
//! has any bad line is refused whole (all or nothing), each bad line with its reason.
//!
//! Extension point: a new command is a [`Command`] variant, a row in [`parse_line`] and in
//! [`HELP`], and its effect in `apply::commands`.
mod authority;
mod block;
pub mod disclosure;
mod relay;

pub use authority::{authorize, Authority, CommandMail};
pub use disclosure::{DisclosureCommand, ListCommand, When};
pub use relay::{internal_marker, relay_text};

use crate::model::versions::{self, VersionSpec};
use crate::model::{CaseId, Credit, Severity, State};

/// One command, its arguments checked for form (not yet against the case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send the rest of the text to the reporter(s) from the security address.
    Reply,
    /// Make a team member the handler; `me` is the sender.
    Assign(String),
    State(State),
    Severity(Severity, Option<String>),
    Affected(Vec<VersionSpec>),
    /// Versions only: a fix is in a release, not in a range.
    Fixed(Vec<VersionSpec>),
    Cve(String),
    /// `reporter`: which reporter, when the case has more than one.
    Credit {
        reporter: Option<String>,
        credit: Credit,
    },
    /// This case duplicates the named one.
    Duplicate(CaseId),
    /// The commands are for this case: names it inside the signed content (SECURITY.md,
    /// re-targeting), where unsigned headers cannot change it.
    Case(CaseId),
    Help,
    /// `/embargo`, `/notify-distributors`, `/disclose`, `/distributors`: the disclosure
    /// commands, parsed by [`disclosure`] and carried out by `core::disclose`.
    Disclosure(DisclosureCommand),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Reply => "reply",
            Command::Assign(_) => "assign",
            Command::State(_) => "state",
            Command::Severity(..) => "severity",
            Command::Affected(_) => "affected",
            Command::Fixed(_) => "fixed",
            Command::Cve(_) => "cve",
            Command::Credit { .. } => "credit",
            Command::Duplicate(_) => "duplicate",
            Command::Case(_) => "case",
            Command::Help => "help",
            Command::Disclosure(d) => d.name(),
        }
    }
}

/// The command block of a body and what follows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// Each command line as written (trimmed) with its meaning.
    pub commands: Vec<(String, Command)>,
    /// One reason per bad line ("/state bogus: unknown state ...").
    pub errors: Vec<String>,
    /// The body without the command block: what is stored and, with `/reply`, relayed.
    pub text: String,
    /// Command lines outside the block ("LINE: why"): not executed, and the sender is told
    /// (issue 13.1: nothing a member wrote as a command is dropped silently).
    pub not_executed: Vec<String>,
}

impl Parsed {
    /// True when the body had a command block at all.
    pub fn has_commands(&self) -> bool {
        !self.commands.is_empty() || !self.errors.is_empty()
    }

    pub fn has(&self, name: &str) -> bool {
        self.commands.iter().any(|(_, c)| c.name() == name)
    }
}

/// What `/help` answers.
pub const HELP: &str = "\
Commands go in one block of a signed reply, one per line, in any case (/State = /state):
at the top, or right below the quoted text (\"... wrote:\" and the > lines). The first
other line, a blank one too, ends the block; command lines elsewhere are not executed,
and you are told which. The signed text must name the case: reply quoting the team
copy (its Case: line), keep the [case] tag in the subject of a client that protects
it, or add a /case line.
  /case CASE             the case these commands are for
  /reply                 send the rest of this message to the reporter(s)
  /assign ADDRESS|me     make a team member the case's handler
  /state STATE           new, triage, confirmed, fixing, fix-ready, pre-notified,
                         disclosed, closed, rejected
  /severity LEVEL [CVSS] low, medium, high or critical, optionally a CVSS v3.1 or v4.0
                         vector (scored; a level the score disagrees with is warned of)
  /affected VERSIONS     affected versions and ranges: 2.4.0, 2.4.1 | >=2.0, <2.3.2 |
                         2.0 - 2.3.1 (2.3.1 included) | < 3.1
  /fixed VERSIONS        the versions with the fix, e.g. 2.3.2
  /cve ID                e.g. CVE-2026-12345
  /credit NAME|anonymous how to credit the reporter ([ADDRESS] first with several)
  /duplicate CASE        this case duplicates CASE; the reporters are offered contact
  /embargo DATE [HH:MM [ZONE]] [force] [ADDRESS…]
                         disclosure date: 2026-12-08 (16:00 UTC), 2026-12-08 14:00 (the
                         policy's time zone), 2026-12-08 14:00 UTC or Europe/Berlin,
                         2026-12-08T14:00Z, 2026-12-08T14:00+01:00. Friday to Sunday and
                         dates past the policy's maximum need force; addresses: need to know
  /embargo public        the issue leaked: reporter and team told, disclose now
  /notify-distributors   advance notice to each distributor (the text below the commands:
                         description and remedy; attachments: the patches); the reporter
                         is told the date
  /disclose [force]      announcement to the announce list; embargo over; advisories
  /distributors list | add ADDRESS [--name \"NAME\"] [--cap 14d] [--notices KINDS]
                         (attach their cert) | remove ID|ADDRESS
  /help                  this list
Without /reply the message is an internal note, copied to the rest of the team.
Commands count once per signature, only while the signature is fresh, and all or
nothing: one bad line refuses the whole message.";

/// The most command lines one message may carry.
const MAX_COMMANDS: usize = 50;

/// Splits `body` into its command block and the rest (`block`: at the top, or below the
/// quote a reply starts with), and parses each command line. Command lines elsewhere are
/// [`Parsed::not_executed`], each with why.
pub fn parse(body: &str, case_prefix: &str) -> Parsed {
    let mut out = Parsed::default();
    let known = |n: &str| NAMES.contains(&n) || disclosure::NAMES.contains(&n);
    let split = block::split(body, &known);
    for line in &split.block {
        let Some((name, args)) = block::command_line(line) else {
            continue;
        };
        let written = line.trim().to_string();
        if out.commands.len() + out.errors.len() >= MAX_COMMANDS {
            out.errors
                .push(format!("more than {MAX_COMMANDS} command lines"));
            continue;
        }
        match parse_line(&name, args, case_prefix) {
            Ok(c) => out.commands.push((written, c)),
            Err(why) => out.errors.push(format!("{written}: {why}")),
        }
    }
    out.not_executed = split
        .stray
        .iter()
        .take(MAX_COMMANDS)
        .map(|(line, why)| format!("{line}: {why}"))
        .collect();
    out.text = split.text.join("\n");
    out
}

/// The command names of [`parse_line`] besides the disclosure ones.
const NAMES: &[&str] = &[
    "reply",
    "help",
    "assign",
    "state",
    "severity",
    "affected",
    "fixed",
    "cve",
    "credit",
    "case",
    "duplicate",
];

fn parse_line(name: &str, args: &str, case_prefix: &str) -> Result<Command, String> {
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(format!("/{name} takes no argument"))
        }
    };
    match name {
        "reply" => none(Command::Reply),
        "help" => none(Command::Help),
        "assign" => {
            let a = one_arg(args, "ADDRESS")?.to_ascii_lowercase();
            if a == "me" || is_address(&a) {
                Ok(Command::Assign(a))
            } else {
                Err(format!("{a:?} is not an address"))
            }
        }
        "state" => {
            let s = one_arg(args, "STATE")?;
            match State::parse(s) {
                Some(State::Duplicate) => {
                    Err("use /duplicate CASE to mark a duplicate".into())
                }
                Some(st) => Ok(Command::State(st)),
                None => Err(format!(
                    "unknown state {s:?}; one of new, triage, confirmed, fixing, fix-ready, pre-notified, disclosed, closed, rejected"
                )),
            }
        }
        "severity" => {
            let mut words = args.split_whitespace();
            let level = words
                .next()
                .ok_or("missing LEVEL (low, medium, high, critical)")?;
            let sev = Severity::parse(level)
                .ok_or_else(|| format!("unknown level {level:?}; low, medium, high or critical"))?;
            // Parsed and scored by RustSec's cvss crate (issue 13.4); kept in its canonical
            // form. A level the score disagrees with is accepted with a warning (apply).
            let cvss = match words.next() {
                Some(v) => Some(crate::core::advisory::cvss::score(v)?.vector),
                None => None,
            };
            if words.next().is_some() {
                return Err("too many arguments: LEVEL [CVSS]".into());
            }
            Ok(Command::Severity(sev, cvss))
        }
        "affected" => versions::parse_list(args).map(Command::Affected),
        "fixed" => {
            let v = versions::parse_list(args)?;
            match v.iter().find(|v| matches!(v, VersionSpec::Range(_))) {
                Some(r) => Err(format!(
                    "{r} is a range; /fixed names the versions that have the fix, e.g. /fixed 2.3.2"
                )),
                None => Ok(Command::Fixed(v)),
            }
        }
        "cve" => {
            let id = one_arg(args, "ID")?.to_ascii_uppercase();
            if is_cve(&id) {
                Ok(Command::Cve(id))
            } else {
                Err(format!("{id:?} is not a CVE id like CVE-2026-12345"))
            }
        }
        "credit" => {
            if args.is_empty() {
                return Err("missing NAME or anonymous".into());
            }
            let (reporter, rest) = match args.split_once(char::is_whitespace) {
                Some((first, rest)) if is_address(first) => {
                    (Some(first.to_ascii_lowercase()), rest.trim())
                }
                _ if is_address(args) => return Err("missing NAME or anonymous".into()),
                _ => (None, args),
            };
            if rest.chars().count() > 100 || rest.chars().any(char::is_control) {
                return Err("a credit is one line of at most 100 characters".into());
            }
            let credit = if rest.eq_ignore_ascii_case("anonymous") {
                Credit::Anonymous
            } else {
                Credit::Handle(rest.to_string())
            };
            Ok(Command::Credit { reporter, credit })
        }
        "case" => {
            let id = one_arg(args, "CASE")?;
            CaseId::parse(case_prefix, id)
                .map(Command::Case)
                .ok_or_else(|| format!("{id:?} is not a case id like {case_prefix}-2026-0001"))
        }
        "duplicate" => {
            let id = one_arg(args, "CASE")?;
            CaseId::parse(case_prefix, id)
                .map(Command::Duplicate)
                .ok_or_else(|| format!("{id:?} is not a case id like {case_prefix}-2026-0001"))
        }
        // Disclosure commands (DESIGN.md "Distributors and advance notice").
        n if disclosure::NAMES.contains(&n) => match disclosure::parse_args(n, args) {
            Some(r) => r.map(Command::Disclosure),
            None => Err(format!("unknown command /{n}")),
        },
        other => Err(format!(
            "unknown command /{other}; /help lists the commands"
        )),
    }
}

fn one_arg<'a>(args: &'a str, what: &str) -> Result<&'a str, String> {
    let mut w = args.split_whitespace();
    match (w.next(), w.next()) {
        (Some(a), None) => Ok(a),
        (None, _) => Err(format!("missing {what}")),
        (Some(_), Some(_)) => Err(format!("expected one {what}")),
    }
}

/// An address in `/assign` and `/credit`: looser than [`disclosure::is_address`] (a team at
/// `localhost` passes, punctuation is not checked), which guards the distributor list. Kept
/// apart so that neither command's acceptance changes.
fn is_address(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') || d == "localhost")
        && !s.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
}

fn is_cve(s: &str) -> bool {
    let mut p = s.splitn(3, '-');
    matches!((p.next(), p.next(), p.next()), (Some("CVE"), Some(y), Some(n))
        if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
            && (4..=9).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, commands: &[Command], errors: &[&str], text: &str) {
        let p = parse(body, "SEC");
        let got: Vec<Command> = p.commands.iter().map(|(_, c)| c.clone()).collect();
        assert_eq!(got, commands, "commands of {body:?}");
        assert_eq!(p.errors, errors, "errors of {body:?}");
        assert_eq!(p.text, text, "text of {body:?}");
    }

    #[test]
    fn command_blocks() {
        check("hello\n/state triage", &[], &[], "hello\n/state triage");
        check(
            "\n/state triage\n/assign me\nThanks, looking.",
            &[Command::State(State::Triage), Command::Assign("me".into())],
            &[],
            "Thanks, looking.",
        );
        check(
            "/reply\n\nHello Rita,\nfixed.",
            &[Command::Reply],
            &[],
            "Hello Rita,\nfixed.",
        );
        // A blank line ends the block: later command-looking lines are text.
        check(
            "/help\n\n/state closed",
            &[Command::Help],
            &[],
            "/state closed",
        );
        check("/usr/bin is broken", &[], &[], "/usr/bin is broken");
        check(
            "/severity high CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/cve cve-2026-1234\n/affected <2.4.2, 3.0.0\n/fixed 2.4.2",
            &[
                Command::Severity(
                    Severity::High,
                    Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                ),
                Command::Cve("CVE-2026-1234".into()),
                Command::Affected(versions::parse_list("<2.4.2, 3.0.0").unwrap()),
                Command::Fixed(vec!["2.4.2".into()]),
            ],
            &[],
            "",
        );
        check(
            "/credit anonymous\n/credit rita@reporter.example Rita R.\n/duplicate sec-2026-0001",
            &[
                Command::Credit {
                    reporter: None,
                    credit: Credit::Anonymous,
                },
                Command::Credit {
                    reporter: Some("rita@reporter.example".into()),
                    credit: Credit::Handle("Rita R.".into()),
                },
                Command::Duplicate(CaseId::new("SEC", 2026, 1)),
            ],
            &[],
            "",
        );
    }

    #[test]
    fn names_are_case_insensitive_and_blocks_may_follow_a_quote() {
        check(
            "/State Confirmed\n/ASSIGN me",
            &[
                Command::State(State::Confirmed),
                Command::Assign("me".into()),
            ],
            &[],
            "",
        );
        check(
            "On Tue, 1 Dec 2026 at 10:00, secmail wrote:\n> Case: SEC-2026-0001\n>\n> parse_packet overflows\n\n/state confirmed\n\nThanks.",
            &[Command::State(State::Confirmed)],
            &[],
            "On Tue, 1 Dec 2026 at 10:00, secmail wrote:\n> Case: SEC-2026-0001\n>\n> parse_packet overflows\n\nThanks.",
        );
        let p = parse(
            "Looking into it.\n/State triage\n/embargo 2026-12-08",
            "SEC",
        );
        assert!(p.commands.is_empty() && p.errors.is_empty());
        assert_eq!(
            p.not_executed,
            [
                format!("/State triage: {}", block::AFTER_TEXT),
                format!("/embargo 2026-12-08: {}", block::AFTER_TEXT),
            ]
        );
        let p = parse("/help\n\n/state closed", "SEC");
        assert_eq!(
            p.not_executed,
            [format!("/state closed: {}", block::AFTER_BLOCK)]
        );
    }

    #[test]
    fn bad_lines_each_give_a_reason() {
        check(
            "/state bogus\n/severity huge\n/cve 1234\n/assign nobody\n/frobnicate\n/reply now\n/duplicate CVE-2026-0001\n/state duplicate\n/embargo next week\n/severity low CVSS:9",
            &[],
            &[
                "/state bogus: unknown state \"bogus\"; one of new, triage, confirmed, fixing, fix-ready, pre-notified, disclosed, closed, rejected",
                "/severity huge: unknown level \"huge\"; low, medium, high or critical",
                "/cve 1234: \"1234\" is not a CVE id like CVE-2026-12345",
                "/assign nobody: \"nobody\" is not an address",
                "/frobnicate: unknown command /frobnicate; /help lists the commands",
                "/reply now: /reply takes no argument",
                "/duplicate CVE-2026-0001: \"CVE-2026-0001\" is not a case id like SEC-2026-0001",
                "/state duplicate: use /duplicate CASE to mark a duplicate",
                "/embargo next week: next week is not a date and time of these forms; write one of: /embargo YYYY-MM-DD (at 16:00 UTC) | /embargo YYYY-MM-DD 14:00 (in the policy's time zone) | /embargo YYYY-MM-DD 14:00 UTC | /embargo YYYY-MM-DD 14:00 Europe/Berlin (an IANA zone) | /embargo YYYY-MM-DDT14:00Z | /embargo YYYY-MM-DDT14:00+01:00 | /embargo public; then [force] [need-to-know ADDRESS…]",
                "/severity low CVSS:9: \"CVSS:9\" is not a CVSS vector like CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (invalid CVSS metric group component: `CVSS:9`)",
            ],
            "",
        );
        let many = "/help\n".repeat(60);
        assert_eq!(parse(&many, "SEC").errors.len(), 10);
    }
}
