//! Every message of ../shared/interop (Thunderbird, Delta Chat, notmuch…) through the whole
//! pipeline, with the project holding the corpus key that message was encrypted to (beside the
//! demo signing key, as after a key rollover). The outcome must follow from what decryption
//! found: readable mail opens a case and is answered; mail not to our key opens a case and the
//! sender learns our fingerprint; ciphertext without integrity or damaged is quarantined and
//! opens nothing. Whatever happens: the team only ever gets encrypted copies, and no clear
//! header of anything we send carries the message's protected subject.
use super::common::{shared, Pipeline};
use secmail::core::apply::Disposition;
use secmail::core::decrypt::{self, Crypt};
use secmail::core::effect::Queued;
use secmail::core::keys::{self, ProjectKeys};
use std::path::Path;

fn key_path(entry: &str) -> &str {
    // "path (passphrase x)" / "path (subkey)" -> path
    entry.split(" (").next().unwrap_or(entry).trim()
}

#[test]
fn every_interop_message_through_the_pipeline() {
    let Some(shared) = shared() else { return };
    let interop = shared.join("interop");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(interop.join("INDEX.json")).unwrap()).unwrap();
    let demo_key =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/demo-project-secret.asc"))
            .unwrap();
    let mut ran = 0;
    let mut by_outcome = std::collections::BTreeMap::<String, usize>::new();
    for m in index["messages"].as_array().unwrap() {
        let path = m["path"].as_str().unwrap();
        let raw = std::fs::read(interop.join(path)).unwrap();
        let mut listed: Vec<String> = m["secret_keys_that_decrypt"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k.as_str().map(|s| key_path(s).to_string()))
            .collect();
        if listed.is_empty() {
            listed = m["encrypted_to_keyids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k["key_file"].as_str().map(|s| key_path(s).to_string()))
                        .collect()
                })
                .unwrap_or_default();
        }
        let mut items = vec![("demo".to_string(), demo_key.clone())];
        let mut passphrase = None;
        for k in listed
            .iter()
            .filter(|k| k.ends_with(".asc") && k.contains("secret"))
        {
            items.push((k.clone(), std::fs::read(interop.join(k)).unwrap()));
            if k.contains("carol@example.com") {
                passphrase = Some("x");
            }
        }
        let mut pipeline = Pipeline::demo();
        pipeline.config.keys =
            ProjectKeys::from_secret_keys(&items, passphrase, pipeline.now.into())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        let opened = decrypt::message(&raw, &pipeline.config.keys, &[], pipeline.now.into());
        let p = pipeline.process(&raw);
        let kinds: Vec<&str> = p.outgoing().iter().map(|q| q.kind.as_str()).collect();
        let is_person = p.record.encryption != "not-opened";
        let word = match &opened.outcome {
            Crypt::Clear => "clear",
            Crypt::Decrypted => "decrypted",
            Crypt::NotForUs { .. } => "not-for-us",
            Crypt::NoIntegrity => "no-integrity",
            Crypt::Damaged(_) => "damaged",
        };
        *by_outcome
            .entry(if is_person {
                word.to_string()
            } else {
                format!("machine/{}", p.summary.split(':').next().unwrap_or(""))
            })
            .or_default() += 1;
        if is_person {
            assert_eq!(p.record.encryption, word, "{path}");
            match &opened.outcome {
                Crypt::Clear | Crypt::Decrypted | Crypt::NotForUs { .. } => {
                    assert_eq!(p.disposition, Disposition::Processed, "{path}");
                    assert!(p.opened_case, "{path}: {}", p.summary);
                    let answer = if word == "not-for-us" {
                        "not-for-us"
                    } else {
                        "ack"
                    };
                    // Several From headers (Thunderbird's multi-from case): nobody is
                    // answered, the team still gets the report (SECURITY.md).
                    let several_from =
                        secmail::core::parse::headers(&raw).is_ok_and(|h| h.from_count > 1);
                    assert_eq!(
                        kinds.iter().filter(|k| **k == answer).count(),
                        usize::from(!several_from),
                        "{path}: {kinds:?}"
                    );
                    assert_eq!(
                        kinds.iter().filter(|k| **k == "team-copy").count(),
                        2,
                        "{path}: {kinds:?}"
                    );
                }
                Crypt::NoIntegrity | Crypt::Damaged(_) => {
                    assert!(
                        matches!(p.disposition, Disposition::Quarantine(_)),
                        "{path}"
                    );
                    assert!(p.case().is_none(), "{path}: quarantined mail opened a case");
                    assert!(
                        !kinds.contains(&"team-copy") && !kinds.contains(&"ack"),
                        "{path}: {kinds:?}"
                    );
                    assert!(
                        p.record.text.is_empty(),
                        "{path}: plaintext kept from refused ciphertext"
                    );
                }
            }
        } else {
            assert!(
                kinds.is_empty() || kinds.iter().all(|k| *k == "team-alert"),
                "{path}: a machine was answered: {kinds:?}"
            );
        }
        let protected = opened.protected.subject.clone().filter(|s| {
            s.len() > 3
                && Some(s.as_str())
                    != m["subject"]
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(|s| s.as_str())
        });
        for Queued { mail: o, kind, .. } in p.outgoing() {
            let text = String::from_utf8_lossy(&o.raw);
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            if let Some(subject) = &protected {
                assert!(
                    !head.contains(subject.as_str()),
                    "{path}: protected subject {subject:?} in a clear header of {kind}"
                );
            }
            if kind != "ack"
                && kind != "not-for-us"
                && kind != "no-integrity"
                && kind != "unreadable"
            {
                assert!(o.encrypted, "{path}: {kind} sent in the clear");
            }
            assert!(
                head.contains("X-Secmail-Loop: ") && head.contains("Auto-Submitted: "),
                "{path}: {kind}"
            );
        }
        // Learnt certs carry the From address, as DESIGN.md asks.
        if let Some(case) = p.case() {
            for r in &case.reporters {
                if let Some(c) = &r.cert {
                    assert!(
                        keys::has_email(&keys::parse_cert(c.as_bytes()).unwrap(), &r.address),
                        "{path}"
                    );
                }
            }
        }
        ran += 1;
    }
    eprintln!("interop through the pipeline: {ran} messages: {by_outcome:?}");
    assert_eq!(ran, index["messages"].as_array().unwrap().len());
    assert!(ran >= 100, "the corpus shrank: {ran}");
}
