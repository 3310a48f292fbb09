//! Verifying signatures: detached (PGP/MIME), cleartext-signed, and inside encrypted data.
//!
//! Owns: mapping sequoia's verification results to [`Signature`] values (GnuPG's
//! REVKEYSIG / EXPKEYSIG states at `now`), the stable signature digest used for replay
//! protection, and the RFC 3156 §5.1 canonical form of a signed part.
//!
//! Invariants:
//! - Strict: a signature is verified over the bytes RFC 3156 §5 defines (every line ending
//!   CRLF, the CRLF before the boundary excluded); a signature made over other bytes is Bad.
//! - A signature that cannot even be parsed is one Bad signature, never an error; bad
//!   signatures are recorded, never fatal: the caller decides what they mean.
//! - A cryptographically good signature by a revoked or expired cert or key is reported as
//!   Revoked or Expired, never Good.

use std::io::Read;
use std::time::SystemTime;

use super::armor::trim_armor;
use super::content::decode_charset;
use super::keys::{self, Cert, POLICY};
use super::openpgp::cert::prelude::*;
use super::openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
    VerifierBuilder,
};
use super::openpgp::parse::Parse;
use super::openpgp::types::RevocationStatus;
use super::openpgp::{self, Fingerprint, KeyHandle};
use super::{Ctx, SigStatus, Signature, MAX_PLAINTEXT};

/// Every signature result of a verified message structure.
pub(super) fn signatures_of(structure: MessageStructure, now: SystemTime) -> Vec<Signature> {
    let mut out = Vec::new();
    for layer in structure.into_iter() {
        if let MessageLayer::SignatureGroup { results } = layer {
            for r in results {
                out.push(signature_of(&r, now));
            }
        }
    }
    out
}

fn issuer_of(sig: &openpgp::packet::Signature) -> String {
    let issuers = sig.get_issuers();
    // Prefer a fingerprint over a key id when both are carried.
    issuers
        .iter()
        .find(|h| matches!(h, KeyHandle::Fingerprint(_)))
        .or_else(|| issuers.first())
        .map(|h| h.to_hex())
        .unwrap_or_default()
}

/// Maps one verification result; a cryptographically good signature from a cert (or key)
/// that is revoked or expired at `now` is reported as such (GnuPG's REVKEYSIG / EXPKEYSIG).
fn signature_of(
    r: &Result<openpgp::parse::stream::GoodChecksum, VerificationError>,
    now: SystemTime,
) -> Signature {
    let mk = |status, cert: Option<&Cert>, sig: &openpgp::packet::Signature| Signature {
        status,
        fingerprint: cert.map(keys::fingerprint),
        issuer: issuer_of(sig),
        signer_emails: cert.map(keys::emails).unwrap_or_default(),
        created: sig.signature_creation_time(),
        digest: replay_key(sig, cert),
        packet_digest: sig_digest(sig),
    };
    match r {
        Ok(good) => {
            let cert = good.ka.cert();
            let key = good.ka.key().fingerprint();
            let status = state_at(cert, &key, now).unwrap_or(SigStatus::Good);
            mk(status, Some(cert), good.sig)
        }
        Err(VerificationError::MissingKey { sig }) => mk(SigStatus::UnknownKey, None, sig),
        Err(VerificationError::UnboundKey { sig, cert, .. }) => {
            let status = state_at(cert, &cert.fingerprint(), now).unwrap_or(SigStatus::Bad);
            mk(status, Some(cert), sig)
        }
        Err(VerificationError::BadKey { sig, ka, .. }) => {
            let cert = ka.cert();
            let status = state_at(cert, &ka.key().fingerprint(), now).unwrap_or(SigStatus::Bad);
            mk(status, Some(cert), sig)
        }
        Err(VerificationError::BadSignature { sig, ka, .. }) => {
            mk(SigStatus::Bad, Some(ka.cert()), sig)
        }
        Err(VerificationError::MalformedSignature { sig, .. }) => mk(SigStatus::Bad, None, sig),
        Err(_) => bad_signature(),
    }
}

/// A signature we could not even read: Bad, with nothing to identify it.
fn bad_signature() -> Signature {
    Signature {
        status: SigStatus::Bad,
        fingerprint: None,
        issuer: String::new(),
        signer_emails: Vec::new(),
        created: None,
        digest: String::new(),
        packet_digest: String::new(),
    }
}

