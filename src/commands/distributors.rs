//! `secmail distributors list|add|remove`: the confidential distributor list in the store.
//!
//! The list is printed only to the operator who asks; nothing here logs it. While the daemon
//! runs, the change goes through its control socket (`commands::remote`); the cert file is read
//! here.
use super::ExitCode;
use crate::cli::DistributorsCommand;
use crate::core::command::disclosure::{self, ListCommand};
use crate::core::disclose;
use crate::core::keys;
use crate::model::NoticeKind;
use crate::shell::clock::Clock;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

pub fn run(config_path: &Path, cmd: &DistributorsCommand) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let now = clock.now();
    // Validate the arguments before touching the store.
    let (list_cmd, certs) = match cmd {
        DistributorsCommand::List { .. } => (ListCommand::List, Vec::new()),
        DistributorsCommand::Remove { id } => (ListCommand::Remove(id.clone()), Vec::new()),
        DistributorsCommand::Add {
            name,
            address,
            cert,
            cap,
            notices,
        } => {
            let address = address.trim().to_ascii_lowercase();
            if !disclosure::is_address(&address) {
                return Err(anyhow!("{address:?} is not an address")).context(ExitCode::Usage);
            }
            let cap = cap
                .as_deref()
                .map(disclosure::parse_cap)
                .transpose()
                .map_err(|e| anyhow!("--cap: {e}"))
                .context(ExitCode::Usage)?;
            let notices = NoticeKind::parse_list(notices)
                .map_err(|e| anyhow!("--notices: {e}"))
                .context(ExitCode::Usage)?;
            let certs = match cert {
                Some(p) => {
                    let bytes = std::fs::read(p)
                        .with_context(|| format!("reading {}", p.display()))
                        .context(ExitCode::IoErr)?;
                    keys::parse_certs(&bytes)
                        .map_err(|e| anyhow!("{}: {e}", p.display()))
                        .context(ExitCode::DataErr)?
                }
                None => Vec::new(),
            };
            (
                ListCommand::Add {
                    address,
                    name: Some(name.clone()),
                    cap,
                    notices: Some(notices),
                },
                certs,
            )
        }
    };
    let store = super::remote::open(&config)?;
    let list = store.distributors()?;
    if let DistributorsCommand::List { json: true } = cmd {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let (change, said) = disclose::change_list(&list_cmd, &list, &certs, "cli", now)
        .map_err(|r| anyhow!("{r}"))
        .context(ExitCode::DataErr)?;
    if let Some(change) = &change {
        store.change_distributors(change)?;
    }
    println!("{said}");
    Ok(())
}
