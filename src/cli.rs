//! Command-line definitions only; the code behind each subcommand is in `commands/`.
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "secmail",
    version,
    about = "Runs a project's security@ mailbox: decrypts reports, opens cases, answers reporters, copies the team",
    after_help = "Examples:\n  secmail run --once          handle what is waiting, send, exit\n  secmail check               validate security.conf, keys and templates\n  secmail cases --state new   list new cases\n  secmail case SEC-2026-0001  show a case's timeline"
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
}
