//! A minimal MIME tree over the raw bytes of a message, for opening OpenPGP mail
//! (core/decrypt).
//!
//! Owns: splitting a message or part into header section and body, unfolding header fields,
//! `Content-Type` parameters (RFC 2231 continuations and charsets joined), multipart bodies,
//! and undoing the transfer encodings (tolerant base64, quoted-printable).
//!
//! Invariants:
//! - Every [`Part`] borrows the message: `raw` is the part's exact bytes, so that a signed part
//!   can be verified over what its signer signed (RFC 3156 §5). RFC 2045/2046: the header
//!   section ends at the first empty line; multipart bodies split at `--boundary` lines, the
//!   line break before a delimiter belonging to the delimiter (RFC 2046 §5.1.1).
//! - Total and bounded: parsing never fails and never panics; nesting stops at [`MAX_DEPTH`]
//!   and the whole tree at [`MAX_PARTS`] parts, so hostile structure costs bounded work.
//! - Decoding of RFC 2047 encoded words (in filenames) is left to mail-parser.

/// MIME nesting limit: hostile structure costs bounded work.
pub const MAX_DEPTH: usize = 24;
/// Parts in one tree (and delimiters read in one multipart body).
pub const MAX_PARTS: usize = 2000;

pub struct Part<'a> {
    /// Headers and body exactly as in the message.
    pub raw: &'a [u8],
    /// The header section (without the empty line ending it).
    pub header_block: &'a [u8],
    /// (lowercased name, unfolded value).
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    /// Lowercased `type/subtype`; text/plain when absent.
    pub mime: String,
    params: Vec<(String, String)>,
    pub children: Vec<Part<'a>>,
}

impl<'a> Part<'a> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    pub fn headers_named<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> + 's {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_attachment(&self) -> bool {
        self.header("content-disposition")
            .map(|d| d.trim().to_lowercase().starts_with("attachment"))
            .unwrap_or(false)
    }

    pub fn filename(&self) -> Option<String> {
        let disp = self
            .header("content-disposition")
            .map(|d| parse_params(d).1)
            .unwrap_or_default();
        let from_disp = disp
            .into_iter()
            .find(|(n, _)| n == "filename")
            .map(|(_, v)| v);
        from_disp
            .or_else(|| self.param("name").map(str::to_string))
            .map(|n| decode_words(&n))
            .filter(|n| !n.is_empty())
    }

    /// The body with its Content-Transfer-Encoding undone.
    pub fn decoded(&self) -> Vec<u8> {
        let cte = self
            .header("content-transfer-encoding")
            .unwrap_or("")
            .trim()
            .to_lowercase();
        match cte.as_str() {
            "base64" => base64_decode(self.body),
            "quoted-printable" => qp_decode(self.body),
            _ => self.body.to_vec(),
        }
    }
}

/// Parses a part (or a whole message); `depth` and `budget` bound the work.
pub fn parse<'a>(raw: &'a [u8], depth: usize, budget: &mut usize) -> Part<'a> {
    *budget = budget.saturating_sub(1);
    let (header_block, body) = split_header(raw);
    let headers = parse_headers(header_block);
    let (mime, params) = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| parse_params(v))
        .map(|(m, p)| {
            (
                if m.contains('/') {
                    m
                } else {
                    "text/plain".into()
                },
                p,
            )
        })
        .unwrap_or_else(|| ("text/plain".into(), Vec::new()));
    let mut part = Part {
        raw,
        header_block,
        headers,
        body,
        mime,
        params,
        children: Vec::new(),
    };
    if part.mime.starts_with("multipart/") && depth < MAX_DEPTH && *budget > 0 {
        if let Some(boundary) = part.param("boundary").map(str::to_string) {
            for child in split_multipart(body, boundary.as_bytes()) {
                if *budget == 0 {
                    break;
                }
                part.children.push(parse(child, depth + 1, budget));
            }
        }
    }
    part
}

/// (header section, body). A part that starts with a non-header line has no headers.
fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    let mut first = true;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|e| pos + e + 1)
            .unwrap_or(raw.len());
        let line = &raw[pos..end];
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if content.is_empty() {
            let hdr_end = pos;
            return (&raw[..hdr_end], &raw[end..]);
        }
        let is_cont = content.starts_with(b" ") || content.starts_with(b"\t");
        let is_field = content
            .iter()
            .position(|&b| b == b':')
            .map(|c| c > 0 && content[..c].iter().all(|b| b.is_ascii_graphic()))
            .unwrap_or(false);
        if !(is_field || (is_cont && !first)) {
            if first {
                return (&raw[..0], raw);
            }
            return (&raw[..pos], &raw[pos..]);
        }
        first = false;
        pos = end;
    }
    (raw, &raw[raw.len()..])
}

