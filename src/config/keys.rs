//! The key material of the configuration: `[keys]` (the project's secret keys, their passphrase,
//! reporter certs known in advance) and `[[team]]` (each member's cert), plus the one reader of
//! secret files that password files use too.
//!
//! Invariants:
//! - A secret file (secret key, passphrase, password) that others may read is refused, unless
//!   the project runs on the public demo keys (then the one DEMO KEYS warning covers it).
//! - Every team member's cert carries a user id for the member's address; no address is listed
//!   twice. A cert that cannot be encrypted to is only warned about (DESIGN.md: that member gets
//!   nothing and the others are told).
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::reader::{Errors, Section};
use crate::core::keys::{self, Cert, ProjectKeys};
use crate::model::{TeamMember, TeamRole};

/// `[keys]`: the unlocked project keys (`None` with the problems in `e`) and the known certs.
pub(super) fn read_keys(
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
        read_secret_file("keys.passphrase-file", &p, false, e).map(|b| {
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

/// Reads a secret file, refusing one that others may read. `demo` (`[project] demo-keys`)
/// relaxes that for the public demo key only, recognised by its fingerprint: it is public by
/// design (the one loud DEMO KEYS warning covers it); any other key stays refused.
pub fn read_secret_file(key: &str, path: &Path, demo: bool, e: &mut Errors) -> Option<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) => {
            e.add(key, format!("{}: {err}", path.display()));
            return None;
        }
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(err) => {
            e.add(key, format!("{}: {err}", path.display()));
            return None;
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 && !(demo && is_demo_key(&bytes)) {
        e.add(
            key,
            format!(
                "{} has mode {mode:04o}: others may read it; run `chmod o-rwx {}`",
                path.display(),
                path.display()
            ),
        );
        return None;
    }
    Some(bytes)
}

/// The file holds the public demo key (`keys::DEMO_FINGERPRINT`).
fn is_demo_key(bytes: &[u8]) -> bool {
    keys::parse_cert(bytes).is_ok_and(|c| keys::fingerprint(&c) == keys::DEMO_FINGERPRINT)
}

/// `[[team]]`: the members whose entries are complete (the problems of the others in `e`).
pub(super) fn read_team(
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
        let address_key = s.key("address");
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
                e.add(&address_key, format!("{address} is listed twice"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // demo-keys relaxes the check for the demo key only.
        let mut e = Errors::default();
        assert!(read_secret_file("keys.secret[0]", &key, true, &mut e).is_none());
        let demo = dir.path().join("demo.asc");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(repo.join("keys/demo-project-secret.asc"), &demo).unwrap();
        std::fs::set_permissions(&demo, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut e = Errors::default();
        assert!(read_secret_file("keys.secret[0]", &demo, true, &mut e).is_some());
        assert!(e.0.is_empty(), "demo keys relax the check: {:?}", e.0);
        assert!(read_secret_file("keys.secret[0]", &demo, false, &mut e).is_none());
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut e = Errors::default();
        assert!(read_secret_file("k", &key, false, &mut e).is_some() && e.0.is_empty());
    }
}
