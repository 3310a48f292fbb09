//! Apply: one incoming message and the state it meets → the new case state and the effects
//! (DESIGN.md "Flow"). Pure: the clock, the case and the sender's history come in as arguments.
//! Here: [`message`] and the sequence of decisions on a person's message; its rooms are the
//! reporter side (`apply::reporter`), the team side (`apply::team`), team commands
//! (`apply::commands`, `apply::disclosure`), consent between duplicates' reporters
//! (`apply::consent`) and the words for encryption and signature (`apply::words`).
//!
//! Invariants: no automatic message to a machine; automatic messages bounded per normalized
//! address, per domain and overall within the window (`core::limits`); the team is never sent
//! plaintext and a member without a usable cert gets nothing (the others are told); a plaintext
//! message to a reporter quotes nothing of the report. Team commands (`apply::commands`) change
//! a case only with a member's accepted signature, all or nothing; a duplicate's reporters meet
//! only when both agree (`apply::consent`).
mod commands;
mod consent;
mod credit;
mod disclosure;
mod reporter;
mod team;
mod words;

pub use words::{encryption_word, signature_word, Encryption, Signed};

// The draft builders live in `core::draft`; these paths stay for the callers outside apply
// (`core::disclose`, `core::schedule`, `core::pipeline`, `shell::daemon`).
pub use super::draft::alert;
pub(crate) use super::draft::{base_vars, member_message, record_sent, reporter_message};

use super::classify::Sender;
use super::command::{Authority, CommandMail};
use super::decrypt::{Crypt, Opened};
use super::draft::{self, Draft, Kept};
use super::keys::Cert;
use super::parse::{address_of, one_line, Headers, Mailbox};
use super::thread::{Rule, Threaded};
use crate::core::settings::Settings;
use crate::model::{Case, CaseId, EventKind, Reporter};
use chrono::{DateTime, Utc};
use team::About;

/// One incoming message as the earlier stages saw it.
pub struct Incoming<'a> {
    /// sha256 of the raw bytes, hex.
    pub hash: &'a str,
    pub raw: &'a [u8],
    pub headers: &'a Headers,
    pub class: &'a Sender,
    /// `None` for machines: they are never decrypted.
    pub opened: Option<&'a Opened>,
    pub threaded: Threaded,
    /// Set when the From address is a team member and the message carries that member's good
    /// signature (DESIGN.md: `From:` alone proves nothing).
    pub team_member: Option<&'a str>,
    /// The command block and who gave it (`command::authorize`); `None` when not opened.
    pub command: Option<CommandMail<'a>>,
    /// A team member's good signature on this message was seen before (SECURITY.md, replay):
    /// a captured signed mail sent again is not a new note.
    pub replayed_team_signature: bool,
    /// An earlier message from the same sender had this Message-ID and other content.
    pub repeated_message_id: bool,
}

/// What the store knows about the sender beyond the case.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Automatic messages sent recently to this sender, its domain, and anyone (backscatter).
    pub rate: super::limits::Recent,
    /// The sender was already told which fingerprint to encrypt to.
    pub told_fingerprint: bool,
    /// The id a new case would get.
    pub next_case_id: CaseId,
    /// The confidential distributor list (for the team's disclosure commands).
    pub distributors: Vec<crate::model::Distributor>,
    /// Cases linked to the one the message threads into (duplicates, and a case a
    /// `/duplicate` names), as the store has them.
    pub related: Vec<Case>,
    /// The cert the store learnt for the sender (from any case): the known cert a new one must
    /// be signed by, and the one a new case starts with.
    pub sender_cert: Option<Cert>,
}

/// Where a message goes once handled. Stored as `processed` or `quarantine: <reason>`, the
/// words records have always held.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Disposition {
    /// Handled: move to the processed folder.
    #[default]
    Processed,
    /// Kept apart: move to the quarantine folder, with the reason (never report text).
    Quarantine(String),
}

impl Disposition {
    /// The reason it is kept apart; `None` when processed.
    pub fn quarantine_reason(&self) -> Option<&str> {
        match self {
            Disposition::Processed => None,
            Disposition::Quarantine(r) => Some(r),
        }
    }

