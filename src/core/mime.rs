//! A minimal MIME tree over the raw bytes of a message, for opening OpenPGP mail
//! (core/decrypt).
//!
//! Owns: splitting a message or part into header section and body, unfolding header fields,
//! `Content-Type` parameters (RFC 2231 continuations and charsets joined), multipart bodies,
//! undoing the transfer encodings (tolerant base64, quoted-printable), and the charset labels
//! and mislabelled text that real producers write ([`charset_decoder`], [`relabel_words`],
//! [`repair_jis`]).
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

/// Decodes bytes of one charset into text.
pub type CharsetDecoder = fn(&[u8]) -> String;

/// The decoder for a charset label: mail-parser's table (the WHATWG and IANA labels), then the
/// labels real producers write that the table lacks — Python's codec names (its email package
/// labels Big5 header words `big5_tw`) and Microsoft's code page names — mapped to the charset
/// they name.
pub fn charset_decoder(label: &str) -> Option<CharsetDecoder> {
    let label = label.trim().trim_matches('"');
    mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes()).or_else(|| {
        alias(label)
            .and_then(|a| mail_parser::decoders::charsets::map::charset_decoder(a.as_bytes()))
    })
}

/// A label mail-parser does not know, as one it knows for the same bytes.
fn alias(label: &str) -> Option<&'static str> {
    let l = label.to_ascii_lowercase().replace('_', "-");
    Some(match l.as_str() {
        // Python's codec for Big5 (`big5_tw`), Microsoft's Big5 code page.
        "big5-tw" | "cp950" | "ms950" => "big5",
        // Microsoft's Shift_JIS (WHATWG Shift_JIS is windows-31j).
        "cp932" => "windows-31j",
        // Microsoft's extension of EUC-KR (WHATWG EUC-KR is windows-949).
        "cp949" | "ms949" | "uhc" => "windows-949",
        "euc-cn" => "gb2312",
        "iso2022-jp" => "iso-2022-jp",
        _ => return None,
    })
}

/// The header section of `raw` with each RFC 2047 encoded word's charset label that
/// mail-parser does not know, but [`alias`] does, rewritten to the known one; mail-parser would
/// read the word as UTF-8 and lose its text. The body is left as it is.
pub fn relabel_words(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let (header, _) = split_header(raw);
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < header.len() {
        if &header[i..i + 2] != b"=?" {
            i += 1;
            continue;
        }
        let start = i + 2;
        let end = header[start..]
            .iter()
            .take(64)
            .position(|&b| b == b'?' || b.is_ascii_whitespace())
            .map(|e| start + e);
        let Some(end) = end.filter(|&e| header[e] == b'?') else {
            i += 2;
            continue;
        };
        // RFC 2231 §5: `charset*language`.
        let label = String::from_utf8_lossy(&header[start..end]);
        let (cs, lang) = label.split_once('*').map_or((&*label, ""), |(c, l)| (c, l));
        let known = mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes());
        if let (None, Some(to)) = (known, alias(cs)) {
            let o = out.get_or_insert_with(Vec::new);
            o.extend_from_slice(&raw[copied..start]);
            o.extend_from_slice(to.as_bytes());
            if !lang.is_empty() {
                o.push(b'*');
                o.extend_from_slice(lang.as_bytes());
            }
            copied = end;
        }
        i = end;
    }
    match out {
        Some(mut o) => {
            o.extend_from_slice(&raw[copied..]);
            std::borrow::Cow::Owned(o)
        }
        None => std::borrow::Cow::Borrowed(raw),
    }
}

/// Text that carries ISO-2022-JP escape sequences although it was read as ASCII, with each
/// such run decoded as ISO-2022-JP. s-nail labels its ISO-2022-JP header words `us-ascii`
/// (the bytes are 7-bit), and old Japanese mailers put JIS in headers unencoded. A run starts
/// at `ESC $` (a JIS X 0208 or 0212 set) and ends after `ESC ( B` (back to ASCII), at the first
/// non-ASCII character, or at the end; text without such runs is returned as it is.
pub fn repair_jis(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("\x1b$") {
        return std::borrow::Cow::Borrowed(s);
    }
    let Some(jis) = charset_decoder("iso-2022-jp") else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("\x1b$") {
        out.push_str(&rest[..at]);
        let run = &rest[at..];
        let ascii_end = run.find(|c: char| !c.is_ascii()).unwrap_or(run.len());
        let end = run[..ascii_end]
            .find("\x1b(B")
            .map_or(ascii_end, |e| e + "\x1b(B".len());
        out.push_str(&jis(&run.as_bytes()[..end]));
        rest = &run[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_and_microsoft_charset_labels_decode() {
        // Python's email package labels Big5 header words big5_tw (found by the interop suite).
        let big5 = [0xBA, 0x7C, 0xAC, 0x7D, 0xB3, 0xF8, 0xA7, 0x69];
        assert_eq!(
            charset_decoder("big5_tw").map(|d| d(&big5)).as_deref(),
            Some("漏洞報告")
        );
        assert_eq!(
            charset_decoder("CP932")
                .map(|d| d(&[0x82, 0xA0]))
                .as_deref(),
            Some("あ")
        );
        assert!(charset_decoder("no-such-charset").is_none());
        let raw =
            b"Subject: =?big5_tw?b?unysfbP4p2k=?=\r\nX: =?utf-8?q?ok?=\r\n\r\n=?big5_tw?q?body?=";
        let fixed = relabel_words(raw);
        assert_eq!(
            &fixed[..],
            &b"Subject: =?big5?b?unysfbP4p2k=?=\r\nX: =?utf-8?q?ok?=\r\n\r\n=?big5_tw?q?body?="[..]
        );
        assert!(matches!(
            relabel_words(b"Subject: plain =? text\r\n\r\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn iso_2022_jp_read_as_ascii_is_repaired() {
        // s-nail's Subject: =?us-ascii?B?GyRCQEg8ZUAtJE5Kczlw?= (found by the interop suite).
        assert_eq!(repair_jis("\x1b$B@H<e@-$NJs9p"), "脆弱性の報告");
        assert_eq!(
            repair_jis("Re: \x1b$B@H<e@-\x1b(B (2) \x1b$B$NJs9p\x1b(B"),
            "Re: 脆弱性 (2) の報告"
        );
        assert_eq!(repair_jis("ascii $B only"), "ascii $B only");
        // Text already decoded stays as it is around a run.
        assert_eq!(repair_jis("é \x1b$B$N\x1b(B é"), "é の é");
    }

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
