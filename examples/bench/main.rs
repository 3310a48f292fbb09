//! secmail's benchmark harness (issue 6). Run it with `bash contrib/bench.sh` (release build).
//!
//! Figures, each printed as a table and written as JSON (`--out FILE`, default bench.json),
//! each with its wall time, the CPU time of what it measures (per report), and the load other
//! processes put on the machine meanwhile (`meter`); `--only 1,5` runs some of them:
//! 1. reports/s end to end, Maildir → file outbox, by the real daemon binary, store flushed as in
//!    production; 4. its peak and steady RSS; 5. per-report time with 1,000 and 100,000 cases
//!    stored, and start-up time at 100,000 cases; 6. the floor: the same OpenPGP work with sequoia
//!    directly, and parsing alone; 7. the usual tooling: one `gpg --decrypt` and four
//!    `gpg --sign --encrypt` processes per report.
#![allow(clippy::disallowed_methods)] // tests and benchmarks may read the real clock
mod corpus;
mod floor;
mod meter;
mod real;
#[path = "../../tests/it/harness/servers.rs"]
mod servers;

use corpus::{Corpus, Suite};
use meter::{Measured, Meter};
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
    /// The figures to run (1 includes 4, 2 includes 3); all by default.
    only: Option<Vec<u32>>,
    /// The larger store of figure 5.
    growth_cases: usize,
    /// JSON results of the same bench built with the other crypto backends (contrib/bench.sh).
    compare: Vec<PathBuf>,
}

impl Args {
    fn runs(&self, figure: u32) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&figure))
    }
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
        only: None,
        growth_cases: 100_000,
        compare: Vec::new(),
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
            "--only" => {
                a.only = Some(
                    it.next()
                        .expect("--only 1,2,5,6,7")
                        .split(',')
                        .map(|f| f.trim().parse().expect("--only: figure numbers"))
                        .collect(),
                )
            }
            "--compare" => {
                a.compare = it
                    .next()
                    .expect("--compare A.json,B.json")
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }
            "--growth-cases" => {
                a.growth_cases = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--growth-cases N")
            }
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
            "[project]\nname = \"Bench\"\nsecurity-address = \"security@bench.example\"\n[keys]\nsecret = [\"{}\"]\n{io}[store]\npath = \"store\"\n[templates]\ndir = \"{}\"\n[limits]\n# the benchmark measures throughput, not the backscatter limits\nauto-replies-per-address = 10000\nauto-replies-per-domain = 100000\nauto-replies-overall = 1000000\n{team}",
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
    /// When the first "sent" line was seen: the time, the machine's busy seconds, the daemon's
    /// CPU and the bench's own (`meter`), to measure the outbox alone from there.
    first_sent: Option<(Instant, f64, f64, f64)>,
}

impl Daemon {
    fn start(dir: &Path, conf: &Path, level: &str) -> Daemon {
        Daemon::start_with(dir, conf, level, &["run"])
    }

