//! Decrypting an OpenPGP message with the project keys.
//!
//! Owns: reading the session-key packets and the kind of encryption container before any key
//! is used, finding which of our secret keys can unlock a session key (named recipients, then
//! hidden ones), decrypting SEIPD v1/v2 through sequoia, and mapping failures to
//! [`Decrypted`] values.
//!
//! Invariants:
//! - No integrity, no plaintext: a SED packet is never decrypted (RFC 9580 §5.7, EFAIL); an
//!   MDC or AEAD failure, or a session key our key yielded but the container rejected, is
//!   "the ciphertext was modified", and any plaintext read so far is dropped.
//! - Mail encrypted to an expired or revoked project key is still ours to read.
//! - The decrypted (and decompressed) size is bounded by [`MAX_PLAINTEXT`].
//! - The LibrePGP AEAD packet (tag 20) is handed to [`super::aead`].

use std::io::Read;
use std::time::SystemTime;

use super::aead;
use super::armor::dearmor;
use super::keys::{self, Cert, ProjectKeys, POLICY};
use super::openpgp::crypto::SessionKey;
use super::openpgp::packet::{Packet, Tag, PKESK, SKESK};
use super::openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use super::openpgp::parse::{PacketParserBuilder, PacketParserResult, Parse};
use super::openpgp::types::SymmetricAlgorithm;
use super::openpgp::{self, Fingerprint, KeyHandle};
use super::verify::signatures_of;
use super::{certs_for, Crypt, Ctx, Signature, MAX_PLAINTEXT};

pub(super) enum Decrypted {
    Plain {
        plaintext: Vec<u8>,
        sigs: Vec<Signature>,
    },
    NotForUs(Vec<String>),
    NoIntegrity,
    Damaged(String),
}

impl Decrypted {
    pub(super) fn into_outcome(self) -> Crypt {
        match self {
            Decrypted::Plain { .. } => Crypt::Decrypted,
            Decrypted::NotForUs(recipients) => Crypt::NotForUs { recipients },
            Decrypted::NoIntegrity => Crypt::NoIntegrity,
            Decrypted::Damaged(r) => Crypt::Damaged(r),
        }
    }
}

/// What the packet structure says before any key is used.
enum Container {
    /// SEIPD v1 (MDC) or v2 (AEAD).
    Seip,
    /// The LibrePGP AEAD packet (tag 20, e.g. `gpg --force-ocb`).
    Aead,
    /// Symmetrically encrypted without integrity protection (tag 9).
    Sed,
    None,
}

struct Scan {
    recipients: Vec<Option<KeyHandle>>,
    skesk: bool,
    container: Container,
}

/// Reads the session-key packets and the kind of encryption container without decrypting.
fn scan(bin: &[u8]) -> Result<Scan, String> {
    let mut s = Scan {
        recipients: Vec::new(),
        skesk: false,
        container: Container::None,
    };
    let mut ppr = PacketParserBuilder::from_bytes(bin)
        .and_then(|b| b.dearmor(openpgp::parse::Dearmor::Disabled).build())
        .map_err(|e| format!("not an OpenPGP message: {}", keys::short(&e)))?;
    while let PacketParserResult::Some(pp) = ppr {
        match &pp.packet {
            Packet::PKESK(p) => s.recipients.push(p.recipient()),
            Packet::SKESK(_) => s.skesk = true,
            Packet::Marker(_) => {}
            Packet::SEIP(_) => {
                s.container = Container::Seip;
                break;
            }
            Packet::Unknown(u) if u.tag() == Tag::SED => {
                s.container = Container::Sed;
                break;
            }
            Packet::Unknown(u) if u.tag() == Tag::AED => {
                s.container = Container::Aead;
                break;
            }
            _ => break,
        }
        ppr = match pp.next() {
            Ok((_, next)) => next,
            Err(e) => return Err(format!("malformed OpenPGP message: {}", keys::short(&e))),
        };
    }
    Ok(s)
}

