//! OpenPGP certificates and the project's own secret keys.
//!
//! Owns: parsing public certs and keyrings (armored or binary), loading and unlocking the
//! project's transferable secret keys (TSKs), and the questions the rest of the core asks about
//! a cert: which addresses it carries, whether it can be encrypted to at a given time, when it
//! expires.
//!
//! Invariants:
//! - Pure: no file, network or environment access; time is always an argument (`now`), the
//!   system clock is never read.
//! - A [`ProjectKeys`] holds only unlocked secret key material, and its first cert has a
//!   signing-capable secret key that is valid under the standard policy at the time it was
//!   loaded. Every cert is tried for decryption (key rollover: old keys keep decrypting).
//! - Certs handed out ([`ProjectKeys::public_certs`], [`parse_cert`]) never carry secret parts.
//! - Fingerprints are full, uppercase hex without spaces (DESIGN.md "OpenPGP": store full
//!   fingerprints, never short key ids).

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, Password};
use openpgp::packet::Packet;
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::types::RevocationStatus;

pub use sequoia_openpgp::Cert;

/// The policy every check in the core uses (RFC 9580 algorithms, no SHA-1 signatures on data).
pub(crate) const POLICY: &StandardPolicy<'static> = &StandardPolicy::new();

/// Why a key or cert could not be loaded. Each variant names what failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no secret key given")]
    NoKeys,
    #[error("{label}: not an openpgp key: {reason}")]
    Parse { label: String, reason: String },
    #[error("{label}: no secret key material")]
    NoSecret { label: String },
    #[error("{label}: secret key {fingerprint} is protected by a passphrase and none was given")]
    PassphraseNeeded { label: String, fingerprint: String },
    #[error("{label}: wrong passphrase for secret key {fingerprint}")]
    WrongPassphrase { label: String, fingerprint: String },
    #[error("{label}: no usable signing key ({reason})")]
    NoSigningKey { label: String, reason: String },
    #[error("no openpgp certificate found")]
    Empty,
    #[error("not an openpgp certificate: {0}")]
    BadCert(String),
}

/// The project's unlocked secret keys. The first is the signing key; all are tried for
/// decryption (key rollover).
#[derive(Clone)]
pub struct ProjectKeys {
    tsks: Vec<Cert>,
}

impl std::fmt::Debug for ProjectKeys {
    // Never print secret material, not even by accident in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectKeys")
            .field("fingerprints", &self.fingerprints())
            .finish()
    }
}

impl ProjectKeys {
    /// Each item: (label for errors, e.g. the file path; armored or binary TSK bytes).
    /// `passphrase` unlocks encrypted secret key material (same passphrase for all).
    /// RSA and Curve25519 keys both work. A file may hold several TSKs; all are taken.
    pub fn from_secret_keys(
        items: &[(String, Vec<u8>)],
        passphrase: Option<&str>,
        now: SystemTime,
    ) -> Result<ProjectKeys, KeyError> {
        let mut tsks = Vec::new();
        for (label, bytes) in items {
            let certs = read_certs(bytes).map_err(|reason| KeyError::Parse {
                label: label.clone(),
                reason,
            })?;
            if certs.is_empty() {
                return Err(KeyError::Parse {
                    label: label.clone(),
                    reason: "no key found".into(),
                });
            }
            for cert in certs {
                tsks.push(unlock(label, cert, passphrase)?);
            }
        }
        let first = tsks.first().ok_or(KeyError::NoKeys)?;
        // Fail at load time rather than on the first reply (DESIGN.md: clear errors).
        signing_keypair(first, now).map_err(|reason| KeyError::NoSigningKey {
            label: items.first().map(|i| i.0.clone()).unwrap_or_default(),
            reason,
        })?;
        Ok(ProjectKeys { tsks })
    }

    /// One of the project keys is the public demo key (SECURITY.md, demo key).
    pub fn uses_demo_key(&self) -> bool {
        self.fingerprints().iter().any(|f| f == DEMO_FINGERPRINT)
    }

    /// Full uppercase hex fingerprint of the signing cert.
    pub fn signing_fingerprint(&self) -> String {
        self.tsks.first().map(fingerprint).unwrap_or_default()
    }

    /// Fingerprints of every project cert, signing cert first.
    pub fn fingerprints(&self) -> Vec<String> {
        self.tsks.iter().map(fingerprint).collect()
    }

    /// The project certs with every secret part stripped.
    pub fn public_certs(&self) -> Vec<Cert> {
        self.tsks
            .iter()
            .map(|c| c.clone().strip_secret_key_material())
            .collect()
    }

    /// The unlocked certs (crate-internal: decrypt and seal need the secret parts).
    pub(crate) fn tsks(&self) -> &[Cert] {
        &self.tsks
    }

