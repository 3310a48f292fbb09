//! The imperative shell: every await and syscall lives here. Inbound (imap, maildir) → store →
//! outbox → transport, driven by the daemon; the clock is read only in clock.rs.
pub mod advisories;
pub mod batch;
pub mod clock;
pub mod control;
pub mod daemon;
pub mod failure;
pub mod figures;
pub mod imap;
pub mod maildir;
pub mod outbox;
pub mod private;
pub mod store;
pub mod systemd;
pub mod templates;
pub mod tls;
pub mod transport;
