//! Messages kept without a case, as the team is told of them (issue 11, "nothing quarantined
//! in silence"): one [`Kept`] per message — who sent it, when, how big, its Message-ID, why it
//! became or joined no case and what was done about it — and [`kept_alert`], which puts any
//! number of them into one encrypted alert per team member, so that a batch of them is one
//! message, not one each.
//!
//! Invariants: a [`Kept`] carries header facts and our own words only, never a message's text
//! (nor the plaintext of ciphertext we refused); header values are cut to one short line
//! without control characters, since anyone can write them. [`Kept::of_raw`] reads the header
//! with a bounded scan of its own, not the MIME parser, so that it is safe on a message the
//! parser could not read or that stopped the daemon.
use super::Draft;
use crate::core::parse::{address_of, one_line, Headers};
use crate::core::settings::Settings;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One message that became or joined no case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// sha256 of its bytes, hex: its id in the store (`secmail quarantine show ID`).
    pub hash: String,
    pub sender: Option<String>,
    /// The Date header (RFC 3339 when it parses, else as written).
    pub date: Option<String>,
    pub size: usize,
    pub message_id: Option<String>,
    /// Why it has no case (quarantine's reason, or what it was).
    pub reason: String,
    /// What was done about it, when that is more than keeping it (the sender was answered).
    pub note: Option<String>,
}

/// How far [`Kept::of_raw`] looks for the header.
const HEADER_SCAN: usize = 64 << 10;

impl Kept {
    /// From the parsed header of the message `raw` (`size` bytes).
    pub fn of_headers(hash: &str, size: usize, h: &Headers, reason: &str) -> Kept {
        Kept {
            hash: hash.to_string(),
            sender: h.from.as_ref().map(|f| one_line(&f.address)),
            date: h.date.as_deref().map(one_line),
            size,
            message_id: h.message_id.as_deref().map(one_line),
            reason: one_line(reason),
            note: None,
        }
    }

    /// From the raw bytes alone: the From, Date and Message-ID lines of the header (unfolded),
    /// read within the first 64 KiB without the MIME parser.
    pub fn of_raw(raw: &[u8], hash: &str, reason: &str) -> Kept {
        let head = &raw[..raw.len().min(HEADER_SCAN)];
        let text = String::from_utf8_lossy(head);
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = fields.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) => {
                    fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()))
                }
                // Not a header line: whatever follows is not a header either.
                None => break,
            }
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| one_line(v))
                .filter(|v| !v.is_empty())
        };
        Kept {
            hash: hash.to_string(),
            sender: field("from")
                .map(|f| address_of(&f))
                .filter(|a| a.contains('@')),
            date: field("date"),
            size: raw.len(),
            message_id: field("message-id").map(|m| m.trim_matches(['<', '>']).to_string()),
            reason: one_line(reason),
            note: None,
        }
    }

    /// With what was done about it.
    pub fn noting(mut self, note: impl Into<String>) -> Kept {
        self.note = Some(note.into());
        self
    }

    /// The store id people type: the first twelve hex digits of the hash.
    pub fn id(&self) -> &str {
        &self.hash[..self.hash.len().min(12)]
    }

    fn vars(&self) -> serde_json::Value {
        json!({
            "id": self.id(),
            "sender": self.sender.as_deref().unwrap_or("unknown"),
            "date": self.date.as_deref().unwrap_or("none"),
            "size": self.size,
            "message_id": self.message_id.as_deref().unwrap_or("none"),
            "reason": self.reason,
            "note": self.note,
        })
    }
}

/// The team's alert about `kept` (one or many messages): one draft per member, each encrypted
/// to that member; none when `kept` is empty. The Message-ID derives from the messages' hashes
/// and reasons, so the same batch told again has the same id.
pub fn kept_alert(config: &Settings, kept: &[Kept]) -> Vec<Draft> {
    if kept.is_empty() {
        return Vec::new();
    }
    let quarantined = kept.len();
    let text = if quarantined == 1 {
        "A message to the security address became or joined no case. It is kept\nin the store; nothing of its text is in this notice.".to_string()
    } else {
        format!("{quarantined} messages to the security address became or joined no case.\nThey are kept in the store; nothing of their text is in this notice.")
    };
    let cause = kept
        .iter()
        .map(|k| format!("{}/{}", k.hash, k.reason))
        .collect::<Vec<_>>()
        .join(",");
    let messages: Vec<serde_json::Value> = kept.iter().map(Kept::vars).collect();
    let inner = match kept {
        [one] => format!("secmail notice: kept without a case ({})", one.reason),
        _ => format!("secmail notice: {quarantined} messages kept without a case"),
    };
    super::team::notice(
        config,
        None,
        "kept without a case",
        &text,
        messages,
        &inner,
        &format!("kept/{cause}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_header_scan_reads_folded_lines_and_stops_at_the_body() {
        let raw = b"Received: from x\r\n  by y\r\nFrom: \"Rita\r\n R.\" <Rita@Reporter.Example>\r\nDate: Thu, 24 Dec 2026\r\n 10:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nFrom: body@not.header\r\n";
        let k = Kept::of_raw(raw, "00112233445566778899", "poison");
        assert_eq!(k.sender.as_deref(), Some("rita@reporter.example"));
        assert_eq!(k.date.as_deref(), Some("Thu, 24 Dec 2026 10:00:00 +0000"));
        assert_eq!(k.message_id.as_deref(), Some("a@b"));
        assert_eq!(k.size, raw.len());
        assert_eq!(k.id(), "001122334455");
        // No header at all, or control characters in one.
        let k = Kept::of_raw(b"\x00\x01\x02 garbage", "h", "x");
        assert_eq!((k.sender, k.date, k.message_id), (None, None, None));
        let k = Kept::of_raw(b"From: a@b\x1b[2J\r\n\r\n", "h", "x");
        assert_eq!(k.sender.as_deref(), Some("a@b[2j"));
    }
}
