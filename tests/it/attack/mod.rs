//! Adversarial tests, one module per class of SECURITY.md's threat model (issue 10): each tries
//! what an attacker who reads our mail and writes to us would do, and asserts the invariant
//! holds. `craft` makes the attacker's mail with GnuPG.
mod backscatter;
mod cost;
pub(crate) mod craft;
mod demo_key;
mod key_substitution;
mod leaks;
mod message_ids;
mod oracle;
mod replay;
mod retarget;
mod small;
mod splicing;
