//! Apply: one incoming message and the state it meets → the new case state and the effects
//! (DESIGN.md "Flow"). Pure: the clock, the case and the sender's history come in as arguments.
//!
//! Invariants: no automatic message to a machine; automatic messages bounded per normalized
//! address, per domain and overall within the window (`core::limits`); the team is never sent plaintext and a member without a
//! usable cert gets nothing (the others are told); a plaintext message to a reporter quotes
//! nothing of the report. Team commands (`apply::commands`) change a case only with a
//! member's accepted signature, all or nothing; a duplicate's reporters meet only when both
//! agree (`apply::consent`).
mod commands;
mod consent;
mod disclosure;
mod team;
mod words;

pub use words::{encryption_word, signature_word};

// The draft builders live in `core::draft`; these paths stay for the callers outside apply
// (`core::disclose`, `core::schedule`, `core::pipeline`, `shell::daemon`).
pub use super::draft::alert;
pub(crate) use super::draft::{base_vars, member_message, record_sent, reporter_message};

use super::classify::Sender;
use super::command::{Authority, CommandMail};
use super::decrypt::{Attachment, Opened, Outcome as Crypt};
use super::draft::{self, Draft, Kind};
use super::keys::{self, Cert};
use super::parse::{Headers, Mailbox};
use super::thread::Threaded;
use crate::core::settings::Settings;
use crate::model::{Case, CaseId, EventKind, Reporter};
use chrono::{DateTime, Utc};
use std::time::SystemTime;
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

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Disposition {
    /// Handled: move to the processed folder.
    #[default]
    Processed,
    /// Kept apart: move to the quarantine folder, with the reason (never report text).
    Quarantine(String),
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
        (_, None) => Outcome::quarantine("no From address"),
        (Sender::OurLoop, _) => {
            let mut out = Outcome::quarantine("our own message came back (mail loop)");
            out.drafts = draft::alert(config, inc.hash, "loop", "One of secmail's own messages came back to the security address. It was not processed; check forwarding rules.", None);
            out
        }
        (Sender::Bounce | Sender::Machine(_), Some(from)) => machine(inc, &from, now),
        (Sender::Person, Some(from)) => person(inc, &from, mem, config, now),
    }
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
        received(&inc, kind, "clear", "none", None, "references"),
    );
    Outcome {
        summary: format!("{}: {what} recorded, not answered", case.id),
        case: Some(case),
        ..Outcome::default()
    }
}

