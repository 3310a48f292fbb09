//! Thin: parse the arguments, set up logging, run the command, map the error to an exit code.
use clap::Parser;
use secmail::cli::{Cli, Command, LogFormat};
use secmail::commands::{self, ExitCode};

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    // Errors are values here and in sequoia, whose parsers make and drop many per message;
    // none of them is ever printed with a backtrace (the log has `{e:#}`). With RUST_BACKTRACE
    // set (an operator debugging a panic) anyhow would capture one for each: 4 % more
    // instructions per report (callgrind, 60 reports). Panics still print theirs. No other
    // thread exists yet.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    // Whatever secmail creates is for its own user only (SECURITY.md, class 9): the files
    // sled makes in the store included, which we do not open ourselves. Files meant for others
    // (init's public key and config, security.txt) get their modes set explicitly.
    // SAFETY: umask only sets the process's file mode creation mask; no other thread yet.
    unsafe {
        libc::umask(0o077);
    }
    // A usage error is 64 (EX_USAGE) like every other refusal of the arguments, not clap's 2;
    // --help and --version are not errors.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                ExitCode::Usage as u8
            } else {
                0
            });
        }
    };
    if !matches!(cli.command, Command::Run { .. }) {
        die_quietly_on_a_closed_pipe();
    }
    // `run --once` prints its own summary; keep the log to warnings unless asked.
    let default_level = match cli.command {
        Command::Run { once: true }
        | Command::Cases { .. }
        | Command::Case { .. }
        | Command::Import { .. }
        | Command::Distributors(_)
        | Command::Export { .. }
        | Command::SecurityTxt { .. }
        | Command::Status { .. }
        | Command::Outbox(_)
        | Command::Generate(_) => "warn",
        _ => "info",
    };
    let daemon = matches!(cli.command, Command::Run { once: false });
    init_logging(default_level, daemon, cli.log_format);
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
    let config = cli.config_path();
    let result = rt.block_on(async {
        match &cli.command {
            Command::Run { once } => commands::run::run(&config, *once).await,
            Command::Check { online } => commands::check::run(&config, *online).await,
            Command::Cases { state, json } => {
                commands::cases::list(&config, state.as_deref(), *json)
            }
            Command::Case { id, json } => commands::cases::show(&config, id, *json),
            Command::Init {
                dir,
                name,
                address,
                rsa,
                store,
                instance,
            } => commands::init::run(&commands::init::Options {
                dir,
                name,
                address,
                rsa: *rsa,
                store: store.as_deref(),
                instance: instance.as_deref(),
            }),
            Command::Import {
                mbox,
                imap_folder,
                send_acks,
                team_copies,
            } => {
                commands::import::run(
                    &config,
                    &commands::import::Options {
                        mbox: mbox.as_deref(),
                        imap_folder: imap_folder.as_deref(),
                        send_acks: *send_acks,
                        team_copies: *team_copies,
                    },
                )
                .await
            }
            Command::Backup { file } => commands::backup::backup(&config, file),
            Command::Restore { file, store } => {
                commands::backup::restore(&config, file, store.as_deref())
            }
            Command::Distributors(c) => commands::distributors::run(&config, c),
            Command::Quarantine(c) => commands::quarantine::run(&config, c),
            Command::Export { id, format, output } => {
                commands::export::run(&config, id, format, output.as_deref())
            }
            Command::SecurityTxt { output } => {
                commands::export::security_txt(&config, output.as_deref())
            }
            Command::Status { json } => commands::status::status(&config, *json),
            Command::Outbox(c) => commands::status::outbox(&config, c),
            Command::Generate(what) => commands::generate::run(what),
        }
    });
    // A blocking task stuck in the store (sled hangs after a failed write) must not keep the
    // process alive: give blocking work a few seconds, then leave.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = ExitCode::of(&e);
            if cli.log_format == Some(LogFormat::Json) {
                // A collector reading stderr gets the error as one more object.
                tracing::error!(exit_code = code as u8, error = %format!("{e:#}"), "secmail failed");
            } else {
                eprintln!("secmail: {e:#}");
            }
            std::process::ExitCode::from(code as u8)
        }
    }
}

