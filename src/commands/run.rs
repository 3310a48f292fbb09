//! `secmail run [--once]`.
use super::ExitCode;
use crate::shell::clock::Clock;
use crate::shell::daemon::Daemon;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub async fn run(config_path: &Path, once: bool) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    let mut daemon = Daemon::new(config, clock).context(ExitCode::Unavailable)?;
    if once {
        daemon.print = true;
        let (n, d) = daemon.run_once().await.context(ExitCode::Unavailable)?;
        let target = match &daemon.config.outbound {
            crate::shell::transport::Transport::File { dir } => dir.display().to_string(),
            crate::shell::transport::Transport::Smtp(s) => format!("smtp://{}:{}", s.host, s.port),
        };
        println!(
            "{n} new message(s) handled; {} sent to {target}, {} deferred, {} failed; {} case(s) in {}",
            d.sent,
            d.deferred,
            d.failed,
            daemon.store.cases().len(),
            daemon.config.store_path.display()
        );
        return Ok(());
    }
    let daemon = Arc::new(daemon);
    let stop = CancellationToken::new();
    let signals = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the message in hand");
        signals.cancel();
    });
    tracing::info!(config = %config_path.display(), "secmail running");
    daemon.run(stop).await.context(ExitCode::Unavailable)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
