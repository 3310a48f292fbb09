//! Wall-clock durations as people write them in the configuration and in team commands:
//! "90s", "15m", "48h", "7d", "2w" (STYLE.md: durations as human strings). Working days are
//! `calendar.rs`'s; this is the plain clock part that both `calendar::parse_span` and the
//! config reader use.
//!
//! Invariants: pure; a bare number is seconds; an overflow is an error, never a wrap.
use std::time::Duration;

/// "90s", "15m", "48h", "7d", "2w"; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"48h\""))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" | "seconds" => 1,
        "m" | "min" | "mins" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let check = |s: &str, expected: Result<u64, ()>| {
            assert_eq!(
                parse_duration(s).map(|d| d.as_secs()).map_err(|_| ()),
                expected,
                "{s}"
            );
        };
        check("90s", Ok(90));
        check("90", Ok(90));
        check("15m", Ok(900));
        check("48h", Ok(172_800));
        check("7 days", Ok(604_800));
        check("2w", Ok(1_209_600));
        check("h", Err(()));
        check("5 fortnights", Err(()));
        check("99999999999999999999w", Err(()));
        check("40000000000000w", Err(()));
    }
}