/// Decrypts `data` with the project keys; signatures inside are verified with the known certs
/// plus `extra`.
pub(super) fn decrypt(data: &[u8], ctx: &Ctx, extra: &[Cert]) -> Decrypted {
    let bin = match dearmor(data) {
        Ok(b) => b,
        Err(r) => return Decrypted::Damaged(r),
    };
    let scan = match scan(&bin) {
        Ok(s) => s,
        Err(r) => return Decrypted::Damaged(r),
    };
    let recipients: Vec<String> = scan
        .recipients
        .iter()
        .map(|r| match r {
            Some(h) => h.to_hex(),
            None => "0000000000000000".into(),
        })
        .collect();
    match scan.container {
        Container::None => {
            return Decrypted::Damaged("not encrypted: no encrypted data packet".into())
        }
        // RFC 9580 §5.7: SED must not be decrypted without integrity protection (EFAIL).
        Container::Sed => return Decrypted::NoIntegrity,
        _ => {}
    }
    let ours = our_keys(ctx.keys);
    let for_us = scan.recipients.iter().any(|r| match r {
        None => true, // hidden recipient: try our keys
        Some(h) => ours.iter().any(|k| k.handle.aliases(h)),
    });
    if !for_us {
        let _ = scan.skesk; // passphrase-encrypted mail is not for us either
        return Decrypted::NotForUs(recipients);
    }
    if let Container::Aead = scan.container {
        return aead::decrypt(&bin, ctx, extra, &ours);
    }
    let unlocked = std::cell::Cell::new(false);
    let got_key = std::cell::Cell::new(false);
    let helper = Helper {
        ours: &ours,
        certs: certs_for(ctx, extra),
        now: ctx.now,
        decrypted: &unlocked,
        got_key: &got_key,
        results: Vec::new(),
    };
    let decryptor = DecryptorBuilder::from_bytes(&bin[..]).and_then(|b| {
        b.buffer_size(MAX_PLAINTEXT.min(8 << 20))
            .with_policy(POLICY, ctx.now, helper)
    });
    let mut decryptor = match decryptor {
        Ok(d) => d,
        Err(e) => return decrypt_error(&e, unlocked.get(), got_key.get(), recipients),
    };
    let mut plaintext = Vec::new();
    let read = (&mut decryptor)
        .take(MAX_PLAINTEXT as u64 + 1)
        .read_to_end(&mut plaintext);
    let helper = decryptor.into_helper();
    if let Err(e) = read {
        plaintext.clear();
        let e = anyhow::Error::from(e);
        return decrypt_error(&e, unlocked.get(), got_key.get(), recipients);
    }
    if plaintext.len() > MAX_PLAINTEXT {
        return Decrypted::Damaged("decrypted content larger than 64 MiB".into());
    }
    Decrypted::Plain {
        plaintext,
        sigs: helper.results,
    }
}

/// `decrypted`: a session key was accepted; `got_key`: one of our keys yielded a session key
/// (if the container then rejected it, the ciphertext was modified: SEIPDv2 checks the first
/// chunk's tag before accepting the key).
fn decrypt_error(
    e: &anyhow::Error,
    decrypted: bool,
    got_key: bool,
    recipients: Vec<String>,
) -> Decrypted {
    let manipulated = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<openpgp::Error>(),
            Some(openpgp::Error::ManipulatedMessage)
        )
    });
    if manipulated {
        return Decrypted::Damaged("integrity check failed: the ciphertext was modified".into());
    }
    if !decrypted && got_key {
        return Decrypted::Damaged("integrity check failed: the ciphertext was modified".into());
    }
    if !decrypted {
        let msg = e.to_string().to_lowercase();
        if msg.contains("no key to decrypt") {
            return Decrypted::NotForUs(recipients);
        }
        return Decrypted::Damaged(format!("decryption failed: {}", keys::short(e)));
    }
    // After the session key: the content failed (decompression, packet structure, MDC).
    Decrypted::Damaged(format!(
        "decrypted content is damaged (integrity not confirmed): {}",
        keys::short(e)
    ))
}

