//! Credit: a reporter's answer to the acknowledgement's question how they want to be credited
//! (issue 13.5; the coordinated-disclosure seed: the discoverer may stay anonymous) — a line
//! `Credit: NAME OR HANDLE`, or `Anonymous`.
//!
//! Invariants: pure; only the reporter's own text counts (not quoted lines, not below a
//! signature), and only from a message the sender could not forge into the case: the report
//! itself, a reply to one of our messages (threading rule 1: our Message-IDs are unguessable),
//! or one with a good signature by the reporter's cert. The team's `/credit` wins: once a member
//! set a reporter's credit, their answers are recorded but change nothing.
use crate::core::decrypt::Opened;
use crate::model::{Case, Credit, EventKind};
use chrono::{DateTime, Utc};

/// What a reporter's text says about their credit, if anything.
pub(super) fn stated(text: &str) -> Option<Credit> {
    for line in text.lines() {
        let l = line.trim();
        if l == "-- " || l == "--" || line.starts_with("-- ") {
            break;
        }
        if l.starts_with('>') {
            continue;
        }
        let lower = l.to_ascii_lowercase();
        let bare = lower
            .trim_end_matches(['.', '!'])
            .trim_end_matches("please")
            .trim_end_matches([',', ' ']);
        if matches!(bare, "anonymous" | "anonymously" | "credit anonymous") {
            return Some(Credit::Anonymous);
        }
        let Some(value) = lower
            .strip_prefix("credit:")
            .map(|_| l["credit:".len()..].trim())
        else {
            continue;
        };
        let value = value.trim_matches(['"', '\'']).trim();
        if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
            continue;
        }
        return Some(match value.to_ascii_lowercase().trim_end_matches('.') {
            "anonymous" | "anonymously" | "none" | "no" | "nobody" => Credit::Anonymous,
            _ => Credit::Handle(value.to_string()),
        });
    }
    None
}

/// Records the credit a reporter's message states. `trusted`: the message is one the sender
/// could not have forged into this case (see the module's invariants). Returns a line for the
/// summary when it changed something.
pub(super) fn reply(
    case: &mut Case,
    from: &str,
    opened: &Opened,
    trusted: bool,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    let credit = stated(&opened.text)?;
    if !trusted {
        return None;
    }
    let by_team = case.timeline.iter().any(|e| {
        matches!(&e.kind, EventKind::Command { line, .. }
            if line.to_ascii_lowercase().starts_with("/credit"))
    });
    let reporter = case.reporter_mut(from)?;
    if by_team || reporter.credit == credit {
        return None;
    }
    reporter.credit = credit.clone();
    let address = reporter.address.clone();
    case.push(
        now,
        &address,
        EventKind::CreditChosen {
            reporter: address.clone(),
            credit,
        },
    );
    Some("credit recorded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_reporters_write_them() {
        let check = |text: &str, expected: Option<Credit>| {
            assert_eq!(stated(text), expected, "{text:?}");
        };
        check("Credit: Rita R.", Some(Credit::Handle("Rita R.".into())));
        check(
            "Thanks!\n\ncredit:  @rita_sec\n",
            Some(Credit::Handle("@rita_sec".into())),
        );
        check("Anonymous, please.", Some(Credit::Anonymous));
        check("Anonymous reporters are often ignored.", None);
        check("Anonymous.", Some(Credit::Anonymous));
        check("Credit: anonymous", Some(Credit::Anonymous));
        check("Credit: none", Some(Credit::Anonymous));
        check("> Credit: Quoted Name", None);
        check("-- \nCredit: In Signature", None);
        check("Credit:", None);
        check("The credit: goes to whoever", None);
    }
}
