//! Faults against the real servers (issue 5): the IMAP server stopped and restarted mid-run,
//! the SMTP server down for a while, the disk under the store full. Each time the daemon
//! waits and retries, says so in its log and in the readiness STATUS systemd shows, and
//! afterwards nothing is lost (same end-state checks as the kill loop).
use super::crash::{
    check_nothing_lost, report, wait_delivered, Live, ALICE, REPORTERS, SECURITY, WAIT,
};
use super::harness::servers_or_skip;
use super::service::NotifySocket;
use std::time::{Duration, Instant};

async fn submit(servers: &super::harness::MailServers, range: std::ops::RangeInclusive<usize>) {
    for i in range {
        servers
            .submit(
                &format!("rep+{i}@reporter.example"),
                &[SECURITY],
                &report(i),
            )
            .await
            .unwrap();
    }
}

/// Waits until the daemon log holds `what` at least `n` times.
fn wait_log_n(live: &Live, what: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while live.log().matches(what).count() < n {
        assert!(
            Instant::now() < deadline,
            "not {n}× {what:?} in:\n{}",
            live.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn imap_server_stopped_and_restarted_mid_run() {
    let Some(mut servers) = servers_or_skip(&[SECURITY, ALICE, REPORTERS]) else {
        return;
    };
    let mut live = Live::new(&servers, None);
    let mut notify = NotifySocket::new(live.dir.path());
    let daemon = live.spawn(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    let ready = notify.wait("READY=1", || live.log());
    assert!(ready.contains("connected to imap"), "{ready}");
    submit(&servers, 1..=5).await;
    wait_delivered(&servers, REPORTERS, "<ack.", 5, &live).await;

    servers.stop_imap();
    let status = notify.wait("STATUS=waiting for the IMAP server", || live.log());
    assert!(status.contains("retry in"), "{status}");
    live.wait_log("waiting for the IMAP server; retrying");
    servers.start_imap().unwrap();
    notify.wait("STATUS=connected to imap", || live.log());
    submit(&servers, 6..=10).await;
    wait_delivered(&servers, REPORTERS, "<ack.", 10, &live).await;
    wait_delivered(&servers, ALICE, "<team-copy.", 10, &live).await;
    live.stop(daemon);
    check_nothing_lost(&servers, &live, 10, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_server_down_for_a_while() {
    let Some(mut servers) = servers_or_skip(&[SECURITY, ALICE, REPORTERS]) else {
        return;
    };
    let mut live = Live::new(&servers, None);
    submit(&servers, 1..=5).await;
    let deadline = Instant::now() + WAIT;
    while servers.list(SECURITY, "INBOX").await.unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "reports not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers.stop_smtp();
    let mut notify = NotifySocket::new(live.dir.path());
    let daemon = live.spawn(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    // Five acknowledgements and five team copies wait, retried with backoff (retry-min 1s).
    let status = notify.wait("outbox: 10 waiting", || live.log());
    assert!(
        status.contains("connect") || status.contains("refused"),
        "{status}"
    );
    wait_log_n(&live, "send failed; will retry", 3);
    assert_eq!(
        servers
            .list(SECURITY, "secmail/processed")
            .await
            .unwrap()
            .len(),
        5,
        "reports are handled and moved while the SMTP server is down"
    );
    servers.start_smtp().unwrap();
    wait_delivered(&servers, REPORTERS, "<ack.", 5, &live).await;
    wait_delivered(&servers, ALICE, "<team-copy.", 5, &live).await;
    // The STATUS clears once the outbox is empty.
    while notify
        .wait("STATUS=connected to imap", || live.log())
        .contains("outbox")
    {}
    live.stop(daemon);
    check_nothing_lost(&servers, &live, 5, 0).await;
}
