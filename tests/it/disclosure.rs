//! Coordinated disclosure through the pure core on the demo configuration: embargo rules,
//! one advance notice per distributor encrypted to that distributor alone, caps, a distributor
//! without a cert, the reporter told the date, the timers, the announcement and its credit, and
//! the OSV and CSAF documents validated against the official schemas (tests/schemas/).
use super::common::{now, repo, Pipeline};
use chrono::{Duration, TimeZone, Utc};
use secmail::core::advisory::{self, Format};
use secmail::core::command::{disclosure, DisclosureCommand, When};
use secmail::core::compose;
use secmail::core::decrypt::Attachment;
use secmail::core::disclose::{self, Ctx, Rules, Timer};
use secmail::core::draft::Kind;
use secmail::core::effect::Queued;
use secmail::core::keys;
use secmail::model::{
    Case, CaseId, Credit, Distributor, DistributorId, EventKind, NoticeKind, Reporter, State,
};
use std::path::Path;

const ANNOUNCE: &str = "announce@lists.example.org";

fn cert_text(name: &str) -> String {
    std::fs::read_to_string(repo().join("fixtures/keys").join(name)).unwrap()
}

fn distributor(
    name: &str,
    address: &str,
    cert: Option<&str>,
    cap_days: Option<i64>,
) -> Distributor {
    let cert = cert.map(cert_text);
    Distributor {
        id: DistributorId::from_name(name).unwrap(),
        name: name.into(),
        address: address.into(),
        cert_fingerprint: cert
            .as_deref()
            .map(|c| keys::fingerprint(&keys::parse_cert(c.as_bytes()).unwrap())),
        cert,
        notices: NoticeKind::ALL.to_vec(),
        cap_secs: cap_days.map(|d| d * 86_400),
        added: now(),
        added_by: "cli".into(),
    }
}

/// Distro A and Distro B with certs, Distro C without one.
fn list() -> Vec<Distributor> {
    vec![
        distributor(
            "Distro A",
            "dana@distro-a.example",
            Some("distributor-dana.asc"),
            None,
        ),
        distributor(
            "Distro B",
            "erik@distro-b.example",
            Some("distributor-erik.asc"),
            Some(14),
        ),
        distributor("Distro C", "carl@distro-c.example", None, None),
    ]
}

fn case() -> Case {
    let mut c = Case::new(
        CaseId::new("SEC", 2026, 1),
        "Heap overflow in parse_packet".into(),
        now(),
    );
    c.reporters.push(Reporter {
        address: "rita@reporter.example".into(),
        name: Some("Rita Reporter".into()),
        cert: Some(cert_text("reporter-rita.asc")),
        cert_fingerprint: None,
        cert_source: Some("signature".into()),
        credit: Credit::Name,
        language: None,
    });
    c.state = State::FixReady;
    c.affected = vec!["2.4.0".into(), "2.4.1".into()];
    c.fixed = vec!["2.4.2".into()];
    c
}

fn pipeline() -> Pipeline {
    let mut p = Pipeline::demo();
    p.config.project.announce_address = Some(ANNOUNCE.into());
    p
}

fn ctx<'a>(
    p: &'a Pipeline,
    policy: &'a Rules,
    list: &'a [Distributor],
    patches: &'a [Attachment],
    at: chrono::DateTime<Utc>,
) -> Ctx<'a> {
    Ctx {
        config: &p.config,
        policy,
        distributors: list,
        actor: "alice@example.org",
        patches,
        cause: "cmd-hash-1",
        now: at,
    }
}

/// Tuesday 2026-12-08 16:00 UTC, ten days after the fixed "now".
fn tuesday() -> When {
    When::Day(chrono::NaiveDate::from_ymd_opt(2026, 12, 8).unwrap())
}

#[test]
fn embargo_dates_follow_the_policy() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let c = ctx(&p, &policy, &list, &[], now());
    let mut case = case();
    let day = |d: u32| When::Day(chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap());
    // Friday 2026-12-11 is refused, with the reason; force accepts it.
    let refused = disclose::set_embargo(&mut case, day(11), false, &[], &c).unwrap_err();
    assert!(refused.0.contains("Friday"), "{refused}");
    assert!(case.embargo.is_none(), "a refusal changes nothing");
    disclose::set_embargo(&mut case, day(11), true, &[], &c).unwrap();
    assert!(case.embargo.as_ref().unwrap().forced);
    // The past, and beyond the policy's 90 days, are refused.
    let past = When::Day(chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
    assert!(disclose::set_embargo(&mut case, past, false, &[], &c)
        .unwrap_err()
        .0
        .contains("past"));
    let far = When::Day(chrono::NaiveDate::from_ymd_opt(2027, 6, 1).unwrap());
    assert!(disclose::set_embargo(&mut case, far, false, &[], &c)
        .unwrap_err()
        .0
        .contains("maximum"));
    // A plain date means 16:00 UTC; the event records it.
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    let e = case.embargo.clone().unwrap();
    assert_eq!(
        e.until,
        Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap()
    );
    assert_eq!(e.asked_by, "alice@example.org");
    assert!(matches!(
        case.timeline.last().unwrap().kind,
        EventKind::EmbargoSet { public: false, .. }
    ));
    // Duplicates keep the shorter embargo.
    let mut other = e.clone();
    other.until = e.until - Duration::days(3);
    assert_eq!(
        disclose::shorter(Some(&e), Some(&other)).unwrap().until,
        other.until
    );
    assert_eq!(disclose::shorter(None, Some(&e)).unwrap().until, e.until);
}

