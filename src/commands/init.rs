//! `secmail init DIR`: scaffolds a real deployment in DIR: a new project key (0600), its
//! public cert and a revocation certificate, security.conf with placeholders for the servers,
//! the templates and the systemd unit; prints the fingerprint and the next steps.
//!
//! What it writes agrees with what the .deb ships (contrib/systemd, Cargo.toml
//! `[package.metadata.deb]`): the unit is the shipped one with this binary's path and this
//! deployment's config put in (`init /etc/secmail` by the packaged binary writes it unchanged),
//! the store goes to the unit's StateDirectory and the control socket to its RuntimeDirectory;
//! with `--instance NAME` the same for the template unit `secmail@NAME`. In a directory of the
//! service's group (the package makes /etc/secmail root:secmail 0750), every file is given to
//! that group and the secrets are 0640: the service reads them, nobody else does.
//!
//! Invariants: nothing existing is overwritten (a second `init` on the same DIR fails before
//! writing anything); every secret file is created with its final mode from the start, never
//! readable by others.
use super::ExitCode;
use crate::core::keys;
use crate::shell::clock::Clock;
use anyhow::{anyhow, Context, Result};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const UNIT: &str = include_str!("../../contrib/systemd/secmail.service");
const TEMPLATE_UNIT: &str = include_str!("../../contrib/systemd/secmail@.service");
/// Where the package installs the binary; the shipped units start it from here.
const PACKAGED_BINARY: &str = "/usr/bin/secmail";
/// The config the shipped unit reads, and the template unit's (`%i` the instance).
const UNIT_CONFIG: &str = "/etc/secmail/security.conf";
const TEMPLATE_CONFIG: &str = "/etc/secmail/%i/security.conf";
/// The units' `StateDirectory=secmail[/%i]` and `RuntimeDirectory=secmail[/%i]`.
const STATE_DIR: &str = "/var/lib/secmail";
const RUNTIME_DIR: &str = "/run/secmail";
/// The service's group (`Group=secmail`, made by the package's postinst).
const SERVICE_GROUP: &str = "secmail";

pub struct Options<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
    pub address: &'a str,
    pub rsa: bool,
    /// `--store`; without it the unit's StateDirectory.
    pub store: Option<&'a Path>,
    /// `--instance NAME`: a deployment for the template unit `secmail@NAME`.
    pub instance: Option<&'a str>,
}

/// Where this deployment's pieces go, from the options and the units.
#[derive(Debug)]
struct Layout {
    store: PathBuf,
    /// `[control] socket` in the unit's RuntimeDirectory; `None` (the default beside the
    /// store) when `--store` put the store elsewhere.
    socket: Option<PathBuf>,
    /// `secmail.service` or `secmail@.service`.
    unit_file: &'static str,
    /// The command that starts it once installed.
    unit_name: String,
}

fn layout(o: &Options) -> Result<Layout> {
    let Some(instance) = o.instance else {
        return Ok(Layout {
            store: o
                .store
                .map_or_else(|| Path::new(STATE_DIR).join("store"), Path::to_path_buf),
            socket: o
                .store
                .is_none()
                .then(|| Path::new(RUNTIME_DIR).join("control")),
            unit_file: "secmail.service",
            unit_name: "secmail".into(),
        });
    };
    // A unit instance, a directory name and a path component at once: keep to what needs no
    // escaping in any of them.
    let plain = !instance.is_empty()
        && !instance.starts_with(['.', '-'])
        && instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        return Err(anyhow!(
            "--instance {instance:?}: use letters, digits, '.', '_' and '-' (a unit instance and a directory name)"
        ))
        .context(ExitCode::Usage);
    }
    if o.dir.file_name().and_then(|n| n.to_str()) != Some(instance) {
        return Err(anyhow!(
            "--instance {instance}: DIR must be /etc/secmail/{instance} (it ends in /{instance}): the template unit reads {}",
            TEMPLATE_CONFIG.replace("%i", instance)
        ))
        .context(ExitCode::Usage);
    }
    Ok(Layout {
        store: o.store.map_or_else(
            || Path::new(STATE_DIR).join(instance).join("store"),
            Path::to_path_buf,
        ),
        socket: o
            .store
            .is_none()
            .then(|| Path::new(RUNTIME_DIR).join(instance).join("control")),
        unit_file: "secmail@.service",
        unit_name: format!("secmail@{instance}"),
    })
}

