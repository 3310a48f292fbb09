//! `secmail run [--once]`: the daemon, and its signals. SIGTERM or SIGINT: stop taking new
//! mail, finish the message in hand, flush, exit 0. SIGHUP: reload config, team and templates
//! (a bad new config is refused and logged; the old one keeps running).
use super::ExitCode;
use crate::shell::clock::Clock;
use crate::shell::daemon::{open_store_patiently, Daemon, StoreUnwritable};
use crate::shell::systemd::Notifier;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

pub async fn run(config_path: &Path, once: bool) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    if once {
        let mut daemon = Daemon::new(config, clock).context(ExitCode::Unavailable)?;
        // One line per message and timer for the person watching: the summary sink.
        daemon.say = Some(Arc::new(|line: &str| println!("{line}")));
        // A server that refuses the configuration (a wrong password) is 78, not 69: running
        // again will not help (issue 12.4).
        let (n, d) = daemon.run_once().await.map_err(super::server_failure)?;
        let config = daemon.config();
        let target = match &config.outbound {
            crate::shell::transport::Transport::File { dir } => dir.display().to_string(),
            crate::shell::transport::Transport::Smtp(s) => format!("smtp://{}:{}", s.host, s.port),
        };
        println!(
            "{n} new message(s) handled; {} sent to {target}, {} deferred, {} failed; {} open case(s) in {}",
            d.sent,
            d.deferred,
            d.failed,
            daemon.store.open_case_count(),
            config.store_path.display()
        );
        if let Some(why) = d.config_error {
            return Err(
                anyhow::anyhow!("the mail server refused the configuration: {why}")
                    .context(ExitCode::Config),
            );
        }
        return Ok(());
    }
    // Signal handlers first: a SIGTERM during start-up must not kill us half-way.
    let (term, int, hup) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    );
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (term, int, hup) else {
        return Err(
            anyhow::anyhow!("cannot install the signal handlers").context(ExitCode::Unavailable)
        );
    };
    let notifier = Notifier::from_env();
    if let Some(w) = notifier.watchdog() {
        tracing::info!(watchdog_s = w.as_secs_f32(), "systemd watchdog enabled");
    }
    let stop = CancellationToken::new();
    let signals = stop.clone();
    // The daemon exists only once the store is open; a SIGHUP before that has nothing to reload.
    let slot: Arc<OnceLock<Arc<Daemon>>> = Arc::new(OnceLock::new());
    let reloader = slot.clone();
    let path: PathBuf = config_path.to_path_buf();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    let Some(d) = reloader.get().cloned() else { continue };
                    tracing::info!("SIGHUP: reloading the configuration");
                    let p = path.clone();
                    // Reading keys and certs is blocking work; a failed reload is logged there.
                    let _ = tokio::task::spawn_blocking(move || d.reload(&p)).await;
                }
            }
        }
        tracing::info!("stopping: finishing the message in hand");
        signals.cancel();
    });
    let Some(store) = open_store_patiently(&config.store_path, &notifier, &stop).await else {
        notifier.stopping();
        return Ok(());
    };
    let mut daemon =
        Daemon::with_store(config, clock, notifier, store).context(ExitCode::Unavailable)?;
    // The store commands reach the store through the daemon while it runs.
    daemon.control = Some(super::remote::handler());
    let daemon = Arc::new(daemon);
    let _ = slot.set(daemon.clone());
    tracing::info!(config = %config_path.display(), "secmail running");
    let store = daemon.store.clone();
    daemon.run(stop).await.map_err(|e| {
        let code = if e.downcast_ref::<StoreUnwritable>().is_some() {
            ExitCode::IoErr
        } else {
            ExitCode::Unavailable
        };
        e.context(code)
    })?;
    // The last handle: sled's snapshot is written now rather than its log replayed at the next
    // start (Store::close).
    drop(slot);
    let snapshot = tokio::task::spawn_blocking(move || store.close()).await;
    tracing::info!(snapshot = matches!(snapshot, Ok(Ok(true))), "stopped");
    Ok(())
}
