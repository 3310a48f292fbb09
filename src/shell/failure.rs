//! Why talking to a mail server failed, as the caller must act on it (issue 12.4): a
//! configuration the server refuses (a wrong password, no common authentication mechanism, a
//! folder name the server cannot create) will not pass by retrying, and retrying it fast gets
//! the client banned (fail2ban counts failed logins); a server that is down or slow will.
//!
//! `shell::imap` attaches a [`FailureClass`] to its errors as an anyhow context value;
//! `shell::transport` has `SendError::Config` for the SMTP side. [`FailureClass::of`] reads it
//! back from any anyhow error: `check` and `run --once` turn `Config` into exit 78, and the
//! daemon can back off for minutes instead of seconds.
//!
//! Invariant: an error without a class is `Unavailable`, the class that is retried, as every
//! failure was before this module.

/// What a failure calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FailureClass {
    /// The server refused what we are configured to do: fix the configuration. Retrying
    /// soon will not help.
    #[error("refused by the server (a configuration error)")]
    Config,
    /// The server could not be reached or answered with a temporary failure: try again.
    #[error("server unavailable")]
    Unavailable,
}

impl FailureClass {
    /// The class attached anywhere in `e`'s chain (as a context value or as the error
    /// itself), else `Unavailable`.
    pub fn of(e: &anyhow::Error) -> FailureClass {
        carried(e).unwrap_or(FailureClass::Unavailable)
    }
}

/// A value of type `T` that `e` carries, as a context value at any level (`.context(v)`,
/// which anyhow's downcast sees) or as one of the errors of its chain.
pub fn carried<T>(e: &anyhow::Error) -> Option<T>
where
    T: Copy + std::error::Error + Send + Sync + 'static,
{
    e.downcast_ref::<T>()
        .copied()
        .or_else(|| e.chain().find_map(|c| c.downcast_ref::<T>().copied()))
}

/// The class of an IMAP `NO` or `BAD` answer from its response code (RFC 5530), `None` when
/// the text carries no code that decides. `[UNAVAILABLE]` and `[INUSE]` are temporary; codes
/// that name a refusal of who we are or what we ask are configuration errors.
pub fn imap_response_class(text: &str) -> Option<FailureClass> {
    const CONFIG: &[&str] = &[
        "[AUTHENTICATIONFAILED]",
        "[AUTHORIZATIONFAILED]",
        "[PRIVACYREQUIRED]",
        "[CANNOT]",
        "[NOPERM]",
        "[NONEXISTENT]",
        "[CONTACTADMIN]",
        "[EXPIRED]",
    ];
    const TEMPORARY: &[&str] = &["[UNAVAILABLE]", "[INUSE]", "[SERVERBUG]", "[LIMIT]"];
    let upper = text.to_ascii_uppercase();
    if TEMPORARY.iter().any(|c| upper.contains(c)) {
        Some(FailureClass::Unavailable)
    } else if CONFIG.iter().any(|c| upper.contains(c)) {
        Some(FailureClass::Config)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_class_is_found_anywhere_in_the_chain() {
        let e = anyhow::anyhow!("no response")
            .context(FailureClass::Config)
            .context("imap 127.0.0.1:143: login");
        assert_eq!(FailureClass::of(&e), FailureClass::Config);
        let plain: anyhow::Result<()> = Err(anyhow::anyhow!("connection refused"));
        let e = plain.context("imap 127.0.0.1:143").unwrap_err();
        assert_eq!(FailureClass::of(&e), FailureClass::Unavailable);
    }

    #[test]
    fn imap_codes() {
        let check = |text: &str, want: Option<FailureClass>| {
            assert_eq!(imap_response_class(text), want, "{text}")
        };
        // As async-imap words a NO (the code it does not know stays in the text).
        check(
            r#"no response: code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#,
            Some(FailureClass::Config),
        );
        check(
            "[CANNOT] Character not permitted in mailbox name: '/'",
            Some(FailureClass::Config),
        );
        check(
            "[UNAVAILABLE] Temporary authentication failure.",
            Some(FailureClass::Unavailable),
        );
        check(
            "[nonexistent] Mailbox doesn't exist",
            Some(FailureClass::Config),
        );
        check("[ALREADYEXISTS] Mailbox already exists", None);
        check("Authentication failed.", None);
    }
}
