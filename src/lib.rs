//! secmail runs a project's security@ mailbox (see DESIGN.md for the contract).
//!
//! ```text
//! inbound (shell::imap: IDLE or poll | shell::maildir)
//!   ─► core::parse ─► core::classify (machines, before decrypting) ─► core::decrypt (+ verify)
//!   ─► core::thread (find the case) ─► core::apply (new state + drafts) ─► core::compose
//!   ─► shell::store (one sled batch, flushed) ─► move on the server
//!   ─► shell::outbox ─► shell::transport (SMTP | .eml files)
//! scheduler (shell::timers, every minute and once per `run --once`):
//!   core::schedule (policy timers on core::calendar) ─► shell::store ─► shell::outbox
//!   core::disclose::due (advance/final notice, reminders, embargo expiry) ─► same
//! ```
//! Team commands: `core::command` parses the command lines and decides who may give them
//! (signature, freshness, replay); `core::apply` applies them all or nothing.
//! Coordinated disclosure (`/embargo`, `/notify-distributors`, `/disclose`, `/distributors`):
//! `core::disclose` decides every step; `core::advisory` writes OSV and CSAF documents,
//! `core::security_txt` the RFC 9116 file. The distributor list is confidential (store only).
//! `core::pipeline` strings the pure stages together for one message; `shell::daemon` drives
//! them and performs the effects in order, and tells systemd how it is doing (`shell::systemd`:
//! READY, STATUS, WATCHDOG, STOPPING). Around the daemon: `commands::init` (a new deployment),
//! `commands::import` (old mail as cases), `commands::backup` (the store, sealed to the project).
//!
//! Who owns what: `model` (nouns, no I/O), `core` (pure functions of message, state, config and
//! time), `shell` (every await and syscall), `config` (security.conf → validated Config),
//! `cli`/`commands` (the command line).
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
