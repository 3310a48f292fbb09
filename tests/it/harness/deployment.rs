//! One deployment of the real `secmail` binary for a test. A [`Setup`] says what it is made of
//! (a maildir in and .eml files out, or IMAP on the harness's Dovecot in and its Postfix out;
//! the team, `[project]` lines, `[policy]`, extra sections, the store path, the templates) and
//! writes security.conf into a directory of the deployment's own. The deployment then runs the binary there: `run` as a
//! [`Daemon`] with a NOTIFY_SOCKET of its own, waited for by READY=1 (never by scraping the
//! log); `run --once` and any other command to completion.
//!
//! The directory is removed when the deployment is dropped, unless the test is panicking: then
//! it is kept, with its path and the last daemon log's tail on the real stderr. A daemon still
//! running when its handle is dropped is killed.
use std::cell::Cell;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::mail::{ALICE, SECURITY};
use super::servers::MailServers;
use super::wait::{wait_until, WAIT};
use crate::common::repo;

/// The `secmail` binary on `conf` with `args`, logging at info, inheriting none of the variables
/// a test sets for one run only (the pinned clock, systemd's sockets and journal).
pub fn secmail(conf: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_secmail"));
    c.arg("--config")
        .arg(conf)
        .args(args)
        .env("SECMAIL_LOG", "info")
        .env_remove("SECMAIL_NOW")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM");
    c
}

