//! The disclosure timers over every running case (lifted out of the daemon): which timers are
//! due at `now`, what each does to its case, all of it as one [`Changes`] the shell renders and
//! commits in one batch. Pure: the patches kept with a case come in through `patch_bytes`.
//! [`timers`](super::timers) decides one case; this walks them all.
use super::{due, on_timer, policy_of, Ctx, Timer};
use crate::core::decrypt::Attachment;
use crate::core::effect::Changes;
use crate::core::settings::Settings;
use crate::model::{Case, CaseId, Distributor, PatchRef};
use chrono::{DateTime, Utc};

/// One timer that fired, for the operator's log: the case, the timer and how many messages it
/// drafted.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub case: CaseId,
    pub timer: Timer,
    pub drafts: usize,
}

/// The disclosure timers due at `now` over `cases` (the running ones): the changed cases and
/// their drafts, and what fired. `patch_bytes` reads a patch kept from the command mail.
pub fn tick(
    cases: Vec<Case>,
    distributors: &[Distributor],
    config: &Settings,
    patch_bytes: &dyn Fn(&PatchRef) -> Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> (Changes, Vec<Fired>) {
    let policy = policy_of(config);
    let mut changes = Changes::default();
    let mut fired = Vec::new();
    for mut case in cases {
        let timers = due(&case, distributors, &policy, now);
        if timers.is_empty() {
            continue;
        }
        let patches: Vec<Attachment> = case
            .disclosure
            .patches
            .iter()
            .filter_map(|p| {
                Some(Attachment {
                    filename: Some(p.filename.clone()),
                    content_type: p.content_type.clone(),
                    data: patch_bytes(p)?,
                })
            })
            .collect();
        for t in timers {
            let ctx = Ctx {
                config,
                policy: &policy,
                distributors,
                actor: "secmail",
                patches: &patches,
                cause: "timer",
                now,
            };
            let fx = on_timer(&mut case, t, &ctx);
            fired.push(Fired {
                case: case.id.clone(),
                timer: t,
                drafts: fx.drafts.len(),
            });
            changes.drafts.extend(fx.drafts);
        }
        changes.put_case(case);
    }
    (changes, fired)
}