/// The unit to write: the shipped one, with this binary and this deployment's config in place
/// of the packaged paths (unchanged for the packaged binary in /etc/secmail).
fn unit_text(layout: &Layout, dir_abs: &Path) -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
        .filter(|p| !p.contains(char::is_whitespace))
        .unwrap_or_else(|| PACKAGED_BINARY.to_owned());
    let (text, config, here) = if layout.unit_file == "secmail.service" {
        (UNIT, UNIT_CONFIG, dir_abs.join("security.conf"))
    } else {
        let parent = dir_abs.parent().unwrap_or(Path::new("/"));
        (
            TEMPLATE_UNIT,
            TEMPLATE_CONFIG,
            parent.join("%i/security.conf"),
        )
    };
    text.replace(PACKAGED_BINARY, &exe)
        .replace(config, &here.display().to_string())
}

/// The group to give the deployment to: the service's, when DIR (or, for a new DIR, the
/// directory it is made in) belongs to it, as /etc/secmail does once the package is
/// installed. Any other group (a home directory's `users`) gets nothing.
fn shared_group(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let existing = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::path::absolute(dir).ok()?.parent()?.to_path_buf()
    };
    let gid = std::fs::metadata(existing).ok()?.gid();
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    (gid_of(&groups, SERVICE_GROUP) == Some(gid)).then_some(gid)
}

/// The gid of group `name` in an /etc/group text.
fn gid_of(groups: &str, name: &str) -> Option<u32> {
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name))
            .then(|| f.nth(1).and_then(|g| g.trim().parse().ok()))
            .flatten()
    })
}

pub fn run(o: &Options) -> Result<()> {
    scaffold(o, shared_group(o.dir))
}

