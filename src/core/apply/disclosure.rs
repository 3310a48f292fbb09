//! The disclosure commands of a signed team mail (`/embargo`, `/notify-distributors`,
//! `/disclose`, `/distributors`), carried out by `core::disclose` inside the all-or-nothing
//! command pass of `apply::commands` (DESIGN.md "Team commands", "Distributors and advance
//! notice").
//!
//! Invariants: nothing here leaves the pass unless every command of the mail succeeded (the
//! caller drops this value on a refusal); the drafts it collects are already recorded on the
//! case by `core::disclose`, so the caller must not record them again; a `/distributors` change
//! is seen by the commands after it in the same mail.
use crate::core::command::DisclosureCommand;
use crate::core::decrypt::{Attachment, CertSource, Opened};
use crate::core::disclose::{self, Ctx, ListChange};
use crate::core::draft::Draft;
use crate::core::keys::{self, Cert};
use crate::core::settings::Settings;
use crate::model::{Case, Distributor, PatchRef};
use chrono::{DateTime, Utc};

/// What the disclosure commands of one mail did so far.
pub(super) struct Disclosing {
    list: Vec<Distributor>,
    pub drafts: Vec<Draft>,
    pub changes: Vec<ListChange>,
    pub write_advisories: bool,
}

/// A cert attached to the command mail (to import with `/distributors add`), not a patch.
fn is_cert(a: &Attachment) -> bool {
    a.content_type.eq_ignore_ascii_case("application/pgp-keys")
        || a.filename
            .as_deref()
            .is_some_and(|f| f.ends_with(".asc") && keys::parse_certs(&a.data).is_ok())
}

impl Disclosing {
    pub fn new(list: &[Distributor]) -> Disclosing {
        Disclosing {
            list: list.to_vec(),
            drafts: Vec::new(),
            changes: Vec::new(),
            write_advisories: false,
        }
    }

    /// One command on the pass's copy of the case; `Ok` is the line for the confirmation.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        case: &mut Case,
        cmd: &DisclosureCommand,
        text: &str,
        opened: &Opened,
        hash: &str,
        member: &str,
        config: &Settings,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        // Attached certs (`application/pgp-keys`): decrypt keeps them apart from the
        // attachments; an Autocrypt header is the sender's own cert, not one to import.
        let certs: Vec<Cert> = opened
            .certs
            .iter()
            .filter(|l| l.source != CertSource::Autocrypt)
            .map(|l| l.cert.clone())
            .chain(
                opened
                    .attachments
                    .iter()
                    .filter(|a| is_cert(a))
                    .filter_map(|a| keys::parse_certs(&a.data).ok())
                    .flatten(),
            )
            .collect();
        let patches: Vec<Attachment> = opened
            .attachments
            .iter()
            .filter(|a| !is_cert(a))
            .cloned()
            .collect();
        let policy = disclose::policy_of(config);
        let ctx = Ctx {
            config,
            policy: &policy,
            distributors: &self.list,
            actor: member,
            patches: &patches,
            cause: hash,
            now,
        };
        let text = text.trim();
        let body = (!text.is_empty()).then_some(text);
        let applied = disclose::carry_out(case, cmd, body, &certs, &ctx).map_err(|r| r.0)?;
        if *cmd == DisclosureCommand::NotifyDistributors {
            // Kept (the bytes are stored with the message) for the notices the timers send
            // later: a distributor whose cap opens later, one added later, a moved date.
            case.disclosure.patches = opened
                .attachments
                .iter()
                .enumerate()
                .filter(|(_, a)| !is_cert(a))
                .map(|(i, a)| PatchRef {
                    msg_hash: hash.to_string(),
                    index: i,
                    filename: a.filename.clone().unwrap_or_else(|| format!("patch-{i}")),
                    content_type: a.content_type.clone(),
                })
                .collect();
        }
        if let Some(change) = applied.list_change {
            match &change {
                ListChange::Add(d) => {
                    self.list.retain(|x| x.id != d.id);
                    self.list.push(d.clone());
                }
                ListChange::Remove(id) => self.list.retain(|x| &x.id != id),
            }
            self.changes.push(change);
        }
        self.drafts.extend(applied.effects.drafts);
        self.write_advisories |= applied.effects.write_advisories;
        Ok(applied.effects.said.join("; "))
    }
}
