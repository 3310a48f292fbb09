//! Mail over the size limit (issue 11.7), from its header alone: quarantined, the team told
//! who sent it, and the sender told once per address how to send large material ([`oversize`]);
//! who may be told ([`oversize_answer`]), and the header words the alert needs.
//!
//! Invariants: nothing but the header (at most [`OVERSIZE_HEADER_MAX`] bytes) is read; the
//! answer follows the rules of every automatic answer (no machine, no loop, not our own
//! address, the backscatter limits) and quotes nothing of the message; the alert names no
//! Subject, as no alert about a message kept without a case does.
use super::{hash, recent_auto_replies, refused, Processed, View};
use crate::core::apply;
use crate::core::classify::{self, Sender};
use crate::core::compose::{self, Templates};
use crate::core::draft::{self, Kept};
use crate::core::effect::Mark;
use crate::core::parse;
use crate::core::settings::{Project, Settings};
use crate::core::{keys, limits, mime};
use chrono::{DateTime, Utc};

/// How much of the header of a message over the size limit is read (an IMAP partial fetch, a
/// Maildir file up to its first empty line): a longer header is cut here and read for what
/// parses.
pub const OVERSIZE_HEADER_MAX: usize = 64 << 10;

/// A message over the size limit as its source offers it: its header alone.
#[derive(Debug, Clone, Copy)]
pub struct Oversize<'a> {
    /// Its size (RFC822.SIZE, the file's length).
    pub size: u64,
    /// Its header, at most [`OVERSIZE_HEADER_MAX`] bytes; empty when none could be read.
    pub header: &'a [u8],
    /// Names it (source and position), so that the same message alerts the team once.
    pub cause: &'a str,
    /// Where it is kept, for people (`IMAP folder "secmail/quarantine"`).
    pub place: &'a str,
}

