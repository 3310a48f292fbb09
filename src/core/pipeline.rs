//! The whole flow for one message, on one screen:
//! parse → classify → decrypt → thread → apply → compose. Pure: what the store knows comes in
//! through [`View`], the time through `now`; what to write and send goes out as [`Processed`], its [`Changes`] for the store.
use super::apply::{self, Disposition, Encryption, Incoming, Memory, Signed};
use super::classify::{self, Sender};
use super::command::{self, Authority, Command, CommandMail};
use super::compose::{self, Templates};
use super::decrypt::{self, Opened};
use super::draft::{self, Kept};
use super::effect::{After, Changes, Mark, Queued, Stored};
use super::keys::Cert;
use super::parse;
use super::thread::{self, Lookup, Threaded};
use crate::core::settings::Settings;
use crate::model::CaseId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod oversize;
pub use oversize::{oversize, Oversize, OVERSIZE_HEADER_MAX};

/// What the pipeline may ask the store.
pub trait View: Lookup {
    /// Already handled: the same bytes (`hash`). The id arguments are unused since duplicates
    /// by id are decided on content ([`View::earlier_with_id`]).
    fn seen(&self, hash: &str, message_id: Option<&str>, from: Option<&str>) -> bool;
    /// The raw bytes of an earlier message from `from` with this Message-ID, if any.
    fn earlier_with_id(&self, _message_id: &str, _from: &str) -> Option<Vec<u8>> {
        None
    }
    /// Send times of automatic messages under a `limits::keys` key.
    fn recent_auto_replies(&self, key: &str) -> Vec<DateTime<Utc>>;
    fn told_fingerprint(&self, address: &str) -> bool;
    /// The address (normalized, `limits::normalize`) was told how to send mail over the size
    /// limit ([`oversize`]).
    fn told_too_large(&self, address: &str) -> bool;
    fn next_case_id(&self, prefix: &str, year: i32) -> CaseId;
    /// A cert learnt earlier for this address.
    fn cert_for(&self, address: &str) -> Option<Cert>;
    /// The confidential distributor list.
    fn distributors(&self) -> Vec<crate::model::Distributor> {
        Vec::new()
    }
    /// A signed command mail with this signature digest already acted (replay protection).
    fn signature_seen(&self, digest: &str) -> bool;
    /// The case of an earlier message with this decrypted payload id, if any.
    fn case_of_payload(&self, _id: &str) -> Option<CaseId> {
        None
    }
}

/// A message as kept in the store. `text` is report text: stored, never logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRecord {
    pub hash: String,
    pub received_at: DateTime<Utc>,
    pub case_id: Option<CaseId>,
    pub from: Option<String>,
    pub message_id: Option<String>,
    /// processed, or quarantine: <reason> (as stored)
    pub disposition: Disposition,
    pub encryption: Encryption,
    pub signature: Signed,
    pub text: String,
    pub unauthenticated: Vec<String>,
    /// (filename, content type, size); the bytes are kept beside the record.
    pub attachments: Vec<(String, String, usize)>,
    /// Over the size limit: its size. Only its header was read, and the bytes kept beside
    /// the record are that header ([`oversize`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversize: Option<u64>,
}

/// Everything one message leads to: the operator's view of it, and the [`Changes`] the store
/// commits.
pub struct Processed {
    pub hash: String,
    pub duplicate: bool,
    /// One line for the operator: case, sender class and outcome (no report text, no addresses).
    pub summary: String,
    pub disposition: Disposition,
    /// The message opened a new case.
    pub opened_case: bool,
    /// The message's case, if it has one (its version is in `changes.cases`).
    pub case_id: Option<CaseId>,
    /// The message as stored (also in `changes.message`, unless a duplicate).
    pub record: MessageRecord,
    /// The message became or joined no case: what the team's alert (in `changes`) says of it.
    pub kept: Option<Kept>,
    pub changes: Changes,
}

impl Processed {
    /// The message's case as this step writes it.
    pub fn case(&self) -> Option<&crate::model::Case> {
        self.changes.case(self.case_id.as_ref()?)
    }

