//! Distributors: the confidential list of downstream vendors who get advance notice before a
//! disclosure (DESIGN.md "Distributors and advance notice").
//!
//! Invariant: the list is confidential. Nothing in this module formats a distributor for a
//! header or a log line; callers put a distributor only in the timeline of a case (a team view)
//! and in the one message addressed to that distributor alone.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A short stable id, `[a-z0-9-]`, derived from the name (`Debian Security` → `debian-security`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DistributorId(String);

impl DistributorId {
    /// The id for a name: lowercase letters and digits, runs of anything else as one `-`.
    /// `None` when nothing is left.
    pub fn from_name(name: &str) -> Option<DistributorId> {
        let mut s = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
            } else if !s.is_empty() && !s.ends_with('-') {
                s.push('-');
            }
        }
        let s = s.trim_end_matches('-').chars().take(40).collect::<String>();
        (!s.is_empty()).then_some(DistributorId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DistributorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which messages a distributor takes. Every distributor is told when an embargo ends early or
/// is over; these choose the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// The advance notice (description, versions, remedy, patches, date).
    Advance,
    /// The reminder 24 hours before the date.
    Final,
    /// The announcement on disclosure day, encrypted to them like every notice.
    Disclosure,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 3] = [
        NoticeKind::Advance,
        NoticeKind::Final,
        NoticeKind::Disclosure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Advance => "advance",
            NoticeKind::Final => "final",
            NoticeKind::Disclosure => "disclosure",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// `advance,final` → both; `all` → every kind.
    pub fn parse_list(s: &str) -> Result<Vec<NoticeKind>, String> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(Self::ALL.to_vec());
        }
        let mut out = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let k = NoticeKind::parse(part).ok_or_else(|| {
                format!(
                    "{:?} is not a notice kind (advance, final, disclosure, all)",
                    part.trim()
                )
            })?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err("no notice kinds given".into());
        }
        Ok(out)
    }
}

/// One entry of the distributor list, as stored under `dist/<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distributor {
    pub id: DistributorId,
    pub name: String,
    /// Lowercased address.
    pub address: String,
    /// ASCII-armored cert; a distributor without a usable one is sent nothing.
    pub cert: Option<String>,
    pub cert_fingerprint: Option<String>,
    pub notices: Vec<NoticeKind>,
    /// The longest time this list accepts between a notice and the disclosure, in seconds (the
    /// Openwall distros list: 14 days). A notice that would go out earlier is refused.
    pub cap_secs: Option<i64>,
    pub added: DateTime<Utc>,
    /// The team member (or "cli") who added it.
    pub added_by: String,
}

impl Distributor {
    pub fn takes(&self, kind: NoticeKind) -> bool {
        self.notices.contains(&kind)
    }

    pub fn cap(&self) -> Option<chrono::Duration> {
        self.cap_secs.map(chrono::Duration::seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_slugs_of_names() {
        let check = |name: &str, expected: Option<&str>| {
            assert_eq!(
                DistributorId::from_name(name)
                    .as_ref()
                    .map(DistributorId::as_str),
                expected,
                "name {name:?}"
            );
        };
        check("Debian Security", Some("debian-security"));
        check("  distros@openwall  ", Some("distros-openwall"));
        check("Ünïcode Ltd.", Some("n-code-ltd"));
        check("---", None);
        check("", None);
    }

    #[test]
    fn notice_lists_parse() {
        assert_eq!(
            NoticeKind::parse_list("all").unwrap(),
            NoticeKind::ALL.to_vec()
        );
        assert_eq!(
            NoticeKind::parse_list("final, advance,final").unwrap(),
            vec![NoticeKind::Final, NoticeKind::Advance]
        );
        assert!(NoticeKind::parse_list("advance,weekly").is_err());
        assert!(NoticeKind::parse_list("").is_err());
    }
}
