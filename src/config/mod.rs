//! `security.conf` (TOML) → [`Config`]: validated, keys loaded, every error reported at once.
//!
//! Invariants: a `Config` only exists when every key was understood; secrets (the project's
//! secret keys, password files) are not readable by others unless the config says they are the
//! public demo keys, and demo keys are never used against a real IMAP server.
pub mod policy;
pub mod reader;

use crate::core::keys::{self, Cert, ProjectKeys};
use crate::model::{TeamMember, TeamRole};
use crate::shell::imap::{ImapSettings, Security};
use crate::shell::transport::{SmtpSettings, Transport};
use policy::Policy;
use reader::{Errors, Section};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The project: who we are on the mail side.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// `security@example.org`, lowercased.
    pub security_address: String,
    pub local_part: String,
    pub domain: String,
    pub case_prefix: String,
    /// Between local part and case id in case addresses: `security+SEC-2026-0001@…`.
    pub separator: String,
    /// Value of our `X-Secmail-Loop` header.
    pub instance: String,
    pub demo_keys: bool,
    /// The public list that `/disclose` announces to (`[project] announce-address`).
    pub announce_address: Option<String>,
}

impl Project {
    /// The case address of DESIGN.md "Threading" rule 2.
    pub fn case_address(&self, case: &str) -> String {
        format!(
            "{}{}{}@{}",
            self.local_part, self.separator, case, self.domain
        )
    }
}

#[derive(Debug, Clone)]
pub enum Inbound {
    Maildir {
        path: PathBuf,
        /// Move handled mail to `.Processed` / `.Quarantine` sub-maildirs. Off for the demo,
        /// whose maildir is tracked by git; then the store alone remembers what was handled.
        move_processed: bool,
        max_message_bytes: u64,
    },
    Imap {
        settings: ImapSettings,
        poll_interval: Duration,
    },
}

impl Inbound {
    pub fn max_message_bytes(&self) -> u64 {
        match self {
            Inbound::Maildir {
                max_message_bytes, ..
            } => *max_message_bytes,
            Inbound::Imap { settings, .. } => settings.max_message_bytes,
        }
    }
}

/// `[advisories]`: the advisory documents written at disclosure (`secmail export`).
#[derive(Debug, Clone)]
pub struct Advisories {
    /// Written here at disclosure, as `<CASE>.osv.json` and `<CASE>.csaf.json`.
    pub dir: Option<PathBuf>,
    /// OSV ecosystem of the package (`PyPI`, `crates.io`, …); without it OSV lists no package.
    pub ecosystem: Option<String>,
    /// Package and product name (default: the project name).
    pub package: String,
    /// CSAF vendor (default: the project name).
    pub vendor: String,
    /// CSAF publisher namespace, a URL (default `https://<domain of the security address>`).
    pub namespace: String,
    /// Where the advisories are published; becomes a reference (`…/<CASE>`).
    pub url_base: Option<String>,
}

/// `[security-txt]`: what `secmail security-txt` writes (RFC 9116).
#[derive(Debug, Clone)]
pub struct SecurityTxt {
    /// URL of the project's OpenPGP cert (RFC 9116 §2.5.4).
    pub encryption: Option<String>,
    pub policy: Option<String>,
    pub canonical: Option<String>,
    pub preferred_languages: Option<String>,
    /// Expires this long after writing; under a year (RFC 9116 §2.5.5).
    pub expires_in: Duration,
    /// The published copy; `secmail check` warns when its Expires is near.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Automatic messages to one address within `auto_reply_window`.
    pub auto_replies_per_address: u32,
    pub auto_reply_window: Duration,
    /// A signed team command counts only while its signature is younger than this
    /// (DESIGN.md "Team commands": default 7 days).
    pub command_max_age: Duration,
}

