//! secmail runs a project's security@ mailbox.
pub mod core;
pub mod shell;
