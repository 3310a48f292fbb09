//! Store commands whether or not the daemon runs (issue 12). [`open`] opens the store directly
//! when no daemon holds it, and otherwise talks to the daemon over its control socket
//! (`shell::control`): the command code is the same either way — it calls [`Access`], which
//! does one store operation locally or asks the daemon to do exactly that one — so output,
//! `--json` and exit codes are the same either way. Files a command reads or writes (a cert,
//! a backup, an advisory) stay on the caller's side.
//!
//! [`handler`] is the daemon's side: each request names one operation of [`Access`].
use super::quarantine;
use super::ExitCode;
use crate::config::Config;
use crate::core::disclose::ListChange;
use crate::core::pipeline::MessageRecord;
use crate::core::thread::Lookup;
use crate::model::{Case, CaseId, Distributor};
use crate::shell::control::{self, Handler};
use crate::shell::daemon::Runtime;
use crate::shell::figures::{self, Figures};
use crate::shell::store::{OutboxEntry, Record, Store, StoreLocked};
use crate::shell::templates::load_templates;
use anyhow::{anyhow, Context, Result};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// The store, opened here or reached through the running daemon.
pub enum Access {
    Local(Store),
    Daemon(PathBuf),
}

/// Opens the store; when a running daemon answers on its control socket, the daemon instead,
/// whatever stopped the open: its lock, or (an operator in the group secmail) a StateDirectory
/// of mode 0700 the caller cannot look into. A store held by a process that does not answer
/// (an import, a backup) exits 75 as before; one that cannot be opened, 74.
pub fn open(config: &Config) -> Result<Access> {
    match Store::open(&config.store_path) {
        Ok(store) => Ok(Access::Local(store)),
        Err(_) if control::answers(&config.control_socket) => {
            Ok(Access::Daemon(config.control_socket.clone()))
        }
        Err(e) => {
            let code = if e.is::<StoreLocked>() {
                ExitCode::TempFail
            } else {
                ExitCode::IoErr
            };
            Err(e.context(code)).context("opening the store")
        }
    }
}

impl Access {
    /// Asks the daemon for one operation; its refusal keeps its exit code.
    fn ask<T: DeserializeOwned>(&self, socket: &std::path::Path, request: Value) -> Result<T> {
        let reply = control::call(socket, &request).context(ExitCode::Unavailable)?;
        if reply["ok"] == json!(true) {
            return serde_json::from_value(reply["value"].clone())
                .context("an unexpected reply from the daemon")
                .context(ExitCode::Unavailable);
        }
        let message = reply["error"].as_str().unwrap_or("refused").to_string();
        let code = ExitCode::from_code(reply["code"].as_u64().unwrap_or(0));
        Err(anyhow!("the daemon: {message}")).context(code)
    }

    pub fn is_daemon(&self) -> bool {
        matches!(self, Access::Daemon(_))
    }

    pub fn cases(&self) -> Result<Vec<Case>> {
        match self {
            Access::Local(s) => Ok(s.cases()),
            Access::Daemon(p) => self.ask(p, json!({"op": "cases"})),
        }
    }

    pub fn case(&self, id: &CaseId) -> Result<Option<Case>> {
        match self {
            Access::Local(s) => Ok(s.case(id)),
            Access::Daemon(p) => self.ask(p, json!({"op": "case", "id": id})),
        }
    }

    pub fn message(&self, hash: &str) -> Result<Option<MessageRecord>> {
        match self {
            Access::Local(s) => Ok(s.message(hash)),
            Access::Daemon(p) => self.ask(p, json!({"op": "message", "hash": hash})),
        }
    }

    pub fn distributors(&self) -> Result<Vec<Distributor>> {
        match self {
            Access::Local(s) => Ok(s.distributors()),
            Access::Daemon(p) => self.ask(p, json!({"op": "distributors"})),
        }
    }

    pub fn change_distributors(&self, change: &ListChange) -> Result<()> {
        match self {
            Access::Local(s) => s.change_distributors(change),
            Access::Daemon(p) => {
                self.ask(p, json!({"op": "change-distributors", "change": change}))
            }
        }
    }

    /// Every record, consistent: locally the store is ours alone; the daemon takes it under its
    /// write lock (an online backup).
    pub fn export(&self) -> Result<Vec<Record>> {
        match self {
            Access::Local(s) => s.export(),
            Access::Daemon(p) => {
                let rows: Vec<[String; 3]> = self.ask(p, json!({"op": "export"}))?;
                let b64 = base64::engine::general_purpose::STANDARD;
                rows.into_iter()
                    .map(|[t, k, v]| Ok((b64.decode(t)?, b64.decode(k)?, b64.decode(v)?)))
                    .collect::<Result<_>>()
                    .context(ExitCode::Unavailable)
            }
        }
    }

    pub fn outbox_entries(&self) -> Result<Vec<(u64, OutboxEntry)>> {
        match self {
            Access::Local(s) => Ok(s.outbox_entries()),
            Access::Daemon(p) => self.ask(p, json!({"op": "outbox-list"})),
        }
    }

