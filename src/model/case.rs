//! A case: one reported issue, its state and its timeline (DESIGN.md "Cases").
//!
//! Invariant: the timeline only grows; every change to a case appends an event saying who did it
//! and when.
use super::embargo::{Disclosure, Embargo};
use super::party::Reporter;
use super::versions::VersionSpec;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `<PREFIX>-<YEAR>-<NNNN>`, e.g. `SEC-2026-0001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CaseId(String);

impl CaseId {
    pub fn new(prefix: &str, year: i32, seq: u32) -> CaseId {
        CaseId(format!("{prefix}-{year}-{seq:04}"))
    }

    /// Accepts `PREFIX-YYYY-NNNN` (four or more digits) for the configured prefix, case-insensitively.
    pub fn parse(prefix: &str, s: &str) -> Option<CaseId> {
        let rest = s.get(..prefix.len())?;
        if !rest.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let tail = s.get(prefix.len()..)?.strip_prefix('-')?;
        let (year, seq) = tail.split_once('-')?;
        let ok = year.len() == 4
            && year.bytes().all(|b| b.is_ascii_digit())
            && seq.len() >= 4
            && seq.len() <= 9
            && seq.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| CaseId(format!("{prefix}-{year}-{seq}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn year_of(now: DateTime<Utc>) -> i32 {
        now.year()
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    New,
    Triage,
    Confirmed,
    Fixing,
    FixReady,
    PreNotified,
    Disclosed,
    Closed,
    Rejected,
    Duplicate,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Triage => "triage",
            State::Confirmed => "confirmed",
            State::Fixing => "fixing",
            State::FixReady => "fix-ready",
            State::PreNotified => "pre-notified",
            State::Disclosed => "disclosed",
            State::Closed => "closed",
            State::Rejected => "rejected",
            State::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [
            State::New,
            State::Triage,
            State::Confirmed,
            State::Fixing,
            State::FixReady,
            State::PreNotified,
            State::Disclosed,
            State::Closed,
            State::Rejected,
            State::Duplicate,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    pub fn is_closed(self) -> bool {
        matches!(self, State::Closed | State::Rejected | State::Duplicate)
    }

    /// Open and not yet public: the policy's and the embargo's timers run (the store indexes
    /// these cases, so that a timer pass never reads the closed history).
    pub fn is_running(self) -> bool {
        !self.is_closed() && self != State::Disclosed
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// An address, or "secmail" for what the daemon did by itself.
    pub actor: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Message events point at the stored message by its content hash; the text
/// itself lives in the store, never in an event (events are shown and logged more freely).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    Opened {
        /// Which rule made this a new case, e.g. "no thread", "unknown sender cited SEC-2026-0002".
        reason: String,
    },
    /// A message from outside arrived and was attached to the case.
    Received {
        msg_hash: String,
        message_id: Option<String>,
        /// reporter, team, distributor, machine, unknown
        sender_class: String,
        /// clear, decrypted, not-for-us, no-integrity, damaged
        encryption: String,
        /// none, good (verified), good-unverified, bad, unknown-key, expired, revoked
        signature: String,
        signer: Option<String>,
        /// Which threading rule attached it: "new", "references", "case-address", "subject-tag".
        thread_rule: String,
    },
    /// A message was queued in the outbox.
    Sent {
        message_id: String,
        /// ack, team-copy, not-for-us, no-integrity, team-alert, ...
        kind: String,
        to: String,
        encrypted: bool,
    },
    /// A team member has no usable cert and got nothing.
    Withheld {
        to: String,
        kind: String,
        reason: String,
    },
    CertLearnt {
        address: String,
        fingerprint: String,
        source: String,
    },
    /// A cert other than the known one was offered for a reporter by a source that does not
    /// prove the change (not signed by the known cert): kept the known one, told the team.
    CertChangeRefused {
        address: String,
        offered: String,
        kept: String,
        source: String,
    },
    StateChanged {
        from: State,
        to: State,
    },
    DeliveryFailed {
        message_id: Option<String>,
        detail: String,
    },
    /// An automatic reply was not sent (machine sender, rate limit, told before).
    Suppressed {
        kind: String,
        reason: String,
    },
    /// The disclosure date was set or changed (`/embargo`).
    EmbargoSet {
        until: DateTime<Utc>,
        forced: bool,
        /// The issue leaked: disclosure now.
        public: bool,
    },
    /// A notice was not sent to a distributor: its cap, a missing cert, or nothing to send.
    NoticeRefused {
        distributor: String,
        kind: String,
        reason: String,
    },
    /// The case was disclosed (`/disclose`); advisories written.
    Disclosed {
        announce_message_id: String,
    },
    /// A reminder from the disclosure timers (notice due but not fix-ready, embargo over).
    Reminder {
        what: String,
    },
    /// A signed team command was accepted and applied (DESIGN.md "Team commands"); `line` is
    /// the command as written, `detail` what it did.
    Command {
        line: String,
        detail: String,
    },
    /// A command mail was refused: nothing changed. `reasons` never carry report text.
    CommandRefused {
        msg_hash: String,
        reasons: Vec<String>,
    },
    /// Linked to another case by `/duplicate`: `relation` is "duplicate-of" or "duplicate".
    Linked {
        case: CaseId,
        relation: String,
    },
    /// A reporter agreed to be put in touch with the reporter of a linked duplicate.
    ContactConsent {
        reporter: String,
    },
    /// A reporter said how to be credited, answering the acknowledgement (issue 13.5).
    CreditChosen {
        reporter: String,
        credit: super::party::Credit,
    },
    /// Both reporters agreed and were introduced to each other.
    ContactMade {
        reporter: String,
        other: String,
        other_case: CaseId,
    },
    /// A policy timer fired (DESIGN.md "Policies and timers"): each `timer` name fires once
    /// per case (progress updates carry their due time in the name).
    Timer {
        timer: String,
        due: DateTime<Utc>,
        to: Vec<String>,
    },
}

/// The contact offer of a duplicate (DESIGN.md "Team commands", `/duplicate`): each reporter is
/// asked, in a message of its own; they are introduced only when both agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactOffer {
    /// The reporter of this case who was asked.
    pub reporter: String,
    /// The other case and its reporter.
    pub other_case: CaseId,
    pub other_reporter: String,
    /// The offer's Message-ID: consent counts only in a reply to it (threading rule 1), which
    /// only the reporter received, so a forged From alone cannot consent for them.
    pub message_id: String,
    pub consented: bool,
    pub introduced: bool,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    /// Internal title: the (protected) subject of the report. Never put in a clear header.
    pub title: String,
    pub opened: DateTime<Utc>,
    pub state: State,
    pub reporters: Vec<Reporter>,
    pub handler: Option<String>,
    pub severity: Option<Severity>,
    pub cvss: Option<String>,
    /// Versions and ranges (`/affected`); cases stored before ranges read back as versions.
    #[serde(default)]
    pub affected: Vec<VersionSpec>,
    /// The versions with the fix (`/fixed`).
    #[serde(default)]
    pub fixed: Vec<VersionSpec>,
    pub cve: Option<String>,
    pub duplicate_of: Option<CaseId>,
    #[serde(default)]
    pub duplicates: Vec<CaseId>,
    /// Every Message-ID this case has sent or received (threading rule 1).
    #[serde(default)]
    pub message_ids: Vec<String>,
    /// When the reporter last got a message from us (policy timers use it).
    pub last_reporter_update: Option<DateTime<Utc>>,
    /// The disclosure date, who asked, who may know (DESIGN.md "Cases").
    #[serde(default)]
    pub embargo: Option<Embargo>,
    /// Notices sent, patches and text for the disclosure.
    #[serde(default)]
    pub disclosure: Disclosure,
    pub timeline: Vec<Event>,
    /// Open offers to put the reporters of duplicate cases in touch.
    #[serde(default)]
    pub contact_offers: Vec<ContactOffer>,
    /// Set on a case `secmail import` opened: history, with no policy timer until a team member
    /// acts on it (issue 11.10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
}

/// When a case was imported, and when a team member first acted on it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub acted: Option<DateTime<Utc>>,
}

impl Case {
    pub fn new(id: CaseId, title: String, now: DateTime<Utc>) -> Case {
        Case {
            id,
            title,
            opened: now,
            state: State::New,
            reporters: Vec::new(),
            handler: None,
            severity: None,
            cvss: None,
            affected: Vec::new(),
            fixed: Vec::new(),
            cve: None,
            duplicate_of: None,
            duplicates: Vec::new(),
            message_ids: Vec::new(),
            last_reporter_update: None,
            embargo: None,
            disclosure: Disclosure::default(),
            timeline: Vec::new(),
            contact_offers: Vec::new(),
            imported: None,
        }
    }

    /// Imported history no team member has acted on yet: no policy timer runs for it.
    pub fn is_history(&self) -> bool {
        self.imported.as_ref().is_some_and(|i| i.acted.is_none())
    }

    /// When the policy's clock starts for the case: its opening, or for an imported case the
    /// moment a team member first acted on it (its old deadlines are not owed).
    pub fn clock_start(&self) -> DateTime<Utc> {
        match &self.imported {
            Some(Imported { acted: Some(t), .. }) => (*t).max(self.opened),
            _ => self.opened,
        }
    }

    pub fn reporter(&self, address: &str) -> Option<&Reporter> {
        self.reporters
            .iter()
            .find(|r| r.address.eq_ignore_ascii_case(address))
    }

    pub fn reporter_mut(&mut self, address: &str) -> Option<&mut Reporter> {
        self.reporters
            .iter_mut()
            .find(|r| r.address.eq_ignore_ascii_case(address))
    }

    pub fn push(&mut self, at: DateTime<Utc>, actor: &str, kind: EventKind) {
        self.timeline.push(Event {
            at,
            actor: actor.to_string(),
            kind,
        });
    }

    /// Moves the case to `to`, recording the change (no event when it is already there).
    pub fn set_state(&mut self, at: DateTime<Utc>, actor: &str, to: State) {
        if self.state != to {
            let from = self.state;
            self.state = to;
            self.push(at, actor, EventKind::StateChanged { from, to });
        }
    }

    /// True once the named policy timer fired on this case.
    pub fn timer_fired(&self, name: &str) -> bool {
        self.timeline
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Timer { timer, .. } if timer == name))
    }

    pub fn add_message_id(&mut self, id: &str) {
        if !self.message_ids.iter().any(|m| m == id) {
            self.message_ids.push(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_parse_only_for_the_prefix() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(
                CaseId::parse("SEC", input).as_ref().map(CaseId::as_str),
                expected,
                "input {input:?}"
            );
        };
        check("SEC-2026-0001", Some("SEC-2026-0001"));
        check("sec-2026-0001", Some("SEC-2026-0001"));
        check("SEC-2026-12345", Some("SEC-2026-12345"));
        check("SEC-2026-001", None);
        check("SEC-26-0001", None);
        check("CVE-2026-0001", None);
        check("SEC-2026-00x1", None);
        check("", None);
    }

    #[test]
    fn states_round_trip() {
        for s in ["new", "triage", "fix-ready", "pre-notified", "duplicate"] {
            assert_eq!(State::parse(s).map(State::as_str), Some(s));
        }
        assert_eq!(State::parse("bogus"), None);
    }
}