#[test]
fn advance_notice_goes_to_each_distributor_alone() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let patches = vec![Attachment {
        filename: Some("fix.patch".into()),
        content_type: "text/x-diff".into(),
        data: b"--- a/parse.c\n+++ b/parse.c\n".to_vec(),
    }];
    let c = ctx(&p, &policy, &list, &patches, now());
    let mut case = case();
    // No date yet: refused with the reason.
    let r = disclose::advance_notice(&mut case, Some("text"), false, &c).unwrap_err();
    assert!(r.0.contains("/embargo"), "{r}");
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    // Without a description: refused.
    assert!(disclose::advance_notice(&mut case, None, false, &c).is_err());
    let fx = disclose::advance_notice(
        &mut case,
        Some("parse_packet() overflows on records over 64 KiB.\nUpgrade to 2.4.2."),
        false,
        &c,
    )
    .unwrap();

    let notices: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::AdvanceNotice)
        .collect();
    // Distro B's 14-day cap allows a 10-day embargo; Distro C has no cert.
    assert_eq!(
        notices
            .iter()
            .map(|d| d.to.address.as_str())
            .collect::<Vec<_>>(),
        ["dana@distro-a.example", "erik@distro-b.example"]
    );
    for d in &notices {
        let own = list.iter().find(|x| x.address == d.to.address).unwrap();
        let cert = d.encrypt_to.as_ref().expect("always encrypted");
        assert_eq!(
            Some(keys::fingerprint(cert)),
            own.cert_fingerprint,
            "encrypted to its own cert"
        );
        assert_eq!(d.attachments.len(), 1, "the patch goes along");
        let text = p.templates.render("advance-notice", &d.vars).unwrap();
        assert!(text.contains("Tuesday 2026-12-08 16:00 UTC") && text.contains("Upgrade to 2.4.2"));
        assert!(text.contains("2.4.0, 2.4.1") && text.contains("fix.patch"));
        for other in list.iter().filter(|x| x.address != d.to.address) {
            assert!(
                !text.contains(&other.name) && !text.contains(&other.address),
                "{} names {}",
                d.to.address,
                other.name
            );
        }
        // Composed: one recipient, encrypted, no distributor in any clear header.
        let out =
            compose::render(d, &p.templates, &p.config.keys, &p.config.project, now()).unwrap();
        assert_eq!(out.rcpts, vec![d.to.address.clone()]);
        assert!(out.encrypted);
        let raw = String::from_utf8_lossy(&out.raw);
        for other in list.iter().filter(|x| x.address != d.to.address) {
            assert!(!raw.contains(&other.address));
        }
    }
    // The team hears of Distro C; the alert is encrypted to each member.
    let alerts: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::TeamAlert)
        .collect();
    assert_eq!(alerts.len(), p.config.team.len());
    assert!(alerts.iter().all(|a| a.encrypt_to.is_some()));
    assert!(alerts[0].vars["text"]
        .as_str()
        .unwrap()
        .contains("carl@distro-c.example"));
    // The reporter learns the date, encrypted to her, naming no distributor.
    let told: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::DisclosureDate)
        .collect();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].to.address, "rita@reporter.example");
    assert!(told[0].encrypt_to.is_some());
    let text = p
        .templates
        .render("disclosure-date", &told[0].vars)
        .unwrap();
    assert!(text.contains("Tuesday 2026-12-08 16:00 UTC"));
    assert!(list
        .iter()
        .all(|d| !text.contains(&d.name) && !text.contains(&d.address)));
    // Every delivery is on the timeline; the case is pre-notified; the refusal is recorded.
    let sent = case
        .timeline
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Sent { kind, .. } if kind == "advance-notice"))
        .count();
    assert_eq!(sent, 2);
    assert!(case.timeline.iter().any(|e| matches!(&e.kind, EventKind::NoticeRefused { distributor, .. } if distributor == "distro-c")));
    assert_eq!(case.state, State::PreNotified);
    assert!(case.disclosure.was_notified("dana@distro-a.example"));
    assert!(!case.disclosure.was_notified("carl@distro-c.example"));
    // Sending again sends nothing new to the same distributors for the same date.
    let again = disclose::advance_notice(&mut case, None, false, &c).unwrap();
    assert!(again
        .drafts
        .iter()
        .all(|d| d.kind != Kind::AdvanceNotice && d.kind != Kind::DisclosureDate));
}

