//! CSAF 2.0, profile `csaf_security_advisory` (CSAF 2.0 §4.5), as the BSI's validator accepts it
//! (issue 13.9): a product tree with a `product_version` per version and a
//! `product_version_range` (a `vers` string) per range of the case's structured versions, the
//! product status and remediation naming those products, and the CVSS v3 score (CSAF 2.0 knows
//! no v4) computed by the `cvss` crate.
//!
//! Invariants: every product id is defined once (6.1.1, 6.1.2) and is either known affected or
//! fixed, never both (6.1.6); a draft is document version 0, a final one version 1 (6.1.17: a
//! final document is never version 0), as its one revision (6.1.16, 6.1.21); every
//! vulnerability has notes and a product status (6.1.27.5, 6.1.27.6).
use super::{
    advisory_id, coordinator, credits, details, disclosed, published, scored, self_url,
    severity_word, summary, ts,
};
use crate::core::settings::Settings;
use crate::model::{versions, Case, VersionSpec};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One product of the tree: its branch and its id.
struct Product {
    id: String,
    branch: Value,
}

pub fn csaf(case: &Case, config: &Settings, now: DateTime<Utc>) -> Value {
    let a = &config.advisories;
    let disclosed = disclosed(case);
    let slug: String = a
        .package
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let scheme = vers_scheme(a.ecosystem.as_deref());
    let mut products: Vec<Product> = Vec::new();
    let mut product = |v: &VersionSpec| -> String {
        let (category, name) = match v {
            VersionSpec::Version(v) => ("product_version", v.clone()),
            VersionSpec::Range(_) => ("product_version_range", vers(scheme, v)),
        };
        if let Some(p) = products
            .iter()
            .find(|p| p.branch["name"] == json!(name) && p.branch["category"] == category)
        {
            return p.id.clone();
        }
        let id = format!("{slug}-{}", products.len() + 1);
        let shown = match v {
            VersionSpec::Version(v) => v.clone(),
            VersionSpec::Range(_) => v.describe(),
        };
        products.push(Product {
            id: id.clone(),
            branch: json!({
                "category": category,
                "name": name,
                "product": { "name": format!("{} {shown}", a.package), "product_id": id },
            }),
        });
        id
    };
    let fixed_ids: Vec<String> = case.fixed.iter().map(&mut product).collect();
    let mut affected_ids: Vec<String> = case.affected.iter().map(&mut product).collect();
    // A version named both affected and fixed is fixed (6.1.6: one status per product).
    affected_ids.retain(|id| !fixed_ids.contains(id));
    affected_ids.dedup();
    let product_name_id = format!("{slug}-all");
    let tree = if products.is_empty() {
        // No versions given: the product itself is known affected (6.1.27.4, 6.1.27.6).
        affected_ids.push(product_name_id.clone());
        json!({
            "category": "product_name",
            "name": a.package,
            "product": { "name": a.package, "product_id": product_name_id },
        })
    } else {
        json!({
            "category": "product_name",
            "name": a.package,
            "branches": products.iter().map(|p| p.branch.clone()).collect::<Vec<_>>(),
        })
    };

    let mut vuln = json!({
        "title": summary(case, config),
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
    vuln["product_status"] = Value::Object(status);
    if !affected_ids.is_empty() {
        let fix = if case.fixed.is_empty() {
            "See the advisory text.".to_string()
        } else {
            format!(
                "Update to {}.",
                versions::join(&case.fixed).replace(", ", " or ")
            )
        };
        vuln["remediations"] =
            json!([{ "category": "vendor_fix", "details": fix, "product_ids": affected_ids }]);
    }
    if let Some(s) = scored(case).filter(|s| s.version != "4.0") {
        if !affected_ids.is_empty() {
            vuln["scores"] = json!([{
                "products": affected_ids,
                "cvss_v3": {
                    "version": s.version,
                    "vectorString": s.vector,
                    "baseScore": s.score,
                    "baseSeverity": s.rating_upper(),
                },
            }]);
        }
    }
    let names = credits(case);
    let mut acks = Vec::new();
    if !names.is_empty() {
        acks.push(json!({ "names": names, "summary": "finding and reporting the issue" }));
    }
    acks.push(
        json!({ "organization": coordinator(config), "summary": "coordinating the disclosure" }),
    );
    vuln["acknowledgments"] = json!(acks);

    let release = published(case, now);
    // CSAF 2.0 §6.1.17: a released (final) document is never version 0; a draft is.
    let version = if disclosed { "1" } else { "0" };
    let mut doc = json!({
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "lang": "en",
            "title": format!("{}: {}", config.project.name, summary(case, config)),
            "publisher": {
                "category": "vendor",
                "name": coordinator(config),
                "namespace": a.namespace,
                "contact_details": config.project.security_address,
            },
            "distribution": { "tlp": { "label": if disclosed { "WHITE" } else { "AMBER" } } },
            "tracking": {
                "id": advisory_id(case, config),
                "status": if disclosed { "final" } else { "draft" },
                "version": version,
                "initial_release_date": ts(release),
                "current_release_date": ts(now.max(release)),
                "revision_history": [{
                    "date": ts(release),
                    "number": version,
                    "summary": if disclosed { "Initial advisory." } else { "Draft." },
                }],
                "generator": { "engine": { "name": "secmail", "version": env!("CARGO_PKG_VERSION") } },
            },
            "notes": [{ "category": "summary", "text": summary(case, config), "title": "Summary" }],
        },
        "product_tree": {
            "branches": [{ "category": "vendor", "name": a.vendor, "branches": [tree] }],
        },
        "vulnerabilities": [vuln],
    });
    if let Some(sev) = case.severity {
        doc["document"]["aggregate_severity"] = json!({ "text": severity_word(sev) });
    }
    if let Some(url) = self_url(case, config) {
        doc["document"]["references"] = json!([{
            "category": "self",
            "summary": "This advisory",
            "url": url,
        }]);
    }
    doc
}

/// The `vers` scheme (package-url/vers-spec) of an OSV ecosystem; `generic` otherwise.
fn vers_scheme(ecosystem: Option<&str>) -> &'static str {
    match ecosystem.map(str::to_ascii_lowercase).as_deref() {
        Some("pypi") => "pypi",
        Some("npm") => "npm",
        Some("crates.io") => "cargo",
        Some("go") => "golang",
        Some("maven") => "maven",
        Some("rubygems") => "gem",
        Some("nuget") => "nuget",
        Some("packagist") => "composer",
        Some("hex") => "hex",
        Some("pub") => "pub",
        Some("debian") => "deb",
        _ => "generic",
    }
}

/// `vers:pypi/>=2.0|<2.3.2`
fn vers(scheme: &str, v: &VersionSpec) -> String {
    let constraints = match v {
        VersionSpec::Version(v) => v.clone(),
        VersionSpec::Range(r) => [
            r.introduced.as_ref().map(|i| format!(">={i}")),
            r.fixed.as_ref().map(|x| format!("<{x}")),
            r.last_affected.as_ref().map(|l| format!("<={l}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("|"),
    };
    format!("vers:{scheme}/{constraints}")
}
