//! Shared fixtures of the integration tests. `servers`: real Dovecot and Postfix on loopback.
pub mod servers;

pub use servers::{servers_or_skip, servers_or_skip_with, MailServers};
