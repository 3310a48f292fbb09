//! The control socket (issue 12): the running daemon owns the sled store (sled allows one
//! process), so the CLI's store commands reach it through a Unix socket, as `doveadm` and
//! `postqueue` reach their services. This file is the transport: one JSON request per
//! connection, one JSON reply, newline-terminated; peer credentials checked. What a request
//! means is the command layer's (`commands::remote`), handed in as a [`Handler`].
//!
//! Access: the socket is 0660 (its group is the daemon's, e.g. `secmail`; the unit's
//! `RuntimeDirectory=` makes `/run/secmail`), and a peer is served only when it is root, the
//! daemon's own user, or a member of the daemon's group ([`peer_allowed`]): the kernel's check
//! on the socket file and ours agree.
use super::daemon::Runtime;
use super::store::Store;
use crate::config::Config;
use anyhow::{anyhow, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Serves one request: the store (under the daemon's write lock), the config in force, the
/// daemon's runtime figures, the request; returns the reply.
pub type Handler =
    Arc<dyn Fn(&Store, &Config, &Runtime, serde_json::Value) -> serde_json::Value + Send + Sync>;

/// The longest request accepted (requests are small: a command and its arguments, a cert).
pub const MAX_REQUEST: usize = 4 << 20;

/// How long a client waits for the daemon's reply (a backup of a large store takes a while).
const REPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `request` to the daemon at `socket` and returns its reply.
pub fn call(socket: &Path, request: &serde_json::Value) -> Result<serde_json::Value> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("connecting to the daemon at {}", socket.display()))?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .context("writing to the control socket")?;
    let mut reply = Vec::new();
    BufReader::new(stream)
        .read_until(b'\n', &mut reply)
        .context("reading the daemon's reply")?;
    if reply.is_empty() {
        return Err(anyhow!(
            "the daemon closed the control socket without a reply (see its log)"
        ));
    }
    serde_json::from_slice(&reply).context("the daemon's reply is not JSON")
}

/// Whether a daemon answers at `socket` (a socket file left by a killed daemon does not).
pub fn answers(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// Root, our own user, or a member of our group (its primary group, or a supplementary one as
/// `/proc/<pid>/status` lists them).
pub fn peer_allowed(uid: u32, gid: u32, pid: Option<i32>) -> bool {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 || uid == me || gid == my_group {
        return true;
    }
    let Some(pid) = pid else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .map(|g| g.split_whitespace().any(|x| x.parse() == Ok(my_group)))
        })
        .unwrap_or(false)
}

/// A reply saying the request was refused, with the exit code the CLI should use.
pub fn refusal(code: u8, message: impl Into<String>) -> serde_json::Value {
    serde_json::json!({ "ok": false, "code": code, "error": message.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ourselves_and_root_are_allowed_a_stranger_is_not() {
        // SAFETY: as above.
        let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
        assert!(peer_allowed(me, 12345, None));
        assert!(peer_allowed(0, 12345, None));
        assert!(peer_allowed(54321, my_group, None));
        // A uid and gid that are neither ours nor root's, and no process to read groups of.
        let stranger = if me == 54321 { 54322 } else { 54321 };
        let group = if my_group == 12345 { 12346 } else { 12345 };
        assert!(!peer_allowed(stranger, group, None));
        // Our own process is in our group: its groups are read from /proc.
        assert!(
            peer_allowed(stranger, group, Some(std::process::id() as i32)) || {
                // Only when our group is not among our supplementary groups (possible for root).
                let s = std::fs::read_to_string("/proc/self/status").unwrap();
                !s.lines()
                    .find_map(|l| l.strip_prefix("Groups:"))
                    .unwrap_or("")
                    .split_whitespace()
                    .any(|x| x.parse() == Ok(my_group))
            }
        );
    }
}
