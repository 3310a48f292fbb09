//! Figures 2 and 3: the daemon against a real Dovecot (IMAP in, LMTP delivery) and a real
//! Postfix (SMTP out) on loopback, started as the integration tests start them
//! (tests/it/harness/servers.rs), and what those servers can do by themselves (the bound).
use crate::corpus::{self, Corpus};
use crate::meter::{self, Measured, Meter};
use crate::servers::MailServers;
use secmail::shell::imap::ImapInbox;
use secmail::shell::transport::Mailer;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

pub struct Real {
    /// Figure 2: IMAP in → SMTP out, until the MTA accepted every outgoing message (the
    /// daemon's CPU; others' load includes Dovecot and Postfix).
    pub fig2: Measured,
    /// The hand-over alone: `run --once` on a Maildir backlog with SMTP out sends only after
    /// its inbound pass, so its first to last "sent" line is the outbox at work (messages/s).
    pub handover: Measured,
    pub handover_messages: usize,
    /// The bound: the same reports fetched and moved by one IMAP session, nothing else (per s).
    pub imap_bound: f64,
    /// The bound: the same outgoing messages (figure 1's) handed to Postfix over one SMTP
    /// connection, nothing else, in reports/s.
    pub smtp_bound: f64,
    /// The same, as measured (this process's CPU: lettre's client), and its messages.
    pub smtp_bound_m: Measured,
    pub smtp_bound_messages: usize,
    /// Figure 3: SMTP acceptance of a report → its acknowledgement in the reporter's INBOX.
    pub latency_ms: Vec<f64>,
}

const SECURITY: &str = "security@bench.example";

fn users(c: &Corpus) -> Vec<String> {
    std::iter::once(SECURITY.to_string())
        .chain(c.team.iter().map(|m| m.address.clone()))
        .chain(c.reporters.iter().map(|r| r.address.clone()))
        .collect()
}