/// What the signature covers, hashed (SECURITY.md, replay): the signer, the signature's
/// version, type and algorithms, its hashed subpacket area and the digest of the signed data
/// it was verified against. Nothing an attacker can change without breaking the signature
/// goes in, so adding an unhashed subpacket — or re-encoding the packet — keeps the key.
/// The unhashed area and the packet framing stay out; so do the signature's MPIs, which some
/// algorithms let a third party re-randomise (ECDSA's `s` ↔ `n − s`).
fn replay_key(sig: &openpgp::packet::Signature, cert: Option<&Cert>) -> String {
    use openpgp::serialize::MarshalInto;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"secmail replay key v2\0");
    let signer = cert
        .map(keys::fingerprint)
        .unwrap_or_else(|| issuer_of(sig));
    h.update(signer.as_bytes());
    h.update([0]);
    h.update([
        sig.version(),
        u8::from(sig.typ()),
        u8::from(sig.pk_algo()),
        u8::from(sig.hash_algo()),
    ]);
    let Ok(hashed) = sig.hashed_area().to_vec() else {
        return String::new();
    };
    h.update((hashed.len() as u64).to_be_bytes());
    h.update(&hashed);
    match sig.computed_digest() {
        Some(d) => h.update(d),
        // Not verified (unknown key): the digest prefix and the MPIs are what we have.
        None => {
            h.update(sig.digest_prefix());
            if let Ok(m) = sig.mpis().to_vec() {
                h.update(&m);
            }
        }
    }
    hex::encode(h.finalize())
}

/// sha256 of the serialized signature packet, hex.
fn sig_digest(sig: &openpgp::packet::Signature) -> String {
    use openpgp::serialize::MarshalInto;
    use sha2::{Digest, Sha256};
    sig.to_vec()
        .map(|b| hex::encode(Sha256::digest(&b)))
        .unwrap_or_default()
}

/// Revoked or Expired when the cert or the signing key is so at `now`.
fn state_at(cert: &Cert, key: &Fingerprint, now: SystemTime) -> Option<SigStatus> {
    if let RevocationStatus::Revoked(_) = cert.revocation_status(POLICY, now) {
        return Some(SigStatus::Revoked);
    }
    let vc = match cert.with_policy(POLICY, now) {
        Ok(vc) => vc,
        Err(_) => return None,
    };
    if vc.alive().is_err() {
        return Some(SigStatus::Expired);
    }
    if let Some(ka) = vc.keys().key_handle(key.clone()).next() {
        if let RevocationStatus::Revoked(_) = ka.revocation_status() {
            return Some(SigStatus::Revoked);
        }
        if ka.alive().is_err() {
            return Some(SigStatus::Expired);
        }
    }
    None
}

/// Verifies a detached signature over `data`. A signature that cannot even be parsed is one
/// Bad signature.
pub(super) fn verify_detached(
    sig: &[u8],
    data: &[u8],
    certs: Vec<Cert>,
    now: SystemTime,
) -> Vec<Signature> {
    let helper = VHelper {
        certs,
        now,
        results: Vec::new(),
    };
    let bad = || vec![bad_signature()];
    let verifier =
        DetachedVerifierBuilder::from_bytes(sig).and_then(|b| b.with_policy(POLICY, now, helper));
    let mut v = match verifier {
        Ok(v) => v,
        Err(_) => return bad(),
    };
    if v.verify_bytes(data).is_err() {
        let r = v.into_helper().results;
        return if r.is_empty() { bad() } else { r };
    }
    let r = v.into_helper().results;
    if r.is_empty() {
        bad()
    } else {
        r
    }
}

/// Verifies a cleartext-signed block (RFC 9580 §7); returns the signed text (decoded with
/// `charset`) and the signatures. An unparsable block yields its raw text and one Bad
/// signature.
pub(super) fn verify_cleartext(block: &[u8], ctx: &Ctx, charset: &str) -> (String, Vec<Signature>) {
    let helper = VHelper {
        certs: ctx.known.to_vec(),
        now: ctx.now,
        results: Vec::new(),
    };
    let fallback = || {
        (
            decode_charset(&cleartext_body(block), charset),
            vec![bad_signature()],
        )
    };
    let verifier =
        VerifierBuilder::from_bytes(block).and_then(|b| b.with_policy(POLICY, ctx.now, helper));
    let mut v = match verifier {
        Ok(v) => v,
        Err(_) => return fallback(),
    };
    let mut out = Vec::new();
    if (&mut v)
        .take(MAX_PLAINTEXT as u64)
        .read_to_end(&mut out)
        .is_err()
    {
        return fallback();
    }
    let sigs = v.into_helper().results;
    (decode_charset(&out, charset), sigs)
}

/// The dash-unescaped text of a cleartext-signed block, for display when verification fails.
fn cleartext_body(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_text = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let t = trim_armor(line);
        if !in_text {
            if t.is_empty() {
                in_text = true;
            }
            continue;
        }
        if t == b"-----BEGIN PGP SIGNATURE-----" {
            break;
        }
        out.extend_from_slice(line.strip_prefix(b"- ").unwrap_or(line));
    }
    out
}

pub(super) struct VHelper {
    pub(super) certs: Vec<Cert>,
    pub(super) now: SystemTime,
    pub(super) results: Vec<Signature>,
}

impl VerificationHelper for VHelper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }
    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        self.results = signatures_of(structure, self.now);
        Ok(())
    }
}

/// RFC 3156 §5.1: the signed part with every line ending as CRLF (bare LF and bare CR
/// become CRLF). The CRLF before the boundary was already excluded by the MIME parser.
pub(super) fn canonical_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 32);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_part_made_crlf() {
        assert_eq!(
            canonical_crlf(b"a\nb\r\nc\rd"),
            b"a\r\nb\r\nc\r\nd".to_vec()
        );
    }
}
