//! secmail as an operator runs it (issue 5), with the real binary and no mail servers: the
//! systemd notifications (READY, STATUS, WATCHDOG, STOPPING) over a NOTIFY_SOCKET of our own,
//! SIGHUP reloads (a bad config refused, a good one taken), SIGTERM exits 0, `init` → `check`,
//! `backup` → `restore` round trip, and the unit file's `systemd-analyze security` score.
use super::common::repo;
use super::harness::mail::plain_report;
use super::harness::{skip, wait_until, Deployment, WAIT};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// `assert_ok` lives with the deployment now; hostile.rs and import.rs know it by this path.
pub use super::harness::assert_ok;

/// The local deployment (maildir in, .eml files out) by the name hostile.rs and import.rs use:
/// a preset of the harness's one `Deployment`, not a type of its own.
pub struct Local;

impl Local {
    #[allow(clippy::new_ret_no_self)] // a preset of `Deployment`, see above
    pub fn new() -> Deployment {
        Deployment::local().build()
    }
}

#[test]
fn daemon_notifies_systemd_reloads_on_hup_and_stops_on_term() {
    let local = Deployment::local().build();
    let mut daemon = local.start_with(&[("WATCHDOG_USEC", "300000")]);
    daemon.notified("STATUS=watching maildir");
    daemon.notified("WATCHDOG=1");
    daemon.notified("WATCHDOG=1");

    local.deliver(&plain_report(1, "pat@plain.example"), "1.report");
    daemon.wait_log("message handled", 1);
    let log = daemon.log();
    let line = log.lines().find(|l| l.contains("message handled")).unwrap();
    for field in [
        "case_id=SEC-",
        "msg_hash=",
        "sender_class=reporter",
        "outcome=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        !log.contains("Secret details"),
        "report text in the log:\n{log}"
    );
    wait_until(
        "the acknowledgement",
        WAIT,
        || local.outbox_files().iter().any(|f| f.starts_with("ack.")),
        || daemon.log(),
    );

    // A broken config on SIGHUP is refused with its errors; the daemon keeps going.
    local.reconfigure(|s| s.extra("[nonsense]\ncolour = \"blue\""));
    daemon.signal("HUP");
    daemon.wait_log("reload refused", 1);
    assert!(daemon.log().contains("nonsense"), "{}", daemon.log());
    local.deliver(&plain_report(2, "quinn@plain.example"), "2.report");
    daemon.wait_log("message handled", 2);

    // A good one is taken: new templates show in the next acknowledgement.
    let tdir = local.path().join("templates2");
    std::fs::create_dir(&tdir).unwrap();
    for e in std::fs::read_dir(repo().join("templates")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tdir.join(p.file_name().unwrap())).unwrap();
    }
    let ack = tdir.join("ack.hbs");
    let text = std::fs::read_to_string(&ack).unwrap();
    std::fs::write(&ack, format!("RELOADED TEMPLATE\n{text}")).unwrap();
    local.reconfigure(|s| s.templates(&tdir));
    daemon.signal("HUP");
    daemon.wait_log("configuration reloaded", 1);
    local.deliver(&plain_report(3, "rose@plain.example"), "3.report");
    daemon.wait_log("message handled", 3);
    wait_until(
        "an acknowledgement from the reloaded template",
        WAIT,
        || {
            std::fs::read_dir(local.outbox()).unwrap().any(|e| {
                std::fs::read_to_string(e.unwrap().path())
                    .unwrap_or_default()
                    .contains("RELOADED TEMPLATE")
            })
        },
        || daemon.log(),
    );

    // SIGTERM: STOPPING=1, exit 0, everything handled and moved.
    daemon.signal("TERM");
    daemon.notified("STOPPING=1");
    let status = daemon.wait();
    assert!(status.success(), "exit status {status}\n{}", daemon.log());
    assert!(daemon.log().contains("stopped"));
    let processed = std::fs::read_dir(local.maildir().join(".Processed/cur"))
        .unwrap()
        .count();
    assert_eq!(processed, 3);
    let cases = local.ok(&["cases", "--json"]);
    let cases: Vec<serde_json::Value> = serde_json::from_str(&cases).unwrap();
    assert_eq!(cases.len(), 3);
}

