//! The team side of a message: what a team copy says about it ([`About`]), one copy per member
//! ([`team_copies`]), the copies of a person's message ([`copy_message`]: with the original and
//! the reason when we could not decrypt it), and a member's own signed note ([`note`]).
//!
//! Invariants: the team is never sent plaintext — each copy is encrypted to its member alone,
//! and a member without a usable cert gets nothing (the case records it and the copies to the
//! others say so); a member's note is copied to the rest of the team once, a replay of its
//! signature not at all (SECURITY.md, replay).
use super::{received, Encryption, Incoming, Outcome, Signed};
use crate::core::decrypt::{Attachment, Crypt, Opened};
use crate::core::draft::{self, Draft, Kept, Kind};
use crate::core::keys;
use crate::core::parse::Mailbox;
use crate::core::settings::Settings;
use crate::core::thread::Threaded;
use crate::model::{Case, EventKind};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::SystemTime;

/// What a team copy says about the message it forwards.
pub(super) struct About<'a> {
    pub from: &'a Mailbox,
    pub title: &'a str,
    pub opened: &'a Opened,
    pub encryption: Encryption,
    pub signature: Signed,
    pub hash: &'a str,
    /// The text to show: the opened text, without command lines for a command mail.
    pub text: &'a str,
    /// Accepted command lines, as written.
    pub commands: Vec<String>,
    /// The text went to the reporter(s) too.
    pub relayed: bool,
    /// Something the team must know about this message (a refused cert change).
    pub warning: Option<&'a str>,
    /// The automatic answer the sender was owed and did not get, and what follows (issue 11:
    /// no suppression in silence).
    pub unanswered: Option<&'a str>,
}

/// A team member's signed message: internal, recorded on its case and copied to the rest of
/// the team — once. A member's note matching no case is kept and the member told.
pub(super) fn note(
    inc: &Incoming,
    member: &str,
    about: &About,
    config: &Settings,
    now: DateTime<Utc>,
) -> Outcome {
    if inc.replayed_team_signature {
        return replayed_note(inc, member, now);
    }
    let mut out = Outcome::processed(String::new());
    let Threaded::Existing { case, rule } = inc.threaded.clone() else {
        out.summary = "team message matching no case: kept, sender told".into();
        // Encrypted to the member who wrote it: it names their subject (issue 11.8).
        out.drafts = draft::alert(config, inc.hash, "no-case", "Your signed message to the security address matched no case (no known Message-ID, case address or [case tag]). Nothing was changed.", Some(member))
            .into_iter()
            .map(|d| draft::answering(d, inc.headers, Some(about.title)))
            .collect();
        return out;
    };
    let mut case = *case;
    if let Some(id) = &inc.headers.message_id {
        case.add_message_id(id);
    }
    case.push(
        now,
        member,
        received(
            inc,
            "team",
            about.encryption,
            about.signature,
            Some(member.to_string()),
            rule.as_str(),
        ),
    );
    let copies = team_copies(
        &mut case,
        config,
        Some(member),
        about,
        about.opened.attachments.clone(),
        now,
    );
    out.summary = format!(
        "{}: internal note from team → {} team copies",
        case.id,
        copies.len()
    );
    out.drafts = copies;
    out.case = Some(case);
    out
}

/// A team member's signed message whose signature was seen before: a copy an attacker captured
/// and sent again. Recorded on its case for the audit trail; not copied to the team again.
fn replayed_note(inc: &Incoming, member: &str, now: DateTime<Utc>) -> Outcome {
    let mut out = Outcome::processed(String::new());
    let Threaded::Existing { case, .. } = inc.threaded.clone() else {
        out.summary =
            "replay of a team signature already seen, matching no case: not copied".into();
        out.kept = Some(
            Kept::of_headers(
                inc.hash,
                inc.raw.len(),
                inc.headers,
                "a team member's signed message seen before (a replay), matching no case",
            )
            .noting(format!("not copied; signed by {member}")),
        );
        return out;
    };
    let mut case = *case;
    case.push(
        now,
        member,
        EventKind::CommandRefused {
            msg_hash: inc.hash.to_string(),
            reasons: vec![
                "a signed team message seen before arrived again (a replay): not copied to the team again".into(),
            ],
        },
    );
    out.summary = format!(
        "{}: replay of a team signature already seen → not copied",
        case.id
    );
    out.case = Some(case);
    out
}

