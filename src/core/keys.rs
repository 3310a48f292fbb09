//! STUB — replaced by the crypto branch.
pub use sequoia_openpgp::Cert;
use std::time::SystemTime;
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
}
pub struct ProjectKeys {
    certs: Vec<Cert>,
}
impl ProjectKeys {
    pub fn from_secret_keys(
        items: &[(String, Vec<u8>)],
        _passphrase: Option<&str>,
        _now: SystemTime,
    ) -> Result<ProjectKeys, KeyError> {
        let mut certs = Vec::new();
        for (label, bytes) in items {
            certs.extend(
                parse_certs(bytes).map_err(|e| KeyError::Invalid(format!("{label}: {e}")))?,
            );
        }
        Ok(ProjectKeys { certs })
    }
    pub fn signing_fingerprint(&self) -> String {
        self.certs.first().map(fingerprint).unwrap_or_default()
    }
    pub fn fingerprints(&self) -> Vec<String> {
        self.certs.iter().map(fingerprint).collect()
    }
    pub fn public_certs(&self) -> Vec<Cert> {
        self.certs
            .iter()
            .map(|c| c.clone().strip_secret_key_material())
            .collect()
    }
}
pub fn parse_cert(bytes: &[u8]) -> Result<Cert, KeyError> {
    use sequoia_openpgp::parse::Parse;
    Cert::from_bytes(bytes).map_err(|e| KeyError::Invalid(e.to_string()))
}
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, KeyError> {
    parse_cert(bytes).map(|c| vec![c])
}
pub fn armored(cert: &Cert) -> String {
    use sequoia_openpgp::serialize::SerializeInto;
    cert.armored()
        .to_vec()
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default()
}
pub fn fingerprint(cert: &Cert) -> String {
    cert.fingerprint().to_hex()
}
pub fn has_email(cert: &Cert, addr: &str) -> bool {
    cert.userids().any(|u| {
        u.userid()
            .email()
            .ok()
            .flatten()
            .map(|e| e.eq_ignore_ascii_case(addr))
            .unwrap_or(false)
    })
}
pub fn usable_for_encryption(_cert: &Cert, _now: SystemTime) -> Result<(), String> {
    Ok(())
}
pub fn expires(_cert: &Cert, _now: SystemTime) -> Option<SystemTime> {
    None
}
