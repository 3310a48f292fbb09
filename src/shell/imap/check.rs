//! What `secmail check --online` checks on the IMAP server: the login, the hierarchy
//! delimiter, the inbox, and the processed and quarantine folders (created as the daemon would).
use super::*;

/// Connects, logs in, examines the inbox folder (read-only, no folders created), logs out.
pub async fn check_login(s: &ImapSettings) -> Result<()> {
    let server = format!("{}:{}", s.host, s.port);
    check_folder_name(&s.folder).with_context(|| format!("imap {server}"))?;
    let mut session = login(s).await?;
    let examined = async {
        let names = FolderNames::ask(&mut session, s).await?;
        timeout(COMMAND_TIMEOUT, session.examine(&names.inbox))
            .await
            .context("timed out")?
            .map_err(|e| refused(e, FailureClass::Config))
            .with_context(|| format!("examine {:?}", names.inbox))?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let _ = timeout(Duration::from_secs(5), session.logout()).await;
    examined.with_context(|| format!("imap {server}"))?;
    Ok(())
}

/// What `secmail check --online` found on the IMAP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCheck {
    /// The hierarchy delimiter the server answered `LIST "" ""` with (`None`: a flat server).
    pub delimiter: Option<String>,
    /// The inbox, processed and quarantine folders, in that order.
    pub folders: Vec<FolderCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderCheck {
    /// As configured (levels separated by `/`).
    pub configured: String,
    /// Its name on this server, as it goes on the wire.
    pub on_server: String,
    /// Created by this check (it was missing).
    pub created: bool,
}

/// `secmail check --online`: logs in, asks for the hierarchy delimiter, examines the inbox
/// folder, creates the processed and quarantine folders when missing (as the daemon would) and
/// examines them, logs out. Nothing of a message is read or moved.
pub async fn check(s: &ImapSettings) -> Result<ServerCheck> {
    let server = format!("{}:{}", s.host, s.port);
    for name in [&s.folder, &s.processed_folder, &s.quarantine_folder] {
        check_folder_name(name).with_context(|| format!("imap {server}"))?;
    }
    let mut session = login(s).await?;
    let result = async {
        let names = FolderNames::ask(&mut session, s).await?;
        let mut folders = Vec::new();
        for (configured, on_server, create) in [
            (&s.folder, &names.inbox, false),
            (&s.processed_folder, &names.processed, true),
            (&s.quarantine_folder, &names.quarantine, true),
        ] {
            let created = if create {
                timeout(COMMAND_TIMEOUT, ensure_folder(&mut session, on_server))
                    .await
                    .context("timed out")??
            } else {
                false
            };
            timeout(COMMAND_TIMEOUT, session.examine(on_server))
                .await
                .context("timed out")?
                .map_err(|e| refused(e, FailureClass::Config))
                .with_context(|| format!("examine {on_server:?}"))?;
            folders.push(FolderCheck {
                configured: configured.clone(),
                on_server: on_server.clone(),
                created,
            });
        }
        Ok::<_, anyhow::Error>(ServerCheck {
            delimiter: names.delimiter,
            folders,
        })
    }
    .await;
    let _ = timeout(Duration::from_secs(5), session.logout()).await;
    result.with_context(|| format!("imap {server}"))
}
