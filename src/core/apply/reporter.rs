//! The reporter side of a person's message: the answer to ciphertext we refuse to read, the
//! cert we learn from a reporter, and the automatic answer to the sender (an acknowledgement,
//! or which fingerprint to encrypt to).
//!
//! Invariants: every automatic answer is within the rate limit (`core::limits`), a held one is
//! recorded on the case as suppressed, and nobody is answered when a message has several From
//! addresses; the sender of unreadable ciphertext gets one plain reason, never which decryption
//! step failed (SECURITY.md, smaller ones); a reporter's known cert is replaced only by the
//! operator's keys-dir or by a mail the known cert signed (SECURITY.md, key substitution).
use super::{may_auto_reply, Incoming, Memory, Outcome, Signed};
use crate::core::decrypt::{CertSource, Crypt, Opened};
use crate::core::draft::{self, Kept, Kind};
use crate::core::keys::{self, Cert};
use crate::core::limits::Held;
use crate::core::parse::Mailbox;
use crate::core::settings::Settings;
use crate::model::{Case, EventKind};
use chrono::{DateTime, Utc};
use std::time::SystemTime;

/// Ciphertext we refuse to read (no integrity protection, or damaged): quarantined, no case;
/// the sender is told why (rate-limited, one From only), the team hears of it with the details
/// (nothing in silence). `None` for any other message.
pub(super) fn refused_ciphertext(
    inc: &Incoming,
    from: &Mailbox,
    opened: &Opened,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    let (kind, reason) = match &opened.outcome {
        Crypt::NoIntegrity => (
            Kind::NoIntegrity,
            "encrypted without integrity protection".to_string(),
        ),
        Crypt::Damaged(why) => (Kind::Unreadable, format!("damaged: {why}")),
        _ => return None,
    };
    let mut out = Outcome::quarantine(&reason);
    // The team hears of it with the details (nothing in silence); the sender gets one plain
    // reason and no detail of which decryption step failed (SECURITY.md, smaller ones).
    let sender_reason = match &opened.outcome {
        Crypt::NoIntegrity => reason.clone(),
        _ => "the encrypted message could not be decrypted; it may have been damaged on the way"
            .to_string(),
    };
    if may_auto_reply(mem, config, false, now).is_ok() && inc.headers.from_count <= 1 {
        out.drafts.push(draft::cannot_read(
            kind,
            from,
            &sender_reason,
            inc.hash,
            inc.headers,
            config,
        ));
        out.auto_replied.push(from.address.clone());
    }
    let told = if out.auto_replied.is_empty() {
        "the sender was not answered (rate limit or several From addresses)"
    } else {
        "the sender was asked to send it again"
    };
    out.kept = Some(Kept::of_headers(inc.hash, inc.raw.len(), inc.headers, &reason).noting(told));
    Some(out)
}