/// [`run`] with the group to share the deployment with decided.
fn scaffold(o: &Options, group: Option<u32>) -> Result<()> {
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
    let layout = layout(o)?;
    let dir = o.dir;
    let files = [
        "security.conf",
        "project-secret.asc",
        "project.asc",
        "project-revocation.asc",
        "imap-password",
        "smtp-password",
        layout.unit_file,
        "templates",
    ];
    if let Some(f) = files.iter().find(|f| dir.join(f).exists()) {
        return Err(anyhow!(
            "{} already exists: init never overwrites a deployment",
            dir.join(f).display()
        ))
        .context(ExitCode::CantCreate);
    }
    // Shared with the service's group, the secrets are for the owner and the group; otherwise
    // for the owner only. The deployment's directories are read by the service and the team's
    // admins as before main set the umask to 077: 0755 when init makes them (0750 in the
    // service's group, whose directory /etc/secmail is 0750 too).
    let secret_mode = if group.is_some() { 0o640 } else { 0o600 };
    let give = |path: &Path| -> Result<()> {
        if let Some(gid) = group {
            std::os::unix::fs::chown(path, None, Some(gid))
                .with_context(|| format!("giving {} to group {SERVICE_GROUP}", path.display()))?;
        }
        Ok(())
    };
    let make_dir = |d: &Path, mode: u32| -> Result<()> {
        std::fs::create_dir(d)
            .and_then(|()| std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)))
            .with_context(|| format!("creating {}", d.display()))?;
        give(d)
    };
    if !dir.is_dir() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))
                .context(ExitCode::IoErr)?;
        }
        make_dir(dir, if group.is_some() { 0o750 } else { 0o755 }).context(ExitCode::IoErr)?;
    }
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
        if let Some(gid) = group {
            std::os::unix::fs::fchown(&f, None, Some(gid))
                .with_context(|| format!("giving {} to group {SERVICE_GROUP}", path.display()))?;
        }
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        // The umask may have taken bits away; never added any.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", path.display()))?;
        Ok(())
    };
    write("project-secret.asc", &key.secret, secret_mode).context(ExitCode::IoErr)?;
    write("project-revocation.asc", &key.revocation, secret_mode).context(ExitCode::IoErr)?;
    write("project.asc", &key.public, 0o644).context(ExitCode::IoErr)?;
    write("imap-password", "", secret_mode).context(ExitCode::IoErr)?;
    write("smtp-password", "", secret_mode).context(ExitCode::IoErr)?;
    make_dir(&dir.join("templates"), 0o755).context(ExitCode::IoErr)?;
    // The built-in templates, embedded so the installed binary scaffolds without the sources.
    for (name, text) in crate::shell::templates::BUILT_IN {
        write(&format!("templates/{name}.hbs"), text, 0o644).context(ExitCode::IoErr)?;
    }
    let dir_abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let conf_abs = dir_abs.join("security.conf");
    write(
        "security.conf",
        &config(o.name, &address, domain, &layout),
        0o640,
    )
    .context(ExitCode::IoErr)?;
    write(layout.unit_file, &unit_text(&layout, &dir_abs), 0o644).context(ExitCode::IoErr)?;
    println!("created a deployment in {}", dir_abs.display());
    println!(
        "project key {} ({}), no passphrase, file mode {:04o}{}",
        key.fingerprint,
        if o.rsa { "RSA 3072" } else { "Curve25519" },
        secret_mode,
        if group.is_some() {
            format!(", group {SERVICE_GROUP} (the service's)")
        } else {
            String::new()
        }
    );
    println!(
        "\nnext steps:\n\
         1. edit {conf}: [inbound] and [outbound] host, port and user (marked CHANGE ME)\n\
         2. put the IMAP and SMTP passwords into {dir}/imap-password and {dir}/smtp-password\n\
         3. add each team member as a [[team]] entry with their OpenPGP cert (see the example in the file)\n\
         4. publish {dir}/project.asc (fingerprint above), e.g. as the Encryption: of your security.txt\n\
         5. keep {dir}/project-revocation.asc offline; it revokes the key if it is ever lost\n\
         6. secmail --config {conf} check --online\n\
         7. systemctl enable --now {unit} (the .deb installed the unit; without the package, first\n   \
            install -m 0644 {dir}/{file} /etc/systemd/system/ and systemctl daemon-reload)",
        conf = conf_abs.display(),
        dir = dir_abs.display(),
        unit = layout.unit_name,
        file = layout.unit_file,
    );
    Ok(())
}

