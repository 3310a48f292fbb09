//! Inbound: where mail comes from, behind one [`Source`] trait (a Maildir, or an IMAP folder),
//! and the one pass over a source: batches through the pipeline, flushed, and only then each
//! message moved (processed or quarantine) on its source. The sessions (Maildir polled every
//! 2 s; IMAP with IDLE, or polling) wrap that pass with their waiting and their STATUS text.
//!
//! Invariant: a message is moved only after its case change is durable ([`Daemon::handle_batch`]
//! returns after the flush); of mail too large to fetch only the header is read (at most
//! `pipeline::OVERSIZE_HEADER_MAX` bytes; over IMAP with `BODY.PEEK`, so it stays unseen), and
//! it is quarantined unread, the team told once.
use super::{Daemon, Session, StoreUnwritable, BATCH, FETCH};
use crate::core::pipeline::{self, OVERSIZE_HEADER_MAX};
use crate::shell::imap::{Fetched, ImapInbox, ImapSettings, Wake};
use crate::shell::maildir::{self, MaildirItem};
use crate::shell::store::Store;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One message a source offers.
pub(super) enum Mail {
    /// Its bytes, for the pipeline.
    Raw(Vec<u8>),
    /// Over the size limit: not read but for its `header`. `cause` names it (source and
    /// position), so that the team is told once about it; `place` says where it will be kept,
    /// for people.
    Oversize {
        size: u64,
        header: Vec<u8>,
        cause: String,
        place: String,
    },
}

/// Where a handled message goes on its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Processed,
    Quarantine,
}

/// A place inbound mail comes from.
pub(super) trait Source {
    /// How the source names one message (a path, a UID).
    type Id;
    /// Up to `n` messages not yet handled; none when the source has nothing more this pass.
    async fn next(&mut self, n: usize) -> Result<Vec<(Self::Id, Mail)>>;
    /// After the flush: each handled message moved where its fate says.
    async fn settle(&mut self, done: Vec<(Self::Id, Fate)>) -> Result<()>;
}

/// A Maildir: `new/` and `cur/` listed once per pass; handled mail filed into `.Processed` or
/// `.Quarantine` when `move_processed` (off for the demo, which leaves its maildir as it was).
pub(super) struct MaildirSource<'a> {
    root: &'a Path,
    move_processed: bool,
    max: u64,
    listed: Option<VecDeque<MaildirItem>>,
}

impl<'a> MaildirSource<'a> {
    pub(super) fn new(root: &'a Path, move_processed: bool, max: u64) -> Self {
        MaildirSource {
            root,
            move_processed,
            max,
            listed: None,
        }
    }
}

/// Where the message at `path` in the maildir `root` is kept once settled, for people.
fn maildir_place(root: &Path, move_processed: bool, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if move_processed {
        format!(
            "the maildir's .Quarantine folder ({})",
            root.join(".Quarantine/cur").join(name).display()
        )
    } else {
        format!(
            "the maildir, where it was delivered ({}; move-processed is off)",
            path.display()
        )
    }
}

impl Source for MaildirSource<'_> {
    type Id = PathBuf;

    async fn next(&mut self, n: usize) -> Result<Vec<(PathBuf, Mail)>> {
        let listed = match &mut self.listed {
            Some(l) => l,
            None => self.listed.insert(maildir::list(self.root)?.into()),
        };
        let mut out = Vec::with_capacity(n.min(listed.len()));
        while out.len() < n {
            let Some(item) = listed.pop_front() else {
                break;
            };
            if item.size > self.max {
                let header = match maildir::read_header(&item.path, OVERSIZE_HEADER_MAX) {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::warn!(path = %item.path.display(), error = %e, "cannot read the header of a maildir message over the size limit");
                        Vec::new()
                    }
                };
                let cause = format!("maildir:{}", item.path.display());
                let place = maildir_place(self.root, self.move_processed, &item.path);
                out.push((
                    item.path,
                    Mail::Oversize {
                        size: item.size,
                        header,
                        cause,
                        place,
                    },
                ));
                continue;
            }
            match std::fs::read(&item.path) {
                Ok(raw) => out.push((item.path, Mail::Raw(raw))),
                Err(e) => {
                    tracing::warn!(path = %item.path.display(), error = %e, "cannot read a maildir message; skipped");
                }
            }
        }
        if out.is_empty() {
            // The pass is over: the next one lists again.
            self.listed = None;
        }
        Ok(out)
    }

    async fn settle(&mut self, done: Vec<(PathBuf, Fate)>) -> Result<()> {
        if self.move_processed {
            for (path, fate) in done {
                maildir::file_away(self.root, &path, fate == Fate::Quarantine)?;
            }
        }
        Ok(())
    }
}

/// An IMAP folder: what is above the last UID handled (per UIDVALIDITY), fetched `FETCH` at a
/// time; handled mail moved with one command per folder, then the last UID remembered.
pub(super) struct ImapSource<'a> {
    inbox: &'a mut ImapInbox,
    store: &'a Store,
    fetched: VecDeque<Fetched>,
}

impl<'a> ImapSource<'a> {
    pub(super) fn new(inbox: &'a mut ImapInbox, store: &'a Store) -> Self {
        ImapSource {
            inbox,
            store,
            fetched: VecDeque::new(),
        }
    }
}

