//! Class 10, the demo key: its secret is public (it ships in the repository), so mail
//! encrypted to it is readable by anyone. It is recognised by fingerprint and refused with
//! any server that is not on loopback, whatever `demo-keys` says; the flag relaxes the
//! permission check for the demo key file only.
use super::super::common::repo;
use secmail::config::Config;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn conf(
    dir: &Path,
    demo_keys: bool,
    key: &Path,
    inbound: &str,
    outbound: &str,
) -> Result<Config, String> {
    let r = repo();
    let pw = dir.join("imap.pw");
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = dir.join("security.conf");
    std::fs::write(
        &path,
        format!(
            r#"
[project]
name = "X"
security-address = "security@example.org"
demo-keys = {demo_keys}
[keys]
secret = ["{key}"]
{inbound}
{outbound}
[[team]]
name = "Alice Demo"
address = "alice@example.org"
cert = "{r}/keys/team-alice.asc"
"#,
            key = key.display(),
            r = r.display()
        ),
    )
    .unwrap();
    Config::load(&path, std::time::SystemTime::now()).map_err(|e| e.to_string())
}

const MAILDIR: &str = "[inbound]\nkind = \"maildir\"\npath = \"maildir\"";
const FILE_OUT: &str = "[outbound]\nkind = \"file\"\npath = \"outbox\"";

fn imap(host: &str) -> String {
    format!("[inbound]\nkind = \"imap\"\nhost = \"{host}\"\nsecurity = \"tls\"\nuser = \"security\"\npassword-file = \"imap.pw\"")
}

fn smtp(host: &str) -> String {
    format!("[outbound]\nkind = \"smtp\"\nhost = \"{host}\"\nsecurity = \"tls\"")
}

fn demo_secret() -> std::path::PathBuf {
    repo().join("keys/demo-project-secret.asc")
}

#[test]
fn the_demo_key_with_the_flag_off_and_a_real_imap_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A careful operator would chmod it; the attacker-relevant part is the key itself.
    let key = dir.path().join("project-secret.asc");
    std::fs::copy(demo_secret(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = conf(dir.path(), false, &key, &imap("imap.example.org"), FILE_OUT)
        .expect_err("the public demo key passed with a real IMAP server");
    assert!(err.contains("demo"), "{err}");
}

#[test]
fn the_demo_key_with_a_real_smtp_host_is_refused_whatever_the_flag() {
    for flag in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.asc");
        std::fs::copy(demo_secret(), &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = conf(dir.path(), flag, &key, MAILDIR, &smtp("smtp.example.org"))
            .err()
            .unwrap_or_else(|| {
                panic!("demo key with a real SMTP server passed (demo-keys = {flag})")
            });
        assert!(err.contains("demo"), "{err}");
    }
}

#[test]
fn the_flag_does_not_relax_the_check_for_another_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("real-secret.asc");
    // Any secret key that is not the demo key (a fixture here).
    std::fs::copy(repo().join("fixtures/keys/team-bob-secret.asc"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = conf(dir.path(), true, &key, MAILDIR, FILE_OUT)
        .expect_err("a world-readable real secret key passed because demo-keys = true");
    assert!(err.contains("others may read it"), "{err}");
}

#[test]
fn the_shipped_demo_still_runs_on_loopback_and_files() {
    let dir = tempfile::tempdir().unwrap();
    conf(dir.path(), true, &demo_secret(), MAILDIR, FILE_OUT).unwrap();
    conf(
        dir.path(),
        true,
        &demo_secret(),
        &imap("127.0.0.1"),
        &smtp("localhost"),
    )
    .unwrap();
}