fn config(name: &str, address: &str, domain: &str, layout: &Layout) -> String {
    let control = match &layout.socket {
        Some(socket) => format!(
            "[control]\n# The running daemon serves the CLI here (status, cases, backup, ...); the unit's\n# RuntimeDirectory makes its directory.\nsocket = \"{}\"\n",
            socket.display()
        ),
        None => "# [control]\n# socket = \"/run/secmail/control\"   # default: the store path with \".sock\"\n".into(),
    };
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
# The unit's StateDirectory; the daemon's user must own it.
path = "{store}"

{control}
# Figures for monitoring (opt-in): Prometheus text on a loopback address, and/or a textfile
# for node_exporter's collector (the unit then needs ReadWritePaths= for its directory).
# [metrics]
# listen = "127.0.0.1:9187"

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
        store = layout.store.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_group_is_found_by_name_only() {
        let groups = "root:x:0:\nusers:x:100:alice\nsecmail:x:998:\nsecmailx:x:997:\n";
        assert_eq!(gid_of(groups, "secmail"), Some(998));
        assert_eq!(gid_of(groups, "users"), Some(100));
        assert_eq!(gid_of(groups, "secm"), None);
        assert_eq!(gid_of("secmail:x:notanumber:\n", "secmail"), None);
    }

    fn options<'a>(dir: &'a Path, instance: Option<&'a str>) -> Options<'a> {
        Options {
            dir,
            name: "Foo",
            address: "security@foo.test",
            rsa: false,
            store: None,
            instance,
        }
    }

    #[test]
    fn layout_follows_the_units() {
        let l = layout(&options(Path::new("/etc/secmail"), None)).unwrap();
        assert_eq!(l.store, Path::new("/var/lib/secmail/store"));
        assert_eq!(l.socket.as_deref(), Some(Path::new("/run/secmail/control")));
        assert_eq!(
            (l.unit_file, l.unit_name.as_str()),
            ("secmail.service", "secmail")
        );
        let l = layout(&options(Path::new("/etc/secmail/foo"), Some("foo"))).unwrap();
        assert_eq!(l.store, Path::new("/var/lib/secmail/foo/store"));
        assert_eq!(
            l.socket.as_deref(),
            Some(Path::new("/run/secmail/foo/control"))
        );
        assert_eq!(
            (l.unit_file, l.unit_name.as_str()),
            ("secmail@.service", "secmail@foo")
        );
        // --store elsewhere: the socket stays beside it (the default).
        let store = Path::new("/srv/store");
        let l = layout(&Options {
            store: Some(store),
            ..options(Path::new("/etc/secmail"), None)
        })
        .unwrap();
        assert_eq!((l.store.as_path(), l.socket), (store, None));
        for (dir, instance) in [
            ("/etc/secmail/bar", "foo"),
            ("/etc/secmail/foo", "../foo"),
            ("/etc/secmail/-x", "-x"),
            ("/etc/secmail/a b", "a b"),
            ("/etc/secmail", ""),
        ] {
            let e = layout(&options(Path::new(dir), Some(instance))).unwrap_err();
            assert_eq!(
                e.downcast_ref::<ExitCode>(),
                Some(&ExitCode::Usage),
                "{dir} {instance}"
            );
        }
    }

    /// In a directory of the service's group, what init writes is that group's, the secrets
    /// 0640; a gid that is not ours needs root to give files to.
    #[test]
    fn a_shared_deployment_is_the_service_groups() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid and getegid cannot fail and touch no memory.
        let (uid, my_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid != 0 {
            eprintln!("not root: the shared-group case of init is not run");
            return;
        }
        let gid = if my_gid == 4242 { 4243 } else { 4242 };
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("foo");
        scaffold(&options(&dir, Some("foo")), Some(gid)).unwrap();
        let meta = |f: &str| std::fs::metadata(dir.join(f)).unwrap();
        for (f, mode) in [
            ("", 0o750),
            ("project-secret.asc", 0o640),
            ("project-revocation.asc", 0o640),
            ("imap-password", 0o640),
            ("smtp-password", 0o640),
            ("security.conf", 0o640),
            ("project.asc", 0o644),
            ("templates", 0o755),
            ("templates/ack.hbs", 0o644),
            ("secmail@.service", 0o644),
        ] {
            let m = meta(f);
            assert_eq!((f, m.mode() & 0o777), (f, mode), "mode of {f:?}");
            assert_eq!((f, m.gid()), (f, gid), "group of {f:?}");
        }
    }
    #[test]
    fn every_shipped_template_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let listed = crate::shell::templates::BUILT_IN
                .iter()
                .any(|(n, _)| format!("{n}.hbs") == name);
            if name.ends_with(".hbs") && !listed {
                missing.push(name);
            }
        }
        assert!(
            missing.is_empty(),
            "add {missing:?} to shell::templates::BUILT_IN"
        );
    }
}