fn person(
    inc: Incoming,
    from: &Mailbox,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Outcome {
    let Some(opened) = inc.opened else {
        return Outcome::quarantine("not opened");
    };
    let sys_now: SystemTime = now.into();
    let encryption = encryption_word(&opened.outcome);
    let (signature, signer) = signature_word(opened, &from.address);

    // Refused ciphertext: quarantined, the sender told why (rate-limited), no case.
    if matches!(opened.outcome, Crypt::NoIntegrity | Crypt::Damaged(_)) {
        let (kind, reason) = match &opened.outcome {
            Crypt::NoIntegrity => (
                Kind::NoIntegrity,
                "encrypted without integrity protection".to_string(),
            ),
            Crypt::Damaged(why) => (Kind::Unreadable, format!("damaged: {why}")),
            _ => (Kind::Unreadable, "unreadable".to_string()),
        };
        let mut out = Outcome::quarantine(&reason);
        // The team hears of it with the details (nothing in silence); the sender gets one plain
        // reason and no detail of which decryption step failed (SECURITY.md, smaller ones).
        let sender_reason = match &opened.outcome {
            Crypt::NoIntegrity => reason.clone(),
            _ => {
                "the encrypted message could not be decrypted; it may have been damaged on the way"
                    .to_string()
            }
        };
        let detail = format!(
            "A message from {} could not be read ({reason}). It is in the quarantine folder, message {}.",
            from.address,
            short(inc.hash)
        );
        let reason = sender_reason;
        if may_auto_reply(mem, config, false, now).is_ok() && inc.headers.from_count <= 1 {
            out.drafts.push(draft::cannot_read(
                kind,
                from,
                &reason,
                inc.hash,
                inc.headers,
                config,
            ));
            out.auto_replied.push(from.address.clone());
        }
        let told = if out.auto_replied.is_empty() {
            " The sender was not answered (rate limit or several From addresses)."
        } else {
            " The sender was asked to send it again."
        };
        out.drafts.extend(draft::alert(
            config,
            inc.hash,
            "unreadable message",
            &format!("{detail}{told}"),
            None,
        ));
        return out;
    }

    let title = opened
        .protected
        .subject
        .clone()
        .or_else(|| inc.headers.subject.clone())
        .unwrap_or_else(|| "(no subject)".into());
    // A title is for lists and the team's protected subject: keep it one short line.
    let title = one_line(&title);

    // What we may repeat to the sender (SECURITY.md, decryption oracle): decrypted content only
    // when the content confirms the sender — a good signature bound to From, or a protected
    // From equal to the outer one. Anyone may re-send a captured ciphertext under their own
    // From; they get the outer subject back, which they wrote themselves.
    let confirmed = signature == "good"
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

    // What the team copies say about this message (the same for a team note and a report);
    // for a command mail, its text without the command lines.
    let about = About {
        from,
        title: &title,
        opened,
        encryption: &encryption,
        signature: &signature,
        hash: inc.hash,
        text: &opened.text,
        commands: Vec::new(),
        relayed: false,
        warning: None,
    };
    // Command lines: a member's accepted commands act; anything else claiming to be one is
    // refused whole and answered (DESIGN.md "Team commands").
    if let Some(cm) = &inc.command {
        let about = About {
            text: &cm.parsed.text,
            commands: Vec::new(),
            ..about
        };
        match &cm.authority {
            Authority::NotCommands => {}
            Authority::Member { member, digest } => {
                return commands::accepted(
                    &inc, member, digest, &cm.parsed, &about, mem, config, now,
                )
            }
            Authority::Refused { answer_to, reasons } => {
                return commands::refused(&inc, *answer_to, reasons, &cm.parsed, mem, config, now)
            }
        }
    }

    // A team member's message: internal, copied to the rest of the team — once.
    if let Some(member) = inc.team_member {
        return team::note(&inc, member, &about, config, now);
    }

    let (mut case, opened_case, rule) = match inc.threaded.clone() {
        Threaded::Existing { case, rule } => (*case, false, rule.as_str()),
        Threaded::New { cited } => {
            let mut case = Case::new(mem.next_case_id.clone(), reporter_title.clone(), now);
            let reason = match cited {
                Some(c) => format!("sender is not a participant of the cited {c}"),
                None => "new report".into(),
            };
            case.push(now, "secmail", EventKind::Opened { reason });
            (case, true, "new")
        }
    };
    // A distributor's mail stays internal: copied to the team, never to the reporter, never
    // answered automatically (DESIGN.md "Threading").
    let sender_class = if case.reporter(&from.address).is_some() || opened_case {
        "reporter"
    } else if case.disclosure.was_notified(&from.address) {
        "distributor"
    } else {
        "unknown"
    };
    if opened_case {
        case.reporters.push(Reporter {
            address: from.address.clone(),
            name: from.name.clone(),
            cert: None,
            cert_fingerprint: None,
            cert_source: None,
            credit: Default::default(),
        });
    }
    if let Some(id) = &inc.headers.message_id {
        case.add_message_id(id);
    }
    case.push(
        now,
        &from.address,
        received(
            &inc,
            sender_class,
            &encryption,
            &signature,
            signer.clone(),
            rule,
        ),
    );

    // Learn the reporter's cert (DESIGN.md "OpenPGP": a good signature by an attached cert, an
    // Autocrypt header, or keys/), only certs that carry the From address. A cert learnt
    // before (on this case or another) is the known one: it is replaced only by the
    // operator's keys-dir or by a mail the known cert signed (SECURITY.md, key substitution).
    let mut warning = None;
    if rule == super::thread::Rule::SameCiphertext.as_str() && sender_class != "reporter" {
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
    } else if rule == super::thread::Rule::References.as_str() && sender_class == "unknown" {
        warning = Some(format!(
            "{} is not a participant of {}: this message threaded in only because it names one of the case's Message-IDs. Treat its text as from a stranger.",
            from.address, case.id
        ));
    }
    if sender_class == "reporter" && inc.headers.from_count <= 1 {
        if let Some(r) = case.reporter_mut(&from.address) {
            if r.cert.is_none() {
                if let Some(known) = &mem.sender_cert {
                    r.cert = Some(keys::armored(known));
                    r.cert_fingerprint = Some(keys::fingerprint(known));
                    r.cert_source = Some("earlier case".into());
                }
            }
        }
        if let Some((cert, source)) = learn_cert(opened, config, &from.address, sys_now) {
            let fpr = keys::fingerprint(&cert);
            if let Some(r) = case.reporter_mut(&from.address) {
                let known = r.cert_fingerprint.clone();
                let proven = source == "keys-dir"
                    || known.is_none()
                    || (signer.is_some() && signer == known && signature == "good");
                if known.as_deref() == Some(fpr.as_str()) {
                } else if proven {
                    r.cert = Some(keys::armored(&cert));
                    r.cert_fingerprint = Some(fpr.clone());
                    r.cert_source = Some(source.to_string());
                    case.push(
                        now,
                        "secmail",
                        EventKind::CertLearnt {
                            address: from.address.clone(),
                            fingerprint: fpr,
                            source: source.into(),
                        },
                    );
                } else if let Some(kept) = known {
                    warning = Some(format!(
                        "This message offers a new OpenPGP key for {} ({fpr}, from {source}) that is not signed by the known key {kept}. secmail keeps using the known key. If the reporter really changed keys, ask them to sign with the old one, or put the new cert in keys.certs-dir.",
                        from.address
                    ));
                    case.push(
                        now,
                        "secmail",
                        EventKind::CertChangeRefused {
                            address: from.address.clone(),
                            offered: fpr,
                            kept,
                            source: source.into(),
                        },
                    );
                }
            }
        }
    }
    let reporter_cert = case
        .reporter(&from.address)
        .and_then(|r| r.cert.as_deref())
        .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
        .filter(|c| keys::usable_for_encryption(c, sys_now).is_ok());

    let mut out = Outcome {
        opened_case,
        ..Outcome::default()
    };
    // A reporter agreeing to meet the reporter of a duplicate (DESIGN.md "Team commands").
    if sender_class == "reporter" {
        let (drafts, linked) = consent::reply(&mut case, &inc, opened, mem, config, now);
        out.drafts.extend(drafts);
        out.linked.extend(linked);
    }
    let not_for_us = matches!(opened.outcome, Crypt::NotForUs { .. });
    let mut said = Vec::new();

    // The answer to the sender.
    let answer = if inc.headers.from_count > 1 {
        None
    } else if not_for_us && !mem.told_fingerprint {
        Some(Kind::NotForUs)
    } else if opened_case && !not_for_us {
        Some(Kind::Ack)
    } else {
        None
    };
    if let Some(kind) = answer {
        // A good signature bound to From (issue 11.5): not limited per address.
        let allowed = may_auto_reply(mem, config, signature == "good", now);
        if allowed.is_ok() {
            let d = draft::acknowledgement(
                kind,
                &case,
                from,
                reporter_cert.clone(),
                &reporter_title,
                inc.hash,
                inc.headers,
                config,
            );
            draft::record_sent(&mut case, &d, now);
            case.last_reporter_update = Some(now);
            said.push(format!(
                "{}{}",
                kind.as_str(),
                if d.encrypt_to.is_some() {
                    " (encrypted)"
                } else {
                    " (signed)"
                }
            ));
            out.drafts.push(d);
            out.auto_replied.push(from.address.clone());
            out.told_fingerprint = kind == Kind::NotForUs;
        } else if let Err(held) = allowed {
            case.push(
                now,
                "secmail",
                EventKind::Suppressed {
                    kind: kind.as_str().into(),
                    reason: held.reason().into(),
                },
            );
            said.push(format!("{} suppressed ({})", kind.as_str(), held.reason()));
        }
    } else if not_for_us {
        case.push(
            now,
            "secmail",
            EventKind::Suppressed {
                kind: Kind::NotForUs.as_str().into(),
                reason: "sender was told before".into(),
            },
        );
    }

    // The team's copies.
    let mut attachments = opened.attachments.clone();
    if not_for_us {
        attachments.push(Attachment {
            filename: Some("original.eml".into()),
            content_type: "application/octet-stream".into(),
            data: inc.raw.to_vec(),
        });
    }
    // Why it could not be read (issue 11.9): the keys it names, or none at all.
    if let (None, Crypt::NotForUs { recipients }) = (&warning, &opened.outcome) {
        warning = Some(if recipients.is_empty() {
            "Not encrypted to any of the project's keys: it names no recipient key (passphrase-only, or hidden recipients). The original is attached.".to_string()
        } else {
            format!(
                "Not encrypted to any of the project's keys: it was encrypted to {} (a retired project key, or someone else's). The original is attached.",
                recipients.join(", ")
            )
        });
    }
    let about = About {
        warning: warning.as_deref(),
        ..about
    };
    let copies = team::team_copies(&mut case, config, None, &about, attachments, now);
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

fn learn_cert(
    opened: &Opened,
    config: &Settings,
    from: &str,
    now: SystemTime,
) -> Option<(Cert, &'static str)> {
    use super::decrypt::CertSource;
    let usable = |c: &Cert| keys::has_email(c, from) && keys::usable_for_encryption(c, now).is_ok();
    opened
        .certs
        .iter()
        .filter(|l| l.source == CertSource::AttachedSigner)
        .map(|l| (l.cert.clone(), "signature"))
        .chain(opened.autocrypt.iter().map(|c| (c.clone(), "autocrypt")))
        .chain(config.known_certs.iter().map(|c| (c.clone(), "keys-dir")))
        .find(|(c, _)| usable(c))
}

fn received(
    inc: &Incoming,
    class: &str,
    encryption: &str,
    signature: &str,
    signer: Option<String>,
    rule: &str,
) -> EventKind {
    EventKind::Received {
        msg_hash: inc.hash.to_string(),
        message_id: inc.headers.message_id.clone(),
        sender_class: class.to_string(),
        encryption: encryption.to_string(),
        signature: signature.to_string(),
        signer,
        thread_rule: rule.to_string(),
    }
}

/// One short line: no control characters, at most 200 characters.
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// `Name <a@b>` or `a@b` → `a@b`, lowercased.
fn address_of(s: &str) -> String {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    inner.trim().to_lowercase()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
