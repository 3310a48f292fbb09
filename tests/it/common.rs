//! Shared test helpers: the demo configuration with a store in a temp dir, a fixed clock, and
//! the pipeline run the way the daemon runs it (process, then one batch into the store).
use chrono::{DateTime, TimeZone, Utc};
use secmail::config::Config;
use secmail::core::compose::Templates;
use secmail::core::effect::{Changes, Queued};
use secmail::core::keys::{self, Cert, ProjectKeys};
use secmail::core::pipeline::{self, Processed};
use secmail::core::schedule;
use secmail::core::{decrypt, seal};
use secmail::model::{Case, CaseId};
use secmail::shell::store::Store;
use secmail::shell::templates::load_templates;
use std::path::{Path, PathBuf};

/// The `secmail` binary on `conf` with `args`, logging at info, inheriting none of the variables
/// a test sets for one run only (the pinned clock, systemd's sockets and journal).
pub fn secmail(conf: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_secmail"));
    c.arg("--config")
        .arg(conf)
        .args(args)
        .env("SECMAIL_LOG", "info")
        .env_remove("SECMAIL_NOW")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM");
    c
}

/// Starts `cmd` with `env` added, stdin closed, stdout and stderr into a new file at `log`.
pub fn spawn_logged(
    mut cmd: std::process::Command,
    log: &Path,
    env: &[(&str, &str)],
) -> std::process::Child {
    let file = std::fs::File::create(log).unwrap();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixed "now": Saturday 2026-11-28 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// The shared folder beside the repository (interop corpus, seeds). In CI it must be there.
pub fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("SECMAIL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    if p.join("interop/INDEX.json").exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing: CI must run the interop tests", p.display());
    }
    eprintln!(
        "\n*** WARNING: {} not found: interop tests SKIPPED ***\n",
        p.display()
    );
    None
}

/// The demo configuration (security.conf) with its store in a temp dir.
pub struct Pipeline {
    /// Holds the store; removed when the pipeline is dropped.
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub templates: Templates,
    pub store: Store,
    pub now: DateTime<Utc>,
}

impl Pipeline {
    pub fn demo() -> Pipeline {
        Self::with_config(&repo().join("security.conf"))
    }

    pub fn with_config(path: &Path) -> Pipeline {
        Self::with_config_in(tempfile::tempdir().unwrap(), path)
    }

    fn with_config_in(dir: tempfile::TempDir, path: &Path) -> Pipeline {
        let mut config = Config::load(path, now().into()).unwrap_or_else(|e| panic!("{e}"));
        config.store_path = dir.path().join("store");
        let templates = load_templates(&config.templates_dir).unwrap();
        let store = Store::open(&config.store_path).unwrap();
        config.settings.project.id_secret = store.id_secret();
        Pipeline {
            _dir: dir,
            config,
            templates,
            store,
            now: now(),
        }
    }

    pub fn process(&self, raw: &[u8]) -> Processed {
        let p = pipeline::process(raw, &self.store, &self.config, &self.templates, self.now);
        self.store.commit(&p.changes, self.now).unwrap();
        p
    }

    /// The demo team (Alice handler, Bob coordinator) plus Carol (backup, a cert made here) and
    /// `policy` as the `[policy]` section; Maildir in, file out, everything in a temp dir.
    pub fn with_policy(policy: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let r = repo().display().to_string();
        std::fs::write(dir.path().join("carol.asc"), carol_cert()).unwrap();
        let conf = dir.path().join("security.conf");
        std::fs::write(
            &conf,
            format!(
                r#"
[project]
name = "Example Project"
security-address = "security@example.org"
demo-keys = true
[keys]
secret = ["{r}/keys/demo-project-secret.asc"]
[inbound]
kind = "maildir"
path = "{d}/maildir"
[outbound]
kind = "file"
path = "{d}/outbox"
[templates]
dir = "{r}/templates"
[[team]]
name = "Alice Demo"
address = "alice@example.org"
cert = "{r}/keys/team-alice.asc"
role = "handler"
[[team]]
name = "Bob Demo"
address = "bob@example.org"
cert = "{r}/keys/team-bob.asc"
role = "coordinator"
[[team]]
name = "Carol Backup"
address = "carol@example.org"
cert = "{d}/carol.asc"
role = "backup"
[policy]
{policy}
"#
            ),
        )
        .unwrap();
        Self::with_config_in(dir, &conf)
    }