#[test]
fn a_cap_refuses_a_notice_too_early_and_the_timer_sends_it_later() {
    let p = pipeline();
    let policy = Rules::default();
    let mut list = list();
    list[1].cap_secs = Some(5 * 86_400); // Distro B: at most 5 days of embargo
    let c = ctx(&p, &policy, &list, &[], now());
    let mut case = case();
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    let fx = disclose::advance_notice(&mut case, Some("Description."), false, &c).unwrap();
    assert!(fx
        .drafts
        .iter()
        .all(|d| d.to.address != "erik@distro-b.example"));
    let reason = case.timeline.iter().find_map(|e| match &e.kind {
        EventKind::NoticeRefused {
            distributor,
            reason,
            ..
        } if distributor == "distro-b" => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.as_deref().unwrap_or("").contains("at most 5 days"),
        "{reason:?}"
    );
    assert!(fx.said.iter().any(|l| l.contains("refused")));
    // Nothing due until the cap allows it; then the timer sends Distro B its notice.
    let four_days = now() + Duration::days(4);
    assert!(!disclose::due(&case, &list, &policy, four_days).contains(&Timer::AdvanceNotice));
    let later = Utc.with_ymd_and_hms(2026, 12, 3, 17, 0, 0).unwrap();
    assert!(disclose::due(&case, &list, &policy, later).contains(&Timer::AdvanceNotice));
    let c = ctx(&p, &policy, &list, &[], later);
    let fx = disclose::on_timer(&mut case, Timer::AdvanceNotice, &c);
    let to: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::AdvanceNotice)
        .map(|d| d.to.address.as_str())
        .collect();
    assert_eq!(to, ["erik@distro-b.example"]);
    assert!(
        !fx.drafts.iter().any(|d| d.kind == Kind::TeamAlert),
        "Distro C is not re-reported by the timer"
    );
}

#[test]
fn timers_notice_remind_and_expire() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let mut case = case();
    case.state = State::Fixing;
    let c = ctx(&p, &policy, &list, &[], now());
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    case.disclosure.text = Some("Description.".into());
    assert!(disclose::due(&case, &list, &policy, now()).is_empty());
    // Lead time reached, not fix-ready: the team is reminded, once.
    let lead = Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap();
    assert_eq!(
        disclose::due(&case, &list, &policy, lead),
        vec![Timer::NotReady]
    );
    let fx = disclose::on_timer(
        &mut case,
        Timer::NotReady,
        &ctx(&p, &policy, &list, &[], lead),
    );
    assert!(fx.drafts.iter().all(|d| d.kind == Kind::TeamAlert) && !fx.drafts.is_empty());
    assert!(disclose::due(&case, &list, &policy, lead).is_empty());
    // Fix-ready: the advance notice goes out by the timer.
    case.state = State::FixReady;
    assert_eq!(
        disclose::due(&case, &list, &policy, lead),
        vec![Timer::AdvanceNotice]
    );
    let fx = disclose::on_timer(
        &mut case,
        Timer::AdvanceNotice,
        &ctx(&p, &policy, &list, &[], lead),
    );
    assert_eq!(
        fx.drafts
            .iter()
            .filter(|d| d.kind == Kind::AdvanceNotice)
            .count(),
        2
    );
    // 24 hours before: the final notice to those who had the advance notice.
    let eve = Utc.with_ymd_and_hms(2026, 12, 7, 16, 0, 0).unwrap();
    assert_eq!(
        disclose::due(&case, &list, &policy, eve),
        vec![Timer::FinalNotice]
    );
    let fx = disclose::on_timer(
        &mut case,
        Timer::FinalNotice,
        &ctx(&p, &policy, &list, &[], eve),
    );
    assert_eq!(
        fx.drafts
            .iter()
            .filter(|d| d.kind == Kind::FinalNotice)
            .count(),
        2
    );
    assert!(disclose::due(&case, &list, &policy, eve).is_empty());
    // The date passes without /disclose: the team is reminded and the reporter told, once.
    let after = Utc.with_ymd_and_hms(2026, 12, 8, 16, 5, 0).unwrap();
    assert_eq!(
        disclose::due(&case, &list, &policy, after),
        vec![Timer::Expired]
    );
    let fx = disclose::on_timer(
        &mut case,
        Timer::Expired,
        &ctx(&p, &policy, &list, &[], after),
    );
    assert!(fx.drafts.iter().any(|d| d.kind == Kind::TeamAlert));
    assert!(fx
        .drafts
        .iter()
        .any(|d| d.kind == Kind::EmbargoOver && d.to.address == "rita@reporter.example"));
    assert!(disclose::due(&case, &list, &policy, after).is_empty());
}

#[test]
fn leak_tells_reporter_team_and_notified_distributors_at_once() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let c = ctx(&p, &policy, &list, &[], now());
    let mut case = case();
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    disclose::advance_notice(&mut case, Some("Description."), false, &c).unwrap();
    let fx = disclose::embargo_public(&mut case, &c).unwrap();
    assert!(case.embargo.as_ref().unwrap().public);
    let over: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::EmbargoOver)
        .map(|d| d.to.address.as_str())
        .collect();
    assert_eq!(
        over,
        [
            "rita@reporter.example",
            "dana@distro-a.example",
            "erik@distro-b.example"
        ]
    );
    assert_eq!(
        fx.drafts
            .iter()
            .filter(|d| d.kind == Kind::TeamAlert)
            .count(),
        p.config.team.len()
    );
    for d in fx.drafts.iter().filter(|d| d.kind == Kind::EmbargoOver) {
        p.templates.render("embargo-over", &d.vars).unwrap();
    }
    // Disclosure is due now.
    assert_eq!(
        disclose::due(&case, &list, &policy, now() + Duration::minutes(1)),
        vec![Timer::Expired]
    );
}

