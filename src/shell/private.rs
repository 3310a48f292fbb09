//! Report content stays out of logs and out of other users' reach on disk (SECURITY.md, class
//! 9 "Leaks to logs and disk"): directories we create are 0700 and files we write 0600,
//! whatever the umask, and the log filter never lets through a dependency that logs content.
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and any missing parent, each 0700), then sets `dir` itself to 0700: the
/// umask only takes bits away, and a directory that was already there may be wider. Parents
/// that already existed are left as they are (they may be shared, like /var/lib).
pub fn create_dir_private(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// Creates whatever of `dir` is missing, each directory 0700; what is already there is left
/// as it is (a maildir the mail server made, the directory an export is written into).
pub fn create_missing_dirs_private(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path` exclusively (O_EXCL: never a file or symlink already there) with mode 0600,
/// set again explicitly after creation.
pub fn create_file_private(path: &Path) -> io::Result<File> {
    create_file_with_mode(path, FILE_MODE)
}

/// As [`create_file_private`], with `mode`.
fn create_file_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(mode))?;
    Ok(f)
}

/// Writes `data` to `path` as a 0600 file, replacing a file there: the bytes go to a new
/// temporary file beside it (created exclusively), synced, then renamed over `path`, so that
/// neither a symlink at `path` is followed nor a wider file's mode kept.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    write_replacing(path, data, FILE_MODE)
}

/// As [`write_private`], the file's mode `mode` (0644 for what others read: the metrics
/// textfile).
pub fn write_replacing(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = create_file_with_mode(&tmp, mode)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Sets every file under `dir` to 0600 and every directory to 0700 (the files sled made in
/// the store, before we set its directory to 0700). Symlinks are left alone.
pub fn restrict_tree(dir: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            std::fs::set_permissions(e.path(), Permissions::from_mode(DIR_MODE))?;
            restrict_tree(&e.path())?;
        } else if t.is_file() {
            std::fs::set_permissions(e.path(), Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(())
}

/// Who a store at `dir` belongs to: the owner of `dir` when it exists, else of its parent
/// (systemd's `StateDirectory=`, made for the service user). `None` when neither exists.
pub fn intended_owner(dir: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let m = std::fs::symlink_metadata(dir)
        .ok()
        .or_else(|| std::fs::symlink_metadata(parent.unwrap_or(Path::new("."))).ok())?;
    Some((m.uid(), m.gid()))
}

/// Gives `dir` and everything under it to `uid`:`gid`. Symlinks are neither followed nor
/// descended into (`lchown` on the link itself), so a link planted in the tree cannot hand
/// a file elsewhere to the store's owner.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            chown_tree(&e.path(), uid, gid)?;
        } else {
            std::os::unix::fs::lchown(e.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// Dependencies that log what passes through them: handlebars the variables it renders (at
/// debug and trace), async-imap the raw protocol (whole messages, at trace), sled its keys.
/// The others are here in case a later version starts to. Their warnings and errors pass
/// (`Some(WARN)`), except handlebars' (`None`): nothing it says is for the operator, and our
/// own errors already report a template that fails.
const CONTENT_TARGETS: &[(&str, Option<tracing::Level>)] = &[
    ("handlebars", None),
    ("async_imap", Some(tracing::Level::WARN)),
    ("imap_proto", Some(tracing::Level::WARN)),
    ("sled", Some(tracing::Level::WARN)),
    ("mail_parser", Some(tracing::Level::WARN)),
    ("lettre", Some(tracing::Level::WARN)),
    ("sequoia_openpgp", Some(tracing::Level::WARN)),
];

/// Whether an event or span may be logged at all, whatever `SECMAIL_LOG` says: the log
/// subscriber (src/main.rs) puts this before the user's filter, so a directive naming a
/// module (`handlebars::render=trace`) or a span cannot widen it.
pub fn loggable(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    for (t, max) in CONTENT_TARGETS {
        let ours = target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        if ours {
            // Level order: ERROR < WARN < … < TRACE.
            return max.is_some_and(|max| *meta.level() <= max);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_dirs_are_private_and_never_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, Permissions::from_mode(0o755)).unwrap();
        create_dir_private(&d).unwrap();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        let f = d.join("f");
        write_private(&f, b"x").unwrap();
        write_private(&f, b"y").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"y");
        let target = dir.path().join("target");
        std::fs::write(&target, "t").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_file_private(&link).is_err());
        write_private(&link, b"z").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"t");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            2,
            "a temporary file left"
        );
        // A file meant for others (the metrics textfile) gets its mode whatever the umask.
        let public = d.join("secmail.prom");
        write_replacing(&public, b"m 1\n", 0o644).unwrap();
        assert_eq!(mode(&public), 0o644);
    }
}
