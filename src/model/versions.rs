//! Versions: what `/affected` and `/fixed` name, kept as structure (issue 13.3) — one version,
//! or a range with an introducing version and a fixed (exclusive) or last affected (inclusive)
//! end — so that the advisories can state OSV events and CSAF ranges instead of strings.
//!
//! Invariants: a version is one token of letters, digits and `.-+_~:` (never an operator or a
//! lone `-`); a range has at least one bound, and never both a fixed and a last affected end
//! (OSV: the two are exclusive). Stored one version as a plain string, so that cases written
//! before ranges existed read back unchanged; a stored string that reads as a range (`<2.4.2`)
//! becomes one.
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// One entry of a version list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum VersionSpec {
    /// Exactly this version.
    Version(String),
    Range(Range),
}

/// `introduced ≤ v < fixed` or `introduced ≤ v ≤ last_affected`; a missing lower bound is
/// "every version before".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

impl<'de> Deserialize<'de> for VersionSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            Range(Range),
        }
        Ok(match Stored::deserialize(d)? {
            Stored::Range(r) => VersionSpec::Range(r),
            Stored::Text(s) => match parse_list(&s) {
                Ok(mut v) if v.len() == 1 => v.remove(0),
                _ => VersionSpec::Version(s),
            },
        })
    }
}

impl From<&str> for VersionSpec {
    /// One version, as written (tests and stored data; commands use [`parse_list`]).
    fn from(s: &str) -> VersionSpec {
        VersionSpec::Version(s.to_string())
    }
}

impl fmt::Display for VersionSpec {
    /// `2.4.0`, `>=2.0, <2.3.2`, `>=2.0, <=2.3.1`, `<3.1`, `>=2.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Version(v) => f.write_str(v),
            VersionSpec::Range(r) => {
                let mut parts = Vec::new();
                if let Some(i) = &r.introduced {
                    parts.push(format!(">={i}"));
                }
                if let Some(x) = &r.fixed {
                    parts.push(format!("<{x}"));
                }
                if let Some(l) = &r.last_affected {
                    parts.push(format!("<={l}"));
                }
                f.write_str(&parts.join(", "))
            }
        }
    }
}

impl VersionSpec {
    /// In words, for confirmations: "2.0 through 2.3.1", "2.0 up to 2.3.2 (not included)",
    /// "before 3.1", "2.0 and later".
    pub fn describe(&self) -> String {
        match self {
            VersionSpec::Version(v) => v.clone(),
            VersionSpec::Range(r) => match (&r.introduced, &r.fixed, &r.last_affected) {
                (Some(i), Some(x), _) => format!("{i} up to {x} (not included)"),
                (Some(i), None, Some(l)) => format!("{i} through {l}"),
                (None, Some(x), _) => format!("before {x}"),
                (None, None, Some(l)) => format!("{l} and earlier"),
                (Some(i), None, None) => format!("{i} and later"),
                (None, None, None) => "every version".into(),
            },
        }
    }

    /// The versions this entry names as bounds or itself.
    pub fn versions(&self) -> Vec<&str> {
        match self {
            VersionSpec::Version(v) => vec![v.as_str()],
            VersionSpec::Range(r) => [&r.introduced, &r.fixed, &r.last_affected]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        }
    }
}

