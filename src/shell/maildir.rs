//! The Maildir inbound: reads `new/` and `cur/` of a Maildir. With `move-processed`, handled
//! mail goes to the `.Processed` or `.Quarantine` sub-maildir (created when missing); without
//! it (the demo, whose maildir git tracks) files are left alone and the store alone remembers.
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct MaildirItem {
    pub path: PathBuf,
    pub size: u64,
}

/// Messages in `new/` then `cur/`, each sorted by name (delivery order for Maildir names).
pub fn list(root: &Path) -> Result<Vec<MaildirItem>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let dir = root.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading maildir {}", dir.display())),
        };
        let mut items: Vec<MaildirItem> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                meta.is_file().then(|| MaildirItem {
                    path: e.path(),
                    size: meta.len(),
                })
            })
            .collect();
        items.sort_by(|a, b| a.path.cmp(&b.path));
        out.extend(items);
    }
    Ok(out)
}

/// Moves a handled message into the `.Processed` or `.Quarantine` sub-maildir's `cur/`.
pub fn file_away(root: &Path, item: &Path, quarantine: bool) -> Result<()> {
    let folder = root.join(if quarantine {
        ".Quarantine"
    } else {
        ".Processed"
    });
    for sub in ["cur", "new", "tmp"] {
        crate::shell::private::create_dir_private(&folder.join(sub))
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    let name = item.file_name().context("maildir entry without a name")?;
    let dest = folder.join("cur").join(name);
    std::fs::rename(item, &dest)
        .with_context(|| format!("moving {} to {}", item.display(), dest.display()))?;
    Ok(())
}

/// Delivers bytes into a maildir the Maildir way (tmp/ then rename into new/). For tests and
/// for `secmail import`.
pub fn deliver(root: &Path, raw: &[u8], unique: &str) -> Result<PathBuf> {
    for sub in ["cur", "new", "tmp"] {
        crate::shell::private::create_missing_dirs_private(&root.join(sub))
            .with_context(|| format!("creating {}", root.display()))?;
    }
    let tmp = root.join("tmp").join(unique);
    crate::shell::private::create_file_private(&tmp)
        .and_then(|mut f| f.write_all(raw).and_then(|()| f.sync_all()))
        .with_context(|| format!("writing {}", tmp.display()))?;
    let dest = root.join("new").join(unique);
    std::fs::rename(&tmp, &dest).with_context(|| format!("delivering {}", dest.display()))?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_delivers_and_files_away() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(list(root).unwrap().is_empty());
        deliver(root, b"b", "2.x").unwrap();
        deliver(root, b"a", "1.x").unwrap();
        let items = list(root).unwrap();
        let names: Vec<_> = items
            .iter()
            .map(|i| i.path.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, vec!["1.x", "2.x"]);
        file_away(root, &items[0].path, false).unwrap();
        file_away(root, &items[1].path, true).unwrap();
        assert!(list(root).unwrap().is_empty());
        assert!(root.join(".Processed/cur/1.x").exists());
        assert!(root.join(".Quarantine/cur/2.x").exists());
    }
}
