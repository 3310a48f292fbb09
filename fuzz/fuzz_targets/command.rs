//! Fuzz target: team command parsing (core::command::parse) and the relayed text on arbitrary
//! bodies: total, bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let body = String::from_utf8_lossy(body);
    let _ = secmail::core::command::parse(&body, "SEC");
    let _ = secmail::core::command::relay_text(&body);
});
