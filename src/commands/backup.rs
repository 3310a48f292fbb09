//! `secmail backup FILE` and `secmail restore FILE`: the whole store as one file, signed by
//! and encrypted to the project key, and back into an empty store.
//!
//! Format inside the OpenPGP message: the line `secmail-backup 1`, the record count as 8
//! bytes big-endian, then per record (tree, key, value) each as 4-byte big-endian length +
//! bytes. The OpenPGP layer gives confidentiality, integrity (SEIPD) and origin (a signature
//! by a project key is required on restore).
//!
//! Invariants: the export is consistent: the store is opened exclusively (sled's lock) or, while
//! the daemon runs, the daemon takes it under its write lock (`commands::remote`); a restore writes only into a store holding no
//! record, and checks the count it wrote.
use super::ExitCode;
use crate::core::seal;
use crate::shell::clock::Clock;
use crate::shell::private;
use crate::shell::store::{Record, Store};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8] = b"secmail-backup 1\n";

fn open_store(path: &Path) -> Result<Store> {
    super::open_store_at(path)
}

pub fn backup(config_path: &Path, file: &Path) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    // With the daemon running, it takes the snapshot under its write lock (online backup).
    let store = super::remote::open(&config)?;
    let records = store.export().context(ExitCode::IoErr)?;
    let plain = encode(&records);
    let certs = config.keys.public_certs();
    let to: Vec<_> = certs.iter().take(1).collect();
    let sealed = seal::sign_and_encrypt(&config.keys, &to, &plain, clock.now().into())
        .map_err(|e| anyhow!("sealing the backup: {e}"))?;
    // The temporary file is created exclusively (O_EXCL: never through a symlink, never a file
    // already there, whoever put it there). One in the way is not removed: it is a crashed
    // backup's or somebody's plant, and the operator decides which; we name it.
    let tmp = file.with_extension("partial");
    let mut f = match private::create_file_private(&tmp) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(anyhow!(
                "{} already exists (left by an interrupted backup, or not ours): check it, remove it and run the backup again",
                tmp.display()
            ))
            .context(ExitCode::CantCreate)
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("creating {}", tmp.display()))
                .context(ExitCode::IoErr)
        }
    };
    f.write_all(sealed.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))
        .context(ExitCode::IoErr)?;
    drop(f);
    // rename replaces whatever is at `file`, a symlink included, without following it.
    std::fs::rename(&tmp, file)
        .with_context(|| format!("renaming to {}", file.display()))
        .context(ExitCode::IoErr)?;
    println!(
        "backup of {} ({} records, {} cases) written to {}, encrypted to {}",
        config.store_path.display(),
        records.len(),
        records
            .iter()
            .filter(
                |(tree, key, _)| tree.as_slice() == b"__sled__default" && key.starts_with(b"case/")
            )
            .count(),
        file.display(),
        config.keys.signing_fingerprint()
    );
    Ok(())
}

pub fn restore(config_path: &Path, file: &Path, store_path: Option<&Path>) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let target = store_path.unwrap_or(&config.store_path);
    let sealed = std::fs::read(file)
        .with_context(|| format!("reading {}", file.display()))
        .context(ExitCode::IoErr)?;
    let plain = seal::open_own(&config.keys, &sealed, clock.now().into())
        .map_err(|e| anyhow!("{}: not a backup of this project: {e}", file.display()))
        .context(ExitCode::DataErr)?;
    let records = decode(&plain)
        .with_context(|| format!("{}: damaged backup", file.display()))
        .context(ExitCode::DataErr)?;
    // Run as root (as restores are), the files sled writes would be root's and the service
    // user could not open its store (issue 12.9): decided to give the restored store to whoever
    // owns it, or its directory, rather than refuse and make root copy the backup around.
    // SAFETY: geteuid only reads the process's effective user id.
    let as_root = unsafe { libc::geteuid() } == 0;
    let owner = private::intended_owner(target).filter(|(uid, _)| as_root && *uid != 0);
    let store = open_store(target)?;
    if !store.is_empty() {
        return Err(anyhow!(
            "{} already holds data: restore only into an empty store (move it aside first)",
            target.display()
        ))
        .context(ExitCode::CantCreate);
    }
    store.import(&records).context(ExitCode::IoErr)?;
    let written = store.export().context(ExitCode::IoErr)?.len();
    let made_on_open = usize::from(!Store::records_have_id_secret(&records));
    if written != records.len() + made_on_open {
        bail!("restored {written} records of {}", records.len());
    }
    println!(
        "restored {} records ({} cases) into {}",
        records.len(),
        records
            .iter()
            .filter(
                |(tree, key, _)| tree.as_slice() == b"__sled__default" && key.starts_with(b"case/")
            )
            .count(),
        target.display()
    );
    // Everything written and the store closed before its files change hands.
    store.flush_blocking().context(ExitCode::IoErr)?;
    drop(store);
    if let Some((uid, gid)) = owner {
        private::chown_tree(target, uid, gid)
            .with_context(|| format!("giving {} to uid {uid}", target.display()))
            .context(ExitCode::IoErr)?;
        println!(
            "{} given to uid {uid} gid {gid}, its owner, so that the service can open it",
            target.display()
        );
    }
    Ok(())
}

fn encode(records: &[Record]) -> Vec<u8> {
    let size: usize = records
        .iter()
        .map(|(t, k, v)| 12 + t.len() + k.len() + v.len())
        .sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(records.len() as u64).to_be_bytes());
    for (t, k, v) in records {
        for part in [t, k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode(mut b: &[u8]) -> Result<Vec<Record>> {
    b = b
        .strip_prefix(MAGIC)
        .ok_or_else(|| anyhow!("unknown format"))?;
    let (n, rest) = b
        .split_first_chunk::<8>()
        .ok_or_else(|| anyhow!("truncated"))?;
    let n = u64::from_be_bytes(*n);
    b = rest;
    let mut out = Vec::new();
    let take = |b: &mut &[u8]| -> Result<Vec<u8>> {
        let (len, rest) = b
            .split_first_chunk::<4>()
            .ok_or_else(|| anyhow!("truncated"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            bail!("truncated");
        }
        let (v, rest) = rest.split_at(len);
        *b = rest;
        Ok(v.to_vec())
    };
    for _ in 0..n {
        out.push((take(&mut b)?, take(&mut b)?, take(&mut b)?));
    }
    if !b.is_empty() {
        bail!("trailing bytes");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_found() {
        let recs: Vec<Record> = vec![
            (
                b"__sled__default".to_vec(),
                b"case/SEC-2026-0001".to_vec(),
                b"{}".to_vec(),
            ),
            (b"t".to_vec(), Vec::new(), vec![0u8; 70000]),
        ];
        let enc = encode(&recs);
        assert_eq!(decode(&enc).unwrap(), recs);
        assert!(decode(&enc[..enc.len() - 1]).is_err());
        assert!(decode(&[enc.as_slice(), b"x"].concat()).is_err());
        assert!(decode(b"other").is_err());
        assert!(decode(&encode(&[])).unwrap().is_empty());
    }
}