/// One of our secret decryption keys.
pub(super) struct OurKey {
    handle: KeyHandle,
    cert: Cert,
    key: openpgp::packet::Key<
        openpgp::packet::key::SecretParts,
        openpgp::packet::key::UnspecifiedRole,
    >,
}

/// Every unlocked secret key of every project cert that can decrypt. Validity is not checked:
/// mail encrypted to an expired or revoked key is still ours to read.
fn our_keys(keys: &ProjectKeys) -> Vec<OurKey> {
    let mut out = Vec::new();
    for cert in keys.tsks() {
        for ka in cert.keys().secret() {
            let key = ka.key();
            if !key.has_unencrypted_secret() || !key.pk_algo().for_encryption() {
                continue;
            }
            out.push(OurKey {
                handle: KeyHandle::from(key.fingerprint()),
                cert: cert.clone(),
                key: key.clone(),
            });
        }
    }
    out
}

/// Tries our keys on the PKESKs; `try_sk` is called with each candidate session key until it
/// accepts one. Named recipients first, then hidden (wildcard) recipients with every key.
pub(super) fn unlock_session<T>(
    pkesks: &[PKESK],
    ours: &[OurKey],
    sym_algo: Option<SymmetricAlgorithm>,
    mut try_sk: impl FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> Option<T>,
) -> Option<(T, Fingerprint)> {
    // Each try is a private-key operation: an attacker's message naming our key in thousands
    // of PKESKs must not buy that many (SECURITY.md, cost bombs).
    let mut budget = MAX_DECRYPTION_ATTEMPTS;
    let named = pkesks.iter().filter_map(|p| Some((p, p.recipient()?)));
    for (pkesk, rcpt) in named {
        for k in ours.iter().filter(|k| k.handle.aliases(&rcpt)) {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            if let Some(r) = try_key(pkesk, k, sym_algo, &mut try_sk) {
                return Some(r);
            }
        }
    }
    for pkesk in pkesks.iter().filter(|p| p.recipient().is_none()) {
        for k in ours {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            if let Some(r) = try_key(pkesk, k, sym_algo, &mut try_sk) {
                return Some(r);
            }
        }
    }
    None
}

/// Private-key operations one message may cost: a real message names each of our keys once
/// (a re-encrypted or multi-key one a few times).
pub const MAX_DECRYPTION_ATTEMPTS: usize = 8;

fn try_key<T>(
    pkesk: &PKESK,
    k: &OurKey,
    sym_algo: Option<SymmetricAlgorithm>,
    try_sk: &mut impl FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> Option<T>,
) -> Option<(T, Fingerprint)> {
    let mut pair = k.key.clone().into_keypair().ok()?;
    let (algo, sk) = pkesk.decrypt(&mut pair, sym_algo)?;
    try_sk(algo, &sk).map(|t| (t, k.cert.fingerprint()))
}

struct Helper<'a> {
    ours: &'a [OurKey],
    certs: Vec<Cert>,
    now: SystemTime,
    /// Set once a session key was accepted (outlives the helper, which the builder consumes).
    decrypted: &'a std::cell::Cell<bool>,
    /// Set once one of our keys yielded a session key, accepted or not.
    got_key: &'a std::cell::Cell<bool>,
    results: Vec<Signature>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        self.results = signatures_of(structure, self.now);
        // Bad signatures are recorded, never fatal: the caller decides what they mean.
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let got_key = self.got_key;
        let found = unlock_session(pkesks, self.ours, sym_algo, |algo, sk| {
            got_key.set(true);
            decrypt(algo, sk).then_some(())
        });
        match found {
            Some(((), fpr)) => {
                self.decrypted.set(true);
                Ok(self
                    .ours
                    .iter()
                    .find(|k| k.cert.fingerprint() == fpr)
                    .map(|k| k.cert.clone().strip_secret_key_material()))
            }
            None => Err(anyhow::anyhow!("No key to decrypt message")),
        }
    }
}
