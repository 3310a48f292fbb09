//! ASCII armor as mail delivers it: finding inline blocks and repairing what transport did
//! to them.
//!
//! Owns: locating `-----BEGIN PGP ...` lines, splitting a text into clear text and armored
//! blocks, rebuilding mangled armor (NBSP or `&nbsp;` separators, indentation, trailing
//! spaces) and de-armoring to binary (RFC 9580 §6.2, §7).
//!
//! Invariants:
//! - Only the armor lines are rewritten: armor is ASCII, so trimming whitespace and non-ASCII
//!   bytes from its lines loses nothing; the signed text of a cleartext-signed block is kept
//!   byte for byte (its signature covers it).
//! - A cleartext-signed block inside an encrypted part is refused, not verified as if it
//!   were the encrypted content.

use std::io::Read;

use super::forms::Segment;
use super::openpgp::armor;

/// Position of the first line (trimmed) that starts with `marker`.
pub(super) fn find_line(data: &[u8], marker: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for line in data.split(|&b| b == b'\n') {
        if trim_armor(line).starts_with(marker) {
            return Some(pos);
        }
        pos += line.len() + 1;
    }
    None
}

/// Trims ASCII whitespace and non-ASCII bytes (NBSP in UTF-8 or Latin-1) from both ends of an
/// armor line: armor is ASCII, so nothing of value is lost (Thunderbird repairs the same way).
pub(super) fn trim_armor(line: &[u8]) -> &[u8] {
    let bad = |b: &u8| b.is_ascii_whitespace() || *b >= 0x80;
    let start = line.iter().position(|b| !bad(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !bad(b))
        .map(|e| e + 1)
        .unwrap_or(start);
    &line[start..end.max(start)]
}

/// Splits a text into clear text and armored blocks (messages and cleartext-signed).
pub(super) fn split_blocks(data: &[u8]) -> Vec<Segment> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    let mut clear: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = trim_armor(lines[i]);
        let (end_marker, signed) = if t == b"-----BEGIN PGP MESSAGE-----" {
            (&b"-----END PGP MESSAGE-----"[..], false)
        } else if t == b"-----BEGIN PGP SIGNED MESSAGE-----" {
            (&b"-----END PGP SIGNATURE-----"[..], true)
        } else {
            clear.extend_from_slice(lines[i]);
            i += 1;
            continue;
        };
        let end = (i + 1..lines.len()).find(|&j| trim_armor(lines[j]) == end_marker);
        let Some(end) = end else {
            clear.extend_from_slice(lines[i]);
            i += 1;
            continue;
        };
        if !clear.is_empty() {
            out.push(Segment::Clear(std::mem::take(&mut clear)));
        }
        let block = &lines[i..=end];
        out.push(if signed {
            Segment::Signed(repair_signed(block))
        } else {
            Segment::Message(repair_armor(block))
        });
        i = end + 1;
    }
    if !clear.is_empty() {
        out.push(Segment::Clear(clear));
    }
    out
}

/// Rebuilds an armored block from its lines: trimmed lines, header lines first, one empty
/// separator line, then the base64 body (mangled separators like NBSP or `&nbsp;` repaired;
/// RFC 9580 §6.2).
fn repair_armor(lines: &[&[u8]]) -> Vec<u8> {
    let trimmed: Vec<&[u8]> = lines.iter().map(|l| trim_armor(l)).collect();
    let mut out = Vec::new();
    let Some((first, rest)) = trimmed.split_first() else {
        return out;
    };
    out.extend_from_slice(first);
    out.push(b'\n');
    let Some((last, middle)) = rest.split_last() else {
        return out;
    };
    let mut in_headers = true;
    for l in middle {
        if l.is_empty() {
            // The blank line after the armor headers is the separator: keep it (once).
            if in_headers {
                out.push(b'\n');
                in_headers = false;
            }
            continue;
        }
        let is_header = in_headers && is_armor_header(l);
        if is_header {
            out.extend_from_slice(l);
            out.push(b'\n');
            continue;
        }
        if in_headers {
            out.push(b'\n');
            in_headers = false;
        }
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    if in_headers {
        out.push(b'\n');
    }
    out.extend_from_slice(last);
    out.push(b'\n');
    out
}

fn is_armor_header(l: &[u8]) -> bool {
    match l.iter().position(|&b| b == b':') {
        Some(p) => {
            p > 0
                && l[..p]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && l.get(p + 1) == Some(&b' ')
        }
        None => false,
    }
}

/// Rebuilds a cleartext-signed block (RFC 9580 §7): the header lines and separator are
/// repaired, the signed text lines are kept byte for byte, the signature armor is repaired.
fn repair_signed(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"-----BEGIN PGP SIGNED MESSAGE-----\n");
    let mut i = 1;
    while i < lines.len() && is_armor_header(trim_armor(lines[i])) {
        out.extend_from_slice(trim_armor(lines[i]));
        out.push(b'\n');
        i += 1;
    }
    // The separator line (possibly NBSP-only) after the headers.
    if i < lines.len() && trim_armor(lines[i]).is_empty() {
        i += 1;
    }
    out.push(b'\n');
    let sig_start = (i..lines.len())
        .find(|&j| trim_armor(lines[j]) == b"-----BEGIN PGP SIGNATURE-----")
        .unwrap_or(lines.len());
    for l in &lines[i..sig_start] {
        out.extend_from_slice(l);
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    if sig_start < lines.len() {
        out.extend_from_slice(&repair_armor(&lines[sig_start..]));
    }
    out
}

/// The binary OpenPGP data of `data`: de-armored (with repairs) when armored.
pub(super) fn dearmor(data: &[u8]) -> Result<Vec<u8>, String> {
    let Some(start) = find_line(data, b"-----BEGIN PGP") else {
        return Ok(data.to_vec());
    };
    let text = &data[start..];
    if trim_armor(text.split(|&b| b == b'\n').next().unwrap_or_default())
        == b"-----BEGIN PGP SIGNED MESSAGE-----"
    {
        return Err("not encrypted: the encrypted part holds a cleartext-signed message".into());
    }
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let end = lines
        .iter()
        .position(|l| trim_armor(l).starts_with(b"-----END PGP"))
        .ok_or("armor without an end line")?;
    let fixed = repair_armor(&lines[..=end]);
    let mut reader = armor::Reader::from_bytes(
        &fixed,
        armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
    );
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|_| "damaged armor".to_string())?;
    Ok(out)
}
