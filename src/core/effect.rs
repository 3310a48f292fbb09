//! The one effect vocabulary: what the core decided, as values (ntpd-rs's shape: the protocol
//! crate returns actions, the daemon performs them in one loop).
//!
//! [`pipeline`](super::pipeline) (one message), [`schedule`](super::schedule) (reporter and
//! team timers), [`disclose::tick`](super::disclose::tick) (disclosure timers) and the store
//! alerts all return [`Changes`]. [`Changes::render`] is the one step that turns drafts into
//! queued mail or, when a draft cannot be composed, a `Withheld` event on its case. The shell's
//! `Store::commit(&Changes)` is the only place that writes a batch, and after the flush the shell
//! performs [`After`] (advisories). Nothing here does I/O.
use super::compose::{ComposeError, Outgoing};
use super::disclose::ListChange;
use super::draft::Draft;
use super::pipeline::MessageRecord;
use crate::model::{Case, CaseId, EventKind};
use chrono::{DateTime, Utc};

/// A composed message for the outbox, with the case it belongs to and its kind (the outbox's
/// and the timeline's words, `Kind::as_str`).
#[derive(Debug, Clone)]
pub struct Queued {
    pub mail: Outgoing,
    pub case: Option<CaseId>,
    pub kind: String,
}

/// A message as the store keeps it: the record, the raw bytes and the attachments' bytes.
#[derive(Debug, Clone)]
pub struct Stored {
    pub record: MessageRecord,
    pub raw: Vec<u8>,
    pub attachments: Vec<Vec<u8>>,
}

/// A small fact the store remembers besides cases and messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// The message with this hash was handled, whatever its outcome: no longer a poison
    /// candidate (SECURITY.md, cost bombs).
    Handled(String),
    /// This case id was used: the per-prefix, per-year counter moves past it.
    CaseNumber(CaseId),
    /// An automatic message went to this address now (the backscatter limits).
    AutoReplied(String),
    /// This address has now been told our fingerprint.
    ToldFingerprint(String),
    /// A team signature's replay key: none acts or counts as new again (SECURITY.md, replay).
    SignatureSeen(String),
    /// A cert learnt for an address (armored).
    CertLearnt { address: String, armored: String },
    /// A decrypted payload's id and the case it arrived on (SECURITY.md, decryption oracle).
    Payload { id: String, case: CaseId },
    /// The team digest went out at this time.
    DigestSent(DateTime<Utc>),
    /// The store-size level the team has now been told of (SECURITY.md, cost bombs).
    QuotaTold(u8),
    /// This address (normalized, `limits::normalize`) has now been told how to send mail too
    /// large for us: it is told once (issue 11.7).
    ToldTooLarge(String),
}

/// What the shell does once the batch is durable.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// The case was disclosed: write its OSV and CSAF advisories.
    WriteAdvisories(CaseId),
}

/// Everything one step of the core changes: written by the store in one batch, performed by the
/// shell after the flush.
#[derive(Debug, Default)]
pub struct Changes {
    /// Cases to write, new or changed, each once (the last version wins).
    pub cases: Vec<Case>,
    /// The inbound message, if this step handled one (a duplicate stores nothing).
    pub message: Option<Stored>,
    /// Messages still to compose ([`Changes::render`] empties this).
    pub drafts: Vec<Draft>,
    /// Composed messages for the outbox.
    pub outbox: Vec<Queued>,
    pub marks: Vec<Mark>,
    /// Changes to the distributor list (`/distributors`), in the same batch as the case.
    pub list: Vec<ListChange>,
    pub after: Vec<After>,
    /// Compose failures (a template or key problem), for the log; never report text.
    pub errors: Vec<String>,
    /// How long auto-reply send times are kept (`[limits] auto-reply-window`).
    pub rate_window: std::time::Duration,
}

/// Renders drafts, in order, one result per draft (the shell spreads the work over its cores).
pub type ComposeAll<'a> = dyn Fn(&[Draft]) -> Vec<Result<Outgoing, ComposeError>> + 'a;

impl Changes {
    /// Adds `case`, replacing an earlier version of the same case.
    pub fn put_case(&mut self, case: Case) {
        match self.cases.iter_mut().find(|c| c.id == case.id) {
            Some(c) => *c = case,
            None => self.cases.push(case),
        }
    }

    /// The version of case `id` this step writes.
    pub fn case(&self, id: &CaseId) -> Option<&Case> {
        self.cases.iter().find(|c| &c.id == id)
    }

    /// Adds everything in `other` (cases replace earlier versions).
    pub fn extend(&mut self, other: Changes) {
        for c in other.cases {
            self.put_case(c);
        }
        if other.message.is_some() {
            self.message = other.message;
        }
        self.drafts.extend(other.drafts);
        self.outbox.extend(other.outbox);
        self.marks.extend(other.marks);
        self.list.extend(other.list);
        self.after.extend(other.after);
        self.errors.extend(other.errors);
        self.rate_window = self.rate_window.max(other.rate_window);
    }

    /// The one render step: every draft composed into a queued message; one that cannot be
    /// (a template or key problem) is withheld, recorded on its case's timeline and in
    /// [`Changes::errors`], so that nothing is lost in silence. A draft whose case this step
    /// does not write is recorded on `fallback` (the case of the message in hand), if any.
    pub fn render(
        &mut self,
        compose_all: &ComposeAll,
        fallback: Option<&CaseId>,
        now: DateTime<Utc>,
    ) {
        let drafts = std::mem::take(&mut self.drafts);
        if drafts.is_empty() {
            return;
        }
        let composed = compose_all(&drafts);
        debug_assert_eq!(composed.len(), drafts.len());
        for (d, result) in drafts.iter().zip(composed) {
            match result {
                Ok(mail) => self.outbox.push(Queued {
                    mail,
                    case: d.case_id.clone(),
                    kind: d.kind.as_str().to_string(),
                }),
                Err(e) => {
                    self.errors
                        .push(format!("{} to {}: {e}", d.kind.as_str(), d.to.address));
                    let target = d
                        .case_id
                        .as_ref()
                        .filter(|id| self.cases.iter().any(|c| &c.id == *id))
                        .or(fallback);
                    let case = target.and_then(|id| self.cases.iter_mut().find(|c| &c.id == id));
                    if let Some(case) = case {
                        case.push(
                            now,
                            "secmail",
                            EventKind::Withheld {
                                to: d.to.address.clone(),
                                kind: d.kind.as_str().into(),
                                reason: e.to_string(),
                            },
                        );
                    }
                }
            }
        }
    }
}
