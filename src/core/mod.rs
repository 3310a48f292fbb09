//! The functional core: no I/O, no clock, no tokio, sled, lettre, std::fs, std::net or std::env
//! (a test checks). Stages in flow order: parse → decrypt → classify → thread → apply → compose;
//! [`pipeline`] strings them together.
pub mod apply;
pub mod classify;
pub mod compose;
pub mod decrypt;
pub mod disclose;
pub mod draft;
pub mod keys;
pub mod parse;
pub mod pipeline;
pub mod seal;
pub mod thread;
