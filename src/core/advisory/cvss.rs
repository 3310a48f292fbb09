//! CVSS: a vector parsed and scored by RustSec's `cvss` crate (CVSS v3.0, v3.1 and v4.0
//! base metrics), for `/severity` and for the scores the advisories carry (issue 13.4).
//!
//! Invariants: pure; a vector is accepted only when the crate parses it (no grammar of our
//! own); the score and its rating are the crate's, per the FIRST specifications.
use crate::model::Severity;
use std::str::FromStr;

/// A parsed vector with its base score.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The vector in its canonical form (the crate's serialisation).
    pub vector: String,
    /// "3.0", "3.1" or "4.0".
    pub version: &'static str,
    /// The base score, 0.0 to 10.0.
    pub score: f64,
    /// The score's qualitative rating: "none", "low", "medium", "high" or "critical".
    pub rating: &'static str,
}

impl Scored {
    /// `9.8 critical`
    pub fn describe(&self) -> String {
        format!("{:.1} {}", self.score, self.rating)
    }

    /// The rating in the capitals the CVSS JSON schemas use (`CRITICAL`).
    pub fn rating_upper(&self) -> String {
        self.rating.to_ascii_uppercase()
    }
}

/// Parses and scores `vector` (`CVSS:3.1/AV:N/…`, `CVSS:4.0/AV:N/…`).
pub fn score(vector: &str) -> Result<Scored, String> {
    let bad = |why: String| {
        format!(
            "{vector:?} is not a CVSS vector like CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ({why})"
        )
    };
    if vector.len() > 300 {
        return Err(bad("too long".into()));
    }
    let parsed = cvss::Cvss::from_str(vector).map_err(|e| bad(e.to_string()))?;
    let version = match &parsed {
        cvss::Cvss::CvssV30(_) => "3.0",
        cvss::Cvss::CvssV31(_) => "3.1",
        cvss::Cvss::CvssV40(_) => "4.0",
        _ => return Err(bad("an unsupported CVSS version".into())),
    };
    // The crate reads a v3 vector with base metrics missing; a score needs every one of them.
    let required: &[&str] = if version == "4.0" {
        &[
            "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
        ]
    } else {
        &["AV", "AC", "PR", "UI", "S", "C", "I", "A"]
    };
    let given: Vec<&str> = vector
        .split('/')
        .skip(1)
        .filter_map(|m| m.split_once(':').map(|(k, _)| k))
        .collect();
    if let Some(missing) = required.iter().find(|m| !given.contains(m)) {
        return Err(bad(format!("the base metric {missing} is missing")));
    }
    let canonical = match &parsed {
        cvss::Cvss::CvssV30(b) | cvss::Cvss::CvssV31(b) => b.to_string(),
        cvss::Cvss::CvssV40(v) => v.to_string(),
        _ => vector.to_string(),
    };
    Ok(Scored {
        vector: canonical,
        version,
        score: parsed.score(),
        rating: parsed.severity().as_str(),
    })
}

/// When the level a member gave and the vector's rating differ: what to tell them.
pub fn disagreement(level: Severity, scored: &Scored) -> Option<String> {
    (level.as_str() != scored.rating).then(|| {
        format!(
            "WARNING: the level {} disagrees with the vector's score {}; send /severity {} with the vector if the vector is right",
            level.as_str(),
            scored.describe(),
            if scored.rating == "none" { "low" } else { scored.rating }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_scored_by_the_crate() {
        let check = |v: &str, version: &str, value: f64, rating: &str| {
            let s = score(v).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (s.version, s.score, s.rating),
                (version, value, rating),
                "{v}"
            );
        };
        check(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "3.1",
            9.8,
            "critical",
        );
        check(
            "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
            "3.0",
            1.8,
            "low",
        );
        check(
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "4.0",
            9.3,
            "critical",
        );
        for bad in [
            "CVSS:9",
            "CVSS:3.1/AV:N",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "AV:N/AC:L",
        ] {
            assert!(score(bad).is_err(), "{bad} accepted");
        }
        let critical = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        let w = disagreement(Severity::Low, &critical).unwrap();
        assert!(
            w.contains("9.8 critical") && w.contains("/severity critical"),
            "{w}"
        );
        assert_eq!(disagreement(Severity::Critical, &critical), None);
    }
}
