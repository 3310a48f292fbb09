//! How the service is doing, in figures (issue 12): what `secmail status` prints and the
//! Prometheus metrics expose, computed one way from the store, the config and, when a daemon
//! runs, its [`Runtime`]. No report text, no addresses of distributors: counts, ids, ages.
use super::daemon::Runtime;
use super::store::Store;
use crate::config::{Config, Inbound};
use crate::core::keys;
use crate::core::schedule;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Certs expiring within this are named.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// Every figure `status` and the metrics show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figures {
    pub at: DateTime<Utc>,
    /// The running daemon's own figures; none when no daemon runs.
    pub daemon: Option<Runtime>,
    pub outbox: OutboxFigures,
    pub quarantined: usize,
    pub open_cases: usize,
    /// `case id: deadline name, due` for deadlines passed and not met.
    pub deadlines_missed: Vec<String>,
    /// The same for deadlines due before the end of today (UTC).
    pub deadlines_due_today: Vec<String>,
    /// `who: fingerprint expires date` for certs expiring within 30 days (team, distributors by
    /// id, the project's own keys); expired ones too.
    pub certs_expiring: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxFigures {
    pub waiting: usize,
    /// Seconds since the oldest waiting entry was queued.
    pub oldest_age_s: Option<i64>,
    /// The last error of the entry that failed most recently.
    pub last_error: Option<String>,
}

/// The figures at `now`.
pub fn figures(
    store: &Store,
    config: &Config,
    daemon: Option<Runtime>,
    now: DateTime<Utc>,
) -> Figures {
    let entries = store.outbox_entries();
    let outbox = OutboxFigures {
        waiting: entries.len(),
        oldest_age_s: entries
            .iter()
            .map(|(_, e)| e.queued)
            .min()
            .map(|t| (now - t).num_seconds().max(0)),
        last_error: entries
            .iter()
            .filter(|(_, e)| e.last_error.is_some())
            .max_by_key(|(_, e)| e.next_attempt)
            .and_then(|(_, e)| e.last_error.clone()),
    };
    let end_of_day = (now + Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let (mut missed, mut today) = (Vec::new(), Vec::new());
    let running = store.running_cases();
    for case in &running {
        for d in schedule::deadlines(case, &config.policy) {
            if d.met {
                continue;
            }
            let line = format!(
                "{}: {} due {}",
                case.id,
                d.name,
                d.due.format("%Y-%m-%d %H:%M UTC")
            );
            if d.due <= now {
                missed.push(line);
            } else if d.due < end_of_day {
                today.push(line);
            }
        }
    }
    let sys_now = now.into();
    let soon = now + Duration::days(EXPIRY_WARNING_DAYS);
    let mut certs = Vec::new();
    let mut check = |who: String, cert: &keys::Cert| {
        let fpr = keys::fingerprint(cert);
        match keys::expires(cert, sys_now) {
            Some(t) => {
                let t: DateTime<Utc> = t.into();
                if t <= soon {
                    certs.push(format!("{who}: {fpr} expires {}", t.format("%Y-%m-%d")));
                }
            }
            None if !keys::valid_at(cert, sys_now) => {
                certs.push(format!(
                    "{who}: {fpr} is not valid now (expired or revoked)"
                ));
            }
            None => {}
        }
    };
    for m in &config.team {
        check(format!("team {}", m.address), &m.cert);
    }
    for c in config.keys.public_certs() {
        check("project".into(), &c);
    }
    for d in store.distributors() {
        if let Some(cert) = d
            .cert
            .as_deref()
            .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
        {
            check(format!("distributor {}", d.id), &cert);
        }
    }
    Figures {
        at: now,
        daemon,
        outbox,
        quarantined: store.quarantined_count(),
        open_cases: running.len(),
        deadlines_missed: missed,
        deadlines_due_today: today,
        certs_expiring: certs,
    }
}

/// `secmail status` for people.
pub fn text(f: &Figures, config: &Config) -> String {
    let mut s = String::new();
    let inbound = match &config.inbound {
        Inbound::Maildir { path, .. } => format!("maildir {}", path.display()),
        Inbound::Imap { settings, .. } => {
            format!(
                "imap {}:{} {}",
                settings.host, settings.port, settings.folder
            )
        }
    };
    match &f.daemon {
        Some(d) => {
            let _ = writeln!(
                s,
                "daemon:      running since {}",
                d.started.format("%Y-%m-%d %H:%M:%S UTC")
            );
            let _ = writeln!(
                s,
                "inbound:     {inbound}: {} ({})",
                if d.inbound_ok { "ok" } else { "DEGRADED" },
                d.inbound
            );
            let _ = writeln!(
                s,
                "last fetch:  {}",
                d.last_fetch
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "never".into())
            );
            let handled: Vec<String> = d.handled.iter().map(|(k, v)| format!("{v} {k}")).collect();
            let _ = writeln!(
                s,
                "handled:     {} since start",
                if handled.is_empty() {
                    "nothing".to_string()
                } else {
                    handled.join(", ")
                }
            );
        }
        None => {
            let _ = writeln!(s, "daemon:      not running (store read directly)");
            let _ = writeln!(s, "inbound:     {inbound}");
        }
    }
    let o = &f.outbox;
    let _ = writeln!(
        s,
        "outbox:      {} waiting{}{}",
        o.waiting,
        o.oldest_age_s
            .map(|a| format!(", oldest {}", age(a)))
            .unwrap_or_default(),
        o.last_error
            .as_deref()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "quarantined: {}", f.quarantined);
    let _ = writeln!(s, "open cases:  {}", f.open_cases);
    list(&mut s, "deadlines missed", &f.deadlines_missed);
    list(&mut s, "deadlines due today", &f.deadlines_due_today);
    list(&mut s, "certs expiring within 30 days", &f.certs_expiring);
    s
}