/// A list as shown: `2.4.0, 2.4.1`, `>=2.0, <2.3.2`; in a list of several, a range of two
/// bounds in brackets (`1.0, [>=2.0, <=2.3.1]`) so that its comma does not split it.
pub fn join(list: &[VersionSpec]) -> String {
    let bounds = |r: &Range| {
        [&r.introduced, &r.fixed, &r.last_affected]
            .iter()
            .filter(|b| b.is_some())
            .count()
    };
    list.iter()
        .map(|v| match v {
            VersionSpec::Range(r) if list.len() > 1 && bounds(r) > 1 => format!("[{v}]"),
            _ => v.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// In words, for confirmations: "2.0 through 2.3.1; 3.0.0".
pub fn describe(list: &[VersionSpec]) -> String {
    list.iter()
        .map(VersionSpec::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().any(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_~:*".contains(c))
        && !s.starts_with('-')
}

/// Parses a list of versions and ranges (comma or space separated; a `>=` bound followed by a
/// `<` or `<=` bound is one range; `A - B` is A through B). `Err`: why, for the team member.
pub fn parse_list(args: &str) -> Result<Vec<VersionSpec>, String> {
    // Tokens: operators glued to their version ("< 3.1" is "<3.1"), "-" and "to" between two
    // versions kept apart.
    let mut tokens: Vec<String> = Vec::new();
    let mut pending_op: Option<String> = None;
    for raw in args.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (op, rest) = split_op(raw);
        match (op, rest) {
            (Some(op), "") => {
                if pending_op.is_some() {
                    return Err(format!("{raw:?}: two operators in a row"));
                }
                pending_op = Some(op.to_string());
            }
            (op, rest) => {
                let op = match (pending_op.take(), op) {
                    (Some(_), Some(_)) => return Err(format!("{raw:?}: two operators in a row")),
                    (p, o) => p.or(o.map(str::to_string)),
                };
                tokens.push(format!("{}{rest}", op.unwrap_or_default()));
            }
        }
    }
    if let Some(op) = pending_op {
        return Err(format!("{op:?} without a version after it"));
    }
    let mut out: Vec<VersionSpec> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        // "A - B", "A – B", "A to B"
        if matches!(t, "-" | "–" | "to") {
            return Err(format!(
                "{t:?} needs a version on each side, as in \"2.0 - 2.3.1\""
            ));
        }
        if let Some(sep) = tokens.get(i + 1).map(String::as_str) {
            if matches!(sep, "-" | "–" | "to") {
                let to = tokens
                    .get(i + 2)
                    .ok_or_else(|| format!("\"{t} {sep}\" needs a version after it"))?;
                if !is_version(t) || !is_version(to) {
                    return Err(format!(
                        "\"{t} {sep} {to}\": a range is two versions, as in \"2.0 - 2.3.1\""
                    ));
                }
                out.push(VersionSpec::Range(Range {
                    introduced: Some(t.to_string()),
                    fixed: None,
                    last_affected: Some(to.clone()),
                }));
                i += 3;
                continue;
            }
        }
        let bound = bound(t)?;
        match bound {
            Bound::Exact(v) => out.push(VersionSpec::Version(v)),
            Bound::Lower(v) => {
                // ">=2.0, <2.3.2": the next upper bound closes this range.
                let upper = tokens.get(i + 1).and_then(|n| match bound_of(n) {
                    Some(Bound::Fixed(x)) => Some((Some(x), None)),
                    Some(Bound::Last(x)) => Some((None, Some(x))),
                    _ => None,
                });
                let (fixed, last_affected) = upper.clone().unwrap_or((None, None));
                out.push(VersionSpec::Range(Range {
                    introduced: Some(v),
                    fixed,
                    last_affected,
                }));
                if upper.is_some() {
                    i += 1;
                }
            }
            Bound::Fixed(x) => out.push(VersionSpec::Range(Range {
                introduced: None,
                fixed: Some(x),
                last_affected: None,
            })),
            Bound::Last(x) => out.push(VersionSpec::Range(Range {
                introduced: None,
                fixed: None,
                last_affected: Some(x),
            })),
        }
        i += 1;
    }
    if out.is_empty() {
        return Err("missing VERSIONS".into());
    }
    if out.len() > 100 {
        return Err("more than 100 versions".into());
    }
    Ok(out)
}

enum Bound {
    Exact(String),
    Lower(String),
    Fixed(String),
    Last(String),
}

fn split_op(t: &str) -> (Option<&str>, &str) {
    for op in [">=", "<=", "==", ">", "<", "="] {
        if let Some(rest) = t.strip_prefix(op) {
            return (Some(op), rest);
        }
    }
    (None, t)
}

fn bound_of(t: &str) -> Option<Bound> {
    bound(t).ok()
}

fn bound(t: &str) -> Result<Bound, String> {
    let (op, v) = split_op(t);
    if !is_version(v) {
        return Err(format!(
            "{t:?} is not a version or range; write versions like 2.4.1, ranges like \">=2.0, <2.3.2\", \"2.0 - 2.3.1\" or \"< 3.1\""
        ));
    }
    let v = v.to_string();
    Ok(match op {
        None | Some("=") | Some("==") => Bound::Exact(v),
        Some(">=") => Bound::Lower(v),
        Some("<") => Bound::Fixed(v),
        Some("<=") => Bound::Last(v),
        _ => {
            return Err(format!(
                "{t:?}: \">\" excludes the version it names, which advisories cannot state; write \">=\" with the first affected version"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(i: Option<&str>, x: Option<&str>, l: Option<&str>) -> VersionSpec {
        VersionSpec::Range(Range {
            introduced: i.map(String::from),
            fixed: x.map(String::from),
            last_affected: l.map(String::from),
        })
    }

    #[test]
    fn lists_and_ranges_as_written() {
        let check = |args: &str, expected: Vec<VersionSpec>, shown: &str| {
            let got = parse_list(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(got, expected, "{args:?}");
            assert_eq!(join(&got), shown, "{args:?}");
        };
        check(
            "2.0 - 2.3.1",
            vec![range(Some("2.0"), None, Some("2.3.1"))],
            ">=2.0, <=2.3.1",
        );
        check(
            ">=2.0, <2.3.2",
            vec![range(Some("2.0"), Some("2.3.2"), None)],
            ">=2.0, <2.3.2",
        );
        check("< 3.1", vec![range(None, Some("3.1"), None)], "<3.1");
        check(">= 2.0", vec![range(Some("2.0"), None, None)], ">=2.0");
        check(
            "1.0, 2.0 - 2.3.1 3.0.0",
            vec![
                VersionSpec::Version("1.0".into()),
                range(Some("2.0"), None, Some("2.3.1")),
                VersionSpec::Version("3.0.0".into()),
            ],
            "1.0, [>=2.0, <=2.3.1], 3.0.0",
        );
        check(
            "<2.4.2, 3.0.0",
            vec![
                range(None, Some("2.4.2"), None),
                VersionSpec::Version("3.0.0".into()),
            ],
            "<2.4.2, 3.0.0",
        );
        check(
            "1.0-rc1 2.x",
            vec![
                VersionSpec::Version("1.0-rc1".into()),
                VersionSpec::Version("2.x".into()),
            ],
            "1.0-rc1, 2.x",
        );
        assert_eq!(
            describe(&parse_list("2.0 - 2.3.1, >=3.0 <3.1.2, <1.0").unwrap()),
            "2.0 through 2.3.1; 3.0 up to 3.1.2 (not included); before 1.0"
        );
        for bad in ["-", "2.0 -", "> 2.0", "<", "2.0 - <3", "a;b", ""] {
            assert!(parse_list(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn stored_strings_read_back() {
        let read = |json: &str| serde_json::from_str::<Vec<VersionSpec>>(json).unwrap();
        assert_eq!(
            read(r#"["2.4.0", "<2.4.2"]"#),
            vec![
                VersionSpec::Version("2.4.0".into()),
                range(None, Some("2.4.2"), None)
            ]
        );
        let r = vec![range(Some("2.0"), None, Some("2.3.1"))];
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"[{"introduced":"2.0","last_affected":"2.3.1"}]"#);
        assert_eq!(read(&json), r);
    }
}