fn parse_headers(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// `type/subtype; a=b; c="d"` → (lowercased type, lowercased-name params). RFC 2231
/// extended (`name*=charset''pct`) and continued (`name*0=`) values are joined.
pub fn parse_params(v: &str) -> (String, Vec<(String, String)>) {
    let mut items = split_semicolons(v).into_iter();
    let mime = items.next().unwrap_or_default().trim().to_lowercase();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut continued: Vec<(String, usize, String, bool)> = Vec::new();
    for item in items {
        let Some((n, val)) = item.split_once('=') else {
            continue;
        };
        let n = n.trim().to_lowercase();
        let val = unquote(val.trim());
        if let Some((base, idx)) = n.split_once('*') {
            let ext = idx.ends_with('*') || idx.is_empty();
            let num = idx.trim_end_matches('*').parse::<usize>().unwrap_or(0);
            continued.push((base.to_string(), num, val, ext));
        } else {
            params.push((n, val));
        }
    }
    continued.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
    let mut joined: Vec<(String, String)> = Vec::new();
    for (base, num, val, ext) in continued {
        let val = if ext {
            let v = if num == 0 {
                // charset'language'value
                val.splitn(3, '\'').nth(2).unwrap_or(&val).to_string()
            } else {
                val
            };
            pct_decode(&v)
        } else {
            val
        };
        match joined.iter_mut().find(|(n, _)| *n == base) {
            Some(j) => j.1.push_str(&val),
            None => joined.push((base, val)),
        }
    }
    for (n, v) in joined {
        params.retain(|(p, _)| *p != n);
        params.push((n, v));
    }
    (mime, params)
}

fn split_semicolons(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_string()
    }
}

fn pct_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(x) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 2047 encoded words in a parameter value (some clients put them in filenames).
fn decode_words(v: &str) -> String {
    if !v.contains("=?") {
        return v.to_string();
    }
    let hdr = format!("Subject: {v}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(hdr.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| v.to_string())
}

/// The parts of a multipart body, each without the line break before its delimiter.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|e| pos + e + 1)
            .unwrap_or(body.len());
        let line = &body[pos..end];
        if let Some(rest) = line.strip_prefix(delim.as_slice()) {
            let closing = rest.starts_with(b"--");
            let tail = if closing { &rest[2..] } else { rest };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = start {
                    // The CRLF (or LF) before the delimiter belongs to the delimiter.
                    let mut e = pos;
                    if e > s && body[e - 1] == b'\n' {
                        e -= 1;
                        if e > s && body[e - 1] == b'\r' {
                            e -= 1;
                        }
                    }
                    parts.push(&body[s..e.max(s)]);
                }
                if closing {
                    return parts;
                }
                start = Some(end);
                if parts.len() >= MAX_PARTS {
                    return parts;
                }
            }
        }
        pos = end;
    }
    if let Some(s) = start {
        if s < body.len() {
            parts.push(&body[s..]);
        }
    }
    parts
}

/// Tolerant base64: non-alphabet bytes are skipped, decoding stops at padding.
pub fn base64_decode(b: &[u8]) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut n = 0;
    for &c in b {
        if c == b'=' {
            break;
        }
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        n += 1;
        if n == 4 {
            out.push((acc >> 16) as u8);
            out.push((acc >> 8) as u8);
            out.push(acc as u8);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => {
            out.push((acc >> 10) as u8);
            out.push((acc >> 2) as u8);
        }
        _ => {}
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7): soft line breaks removed, `=XX` decoded, trailing
/// whitespace on lines dropped; malformed escapes kept as they are.
pub fn qp_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for line in b.split_inclusive(|&c| c == b'\n') {
        let (content, eol): (&[u8], &[u8]) = if let Some(l) = line.strip_suffix(b"\r\n") {
            (l, b"\r\n")
        } else if let Some(l) = line.strip_suffix(b"\n") {
            (l, b"\n")
        } else {
            (line, b"")
        };
        let mut end = content.len();
        while end > 0 && (content[end - 1] == b' ' || content[end - 1] == b'\t') {
            end -= 1;
        }
        let content = &content[..end];
        let (content, soft) = match content.strip_suffix(b"=") {
            Some(c) => (c, true),
            None => (content, false),
        };
        let mut i = 0;
        while i < content.len() {
            if content[i] == b'=' {
                let hex = content.get(i + 1..i + 3);
                if let Some(x) = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
            }
            out.push(content[i]);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_encodings_and_params() {
        assert_eq!(
            qp_decode(b"caf=C3=A9=\r\n ok\r\n"),
            "café ok\r\n".as_bytes()
        );
        assert_eq!(base64_decode(b"aGVs\r\nbG8=\r\n"), b"hello".to_vec());
        let (m, p) = parse_params("Text/Plain; charset=\"utf-8\"; name*=utf-8''r%C3%A9.txt");
        assert_eq!(m, "text/plain");
        assert!(p.contains(&("name".into(), "ré.txt".into())));
    }
}
