//! Class 9, leaks to logs and disk: no report content at any log level (not ours, not a
//! dependency's: handlebars logs the variables it renders at debug and trace), directories
//! 0700 and files 0600 whatever the umask, and the backup's temporary file created
//! exclusively, never through a symlink.
use super::super::cli::demo_tree;
use super::craft::Actor;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const MARK_SUBJECT: &str = "Qx7subjectLEAKMARK";
const MARK_BODY: &str = "Qx7bodyLEAKMARK";
const MARK_NAME: &str = "Qx7nameLEAKMARK";
const MARK_FILE: &str = "Qx7fileLEAKMARK";
const MARK_CLEAR: &str = "Qx7clearLEAKMARK";
const MARKS: [&str; 5] = [MARK_SUBJECT, MARK_BODY, MARK_NAME, MARK_FILE, MARK_CLEAR];

/// The binary in `dir` under umask 022, logging at `log`.
fn secmail(dir: &Path, log: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_secmail"))
        .args(args)
        .current_dir(dir)
        .env("SECMAIL_LOG", log)
        .env_remove("SECMAIL_NOW")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap()
}

/// The demo tree with two more reports carrying the markers: one encrypted by Rita (protected
/// subject, body, an attachment's name, her display name), one in the clear.
fn tree_with_marked_reports() -> tempfile::TempDir {
    let dir = demo_tree();
    let new = dir.path().join("fixtures/demo/maildir/new");
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"in1\"; protected-headers=\"v1\"\nSubject: {MARK_SUBJECT} in the parser\n\n--in1\nContent-Type: text/plain; charset=utf-8\n\nTo reproduce: {MARK_BODY} then run it.\n--in1\nContent-Type: text/plain; name=\"{MARK_FILE}.txt\"\nContent-Disposition: attachment; filename=\"{MARK_FILE}.txt\"\n\nproof of concept\n--in1--\n"
    );
    let headers = format!("From: Rita {MARK_NAME} <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <leak-1@reporter.example>\r\nDate: Sat, 28 Nov 2026 11:00:00 +0000\r\n");
    std::fs::write(
        new.join("0100.leak-encrypted.eml"),
        Actor::rita().pgp_mime(&headers, &inner),
    )
    .unwrap();
    std::fs::write(
        new.join("0101.leak-clear.eml"),
        format!("From: Carl {MARK_NAME} <carl@reporter.example>\r\nTo: security@example.org\r\nSubject: {MARK_CLEAR} overflow\r\nMessage-ID: <leak-2@reporter.example>\r\nDate: Sat, 28 Nov 2026 11:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe {MARK_CLEAR} record overflows.\r\n"),
    )
    .unwrap();
    dir
}

fn assert_no_marks(what: &str, out: &Output) {
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for m in MARKS {
        let line = all.lines().find(|l| l.contains(m));
        assert!(
            line.is_none(),
            "{what}: report content in the log: {line:?}"
        );
    }
}

#[test]
fn no_report_content_at_any_log_level() {
    for level in ["trace", "debug", "trace,handlebars::render=trace"] {
        let dir = tree_with_marked_reports();
        let out = secmail(dir.path(), level, &["run", "--once"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("8 new message(s) handled"),
            "the marked reports were not handled:\n{stdout}"
        );
        // The log is there (so that the test can fail): ours and the dependencies'.
        assert!(stderr.contains("message handled"), "{stderr}");
        assert!(stderr.lines().count() > 20, "{stderr}");
        assert_no_marks(level, &out);
        // The outbox does hold the content (the name in the signed acknowledgement of the
        // clear report): the markers reached the templates.
        let outbox: String = std::fs::read_dir(dir.path().join("var/outbox"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert!(
            outbox.contains(&format!("Hello Carl {MARK_NAME},")),
            "the test's markers went nowhere"
        );
    }
}

/// Every directory and file under `root` (itself included).
fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut sub: Vec<_> = std::fs::read_dir(&out[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            sub.sort();
            out.extend(sub);
        }
        i += 1;
    }
    out
}

fn assert_private(p: &Path) {
    let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "{} is mode {:o}: group or world may read it",
        p.display(),
        mode & 0o777
    );
}

#[test]
fn store_outbox_backup_restore_and_export_are_private_whatever_the_umask() {
    let dir = tree_with_marked_reports();
    let d = dir.path();
    let out = secmail(d, "info", &["run", "--once"]);
    assert!(out.status.success(), "{out:?}");
    let backup = d.join("backup.pgp");
    let out = secmail(d, "info", &["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let restored = d.join("restored/store");
    let out = secmail(
        d,
        "info",
        &[
            "restore",
            backup.to_str().unwrap(),
            "--store",
            restored.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let advisory = d.join("advisories/SEC-2026-0001.osv.json");
    let out = secmail(
        d,
        "info",
        &[
            "export",
            "SEC-2026-0001",
            "--format",
            "osv",
            "--output",
            advisory.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");

    let mut checked = 0;
    for root in [d.join("var"), d.join("restored"), d.join("advisories")] {
        for p in walk(&root) {
            assert_private(&p);
            checked += 1;
        }
    }
    assert_private(&backup);
    assert!(walk(&d.join("var/outbox")).len() > 14);
    assert!(checked > 20, "{checked}");
}

#[test]
fn backup_never_follows_a_symlink_at_its_temporary_file() {
    let dir = demo_tree();
    let d = dir.path();
    let out = secmail(d, "info", &["run", "--once"]);
    assert!(out.status.success(), "{out:?}");
    let target = d.join("elsewhere.txt");
    std::fs::write(&target, "untouched\n").unwrap();
    let backup = d.join("backup.pgp");
    std::os::unix::fs::symlink(&target, d.join("backup.partial")).unwrap();

    let out = secmail(d, "info", &["backup", backup.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "backup went through a symlink");
    assert!(
        stderr.contains("backup.partial") && stderr.contains("exists"),
        "the error must name the file in the way: {stderr}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    assert!(!backup.exists());
    assert!(std::fs::symlink_metadata(d.join("backup.partial"))
        .unwrap()
        .file_type()
        .is_symlink());

    // A stale regular .partial (from a crashed backup) is in the way too: named, not reused.
    std::fs::remove_file(d.join("backup.partial")).unwrap();
    std::fs::write(d.join("backup.partial"), "stale").unwrap();
    let out = secmail(d, "info", &["backup", backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("backup.partial"));
    std::fs::remove_file(d.join("backup.partial")).unwrap();
    let out = secmail(d, "info", &["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_private(&backup);
}
