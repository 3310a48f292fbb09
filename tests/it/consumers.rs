//! Advisories that downstream tools take as they are (issue 13.8–13.10): OSV against the
//! current OSV schema (vendored, tests/schemas/), CSAF 2.0 through the BSI's validator
//! (`@secvisogram/csaf-validator-lib` under node: the schema and every mandatory test) and the
//! CVE JSON 5 record against the schema the PyPI package cvelib ships. `contrib/test.sh`
//! installs the validators; in CI (CI=true) a missing one fails the test, never skips it.
use super::common::{now, repo, Pipeline};
use chrono::{TimeZone, Utc};
use secmail::core::advisory::{self, Format};
use secmail::model::{versions, Case, CaseId, Credit, Reporter, State};
use std::path::PathBuf;

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// A validator that could not run: a failure in CI, a loud warning elsewhere.
fn missing(what: &str, why: &str) -> Option<String> {
    if in_ci() {
        panic!("{what} could not run in CI ({why}): contrib/test.sh installs it");
    }
    eprintln!(
        "\n*** WARNING: {what} missing ({why}): that validation SKIPPED; run contrib/test.sh ***\n"
    );
    None
}

fn write_temp(doc: &serde_json::Value) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    (dir, file)
}

/// tests/schemas/validate.py on `file`: `Some("")` valid, `Some(errors)`, `None` not run.
pub fn schema_errors(kind: &str, file: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/schemas/validate.py"))
        .arg(kind)
        .arg(file)
        .output();
    verdict(out, &format!("python3 schema validation ({kind})"))
}

/// Where contrib/test.sh installs the CSAF validator (`SECMAIL_CSAF_VALIDATOR` overrides).
fn csaf_modules() -> PathBuf {
    std::env::var_os("SECMAIL_CSAF_VALIDATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/csaf-validator/node_modules"))
}

/// The BSI validator's schema and mandatory tests on `files` (one node process: loading the
/// library takes seconds): `Some("")` when all are valid, else the failures by file.
pub fn csaf_errors(files: &[&std::path::Path]) -> Option<String> {
    let out = std::process::Command::new("node")
        .arg(repo().join("tests/schemas/csaf_validate.mjs"))
        .arg(csaf_modules())
        .args(files)
        .output();
    verdict(out, "node with @secvisogram/csaf-validator-lib")
}

