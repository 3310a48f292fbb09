//! `secmail export ID --format osv|csaf|cve` and `secmail security-txt`: documents for the public,
//! written from the store and the configuration (the advisories written at disclosure are
//! `shell::advisories`').
use super::ExitCode;
use crate::core::advisory::{self, Format};
use crate::core::security_txt;
use crate::model::CaseId;
use crate::shell::clock::Clock;
use crate::shell::private;
use anyhow::{anyhow, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub fn run(config_path: &Path, id: &str, format: &str, output: Option<&Path>) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let format = Format::parse(format)
        .ok_or_else(|| anyhow!("--format {format:?}: must be osv, csaf or cve"))
        .context(ExitCode::Usage)?;
    let cid = CaseId::parse(&config.project.case_prefix, id)
        .ok_or_else(|| anyhow!("{id:?} is not a case id"))
        .context(ExitCode::Usage)?;
    let store = super::remote::open(&config)?;
    let case = store
        .case(&cid)?
        .ok_or_else(|| anyhow!("no case {cid}"))
        .context(ExitCode::DataErr)?;
    let doc = advisory::render(format, &case, &config, clock.now())
        .map_err(|why| anyhow!("{why}"))
        .context(ExitCode::DataErr)?;
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    write_or_print(output, &text, true)
}

pub fn security_txt(config_path: &Path, output: Option<&Path>) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    // Signed with the project key (RFC 9116 §2.3; issue 13.11).
    let text = security_txt::signed(&config, clock.now())
        .map_err(|why| anyhow!("{why}"))
        .context(ExitCode::Config)?;
    write_or_print(output, &text, false)
}

/// An advisory (`private`: written before disclosure) is a 0600 file, its missing directories
/// 0700; security.txt is for the world to read (RFC 9116): 0644.
fn write_or_print(output: Option<&Path>, text: &str, private: bool) -> Result<()> {
    match output {
        Some(p) => {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                private::create_missing_dirs_private(parent)
                    .with_context(|| format!("creating {}", parent.display()))
                    .context(ExitCode::IoErr)?;
            }
            private::write_private(p, text.as_bytes())
                .and_then(|()| {
                    if private {
                        Ok(())
                    } else {
                        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
                    }
                })
                .with_context(|| format!("writing {}", p.display()))
                .context(ExitCode::IoErr)
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
