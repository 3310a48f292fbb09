//! `secmail check [--online]`: config, keys, templates (`shell::templates::check`), ca-files,
//! and with --online the servers: IMAP login, hierarchy delimiter and folders (created when
//! missing), SMTP with the security address as sender. Each server is reported; the exit code
//! is 78 when any refused the configuration, 69 when one was only unavailable.
use super::ExitCode;
use crate::config::Inbound;
use crate::core::{keys, security_txt};
use crate::shell::clock::Clock;
use crate::shell::failure::FailureClass;
use crate::shell::{imap, templates, tls, transport};
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
    let loaded = templates::check(&config).context(ExitCode::Config)?;
    if loaded.built_in.is_empty() {
        println!("templates {}: ok", config.templates_dir.display());
    } else {
        println!(
            "templates {}: ok; built in: {}",
            config.templates_dir.display(),
            loaded.built_in.join(", ")
        );
    }
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
    // A ca-file that is missing or holds no certificate would fail at the first connection;
    // say so now, online or not.
    let mut ca_files = Vec::new();
    if let Inbound::Imap { settings, .. } = &config.inbound {
        ca_files.extend(settings.ca_file.iter().map(|p| ("inbound.ca-file", p)));
    }
    if let transport::Transport::Smtp(s) = &config.outbound {
        ca_files.extend(s.ca_file.iter().map(|p| ("outbound.ca-file", p)));
    }
    for (key, path) in ca_files {
        tls::client_config(Some(path))
            .with_context(|| key.to_string())
            .context(ExitCode::Config)?;
        println!("{key} {}: ok", path.display());
    }
    // Every server is tried and reported, a failure of one does not hide the others; the exit
    // code is the worst class seen (a configuration error over an unavailable server).
    let mut failures = Vec::new();
    if online {
        if let Inbound::Imap { settings, .. } = &config.inbound {
            let server = format!("imap {}:{}", settings.host, settings.port);
            match imap::check(settings).await {
                Ok(found) => {
                    let delimiter = found
                        .delimiter
                        .as_deref()
                        .map_or("none (flat)".to_string(), |d| format!("{d:?}"));
                    println!("{server}: login ok; hierarchy delimiter {delimiter}");
                    for f in &found.folders {
                        println!(
                            "{server}: folder {:?} as {:?}: ok{}",
                            f.configured,
                            f.on_server,
                            if f.created { " (created)" } else { "" }
                        );
                    }
                }
                Err(e) => {
                    println!("{server}: FAILED: {e:#}");
                    failures.push(FailureClass::of(&e));
                }
            }
        }
        let target = match &config.outbound {
            transport::Transport::Smtp(s) => format!("smtp {}:{}", s.host, s.port),
            transport::Transport::File { dir } => format!("file {}", dir.display()),
        };
        let checked = match transport::Mailer::new(&config.outbound) {
            Ok(sender) => sender
                .check_as(Some(&config.project.security_address))
                .await
                .map(|()| sender),
            Err(e) => Err(e.context(FailureClass::Config)),
        };
        match (checked, &config.outbound) {
            (Ok(_), transport::Transport::Smtp(_)) => println!(
                "outbound: ok ({target}; MAIL FROM:<{}> accepted)",
                config.project.security_address
            ),
            (Ok(_), transport::Transport::File { .. }) => println!("outbound: ok ({target})"),
            (Err(e), _) => {
                println!("outbound: FAILED ({target}): {e:#}");
                failures.push(FailureClass::of(&e));
            }
        }
    }
    if unusable > 0 {
        println!("warning: {unusable} team member(s) cannot receive copies");
    }
    // The distributor list: how many would get nothing (no usable cert). Counts only: the
    // list itself is shown by `secmail distributors list`.
    // Beside a running daemon, through its control socket (`commands::remote`).
    let store = if config.store_path.exists() {
        Some(super::remote::open(&config).and_then(|a| a.distributors()))
    } else {
        println!("distributors: none yet (no store)");
        None
    };
    match store {
        None => {}
        Some(Ok(list)) => {
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
        Some(Err(e))
            if e.chain()
                .any(|c| c.is::<crate::shell::store::StoreLocked>()) =>
        {
            println!("distributors: not checked (the store is in use by another secmail process)")
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
    if !failures.is_empty() {
        let code = if failures.contains(&FailureClass::Config) {
            ExitCode::Config
        } else {
            ExitCode::Unavailable
        };
        return Err(anyhow::anyhow!(
            "{} of the servers failed the check (see above)",
            failures.len()
        )
        .context(code));
    }
    Ok(())
}