/// The validated configuration.
pub struct Config {
    pub file: PathBuf,
    pub project: Project,
    pub keys: ProjectKeys,
    /// Reporter certs known in advance (`keys.certs-dir`).
    pub known_certs: Vec<Cert>,
    pub inbound: Inbound,
    pub outbound: Transport,
    /// First retry delay of the outbox (`[outbound] retry-min`, default 30s), doubling per
    /// attempt up to one hour.
    pub retry_min: Duration,
    pub store_path: PathBuf,
    pub templates_dir: PathBuf,
    pub team: Vec<TeamMember>,
    pub limits: Limits,
    /// `[advisories]`: where and how OSV/CSAF documents are written.
    pub advisories: Advisories,
    /// `[security-txt]`: the RFC 9116 file.
    pub security_txt: SecurityTxt,
    /// `[policy]`: deadlines, calendar, escalation (no timers without the section).
    pub policy: Policy,
    /// Warnings to log at start (demo keys, group-readable files).
    pub warnings: Vec<String>,
}

/// Every problem found, one per line, each naming its key or file.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in {}:\n  {}", .problems.len(), .file.display(), .problems.join("\n  "))]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<String>,
}

const DEFAULT_MAX_MESSAGE: u64 = 25 * 1024 * 1024;
const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(30);

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
        let project = read_project(project_t, &mut e);

        let keys_t = top.table("keys", &mut e).unwrap_or(&empty);
        let (keys, known_certs) = read_keys(
            keys_t,
            base,
            project.as_ref().is_some_and(|p| p.demo_keys),
            now,
            &mut e,
        );

        let inbound = match top.table("inbound", &mut e) {
            Some(t) => read_inbound(t, base, &mut e),
            None => {
                e.add("inbound", "missing section");
                None
            }
        };
        let (outbound, retry_min) = match top.table("outbound", &mut e) {
            Some(t) => read_outbound(t, base, &mut e),
            None => {
                e.add("outbound", "missing section");
                (None, DEFAULT_RETRY_MIN)
            }
        };

        let mut store = Section::new("store", top.table("store", &mut e).unwrap_or(&empty));
        let store_path = store
            .opt_path("path", base, &mut e)
            .unwrap_or_else(|| base.join("var/store"));
        store.done(&mut e);

        let mut tpl = Section::new(
            "templates",
            top.table("templates", &mut e).unwrap_or(&empty),
        );
        let templates_dir = tpl
            .opt_path("dir", base, &mut e)
            .unwrap_or_else(|| base.join("templates"));
        tpl.done(&mut e);

        let mut lim = Section::new("limits", top.table("limits", &mut e).unwrap_or(&empty));
        let limits = Limits {
            auto_replies_per_address: lim
                .opt_int("auto-replies-per-address", 1, 10_000, &mut e)
                .map_or(5, |n| n as u32),
            auto_reply_window: lim
                .opt_duration("auto-reply-window", &mut e)
                .unwrap_or(Duration::from_secs(3600)),
            command_max_age: lim
                .opt_duration("command-max-age", &mut e)
                .unwrap_or(Duration::from_secs(7 * 86_400)),
        };
        lim.done(&mut e);

        let adv_t = top.table("advisories", &mut e).unwrap_or(&empty);
        let advisories = read_advisories(adv_t, base, project.as_ref(), &mut e);
        let stxt_t = top.table("security-txt", &mut e).unwrap_or(&empty);
        let security_txt = read_security_txt(stxt_t, base, &mut e);

        let team = read_team(&top.tables("team", &mut e), base, now, &mut e);
        let policy = match top.table("policy", &mut e) {
            Some(t) => {
                let p = policy::read(t, &mut e);
                let addresses: Vec<String> = team.iter().map(|m| m.address.clone()).collect();
                policy::check_escalation(&p, &addresses, &mut e);
                p
            }
            None => Policy::default(),
        };
        top.done(&mut e);

        if let (Some(p), Some(Inbound::Imap { settings, .. })) = (&project, &inbound) {
            if p.demo_keys && !is_loopback(&settings.host) {
                e.add(
                    "project.demo-keys",
                    format!(
                        "the public demo keys cannot be used with a real IMAP server ({}); generate a project key with `secmail init`",
                        settings.host
                    ),
                );
            }
        }
        if let Some(p) = &project {
            if p.demo_keys {
                warnings.push(
                    "DEMO KEYS IN USE: the project key is public; anyone can read mail encrypted to it. Never use this configuration for real reports".to_string(),
                );
            }
        }
        if team.is_empty() && e.0.is_empty() {
            warnings
                .push("no [[team]] members: reports are answered but nobody gets a copy".into());
        }

        match (project, keys, inbound, outbound) {
            (Some(project), Some(keys), Some(inbound), Some(outbound)) if e.0.is_empty() => {
                Ok(Config {
                    file: file.to_path_buf(),
                    project,
                    keys,
                    known_certs,
                    inbound,
                    outbound,
                    retry_min,
                    store_path,
                    templates_dir,
                    team,
                    limits,
                    advisories,
                    security_txt,
                    policy,
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

    pub fn team_member(&self, address: &str) -> Option<&TeamMember> {
        self.team
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
    }
}

fn read_project(t: &toml::Table, e: &mut Errors) -> Option<Project> {
    let mut s = Section::new("project", t);
    let name = s.str("name", e);
    let address = s
        .str("security-address", e)
        .map(|a| a.trim().to_ascii_lowercase());
    let case_prefix = s.str_or("case-prefix", "SEC", e);
    let separator = s.str_or("address-separator", "+", e);
    let instance = s.opt_str("instance", e);
    let demo_keys = s.opt_bool("demo-keys", e).unwrap_or(false);
    let announce_address = s
        .opt_str("announce-address", e)
        .map(|a| a.trim().to_ascii_lowercase());
    if let Some(a) = &announce_address {
        if !a.contains('@') || a.contains(char::is_whitespace) {
            e.add(
                "project.announce-address",
                format!("{a:?} is not an address like announce@lists.example.org"),
            );
        }
    }
    if case_prefix.is_empty()
        || !case_prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        e.add(
            "project.case-prefix",
            format!("{case_prefix:?} must be upper-case letters and digits"),
        );
    }
    if !matches!(separator.as_str(), "+" | "-" | "_" | ".") {
        e.add(
            "project.address-separator",
            format!("{separator:?} must be one of + - _ ."),
        );
    }
    s.done(e);
    let address = address?;
    let Some((local, domain)) = address
        .split_once('@')
        .filter(|(l, d)| !l.is_empty() && d.contains('.') || d == &"localhost")
    else {
        e.add(
            "project.security-address",
            format!("{address:?} is not an address like security@example.org"),
        );
        return None;
    };
    Some(Project {
        name: name?,
        instance: instance.unwrap_or_else(|| format!("{local}@{domain}")),
        local_part: local.to_string(),
        domain: domain.to_string(),
        security_address: address.clone(),
        case_prefix,
        separator,
        demo_keys,
        announce_address,
    })
}

fn read_advisories(
    t: &toml::Table,
    base: &Path,
    project: Option<&Project>,
    e: &mut Errors,
) -> Advisories {
    let mut s = Section::new("advisories", t);
    let name = project.map(|p| p.name.clone()).unwrap_or_default();
    let domain = project.map(|p| p.domain.clone()).unwrap_or_default();
    let a = Advisories {
        dir: s.opt_path("dir", base, e),
        ecosystem: s.opt_str("ecosystem", e),
        package: s.str_or("package", &name, e),
        vendor: s.str_or("vendor", &name, e),
        namespace: s.str_or("namespace", &format!("https://{domain}"), e),
        url_base: s.opt_str("url-base", e),
    };
    if !a.namespace.starts_with("https://") && !a.namespace.starts_with("http://") {
        e.add(
            "advisories.namespace",
            format!("{:?} must be a URL", a.namespace),
        );
    }
    s.done(e);
    a
}

fn read_security_txt(t: &toml::Table, base: &Path, e: &mut Errors) -> SecurityTxt {
    let mut s = Section::new("security-txt", t);
    let expires_in = s
        .opt_duration("expires-in", e)
        .unwrap_or(Duration::from_secs(180 * 86_400));
    // RFC 9116 §2.5.5: "it is RECOMMENDED that the value of this field be less than a year".
    if expires_in >= Duration::from_secs(365 * 86_400) || expires_in.is_zero() {
        e.add(
            "security-txt.expires-in",
            "must be more than zero and less than a year (RFC 9116 §2.5.5)",
        );
    }
    let out = SecurityTxt {
        encryption: s.opt_str("encryption", e),
        policy: s.opt_str("policy", e),
        canonical: s.opt_str("canonical", e),
        preferred_languages: s.opt_str("preferred-languages", e),
        expires_in,
        path: s.opt_path("path", base, e),
    };
    for (k, v) in [
        ("encryption", &out.encryption),
        ("policy", &out.policy),
        ("canonical", &out.canonical),
    ] {
        if let Some(v) = v {
            if !v.starts_with("https://") {
                // RFC 9116 §2.5: web URIs in security.txt MUST begin with "https://".
                e.add(
                    &format!("security-txt.{k}"),
                    format!("{v:?} must be an https:// URL"),
                );
            }
        }
    }
    s.done(e);
    out
}

fn read_keys(
    t: &toml::Table,
    base: &Path,
    demo: bool,
    now: SystemTime,
    e: &mut Errors,
) -> (Option<ProjectKeys>, Vec<Cert>) {
    let mut s = Section::new("keys", t);
    let secret = s.str_list("secret", e);
    let passphrase_file = s.opt_path("passphrase-file", base, e);
    let certs_dir = s.opt_path("certs-dir", base, e);
    s.done(e);
    if secret.is_empty() {
        e.add(
            "keys.secret",
            "missing: at least one project secret key file",
        );
    }
    let mut items = Vec::new();
    for (i, rel) in secret.iter().enumerate() {
        let path = base.join(rel);
        let key = format!("keys.secret[{i}]");
        if let Some(bytes) = read_secret_file(&key, &path, demo, e) {
            items.push((path.display().to_string(), bytes));
        }
    }
    let passphrase = passphrase_file.and_then(|p| {
        read_secret_file("keys.passphrase-file", &p, demo, e).map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches(['\r', '\n'])
                .to_string()
        })
    });
    let keys = if items.len() == secret.len() && !items.is_empty() {
        match ProjectKeys::from_secret_keys(&items, passphrase.as_deref(), now) {
            Ok(k) => Some(k),
            Err(err) => {
                e.add("keys.secret", err);
                None
            }
        }
    } else {
        None
    };
    let mut known = Vec::new();
    if let Some(dir) = certs_dir {
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> =
                    entries.filter_map(|d| d.ok().map(|d| d.path())).collect();
                paths.sort();
                for p in paths.into_iter().filter(|p| p.is_file()) {
                    match std::fs::read(&p)
                        .map_err(|x| x.to_string())
                        .and_then(|b| keys::parse_certs(&b).map_err(|x| x.to_string()))
                    {
                        Ok(certs) => known.extend(certs),
                        Err(err) => e.add("keys.certs-dir", format!("{}: {err}", p.display())),
                    }
                }
            }
            Err(err) => e.add("keys.certs-dir", format!("{}: {err}", dir.display())),
        }
    }
    (keys, known)
}