/// Mail over the size limit (issue 11.7): only its header was read; quarantined, the team told
/// who sent it (From, Reply-To when it differs, Date, Message-ID), how big it is and where it is
/// kept, and the sender told once per address how to send large material — within the rules
/// of every automatic answer ([`oversize_answer`]), signed, encrypted when a cert is known for
/// them, threaded under their message. Its Subject is not named, as no alert about a message
/// kept without a case names one ([`Kept`]): anyone can write it. The record keeps the header
/// as the message's bytes (`secmail quarantine show`) and its size.
pub fn oversize(
    o: Oversize,
    view: &dyn View,
    config: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Processed {
    let limit = config.limits.max_message_bytes;
    let headers = parse::headers(o.header).ok();
    // As written, for what the parser does not give (a Date that does not parse).
    let scanned = Kept::of_raw(o.header, "", "");
    let answer = oversize_answer(
        headers.as_ref(),
        &config.project,
        |a| view.told_too_large(a),
        |a| limits::may_send(&recent_auto_replies(view, a), &config.limits, false, now),
    );
    let mut p = refused(hash(o.cause.as_bytes()), now, "oversize");
    if let Some(m) = p.changes.message.as_mut() {
        // From and Message-ID stay off the record: they would index this header as an earlier
        // message with that id (`rmid/`), and the whole message, handled once the limit is
        // raised, would look like another one reusing it. `quarantine list` reads them from
        // the header.
        m.raw = o.header.to_vec();
        m.record.oversize = Some(o.size);
        p.record = m.record.clone();
    }
    let told = match answer {
        Ok((h, from)) => {
            let cert = view
                .cert_for(&from.address)
                .or_else(|| {
                    config
                        .known_certs
                        .iter()
                        .find(|c| keys::has_email(c, &from.address))
                        .cloned()
                })
                .filter(|c| keys::usable_for_encryption(c, now.into()).is_ok());
            let d = draft::too_large(
                from,
                cert,
                &size_words(o.size),
                &size_words(limit),
                o.cause,
                h,
                config,
            );
            let how = if d.encrypt_to.is_some() {
                "encrypted"
            } else {
                "signed"
            };
            p.changes.drafts.push(d);
            p.changes
                .marks
                .push(Mark::AutoReplied(from.address.clone()));
            p.changes
                .marks
                .push(Mark::ToldTooLarge(limits::normalize(&from.address)));
            p.changes.rate_window = config.limits.auto_reply_window;
            Ok(how)
        }
        Err(why) => Err(why),
    };
    let h = headers.as_ref();
    let from = h.and_then(|h| h.from.as_ref());
    let mut lines = vec![format!(
        "  From:       {}",
        from.map_or("missing or unparseable".to_string(), shown)
    )];
    if let Some(r) = reply_to(o.header).filter(|r| Some(&r.address) != from.map(|f| &f.address)) {
        lines.push(format!("  Reply-To:   {}", shown(&r)));
    }
    let date = h.and_then(|h| h.date.clone()).or(scanned.date);
    let id = h.and_then(|h| h.message_id.clone()).or(scanned.message_id);
    lines.push(format!(
        "  Date:       {}",
        date.as_deref().map_or("none".into(), parse::one_line)
    ));
    lines.push(format!(
        "  Message-ID: {}",
        id.as_deref().map_or("none".into(), parse::one_line)
    ));
    lines.push(format!(
        "  Size:       {}, over the limit of {}",
        size_and_bytes(o.size),
        size_and_bytes(limit)
    ));
    lines.push(format!("  Kept in:    {}", o.place));
    lines.push(match &told {
        Ok(how) => format!(
            "  Answer:     too-large ({how}): the limit and how to send large material, once per address"
        ),
        Err(why) => format!("  Answer:     none: {why}"),
    });
    let text = format!(
        "A message over the size limit arrived at the security address. Only its\nheader was read; the message itself is kept unread where \"Kept in\" says:\nread it there by hand. Its subject is not shown: anyone can write one.\n\n{}",
        lines.join("\n")
    );
    p.summary = format!(
        "quarantined: {} bytes is over the size limit; team told; {}",
        o.size,
        match &told {
            Ok(_) => "sender told how to send large material".to_string(),
            Err(why) => format!("sender not answered ({why})"),
        }
    );
    // Not fetched: its record (with the header only) marks the cause as told.
    p.changes
        .drafts
        .splice(0..0, apply::alert(config, o.cause, "oversize", &text, None));
    p.changes
        .render(&compose::compose_with(templates, config, now), None, now);
    p
}

/// Whether the sender of a message over the size limit is told how to send large material:
/// the header and the address to tell, or why not (for the team). The rules of every automatic answer
/// (DESIGN.md "Never answer a machine"): one usable From, no machine, bounce or loop of ours,
/// not our own address; and once per normalized address (`told_before`), within the
/// backscatter limits (`may_send`; an unread message proves no sender).
fn oversize_answer<'h>(
    h: Option<&'h parse::Headers>,
    project: &Project,
    told_before: impl Fn(&str) -> bool,
    may_send: impl Fn(&str) -> Result<(), limits::Held>,
) -> Result<(&'h parse::Headers, &'h parse::Mailbox), String> {
    let Some((h, from)) = h.and_then(|h| Some((h, h.from.as_ref()?))) else {
        return Err("no usable From address".into());
    };
    if h.from_count > 1 {
        return Err("several From addresses".into());
    }
    match classify::sender(h, &project.instance) {
        Sender::Person => {}
        Sender::OurLoop => return Err("our own message came back (mail loop)".into()),
        Sender::Bounce => return Err("a bounce".into()),
        Sender::Machine(why) => return Err(format!("machine mail ({why})")),
    }
    if is_ours(&from.address, project) {
        return Err("it is from our own address".into());
    }
    if told_before(&limits::normalize(&from.address)) {
        return Err("the sender was told before how to send large material".into());
    }
    may_send(&from.address).map_err(|held| format!("{} (not sent later)", held.reason()))?;
    Ok((h, from))
}

/// The security address or one of its case addresses (`security+SEC-2026-0001@…`).
fn is_ours(address: &str, project: &Project) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let (local, ours) = (
        local.to_ascii_lowercase(),
        project.local_part.to_ascii_lowercase(),
    );
    domain.eq_ignore_ascii_case(&project.domain)
        && (local == ours || local.starts_with(&format!("{ours}{}", project.separator)))
}

/// The Reply-To mailbox of a header, decoded as `parse::headers` decodes From (RFC 2047, and
/// the charset labels mail-parser lacks).
fn reply_to(header: &[u8]) -> Option<parse::Mailbox> {
    let raw = mime::relabel_words(header);
    let msg = mail_parser::MessageParser::default().parse_headers(&raw)?;
    parse::mailbox(msg.reply_to()?.first()?)
}

/// `Name <address>` on one short line each (anyone can write a header).
fn shown(m: &parse::Mailbox) -> String {
    match &m.name {
        Some(n) => format!("{} <{}>", parse::one_line(n), parse::one_line(&m.address)),
        None => parse::one_line(&m.address),
    }
}