#[test]
fn disclosure_announces_with_credit_and_ends_the_embargo() {
    let mut p = pipeline();
    let policy = Rules::default();
    let list = list();
    let mut case = case();
    case.cve = Some("CVE-2026-12345".into());
    {
        let c = ctx(&p, &policy, &list, &[], now());
        disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
        disclose::advance_notice(
            &mut case,
            Some("parse_packet() overflows.\nUpgrade to 2.4.2."),
            false,
            &c,
        )
        .unwrap();
        // Before the date: refused unless forced.
        assert!(disclose::disclose(&mut case, None, false, &c)
            .unwrap_err()
            .0
            .contains("force"));
    }
    let day = Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap();
    let c = ctx(&p, &policy, &list, &[], day);
    let fx = disclose::disclose(&mut case, None, false, &c).unwrap();
    assert!(fx.write_advisories);
    let ann = fx
        .drafts
        .iter()
        .find(|d| d.kind == Kind::Announcement)
        .unwrap();
    assert_eq!(ann.to.address, ANNOUNCE);
    assert!(
        ann.encrypt_to.is_none(),
        "the announcement is signed, not encrypted"
    );
    let text = p.templates.render("announcement", &ann.vars).unwrap();
    assert!(
        text.contains("reported by Rita Reporter") && text.contains("CVE-2026-12345"),
        "{text}"
    );
    assert!(list
        .iter()
        .all(|d| !text.contains(&d.name) && !text.contains(&d.address)));
    let out = compose::render(ann, &p.templates, &p.config.keys, &p.config.project, day).unwrap();
    assert!(!out.encrypted && String::from_utf8_lossy(&out.raw).contains("multipart/signed"));
    let over: Vec<_> = fx
        .drafts
        .iter()
        .filter(|d| d.kind == Kind::EmbargoOver)
        .map(|d| d.to.address.as_str())
        .collect();
    assert_eq!(
        over,
        [
            "rita@reporter.example",
            "dana@distro-a.example",
            "erik@distro-b.example"
        ]
    );
    assert_eq!(case.state, State::Disclosed);
    assert!(disclose::due(&case, &list, &policy, day + Duration::days(1)).is_empty());

    // Anonymous: nobody credited. No announce address: refused.
    let mut anon = self::case();
    anon.reporters[0].credit = Credit::Anonymous;
    anon.disclosure.text = Some("Text.".into());
    let fx = disclose::disclose(&mut anon, None, true, &c).unwrap();
    let ann = fx
        .drafts
        .iter()
        .find(|d| d.kind == Kind::Announcement)
        .unwrap();
    let text = p.templates.render("announcement", &ann.vars).unwrap();
    assert!(!text.contains("Credit") && !text.contains("Rita"), "{text}");
    p.config.project.announce_address = None;
    let c = ctx(&p, &policy, &list, &[], day);
    assert!(disclose::disclose(&mut self::case(), Some("x"), true, &c)
        .unwrap_err()
        .0
        .contains("announce-address"));
}

#[test]
fn distributor_commands_change_the_list() {
    let list = list();
    let dana = keys::parse_cert(cert_text("distributor-dana.asc").as_bytes()).unwrap();
    let parse = |l: &str| match disclosure::parse(l) {
        Some(Ok(DisclosureCommand::Distributors(c))) => c,
        other => panic!("{l}: {other:?}"),
    };
    let add = parse("/distributors add <dana@distro-a.example> --name \"Distro A2\" --cap 14d");
    // The id is taken by another address? No: same address updates; the cert must match.
    let erik = keys::parse_cert(cert_text("distributor-erik.asc").as_bytes()).unwrap();
    assert!(disclose::change_list(&add, &list, &[erik], "alice@example.org", now()).is_err());
    let (change, said) =
        disclose::change_list(&add, &list, &[dana], "alice@example.org", now()).unwrap();
    assert!(said.starts_with("updated Distro A2"), "{said}");
    match change {
        Some(disclose::ListChange::Add(d)) => {
            assert_eq!(d.cap_secs, Some(14 * 86_400));
            assert!(d.cert_fingerprint.is_some());
        }
        other => panic!("{other:?}"),
    }
    let (change, _) = disclose::change_list(
        &parse("/distributors remove distro-c"),
        &list,
        &[],
        "a",
        now(),
    )
    .unwrap();
    assert!(matches!(change, Some(disclose::ListChange::Remove(id)) if id.as_str() == "distro-c"));
    assert!(disclose::change_list(
        &parse("/distributors remove nobody"),
        &list,
        &[],
        "a",
        now()
    )
    .is_err());
    let (none, text) =
        disclose::change_list(&parse("/distributors list"), &list, &[], "a", now()).unwrap();
    assert!(none.is_none() && text.contains("distro-c") && text.contains("NONE"));
}

/// Runs tests/schemas/validate.py; `None` (after a loud warning) when Python's jsonschema is
/// missing outside CI.
fn validate(kind: &str, doc: &serde_json::Value) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/schemas/validate.py"))
        .arg(kind)
        .arg(&file)
        .output();
    match out {
        Ok(o) if o.status.code() == Some(0) => Some(String::new()),
        Ok(o) if o.status.code() == Some(1) => {
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        other => {
            let why = format!("{other:?}");
            if std::env::var_os("CI").is_some() {
                panic!("schema validation could not run (python3 with jsonschema): {why}");
            }
            eprintln!("\n*** WARNING: python3 jsonschema missing: advisory schema validation SKIPPED ({why}) ***\n");
            None
        }
    }
}

/// Writes what the advisory looks like, for a person to read when a schema rule fails.
fn show(doc: &serde_json::Value) -> String {
    serde_json::to_string_pretty(doc).unwrap()
}

