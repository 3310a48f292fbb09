//! Runs every message of the shared OpenPGP interop corpus (Thunderbird, Delta Chat, notmuch;
//! see `shared/interop/README.md`) through `decrypt::message` and checks each against a row of
//! [`EXPECTED`], derived from `INDEX.json` (`expected_handling`, `notes`, `crypto_checks`) and a
//! careful client's reading.
//!
//! The corpus is read from `$SECMAIL_SHARED/interop`, else `$CARGO_MANIFEST_DIR/../shared/interop`;
//! nothing of it is copied into this repository (licences: MPL-2.0, GPL-3.0+). When the corpus
//! is missing the test fails under `CI` and otherwise warns loudly and passes.
//!
//! Keys: each message gets a freshly generated project signing key first (so that
//! `ProjectKeys` always has a usable signer) plus the secret keys INDEX.json lists under
//! `secret_keys_that_decrypt` — or, where that list is empty because gpg failed on purpose
//! (tampered / no-MDC ciphertext), the key INDEX.json names under `encrypted_to_keyids`, so
//! that the integrity checks run with the right key instead of stopping at "not for us".
//! Known certs: every public cert of the corpus except Carol's (carol@example.com), which
//! Thunderbird's tests deliberately do not import: her attached key must be learnt.
//! Time is fixed at 2026-11-28 (Benny's key expired 2025-10-20).
#![allow(clippy::disallowed_methods)] // tests and benchmarks may read the real clock

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use secmail::core::decrypt::{self, CertSource, Crypt, Form, Opened, SigStatus};
use secmail::core::keys::{self, Cert, ProjectKeys};
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::serialize::Serialize;
use CertSource::{Attached, AttachedSigner, Autocrypt};
use SigStatus::{Bad, Good, UnknownKey};

/// 2026-11-28T00:00:00Z
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_824_000)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum O {
    Clear,
    Decrypted,
    NotForUs,
    NoIntegrity,
    Damaged,
}

fn class(o: &Crypt) -> O {
    match o {
        Crypt::Clear => O::Clear,
        Crypt::Decrypted => O::Decrypted,
        Crypt::NotForUs { .. } => O::NotForUs,
        Crypt::NoIntegrity => O::NoIntegrity,
        Crypt::Damaged(_) => O::Damaged,
    }
}

const DUMP: bool = false;

/// Prints the row `EXPECTED` would need for the current behaviour (for review, never copied
/// blindly).
fn dump_row(path: &str, o: &Opened) {
    let has = if o.text.contains("Sundays are nothing without callaloo.") {
        "Some(CALLALOO)".to_string()
    } else {
        let first: String = o
            .text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .chars()
            .take(40)
            .collect();
        if first.is_empty() {
            "None".into()
        } else {
            format!("Some({first:?})")
        }
    };
    let sigs: Vec<String> = o
        .signatures
        .iter()
        .map(|s| format!("{:?}", s.status))
        .collect();
    let certs: Vec<String> = o.certs.iter().map(|c| format!("{:?}", c.source)).collect();
    eprintln!(
        "    Expect {{ file: {path:?}, form: {:?}, outcome: {:?}, has: {has}, hides: None, sigs: &[{}], subject: {:?}, certs: &[{}], unauth: {} }},",
        o.form,
        class(&o.outcome),
        sigs.join(", "),
        o.protected.subject,
        certs.join(", "),
        !o.unauthenticated.is_empty()
    );
}

fn dump(path: &str, o: &Opened) {
    let sigs: Vec<String> = o
        .signatures
        .iter()
        .map(|s| format!("{:?}:{}:{:?}", s.status, s.issuer, s.signer_emails))
        .collect();
    let certs: Vec<String> = o
        .certs
        .iter()
        .map(|c| format!("{:?}:{}", c.source, keys::fingerprint(&c.cert)))
        .collect();
    let text: String = o.text.chars().take(90).collect();
    eprintln!(
        "{path}\n   form={:?} outcome={:?}\n   text={:?}\n   unauth={:?}\n   sigs={:?}\n   subject={:?} certs={:?} autocrypt={} attachments={:?}",
        o.form,
        o.outcome,
        text,
        o.unauthenticated.iter().map(|u| u.chars().take(40).collect::<String>()).collect::<Vec<_>>(),
        sigs,
        o.protected.subject,
        certs,
        o.autocrypt.is_some(),
        o.attachments.iter().map(|a| (a.filename.clone(), a.content_type.clone(), a.data.len())).collect::<Vec<_>>(),
    );
}

