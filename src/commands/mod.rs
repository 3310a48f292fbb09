//! The code behind each subcommand. Each returns `anyhow::Result`; errors carrying an
//! [`ExitCode`] choose the process exit status (sysexits).
pub mod backup;
pub mod cases;
pub mod check;
pub mod distributors;
pub mod export;
pub mod import;
pub mod init;
pub mod quarantine;
pub mod run;

use crate::config::Config;
use crate::shell::clock::Clock;

/// sysexits(3) codes used by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExitCode {
    #[error("usage")]
    Usage = 64,
    #[error("bad input")]
    DataErr = 65,
    #[error("unavailable")]
    Unavailable = 69,
    #[error("i/o error")]
    IoErr = 74,
    /// The store is held by a running daemon: try again once it is stopped.
    #[error("temporary failure")]
    TempFail = 75,
    #[error("configuration error")]
    Config = 78,
}

/// Loads the config, logging its warnings; a config error exits 78.
pub fn load(path: &std::path::Path, clock: Clock) -> anyhow::Result<Config> {
    let config = Config::load(path, clock.now().into())
        .map_err(|e| anyhow::Error::new(e).context(ExitCode::Config))?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

/// Opens the store; held by a running daemon it exits 75 (EX_TEMPFAIL) naming the lock.
pub fn open_store(config: &Config) -> anyhow::Result<crate::shell::store::Store> {
    use anyhow::Context;
    crate::shell::store::Store::open(&config.store_path)
        .map_err(|e| {
            let code = if e.is::<crate::shell::store::StoreLocked>() {
                ExitCode::TempFail
            } else {
                ExitCode::IoErr
            };
            e.context(code)
        })
        .context("opening the store")
}
