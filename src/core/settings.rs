//! [`Settings`]: the part of the configuration the core decides with — who the project is, its
//! keys and team, limits, the policy's promises, how advisories and security.txt are written,
//! the languages mail is written in.
//! The config layer reads them from `security.conf` (`config/settings.rs`, `config/policy.rs`,
//! `config/keys.rs`); the core only reads these values.
//!
//! Invariants:
//! - No server detail (host, port, user) and no password lives here: the core never sees them
//!   (they stay in `config::server`, which only the shell reads).
//! - The project's secret keys do (decrypting and signing are core work); their `Debug` prints
//!   fingerprints only.
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveTime;

use super::calendar::{Calendar, Span};
use super::keys::{Cert, ProjectKeys};
use crate::model::TeamMember;

/// The configuration as the core sees it.
#[derive(Debug)]
pub struct Settings {
    pub project: Project,
    pub keys: ProjectKeys,
    /// Reporter certs known in advance (`keys.certs-dir`).
    pub known_certs: Vec<Cert>,
    pub team: Vec<TeamMember>,
    pub limits: Limits,
    /// `[advisories]`: where and how OSV/CSAF documents are written.
    pub advisories: Advisories,
    /// `[security-txt]`: the RFC 9116 file.
    pub security_txt: SecurityTxt,
    /// `[policy]`: deadlines, calendar, escalation (no timers without the section).
    pub policy: Policy,
    /// The languages mail is written in: the policy default and those with templates.
    pub languages: Languages,
}

impl Settings {
    pub fn team_member(&self, address: &str) -> Option<&TeamMember> {
        self.team
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
    }
}

/// The project: who we are on the mail side.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// `security@example.org`, lowercased.
    pub security_address: String,
    pub local_part: String,
    pub domain: String,
    pub case_prefix: String,
    /// Between local part and case id in case addresses: `security+SEC-2026-0001@…`.
    pub separator: String,
    /// Value of our `X-Secmail-Loop` header.
    pub instance: String,
    pub demo_keys: bool,
    /// The public list that `/disclose` announces to (`[project] announce-address`).
    pub announce_address: Option<String>,
    /// The store's random secret, mixed into every Message-ID secmail makes; set by the shell
    /// when the store is open (empty before, e.g. for `check`).
    pub id_secret: IdSecret,
}

/// A random per-store key for Message-IDs (SECURITY.md, predictable ids): without it a
/// stranger computes the ids of our mail from what she sees and threads text into a case by
/// naming one in References. Not a key that protects content; still never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdSecret(pub Vec<u8>);

impl std::fmt::Debug for IdSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdSecret(<redacted>)")
    }
}

impl Project {
    /// The case address of DESIGN.md "Threading" rule 2.
    pub fn case_address(&self, case: &str) -> String {
        format!(
            "{}{}{}@{}",
            self.local_part, self.separator, case, self.domain
        )
    }
}

/// The languages mail is written in (issue 12.6): a reporter in theirs when there are templates
/// for it (`templates/<lang>/`, `draft::language`), everyone else — the team, distributors, a
/// reporter whose languages have none — in the policy default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Languages {
    /// The policy default (`[policy] language`, else the first of `[security-txt]
    /// preferred-languages`): the language of the templates at the top of the templates
    /// directory. `None`: not said, and no mail names its language unless its template does.
    pub default: Option<String>,
    /// The languages with a directory of templates (`templates/<lang>/`), canonical tags, as the
    /// configuration found them when it was read.
    pub templated: Vec<String>,
}

/// `[advisories]`: the advisory documents written at disclosure (`secmail export`).
#[derive(Debug, Clone)]
pub struct Advisories {
    /// Written here at disclosure, as `<CASE>.osv.json` and `<CASE>.csaf.json`.
    pub dir: Option<PathBuf>,
    /// OSV ecosystem of the package (`PyPI`, `crates.io`, …); without it OSV lists no package.
    pub ecosystem: Option<String>,
    /// Package and product name (default: the project name).
    pub package: String,
    /// CSAF vendor (default: the project name).
    pub vendor: String,
    /// CSAF publisher namespace, a URL (default `https://<domain of the security address>`).
    pub namespace: String,
    /// Where the advisories are published; becomes a reference (`…/<CASE>`).
    pub url_base: Option<String>,
    /// The prefix of the project's advisory ids (`EXAMPLE` → `EXAMPLE-2026-0001`, the OSV id;
    /// default: the case prefix).
    pub id_prefix: Option<String>,
    /// The CVE Services organisation id (a UUID) of the CNA that assigns the project's CVEs:
    /// `secmail export --format cve` writes it as the record's assigner.
    pub cve_org_id: Option<String>,
}

