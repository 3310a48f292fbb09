//! `secmail init DIR`: scaffolds a real deployment in DIR: a new project key (0600), its
//! public cert and a revocation certificate, security.conf with placeholders for the servers,
//! the templates and the systemd unit; prints the fingerprint and the next steps.
//!
//! Invariants: nothing existing is overwritten (a second `init` on the same DIR fails before
//! writing anything); every secret file is created with mode 0600 from the start.
use super::ExitCode;
use crate::core::keys;
use crate::shell::clock::Clock;
use anyhow::{anyhow, Context, Result};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The shipped templates, embedded so the installed binary can scaffold without the sources.
/// A test checks that every `templates/*.hbs` of the repository is listed here.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("ack.hbs", include_str!("../../templates/ack.hbs")),
    (
        "ack-coalesced.hbs",
        include_str!("../../templates/ack-coalesced.hbs"),
    ),
    (
        "advance-notice.hbs",
        include_str!("../../templates/advance-notice.hbs"),
    ),
    (
        "announcement.hbs",
        include_str!("../../templates/announcement.hbs"),
    ),
    (
        "command-refused.hbs",
        include_str!("../../templates/command-refused.hbs"),
    ),
    (
        "command-result.hbs",
        include_str!("../../templates/command-result.hbs"),
    ),
    (
        "contact-made.hbs",
        include_str!("../../templates/contact-made.hbs"),
    ),
    (
        "contact-offer.hbs",
        include_str!("../../templates/contact-offer.hbs"),
    ),
    ("digest.hbs", include_str!("../../templates/digest.hbs")),
    (
        "disclosure-date.hbs",
        include_str!("../../templates/disclosure-date.hbs"),
    ),
    (
        "embargo-over.hbs",
        include_str!("../../templates/embargo-over.hbs"),
    ),
    (
        "escalation.hbs",
        include_str!("../../templates/escalation.hbs"),
    ),
    (
        "final-notice.hbs",
        include_str!("../../templates/final-notice.hbs"),
    ),
    (
        "no-integrity.hbs",
        include_str!("../../templates/no-integrity.hbs"),
    ),
    (
        "not-for-us.hbs",
        include_str!("../../templates/not-for-us.hbs"),
    ),
    ("progress.hbs", include_str!("../../templates/progress.hbs")),
    ("relay.hbs", include_str!("../../templates/relay.hbs")),
    ("reminder.hbs", include_str!("../../templates/reminder.hbs")),
    (
        "team-alert.hbs",
        include_str!("../../templates/team-alert.hbs"),
    ),
    (
        "team-copy.hbs",
        include_str!("../../templates/team-copy.hbs"),
    ),
    (
        "unreadable.hbs",
        include_str!("../../templates/unreadable.hbs"),
    ),
];

const UNIT: &str = include_str!("../../contrib/systemd/secmail.service");

pub struct Options<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
    pub address: &'a str,
    pub rsa: bool,
    pub store: &'a Path,
}