/// Learns the reporter's cert (DESIGN.md "OpenPGP": a good signature by an attached cert, an
/// Autocrypt header, or keys/), only certs that carry the From address. A cert learnt before
/// (on this case or another) is the known one: it is replaced only by the operator's keys-dir
/// or by a mail the known cert signed (SECURITY.md, key substitution). Returns the warning for
/// the team when a new cert was refused.
#[allow(clippy::too_many_arguments)]
pub(super) fn learn_cert(
    case: &mut Case,
    opened: &Opened,
    from: &Mailbox,
    signature: Signed,
    signer: Option<&str>,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> Option<String> {
    if let Some(r) = case.reporter_mut(&from.address) {
        if r.cert.is_none() {
            if let Some(known) = &mem.sender_cert {
                r.cert = Some(keys::armored(known));
                r.cert_fingerprint = Some(keys::fingerprint(known));
                r.cert_source = Some("earlier case".into());
            }
        }
    }
    let (cert, source) = offered_cert(opened, config, &from.address, now.into())?;
    let fpr = keys::fingerprint(&cert);
    let r = case.reporter_mut(&from.address)?;
    let known = r.cert_fingerprint.clone();
    let proven = source == "keys-dir"
        || known.is_none()
        || (signer.is_some() && signer == known.as_deref() && signature == Signed::Good);
    if known.as_deref() == Some(fpr.as_str()) {
        None
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
        None
    } else {
        let kept = known?;
        let warning = format!(
            "This message offers a new OpenPGP key for {} ({fpr}, from {source}) that is not signed by the known key {kept}. secmail keeps using the known key. If the reporter really changed keys, ask them to sign with the old one, or put the new cert in keys.certs-dir.",
            from.address
        );
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
        Some(warning)
    }
}

/// The first usable cert for `from` the message offers — signed by an attached cert, an
/// Autocrypt header, or the operator's keys-dir, in that order — and where it came from.
fn offered_cert(
    opened: &Opened,
    config: &Settings,
    from: &str,
    now: SystemTime,
) -> Option<(Cert, &'static str)> {
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

/// The cert the case has for the reporter `address`, when it is usable for encryption now.
pub(super) fn usable_cert(case: &Case, address: &str, now: DateTime<Utc>) -> Option<Cert> {
    case.reporter(address)
        .and_then(|r| r.cert.as_deref())
        .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
        .filter(|c| keys::usable_for_encryption(c, now.into()).is_ok())
}

/// Which automatic answer the sender is owed: nobody is answered when the message has several
/// From addresses; a message not encrypted to us is told our fingerprint once per sender; a new
/// report is acknowledged; a follow-up gets nothing.
pub(super) fn answer_kind(
    inc: &Incoming,
    mem: &Memory,
    opened_case: bool,
    not_for_us: bool,
) -> Option<Kind> {
    if inc.headers.from_count > 1 {
        None
    } else if not_for_us && !mem.told_fingerprint {
        Some(Kind::NotForUs)
    } else if opened_case && !not_for_us {
        Some(Kind::Ack)
    } else {
        None
    }
}

/// Sends the sender the answer `kind` when the rate limit allows — a good signature bound to
/// From (`verified`) is not limited per address (issue 11.5) — and records it on the case; a
/// held answer is recorded as suppressed. Encrypted to `cert` when there is one. Returns what
/// was said, for the summary, and for a held answer what the team's copies must say of it (a
/// suppression is never silent: held per address, a coalesced answer follows; held per domain
/// or overall, only the team can answer).
#[allow(clippy::too_many_arguments)]
pub(super) fn answer(
    kind: Kind,
    case: &mut Case,
    out: &mut Outcome,
    inc: &Incoming,
    from: &Mailbox,
    cert: Option<Cert>,
    title: &str,
    verified: bool,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> (String, Option<String>) {
    if let Err(held) = may_auto_reply(mem, config, verified, now) {
        suppressed(case, kind, held.reason(), now);
        let next = match held {
            Held::Address => {
                "one content-free acknowledgement naming the case follows once the window has room"
            }
            Held::Domain | Held::Overall => {
                "it will not be sent later: answer the reporter with a signed /reply"
            }
        };
        return (
            format!("{} suppressed ({})", kind.as_str(), held.reason()),
            Some(format!(
                "the {} to the sender was held back ({}); {next}.",
                kind.as_str(),
                held.reason()
            )),
        );
    }
    let d = draft::acknowledgement(kind, case, from, cert, title, inc.hash, inc.headers, config);
    draft::record_sent(case, &d, now);
    case.last_reporter_update = Some(now);
    let said = format!(
        "{}{}",
        kind.as_str(),
        if d.encrypt_to.is_some() {
            " (encrypted)"
        } else {
            " (signed)"
        }
    );
    out.drafts.push(d);
    out.auto_replied.push(from.address.clone());
    out.told_fingerprint = kind == Kind::NotForUs;
    (said, None)
}

/// Records on the case that an automatic answer of `kind` was not sent, and why.
pub(super) fn suppressed(case: &mut Case, kind: Kind, reason: &str, now: DateTime<Utc>) {
    case.push(
        now,
        "secmail",
        EventKind::Suppressed {
            kind: kind.as_str().into(),
            reason: reason.into(),
        },
    );
}
