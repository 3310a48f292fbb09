//! Command-line definitions, and where the configuration is read from when `--config` is not
//! given; the code behind each subcommand is in `commands/`.
use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "SECMAIL_CONFIG";
/// The configuration in the working directory, the first choice without `--config` or
/// `SECMAIL_CONFIG` (a checkout, the demo, a deployment directory one works in).
pub const LOCAL_CONFIG: &str = "security.conf";
/// The packaged service's configuration (`secmail init /etc/secmail`), used when the working
/// directory has none: `secmail status` as root on the host just works.
pub const SYSTEM_CONFIG: &str = "/etc/secmail/security.conf";

#[derive(Debug, Parser)]
#[command(
    name = "secmail",
    version,
    about = "Runs a project's security@ mailbox: decrypts reports, opens cases, answers reporters, copies the team",
    after_help = "Examples:\n  secmail run --once          handle what is waiting, send, exit\n  secmail check               validate security.conf, keys and templates\n  secmail cases --state new   list new cases\n  secmail case SEC-2026-0001  show a case's timeline\n  secmail init /etc/secmail --name \"Example Project\" --address security@example.org\n  secmail backup store.pgp    encrypted backup of the whole store\n  secmail distributors list   the confidential distributor list\n  secmail status              how the running daemon is doing\n  secmail outbox list         mail waiting to be sent\n  secmail quarantine list     messages kept without a case\n  secmail export SEC-2026-0001 --format csaf\n  secmail security-txt --output .well-known/security.txt"
)]
pub struct Cli {
    /// The configuration file. Without it: $SECMAIL_CONFIG if set, else ./security.conf if it
    /// exists, else /etc/secmail/security.conf (the packaged service's).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How log lines are written to stderr: text, or json (one object per line, for a log
    /// collector). Without it: the journal's own fields under systemd, text elsewhere.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The configuration file this run reads: `--config`, else [`CONFIG_ENV`], else
    /// [`LOCAL_CONFIG`] if it exists, else [`SYSTEM_CONFIG`] if that exists, else
    /// [`LOCAL_CONFIG`] (so that the error names the file one would expect).
    pub fn config_path(&self) -> PathBuf {
        config_path(self.config.as_deref(), std::env::var_os(CONFIG_ENV), |p| {
            p.exists()
        })
    }
}

