//! The message templates as the daemon and `check` load them: the `.hbs` files of the
//! configured directory (`[templates] dir`), and for every kind that directory lacks the
//! shipped template, built into the binary, so that an upgrade which adds a kind does not stop
//! a deployment whose directory predates it (issue 12.6).
//!
//! Invariants: every kind has a template once loaded (a file or the built-in one); a file
//! that names no kind (`akc.hbs`) is reported, never silently ignored, since the built-in
//! template would then stand in for the one the operator meant to change.
use crate::core::compose::Templates;
use crate::core::draft::Kind;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The shipped `templates/*.hbs`, one per kind.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("ack", include_str!("../../templates/ack.hbs")),
    ("team-copy", include_str!("../../templates/team-copy.hbs")),
    ("not-for-us", include_str!("../../templates/not-for-us.hbs")),
    (
        "no-integrity",
        include_str!("../../templates/no-integrity.hbs"),
    ),
    ("unreadable", include_str!("../../templates/unreadable.hbs")),
    ("team-alert", include_str!("../../templates/team-alert.hbs")),
    (
        "advance-notice",
        include_str!("../../templates/advance-notice.hbs"),
    ),
    (
        "final-notice",
        include_str!("../../templates/final-notice.hbs"),
    ),
    (
        "embargo-over",
        include_str!("../../templates/embargo-over.hbs"),
    ),
    (
        "disclosure-date",
        include_str!("../../templates/disclosure-date.hbs"),
    ),
    (
        "announcement",
        include_str!("../../templates/announcement.hbs"),
    ),
    (
        "command-result",
        include_str!("../../templates/command-result.hbs"),
    ),
    (
        "command-refused",
        include_str!("../../templates/command-refused.hbs"),
    ),
    ("relay", include_str!("../../templates/relay.hbs")),
    (
        "contact-offer",
        include_str!("../../templates/contact-offer.hbs"),
    ),
    (
        "contact-made",
        include_str!("../../templates/contact-made.hbs"),
    ),
    ("reminder", include_str!("../../templates/reminder.hbs")),
    ("escalation", include_str!("../../templates/escalation.hbs")),
    ("progress", include_str!("../../templates/progress.hbs")),
    (
        "ack-coalesced",
        include_str!("../../templates/ack-coalesced.hbs"),
    ),
    ("digest", include_str!("../../templates/digest.hbs")),
    ("too-large", include_str!("../../templates/too-large.hbs")),
];

/// The templates and where they came from.
pub struct Loaded {
    pub templates: Templates,
    /// The kinds that had no file in the directory and use the built-in template.
    pub built_in: Vec<&'static str>,
    /// `.hbs` files in the directory that are no kind's template.
    pub unknown: Vec<PathBuf>,
}

/// Loads `dir/*.hbs`, the built-in templates standing in for kinds without a file. A template
/// that does not compile is an error naming it; so is a directory that cannot be read.
pub fn load(dir: &Path) -> Result<Loaded> {
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut unknown = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading templates from {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if !p.is_file() || p.extension().is_none_or(|x| x != "hbs") {
            continue;
        }
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if !Kind::ALL.iter().any(|k| k.template() == name) {
            unknown.push(p);
            continue;
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        sources.push((name, text));
    }
    let mut built_in = Vec::new();
    for (name, text) in BUILT_IN {
        if !sources.iter().any(|(n, _)| n == name) {
            built_in.push(*name);
            sources.push((name.to_string(), text.to_string()));
        }
    }
    let templates = Templates::from_sources(&sources)
        .map_err(|errs| anyhow::anyhow!("{}: {}", dir.display(), errs.join("; ")))?;
    Ok(Loaded {
        templates,
        built_in,
        unknown,
    })
}

/// [`load`] for the daemon and the commands that send: the templates only; files that name
/// no kind are logged.
pub fn load_templates(dir: &Path) -> Result<Templates> {
    let loaded = load(dir)?;
    for p in &loaded.unknown {
        tracing::warn!(file = %p.display(), "template file names no kind of message; ignored");
    }
    Ok(loaded.templates)
}

/// `secmail check`: [`load`], then every template rendered in strict mode from sample data of
/// its kind and every variable it names checked, in all branches
/// (`compose::Templates::check`). The error lists every problem, each naming the file.
pub fn check(dir: &Path) -> Result<Loaded> {
    let loaded = load(dir)?;
    let mut problems: Vec<String> = loaded
        .templates
        .check()
        .into_iter()
        .map(|p| match p.strip_prefix("template ") {
            Some(rest) => format!("{}/{rest}", dir.display()),
            None => p,
        })
        .collect();
    for p in &loaded.unknown {
        problems.push(format!(
            "{}: names no kind of message (the kinds: {})",
            p.display(),
            Kind::ALL.map(Kind::template).join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        anyhow::bail!("templates:\n  {}", problems.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_built_in_template_that_passes_check() {
        let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, Kind::ALL.map(Kind::template).to_vec());
        let sources: Vec<(String, String)> = BUILT_IN
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let t = Templates::from_sources(&sources).unwrap();
        assert_eq!(t.check(), Vec::<String>::new());
    }

    #[test]
    fn the_shipped_directory_is_the_built_in_set() {
        // The built-in templates are the files of templates/, not a copy that drifts.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let loaded = load(&dir).unwrap();
        assert!(loaded.built_in.is_empty(), "{:?}", loaded.built_in);
        assert!(loaded.unknown.is_empty(), "{:?}", loaded.unknown);
        check(&dir).unwrap();
    }

    #[test]
    fn check_names_the_template_line_and_variable() {
        let row = |edit: &str, want: &[&str]| {
            let mut sources: Vec<(String, String)> = BUILT_IN
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
            sources[0].1 = edit.to_string();
            let problems = Templates::from_sources(&sources).unwrap().check();
            // No problem, or one that names the template and holds every needle.
            assert_eq!(
                problems.len(),
                usize::from(!want.is_empty()),
                "{edit:?}: {problems:?}"
            );
            for p in &problems {
                assert!(p.starts_with("template ack.hbs"), "{p}");
                for w in want {
                    assert!(p.contains(w), "{edit:?}: {w:?} not in {p}");
                }
            }
        };
        row("Hello {{reporter_name}}", &[]);
        row("Hello {{reporter_nmae}}", &["line 1", "`reporter_nmae`"]);
        row(
            "x\n{{#if reporter_nmae}}y{{/if}}",
            &["line 2", "`reporter_nmae`"],
        );
        row(
            "{{#unless encrypted}}{{fingerprnt}}{{/unless}}",
            &["`fingerprnt`"],
        );
        row(
            "{{#if encrypted}}a{{else}}{{fingerprnt}}{{/if}}",
            &["`fingerprnt`"],
        );
        row("{{#each ask_for}}{{this}}{{@index}}{{/each}}", &[]);
        // Inside `each` names are the item's: the top-level ones need `../` or `@root`.
        row("{{#each ask_for}}{{project}}{{/each}}", &["`project`"]);
        row(
            "{{#each ask_for}}{{../project}}{{@root.case_id}}{{/each}}",
            &[],
        );
        row("{{#if (eq case_idd 1)}}x{{/if}}", &["`case_idd`"]);
    }
}
