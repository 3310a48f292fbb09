//! `secmail import`: takes in an existing security@ mailbox (an mbox file or an IMAP folder)
//! as cases, through the same pipeline as live mail, with a progress line on stderr.
//!
//! Decisions (issue 5 was silent): old reporters are not written to: acknowledgements and other
//! answers to senders are dropped unless `--send-acks`, team copies unless `--team-copies`; a
//! dropped message is recorded on its case as "not sent: imported", never as sent. Mail is
//! read, never moved or flagged (IMAP `BODY.PEEK`). What becomes no case is told to the team
//! in one alert for the whole import (with `--team-copies`) and is in `secmail quarantine
//! list`. Running it twice changes nothing: the pipeline recognises a message by content hash
//! and by sender + Message-ID. Imported cases
//! are history (issue 11.10): they open at the mail's Date and no policy timer (progress
//! updates, reminders, escalations, coalesced acks) runs for them until a team member acts on
//! one; the other events of an import carry the time of the import.
use super::ExitCode;
use crate::config::{Config, Inbound};
use crate::core::compose;
use crate::core::draft::{self, Kept};
use crate::core::effect::{Changes, Mark};
use crate::core::parse;
use crate::core::pipeline::{self, Processed};
use crate::core::thread::Lookup;
use crate::model::case::Imported;
use crate::model::EventKind;
use crate::shell::clock::Clock;
use crate::shell::imap::ImapInbox;
use crate::shell::store::Store;
use crate::shell::templates::load_templates;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::Path;

pub struct Options<'a> {
    /// Exactly one of `mbox` and `imap_folder`.
    pub mbox: Option<&'a Path>,
    pub imap_folder: Option<&'a str>,
    pub send_acks: bool,
    pub team_copies: bool,
}

#[derive(Default)]
struct Tally {
    seen: usize,
    new: usize,
    duplicates: usize,
    quarantined: usize,
    queued: usize,
    withheld: usize,
    /// What became no case: told to the team in one alert at the end (`--team-copies`).
    kept: Vec<Kept>,
}

pub async fn run(config_path: &Path, o: &Options<'_>) -> Result<()> {
    let clock = Clock::from_env();
    let mut config = super::load(config_path, clock)?;
    let templates = load_templates(&config).context(ExitCode::Config)?;
    let store = super::open_store(&config)?;
    config.settings.project.id_secret = store.id_secret();
    let mut tally = Tally::default();
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match (o.mbox, o.imap_folder) {
        (None, None) | (Some(_), Some(_)) => {
            return Err(anyhow!("give either --mbox FILE or --imap-folder NAME"))
                .context(ExitCode::Usage);
        }
        (Some(path), None) => {
            let data = std::fs::read(path)
                .with_context(|| format!("reading {}", path.display()))
                .context(ExitCode::IoErr)?;
            let messages = split_mbox(&data);
            if messages.is_empty() {
                return Err(anyhow!(
                    "{}: no message found (not an mbox file?)",
                    path.display()
                ))
                .context(ExitCode::DataErr);
            }
            let total = messages.len();
            for raw in messages {
                one(&raw, &store, &config, &templates, clock, o, &mut tally)?;
                show(&tally, Some(total), progress);
            }
        }
        (None, Some(folder)) => {
            let Inbound::Imap { settings, .. } = &config.inbound else {
                return Err(anyhow!(
                    "--imap-folder needs [inbound] kind = \"imap\" in the config"
                ))
                .context(ExitCode::Usage);
            };
            let mut s = settings.clone();
            s.folder = folder.to_string();
            let mut inbox = ImapInbox::connect(&s)
                .await
                .map_err(super::server_failure)?;
            let mut last = 0;
            loop {
                let batch = inbox
                    .fetch_new(last, 200)
                    .await
                    .map_err(super::server_failure)?;
                let Some(end) = batch.last().map(|f| f.uid) else {
                    break;
                };
                for f in batch {
                    match f.raw {
                        Some(raw) => one(&raw, &store, &config, &templates, clock, o, &mut tally)?,
                        None => {
                            tally.seen += 1;
                            eprintln!(
                                "\nimport: uid {} ({} bytes) is over the size limit; skipped",
                                f.uid, f.size
                            );
                        }
                    }
                    show(&tally, None, progress);
                }
                last = end;
            }
            inbox.logout().await;
        }
    }
    if o.team_copies && !tally.kept.is_empty() {
        let mut changes = Changes {
            drafts: draft::kept_alert(&config, &tally.kept),
            ..Changes::default()
        };
        let now = clock.now();
        changes.render(&compose::compose_with(&templates, &config, now), None, now);
        tally.queued += store.commit(&changes, now).context(ExitCode::IoErr)?;
    }
    store.flush().await.context(ExitCode::IoErr)?;
    if progress {
        eprintln!();
    }
    println!(
        "imported {} message(s): {} new, {} already known, {} quarantined; {} message(s) queued, {} not sent (imported{})",
        tally.seen,
        tally.new,
        tally.duplicates,
        tally.quarantined,
        tally.queued,
        tally.withheld,
        if o.send_acks || o.team_copies { "" } else { "; --send-acks / --team-copies to send" }
    );
    if tally.quarantined > 0 {
        println!("`secmail quarantine list` shows the quarantined ones");
    }
    if tally.queued > 0 {
        println!("queued mail goes out with the next `secmail run`");
    }
    Ok(())
}