/// Reads a secret file, refusing one that others may read (unless demo keys relax that).
pub fn read_secret_file(key: &str, path: &Path, demo: bool, e: &mut Errors) -> Option<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) => {
            e.add(key, format!("{}: {err}", path.display()));
            return None;
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        let msg = format!(
            "{} has mode {mode:04o}: others may read it; run `chmod o-rwx {}`",
            path.display(),
            path.display()
        );
        if demo {
            // Public by design; the one loud DEMO KEYS warning covers it.
        } else {
            e.add(key, msg);
            return None;
        }
    }
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(err) => {
            e.add(key, format!("{}: {err}", path.display()));
            None
        }
    }
}

fn read_security(s: &mut Section, default: &str, e: &mut Errors) -> Security {
    match s.str_or("security", default, e).as_str() {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "plain" => Security::Plain,
        other => {
            e.add(
                &s.key("security"),
                format!("{other:?} must be tls, starttls or plain"),
            );
            Security::Tls
        }
    }
}

fn read_password(s: &mut Section, base: &Path, e: &mut Errors) -> Option<String> {
    let path = s.opt_path("password-file", base, e)?;
    let bytes = read_secret_file(&s.key("password-file"), &path, false, e)?;
    Some(
        String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    )
}

fn check_plain(s: &Section, security: Security, host: &str, e: &mut Errors) {
    if security == Security::Plain && !is_loopback(host) {
        e.add(
            &s.key("security"),
            format!("plain (unencrypted) is only allowed to a loopback address, not {host}"),
        );
    }
}

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn read_inbound(t: &toml::Table, base: &Path, e: &mut Errors) -> Option<Inbound> {
    let mut s = Section::new("inbound", t);
    let kind = s.str("kind", e);
    let max = s
        .opt_size("max-message-size", e)
        .unwrap_or(DEFAULT_MAX_MESSAGE);
    let out = match kind.as_deref() {
        Some("maildir") => {
            let path = s.opt_path("path", base, e);
            let move_processed = s.opt_bool("move-processed", e).unwrap_or(true);
            if path.is_none() {
                e.add("inbound.path", "missing");
            }
            path.map(|path| Inbound::Maildir {
                path,
                move_processed,
                max_message_bytes: max,
            })
        }
        Some("imap") => {
            let host = s.str("host", e);
            let security = read_security(&mut s, "tls", e);
            let port = s
                .opt_int("port", 1, 65535, e)
                .map(|p| p as u16)
                .unwrap_or(match security {
                    Security::Tls => 993,
                    _ => 143,
                });
            let user = s.str("user", e);
            let password = read_password(&mut s, base, e);
            if password.is_none() && !t.contains_key("password-file") {
                e.add("inbound.password-file", "missing");
            }
            let folder = s.str_or("folder", "INBOX", e);
            let processed_folder = s.str_or("processed-folder", "secmail/processed", e);
            let quarantine_folder = s.str_or("quarantine-folder", "secmail/quarantine", e);
            let ca_file = s.opt_path("ca-file", base, e);
            let idle_max = s
                .opt_duration("idle-max", e)
                .unwrap_or(Duration::from_secs(300));
            let poll_interval = s
                .opt_duration("poll-interval", e)
                .unwrap_or(Duration::from_secs(60));
            if let Some(h) = &host {
                check_plain(&s, security, h, e);
            }
            match (host, user, password) {
                (Some(host), Some(user), Some(password)) => Some(Inbound::Imap {
                    settings: ImapSettings {
                        host,
                        port,
                        security,
                        user,
                        password,
                        folder,
                        processed_folder,
                        quarantine_folder,
                        ca_file,
                        max_message_bytes: max,
                        idle_max,
                    },
                    poll_interval,
                }),
                _ => None,
            }
        }
        Some(other) => {
            e.add("inbound.kind", format!("{other:?} must be imap or maildir"));
            None
        }
        None => None,
    };
    s.done(e);
    out
}

