//! Signing and encrypting outgoing data with the project key.
//!
//! Owns: detached signatures for PGP/MIME multipart/signed (RFC 3156 §5) and the combined
//! sign-then-encrypt OpenPGP message for multipart/encrypted (RFC 3156 §6.2).
//!
//! Invariants:
//! - Pure: the caller passes the bytes (already CRLF-canonical MIME, RFC 3156 §5) and `now`;
//!   signature creation time is `now`, never the system clock.
//! - Everything is signed by the project's signing key with SHA-512 (see [`MICALG`]).
//! - Encryption goes to exactly the given recipients (no hidden extra recipient), uses an
//!   integrity-protected container (SEIPD, RFC 9580 §5.13), and refuses a recipient whose
//!   cert is not usable for encryption at `now`: there is never a plaintext fallback
//!   (DESIGN.md "OpenPGP").
//! - No compression: it gains little for mail and leaks length information.

use std::io::Write;
use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::types::HashAlgorithm;

use super::keys::{self, Cert, ProjectKeys, POLICY};

/// The `micalg` parameter for multipart/signed matching [`sign_detached`] (RFC 3156 §5).
pub const MICALG: &str = "pgp-sha512";

/// Why nothing could be sealed. Each variant is a decision for the caller.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("project signing key not usable: {0}")]
    SigningKey(String),
    #[error("no recipients")]
    NoRecipients,
    #[error("recipient {fingerprint} not usable for encryption: {reason}")]
    Recipient { fingerprint: String, reason: String },
    #[error("openpgp: {0}")]
    Openpgp(String),
}

fn op(e: impl Into<anyhow::Error>) -> SealError {
    SealError::Openpgp(keys::short(&e.into()))
}

/// Detached, ASCII-armored signature (RFC 3156 §5) by the project's signing key over exactly
/// `data` (the caller passes CRLF-canonical bytes). The signature is a binary-document
/// signature: the bytes are signed as given.
pub fn sign_detached(
    keys: &ProjectKeys,
    data: &[u8],
    now: SystemTime,
) -> Result<String, SealError> {
    let keypair = keys.signer(now).map_err(SealError::SigningKey)?;
    let mut sink = Vec::new();
    {
        let message = Message::new(&mut sink);
        let message = Armorer::new(message)
            .kind(armor::Kind::Signature)
            .build()
            .map_err(op)?;
        let mut signer = Signer::new(message, keypair)
            .map_err(op)?
            .hash_algo(HashAlgorithm::SHA512)
            .map_err(op)?
            .creation_time(now)
            .detached()
            .build()
            .map_err(op)?;
        signer.write_all(data).map_err(op)?;
        signer.finalize().map_err(op)?;
    }
    String::from_utf8(sink).map_err(op)
}

/// Sign with the project key, then encrypt to every recipient cert (and only them),
/// ASCII-armored (RFC 3156 §6.2 combined form: one OpenPGP message, signature inside).
/// SEIPD with integrity. Refuses a recipient not usable for encryption.
pub fn sign_and_encrypt(
    keys: &ProjectKeys,
    recipients: &[&Cert],
    data: &[u8],
    now: SystemTime,
) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let keypair = keys.signer(now).map_err(SealError::SigningKey)?;
    let mut valid = Vec::new();
    for cert in recipients {
        keys::usable_for_encryption(cert, now).map_err(|reason| SealError::Recipient {
            fingerprint: keys::fingerprint(cert),
            reason,
        })?;
        valid.push(cert.with_policy(POLICY, now).map_err(op)?);
    }
    let mut to: Vec<Recipient> = Vec::new();
    for vc in &valid {
        let before = to.len();
        for ka in vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
        {
            to.push(ka.into());
        }
        if to.len() == before {
            return Err(SealError::Recipient {
                fingerprint: vc.fingerprint().to_hex(),
                reason: "no encryption subkey".into(),
            });
        }
    }
    let mut sink = Vec::new();
    {
        let message = Message::new(&mut sink);
        let message = Armorer::new(message).build().map_err(op)?;
        let message = Encryptor::for_recipients(message, to).build().map_err(op)?;
        let message = Signer::new(message, keypair)
            .map_err(op)?
            .hash_algo(HashAlgorithm::SHA512)
            .map_err(op)?
            .creation_time(now)
            .build()
            .map_err(op)?;
        let mut literal = LiteralWriter::new(message)
            .date(now)
            .map_err(op)?
            .build()
            .map_err(op)?;
        literal.write_all(data).map_err(op)?;
        literal.finalize().map_err(op)?;
    }
    String::from_utf8(sink).map_err(op)
}

