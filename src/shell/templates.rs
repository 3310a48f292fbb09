//! The message templates as the daemon and `check` load them: the `.hbs` files of the
//! configured directory (`[templates] dir`), and for every kind that directory lacks the
//! shipped template, built into the binary, so that an upgrade which adds a kind does not stop
//! a deployment whose directory predates it (issue 12.6).
//!
//! A subdirectory named by a language tag (`de`, `pt-BR`; BCP 47, case ignored) holds that
//! language's templates: each overrides its kind for reporters written to in that language; a
//! kind it lacks is the top's (`templates/<kind>.hbs`, then the built-in one).
//!
//! Invariants: every kind has a template once loaded (a file or the built-in one); a file
//! that names no kind (`akc.hbs`, at the top or in a language's directory) and a directory
//! that names no language (`de_DE`) are reported, never silently ignored, since the template
//! at the top would then stand in for the one the operator meant to change. Hidden
//! directories (`.git`) are not looked at.
use crate::config::Config;
use crate::core::compose::Templates;
use crate::core::draft::language::{self, Directory};
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
    /// `.hbs` files in the directory, or in a language's, that are no kind's template.
    pub unknown: Vec<PathBuf>,
    /// Directories that name no language (`de_DE`, `german`, `de/AT`): every directory of
    /// templates must be a language tag directly under the templates directory.
    pub not_languages: Vec<PathBuf>,
}

