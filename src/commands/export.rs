//! `secmail export ID --format osv|csaf` and `secmail security-txt`: documents for the public,
//! written from the store and the configuration (the same code writes the advisories at
//! disclosure, `shell::daemon`).
use super::ExitCode;
use crate::core::advisory::{self, Format};
use crate::core::security_txt;
use crate::core::thread::Lookup;
use crate::model::CaseId;
use crate::shell::clock::Clock;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

pub fn run(config_path: &Path, id: &str, format: &str, output: Option<&Path>) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let format = Format::parse(format)
        .ok_or_else(|| anyhow!("--format {format:?}: must be osv or csaf"))
        .context(ExitCode::Usage)?;
    let cid = CaseId::parse(&config.project.case_prefix, id)
        .ok_or_else(|| anyhow!("{id:?} is not a case id"))
        .context(ExitCode::Usage)?;
    let store = super::open_store(&config)?;
    let case = store
        .case(&cid)
        .ok_or_else(|| anyhow!("no case {cid}"))
        .context(ExitCode::DataErr)?;
    let doc = advisory::render(format, &case, &config, clock.now());
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    write_or_print(output, &text)
}

pub fn security_txt(config_path: &Path, output: Option<&Path>) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    write_or_print(output, &security_txt::render(&config, clock.now()))
}

fn write_or_print(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(p) => {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))
                    .context(ExitCode::IoErr)?;
            }
            std::fs::write(p, text)
                .with_context(|| format!("writing {}", p.display()))
                .context(ExitCode::IoErr)
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Writes `<dir>/<CASE>.osv.json` and `<CASE>.csaf.json` (at disclosure).
pub fn write_advisories(
    dir: &Path,
    case: &crate::model::Case,
    config: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for f in [Format::Osv, Format::Csaf] {
        let p = dir.join(format!("{}.{}", case.id, f.extension()));
        let text = serde_json::to_string_pretty(&advisory::render(f, case, config, now))? + "\n";
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}