fn shared_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("SECMAIL_SHARED") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    let dir = base.join("interop");
    dir.join("INDEX.json").is_file().then_some(dir)
}

fn key_path(entry: &str) -> String {
    // "path (passphrase x)" / "path (subkey)" -> path
    entry.split(" (").next().unwrap_or(entry).to_string()
}

#[test]
fn interop_corpus() {
    let Some(dir) = shared_dir() else {
        if std::env::var_os("CI").is_some() {
            panic!("interop corpus missing (set SECMAIL_SHARED)");
        }
        eprintln!("\n!!!!!!!! WARNING: interop corpus not found; interop test SKIPPED !!!!!!!!\n");
        return;
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("INDEX.json")).expect("read INDEX.json"))
            .expect("parse INDEX.json");
    let messages = index["messages"].as_array().expect("messages");

    let project = CertBuilder::general_purpose(Some("Project <security@example.org>"))
        .set_creation_time(now() - Duration::from_secs(86_400))
        .generate()
        .expect("generate project key")
        .0;
    let mut project_tsk = Vec::new();
    project.as_tsk().serialize(&mut project_tsk).expect("tsk");

    let known = known_certs(&dir);
    let mut ran = 0;
    let mut failures = Vec::new();
    for m in messages {
        let path = m["path"].as_str().expect("path");
        let raw = std::fs::read(dir.join(path)).expect("read message");
        let mut items = vec![("project".to_string(), project_tsk.clone())];
        let mut listed: Vec<String> = m["secret_keys_that_decrypt"]
            .as_array()
            .map(|a| a.iter().filter_map(|k| k.as_str()).map(key_path).collect())
            .unwrap_or_default();
        if listed.is_empty() {
            listed = m["encrypted_to_keyids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k["key_file"].as_str())
                        .map(key_path)
                        .collect()
                })
                .unwrap_or_default();
        }
        for k in &listed {
            items.push((k.clone(), std::fs::read(dir.join(k)).expect("read key")));
        }
        let pk = ProjectKeys::from_secret_keys(&items, Some("x"), now()).expect("load keys");
        let opened = decrypt::message(&raw, &pk, &known, now());
        ran += 1;
        if DUMP || std::env::var_os("SECMAIL_INTEROP_DUMP").is_some() {
            dump(path, &opened);
        }
        if std::env::var_os("SECMAIL_INTEROP_ROWS").is_some() {
            dump_row(path, &opened);
        }
        match EXPECTED.iter().find(|e| e.file == path) {
            None => failures.push(format!("{path}: no row in EXPECTED")),
            Some(e) => {
                if let Err(why) = check(e, &opened) {
                    failures.push(format!("{path}: {why}"));
                }
            }
        }
    }
    for e in EXPECTED {
        if !messages.iter().any(|m| m["path"].as_str() == Some(e.file)) {
            failures.push(format!("{}: row without a message in INDEX.json", e.file));
        }
    }
    assert!(ran > 0, "no message ran");
    eprintln!("interop: {ran} messages run, {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "interop failures:\n{}",
        failures.join("\n")
    );
}

