//! secmail runs a project's security@ mailbox (see DESIGN.md for the contract).
//!
//! ```text
//! inbound (shell::daemon::inbound — one Source trait over shell::imap: IDLE or poll,
//!          and shell::maildir)
//!   ─► shell::batch (a batch opened on every core, finished in arrival order)
//!   ─► core::pipeline: core::parse ─► core::classify (machines, before decrypting)
//!        ─► core::decrypt (+ verify) ─► core::command (parse, authority) ─► core::thread
//!        (find the case) ─► core::apply (new state + drafts, via core::draft)
//!   ─► core::effect::Changes::render (core::compose: render, sign, encrypt; or withhold)
//!   ─► shell::store::Store::commit(&Changes) (one sled batch) ─► flush ─► move on the server
//!   ─► shell::outbox ─► shell::transport (SMTP | .eml files)
//! timers (shell::daemon::timers, every minute and once per `run --once`):
//!   core::schedule (policy timers on core::calendar) ─► Changes ─► render ─► commit ─► outbox
//!   core::disclose::tick (advance/final notice, reminders, embargo expiry) ─► the same
//! ```
//! Every step of the core returns one vocabulary, [`core::effect::Changes`]: changed cases, the
//! message record, drafts, outbox entries, marks (auto-replied, told, signature seen, cert
//! learnt, digest sent, …) and what to do after the flush (advisories). The shell renders it
//! once, commits it in one batch, flushes, and only then acts outside (moves, sends, files).
//! Team commands: `core::command` parses every command line (the disclosure ones too) and
//! decides who may give them (signature, freshness, replay); `core::apply` applies them all or
//! nothing. Coordinated disclosure (`/embargo`, `/notify-distributors`, `/disclose`,
//! `/distributors`): `core::disclose` decides every step and its timers; `core::advisory` writes
//! OSV and CSAF documents, `core::security_txt` the RFC 9116 file. The distributor list is
//! confidential (store only). `shell::daemon` drives it all and tells systemd how it is doing
//! (`shell::systemd`: READY, STATUS, WATCHDOG, STOPPING). Around the daemon: `commands::init` (a
//! new deployment), `commands::import` (old mail as cases), `commands::backup` (the store,
//! sealed to the project).
//!
//! Who owns what: `model` (nouns, no I/O), `core` (pure functions of message, state, config and
//! time), `shell` (every await and syscall), `config` (security.conf → validated Config),
//! `cli`/`commands` (the command line). Arrows point down only: model < core < config < shell <
//! cli < commands (tests/it/tidy.rs reads every import; clippy.toml keeps the clock in
//! `shell::clock`).
//!
//! Glossary: a **cert** is public, a **key** is secret. A **report** is the first mail of a
//! case, a **follow-up** any later one. A **draft** is a message the core decided to send, before
//! it is rendered, signed and encrypted. A **case address** is `security+SEC-2026-0001@…`.
//! A **distributor** is a downstream vendor on the confidential list; an **advance notice** is
//! the embargoed message each gets alone before the **disclosure date**; the **announcement**
//! is the public message on that date.
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod model;
pub mod shell;