    pub fn is_quarantine(&self) -> bool {
        matches!(self, Disposition::Quarantine(_))
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disposition::Processed => f.write_str("processed"),
            Disposition::Quarantine(r) => write!(f, "quarantine: {r}"),
        }
    }
}

impl From<Disposition> for String {
    fn from(d: Disposition) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for Disposition {
    type Error = String;
    fn try_from(s: String) -> Result<Disposition, String> {
        match s.as_str() {
            "processed" => Ok(Disposition::Processed),
            "quarantine" => Ok(Disposition::Quarantine(String::new())),
            _ => s
                .strip_prefix("quarantine: ")
                .map(|r| Disposition::Quarantine(r.to_string()))
                .ok_or_else(|| format!("unknown disposition {s:?}")),
        }
    }
}

impl PartialEq<&str> for Disposition {
    fn eq(&self, other: &&str) -> bool {
        match self {
            Disposition::Processed => *other == "processed",
            Disposition::Quarantine(r) => other.strip_prefix("quarantine: ") == Some(r.as_str()),
        }
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// The case to write (new or changed), if any.
    pub case: Option<Case>,
    pub opened_case: bool,
    pub drafts: Vec<Draft>,
    pub disposition: Disposition,
    /// Addresses that got an automatic message now (rate limit bookkeeping).
    pub auto_replied: Vec<String>,
    /// The sender has now been told our fingerprint.
    pub told_fingerprint: bool,
    /// One line for the operator: case, sender class and outcome (no report text, no addresses).
    pub summary: String,
    /// Changes to the distributor list (`/distributors`), written in the same batch.
    pub distributors: Vec<super::disclose::ListChange>,
    /// The case was disclosed: the shell writes its advisories once the batch is durable.
    pub write_advisories: bool,
    /// Other cases changed too (the other side of a `/duplicate` or of a contact consent).
    pub linked: Vec<Case>,
    /// Replay keys of the team signatures this message carried (commands that acted, notes
    /// too): remembered so that none acts or counts as new again (SECURITY.md, replay).
    pub seen_signatures: Vec<String>,
    /// The text to store for the message when it differs from the opened text (a command
    /// mail: command lines are not kept in the text, DESIGN.md "Team commands").
    pub stored_text: Option<String>,
    /// Ids of the payloads decrypted from this message, new to the store: remembered with the
    /// case so that the same ciphertext sent again is known as a copy (SECURITY.md, oracle).
    pub payload_ids: Vec<String>,
    /// The message becomes or joins no case: what the team's alert says of it (issue 11,
    /// nothing quarantined in silence). The pipeline drafts the alert.
    pub kept: Option<Kept>,
}

impl Outcome {
    /// Nothing to write or send yet: handled, with this summary.
    pub fn processed(summary: impl Into<String>) -> Outcome {
        Outcome {
            summary: summary.into(),
            ..Outcome::default()
        }
    }

