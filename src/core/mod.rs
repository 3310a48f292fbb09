//! The functional core: no I/O, no clock, no tokio, sled, lettre, std::fs, std::net or std::env
//! (a test checks). Stages in flow order: parse → decrypt → classify → thread → apply → compose;
//! [`pipeline`] strings them together.
pub mod apply;
pub mod calendar;
pub mod classify;
pub mod command;
pub mod compose;
pub mod decrypt;
pub mod draft;
pub mod keys;
pub mod parse;
pub mod pipeline;
pub mod schedule;
pub mod seal;
pub mod thread;