impl Source for ImapSource<'_> {
    type Id = u32;

    async fn next(&mut self, n: usize) -> Result<Vec<(u32, Mail)>> {
        if self.fetched.is_empty() {
            let uv = self.inbox.uid_validity();
            let last = self.store.imap_last_uid(uv);
            self.fetched = self.inbox.fetch_new(last, FETCH).await?.into();
        }
        let uv = self.inbox.uid_validity();
        let place = format!("IMAP folder \"{}\"", self.inbox.quarantine_folder_shown());
        let take = n.min(self.fetched.len());
        Ok(self
            .fetched
            .drain(..take)
            .map(|f| {
                let mail = match f.raw {
                    Some(raw) => Mail::Raw(raw),
                    None => Mail::Oversize {
                        size: f.size,
                        header: f.header.unwrap_or_default(),
                        cause: format!("imap:{uv}:{}", f.uid),
                        place: place.clone(),
                    },
                };
                (f.uid, mail)
            })
            .collect())
    }

    async fn settle(&mut self, done: Vec<(u32, Fate)>) -> Result<()> {
        let pick = |fate: Fate| -> Vec<u32> {
            done.iter()
                .filter(|(_, f)| *f == fate)
                .map(|(uid, _)| *uid)
                .collect()
        };
        self.inbox.move_all(&pick(Fate::Processed), false).await?;
        self.inbox.move_all(&pick(Fate::Quarantine), true).await?;
        if let Some(top) = done.iter().map(|(uid, _)| *uid).max() {
            self.store
                .set_imap_last_uid(self.inbox.uid_validity(), top)
                .context(StoreUnwritable)?;
        }
        Ok(())
    }
}

impl Daemon {
    /// Everything new on `source` through the pipeline, a batch at a time, each batch flushed
    /// before its moves; ends early (between two batches) once `stop` is cancelled. Returns how
    /// many new (not duplicate) messages were handled.
    pub(super) async fn inbound_pass<S: Source>(
        &self,
        source: &mut S,
        stop: Option<&CancellationToken>,
    ) -> Result<usize> {
        let mut n = 0;
        loop {
            if stop.is_some_and(|s| s.is_cancelled()) {
                return Ok(n);
            }
            let batch = source.next(BATCH).await?;
            if batch.is_empty() {
                return Ok(n);
            }
            let mut done = Vec::with_capacity(batch.len());
            let (mut ids, mut raws) = (Vec::new(), Vec::new());
            for (id, mail) in batch {
                match mail {
                    Mail::Raw(raw) => {
                        ids.push(id);
                        raws.push(raw);
                    }
                    Mail::Oversize {
                        size,
                        header,
                        cause,
                        place,
                    } => {
                        if !self.store_has_oversize(&cause) {
                            self.oversize(pipeline::Oversize {
                                size,
                                header: &header,
                                cause: &cause,
                                place: &place,
                            })
                            .await?;
                        }
                        done.push((id, Fate::Quarantine));
                    }
                }
            }
            if !raws.is_empty() {
                let handled = self.handle_batch(raws).await?;
                for (id, h) in ids.into_iter().zip(handled) {
                    if !h.duplicate {
                        n += 1;
                    }
                    let fate = if h.quarantined {
                        Fate::Quarantine
                    } else {
                        Fate::Processed
                    };
                    done.push((id, fate));
                }
            }
            // Flushed: now the moves.
            source.settle(done).await?;
        }
    }

    /// Maildir passes every 2 s until stopped or reloaded. The error says whether a pass
    /// succeeded before it (the retry backoff then starts over).
    pub(super) async fn maildir_session(
        &self,
        path: &Path,
        move_processed: bool,
        max: u64,
        stop: &CancellationToken,
    ) -> Result<Session, (anyhow::Error, bool)> {
        let mut progressed = false;
        let mut source = MaildirSource::new(path, move_processed, max);
        loop {
            self.inbound_pass(&mut source, Some(stop))
                .await
                .map_err(|e| (e, progressed))?;
            progressed = true;
            self.inbound_status(&format!("watching maildir {}", path.display()), true);
            tokio::select! {
                _ = stop.cancelled() => return Ok(Session::Stopped),
                _ = self.reloaded.notified() => return Ok(Session::Reload),
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    /// One IMAP session: connect, handle what is there, then IDLE (or poll) and repeat.
    pub(super) async fn imap_session(
        &self,
        settings: &ImapSettings,
        poll_interval: Duration,
        stop: &CancellationToken,
    ) -> Result<Session, (anyhow::Error, bool)> {
        let connect = tokio::select! {
            _ = stop.cancelled() => return Ok(Session::Stopped),
            c = ImapInbox::connect(settings) => c,
        };
        let mut inbox = connect.map_err(|e| (e, false))?;
        tracing::info!(host = %settings.host, "connected to the IMAP server");
        let mut progressed = false;
        loop {
            // Not raced against `stop`: the message in hand is finished (DESIGN.md "Keeping
            // data"); the pass checks `stop` between batches.
            self.inbound_pass(&mut ImapSource::new(&mut inbox, &self.store), Some(stop))
                .await
                .map_err(|e| (e, progressed))?;
            progressed = true;
            self.inbound_status(
                &format!(
                    "connected to imap {}:{}, waiting for mail",
                    settings.host, settings.port
                ),
                true,
            );
            if stop.is_cancelled() {
                inbox.logout().await;
                return Ok(Session::Stopped);
            }
            let wait = if inbox.has_idle() {
                settings.idle_max
            } else {
                poll_interval
            };
            tokio::select! {
                _ = stop.cancelled() => { inbox.logout().await; return Ok(Session::Stopped) }
                _ = self.reloaded.notified() => { inbox.logout().await; return Ok(Session::Reload) }
                w = inbox.wait(wait) => { let _: Wake = w.map_err(|e| (e, progressed))?; }
            }
        }
    }
}