#[test]
fn init_scaffolds_a_deployment_that_check_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc-secmail");
    let store = tmp.path().join("state/store");
    let out = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args([
            "init",
            dir.to_str().unwrap(),
            "--name",
            "Foo Project",
            "--address",
            "security@foo.test",
            "--store",
            store.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_ok(&out, &["init"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fpr = stdout
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(fpr.len(), 40, "{stdout}");
    assert!(stdout.contains("next steps"), "{stdout}");
    let mode = |f: &str| std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("project-secret.asc"), 0o600);
    assert_eq!(mode("project-revocation.asc"), 0o600);
    assert_eq!(mode("imap-password"), 0o600);
    let conf = std::fs::read_to_string(dir.join("security.conf")).unwrap();
    assert!(
        conf.contains("demo-keys = false") && conf.contains("CHANGE ME"),
        "{conf}"
    );
    assert!(std::fs::read_to_string(dir.join("secmail.service"))
        .unwrap()
        .contains(&format!("--config {}", dir.join("security.conf").display())));

    // Fill the placeholders as the next steps say, then check.
    let conf = conf
        .replace("imap.foo.test", "127.0.0.1")
        .replace("smtp.foo.test", "127.0.0.1");
    std::fs::write(dir.join("security.conf"), conf).unwrap();
    std::fs::write(dir.join("imap-password"), "pw\n").unwrap();
    std::fs::write(dir.join("smtp-password"), "pw\n").unwrap();
    let check = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_secmail"))
            .arg("--config")
            .arg(dir.join("security.conf"))
            .arg("check")
            .output()
            .unwrap()
    };
    let out = check(&dir);
    assert_ok(&out, &["check"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&fpr));

    // A second init never overwrites; a key others can read is refused by check.
    let again = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args([
            "init",
            dir.to_str().unwrap(),
            "--name",
            "X",
            "--address",
            "security@foo.test",
        ])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(73),
        "an existing deployment is not overwritten"
    );
    std::fs::set_permissions(
        dir.join("project-secret.asc"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = check(&dir);
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --rsa makes an RSA key.
    let rsa = tmp.path().join("rsa");
    let out = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args([
            "init",
            rsa.to_str().unwrap(),
            "--rsa",
            "--name",
            "Foo",
            "--address",
            "security@foo.test",
        ])
        .output()
        .unwrap();
    assert_ok(&out, &["init", "--rsa"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("RSA 3072"));
}

#[test]
fn backup_and_restore_round_trip() {
    let local = Deployment::local().build();
    for (i, f) in std::fs::read_dir(repo().join("fixtures/demo/maildir/new"))
        .unwrap()
        .enumerate()
    {
        local.deliver(
            &std::fs::read(f.unwrap().path()).unwrap(),
            &format!("{i}.demo"),
        );
    }
    local.ok(&["run", "--once"]);
    let before = local.ok(&["cases", "--json"]);
    let ids: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&before)
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 3, "{before}");
    let file = local.path().join("backup.pgp");
    local.ok(&["backup", file.to_str().unwrap()]);
    let sealed = std::fs::read_to_string(&file).unwrap();
    assert!(sealed.starts_with("-----BEGIN PGP MESSAGE-----"));
    assert!(!sealed.contains("search"), "backup not encrypted");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Into an empty store elsewhere; then that store answers the same.
    let restored = local.path().join("restored");
    local.ok(&[
        "restore",
        file.to_str().unwrap(),
        "--store",
        restored.to_str().unwrap(),
    ]);
    let orig_store = local.path().join("store");
    std::fs::rename(&orig_store, local.path().join("store.orig")).unwrap();
    std::fs::rename(&restored, &orig_store).unwrap();
    assert_eq!(local.ok(&["cases", "--json"]), before);
    for id in &ids {
        let a = local.ok(&["case", id, "--json"]);
        assert!(a.contains(id));
    }
    // The restored store goes on: the same mail again changes nothing.
    let again = local.ok(&["run", "--once"]);
    assert!(again.starts_with("0 new message(s)"), "{again}");

    // Never into a store holding data; never a file that is not ours.
    let out = local
        .cmd(&["restore", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds data"));
    let bogus = local.path().join("bogus.pgp");
    std::fs::write(
        &bogus,
        "-----BEGIN PGP MESSAGE-----\n\nhello\n-----END PGP MESSAGE-----\n",
    )
    .unwrap();
    let out = local
        .cmd(&[
            "restore",
            bogus.to_str().unwrap(),
            "--store",
            local.path().join("x").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unit_file_rates_2_or_better_with_systemd_analyze() {
    // The unit for one project, and the template for several (secmail@NAME).
    for (file, dirs) in [
        ("secmail.service", "secmail"),
        ("secmail@.service", "secmail/%i"),
    ] {
        rate_unit(file, dirs);
    }
}

fn rate_unit(file: &str, dirs: &str) {
    let unit = repo().join("contrib/systemd").join(file);
    let text = std::fs::read_to_string(&unit).unwrap();
    for want in [
        "Type=notify".to_string(),
        "WatchdogSec=".into(),
        "User=secmail".into(),
        format!("StateDirectory={dirs}\n"),
        format!("RuntimeDirectory={dirs}\n"),
        format!("ConfigurationDirectory={dirs}\n"),
        "ExecReload=".into(),
    ] {
        assert!(text.contains(&want), "{want} missing from {file}");
    }
    let out = match Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(&format!(
                "systemd-analyze not found ({e}): the unit's exposure score was not checked \
                 (package systemd)"
            ));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "→ Overall exposure level for secmail.service: 1.1 OK" (a template as secmail@i.service).
    let score: f32 = stdout
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|s| s.split(": ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no score in:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("systemd-analyze security {file}: {score}");
    assert!(score <= 2.0, "{file}: exposure {score} > 2.0:\n{stdout}");
}
