//! Backscatter limits (SECURITY.md, backscatter): anyone can forge a report From a victim, so
//! the automatic messages secmail sends are bounded three ways within `[limits]
//! auto-reply-window` — per normalized address (letter case and `+sub-address` do not make a
//! new address), per domain, and overall. The store keeps one list of send times per key
//! ([`keys`]); [`may_send`] decides on them, [`prune`] keeps what the window still needs.
use super::settings::Limits;
use chrono::{DateTime, Duration, Utc};

/// The send times that bound one more automatic message to an address.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    pub address: Vec<DateTime<Utc>>,
    pub domain: Vec<DateTime<Utc>>,
    pub overall: Vec<DateTime<Utc>>,
}

/// Which limit held a message back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Address,
    Domain,
    Overall,
}

impl Held {
    /// For the timeline and the digest: "rate limit …".
    pub fn reason(self) -> &'static str {
        match self {
            Held::Address => "rate limit per address",
            Held::Domain => "rate limit per domain",
            Held::Overall => "rate limit for all senders",
        }
    }
}

/// `Victim+tag@Example.ORG` → `victim@example.org`. The local part is lowercased too: the
/// limit is about who receives the mail, and a victim's server that separates by case is rare
/// enough that over-counting is the safe side.
pub fn normalize(address: &str) -> String {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => address,
    }
}

/// The store keys of an address's three lists: the normalized address, `@domain`, and `*`.
pub fn keys(address: &str) -> [String; 3] {
    let norm = normalize(address);
    let domain = norm.rsplit_once('@').map_or("", |(_, d)| d).to_string();
    [norm, format!("@{domain}"), "*".to_string()]
}

fn window(limits: &Limits) -> Duration {
    Duration::from_std(limits.auto_reply_window).unwrap_or(Duration::hours(1))
}

/// `Ok` when one more automatic message may go now; else the limit that holds it back.
/// `verified`: the sender proved its From with a good signature (a forger cannot), so the
/// per-address limit does not apply; the domain and overall limits still do.
pub fn may_send(
    recent: &Recent,
    limits: &Limits,
    verified: bool,
    now: DateTime<Utc>,
) -> Result<(), Held> {
    let w = window(limits);
    let within = |v: &[DateTime<Utc>]| v.iter().filter(|t| now - **t < w).count();
    if !verified && within(&recent.address) >= limits.auto_replies_per_address as usize {
        Err(Held::Address)
    } else if within(&recent.domain) >= limits.auto_replies_per_domain as usize {
        Err(Held::Domain)
    } else if within(&recent.overall) >= limits.auto_replies_overall as usize {
        Err(Held::Overall)
    } else {
        Ok(())
    }
}

/// A list with one more send at `now`, without what the window no longer needs.
pub fn record(
    mut times: Vec<DateTime<Utc>>,
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let w = Duration::from_std(window).unwrap_or(Duration::hours(1));
    times.retain(|t| now - *t < w);
    times.push(now);
    times
}

/// The store against `[store] max-size`: the level to record now (0 below 80 %, 1 from
/// 80 %, 2 at or over the limit) and, when it rose since `told`, what to tell the team.
pub fn store_quota(size: u64, max: u64, told: u8) -> (u8, Option<String>) {
    let level = if size >= max {
        2
    } else if size.saturating_mul(5) >= max.saturating_mul(4) {
        1
    } else {
        0
    };
    let mb = |b: u64| b / (1 << 20);
    let text = (level > told).then(|| {
        format!(
            "The store uses {} MiB of its {} MiB limit ([store] max-size){}. Make room (back it up and prune old closed cases) or raise the limit; mail is still handled and nothing is dropped.",
            mb(size),
            mb(max),
            if level == 2 { ": the limit is reached" } else { ", over 80 %" }
        )
    });
    (level, text)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may read the real clock
mod tests {
    use super::*;

    #[test]
    fn sub_addresses_and_case_are_one_address() {
        assert_eq!(
            normalize("Victim+1@VICTIM.example"),
            "victim@victim.example"
        );
        assert_eq!(normalize("victim@victim.example"), "victim@victim.example");
        assert_eq!(normalize("a+b+c@x.example"), "a@x.example");
        assert_eq!(keys("V+x@D.example"), ["v@d.example", "@d.example", "*"]);
    }

    #[test]
    fn each_limit_holds() {
        let limits = Limits {
            auto_replies_per_address: 2,
            auto_replies_per_domain: 3,
            auto_replies_overall: 4,
            auto_reply_window: std::time::Duration::from_secs(3600),
            command_max_age: std::time::Duration::from_secs(3600),
            message_time_budget: std::time::Duration::from_secs(60),
            poison_after: 2,
            max_message_bytes: 1,
        };
        let now = Utc::now();
        let n = |k: usize| vec![now - Duration::minutes(5); k];
        let r = |a, d, o| Recent {
            address: n(a),
            domain: n(d),
            overall: n(o),
        };
        assert_eq!(may_send(&r(1, 2, 3), &limits, false, now), Ok(()));
        assert_eq!(
            may_send(&r(2, 2, 3), &limits, false, now),
            Err(Held::Address)
        );
        assert_eq!(
            may_send(&r(1, 3, 3), &limits, false, now),
            Err(Held::Domain)
        );
        assert_eq!(
            may_send(&r(1, 2, 4), &limits, false, now),
            Err(Held::Overall)
        );
        // Outside the window, nothing counts.
        assert_eq!(
            may_send(&r(9, 9, 9), &limits, false, now + Duration::hours(2)),
            Ok(())
        );
        // A verified sender: no per-address limit, the others hold.
        assert_eq!(may_send(&r(2, 2, 3), &limits, true, now), Ok(()));
        assert_eq!(may_send(&r(2, 3, 3), &limits, true, now), Err(Held::Domain));
    }

    #[test]
    fn the_store_quota_warns_once_per_level() {
        assert_eq!(store_quota(10, 100, 0), (0, None));
        let (l, t) = store_quota(80, 100, 0);
        assert_eq!(l, 1);
        assert!(t.unwrap().contains("over 80 %"));
        assert_eq!(store_quota(90, 100, 1), (1, None), "told once");
        let (l, t) = store_quota(100, 100, 1);
        assert_eq!(l, 2);
        assert!(t.unwrap().contains("limit is reached"));
        // Room made: back to 0, so a later rise is told again.
        assert_eq!(store_quota(10, 100, 2), (0, None));
    }

    #[test]
    fn record_keeps_the_whole_window() {
        let now = Utc::now();
        let old = vec![now - Duration::hours(60), now - Duration::hours(80)];
        let kept = record(old, std::time::Duration::from_secs(3 * 86_400), now);
        // 60 h is inside a three-day window, 80 h is not; and now.
        assert_eq!(kept, [now - Duration::hours(60), now]);
    }
}
