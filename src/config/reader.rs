//! A TOML table reader that collects every error instead of stopping at the first, and reports
//! unknown keys, each error naming its full key (e.g. `inbound.imap.port`). Sizes ("25MB") are
//! parsed here; durations by `core::duration`, since the core parses them in commands too.
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// Durations are a core notion (`core::duration`); kept here under the old path for callers.
pub use crate::core::duration::parse_duration;

/// Errors found so far, in the order met.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<String>);

impl Errors {
    pub fn add(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("{key}: {msg}"));
    }
}

/// One table being read; `done` reports the keys nobody asked for.
pub struct Section<'a> {
    prefix: String,
    table: &'a Table,
    used: Vec<&'a str>,
}

impl<'a> Section<'a> {
    pub fn new(prefix: &str, table: &'a Table) -> Section<'a> {
        Section {
            prefix: prefix.to_string(),
            table,
            used: Vec::new(),
        }
    }

    pub fn key(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.prefix)
        }
    }

    fn get(&mut self, k: &str) -> Option<&'a Value> {
        let (name, v) = self.table.get_key_value(k)?;
        self.used.push(name.as_str());
        Some(v)
    }

    pub fn opt_str(&mut self, k: &str, e: &mut Errors) -> Option<String> {
        match self.get(k)? {
            Value::String(s) => Some(s.clone()),
            other => {
                e.add(
                    &self.key(k),
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub fn str(&mut self, k: &str, e: &mut Errors) -> Option<String> {
        let v = self.opt_str(k, e);
        if v.is_none() && !self.table.contains_key(k) {
            e.add(&self.key(k), "missing");
        }
        v
    }

    pub fn str_or(&mut self, k: &str, default: &str, e: &mut Errors) -> String {
        self.opt_str(k, e).unwrap_or_else(|| default.to_string())
    }

    pub fn opt_bool(&mut self, k: &str, e: &mut Errors) -> Option<bool> {
        match self.get(k)? {
            Value::Boolean(b) => Some(*b),
            other => {
                e.add(
                    &self.key(k),
                    format!("expected true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub fn opt_int(&mut self, k: &str, min: i64, max: i64, e: &mut Errors) -> Option<i64> {
        match self.get(k)? {
            Value::Integer(i) if (min..=max).contains(i) => Some(*i),
            Value::Integer(i) => {
                e.add(&self.key(k), format!("{i} is out of range {min}..={max}"));
                None
            }
            other => {
                e.add(
                    &self.key(k),
                    format!("expected a number, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub fn str_list(&mut self, k: &str, e: &mut Errors) -> Vec<String> {
        match self.get(k) {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => e.add(
                            &format!("{}[{i}]", self.key(k)),
                            format!("expected a string, found {}", other.type_str()),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                e.add(
                    &self.key(k),
                    format!("expected a list of strings, found {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }

    pub fn opt_duration(&mut self, k: &str, e: &mut Errors) -> Option<Duration> {
        let s = self.opt_str(k, e)?;
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(msg) => {
                e.add(&self.key(k), msg);
                None
            }
        }
    }

    pub fn opt_size(&mut self, k: &str, e: &mut Errors) -> Option<u64> {
        let s = self.opt_str(k, e)?;
        match parse_size(&s) {
            Ok(n) => Some(n),
            Err(msg) => {
                e.add(&self.key(k), msg);
                None
            }
        }
    }

    pub fn opt_path(&mut self, k: &str, base: &Path, e: &mut Errors) -> Option<PathBuf> {
        self.opt_str(k, e).map(|s| base.join(s))
    }

    pub fn table(&mut self, k: &str, e: &mut Errors) -> Option<&'a Table> {
        match self.get(k)? {
            Value::Table(t) => Some(t),
            other => {
                e.add(
                    &self.key(k),
                    format!("expected a section, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub fn tables(&mut self, k: &str, e: &mut Errors) -> Vec<&'a Table> {
        match self.get(k) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::Table(t) => Some(t),
                    _ => {
                        e.add(&format!("{}[{i}]", self.key(k)), "expected a [[section]]");
                        None
                    }
                })
                .collect(),
            Some(_) => {
                e.add(&self.key(k), "expected a list of [[sections]]");
                Vec::new()
            }
        }
    }

    /// Reports every key of the table that was not read.
    pub fn done(self, e: &mut Errors) {
        for k in self.table.keys() {
            if !self.used.contains(&k.as_str()) {
                e.add(&self.key(k), "unknown key");
            }
        }
    }
}

/// "25MB", "512KiB", "1G"; a bare number is bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like \"25MB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25MB"), Ok(25 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn unknown_and_mistyped_keys_are_all_reported() {
        let t: Table = toml::from_str("a = 1\nb = \"x\"\nc = true\n").unwrap();
        let mut e = Errors::default();
        let mut s = Section::new("sec", &t);
        s.opt_str("a", &mut e);
        s.str("missing", &mut e);
        s.done(&mut e);
        assert_eq!(
            e.0,
            vec![
                "sec.a: expected a string, found integer",
                "sec.missing: missing",
                "sec.b: unknown key",
                "sec.c: unknown key"
            ]
        );
    }
}
