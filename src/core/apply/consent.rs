//! Consent of duplicate reporters to meet (DESIGN.md "Team commands", `/duplicate`; NTPsec's
//! policy: "we will put the reporters in contact with each other").
//!
//! How consent is given: `/duplicate` sends each reporter an offer; a reporter agrees by
//! replying to that offer with YES (or `/consent`) on the first line. The reply must cite the
//! offer's Message-ID (threading rule 1), which only that reporter received, so a forged From
//! alone cannot agree for them. Once both agreed, each gets the other's name and address, once.
use super::{Incoming, Memory};
use crate::core::decrypt::Opened;
use crate::core::draft::{record_sent, reporter_message, Draft, Kind};
use crate::core::settings::Settings;
use crate::model::{Case, EventKind};
use chrono::{DateTime, Utc};
use serde_json::json;

/// A reporter's message on `case`: records their consent when it is one, and introduces the
/// two reporters when the other already agreed. Returns the drafts and the other case when
/// it changed.
pub(super) fn reply(
    case: &mut Case,
    inc: &Incoming,
    opened: &Opened,
    mem: &Memory,
    config: &Settings,
    now: DateTime<Utc>,
) -> (Vec<Draft>, Vec<Case>) {
    let Some(from) = inc.headers.from.as_ref().map(|f| f.address.clone()) else {
        return (Vec::new(), Vec::new());
    };
    let cited: Vec<&String> = inc
        .headers
        .in_reply_to
        .iter()
        .chain(inc.headers.references.iter())
        .collect();
    let Some(i) = case.contact_offers.iter().position(|o| {
        o.reporter.eq_ignore_ascii_case(&from) && !o.consented && cited.contains(&&o.message_id)
    }) else {
        return (Vec::new(), Vec::new());
    };
    if !says_yes(&opened.text) {
        return (Vec::new(), Vec::new());
    }
    case.contact_offers[i].consented = true;
    case.push(
        now,
        &from,
        EventKind::ContactConsent {
            reporter: from.clone(),
        },
    );
    let offer = case.contact_offers[i].clone();
    let Some(mut other) = mem
        .related
        .iter()
        .find(|c| c.id == offer.other_case)
        .cloned()
    else {
        return (Vec::new(), Vec::new());
    };
    let Some(j) = other.contact_offers.iter().position(|o| {
        o.reporter.eq_ignore_ascii_case(&offer.other_reporter) && o.other_case == case.id
    }) else {
        return (Vec::new(), Vec::new());
    };
    if !other.contact_offers[j].consented || other.contact_offers[j].introduced {
        return (Vec::new(), Vec::new());
    }
    let (Some(me), Some(them)) = (
        case.reporter(&from).cloned(),
        other.reporter(&offer.other_reporter).cloned(),
    ) else {
        return (Vec::new(), Vec::new());
    };
    let mut drafts = Vec::new();
    for (c, to, peer, peer_case) in [
        (&mut *case, &me, &them, other.id.clone()),
        (&mut other, &them, &me, offer.other_case.clone()),
    ] {
        let _ = peer_case;
        let d = reporter_message(
            Kind::ContactMade,
            c,
            to,
            json!({ "other_name": peer.name, "other_address": peer.address }),
            format!("[{}] Contact with the other reporter", c.id),
            &format!("contact/{}", c.id),
            config,
            now,
        );
        record_sent(c, &d, now);
        drafts.push(d);
    }
    case.contact_offers[i].introduced = true;
    other.contact_offers[j].introduced = true;
    case.push(
        now,
        "secmail",
        EventKind::ContactMade {
            reporter: me.address.clone(),
            other: them.address.clone(),
            other_case: other.id.clone(),
        },
    );
    other.push(
        now,
        "secmail",
        EventKind::ContactMade {
            reporter: them.address.clone(),
            other: me.address.clone(),
            other_case: case.id.clone(),
        },
    );
    (drafts, vec![other])
}

/// The first line of their own text (quotes skipped) is "yes" or "/consent".
fn says_yes(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('>'))
        .map(|l| l.trim_end_matches(['.', '!', ',']).to_ascii_lowercase())
        .is_some_and(|l| l == "yes" || l == "/consent")
}

#[cfg(test)]
mod tests {
    #[test]
    fn yes_is_the_first_own_line() {
        for (text, yes) in [
            ("YES\n> quoted", true),
            ("\n yes.\nthanks", true),
            ("/consent", true),
            ("> YES\nno", false),
            ("yes please do not", false),
            ("", false),
        ] {
            assert_eq!(super::says_yes(text), yes, "{text:?}");
        }
    }
}
