//! Fuzz target: opening arbitrary bytes as a message (MIME, armor, OpenPGP packets,
//! decryption with the demo project key, signature checks): core::decrypt::message is total.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secmail::core::keys::ProjectKeys;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

fn keys() -> &'static ProjectKeys {
    static KEYS: OnceLock<ProjectKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let secret = include_bytes!("../../keys/demo-project-secret.asc").to_vec();
        ProjectKeys::from_secret_keys(&[("demo".into(), secret)], None, now()).expect("demo key")
    })
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fuzz_target!(|raw: &[u8]| {
    let _ = secmail::core::decrypt::message(raw, keys(), &[], now());
});
