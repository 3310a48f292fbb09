//! Real mail servers for tests: a private Dovecot (IMAP + LMTP, Maildir, passwd-file users)
//! and a private Postfix (SMTP, virtual mailbox domains delivered over LMTP to that Dovecot),
//! started from generated configs on free loopback ports in a temp dir under /tmp.
//!
//! Every `MailServers` is independent (own Postfix queue and data dirs, own Dovecot base_dir),
//! so tests run in parallel. Readiness is waited for by connecting, never by sleeping. Drop
//! stops both daemons by the PID they wrote (after checking `/proc/PID/exe`) and removes the
//! temp dir, unless the test panicked or called `keep`: then the path and the log tails are
//! printed. See /work/shared/REAL-MAIL-SERVERS.md for the pitfalls the generated configs avoid
//! (numbered "pitfall N" below).

// Helpers serve test modules that other parts of the suite add; not every one is used by all.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use async_imap::types::Flag;
use futures::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use secmail::shell::imap::{ImapSettings, Security};
use secmail::shell::transport::{SmtpSettings, Transport};

const DOVECOT: &str = "/usr/sbin/dovecot";
const POSTFIX_MASTER: &str = "/usr/lib/postfix/sbin/master";
const NEEDED_FILES: &[&str] = &[
    DOVECOT,
    POSTFIX_MASTER,
    "/usr/lib/dovecot/imap",
    "/usr/lib/dovecot/lmtp",
    "/usr/lib/postfix/sbin/smtpd",
    "/usr/lib/postfix/sbin/lmtp",
    OPENSSL,
];
const OPENSSL: &str = "/usr/bin/openssl";
/// How long a daemon may take to answer on its port, or to exit after SIGTERM.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Poll interval of every wait on a condition here.
const POLL: Duration = Duration::from_millis(10);

/// A running Dovecot + Postfix pair for one test.
pub struct MailServers {
    dir: PathBuf,
    users: Vec<String>,
    imap_port: u16,
    imaps_port: u16,
    lmtp_port: u16,
    smtp_port: u16,
    smtps_port: u16,
    dovecot_pid: Option<u32>,
    postfix_pid: Option<u32>,
    keep: bool,
    /// The inbox namespace's hierarchy separator; `None`: Dovecot's default, `.` on Maildir.
    separator: Option<char>,
}

impl MailServers {
    /// Starts Dovecot and Postfix for `users` (full addresses; their domains become Postfix's
    /// virtual mailbox domains). Each user's password is `MailServers::password(user)`.
    /// Mail to `local+detail@domain` lands in `local@domain`'s INBOX.
    pub fn start(users: &[&str]) -> Result<MailServers> {
        MailServers::start_with(users, Some('/'))
    }

