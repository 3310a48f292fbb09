//! The one way the integration tests wait: poll a condition until it holds, never a fixed
//! sleep standing in for it; on timeout, panic naming what was awaited and showing the context
//! (usually the daemon's log). `wait_until` for conditions a plain closure can answer,
//! `wait_until_async` for those that need `.await` (reading a mailbox over IMAP); both share
//! the deadline, the poll step and the panic.
use std::time::{Duration, Instant};

/// The usual deadline for a condition that holds within a second or two when all is well.
pub const WAIT: Duration = Duration::from_secs(30);

/// How often a condition is asked again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` every 20 ms until it holds; after `timeout` panics with `what` and `context()`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Deadline::after(timeout);
    while !cond() {
        deadline.check(what, &context);
        std::thread::sleep(POLL);
    }
}

/// [`wait_until`] for a condition that awaits (an IMAP listing, a fetch on an open session).
pub async fn wait_until_async(
    what: &str,
    timeout: Duration,
    mut cond: impl AsyncFnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Deadline::after(timeout);
    while !cond().await {
        deadline.check(what, &context);
        tokio::time::sleep(POLL).await;
    }
}

struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// Panics once the deadline has passed.
    fn check(&self, what: &str, context: &dyn Fn() -> String) {
        assert!(
            Instant::now() < self.at,
            "timed out after {:?} waiting for {what}:\n{}",
            self.timeout,
            context()
        );
    }
}

#[test]
fn wait_until_returns_once_the_condition_holds() {
    let mut n = 0;
    wait_until(
        "the third poll",
        WAIT,
        || {
            n += 1;
            n >= 3
        },
        String::new,
    );
    assert_eq!(n, 3);
}

#[test]
#[should_panic(expected = "waiting for never:\nthe context")]
fn wait_until_panics_with_what_and_the_context_after_the_timeout() {
    wait_until("never", Duration::ZERO, || false, || "the context".into());
}