/// The OCB AEAD message with one ciphertext character changed: the chunk tag fails, no
/// plaintext. And the multi-From message: only Bob, the signer, is a verified sender.
#[test]
fn interop_tampered_aead_and_multi_from() {
    let Some(dir) = shared_dir() else {
        if std::env::var_os("CI").is_some() {
            panic!("interop corpus missing (set SECMAIL_SHARED)");
        }
        eprintln!("\n!!!!!!!! WARNING: interop corpus not found; test SKIPPED !!!!!!!!\n");
        return;
    };
    let bob = "thunderbird/keys/bob@openpgp.example-0xfbfcc82a015e7330-secret.asc";
    let alice = "thunderbird/keys/alice@openpgp.example-0xf231550c4f47e38e-secret.asc";
    let load = |k: &str| (k.to_string(), std::fs::read(dir.join(k)).expect("key"));
    let pk = ProjectKeys::from_secret_keys(&[load(bob), load(alice)], None, now()).expect("keys");
    let raw =
        std::fs::read_to_string(dir.join("thunderbird/eml/rc-openpgp-aead.eml")).expect("read");
    let start = raw.find("-----BEGIN PGP MESSAGE-----").expect("armor");
    // A character in the middle of the third base64 line.
    let line = raw[start..]
        .match_indices('\n')
        .nth(3)
        .map(|(i, _)| start + i + 20)
        .expect("line");
    let mut bytes = raw.into_bytes();
    bytes[line] = if bytes[line] == b'A' { b'B' } else { b'A' };
    let o = decrypt::message(&bytes, &pk, &[], now());
    assert!(matches!(o.outcome, Crypt::Damaged(_)), "{:?}", o.outcome);
    assert!(o.text.is_empty());

    let raw = std::fs::read(dir.join(
        "thunderbird/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-multi-from.eml",
    ))
    .expect("read");
    let o = decrypt::message(&raw, &pk, &known_certs(&dir), now());
    assert_eq!(o.verified_sender("Eve <eve@openpgp.example>"), None);
    assert_eq!(
        o.verified_sender("bob@openpgp.example").as_deref(),
        Some("D1A66E1A23B182C9980F788CFBFCC82A015E7330")
    );
}

fn known_certs(dir: &Path) -> Vec<Cert> {
    let files = [
        "thunderbird/keys/alice@openpgp.example-0xf231550c4f47e38e-pub.asc",
        "thunderbird/keys/bob@openpgp.example-0xfbfcc82a015e7330-pub.asc",
        "thunderbird/keys/alice@example.com-0xf2823b8f6c9a7553-secret.asc",
        "thunderbird/keys/bob@example.com-0x4b6454a0c3cb51d0-pub.asc",
        "thunderbird/keys/benny-hashwell-0xc55ccd9c5ab482b2-pub.asc",
        "deltachat/alice-public.asc",
        "deltachat/bob-public.asc",
        "notmuch/openpgp4-secret-key.asc",
    ];
    files
        .iter()
        .map(|f| keys::parse_cert(&std::fs::read(dir.join(f)).expect("read cert")).expect("cert"))
        .collect()
}

/// One message's expectation.
struct Expect {
    file: &'static str,
    form: Form,
    outcome: O,
    /// A phrase that must be in `text`.
    has: Option<&'static str>,
    /// A phrase that must not be in `text`: secret content that must stay hidden, or clear
    /// text that must not be spliced into authenticated text (EFAIL).
    hides: Option<&'static str>,
    /// Statuses of the signatures, in order.
    sigs: &'static [SigStatus],
    /// The protected subject.
    subject: Option<&'static str>,
    /// Sources of learnt certs, in order.
    certs: &'static [CertSource],
    /// Some unauthenticated clear text is kept apart.
    unauth: bool,
}

