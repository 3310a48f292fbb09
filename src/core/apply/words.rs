//! The words a case's timeline and the operator's log use for how a message was read: its
//! encryption and its signature (the `encryption` and `signature` of `EventKind::Received`).
//!
//! Invariant: "good" is said only of a signature bound to the From address
//! (`Opened::verified_sender`, DESIGN.md "OpenPGP"); a good signature by anyone else is
//! "good-unverified".
use crate::core::decrypt::{Crypt, Opened, SigStatus};

/// The encryption as recorded: clear, decrypted, or why it was not.
pub fn encryption_word(o: &Crypt) -> String {
    match o {
        Crypt::Clear => "clear",
        Crypt::Decrypted => "decrypted",
        Crypt::NotForUs { .. } => "not-for-us",
        Crypt::NoIntegrity => "no-integrity",
        Crypt::Damaged(_) => "damaged",
    }
    .to_string()
}

/// The signature result as recorded, and the signing fingerprint.
pub fn signature_word(opened: &Opened, from: &str) -> (String, Option<String>) {
    if let Some(fpr) = opened.verified_sender(from) {
        return ("good".into(), Some(fpr));
    }
    let Some(sig) = opened.signatures.first() else {
        return ("none".into(), None);
    };
    let word = match sig.status {
        SigStatus::Good => "good-unverified",
        SigStatus::Bad => "bad",
        SigStatus::UnknownKey => "unknown-key",
        SigStatus::Expired => "expired",
        SigStatus::Revoked => "revoked",
    };
    (
        word.into(),
        sig.fingerprint.clone().or_else(|| Some(sig.issuer.clone())),
    )
}