fn one(
    raw: &[u8],
    store: &Store,
    config: &Config,
    templates: &crate::core::compose::Templates,
    clock: Clock,
    o: &Options,
    tally: &mut Tally,
) -> Result<()> {
    let now = clock.now();
    let mut p = pipeline::process(raw, store, config, templates, now);
    tally.seen += 1;
    if p.duplicate {
        tally.duplicates += 1;
        return Ok(());
    }
    tally.new += 1;
    if p.record.disposition.is_quarantine() {
        tally.quarantined += 1;
    }
    as_history(&mut p, raw, store, now);
    if let Some(k) = p.kept.clone() {
        // Told once for the whole import (below), not once per message.
        p.changes.outbox.retain(|q| q.kind != "team-alert");
        tally.kept.push(k);
    }
    tally.withheld += withhold(&mut p, o.send_acks, o.team_copies);
    tally.queued += store.commit(&p.changes, now).context(ExitCode::IoErr)?;
    Ok(())
}

/// Imported cases are history (issue 11.10): a case the message opened opens at the mail's
/// Date (when it has one, earlier than now) and is marked imported, so that no policy timer
/// runs for it until a team member acts on it; an imported mail is no team act, so a case still
/// history stays so whatever the mail says. Its events of receipt take the mail's Date too.
fn as_history(p: &mut Processed, raw: &[u8], store: &Store, now: DateTime<Utc>) {
    let date = parse::headers(raw)
        .ok()
        .and_then(|h| h.date)
        .and_then(|d| DateTime::parse_from_rfc3339(&d).ok())
        .map(|d| d.with_timezone(&Utc))
        .filter(|d| *d < now);
    for case in p.changes.cases.iter_mut() {
        let before = store.case(&case.id);
        let known = before.as_ref().map_or(0, |c| c.timeline.len());
        match &before {
            None => {
                case.imported = Some(Imported {
                    at: now,
                    acted: None,
                });
                if let Some(d) = date {
                    case.opened = d;
                }
            }
            Some(b) if b.is_history() => case.imported = b.imported.clone(),
            // A live case, or history the team took up: the mail joins it as live mail would.
            Some(_) => continue,
        }
        if let Some(d) = date {
            for e in case.timeline.iter_mut().skip(known) {
                if matches!(
                    e.kind,
                    EventKind::Opened { .. } | EventKind::Received { .. }
                ) {
                    e.at = d;
                }
            }
        }
    }
}

