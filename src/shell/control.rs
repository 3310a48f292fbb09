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

/// Whether a peer may use the socket: root, the daemon's own user, or a member of the daemon's
/// group, by its primary group or one of `groups`, its supplementary groups as the kernel gave
/// them at connect ([`peer_groups`]). The groups come from the socket, not from `/proc/<pid>`:
/// the unit's `ProtectProc=invisible` hides other users' processes, and under `PrivateUsers=yes`
/// the kernel translates every id into the daemon's namespace, where the daemon's own group is
/// mapped to itself and all others to nobody, so a member of group secmail is still recognised.
pub fn peer_allowed(uid: u32, gid: u32, groups: &[u32]) -> bool {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
    uid == 0 || uid == me || gid == my_group || groups.contains(&my_group)
}

/// The supplementary groups of the process that connected to `fd` (`SO_PEERGROUPS`, Linux
/// 4.13), as of its connect. An error (an older kernel) gives none: the peer is then judged by
/// its uid and primary group alone, which refuses rather than allows.
pub fn peer_groups(fd: std::os::fd::BorrowedFd<'_>) -> Vec<u32> {
    use std::os::fd::AsRawFd;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer is `len` bytes of writable gid_t, and `len` is updated by the
        // kernel to the bytes written (or, with ERANGE, to the bytes needed).
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return groups;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 1 << 16 {
            groups.resize(n, 0);
            continue;
        }
        return Vec::new();
    }
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
        assert!(peer_allowed(me, 12345, &[]));
        assert!(peer_allowed(0, 12345, &[]));
        assert!(peer_allowed(54321, my_group, &[]));
        // A uid and gid that are neither ours nor root's.
        let stranger = if me == 54321 { 54322 } else { 54321 };
        let group = if my_group == 12345 { 12346 } else { 12345 };
        assert!(!peer_allowed(stranger, group, &[]));
        assert!(!peer_allowed(stranger, group, &[group, 7]));
        // A member of our group by a supplementary group (how `adduser alice secmail` works).
        assert!(peer_allowed(stranger, group, &[7, my_group]));
    }

    #[test]
    fn the_socket_tells_the_peer_s_supplementary_groups() {
        use std::os::fd::AsFd;
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut got = peer_groups(a.as_fd());
        got.sort_unstable();
        // SAFETY: a null list with size 0 asks for the count; then a buffer of that many.
        let mut want = unsafe {
            let n = libc::getgroups(0, std::ptr::null_mut());
            let mut v = vec![0; n as usize];
            let n = libc::getgroups(n, v.as_mut_ptr());
            v.truncate(n as usize);
            v
        };
        want.sort_unstable();
        assert_eq!(got, want);
    }
}
