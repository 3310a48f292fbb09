//! Advisory: a case → the public advisory documents that downstream tools take as they are
//! (issue 13.8–13.10): OSV (`osv`, the schema 1.7 of ossf/osv-schema), CSAF 2.0 (`csaf`, OASIS,
//! profile `csaf_security_advisory`, passing the standard's mandatory tests as the BSI's
//! validator runs them) and the CVE JSON 5 record (`cve`, the CNA container a project that is
//! its own CNA, or its CNA, submits). Written at disclosure and by `secmail export`
//! (DESIGN.md "Distributors and advance notice"); `cvss` scores the vectors they carry.
//!
//! Invariants: pure (the time comes in); only what is meant to be public goes in: the
//! disclosure text the team wrote, versions, CVE, severity and score, and the credit the
//! reporter chose (nobody when anonymous or not asked yet). Never the report text, the internal
//! title, a reporter address or a distributor.
mod csaf;
mod cve;
pub mod cvss;
mod osv;

pub use csaf::csaf;
pub use cve::cve;
pub use osv::osv;

use crate::core::settings::Settings;
use crate::model::{Case, Credit, Severity};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// The formats `secmail export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Osv,
    Csaf,
    /// CVE JSON 5 record (needs the case's CVE id and `[advisories] cve-org-id`).
    Cve,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "osv" => Some(Format::Osv),
            "csaf" => Some(Format::Csaf),
            "cve" => Some(Format::Cve),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Osv => "osv.json",
            Format::Csaf => "csaf.json",
            Format::Cve => "cve.json",
        }
    }
}

/// The document, or why this case cannot have one in this format (a CVE record without a CVE
/// id or without the CNA's organisation id).
pub fn render(
    format: Format,
    case: &Case,
    config: &Settings,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    match format {
        Format::Osv => Ok(osv(case, config, now)),
        Format::Csaf => Ok(csaf(case, config, now)),
        Format::Cve => cve(case, config, now),
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The project's id of the advisory: the case's year and number under `[advisories]
/// id-prefix` (default: the case prefix), e.g. `EXAMPLE-2026-0001` (issue 13.8).
pub fn advisory_id(case: &Case, config: &Settings) -> String {
    let prefix = config
        .advisories
        .id_prefix
        .as_deref()
        .unwrap_or(&config.project.case_prefix);
    let id = case.id.as_str();
    let tail = id
        .get(config.project.case_prefix.len()..)
        .filter(|t| t.starts_with('-'))
        .unwrap_or(id);
    format!("{prefix}{tail}")
}

/// The advisory's public text: what the team wrote for the notice or announcement.
fn details(case: &Case, config: &Settings) -> String {
    case.disclosure.text.clone().unwrap_or_else(|| {
        format!(
            "A security issue in {} ({}). Details will follow.",
            config.advisories.package,
            advisory_id(case, config)
        )
    })
}

/// One line: the first line of the text, at most 120 characters.
fn summary(case: &Case, config: &Settings) -> String {
    let text = details(case, config);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s: String = first.chars().take(120).collect();
    if s.is_empty() {
        s = format!("Security issue in {}", config.advisories.package);
    }
    s
}

/// People credited, as they chose (DESIGN.md "Cases": name / handle / anonymous; issue 13.5:
/// a reporter not asked yet is not named). The announcement's credit line is these names too.
pub fn credits(case: &Case) -> Vec<String> {
    case.reporters
        .iter()
        .filter_map(|r| match &r.credit {
            Credit::Anonymous | Credit::Undecided => None,
            Credit::Handle(h) => Some(h.clone()),
            Credit::Name => Some(r.name.clone().unwrap_or_else(|| {
                // The local part only: an address is not for publication.
                r.address.split('@').next().unwrap_or("").to_string()
            })),
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// The team that coordinated the disclosure, credited as such.
fn coordinator(config: &Settings) -> String {
    format!("{} security team", config.project.name)
}

/// The case's vector, scored, when it has one that parses.
fn scored(case: &Case) -> Option<cvss::Scored> {
    case.cvss.as_deref().and_then(|v| cvss::score(v).ok())
}

fn published(case: &Case, now: DateTime<Utc>) -> DateTime<Utc> {
    case.disclosure.disclosed_at.unwrap_or(now)
}

fn disclosed(case: &Case) -> bool {
    case.state == crate::model::State::Disclosed || case.disclosure.disclosed_at.is_some()
}

fn severity_word(s: Severity) -> &'static str {
    s.as_str()
}

/// The advisory's own URL, when the project publishes them (`[advisories] url-base`).
fn self_url(case: &Case, config: &Settings) -> Option<String> {
    config
        .advisories
        .url_base
        .as_deref()
        .map(|base| format!("{}/{}", base.trim_end_matches('/'), case.id))
}

/// True when the case names versions and every one, affected or fixed, is SemVer: the records'
/// version type (OSV `SEMVER`, CVE `semver`), else the ecosystem's own.
fn all_semver(case: &Case) -> bool {
    let all: Vec<&str> = case
        .affected
        .iter()
        .chain(case.fixed.iter())
        .flat_map(|v| v.versions())
        .collect();
    !all.is_empty() && all.iter().all(|v| is_semver(v))
}

/// True when every version is SemVer 2.0 (`MAJOR.MINOR.PATCH[-pre][+build]`): OSV ranges are
/// then of type SEMVER, else ECOSYSTEM.
fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}