/// `[security-txt]`: what `secmail security-txt` writes (RFC 9116).
#[derive(Debug, Clone)]
pub struct SecurityTxt {
    /// URL of the project's OpenPGP cert (RFC 9116 §2.5.4).
    pub encryption: Option<String>,
    pub policy: Option<String>,
    pub canonical: Option<String>,
    pub preferred_languages: Option<String>,
    /// Expires this long after writing; under a year (RFC 9116 §2.5.5).
    pub expires_in: Duration,
    /// The published copy; `secmail check` warns when its Expires is near.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Automatic messages to one address within `auto_reply_window`.
    pub auto_replies_per_address: u32,
    /// Automatic messages to all addresses of one domain within the window (backscatter).
    pub auto_replies_per_domain: u32,
    /// Automatic messages to anyone within the window (backscatter).
    pub auto_replies_overall: u32,
    pub auto_reply_window: Duration,
    /// A signed team command counts only while its signature is younger than this
    /// (DESIGN.md "Team commands": default 7 days).
    pub command_max_age: Duration,
    /// Wall time one message may take in the pipeline (`[limits] message-time-budget`, default
    /// 2 min). Over it the daemon exits to be restarted; the message's attempt stays counted,
    /// and after two it is quarantined unopened (SECURITY.md, cost bombs).
    pub message_time_budget: Duration,
    /// Attempts at one message, alone in flight, that may end without a result (a crash, the
    /// time budget) before it is quarantined unopened (`[limits] poison-after`, default 2).
    pub poison_after: u32,
    /// Mail larger than this is not read (`[inbound] max-message-size`; the same value as
    /// `config::Inbound::max_message_bytes`, here for the core's alert text).
    pub max_message_bytes: u64,
}

/// The compiled policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The preset it started from, if any.
    pub preset: Option<String>,
    /// A first reporter-visible answer (the acknowledgement, sent at once, meets it).
    pub ack_within: Option<Span>,
    /// Triage done: the case is confirmed, rejected or further (NTPsec's "verify").
    pub triage_within: Option<Span>,
    /// A detailed answer written by the team (`/reply`), as Enarx promises.
    pub response_within: Option<Span>,
    /// A reporter-visible message at least this often while the case is open; when it passes
    /// without one, secmail sends a templated progress update.
    pub update_every: Option<Span>,
    /// High and critical cases reach fix-ready within this.
    pub fix_within: Option<Span>,
    /// For the disclosure work: advance notice before the disclosure date.
    pub advance_notice: Option<Span>,
    /// For the disclosure work: the longest embargo the project accepts.
    pub max_embargo: Option<Span>,
    /// Remind this long before a deadline; `None`: when three quarters of the time are gone.
    pub remind_before: Option<Span>,
    /// Between escalation steps once a deadline is missed.
    pub escalate_every: Span,
    /// `handler`, `coordinator`, `backup` (roles) or team member addresses, in order.
    pub escalation: Vec<String>,
    /// How often the team gets the digest; `None`: never.
    pub digest_every: Option<Span>,
    /// Local time of day the digest goes out on working days.
    pub digest_time: NaiveTime,
    /// Certs expiring within this are named in the digest.
    pub cert_warning: chrono::Duration,
    /// Asked of reporters in the acknowledgement (rptp's list).
    pub ask_reporters_for: Vec<String>,
    pub calendar: Calendar,
    /// `language`: the policy default language, a canonical BCP 47 tag (see [`Languages`]).
    pub language: Option<String>,
}

impl Default for Policy {
    /// No promises: no timers.
    fn default() -> Policy {
        Policy {
            preset: None,
            ack_within: None,
            triage_within: None,
            response_within: None,
            update_every: None,
            fix_within: None,
            advance_notice: None,
            max_embargo: None,
            remind_before: None,
            escalate_every: Span::WorkingDays(1),
            escalation: vec!["handler".into(), "coordinator".into(), "backup".into()],
            digest_every: None,
            digest_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
            cert_warning: chrono::Duration::days(30),
            ask_reporters_for: Vec::new(),
            calendar: Calendar::default(),
            language: None,
        }
    }
}
