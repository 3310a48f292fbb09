//! The embargo of a case and the record of its coordinated disclosure (DESIGN.md "Cases":
//! embargo; "Distributors and advance notice").
//!
//! Invariant: `notified` only grows; an address in it is a participant of the case for threading
//! (DESIGN.md "Threading"), and its mail stays internal to the team.
use super::distributor::{DistributorId, NoticeKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// When a case goes public, who asked for that date and who may know before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embargo {
    /// Disclosure date and time (default 16:00 UTC on the day given).
    pub until: DateTime<Utc>,
    /// Who asked for this date (a team member's address).
    pub asked_by: String,
    pub set_at: DateTime<Utc>,
    /// People outside the team who may know before the date (besides distributors).
    #[serde(default)]
    pub need_to_know: Vec<String>,
    /// The policy's longest embargo when the date was set, in seconds (kept: the policy may
    /// change later, the promise made does not).
    pub max_secs: Option<i64>,
    /// Set with `force` (a Friday-to-Sunday date, or past the policy's maximum).
    #[serde(default)]
    pub forced: bool,
    /// The issue leaked (`/embargo public`): disclosure is planned at once.
    #[serde(default)]
    pub public: bool,
}

/// One notice sent to one distributor about this case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notified {
    pub distributor: DistributorId,
    /// Lowercased address the notice went to.
    pub address: String,
    pub kind: NoticeKind,
    pub at: DateTime<Utc>,
    pub message_id: String,
    /// The disclosure date the notice named (a moved date owes a new notice).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// An attachment of a team command mail, kept in the store (`att/<hash>/<n>`), sent as a patch
/// with the advance notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchRef {
    pub msg_hash: String,
    pub index: usize,
    pub filename: String,
    pub content_type: String,
}

/// Everything the disclosure of a case needs beyond its embargo.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Disclosure {
    /// Description and remedy steps for notices and the announcement: the text of the team's
    /// `/notify-distributors` (or `/disclose`) mail, command lines removed.
    pub text: Option<String>,
    #[serde(default)]
    pub patches: Vec<PatchRef>,
    #[serde(default)]
    pub notified: Vec<Notified>,
    /// The team was reminded that the notice is due but the case is not fix-ready.
    #[serde(default)]
    pub not_ready_reminded: bool,
    #[serde(default)]
    pub expiry_reminded: bool,
    pub disclosed_at: Option<DateTime<Utc>>,
}

impl Disclosure {
    /// The address was sent a notice about this case (DESIGN.md "Threading": a participant).
    pub fn was_notified(&self, address: &str) -> bool {
        self.notified
            .iter()
            .any(|n| n.address.eq_ignore_ascii_case(address))
    }

    /// The distributor was sent this kind of notice naming this date.
    pub fn sent_for(
        &self,
        distributor: &DistributorId,
        kind: NoticeKind,
        until: DateTime<Utc>,
    ) -> bool {
        self.notified
            .iter()
            .any(|n| &n.distributor == distributor && n.kind == kind && n.until == Some(until))
    }
}
