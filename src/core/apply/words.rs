//! The words a case's timeline, the stored message record and the operator's log use for how a
//! message was read: its encryption ([`Encryption`]) and its signature ([`Signed`]), typed, and
//! written as the same words stores and backups have always held (`"decrypted"`,
//! `"good-unverified"`, …: the `encryption` and `signature` of `EventKind::Received` and of
//! `pipeline::MessageRecord`).
//!
//! Invariant: "good" is said only of a signature bound to the From address
//! (`Opened::verified_sender`, DESIGN.md "OpenPGP"); a good signature by anyone else is
//! "good-unverified".
use crate::core::decrypt::{Crypt, Opened, SigStatus};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a message's encryption came out, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Encryption {
    Clear,
    Decrypted,
    NotForUs,
    NoIntegrity,
    Damaged,
    /// Not opened at all: a machine's mail, or a message refused before decryption.
    NotOpened,
}

/// A message's signature as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Signed {
    None,
    /// Good and bound to the From address.
    Good,
    /// Good, by a cert that does not carry the From address.
    GoodUnverified,
    Bad,
    UnknownKey,
    Expired,
    Revoked,
}

impl Encryption {
    const ALL: [Encryption; 6] = [
        Encryption::Clear,
        Encryption::Decrypted,
        Encryption::NotForUs,
        Encryption::NoIntegrity,
        Encryption::Damaged,
        Encryption::NotOpened,
    ];

    /// What decryption came to, in the recorded word.
    pub fn of(o: &Crypt) -> Encryption {
        match o {
            Crypt::Clear => Encryption::Clear,
            Crypt::Decrypted => Encryption::Decrypted,
            Crypt::NotForUs { .. } => Encryption::NotForUs,
            Crypt::NoIntegrity => Encryption::NoIntegrity,
            Crypt::Damaged(_) => Encryption::Damaged,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Clear => "clear",
            Encryption::Decrypted => "decrypted",
            Encryption::NotForUs => "not-for-us",
            Encryption::NoIntegrity => "no-integrity",
            Encryption::Damaged => "damaged",
            Encryption::NotOpened => "not-opened",
        }
    }

    pub fn parse(s: &str) -> Option<Encryption> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl Signed {
    const ALL: [Signed; 7] = [
        Signed::None,
        Signed::Good,
        Signed::GoodUnverified,
        Signed::Bad,
        Signed::UnknownKey,
        Signed::Expired,
        Signed::Revoked,
    ];

    /// The signature of `opened` as recorded for a message from `from`, and the signing
    /// fingerprint (or issuer).
    pub fn of(opened: &Opened, from: &str) -> (Signed, Option<String>) {
        if let Some(fpr) = opened.verified_sender(from) {
            return (Signed::Good, Some(fpr));
        }
        let Some(sig) = opened.signatures.first() else {
            return (Signed::None, None);
        };
        let word = match sig.status {
            SigStatus::Good => Signed::GoodUnverified,
            SigStatus::Bad => Signed::Bad,
            SigStatus::UnknownKey => Signed::UnknownKey,
            SigStatus::Expired => Signed::Expired,
            SigStatus::Revoked => Signed::Revoked,
        };
        (
            word,
            sig.fingerprint.clone().or_else(|| Some(sig.issuer.clone())),
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signed::None => "none",
            Signed::Good => "good",
            Signed::GoodUnverified => "good-unverified",
            Signed::Bad => "bad",
            Signed::UnknownKey => "unknown-key",
            Signed::Expired => "expired",
            Signed::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Signed> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The encryption as recorded: clear, decrypted, or why it was not.
pub fn encryption_word(o: &Crypt) -> Encryption {
    Encryption::of(o)
}

/// The signature result as recorded, and the signing fingerprint.
pub fn signature_word(opened: &Opened, from: &str) -> (Signed, Option<String>) {
    Signed::of(opened, from)
}

/// Display, the string conversions serde uses, and comparison with the words themselves.
macro_rules! word {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl From<$t> for String {
            fn from(w: $t) -> String {
                w.as_str().to_string()
            }
        }
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<$t, String> {
                <$t>::parse(&s).ok_or_else(|| format!("unknown {} word {s:?}", $what))
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
word!(Encryption, "encryption");
word!(Signed, "signature");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for e in Encryption::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            assert_eq!(serde_json::from_str::<Encryption>(&json).unwrap(), e);
        }
        for s in Signed::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Signed>(&json).unwrap(), s);
        }
        assert!(serde_json::from_str::<Signed>("\"so-so\"").is_err());
        assert_eq!(Encryption::NotForUs, "not-for-us");
        assert_eq!(Signed::GoodUnverified.to_string(), "good-unverified");
    }
}
