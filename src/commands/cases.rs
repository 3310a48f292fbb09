//! `secmail cases` and `secmail case ID`: read-only views of the store.
use super::remote::Access;
use super::ExitCode;
use crate::model::{Case, CaseId, EventKind, State};
use crate::shell::clock::Clock;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

fn open(config_path: &Path) -> Result<(crate::config::Config, Access)> {
    let config = super::load(config_path, Clock::from_env())?;
    let store = super::remote::open(&config)?;
    Ok((config, store))
}

pub fn list(config_path: &Path, state: Option<&str>, as_json: bool) -> Result<()> {
    let filter = match state {
        Some(s) => Some(
            State::parse(s)
                .ok_or_else(|| anyhow!("unknown state {s:?}"))
                .context(ExitCode::Usage)?,
        ),
        None => None,
    };
    let (_, store) = open(config_path)?;
    let mut cases: Vec<Case> = store
        .cases()?
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.state == f))
        .collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    if as_json {
        let rows: Vec<_> = cases
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "state": c.state, "title": c.title, "opened": c.opened,
                    "reporters": c.reporters.iter().map(|r| &r.address).collect::<Vec<_>>(),
                    "handler": c.handler, "severity": c.severity, "events": c.timeline.len(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if cases.is_empty() {
        println!("no cases");
    }
    for c in &cases {
        println!(
            "{:<16} {:<12} {:<20} {:>3} events  {}",
            c.id,
            c.state,
            c.opened.format("%Y-%m-%d %H:%M"),
            c.timeline.len(),
            c.title
        );
    }
    Ok(())
}

pub fn show(config_path: &Path, id: &str, as_json: bool) -> Result<()> {
    let (config, store) = open(config_path)?;
    let cid = CaseId::parse(&config.project.case_prefix, id)
        .ok_or_else(|| {
            anyhow!(
                "{id:?} is not a case id like {}-2026-0001",
                config.project.case_prefix
            )
        })
        .context(ExitCode::Usage)?;
    let case = store
        .case(&cid)?
        .ok_or_else(|| anyhow!("no case {cid}"))
        .context(ExitCode::DataErr)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&case)?);
        return Ok(());
    }
    println!("{} — {}", case.id, case.title);
    println!(
        "state {}  opened {}",
        case.state,
        case.opened.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(h) = &case.handler {
        println!("handler {h}");
    }
    if let Some(s) = case.severity {
        println!(
            "severity {}{}",
            s.as_str(),
            case.cvss
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
    }
    if !case.affected.is_empty() {
        println!("affected {}", crate::model::versions::join(&case.affected));
    }
    if !case.fixed.is_empty() {
        println!("fixed {}", crate::model::versions::join(&case.fixed));
    }
    if let Some(cve) = &case.cve {
        println!("cve {cve}");
    }
    if let Some(d) = &case.duplicate_of {
        println!("duplicate of {d}");
    }
    if !case.duplicates.is_empty() {
        let d: Vec<String> = case.duplicates.iter().map(|c| c.to_string()).collect();
        println!("duplicates {}", d.join(", "));
    }
    for r in &case.reporters {
        println!(
            "reporter {}{}",
            r.address,
            r.cert_fingerprint
                .as_deref()
                .map(|f| format!(" (cert {f})"))
                .unwrap_or_default()
        );
        match &r.credit {
            crate::model::Credit::Undecided => println!("  credit: not said yet (nobody named)"),
            crate::model::Credit::Name => println!("  credit by name"),
            crate::model::Credit::Handle(h) => println!("  credit as {h}"),
            crate::model::Credit::Anonymous => println!("  credit: anonymous"),
        }
    }
    if let Some(e) = &case.embargo {
        println!(
            "embargo {} (asked by {}{}{})",
            if e.public {
                "lifted: the issue is public".to_string()
            } else {
                format!(
                    "until {}",
                    crate::core::disclose::human(e.until, config.policy.calendar.zone)
                )
            },
            e.asked_by,
            if e.forced { ", forced" } else { "" },
            if e.need_to_know.is_empty() {
                String::new()
            } else {
                format!("; need to know: {}", e.need_to_know.join(", "))
            }
        );
    }
    // Team-internal view: which distributors were sent what about this case.
    for n in &case.disclosure.notified {
        println!(
            "notified distributor {} ({} notice, {})",
            n.distributor,
            n.kind.as_str(),
            n.at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    // Times in the policy's zone with the offset (issue 13.2).
    let zone = config.policy.calendar.zone;
    println!("timeline:");
    for e in &case.timeline {
        let what = match &e.kind {
            EventKind::Opened { reason } => format!("opened: {reason}"),
            EventKind::Received {
                sender_class,
                encryption,
                signature,
                thread_rule,
                msg_hash,
                ..
            } => {
                let mut line = format!("received from {sender_class} ({encryption}, signature {signature}, by {thread_rule}) msg {}", &msg_hash[..12.min(msg_hash.len())]);
                if let Some(m) = store.message(msg_hash)? {
                    let first = m.text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    line.push_str(&format!(
                        "\n      | {}",
                        first.chars().take(100).collect::<String>()
                    ));
                }
                line
            }
            EventKind::Sent {
                kind,
                to,
                encrypted,
                ..
            } => {
                format!(
                    "sent {kind} to {to} ({})",
                    if *encrypted { "encrypted" } else { "signed" }
                )
            }
            EventKind::Withheld { to, kind, reason } => {
                format!("withheld {kind} from {to}: {reason}")
            }
            EventKind::CertLearnt {
                address,
                fingerprint,
                source,
            } => format!("cert {fingerprint} learnt for {address} from {source}"),
            EventKind::CertChangeRefused {
                address,
                offered,
                kept,
                source,
            } => format!(
                "cert {offered} offered for {address} by {source} not used: it is not signed by the known cert {kept}"
            ),
            EventKind::StateChanged { from, to } => format!("state {from} → {to}"),
            EventKind::DeliveryFailed { message_id, detail } => format!(
                "delivery failed {}: {detail}",
                message_id.as_deref().unwrap_or("-")
            ),
            EventKind::Suppressed { kind, reason } => format!("{kind} not sent: {reason}"),
            EventKind::EmbargoSet {
                until,
                forced,
                public,
            } => {
                if *public {
                    "embargo lifted: the issue is public".to_string()
                } else {
                    format!(
                        "embargo until {}{}",
                        crate::core::disclose::human(*until, zone),
                        if *forced { " (forced)" } else { "" }
                    )
                }
            }
            EventKind::NoticeRefused {
                distributor,
                kind,
                reason,
            } => format!("{kind} notice to distributor {distributor} not sent: {reason}"),
            EventKind::Disclosed { .. } => "disclosed: announcement sent".to_string(),
            EventKind::Reminder { what } => format!("reminder: {what}"),
            EventKind::Command { line, detail } => format!("command {line}: {detail}"),
            EventKind::CommandRefused { msg_hash, reasons } => format!(
                "commands refused (msg {}): {}",
                &msg_hash[..12.min(msg_hash.len())],
                reasons.join("; ")
            ),
            EventKind::Linked { case, relation } => format!("{relation} {case}"),
            EventKind::CreditChosen { reporter, credit } => format!(
                "{reporter} chose to be credited {}",
                match credit {
                    crate::model::Credit::Anonymous => "anonymously".to_string(),
                    crate::model::Credit::Handle(h) => format!("as {h}"),
                    crate::model::Credit::Name => "by name".to_string(),
                    crate::model::Credit::Undecided => "later".to_string(),
                }
            ),
            EventKind::ContactConsent { reporter } => {
                format!("{reporter} agreed to be put in touch")
            }
            EventKind::ContactMade {
                reporter,
                other,
                other_case,
            } => format!("{reporter} and {other} ({other_case}) put in touch"),
            EventKind::Timer { timer, due, to } => format!(
                "timer {timer} (due {}) → {}",
                due.format("%Y-%m-%d %H:%M"),
                if to.is_empty() {
                    "nobody".to_string()
                } else {
                    to.join(", ")
                }
            ),
        };
        println!(
            "  {}  {:<28} {what}",
            crate::core::disclose::stamp(e.at, zone),
            e.actor
        );
    }
    Ok(())
}