/// Logs go to journald for the daemon under systemd (`JOURNAL_STREAM` set, or the journal's
/// socket there and stderr not a terminal), with the fields (`case_id`, `msg_hash`, …) as
/// journal fields, unless `--log-format` asks for stderr in a format; to stderr otherwise,
/// and whenever the journal cannot be reached. On stderr every event is one line (issue
/// 12.7): JSON escapes its line breaks, and text has them written as `\n` ([`OneLine`]).
///
/// Whatever `SECMAIL_LOG` asks for, the dependencies that log report content (handlebars
/// the variables it renders, async-imap whole messages) are held back by a filter before the
/// user's (`shell::private::loggable`): an EnvFilter directive alone would lose to a more
/// specific one of the user's (`handlebars::render=trace`).
fn init_logging(default_level: &str, daemon: bool, format: Option<LogFormat>) {
    use tracing_subscriber::prelude::*;
    let contentless = || tracing_subscriber::filter::filter_fn(secmail::shell::private::loggable);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("SECMAIL_LOG")
            .unwrap_or_else(|_| default_level.into())
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let journal_wanted = daemon
        && format.is_none()
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
    let stderr = || OneLine(std::io::stderr());
    if format == Some(LogFormat::Json) {
        tracing_subscriber::registry()
            .with(contentless())
            .with(filter())
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(stderr),
            )
            .init();
        return;
    }
    tracing_subscriber::registry()
        .with(contentless())
        .with(filter())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(terminal)
                .with_writer(stderr),
        )
        .init();
}

/// A writer that keeps each log event on one line: the fmt layer writes an event with one
/// `write_all`, and a line break inside it (an error's text, a parser's message) is written
/// as `\n` (`\r` as `\r`), the one at its end kept.
struct OneLine<W>(W);

impl<W: std::io::Write> std::io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            return self.0.write_all(buf);
        }
        let mut out = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.push(b),
            }
        }
        if body.len() < buf.len() {
            out.push(b'\n');
        }
        self.0.write_all(&out)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `secmail case X | head`: once `head` has what it wants, the next write to stdout fails
/// with EPIPE, and `println!` panics on it (issue 12.9). A command whose reader left has
/// nothing more to do: let SIGPIPE end it, as it ends `cat` or `git log` (Rust sets SIGPIPE
/// to ignored before main). Not for `run`: the daemon writes to the journal's stream and must
/// outlive it; its sockets never raise SIGPIPE (std sends with MSG_NOSIGNAL).
fn die_quietly_on_a_closed_pipe() {
    // SAFETY: signal only sets this process's disposition for SIGPIPE; no other thread yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
            // A fixed mmap threshold also fixes glibc's trim threshold at 128 KiB: each
            // message's freed buffers were handed back and faulted in again for the next. Up to
            // 4 MiB free at a heap's top is kept: 15 % fewer page faults per report, the same
            // peak RSS (300 reports, `perf stat -e page-faults`, /usr/bin/time).
            libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
            libc::mallopt(libc::M_TOP_PAD, 512 << 10);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

#[cfg(test)]
mod tests {
    use super::OneLine;
    use std::io::Write;

    #[test]
    fn one_event_one_line() {
        let check = |event: &[u8], want: &[u8]| {
            let mut w = OneLine(Vec::new());
            w.write_all(event).unwrap();
            assert_eq!(w.0, want, "{:?}", String::from_utf8_lossy(event));
        };
        check(b"INFO plain\n", b"INFO plain\n");
        check(
            b"WARN parse error: line 1\nline 2\r\n\n",
            b"WARN parse error: line 1\\nline 2\\r\\n\n",
        );
        check(b"no newline at all", b"no newline at all");
    }
}
