//! Class 8, backscatter: forged reports From a victim must not make us send unbounded signed
//! mail to the victim. Automatic messages are limited per normalized address (case and
//! sub-address do not make a new one), per domain and overall, within `[limits]`'s window; the
//! team digest says what was suppressed.
use super::super::common::{open_sent, plain_mail, secret, sent, Pipeline};
use super::craft::pipeline;
use chrono::{DateTime, Duration, Utc};
use secmail::core::effect::Queued;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A forged clear report From `from`; returns how many acknowledgements it led to.
fn forge(p: &Pipeline, from: &str, n: usize) -> usize {
    let r = p.process(&plain_mail(
        from,
        "security@example.org",
        &format!("Report {n}"),
        &format!("forged-{n}@attacker.example"),
        "",
        "A forged report.",
    ));
    assert!(r.changes.errors.is_empty(), "{:?}", r.changes.errors);
    sent(r.outgoing())
        .iter()
        .filter(|(k, _)| k == "ack")
        .count()
}

#[test]
fn sub_addresses_and_case_of_one_victim_share_one_limit() {
    let p = pipeline();
    let limit = p.config.limits.auto_replies_per_address as usize;
    let acks: usize = (0..limit * 3)
        .map(|n| {
            let from = if n % 2 == 0 {
                format!("victim+{n}@victim.example")
            } else {
                format!("Victim+{n}@VICTIM.example")
            };
            forge(&p, &from, n)
        })
        .sum();
    assert_eq!(
        acks, limit,
        "acknowledgements sent to one victim's sub-addresses"
    );
}

#[test]
fn one_domain_is_bounded_and_other_domains_are_still_answered() {
    let mut p = pipeline();
    p.config.limits.auto_replies_per_domain = 3;
    let acks: usize = (0..8)
        .map(|n| forge(&p, &format!("user{n}@victim.example"), n))
        .sum();
    assert_eq!(acks, 3, "acknowledgements sent to one domain");
    assert_eq!(forge(&p, "someone@elsewhere.example", 99), 1);
}

#[test]
fn all_senders_together_are_bounded_per_window() {
    let mut p = pipeline();
    p.config.limits.auto_replies_overall = 4;
    let acks: usize = (0..9)
        .map(|n| forge(&p, &format!("user@victim{n}.example"), n))
        .sum();
    assert_eq!(acks, 4, "acknowledgements sent in one window");
    // The window passes: answered again.
    p.at(super::super::common::now() + Duration::hours(2));
    assert_eq!(forge(&p, "late@victim-late.example", 100), 1);
}

#[test]
fn the_window_is_the_configured_one_also_beyond_two_days() {
    // Found while moving the bookkeeping (issue 9): the store forgot auto-replies after a fixed
    // 48 hours whatever `auto-reply-window` said.
    let mut p = pipeline();
    p.config.limits.auto_reply_window = std::time::Duration::from_secs(3 * 86_400);
    p.config.limits.auto_replies_per_address = 3;
    let start = super::super::common::now();
    let mut acks = Vec::new();
    for (n, h) in [0, 49, 50, 51].into_iter().enumerate() {
        p.at(start + Duration::hours(h));
        acks.push(forge(&p, "victim@victim.example", n));
    }
    assert_eq!(
        acks,
        [1, 1, 1, 0],
        "three within three days, the fourth suppressed"
    );
}

#[test]
fn the_digest_reports_what_was_suppressed() {
    let mut p = Pipeline::with_policy("preset = \"ntpsec\"");
    p.at(t("2026-12-22T10:00:00Z"));
    let limit = p.config.limits.auto_replies_per_address as usize;
    for n in 0..limit + 2 {
        forge(&p, &format!("victim+{n}@victim.example"), n);
    }
    p.at(t("2026-12-22T10:05:00Z"));
    let s = p.schedule();
    let digest = s
        .outbox
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "digest" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| open_sent(&o.raw, &secret("team-alice-secret.asc")))
        .expect("a digest");
    assert!(
        digest.contains("Automatic answers suppressed (2)"),
        "{digest}"
    );
}

#[test]
fn a_forger_signing_with_a_fresh_key_of_the_victims_address_is_still_limited() {
    // The per-address exemption is for senders whose From is proved (issue 11.5). A cert the
    // message brings itself (Autocrypt header, attached key) proves nothing: anyone can make
    // one with the victim's address. Each forgery here comes with a new such key.
    use super::craft::{mail, Actor};
    let p = pipeline();
    let limit = p.config.limits.auto_replies_per_address as usize;
    let mut acks = 0;
    for n in 0..limit + 3 {
        // A sub-address each time, so that each forgery is a new report (and the same victim).
        let addr: &'static str = Box::leak(format!("victim+{n}@victim.example").into_boxed_str());
        let forger = Actor::mallory(addr);
        let raw = mail(
            &format!("Victim <{addr}>"),
            &format!("fresh-key-{n}@attacker.example"),
            &forger.autocrypt(addr),
            &forger.clearsign(&format!("Report {n}: a forged report.")),
        );
        let r = p.process(&raw);
        acks += sent(r.outgoing())
            .iter()
            .filter(|(k, _)| k == "ack")
            .count();
    }
    assert_eq!(
        acks, limit,
        "acks to the victim beyond the per-address limit"
    );
}
