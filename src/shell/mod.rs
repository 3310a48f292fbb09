//! The imperative shell: every await and syscall lives here.
pub mod imap;
pub mod transport;
