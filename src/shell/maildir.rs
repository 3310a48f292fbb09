//! The Maildir inbound: reads `new/` and `cur/` of a Maildir. With `move-processed`, handled
//! mail goes to the `.Processed` or `.Quarantine` sub-maildir (created when missing); without
//! it (the demo, whose maildir git tracks) files are left alone and the store alone remembers.
//! A message over the size limit is read only up to the end of its header ([`read_header`]).
use anyhow::{Context, Result};
use std::io::{BufRead, Read, Write};
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

/// The header of the message at `path`: its lines up to and with the first empty line, at most
/// `cap` bytes (a longer header is cut at the cap). The body is never read: only what the
/// header takes, rounded up to the reader's buffer, comes off the disk.
pub fn read_header(path: &Path, cap: usize) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::new(file.take(cap as u64));
    let mut out = Vec::new();
    loop {
        let start = out.len();
        if reader.read_until(b'\n', &mut out)? == 0 {
            return Ok(out);
        }
        if matches!(&out[start..], b"\n" | b"\r\n") {
            return Ok(out);
        }
    }
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

    #[test]
    fn the_header_is_read_up_to_its_empty_line_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let check = |raw: &[u8], cap: usize, expected: &[u8]| {
            let path = dir.path().join("m");
            std::fs::write(&path, raw).unwrap();
            assert_eq!(
                read_header(&path, cap).unwrap(),
                expected,
                "{:?} cap {cap}",
                String::from_utf8_lossy(raw)
            );
        };
        let body = "the body\r\n".repeat(10_000);
        // CRLF and LF, the empty line kept, nothing of the body.
        let crlf = format!("From: a@b\r\nSubject: x\r\n\tfolded\r\n\r\n{body}");
        check(
            crlf.as_bytes(),
            64 << 10,
            b"From: a@b\r\nSubject: x\r\n\tfolded\r\n\r\n",
        );
        check(b"From: a@b\n\nbody\n", 64 << 10, b"From: a@b\n\n");
        // Cut at the cap: a header bigger than it, and one that never ends.
        let huge = format!(
            "From: a@b\r\n{}\r\n{body}",
            "X-Filler: 0123456789\r\n".repeat(5_000)
        );
        check(huge.as_bytes(), 64 << 10, &huge.as_bytes()[..64 << 10]);
        check(
            b"From: a@b\r\nSubject: no end",
            64 << 10,
            b"From: a@b\r\nSubject: no end",
        );
        check(b"From: a@b\r\nSubject: x\r\n\r\n", 12, b"From: a@b\r\nS");
        // A message that starts with its body has an empty header.
        check(b"\r\nbody\r\n", 64 << 10, b"\r\n");
        check(b"", 64 << 10, b"");
        assert!(read_header(&dir.path().join("gone"), 10).is_err());
    }
}
