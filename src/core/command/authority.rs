//! Authority: who may give the commands of a message (DESIGN.md "Team commands": a valid
//! signature by a team member's key; `From:` alone proves nothing; once per signature; only
//! while it is fresh). The grammar of the lines themselves is the parent module's.
//!
//! Invariants: pure and total; a refusal is answered only to a configured team member, never to
//! an arbitrary `From:`; a block with any bad line is refused whole.
use super::Parsed;
use crate::core::decrypt::{Opened, SigStatus};
use crate::model::TeamMember;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Who gave the commands of a message, as far as its signature shows.
#[derive(Debug, Clone)]
pub enum Authority<'a> {
    /// Not a command mail: no command block, or a sender who is not on the team and whose
    /// signature is no team member's (a reporter's text may start with a slash).
    NotCommands,
    /// A team member's fresh, first-seen, good signature: the commands may act.
    Member {
        member: &'a TeamMember,
        /// The signature's digest, remembered so the mail acts once.
        digest: String,
    },
    /// Refused: nothing changes; `answer_to` (a configured member, never an arbitrary From)
    /// is told why.
    Refused {
        answer_to: Option<&'a TeamMember>,
        reasons: Vec<String>,
    },
}

/// A message's command block with its authority.
#[derive(Debug, Clone)]
pub struct CommandMail<'a> {
    pub parsed: Parsed,
    pub authority: Authority<'a>,
}

/// Decides whether the command block of a message may act (DESIGN.md "Team commands": a
/// valid signature by a team member's key; `From:` alone proves nothing; once per signature;
/// only while it is fresh). `seen` tells whether a signature digest was used before.
///
/// A message with no command block but with command lines elsewhere
/// ([`Parsed::not_executed`]) is a member's note: `Member` when its signature would authorize
/// commands (the note is then answered "not executed"), else `NotCommands` as before.
pub fn authorize<'a>(
    parsed: &Parsed,
    opened: &Opened,
    from: &str,
    team: &'a [TeamMember],
    max_age: Duration,
    now: DateTime<Utc>,
    seen: &dyn Fn(&str) -> bool,
) -> Authority<'a> {
    if !parsed.has_commands() {
        if parsed.not_executed.is_empty() {
            return Authority::NotCommands;
        }
        return match gate(parsed, opened, from, team, max_age, now, seen) {
            a @ Authority::Member { .. } => a,
            _ => Authority::NotCommands,
        };
    }
    gate(parsed, opened, from, team, max_age, now, seen)
}

