//! Checks that keep the floor plan (issue 9): the layers' import arrows, read from every `use`
//! (grouped `use crate::{…}` too) and every inline `crate::` path; and a cap on file length.
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source files of a layer: `src/<layer>/**.rs` and `src/<layer>.rs`.
pub(crate) fn layer_files(layer: &str) -> Vec<PathBuf> {
    let src = repo().join("src");
    let mut files = rust_files(&src.join(layer));
    let single = src.join(format!("{layer}.rs"));
    if single.exists() {
        files.push(single);
    }
    files
}

/// The code of a file without comments (line comments and `/* */`) and string literals, so that
/// a doc line naming `crate::shell` is not an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every top-level module of the crate a file names: `crate::x`, `crate::{x, y::z}` and paths
/// through `super::` that climb out to the crate root.
fn named_layers(code: &str, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let compact: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut rest = compact.as_str();
    while let Some(at) = rest.find("crate::") {
        // `secmail_crate::` and the like are not the crate root.
        let before = rest[..at].chars().last();
        let tail = &rest[at + "crate::".len()..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = tail.strip_prefix('{') {
            // The first segment of each item of the group, nested groups skipped.
            let mut level = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => break,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if level == 0 {
                    item.push(c);
                }
            }
            out.push(first_segment(&item));
        } else {
            out.push(first_segment(tail));
        }
    }
    // `super::super::x` from a file `depth` modules below the root.
    if depth > 0 {
        let climb = "super::".repeat(depth);
        let mut rest = compact.as_str();
        while let Some(at) = rest.find(&climb) {
            let tail = &rest[at + climb.len()..];
            rest = tail;
            if !tail.starts_with("super::") {
                out.push(first_segment(tail));
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.trim()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("")
        .to_string()
}

/// How many modules below the crate root a file's module is (`src/core/apply.rs`: 2).
fn depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap();
    let parts = rel.components().count();
    let is_mod = rel.file_name().is_some_and(|n| n == "mod.rs");
    if is_mod {
        parts - 1
    } else {
        parts
    }
}

/// model < core < config < shell < cli < commands: a file names its own layer and those
/// below it only. Unit tests included.
#[test]
fn layers_point_down_only_grouped_imports_too() {
    let order = ["model", "core", "config", "shell", "cli", "commands"];
    let src = repo().join("src");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (rank, layer) in order.iter().enumerate() {
        for p in layer_files(layer) {
            let code = code_only(&std::fs::read_to_string(&p).unwrap());
            for named in named_layers(&code, depth(&src, &p)) {
                if order[rank + 1..].contains(&named.as_str()) {
                    wrong.push(format!(
                        "{}: {layer} names {named}, a layer above it",
                        p.strip_prefix(repo()).unwrap().display()
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 60, "{checked} files");
}

#[test]
fn the_import_reader_sees_groups_paths_and_climbs() {
    // The checker must be able to fail: each of these names shell.
    let cases = [
        ("use crate::shell::store::Store;", 2),
        ("use crate::{core::x, shell::{a, b}};", 2),
        ("use crate::{\n    shell,\n    model::Case,\n};", 2),
        ("fn f() { crate::shell::clock::now() }", 2),
        ("use super::super::shell::store;", 2),
    ];
    for (code, depth) in cases {
        let named = named_layers(&code_only(code), depth);
        assert!(named.iter().any(|n| n == "shell"), "{code}: {named:?}");
    }
    // and these do not.
    for code in [
        "// use crate::shell::store;",
        "let s = \"crate::shell\";",
        "use super::shell_like;",
    ] {
        let named = named_layers(&code_only(code), 1);
        assert!(!named.iter().any(|n| n == "shell"), "{code}: {named:?}");
    }
}

/// No file in src/ over this many lines, but for the ones named here with their reason.
const MAX_LINES: usize = 800;
const LONG_FILES: &[(&str, &str)] = &[];

#[test]
fn no_source_file_is_a_wing() {
    let src = repo().join("src");
    let mut long = Vec::new();
    for p in rust_files(&src) {
        let rel = p.strip_prefix(repo()).unwrap().display().to_string();
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        if lines > MAX_LINES && !LONG_FILES.iter().any(|(f, _)| *f == rel) {
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines (split it along its seams, or name it in LONG_FILES with why):\n{}",
        long.join("\n")
    );
}
