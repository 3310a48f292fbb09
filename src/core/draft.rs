//! Draft: a message the core decided to send, before it is rendered, signed and encrypted;
//! and the builders that make one for each kind of recipient — the team (`draft::team`:
//! [`alert`], [`member_message`], [`team_copy`]), a reporter or the sender of a message
//! (`draft::reporter`: [`reporter_message`], [`acknowledgement`], [`cannot_read`],
//! [`too_large`]) — so that
//! subjects, threading, template variables and Message-IDs follow one set of rules whoever
//! decided to send; and the team's alert about messages kept without a case (`draft::kept`:
//! [`Kept`], [`kept_alert`]); and the language a reporter is written to (`draft::language`).
//! Here: the type, its [`Kind`], the Message-ID, the variables every template gets, and the
//! timeline record of a draft sent.
//!
//! Invariants: a draft to a team member is always encrypted to that member's cert alone, and
//! none is built for a cert that is not usable (DESIGN.md "OpenPGP": never a plaintext
//! fallback); a clear subject is the case tag and a fixed phrase, the report's own subject only
//! ever inside encryption; a Message-ID is derived from its cause ([`message_id`]).
mod kept;
pub mod language;
mod reporter;
mod team;

pub use kept::{kept_alert, Kept};
pub(crate) use reporter::{acknowledgement, cannot_read, reporter_message, too_large};
pub use team::alert;
pub(crate) use team::{member_message, team_copy};

use super::decrypt::Attachment;
use super::keys::Cert;
use super::parse::{one_line, Headers, Mailbox};
use super::settings::{Project, Settings};
use crate::model::{Case, CaseId, EventKind};
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// First answer to a new report.
    Ack,
    /// A report or follow-up forwarded to one team member.
    TeamCopy,
    /// Mail we could not decrypt: which fingerprint to encrypt to.
    NotForUs,
    /// Ciphertext without integrity protection, refused.
    NoIntegrity,
    /// A message we could not read at all.
    Unreadable,
    /// Something the team must know (loop, oversize mail, a message matching no case).
    TeamAlert,
    /// Advance notice to one distributor (DESIGN.md "Distributors and advance notice").
    AdvanceNotice,
    /// The reminder to a distributor 24 hours before the disclosure date.
    FinalNotice,
    /// To a distributor or reporter: the embargo is over (disclosed, or leaked).
    EmbargoOver,
    /// To the reporter: the planned disclosure date, sent with the advance notices.
    DisclosureDate,
    /// The public announcement (signed, never encrypted) to the announce address.
    Announcement,
    /// To a team member: what their signed commands did.
    CommandResult,
    /// To a team member: their command mail was refused, and why.
    CommandRefused,
    /// A team member's `/reply`, relayed to a reporter from the security address.
    Relay,
    /// To a reporter of a duplicate: may we put you in touch with the other reporter?
    ContactOffer,
    /// To both reporters of a duplicate, once both agreed: each other's address.
    ContactMade,
    /// To the handler: a policy deadline is near.
    Reminder,
    /// To the next in the escalation chain: a deadline was missed.
    Escalation,
    /// To a reporter: the periodic progress update the policy promises.
    Progress,
    /// To a reporter whose acknowledgements the rate limit held back: one later, content-free
    /// message naming the cases (issue 11.5).
    AckCoalesced,
    /// To each team member: open cases, deadlines, breaches, expiring certs.
    Digest,
    /// To the sender of mail over the size limit, once per address: the limit and how to send
    /// large material (issue 11.7).
    TooLarge,
}

