//! The CVE JSON 5 record (CVE Record Format 5.1, the schema cvelib ships): the CNA container
//! that a project that is its own CNA, or its CNA, submits — description, affected versions from
//! the case's structured versions, the CVSS metric, credits, and references (issue 13.10).
//!
//! Invariants: only for a case with a CVE id and with `[advisories] cve-org-id` (the CNA's
//! organisation UUID, which the record names as assigner and provider); otherwise the reason.
use super::{
    advisory_id, all_semver, coordinator, credits, details, published, scored, self_url, summary,
    ts,
};
use crate::core::settings::Settings;
use crate::model::{Case, VersionSpec};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The record format written.
pub const DATA_VERSION: &str = "5.1";

pub fn cve(case: &Case, config: &Settings, now: DateTime<Utc>) -> Result<Value, String> {
    let cve_id = case.cve.as_deref().ok_or_else(|| {
        format!(
            "{} has no CVE id: set one with /cve CVE-YYYY-NNNN first",
            case.id
        )
    })?;
    let org = config.advisories.cve_org_id.as_deref().ok_or(
        "a CVE record names the CNA that assigned the id: set [advisories] cve-org-id to its organisation UUID (CVE Services)",
    )?;
    let a = &config.advisories;
    let version_type = if all_semver(case) { "semver" } else { "custom" };
    let mut versions: Vec<Value> = case
        .affected
        .iter()
        .map(|v| match v {
            VersionSpec::Version(v) => {
                json!({ "version": v, "status": "affected", "versionType": version_type })
            }
            VersionSpec::Range(r) => {
                let mut e = json!({
                    "version": r.introduced.clone().unwrap_or_else(|| "0".into()),
                    "status": "affected",
                    "versionType": version_type,
                });
                if let Some(x) = &r.fixed {
                    e["lessThan"] = json!(x);
                } else if let Some(l) = &r.last_affected {
                    e["lessThanOrEqual"] = json!(l);
                } else {
                    e["lessThan"] = json!("*");
                }
                e
            }
        })
        .collect();
    versions.extend(
        case.fixed
            .iter()
            .flat_map(|v| v.versions())
            .map(|v| json!({ "version": v, "status": "unaffected", "versionType": version_type })),
    );
    let mut affected = json!({
        "vendor": a.vendor,
        "product": a.package,
        "defaultStatus": if versions.is_empty() { "affected" } else { "unknown" },
    });
    if !versions.is_empty() {
        affected["versions"] = json!(versions);
    }
    let reference = self_url(case, config).unwrap_or_else(|| a.namespace.clone());
    let mut cna = json!({
        "providerMetadata": { "orgId": org, "dateUpdated": ts(now) },
        "title": summary(case, config),
        "descriptions": [{ "lang": "en", "value": details(case, config) }],
        "affected": [affected],
        "references": [{ "url": reference, "name": advisory_id(case, config), "tags": ["vendor-advisory"] }],
        "datePublic": ts(published(case, now)),
        "source": { "advisory": advisory_id(case, config), "discovery": "EXTERNAL" },
    });
    if let Some(s) = scored(case) {
        let key = match s.version {
            "4.0" => "cvssV4_0",
            "3.0" => "cvssV3_0",
            _ => "cvssV3_1",
        };
        cna["metrics"] = json!([{
            "format": "CVSS",
            "scenarios": [{ "lang": "en", "value": "GENERAL" }],
            key: {
                "version": s.version,
                "vectorString": s.vector,
                "baseScore": s.score,
                "baseSeverity": s.rating_upper(),
            },
        }]);
    }
    let mut people: Vec<Value> = credits(case)
        .into_iter()
        .map(|n| json!({ "lang": "en", "value": n, "type": "finder" }))
        .collect();
    people.push(json!({ "lang": "en", "value": coordinator(config), "type": "coordinator" }));
    cna["credits"] = json!(people);
    Ok(json!({
        "dataType": "CVE_RECORD",
        "dataVersion": DATA_VERSION,
        "cveMetadata": {
            "cveId": cve_id,
            "assignerOrgId": org,
            "state": "PUBLISHED",
            "datePublished": ts(published(case, now)),
            "dateUpdated": ts(now),
        },
        "containers": { "cna": cna },
    }))
}
