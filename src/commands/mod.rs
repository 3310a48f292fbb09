//! The code behind each subcommand. Each returns `anyhow::Result`; errors carrying an
//! [`ExitCode`] choose the process exit status (sysexits).
pub mod backup;
pub mod cases;
pub mod check;
pub mod import;
pub mod init;
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
