//! Thread: which case does a message belong to (DESIGN.md "Threading", rules in order).
//!
//! Invariant: rules 2 and 3 (case address, subject tag) attach a message only when its sender is
//! already a participant of that case, so nobody injects text into someone else's case by
//! guessing an id; rule 1 needs a Message-ID the case itself sent or received.
use super::parse::Headers;
use crate::core::settings::Project;
use crate::model::{Case, CaseId};

/// What threading needs from the store: lookups only.
pub trait Lookup {
    fn case_of_message_id(&self, message_id: &str) -> Option<CaseId>;
    fn case(&self, id: &CaseId) -> Option<Case>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    References,
    CaseAddress,
    SubjectTag,
    /// The same encrypted payload as a message of the case (SECURITY.md, decryption oracle).
    SameCiphertext,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::References => "references",
            Rule::CaseAddress => "case-address",
            Rule::SubjectTag => "subject-tag",
            Rule::SameCiphertext => "same-ciphertext",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Threaded {
    Existing {
        case: Box<Case>,
        rule: Rule,
    },
    /// No case found. `cited` is a case the message named but whose participant the sender is
    /// not; the new case records it.
    New {
        cited: Option<CaseId>,
    },
}

/// Who may thread into a case by address or tag: a reporter, a team member, or a distributor
/// who was sent a notice about it (DESIGN.md "Threading").
pub fn is_participant(case: &Case, sender: &str, is_team: bool) -> bool {
    is_team || case.reporter(sender).is_some() || case.disclosure.was_notified(sender)
}

pub fn find_case(
    h: &Headers,
    protected_subject: Option<&str>,
    sender: &str,
    is_team: bool,
    project: &Project,
    store: &dyn Lookup,
) -> Threaded {
    let prefix = project.case_prefix.as_str();
    // Rule 1: In-Reply-To, then References from the newest.
    for id in h.in_reply_to.iter().chain(h.references.iter().rev()) {
        if let Some(case) = store.case_of_message_id(id).and_then(|c| store.case(&c)) {
            return Threaded::Existing {
                case: Box::new(case),
                rule: Rule::References,
            };
        }
    }
    let mut cited = None;
    // Rule 2: the case address in To/Cc/Delivered-To.
    let head = format!("{}{}", project.local_part, project.separator);
    let tail = format!("@{}", project.domain);
    for rcpt in &h.recipients {
        let Some(id) = rcpt
            .strip_prefix(&head)
            .and_then(|r| r.strip_suffix(&tail))
            .and_then(|r| CaseId::parse(prefix, r))
        else {
            continue;
        };
        match store.case(&id) {
            Some(case) if is_participant(&case, sender, is_team) => {
                return Threaded::Existing {
                    case: Box::new(case),
                    rule: Rule::CaseAddress,
                }
            }
            Some(_) => cited = cited.or(Some(id)),
            None => {}
        }
    }
    // Rule 3: a [PREFIX-YYYY-NNNN] tag in the (protected, when present) Subject.
    let subject = protected_subject.or(h.subject.as_deref()).unwrap_or("");
    for id in subject_tags(subject, prefix) {
        match store.case(&id) {
            Some(case) if is_participant(&case, sender, is_team) => {
                return Threaded::Existing {
                    case: Box::new(case),
                    rule: Rule::SubjectTag,
                }
            }
            Some(_) => cited = cited.or(Some(id)),
            None => {}
        }
    }
    Threaded::New { cited }
}

/// Every `[PREFIX-YYYY-NNNN]` in a subject, in order.
pub fn subject_tags(subject: &str, prefix: &str) -> Vec<CaseId> {
    subject
        .split('[')
        .skip(1)
        .filter_map(|s| s.split_once(']'))
        .filter_map(|(inner, _)| CaseId::parse(prefix, inner.trim()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::parse::headers;
    use crate::model::Reporter;
    use chrono::{TimeZone, Utc};
    use std::collections::HashMap;

    struct Mem {
        ids: HashMap<String, CaseId>,
        cases: HashMap<CaseId, Case>,
    }
    impl Lookup for Mem {
        fn case_of_message_id(&self, m: &str) -> Option<CaseId> {
            self.ids.get(m).cloned()
        }
        fn case(&self, id: &CaseId) -> Option<Case> {
            self.cases.get(id).cloned()
        }
    }

    fn world() -> Mem {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let id = CaseId::new("SEC", 2026, 1);
        let mut case = Case::new(id.clone(), "t".into(), now);
        case.reporters.push(Reporter {
            address: "rita@reporter.example".into(),
            name: None,
            cert: None,
            cert_fingerprint: None,
            cert_source: None,
            credit: Default::default(),
            language: None,
        });
        // Distro A was sent a notice about the case: a participant from then on.
        case.disclosure.notified.push(crate::model::Notified {
            distributor: crate::model::DistributorId::from_name("Distro A").unwrap(),
            address: "dana@distro-a.example".into(),
            kind: crate::model::NoticeKind::Advance,
            at: now,
            message_id: "advance-notice.1@example.org".into(),
            until: None,
        });
        let mut ids = HashMap::new();
        ids.insert("ack.1@example.org".to_string(), id.clone());
        Mem {
            ids,
            cases: HashMap::from([(id, case)]),
        }
    }

    /// The project the tests of core share.
    pub fn project() -> Project {
        Project {
            name: "Example".into(),
            security_address: "security@example.org".into(),
            local_part: "security".into(),
            domain: "example.org".into(),
            case_prefix: "SEC".into(),
            separator: "+".into(),
            instance: "security@example.org".into(),
            demo_keys: true,
            announce_address: None,
            id_secret: Default::default(),
        }
    }

    fn thread(
        raw: &str,
        protected: Option<&str>,
        team: bool,
    ) -> (Option<String>, Option<Rule>, Option<String>) {
        let h = headers(raw.as_bytes()).unwrap();
        let sender = h.from.as_ref().unwrap().address.clone();
        match find_case(&h, protected, &sender, team, &project(), &world()) {
            Threaded::Existing { case, rule } => (Some(case.id.to_string()), Some(rule), None),
            Threaded::New { cited } => (None, None, cited.map(|c| c.to_string())),
        }
    }

    #[test]
    fn rules_in_order_with_the_participant_rule() {
        let s = |x: &str| Some(x.to_string());
        let rita = "From: rita@reporter.example\r\n";
        let eve = "From: eve@evil.test\r\n";
        // Rule 1 works for anyone who knows a Message-ID the case sent.
        assert_eq!(
            thread(
                &format!("{eve}In-Reply-To: <ack.1@example.org>\r\n\r\n"),
                None,
                false
            ),
            (s("SEC-2026-0001"), Some(Rule::References), None)
        );
        assert_eq!(
            thread(
                &format!("{rita}References: <x@y> <ack.1@example.org>\r\n\r\n"),
                None,
                false
            )
            .1,
            Some(Rule::References)
        );
        // Rule 2: the case address, only for participants.
        assert_eq!(
            thread(
                &format!("{rita}To: security+SEC-2026-0001@example.org\r\n\r\n"),
                None,
                false
            )
            .1,
            Some(Rule::CaseAddress)
        );
        assert_eq!(
            thread(
                &format!("{eve}To: security+SEC-2026-0001@example.org\r\n\r\n"),
                None,
                false
            ),
            (None, None, s("SEC-2026-0001"))
        );
        assert_eq!(
            thread(
                &format!("{eve}To: security+SEC-2026-0001@example.org\r\n\r\n"),
                None,
                true
            )
            .1,
            Some(Rule::CaseAddress)
        );
        // A distributor is a participant once it was sent a notice about the case, not before.
        assert_eq!(
            thread(
                "From: dana@distro-a.example\r\nSubject: Re: [SEC-2026-0001] notice\r\n\r\n",
                None,
                false
            )
            .1,
            Some(Rule::SubjectTag)
        );
        assert_eq!(
            thread(
                "From: carl@distro-c.example\r\nTo: security+SEC-2026-0001@example.org\r\n\r\n",
                None,
                false
            ),
            (None, None, s("SEC-2026-0001"))
        );
        // Rule 3: the subject tag, protected subject first.
        assert_eq!(
            thread(
                &format!("{rita}Subject: Re: [SEC-2026-0001] x\r\n\r\n"),
                None,
                false
            )
            .1,
            Some(Rule::SubjectTag)
        );
        assert_eq!(
            thread(
                &format!("{rita}Subject: ...\r\n\r\n"),
                Some("Re: [SEC-2026-0001]"),
                false
            )
            .1,
            Some(Rule::SubjectTag)
        );
        assert_eq!(
            thread(
                &format!("{eve}Subject: [SEC-2026-0001]\r\n\r\n"),
                None,
                false
            ),
            (None, None, s("SEC-2026-0001"))
        );
        // Unknown ids and nothing at all open a new case.
        assert_eq!(
            thread(
                &format!("{rita}Subject: [SEC-2026-0999]\r\n\r\n"),
                None,
                false
            ),
            (None, None, None)
        );
        assert_eq!(
            thread(&format!("{rita}Subject: hi\r\n\r\n"), None, false),
            (None, None, None)
        );
    }

    #[test]
    fn subject_tags_are_found() {
        let ids: Vec<String> =
            subject_tags("Re: [SEC-2026-0001] and [sec-2026-0002] [nope]", "SEC")
                .iter()
                .map(|c| c.to_string())
                .collect();
        assert_eq!(ids, vec!["SEC-2026-0001", "SEC-2026-0002"]);
    }
}