fn check(e: &Expect, o: &Opened) -> Result<(), String> {
    let mut why = Vec::new();
    if o.form != e.form {
        why.push(format!("form {:?} != {:?}", o.form, e.form));
    }
    if class(&o.outcome) != e.outcome {
        why.push(format!("outcome {:?} != {:?}", o.outcome, e.outcome));
    }
    if let Some(p) = e.has {
        if !o.text.contains(p) {
            why.push(format!("text lacks {p:?}"));
        }
    }
    if let Some(p) = e.hides {
        if o.text.contains(p) {
            why.push(format!("text shows {p:?}"));
        }
    }
    let sigs: Vec<SigStatus> = o.signatures.iter().map(|s| s.status).collect();
    if sigs != e.sigs {
        why.push(format!("signatures {sigs:?} != {:?}", e.sigs));
    }
    if o.protected.subject.as_deref() != e.subject {
        why.push(format!(
            "subject {:?} != {:?}",
            o.protected.subject, e.subject
        ));
    }
    let certs: Vec<CertSource> = o.certs.iter().map(|c| c.source).collect();
    if certs != e.certs {
        why.push(format!("certs {certs:?} != {:?}", e.certs));
    }
    if o.unauthenticated.is_empty() == e.unauth {
        why.push(format!("unauthenticated {:?}", o.unauthenticated.len()));
    }
    if !matches!(o.outcome, Crypt::Clear | Crypt::Decrypted) && !o.text.is_empty() {
        why.push("failed outcome with text".into());
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

const CALLALOO: &str = "Sundays are nothing without callaloo.";

const EXPECTED: &[Expect] = &[
    Expect { file: "thunderbird/eml/alice-broken-exchange.eml", form: Form::ExchangeRepaired, outcome: O::Decrypted, has: Some("Test message"), hides: None, sigs: &[], subject: None, certs: &[Attached], unauth: false },
    Expect { file: "thunderbird/eml/alice-partially-encrypted.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("Plain text test message"), hides: Some("Additional unexpected text"), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/alice-signed.eml", form: Form::Inline, outcome: O::Clear, has: Some("Hello Bob,"), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/alice-utf.eml", form: Form::Inline, outcome: O::Clear, has: Some("1.00 Month, Services"), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/bob-enc-html-nbsp.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("My real name is not Bob."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/bob-enc-inline-nbsp-qp.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("My real name is not Bob."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/bob-to-alice-signed-damaged-signature.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Bad], subject: Some("Signed Message"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/dual-signed-uncommon-content-type.eml", form: Form::Signed, outcome: O::Clear, has: Some("This e-mail is signed with both an S/MIM"), hides: None, sigs: &[Bad], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/enc-to-carol@pgp.icu-revoked.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("billie-jean"), hides: None, sigs: &[UnknownKey], subject: Some("encrypted with revoked key"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/encrypted-and-signed-alice-to-bob-nonascii.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("Detta är krypterat!"), hides: None, sigs: &[Good], subject: Some("Re: kod blå"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/encrypted-to-alice-as-hidden-recipient.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("hidden recipient encryption"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/eve-duplicate.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[Attached, Attached], unauth: false },
    Expect { file: "thunderbird/eml/forwarded-eml-signed-by-alice.eml", form: Form::Clear, outcome: O::Clear, has: Some("See the attached note from alice."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/fwd-signed.eml", form: Form::Clear, outcome: O::Clear, has: Some("outer text"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/fwd-unsigned-encrypted.eml", form: Form::Clear, outcome: O::Clear, has: Some("wrapper message with plain text"), hides: Some(CALLALOO), sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/inline-signed-latin1.eml", form: Form::Inline, outcome: O::Clear, has: Some("àèìòù"), hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/inline-signed-utf8.eml", form: Form::Inline, outcome: O::Clear, has: Some("àèìòù"), hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/inner-smime-sig-in-pgp-encrypted.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/multiple-signatures.eml", form: Form::Clear, outcome: O::Clear, has: Some("Send dovecot mailing list submissions to"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/openpgp__stripped_sig.eml", form: Form::Clear, outcome: O::Clear, has: Some("This is a test."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-pgp-sig-inner-pgp-enc-sig.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-pgp-sig-inner-pgp-enc-with-mixed.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some(CALLALOO), sigs: &[UnknownKey], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/outer-pgp-sig-inner-pgp-enc.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-pgp-sig-inner-smime-enc-sig.eml", form: Form::Signed, outcome: O::Clear, has: None, hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-pgp-sig-inner-smime-enc.eml", form: Form::Signed, outcome: O::Clear, has: None, hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-smime-bad-sig-inner-pgp-enc-sig-with-mixed.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some(CALLALOO), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/outer-smime-bad-sig-inner-pgp-enc-sig.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-smime-bad-sig-inner-pgp-enc.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-smime-bad-sig-inner-smime-enc-sig.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/outer-smime-bad-sig-inner-smime-enc.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/partial-encrypt-for-alice-html.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("Insert a coin to play your personal luck"), hides: Some("prefix"), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-encrypt-for-alice-plaintext.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("Insert a coin to play your personal luck"), hides: Some("prefix"), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-encrypt-for-carol-html.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("Insert a coin to play your personal luck"), hides: None, sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-encrypt-for-carol-plaintext.eml", form: Form::Inline, outcome: O::Decrypted, has: Some("Insert a coin to play your personal luck"), hides: None, sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-signed-from-bob-html.eml", form: Form::Inline, outcome: O::Clear, has: Some("Insert a coin to play your personal luck"), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-signed-from-bob-plaintext.eml", form: Form::Inline, outcome: O::Clear, has: Some("Insert a coin to play your personal luck"), hides: Some("suffix"), sigs: &[Good], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-signed-from-carol-html.eml", form: Form::Inline, outcome: O::Clear, has: Some("Insert a coin to play your personal luck"), hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/partial-signed-from-carol-plaintext.eml", form: Form::Inline, outcome: O::Clear, has: Some("Insert a coin to play your personal luck"), hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/rc-openpgp-aead.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("Integrity-protected secret body."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/rc-openpgp-mdc-tampered.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some("secret body"), sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/rc-openpgp-mdc.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("Integrity-protected secret body."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/rc-openpgp-mixed-subpart.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some("Integrity-protected secret body"), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "thunderbird/eml/rc-openpgp-nomdc.eml", form: Form::PgpMime, outcome: O::NoIntegrity, has: None, hides: Some("secret body"), sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/rc-openpgp-sigwrap-mdc.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("Integrity-protected secret body."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/rc-openpgp-sigwrap-nomdc.eml", form: Form::PgpMime, outcome: O::NoIntegrity, has: None, hides: Some("secret body"), sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e-with-key.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted With Key"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf2823b8f6c9a7553-autocrypt.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted Autocrypt"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf2823b8f6c9a7553.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted-with-key.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted With Key"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Unencrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-to-0xf2823b8f6c9a7553-unencrypted-autocrypt.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted Autocrypt"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x3099ff1238852b9f-to-0xf2823b8f6c9a7553-unencrypted.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[UnknownKey], subject: Some("Signed Unencrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x4b6454a0c3cb51d0-encrypted-to-0xf2823b8f6c9a7553-autocrypt.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted Autocrypt"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x4b6454a0c3cb51d0-encrypted-to-0xf2823b8f6c9a7553.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x4b6454a0c3cb51d0-to-0xf2823b8f6c9a7553-unencrypted-autocrypt.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted Autocrypt"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0x4b6454a0c3cb51d0-to-0xf2823b8f6c9a7553-unencrypted.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-multi-from.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-with-key.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted With Key"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-in-mixed.eml", form: Form::Clear, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-with-key.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted With Key"), certs: &[AttachedSigner, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-encrypted-autocrypt-gossip.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("This is a signed, encrypted message comp"), hides: None, sigs: &[Good], subject: Some("Compose Signed Encrypted Message"), certs: &[Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/signed-inline-indented.eml", form: Form::Inline, outcome: O::Clear, has: Some("indent test with £"), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-mismatch-email-date.eml", form: Form::Signed, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[Good], subject: Some("Signed Unencrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/signed-with-mailman-footer.eml", form: Form::Clear, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/sigspoof-git-commit.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some("fired"), sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unob-signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e.eml", form: Form::Clear, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unrelated-and-fake-keys-attached.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[Attached, Attached, Attached], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f-with-key.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted With Key"), certs: &[Attached, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330-with-key.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted With Key"), certs: &[Attached, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf2823b8f6c9a7553-from-0x3099ff1238852b9f-autocrypt.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted Autocrypt"), certs: &[Attached, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf2823b8f6c9a7553-from-0x3099ff1238852b9f.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf2823b8f6c9a7553-from-0x4b6454a0c3cb51d0-autocrypt.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted Autocrypt"), certs: &[Attached, Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-encrypted-to-0xf2823b8f6c9a7553-from-0x4b6454a0c3cb51d0.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some(CALLALOO), hides: None, sigs: &[], subject: Some("Unsigned Encrypted"), certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-unencrypted-0x3099ff1238852b9f-autocrypt.eml", form: Form::Clear, outcome: O::Clear, has: Some("This is autocrypt only."), hides: None, sigs: &[], subject: None, certs: &[Autocrypt], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-unencrypted-from-bob-to-alice.eml", form: Form::Clear, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "thunderbird/eml/unsigned-unencrypted-key-0x1f10171bfb881b1c-attached.eml", form: Form::Clear, outcome: O::Clear, has: Some("Hey, the key 0x1F10171BFB881B1C (for jdo"), hides: None, sigs: &[], subject: None, certs: &[Attached], unauth: false },
    Expect { file: "thunderbird/eml-variants/signed-with-mailman-footer.68986de0.eml", form: Form::Clear, outcome: O::Clear, has: Some(CALLALOO), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "deltachat/protonmail-mixed-up.eml", form: Form::ExchangeRepaired, outcome: O::Damaged, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "deltachat/protonmail-repaired.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "deltachat/google-workspace-mixed-up.eml", form: Form::ExchangeRepaired, outcome: O::Decrypted, has: Some("Hello from Thunderbird!"), hides: None, sigs: &[Good], subject: Some("Hello, Bob!"), certs: &[], unauth: false },
    Expect { file: "deltachat/mixed-up-long.eml", form: Form::ExchangeRepaired, outcome: O::Decrypted, has: Some("//! # Blob directory management."), hides: None, sigs: &[UnknownKey], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/basic-encrypted.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("The password is \"abcd1234!\", please do n"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/encrypted-rfc822-attachment", form: Form::PgpMime, outcome: O::Decrypted, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/encrypted-signed.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("My father was the keeper of the Eddyston"), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/double-wrapped-with-phony-protected-header.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/encrypted-message-with-forwarded-attachment.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("Check out this forwarded message:"), hides: None, sigs: &[], subject: Some("This is the cryptographic envelope subject"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/encrypted-signed-not-masked.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("My Rhinoceros likes donuts,"), hides: None, sigs: &[Good], subject: Some("Rhinoceros dinner"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/encrypted-signed.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("My Rhinoceros likes donuts,"), hides: None, sigs: &[Good], subject: Some("Rhinoceros dinner"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/misplaced-protected-header.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("This is an example message that has wron"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/nested-rfc822-message.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("I think this works.  Thanks, Alexey Meln"), hides: None, sigs: &[], subject: Some("This is a message using draft-melnikov-smime-header-signing"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/no-protected-header-attribute.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("This is the sekrit message"), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/phony-protected-header-bad-encryption.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/protected-header.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("This is the sekrit message"), hides: None, sigs: &[], subject: Some("This is a protected header"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/protected-with-legacy-display.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("I think you know how the punchline for t"), hides: None, sigs: &[Good], subject: Some("Interrupting Cow"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/signed-protected-header.eml", form: Form::Signed, outcome: O::Clear, has: Some("Here is the signed message body."), hides: None, sigs: &[Good], subject: Some("This is a signed message"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/simple-signed-mail.eml", form: Form::Signed, outcome: O::Clear, has: Some("Here is the signed message body."), hides: None, sigs: &[Good], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/smime-enc+legacy-disp.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/smime-multipart-signed.eml", form: Form::Clear, outcome: O::Clear, has: Some("Bob, we need to cancel this contract."), hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/smime-onepart-signed.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/smime-sign+enc+legacy-disp.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/smime-sign+enc.eml", form: Form::Clear, outcome: O::Clear, has: None, hides: None, sigs: &[], subject: None, certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/subjectless-protected-header.eml", form: Form::PgpMime, outcome: O::Decrypted, has: Some("This is the sekrit message"), hides: None, sigs: &[], subject: Some("This is a protected header"), certs: &[], unauth: false },
    Expect { file: "notmuch/protected-headers/wrapped-protected-header.eml", form: Form::PgpMime, outcome: O::Damaged, has: None, hides: Some("sekrit"), sigs: &[], subject: None, certs: &[], unauth: true },
    Expect { file: "notmuch/simple-encrypted", form: Form::PgpMime, outcome: O::NotForUs, has: None, hides: Some("top sekrit"), sigs: &[], subject: None, certs: &[], unauth: false },
];
