//! List: changes to the confidential distributor list (`/distributors list|add|remove` and
//! `secmail distributors`), validated and returned as a [`ListChange`] for the store to write
//! in the same batch as the case.
//!
//! Invariants: a change is only returned, never applied here; an attached cert is imported only
//! when it carries the distributor's address; the list text is for the team alone.
use super::{refuse, Refusal};
use crate::core::command::ListCommand;
use crate::core::keys::{self, Cert};
use crate::model::{Distributor, DistributorId, NoticeKind};
use chrono::{DateTime, Utc};
use std::time::SystemTime;

/// A `/distributors` command: the changed list, and the answer to the team member.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ListChange {
    Add(Distributor),
    Remove(DistributorId),
}

/// `/distributors …` (and `secmail distributors add`): validates and returns the change.
/// `certs`: certs attached to the command mail (or given with `--cert`); the first that carries
/// the address is imported.
pub fn change_list(
    cmd: &ListCommand,
    list: &[Distributor],
    certs: &[Cert],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Option<ListChange>, String), Refusal> {
    match cmd {
        ListCommand::List => Ok((None, list_text(list))),
        ListCommand::Remove(which) => {
            let which = which.trim_matches(['<', '>']);
            let d = list
                .iter()
                .find(|d| d.id.as_str() == which || d.address.eq_ignore_ascii_case(which))
                .ok_or_else(|| Refusal(format!("no distributor {which:?} on the list")))?;
            Ok((
                Some(ListChange::Remove(d.id.clone())),
                format!(
                    "removed {} <{}> ({}): it gets no further notices",
                    d.name, d.address, d.id
                ),
            ))
        }
        ListCommand::Add {
            address,
            name,
            cap,
            notices,
        } => {
            let name = name
                .clone()
                .unwrap_or_else(|| address.split('@').nth(1).unwrap_or(address).to_string());
            let id = DistributorId::from_name(&name)
                .ok_or_else(|| Refusal(format!("{name:?} gives no usable id")))?;
            let existing = list
                .iter()
                .find(|d| d.address.eq_ignore_ascii_case(address) || d.id == id);
            if let Some(e) = existing {
                if !e.address.eq_ignore_ascii_case(address) {
                    return refuse(format!(
                        "the id {id} is taken by another distributor: choose another --name"
                    ));
                }
            }
            let sys: SystemTime = now.into();
            let cert = certs.iter().find(|c| keys::has_email(c, address));
            if cert.is_none() && !certs.is_empty() {
                return refuse(format!(
                    "the attached cert carries no user id for {address}"
                ));
            }
            let cert_note = match cert {
                None if existing.and_then(|e| e.cert.as_ref()).is_some() => "cert kept".to_string(),
                None => "NO CERT: it will get no notices until one is added".to_string(),
                Some(c) => match keys::usable_for_encryption(c, sys) {
                    Ok(()) => format!("cert {}", keys::fingerprint(c)),
                    Err(why) => {
                        format!("cert not usable for encryption ({why}): it will get no notices")
                    }
                },
            };
            let d = Distributor {
                id: id.clone(),
                name: name.clone(),
                address: address.clone(),
                cert: cert
                    .map(keys::armored)
                    .or_else(|| existing.and_then(|e| e.cert.clone())),
                cert_fingerprint: cert
                    .map(keys::fingerprint)
                    .or_else(|| existing.and_then(|e| e.cert_fingerprint.clone())),
                notices: notices
                    .clone()
                    .or_else(|| existing.map(|e| e.notices.clone()))
                    .unwrap_or_else(|| NoticeKind::ALL.to_vec()),
                cap_secs: cap
                    .map(|c| c.num_seconds())
                    .or_else(|| existing.and_then(|e| e.cap_secs)),
                added: existing.map(|e| e.added).unwrap_or(now),
                added_by: actor.to_string(),
            };
            let verb = if existing.is_some() {
                "updated"
            } else {
                "added"
            };
            let msg = format!("{verb} {} <{}> ({}): {cert_note}", d.name, d.address, d.id);
            Ok((Some(ListChange::Add(d)), msg))
        }
    }
}

/// The list as the team sees it (team-internal only).
pub fn list_text(list: &[Distributor]) -> String {
    if list.is_empty() {
        return "no distributors".into();
    }
    list.iter()
        .map(|d| {
            format!(
                "{:<20} {:<32} notices {:<24} cap {:<6} cert {}",
                d.id,
                d.address,
                d.notices
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                d.cap()
                    .map(|c| format!("{}d", c.num_days()))
                    .unwrap_or_else(|| "-".into()),
                d.cert_fingerprint.as_deref().unwrap_or("NONE")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