    fn start_with(dir: &Path, conf: &Path, level: &str, args: &[&str]) -> Daemon {
        let log = dir.join("daemon.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(secmail_bin())
            .arg("--config")
            .arg(conf)
            .args(args)
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
            first_sent: None,
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
            if self.sent > 0 && self.first_sent.is_none() {
                self.first_sent = Some((
                    Instant::now(),
                    meter::machine_busy(),
                    self.cpu(),
                    meter::self_cpu(),
                ));
            }
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

    /// The daemon's CPU seconds so far.
    fn cpu(&self) -> f64 {
        meter::process_cpu(self.child.id()).unwrap_or(0.0)
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

    /// From the first "sent" line to now: the daemon's CPU, and others' load.
    fn since_first_sent(&self) -> Measured {
        let Some((t, busy, cpu, own)) = self.first_sent else {
            return Measured::default();
        };
        let wall_s = t.elapsed().as_secs_f64();
        let cpu_s = self.cpu() - cpu;
        let others = meter::machine_busy() - busy - cpu_s - (meter::self_cpu() - own);
        Measured {
            wall_s,
            cpu_s,
            others_cores: (others / wall_s).max(0.0),
        }
    }

    /// Waits for a `run --once` to end by itself.
    fn wait_exit(mut self) {
        let st = self.child.wait().unwrap();
        assert!(
            st.success(),
            "{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
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
    /// From the daemon's start to the last message sent; its CPU over that time.
    m: Measured,
    peak_mib: f64,
    steady_mib: f64,
}

/// Figures 1 and 4: the real daemon clears the backlog in the maildir.
fn daemon_run(dir: &Path, conf: &Path, expected: usize) -> DaemonRun {
    let meter = Meter::start();
    let mut d = Daemon::start(dir, conf, "info");
    d.wait_sent(expected);
    let m = meter.stop(d.cpu(), false);
    // Steady: the daemon idle after the backlog.
    let (peak_mib, steady_mib) = d.rss();
    d.stop();
    DaemonRun {
        m,
        peak_mib,
        steady_mib,
    }
}

/// Figure 7: one gpg --decrypt and four gpg --sign --encrypt processes per report.
/// CPU: every gpg process (waited for) and the gpg-agent they share.
fn gpg_pipeline(dir: &Path, c: &Corpus, sample: usize) -> Measured {
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
    let agent = home.display().to_string();
    let (children0, agent0) = (meter::children_cpu(), meter::cpu_of_processes_with(&agent));
    let meter = Meter::start();
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
    let cpu = meter::children_cpu() - children0 + meter::cpu_of_processes_with(&agent) - agent0;
    meter.stop(cpu, false)
}

/// Figure 5: cost growth. Fills a store with `cases` synthetic cases, then measures the daemon
/// on `extra` reports (per report), and the start-up of `secmail run --once` on an empty
/// maildir: the first start after the store was written, and a second one.
struct Growth {
    per_report: Measured,
    reports: usize,
    first_start: Measured,
    later_start: Measured,
    /// The first start after the writer was killed (sled replays its log).
    after_kill: Measured,
}

fn growth(base: &Path, c: &Corpus, cases: usize, extra: usize) -> Growth {
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
        // A copy as a kill -9 of the daemon would leave it: sled's log not yet snapshotted.
        let st = Command::new("cp")
            .arg("-a")
            .arg(dir.join("store"))
            .arg(dir.join("store-killed"))
            .status()
            .unwrap();
        assert!(st.success(), "copying the store");
        // As the daemon's clean stop does: sled's snapshot written (`Store::close`).
        assert!(store.close().unwrap(), "the store was still held");
        drop(config);
    }
    // Start-up: config, keys, templates, store open, one empty scan.
    std::fs::create_dir_all(dir.join("maildir/new")).unwrap();
    let killed = dir.join("killed.conf");
    std::fs::write(
        &killed,
        std::fs::read_to_string(&conf)
            .unwrap()
            .replace("path = \"store\"", "path = \"store-killed\""),
    )
    .unwrap();
    let start = |conf: &Path| {
        let children = meter::children_cpu();
        let meter = Meter::start();
        let st = Command::new(secmail_bin())
            .arg("--config")
            .arg(conf)
            .args(["run", "--once"])
            .env("SECMAIL_LOG", "error")
            .output()
            .unwrap();
        let m = meter.stop(meter::children_cpu() - children, false);
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        m
    };
    let first_start = start(&conf);
    let later_start = start(&conf);
    let after_kill = start(&killed);
    let _ = std::fs::remove_dir_all(dir.join("store-killed"));
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
    Growth {
        per_report: run.m,
        reports: sub.reports.len(),
        first_start,
        later_start,
        after_kill,
    }
}

fn main() {
    let a = args();
    // Errors as values are part of the work (sequoia's parsers make and drop many): they do
    // not capture a backtrace here, in the floor or in the daemon (which inherits this), as
    // they do not in a deployment. Panics still print one when RUST_BACKTRACE asks.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    let now = SystemTime::now();
    let work = tempfile::Builder::new()
        .prefix("secmail-bench")
        .tempdir()
        .unwrap();
    let load_at_start = meter::load_now();
    eprintln!("machine at start: {load_at_start}");
    eprintln!("generating {} reports ({:?})…", a.reports, a.suite);
    let t = Instant::now();
    let c = corpus::generate(a.reports, a.suite, now);
    eprintln!(
        "corpus ready in {:.1}s: {} reports, {} follow-ups",
        t.elapsed().as_secs_f64(),
        c.new_reports(),
        c.reports.len() - c.new_reports()
    );
    let n = c.reports.len();

    // Figures 1 and 4.
    let run = a.runs(1).then(|| {
        let dir = work.path().join("maildir-run");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = deploy(&dir, &c, MAILDIR_IO);
        fill_maildir(&dir, &c);
        eprintln!("figure 1: the daemon clears the backlog…");
        daemon_run(&dir, &conf, c.expected_outgoing())
    });

    // Figures 2 and 3 (the SMTP bound sends figure 1's outgoing messages).
    let real = if !a.runs(2) {
        Err("not asked for (--only)".to_string())
    } else if !a.servers {
        Err("not asked for (--no-servers)".to_string())
    } else if run.is_none() {
        Err("figure 2 needs figure 1's outbox (--only 1,2)".to_string())
    } else {
        let outbox = work.path().join("maildir-run/outbox");
        real::measure(work.path(), &c, &outbox, a.latency, now)
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
    let fl = a.runs(6).then(|| {
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
        floor::measure(
            &c.project.secret,
            &project_keys,
            &reporter_certs,
            &team_certs,
            &floor_input,
            now,
        )
    });

    // Figure 7.
    let gpg_n = a.gpg_sample.min(n);
    let gpg = a.runs(7).then(|| {
        eprintln!("figure 7: gpg on {gpg_n} reports…");
        gpg_pipeline(work.path(), &c, gpg_n)
    });

    // Figure 5.
    let growth_at = |cases: usize| {
        eprintln!("figure 5: cost growth (filling {cases} cases)…");
        growth(work.path(), &c, cases, 200)
    };
    let (g1k, gbig) = if a.growth && a.runs(5) {
        (Some(growth_at(1_000)), Some(growth_at(a.growth_cases)))
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
    let backend = sequoia_openpgp::crypto::backend();
    let load_at_end = meter::load_now();
    let fig1 = run.as_ref().map(|r| r.m);
    let ratio = |x: Option<Measured>, y: Option<Measured>, xn: usize, yn: usize| {
        x.zip(y).map(|(x, y)| {
            (
                x.per_s(xn) / y.per_s(yn),
                y.cpu_ms_per(yn) / x.cpu_ms_per(xn),
            )
        })
    };
    let vs_gpg = ratio(fig1, gpg, n, gpg_n);
    let vs_floor = ratio(fig1, fl.as_ref().map(|f| f.m), n, n);
    let handover = real.as_ref().map(|r| {
        (
            r.handover.per_s(r.handover_messages),
            r.smtp_bound_m.per_s(r.smtp_bound_messages),
        )
    });
    let fig = |m: Option<Measured>, count: usize| {
        m.map(|m| {
            json!({"per_s": m.per_s(count), "wall_s": m.wall_s, "cpu_ms_per": m.cpu_ms_per(count), "others_cores": m.others_cores, "count": count})
        })
    };
    let result = json!({
        "machine": machine,
        "backend": backend,
        "load_at_start": load_at_start,
        "load_at_end": load_at_end,
        "suite": format!("{:?}", a.suite),
        "reports": n,
        "follow_ups": n - c.new_reports(),
        "team": c.team.len(),
        "fig1_maildir_to_file": fig(fig1, n),
        "fig2_imap_to_smtp": fig(real.as_ref().map(|r| r.fig2), n),
        "fig2_bound_imap_fetch_move_reports_per_s": real.as_ref().map(|r| r.imap_bound),
        "fig2_bound_smtp_accept_reports_per_s": real.as_ref().map(|r| r.smtp_bound),
        "fig2_smtp_bound_messages": fig(real.as_ref().map(|r| r.smtp_bound_m), real.as_ref().map_or(0, |r| r.smtp_bound_messages)),
        "fig2_handover_messages": fig(real.as_ref().map(|r| r.handover), real.as_ref().map_or(0, |r| r.handover_messages)),
        "ratio_handover_over_bound": handover.map(|h| h.0 / h.1),
        "fig3_latency_p50_ms": latency.map(|l| l.0),
        "fig3_latency_p99_ms": latency.map(|l| l.1),
        "fig3_latency_reports": latency.map(|l| l.2),
        "fig4_peak_rss_mib": run.as_ref().map(|r| r.peak_mib),
        "fig4_steady_rss_mib": run.as_ref().map(|r| r.steady_mib),
        "fig5_per_report_at_1k_cases": g1k.as_ref().map(|g| fig(Some(g.per_report), g.reports)),
        "fig5_per_report_at_big": gbig.as_ref().map(|g| fig(Some(g.per_report), g.reports)),
        "fig5_big_cases": a.growth_cases,
        "fig5_first_start_ms": [g1k.as_ref().map(|g| g.first_start.wall_s * 1e3), gbig.as_ref().map(|g| g.first_start.wall_s * 1e3)],
        "fig5_start_after_kill_ms": [g1k.as_ref().map(|g| g.after_kill.wall_s * 1e3), gbig.as_ref().map(|g| g.after_kill.wall_s * 1e3)],
        "fig5_later_start_ms": [g1k.as_ref().map(|g| g.later_start.wall_s * 1e3), gbig.as_ref().map(|g| g.later_start.wall_s * 1e3)],
        "fig6_floor": fig(fl.as_ref().map(|f| f.m), n),
        "fig6_parse_only_reports_per_s": fl.as_ref().map(|f| f.parse_per_s),
        "fig7_gpg_pipeline": fig(gpg, gpg_n),
        "ratio_fig1_over_gpg_wall_cpu": vs_gpg,
        "ratio_fig1_over_floor_wall_cpu": vs_floor,
    });
    std::fs::write(
        &a.out,
        serde_json::to_string_pretty(&result).unwrap() + "\n",
    )
    .unwrap();
    println!(
        "secmail benchmark — {n} reports ({} follow-ups), {:?} keys, team of {}, {machine}, crypto backend {backend}",
        n - c.new_reports(),
        a.suite,
        c.team.len()
    );
    println!("machine at start: {load_at_start}; at the end: {load_at_end}");
    println!("| figure | wall | CPU per report | others' load |");
    println!("|---|---|---|---|");
    let row = |name: &str, m: Measured, count: usize, unit: &str| {
        println!(
            "| {name} | {:.1} {unit}/s | {:.2} ms | {:.2} cores |",
            m.per_s(count),
            m.cpu_ms_per(count),
            m.others_cores
        );
    };
    if let Some(r) = &run {
        row(
            "1. Maildir → file outbox, end to end (daemon)",
            r.m,
            n,
            "reports",
        );
    }
    if let Some(r) = &real {
        row(
            "2. IMAP in → SMTP out, real Dovecot and Postfix (daemon; others = the servers)",
            r.fig2,
            n,
            "reports",
        );
        println!(
            "| 2. bound: IMAP fetch+move alone / SMTP acceptance alone | {:.0} / {:.0} reports/s | | |",
            r.imap_bound, r.smtp_bound
        );
        row(
            "2. SMTP acceptance alone, one connection (lettre client)",
            r.smtp_bound_m,
            r.smtp_bound_messages,
            "messages",
        );
        row(
            "2. the daemon's SMTP hand-over alone (`run --once` outbox)",
            r.handover,
            r.handover_messages,
            "messages",
        );
    }
    if let Some((p50, p99, k)) = latency {
        println!("| 3. SMTP in → ack in the reporter's INBOX, {k} reports | p50 {p50:.0} ms, p99 {p99:.0} ms | | |");
    }
    if let Some(r) = &run {
        println!(
            "| 4. daemon RSS, peak / steady | {:.1} / {:.1} MiB | | |",
            r.peak_mib, r.steady_mib
        );
    }
    if let (Some(small), Some(big)) = (&g1k, &gbig) {
        let per = |g: &Growth| g.per_report.wall_s * 1000.0 / g.reports as f64;
        println!(
            "| 5. per report at 1,000 / {} cases | {:.2} / {:.2} ms ({:.2}×) | {:.2} / {:.2} ms | {:.2} / {:.2} cores |",
            a.growth_cases,
            per(small),
            per(big),
            per(big) / per(small),
            small.per_report.cpu_ms_per(small.reports),
            big.per_report.cpu_ms_per(big.reports),
            small.per_report.others_cores,
            big.per_report.others_cores
        );
        for (what, s, b) in [
            (
                "first start after the writer's clean stop",
                small.first_start,
                big.first_start,
            ),
            ("later start", small.later_start, big.later_start),
            (
                "first start after a kill -9 of the writer",
                small.after_kill,
                big.after_kill,
            ),
        ] {
            println!(
                "| 5. {what} at 1,000 / {} cases (`run --once`) | {:.0} / {:.0} ms | {:.0} / {:.0} ms CPU | {:.2} / {:.2} cores |",
                a.growth_cases,
                s.wall_s * 1e3,
                b.wall_s * 1e3,
                s.cpu_s * 1e3,
                b.cpu_s * 1e3,
                s.others_cores,
                b.others_cores
            );
        }
    }
    if let Some(f) = &fl {
        row(
            "6. floor: sequoia alone, one thread (1 decrypt+verify, 4 sign+encrypt)",
            f.m,
            n,
            "reports",
        );
        println!("| 6. parsing alone | {:.0} reports/s | | |", f.parse_per_s);
    }
    if let Some(g) = gpg {
        row(
            "7. gpg: 1 decrypt + 4 sign+encrypt processes (CPU with gpg-agent)",
            g,
            gpg_n,
            "reports",
        );
    }
    if let Some((wall, cpu)) = vs_gpg {
        println!("| figure 1 / gpg | {wall:.1}× on wall time | {cpu:.1}× on CPU | |");
    }
    if let Some((wall, cpu)) = vs_floor {
        println!(
            "| figure 1 / floor | {wall:.2}× on wall time | CPU {:.2}× the floor's | |",
            1.0 / cpu
        );
    }
    if let Some((h, b)) = handover {
        println!(
            "| hand-over / SMTP acceptance alone | {:.0} % | | |",
            h / b * 100.0
        );
    }
    if !a.compare.is_empty() {
        backend_table(&result, &a.compare);
    }
    println!("(JSON: {})", a.out.display());
    if a.keep {
        println!("(work directory kept: {})", work.keep().display());
    }
}

/// The backend comparison: this run's figures 1 and 6 beside those of the runs in `others`
/// (the same bench built with another backend, `--only 1,6`, the same corpus size).
fn backend_table(this: &serde_json::Value, others: &[PathBuf]) {
    let mut runs = vec![this.clone()];
    for p in others {
        match std::fs::read_to_string(p).map(|s| serde_json::from_str::<serde_json::Value>(&s)) {
            Ok(Ok(v)) => runs.push(v),
            _ => eprintln!("--compare: cannot read {}", p.display()),
        }
    }
    println!();
    println!("| backend | 1. end to end | 1. CPU per report | 6. floor | 6. CPU per report | 1. CPU / floor's | others' load (1 / 6) |");
    println!("|---|---|---|---|---|---|---|");
    let f = |v: &serde_json::Value, fig: &str, k: &str| v[fig][k].as_f64().unwrap_or(f64::NAN);
    for v in &runs {
        let backend = v["backend"].as_str().unwrap_or("?");
        let backend = backend.split(" (").next().unwrap_or(backend);
        println!(
            "| {backend} | {:.0} reports/s | {:.2} ms | {:.0} reports/s | {:.2} ms | {:.2}× | {:.2} / {:.2} cores |",
            f(v, "fig1_maildir_to_file", "per_s"),
            f(v, "fig1_maildir_to_file", "cpu_ms_per"),
            f(v, "fig6_floor", "per_s"),
            f(v, "fig6_floor", "cpu_ms_per"),
            f(v, "fig1_maildir_to_file", "cpu_ms_per") / f(v, "fig6_floor", "cpu_ms_per"),
            f(v, "fig1_maildir_to_file", "others_cores"),
            f(v, "fig6_floor", "others_cores"),
        );
    }
}
