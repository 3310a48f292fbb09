//! secmail's benchmark harness (issue 6). Run it with `bash contrib/bench.sh` (release build).
//!
//! Figures, each printed as a table and written as JSON (`--out FILE`, default bench.json):
//! 1. reports/s end to end, Maildir → file outbox, by the real daemon binary, store flushed as in
//!    production; 4. its peak and steady RSS; 5. per-report time with 1,000 and 100,000 cases
//!    stored, and start-up time at 100,000 cases; 6. the floor: the same OpenPGP work with sequoia
//!    directly, and parsing alone; 7. the usual tooling: one `gpg --decrypt` and four
//!    `gpg --sign --encrypt` processes per report.
#![allow(clippy::disallowed_methods)] // tests and benchmarks may read the real clock
mod corpus;
mod floor;
mod real;
#[path = "../../tests/it/harness/servers.rs"]
mod servers;

use corpus::{Corpus, Suite};
use secmail::core::keys::Cert;
use serde_json::json;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

struct Args {
    reports: usize,
    suite: Suite,
    gpg_sample: usize,
    growth: bool,
    servers: bool,
    latency: usize,
    keep: bool,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        reports: 2000,
        suite: Suite::Cv25519,
        gpg_sample: 100,
        growth: true,
        servers: true,
        latency: 200,
        keep: false,
        out: "bench.json".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--reports" => a.reports = it.next().and_then(|v| v.parse().ok()).expect("--reports N"),
            "--rsa" => a.suite = Suite::Rsa3k,
            "--gpg-sample" => {
                a.gpg_sample = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--gpg-sample N")
            }
            "--no-growth" => a.growth = false,
            "--no-servers" => a.servers = false,
            "--keep" => a.keep = true,
            "--latency" => a.latency = it.next().and_then(|v| v.parse().ok()).expect("--latency N"),
            "--out" => a.out = it.next().expect("--out FILE").into(),
            other => panic!("unknown argument {other}; see contrib/bench.sh"),
        }
    }
    a
}

fn secmail_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().join("secmail")
}

/// Inbound from `dir/maildir`, outbound to `dir/outbox` (figure 1).
const MAILDIR_IO: &str = "[inbound]\nkind = \"maildir\"\npath = \"maildir\"\nmove-processed = true\n[outbound]\nkind = \"file\"\npath = \"outbox\"\n";