    /// Kept apart, for this reason (never report text).
    pub fn quarantine(reason: &str) -> Outcome {
        Outcome {
            disposition: Disposition::Quarantine(reason.to_string()),
            ..Outcome::processed(format!("quarantined: {reason}"))
        }
    }
}

pub fn message(inc: Incoming, mem: &Memory, config: &Settings, now: DateTime<Utc>) -> Outcome {
    let from = inc.headers.from.clone();
    match (inc.class, from) {
        (_, None) => kept(&inc, Outcome::quarantine("no From address"), None),
        (Sender::OurLoop, _) => kept(
            &inc,
            Outcome::quarantine("our own message came back (mail loop)"),
            Some("not processed; check the forwarding rules"),
        ),
        (Sender::Bounce | Sender::Machine(_), Some(from)) => machine(inc, &from, now),
        (Sender::Person, Some(from)) => person(inc, &from, mem, config, now),
    }
}

/// `out` for a message that becomes or joins no case, with what the team is told of it: its
/// quarantine reason (or summary) and `note`, what was done.
fn kept(inc: &Incoming, mut out: Outcome, note: Option<&str>) -> Outcome {
    let reason = out
        .disposition
        .quarantine_reason()
        .unwrap_or(&out.summary)
        .to_string();
    let k = Kept::of_headers(inc.hash, inc.raw.len(), inc.headers, &reason);
    out.kept = Some(match note {
        Some(n) => k.noting(n),
        None => k,
    });
    out
}

/// Machines are recorded on the case they thread into and never answered; a bounce of our own
/// mail is a delivery failure on its case.
fn machine(inc: Incoming, from: &Mailbox, now: DateTime<Utc>) -> Outcome {
    let (kind, what) = match inc.class {
        Sender::Bounce => ("bounce", "bounce".to_string()),
        Sender::Machine(why) => ("machine", format!("machine ({why})")),
        _ => ("machine", "machine".to_string()),
    };
    let Threaded::Existing { case, .. } = inc.threaded.clone() else {
        return Outcome::processed(format!("{what}: no case, not answered"));
    };
    let mut case = *case;
    if kind == "bounce" {
        let bounced = inc.headers.references.last().cloned();
        case.push(
            now,
            &from.address,
            EventKind::DeliveryFailed {
                message_id: bounced,
                detail: format!("bounce {}", short(inc.hash)),
            },
        );
    }
    case.push(
        now,
        &from.address,
        received(
            &inc,
            kind,
            Encryption::Clear,
            Signed::None,
            None,
            "references",
        ),
    );
    Outcome {
        summary: format!("{}: {what} recorded, not answered", case.id),
        case: Some(case),
        ..Outcome::default()
    }
}

/// A person's message, as the sequence of decisions it meets: refused ciphertext stops here; a
/// command block or a team member's note is the team's business; anything else is a report or
/// a follow-up on its case — recorded, perhaps teaching us the reporter's cert, answered within
/// the limits, and copied to the team.
fn person(
    inc: Incoming,
    from: &Mailbox,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Outcome {
    let Some(opened) = inc.opened else {
        return kept(&inc, Outcome::quarantine("not opened"), None);
    };
    let encryption = encryption_word(&opened.outcome);
    let (signature, signer) = signature_word(opened, &from.address);
    if let Some(out) = reporter::refused_ciphertext(&inc, from, opened, mem, config, now) {
        return out;
    }
    let (title, reporter_title) = titles(&inc, opened, from, signature);

    // What the team copies say about this message (the same for a team note and a report).
    let about = About {
        from,
        title: &title,
        opened,
        encryption,
        signature,
        hash: inc.hash,
        text: &opened.text,
        commands: Vec::new(),
        relayed: false,
        warning: None,
        unanswered: None,
    };
    if let Some(out) = team_commands(&inc, &about, mem, config, now) {
        return out;
    }
    if let Some(member) = inc.team_member {
        return team::note(&inc, member, &about, config, now);
    }

    let (mut case, opened_case, rule) = case_for(&inc, from, mem, &reporter_title, config, now);
    let sender_class = sender_class(&case, from, opened_case);
    if let Some(id) = &inc.headers.message_id {
        case.add_message_id(id);
    }
    case.push(
        now,
        &from.address,
        received(
            &inc,
            sender_class,
            encryption,
            signature,
            signer.clone(),
            rule,
        ),
    );
    let mut warning = warning(&inc, &case, from, sender_class, rule);
    // Only a reporter's own message, under one From, may teach us their cert.
    if sender_class == "reporter" && inc.headers.from_count <= 1 {
        let signer = signer.as_deref();
        if let Some(refused) =
            reporter::learn_cert(&mut case, opened, from, signature, signer, mem, config, now)
        {
            warning = Some(refused);
        }
    }
    let reporter_cert = reporter::usable_cert(&case, &from.address, now);

    let mut out = Outcome {
        opened_case,
        ..Outcome::default()
    };
    // A reporter agreeing to meet the reporter of a duplicate (DESIGN.md "Team commands").
    if sender_class == "reporter" {
        let (drafts, linked) = consent::reply(&mut case, &inc, opened, mem, config, now);
        out.drafts.extend(drafts);
        out.linked.extend(linked);
        // How they want to be credited, answering the acknowledgement (issue 13.5).
        let trusted = opened_case || rule == Rule::References.as_str() || signature == "good";
        credit::reply(&mut case, &from.address, opened, trusted, now);
    }

    // The answer to the sender.
    let not_for_us = matches!(opened.outcome, Crypt::NotForUs { .. });
    let mut said = Vec::new();
    let mut unanswered = None;
    match reporter::answer_kind(&inc, mem, opened_case, not_for_us) {
        Some(kind) => {
            let (what, held) = reporter::answer(
                kind,
                &mut case,
                &mut out,
                &inc,
                from,
                reporter_cert,
                &reporter_title,
                proved_sender(opened, &from.address, mem, config),
                mem,
                config,
                now,
            );
            said.push(what);
            unanswered = held;
        }
        None if not_for_us => reporter::suppressed(
            &mut case,
            draft::Kind::NotForUs,
            "sender was told before",
            now,
        ),
        None => {}
    }

    // The team's copies.
    let about = About {
        unanswered: unanswered.as_deref(),
        ..about
    };
    let copies = team::copy_message(&mut case, about, warning, inc.raw, config, now);
    said.push(format!(
        "{} team cop{}",
        copies.len(),
        if copies.len() == 1 { "y" } else { "ies" }
    ));
    out.drafts.extend(copies);

    out.summary = format!(
        "{}: {} from {} ({}, signature {}) → {}",
        case.id,
        if opened_case { "opened" } else { "follow-up" },
        sender_class,
        encryption,
        signature,
        said.join(", ")
    );
    out.case = Some(case);
    out
}

/// What the case is called (a short line: the protected subject, else the outer one), and what
/// of it we may repeat to the sender (SECURITY.md, decryption oracle): decrypted content only
/// when the content confirms the sender — a good signature bound to From, or a protected From
/// equal to the outer one. Anyone may re-send a captured ciphertext under their own From; they
/// get the outer subject back, which they wrote themselves.
fn titles(inc: &Incoming, opened: &Opened, from: &Mailbox, signature: Signed) -> (String, String) {
    let title = opened
        .protected
        .subject
        .clone()
        .or_else(|| inc.headers.subject.clone())
        .unwrap_or_else(|| "(no subject)".into());
    // A title is for lists and the team's protected subject: keep it one short line.
    let title = one_line(&title);
    let confirmed = signature == Signed::Good
        || opened
            .protected
            .from
            .as_deref()
            .is_some_and(|p| address_of(p) == from.address);
    let reporter_title = if opened.outcome == Crypt::Decrypted && !confirmed {
        one_line(inc.headers.subject.as_deref().unwrap_or("(no subject)"))
    } else {
        title.clone()
    };
    (title, reporter_title)
}

/// Command lines decide the whole outcome: a member's accepted commands act; anything else
/// claiming to be one is refused whole and answered (DESIGN.md "Team commands"). The team's
/// copies show a command mail's text without its command lines. `None`: no commands.
fn team_commands(
    inc: &Incoming,
    about: &About,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    let cm = inc.command.as_ref()?;
    let about = About {
        text: &cm.parsed.text,
        commands: Vec::new(),
        ..*about
    };
    match &cm.authority {
        Authority::NotCommands => None,
        Authority::Member { member, digest } => Some(commands::accepted(
            inc, member, digest, &cm.parsed, &about, mem, config, now,
        )),
        Authority::Refused { answer_to, reasons } => Some(commands::refused(
            inc, *answer_to, reasons, &cm.parsed, mem, config, now,
        )),
    }
}

/// The case a person's message belongs to: the one it threads into, or a new one — named with
/// the title the sender may see, its sender the first reporter, written to in the language
/// their mail asks for (`draft::language`). Returns the case, whether it was opened now, and
/// the threading rule as recorded.
fn case_for(
    inc: &Incoming,
    from: &Mailbox,
    mem: &Memory,
    reporter_title: &str,
    config: &Settings,
    now: DateTime<Utc>,
) -> (Case, bool, &'static str) {
    match inc.threaded.clone() {
        Threaded::Existing { case, rule } => (*case, false, rule.as_str()),
        Threaded::New { cited } => {
            let mut case = Case::new(mem.next_case_id.clone(), reporter_title.to_string(), now);
            let reason = match cited {
                Some(c) => format!("sender is not a participant of the cited {c}"),
                None => "new report".into(),
            };
            case.push(now, "secmail", EventKind::Opened { reason });
            case.reporters.push(Reporter {
                address: from.address.clone(),
                name: from.name.clone(),
                cert: None,
                cert_fingerprint: None,
                cert_source: None,
                credit: Default::default(),
                language: draft::language::of_sender(inc.headers, &config.languages),
            });
            (case, true, "new")
        }
    }
}

/// Who the sender is to the case: a reporter, a distributor it notified, or unknown. A
/// distributor's mail stays internal: copied to the team, never to the reporter, never answered
/// automatically (DESIGN.md "Threading").
fn sender_class(case: &Case, from: &Mailbox, opened_case: bool) -> &'static str {
    if case.reporter(&from.address).is_some() || opened_case {
        "reporter"
    } else if case.disclosure.was_notified(&from.address) {
        "distributor"
    } else {
        "unknown"
    }
}

/// What the team must be warned of in this message's copies, the most telling last: a
/// ciphertext already received, sent again by someone else; a reused Message-ID; several From
/// addresses (nobody is answered then), or a stranger threading in by a Message-ID only.
fn warning(
    inc: &Incoming,
    case: &Case,
    from: &Mailbox,
    sender_class: &str,
    rule: &str,
) -> Option<String> {
    let mut warning = None;
    if rule == Rule::SameCiphertext.as_str() && sender_class != "reporter" {
        warning = Some(format!(
            "This message carries a ciphertext already received on {}, sent again by {}: a copy, possibly by someone who captured it and wants it decrypted. It was not answered.",
            case.id, from.address
        ));
    }
    if inc.repeated_message_id {
        warning = Some(
            "An earlier message from this sender had the same Message-ID and other content: both are kept, this one as a new message.".to_string(),
        );
    }
    if inc.headers.from_count > 1 {
        warning = Some(format!(
            "This message has several From addresses ({} shown here, the first one); nobody was answered. Anyone can write any From: treat the sender as unknown.",
            from.address
        ));
    } else if rule == Rule::References.as_str() && sender_class == "unknown" {
        warning = Some(format!(
            "{} is not a participant of {}: this message threaded in only because it names one of the case's Message-IDs. Treat its text as from a stranger.",
            from.address, case.id
        ));
    }
    warning
}

/// Whether the sender's From is proved for the backscatter limits: a good signature bound to
/// From by a cert we knew before this message (learnt from an earlier one, or in keys-dir). A
/// cert the message brings itself (Autocrypt header, attached key) proves nothing: anyone can
/// make one with the victim's address (SECURITY.md, backscatter).
fn proved_sender(opened: &Opened, from: &str, mem: &Memory, config: &Settings) -> bool {
    let Some(fpr) = opened.verified_sender(from) else {
        return false;
    };
    let known = |c: &Cert| super::keys::fingerprint(c) == fpr;
    mem.sender_cert.as_ref().is_some_and(known) || config.known_certs.iter().any(known)
}

/// Whether one more automatic message may go to the sender. `verified`: its good signature
/// is bound to its From (no per-address limit then, `core::limits::may_send`).
fn may_auto_reply(
    mem: &Memory,
    config: &Settings,
    verified: bool,
    now: DateTime<Utc>,
) -> Result<(), super::limits::Held> {
    super::limits::may_send(&mem.rate, &config.limits, verified, now)
}

/// The timeline event of a message received: how it was read and how it threaded.
fn received(
    inc: &Incoming,
    class: &str,
    encryption: Encryption,
    signature: Signed,
    signer: Option<String>,
    rule: &str,
) -> EventKind {
    EventKind::Received {
        msg_hash: inc.hash.to_string(),
        message_id: inc.headers.message_id.clone(),
        sender_class: class.to_string(),
        encryption: encryption.as_str().to_string(),
        signature: signature.as_str().to_string(),
        signer,
        thread_rule: rule.to_string(),
    }
}

/// The first twelve hex digits of a message hash, as the operator sees it.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
