//! Floods (issue 5): thousands of auto-replies, bounces, looped copies of our own mail and
//! spam "reports" in one burst through the real daemon, with the real reports among them.
//! No loop (nothing is ever sent to a machine), the per-address rate limit holds, every real
//! report is acknowledged, and the daemon's peak RSS stays bounded (printed; asserted under a
//! generous cap). `SECMAIL_FLOOD=N` scales it (contrib/stress/flood.sh).
use super::service::{signal, Local};
use std::collections::BTreeMap;

fn machine(i: usize) -> Vec<u8> {
    match i % 4 {
        0 => format!(
            "From: Out Of Office <ooo{i}@corp.example>\r\nTo: security@example.org\r\nSubject: Auto: away\r\n\
             Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-{i}@corp.example>\r\n\r\nI am away.\r\n"
        ),
        1 => format!(
            "From: MAILER-DAEMON@mx{i}.example\r\nReturn-Path: <>\r\nTo: security@example.org\r\nSubject: Undelivered\r\n\
             Message-ID: <bounce-{i}@mx.example>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/rfc822-headers\r\n\r\n\
             Message-ID: <ack.SEC-2026-{i:04}.x@example.org>\r\n--b--\r\n"
        ),
        2 => format!(
            "From: list@lists.example\r\nTo: security@example.org\r\nSubject: digest {i}\r\nList-Id: <l.lists.example>\r\n\
             Precedence: list\r\nMessage-ID: <list-{i}@lists.example>\r\n\r\ndigest\r\n"
        ),
        _ => format!(
            "From: security@example.org\r\nTo: security@example.org\r\nSubject: [SEC-2026-0001] looped\r\n\
             X-Secmail-Loop: security@example.org\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <loop-{i}@example.org>\r\n\r\nours\r\n"
        ),
    }
    .into_bytes()
}

fn spam(i: usize) -> Vec<u8> {
    let who = i % 5;
    format!(
        "From: Spammer <spam{who}@spam.example>\r\nTo: security@example.org\r\nSubject: URGENT vuln {i}\r\n\
         Message-ID: <spam-{i}@spam.example>\r\n\r\nBuy now {i}.\r\n"
    )
    .into_bytes()
}

fn header(raw: &str, name: &str) -> Option<String> {
    raw.split("\r\n\r\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::to_string)
}

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
    let local = Local::new();
    let (machines, spams, reports) = (n * 3 / 4, n / 4, 20);
    let mut k = 0;
    for i in 0..machines {
        local.deliver(&machine(i), &format!("{k:06}.m"));
        k += 1;
        if i % (machines / reports).max(1) == 0 && i / (machines / reports).max(1) < reports {
            let r = i / (machines / reports).max(1);
            local.deliver(
                &super::service::plain_report(r, &format!("real{r}@reporter.example")),
                &format!("{k:06}.r"),
            );
            k += 1;
        }
        if i < spams {
            local.deliver(&spam(i), &format!("{k:06}.s"));
            k += 1;
        }
    }
    let total = k;
    let started = std::time::Instant::now();
    let daemon = local.spawn(&[]);
    let pid = daemon.id();
    let mut peak = 0;
    // Waited on by condition; the deadline grows with the flood (about 250 messages/s here).
    let deadline = started + std::time::Duration::from_secs(30 + total as u64 / 40);
    loop {
        peak = peak.max(vm_hwm_kb(pid));
        if local.log().matches("message handled").count() >= total {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all {total} messages handled:\n{}",
            local
                .log()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let took = started.elapsed();
    peak = peak.max(vm_hwm_kb(pid));
    let mut daemon = daemon;
    signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success(), "{}", local.log());
    // What the outbox still held at the stop goes out now: one more cycle drains it.
    local.ok(&["run", "--once"]);
    eprintln!(
        "flood: {total} messages ({machines} machine, {spams} spam, {reports} real) in {took:?}; daemon peak RSS {} MiB",
        peak / 1024
    );

    let mut acks: BTreeMap<String, usize> = BTreeMap::new();
    for f in local.outbox_files() {
        let raw = std::fs::read_to_string(local.outbox().join(&f)).unwrap();
        let to = header(&raw, "To").unwrap_or_default();
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
