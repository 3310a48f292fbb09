//! The integration tests' toolkit. `servers`: real Dovecot and Postfix on loopback;
//! `deployment`: the real `secmail` binary on a security.conf of a test's own (maildir or IMAP,
//! policy, store), its daemons waited for by READY=1; `mail`: the mail the tests send;
//! `wait`: the one way to wait for a condition; `skip`: the one skip banner.
pub mod deployment;
pub mod mail;
pub mod servers;
pub mod skip;
pub mod wait;

pub use deployment::{assert_ok, Deployment, Setup};
pub use servers::MailServers;
pub use skip::{servers_or_skip, servers_or_skip_with, skip};
pub use wait::{wait_until, wait_until_async, WAIT};