pub fn io_config(servers: &MailServers, dir: &Path) -> String {
    let pw = dir.join("imap-password");
    std::fs::write(&pw, MailServers::password(SECURITY)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!(
        "[inbound]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nuser = \"{SECURITY}\"\npassword-file = \"{}\"\nidle-max = \"20s\"\n[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n",
        servers.imap_port(),
        pw.display(),
        servers.smtp_port()
    )
}

pub fn measure(
    work: &Path,
    c: &Corpus,
    fig1_outbox: &Path,
    latency_reports: usize,
    now: SystemTime,
) -> Result<Real, String> {
    MailServers::available()?;
    let users = users(c);
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let servers = MailServers::start(&user_refs).map_err(|e| format!("{e:#}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let raws: Vec<Vec<u8>> = c.reports.iter().map(|r| r.raw.clone()).collect();

    // The IMAP bound: fetch and move the backlog with one session, as the daemon does.
    eprintln!("figure 2: the IMAP bound…");
    rt.block_on(servers.append_all(SECURITY, "INBOX", &raws))
        .map_err(|e| format!("{e:#}"))?;
    let imap_bound = rt.block_on(async {
        let mut settings = servers.imap_settings(SECURITY);
        settings.processed_folder = "bound".into();
        let mut inbox = ImapInbox::connect(&settings).await.unwrap();
        let t = Instant::now();
        let (mut last, mut n) = (0, 0);
        loop {
            let batch = inbox.fetch_new(last, 100).await.unwrap();
            if batch.is_empty() {
                break;
            }
            for chunk in batch.chunks(32) {
                let uids: Vec<u32> = chunk.iter().map(|f| f.uid).collect();
                inbox.move_all(&uids, false).await.unwrap();
            }
            last = batch.iter().map(|f| f.uid).max().unwrap_or(last);
            n += batch.len();
        }
        assert_eq!(n, raws.len());
        n as f64 / t.elapsed().as_secs_f64()
    });

    // Figure 2: the daemon on the same backlog, IMAP in, SMTP out.
    eprintln!("figure 2: the daemon, IMAP in, SMTP out…");
    rt.block_on(servers.append_all(SECURITY, "INBOX", &raws))
        .map_err(|e| format!("{e:#}"))?;
    let dir = work.join("real-run");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = crate::deploy(&dir, c, &io_config(&servers, &dir));
    let meter = Meter::start();
    let mut daemon = crate::Daemon::start(&dir, &conf, "info");
    daemon.wait_sent(c.expected_outgoing());
    let fig2 = meter.stop(daemon.cpu(), false);
    servers
        .wait_queue_empty(Duration::from_secs(600))
        .map_err(|e| format!("{e:#}"))?;

    // Figure 3: new reports one at a time to the running daemon (on IDLE).
    eprintln!("figure 3: latency of {latency_reports} reports sent one at a time…");
    let fresh: Vec<corpus::Report> =
        corpus::reports(&c.project, &c.reporters, latency_reports * 2, "lat", now)
            .into_iter()
            .filter(|r| !r.follow_up)
            .take(latency_reports)
            .collect();
    let latency_ms = rt
        .block_on(latencies(&servers, &fresh))
        .map_err(|e| format!("{e:#}"))?;
    daemon.stop();

    // The SMTP bound: figure 1's outgoing messages handed to Postfix over one connection.
    servers
        .wait_queue_empty(Duration::from_secs(600))
        .map_err(|e| format!("{e:#}"))?;
    eprintln!("figure 2: the SMTP bound…");
    let (smtp_bound, smtp_bound_m, smtp_bound_messages) = rt.block_on(async {
        let sender = Mailer::new(&servers.smtp_transport()).unwrap();
        let mut messages = Vec::new();
        for e in std::fs::read_dir(fig1_outbox)
            .unwrap()
            .filter_map(|e| e.ok())
        {
            if e.path().extension().is_some_and(|x| x == "eml") {
                let raw = std::fs::read(e.path()).unwrap();
                let to = header_address(&raw, "To").expect("a To header");
                messages.push((to, raw));
            }
        }
        let meter = Meter::start();
        let cpu0 = meter::self_cpu();
        for (i, (to, raw)) in messages.iter().enumerate() {
            sender
                .send(SECURITY, std::slice::from_ref(to), raw, &format!("b{i}"))
                .await
                .map_err(|e| format!("{e:?}"))
                .unwrap();
        }
        let m = meter.stop(meter::self_cpu() - cpu0, true);
        let per_msg = m.wall_s / messages.len() as f64;
        let per_report = messages.len() as f64 / c.reports.len() as f64;
        (1.0 / (per_msg * per_report), m, messages.len())
    });
    servers
        .wait_queue_empty(Duration::from_secs(600))
        .map_err(|e| format!("{e:#}"))?;

    // The hand-over alone: the outbox of `run --once` (after its whole inbound pass).
    eprintln!("figure 2: the daemon's SMTP hand-over alone…");
    let dir = work.join("handover-run");
    std::fs::create_dir_all(&dir).unwrap();
    let smtp_out = io_config(&servers, &dir);
    let outbound = &smtp_out[smtp_out.find("[outbound]").unwrap_or(0)..];
    let io = format!(
        "[inbound]\nkind = \"maildir\"\npath = \"maildir\"\nmove-processed = true\n{outbound}"
    );
    let conf = crate::deploy(&dir, c, &io);
    crate::fill_maildir(&dir, c);
    let mut once = crate::Daemon::start_with(&dir, &conf, "info", &["run", "--once"]);
    once.wait_sent(c.expected_outgoing());
    let handover = once.since_first_sent();
    once.wait_exit();
    Ok(Real {
        fig2,
        handover,
        handover_messages: c.expected_outgoing().saturating_sub(1),
        smtp_bound_m,
        smtp_bound_messages,
        imap_bound,
        smtp_bound,
        latency_ms,
    })
}

/// Each report submitted over SMTP, then its acknowledgement waited for in the reporter's
/// INBOX (NOOP and a header search every 5 ms on a session kept per reporter).
async fn latencies(servers: &MailServers, reports: &[corpus::Report]) -> anyhow::Result<Vec<f64>> {
    let mut sessions = HashMap::new();
    for r in reports {
        if !sessions.contains_key(&r.from) {
            let mut s = servers.imap_login(&r.from).await?;
            s.select("INBOX").await?;
            sessions.insert(r.from.clone(), s);
        }
    }
    let mut out = Vec::with_capacity(reports.len());
    for r in reports {
        servers.submit(&r.from, &[SECURITY], &r.raw).await?;
        let t = Instant::now();
        let session = sessions.get_mut(&r.from).unwrap();
        let query = format!("HEADER In-Reply-To \"{}\"", r.message_id);
        loop {
            session.noop().await?;
            if !session.uid_search(&query).await?.is_empty() {
                break;
            }
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(60),
                "no acknowledgement of {} within a minute",
                r.message_id
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    for (_, mut s) in sessions {
        let _ = s.logout().await;
    }
    Ok(out)
}

/// The bare address of a header such as `To: Name <a@b>`.
fn header_address(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let line = text.lines().take_while(|l| !l.is_empty()).find(|l| {
        l.len() > name.len() && l[..name.len() + 1].eq_ignore_ascii_case(&format!("{name}:"))
    })?;
    let v = &line[name.len() + 1..];
    let v = v.rsplit_once('<').map(|(_, a)| a).unwrap_or(v);
    Some(v.trim().trim_end_matches('>').trim().to_string())
}