/// One directory's entries: its templates (name without `.hbs`, text), its `.hbs` files that
/// name no kind, and its subdirectories.
struct Entries {
    sources: Vec<(String, String)>,
    unknown: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

fn entries(dir: &Path) -> Result<Entries> {
    let mut out = Entries {
        sources: Vec::new(),
        unknown: Vec::new(),
        dirs: Vec::new(),
    };
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading templates from {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            out.dirs.push(p);
            continue;
        }
        if !p.is_file() || p.extension().is_none_or(|x| x != "hbs") {
            continue;
        }
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if !Kind::ALL.iter().any(|k| k.template() == name) {
            out.unknown.push(p);
            continue;
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        out.sources.push((name, text));
    }
    Ok(out)
}

/// Loads `dir/*.hbs`, the built-in templates standing in for kinds without a file, then each
/// language's `dir/<lang>/*.hbs` (any subset of the kinds; directory names compared without
/// regard to case). `default_language` is the policy default, the language of the top ones. A
/// template that does not compile is an error naming it; so is a directory that cannot be
/// read, and two directories of one language (`de`, `DE`).
pub fn load(dir: &Path, default_language: Option<&str>) -> Result<Loaded> {
    let top = entries(dir)?;
    let mut sources = top.sources;
    let mut unknown = top.unknown;
    let mut not_languages = Vec::new();
    let mut built_in = Vec::new();
    for (name, text) in BUILT_IN {
        if !sources.iter().any(|(n, _)| n == name) {
            built_in.push(*name);
            sources.push((name.to_string(), text.to_string()));
        }
    }
    let fail = |errs: Vec<String>| anyhow::anyhow!("{}: {}", dir.display(), errs.join("; "));
    let mut templates = Templates::from_sources(&sources).map_err(fail)?;
    for sub in top.dirs {
        let name = sub
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tag = match language::directory(&name) {
            Directory::Language(tag) => tag,
            Directory::Hidden => continue,
            Directory::NotALanguage => {
                not_languages.push(sub);
                continue;
            }
        };
        let lang = entries(&sub)?;
        unknown.extend(lang.unknown);
        not_languages.extend(lang.dirs);
        templates
            .add_language(&tag, &name, &lang.sources)
            .map_err(fail)?;
    }
    templates.set_origin(&built_in, default_language);
    Ok(Loaded {
        templates,
        built_in,
        unknown,
        not_languages,
    })
}

/// [`load`] for the daemon and the commands that send, from `config`'s directory in its
/// default language: the templates only; files and directories that name no kind or language
/// are logged.
pub fn load_templates(config: &Config) -> Result<Templates> {
    let loaded = load(&config.templates_dir, config.languages.default.as_deref())?;
    for p in &loaded.unknown {
        tracing::warn!(file = %p.display(), "template file names no kind of message; ignored");
    }
    for p in &loaded.not_languages {
        tracing::warn!(dir = %p.display(), "template directory names no language (a BCP 47 tag like de or pt-BR); ignored");
    }
    Ok(loaded.templates)
}

/// `secmail check`: [`load`], then every template — at the top and in each language's
/// directory — rendered in strict mode from sample data of its kind and every variable it names
/// checked, in all branches (`compose::Templates::check`). The error lists every problem, each
/// naming the file (`templates/de/ack.hbs line 1: …`).
pub fn check(config: &Config) -> Result<Loaded> {
    let dir = &config.templates_dir;
    let loaded = load(dir, config.languages.default.as_deref())?;
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
    for p in &loaded.not_languages {
        problems.push(format!(
            "{}: names no language (a directory of templates is a BCP 47 tag like de or pt-BR, directly in {})",
            p.display(),
            dir.display()
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
    use crate::core::compose::sample_vars;

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
        let loaded = load(&dir, None).unwrap();
        assert!(loaded.built_in.is_empty(), "{:?}", loaded.built_in);
        assert!(loaded.unknown.is_empty(), "{:?}", loaded.unknown);
        assert!(
            loaded.not_languages.is_empty(),
            "{:?}",
            loaded.not_languages
        );
        assert!(loaded.templates.languages().is_empty());
        assert!(loaded.templates.check().is_empty());
    }

    #[test]
    fn a_language_overrides_its_kinds_and_falls_back_to_the_top_then_the_built_in() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("progress.hbs", "top progress {{case_id}}\n");
        write("de/ack.hbs", "Hallo {{project}}\n");
        write("pt-br/ack.hbs", "Olá {{project}}\n");
        write("de/akc.hbs", "Hallo\n");
        write("de/notes.txt", "not a template\n");
        write("de_DE/ack.hbs", "Hallo\n");
        write(".git/ack.hbs", "{{nonsense\n");
        let loaded = load(dir.path(), Some("en")).unwrap();
        let t = &loaded.templates;
        assert_eq!(t.languages(), ["de", "pt-BR"]);
        assert_eq!(loaded.unknown, [dir.path().join("de/akc.hbs")]);
        assert_eq!(loaded.not_languages, [dir.path().join("de_DE")]);
        let pick = |kind: Kind, lang: Option<&str>| {
            let (name, written_in) = t.pick(kind, lang);
            (name, written_in.unwrap_or_default())
        };
        let row = |kind: Kind, lang: Option<&str>, name: &str, written_in: &str| {
            assert_eq!(
                pick(kind, lang),
                (name.to_string(), written_in.to_string()),
                "{kind:?} in {lang:?}"
            );
        };
        row(Kind::Ack, Some("de"), "de/ack", "de");
        // Directory names and recorded tags compared without regard to case.
        row(Kind::Ack, Some("PT-BR"), "pt-br/ack", "pt-BR");
        // A kind de/ lacks: the top's file, written in the policy default …
        row(Kind::Progress, Some("de"), "progress", "en");
        // … and one the top lacks too: the built-in template, in English.
        row(Kind::Relay, Some("de"), "relay", "en");
        // No language of their own, or one without templates: the policy default.
        row(Kind::Ack, None, "ack", "en");
        row(Kind::Ack, Some("fr"), "ack", "en");
        let sample = sample_vars(Kind::Ack);
        assert_eq!(
            t.render("de/ack", &sample).unwrap(),
            "Hallo Example Project\n"
        );

        // With de as the policy default, everyone without a language of their own gets de/.
        let loaded = load(dir.path(), Some("de")).unwrap();
        assert_eq!(loaded.templates.pick(Kind::Ack, None).0, "de/ack");
        let (name, written_in) = loaded.templates.pick(Kind::Progress, None);
        assert_eq!(
            (name.as_str(), written_in.as_deref()),
            ("progress", Some("de"))
        );
        // Without a default, the top's files say no language; the built-in ones still do.
        let loaded = load(dir.path(), None).unwrap();
        assert_eq!(loaded.templates.pick(Kind::Progress, None).1, None);
        assert_eq!(
            loaded.templates.pick(Kind::Ack, Some("fr")).1.as_deref(),
            Some("en")
        );

        // check holds a language's templates to the same rules, naming the directory.
        write("de/ack.hbs", "Hallo {{projekt}}\n");
        let problems = load(dir.path(), None).unwrap().templates.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("template de/ack.hbs line 1: unknown variable `projekt`"),
            "{problems:?}"
        );
        // A template that does not compile names its file; two directories of one language
        // are refused.
        write("de/ack.hbs", "Hallo {{#if x}}\n");
        let err = format!("{:#}", load(dir.path(), None).err().unwrap());
        assert!(err.contains("template de/ack"), "{err}");
        write("de/ack.hbs", "Hallo\n");
        write("DE/ack.hbs", "Hallo\n");
        if dir.path().join("de").canonicalize().unwrap()
            != dir.path().join("DE").canonicalize().unwrap()
        {
            let err = format!("{:#}", load(dir.path(), None).err().unwrap());
            assert!(err.contains("are both the language de"), "{err}");
        }
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
