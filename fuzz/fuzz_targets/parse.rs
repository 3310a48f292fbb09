//! Fuzz target: header parsing and classification of arbitrary bytes (core::parse, classify).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    if let Ok(h) = secmail::core::parse::headers(raw) {
        let _ = secmail::core::classify::sender(&h, "security@example.org");
    }
    let _ = secmail::core::parse::cited_message_ids(raw, 20);
});
