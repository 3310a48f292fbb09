//! The one integration-test binary: `harness` holds the shared fixtures (real mail servers),
//! `common` the pipeline on the demo configuration; each other module tests one part of
//! secmail from outside. Only `mod` lines here.
mod answers;
mod attack;
mod check_online;
mod cli;
mod common;
mod crash;
mod disclosure;
mod e2e;
mod e2e_disclosure;
mod faults;
mod flood;
mod golden;
mod gpg;
mod harness;
mod hostile;
mod imap_smtp;
mod import;
mod interop_pipeline;
mod reporters;
mod scenario;
mod service;
mod team;
