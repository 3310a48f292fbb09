//! The service part of the configuration: where mail comes from (`[inbound]`: a maildir or an
//! IMAP server) and where it goes (`[outbound]`: an SMTP server or a directory of `.eml` files),
//! as values only. The connections themselves live in the shell (`shell::imap`,
//! `shell::transport`, `shell::tls`), which imports these types from here so that config never
//! names the shell.
//!
//! Invariants:
//! - The `Debug` of every value here prints "<redacted>" in place of a password: what a
//!   password file held never reaches a log line or a panic message (tested below).
//! - `security = "plain"` is only accepted towards a loopback host name or address; the shell
//!   checks again, on the resolved addresses, before it connects.
//! - Password files are read as secret files: refused when others may read them.
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::keys::read_secret_file;
use super::reader::{Errors, Section};

/// Default of `[inbound] max-message-size`: 25 MiB.
pub(super) const DEFAULT_MAX_MESSAGE: u64 = 25 * 1024 * 1024;
/// Default of `[outbound] retry-min`.
pub(super) const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(30);

/// How the connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (IMAP port 993, SMTP submissions port 465).
    Tls,
    /// Plaintext greeting, then STARTTLS before anything else (IMAP 143, SMTP 587).
    StartTls,
    /// No encryption at all. Allowed only when the host resolves to loopback addresses.
    Plain,
}

/// Where and how to reach the security mailbox.
#[derive(Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    pub password: String,
    /// The folder reports arrive in, usually `INBOX`.
    pub folder: String,
    /// Where a message goes once its case change is durable.
    pub processed_folder: String,
    /// Where malformed or hostile messages go.
    pub quarantine_folder: String,
    /// An extra trust anchor (PEM), for servers with a self-signed or private CA certificate.
    pub ca_file: Option<PathBuf>,
    /// Messages larger than this are not fetched whole (`Fetched::raw` is `None`).
    pub max_message_bytes: u64,
    /// Cap on one IDLE wait; the server's keepalives do not extend it.
    pub idle_max: Duration,
}

// The password stays out of debug output.
impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("folder", &self.folder)
            .field("processed_folder", &self.processed_folder)
            .field("quarantine_folder", &self.quarantine_folder)
            .field("ca_file", &self.ca_file)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("idle_max", &self.idle_max)
            .finish()
    }
}

/// Where outgoing mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// One `<file_stem>.eml` per message in `dir`.
    File {
        dir: PathBuf,
    },
}

/// The SMTP server that relays our mail.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Set both or neither.
    pub user: Option<String>,
    pub password: Option<String>,
    /// An extra trust anchor (PEM), for servers with a self-signed or private CA certificate.
    pub ca_file: Option<PathBuf>,
    /// The EHLO name; lettre's default (`localhost`) when unset.
    pub helo_name: Option<String>,
}

// The password stays out of debug output.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("helo_name", &self.helo_name)
            .finish()
    }
}

/// `[inbound]`: where reports arrive.
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

/// A host name that is loopback without a lookup: `localhost` or a loopback IP address.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
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

/// `[inbound]`; `None` (with the problems in `e`) when it cannot be used.
pub(super) fn read_inbound(t: &toml::Table, base: &Path, e: &mut Errors) -> Option<Inbound> {
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

/// `[outbound]`: the transport (`None` when it cannot be used) and the first retry delay.
pub(super) fn read_outbound(
    t: &toml::Table,
    base: &Path,
    e: &mut Errors,
) -> (Option<Transport>, Duration) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SECRET: &str = "hunter2-do-not-print";

    fn password_file(dir: &Path) {
        let p = dir.join("pw");
        std::fs::write(&p, format!("{SECRET}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn debug_never_shows_a_password() {
        let dir = tempfile::tempdir().unwrap();
        password_file(dir.path());
        let t: toml::Table = toml::from_str(
            "kind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nuser = \"sec\"\n\
             password-file = \"pw\"\n",
        )
        .unwrap();
        let mut e = Errors::default();
        let inbound = read_inbound(&t, dir.path(), &mut e).expect("valid [inbound]");
        assert!(e.0.is_empty(), "{:?}", e.0);
        let Inbound::Imap { settings, .. } = &inbound else {
            panic!("imap expected")
        };
        assert_eq!(settings.password, SECRET, "read without the newline");
        for shown in [format!("{inbound:?}"), format!("{settings:#?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }

        let t: toml::Table = toml::from_str(
            "kind = \"smtp\"\nhost = \"localhost\"\nsecurity = \"plain\"\nuser = \"sec\"\n\
             password-file = \"pw\"\n",
        )
        .unwrap();
        let (outbound, _) = read_outbound(&t, dir.path(), &mut e);
        assert!(e.0.is_empty(), "{:?}", e.0);
        let outbound = outbound.expect("valid [outbound]");
        let Transport::Smtp(smtp) = &outbound else {
            panic!("smtp expected")
        };
        assert_eq!(smtp.password.as_deref(), Some(SECRET));
        for shown in [format!("{outbound:?}"), format!("{smtp:#?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        // Without a password there is nothing to redact, and Debug says so.
        let bare = SmtpSettings {
            password: None,
            ..smtp.clone()
        };
        assert!(format!("{bare:?}").contains("password: None"));
    }

    #[test]
    fn plain_only_towards_loopback() {
        let check = |host: &str, ok: bool| {
            let t: toml::Table = toml::from_str(&format!(
                "kind = \"smtp\"\nhost = \"{host}\"\nsecurity = \"plain\"\n"
            ))
            .unwrap();
            let mut e = Errors::default();
            read_outbound(&t, Path::new("."), &mut e);
            assert_eq!(e.0.is_empty(), ok, "{host}: {:?}", e.0);
        };
        check("localhost", true);
        check("127.0.0.1", true);
        check("::1", true);
        check("mail.example.org", false);
        check("192.0.2.1", false);
    }

    #[test]
    fn smtp_default_port_follows_security() {
        let check = |security: &str, want: u16| {
            let t: toml::Table = toml::from_str(&format!(
                "kind = \"smtp\"\nhost = \"localhost\"\nsecurity = \"{security}\"\n"
            ))
            .unwrap();
            let mut e = Errors::default();
            match read_outbound(&t, Path::new("."), &mut e).0 {
                Some(Transport::Smtp(s)) => assert_eq!(s.port, want, "{security}"),
                other => panic!("{security}: {other:?}"),
            }
        };
        check("tls", 465);
        check("starttls", 587);
        check("plain", 587);
    }
}
