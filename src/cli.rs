//! Command-line definitions only; the code behind each subcommand is in `commands/`.
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "secmail",
    version,
    about = "Runs a project's security@ mailbox: decrypts reports, opens cases, answers reporters, copies the team",
    after_help = "Examples:\n  secmail run --once          handle what is waiting, send, exit\n  secmail check               validate security.conf, keys and templates\n  secmail cases --state new   list new cases\n  secmail case SEC-2026-0001  show a case's timeline\n  secmail init /etc/secmail --name \"Example\" --address security@example.org\n  secmail backup store.pgp    encrypted backup of the whole store"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "security.conf")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
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
        after_help = "Example:\n  secmail init /etc/secmail --name \"Example Project\" --address security@example.org"
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
        /// Where the store goes (systemd's StateDirectory by default).
        #[arg(long, default_value = "/var/lib/secmail/store")]
        store: PathBuf,
    },
    /// Write the whole store to FILE, signed by and encrypted to the project key (stop the daemon first).
    #[command(
        after_help = "Example:\n  systemctl stop secmail && secmail backup /root/secmail-$(date +%F).pgp && systemctl start secmail"
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
}
