//! `secmail status [--json]` and `secmail outbox list|retry|drop ID`: how the service is doing,
//! and the stuck mail an operator can push or give up on — from the running daemon over its
//! control socket, or from the store when no daemon runs (`commands::remote`).
use super::remote;
use super::ExitCode;
use crate::cli::OutboxCommand;
use crate::shell::clock::Clock;
use crate::shell::figures;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

pub fn status(config_path: &Path, as_json: bool) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let access = remote::open(&config)?;
    let f = access.figures(&config, clock.now())?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print!("{}", figures::text(&f, &config));
    }
    Ok(())
}

pub fn outbox(config_path: &Path, cmd: &OutboxCommand) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let access = remote::open(&config)?;
    let now = clock.now();
    match cmd {
        OutboxCommand::List { json } => {
            let entries = access.outbox_entries()?;
            if *json {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|(id, e)| {
                        serde_json::json!({
                            "id": id, "case": e.case_id, "kind": e.kind,
                            "recipients": e.rcpts.len(), "queued": e.queued,
                            "attempts": e.attempts, "next_attempt": e.next_attempt,
                            "last_error": e.last_error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if entries.is_empty() {
                println!("outbox empty");
            }
            // Recipients are counted, not named: the outbox holds distributors' notices.
            for (id, e) in &entries {
                println!(
                    "{id:<8} {:<16} {:<14} queued {}  attempts {}  next {}{}",
                    e.case_id
                        .as_ref()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    e.kind,
                    e.queued.format("%Y-%m-%d %H:%M"),
                    e.attempts,
                    e.next_attempt.format("%Y-%m-%d %H:%M"),
                    e.last_error
                        .as_deref()
                        .map(|x| format!("  last error: {x}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        OutboxCommand::Retry { id } => {
            if !access.outbox_retry(*id, now)? {
                return Err(anyhow!("no outbox entry {id}")).context(ExitCode::DataErr);
            }
            println!("outbox entry {id}: due now");
            Ok(())
        }
        OutboxCommand::Drop { id } => {
            if !access.outbox_drop(*id, now)? {
                return Err(anyhow!("no outbox entry {id}")).context(ExitCode::DataErr);
            }
            println!("outbox entry {id}: dropped (kept as undeliverable, recorded on its case)");
            Ok(())
        }
    }
}
