//! Classify: is the sender a machine? Decided on headers alone, before decrypting
//! (DESIGN.md "Never answer a machine").
use super::parse::Headers;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// Carries our own `X-Secmail-Loop`: one of our messages came back. Dropped, team alerted.
    OurLoop,
    /// A delivery status notification (RFC 3464) or mail from the null return path.
    Bounce,
    /// An auto-reply, a list or bulk sender: recorded, never answered. The reason names the header.
    Machine(String),
    /// A person (reporter, team member or distributor is decided later, after verification).
    Person,
}

/// RFC 3834 §5 and DESIGN.md: `Auto-Submitted` other than `no`, `Precedence: bulk|junk|list`,
/// `List-Id`, an empty return path or `MAILER-DAEMON` mean a machine.
pub fn sender(h: &Headers, instance: &str) -> Sender {
    if h.loop_marker
        .as_deref()
        .is_some_and(|m| m.trim() == instance)
    {
        return Sender::OurLoop;
    }
    let from_local = h
        .from
        .as_ref()
        .and_then(|f| f.address.split('@').next().map(str::to_string))
        .unwrap_or_default();
    if h.return_path.as_deref() == Some("")
        || from_local == "mailer-daemon"
        || (h.content_type == "multipart/report"
            && h.report_type.as_deref() == Some("delivery-status"))
    {
        return Sender::Bounce;
    }
    if let Some(a) = h.auto_submitted.as_deref().filter(|a| *a != "no") {
        return Sender::Machine(format!("Auto-Submitted: {a}"));
    }
    if let Some(p) = h
        .precedence
        .as_deref()
        .filter(|p| matches!(*p, "bulk" | "junk" | "list"))
    {
        return Sender::Machine(format!("Precedence: {p}"));
    }
    if h.list_id {
        return Sender::Machine("List-Id".into());
    }
    Sender::Person
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::parse::headers;

    #[test]
    fn machines_are_recognised_before_decrypting() {
        let check = |extra: &str, expected: Sender| {
            let raw = format!("From: x@y.test\r\n{extra}Subject: s\r\n\r\nbody");
            assert_eq!(
                sender(&headers(raw.as_bytes()).unwrap(), "me"),
                expected,
                "{extra}"
            );
        };
        check("", Sender::Person);
        check("Auto-Submitted: no\r\n", Sender::Person);
        check(
            "Auto-Submitted: auto-replied\r\n",
            Sender::Machine("Auto-Submitted: auto-replied".into()),
        );
        check(
            "Precedence: junk\r\n",
            Sender::Machine("Precedence: junk".into()),
        );
        check("Precedence: first-class\r\n", Sender::Person);
        check("List-Id: <a.b>\r\n", Sender::Machine("List-Id".into()));
        check("Return-Path: <>\r\n", Sender::Bounce);
        check("X-Secmail-Loop: me\r\n", Sender::OurLoop);
        check("X-Secmail-Loop: someone-else\r\n", Sender::Person);
        let raw = "From: MAILER-DAEMON@y.test\r\n\r\nx";
        assert_eq!(
            sender(&headers(raw.as_bytes()).unwrap(), "me"),
            Sender::Bounce
        );
        // Several From addresses: a person whom nobody answers (apply), not a machine whose
        // report would be lost (SECURITY.md, smaller ones).
        let raw = "From: a@y.test, b@y.test\r\n\r\nx";
        assert_eq!(
            sender(&headers(raw.as_bytes()).unwrap(), "me"),
            Sender::Person
        );
    }
}
