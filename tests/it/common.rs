//! Shared test helpers: the demo configuration with a store in a temp dir, a fixed clock, and
//! the pipeline run the way the daemon runs it (process, then one batch into the store).
use chrono::{DateTime, TimeZone, Utc};
use secmail::config::Config;
use secmail::core::compose::Templates;
use secmail::core::pipeline::{self, Processed};
use secmail::shell::daemon::load_templates;
use secmail::shell::store::Store;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixed "now": Saturday 2026-11-28 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// The shared folder beside the repository (interop corpus, seeds). In CI it must be there.
pub fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("SECMAIL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    if p.join("interop/INDEX.json").exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing: CI must run the interop tests", p.display());
    }
    eprintln!(
        "\n*** WARNING: {} not found: interop tests SKIPPED ***\n",
        p.display()
    );
    None
}

/// The demo configuration (security.conf) with its store in a temp dir.
pub struct Pipeline {
    /// Holds the store; removed when the pipeline is dropped.
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub templates: Templates,
    pub store: Store,
    pub now: DateTime<Utc>,
}

impl Pipeline {
    pub fn demo() -> Pipeline {
        Self::with_config(&repo().join("security.conf"))
    }

    pub fn with_config(path: &Path) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(path, now().into()).unwrap_or_else(|e| panic!("{e}"));
        config.store_path = dir.path().join("store");
        let templates = load_templates(&config.templates_dir).unwrap();
        let store = Store::open(&config.store_path).unwrap();
        Pipeline {
            _dir: dir,
            config,
            templates,
            store,
            now: now(),
        }
    }

    pub fn process(&self, raw: &[u8]) -> Processed {
        let p = pipeline::process(raw, &self.store, &self.config, &self.templates, self.now);
        self.store.commit(&p, raw, self.now).unwrap();
        p
    }
}