pub fn run(o: &Options) -> Result<()> {
    let address = o.address.trim().to_ascii_lowercase();
    let Some((_, domain)) = address
        .split_once('@')
        .filter(|(l, d)| !l.is_empty() && d.contains('.'))
    else {
        return Err(anyhow!(
            "--address {address:?} is not an address like security@example.org"
        ))
        .context(ExitCode::Usage);
    };
    if o.name.trim().is_empty() || o.name.contains(['"', '\n', '<', '>']) {
        return Err(anyhow!("--name {:?} must be a plain project name", o.name))
            .context(ExitCode::Usage);
    }
    let dir = o.dir;
    let files = [
        "security.conf",
        "project-secret.asc",
        "project.asc",
        "project-revocation.asc",
        "imap-password",
        "smtp-password",
        "secmail.service",
        "templates",
    ];
    if let Some(f) = files.iter().find(|f| dir.join(f).exists()) {
        return Err(anyhow!(
            "{} already exists: init never overwrites a deployment",
            dir.join(f).display()
        ))
        .context(ExitCode::CantCreate);
    }
    // The deployment is read by the service and the team's admins as before main set the
    // umask to 077: its directories are 0755 when init makes them (the secrets in it are 0600).
    let public_dir = |d: &Path| std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
    let existed = dir.is_dir();
    std::fs::create_dir_all(dir)
        .and_then(|()| if existed { Ok(()) } else { public_dir(dir) })
        .with_context(|| format!("creating {}", dir.display()))
        .context(ExitCode::IoErr)?;
    let now = Clock::from_env().now().into();
    let key = keys::generate(o.name, &address, o.rsa, now)
        .map_err(|e| anyhow!("generating the project key: {e}"))?;
    let write = |name: &str, text: &str, mode: u32| -> Result<()> {
        let path = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        // The umask may have taken bits away; never added any.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", path.display()))?;
        Ok(())
    };
    write("project-secret.asc", &key.secret, 0o600).context(ExitCode::IoErr)?;
    write("project-revocation.asc", &key.revocation, 0o600).context(ExitCode::IoErr)?;
    write("project.asc", &key.public, 0o644).context(ExitCode::IoErr)?;
    write("imap-password", "", 0o600).context(ExitCode::IoErr)?;
    write("smtp-password", "", 0o600).context(ExitCode::IoErr)?;
    let tdir = dir.join("templates");
    std::fs::create_dir(&tdir)
        .and_then(|()| public_dir(&tdir))
        .with_context(|| format!("creating {}", tdir.display()))
        .context(ExitCode::IoErr)?;
    for (name, text) in TEMPLATES {
        write(&format!("templates/{name}"), text, 0o644).context(ExitCode::IoErr)?;
    }
    let conf_abs = std::path::absolute(dir.join("security.conf"))
        .unwrap_or_else(|_| dir.join("security.conf"));
    write(
        "security.conf",
        &config(o.name, &address, domain, o.store),
        0o640,
    )
    .context(ExitCode::IoErr)?;
    let unit = UNIT.replace(
        "/etc/secmail/security.conf",
        &conf_abs.display().to_string(),
    );
    write("secmail.service", &unit, 0o644).context(ExitCode::IoErr)?;
    let dir_abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    println!("created a deployment in {}", dir_abs.display());
    println!(
        "project key {} ({}), no passphrase, file mode 0600",
        key.fingerprint,
        if o.rsa { "RSA 3072" } else { "Curve25519" }
    );
    println!(
        "\nnext steps:\n\
         1. edit {conf}: [inbound] and [outbound] host, port and user (marked CHANGE ME)\n\
         2. put the IMAP and SMTP passwords into {dir}/imap-password and {dir}/smtp-password (mode 0600)\n\
         3. add each team member as a [[team]] entry with their OpenPGP cert (see the example in the file)\n\
         4. publish {dir}/project.asc (fingerprint above), e.g. as the Encryption: of your security.txt\n\
         5. keep {dir}/project-revocation.asc offline; it revokes the key if it is ever lost\n\
         6. secmail --config {conf} check --online\n\
         7. install the service: see the comments at the top of {dir}/secmail.service",
        conf = conf_abs.display(),
        dir = dir_abs.display()
    );
    Ok(())
}

fn config(name: &str, address: &str, domain: &str, store: &Path) -> String {
    format!(
        r#"# secmail configuration written by `secmail init`. Paths are relative to this file.
# Check it with: secmail --config THIS_FILE check --online

[project]
name = "{name}"
security-address = "{address}"
case-prefix = "SEC"
address-separator = "+"
# A real key, generated for this deployment; never the public demo keys.
demo-keys = false

[keys]
secret = ["project-secret.asc"]
# certs-dir = "reporters"          # reporter certs known in advance

[inbound]
kind = "imap"
host = "imap.{domain}"             # CHANGE ME: your IMAP server
security = "tls"                   # tls (993) or starttls (143)
user = "{address}"                 # CHANGE ME if the login differs
password-file = "imap-password"
folder = "INBOX"
processed-folder = "secmail/processed"
quarantine-folder = "secmail/quarantine"
max-message-size = "25MB"

[outbound]
kind = "smtp"
host = "smtp.{domain}"             # CHANGE ME: your submission server
security = "starttls"              # starttls (587) or tls (465)
user = "{address}"                 # CHANGE ME if the login differs
password-file = "smtp-password"
retry-min = "30s"

[store]
# systemd's StateDirectory=secmail; the daemon's user must own it.
path = "{store}"

[templates]
dir = "templates"

[limits]
# Automatic messages (acks, notices) within the window: per address (case and +sub-address
# are one address), per domain, and to anyone. Bounds backscatter from forged reports.
auto-replies-per-address = 5
auto-replies-per-domain = 20
auto-replies-overall = 100
auto-reply-window = "1h"
# Wall time one message may take; over it the daemon exits to be restarted. A message
# that stops secmail twice while handled alone is quarantined unopened, the team told.
message-time-budget = "2m"
poison-after = 2

# One entry per team member; their cert must carry their address.
# [[team]]
# name = "Alice Example"
# address = "alice@{domain}"
# cert = "team/alice.asc"
# role = "handler"                 # handler, coordinator, backup or member
"#,
        store = store.display(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_template_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".hbs") && !super::TEMPLATES.iter().any(|(n, _)| *n == name) {
                missing.push(name);
            }
        }
        assert!(
            missing.is_empty(),
            "add {missing:?} to commands::init::TEMPLATES"
        );
    }
}