fn list(s: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(s, "{title}: none");
    } else {
        let _ = writeln!(s, "{title}: {}", items.len());
        for i in items {
            let _ = writeln!(s, "  {i}");
        }
    }
}

fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The Prometheus text exposition format (version 0.0.4) of the same figures.
pub fn prometheus(f: &Figures) -> String {
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(s, "# HELP secmail_{name} {help}");
        let _ = writeln!(s, "# TYPE secmail_{name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(s, "secmail_{name}{labels} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    if let Some(d) = &f.daemon {
        metric("up", "gauge", "1 while the daemon runs", &one(1.0));
        metric(
            "inbound_ok",
            "gauge",
            "1 when the last inbound pass succeeded (server reachable), 0 while degraded",
            &one(if d.inbound_ok { 1.0 } else { 0.0 }),
        );
        metric(
            "last_fetch_timestamp_seconds",
            "gauge",
            "when inbound last succeeded (Unix time; 0: never)",
            &one(d.last_fetch.map_or(0.0, |t| t.timestamp() as f64)),
        );
        let mut by: BTreeMap<&str, u64> =
            [("processed", 0), ("quarantined", 0), ("duplicate", 0)].into();
        for (k, v) in &d.handled {
            by.insert(k, *v);
        }
        metric(
            "messages_handled_total",
            "counter",
            "messages handled since start, by outcome",
            &by.iter()
                .map(|(k, v)| (format!("{{outcome=\"{k}\"}}"), *v as f64))
                .collect::<Vec<_>>(),
        );
        metric(
            "start_time_seconds",
            "gauge",
            "when the daemon started (Unix time)",
            &one(d.started.timestamp() as f64),
        );
    }
    metric(
        "outbox_waiting",
        "gauge",
        "messages waiting in the outbox",
        &one(f.outbox.waiting as f64),
    );
    metric(
        "outbox_oldest_age_seconds",
        "gauge",
        "age of the oldest waiting outbox entry (0: none)",
        &one(f.outbox.oldest_age_s.unwrap_or(0) as f64),
    );
    metric(
        "quarantined",
        "gauge",
        "messages kept in quarantine",
        &one(f.quarantined as f64),
    );
    metric(
        "open_cases",
        "gauge",
        "cases whose timers run",
        &one(f.open_cases as f64),
    );
    metric(
        "deadlines_missed",
        "gauge",
        "policy deadlines passed and not met",
        &one(f.deadlines_missed.len() as f64),
    );
    metric(
        "deadlines_due_today",
        "gauge",
        "policy deadlines due before midnight UTC",
        &one(f.deadlines_due_today.len() as f64),
    );
    metric(
        "certs_expiring",
        "gauge",
        "certs (team, distributors, project) expiring within 30 days or invalid",
        &one(f.certs_expiring.len() as f64),
    );
    s
}