impl Kind {
    /// Every kind, in the order of the enum: each has a template, which `compose::Templates::from_sources` requires.
    pub const ALL: [Kind; 22] = [
        Kind::Ack,
        Kind::TeamCopy,
        Kind::NotForUs,
        Kind::NoIntegrity,
        Kind::Unreadable,
        Kind::TeamAlert,
        Kind::AdvanceNotice,
        Kind::FinalNotice,
        Kind::EmbargoOver,
        Kind::DisclosureDate,
        Kind::Announcement,
        Kind::CommandResult,
        Kind::CommandRefused,
        Kind::Relay,
        Kind::ContactOffer,
        Kind::ContactMade,
        Kind::Reminder,
        Kind::Escalation,
        Kind::Progress,
        Kind::AckCoalesced,
        Kind::Digest,
        Kind::TooLarge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ack => "ack",
            Kind::TeamCopy => "team-copy",
            Kind::NotForUs => "not-for-us",
            Kind::NoIntegrity => "no-integrity",
            Kind::Unreadable => "unreadable",
            Kind::TeamAlert => "team-alert",
            Kind::AdvanceNotice => "advance-notice",
            Kind::FinalNotice => "final-notice",
            Kind::EmbargoOver => "embargo-over",
            Kind::DisclosureDate => "disclosure-date",
            Kind::Announcement => "announcement",
            Kind::CommandResult => "command-result",
            Kind::CommandRefused => "command-refused",
            Kind::Relay => "relay",
            Kind::ContactOffer => "contact-offer",
            Kind::ContactMade => "contact-made",
            Kind::Reminder => "reminder",
            Kind::Escalation => "escalation",
            Kind::Progress => "progress",
            Kind::AckCoalesced => "ack-coalesced",
            Kind::Digest => "digest",
            Kind::TooLarge => "too-large",
        }
    }

    /// The template file (without `.hbs`) that renders it.
    pub fn template(self) -> &'static str {
        self.as_str()
    }

    /// Everything we send by ourselves says so (RFC 3834).
    pub fn auto_submitted(self) -> &'static str {
        match self {
            Kind::Ack
            | Kind::NotForUs
            | Kind::NoIntegrity
            | Kind::Unreadable
            | Kind::CommandResult
            | Kind::CommandRefused
            | Kind::AckCoalesced
            | Kind::TooLarge => "auto-replied",
            // Written by a person; we only carry it (RFC 3834 §5: "no").
            Kind::Relay => "no",
            // A person decided to publish it (`/disclose`); lists may drop automatic mail.
            Kind::Announcement => "no",
            Kind::TeamCopy
            | Kind::TeamAlert
            | Kind::ContactOffer
            | Kind::ContactMade
            | Kind::Reminder
            | Kind::Escalation
            | Kind::Progress
            | Kind::Digest
            | Kind::AdvanceNotice
            | Kind::FinalNotice
            | Kind::EmbargoOver
            | Kind::DisclosureDate => "auto-generated",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: Kind,
    pub case_id: Option<CaseId>,
    pub to: Mailbox,
    /// Encrypt to this cert. `None`: signed only (only ever to a reporter or sender whose cert
    /// we do not know; the team and distributors are never sent plaintext).
    pub encrypt_to: Option<Cert>,
    /// Variables for the template.
    pub vars: serde_json::Value,
    /// The clear Subject: the case tag and a generic phrase, never the report's own subject.
    pub subject: String,
    /// The protected Subject, only ever inside encryption.
    pub inner_subject: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub reply_to: Option<String>,
    /// Stable: derived from what caused it, so a re-send after a crash is recognisable.
    pub message_id: String,
    pub attachments: Vec<Attachment>,
    /// The language to write in: a reporter's, as recorded on the case (`Reporter::language`)
    /// or chosen from the mail answered; `None`: the policy default, which the team,
    /// distributors and the announcement list always get (issue 12.6).
    pub language: Option<String>,
}