/// A size as `max-message-size` writes one (1 KB = 1024 bytes): `8 KB`, `30.7 KB`, `25 MB`.
fn size_words(bytes: u64) -> String {
    let units = [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")];
    match units.iter().find(|(u, _)| bytes >= *u) {
        Some((u, name)) => {
            let tenths = (bytes * 10 + u / 2) / u;
            if tenths.is_multiple_of(10) {
                format!("{} {name}", tenths / 10)
            } else {
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            }
        }
        None => format!("{bytes} bytes"),
    }
}

/// `30.7 KB (31457 bytes)`, or just the bytes below a kilobyte.
fn size_and_bytes(bytes: u64) -> String {
    if bytes < 1 << 10 {
        size_words(bytes)
    } else {
        format!("{} ({bytes} bytes)", size_words(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::limits::Held;

    use crate::core::thread::tests::project;

    #[test]
    fn who_is_told_of_their_oversize_mail() {
        let told = ["told@reporter.example"];
        let check = |header: &str, want: Result<&str, &str>| {
            let h = parse::headers(header.as_bytes()).ok();
            let got = oversize_answer(
                h.as_ref(),
                &project(),
                |a| told.contains(&a),
                |a| {
                    if a.starts_with("flood") {
                        Err(Held::Domain)
                    } else {
                        Ok(())
                    }
                },
            );
            match (got, want) {
                (Ok((_, m)), Ok(w)) => assert_eq!(m.address, w, "{header:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{header:?}: {e}"),
                (got, want) => panic!("{header:?}: {got:?}, not {want:?}"),
            }
        };
        let person = "From: Rita <Rita@Reporter.example>\r\nSubject: x\r\n\r\n";
        check(person, Ok("rita@reporter.example"));
        check("", Err("no usable From"));
        check("Subject: x\r\n\r\n", Err("no usable From"));
        check("From: not an address\r\n\r\n", Err("no usable From"));
        check(
            "From: a@x.example, b@x.example\r\n\r\n",
            Err("several From"),
        );
        for (machine, why) in [
            (
                "Auto-Submitted: auto-generated",
                "Auto-Submitted: auto-generated",
            ),
            ("Precedence: bulk", "Precedence: bulk"),
            ("List-Id: <dev.lists.example>", "List-Id"),
            ("Return-Path: <>", "bounce"),
            ("X-Secmail-Loop: security@example.org", "mail loop"),
        ] {
            check(
                &format!("From: robot@ci.example\r\n{machine}\r\n\r\n"),
                Err(why),
            );
        }
        check("From: MAILER-DAEMON@mx.example\r\n\r\n", Err("bounce"));
        check("From: security@example.org\r\n\r\n", Err("our own address"));
        check(
            "From: security+SEC-2026-0001@EXAMPLE.org\r\n\r\n",
            Err("our own address"),
        );
        check(
            "From: security-team@example.org\r\n\r\n",
            Ok("security-team@example.org"),
        );
        // Once per address: case and sub-address make no new one.
        check(
            "From: Told+big@Reporter.example\r\n\r\n",
            Err("told before"),
        );
        check(
            "From: flood@reporter.example\r\n\r\n",
            Err("rate limit per domain"),
        );
        // A header cut at the cap is read for what parses.
        check(
            "From: rita@reporter.example\r\nSubject: x\r\nX-Filler: cut her",
            Ok("rita@reporter.example"),
        );
    }

    #[test]
    fn reply_to_is_decoded_and_sizes_read_like_the_config() {
        let h = b"From: a@b.example\r\nReply-To: =?utf-8?q?J=C3=BCrgen?= <J@Other.example>\r\n\r\n";
        assert_eq!(
            reply_to(h),
            Some(parse::Mailbox {
                address: "j@other.example".into(),
                name: Some("Jürgen".into()),
            })
        );
        assert_eq!(reply_to(b"From: a@b.example\r\n\r\n"), None);
        assert_eq!(reply_to(b""), None);
        for (bytes, words) in [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1 KB"),
            (8192, "8 KB"),
            (31_457, "30.7 KB"),
            (25 << 20, "25 MB"),
            ((25 << 20) + 1, "25 MB"),
            (3 << 30, "3 GB"),
        ] {
            assert_eq!(size_words(bytes), words, "{bytes}");
        }
        assert_eq!(size_and_bytes(8192), "8 KB (8192 bytes)");
        assert_eq!(size_and_bytes(100), "100 bytes");
    }
}