    /// Moves the clock.
    pub fn at(&mut self, t: DateTime<Utc>) -> &mut Pipeline {
        self.now = t;
        self
    }

    /// One scheduler pass at the pipeline's now, committed as the daemon commits it.
    pub fn schedule(&self) -> Changes {
        let s = schedule::pass(
            &self.store.cases(),
            &self.config,
            &self.templates,
            self.store.last_digest(),
            &[],
            self.now,
        );
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        self.store.commit(&s, self.now).unwrap();
        s
    }

    pub fn case(&self, id: &str) -> Case {
        use secmail::core::thread::Lookup;
        self.store
            .case(&CaseId::parse("SEC", id).unwrap())
            .unwrap_or_else(|| panic!("no case {id}"))
    }
}

/// (kind, recipient) of each composed message, in order.
pub fn sent(outgoing: &[Queued]) -> Vec<(String, String)> {
    outgoing
        .iter()
        .map(|q| (q.kind.clone(), q.mail.rcpts.join(",")))
        .collect()
}

/// The (kind, recipient) pairs as string slices, for `assert_eq!` against literals.
pub fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// A person's secret key (from fixtures/keys), usable to sign and to decrypt.
pub fn secret(file: &str) -> ProjectKeys {
    let bytes = std::fs::read(repo().join("fixtures/keys").join(file)).unwrap();
    ProjectKeys::from_secret_keys(&[(file.to_string(), bytes)], None, now().into()).unwrap()
}

pub fn project_cert() -> Cert {
    keys::parse_cert(&std::fs::read(repo().join("keys/demo-project.asc")).unwrap()).unwrap()
}

/// Carol's generated cert (no secret needed: she only receives).
fn carol_cert() -> Vec<u8> {
    use sequoia_openpgp::cert::CertBuilder;
    use sequoia_openpgp::serialize::SerializeInto;
    let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (cert, _) = CertBuilder::general_purpose(Some("Carol Backup <carol@example.org>"))
        .set_creation_time(std::time::SystemTime::from(created))
        .generate()
        .unwrap();
    let armored = cert.armored().to_vec().unwrap();
    armored
}

/// A PGP/MIME message signed by `signer` (at `signed_at`) and encrypted to the project, as a
/// team member's mail client sends it. `headers` end with CRLF; `inner` is the MIME payload.
pub fn signed_encrypted(
    signer: &ProjectKeys,
    headers: &str,
    inner: &str,
    signed_at: DateTime<Utc>,
) -> (Vec<u8>, String) {
    let inner = protect_subject(headers, inner);
    let armored = seal::sign_and_encrypt(
        signer,
        &[&project_cert()],
        inner.replace('\n', "\r\n").as_bytes(),
        signed_at.into(),
    )
    .unwrap();
    (super::gpg::pgp_mime(headers, &armored), armored)
}

/// The outer Subject copied into the payload as an RFC 9788 protected header, as Thunderbird
/// and Delta Chat do: the signed content then names the case a reply is for (SECURITY.md,
/// re-targeting). A payload that already has protected headers is left alone.
fn protect_subject(headers: &str, inner: &str) -> String {
    let subject = headers
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Subject: "))
        .filter(|_| !inner.contains("protected-headers") && inner.starts_with("Content-Type: "));
    match (subject, inner.split_once('\n')) {
        (Some(subject), Some((first, rest))) => {
            format!("{first}; protected-headers=\"v1\"\nSubject: {subject}\n{rest}")
        }
        _ => inner.to_string(),
    }
}

/// A plain text payload for [`signed_encrypted`].
pub fn text_payload(body: &str) -> String {
    format!("Content-Type: text/plain; charset=utf-8\n\n{body}")
}

/// A clear mail from a reporter.
pub fn plain_mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}Date: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The text of a message we sent, opened with the recipient's key (or read when only signed).
pub fn open_sent(raw: &[u8], recipient: &ProjectKeys) -> String {
    decrypt::message(raw, recipient, &[project_cert()], now().into()).text
}
