//! The metrics (issue 12): `shell::figures` in the Prometheus text format, served on an opt-in
//! loopback address (`[metrics] listen`) and/or written to a textfile for node_exporter's
//! collector (`[metrics] textfile`, every minute, replaced atomically). Counts, ages and ids
//! only: nothing here is confidential, so the textfile is 0644.
//!
//! The HTTP side is written here rather than taken from a crate: it answers every request on
//! the socket with the one document (as node_exporter's textfile does, any path), reads at most
//! 8 KiB of request headers and closes the connection — a web framework would be most of our
//! dependency tree for this. Only a loopback address is accepted (config).
use super::Daemon;
use crate::shell::figures;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How often the textfile is rewritten.
const TEXTFILE_EVERY: Duration = Duration::from_secs(60);

impl Daemon {
    /// The metrics document now.
    pub async fn metrics_text(self: &Arc<Self>) -> String {
        let me = self.clone();
        let runtime = self.runtime();
        tokio::task::spawn_blocking(move || {
            let config = me.config();
            figures::prometheus(&figures::figures(
                &me.store,
                &config,
                Some(runtime),
                me.clock.now(),
            ))
        })
        .await
        .unwrap_or_else(|e| format!("# the figures could not be computed: {e}\n"))
    }

    /// Binds `[metrics] listen`.
    pub async fn bind_metrics(addr: SocketAddr) -> anyhow::Result<TcpListener> {
        use anyhow::Context;
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics endpoint {addr}"))
    }

    /// Until `stop`: answers every connection on `listener` with the metrics.
    pub async fn metrics_loop(self: Arc<Self>, listener: TcpListener, stop: CancellationToken) {
        loop {
            let conn = tokio::select! {
                _ = stop.cancelled() => return,
                c = listener.accept() => c,
            };
            let Ok((mut stream, _)) = conn else { continue };
            let me = self.clone();
            tokio::spawn(async move {
                // The request line and headers, up to the blank line or 8 KiB.
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while got < buf.len() {
                    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[got..]))
                        .await
                    {
                        Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                        Ok(Ok(n)) => got += n,
                    }
                    if buf[..got].windows(4).any(|w| w == b"\r\n\r\n")
                        || buf[..got].windows(2).any(|w| w == b"\n\n")
                    {
                        break;
                    }
                }
                let body = me.metrics_text().await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }

    /// Until `stop`: the textfile rewritten every minute (and once at start).
    pub async fn textfile_loop(self: Arc<Self>, path: std::path::PathBuf, stop: CancellationToken) {
        loop {
            let text = self.metrics_text().await;
            if let Err(e) = write_textfile(&path, &text) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the metrics textfile");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(TEXTFILE_EVERY) => {}
            }
        }
    }
}

/// Replaces `path` atomically (node_exporter must never read half a file), 0644.
fn write_textfile(path: &Path, text: &str) -> std::io::Result<()> {
    crate::shell::private::write_replacing(path, text.as_bytes(), 0o644)
}