/// [`Cli::config_path`] with the environment and the file system passed in. An empty
/// `SECMAIL_CONFIG` counts as unset, as an empty `--config` cannot be meant.
pub fn config_path(
    flag: Option<&Path>,
    env: Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = env.filter(|e| !e.is_empty()) {
        return PathBuf::from(p);
    }
    let local = Path::new(LOCAL_CONFIG);
    let system = Path::new(SYSTEM_CONFIG);
    if !exists(local) && exists(system) {
        system.to_path_buf()
    } else {
        local.to_path_buf()
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event: time, level, target, message, fields.
    Text,
    /// One JSON object per event and line: timestamp, level, target, message and the fields
    /// (`case_id`, `msg_hash`, …) as keys.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (watch the mailbox, answer, send).
    #[command(after_help = "Example:\n  secmail --config security.conf run --once")]
    Run {
        /// Do one full cycle (inbound, then outbox) and exit.
        #[arg(long)]
        once: bool,
    },
    /// Check the configuration, keys and templates; with --online also log in to the servers.
    #[command(after_help = "Example:\n  secmail check --online")]
    Check {
        #[arg(long)]
        online: bool,
    },
    /// List cases.
    #[command(after_help = "Example:\n  secmail cases --state new --json")]
    Cases {
        /// Only cases in this state (new, triage, confirmed, fixing, fix-ready, ...).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one case and its timeline.
    #[command(after_help = "Example:\n  secmail case SEC-2026-0001")]
    Case {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a deployment in DIR: a new project key, security.conf, templates, the unit file.
    #[command(
        after_help = "Examples:\n  secmail init /etc/secmail --name \"Example Project\" --address security@example.org\n  secmail init /etc/secmail/foo --instance foo --name Foo --address security@foo.example"
    )]
    Init {
        dir: PathBuf,
        /// The project's name, as reporters see it.
        #[arg(long)]
        name: String,
        /// The security address (the IMAP mailbox reports arrive in).
        #[arg(long)]
        address: String,
        /// An RSA 3072 key instead of Curve25519 (for reporters with old OpenPGP software).
        #[arg(long)]
        rsa: bool,
        /// Where the store goes [default: /var/lib/secmail/store, the service's
        /// StateDirectory; /var/lib/secmail/NAME/store with --instance]. Given, the control
        /// socket is left at its default beside the store instead of in /run/secmail.
        #[arg(long)]
        store: Option<PathBuf>,
        /// One of several projects on this host, for the template unit secmail@NAME: DIR must
        /// be /etc/secmail/NAME (or end in /NAME), the store and control socket go to
        /// /var/lib/secmail/NAME and /run/secmail/NAME.
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
    },
    /// Write the whole store to FILE, signed by and encrypted to the project key (a running
    /// daemon takes the snapshot).
    #[command(
        after_help = "Example (the service may run: it takes the snapshot itself):\n  secmail backup secmail-backup.pgp"
    )]
    Backup { file: PathBuf },
    /// Take in an existing security@ mailbox (mbox file or IMAP folder) as cases; run it twice and nothing changes.
    ///
    /// Old reporters are not written to: acknowledgements and team copies are recorded as
    /// "not sent: imported" unless --send-acks / --team-copies. Stop the daemon first.
    #[command(
        after_help = "Examples:\n  secmail import --mbox old-security.mbox\n  secmail import --imap-folder Archive/security --team-copies"
    )]
    Import {
        /// An mbox file (mboxo or mboxrd).
        #[arg(
            long,
            conflicts_with = "imap_folder",
            required_unless_present = "imap_folder"
        )]
        mbox: Option<PathBuf>,
        /// A folder on the configured IMAP server, read without moving or flagging anything.
        #[arg(long)]
        imap_folder: Option<String>,
        /// Send acknowledgements (and other answers) to the senders of imported mail.
        #[arg(long)]
        send_acks: bool,
        /// Send the team encrypted copies of imported mail.
        #[arg(long)]
        team_copies: bool,
    },
    /// Restore a backup made by `secmail backup` into an empty store.
    #[command(after_help = "Example:\n  secmail restore /root/secmail-2026-11-28.pgp")]
    Restore {
        file: PathBuf,
        /// Restore into this store path instead of the one in the config.
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// The confidential distributor list (advance notices); through the running daemon when it
    /// holds the store, or by signed /distributors commands by mail.
    #[command(
        subcommand,
        after_help = "Examples (the demo's test distributor key):\n  secmail distributors list\n  secmail distributors add --name Distro-A --address dana@distro-a.example --cert fixtures/keys/distributor-dana.asc --cap 14d\n  secmail distributors remove distro-a"
    )]
    Distributors(DistributorsCommand),
    /// Messages kept in quarantine (no case): list them, show one's headers and reason, or
    /// release one to be handled again. Needs the store: stop the daemon first.
    #[command(subcommand, after_help = "Example:\n  secmail quarantine list --json")]
    Quarantine(QuarantineCommand),
    /// Write a case's advisory as OSV, CSAF 2.0 or CVE JSON 5 (to stdout, or --output).
    #[command(
        after_help = "Example:\n  secmail export SEC-2026-0001 --format osv --output SEC-2026-0001.osv.json"
    )]
    Export {
        id: String,
        /// osv, csaf or cve
        #[arg(long, default_value = "osv")]
        format: String,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Write security.txt (RFC 9116) from the configuration (to stdout, or --output).
    #[command(
        after_help = "Example:\n  secmail security-txt --output /var/www/.well-known/security.txt"
    )]
    SecurityTxt {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// How the service is doing: inbound, outbox, quarantine, cases, deadlines, expiring certs
    /// (from the running daemon, or from the store when none runs).
    #[command(after_help = "Examples:\n  secmail status\n  secmail status --json")]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The outbox: what waits to be sent, and stuck mail to retry or drop.
    #[command(subcommand, after_help = "Example:\n  secmail outbox list")]
    Outbox(OutboxCommand),
    /// The man pages and shell completions, made from these definitions (for packaging:
    /// contrib/package.sh). Hidden: not an operator's command.
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Write secmail.1 and one page per subcommand (secmail-run.1, …) into DIR.
    Man { dir: PathBuf },
    /// Write the completion script for SHELL to stdout.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Show what waits to be sent: id, case, kind, attempts, next attempt, last error.
    #[command(after_help = "Example:\n  secmail outbox list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send this entry at the next outbox pass, its backoff forgotten.
    #[command(
        after_help = "Example (an id from `secmail outbox list`):\n  secmail outbox retry 17"
    )]
    Retry { id: u64 },
    /// Give up on this entry: kept as undeliverable and recorded on its case.
    #[command(
        after_help = "Example (an id from `secmail outbox list`):\n  secmail outbox drop 17"
    )]
    Drop { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum DistributorsCommand {
    /// Show the list (id, address, notices, cap, cert fingerprint).
    #[command(after_help = "Example:\n  secmail distributors list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a distributor, or update the one with that address.
    #[command(
        after_help = "Example:\n  secmail distributors add --name Distro-A --address dana@distro-a.example --cert fixtures/keys/distributor-dana.asc --cap 14d --notices advance,final"
    )]
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
        /// Their OpenPGP cert; without one they get no notices (the team is told).
        #[arg(long)]
        cert: Option<PathBuf>,
        /// The longest embargo the list accepts, e.g. 14d (a notice earlier than that waits).
        #[arg(long)]
        cap: Option<String>,
        /// advance, final, disclosure or all.
        #[arg(long, default_value = "all")]
        notices: String,
    },
    /// Remove a distributor by id or address; it gets no further notices.
    #[command(after_help = "Example:\n  secmail distributors remove distro-a")]
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Every message kept in quarantine: id, when it came, its sender, size and the reason.
    #[command(after_help = "Example:\n  secmail quarantine list")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// One message's headers and why it is kept (never its text).
    #[command(after_help = "Example:\n  secmail quarantine show 733a92138403")]
    Show {
        /// The id `list` shows (a unique prefix of the message's hash).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Handle a kept message again (after an upgrade that fixed what kept it); a second
    /// release changes nothing.
    #[command(after_help = "Example:\n  secmail quarantine release 733a92138403")]
    Release {
        /// The id `list` shows (a unique prefix of the message's hash).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_flag_then_env_then_local_then_etc() {
        let none = |_: &Path| false;
        let both = |_: &Path| true;
        let only_etc = |p: &Path| p == Path::new(SYSTEM_CONFIG);
        let flag = Some(Path::new("/srv/a.conf"));
        let env = || Some(OsString::from("/srv/env.conf"));
        assert_eq!(config_path(flag, env(), both), Path::new("/srv/a.conf"));
        assert_eq!(config_path(None, env(), both), Path::new("/srv/env.conf"));
        assert_eq!(config_path(None, None, both), Path::new("security.conf"));
        assert_eq!(config_path(None, None, only_etc), Path::new(SYSTEM_CONFIG));
        // Nothing anywhere: the local name, so that the error names what one would expect.
        assert_eq!(config_path(None, None, none), Path::new("security.conf"));
        // An empty variable is no choice.
        assert_eq!(
            config_path(None, Some(OsString::new()), only_etc),
            Path::new(SYSTEM_CONFIG)
        );
    }

    #[test]
    fn generate_is_hidden_from_help() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("generate"), "{help}");
        assert!(help.contains("SECMAIL_CONFIG"), "{help}");
    }
}