    /// What goes to the outbox.
    pub fn outgoing(&self) -> &[Queued] {
        &self.changes.outbox
    }

    /// Whether the sender was told our fingerprint with this message.
    pub fn told_fingerprint(&self) -> bool {
        self.changes
            .marks
            .iter()
            .any(|m| matches!(m, Mark::ToldFingerprint(_)))
    }

    /// The addresses that got an automatic message (the backscatter limits).
    pub fn auto_replied(&self) -> Vec<&str> {
        self.changes
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::AutoReplied(a) => Some(a.as_str()),
                _ => None,
            })
            .collect()
    }
}

pub fn hash(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// Trace headers a relay or a mailbox adds on the way: not part of what a message says.
const TRACE_HEADERS: [&str; 7] = [
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "authentication-results",
    "arc-authentication-results",
    "x-spam-status",
];

/// sha256 of a message without its trace headers and with LF line ends: the same message
/// delivered twice (another route, another mailbox) has the same content hash.
pub fn content_hash(raw: &[u8]) -> String {
    let text = raw
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut h = Sha256::new();
    let mut in_header = true;
    let mut skipping = false;
    for line in text {
        if in_header {
            if line.is_empty() {
                in_header = false;
            } else if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                let name = line.split(|&b| b == b':').next().unwrap_or(b"");
                let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
                skipping = TRACE_HEADERS.contains(&name.as_str());
                if skipping {
                    continue;
                }
            }
        }
        h.update(line);
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The whole flow for one message, composing its messages one after the other.
pub fn process(
    raw: &[u8],
    view: &dyn View,
    config: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Processed {
    let opening = open(raw, view, config, now);
    finish(
        raw,
        opening,
        view,
        config,
        now,
        &compose::compose_with(templates, config, now),
    )
}

/// Renders, signs and encrypts a message's drafts, one result per draft in the same order. The
/// shell may spread them over the cores.
pub use super::effect::ComposeAll;

/// The first half of [`process`]: parse, classify, decrypt and verify. It only reads the store
/// (the sender's learnt cert), so the shell opens several messages at once; [`finish`] then
/// takes them one by one, in arrival order.
pub struct Opening {
    hash: String,
    headers: Result<parse::Headers, String>,
    class: Sender,
    opened: Option<Opened>,
    /// Fingerprint of the sender's learnt cert the decryption was given.
    learnt: Option<String>,
}

pub fn open(raw: &[u8], view: &dyn View, config: &Settings, now: DateTime<Utc>) -> Opening {
    let hash = hash(raw);
    let headers = match parse::headers(raw) {
        Ok(h) => h,
        Err(e) => {
            return Opening {
                hash,
                headers: Err(e.to_string()),
                class: Sender::Person,
                opened: None,
                learnt: None,
            }
        }
    };
    let class = classify::sender(&headers, &config.project.instance);
    let from = headers.from.as_ref().map(|f| f.address.as_str());
    // Machines are never decrypted.
    let (opened, learnt) = match class {
        Sender::Person => {
            let learnt = from.and_then(|f| view.cert_for(f));
            let fingerprint = learnt.as_ref().map(|c| c.fingerprint().to_hex());
            (Some(decrypt(raw, config, learnt, now)), fingerprint)
        }
        _ => (None, None),
    };
    Opening {
        hash,
        headers: Ok(headers),
        class,
        opened,
        learnt,
    }
}

fn decrypt(raw: &[u8], config: &Settings, learnt: Option<Cert>, now: DateTime<Utc>) -> Opened {
    let mut known: Vec<Cert> = config.team.iter().map(|m| m.cert.clone()).collect();
    known.extend(config.known_certs.iter().cloned());
    known.extend(learnt);
    decrypt::message(raw, &config.keys, &known, now.into())
}

/// The second half of [`process`], in arrival order: what the store knows decides the case;
/// `compose_all` renders what goes out.
pub fn finish(
    raw: &[u8],
    opening: Opening,
    view: &dyn View,
    config: &Settings,
    now: DateTime<Utc>,
    compose_all: &ComposeAll,
) -> Processed {
    let Opening {
        hash,
        headers,
        class,
        mut opened,
        learnt,
    } = opening;
    let headers = match headers {
        Ok(h) => h,
        Err(e) => return kept_in_quarantine(raw, hash, &e, None, config, now, compose_all),
    };
    let from = headers.from.as_ref().map(|f| f.address.clone());
    // A duplicate is the same content: the same bytes, or the same From and Message-ID with
    // the same content once trace headers and line ends are set aside. The same id with other
    // content is a new message, and the team is told the id repeats (issue 11).
    let earlier = match (headers.message_id.as_deref(), from.as_deref()) {
        (Some(id), Some(f)) => view.earlier_with_id(id, f),
        _ => None,
    };
    let same_content = earlier
        .as_deref()
        .is_some_and(|e| content_hash(e) == content_hash(raw));
    let repeated_message_id = earlier.is_some() && !same_content;
    if view.seen(&hash, None, None) || same_content {
        let mut p = refused(hash, now, "duplicate");
        p.duplicate = true;
        p.disposition = Disposition::Processed;
        p.summary = "already handled: nothing changed".into();
        // Nothing is stored again: only the attempt is cleared.
        p.changes.message = None;
        return p;
    }
    // A message opened beside this one may have taught a cert for its sender since: open it
    // again with that cert, so that the result is the same as one message at a time.
    if opened.is_some() {
        let current = from.as_deref().and_then(|f| view.cert_for(f));
        if current.as_ref().map(|c| c.fingerprint().to_hex()) != learnt {
            opened = Some(decrypt(raw, config, current, now));
        }
    }
    let mut headers = headers;
    if class == Sender::Bounce {
        headers.references.extend(parse::cited_message_ids(raw, 20));
    }
    let sender = from.clone().unwrap_or_default();
    // Several From addresses: nobody is authenticated (SECURITY.md, smaller ones).
    let several_from = headers.from_count > 1;
    let team_member = config
        .team_member(&sender)
        .filter(|_| !several_from)
        .filter(|m| {
            opened
                .as_ref()
                .and_then(|o| o.verified_sender(&sender))
                .as_deref()
                == Some(m.fingerprint.as_str())
        })
        .map(|m| m.address.as_str());
    // Command lines and who gave them (DESIGN.md "Team commands").
    let command = opened.as_ref().map(|o| {
        let parsed = command::parse(&o.text, &config.project.case_prefix);
        let authority = command::authorize(
            &parsed,
            o,
            &sender,
            &config.team,
            config.limits.command_max_age,
            now,
            &|d| view.signature_seen(d),
        );
        let authority = match authority {
            Authority::Member { .. } if several_from => Authority::Refused {
                answer_to: None,
                reasons: vec![
                    "the message has several From addresses: its sender is not authenticated"
                        .into(),
                ],
            },
            a => a,
        };
        CommandMail { parsed, authority }
    });
    // Every good team signature is remembered (SECURITY.md, replay), notes' too.
    let team_signatures: Vec<&decrypt::Signature> = opened
        .iter()
        .flat_map(|o| o.signatures.iter())
        .filter(|s| {
            s.status == decrypt::SigStatus::Good
                && config
                    .team
                    .iter()
                    .any(|m| s.fingerprint.as_deref() == Some(m.fingerprint.as_str()))
        })
        .collect();
    let replayed_team_signature = team_signatures.iter().any(|s| {
        [&s.digest, &s.packet_digest]
            .iter()
            .any(|d| !d.is_empty() && view.signature_seen(d))
    });
    let seen_signatures: Vec<String> = team_signatures
        .iter()
        .filter(|s| !s.digest.is_empty())
        .map(|s| s.digest.clone())
        .collect();
    let protected_subject = opened.as_ref().and_then(|o| o.protected.subject.clone());
    let threaded = if from.is_some() {
        thread::find_case(
            &headers,
            protected_subject.as_deref(),
            &sender,
            team_member.is_some(),
            &config.project,
            view,
        )
    } else {
        Threaded::New { cited: None }
    };
    // A ciphertext already received belongs to the case it arrived on, whoever sends it again
    // and whatever its headers say (SECURITY.md, decryption oracle).
    let payload_ids: Vec<String> = opened
        .iter()
        .flat_map(|o| o.payload_ids.iter().cloned())
        .collect();
    let copy_of = if team_member.is_none() {
        payload_ids
            .iter()
            .find_map(|id| view.case_of_payload(id))
            .and_then(|id| view.case(&id))
    } else {
        None
    };
    let threaded = match copy_of {
        Some(case) => Threaded::Existing {
            case: Box::new(case),
            rule: thread::Rule::SameCiphertext,
        },
        None => threaded,
    };
    let mem = Memory {
        rate: recent_auto_replies(view, &sender),
        told_fingerprint: view.told_fingerprint(&sender),
        next_case_id: view.next_case_id(&config.project.case_prefix, CaseId::year_of(now)),
        distributors: if team_member.is_some() {
            view.distributors()
        } else {
            Vec::new()
        },
        related: related_cases(&threaded, command.as_ref(), view),
        sender_cert: from.as_deref().and_then(|f| view.cert_for(f)),
    };
    let incoming = Incoming {
        hash: &hash,
        raw,
        headers: &headers,
        class: &class,
        opened: opened.as_ref(),
        threaded,
        team_member,
        command,
        replayed_team_signature,
        repeated_message_id,
    };
    let mut outcome = apply::message(incoming, &mem, config, now);
    // Nothing in silence (issue 11): a person's message that became or joined no case and that
    // no team member hears of is named to the team, whatever path it took through apply.
    if outcome.case.is_none()
        && outcome.kept.is_none()
        && class == Sender::Person
        && !outcome
            .drafts
            .iter()
            .any(|d| config.team_member(&d.to.address).is_some())
    {
        let reason = match outcome.disposition.quarantine_reason() {
            Some(r) => r.to_string(),
            None => outcome.summary.clone(),
        };
        outcome.kept = Some(Kept::of_headers(&hash, raw.len(), &headers, &reason));
    }
    if let Some(k) = &outcome.kept {
        outcome
            .drafts
            .extend(draft::kept_alert(config, std::slice::from_ref(k)));
    }
    // A team member acting on imported history starts its policy clock (issue 11.10).
    if let Some(member) = team_member.filter(|_| !replayed_team_signature) {
        for case in outcome.case.iter_mut().chain(outcome.linked.iter_mut()) {
            if case.is_history() && acted_on(case, view, member) {
                if let Some(i) = case.imported.as_mut() {
                    i.acted = Some(now);
                }
            }
        }
    }
    outcome.payload_ids = payload_ids
        .into_iter()
        .filter(|id| view.case_of_payload(id).is_none())
        .collect();
    for d in seen_signatures {
        if !outcome.seen_signatures.contains(&d) {
            outcome.seen_signatures.push(d);
        }
    }

    let (encryption, signature) = match &opened {
        Some(o) => (
            apply::encryption_word(&o.outcome),
            apply::signature_word(o, &sender).0,
        ),
        None => (Encryption::NotOpened, Signed::None),
    };
    let (text, unauthenticated, attachments) = match opened {
        Some(o) => (
            outcome.stored_text.take().unwrap_or(o.text),
            o.unauthenticated,
            o.attachments,
        ),
        None => (String::new(), Vec::new(), Vec::new()),
    };
    let record = MessageRecord {
        hash: hash.clone(),
        received_at: now,
        case_id: outcome.case.as_ref().map(|c| c.id.clone()),
        from,
        message_id: headers.message_id.clone(),
        disposition: outcome.disposition.clone(),
        encryption,
        signature,
        text,
        unauthenticated,
        attachments: attachments
            .iter()
            .map(|a| {
                (
                    a.filename.clone().unwrap_or_default(),
                    a.content_type.clone(),
                    a.data.len(),
                )
            })
            .collect(),
        oversize: None,
    };
    let stored = Stored {
        record: record.clone(),
        raw: raw.to_vec(),
        attachments: attachments.into_iter().map(|a| a.data).collect(),
    };
    let mut p = changes_of(hash, record, outcome, config);
    p.changes.message = Some(stored);
    p.changes.render(compose_all, p.case_id.as_ref(), now);
    p
}

/// What apply decided, in the effect vocabulary ([`Changes`]); drafts not yet rendered.
fn changes_of(
    hash: String,
    record: MessageRecord,
    outcome: apply::Outcome,
    config: &Settings,
) -> Processed {
    let apply::Outcome {
        case,
        opened_case,
        drafts,
        disposition,
        auto_replied,
        told_fingerprint,
        summary,
        distributors,
        write_advisories,
        linked,
        seen_signatures,
        stored_text: _,
        payload_ids,
        kept,
    } = outcome;
    let case_id = case.as_ref().map(|c| c.id.clone());
    let mut changes = Changes {
        drafts,
        list: distributors,
        rate_window: config.limits.auto_reply_window,
        ..Changes::default()
    };
    changes.marks.push(Mark::Handled(hash.clone()));
    if let Some(case) = case {
        // Certs to remember per address, as the case's reporters carry them.
        for r in &case.reporters {
            if let Some(armored) = &r.cert {
                changes.marks.push(Mark::CertLearnt {
                    address: r.address.clone(),
                    armored: armored.clone(),
                });
            }
        }
        for id in payload_ids {
            changes.marks.push(Mark::Payload {
                id,
                case: case.id.clone(),
            });
        }
        if opened_case {
            changes.marks.push(Mark::CaseNumber(case.id.clone()));
        }
        if write_advisories {
            changes.after.push(After::WriteAdvisories(case.id.clone()));
        }
        changes.put_case(case);
    }
    for c in linked {
        changes.put_case(c);
    }
    changes
        .marks
        .extend(auto_replied.into_iter().map(Mark::AutoReplied));
    if told_fingerprint {
        if let Some(from) = &record.from {
            changes.marks.push(Mark::ToldFingerprint(from.clone()));
        }
    }
    changes
        .marks
        .extend(seen_signatures.into_iter().map(Mark::SignatureSeen));
    Processed {
        hash,
        duplicate: false,
        summary,
        disposition,
        opened_case,
        case_id,
        record,
        kept,
        changes,
    }
}

/// A message whose earlier attempts never finished (the process died or ran out of its time
/// budget while handling it): quarantined unopened so that it cannot stop the daemon again,
/// the team told (SECURITY.md, cost bombs).
pub fn poisoned(
    raw: &[u8],
    attempts: u32,
    config: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Processed {
    let note = format!(
        "stopped secmail {attempts} times (a crash or its time budget); not opened again. Report it to the secmail developers if it is a bug"
    );
    let mut p = kept_in_quarantine(
        raw,
        hash(raw),
        "stopped the daemon while being handled (poison message)",
        Some(note),
        config,
        now,
        &compose::compose_with(templates, config, now),
    );
    p.summary =
        format!("quarantined: stopped secmail {attempts} times while being handled; team told");
    p
}

/// Whether `member` acted on `case` in this step: a command done or a note of theirs among
/// the events the store does not have yet.
fn acted_on(case: &crate::model::Case, view: &dyn View, member: &str) -> bool {
    use crate::model::EventKind;
    let before = view.case(&case.id).map_or(0, |c| c.timeline.len());
    case.timeline.iter().skip(before).any(|e| {
        e.actor.eq_ignore_ascii_case(member)
            && match &e.kind {
                EventKind::Command { .. } => true,
                EventKind::Received { sender_class, .. } => sender_class == "team",
                _ => false,
            }
    })
}

/// The send times of automatic mail to `address`, its domain and all senders
/// (`limits::keys`), as the backscatter limits weigh them.
fn recent_auto_replies(view: &dyn View, address: &str) -> super::limits::Recent {
    let [address, domain, overall] = super::limits::keys(address);
    super::limits::Recent {
        address: view.recent_auto_replies(&address),
        domain: view.recent_auto_replies(&domain),
        overall: view.recent_auto_replies(&overall),
    }
}

/// The cases a message may change besides its own: the other side of its duplicate links and
/// contact offers, and any case a `/duplicate` command names.
fn related_cases(
    threaded: &Threaded,
    command: Option<&CommandMail>,
    view: &dyn View,
) -> Vec<crate::model::Case> {
    let mut ids: Vec<CaseId> = Vec::new();
    if let Threaded::Existing { case, .. } = threaded {
        ids.extend(case.duplicate_of.iter().cloned());
        ids.extend(case.duplicates.iter().cloned());
        ids.extend(case.contact_offers.iter().map(|o| o.other_case.clone()));
    }
    if let Some(cm) = command {
        ids.extend(cm.parsed.commands.iter().filter_map(|(_, c)| match c {
            Command::Duplicate(id) => Some(id.clone()),
            _ => None,
        }));
    }
    ids.sort();
    ids.dedup();
    ids.iter().filter_map(|id| view.case(id)).collect()
}

/// A message kept in quarantine without being handled (unparseable, or a stage failed). The
/// caller adds the raw bytes to `changes.message` ([`quarantined`] does).
pub fn refused(hash: String, now: DateTime<Utc>, reason: &str) -> Processed {
    let outcome = apply::Outcome::quarantine(reason);
    let record = MessageRecord {
        hash: hash.clone(),
        received_at: now,
        case_id: None,
        from: None,
        message_id: None,
        disposition: outcome.disposition.clone(),
        encryption: Encryption::NotOpened,
        signature: Signed::None,
        text: String::new(),
        unauthenticated: Vec::new(),
        attachments: Vec::new(),
        oversize: None,
    };
    let mut p = Processed {
        changes: Changes {
            marks: vec![Mark::Handled(hash.clone())],
            message: Some(Stored {
                record: record.clone(),
                raw: Vec::new(),
                attachments: Vec::new(),
            }),
            ..Changes::default()
        },
        record,
        hash,
        duplicate: false,
        summary: outcome.summary,
        disposition: outcome.disposition,
        opened_case: false,
        case_id: None,
        kept: None,
    };
    // Nothing was sent: no send times to keep.
    p.changes.rate_window = std::time::Duration::ZERO;
    p
}

/// [`refused`] for a message in hand: its bytes are kept with the record, and the team is told
/// (sender, date, size and Message-ID read from the raw header, [`Kept::of_raw`]).
pub fn quarantined(
    raw: &[u8],
    reason: &str,
    config: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Processed {
    kept_in_quarantine(
        raw,
        hash(raw),
        reason,
        None,
        config,
        now,
        &compose::compose_with(templates, config, now),
    )
}

/// [`quarantined`] for a message whose `hash` is known, the alert naming what was done about
/// it (`note`, [`Kept::note`]): its drafts rendered once.
fn kept_in_quarantine(
    raw: &[u8],
    hash: String,
    reason: &str,
    note: Option<String>,
    config: &Settings,
    now: DateTime<Utc>,
    compose_all: &ComposeAll,
) -> Processed {
    let mut p = refused(hash, now, reason);
    let kept = Kept {
        note,
        ..Kept::of_raw(raw, &p.hash, reason)
    };
    if let Some(m) = p.changes.message.as_mut() {
        m.raw = raw.to_vec();
        m.record.from = kept.sender.clone();
        m.record.message_id = kept.message_id.clone();
        p.record = m.record.clone();
    }
    p.summary = format!("quarantined: {reason}; team told");
    p.changes.drafts = draft::kept_alert(config, std::slice::from_ref(&kept));
    p.kept = Some(kept);
    p.changes.render(compose_all, None, now);
    p
}
