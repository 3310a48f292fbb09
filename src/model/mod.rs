//! Nouns of DESIGN.md, no I/O: cases and their timeline, the people around them, mail ids.
pub mod case;
pub mod party;

pub use case::{Case, CaseId, ContactOffer, Event, EventKind, Severity, State};
pub use party::{Credit, Reporter, TeamMember, TeamRole};
