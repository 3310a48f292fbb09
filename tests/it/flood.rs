//! Floods (issue 5): thousands of auto-replies, bounces, looped copies of our own mail and
//! spam "reports" in one burst through the real daemon, with the real reports among them.
//! No loop (nothing is ever sent to a machine), the per-address rate limit holds, every real
//! report is acknowledged, and the daemon's peak RSS stays bounded (printed; asserted under a
//! generous cap). `SECMAIL_FLOOD=N` scales it (contrib/stress/flood.sh).
use super::harness::mail::{header, machine_mail, plain_report, spam_mail};
use super::harness::{wait_until, Deployment};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn flood_of_machines_and_spam_no_loop_rate_limit_holds_reports_answered() {
    let n: usize = std::env::var("SECMAIL_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let local = Deployment::local().build();
    let (machines, spams, reports) = (n * 3 / 4, n / 4, 20);
    let mut k = 0;
    for i in 0..machines {
        local.deliver(&machine_mail(i), &format!("{k:06}.m"));
        k += 1;
        if i % (machines / reports).max(1) == 0 && i / (machines / reports).max(1) < reports {
            let r = i / (machines / reports).max(1);
            local.deliver(
                &plain_report(r, &format!("real{r}@reporter.example")),
                &format!("{k:06}.r"),
            );
            k += 1;
        }
        if i < spams {
            local.deliver(&spam_mail(i), &format!("{k:06}.s"));
            k += 1;
        }
    }
    let total = k;
    let started = Instant::now();
    let daemon = local.start();
    let pid = daemon.id();
    let mut peak = 0;
    // Waited on by condition; the deadline grows with the flood (about 250 messages/s here).
    wait_until(
        &format!("all {total} messages handled"),
        Duration::from_secs(30 + total as u64 / 40),
        || {
            peak = peak.max(vm_hwm_kb(pid));
            daemon.log().matches("message handled").count() >= total
        },
        || {
            let log = daemon.log();
            log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
        },
    );
    let took = started.elapsed();
    peak = peak.max(vm_hwm_kb(pid));
    daemon.stop();
    // What the outbox still held at the stop goes out now: one more cycle drains it.
    local.ok(&["run", "--once"]);
    eprintln!(
        "flood: {total} messages ({machines} machine, {spams} spam, {reports} real) in {took:?}; daemon peak RSS {} MiB",
        peak / 1024
    );

    let mut acks: BTreeMap<String, usize> = BTreeMap::new();
    for f in local.outbox_files() {
        let raw = std::fs::read_to_string(local.outbox().join(&f)).unwrap();
        let to = header(&raw, "To").unwrap_or_default().to_string();
        assert!(
            !to.contains("corp.example")
                && !to.contains("mx")
                && !to.contains("lists.example")
                && !to.contains("security@example.org"),
            "a machine was answered: {f} to {to}"
        );
        if f.starts_with("ack.") {
            *acks.entry(to).or_default() += 1;
        }
    }
    for r in 0..reports {
        let who = format!("real{r}@reporter.example");
        assert_eq!(
            acks.iter()
                .filter(|(to, _)| to.contains(&who))
                .map(|(_, n)| n)
                .sum::<usize>(),
            1,
            "{who} not answered once"
        );
    }
    for who in 0..5 {
        let sent: usize = acks
            .iter()
            .filter(|(to, _)| to.contains(&format!("spam{who}@")))
            .map(|(_, n)| n)
            .sum();
        assert!(
            sent <= 5,
            "spam{who} got {sent} acknowledgements (limit 5 an hour)"
        );
    }
    assert!(peak < 512 * 1024, "peak RSS {} MiB", peak / 1024);
}