/// Drops the outgoing mail an import must not send, and says so on the case instead of
/// "sent". Returns how many were dropped.
fn withhold(p: &mut Processed, send_acks: bool, team_copies: bool) -> usize {
    let keep = |kind: &str| match kind {
        "team-copy" | "team-alert" => team_copies,
        _ => send_acks,
    };
    let dropped: Vec<(String, String)> = p
        .changes
        .outbox
        .iter()
        .filter(|q| !keep(&q.kind))
        .map(|q| (q.mail.message_id.clone(), q.kind.clone()))
        .collect();
    p.changes.outbox.retain(|q| keep(&q.kind));
    if !send_acks {
        // Nothing went to the sender: neither the rate limit nor "told" may count it.
        p.changes
            .marks
            .retain(|m| !matches!(m, Mark::AutoReplied(_) | Mark::ToldFingerprint(_)));
    }
    for case in p.changes.cases.iter_mut() {
        for e in case.timeline.iter_mut() {
            if let EventKind::Sent {
                message_id, kind, ..
            } = &e.kind
            {
                if dropped.iter().any(|(id, _)| id == message_id) {
                    e.kind = EventKind::Suppressed {
                        kind: kind.clone(),
                        reason: "imported: not sent".into(),
                    };
                }
            }
        }
    }
    dropped.len()
}

fn show(t: &Tally, total: Option<usize>, terminal: bool) {
    let line = match total {
        Some(n) => format!(
            "import: {}/{n} ({} new, {} known, {} quarantined)",
            t.seen, t.new, t.duplicates, t.quarantined
        ),
        None => format!(
            "import: {} ({} new, {} known, {} quarantined)",
            t.seen, t.new, t.duplicates, t.quarantined
        ),
    };
    let mut err = std::io::stderr();
    if terminal {
        let _ = write!(err, "\r{line}");
    } else if t.seen.is_multiple_of(100) || total == Some(t.seen) {
        let _ = writeln!(err, "{line}");
    }
    let _ = err.flush();
}

/// Splits an mbox file (mboxo/mboxrd: messages start with a `From ` line at the start of the
/// file or after an empty line; `>From ` quoting is undone one level).
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                out.push(trim_last_blank(m));
            }
            current = Some(Vec::new());
            prev_blank = false;
            continue;
        }
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        prev_blank = content.is_empty();
        if let Some(m) = current.as_mut() {
            let gt = line.iter().take_while(|&&b| b == b'>').count();
            if gt > 0 && line[gt..].starts_with(b"From ") {
                m.extend_from_slice(&line[1..]);
            } else {
                m.extend_from_slice(line);
            }
        }
    }
    if let Some(m) = current {
        out.push(trim_last_blank(m));
    }
    out.retain(|m| !m.is_empty());
    out
}

/// The empty line before the next `From ` belongs to the mbox, not to the message.
fn trim_last_blank(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    } else if m.ends_with(b"\n\n") {
        m.truncate(m.len() - 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::split_mbox;

    #[test]
    fn mbox_split() {
        let check = |data: &str, want: &[&str]| {
            let got: Vec<String> = split_mbox(data.as_bytes())
                .into_iter()
                .map(|m| String::from_utf8(m).unwrap())
                .collect();
            assert_eq!(got, want, "{data:?}");
        };
        check("", &[]);
        check("not an mbox\n", &[]);
        check(
            "From a@b Sat Nov 28 10:00:00 2026\nSubject: 1\n\nbody\n",
            &["Subject: 1\n\nbody\n"],
        );
        check(
            "From a@b x\nS: 1\n\nline\n>From quoted\n>>From twice\n\nFrom c@d y\nS: 2\n\nb\n",
            &["S: 1\n\nline\nFrom quoted\n>From twice\n", "S: 2\n\nb\n"],
        );
    }
}
