//! Shared test helpers: the demo configuration with a store in a temp dir, a fixed clock, the
//! pipeline run the way the daemon runs it (process, then one batch into the store), and the
//! keys of the demo's people. The mail they send is built in `harness::mail` (re-exported here).
use chrono::{DateTime, TimeZone, Utc};
use secmail::config::Config;
use secmail::core::compose::Templates;
use secmail::core::decrypt;
use secmail::core::effect::{Changes, Queued};
use secmail::core::keys::{self, Cert, ProjectKeys};
use secmail::core::pipeline::{self, Processed};
use secmail::core::schedule;
use secmail::model::{Case, CaseId};
use secmail::shell::store::Store;
use secmail::shell::templates::load_templates;
use std::path::{Path, PathBuf};

/// The mail builders live in the harness; these are the names the tests know them by.
pub use crate::harness::mail::{plain_mail, signed_encrypted, text_payload};
use crate::harness::Deployment;

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
    crate::harness::skip(&format!(
        "{} not found: the interop tests (../shared/interop) did not run",
        p.display()
    ));
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
        Self::with_config_in(tempfile::tempdir().unwrap(), path)
    }

    fn with_config_in(dir: tempfile::TempDir, path: &Path) -> Pipeline {
        let mut config = Config::load(path, now().into()).unwrap_or_else(|e| panic!("{e}"));
        config.store_path = dir.path().join("store");
        let templates = load_templates(&config).unwrap();
        let store = Store::open(&config.store_path).unwrap();
        config.settings.project.id_secret = store.id_secret();
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
        self.store.commit(&p.changes, self.now).unwrap();
        p
    }

    /// The demo team (Alice handler, Bob coordinator) plus Carol (backup, a cert made here) and
    /// `policy` as the `[policy]` section; Maildir in, file out, everything in a temp dir.
    pub fn with_policy(policy: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let carol = dir.path().join("carol.asc");
        std::fs::write(&carol, carol_cert()).unwrap();
        let conf = Deployment::local()
            .member(
                "Bob Demo",
                "bob@example.org",
                &repo().join("keys/team-bob.asc"),
                Some("coordinator"),
            )
            .member("Carol Backup", "carol@example.org", &carol, Some("backup"))
            .policy(policy)
            .write(dir.path());
        Self::with_config_in(dir, &conf)
    }

    /// Moves the clock.
    pub fn at(&mut self, t: DateTime<Utc>) -> &mut Pipeline {
        self.now = t;
        self
    }

    /// One scheduler pass at the pipeline's now, committed as the daemon commits it.
    pub fn schedule(&self) -> Changes {
        let s = schedule::pass(
            &self.store.cases(),
            &self.config,
            &self.templates,
            self.store.last_digest(),
            &[],
            self.now,
        );
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        self.store.commit(&s, self.now).unwrap();
        s
    }

    pub fn case(&self, id: &str) -> Case {
        use secmail::core::thread::Lookup;
        self.store
            .case(&CaseId::parse("SEC", id).unwrap())
            .unwrap_or_else(|| panic!("no case {id}"))
    }
}

/// (kind, recipient) of each composed message, in order.
pub fn sent(outgoing: &[Queued]) -> Vec<(String, String)> {
    outgoing
        .iter()
        .map(|q| (q.kind.clone(), q.mail.rcpts.join(",")))
        .collect()
}

/// The (kind, recipient) pairs as string slices, for `assert_eq!` against literals.
pub fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// A person's secret key (from fixtures/keys), usable to sign and to decrypt.
pub fn secret(file: &str) -> ProjectKeys {
    let bytes = std::fs::read(repo().join("fixtures/keys").join(file)).unwrap();
    ProjectKeys::from_secret_keys(&[(file.to_string(), bytes)], None, now().into()).unwrap()
}

pub fn project_cert() -> Cert {
    keys::parse_cert(&std::fs::read(repo().join("keys/demo-project.asc")).unwrap()).unwrap()
}

/// Carol's generated cert (no secret needed: she only receives).
fn carol_cert() -> Vec<u8> {
    use sequoia_openpgp::cert::CertBuilder;
    use sequoia_openpgp::serialize::SerializeInto;
    let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (cert, _) = CertBuilder::general_purpose(Some("Carol Backup <carol@example.org>"))
        .set_creation_time(std::time::SystemTime::from(created))
        .generate()
        .unwrap();
    let armored = cert.armored().to_vec().unwrap();
    armored
}

/// The text of a message we sent, opened with the recipient's key (or read when only signed).
pub fn open_sent(raw: &[u8], recipient: &ProjectKeys) -> String {
    decrypt::message(raw, recipient, &[project_cert()], now().into()).text
}
