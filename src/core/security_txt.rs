//! security.txt: the RFC 9116 file that tells the world where to report, rendered from the
//! configuration, and the `Expires` of a published copy read back for `secmail check`.
//!
//! Invariants: `Contact` and `Expires` are always present (RFC 9116 §2.5.3, §2.5.5: both
//! REQUIRED); `Expires` is less than a year ahead (config validation refuses more); web URIs are
//! https (§2.5). Pure: the time comes in.
use crate::core::settings::Settings;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// The file, CRLF-free (RFC 9116 §4 accepts LF; web servers serve it as text/plain).
pub fn render(config: &Settings, now: DateTime<Utc>) -> String {
    let st = &config.security_txt;
    let expires = now + Duration::from_std(st.expires_in).unwrap_or_else(|_| Duration::days(180));
    let mut out = String::new();
    out.push_str(&format!(
        "# security.txt for {} (RFC 9116), written by secmail\n",
        config.project.name
    ));
    out.push_str(&format!(
        "Contact: mailto:{}\n",
        config.project.security_address
    ));
    // RFC 9116 §2.5.5: a date in RFC 3339 form, and it MUST be present only once.
    out.push_str(&format!(
        "Expires: {}\n",
        expires.to_rfc3339_opts(SecondsFormat::Secs, true)
    ));
    if let Some(e) = &st.encryption {
        out.push_str(&format!("Encryption: {e}\n"));
    }
    if let Some(p) = &st.policy {
        out.push_str(&format!("Policy: {p}\n"));
    }
    if let Some(l) = &st.preferred_languages {
        out.push_str(&format!("Preferred-Languages: {l}\n"));
    }
    if let Some(c) = &st.canonical {
        out.push_str(&format!("Canonical: {c}\n"));
    }
    out
}

/// The `Expires` field of a security.txt, if present and well formed. Field names are
/// case-insensitive (RFC 9116 §2.4; ABNF of RFC 5234 strings).
pub fn expires(text: &str) -> Option<DateTime<Utc>> {
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("expires") || l.starts_with('#') {
            return None;
        }
        DateTime::parse_from_rfc3339(value.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// What `secmail check` says about a published file: `None` when all is well.
pub fn expiry_warning(text: &str, now: DateTime<Utc>, warn_within: Duration) -> Option<String> {
    match expires(text) {
        None => Some("has no valid Expires field (RFC 9116 §2.5.5 requires one)".into()),
        Some(t) if t <= now => Some(format!(
            "EXPIRED on {}: run `secmail security-txt` and publish the new file",
            t.format("%Y-%m-%d")
        )),
        Some(t) if t - now <= warn_within => Some(format!(
            "expires on {} ({} days): run `secmail security-txt` and publish the new file",
            t.format("%Y-%m-%d"),
            (t - now).num_days()
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expires_is_read_back() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(
                expires(text).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                expected.map(String::from),
                "{text:?}"
            );
        };
        check(
            "Contact: mailto:a@b.org\nExpires: 2027-05-27T12:00:00Z\n",
            Some("2027-05-27T12:00:00Z"),
        );
        check(
            "expires:   2027-05-27T12:00:00+02:00",
            Some("2027-05-27T10:00:00Z"),
        );
        check("# Expires: 2027-05-27T12:00:00Z", None);
        check("Expires: next year", None);
        check("", None);
    }

    #[test]
    fn warnings_come_when_expiry_is_near() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let within = Duration::days(30);
        assert!(expiry_warning("Expires: 2027-05-27T12:00:00Z", now, within).is_none());
        let near = expiry_warning("Expires: 2026-12-10T12:00:00Z", now, within).unwrap();
        assert!(near.contains("12 days"), "{near}");
        let past = expiry_warning("Expires: 2026-11-01T00:00:00Z", now, within).unwrap();
        assert!(past.starts_with("EXPIRED"), "{past}");
        assert!(expiry_warning("Contact: mailto:x@y.org", now, within).is_some());
    }
}