#[test]
fn advisories_validate_against_the_official_schemas() {
    let p = pipeline();
    let mut config_eco = pipeline();
    config_eco.config.advisories.ecosystem = Some("PyPI".into());
    config_eco.config.advisories.url_base = Some("https://example.org/security".into());
    let day = Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap();
    let mut disclosed = case();
    disclosed.cve = Some("CVE-2026-12345".into());
    disclosed.severity = Some(secmail::model::Severity::High);
    disclosed.cvss = Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into());
    disclosed.disclosure.text = Some("parse_packet() overflows.\nUpgrade to 2.4.2.".into());
    disclosed.disclosure.disclosed_at = Some(day);
    disclosed.state = State::Disclosed;
    let mut bare = case();
    bare.affected.clear();
    bare.fixed.clear();
    bare.reporters[0].credit = Credit::Anonymous;
    for (pl, c) in [(&p, &disclosed), (&config_eco, &disclosed), (&p, &bare)] {
        let osv = advisory::render(Format::Osv, c, &pl.config, day).unwrap();
        // The id is the project's own (issue 13.8), not a registered home database's prefix.
        if let Some(errors) = validate("osv-any-prefix", &osv) {
            assert!(errors.is_empty(), "OSV invalid:\n{errors}\n{}", show(&osv));
        }
        let csaf = advisory::render(Format::Csaf, c, &pl.config, day).unwrap();
        if let Some(errors) = validate("csaf", &csaf) {
            assert!(
                errors.is_empty(),
                "CSAF invalid:\n{errors}\n{}",
                show(&csaf)
            );
        }
    }
    let osv = advisory::osv(&disclosed, &config_eco.config, day);
    assert_eq!(osv["id"], "SEC-2026-0001");
    assert_eq!(osv["aliases"][0], "CVE-2026-12345");
    assert_eq!(osv["credits"][0]["name"], "Rita Reporter");
    assert_eq!(osv["affected"][0]["package"]["ecosystem"], "PyPI");
    assert_eq!(osv["severity"][0]["type"], "CVSS_V3");
    let csaf = advisory::csaf(&disclosed, &p.config, day);
    assert_eq!(csaf["document"]["tracking"]["status"], "final");
    assert_eq!(csaf["document"]["distribution"]["tlp"]["label"], "WHITE");
    assert_eq!(csaf["vulnerabilities"][0]["cve"], "CVE-2026-12345");
    // Nothing private: no reporter address, no internal title, no distributor.
    for doc in [osv, csaf, advisory::csaf(&bare, &p.config, day)] {
        let text = doc.to_string();
        assert!(
            !text.contains("rita@reporter.example")
                && !text.contains("Heap overflow in parse_packet")
        );
        assert!(!text.contains("distro"));
    }
    // Before disclosure the CSAF document is a TLP:AMBER draft.
    let draft = advisory::csaf(&bare, &p.config, now());
    assert_eq!(draft["document"]["tracking"]["status"], "draft");
    assert_eq!(draft["document"]["distribution"]["tlp"]["label"], "AMBER");
    assert!(Path::new(&repo().join("tests/schemas/README.md")).exists());
}

