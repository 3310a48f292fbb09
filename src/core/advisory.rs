//! Advisory: a case → the public advisory documents, OSV (schema 1.6, ossf/osv-schema) and
//! CSAF 2.0 (OASIS, `csaf_security_advisory` profile), written at disclosure and by
//! `secmail export` (DESIGN.md "Distributors and advance notice").
//!
//! Invariants: pure (the time comes in); only what is meant to be public goes in: the
//! disclosure text the team wrote, versions, CVE, severity, and the credit the reporter chose
//! (nobody when anonymous). Never the report text, the internal title, a reporter address or a
//! distributor.
use crate::core::settings::Settings;
use crate::model::{Case, Credit, Severity, State};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The formats `secmail export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Osv,
    Csaf,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "osv" => Some(Format::Osv),
            "csaf" => Some(Format::Csaf),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Osv => "osv.json",
            Format::Csaf => "csaf.json",
        }
    }
}

pub fn render(format: Format, case: &Case, config: &Settings, now: DateTime<Utc>) -> Value {
    match format {
        Format::Osv => osv(case, config, now),
        Format::Csaf => csaf(case, config, now),
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The advisory's public text: what the team wrote for the notice or announcement.
fn details(case: &Case, config: &Settings) -> String {
    case.disclosure.text.clone().unwrap_or_else(|| {
        format!(
            "A security issue in {} ({}). Details will follow.",
            config.advisories.package, case.id
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

/// People credited, as they chose (DESIGN.md "Cases": name / handle / anonymous).
fn credits(case: &Case) -> Vec<String> {
    case.reporters
        .iter()
        .filter_map(|r| match &r.credit {
            Credit::Anonymous => None,
            Credit::Handle(h) => Some(h.clone()),
            Credit::Name => Some(r.name.clone().unwrap_or_else(|| {
                // The local part only: an address is not for publication.
                r.address.split('@').next().unwrap_or("").to_string()
            })),
        })
        .filter(|n| !n.is_empty())
        .collect()
}

fn cvss_kind(vector: &str) -> Option<&'static str> {
    if vector.starts_with("CVSS:3.") {
        Some("CVSS_V3")
    } else if vector.starts_with("CVSS:4.") {
        Some("CVSS_V4")
    } else {
        None
    }
}

fn published(case: &Case, now: DateTime<Utc>) -> DateTime<Utc> {
    case.disclosure.disclosed_at.unwrap_or(now)
}

/// OSV. The id is the CVE when the case has one: the official schema only accepts ids whose
/// prefix is a registered home database (CVE, GHSA, PYSEC, …). Without a CVE the case id is
/// used and is valid OSV except for that prefix list; `database_specific.case` always has it.
pub fn osv(case: &Case, config: &Settings, now: DateTime<Utc>) -> Value {
    let id = case.cve.clone().unwrap_or_else(|| case.id.to_string());
    let mut doc = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": ts(now),
        "published": ts(published(case, now)),
        "summary": summary(case, config),
        "details": details(case, config),
        "database_specific": {
            "case": case.id.to_string(),
            "source": config.project.security_address,
        },
    });
    let Some(map) = doc.as_object_mut() else {
        return doc;
    };
    if case.cve.is_some() {
        map.insert("aliases".into(), json!([]));
    }
    if let Some(sev) = case.severity {
        map["database_specific"]["severity"] = json!(severity_word(sev));
    }
    if let Some((kind, v)) = case
        .cvss
        .as_deref()
        .and_then(|v| cvss_kind(v).map(|k| (k, v)))
    {
        map.insert("severity".into(), json!([{ "type": kind, "score": v }]));
    }
    let mut affected = json!({ "versions": case.affected });
    if let Some(eco) = &config.advisories.ecosystem {
        affected["package"] = json!({ "ecosystem": eco, "name": config.advisories.package });
    }
    if !case.fixed.is_empty() {
        affected["database_specific"] = json!({ "fixed": case.fixed });
    }
    map.insert("affected".into(), json!([affected]));
    let credits: Vec<Value> = credits(case)
        .into_iter()
        .map(|n| json!({ "name": n, "type": "FINDER" }))
        .collect();
    if !credits.is_empty() {
        map.insert("credits".into(), json!(credits));
    }
    if let Some(base) = &config.advisories.url_base {
        map.insert(
            "references".into(),
            json!([{ "type": "ADVISORY", "url": format!("{}/{}", base.trim_end_matches('/'), case.id) }]),
        );
    }
    doc
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// CSAF 2.0, profile `csaf_security_advisory` (CSAF 2.0 §4.5). Before disclosure the document
/// is a `draft` under TLP:AMBER; after, `final` under TLP:WHITE.
pub fn csaf(case: &Case, config: &Settings, now: DateTime<Utc>) -> Value {
    let a = &config.advisories;
    let disclosed = case.state == State::Disclosed || case.disclosure.disclosed_at.is_some();
    let product = |v: &str| format!("{}-{}", a.package, v).replace(char::is_whitespace, "_");
    let mut versions: Vec<&String> = case.affected.iter().chain(case.fixed.iter()).collect();
    versions.dedup();
    let branches: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "category": "product_version",
                "name": v,
                "product": { "name": format!("{} {}", a.package, v), "product_id": product(v) },
            })
        })
        .collect();
    let affected_ids: Vec<String> = case.affected.iter().map(|v| product(v)).collect();
    let fixed_ids: Vec<String> = case.fixed.iter().map(|v| product(v)).collect();
    let mut vuln = json!({
        "notes": [{ "category": "description", "text": details(case, config), "title": "Description" }],
    });
    if let Some(cve) = &case.cve {
        vuln["cve"] = json!(cve);
    }
    let mut status = serde_json::Map::new();
    if !affected_ids.is_empty() {
        status.insert("known_affected".into(), json!(affected_ids));
    }
    if !fixed_ids.is_empty() {
        status.insert("fixed".into(), json!(fixed_ids));
    }
    if !status.is_empty() {
        vuln["product_status"] = Value::Object(status);
    }
    if !affected_ids.is_empty() {
        let fix = if case.fixed.is_empty() {
            "See the advisory text.".to_string()
        } else {
            format!("Update to {}.", case.fixed.join(" or "))
        };
        vuln["remediations"] =
            json!([{ "category": "vendor_fix", "details": fix, "product_ids": affected_ids }]);
    }
    let names = credits(case);
    if !names.is_empty() {
        vuln["acknowledgments"] = json!([{ "names": names }]);
    }
    let release = published(case, now);
    let mut doc = json!({
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "lang": "en",
            "title": format!("{}: {}", config.project.name, summary(case, config)),
            "publisher": {
                "category": "vendor",
                "name": format!("{} security team", config.project.name),
                "namespace": a.namespace,
                "contact_details": config.project.security_address,
            },
            "distribution": { "tlp": { "label": if disclosed { "WHITE" } else { "AMBER" } } },
            "tracking": {
                "id": case.id.to_string(),
                "status": if disclosed { "final" } else { "draft" },
                "version": "1",
                "initial_release_date": ts(release),
                "current_release_date": ts(now.max(release)),
                "revision_history": [{ "date": ts(release), "number": "1", "summary": "Initial advisory." }],
                "generator": { "engine": { "name": "secmail", "version": env!("CARGO_PKG_VERSION") } },
            },
            "notes": [{ "category": "summary", "text": summary(case, config), "title": "Summary" }],
        },
        "vulnerabilities": [vuln],
    });
    if let Some(sev) = case.severity {
        doc["document"]["aggregate_severity"] = json!({ "text": severity_word(sev) });
    }
    if !branches.is_empty() {
        doc["product_tree"] = json!({
            "branches": [{
                "category": "vendor",
                "name": a.vendor,
                "branches": [{ "category": "product_name", "name": a.package, "branches": branches }],
            }],
        });
    }
    if let Some(base) = &a.url_base {
        doc["document"]["references"] = json!([{
            "category": "self",
            "summary": "This advisory",
            "url": format!("{}/{}", base.trim_end_matches('/'), case.id),
        }]);
    }
    doc
}