/// `<kind>.<case>.<digest>@<domain>`: the digest is HMAC-SHA256 under the store's secret of
/// the cause and the recipient — stable for the same message (a re-send has the same id),
/// unguessable without the secret (SECURITY.md, predictable ids).
pub fn message_id(
    kind: Kind,
    case: Option<&CaseId>,
    cause: &str,
    to: &str,
    project: &Project,
) -> String {
    use hmac::{Hmac, Mac};
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(&project.id_secret.0)
        .expect("HMAC takes a key of any length");
    h.update(cause.as_bytes());
    h.update(&[0]);
    h.update(to.as_bytes());
    let d = hex::encode(h.finalize().into_bytes());
    let case = case.map(CaseId::as_str).unwrap_or("none");
    format!("{}.{case}.{}@{}", kind.as_str(), &d[..20], project.domain)
}

/// The variables every template gets (the project, our fingerprint, the case and its address),
/// with `extra` on top.
pub(crate) fn base_vars(
    config: &Settings,
    case: Option<&Case>,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut v = json!({
        "project": config.project.name,
        "security_address": config.project.security_address,
        "fingerprint": config.keys.signing_fingerprint(),
        "fingerprint_spaced": spaced(&config.keys.signing_fingerprint()),
        "case_id": case.map(|c| c.id.to_string()),
        "case_address": case.map(|c| config.project.case_address(c.id.as_str())),
    });
    if let (Some(map), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        map.extend(extra);
    }
    v
}

/// `ABCD EF01 …` groups of four, as people compare fingerprints.
fn spaced(fpr: &str) -> String {
    fpr.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `d` as an answer to the mail with header `h` (issue 11.8): threaded under it (RFC 5322
/// §3.6.4: In-Reply-To its Message-ID, References its References and its Message-ID) and
/// naming it in the `answering` variable — its date, and its `subject` only when given, which
/// callers do only for a draft encrypted to the mail's sender (a clear answer quotes nothing a
/// sender wrote: a forged From must not make us carry their words).
pub(crate) fn answering(mut d: Draft, h: &Headers, subject: Option<&str>) -> Draft {
    if let Some(id) = &h.message_id {
        d.in_reply_to = Some(id.clone());
        d.references = h.references.clone();
        d.references.push(id.clone());
    }
    let subject = subject.map(one_line);
    let mut named = Vec::new();
    if let Some(s) = &subject {
        named.push(format!("\"{s}\""));
    }
    if let Some(date) = &h.date {
        named.push(format!("sent {date}"));
    }
    let named = (!named.is_empty()).then(|| named.join(", "));
    if let Some(map) = d.vars.as_object_mut() {
        // `answering` is the English phrase; its parts are there for templates in other
        // languages (`templates/de/`), which phrase them their own way.
        map.insert("answering".into(), json!(named));
        map.insert("answering_subject".into(), json!(subject));
        map.insert("answering_date".into(), json!(h.date));
    }
    d
}

/// Records a queued draft on its case (the timeline has every message out).
pub(crate) fn record_sent(case: &mut Case, d: &Draft, now: DateTime<Utc>) {
    case.push(
        now,
        "secmail",
        EventKind::Sent {
            message_id: d.message_id.clone(),
            kind: d.kind.as_str().into(),
            to: d.to.address.clone(),
            encrypted: d.encrypt_to.is_some(),
        },
    );
    case.add_message_id(&d.message_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_distinct() {
        let c = CaseId::new("SEC", 2026, 1);
        let p = crate::core::thread::tests::project();
        let a = message_id(Kind::Ack, Some(&c), "h1", "r@x", &p);
        assert_eq!(a, message_id(Kind::Ack, Some(&c), "h1", "r@x", &p));
        assert!(a.starts_with("ack.SEC-2026-0001.") && a.ends_with("@example.org"));
        assert_ne!(a, message_id(Kind::Ack, Some(&c), "h1", "s@x", &p));
        assert_ne!(a, message_id(Kind::TeamCopy, Some(&c), "h1", "r@x", &p));
        // Another store's secret, another id for the same message.
        let other = Project {
            id_secret: crate::core::settings::IdSecret(vec![7; 32]),
            ..p.clone()
        };
        assert_ne!(a, message_id(Kind::Ack, Some(&c), "h1", "r@x", &other));
    }
}
