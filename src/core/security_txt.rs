//! security.txt: the RFC 9116 file that tells the world where to report, rendered from the
//! configuration and signed with the project key as an OpenPGP cleartext signature (RFC 9116
//! §2.3 recommends one; RFC 9580 §7), and a published copy checked for `secmail check`: its
//! signature by a project key and its `Expires` (issue 13.11).
//!
//! Invariants: `Contact` and `Expires` are always present (RFC 9116 §2.5.3, §2.5.5: both
//! REQUIRED); `Expires` is less than a year ahead (config validation refuses more); web URIs are
//! https (§2.5); the signature is made at `now` by the project's signing key, and a published
//! copy counts as signed only when that signature verifies against a project cert. Pure: the
//! time and the keys come in.
use crate::core::keys::{ProjectKeys, POLICY};
use crate::core::settings::Settings;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sequoia_openpgp as openpgp;
use std::io::{Read, Write};

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

/// The file as published: [`render`] under a cleartext signature by the project's signing key
/// (RFC 9116 §2.3), made at `now`.
pub fn signed(config: &Settings, now: DateTime<Utc>) -> Result<String, String> {
    use openpgp::serialize::stream::{Message, Signer};
    let text = render(config, now);
    let keypair = config.keys.signer(now.into())?;
    let op = |e: anyhow::Error| format!("signing security.txt: {e}");
    let mut sink = Vec::new();
    {
        let message = Message::new(&mut sink);
        let mut signer = Signer::new(message, keypair)
            .map_err(op)?
            .hash_algo(openpgp::types::HashAlgorithm::SHA512)
            .map_err(op)?
            .creation_time(std::time::SystemTime::from(now))
            .cleartext()
            .build()
            .map_err(op)?;
        signer
            .write_all(text.as_bytes())
            .map_err(|e| op(e.into()))?;
        signer.finalize().map_err(op)?;
    }
    String::from_utf8(sink).map_err(|e| format!("signing security.txt: {e}"))
}

/// Whether a published file carries a good signature by one of the project's certs: the
/// signed text, or why not.
pub fn verify(text: &str, keys: &ProjectKeys, now: DateTime<Utc>) -> Result<String, String> {
    use openpgp::parse::stream::{
        MessageLayer, MessageStructure, VerificationHelper, VerifierBuilder,
    };
    use openpgp::parse::Parse;
    if !text.contains("-----BEGIN PGP SIGNED MESSAGE-----") {
        return Err(
            "is not signed (RFC 9116 §2.3 recommends an OpenPGP cleartext signature): write it with `secmail security-txt`".into(),
        );
    }
    struct Helper(Vec<openpgp::Cert>);
    impl VerificationHelper for Helper {
        fn get_certs(&mut self, _: &[openpgp::KeyHandle]) -> openpgp::Result<Vec<openpgp::Cert>> {
            Ok(self.0.clone())
        }
        fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
            for layer in structure.into_iter() {
                if let MessageLayer::SignatureGroup { results } = layer {
                    if results.iter().any(|r| r.is_ok()) {
                        return Ok(());
                    }
                    let why = results
                        .into_iter()
                        .find_map(|r| r.err())
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "no signature".into());
                    return Err(anyhow::anyhow!(why));
                }
            }
            Err(anyhow::anyhow!("no signature"))
        }
    }
    let bad = |e: anyhow::Error| {
        format!(
            "has no good signature by the project key {} ({e}): write it anew with `secmail security-txt`",
            keys.signing_fingerprint()
        )
    };
    let mut verifier = VerifierBuilder::from_bytes(text.as_bytes())
        .map_err(bad)?
        .with_policy(POLICY, Some(now.into()), Helper(keys.public_certs()))
        .map_err(bad)?;
    let mut content = Vec::new();
    verifier
        .read_to_end(&mut content)
        .map_err(|e| bad(e.into()))?;
    String::from_utf8(content).map_err(|e| bad(e.into()))
}

/// What `secmail check` says about a published file: its signature, then its `Expires` (of
/// the signed text when it is signed). `None` when all is well.
pub fn published_warning(
    text: &str,
    keys: &ProjectKeys,
    now: DateTime<Utc>,
    warn_within: Duration,
) -> Option<String> {
    match verify(text, keys, now) {
        Ok(signed) => expiry_warning(&signed, now, warn_within),
        Err(why) => Some(match expiry_warning(text, now, warn_within) {
            Some(expiry) => format!("{why}; it also {expiry}"),
            None => why,
        }),
    }
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
