//! The advisory files written at disclosure (`[advisories] dir`): the core renders the OSV,
//! CSAF and CVE documents (`core::advisory`), this writes them, private to the service user.
use super::private;
use crate::core::advisory::{self, Format};
use anyhow::{Context, Result};
use std::path::Path;

/// Writes `<dir>/<CASE>.osv.json`, `<CASE>.csaf.json` and, for a case with a CVE id when
/// `[advisories] cve-org-id` is set, `<CASE>.cve.json` (at disclosure).
pub fn write_advisories(
    dir: &Path,
    case: &crate::model::Case,
    config: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<std::path::PathBuf>> {
    private::create_dir_private(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for f in [Format::Osv, Format::Csaf, Format::Cve] {
        // A CVE record needs the CVE id and the CNA: without them there is none to write.
        let Ok(doc) = advisory::render(f, case, config, now) else {
            continue;
        };
        let p = dir.join(format!("{}.{}", case.id, f.extension()));
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        private::write_private(&p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}