    /// A key pair for the signing key valid at `now`.
    pub(crate) fn signer(&self, now: SystemTime) -> Result<KeyPair, String> {
        let first = self.tsks.first().ok_or("no project key")?;
        signing_keypair(first, now)
    }
}

/// Parses every cert in `bytes` (armored or binary); the error is a short reason.
/// At most `max` certs from a message's key material, none when any of them is bad (as
/// [`parse_certs`]); the parser is lazy: what is past the cap is never parsed.
pub fn parse_certs_capped(bytes: &[u8], max: usize) -> Vec<Cert> {
    let Ok(parser) = CertParser::from_bytes(bytes) else {
        return Vec::new();
    };
    parser
        .take(max)
        .map(|c| c.map(|c| c.strip_secret_key_material()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

fn read_certs(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let parser = CertParser::from_bytes(bytes).map_err(|e| short(&e))?;
    let mut out = Vec::new();
    for c in parser {
        out.push(c.map_err(|e| short(&e))?);
    }
    Ok(out)
}

/// Unlocks every encrypted secret key of `cert` with `passphrase`.
fn unlock(label: &str, cert: Cert, passphrase: Option<&str>) -> Result<Cert, KeyError> {
    if !cert.is_tsk() {
        return Err(KeyError::NoSecret {
            label: label.to_string(),
        });
    }
    let mut unlocked: Vec<Packet> = Vec::new();
    for ka in cert.keys().secret() {
        let key = ka.key();
        if !key.secret().is_encrypted() {
            continue;
        }
        let fpr = key.fingerprint().to_hex();
        let Some(pw) = passphrase else {
            return Err(KeyError::PassphraseNeeded {
                label: label.to_string(),
                fingerprint: fpr,
            });
        };
        let plain = key
            .clone()
            .decrypt_secret(&Password::from(pw))
            .map_err(|_| KeyError::WrongPassphrase {
                label: label.to_string(),
                fingerprint: fpr,
            })?;
        if ka.primary() {
            unlocked.push(plain.role_into_primary().into());
        } else {
            unlocked.push(plain.role_into_subordinate().into());
        }
    }
    if unlocked.is_empty() {
        return Ok(cert);
    }
    cert.insert_packets(unlocked)
        .map(|(c, _)| c)
        .map_err(|e| KeyError::Parse {
            label: label.to_string(),
            reason: short(&e),
        })
}

/// A key pair of a signing-capable, unlocked secret key of `cert`, valid at `now`.
fn signing_keypair(cert: &Cert, now: SystemTime) -> Result<KeyPair, String> {
    let vc = cert.with_policy(POLICY, now).map_err(|e| short(&e))?;
    if let RevocationStatus::Revoked(_) = vc.revocation_status() {
        return Err("revoked".into());
    }
    if vc.alive().is_err() {
        return Err(expired_reason(vc.primary_key().key_expiration_time()));
    }
    let ka = vc
        .keys()
        .secret()
        .supported()
        .alive()
        .revoked(false)
        .for_signing()
        .find(|ka| ka.key().has_unencrypted_secret())
        .ok_or_else(|| "no signing-capable secret key".to_string())?;
    ka.key().clone().into_keypair().map_err(|e| short(&e))
}

fn expired_reason(t: Option<SystemTime>) -> String {
    match t {
        Some(t) => format!("expired on {}", day(t)),
        None => "expired".into(),
    }
}

/// `YYYY-MM-DD` in UTC.
pub(crate) fn day(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d")
        .to_string()
}

/// A short, lowercase, one-line reason from a sequoia error chain.
pub(crate) fn short(e: &anyhow::Error) -> String {
    let s = e.to_string();
    let mut s: String = s
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    if let Some(first) = s.get(..1) {
        let lower = first.to_lowercase();
        s.replace_range(..1, &lower);
    }
    s
}

/// A freshly generated project key (`secmail init`).
pub struct NewKey {
    pub fingerprint: String,
    /// The transferable secret key, armored: the file `keys.secret` names (mode 0600).
    pub secret: String,
    /// The public cert, armored: what reporters encrypt to.
    pub public: String,
    /// A revocation certificate, armored: kept offline, published if the key is lost.
    pub revocation: String,
}

/// Generates the project key: a certification-only primary, a signing subkey and an
/// encryption subkey, Curve25519 (or RSA 3072 with `rsa`), one user id `name <address>`,
/// created at `now`, without expiry (a daemon whose key expires silently stops answering;
/// rotate by adding a new key first in `keys.secret`). No passphrase: the daemon must start
/// unattended; the file's mode protects it.
pub fn generate(name: &str, address: &str, rsa: bool, now: SystemTime) -> Result<NewKey, KeyError> {
    let fail = |e: anyhow::Error| KeyError::BadCert(short(&e));
    let suite = if rsa {
        CipherSuite::RSA3k
    } else {
        CipherSuite::Cv25519
    };
    let (cert, rev) = CertBuilder::general_purpose([format!("{name} <{address}>")])
        .set_cipher_suite(suite)
        .set_creation_time(now)
        .set_validity_period(None)
        .generate()
        .map_err(fail)?;
    let secret = cert.as_tsk().armored().to_vec().map_err(fail)?;
    let revocation = {
        let packet: Packet = rev.into();
        let mut w =
            armor::Writer::new(Vec::new(), armor::Kind::PublicKey).map_err(|e| fail(e.into()))?;
        // A revocation certificate is the cert's primary key followed by the revocation.
        let primary: Packet = cert.primary_key().key().clone().into();
        primary.serialize(&mut w).map_err(fail)?;
        packet.serialize(&mut w).map_err(fail)?;
        w.finalize().map_err(|e| fail(e.into()))?
    };
    Ok(NewKey {
        fingerprint: fingerprint(&cert),
        secret: String::from_utf8_lossy(&secret).into_owned(),
        public: armored(&cert),
        revocation: String::from_utf8_lossy(&revocation).into_owned(),
    })
}

/// One public cert, armored or binary. A TSK is accepted: its secrets are stripped.
/// The demo project key shipped in `keys/` (its secret is public): recognised wherever it is
/// copied, whatever `[project] demo-keys` says.
pub const DEMO_FINGERPRINT: &str = "29B8CE0FA0ABB91C11E521B0AC0FF7F0307A94FE";

pub fn parse_cert(bytes: &[u8]) -> Result<Cert, KeyError> {
    let mut certs = parse_certs(bytes)?;
    match certs.len() {
        1 => Ok(certs.remove(0)),
        0 => Err(KeyError::Empty),
        n => Err(KeyError::BadCert(format!(
            "expected one certificate, found {n}"
        ))),
    }
}

/// A keyring: every cert in `bytes`, armored or binary, secrets stripped.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, KeyError> {
    let certs = read_certs(bytes).map_err(KeyError::BadCert)?;
    if certs.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(certs
        .into_iter()
        .map(|c| c.strip_secret_key_material())
        .collect())
}

/// The public cert, ASCII armored (secret parts never included).
pub fn armored(cert: &Cert) -> String {
    let public = cert.clone().strip_secret_key_material();
    let bytes = public.armored().to_vec();
    bytes
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default()
}

/// Full uppercase hex fingerprint, no spaces.
pub fn fingerprint(cert: &Cert) -> String {
    cert.fingerprint().to_hex()
}

/// The addresses of the cert's valid user ids: self-signed (sequoia keeps only self-signatures
/// that verify) and not revoked by the cert itself. Lowercased.
pub(crate) fn emails(cert: &Cert) -> Vec<String> {
    let mut out = Vec::new();
    for ua in cert.userids() {
        if ua.self_signatures().next().is_none() || ua.self_revocations().next().is_some() {
            continue;
        }
        if let Ok(Some(e)) = ua.userid().email() {
            let e = e.to_lowercase();
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// A valid (self-signed, not revoked) user id carries `addr`, compared case-insensitively.
pub fn has_email(cert: &Cert, addr: &str) -> bool {
    let addr = addr.trim().to_lowercase();
    !addr.is_empty() && emails(cert).contains(&addr)
}

/// `Ok(())` when the cert can be encrypted to at `now` under the standard policy; else a short
/// lowercase reason ("expired on 2025-10-20", "revoked", "no encryption subkey").
pub fn usable_for_encryption(cert: &Cert, now: SystemTime) -> Result<(), String> {
    let vc = cert
        .with_policy(POLICY, now)
        .map_err(|e| format!("not valid: {}", short(&e)))?;
    if let RevocationStatus::Revoked(_) = vc.revocation_status() {
        return Err("revoked".into());
    }
    if vc.alive().is_err() {
        return Err(expired_reason(vc.primary_key().key_expiration_time()));
    }
    let usable = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .count();
    if usable > 0 {
        return Ok(());
    }
    // Say why when an encryption subkey exists but is expired.
    let expired = vc
        .keys()
        .supported()
        .revoked(false)
        .for_transport_encryption()
        .filter_map(|ka| ka.key_expiration_time())
        .max();
    match expired {
        Some(t) => Err(format!("encryption subkey expired on {}", day(t))),
        None => Err("no encryption subkey".into()),
    }
}

/// Whether the cert is valid and alive at `now` (not expired, not revoked).
pub fn valid_at(cert: &Cert, now: SystemTime) -> bool {
    cert.with_policy(POLICY, now).is_ok_and(|vc| {
        vc.alive().is_ok()
            && !matches!(
                vc.revocation_status(),
                openpgp::types::RevocationStatus::Revoked(_)
            )
    })
}

/// When the cert (its primary key) expires, as seen at `now`; `None` when it never does or the
/// cert is not valid at all.
pub fn expires(cert: &Cert, now: SystemTime) -> Option<SystemTime> {
    cert.with_policy(POLICY, now)
        .ok()?
        .primary_key()
        .key_expiration_time()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CipherSuite;
    use openpgp::serialize::Serialize;
    use std::time::Duration;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }
    const NOW: u64 = 1_795_000_000; // 2026-11-18

    fn gen(suite: CipherSuite, pw: Option<&str>, validity: Option<Duration>) -> Cert {
        let mut b = CertBuilder::general_purpose(Some("Sec <security@example.org>"))
            .set_cipher_suite(suite)
            .set_creation_time(t(NOW - 86_400))
            .set_validity_period(validity);
        if let Some(pw) = pw {
            b = b.set_password(Some(pw.into()));
        }
        b.generate().expect("generate").0
    }

    fn tsk_bytes(c: &Cert) -> Vec<u8> {
        let mut v = Vec::new();
        c.as_tsk().serialize(&mut v).expect("serialize");
        v
    }

    #[test]
    fn loads_and_unlocks() {
        let cases: &[(CipherSuite, Option<&str>, Option<&str>, bool)] = &[
            (CipherSuite::Cv25519, None, None, true),
            (CipherSuite::RSA3k, None, None, true),
            (CipherSuite::Cv25519, Some("pw"), Some("pw"), true),
            (CipherSuite::Cv25519, Some("pw"), Some("wrong"), false),
            (CipherSuite::Cv25519, Some("pw"), None, false),
        ];
        for (suite, set, given, ok) in cases {
            let c = gen(*suite, *set, None);
            let r = ProjectKeys::from_secret_keys(&[("k".into(), tsk_bytes(&c))], *given, t(NOW));
            assert_eq!(r.is_ok(), *ok, "{suite:?} {set:?} {given:?}: {r:?}");
            if let Ok(k) = r {
                assert_eq!(k.signing_fingerprint(), fingerprint(&c));
                assert!(k.public_certs().iter().all(|c| !c.is_tsk()));
                assert!(k.signer(t(NOW)).is_ok());
            }
        }
    }

    #[test]
    fn public_cert_is_refused_as_secret_key() {
        let c = gen(CipherSuite::Cv25519, None, None);
        let public = armored(&c);
        let r = ProjectKeys::from_secret_keys(&[("p".into(), public.into_bytes())], None, t(NOW));
        assert!(matches!(r, Err(KeyError::NoSecret { .. })));
        assert!(matches!(
            ProjectKeys::from_secret_keys(&[], None, t(NOW)),
            Err(KeyError::NoKeys)
        ));
        assert!(
            ProjectKeys::from_secret_keys(&[("x".into(), b"junk".to_vec())], None, t(NOW)).is_err()
        );
    }

    #[test]
    fn cert_questions() {
        let c = gen(
            CipherSuite::Cv25519,
            None,
            Some(Duration::from_secs(10 * 86_400)),
        );
        let parsed = parse_cert(armored(&c).as_bytes()).expect("parse");
        assert!(!parsed.is_tsk());
        assert!(parse_cert(&tsk_bytes(&c))
            .map(|c| !c.is_tsk())
            .unwrap_or(false));
        assert!(has_email(&parsed, "SECURITY@example.org"));
        assert!(!has_email(&parsed, "other@example.org"));
        assert_eq!(usable_for_encryption(&parsed, t(NOW)), Ok(()));
        let later = t(NOW + 20 * 86_400);
        let why = usable_for_encryption(&parsed, later).unwrap_err();
        assert!(why.starts_with("expired on "), "{why}");
        assert_eq!(
            expires(&parsed, t(NOW)),
            Some(t(NOW - 86_400 + 10 * 86_400))
        );
        let signing_only = CertBuilder::new()
            .add_userid("S <s@example.org>")
            .set_creation_time(t(NOW - 10))
            .add_signing_subkey()
            .generate()
            .expect("gen")
            .0;
        assert_eq!(
            usable_for_encryption(&signing_only, t(NOW)),
            Err("no encryption subkey".into())
        );
        let ring = [armored(&c), armored(&signing_only)].join("\n");
        assert_eq!(parse_certs(ring.as_bytes()).map(|v| v.len()).ok(), Some(2));
        assert!(parse_cert(ring.as_bytes()).is_err());
    }

    #[test]
    fn revoked_cert_is_not_usable() {
        let (c, rev) = CertBuilder::general_purpose(Some("R <r@example.org>"))
            .set_creation_time(t(NOW - 100))
            .generate()
            .expect("gen");
        let c = c.insert_packets(rev).expect("insert").0;
        assert_eq!(usable_for_encryption(&c, t(NOW)), Err("revoked".into()));
    }
}