    /// As `start`, with the IMAP hierarchy `separator` (`None`: Dovecot's default layout,
    /// Maildir++ with `.`, as a stock Debian Dovecot has it).
    pub fn start_with(users: &[&str], separator: Option<char>) -> Result<MailServers> {
        MailServers::available().map_err(|e| anyhow!(e))?;
        // A free port can be taken by someone else between our probe and the daemon's bind:
        // try again with fresh ports.
        let mut last = None;
        for _ in 0..3 {
            match MailServers::start_once(users, separator) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("mail servers did not start")))
    }

    fn start_once(users: &[&str], separator: Option<char>) -> Result<MailServers> {
        let (vmail_uid, vmail_gid) = vmail()?;
        // Pitfall 6: sockets live under base_dir and the queue; keep the paths short.
        let dir = tempfile::Builder::new()
            .prefix("sm")
            .tempdir_in("/tmp")
            .context("creating temp dir under /tmp")?
            .keep();
        let mut servers = MailServers {
            dir,
            users: users.iter().map(|u| u.to_string()).collect(),
            imap_port: free_port()?,
            imaps_port: free_port()?,
            lmtp_port: free_port()?,
            smtp_port: free_port()?,
            smtps_port: free_port()?,
            dovecot_pid: None,
            postfix_pid: None,
            keep: false,
            separator,
        };
        // Pitfall 5: the daemons' users must traverse the dir.
        fs::set_permissions(&servers.dir, fs::Permissions::from_mode(0o755))?;
        servers.write_tls_files()?;
        servers.write_dovecot_config(vmail_uid, vmail_gid)?;
        servers.write_postfix_config()?;
        servers.start_imap()?;
        servers.start_smtp()?;
        Ok(servers)
    }

    /// Are Dovecot and Postfix installed, and can they run here (Postfix's master needs root)?
    pub fn available() -> Result<(), String> {
        let missing: Vec<&str> = NEEDED_FILES
            .iter()
            .copied()
            .filter(|f| !Path::new(f).exists())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing {} (apt-get install dovecot-imapd dovecot-lmtpd postfix)",
                missing.join(", ")
            ));
        }
        if effective_uid() != Some(0) {
            return Err("the Postfix master runs only as root".into());
        }
        for user in ["postfix", "dovecot", "dovenull"] {
            if lookup_user(user).is_none() {
                return Err(format!("system user {user} is missing"));
            }
        }
        if lookup_group("postdrop").is_none() {
            return Err("system group postdrop is missing".into());
        }
        Ok(())
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    pub fn lmtp_port(&self) -> u16 {
        self.lmtp_port
    }

    /// IMAP with TLS from the first byte; the plain `imap_port` offers STARTTLS.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// SMTP with TLS from the first byte; the plain `smtp_port` offers STARTTLS.
    pub fn smtps_port(&self) -> u16 {
        self.smtps_port
    }

    /// The test CA (PEM) that signed both servers' certificate for `localhost` and 127.0.0.1.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    /// The temp dir holding configs, logs (`dovecot.log`, `postfix.log`) and mail.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn password(user: &str) -> String {
        let local = user.split('@').next().unwrap_or(user);
        format!("secret-{local}")
    }

    /// Plaintext IMAP on 127.0.0.1 as `user`: INBOX, `Processed`, `Quarantine`, 10 MiB limit.
    pub fn imap_settings(&self, user: &str) -> ImapSettings {
        ImapSettings {
            host: "127.0.0.1".into(),
            port: self.imap_port,
            security: Security::Plain,
            user: user.into(),
            password: MailServers::password(user),
            folder: "INBOX".into(),
            processed_folder: "Processed".into(),
            quarantine_folder: "Quarantine".into(),
            ca_file: None,
            max_message_bytes: 10 << 20,
            idle_max: Duration::from_secs(60),
        }
    }

    /// Plaintext SMTP to this Postfix, no authentication (loopback is a trusted network).
    pub fn smtp_transport(&self) -> Transport {
        Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.smtp_port,
            security: Security::Plain,
            user: None,
            password: None,
            ca_file: None,
            helo_name: Some("secmail.test".into()),
        })
    }

    /// Submits `raw` over SMTP to Postfix, as a reporter's mail client would (a small SMTP
    /// client of its own, so the code under test is not used to test itself). Any reply other
    /// than the expected one is an error carrying the server's text.
    pub async fn submit(&self, from: &str, rcpts: &[&str], raw: &[u8]) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.smtp_port));
        tokio::time::timeout(Duration::from_secs(30), smtp_submit(addr, from, rcpts, raw))
            .await
            .map_err(|_| anyhow!("smtp submit to {addr} timed out"))?
            .with_context(|| format!("smtp submit to {addr}"))
    }

    /// Polls `folder` of `user` (re-EXAMINE every 10 ms) until a message satisfies `pred`;
    /// returns its bytes. A folder that does not exist yet is waited for too.
    pub async fn wait_for(
        &self,
        user: &str,
        folder: &str,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut session = self.imap_login(user).await?;
        let mut seen: HashSet<u32> = HashSet::new();
        loop {
            if session.examine(folder).await.is_ok() {
                let uids = session.uid_search("ALL").await.context("uid search")?;
                let mut new: Vec<u32> = uids.difference(&seen).copied().collect();
                new.sort_unstable();
                if !new.is_empty() {
                    let set = new
                        .iter()
                        .map(|u| u.to_string())
                        .collect::<Vec<_>>()
                        .join(",");
                    let fetches: Vec<_> = session
                        .uid_fetch(&set, "(UID BODY.PEEK[])")
                        .await?
                        .try_collect()
                        .await?;
                    for f in &fetches {
                        if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                            if pred(body) {
                                let found = body.to_vec();
                                let _ = session.logout().await;
                                return Ok(found);
                            }
                            seen.insert(uid);
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                let _ = session.logout().await;
                bail!(
                    "no message in {user} {folder} matched within {timeout:?} ({} seen); logs in {}",
                    seen.len(),
                    self.dir.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// All messages in `folder` of `user`, in UID order (empty if the folder has none).
    pub async fn list(&self, user: &str, folder: &str) -> Result<Vec<Vec<u8>>> {
        let mut session = self.imap_login(user).await?;
        let mailbox = session
            .examine(folder)
            .await
            .with_context(|| format!("examine {user} {folder}"))?;
        let mut out = BTreeMap::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await?;
            for f in &fetches {
                if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                    out.insert(uid, body.to_vec());
                }
            }
        }
        let _ = session.logout().await;
        Ok(out.into_values().collect())
    }

    /// The flags of every message in `folder` of `user`, in UID order, read without changing
    /// them (EXAMINE, FLAGS; empty if the folder has none).
    pub async fn flags(&self, user: &str, folder: &str) -> Result<Vec<Vec<Flag<'static>>>> {
        let mut session = self.imap_login(user).await?;
        let mailbox = session
            .examine(folder)
            .await
            .with_context(|| format!("examine {user} {folder}"))?;
        let mut out = BTreeMap::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID FLAGS)")
                .await?
                .try_collect()
                .await?;
            for f in &fetches {
                if let Some(uid) = f.uid {
                    out.insert(uid, f.flags().map(owned_flag).collect());
                }
            }
        }
        let _ = session.logout().await;
        Ok(out.into_values().collect())
    }

    /// Appends `raws` to `folder` of `user` over one IMAP session (filling a mailbox, as a
    /// setup; mail a test sends as a person would goes through `submit`).
    pub async fn append_all(&self, user: &str, folder: &str, raws: &[Vec<u8>]) -> Result<()> {
        let mut session = self.imap_login(user).await?;
        for raw in raws {
            session
                .append(folder, None, None, raw)
                .await
                .with_context(|| format!("append to {user} {folder}"))?;
        }
        let _ = session.logout().await;
        Ok(())
    }

    /// Waits until Postfix has delivered everything it accepted (`postqueue -p` says the
    /// queue is empty).
    pub fn wait_queue_empty(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = Command::new("/usr/sbin/postqueue")
                .arg("-c")
                .arg(self.dir.join("pf"))
                .arg("-p")
                .output()
                .context("running postqueue")?;
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.contains("Mail queue is empty") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "postfix queue not empty after {timeout:?}: {}",
                    text.lines().last().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops Dovecot (IMAP and LMTP) and waits until it has exited.
    pub fn stop_imap(&mut self) {
        if let Some(pid) = self.dovecot_pid.take() {
            stop_daemons(&[(pid, DOVECOT)], true);
        }
    }

    /// Starts Dovecot again on the same ports, with the same mail.
    pub fn start_imap(&mut self) -> Result<()> {
        if self.dovecot_pid.is_some() {
            return Ok(());
        }
        wait_port_free(self.imap_port)?;
        let conf = self.dir.join("dovecot.conf");
        let pid_file = self.dir.join("dc/master.pid");
        let _ = fs::remove_file(&pid_file);
        // Right after a stop the old listeners may linger a moment: retry until the deadline.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let status = Command::new(DOVECOT)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                // Pitfall 1: never a pipe; the master keeps these open for its life.
                .stdout(log_file(&self.dir.join("dovecot.out"))?)
                .stderr(log_file(&self.dir.join("dovecot.out"))?)
                .status()
                .context("running dovecot")?;
            if status.success() {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "dovecot failed to start ({status}): {}",
                    tail(&self.dir.join("dovecot.out"), 5)
                );
            }
            std::thread::sleep(POLL);
        }
        self.dovecot_pid = Some(read_pid(&pid_file)?);
        wait_ready(self.imap_port, b"* OK", &self.dir.join("dovecot.log"))?;
        wait_ready(self.lmtp_port, b"220", &self.dir.join("dovecot.log"))?;
        Ok(())
    }

    /// Stops Postfix and waits until it has exited. Mail in its queue stays for `start_smtp`.
    pub fn stop_smtp(&mut self) {
        if let Some(pid) = self.postfix_pid.take() {
            stop_daemons(&[(pid, POSTFIX_MASTER)], true);
        }
    }

    /// Starts Postfix again on the same port with the same queue.
    pub fn start_smtp(&mut self) -> Result<()> {
        if self.postfix_pid.is_some() {
            return Ok(());
        }
        let pid_file = self.dir.join("q/pid/master.pid");
        let _ = fs::remove_file(&pid_file);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // Pitfall 3: the master directly, not `postfix start` (2-3 s of checks).
            // `-w`: return once the background master has initialised.
            let status = Command::new(POSTFIX_MASTER)
                .arg("-c")
                .arg(self.dir.join("pf"))
                .arg("-w")
                .stdin(Stdio::null())
                .stdout(log_file(&self.dir.join("postfix.out"))?)
                .stderr(log_file(&self.dir.join("postfix.out"))?)
                .status()
                .context("running postfix master")?;
            if status.success() {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "postfix failed to start ({status}): {} {}",
                    tail(&self.dir.join("postfix.out"), 5),
                    tail(&self.dir.join("postfix.log"), 5)
                );
            }
            std::thread::sleep(POLL);
        }
        self.postfix_pid = Some(read_pid(&pid_file)?);
        wait_ready(self.smtp_port, b"220", &self.dir.join("postfix.log"))?;
        Ok(())
    }

    /// Keeps the temp dir after the test (prints its path).
    pub fn keep(&mut self) {
        self.keep = true;
    }

    pub async fn imap_login(
        &self,
        user: &str,
    ) -> Result<async_imap::Session<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .with_context(|| format!("imap connect to port {}", self.imap_port))?;
        let mut client = async_imap::Client::new(tcp);
        client
            .read_response()
            .await
            .ok_or_else(|| anyhow!("imap closed before its greeting"))??;
        client
            .login(user, MailServers::password(user))
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("imap login as {user}"))
    }

    /// A throw-away CA and a server certificate for `localhost` and 127.0.0.1 (EC P-256,
    /// X.509 v3 with the extensions webpki insists on), for the TLS and STARTTLS listeners.
    fn write_tls_files(&self) -> Result<()> {
        let tls = self.dir.join("tls");
        fs::create_dir(&tls)?;
        let ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                   keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
        write(&tls.join("server.ext"), ext, 0o644)?;
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let steps = [
            format!(
                "req -x509 {ec} -days 2 -subj /CN=secmail-test-CA -keyout ca.key -out ca.pem \
                 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
            ),
            format!("req {ec} -subj /CN=localhost -keyout server.key -out server.csr"),
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
             -extfile server.ext -out server.pem"
                .to_string(),
        ];
        for step in &steps {
            let args: Vec<&str> = step.split_whitespace().collect();
            let out = Command::new(OPENSSL)
                .args(&args)
                .current_dir(&tls)
                .stdin(Stdio::null())
                .output()
                .context("running openssl")?;
            if !out.status.success() {
                bail!(
                    "openssl {} failed: {}",
                    args[0],
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(())
    }

    fn write_dovecot_config(&self, vmail_uid: u32, vmail_gid: u32) -> Result<()> {
        let d = &self.dir;
        for sub in ["dc", "state"] {
            fs::create_dir(d.join(sub))?;
        }
        let mail = d.join("mail");
        fs::create_dir(&mail)?;
        chown(&mail, Some(vmail_uid), Some(vmail_gid)).context("chown mail dir to vmail")?;
        let mut users = String::new();
        for u in &self.users {
            users.push_str(&format!("{u}:{{PLAIN}}{}:::::\n", MailServers::password(u)));
        }
        write(&d.join("users"), &users, 0o644)?;
        let conf = format!(
            r#"# generated by tests/it/harness/servers.rs
base_dir = {d}/dc
state_dir = {d}/state
instance_name = secmail-test-{imap}
listen = 127.0.0.1
protocols = imap lmtp
ssl = yes
ssl_cert = <{d}/tls/server.pem
ssl_key = <{d}/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests of wrong passwords need no 2 s penalty.
auth_failure_delay = 0
log_path = {d}/dovecot.log
mail_location = maildir:{d}/mail/%d/%n/Maildir
# Pitfall 5: never uid 0 for mail.
mail_uid = {vmail_uid}
mail_gid = {vmail_gid}
first_valid_uid = 1
first_valid_gid = 1
# Pitfall 7: parallel tests all come from 127.0.0.1.
mail_max_userip_connections = 1000
recipient_delimiter = +
lmtp_hdr_delivery_address = original
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={vmail_uid} gid={vmail_gid} home={d}/mail/%d/%n allow_all_users=no
}}
namespace inbox {{
  inbox = yes
{separator}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"#,
            d = d.display(),
            imap = self.imap_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
            separator = self
                .separator
                .map(|c| format!("  separator = {c}\n"))
                .unwrap_or_default(),
        );
        write(&d.join("dovecot.conf"), &conf, 0o644)
    }

    fn write_postfix_config(&self) -> Result<()> {
        let d = &self.dir;
        let pf = d.join("pf");
        fs::create_dir(&pf)?;
        let (postfix_uid, _) = lookup_user("postfix").context("no postfix user")?;
        let postdrop = lookup_group("postdrop").context("no postdrop group")?;
        // Pitfall 3: the queue outside the config dir, data_directory owned by postfix.
        let data = d.join("pfdata");
        fs::create_dir(&data)?;
        chown(&data, Some(postfix_uid), None)?;
        let q = d.join("q");
        fs::create_dir(&q)?;
        for sub in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            let p = q.join(sub);
            fs::create_dir(&p)?;
            chown(&p, Some(postfix_uid), Some(0))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700))?;
        }
        for (sub, mode) in [("maildrop", 0o1730), ("public", 0o2710)] {
            let p = q.join(sub);
            fs::create_dir(&p)?;
            chown(&p, Some(postfix_uid), Some(postdrop))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        }
        fs::create_dir(q.join("pid"))?;

        let mut domains: Vec<&str> = self
            .users
            .iter()
            .filter_map(|u| u.split_once('@').map(|(_, dom)| dom))
            .collect();
        domains.sort_unstable();
        domains.dedup();
        let mailboxes: String = self.users.iter().map(|u| format!("{u} ok\n")).collect();
        write(&pf.join("vmailbox"), &mailboxes, 0o644)?;
        let main = format!(
            r#"# generated by tests/it/harness/servers.rs
compatibility_level = 3.6
queue_directory = {d}/q
data_directory = {d}/pfdata
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.secmail.test
mydomain = secmail.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
# Pitfall 8: other domains are refused at once rather than queued.
smtpd_relay_restrictions = reject_unauth_destination
virtual_mailbox_domains = {domains}
virtual_mailbox_maps = texthash:{d}/pf/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
default_transport = error:outside mail is not delivered in tests
local_transport = error:no local delivery in tests
recipient_delimiter = +
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
# Pitfall 2: no syslog here.
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
# Tests that stop Dovecot want deferred mail retried quickly.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtp_tls_security_level = none
lmtp_tls_security_level = none
smtpd_tls_security_level = may
smtpd_tls_cert_file = {d}/tls/server.pem
smtpd_tls_key_file = {d}/tls/server.key
"#,
            d = d.display(),
            domains = domains.join(" "),
            lmtp = self.lmtp_port,
        );
        write(&pf.join("main.cf"), &main, 0o644)?;
        let master = format!(
            r#"# generated by tests/it/harness/servers.rs; no chroot (column 5 "n")
127.0.0.1:{smtp} inet n - n - - smtpd
127.0.0.1:{smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
tlsmgr    unix - - n 1000? 1 tlsmgr
cleanup   unix n - n -   0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n -   - trivial-rewrite
bounce    unix - - n -   0 bounce
defer     unix - - n -   0 bounce
trace     unix - - n -   0 bounce
verify    unix - - n -   1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n -   - proxymap
smtp      unix - - n -   - smtp
relay     unix - - n -   - smtp
error     unix - - n -   - error
retry     unix - - n -   - error
discard   unix - - n -   - discard
lmtp      unix - - n -   - lmtp
anvil     unix - - n -   1 anvil
scache    unix - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
"#,
            smtp = self.smtp_port,
            smtps = self.smtps_port,
        );
        write(&pf.join("master.cf"), &master, 0o644)?;
        // Pitfall 4: Postfix waits in 300 ms steps for files younger than the current second.
        let past = SystemTime::now() - Duration::from_secs(10);
        for f in ["main.cf", "master.cf", "vmailbox"] {
            fs::File::options()
                .write(true)
                .open(pf.join(f))?
                .set_modified(past)?;
        }
        Ok(())
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let mut daemons = Vec::new();
        if let Some(pid) = self.postfix_pid.take() {
            daemons.push((pid, POSTFIX_MASTER));
        }
        if let Some(pid) = self.dovecot_pid.take() {
            daemons.push((pid, DOVECOT));
        }
        // The test is over: no need for a graceful shutdown, which costs Dovecot a second.
        stop_daemons(&daemons, false);
        if self.keep || std::thread::panicking() {
            // The real stderr: libtest does not capture it (see `skip`).
            let _ = writeln!(
                std::io::stderr(),
                "mail servers: kept {} \n--- dovecot.log (tail)\n{}\n--- postfix.log (tail)\n{}",
                self.dir.display(),
                tail(&self.dir.join("dovecot.log"), 15),
                tail(&self.dir.join("postfix.log"), 15)
            );
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("mail servers: could not remove {}: {e}", self.dir.display());
        }
    }
}

