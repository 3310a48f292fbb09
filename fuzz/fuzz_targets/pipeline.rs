//! Fuzz target: the whole pure pipeline (parse → classify → decrypt → thread → apply →
//! compose) on arbitrary bytes against an empty in-memory view, with the demo config.
#![no_main]
use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use secmail::config::Config;
use secmail::core::compose::Templates;
use secmail::core::keys::Cert;
use secmail::core::pipeline::{self, View};
use secmail::core::thread::Lookup;
use secmail::model::{Case, CaseId};
use std::sync::OnceLock;

struct Empty;
impl Lookup for Empty {
    fn case_of_message_id(&self, _: &str) -> Option<CaseId> {
        None
    }
    fn case(&self, _: &CaseId) -> Option<Case> {
        None
    }
}
impl View for Empty {
    fn seen(&self, _: &str, _: Option<&str>, _: Option<&str>) -> bool {
        false
    }
    fn recent_auto_replies(&self, _: &str) -> Vec<DateTime<Utc>> {
        Vec::new()
    }
    fn told_fingerprint(&self, _: &str) -> bool {
        false
    }
    fn next_case_id(&self, prefix: &str, year: i32) -> CaseId {
        CaseId::new(prefix, year, 1)
    }
    fn cert_for(&self, _: &str) -> Option<Cert> {
        None
    }
    fn signature_seen(&self, _: &str) -> bool {
        false
    }
}

fn setup() -> &'static (Config, Templates) {
    static S: OnceLock<(Config, Templates)> = OnceLock::new();
    S.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = Config::load(&root.join("security.conf"), now().into()).expect("demo config");
        let templates =
            secmail::shell::daemon::load_templates(&config.templates_dir).expect("templates");
        (config, templates)
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fuzz_target!(|raw: &[u8]| {
    let (config, templates) = setup();
    let _ = pipeline::process(raw, &Empty, config, templates, now());
});