fn read_outbound(t: &toml::Table, base: &Path, e: &mut Errors) -> (Option<Transport>, Duration) {
    let mut s = Section::new("outbound", t);
    let kind = s.str("kind", e);
    let retry_min = s.opt_duration("retry-min", e).unwrap_or(DEFAULT_RETRY_MIN);
    if retry_min.is_zero() {
        e.add("outbound.retry-min", "must be more than zero");
    }
    let out = match kind.as_deref() {
        Some("file") => {
            let dir = s.opt_path("path", base, e);
            if dir.is_none() {
                e.add("outbound.path", "missing");
            }
            dir.map(|dir| Transport::File { dir })
        }
        Some("smtp") => {
            let host = s.str("host", e);
            let security = read_security(&mut s, "starttls", e);
            let port = s
                .opt_int("port", 1, 65535, e)
                .map(|p| p as u16)
                .unwrap_or(match security {
                    Security::Tls => 465,
                    _ => 587,
                });
            let user = s.opt_str("user", e);
            let password = read_password(&mut s, base, e);
            let ca_file = s.opt_path("ca-file", base, e);
            let helo_name = s.opt_str("helo-name", e);
            if let Some(h) = &host {
                check_plain(&s, security, h, e);
            }
            host.map(|host| {
                Transport::Smtp(SmtpSettings {
                    host,
                    port,
                    security,
                    user,
                    password,
                    ca_file,
                    helo_name,
                })
            })
        }
        Some(other) => {
            e.add("outbound.kind", format!("{other:?} must be smtp or file"));
            None
        }
        None => None,
    };
    s.done(e);
    (out, retry_min)
}