    pub fn outbox_retry(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        match self {
            Access::Local(s) => s.outbox_retry_now(id, now),
            Access::Daemon(p) => self.ask(p, json!({"op": "outbox-retry", "id": id, "now": now})),
        }
    }

    pub fn outbox_drop(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        match self {
            Access::Local(s) => s.outbox_drop(id, now),
            Access::Daemon(p) => self.ask(p, json!({"op": "outbox-drop", "id": id, "now": now})),
        }
    }

    pub fn quarantine_list(&self) -> Result<Vec<quarantine::Entry>> {
        match self {
            Access::Local(s) => quarantine::list(s),
            Access::Daemon(p) => self.ask(p, json!({"op": "quarantine-list"})),
        }
    }

    pub fn quarantine_show(&self, id: &str) -> Result<quarantine::Shown> {
        match self {
            Access::Local(s) => quarantine::show(s, id),
            Access::Daemon(p) => self.ask(p, json!({"op": "quarantine-show", "id": id})),
        }
    }

    /// Handles a kept message again: here with this config's templates and the store's id
    /// secret, or by the daemon with its own.
    pub fn quarantine_release(
        &self,
        config: &mut Config,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<quarantine::Released> {
        match self {
            Access::Local(s) => {
                config.settings.project.id_secret = s.id_secret();
                release_here(s, config, id, now)
            }
            Access::Daemon(p) => {
                self.ask(p, json!({"op": "quarantine-release", "id": id, "now": now}))
            }
        }
    }

    /// The figures of `secmail status`; with a daemon, its own runtime figures too.
    pub fn figures(&self, config: &Config, now: DateTime<Utc>) -> Result<Figures> {
        match self {
            Access::Local(s) => Ok(figures::figures(s, config, None, now)),
            Access::Daemon(p) => self.ask(p, json!({"op": "figures", "now": now})),
        }
    }
}

/// The daemon's side: one operation per request, on its store, with its config (for the
/// figures). Every failure is a refusal with the exit code the CLI passes on.
pub fn handler() -> Handler {
    Arc::new(
        move |store: &Store, config: &Config, runtime: &Runtime, req: Value| match serve(
            store, config, runtime, &req,
        ) {
            Ok(value) => json!({"ok": true, "value": value}),
            Err(e) => control::refusal(ExitCode::of(&e) as u8, format!("{e:#}")),
        },
    )
}

/// A release with `config`'s templates (its id secret the store's: set by the caller, or the
/// daemon's own).
fn release_here(
    store: &Store,
    config: &Config,
    id: &str,
    now: DateTime<Utc>,
) -> Result<quarantine::Released> {
    let templates = load_templates(config).context(ExitCode::Config)?;
    quarantine::release(store, config, &templates, id, now)
}

fn field<T: DeserializeOwned>(req: &Value, name: &str) -> Result<T> {
    serde_json::from_value(req[name].clone())
        .with_context(|| format!("the request's {name:?}"))
        .context(ExitCode::DataErr)
}

fn serve(store: &Store, config: &Config, runtime: &Runtime, req: &Value) -> Result<Value> {
    let op = req["op"].as_str().unwrap_or("");
    let v = match op {
        "cases" => serde_json::to_value(store.cases())?,
        "case" => serde_json::to_value(store.case(&field::<CaseId>(req, "id")?))?,
        "message" => serde_json::to_value(store.message(&field::<String>(req, "hash")?))?,
        "distributors" => serde_json::to_value(store.distributors())?,
        "change-distributors" => {
            store.change_distributors(&field::<ListChange>(req, "change")?)?;
            Value::Null
        }
        "export" => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let rows: Vec<[String; 3]> = store
                .export()?
                .into_iter()
                .map(|(t, k, v)| [b64.encode(t), b64.encode(k), b64.encode(v)])
                .collect();
            serde_json::to_value(rows)?
        }
        "outbox-list" => serde_json::to_value(store.outbox_entries())?,
        "outbox-retry" => {
            serde_json::to_value(store.outbox_retry_now(field(req, "id")?, field(req, "now")?)?)?
        }
        "outbox-drop" => {
            serde_json::to_value(store.outbox_drop(field(req, "id")?, field(req, "now")?)?)?
        }
        "quarantine-list" => serde_json::to_value(quarantine::list(store)?)?,
        "quarantine-show" => {
            serde_json::to_value(quarantine::show(store, &field::<String>(req, "id")?)?)?
        }
        "quarantine-release" => serde_json::to_value(release_here(
            store,
            config,
            &field::<String>(req, "id")?,
            field(req, "now")?,
        )?)?,
        "figures" => serde_json::to_value(figures::figures(
            store,
            config,
            Some(runtime.clone()),
            field(req, "now")?,
        ))?,
        other => {
            return Err(anyhow!(
                "unknown operation {other:?} (a CLI newer than the daemon? restart the daemon)"
            ))
            .context(ExitCode::Usage)
        }
    };
    Ok(v)
}
