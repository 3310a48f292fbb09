//! Shared fixtures of the integration tests. `servers`: real Dovecot and Postfix on loopback;
//! `skip`: the one skip banner.
pub mod servers;
pub mod skip;

pub use servers::MailServers;
pub use skip::{servers_or_skip, skip};
