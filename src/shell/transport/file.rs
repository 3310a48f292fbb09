//! The file transport's writing: each message an `.eml` file in the outbox directory, written
//! whole under a temporary name, synced, renamed into place, the directory synced after (one
//! sync for a group of files). [`super::Mailer`] decides what to write; this writes it.
use super::{Outbound, SendError};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Keeps `[A-Za-z0-9._-]`, replaces the rest with `_`, never starts with a dot, at most 200
/// bytes; `message` if nothing is left.
pub(super) fn sanitize_stem(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    s.truncate(200);
    if s.is_empty() {
        s.push_str("message");
    }
    s
}

/// Writes `<dir>/<stem>.eml` atomically and durably; returns its path. A stem starting with a
/// dot is kept as given only for the internal probe of `check`.
pub(super) async fn write_file(dir: &Path, stem: &str, raw: &[u8]) -> Result<PathBuf> {
    let (dir, stem, raw) = (dir.to_path_buf(), stem.to_string(), raw.to_vec());
    tokio::task::spawn_blocking(move || write_file_now(&dir, &stem, &raw))
        .await
        .context("file writer task failed")?
}

/// One message as the transport sends it: [`write_file`], a failure transient (the outbox
/// retries), the file logged by name and size only.
pub(super) async fn write_message(dir: &Path, stem: &str, raw: &[u8]) -> Result<(), SendError> {
    let path = write_file(dir, stem, raw).await.map_err(transient)?;
    tracing::debug!(path = %path.display(), bytes = raw.len(), "message written");
    Ok(())
}

/// A file that could not be written: it may be on a later try (a full disk, a permission put
/// right).
fn transient(e: anyhow::Error) -> SendError {
    SendError::Transient(format!("{e:#}"))
}

/// As [`write_file`], blocking.
fn write_file_now(dir: &Path, stem: &str, raw: &[u8]) -> Result<PathBuf> {
    crate::shell::private::create_dir_private(dir).with_context(|| format!("creating {dir:?}"))?;
    let path = write_one(dir, stem, raw)?;
    sync_dir(dir)?;
    Ok(path)
}

/// Several files into `dir` at once, on one blocking task: every file written under its
/// temporary name first, then each synced and renamed, then the directory synced once; a file
/// is reported written only after that sync, which makes every rename durable. One writer, not
/// one per file: creators in one directory contend for its lock (spinning, issue 14.2), and
/// after the first file's sync the others' data has gone out with the same journal commit.
pub(super) async fn write_files(
    dir: &Path,
    messages: &[Outbound<'_>],
) -> Vec<Result<(), SendError>> {
    let owned: Vec<(String, Vec<u8>)> = messages
        .iter()
        .map(|m| (m.file_stem.to_string(), m.raw.to_vec()))
        .collect();
    let n = owned.len();
    let d = dir.to_path_buf();
    let written = tokio::task::spawn_blocking(move || write_files_now(&d, &owned)).await;
    match written {
        Ok(results) => results
            .into_iter()
            .map(|r| match r {
                Ok(path) => {
                    tracing::debug!(path = %path.display(), "message written");
                    Ok(())
                }
                Err(e) => Err(transient(e)),
            })
            .collect(),
        Err(e) => (0..n)
            .map(|_| Err(SendError::Transient(format!("file writer task: {e}"))))
            .collect(),
    }
}

/// As [`write_files`], blocking: one result per file.
fn write_files_now(dir: &Path, files: &[(String, Vec<u8>)]) -> Vec<Result<PathBuf>> {
    if let Err(e) = crate::shell::private::create_dir_private(dir) {
        return files
            .iter()
            .map(|_| Err(anyhow::anyhow!("creating {dir:?}: {e}")))
            .collect();
    }
    let started: Vec<Result<(std::fs::File, PathBuf, PathBuf)>> = files
        .iter()
        .map(|(stem, raw)| start_one(dir, stem, raw))
        .collect();
    let placed: Vec<Result<PathBuf>> = started
        .into_iter()
        .map(|r| r.and_then(|(f, tmp, path)| place(f, &tmp, path)))
        .collect();
    match sync_dir(dir) {
        Ok(()) => placed,
        Err(e) => placed
            .into_iter()
            .map(|_| Err(anyhow::anyhow!("{e:#}")))
            .collect(),
    }
}

/// One file written whole under a temporary name, synced, and renamed into place (the rename
/// is durable once the directory is synced, [`sync_dir`]).
fn write_one(dir: &Path, stem: &str, raw: &[u8]) -> Result<PathBuf> {
    let (f, tmp, path) = start_one(dir, stem, raw)?;
    place(f, &tmp, path)
}

/// The second half of [`write_one`]: the file [`start_one`] wrote synced, closed and renamed
/// from `tmp` to `path`; returns `path`.
fn place(f: std::fs::File, tmp: &Path, path: PathBuf) -> Result<PathBuf> {
    f.sync_all().with_context(|| format!("writing {tmp:?}"))?;
    drop(f);
    std::fs::rename(tmp, &path).with_context(|| format!("renaming to {path:?}"))?;
    Ok(path)
}

/// The bytes written under a fresh temporary name beside the final one, not yet synced:
/// (file, temporary path, final path).
fn start_one(dir: &Path, stem: &str, raw: &[u8]) -> Result<(std::fs::File, PathBuf, PathBuf)> {
    use std::io::Write;
    static TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = if stem == ".secmail-check" {
        stem.to_string()
    } else {
        format!("{}.eml", sanitize_stem(stem))
    };
    let path = dir.join(&name);
    let n = TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let mut f = crate::shell::private::create_file_private(&tmp)
        .with_context(|| format!("creating {tmp:?}"))?;
    f.write_all(raw)
        .with_context(|| format!("writing {tmp:?}"))?;
    Ok((f, tmp, path))
}

/// Makes the renames into `dir` survive a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {dir:?}"))
}
