//! systemd's notification protocol (sd_notify(3)), written out: one datagram per state change to
//! the unix socket named by `NOTIFY_SOCKET`, no library. READY=1, STOPPING=1, WATCHDOG=1 and
//! STATUS= lines; without `NOTIFY_SOCKET` (not under systemd, or `Type=simple`) every call does
//! nothing.
//!
//! Invariants: sending never fails the caller and waits at most half a second when systemd's
//! socket queue is full (as libsystemd's blocking send would, but bounded); a notification
//! still lost is logged at debug level, and systemd's own timeouts then tell the operator.
//! STATUS text is one line and carries no report text or address, only states and counts.
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace) and `WATCHDOG_USEC`
    /// (honoured only when `WATCHDOG_PID` is unset or ours, as sd_watchdog_enabled(3) says).
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let addr = address(path.as_encoded_bytes())?;
            let sock = UnixDatagram::unbound().ok()?;
            sock.set_write_timeout(Some(Duration::from_millis(500)))
                .ok()?;
            Some((sock, addr))
        });
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|u| *u > 0 && ours)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// A notifier that sends nothing (`run --once`, commands, tests of the daemon in-process).
    pub fn none() -> Notifier {
        Notifier {
            socket: None,
            watchdog: None,
        }
    }

    /// The watchdog interval systemd expects keep-alives within (`WatchdogSec=`), if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing the message in hand");
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn keep_alive(&self) {
        self.send("WATCHDOG=1");
    }

    fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.socket {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                tracing::debug!(error = %e, "sd_notify failed");
            }
        }
    }
}

/// `NOTIFY_SOCKET`: a filesystem path, or `@` for Linux's abstract namespace.
fn address(path: &[u8]) -> Option<SocketAddr> {
    match path.split_first()? {
        (b'@', name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).ok()
        }
        (b'/', _) => {
            use std::os::unix::ffi::OsStrExt;
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path)).ok()
        }
        _ => None,
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier_at(path: &std::path::Path) -> Notifier {
        let addr = address(path.as_os_str().as_encoded_bytes()).unwrap();
        Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), addr)),
            watchdog: None,
        }
    }

    #[test]
    fn sends_datagrams_to_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = notifier_at(&path);
        n.ready("connected\nto imap");
        n.keep_alive();
        n.stopping();
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        for _ in 0..3 {
            let len = listener.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        assert_eq!(got[0], "READY=1\nSTATUS=connected to imap");
        assert_eq!(got[1], "WATCHDOG=1");
        assert!(got[2].starts_with("STOPPING=1\n"));
    }

    #[test]
    fn addresses() {
        assert!(address(b"/run/systemd/notify").is_some());
        assert!(address(b"@abstract").is_some());
        assert!(address(b"relative").is_none());
        assert!(address(b"").is_none());
    }

    #[test]
    fn no_socket_sends_nothing() {
        let n = Notifier::none();
        n.ready("x");
        n.keep_alive();
        assert!(n.watchdog().is_none());
    }
}
