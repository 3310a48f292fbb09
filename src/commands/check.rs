//! `secmail check [--online]`: config, keys, templates, and with --online the servers.
use super::ExitCode;
use crate::config::Inbound;
use crate::core::{keys, security_txt};
use crate::shell::clock::Clock;
use crate::shell::daemon::load_templates;
use crate::shell::{imap, transport};
use anyhow::{Context, Result};
use std::path::Path;

pub async fn run(config_path: &Path, online: bool) -> Result<()> {
    let clock = Clock::from_env();
    let config = super::load(config_path, clock)?;
    println!("config {}: ok", config_path.display());
    println!(
        "project key {} ({} key(s) held){}",
        config.keys.signing_fingerprint(),
        config.keys.fingerprints().len(),
        if config.project.demo_keys {
            " — DEMO KEY, public, not for real reports"
        } else {
            ""
        }
    );
    load_templates(&config.templates_dir).context(ExitCode::Config)?;
    println!("templates {}: ok", config.templates_dir.display());
    let now = clock.now().into();
    let mut unusable = 0;
    for m in &config.team {
        match keys::usable_for_encryption(&m.cert, now) {
            Ok(()) => println!("team {} <{}>: cert {} ok", m.name, m.address, m.fingerprint),
            Err(why) => {
                unusable += 1;
                println!(
                    "team {} <{}>: cert {} NOT USABLE ({why}): gets no copies",
                    m.name, m.address, m.fingerprint
                )
            }
        }
    }
    if online {
        if let Inbound::Imap { settings, .. } = &config.inbound {
            imap::check_login(settings)
                .await
                .context(ExitCode::Unavailable)?;
            println!("imap {}:{}: login ok", settings.host, settings.port);
        }
        let sender = transport::Sender::new(&config.outbound).context(ExitCode::Config)?;
        sender.check().await.context(ExitCode::Unavailable)?;
        println!("outbound: ok");
    }
    if unusable > 0 {
        println!("warning: {unusable} team member(s) cannot receive copies");
    }
    // The distributor list: how many would get nothing (no usable cert). Counts only: the
    // list itself is shown by `secmail distributors list`.
    let store = if config.store_path.exists() {
        Some(crate::shell::store::Store::open(&config.store_path))
    } else {
        println!("distributors: none yet (no store)");
        None
    };
    match store {
        None => {}
        Some(Ok(store)) => {
            let list = store.distributors();
            let sys = clock.now().into();
            let unusable = list
                .iter()
                .filter(|d| {
                    d.cert
                        .as_deref()
                        .and_then(|c| keys::parse_cert(c.as_bytes()).ok())
                        .is_none_or(|c| keys::usable_for_encryption(&c, sys).is_err())
                })
                .count();
            if unusable > 0 {
                println!(
                    "warning: {} distributor(s), {unusable} without a usable cert: they get no notices (see `secmail distributors list`)",
                    list.len()
                );
            } else {
                println!("distributors: {} with usable certs", list.len());
            }
        }
        Some(Err(e)) if e.is::<crate::shell::store::StoreLocked>() => {
            println!("distributors: not checked (the store is in use by the running daemon)")
        }
        Some(Err(e)) => println!("warning: store: {e:#}"),
    }
    // RFC 9116 §2.5.5: a published security.txt past its Expires is to be treated as stale.
    if let Some(path) = &config.security_txt.path {
        match std::fs::read_to_string(path) {
            Ok(text) => match security_txt::published_warning(
                &text,
                &config.keys,
                clock.now(),
                chrono::Duration::days(30),
            ) {
                Some(w) => println!("warning: security.txt {}: {w}", path.display()),
                None => println!("security.txt {}: ok", path.display()),
            },
            Err(e) => println!(
                "warning: security.txt {}: cannot read it ({e}); write one with `secmail security-txt --output {}`",
                path.display(),
                path.display()
            ),
        }
    }
    Ok(())
}
