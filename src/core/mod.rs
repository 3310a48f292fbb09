//! The functional core: no I/O, no clock, no tokio, sled, lettre, std::fs, std::net or std::env.

pub mod decrypt;
pub mod keys;
pub mod seal;