/// Opens what [`sign_and_encrypt`] sealed to the project itself (a backup): decrypts with any
/// project key and requires a good signature by a project cert, so a file someone else made
/// (even one encrypted to our public cert) is refused. No size limit: the data is our own.
pub fn open_own(keys: &ProjectKeys, data: &[u8], now: SystemTime) -> Result<Vec<u8>, SealError> {
    use openpgp::parse::stream::DecryptorBuilder;
    use openpgp::parse::Parse;
    use std::io::Read;
    let helper = OwnHelper {
        keys,
        signed: false,
    };
    let mut d = DecryptorBuilder::from_bytes(data)
        .map_err(op)?
        .with_policy(POLICY, now, helper)
        .map_err(op)?;
    let mut out = Vec::new();
    d.read_to_end(&mut out).map_err(op)?;
    if !d.helper_ref().signed {
        return Err(SealError::Openpgp(
            "not signed by a project key".to_string(),
        ));
    }
    Ok(out)
}

struct OwnHelper<'a> {
    keys: &'a ProjectKeys,
    signed: bool,
}

impl openpgp::parse::stream::VerificationHelper for OwnHelper<'_> {
    fn get_certs(&mut self, _ids: &[openpgp::KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.keys.public_certs())
    }

    fn check(
        &mut self,
        structure: openpgp::parse::stream::MessageStructure,
    ) -> openpgp::Result<()> {
        use openpgp::parse::stream::MessageLayer;
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                if results.iter().any(|r| r.is_ok()) {
                    self.signed = true;
                }
            }
        }
        Ok(())
    }
}

impl openpgp::parse::stream::DecryptionHelper for OwnHelper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[openpgp::packet::PKESK],
        _skesks: &[openpgp::packet::SKESK],
        sym_algo: Option<openpgp::types::SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(
            Option<openpgp::types::SymmetricAlgorithm>,
            &openpgp::crypto::SessionKey,
        ) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            for tsk in self.keys.tsks() {
                for ka in tsk.keys().secret() {
                    let key = ka.key();
                    if !key.has_unencrypted_secret() || !key.pk_algo().for_encryption() {
                        continue;
                    }
                    let Ok(mut pair) = key.clone().into_keypair() else {
                        continue;
                    };
                    if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo) {
                        if decrypt(algo, &sk) {
                            return Ok(Some(tsk.clone().strip_secret_key_material()));
                        }
                    }
                }
            }
        }
        Err(anyhow::anyhow!("not encrypted to a project key"))
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may read the real clock
mod own_tests {
    use super::*;

    #[test]
    fn sealed_to_ourselves_opens_and_a_stranger_signature_is_refused() {
        let now = SystemTime::now();
        let a = keys::generate("A", "security@a.test", false, now).unwrap();
        let b = keys::generate("B", "security@b.test", false, now).unwrap();
        let ka = ProjectKeys::from_secret_keys(&[("a".into(), a.secret.into_bytes())], None, now)
            .unwrap();
        let kb = ProjectKeys::from_secret_keys(&[("b".into(), b.secret.into_bytes())], None, now)
            .unwrap();
        let certs = ka.public_certs();
        let sealed = sign_and_encrypt(&ka, &[&certs[0]], b"store bytes", now).unwrap();
        assert_eq!(
            open_own(&ka, sealed.as_bytes(), now).unwrap(),
            b"store bytes"
        );
        // Encrypted to A but signed by B: refused.
        let forged = sign_and_encrypt(&kb, &[&certs[0]], b"evil", now).unwrap();
        assert!(open_own(&ka, forged.as_bytes(), now).is_err());
        // Not for B at all.
        assert!(open_own(&kb, sealed.as_bytes(), now).is_err());
        let mut damaged = sealed.into_bytes();
        let mid = damaged.len() / 2;
        damaged[mid] = if damaged[mid] == b'A' { b'B' } else { b'A' };
        assert!(open_own(&ka, &damaged, now).is_err());
    }
}
