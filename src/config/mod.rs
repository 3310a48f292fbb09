//! `security.conf` (TOML) → [`Config`]: validated, keys loaded, every error reported at once.
//!
//! A `Config` is two parts:
//! - [`Settings`] (`config.settings`, and through `Deref` every `config.project`,
//!   `config.team`, …): what the core decides with — `[project]`, `[keys]` (the project's keys
//!   and known certs), `[[team]]`, `[limits]` (with `[inbound] max-message-size`), `[policy]`,
//!   `[advisories]`, `[security-txt]`. No server detail and no password. See `settings.rs`.
//! - The service part, the fields of `Config` itself, for the shell and the commands only: the
//!   file it came from, `[inbound]` (maildir path or IMAP server and password), `[outbound]`
//!   (SMTP server and password, or the outbox directory) with its retry delay, the store and
//!   templates paths, and the warnings to log at start. The server types live in `server.rs`.
//!
//! The sections are read in `settings.rs`, `keys.rs` (`[keys]`, `[[team]]`, secret files),
//! `server.rs` (`[inbound]`, `[outbound]`) and `policy.rs`, all with `reader.rs`.
//!
//! Invariants: a `Config` only exists when every key was understood; secrets (the project's
//! secret keys, password files) are not readable by others unless the config says they are the
//! public demo keys, and demo keys are never used against a real IMAP server. Config names
//! neither the shell nor the commands: layers point down (shell → config → core → model).
pub mod keys;
pub mod policy;
pub mod reader;
pub mod server;
pub mod settings;

pub use keys::read_secret_file;
pub use server::{is_loopback, ImapSettings, Inbound, Security, SmtpSettings, Transport};
pub use settings::{Advisories, Limits, Project, SecurityTxt, Settings};

use policy::Policy;
use reader::{Errors, Section};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The validated configuration: [`Settings`] for the core plus the service part.
#[derive(Debug)]
pub struct Config {
    /// What the core reads; also reachable as `config.project`, `config.team`, … (`Deref`).
    pub settings: Settings,
    pub file: PathBuf,
    pub inbound: Inbound,
    pub outbound: Transport,
    /// First retry delay of the outbox (`[outbound] retry-min`, default 30s), doubling per
    /// attempt up to one hour.
    pub retry_min: std::time::Duration,
    pub store_path: PathBuf,
    /// `[store] max-size` (default 4 GiB): the team is alerted at 80 % and at 100 %
    /// (SECURITY.md, cost bombs); mail is still handled, nothing is dropped.
    pub store_max_bytes: u64,
    pub templates_dir: PathBuf,
    /// `[control] socket`: where the running daemon serves the CLI (store commands, `status`);
    /// default: beside the store, `<store path>.sock`.
    pub control_socket: PathBuf,
    /// `[metrics]`: the Prometheus text exposition on a loopback address, and/or a textfile for
    /// node_exporter's collector. Off unless asked for.
    pub metrics: Metrics,
    /// Warnings to log at start (demo keys, group-readable files).
    pub warnings: Vec<String>,
}

/// `[metrics]` (issue 12): opt-in, loopback only.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// `listen = "127.0.0.1:9187"`: a Prometheus text endpoint (any path answers).
    pub listen: Option<std::net::SocketAddr>,
    /// `textfile = "/var/lib/prometheus/node-exporter/secmail.prom"`: rewritten every minute.
    pub textfile: Option<PathBuf>,
}

/// Default of `[store] max-size`.
pub const DEFAULT_STORE_MAX: u64 = 4 << 30;

impl Deref for Config {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Every problem found, one per line, each naming its key or file.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in {}:\n  {}", .problems.len(), .file.display(), .problems.join("\n  "))]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<String>,
}