fn gate<'a>(
    parsed: &Parsed,
    opened: &Opened,
    from: &str,
    team: &'a [TeamMember],
    max_age: Duration,
    now: DateTime<Utc>,
    seen: &dyn Fn(&str) -> bool,
) -> Authority<'a> {
    let by_fpr = |f: Option<&str>| team.iter().find(|m| Some(m.fingerprint.as_str()) == f);
    let from_member = team.iter().find(|m| m.address.eq_ignore_ascii_case(from));
    let refuse = |to: Option<&'a TeamMember>, why: String| Authority::Refused {
        answer_to: to,
        reasons: vec![why],
    };
    let Some(member) = from_member else {
        // A team member's good signature under someone else's From: answer the member, at the
        // configured address, never the From.
        return match opened
            .signatures
            .iter()
            .filter(|s| s.status == SigStatus::Good)
            .find_map(|s| by_fpr(s.fingerprint.as_deref()))
        {
            Some(m) => refuse(
                Some(m),
                format!(
                    "the message is signed by your key but comes from {from}, not from {}: commands are accepted only from your configured address",
                    m.address
                ),
            ),
            None => Authority::NotCommands,
        };
    };
    if opened.html {
        return refuse(
            Some(member),
            "commands in HTML mail are not accepted: send the commands as plain text".into(),
        );
    }
    if opened.pieces > 1 {
        // Command splicing (SECURITY.md): an attacker's block placed before a member's genuine
        // signed text would borrow its signature. Commands need one signature over them all.
        return refuse(
            Some(member),
            format!(
                "the commands are not covered by one signature: the message joins {} separately signed or encrypted blocks; send the commands in one signed message, with nothing beside them",
                opened.pieces
            ),
        );
    }
    if opened.signatures.is_empty() {
        return refuse(
            Some(member),
            "the message is not signed: commands need a signature by your OpenPGP key".into(),
        );
    }
    let own = opened
        .signatures
        .iter()
        .find(|s| s.fingerprint.as_deref() == Some(member.fingerprint.as_str()));
    let Some(sig) = own else {
        let other = opened
            .signatures
            .iter()
            .filter(|s| s.status == SigStatus::Good)
            .find_map(|s| by_fpr(s.fingerprint.as_deref()));
        let why = match other {
            Some(o) => format!(
                "the message is signed by the key of {}, not by yours ({}): From is forged or the wrong key was used",
                o.address, member.fingerprint
            ),
            None => {
                let s = &opened.signatures[0];
                let who = s
                    .fingerprint
                    .clone()
                    .unwrap_or_else(|| s.issuer.clone());
                format!(
                    "the message is not signed by your configured key {} (signature by {}, {})",
                    member.fingerprint,
                    if who.is_empty() { "an unknown key" } else { who.as_str() },
                    status_word(s.status)
                )
            }
        };
        return refuse(Some(member), why);
    };
    match sig.status {
        SigStatus::Good => {}
        other => {
            return refuse(
                Some(member),
                format!(
                    "your signature is not valid: {} (cert {})",
                    status_word(other),
                    member.fingerprint
                ),
            )
        }
    }
    let Some(created) = sig.created.map(DateTime::<Utc>::from) else {
        return refuse(
            Some(member),
            "the signature carries no creation time".into(),
        );
    };
    let max = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::days(7));
    if created > now + chrono::Duration::hours(1) {
        return refuse(
            Some(member),
            format!(
                "the signature is dated in the future ({})",
                created.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    if now - created > max {
        return refuse(
            Some(member),
            format!(
                "the signature was made on {}, more than {} ago: commands count only while their signature is fresh",
                created.format("%Y-%m-%d %H:%M UTC"),
                crate::core::calendar::Span::Clock(max).describe()
            ),
        );
    }
    // The replay key of today, and the packet hash that keyed replays before (a command used
    // before an upgrade must not act after it).
    let used = |d: &str| !d.is_empty() && seen(d);
    if sig.digest.is_empty() || used(&sig.digest) || used(&sig.packet_digest) {
        return refuse(
            Some(member),
            "this signed message was already used once (a replay): nothing was done again".into(),
        );
    }
    if !parsed.errors.is_empty() {
        return Authority::Refused {
            answer_to: Some(member),
            reasons: parsed.errors.clone(),
        };
    }
    Authority::Member {
        member,
        digest: sig.digest.clone(),
    }
}

fn status_word(s: SigStatus) -> &'static str {
    match s {
        SigStatus::Good => "good",
        SigStatus::Bad => "bad signature: the message was altered or the signature is broken",
        SigStatus::UnknownKey => "unknown key",
        SigStatus::Expired => "the cert or signing key is expired",
        SigStatus::Revoked => "the cert or signing key is revoked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::parse;

    #[test]
    fn only_a_fresh_first_good_signature_by_the_from_member_authorizes() {
        use crate::core::decrypt::{Crypt, Form, ProtectedHeaders, Signature};
        use crate::core::keys;
        use crate::model::TeamRole;
        use std::time::SystemTime;
        let member = |file: &[u8], addr: &str| {
            let cert = keys::parse_cert(file).unwrap();
            TeamMember {
                name: addr.into(),
                address: addr.into(),
                role: TeamRole::Member,
                fingerprint: keys::fingerprint(&cert),
                cert,
            }
        };
        let team = vec![
            member(
                include_bytes!("../../../keys/team-alice.asc"),
                "alice@example.org",
            ),
            member(
                include_bytes!("../../../keys/team-bob.asc"),
                "bob@example.org",
            ),
        ];
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let sig = |who: usize, status, age_h: i64, digest: &str| Signature {
            status,
            fingerprint: Some(team[who].fingerprint.clone()),
            issuer: team[who].fingerprint.clone(),
            signer_emails: vec![team[who].address.clone()],
            created: Some(SystemTime::from(now - chrono::Duration::hours(age_h))),
            digest: digest.into(),
            packet_digest: String::new(),
        };
        let opened = |sigs: Vec<Signature>, html: bool| Opened {
            form: Form::PgpMime,
            outcome: Crypt::Decrypted,
            text: String::new(),
            unauthenticated: Vec::new(),
            protected: ProtectedHeaders::default(),
            signatures: sigs,
            certs: Vec::new(),
            attachments: Vec::new(),
            autocrypt: None,
            html,
            pieces: 1,
            payload_ids: Vec::new(),
        };
        let cmds = parse("/state triage", "SEC");
        let check = |from: &str, o: Opened, expected: &str| {
            let seen = |d: &str| d == "used";
            let got = match authorize(
                &cmds,
                &o,
                from,
                &team,
                Duration::from_secs(7 * 86_400),
                now,
                &seen,
            ) {
                Authority::NotCommands => "not-commands".to_string(),
                Authority::Member { member, .. } => format!("member {}", member.address),
                Authority::Refused { answer_to, reasons } => format!(
                    "refused to {}: {}",
                    answer_to.map(|m| m.address.as_str()).unwrap_or("-"),
                    reasons.join("; ")
                ),
            };
            assert!(
                got.contains(expected),
                "from {from}: got {got:?}, expected {expected:?}"
            );
        };
        let a = "alice@example.org";
        check(
            a,
            opened(vec![sig(0, SigStatus::Good, 1, "d1")], false),
            "member alice@example.org",
        );
        check(
            a,
            opened(vec![], false),
            "refused to alice@example.org: the message is not signed",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Expired, 1, "d1")], false),
            "expired",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Revoked, 1, "d1")], false),
            "revoked",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Bad, 1, "d1")], false),
            "altered",
        );
        check(
            a,
            opened(vec![sig(1, SigStatus::Good, 1, "d1")], false),
            "signed by the key of bob@example.org",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Good, 8 * 24, "d1")], false),
            "more than 7d ago",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Good, -3, "d1")], false),
            "dated in the future",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Good, 1, "used")], false),
            "already used once",
        );
        check(
            a,
            opened(vec![sig(0, SigStatus::Good, 1, "d1")], true),
            "HTML",
        );
        let mut unknown = sig(0, SigStatus::UnknownKey, 1, "d1");
        unknown.fingerprint = None;
        unknown.issuer = "ABCDEF0123456789".into();
        check(
            a,
            opened(vec![unknown], false),
            "signature by ABCDEF0123456789, unknown key",
        );
        // Not a team From: a member's signature is answered at her address; else just text.
        check("alice@home.example", opened(vec![sig(0, SigStatus::Good, 1, "d1")], false), "refused to alice@example.org: the message is signed by your key but comes from alice@home.example");
        check(
            "rita@reporter.example",
            opened(vec![], false),
            "not-commands",
        );
    }
}