async fn smtp_submit(addr: SocketAddr, from: &str, rcpts: &[&str], raw: &[u8]) -> Result<()> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (r, mut w) = tcp.into_split();
    let mut r = tokio::io::BufReader::new(r);
    expect_reply(&mut r, "220").await?;
    let mut cmd = async |line: Vec<u8>, code: &str| -> Result<()> {
        w.write_all(&line).await?;
        let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
        expect_reply(&mut r, code)
            .await
            .with_context(|| format!("after {:?}", shown.trim_end()))
    };
    cmd(b"EHLO client.reporter.test\r\n".to_vec(), "250").await?;
    cmd(format!("MAIL FROM:<{from}>\r\n").into_bytes(), "250").await?;
    for rcpt in rcpts {
        cmd(format!("RCPT TO:<{rcpt}>\r\n").into_bytes(), "250").await?;
    }
    cmd(b"DATA\r\n".to_vec(), "354").await?;
    cmd(dot_stuff(raw), "250").await?;
    cmd(b"QUIT\r\n".to_vec(), "221").await?;
    Ok(())
}

/// CRLF line ends, a leading dot doubled (RFC 5321 §4.5.2), and the final "." line.
fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Reads one (multi-line) SMTP reply; its code must be `code`.
async fn expect_reply(
    r: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: &str,
) -> Result<()> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            bail!("connection closed; got so far: {text:?}");
        }
        text.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    if !text.starts_with(code) {
        bail!("expected {code}, got {:?}", text.trim_end());
    }
    Ok(())
}