fn read_team(
    tables: &[&toml::Table],
    base: &Path,
    now: SystemTime,
    e: &mut Errors,
) -> Vec<TeamMember> {
    let mut team = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let mut s = Section::new(&format!("team[{i}]"), t);
        let name = s.str("name", e);
        let address = s.str("address", e).map(|a| a.trim().to_ascii_lowercase());
        let cert_path = s.opt_path("cert", base, e);
        let role = match s.str_or("role", "member", e).as_str() {
            "handler" => TeamRole::Handler,
            "coordinator" => TeamRole::Coordinator,
            "backup" => TeamRole::Backup,
            "member" => TeamRole::Member,
            other => {
                e.add(
                    &s.key("role"),
                    format!("{other:?} must be handler, coordinator, backup or member"),
                );
                TeamRole::Member
            }
        };
        if cert_path.is_none() {
            e.add(&s.key("cert"), "missing");
        }
        let key = s.key("cert");
        s.done(e);
        let cert = cert_path.and_then(|p| {
            std::fs::read(&p)
                .map_err(|x| x.to_string())
                .and_then(|b| keys::parse_cert(&b).map_err(|x| x.to_string()))
                .map_err(|x| e.add(&key, format!("{}: {x}", p.display())))
                .ok()
        });
        if let (Some(name), Some(address), Some(cert)) = (name, address, cert) {
            if !keys::has_email(&cert, &address) {
                e.add(&key, format!("the cert carries no user id for {address}"));
            }
            if let Err(why) = keys::usable_for_encryption(&cert, now) {
                // Not fatal: that member gets nothing and the others are told (DESIGN.md).
                tracing::warn!(member = %address, reason = %why, "team member cert not usable for encryption");
            }
            if team.iter().any(|m: &TeamMember| m.address == address) {
                e.add(&s_key(i, "address"), format!("{address} is listed twice"));
            }
            team.push(TeamMember {
                fingerprint: keys::fingerprint(&cert),
                name,
                address,
                role,
                cert,
            });
        }
    }
    team
}

fn s_key(i: usize, k: &str) -> String {
    format!("team[{i}].{k}")
}

#[cfg(test)]
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
        let err = Config::load(&conf, SystemTime::now())
            .err()
            .expect("must fail");
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

    #[test]
    fn secret_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.asc");
        std::fs::write(&key, b"x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut e = Errors::default();
        assert!(read_secret_file("keys.secret[0]", &key, false, &mut e).is_none());
        assert!(e.0[0].contains("mode 0644"), "{:?}", e.0);
        let mut e = Errors::default();
        assert!(read_secret_file("keys.secret[0]", &key, true, &mut e).is_some());
        assert!(e.0.is_empty(), "demo keys relax the check: {:?}", e.0);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut e = Errors::default();
        assert!(read_secret_file("k", &key, false, &mut e).is_some() && e.0.is_empty());
    }
}