/// A deployment directory: project key, team certs, config with inbound and outbound `io`.
fn deploy(dir: &Path, c: &Corpus, io: &str) -> PathBuf {
    let key = dir.join("project-secret.asc");
    std::fs::write(&key, c.project.secret_armored()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut team = String::new();
    for (i, m) in c.team.iter().enumerate() {
        let p = dir.join(format!("member{i}.asc"));
        std::fs::write(&p, m.public_armored()).unwrap();
        team.push_str(&format!(
            "[[team]]\nname = \"Member {i}\"\naddress = \"{}\"\ncert = \"{}\"\n",
            m.address,
            p.display()
        ));
    }
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let conf = dir.join("security.conf");
    std::fs::write(
        &conf,
        format!(
            "[project]\nname = \"Bench\"\nsecurity-address = \"security@bench.example\"\n[keys]\nsecret = [\"{}\"]\n{io}[store]\npath = \"store\"\n[templates]\ndir = \"{}\"\n[limits]\n# the benchmark measures throughput, not the per-address rate limit\nauto-replies-per-address = 10000\n{team}",
            key.display(),
            templates.display()
        ),
    )
    .unwrap();
    conf
}

fn fill_maildir(dir: &Path, c: &Corpus) {
    for (i, r) in c.reports.iter().enumerate() {
        secmail::shell::maildir::deliver(&dir.join("maildir"), &r.raw, &format!("{i:06}.bench"))
            .unwrap();
    }
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The real daemon binary, running on a deployment directory.
struct Daemon {
    child: std::process::Child,
    log: PathBuf,
    read: u64,
    sent: usize,
}

impl Daemon {
    fn start(dir: &Path, conf: &Path, level: &str) -> Daemon {
        let log = dir.join("daemon.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(secmail_bin())
            .arg("--config")
            .arg(conf)
            .arg("run")
            .env("SECMAIL_LOG", level)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Daemon {
            child,
            log,
            read: 0,
            sent: 0,
        }
    }

    /// Waits until the outbox has sent `expected` messages since the start (it logs one line
    /// per message sent, at info level; the log is read as it grows, every 20 ms).
    fn wait_sent(&mut self, expected: usize) {
        use std::io::{Read, Seek};
        let deadline = Instant::now() + Duration::from_secs(1800);
        let mut f = std::fs::File::open(&self.log).unwrap();
        let mut carry = String::new();
        while self.sent < expected {
            f.seek(std::io::SeekFrom::Start(self.read)).unwrap();
            let mut chunk = Vec::new();
            f.read_to_end(&mut chunk).unwrap();
            self.read += chunk.len() as u64;
            carry.push_str(&String::from_utf8_lossy(&chunk));
            let complete = carry.rfind('\n').map_or(0, |i| i + 1);
            self.sent += carry[..complete]
                .lines()
                .filter(|l| l.contains("secmail::shell::outbox: sent"))
                .count();
            carry.drain(..complete);
            if self.sent >= expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not finish: {} of {expected} sent",
                self.sent
            );
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "daemon exited:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak RSS so far and the median RSS over the next second (MiB).
    fn rss(&self) -> (f64, f64) {
        let pid = self.child.id();
        let peak = rss_kib(pid, "VmHWM:").unwrap_or(0);
        eprintln!(
            "  daemon memory: anonymous {} KiB, file-backed {} KiB, threads {}",
            rss_kib(pid, "RssAnon:").unwrap_or(0),
            rss_kib(pid, "RssFile:").unwrap_or(0),
            rss_kib(pid, "Threads:").unwrap_or(0)
        );
        let mut samples = Vec::new();
        for _ in 0..20 {
            samples.push(rss_kib(pid, "VmRSS:").unwrap_or(0));
            std::thread::sleep(Duration::from_millis(50));
        }
        samples.sort_unstable();
        (
            peak as f64 / 1024.0,
            samples[samples.len() / 2] as f64 / 1024.0,
        )
    }

    fn stop(mut self) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        self.child.wait().unwrap();
    }
}

struct DaemonRun {
    seconds: f64,
    peak_mib: f64,
    steady_mib: f64,
}

/// Figures 1 and 4: the real daemon clears the backlog in the maildir.
fn daemon_run(dir: &Path, conf: &Path, expected: usize) -> DaemonRun {
    let t = Instant::now();
    let mut d = Daemon::start(dir, conf, "info");
    d.wait_sent(expected);
    let seconds = t.elapsed().as_secs_f64();
    // Steady: the daemon idle after the backlog.
    let (peak_mib, steady_mib) = d.rss();
    d.stop();
    DaemonRun {
        seconds,
        peak_mib,
        steady_mib,
    }
}

/// Figure 7: one gpg --decrypt and four gpg --sign --encrypt processes per report.
fn gpg_pipeline(dir: &Path, c: &Corpus, sample: usize) -> f64 {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(home.join("gpg.conf"), "trust-model always\n").unwrap();
    let gpg = |args: &[&str], input: &[u8]| -> Vec<u8> {
        let mut child = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--yes", "--no-tty", "--quiet"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpg");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            eprintln!(
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        out.stdout
    };
    gpg(&["--import"], &c.project.secret_armored());
    for p in c.team.iter().chain(c.reporters.iter()) {
        gpg(&["--import"], p.public_armored().as_bytes());
    }
    let t = Instant::now();
    for r in c.reports.iter().take(sample) {
        let plain = gpg(&["--decrypt"], r.armored.as_bytes());
        assert!(!plain.is_empty(), "gpg could not decrypt a report");
        for to in std::iter::once(r.from.as_str()).chain(c.team.iter().map(|m| m.address.as_str()))
        {
            let out = gpg(
                &[
                    "--armor",
                    "--sign",
                    "--encrypt",
                    "-u",
                    "security@bench.example",
                    "-r",
                    to,
                ],
                &plain,
            );
            assert!(!out.is_empty());
        }
    }
    sample.min(c.reports.len()) as f64 / t.elapsed().as_secs_f64()
}

/// Figure 5: cost growth. Fills a store with `cases` synthetic cases, then measures the daemon
/// on `extra` reports, and the start-up of `secmail run --once` on an empty maildir.
fn growth(base: &Path, c: &Corpus, cases: usize, extra: usize) -> (f64, f64) {
    let dir = base.join(format!("growth-{cases}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = deploy(&dir, c, MAILDIR_IO);
    {
        let config = secmail::config::Config::load(&conf, SystemTime::now()).unwrap();
        let store = secmail::shell::store::Store::open(&dir.join("store")).unwrap();
        let now = chrono::Utc::now();
        for i in 0..cases {
            let id = secmail::model::CaseId::new("SEC", 2026, i as u32 + 1);
            let mut case = secmail::model::Case::new(id, format!("synthetic case {i}"), now);
            case.add_message_id(&format!("synthetic-{i}@bench.example"));
            // A project's history: closed cases (the 200 reports measured are the open ones).
            case.set_state(now, "bench", secmail::model::State::Closed);
            let mut p = secmail::core::pipeline::refused(format!("{i:064x}"), now, "synthetic");
            p.changes
                .marks
                .push(secmail::core::effect::Mark::CaseNumber(case.id.clone()));
            p.changes.put_case(case);
            store.commit(&p.changes, now).unwrap();
        }
        store.flush_blocking().unwrap();
        drop(config);
    }
    // Start-up: config, keys, templates, store open, one empty scan.
    std::fs::create_dir_all(dir.join("maildir/new")).unwrap();
    let t = Instant::now();
    let st = Command::new(secmail_bin())
        .arg("--config")
        .arg(&conf)
        .args(["run", "--once"])
        .env("SECMAIL_LOG", "error")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let startup = t.elapsed().as_secs_f64();
    let sub = Corpus {
        project: corpus::Person {
            address: c.project.address.clone(),
            secret: c.project.secret.clone(),
        },
        team: vec![],
        reporters: vec![],
        reports: c
            .reports
            .iter()
            .filter(|r| !r.follow_up)
            .take(extra)
            .map(|r| corpus::Report {
                raw: r.raw.clone(),
                armored: String::new(),
                from: r.from.clone(),
                message_id: r.message_id.clone(),
                follow_up: false,
            })
            .collect(),
    };
    fill_maildir(&dir, &sub);
    let run = daemon_run(&dir, &conf, sub.reports.len() * (1 + c.team.len()));
    (
        run.seconds / sub.reports.len() as f64 * 1000.0,
        startup * 1000.0,
    )
}

fn main() {
    let a = args();
    let now = SystemTime::now();
    let work = tempfile::Builder::new()
        .prefix("secmail-bench")
        .tempdir()
        .unwrap();
    eprintln!("generating {} reports ({:?})…", a.reports, a.suite);
    let t = Instant::now();
    let c = corpus::generate(a.reports, a.suite, now);
    eprintln!(
        "corpus ready in {:.1}s: {} reports, {} follow-ups",
        t.elapsed().as_secs_f64(),
        c.new_reports(),
        c.reports.len() - c.new_reports()
    );

    // Figures 1 and 4.
    let dir = work.path().join("maildir-run");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = deploy(&dir, &c, MAILDIR_IO);
    fill_maildir(&dir, &c);
    eprintln!("figure 1: the daemon clears the backlog…");
    let run = daemon_run(&dir, &conf, c.expected_outgoing());
    let fig1 = c.reports.len() as f64 / run.seconds;

    // Figures 2 and 3.
    let real = if a.servers {
        real::measure(work.path(), &c, &dir.join("outbox"), a.latency, now)
    } else {
        Err("not asked for (--no-servers)".to_string())
    };
    if let Err(why) = &real {
        eprintln!("figures 2 and 3 not measured: {why}");
    }
    let real = real.ok();
    let pct = |v: &[f64], p: f64| -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let latency = real.as_ref().filter(|r| !r.latency_ms.is_empty()).map(|r| {
        (
            pct(&r.latency_ms, 0.5),
            pct(&r.latency_ms, 0.99),
            r.latency_ms.len(),
        )
    });

    // Figure 6.
    eprintln!("figure 6: the floor…");
    let project_keys = c.project.keys(now);
    let reporter_certs: Vec<Cert> = c.reporters.iter().map(|r| r.public()).collect();
    let team_certs: Vec<Cert> = c.team.iter().map(|m| m.public()).collect();
    let by_addr = |a: &str| c.reporters.iter().position(|r| r.address == a).unwrap();
    let floor_input: Vec<(String, Vec<u8>, &Cert)> = c
        .reports
        .iter()
        .map(|r| {
            (
                r.armored.clone(),
                r.raw.clone(),
                &reporter_certs[by_addr(&r.from)],
            )
        })
        .collect();
    let fl = floor::measure(
        &c.project.secret,
        &project_keys,
        &reporter_certs,
        &team_certs,
        &floor_input,
        now,
    );

    // Figure 7.
    eprintln!("figure 7: gpg on {} reports…", a.gpg_sample);
    let gpg = gpg_pipeline(work.path(), &c, a.gpg_sample);

    // Figure 5.
    let (g1k, g100k) = if a.growth {
        eprintln!("figure 5: cost growth (filling 1,000 and 100,000 cases)…");
        (
            Some(growth(work.path(), &c, 1_000, 200)),
            Some(growth(work.path(), &c, 100_000, 200)),
        )
    } else {
        (None, None)
    };

    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |s| s.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default()
    );
    let result = json!({
        "machine": machine,
        "suite": format!("{:?}", a.suite),
        "reports": c.reports.len(),
        "follow_ups": c.reports.len() - c.new_reports(),
        "team": c.team.len(),
        "fig1_maildir_to_file_reports_per_s": fig1,
        "fig2_imap_to_smtp_reports_per_s": real.as_ref().map(|r| r.reports_per_s),
        "fig2_bound_imap_fetch_move_reports_per_s": real.as_ref().map(|r| r.imap_bound),
        "fig2_bound_smtp_accept_reports_per_s": real.as_ref().map(|r| r.smtp_bound),
        "ratio_fig2_over_fig1": real.as_ref().map(|r| r.reports_per_s / fig1),
        "fig3_latency_p50_ms": latency.map(|l| l.0),
        "fig3_latency_p99_ms": latency.map(|l| l.1),
        "fig3_latency_reports": latency.map(|l| l.2),
        "fig4_peak_rss_mib": run.peak_mib,
        "fig4_steady_rss_mib": run.steady_mib,
        "fig5_ms_per_report_at_1k_cases": g1k.map(|g| g.0),
        "fig5_ms_per_report_at_100k_cases": g100k.map(|g| g.0),
        "fig5_startup_ms_at_1k_cases": g1k.map(|g| g.1),
        "fig5_startup_ms_at_100k_cases": g100k.map(|g| g.1),
        "fig6_floor_reports_per_s": fl.reports_per_s,
        "fig6_parse_only_reports_per_s": fl.parse_per_s,
        "fig7_gpg_pipeline_reports_per_s": gpg,
        "ratio_fig1_over_gpg": fig1 / gpg,
        "ratio_fig1_over_floor": fig1 / fl.reports_per_s,
    });
    std::fs::write(
        &a.out,
        serde_json::to_string_pretty(&result).unwrap() + "\n",
    )
    .unwrap();
    println!(
        "secmail benchmark — {} reports ({} follow-ups), {:?} keys, team of {}, {machine}",
        c.reports.len(),
        c.reports.len() - c.new_reports(),
        a.suite,
        c.team.len()
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!("| 1. Maildir → file outbox, end to end | {fig1:.0} reports/s |");
    if let Some(r) = &real {
        println!(
            "| 2. IMAP in → SMTP out (real Dovecot and Postfix) | {:.0} reports/s ({:.0}% of 1) |",
            r.reports_per_s,
            r.reports_per_s / fig1 * 100.0
        );
        println!(
            "| 2. bound: IMAP fetch+move alone / SMTP hand-over alone | {:.0} / {:.0} reports/s |",
            r.imap_bound, r.smtp_bound
        );
    }
    if let Some((p50, p99, n)) = latency {
        println!("| 3. SMTP in → ack in the reporter's INBOX, {n} reports | p50 {p50:.0} ms, p99 {p99:.0} ms |");
    }
    println!(
        "| 4. daemon RSS, peak / steady | {:.1} / {:.1} MiB |",
        run.peak_mib, run.steady_mib
    );
    if let (Some(a1), Some(a2)) = (g1k, g100k) {
        println!(
            "| 5. per report at 1,000 / 100,000 cases | {:.2} / {:.2} ms ({:.2}×) |",
            a1.0,
            a2.0,
            a2.0 / a1.0
        );
        println!(
            "| 5. start-up at 1,000 / 100,000 cases | {:.0} / {:.0} ms |",
            a1.1, a2.1
        );
    }
    println!(
        "| 6. floor: sequoia alone (1 decrypt+verify, 4 sign+encrypt) | {:.0} reports/s |",
        fl.reports_per_s
    );
    println!("| 6. parsing alone | {:.0} reports/s |", fl.parse_per_s);
    println!("| 7. gpg: 1 decrypt + 4 sign+encrypt processes | {gpg:.1} reports/s |");
    println!("| figure 1 / gpg | {:.1}× |", fig1 / gpg);
    println!("| figure 1 / floor | {:.2} |", fig1 / fl.reports_per_s);
    println!("(JSON: {})", a.out.display());
    if a.keep {
        println!("(work directory kept: {})", work.keep().display());
    }
}