impl Config {
    pub fn load(file: &Path, now: SystemTime) -> Result<Config, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError {
            file: file.to_path_buf(),
            problems,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| fail(vec![format!("cannot read {}: {e}", file.display())]))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| fail(vec![format!("not valid TOML: {e}")]))?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Self::from_table(file, &table, &base, now).map_err(|errs| fail(errs.0))
    }

    fn from_table(
        file: &Path,
        table: &toml::Table,
        base: &Path,
        now: SystemTime,
    ) -> Result<Config, Errors> {
        let mut e = Errors::default();
        let mut warnings = Vec::new();
        let mut top = Section::new("", table);

        let empty = toml::Table::new();
        let project_t = top.table("project", &mut e).unwrap_or_else(|| {
            if !table.contains_key("project") {
                e.add("project", "missing section");
            }
            &empty
        });
        let project = settings::read_project(project_t, &mut e);

        let keys_t = top.table("keys", &mut e).unwrap_or(&empty);
        let (keys, known_certs) = keys::read_keys(
            keys_t,
            base,
            project.as_ref().is_some_and(|p| p.demo_keys),
            now,
            &mut e,
        );

        let inbound = match top.table("inbound", &mut e) {
            Some(t) => server::read_inbound(t, base, &mut e),
            None => {
                e.add("inbound", "missing section");
                None
            }
        };
        let (outbound, retry_min) = match top.table("outbound", &mut e) {
            Some(t) => server::read_outbound(t, base, &mut e),
            None => {
                e.add("outbound", "missing section");
                (None, server::DEFAULT_RETRY_MIN)
            }
        };

        let mut store = Section::new("store", top.table("store", &mut e).unwrap_or(&empty));
        let store_path = store
            .opt_path("path", base, &mut e)
            .unwrap_or_else(|| base.join("var/store"));
        let store_max_bytes = store
            .opt_size("max-size", &mut e)
            .unwrap_or(DEFAULT_STORE_MAX);
        store.done(&mut e);

        let mut control = Section::new("control", top.table("control", &mut e).unwrap_or(&empty));
        let control_socket = control.opt_path("socket", base, &mut e).unwrap_or_else(|| {
            let mut s = store_path.clone().into_os_string();
            s.push(".sock");
            PathBuf::from(s)
        });
        control.done(&mut e);

        let mut m = Section::new("metrics", top.table("metrics", &mut e).unwrap_or(&empty));
        let listen =
            m.opt_str("listen", &mut e)
                .and_then(|a| match a.parse::<std::net::SocketAddr>() {
                    Ok(addr) if addr.ip().is_loopback() => Some(addr),
                    Ok(_) => {
                        e.add(
                            "metrics.listen",
                            format!(
                            "{a}: only a loopback address (the figures are not for the network)"
                        ),
                        );
                        None
                    }
                    Err(err) => {
                        e.add(
                            "metrics.listen",
                            format!("{a}: {err} (e.g. 127.0.0.1:9187)"),
                        );
                        None
                    }
                });
        let metrics = Metrics {
            listen,
            textfile: m.opt_path("textfile", base, &mut e),
        };
        m.done(&mut e);

        let mut tpl = Section::new(
            "templates",
            top.table("templates", &mut e).unwrap_or(&empty),
        );
        let templates_dir = tpl
            .opt_path("dir", base, &mut e)
            .unwrap_or_else(|| base.join("templates"));
        tpl.done(&mut e);

        let limits = settings::read_limits(
            top.table("limits", &mut e).unwrap_or(&empty),
            inbound
                .as_ref()
                .map_or(server::DEFAULT_MAX_MESSAGE, Inbound::max_message_bytes),
            &mut e,
        );

        let adv_t = top.table("advisories", &mut e).unwrap_or(&empty);
        let advisories = settings::read_advisories(adv_t, base, project.as_ref(), &mut e);
        let stxt_t = top.table("security-txt", &mut e).unwrap_or(&empty);
        let security_txt = settings::read_security_txt(stxt_t, base, &mut e);

        let team = keys::read_team(&top.tables("team", &mut e), base, now, &mut e);
        let policy = match top.table("policy", &mut e) {
            Some(t) => {
                let p = policy::read(t, &mut e);
                let addresses: Vec<String> = team.iter().map(|m| m.address.clone()).collect();
                policy::check_escalation(&p, &addresses, &mut e);
                p
            }
            None => Policy::default(),
        };
        let languages = settings::read_languages(&policy, &security_txt, &templates_dir);
        top.done(&mut e);

        // The demo key is public: with any server that is not on this machine, mail to it is
        // mail anyone can read. Recognised by fingerprint, whatever demo-keys says.
        let demo = project.as_ref().is_some_and(|p| p.demo_keys)
            || keys.as_ref().is_some_and(|k| k.uses_demo_key());
        if demo {
            let imap = match &inbound {
                Some(Inbound::Imap { settings, .. }) => Some(("IMAP", settings.host.as_str())),
                _ => None,
            };
            let smtp = match &outbound {
                Some(Transport::Smtp(s)) => Some(("SMTP", s.host.as_str())),
                _ => None,
            };
            for (what, host) in [imap, smtp].into_iter().flatten() {
                if !is_loopback(host) {
                    e.add(
                        "project.demo-keys",
                        format!(
                            "the public demo key cannot be used with a real {what} server ({host}); generate a project key with `secmail init`"
                        ),
                    );
                }
            }
            warnings.push(
                "DEMO KEYS IN USE: the project key is public; anyone can read mail encrypted to it. Never use this configuration for real reports".to_string(),
            );
        }
        if team.is_empty() && e.0.is_empty() {
            warnings
                .push("no [[team]] members: reports are answered but nobody gets a copy".into());
        }

        match (project, keys, inbound, outbound) {
            (Some(project), Some(keys), Some(inbound), Some(outbound)) if e.0.is_empty() => {
                Ok(Config {
                    settings: Settings {
                        project,
                        keys,
                        known_certs,
                        team,
                        limits,
                        advisories,
                        security_txt,
                        policy,
                        languages,
                    },
                    file: file.to_path_buf(),
                    inbound,
                    outbound,
                    retry_min,
                    store_path,
                    store_max_bytes,
                    templates_dir,
                    control_socket,
                    metrics,
                    warnings,
                })
            }
            _ => {
                if e.0.is_empty() {
                    e.add("config", "incomplete");
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may read the real clock
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("security.conf");
        std::fs::write(
            &conf,
            r#"
[project]
name = "X"
security-address = "not-an-address"
colour = "blue"
[keys]
secret = ["missing.asc"]
[inbound]
kind = "pop3"
[outbound]
kind = "smtp"
host = "mail.example.org"
security = "plain"
"#,
        )
        .unwrap();
        let err = Config::load(&conf, SystemTime::now()).expect_err("must fail");
        let all = err.problems.join("\n");
        for needle in [
            "project.colour: unknown key",
            "project.security-address",
            "keys.secret[0]",
            "inbound.kind",
            "outbound.security: plain",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    /// The metrics are for this machine only: a listen address off loopback is refused, a
    /// loopback one taken, and the control socket defaults to beside the store.
    #[test]
    fn metrics_listen_only_on_loopback() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("security.conf");
        let write = |listen: &str| {
            std::fs::write(
                &conf,
                format!(
                    "[project]\nname = \"X\"\nsecurity-address = \"security@example.org\"\ndemo-keys = true\n[keys]\nsecret = [\"{key}\"]\n[inbound]\nkind = \"maildir\"\npath = \"maildir\"\n[outbound]\nkind = \"file\"\npath = \"outbox\"\n[metrics]\nlisten = \"{listen}\"\n",
                    key = repo.join("keys/demo-project-secret.asc").display(),
                ),
            )
            .unwrap();
        };
        for open in ["0.0.0.0:9187", "192.0.2.7:9187", "[::]:9187"] {
            write(open);
            let err = Config::load(&conf, SystemTime::now()).expect_err(open);
            assert!(
                err.problems.join("\n").contains("metrics.listen"),
                "{open}: {:?}",
                err.problems
            );
        }
        write("127.0.0.1:9187");
        let config = Config::load(&conf, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.metrics.listen,
            Some("127.0.0.1:9187".parse().unwrap())
        );
        assert_eq!(config.control_socket, dir.path().join("var/store.sock"));
    }

    /// A whole configuration over IMAP: its `Debug` keeps the password out, the core's part
    /// is reachable through `Deref`, and the size limit is the same on both sides.
    #[test]
    fn loads_split_in_settings_and_service() {
        use std::os::unix::fs::PermissionsExt;
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("imap.pw");
        std::fs::write(&pw, "s3cret-imap-pass\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = dir.path().join("security.conf");
        std::fs::write(
            &conf,
            format!(
                r#"
[project]
name = "X"
security-address = "security@example.org"
demo-keys = true
[keys]
secret = ["{key}"]
[inbound]
kind = "imap"
host = "127.0.0.1"
security = "plain"
user = "security"
password-file = "imap.pw"
max-message-size = "1MB"
[outbound]
kind = "file"
path = "outbox"
[[team]]
name = "Alice Demo"
address = "alice@example.org"
cert = "{alice}"
"#,
                key = repo.join("keys/demo-project-secret.asc").display(),
                alice = repo.join("keys/team-alice.asc").display(),
            ),
        )
        .unwrap();
        let config = Config::load(&conf, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-imap-pass"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_eq!(config.project.security_address, "security@example.org");
        assert!(config.team_member("Alice@example.org").is_some());
        assert_eq!(config.limits.max_message_bytes, 1024 * 1024);
        assert_eq!(
            config.settings.limits.max_message_bytes,
            config.inbound.max_message_bytes()
        );
        assert!(
            matches!(&config.outbound, Transport::File { dir: d } if *d == dir.path().join("outbox")),
            "{:?}",
            config.outbound
        );
    }
}