/// Asserts that a `secmail` run with `what` as its arguments succeeded, showing its output.
pub fn assert_ok(out: &Output, what: &[&str]) {
    assert!(
        out.status.success(),
        "secmail {what:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a deployment is made of. [`Deployment::local`] and [`Deployment::imap`] begin one,
/// [`Setup::build`] writes it into a directory of its own.
#[derive(Clone)]
pub struct Setup {
    inbound: Inbound,
    /// Lines added to `[inbound]` (after kind and the server or path).
    inbound_lines: Vec<String>,
    outbound: Outbound,
    project: Vec<String>,
    team: Vec<Member>,
    policy: Option<String>,
    extra: Vec<String>,
    store: String,
    templates: PathBuf,
}

#[derive(Clone)]
enum Inbound {
    /// `maildir` beside the config; handled mail is moved to its `.Processed` folder.
    Maildir,
    /// The harness's Dovecot as the security address, plaintext on loopback.
    Imap { port: u16 },
}

#[derive(Clone)]
enum Outbound {
    /// One .eml file per message in `outbox` beside the config.
    File,
    /// The harness's Postfix, plaintext on loopback.
    Smtp {
        port: u16,
        retry_min: Option<String>,
    },
}

#[derive(Clone)]
struct Member {
    name: String,
    address: String,
    cert: PathBuf,
    role: Option<String>,
}

impl Setup {
    fn new(inbound: Inbound, outbound: Outbound) -> Setup {
        Setup {
            inbound,
            inbound_lines: Vec::new(),
            outbound,
            project: Vec::new(),
            team: vec![Member {
                name: "Alice Demo".into(),
                address: ALICE.into(),
                cert: repo().join("keys/team-alice.asc"),
                role: Some("handler".into()),
            }],
            policy: None,
            extra: Vec::new(),
            store: "store".into(),
            templates: repo().join("templates"),
        }
    }

    /// The outbox's first retry after a failed send (`[outbound] retry-min`; SMTP only).
    pub fn retry_min(mut self, duration: &str) -> Setup {
        match &mut self.outbound {
            Outbound::Smtp { retry_min, .. } => *retry_min = Some(duration.into()),
            Outbound::File => panic!("retry-min is a setting of the SMTP outbound"),
        }
        self
    }

    /// Lines added to `[inbound]` (`max-message-size = "8KB"`, say).
    pub fn inbound(mut self, lines: &str) -> Setup {
        self.inbound_lines.push(lines.into());
        self
    }

    /// Lines added to `[project]` (after name, security address and `demo-keys = true`).
    pub fn project(mut self, lines: &str) -> Setup {
        self.project.push(lines.into());
        self
    }

    /// One more `[[team]]` member (the demo's Alice, handler, is always the first); `role`
    /// `None` leaves the configuration's default.
    pub fn member(mut self, name: &str, address: &str, cert: &Path, role: Option<&str>) -> Setup {
        self.team.push(Member {
            name: name.into(),
            address: address.into(),
            cert: cert.into(),
            role: role.map(str::to_string),
        });
        self
    }

    /// The `[policy]` section's text.
    pub fn policy(mut self, text: &str) -> Setup {
        self.policy = Some(text.into());
        self
    }

    /// Text appended at the end (whole sections: `[limits]`, `[advisories]`, …).
    pub fn extra(mut self, text: &str) -> Setup {
        self.extra.push(text.into());
        self
    }

    /// The store path (relative to the config's directory, or absolute); `store` by default.
    pub fn store(mut self, path: &str) -> Setup {
        self.store = path.into();
        self
    }

    /// The templates directory; the repository's by default.
    pub fn templates(mut self, dir: &Path) -> Setup {
        self.templates = dir.into();
        self
    }

    /// Writes security.conf (and what it names: the IMAP password file, the maildir) into
    /// `dir`; returns the config's path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        match self.inbound {
            Inbound::Maildir => std::fs::create_dir_all(dir.join("maildir/new")).unwrap(),
            Inbound::Imap { .. } => {
                let pw = dir.join("imap-password");
                std::fs::write(&pw, MailServers::password(SECURITY)).unwrap();
                std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        let conf = dir.join("security.conf");
        std::fs::write(&conf, self.text(dir)).unwrap();
        conf
    }

    fn text(&self, dir: &Path) -> String {
        let r = repo().display().to_string();
        let mut s = format!(
            "[project]\nname = \"Example Project\"\nsecurity-address = \"{SECURITY}\"\n\
             demo-keys = true\n"
        );
        for line in &self.project {
            s += &format!("{line}\n");
        }
        s += &format!("[keys]\nsecret = [\"{r}/keys/demo-project-secret.asc\"]\n");
        match &self.inbound {
            Inbound::Maildir => s += "[inbound]\nkind = \"maildir\"\npath = \"maildir\"\n",
            Inbound::Imap { port } => {
                s += &format!(
                    "[inbound]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\n\
                     security = \"plain\"\nuser = \"{SECURITY}\"\npassword-file = \"{}\"\n\
                     idle-max = \"20s\"\n",
                    dir.join("imap-password").display()
                )
            }
        }
        for line in &self.inbound_lines {
            s += &format!("{line}\n");
        }
        match &self.outbound {
            Outbound::File => s += "[outbound]\nkind = \"file\"\npath = \"outbox\"\n",
            Outbound::Smtp { port, retry_min } => {
                s += &format!(
                    "[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
                     security = \"plain\"\n"
                );
                if let Some(d) = retry_min {
                    s += &format!("retry-min = \"{d}\"\n");
                }
            }
        }
        s += &format!(
            "[store]\npath = \"{}\"\n[templates]\ndir = \"{}\"\n",
            self.store,
            self.templates.display()
        );
        for m in &self.team {
            s += &format!(
                "[[team]]\nname = \"{}\"\naddress = \"{}\"\ncert = \"{}\"\n",
                m.name,
                m.address,
                m.cert.display()
            );
            if let Some(role) = &m.role {
                s += &format!("role = \"{role}\"\n");
            }
        }
        if let Some(policy) = &self.policy {
            s += &format!("[policy]\n{policy}\n");
        }
        for text in &self.extra {
            s += &format!("{text}\n");
        }
        s
    }

    /// The deployment: this setup written into a new directory of its own.
    pub fn build(self) -> Deployment {
        let dir = TestDir::new();
        let conf = self.write(dir.path());
        Deployment {
            dir,
            conf,
            setup: self,
            runs: Cell::new(0),
            onces: Cell::new(0),
        }
    }
}

/// A directory for one test, removed on drop; kept, its path on the real stderr, when the
/// test is panicking.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new() -> TestDir {
        let path = tempfile::Builder::new()
            .prefix("secmail-it.")
            .tempdir()
            .unwrap()
            .keep();
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TestDir {
    fn default() -> TestDir {
        TestDir::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "test failed: its directory is kept: {}",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// secmail deployed in a directory of its own: security.conf, the store, the daemon's logs
/// (`run-N.log` for the Nth daemon, `once-N.log` for the Nth `run --once`), the maildir and
/// outbox when local.
pub struct Deployment {
    pub dir: TestDir,
    pub conf: PathBuf,
    setup: Setup,
    runs: Cell<usize>,
    onces: Cell<usize>,
}

impl Deployment {
    /// Everything local: the maildir in, .eml files out, no servers.
    pub fn local() -> Setup {
        Setup::new(Inbound::Maildir, Outbound::File)
    }

    /// IMAP in (the security address on the harness's Dovecot, IDLE at most 20 s) and SMTP
    /// out (its Postfix).
    pub fn imap(servers: &MailServers) -> Setup {
        Setup::new(
            Inbound::Imap {
                port: servers.imap_port(),
            },
            Outbound::Smtp {
                port: servers.smtp_port(),
                retry_min: None,
            },
        )
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rewrites security.conf from the setup this deployment was built with, changed by `f`
    /// (each call starts from that setup again); a running daemon takes it on SIGHUP.
    pub fn reconfigure(&self, f: impl FnOnce(Setup) -> Setup) {
        f(self.setup.clone()).write(self.path());
    }

    /// The `secmail` binary on this deployment's configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        secmail(&self.conf, args)
    }

    /// Runs `secmail args`, asserts that it succeeded, returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert_ok(&out, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `secmail run --once` with `env` added, to completion; its output is also kept in
    /// `once-N.log`.
    pub fn once(&self, env: &[(&str, &str)]) -> Output {
        let mut c = self.cmd(&["run", "--once"]);
        c.envs(env.iter().copied());
        let out = c.output().unwrap();
        self.onces.set(self.onces.get() + 1);
        let mut kept = out.stdout.clone();
        kept.extend_from_slice(&out.stderr);
        let _ = std::fs::write(
            self.path().join(format!("once-{}.log", self.onces.get())),
            kept,
        );
        out
    }

    /// Starts `secmail run` with `env` added and a NOTIFY_SOCKET of its own, and waits for
    /// READY=1: the configuration loaded, the store open. The inbound's state follows in
    /// STATUS= (`Daemon::notified("STATUS=connected to imap")`, `…"STATUS=watching maildir"`).
    pub fn start_with(&self, env: &[(&str, &str)]) -> Daemon {
        let mut daemon = self.spawn(env);
        daemon.ready = daemon.notified("READY=1");
        daemon
    }

    /// [`Deployment::start_with`] without extra variables.
    pub fn start(&self) -> Daemon {
        self.start_with(&[])
    }

    /// Starts `secmail run` like [`Deployment::start_with`] but returns at once, before the
    /// daemon is ready (to kill it at any point, or to watch a start that cannot get ready).
    pub fn spawn(&self, env: &[(&str, &str)]) -> Daemon {
        let run = self.runs.get() + 1;
        self.runs.set(run);
        let log = self.log_path(run);
        let notify = Notifications::bind(&self.path().join(format!("notify-{run}.sock")));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = self.cmd(&["run"]);
        cmd.env("NOTIFY_SOCKET", &notify.path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        Daemon {
            child: cmd.spawn().unwrap(),
            log,
            notify,
            ready: String::new(),
        }
    }

    fn log_path(&self, run: usize) -> PathBuf {
        self.path().join(format!("run-{run}.log"))
    }

    /// The log of the daemon started last (empty before the first).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.runs.get())).unwrap_or_default()
    }

    /// The inbound maildir (of a local deployment).
    pub fn maildir(&self) -> PathBuf {
        self.path().join("maildir")
    }

    /// The outbound directory (of a local deployment).
    pub fn outbox(&self) -> PathBuf {
        self.path().join("outbox")
    }

    /// Puts `raw` into the maildir's `new`, as the MTA would, under the unique name `name`.
    pub fn deliver(&self, raw: &[u8], name: &str) {
        secmail::shell::maildir::deliver(&self.maildir(), raw, name).unwrap();
    }

    /// The names of the .eml files written to the outbox.
    pub fn outbox_files(&self) -> Vec<String> {
        std::fs::read_dir(self.outbox())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".eml"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `secmail case ID --json`, parsed.
    pub fn case_json(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["case", id, "--json"])).unwrap()
    }

    /// `secmail cases --json`, parsed.
    pub fn cases_json(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["cases", "--json"])).unwrap()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if std::thread::panicking() && self.runs.get() > 0 {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let _ = writeln!(
                std::io::stderr(),
                "--- {} (tail)\n{}",
                self.log_path(self.runs.get()).display(),
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
    }
}

/// A running `secmail run`, its log and what it told systemd. Dropped while still running,
/// it is killed.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    notify: Notifications,
    /// The READY=1 notification (with its STATUS=) when started by `start`; empty after `spawn`.
    pub ready: String,
}

impl Daemon {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// This daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `what` at least `n` times.
    pub fn wait_log(&self, what: &str, n: usize) {
        wait_until(
            &format!("{n}× {what:?} in the daemon log"),
            WAIT,
            || self.log().matches(what).count() >= n,
            || self.log(),
        );
    }

    /// Waits for a notification containing `what`; returns it (and forgets those before it).
    pub fn notified(&self, what: &str) -> String {
        self.notified_where(what, |m| m.contains(what))
    }

    /// Waits for a notification that `pred` accepts (`what` names it in the timeout's panic);
    /// returns it and forgets those before it.
    pub fn notified_where(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut found = None;
        wait_until(
            &format!("a {what:?} notification"),
            WAIT,
            || {
                let mut got = self.notify.got.lock().unwrap();
                let Some(i) = got.iter().position(|m| pred(m)) else {
                    return false;
                };
                found = Some(got[i].clone());
                got.drain(..=i);
                true
            },
            || format!("got {:?}\n{}", self.notify.got.lock().unwrap(), self.log()),
        );
        found.unwrap()
    }

    /// Sends signal `sig` (`TERM`, `HUP`, `KILL`, …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {}", self.id());
    }

    /// Waits until the daemon has exited.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        self.signal("KILL");
        self.wait();
    }

    /// SIGTERM (finish the message in hand, flush, exit): asserts that it exits 0.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.wait();
        assert!(status.success(), "exit status {status}:\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The datagrams systemd would receive on a NOTIFY_SOCKET. Like systemd, a thread reads the
/// socket all the time: a unix datagram queue holds only about ten messages, and a full one
/// makes the sender wait (at most half a second) and then drop what comes next.
struct Notifications {
    path: PathBuf,
    got: Arc<Mutex<Vec<String>>>,
    closed: Arc<AtomicBool>,
}

impl Notifications {
    fn bind(path: &Path) -> Notifications {
        let sock = UnixDatagram::bind(path).unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (sink, done) = (got.clone(), closed.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        Notifications {
            path: path.into(),
            got,
            closed,
        }
    }
}

impl Drop for Notifications {
    /// Ends the reader: flagged, then woken by one last datagram.
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(s) = UnixDatagram::unbound() {
            let _ = s.send_to(b"", &self.path);
        }
    }
}
