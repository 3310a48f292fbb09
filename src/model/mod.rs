//! Nouns of DESIGN.md, no I/O: cases and their timeline, embargoes, the people around them
//! (reporters, team members, distributors), mail ids, affected and fixed versions.
pub mod case;
pub mod distributor;
pub mod embargo;
pub mod party;
pub mod versions;

pub use case::{Case, CaseId, ContactOffer, Event, EventKind, Severity, State};
pub use distributor::{Distributor, DistributorId, NoticeKind};
pub use embargo::{Disclosure, Embargo, Notified, PatchRef};
pub use party::{Credit, Reporter, TeamMember, TeamRole};
pub use versions::{Range, VersionSpec};
