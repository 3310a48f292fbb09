//! The real binary on the shipped demo configuration, in a copy of the tree: `run --once` turns
//! the demo reports into cases and .eml files without changing the demo maildir, a second run
//! changes nothing, every subcommand's `--help` example runs, and errors map to sysexits codes.
use super::common::{plain_mail, repo};
use crate::harness::mail::SECURITY;
use crate::harness::{assert_ok, Deployment};
use clap::CommandFactory;
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A copy of what the demo needs: security.conf, keys/, templates/, fixtures/demo/.
pub(super) fn demo_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = repo();
    std::fs::copy(r.join("security.conf"), dir.path().join("security.conf")).unwrap();
    for sub in ["keys", "templates", "fixtures/demo", "fixtures/keys"] {
        copy_dir(&r.join(sub), &dir.path().join(sub));
    }
    dir
}

/// [`demo_tree`] with `extra` added, after a blank line, at the end of its security.conf.
pub(super) fn demo_tree_with(extra: &str) -> tempfile::TempDir {
    let dir = demo_tree();
    let conf = dir.path().join("security.conf");
    let base = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{base}\n{extra}")).unwrap();
    dir
}

pub(super) fn secmail(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_secmail"))
        .current_dir(dir)
        .args(args)
        .env_remove("SECMAIL_LOG")
        .output()
        .unwrap()
}

