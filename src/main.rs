//! Thin: parse the arguments, set up logging, run the command, map the error to an exit code.
use clap::Parser;
use secmail::cli::{Cli, Command};
use secmail::commands::{self, ExitCode};

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    // Whatever secmail creates is for its own user only (SECURITY.md, class 9): the files
    // sled makes in the store included, which we do not open ourselves. Files meant for others
    // (init's public key and config, security.txt) get their modes set explicitly.
    // SAFETY: umask only sets the process's file mode creation mask; no other thread yet.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    // `run --once` prints its own summary; keep the log to warnings unless asked.
    let default_level = match cli.command {
        Command::Run { once: true }
        | Command::Cases { .. }
        | Command::Case { .. }
        | Command::Import { .. }
        | Command::Distributors(_)
        | Command::Export { .. }
        | Command::SecurityTxt { .. } => "warn",
        _ => "info",
    };
    let daemon = matches!(cli.command, Command::Run { once: false });
    init_logging(default_level, daemon);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secmail: cannot start the runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Unavailable as u8);
        }
    };
    let result = rt.block_on(async {
        match &cli.command {
            Command::Run { once } => commands::run::run(&cli.config, *once).await,
            Command::Check { online } => commands::check::run(&cli.config, *online).await,
            Command::Cases { state, json } => {
                commands::cases::list(&cli.config, state.as_deref(), *json)
            }
            Command::Case { id, json } => commands::cases::show(&cli.config, id, *json),
            Command::Init {
                dir,
                name,
                address,
                rsa,
                store,
            } => commands::init::run(&commands::init::Options {
                dir,
                name,
                address,
                rsa: *rsa,
                store,
            }),
            Command::Import {
                mbox,
                imap_folder,
                send_acks,
                team_copies,
            } => {
                commands::import::run(
                    &cli.config,
                    &commands::import::Options {
                        mbox: mbox.as_deref(),
                        imap_folder: imap_folder.as_deref(),
                        send_acks: *send_acks,
                        team_copies: *team_copies,
                    },
                )
                .await
            }
            Command::Backup { file } => commands::backup::backup(&cli.config, file),
            Command::Restore { file, store } => {
                commands::backup::restore(&cli.config, file, store.as_deref())
            }
            Command::Distributors(c) => commands::distributors::run(&cli.config, c),
            Command::Quarantine(c) => commands::quarantine::run(&cli.config, c),
            Command::Export { id, format, output } => {
                commands::export::run(&cli.config, id, format, output.as_deref())
            }
            Command::SecurityTxt { output } => {
                commands::export::security_txt(&cli.config, output.as_deref())
            }
        }
    });
    // A blocking task stuck in the store (sled hangs after a failed write) must not keep the
    // process alive: give blocking work a few seconds, then leave.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secmail: {e:#}");
            // anyhow's downcast sees context values at every level (`.context(ExitCode::…)`);
            // the chain only sees errors.
            let code = e
                .downcast_ref::<ExitCode>()
                .copied()
                .or_else(|| {
                    e.chain()
                        .find_map(|c| c.downcast_ref::<ExitCode>().copied())
                })
                .unwrap_or(ExitCode::IoErr);
            std::process::ExitCode::from(code as u8)
        }
    }
}

/// Logs go to journald for the daemon under systemd (`JOURNAL_STREAM` set, or the journal's
/// socket there and stderr not a terminal), with the fields (`case_id`, `msg_hash`, …) as
/// journal fields; to stderr otherwise, and whenever the journal cannot be reached.
///
/// Whatever `SECMAIL_LOG` asks for, the dependencies that log report content (handlebars
/// the variables it renders, async-imap whole messages) are held back by a filter before the
/// user's (`shell::private::loggable`): an EnvFilter directive alone would lose to a more
/// specific one of the user's (`handlebars::render=trace`).
fn init_logging(default_level: &str, daemon: bool) {
    use tracing_subscriber::prelude::*;
    let contentless = || tracing_subscriber::filter::filter_fn(secmail::shell::private::loggable);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("SECMAIL_LOG")
            .unwrap_or_else(|_| default_level.into())
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let journal_wanted = daemon
        && (std::env::var_os("JOURNAL_STREAM").is_some()
            || (!terminal && std::path::Path::new("/run/systemd/journal/socket").exists()));
    if journal_wanted {
        if let Ok(layer) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(contentless())
                .with(filter())
                .with(layer.with_syslog_identifier("secmail".into()))
                .init();
            return;
        }
    }
    tracing_subscriber::registry()
        .with(contentless())
        .with(filter())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(terminal)
                .with_writer(std::io::stderr),
        )
        .init();
}

/// glibc gives threads that allocate at once arenas of their own (up to eight per core) and
/// keeps what is freed in them, so a daemon whose batches run on every core grows by tens of
/// MiB it does not use. Two arenas keep its resident memory near its working set (figure 4 of
/// the benchmark, README). An operator's MALLOC_ARENA_MAX wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called first thing in
        // main, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
            // A fixed threshold (glibc's default starts here and rises as big blocks are
            // freed): message-sized buffers over it are mapped and returned when freed.
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