#[test]
fn distributors_command_works_beside_the_daemon_and_names_a_lock_held_otherwise() {
    use super::cli::{demo_tree, secmail};
    let dir = demo_tree();
    let add = secmail(
        dir.path(),
        &[
            "distributors",
            "add",
            "--name",
            "Distro A",
            "--address",
            "dana@distro-a.example",
            "--cert",
            "fixtures/keys/distributor-dana.asc",
            "--cap",
            "14d",
        ],
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    // A process that holds the store without serving it (an import, a backup): the command
    // names the lock, exits 75, and shows nothing of the list.
    {
        let held = secmail::shell::store::Store::open(&dir.path().join("var/store")).unwrap();
        let locked = secmail(dir.path(), &["distributors", "list"]);
        assert_eq!(
            locked.status.code(),
            Some(75),
            "{}",
            String::from_utf8_lossy(&locked.stderr)
        );
        let err = String::from_utf8_lossy(&locked.stderr);
        assert!(
            err.contains("in use by another secmail process") && err.contains("/distributors"),
            "{err}"
        );
        assert!(!err.contains("dana@distro-a.example"));
        drop(held);
    }
    // The running daemon serves the command over its control socket (issue 12).
    let log = dir.path().join("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_secmail"))
        .current_dir(dir.path())
        .arg("run")
        .env("SECMAIL_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut exited = None;
    super::harness::wait_until(
        "the daemon's control socket",
        super::harness::WAIT,
        || {
            exited = daemon.try_wait().unwrap();
            exited.is_some() || read_log().contains("control socket ready")
        },
        read_log,
    );
    assert!(exited.is_none(), "the daemon did not start: {}", read_log());
    let online = secmail(dir.path(), &["distributors", "list"]);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(
        online.status.success() && String::from_utf8_lossy(&online.stdout).contains("distro-a"),
        "{}",
        String::from_utf8_lossy(&online.stderr)
    );
    // The list is for the operator who asked, never for the daemon's log.
    assert!(!std::fs::read_to_string(&log)
        .unwrap()
        .contains("dana@distro-a.example"));
    // Stopped: the list is readable as before.
    let out = secmail(dir.path(), &["distributors", "list"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("distro-a"));
}

#[test]
fn security_txt_is_written_and_check_warns_before_it_expires() {
    use super::cli::{demo_tree, secmail};
    let dir = demo_tree();
    let conf = dir.path().join("security.conf");
    let base = std::fs::read_to_string(&conf).unwrap();
    let with = |expires_in: &str| {
        std::fs::write(
            &conf,
            format!(
                "{base}\n[security-txt]\nencryption = \"https://example.org/.well-known/security-key.asc\"\npolicy = \"https://example.org/security\"\ncanonical = \"https://example.org/.well-known/security.txt\"\npreferred-languages = \"en, de\"\nexpires-in = \"{expires_in}\"\npath = \"var/security.txt\"\n"
            ),
        )
        .unwrap();
    };
    with("20d");
    let out = secmail(
        dir.path(),
        &["security-txt", "--output", "var/security.txt"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("var/security.txt")).unwrap();
    for field in [
        "Contact: mailto:security@example.org\n",
        "Expires: ",
        "Encryption: https://example.org/.well-known/security-key.asc\n",
        "Policy: https://example.org/security\n",
        "Preferred-Languages: en, de\n",
        "Canonical: https://example.org/.well-known/security.txt\n",
    ] {
        assert!(text.contains(field), "missing {field:?} in:\n{text}");
    }
    let expires = secmail::core::security_txt::expires(&text).unwrap();
    assert!(expires - Utc::now() < Duration::days(21) && expires > Utc::now());
    let check = secmail(dir.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success());
    assert!(
        stdout.contains("warning: security.txt") && stdout.contains("expires on"),
        "{stdout}"
    );

    with("180d");
    secmail(
        dir.path(),
        &["security-txt", "--output", "var/security.txt"],
    );
    let stdout = String::from_utf8_lossy(&secmail(dir.path(), &["check"]).stdout).into_owned();
    assert!(
        stdout.contains("security.txt var/security.txt: ok")
            || stdout.contains("security.txt ./var/security.txt: ok"),
        "{stdout}"
    );

    // A year or more is refused: RFC 9116 §2.5.5 recommends less than a year.
    with("365d");
    let out = secmail(dir.path(), &["security-txt"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("security-txt.expires-in"));
}

#[test]
fn duplicates_keep_the_shorter_embargo() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let c = ctx(&p, &policy, &list, &[], now());
    let mut original = case();
    let mut dup = case();
    dup.id = CaseId::new("SEC", 2026, 2);
    disclose::set_embargo(&mut original, tuesday(), false, &[], &c).unwrap();
    let earlier = When::Day(chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
    disclose::set_embargo(&mut dup, earlier, false, &[], &c).unwrap();
    disclose::duplicate_embargo(&mut original, &mut dup, "alice@example.org", now());
    let thursday = Utc.with_ymd_and_hms(2026, 12, 3, 16, 0, 0).unwrap();
    assert_eq!(original.embargo.as_ref().unwrap().until, thursday);
    assert_eq!(dup.embargo.as_ref().unwrap().until, thursday);
    assert!(
        matches!(original.timeline.last().unwrap().kind, EventKind::EmbargoSet { until, .. } if until == thursday)
    );
    // A duplicate without an embargo takes the original's; no embargo anywhere changes nothing.
    let mut none = case();
    disclose::duplicate_embargo(&mut original, &mut none, "alice@example.org", now());
    assert_eq!(none.embargo.as_ref().unwrap().until, thursday);
    let (mut a, mut b) = (case(), case());
    disclose::duplicate_embargo(&mut a, &mut b, "alice@example.org", now());
    assert!(a.embargo.is_none() && b.embargo.is_none() && a.timeline.is_empty());
}

/// The text of every disclosure message kind, from the real code paths at a fixed time,
/// compared with `fixtures/templates/NAME.expected.txt` (`SECMAIL_BLESS=1` rewrites; a mismatch
/// writes `NAME.actual.txt` and fails naming it).
#[test]
fn golden_disclosure_templates() {
    let p = pipeline();
    let policy = Rules::default();
    let list = list();
    let patches = vec![Attachment {
        filename: Some("fix.patch".into()),
        content_type: "text/x-diff".into(),
        data: b"patch".to_vec(),
    }];
    let mut case = case();
    case.cve = Some("CVE-2026-12345".into());
    case.severity = Some(secmail::model::Severity::High);
    let mut rendered: Vec<(String, String)> = Vec::new();
    let mut keep = |name: &str, drafts: &[secmail::core::draft::Draft], kind: Kind, to: &str| {
        let d = drafts
            .iter()
            .find(|d| d.kind == kind && d.to.address == to)
            .unwrap_or_else(|| panic!("no {name} to {to}"));
        let text = p.templates.render(kind.as_str(), &d.vars).unwrap();
        rendered.push((
            name.to_string(),
            format!("To: {to}\nSubject: {}\n\n{text}", d.subject),
        ));
    };
    let c = ctx(&p, &policy, &list, &patches, now());
    disclose::set_embargo(&mut case, tuesday(), false, &[], &c).unwrap();
    let fx = disclose::advance_notice(
        &mut case,
        Some("parse_packet() overflows its buffer on records over 64 KiB.\nRemedy: upgrade to 2.4.2, or apply the patch."),
        false,
        &c,
    )
    .unwrap();
    keep(
        "advance-notice",
        &fx.drafts,
        Kind::AdvanceNotice,
        "dana@distro-a.example",
    );
    keep(
        "disclosure-date",
        &fx.drafts,
        Kind::DisclosureDate,
        "rita@reporter.example",
    );
    let eve = Utc.with_ymd_and_hms(2026, 12, 7, 16, 0, 0).unwrap();
    let fx = disclose::on_timer(
        &mut case,
        Timer::FinalNotice,
        &ctx(&p, &policy, &list, &[], eve),
    );
    keep(
        "final-notice",
        &fx.drafts,
        Kind::FinalNotice,
        "dana@distro-a.example",
    );
    let day = Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap();
    let fx =
        disclose::disclose(&mut case, None, false, &ctx(&p, &policy, &list, &[], day)).unwrap();
    keep("announcement", &fx.drafts, Kind::Announcement, ANNOUNCE);
    keep(
        "embargo-over",
        &fx.drafts,
        Kind::EmbargoOver,
        "dana@distro-a.example",
    );
    keep(
        "embargo-over-reporter",
        &fx.drafts,
        Kind::EmbargoOver,
        "rita@reporter.example",
    );

    let dir = repo().join("fixtures/templates");
    let bless = std::env::var_os("SECMAIL_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, text) in &rendered {
        let expected = dir.join(format!("{name}.expected.txt"));
        let actual = dir.join(format!("{name}.actual.txt"));
        if bless {
            std::fs::write(&expected, text).unwrap();
        } else if std::fs::read_to_string(&expected).ok().as_deref() == Some(text.as_str()) {
            let _ = std::fs::remove_file(&actual);
        } else {
            std::fs::write(&actual, text).unwrap();
            failures.push(actual.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "template goldens:\n{}",
        failures.join("\n")
    );
}

/// `/distributors` by signed team mail through the whole pipeline: a cert attached to the
/// command mail is imported, the change lands in the store with the case, a bad cert refuses
/// the mail whole, and nobody outside the team can read or change the list.
#[test]
fn distributors_by_signed_command_mail() {
    use super::common::{plain_mail, secret, signed_encrypted};
    let p = Pipeline::demo();
    p.process(&plain_mail(
        "rita@reporter.example",
        "security@example.org",
        "Remote crash",
        "r1@reporter.example",
        "",
        "Crash.",
    ));
    let alice = secret("team-alice-secret.asc");
    let command = |n: u32, body: &str, cert: &str| {
        let inner = format!(
            "Content-Type: multipart/mixed; boundary=\"c\"\n\n--c\nContent-Type: text/plain; charset=utf-8\n\n{body}\n--c\nContent-Type: application/pgp-keys; name=\"key.asc\"\nContent-Disposition: attachment; filename=\"key.asc\"\n\n{}\n--c--\n",
            cert_text(cert)
        );
        let h = format!("From: alice@example.org\r\nTo: security+SEC-2026-{:04}@example.org\r\nSubject: Re: [SEC-2026-0001]\r\nMessage-ID: <dc{n}@example.org>\r\n", 1);
        signed_encrypted(&alice, &h, &inner, now()).0
    };
    // The attached cert does not carry the address: refused whole, nothing stored.
    let out = p.process(&command(
        1,
        "/distributors add dana@distro-a.example --name \"Distro A\"",
        "distributor-erik.asc",
    ));
    assert!(out.summary.contains("refused"), "{}", out.summary);
    assert!(p.store.distributors().is_empty());
    // The right cert: imported with the cap.
    let out = p.process(&command(
        2,
        "/distributors add dana@distro-a.example --name \"Distro A\" --cap 14d",
        "distributor-dana.asc",
    ));
    assert!(
        out.summary.contains("1 team command (distributors)"),
        "{}",
        out.summary
    );
    let list = p.store.distributors();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].cap_secs, Some(14 * 86_400));
    assert_eq!(
        list[0].cert_fingerprint.as_deref(),
        Some("16C4792CD0A469A6ABD0187A36B142E23167F488")
    );
    // The confirmation goes to Alice alone, encrypted; no copy names the list outside the team.
    for Queued { mail: o, kind, .. } in out.outgoing() {
        assert!(o.encrypted, "{kind} to {:?} not encrypted", o.rcpts);
        assert!(
            o.rcpts.iter().all(|r| r.ends_with("@example.org")),
            "{kind} to {:?}",
            o.rcpts
        );
    }
    // A reporter's slash line is text, not a command: the list is neither shown nor changed.
    let out = p.process(&plain_mail(
        "rita@reporter.example",
        "security+SEC-2026-0001@example.org",
        "Re: [SEC-2026-0001]",
        "r2@reporter.example",
        "",
        "/distributors remove distro-a\n/distributors list",
    ));
    assert_eq!(p.store.distributors().len(), 1);
    for Queued { mail: o, .. } in out.outgoing() {
        assert!(!String::from_utf8_lossy(&o.raw).contains("distro-a"));
    }
    // Removal takes effect at once.
    p.process(&command(
        3,
        "/distributors remove distro-a",
        "distributor-dana.asc",
    ));
    assert!(p.store.distributors().is_empty());
}

/// The scheduler's side through the real binary (`run --once`, file outbox, pinned clock): a
/// signed `/embargo` with the description below it on a fix-ready case, then at the policy's
/// lead time the daemon sends the advance notice by itself, and 24 hours before the date the
/// final notice.
#[test]
fn the_daemon_sends_the_advance_notice_at_the_lead_time() {
    use super::cli::{demo_tree, secmail};
    use super::common::{secret, signed_encrypted, text_payload};
    let dir = demo_tree();
    let run_at = |at: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_secmail"))
            .current_dir(dir.path())
            .args(["run", "--once"])
            .env("SECMAIL_NOW", at)
            .env_remove("SECMAIL_LOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let outbox = |kind: &str| {
        std::fs::read_dir(dir.path().join("var/outbox"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with(kind))
                    .count()
            })
            .unwrap_or(0)
    };
    let add = secmail(
        dir.path(),
        &[
            "distributors",
            "add",
            "--name",
            "Distro A",
            "--address",
            "dana@distro-a.example",
            "--cert",
            "fixtures/keys/distributor-dana.asc",
        ],
    );
    assert!(add.status.success());
    run_at("2026-11-28T12:00:00Z");
    let alice = secret("team-alice-secret.asc");
    let h = "From: alice@example.org\r\nTo: security+SEC-2026-0001@example.org\r\nSubject: Re: [SEC-2026-0001]\r\nMessage-ID: <sched-1@example.org>\r\n";
    let body =
        "/state fix-ready\n/embargo 2026-12-10\n\nparse_packet() overflows; upgrade to 2.4.2.";
    let mail = signed_encrypted(&alice, h, &text_payload(body), now()).0;
    std::fs::write(
        dir.path()
            .join("fixtures/demo/maildir/new/0100.command.eml"),
        mail,
    )
    .unwrap();
    let stdout = run_at("2026-11-28T12:05:00Z");
    assert!(
        stdout.contains("2 team commands (state, embargo)"),
        "{stdout}"
    );
    assert_eq!(outbox("advance-notice"), 0, "not before the lead time");
    // Seven days before Thursday 2026-12-10 16:00 UTC.
    let stdout = run_at("2026-12-03T16:00:00Z");
    assert!(
        stdout.contains("disclosure timer AdvanceNotice"),
        "{stdout}"
    );
    assert_eq!(outbox("advance-notice"), 1);
    assert_eq!(
        outbox("disclosure-date"),
        1,
        "the reporter is told the date"
    );
    // Again at the same time: nothing twice.
    run_at("2026-12-03T16:10:00Z");
    assert_eq!(outbox("advance-notice"), 1);
    run_at("2026-12-09T16:00:00Z");
    assert_eq!(outbox("final-notice"), 1);
    let case = secmail(dir.path(), &["case", "SEC-2026-0001", "--json"]);
    let case: serde_json::Value = serde_json::from_slice(&case.stdout).unwrap();
    assert_eq!(case["state"], "pre-notified");
}

/// Issue 13.11: security.txt is signed with the project key (RFC 9116 §2.3: an OpenPGP
/// cleartext signature), gpg verifies it, and `check` verifies the published copy's signature
/// as well as its Expires.
#[test]
fn security_txt_is_signed_and_check_verifies_the_signature() {
    use super::cli::{demo_tree_with, secmail};
    let dir =
        demo_tree_with("[security-txt]\nexpires-in = \"180d\"\npath = \"var/security.txt\"\n");
    let out = secmail(
        dir.path(),
        &["security-txt", "--output", "var/security.txt"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("var/security.txt");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\n"),
        "{text}"
    );
    assert!(text.contains("-----BEGIN PGP SIGNATURE-----"), "{text}");
    assert!(
        text.contains("\nContact: mailto:security@example.org\n"),
        "{text}"
    );
    // GnuPG, as a reader of the file would check it.
    let gpg = super::gpg::Gpg::with_keys(&[&repo().join("keys/demo-project.asc")]);
    let checked = gpg.decrypt(text.as_bytes());
    assert!(
        checked.ok && checked.status.contains("GOODSIG"),
        "{}",
        checked.status
    );
    let check = |dir: &Path| String::from_utf8_lossy(&secmail(dir, &["check"]).stdout).into_owned();
    let stdout = check(dir.path());
    assert!(stdout.contains("var/security.txt: ok"), "{stdout}");
    // Altered after signing: check says so.
    std::fs::write(&file, text.replace("mailto:security@", "mailto:evil@")).unwrap();
    let stdout = check(dir.path());
    assert!(
        stdout.contains("warning: security.txt") && stdout.contains("no good signature"),
        "{stdout}"
    );
    // Not signed at all: said, with the Expires checked all the same.
    std::fs::write(
        &file,
        "Contact: mailto:security@example.org\nExpires: 2020-01-01T00:00:00Z\n",
    )
    .unwrap();
    let stdout = check(dir.path());
    assert!(
        stdout.contains("is not signed") && stdout.contains("EXPIRED"),
        "{stdout}"
    );
}

/// Issue 13.2: `secmail case` shows the timeline in the policy's time zone with its offset.
#[test]
fn case_timelines_show_the_policy_zone_and_offset() {
    use super::cli::{demo_tree_with, secmail};
    let dir = demo_tree_with("[policy]\ntime-zone = \"Asia/Kolkata\"\n");
    let run = secmail(dir.path(), &["run", "--once"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = secmail(dir.path(), &["case", "SEC-2026-0001"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "timeline:")
        .skip(1)
        .filter(|l| l.starts_with("  2"))
        .collect();
    assert!(!timeline.is_empty(), "{text}");
    // India is +05:30 all year: no daylight saving to make the test depend on the date.
    for line in timeline {
        assert!(line.contains(" +05:30 "), "{line}");
    }
}
