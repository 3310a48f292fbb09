//! OSV (ossf/osv-schema 1.7): the id under the project's prefix with the CVE as an alias,
//! `affected[].ranges` as introduced/fixed (or last_affected) events from the case's structured
//! versions, SEMVER when every version is SemVer and ECOSYSTEM otherwise, the CVSS vector as
//! the severity, and credits with their types (issue 13.8).
use super::{
    advisory_id, all_semver, coordinator, credits, details, published, scored, self_url,
    severity_word, summary, ts,
};
use crate::core::settings::Settings;
use crate::model::{Case, VersionSpec};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// The OSV schema version written (the current one, tests/schemas/osv.schema.json).
pub const SCHEMA_VERSION: &str = "1.7.3";

pub fn osv(case: &Case, config: &Settings, now: DateTime<Utc>) -> Value {
    let mut doc = Map::new();
    doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
    doc.insert("id".into(), json!(advisory_id(case, config)));
    doc.insert("modified".into(), json!(ts(now)));
    doc.insert("published".into(), json!(ts(published(case, now))));
    if let Some(cve) = &case.cve {
        doc.insert("aliases".into(), json!([cve]));
    }
    doc.insert("summary".into(), json!(summary(case, config)));
    doc.insert("details".into(), json!(details(case, config)));
    if let Some(s) = scored(case) {
        let kind = if s.version == "4.0" {
            "CVSS_V4"
        } else {
            "CVSS_V3"
        };
        doc.insert(
            "severity".into(),
            json!([{ "type": kind, "score": s.vector }]),
        );
    }
    doc.insert("affected".into(), json!([affected(case, config)]));
    let mut people: Vec<Value> = credits(case)
        .into_iter()
        .map(|n| json!({ "name": n, "type": "FINDER" }))
        .collect();
    people.push(json!({ "name": coordinator(config), "type": "COORDINATOR" }));
    doc.insert("credits".into(), json!(people));
    if let Some(url) = self_url(case, config) {
        doc.insert(
            "references".into(),
            json!([{ "type": "ADVISORY", "url": url }]),
        );
    }
    let mut specific = json!({
        "case": case.id.to_string(),
        "source": config.project.security_address,
    });
    if let Some(sev) = case.severity {
        specific["severity"] = json!(severity_word(sev));
    }
    if let Some(s) = scored(case) {
        specific["cvss_score"] = json!(s.score);
    }
    doc.insert("database_specific".into(), specific);
    Value::Object(doc)
}

/// The package's entry: exact versions in `versions`, ranges as events.
fn affected(case: &Case, config: &Settings) -> Value {
    let mut entry = Map::new();
    if let Some(eco) = &config.advisories.ecosystem {
        entry.insert(
            "package".into(),
            json!({ "ecosystem": eco, "name": config.advisories.package }),
        );
    }
    let ranges = ranges(case);
    if !ranges.is_empty() {
        entry.insert("ranges".into(), json!(ranges));
    }
    let exact: Vec<&str> = case
        .affected
        .iter()
        .filter_map(|v| match v {
            VersionSpec::Version(v) => Some(v.as_str()),
            VersionSpec::Range(_) => None,
        })
        .collect();
    if !exact.is_empty() {
        entry.insert("versions".into(), json!(exact));
    }
    Value::Object(entry)
}

/// One OSV range per affected range; an open range is closed by the first fixed version above
/// its start. Exact versions alone with a fixed version give one range from the lowest of them
/// to the fix (the team named the affected versions and the first release without the bug).
fn ranges(case: &Case) -> Vec<Value> {
    let fixed: Vec<&str> = case.fixed.iter().flat_map(|v| v.versions()).collect();
    let first_fix_above = |from: &str| {
        fixed
            .iter()
            .filter(|f| compare(f, from) == Ordering::Greater)
            .min_by(|a, b| compare(a, b))
            .copied()
    };
    let kind = if all_semver(case) {
        "SEMVER"
    } else {
        "ECOSYSTEM"
    };
    let mut out = Vec::new();
    for v in &case.affected {
        let VersionSpec::Range(r) = v else { continue };
        let introduced = r.introduced.clone().unwrap_or_else(|| "0".into());
        let mut events = vec![json!({ "introduced": introduced })];
        if let Some(x) = &r.fixed {
            events.push(json!({ "fixed": x }));
        } else if let Some(l) = &r.last_affected {
            events.push(json!({ "last_affected": l }));
        } else if let Some(f) = first_fix_above(&introduced) {
            events.push(json!({ "fixed": f }));
        }
        out.push(json!({ "type": kind, "events": events }));
    }
    if out.is_empty() {
        let lowest = case
            .affected
            .iter()
            .filter_map(|v| match v {
                VersionSpec::Version(v) => Some(v.as_str()),
                VersionSpec::Range(_) => None,
            })
            .min_by(|a, b| compare(a, b));
        if let Some((low, fix)) = lowest.and_then(|l| first_fix_above(l).map(|f| (l, f))) {
            out.push(json!({
                "type": kind,
                "events": [{ "introduced": low }, { "fixed": fix }],
            }));
        }
    }
    out
}

/// Versions compared piece by piece, numbers as numbers ("2.10" after "2.9").
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let pieces = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (pa, pb) = (pieces(a), pieces(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}
