//! The code behind each subcommand. Each returns `anyhow::Result`; errors carrying an
//! [`ExitCode`] choose the process exit status (sysexits).
pub mod backup;
pub mod cases;
pub mod check;
pub mod distributors;
pub mod export;
pub mod generate;
pub mod import;
pub mod init;
pub mod quarantine;
pub mod remote;
pub mod run;
pub mod status;

use crate::config::Config;
use crate::shell::clock::Clock;

/// The exit status of every subcommand, one per meaning (sysexits(3)); README "Exit codes"
/// lists them for operators. 0 is success; an error without a code is `IoErr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExitCode {
    /// The command line is wrong: an unknown option or value, a malformed case id or state.
    #[error("usage")]
    Usage = 64,
    /// The input is wrong: no such case, a file that is not a backup of this project or not
    /// an mbox, a cert that does not parse.
    #[error("bad input")]
    DataErr = 65,
    /// A server could not be reached or failed for now (IMAP, SMTP): try again later.
    #[error("unavailable")]
    Unavailable = 69,
    /// What would be written is already there, and secmail never overwrites it: a deployment
    /// for `init`, a non-empty store for `restore`, a left-over partial backup.
    #[error("would overwrite")]
    CantCreate = 73,
    /// Reading or writing a file or the store failed (disk full, permissions).
    #[error("i/o error")]
    IoErr = 74,
    /// The store is held by a running daemon: try again once it is stopped.
    #[error("temporary failure")]
    TempFail = 75,
    /// Not allowed (the control socket refused the caller).
    #[error("permission denied")]
    NoPerm = 77,
    /// The configuration is wrong: security.conf, keys, templates, a ca-file, or a server
    /// that refused it (a wrong password, a folder it cannot create).
    #[error("configuration error")]
    Config = 78,
}

/// The exit code of a failed talk to a mail server: 78 when the server refused the
/// configuration (`shell::failure`), 69 otherwise.
pub fn server_failure(e: anyhow::Error) -> anyhow::Error {
    use crate::shell::failure::FailureClass;
    let code = match FailureClass::of(&e) {
        FailureClass::Config => ExitCode::Config,
        FailureClass::Unavailable => ExitCode::Unavailable,
    };
    e.context(code)
}

impl ExitCode {
    /// The exit code an error carries (`IoErr` when none): anyhow's downcast sees context
    /// values at every level (`.context(ExitCode::…)`), the chain only sees errors.
    pub fn of(e: &anyhow::Error) -> ExitCode {
        crate::shell::failure::carried(e).unwrap_or(ExitCode::IoErr)
    }

    /// The code a number names (the control socket carries codes as numbers); `IoErr` for
    /// one that names none.
    pub fn from_code(code: u64) -> ExitCode {
        [
            ExitCode::Usage,
            ExitCode::DataErr,
            ExitCode::Unavailable,
            ExitCode::CantCreate,
            ExitCode::IoErr,
            ExitCode::TempFail,
            ExitCode::NoPerm,
            ExitCode::Config,
        ]
        .into_iter()
        .find(|c| *c as u64 == code)
        .unwrap_or(ExitCode::IoErr)
    }
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
    open_store_at(&config.store_path)
}

/// [`open_store`] at `path`: 75 when a running daemon holds it, 74 when it cannot be read.
pub fn open_store_at(path: &std::path::Path) -> anyhow::Result<crate::shell::store::Store> {
    use anyhow::Context;
    crate::shell::store::Store::open(path)
        .map_err(|e| {
            if e.is::<crate::shell::store::StoreLocked>() {
                e.context(format!(
                    "the store {} is in use: stop the daemon first (systemctl stop secmail)",
                    path.display()
                ))
                .context(ExitCode::TempFail)
            } else {
                e.context(ExitCode::IoErr)
            }
        })
        .context("opening the store")
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn every_code_reads_back_from_its_number() {
        for c in [
            ExitCode::Usage,
            ExitCode::DataErr,
            ExitCode::Unavailable,
            ExitCode::CantCreate,
            ExitCode::IoErr,
            ExitCode::TempFail,
            ExitCode::NoPerm,
            ExitCode::Config,
        ] {
            assert_eq!(ExitCode::from_code(c as u64), c);
        }
        assert_eq!(ExitCode::from_code(0), ExitCode::IoErr);
        assert_eq!(ExitCode::from_code(1), ExitCode::IoErr);
    }
}
