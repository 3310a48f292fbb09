//! Drafts to the team: a notice ([`alert`]), a message to one member ([`member_message`]) and
//! one member's copy of a message on a case ([`team_copy`]).
//!
//! Invariants: every one is encrypted to the member's cert alone, and none is built for a cert
//! that is not usable (DESIGN.md "OpenPGP": the team is never sent plaintext); every one is in
//! the policy default language (the team is not a reporter, issue 12.6).
use super::{base_vars, message_id, Draft, Kind};
use crate::core::decrypt::Attachment;
use crate::core::keys;
use crate::core::parse::Mailbox;
use crate::core::settings::Settings;
use crate::model::{Case, TeamMember};
use chrono::{DateTime, Utc};
use serde_json::json;

/// A short notice to the team (or to one member), encrypted to each; no report text.
pub fn alert(
    config: &Settings,
    cause: &str,
    what: &str,
    text: &str,
    only: Option<&str>,
) -> Vec<Draft> {
    notice(
        config,
        only,
        what,
        text,
        Vec::new(),
        &format!("secmail notice: {what}"),
        &format!("{cause}/{what}"),
    )
}

/// The one builder of team notices: a draft per member (or `only` that one), each encrypted to
/// that member. `messages`: the kept messages a notice names (`Kept::vars`); `id_cause`: what
/// the Message-ID derives from, so the same notice told again has the same id.
pub(super) fn notice(
    config: &Settings,
    only: Option<&str>,
    what: &str,
    text: &str,
    messages: Vec<serde_json::Value>,
    inner_subject: &str,
    id_cause: &str,
) -> Vec<Draft> {
    config
        .team
        .iter()
        .filter(|m| only.is_none_or(|o| o == m.address))
        .map(|m| Draft {
            kind: Kind::TeamAlert,
            case_id: None,
            to: Mailbox {
                address: m.address.clone(),
                name: Some(m.name.clone()),
            },
            encrypt_to: Some(m.cert.clone()),
            vars: base_vars(
                config,
                None,
                json!({
                    "member": m.name,
                    "what": what,
                    "text": text,
                    "messages": messages,
                    "answering": null,
                }),
            ),
            subject: format!("{}: secmail notice", config.project.name),
            inner_subject: Some(inner_subject.to_string()),
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            message_id: message_id(Kind::TeamAlert, None, id_cause, &m.address, &config.project),
            attachments: Vec::new(),
            language: None,
        })
        .collect()
}

/// A message to one team member, always encrypted to their cert; `None` when the cert is not
/// usable (never a plaintext fallback, DESIGN.md "OpenPGP").
#[allow(clippy::too_many_arguments)]
pub(crate) fn member_message(
    kind: Kind,
    case: Option<&Case>,
    member: &TeamMember,
    extra: serde_json::Value,
    subject: String,
    cause: &str,
    config: &Settings,
    now: DateTime<Utc>,
) -> Option<Draft> {
    keys::usable_for_encryption(&member.cert, now.into()).ok()?;
    let mut vars = base_vars(config, case, json!({ "member": member.name }));
    if let (Some(map), serde_json::Value::Object(extra)) = (vars.as_object_mut(), extra) {
        map.extend(extra);
    }
    Some(Draft {
        kind,
        case_id: case.map(|c| c.id.clone()),
        to: Mailbox {
            address: member.address.clone(),
            name: Some(member.name.clone()),
        },
        encrypt_to: Some(member.cert.clone()),
        vars,
        subject: match case {
            Some(c) => format!("[{}] {subject}", c.id),
            None => format!("{}: {subject}", config.project.name),
        },
        inner_subject: case.map(|c| format!("[{}] {subject}: {}", c.id, c.title)),
        in_reply_to: None,
        references: Vec::new(),
        reply_to: case.map(|c| config.project.case_address(c.id.as_str())),
        message_id: message_id(
            kind,
            case.map(|c| &c.id),
            cause,
            &member.address,
            &config.project,
        ),
        attachments: Vec::new(),
        language: None,
    })
}

/// One member's copy of a message on `case`, encrypted to that member; `about` says what the
/// message was (the variables of the team-copy template besides `member`), `title` is its
/// subject inside the encryption, `hash` the message's (the cause of the Message-ID). The caller
/// checked that the member's cert is usable.
pub(crate) fn team_copy(
    case: &Case,
    member: &TeamMember,
    about: &serde_json::Value,
    title: &str,
    hash: &str,
    attachments: &[Attachment],
    config: &Settings,
) -> Draft {
    let mut extra = json!({ "member": member.name });
    if let (Some(map), serde_json::Value::Object(about)) = (extra.as_object_mut(), about) {
        map.extend(about.clone());
    }
    Draft {
        kind: Kind::TeamCopy,
        case_id: Some(case.id.clone()),
        to: Mailbox {
            address: member.address.clone(),
            name: Some(member.name.clone()),
        },
        encrypt_to: Some(member.cert.clone()),
        vars: base_vars(config, Some(case), extra),
        subject: format!("[{}] Security case update", case.id),
        inner_subject: Some(format!("[{}] {title}", case.id)),
        in_reply_to: None,
        references: Vec::new(),
        reply_to: Some(config.project.case_address(case.id.as_str())),
        message_id: message_id(
            Kind::TeamCopy,
            Some(&case.id),
            hash,
            &member.address,
            &config.project,
        ),
        attachments: attachments.to_vec(),
        language: None,
    }
}
