//! The daemon's side of the control socket (`shell::control`): bound at start (a stale socket
//! file of a dead daemon is replaced; one a live daemon answers on is an error), 0660, each
//! connection's peer checked, each request served under the case-write lock so that a store
//! command sees and makes consistent changes (an online backup is a consistent snapshot).
use super::Daemon;
use crate::shell::control::{self, Handler, MAX_REQUEST};
use anyhow::{anyhow, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

impl Daemon {
    /// Binds the control socket at `path`.
    pub fn bind_control(path: &Path) -> Result<UnixListener> {
        if path.exists() {
            if control::answers(path) {
                return Err(anyhow!(
                    "another daemon answers on {}: one daemon per store",
                    path.display()
                ));
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("binding the control socket {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
        Ok(listener)
    }

    /// Until `stop`: serves the CLI on `listener` with `handler`.
    pub async fn control_loop(
        self: Arc<Self>,
        listener: UnixListener,
        handler: Handler,
        stop: CancellationToken,
    ) {
        loop {
            let conn = tokio::select! {
                _ = stop.cancelled() => return,
                c = listener.accept() => c,
            };
            match conn {
                Ok((stream, _)) => {
                    let (me, handler) = (self.clone(), handler.clone());
                    tokio::spawn(async move {
                        if let Err(e) = me.serve(stream, handler).await {
                            tracing::warn!(error = %format!("{e:#}"), "control request failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn serve(self: Arc<Self>, stream: UnixStream, handler: Handler) -> Result<()> {
        let cred = stream
            .peer_cred()
            .context("reading the peer's credentials")?;
        let groups = control::peer_groups(std::os::fd::AsFd::as_fd(&stream));
        let (rd, mut wr) = stream.into_split();
        let reply = if !control::peer_allowed(cred.uid(), cred.gid(), &groups) {
            tracing::warn!(
                uid = cred.uid(),
                gid = cred.gid(),
                "control socket: peer refused"
            );
            control::refusal(
                77,
                "not allowed: run as root, the daemon's user or its group",
            )
        } else {
            let mut line = Vec::new();
            BufReader::new(rd.take(MAX_REQUEST as u64 + 1))
                .read_until(b'\n', &mut line)
                .await
                .context("reading a control request")?;
            match serde_json::from_slice::<serde_json::Value>(&line) {
                Err(e) if line.len() > MAX_REQUEST => {
                    control::refusal(65, format!("request over {MAX_REQUEST} bytes ({e})"))
                }
                Err(e) => control::refusal(65, format!("not a JSON request: {e}")),
                Ok(request) => {
                    let runtime = self.runtime();
                    let _writing = self.case_write.lock().await;
                    let (store, config) = (self.store.clone(), self.config());
                    let reply = tokio::task::spawn_blocking(move || {
                        handler(&store, &config, &runtime, request)
                    })
                    .await
                    .context("the control handler failed")?;
                    // What a command changed is durable before it is reported done.
                    self.store.flush().await?;
                    self.wake_outbox();
                    reply
                }
            }
        };
        let mut out = serde_json::to_vec(&reply)?;
        out.push(b'\n');
        wr.write_all(&out).await.context("writing the reply")?;
        wr.shutdown().await.ok();
        Ok(())
    }
}
