//! The one integration-test binary: `harness` holds the shared fixtures (real mail servers),
//! `common` the pipeline on the demo configuration; each other module tests one part of
//! secmail from outside. Only `mod` lines here, each with what its module proves.
#![allow(clippy::disallowed_methods)] // tests and benchmarks may read the real clock

/// What goes out, read back by its recipient (team copies, withheld mail, size limits).
mod answers;
/// One module per class of SECURITY.md's threat model: each attack tried, the invariant held.
mod attack;
/// `check --online` against the real servers: every server reported, folders created, exit 78.
mod check_online;
/// The real binary on the shipped demo tree: `run --once`, the store commands, `--help`.
mod cli;
/// Shared helpers: the demo configuration, a fixed clock, the pipeline run as the daemon runs it.
mod common;
/// Advisories downstream tools accept: OSV schema, the BSI's CSAF validator, the CVE schema.
mod consumers;
/// The running daemon serves the CLI: store commands, `status`, the metrics, over its socket.
mod control;
/// The real daemon killed with SIGKILL mid-batch against real servers: nothing lost or doubled.
mod crash;
/// Coordinated disclosure through the pure core: embargo rules, notices, caps, the announcement.
mod disclosure;
/// End to end against real Dovecot and Postfix: a gpg reporter's report answered over SMTP.
mod e2e;
/// Disclosure end to end against the real servers: report, list, commands, notices, disclosure.
mod e2e_disclosure;
/// Faults: IMAP restarted mid-run, SMTP down, the store's disk full; the daemon carries on.
mod faults;
/// Floods of auto-replies, bounces, loops and spam through the real daemon, reports among them.
mod flood;
/// Golden mail fixtures: each group through the pipeline into one store, results as JSON.
mod golden;
/// GnuPG as a reporter or team member uses it (independent of secmail's OpenPGP code).
mod gpg;
/// The toolkit: real Dovecot and Postfix, one Deployment, one wait_until, mail builders, skip.
mod harness;
/// The hostile corpus: every message handled within bounds, none crashes the pipeline.
mod hostile;
/// IMAP inbound and SMTP outbound against the real servers: IDLE, polling, moves, sending.
mod imap_smtp;
/// `secmail import`: old mail becomes cases, old reporters get nothing, the source is untouched.
mod import;
/// Every message of ../shared/interop (Thunderbird, Delta Chat, notmuch…) with its outcome.
mod interop_pipeline;
/// Mail over the size limit: its header alone read, the team told who sent it, the sender once.
mod oversize;
/// The .deb as Debian operators get it, `init` agreeing with its units, where the config is read.
mod package;
/// Mail made by real OpenPGP and mail software (gpg, sq, rnp, OpenPGP.js…) to its expected outcome.
mod producers;
/// Nothing quarantined in silence: the team's alerts, and `secmail quarantine list|show|release`.
mod quarantine;
/// No report is lost: reports as real clients send them open a case and are answered.
mod reporters;
/// One scenario per policy preset on a moving clock: acks, reminders, escalations, digests.
mod scenario;
/// secmail as an operator runs it: systemd notifications, signals, reload, exit codes.
mod service;
/// Team commands through the pipeline and the store: signed commands change the case.
mod team;
/// The floor plan's rules: layers point down (grouped imports too), files stay rooms.
mod tidy;