/// One copy per team member (but `skip`), each encrypted to that member alone. A member without
/// a usable cert gets nothing; the copies to the others say so and the case records it.
pub(super) fn team_copies(
    case: &mut Case,
    config: &Settings,
    skip: Option<&str>,
    about: &About,
    attachments: Vec<Attachment>,
    now: DateTime<Utc>,
) -> Vec<Draft> {
    let sys_now: SystemTime = now.into();
    let mut withheld = Vec::new();
    let mut usable = Vec::new();
    for m in config
        .team
        .iter()
        .filter(|m| Some(m.address.as_str()) != skip)
    {
        match keys::usable_for_encryption(&m.cert, sys_now) {
            Ok(()) => usable.push(m),
            Err(why) => withheld.push((m.address.clone(), why)),
        }
    }
    for (addr, why) in &withheld {
        case.push(
            now,
            "secmail",
            EventKind::Withheld {
                to: addr.clone(),
                kind: Kind::TeamCopy.as_str().into(),
                reason: why.clone(),
            },
        );
    }
    let withheld_lines: Vec<String> = withheld.iter().map(|(a, w)| format!("{a} ({w})")).collect();
    let unauthenticated = about.opened.unauthenticated.join("\n\n");
    let about_vars = json!({
        "from": about.from.address,
        "from_name": about.from.name,
        "title": about.title,
        "state": case.state.as_str(),
        "encryption": about.encryption.as_str(),
        "signature": about.signature.as_str(),
        "text": about.text,
        "commands": about.commands,
        "relayed": about.relayed,
        "warning": about.warning,
        "unanswered": about.unanswered,
        "unauthenticated": unauthenticated,
        "withheld": withheld_lines,
        "attachments": attachments.iter().map(|a| a.filename.clone().unwrap_or_else(|| "(unnamed)".into())).collect::<Vec<_>>(),
    });
    let mut drafts = Vec::new();
    for m in usable {
        let d = draft::team_copy(
            case,
            m,
            &about_vars,
            about.title,
            about.hash,
            &attachments,
            config,
        );
        draft::record_sent(case, &d, now);
        drafts.push(d);
    }
    drafts
}

/// The team's copies of a person's message, with `warning` when there is one. A message not
/// encrypted to us comes with the original attached and, unless a warning says more, why it
/// could not be read.
pub(super) fn copy_message(
    case: &mut Case,
    about: About,
    warning: Option<String>,
    raw: &[u8],
    config: &Settings,
    now: DateTime<Utc>,
) -> Vec<Draft> {
    let attachments = copy_attachments(about.opened, raw);
    let warning = warning.or_else(|| why_not_for_us(&about.opened.outcome));
    let about = About {
        warning: warning.as_deref(),
        ..about
    };
    team_copies(case, config, None, &about, attachments, now)
}

/// What the team's copies of a message carry: its attachments, and the original message when
/// it was not encrypted to us (the team may hold the key it was meant for).
fn copy_attachments(opened: &Opened, raw: &[u8]) -> Vec<Attachment> {
    let mut attachments = opened.attachments.clone();
    if matches!(opened.outcome, Crypt::NotForUs { .. }) {
        attachments.push(Attachment {
            filename: Some("original.eml".into()),
            content_type: "application/octet-stream".into(),
            data: raw.to_vec(),
        });
    }
    attachments
}

/// Why a message not encrypted to us could not be read (issue 11.9): the keys it names, or none
/// at all. `None` for any other message.
fn why_not_for_us(outcome: &Crypt) -> Option<String> {
    let Crypt::NotForUs { recipients } = outcome else {
        return None;
    };
    Some(if recipients.is_empty() {
        "Not encrypted to any of the project's keys: it names no recipient key (passphrase-only, or hidden recipients). The original is attached.".to_string()
    } else {
        format!(
            "Not encrypted to any of the project's keys: it was encrypted to {} (a retired project key, or someone else's). The original is attached.",
            recipients.join(", ")
        )
    })
}
