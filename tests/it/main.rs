//! The one integration-test binary: `harness` holds the shared fixtures (real mail servers);
//! each other module tests one part of secmail from outside. Only `mod` lines here.
mod harness;
mod imap_smtp;
