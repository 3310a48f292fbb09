//! Drafts to a reporter or to the sender of a message: a message on a case
//! ([`reporter_message`]), the first answer to a sender ([`acknowledgement`]) and the answer to
//! a message we refused to read ([`cannot_read`]) or that was too large to read
//! ([`too_large`]); the last three thread under the mail they answer and name it
//! (`draft::answering`).
//!
//! Invariants: encrypted when the recipient's cert is known and usable, signed only otherwise
//! (DESIGN.md "OpenPGP"); the clear subject is the case tag and a fixed phrase, their subject or
//! the case's title only ever inside encryption.
use super::{answering, base_vars, language, message_id, Draft, Kind};
use crate::core::keys::{self, Cert};
use crate::core::parse::{Headers, Mailbox};
use crate::core::settings::Settings;
use crate::model::{Case, EventKind, Reporter};
use chrono::{DateTime, Utc};
use serde_json::json;

/// A message from the security address to one reporter of `case`: encrypted when their cert is
/// known and usable, signed only otherwise (DESIGN.md "OpenPGP"); the clear subject is neutral,
/// the case's title only ever inside encryption. `cause` makes the Message-ID stable.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reporter_message(
    kind: Kind,
    case: &Case,
    reporter: &Reporter,
    extra: serde_json::Value,
    clear_subject: String,
    cause: &str,
    config: &Settings,
    now: DateTime<Utc>,
) -> Draft {
    let cert = reporter
        .cert
        .as_deref()
        .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
        .filter(|c| keys::usable_for_encryption(c, now.into()).is_ok());
    let encrypted = cert.is_some();
    // Thread under the reporter's own last message when there is one.
    let last_in = case.timeline.iter().rev().find_map(|e| match &e.kind {
        EventKind::Received {
            message_id: Some(m),
            ..
        } if e.actor.eq_ignore_ascii_case(&reporter.address) => Some(m.clone()),
        _ => None,
    });
    let mut vars = base_vars(
        config,
        Some(case),
        json!({ "reporter_name": reporter.name, "encrypted": encrypted }),
    );
    if let (Some(map), serde_json::Value::Object(extra)) = (vars.as_object_mut(), extra) {
        map.extend(extra);
    }
    Draft {
        kind,
        case_id: Some(case.id.clone()),
        to: Mailbox {
            address: reporter.address.clone(),
            name: reporter.name.clone(),
        },
        encrypt_to: cert,
        vars,
        subject: clear_subject,
        inner_subject: encrypted.then(|| format!("Re: {} [{}]", case.title, case.id)),
        in_reply_to: last_in.clone(),
        references: last_in.into_iter().collect(),
        reply_to: Some(config.project.case_address(case.id.as_str())),
        message_id: message_id(
            kind,
            Some(&case.id),
            cause,
            &reporter.address,
            &config.project,
        ),
        attachments: Vec::new(),
        language: reporter.language.clone(),
    }
}

/// The answer to the sender of the message `h` (whose hash is `hash`) on `case`: the
/// acknowledgement of a new report, or which fingerprint to encrypt to (`Kind::NotForUs`).
/// Encrypted to `cert` when there is one, and only then does it repeat their `title`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn acknowledgement(
    kind: Kind,
    case: &Case,
    to: &Mailbox,
    cert: Option<Cert>,
    title: &str,
    hash: &str,
    h: &Headers,
    config: &Settings,
) -> Draft {
    let encrypted = cert.is_some();
    let subject = match kind {
        Kind::NotForUs => format!("[{}] We could not decrypt your message", case.id),
        _ => format!("[{}] Your security report was received", case.id),
    };
    let d = Draft {
        kind,
        case_id: Some(case.id.clone()),
        to: to.clone(),
        vars: base_vars(
            config,
            Some(case),
            json!({
                "reporter_name": to.name,
                "encrypted": encrypted,
                "ask_for": config.policy.ask_reporters_for,
                // Only inside encryption may we echo their subject.
                "their_subject": if encrypted { Some(title) } else { None },
            }),
        ),
        encrypt_to: cert,
        subject,
        inner_subject: encrypted.then(|| format!("Re: {title} [{}]", case.id)),
        in_reply_to: None,
        references: Vec::new(),
        reply_to: Some(config.project.case_address(case.id.as_str())),
        message_id: message_id(kind, Some(&case.id), hash, &to.address, &config.project),
        attachments: Vec::new(),
        // The reporter's language; a sender who is none of the case's, their mail's.
        language: match case.reporter(&to.address) {
            Some(r) => r.language.clone(),
            None => language::of_sender(h, &config.languages),
        },
    };
    // Only inside encryption does it name their subject.
    answering(d, h, encrypted.then_some(title))
}

/// To the sender of a message we refused to read (`Kind::NoIntegrity`, `Kind::Unreadable`):
/// one plain `reason`, signed only (there is no case, so no cert), under their message `h`.
pub(crate) fn cannot_read(
    kind: Kind,
    to: &Mailbox,
    reason: &str,
    hash: &str,
    h: &Headers,
    config: &Settings,
) -> Draft {
    let d = Draft {
        kind,
        case_id: None,
        to: to.clone(),
        encrypt_to: None,
        vars: base_vars(config, None, json!({ "reason": reason })),
        subject: format!("{}: your message could not be read", config.project.name),
        inner_subject: None,
        in_reply_to: None,
        references: Vec::new(),
        reply_to: None,
        message_id: message_id(kind, None, hash, &to.address, &config.project),
        attachments: Vec::new(),
        // No case, so no reporter: their mail says which language.
        language: language::of_sender(h, &config.languages),
    };
    // Signed only: it names the message by its date, never by what the sender wrote.
    answering(d, h, None)
}

/// To the sender of a message over the size limit (`Kind::TooLarge`, issue 11.7), under their
/// message `h` (whose header alone was read): its `size` and the `limit`, and how to send large
/// material. Content-free: it repeats nothing they wrote, not even their display name. Encrypted
/// to `cert` when there is one, signed only otherwise; `cause` names the message (the
/// Message-ID derives from it).
pub(crate) fn too_large(
    to: &Mailbox,
    cert: Option<Cert>,
    size: &str,
    limit: &str,
    cause: &str,
    h: &Headers,
    config: &Settings,
) -> Draft {
    let encrypted = cert.is_some();
    let d = Draft {
        kind: Kind::TooLarge,
        case_id: None,
        to: Mailbox {
            address: to.address.clone(),
            name: None,
        },
        encrypt_to: cert,
        vars: base_vars(
            config,
            None,
            json!({
                "encrypted": encrypted,
                "size": size,
                "limit": limit,
                "policy": config.security_txt.policy,
            }),
        ),
        subject: format!(
            "{}: your message was too large to be read",
            config.project.name
        ),
        inner_subject: None,
        in_reply_to: None,
        references: Vec::new(),
        reply_to: None,
        message_id: message_id(Kind::TooLarge, None, cause, &to.address, &config.project),
        attachments: Vec::new(),
        // No case: the header that was read says which language.
        language: language::of_sender(h, &config.languages),
    };
    answering(d, h, None)
}