/// A validator's run read the way both of the above promise: exit 0 `Some("")`, exit 1
/// `Some(its stdout)` (the errors), anything else (not installed, crashed) [`missing`].
fn verdict(out: std::io::Result<std::process::Output>, what: &str) -> Option<String> {
    match out {
        Ok(o) if o.status.code() == Some(0) => Some(String::new()),
        Ok(o) if o.status.code() == Some(1) => {
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        other => missing(what, &format!("{other:?}")),
    }
}

/// Asserts that `doc` passes `check` (one of the two above), showing it when not.
fn passes(what: &str, doc: &serde_json::Value, check: impl Fn(&std::path::Path) -> Option<String>) {
    let (_dir, file) = write_temp(doc);
    if let Some(errors) = check(&file) {
        assert!(
            errors.is_empty(),
            "{what} refused:\n{errors}\n{}",
            serde_json::to_string_pretty(doc).unwrap()
        );
    }
}

fn reporter(credit: Credit) -> Reporter {
    Reporter {
        address: "rita@reporter.example".into(),
        name: Some("Rita Reporter".into()),
        cert: None,
        cert_fingerprint: None,
        cert_source: None,
        credit,
        language: None,
    }
}

/// A case as the team leaves it before disclosure: ranges, a fix, a CVE and a CVSS 3.1 score.
fn case(affected: &str, fixed: &str, cvss: Option<&str>, credit: Credit) -> Case {
    let mut c = Case::new(
        CaseId::new("SEC", 2026, 1),
        "Heap overflow in parse_packet".into(),
        now(),
    );
    c.reporters.push(reporter(credit));
    c.affected = if affected.is_empty() {
        Vec::new()
    } else {
        versions::parse_list(affected).unwrap()
    };
    c.fixed = if fixed.is_empty() {
        Vec::new()
    } else {
        versions::parse_list(fixed).unwrap()
    };
    c.cve = Some("CVE-2026-12345".into());
    c.severity = Some(secmail::model::Severity::Critical);
    c.cvss = cvss.map(String::from);
    c.disclosure.text =
        Some("parse_packet() overflows on records over 64 KiB.\nUpgrade to 2.3.2.".into());
    c
}

fn pipeline() -> Pipeline {
    let mut p = Pipeline::demo();
    p.config.advisories.ecosystem = Some("PyPI".into());
    p.config.advisories.package = "example".into();
    p.config.advisories.id_prefix = Some("EXAMPLE".into());
    p.config.advisories.cve_org_id = Some("8254265b-2729-46b6-b9e3-3dfca2d5bfca".into());
    p.config.advisories.url_base = Some("https://example.org/security/advisories".into());
    p
}

const V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const V40: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";

/// Cases of every shape the commands allow, disclosed and not.
fn cases() -> Vec<(&'static str, Case)> {
    let day = Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap();
    let mut out = vec![
        (
            "a range and its fix",
            case(">=2.0, <2.3.2", "2.3.2", Some(V31), Credit::Name),
        ),
        (
            "a closed range",
            case(
                "2.0 - 2.3.1",
                "2.3.2",
                Some(V40),
                Credit::Handle("rita".into()),
            ),
        ),
        (
            "exact versions",
            case("2.4.0, 2.4.1", "2.4.2", Some(V31), Credit::Anonymous),
        ),
        ("an open range", case("< 3.1", "", None, Credit::Undecided)),
        ("no versions", case("", "", None, Credit::Name)),
        (
            "ECOSYSTEM versions",
            case("1.0rc1 - 1.2, 2.x", "1.3", Some(V31), Credit::Name),
        ),
    ];
    for (_, c) in out.iter_mut().take(3) {
        c.state = State::Disclosed;
        c.disclosure.disclosed_at = Some(day);
    }
    out
}

#[test]
fn osv_uses_ranges_the_project_id_and_the_current_schema() {
    let p = pipeline();
    for (what, c) in cases() {
        let osv = advisory::osv(&c, &p.config, now());
        passes(&format!("OSV of {what}"), &osv, |f| {
            schema_errors("osv-any-prefix", f)
        });
    }
    let (_, c) = &cases()[0];
    let osv = advisory::osv(c, &p.config, now());
    assert_eq!(osv["schema_version"], "1.7.3");
    assert_eq!(osv["id"], "EXAMPLE-2026-0001");
    assert_eq!(osv["aliases"], serde_json::json!(["CVE-2026-12345"]));
    assert_eq!(
        osv["affected"][0]["ranges"],
        serde_json::json!([{ "type": "ECOSYSTEM", "events": [{ "introduced": "2.0" }, { "fixed": "2.3.2" }] }])
    );
    assert!(osv["affected"][0].get("database_specific").is_none());
    assert_eq!(
        osv["credits"][0],
        serde_json::json!({ "name": "Rita Reporter", "type": "FINDER" })
    );
    assert_eq!(osv["credits"][1]["type"], "COORDINATOR");
    assert_eq!(osv["severity"][0]["score"], V31);
    assert_eq!(osv["database_specific"]["cvss_score"], 9.8);
    // SemVer throughout: SEMVER; last_affected for "through".
    let c = case("2.0.0 - 2.3.1", "2.3.2", None, Credit::Name);
    let osv = advisory::osv(&c, &p.config, now());
    assert_eq!(
        osv["affected"][0]["ranges"][0],
        serde_json::json!({ "type": "SEMVER", "events": [{ "introduced": "2.0.0" }, { "last_affected": "2.3.1" }] })
    );
    // Exact versions with a fix: a range from the lowest to the fix, and the versions.
    let (_, c) = &cases()[2];
    let osv = advisory::osv(c, &p.config, now());
    assert_eq!(
        osv["affected"][0]["ranges"][0]["events"],
        serde_json::json!([{ "introduced": "2.4.0" }, { "fixed": "2.4.2" }])
    );
    assert_eq!(
        osv["affected"][0]["versions"],
        serde_json::json!(["2.4.0", "2.4.1"])
    );
    assert!(
        osv.get("credits").unwrap().as_array().unwrap().len() == 1,
        "anonymous: the team only"
    );
    // Without id-prefix the case prefix names the advisory.
    let plain = Pipeline::demo();
    assert_eq!(
        advisory::osv(c, &plain.config, now())["id"],
        "SEC-2026-0001"
    );
}

#[test]
fn csaf_passes_the_bsi_validators_mandatory_tests() {
    let p = pipeline();
    let plain = Pipeline::demo();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (what, c)) in cases().into_iter().enumerate() {
        for (config, which) in [(&p.config, "pypi"), (&plain.config, "demo")] {
            let doc = advisory::csaf(&c, config, now());
            passes(&format!("CSAF of {what} ({which})"), &doc, |f| {
                schema_errors("csaf", f)
            });
            let file = dir.path().join(format!("{i}-{which}.csaf.json"));
            std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
            files.push(file);
        }
    }
    let files: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    if let Some(errors) = csaf_errors(&files) {
        assert!(errors.is_empty(), "the CSAF validator refused:\n{errors}");
    }
    // The validator does refuse: a final document at version 0 breaks 6.1.17.
    let mut bad = advisory::csaf(&cases()[0].1, &p.config, now());
    bad["document"]["tracking"]["version"] = "0".into();
    bad["document"]["tracking"]["revision_history"][0]["number"] = "0".into();
    let bad_file = dir.path().join("bad.csaf.json");
    std::fs::write(&bad_file, serde_json::to_vec_pretty(&bad).unwrap()).unwrap();
    if let Some(errors) = csaf_errors(&[&bad_file]) {
        assert!(errors.contains("6_1_17"), "{errors}");
    }
    let (_, c) = &cases()[0];
    let doc = advisory::csaf(c, &p.config, now());
    let branches = &doc["product_tree"]["branches"][0]["branches"][0]["branches"];
    let names: Vec<&str> = branches
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2.3.2", "vers:pypi/>=2.0|<2.3.2"]);
    assert_eq!(branches[1]["category"], "product_version_range");
    let score = &doc["vulnerabilities"][0]["scores"][0]["cvss_v3"];
    assert_eq!(
        (score["baseScore"].as_f64(), score["baseSeverity"].as_str()),
        (Some(9.8), Some("CRITICAL"))
    );
    assert_eq!(doc["document"]["tracking"]["id"], "EXAMPLE-2026-0001");
}

