//! The functional core: no I/O, no clock, no tokio, sled, lettre, std::fs, std::net or std::env
//! (a test checks). Stages in flow order: parse → classify (machines are known before anything
//! is decrypted) → decrypt and verify → command (parse, authority) → thread → apply → draft;
//! [`pipeline`] strings them together and returns [`effect::Changes`], which
//! [`effect::Changes::render`] composes ([`compose`]). [`schedule`] (the policy's timers) returns
//! the same vocabulary. Beside the flow: [`disclose`] (embargoes, notices to
//! distributors, the announcement, their timers), [`advisory`] (OSV and CSAF documents) and
//! [`security_txt`] (the RFC 9116 file).
pub mod advisory;
pub mod apply;
pub mod calendar;
pub mod classify;
pub mod command;
pub mod compose;
pub mod decrypt;
pub mod disclose;
pub mod draft;
pub mod duration;
pub mod effect;
pub mod keys;
pub mod limits;
pub(crate) mod mime;
pub mod parse;
pub mod pipeline;
pub mod schedule;
pub mod seal;
pub mod security_txt;
pub mod settings;
pub mod thread;
