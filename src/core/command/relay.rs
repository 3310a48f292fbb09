//! Relay: what of a team member's text a `/reply` hands to the reporter, and the markers that
//! show a text is internal (DESIGN.md "Team commands").
//!
//! Invariants: pure; nothing quoted, no signature block and no forwarded copy leaves with the
//! relayed text.

/// The text a `/reply` relays: the rest of the body without quoted lines (`> …`), the
/// attribution line above a quote ("On … wrote:"), the sender's signature (after `-- `), and
/// everything from an Outlook- or Gmail-style quote on ("-----Original Message-----", a line
/// of underscores, a "From:" header block with "Sent:"/"Date:"/"To:"/"Subject:"), so that
/// nothing internal and no team address travels with it by accident.
pub fn relay_text(rest: &str) -> String {
    let lines: Vec<&str> = rest.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if *line == "-- " || *line == "--" || starts_forwarded_quote(&lines[i..]) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        let next_is_quote = lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim_start().starts_with('>'));
        if next_is_quote && line.trim_end().ends_with(':') {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// An unquoted copy of an earlier message begins here (Outlook, Gmail, Apple Mail styles).
pub(super) fn starts_forwarded_quote(lines: &[&str]) -> bool {
    let first = lines.first().map(|l| l.trim()).unwrap_or("");
    let lower = first.to_ascii_lowercase();
    if lower.starts_with("-----original message-----")
        || lower.starts_with("---------- forwarded message")
        || lower.starts_with("begin forwarded message:")
        || (first.len() >= 10 && first.chars().all(|c| c == '_'))
    {
        return true;
    }
    // "From: …" followed closely by the other header lines of a quoted message.
    lower.starts_with("from:")
        && lines[1..].iter().take(4).any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            ["sent:", "date:", "to:", "subject:", "cc:"]
                .iter()
                .any(|h| l.starts_with(h))
        })
}

/// Lines that only a team copy or a team note carries (templates/team-copy.hbs): a relay with
/// one of them would hand internal text to the reporter.
pub fn internal_marker(text: &str) -> Option<&'static str> {
    const MARKERS: [&str; 4] = [
        "----- message text -----",
        "----- end of message text -----",
        "Reply to this message to write in the case; the reporter does not see",
        "Case address:",
    ];
    MARKERS.into_iter().find(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_text_drops_quotes_and_signature() {
        let rest = "Hello Rita,\n\nthanks, confirmed.\n\nOn Mon, Alice wrote:\n> Case: SEC-2026-0001\n> From: alice@example.org\n\n-- \nAlice <alice@example.org>\n";
        assert_eq!(relay_text(rest), "Hello Rita,\n\nthanks, confirmed.");
        assert_eq!(relay_text("a: b\nc"), "a: b\nc");
    }
}
