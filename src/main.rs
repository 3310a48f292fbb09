//! Thin: parse the arguments, set up logging, run the command, map the error to an exit code.
use clap::Parser;
use secmail::cli::{Cli, Command};
use secmail::commands::{self, ExitCode};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `run --once` prints its own summary; keep the log to warnings unless asked.
    let default_level = match cli.command {
        Command::Run { once: true }
        | Command::Cases { .. }
        | Command::Case { .. }
        | Command::Distributors(_)
        | Command::Export { .. }
        | Command::SecurityTxt { .. } => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SECMAIL_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
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
            Command::Distributors(c) => commands::distributors::run(&cli.config, c),
            Command::Export { id, format, output } => {
                commands::export::run(&cli.config, id, format, output.as_deref())
            }
            Command::SecurityTxt { output } => {
                commands::export::security_txt(&cli.config, output.as_deref())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secmail: {e:#}");
            // The innermost `.context(ExitCode::…)` decides; anyhow finds a context value at
            // any depth with `downcast_ref`.
            let code = e
                .downcast_ref::<ExitCode>()
                .copied()
                .unwrap_or(ExitCode::IoErr);
            std::process::ExitCode::from(code as u8)
        }
    }
}