fn tree_digest(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `secmail check` in `dir`: its result and all it printed, stdout then stderr.
fn check(dir: &std::path::Path) -> (std::process::Output, String) {
    let out = secmail(dir, &["check"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, all)
}

#[test]
fn demo_runs_once_and_is_idempotent() {
    let dir = demo_tree();
    let before = tree_digest(&dir.path().join("fixtures"));
    let out = secmail(dir.path(), &["run", "--once"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DEMO KEYS IN USE"),
        "the demo keys must be announced loudly"
    );
    for line in [
        "opened from reporter (decrypted, signature good) → ack (encrypted), 2 team copies",
        "opened from reporter (decrypted, signature none) → ack (signed), 2 team copies",
        "opened from reporter (clear, signature none) → ack (signed), 2 team copies",
        "follow-up from reporter (decrypted, signature good) → 2 team copies",
        "machine (Auto-Submitted: auto-replied): no case, not answered",
        "opened from reporter (not-for-us, signature none) → not-for-us (signed), 2 team copies",
        "6 new message(s) handled; 14 sent to ./var/outbox",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let outbox: Vec<_> = std::fs::read_dir(dir.path().join("var/outbox"))
        .unwrap()
        .collect();
    assert_eq!(outbox.len(), 14);
    assert_eq!(
        tree_digest(&dir.path().join("fixtures")),
        before,
        "the demo changed a tracked file"
    );

    let again = secmail(dir.path(), &["run", "--once"]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 new message(s) handled; 0 sent"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("var/outbox"))
            .unwrap()
            .count(),
        14
    );
}

/// Subcommands that came without a `--help` example (src/cli.rs needs an `after_help` for
/// each). Listed, so that the next one without an example fails here and each one given an
/// example must leave the list; until then their help is only checked to have none.
const WITHOUT_EXAMPLE: &[&str] = &[];

#[test]
fn every_help_example_runs() {
    let dir = demo_tree();
    let top = secmail(dir.path(), &["--help"]);
    let help = String::from_utf8_lossy(&top.stdout).into_owned();
    let mut examples: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim().strip_prefix("secmail "))
        .map(|l| l.split("  ").next().unwrap().trim().to_string())
        .collect();
    // Every subcommand clap knows, nested ones too (`distributors add`): none is forgotten here.
    let mut subcommands = Vec::new();
    subcommands_of(&secmail::cli::Cli::command(), &[], &mut subcommands);
    assert!(subcommands.len() >= 11, "{subcommands:?}");
    for words in &subcommands {
        let sub = words.join(" ");
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let out = secmail(dir.path(), &args);
        let text = String::from_utf8_lossy(&out.stdout);
        let ex: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("secmail "))
            .map(str::to_string)
            .collect();
        if WITHOUT_EXAMPLE.contains(&sub.as_str()) {
            assert!(
                ex.is_empty(),
                "`secmail {sub} --help` has an example now: take it off WITHOUT_EXAMPLE"
            );
            continue;
        }
        assert!(
            !ex.is_empty(),
            "`secmail {sub} --help` has no example:\n{text}"
        );
        // restore and import need a backup file or an old mailbox, outbox retry and drop an
        // entry, quarantine show and release a kept message: their own tests run them
        // (tests/it/service.rs, tests/it/import.rs, tests/it/control.rs,
        // tests/it/quarantine.rs); here only that the example is there.
        if !matches!(
            sub.as_str(),
            "restore"
                | "import"
                | "outbox retry"
                | "outbox drop"
                | "quarantine show"
                | "quarantine release"
        ) {
            examples.extend(ex);
        }
    }
    // Order matters: the case example needs the run first.
    examples.sort_by_key(|e| !e.contains("run"));
    let mut seen = std::collections::HashSet::new();
    examples.retain(|e| seen.insert(e.clone()));
    assert!(examples.len() >= 8, "{examples:?}");
    for ex in &examples {
        let args = shell_words(ex);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = secmail(dir.path(), &args);
        assert!(
            out.status.success(),
            "example `secmail {ex}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The words naming each subcommand of `command` below `path`, in clap's order, each followed
/// by its own subcommands.
fn subcommands_of(command: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
    // Hidden ones (`generate`, for packaging) are not an operator's: no example is promised.
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut words = path.to_vec();
        words.push(sub.get_name().to_string());
        out.push(words.clone());
        subcommands_of(sub, &words, out);
    }
}

/// Splits an example command line as a shell would (double quotes), and keeps absolute paths
/// inside the test's directory (`/etc/secmail` → `etc/secmail`).
fn shell_words(line: &str) -> Vec<String> {
    secmail::core::command::disclosure::split_words(line)
        .unwrap_or_else(|e| panic!("example {line:?}: {e}"))
        .into_iter()
        .map(|w| w.strip_prefix('/').map(str::to_string).unwrap_or(w))
        .collect()
}

#[test]
fn errors_map_to_sysexits() {
    let dir = demo_tree();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "[project]\nname = 1\ncolour = \"blue\"\n").unwrap();
    let out = secmail(dir.path(), &["--config", "bad.conf", "check"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "project.name",
        "project.colour: unknown key",
        "project.security-address: missing",
        "inbound: missing",
        "keys.secret: missing",
    ] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    let out = secmail(dir.path(), &["case", "NOT-AN-ID"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = secmail(dir.path(), &["case", "SEC-2026-0999"]);
    assert_eq!(out.status.code(), Some(65));
    let out = secmail(dir.path(), &["cases", "--state", "bogus"]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn core_and_model_do_no_io() {
    // STYLE.md: the functional core imports no tokio, sled, lettre, std::fs, std::net, std::env,
    // and reads no clock.
    let forbidden = [
        "tokio",
        "sled",
        "lettre",
        "std::fs",
        "std::net",
        "std::env",
        "SystemTime::now",
        "Utc::now",
        "Instant::now",
    ];
    let mut checked = 0;
    let mut files = Vec::new();
    let mut dirs = vec![repo().join("src/core"), repo().join("src/model")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        // Unit tests at the end of a file may use the clock and the file system.
        let code_part = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code_part.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in forbidden {
                assert!(
                    !code.contains(f),
                    "{}:{}: the pure core uses {f}",
                    p.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn layers_point_down_only() {
    // Issue 9: model < core < config < shell < cli (the argument types) < commands; main.rs
    // on top. A file names only its own layer and those below. Unit tests included.
    let order = ["model", "core", "config", "shell", "cli", "commands"];
    let mut checked = 0;
    for (rank, layer) in order.iter().enumerate() {
        for p in super::tidy::layer_files(layer) {
            let text = std::fs::read_to_string(&p).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for above in &order[rank + 1..] {
                    assert!(
                        !code.contains(&format!("crate::{above}::"))
                            && !code.contains(&format!("crate::{above}}}"))
                            && !code.contains(&format!("crate::{above};")),
                        "{}:{}: {layer} names {above}, a layer above it",
                        p.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} files");
}

#[test]
fn a_store_over_most_of_its_size_limit_tells_the_team() {
    // Class 6 of SECURITY.md: the store grows with every message; the team hears before it
    // is full. The same demo run with and without a tiny `[store] max-size`.
    let alerts = |dir: &Path| -> usize {
        std::fs::read_dir(dir.join("var/outbox"))
            .unwrap()
            .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
            .filter(|m| String::from_utf8_lossy(m).contains("Message-ID: <team-alert."))
            .count()
    };
    let plain = demo_tree();
    let out = secmail(plain.path(), &["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let small = demo_tree();
    let conf = small.path().join("security.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("path = \"var/store\"\n"));
    std::fs::write(
        &conf,
        text.replace(
            "path = \"var/store\"\n",
            "path = \"var/store\"\nmax-size = \"4KB\"\n",
        ),
    )
    .unwrap();
    let out = secmail(small.path(), &["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        alerts(small.path()),
        alerts(plain.path()) + 2,
        "one store-size alert for each of the two members"
    );
}

#[test]
fn check_renders_every_template_strictly_and_names_the_typo() {
    // Issue 12.6: a typo in a variable passed `check` and withheld the ack at send time.
    let check = |edit: &dyn Fn(&str) -> String, needles: &[&str]| {
        let dir = demo_tree();
        let ack = dir.path().join("templates/ack.hbs");
        let text = std::fs::read_to_string(&ack).unwrap();
        std::fs::write(&ack, edit(&text)).unwrap();
        let (out, all) = check(dir.path());
        assert_eq!(out.status.code(), Some(78), "{all}");
        for n in needles {
            assert!(all.contains(n), "{n:?} not in:\n{all}");
        }
    };
    // In a plain expression, which strict rendering alone would catch.
    check(
        &|t| t.replace("opened case {{case_id}}", "opened case {{case_idd}}"),
        &["ack.hbs", "case_idd"],
    );
    // In an `{{#if}}`, which strict rendering does not catch (a missing value is false).
    check(
        &|t| t.replacen("{{#if reporter_name}}", "{{#if reporter_nmae}}", 1),
        &["ack.hbs", "reporter_nmae"],
    );
    // In the `{{else}}` branch the sample data does not take.
    check(
        &|t| t.replace("{{fingerprint_spaced}}", "{{fingerprint_spacd}}"),
        &["ack.hbs", "fingerprint_spacd"],
    );
}

#[test]
fn kinds_missing_from_the_templates_dir_fall_back_to_the_built_in_ones() {
    // Issue 12.6: an upgrade that adds a kind must not stop a deployment whose templates
    // directory predates it.
    let dir = demo_tree();
    std::fs::remove_file(dir.path().join("templates/ack.hbs")).unwrap();
    std::fs::remove_file(dir.path().join("templates/digest.hbs")).unwrap();
    let out = secmail(dir.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("built in: ack, digest"), "{stdout}");
    let out = secmail(dir.path(), &["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks = std::fs::read_dir(dir.path().join("var/outbox"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("ack.")
        })
        .count();
    assert!(
        acks >= 3,
        "acks rendered from the built-in template: {acks}"
    );
    // A template file that is no kind is a mistake `check` names (a renamed ack.hbs would
    // otherwise be ignored in favour of the built-in one).
    std::fs::write(dir.path().join("templates/akc.hbs"), "Hello\n").unwrap();
    let (out, all) = check(dir.path());
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("akc.hbs"), "{all}");
}

/// The .eml files in `d`'s outbox whose name begins with `kind.` and whose To is `to`, as
/// (raw text, decoded body).
fn sent_to(d: &Deployment, kind: &str, to: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names = d.outbox_files();
    names.sort();
    for name in names.iter().filter(|n| n.starts_with(&format!("{kind}."))) {
        let raw = std::fs::read(d.outbox().join(name)).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let rcpt = m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        if rcpt == to {
            let body = m.body_text(0).unwrap_or_default().replace("\r\n", "\n");
            out.push((String::from_utf8_lossy(&raw).into_owned(), body));
        }
    }
    out
}

/// The one message of `kind` to `to`.
fn one_to(d: &Deployment, kind: &str, to: &str) -> (String, String) {
    let mut all = sent_to(d, kind, to);
    assert_eq!(all.len(), 1, "{kind} to {to}: {:?}", d.outbox_files());
    all.remove(0)
}

#[test]
fn a_reporter_is_answered_in_their_language_and_the_timers_keep_to_it() {
    // Issue 12.6: `templates/<lang>/` overrides a kind for that language, chosen from the
    // reporter's Accept-Language (RFC 9110 §12.5.4) or Content-Language (RFC 3282), else the
    // policy default; a kind the language directory lacks falls back.
    let d = Deployment::local()
        .templates(&repo().join("fixtures/languages"))
        .policy("language = \"en\"\nupdate-every = \"2d\"\ndigest-every = \"never\"")
        .build();
    d.deliver(
        &plain_mail(
            "Greta Gruber <greta@reporter.example>",
            SECURITY,
            "Pufferüberlauf im Parser",
            "greta-1@reporter.example",
            "Accept-Language: de-AT, de;q=0.9, en;q=0.5\r\n",
            "Der Parser läuft bei langen Eingaben über.",
        ),
        "1.greta",
    );
    d.deliver(
        &plain_mail(
            "François Faure <francois@reporter.example>",
            SECURITY,
            "Débordement dans le parseur",
            "francois-1@reporter.example",
            "Accept-Language: fr\r\n",
            "Le parseur déborde.",
        ),
        "2.francois",
    );
    // Olga's report is encrypted to a key we do not hold; her client says it is German.
    let olga =
        std::fs::read_to_string(repo().join("fixtures/demo/maildir/new/0006.report-wrong-key.eml"))
            .unwrap()
            .replacen("Subject:", "Content-Language: de\r\nSubject:", 1);
    d.deliver(olga.as_bytes(), "3.olga");
    let out = d.once(&[("SECMAIL_NOW", "2026-12-01T10:00:00Z")]);
    assert_ok(&out, &["run", "--once"]);

    // Greta: the exact tag de-AT has no templates, its primary subtag de has.
    let (raw, body) = one_to(&d, "ack", "greta@reporter.example");
    assert!(body.contains("vielen Dank für Ihre Meldung"), "{body}");
    assert!(raw.contains("\r\nContent-Language: de\r\n"), "{raw}");
    // The mail it answers is named in German, from `answering`'s parts (its date only: the
    // ack is not encrypted, so it does not repeat her subject), not in the English phrase.
    assert!(
        body.contains("Dies beantwortet Ihre Nachricht vom "),
        "{body}"
    );
    assert!(!body.contains(" sent "), "{body}");
    // François: no fr templates, so the policy default (en), from the built-in template.
    let (raw, body) = one_to(&d, "ack", "francois@reporter.example");
    assert!(body.contains("Thank you for your report"), "{body}");
    assert!(raw.contains("\r\nContent-Language: en\r\n"), "{raw}");
    // Olga: German, but de/ has no not-for-us template: the built-in (English) one.
    let (raw, body) = one_to(&d, "not-for-us", "olga@oldkey.example");
    assert!(body.contains("encrypted to a key we do not hold"), "{body}");
    assert!(raw.contains("\r\nContent-Language: en\r\n"), "{raw}");
    // The team's copies are in the policy default whatever the reporter's language, though
    // de/ has a team-copy template (a German one would say "Antworten Sie").
    let alice = super::common::secret("team-alice-secret.asc");
    let copies = sent_to(&d, "team-copy", "alice@example.org");
    assert_eq!(copies.len(), 3, "{:?}", d.outbox_files());
    for (raw, _) in copies {
        let text = super::common::open_sent(raw.as_bytes(), &alice);
        assert!(
            text.contains("Reply to this message to write in the case"),
            "{text}"
        );
        assert!(!text.contains("Antworten Sie"), "{text}");
    }
    // The choice is kept on the case's reporter, for what the timers send later.
    let languages: Vec<(String, serde_json::Value)> = d
        .cases_json()
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_string();
            let r = &d.case_json(&id)["reporters"][0];
            (
                r["address"].as_str().unwrap().to_string(),
                r["language"].clone(),
            )
        })
        .collect();
    for (who, want) in [
        ("greta@reporter.example", serde_json::json!("de")),
        ("francois@reporter.example", serde_json::Value::Null),
        ("olga@oldkey.example", serde_json::json!("de")),
    ] {
        assert!(
            languages.iter().any(|(a, l)| a == who && *l == want),
            "{who}: {languages:?}"
        );
    }

    // Three days later the timers send progress updates: Greta's in German again.
    let out = d.once(&[("SECMAIL_NOW", "2026-12-04T10:00:00Z")]);
    assert_ok(&out, &["run", "--once"]);
    let (raw, body) = one_to(&d, "progress", "greta@reporter.example");
    assert!(body.contains("dies ist eine Zwischenmeldung"), "{body}");
    assert!(raw.contains("\r\nContent-Language: de\r\n"), "{raw}");
    let (_, body) = one_to(&d, "progress", "francois@reporter.example");
    assert!(body.contains("This is a progress update"), "{body}");
}

#[test]
fn check_names_the_language_of_a_template_with_a_typo() {
    let dir = demo_tree();
    let de = dir.path().join("templates/de");
    copy_dir(&repo().join("fixtures/languages/de"), &de);
    let out = secmail(dir.path(), &["check"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ack = de.join("ack.hbs");
    let text = std::fs::read_to_string(&ack).unwrap();
    std::fs::write(
        &ack,
        text.replacen("{{#if reporter_name}}", "{{#if reporter_nmae}}", 1),
    )
    .unwrap();
    let (out, all) = check(dir.path());
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("templates/de/ack.hbs line 1"), "{all}");
    assert!(all.contains("`reporter_nmae`"), "{all}");
    // A file in a language directory that is no kind is named as at the top.
    std::fs::write(&ack, text).unwrap();
    std::fs::write(de.join("akc.hbs"), "Hallo\n").unwrap();
    let (out, all) = check(dir.path());
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("templates/de/akc.hbs: names no kind"), "{all}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // Issue 12.9: `secmail case X | head` panicked with a backtrace on the broken pipe.
    use std::process::Stdio;
    let dir = demo_tree();
    let out = secmail(dir.path(), &["run", "--once"]);
    assert!(out.status.success());
    for args in [
        &["case", "SEC-2026-0001"][..],
        &["cases"],
        &["security-txt"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_secmail"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("SECMAIL_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first line is written, as `head` does after its
        // tenth.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Broken pipe"),
            "{args:?}: nothing to say about it: {stderr}"
        );
        // Ended by SIGPIPE, as `cat` or `git log` are (exit 141 in a shell).
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn the_store_is_private_whatever_the_umask() {
    // Issue 12.9: outside systemd (no UMask=) the store was created 0755/0644.
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = demo_tree();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secmail"));
    cmd.current_dir(dir.path())
        .args(["run", "--once"])
        .env_remove("SECMAIL_LOG");
    // SAFETY: umask only sets the child's file mode creation mask, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = 0;
    let mut stack = vec![dir.path().join("var/store"), dir.path().join("var/outbox")];
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&stack[0]), 0o700);
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "{seen} files");
}

#[test]
fn a_restore_by_root_leaves_the_store_to_its_owner() {
    // Issue 12.9: a root-run restore left files the service user cannot open. Decided: the
    // restored store is given to the owner of the store directory (or of its parent, for a
    // new one), and the restore says so.
    use std::os::unix::fs::MetadataExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPING a_restore_by_root_leaves_the_store_to_its_owner: not root");
        return;
    }
    let dir = demo_tree();
    assert!(secmail(dir.path(), &["run", "--once"]).status.success());
    let file = dir.path().join("backup.pgp");
    let out = secmail(dir.path(), &["backup", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    const NOBODY: u32 = 65534;
    // An empty store the service made (owned by its user), and a new one in its directory.
    let service_dir = dir.path().join("state");
    std::fs::create_dir(&service_dir).unwrap();
    std::os::unix::fs::chown(&service_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let existing = service_dir.join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::os::unix::fs::chown(&existing, Some(NOBODY), Some(NOBODY)).unwrap();
    for store in [existing, service_dir.join("new")] {
        let out = secmail(
            dir.path(),
            &[
                "restore",
                file.to_str().unwrap(),
                "--store",
                store.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("uid {NOBODY}")), "{stdout}");
        let mut stack = vec![store.clone()];
        let mut seen = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", p.display());
                seen += 1;
                if m.is_dir() {
                    stack.push(p);
                }
            }
        }
        let m = std::fs::metadata(&store).unwrap();
        assert_eq!(m.uid(), NOBODY, "{}", store.display());
        // sled's conf, db and blobs/ at least.
        assert!(seen >= 3, "{seen}");
    }
}

#[test]
fn log_format_json_is_one_object_per_line() {
    // Issue 12.7: logs a machine can parse. Each line of stderr is one JSON object, the final
    // error of the command too.
    let dir = demo_tree();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "[project]\nname = 1\ncolour = \"blue\"\n").unwrap();
    for (args, code, level, needle) in [
        (
            &["--log-format", "json", "check"][..],
            0,
            "WARN",
            "DEMO KEYS IN USE",
        ),
        (
            &["--log-format", "json", "--config", "bad.conf", "check"][..],
            78,
            "ERROR",
            "project.colour: unknown key",
        ),
    ] {
        let out = secmail(dir.path(), args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<serde_json::Value> = stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect();
        let hit = lines
            .iter()
            .find(|l| l["level"] == level && l.to_string().contains(needle))
            .unwrap_or_else(|| panic!("no {level} line with {needle:?} in {stderr}"));
        if code != 0 {
            assert_eq!(hit["exit_code"], code, "{hit}");
        }
    }
    // Text stays the default at a terminal and when asked for.
    let out = secmail(dir.path(), &["--log-format", "text", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(" WARN ") && stderr.contains("DEMO KEYS"),
        "{stderr}"
    );
    let out = secmail(dir.path(), &["--log-format", "xml", "check"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "a usage error is 64, as every other"
    );
}

#[test]
fn what_would_be_overwritten_is_exit_73() {
    // One code per meaning (README "Exit codes"): a non-empty store for restore, like an
    // existing deployment for init, is 73, not an I/O error.
    let dir = demo_tree();
    assert!(secmail(dir.path(), &["run", "--once"]).status.success());
    let file = dir.path().join("backup.pgp");
    assert!(secmail(dir.path(), &["backup", file.to_str().unwrap()])
        .status
        .success());
    let out = secmail(dir.path(), &["restore", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("already holds data"), "{stderr}");
    std::fs::write(dir.path().join("backup.partial"), "").unwrap();
    let out = secmail(dir.path(), &["backup", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(73));
}
