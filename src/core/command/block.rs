//! Block: where the command block of a body is, as people write replies (issue 13.1): at the
//! top (Outlook-style top posting), or below an attribution line ("On … wrote:") and the
//! quoted lines (mutt, Thunderbird bottom posting); and which command lines lie elsewhere, so
//! that none of them is dropped silently.
//!
//! Invariants: pure; a quoted line (`> …`) is never a command and never "not executed"; nothing
//! after the sender's signature (`-- `) or an unquoted copy of an earlier message (Outlook's
//! "-----Original Message-----", a `From:`/`Sent:` header block) is looked at for commands;
//! outside the block only lines naming a known command count as "not executed", so that prose
//! such as "/tmp is world-writable" stays prose.
use super::relay::starts_forwarded_quote;

/// A body cut into its command block and the rest.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split<'a> {
    /// The command lines of the block, as written.
    pub block: Vec<&'a str>,
    /// Everything else, in order (the quote above the block, then the text below it).
    pub text: Vec<&'a str>,
    /// Command lines outside the block, with why they were not executed.
    pub stray: Vec<(&'a str, &'static str)>,
}

/// Why a command line after the block is not executed.
pub(super) const AFTER_BLOCK: &str =
    "not in the command block: a blank or other line ended the block above it";
/// Why a command line below the message text is not executed.
pub(super) const AFTER_TEXT: &str =
    "below the message text: commands go at the top, or right below the quoted message";

/// `/name args` → (name lowercased, args), when `name` is a word of letters and dashes
/// (command names are case-insensitive, as Schleuder's keywords and RT's CommandByMail are).
pub(super) fn command_line(line: &str) -> Option<(String, &str)> {
    let t = line.trim();
    let body = t.strip_prefix('/')?;
    let (name, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let word = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
    word.then(|| (name.to_ascii_lowercase(), args.trim()))
}

fn quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// An attribution line: ends with a colon, and the next line that is not blank is quoted
/// ("On Mon, 1 Dec 2026, Alice wrote:", "Am 01.12.26 um 10:00 schrieb Alice:").
fn attribution(lines: &[&str], i: usize) -> bool {
    lines[i].trim_end().ends_with(':')
        && lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| quoted(l))
}

/// Cuts `body` into block, text and stray command lines. `known`: whether a command name
/// exists (for lines outside the block).
pub(super) fn split<'a>(body: &'a str, known: &dyn Fn(&str) -> bool) -> Split<'a> {
    let lines: Vec<&str> = body.lines().collect();
    let mut out = Split::default();
    // The quote a reply may start with: blank lines, attribution lines, quoted lines.
    let mut i = 0;
    while i < lines.len()
        && (lines[i].trim().is_empty() || quoted(lines[i]) || attribution(&lines, i))
    {
        i += 1;
    }
    let block_start = i;
    while i < lines.len() && command_line(lines[i]).is_some() {
        i += 1;
    }
    out.block = lines[block_start..i].to_vec();
    let preamble = &lines[..block_start];
    // Without a block the quote stays as it was; with one, the blank lines between quote and
    // block go, as the blank lines between block and text do.
    out.text.extend(preamble.iter().copied());
    let mut rest = &lines[i..];
    if !out.block.is_empty() {
        while out.text.last().is_some_and(|l| l.trim().is_empty()) {
            out.text.pop();
        }
        while rest.first().is_some_and(|l| l.trim().is_empty()) {
            rest = &rest[1..];
        }
        if !out.text.is_empty() && !rest.is_empty() {
            out.text.push("");
        }
    }
    let why = if out.block.is_empty() {
        AFTER_TEXT
    } else {
        AFTER_BLOCK
    };
    let mut looking = true;
    for (j, line) in rest.iter().enumerate() {
        if *line == "-- " || *line == "--" || starts_forwarded_quote(&rest[j..]) {
            looking = false;
        }
        if looking && !quoted(line) {
            if let Some((name, _)) = command_line(line) {
                if known(&name) {
                    out.stray.push((line.trim(), why));
                }
            }
        }
        out.text.push(line);
    }
    while out.text.first().is_some_and(|l| l.trim().is_empty()) {
        out.text.remove(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, block: &[&str], text: &str, stray: &[&str]) {
        let known = |n: &str| ["state", "reply", "assign"].contains(&n);
        let s = split(body, &known);
        assert_eq!(s.block, block, "block of {body:?}");
        assert_eq!(s.text.join("\n"), text, "text of {body:?}");
        let got: Vec<&str> = s.stray.iter().map(|(l, _)| *l).collect();
        assert_eq!(got, stray, "stray lines of {body:?}");
    }

    #[test]
    fn blocks_as_people_place_them() {
        // Top posting (Outlook): the block first, the quote below stays text.
        check(
            "/State Confirmed\n/reply\n\nHello Rita,\n\n-----Original Message-----\nFrom: secmail\nSent: Monday\n/state closed",
            &["/State Confirmed", "/reply"],
            "Hello Rita,\n\n-----Original Message-----\nFrom: secmail\nSent: Monday\n/state closed",
            &[],
        );
        // Bottom posting (mutt, Thunderbird): attribution, quote, then the block.
        check(
            "On Mon, 1 Dec 2026, secmail wrote:\n> Case: SEC-2026-0001\n> /state fixing\n\n/state confirmed\n/reply\n\nHello Rita.\n\n-- \nAlice\n/state closed",
            &["/state confirmed", "/reply"],
            "On Mon, 1 Dec 2026, secmail wrote:\n> Case: SEC-2026-0001\n> /state fixing\n\nHello Rita.\n\n-- \nAlice\n/state closed",
            &[],
        );
        // A command below text, or after the block ended: not executed, and said so.
        check(
            "Thanks, looking.\n/state triage",
            &[],
            "Thanks, looking.\n/state triage",
            &["/state triage"],
        );
        check(
            "/assign me\n\n/state triage\n/tmp is world-writable",
            &["/assign me"],
            "/state triage\n/tmp is world-writable",
            &["/state triage"],
        );
        check("/usr/bin is broken", &[], "/usr/bin is broken", &[]);
        // A colon line not followed by a quote is text, not an attribution.
        check(
            "Steps:\n/state triage",
            &[],
            "Steps:\n/state triage",
            &["/state triage"],
        );
    }
}