/// A loopback port nobody listens on, not handed out before by this process.
fn free_port() -> Result<u16> {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if given.lock().map_err(|_| anyhow!("poisoned"))?.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free port")
}

/// Waits until nothing listens on `port` any more (a restart right after a stop).
fn wait_port_free(port: u16) -> Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    while TcpListener::bind(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            bail!("port {port} still in use after {STOP_TIMEOUT:?}");
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Connects until the daemon greets with `greeting`.
fn wait_ready(port: u16, greeting: &[u8], log: &Path) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut line = Vec::new();
                let _ = BufReader::new(&mut s).read_until(b'\n', &mut line);
                if line.starts_with(greeting) {
                    return Ok(());
                }
                last = format!("greeting {:?}", String::from_utf8_lossy(&line));
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(POLL);
    }
    bail!(
        "port {port} not ready within {READY_TIMEOUT:?} ({last}); log: {}",
        tail(log, 10)
    )
}

/// Signals each daemon `(master PID, master binary)` and every process of its process group,
/// then waits until the group is empty. The master's `/proc/PID/exe` is checked first
/// (pitfall 10: PIDs get reused). Both masters lead their own group (they call setsid), and
/// a group signal also reaches children forked a moment ago or orphaned: signalling the master
/// alone lets Dovecot's IDLE clients linger for seconds, and SIGKILL to it alone leaves its
/// children running. `graceful`: SIGTERM (clients get a BYE); else SIGKILL (the test is over).
fn stop_daemons(daemons: &[(u32, &str)], graceful: bool) {
    let signal = if graceful { "-TERM" } else { "-KILL" };
    let mut groups = Vec::new();
    for &(master, exe) in daemons {
        if !exe_is(master, exe) {
            eprintln!("mail servers: pid {master} is not {exe} any more; not killing it");
            continue;
        }
        if group_of(master) != Some(master) {
            eprintln!(
                "mail servers: {exe} (pid {master}) leads no process group; killing it alone"
            );
            let _ = Command::new("kill")
                .arg(signal)
                .arg(master.to_string())
                .status();
            groups.push(master);
            continue;
        }
        // "-- -PGID": the whole process group.
        let _ = Command::new("kill")
            .arg(signal)
            .arg("--")
            .arg(format!("-{master}"))
            .stderr(Stdio::null())
            .status();
        groups.push(master);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while groups.iter().any(|g| group_alive(*g)) {
        if Instant::now() >= deadline {
            eprintln!(
                "mail servers: process groups {groups:?} still running after {STOP_TIMEOUT:?}"
            );
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Is `/proc/PID/exe` the binary `exe`? ("(deleted)" is appended when the package was
/// upgraded meanwhile.)
fn exe_is(pid: u32, exe: &str) -> bool {
    fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().starts_with(exe))
        .unwrap_or(false)
}

/// State and process group of a process, from /proc/PID/stat.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after the last ')'.
    let mut f = stat.rsplit_once(") ")?.1.split_whitespace();
    let state = f.next()?.chars().next()?;
    let pgrp = f.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

fn group_of(pid: u32) -> Option<u32> {
    stat_of(pid).map(|(_, g)| g)
}

/// Does any live (not zombie) process remain in process group `pgrp`?
fn group_alive(pgrp: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| matches!(stat_of(pid), Some((state, g)) if g == pgrp && !matches!(state, 'Z' | 'X')))
}

fn read_pid(path: &Path) -> Result<u32> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(s) = fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return Ok(pid);
            }
        }
        if Instant::now() >= deadline {
            bail!("no pid in {}", path.display());
        }
        std::thread::sleep(POLL);
    }
}