#[test]
fn cve_record_validates_against_the_cve_schema() {
    let p = pipeline();
    for (what, c) in cases() {
        let doc = advisory::cve(&c, &p.config, now()).unwrap();
        passes(&format!("CVE record of {what}"), &doc, |f| {
            schema_errors("cve", f)
        });
    }
    let (_, c) = &cases()[0];
    let doc = advisory::render(Format::Cve, c, &p.config, now()).unwrap();
    let cna = &doc["containers"]["cna"];
    assert_eq!(doc["cveMetadata"]["cveId"], "CVE-2026-12345");
    assert_eq!(
        cna["affected"][0]["versions"][0],
        serde_json::json!({ "version": "2.0", "status": "affected", "lessThan": "2.3.2", "versionType": "custom" })
    );
    assert_eq!(cna["metrics"][0]["cvssV3_1"]["baseScore"], 9.8);
    assert_eq!(cna["credits"][0]["value"], "Rita Reporter");
    // Without a CVE id, or without the CNA's organisation, there is no record: the reason.
    let mut no_cve = c.clone();
    no_cve.cve = None;
    assert!(advisory::cve(&no_cve, &p.config, now())
        .unwrap_err()
        .contains("/cve"));
    let plain = Pipeline::demo();
    assert!(advisory::cve(c, &plain.config, now())
        .unwrap_err()
        .contains("cve-org-id"));
}

/// Nothing private in any of the three: no reporter address, no internal title, no distributor.
#[test]
fn advisories_carry_nothing_private() {
    let p = pipeline();
    for (what, c) in cases() {
        for format in [Format::Osv, Format::Csaf, Format::Cve] {
            let text = advisory::render(format, &c, &p.config, now())
                .unwrap()
                .to_string();
            for private in [
                "rita@reporter.example",
                "Heap overflow in parse_packet",
                "distro",
            ] {
                assert!(!text.contains(private), "{what} {format:?} has {private:?}");
            }
        }
    }
}