/// The vmail user that owns test mail (pitfall 5), created once if missing.
fn vmail() -> Result<(u32, u32)> {
    static VMAIL: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    VMAIL
        .get_or_init(|| {
            if let Some(ids) = lookup_user("vmail") {
                return Ok(ids);
            }
            let status = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                .arg("vmail")
                .status()
                .map_err(|e| format!("useradd vmail: {e}"))?;
            // 9: created meanwhile by someone else.
            if !status.success() && status.code() != Some(9) {
                return Err(format!("useradd vmail failed: {status}"));
            }
            lookup_user("vmail").ok_or_else(|| "vmail user missing after useradd".into())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 3 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

fn lookup_group(name: &str) -> Option<u32> {
    let group = fs::read_to_string("/etc/group").ok()?;
    group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 2 && f[0] == name {
            f[2].parse().ok()
        } else {
            None
        }
    })
}

fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn write(path: &Path, content: &str, mode: u32) -> Result<()> {
    let mut f = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn log_file(path: &Path) -> Result<fs::File> {
    fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `flag`, no longer borrowing the FETCH response it was read from.
fn owned_flag(flag: Flag<'_>) -> Flag<'static> {
    match flag {
        Flag::Seen => Flag::Seen,
        Flag::Answered => Flag::Answered,
        Flag::Flagged => Flag::Flagged,
        Flag::Deleted => Flag::Deleted,
        Flag::Draft => Flag::Draft,
        Flag::Recent => Flag::Recent,
        Flag::MayCreate => Flag::MayCreate,
        Flag::Custom(name) => Flag::Custom(name.into_owned().into()),
    }
}

#[test]
fn dot_stuffing() {
    assert_eq!(dot_stuff(b"a\n.b\r\nc"), b"a\r\n..b\r\nc\r\n.\r\n".to_vec());
    assert_eq!(dot_stuff(b""), b".\r\n".to_vec());
}
