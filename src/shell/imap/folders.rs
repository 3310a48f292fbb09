//! Folder names as the server writes them: the configured levels (written with `/`) joined
//! with the server's hierarchy delimiter (`LIST "" ""`), each level in modified UTF-7
//! (RFC 3501 §5.1.3).
use super::*;

/// The configured folders as this server names them.
pub(super) struct FolderNames {
    pub(super) delimiter: Option<String>,
    pub(super) inbox: String,
    pub(super) processed: String,
    pub(super) quarantine: String,
}

impl FolderNames {
    pub(super) async fn ask(
        session: &mut Session<Stream>,
        s: &ImapSettings,
    ) -> Result<FolderNames> {
        let delimiter = timeout(COMMAND_TIMEOUT, hierarchy_delimiter(session))
            .await
            .context("timed out")??;
        let name = |configured: &str| folder_on_server(configured, delimiter.as_deref());
        Ok(FolderNames {
            inbox: name(&s.folder)?,
            processed: name(&s.processed_folder)?,
            quarantine: name(&s.quarantine_folder)?,
            delimiter,
        })
    }
}

/// RFC 3501 §6.3.8: `LIST "" ""` answers with the hierarchy delimiter of the root (`.` on
/// Dovecot's default Maildir++ layout, `/` on many others), NIL on a flat server.
pub(super) async fn hierarchy_delimiter(session: &mut Session<Stream>) -> Result<Option<String>> {
    let names: Vec<async_imap::types::Name> = session
        .list(Some(""), None)
        .await
        .context("list \"\" \"\"")?
        .try_collect()
        .await
        .context("list \"\" \"\"")?;
    Ok(names
        .first()
        .and_then(|n| n.delimiter())
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

/// The name of a configured folder on a server whose hierarchy delimiter is `delimiter`: its
/// levels (separated by `/` in the configuration, whatever the server uses) joined with the
/// delimiter, each level in modified UTF-7. A level may also hold the server's own delimiter
/// (`INBOX.secmail` on a `.` server), which then stays as written.
pub fn folder_on_server(configured: &str, delimiter: Option<&str>) -> Result<String> {
    check_folder_name(configured)?;
    let levels: Vec<&str> = configured.split('/').collect();
    let joined = match delimiter {
        Some(d) => levels
            .iter()
            .map(|l| mutf7::encode(l))
            .collect::<Vec<_>>()
            .join(d),
        None if levels.len() == 1 => mutf7::encode(configured),
        None => {
            return Err(anyhow!(
                "folder {configured:?} has levels, but the server has no folder hierarchy: \
                 use a name without /"
            )
            .context(FailureClass::Config))
        }
    };
    Ok(joined)
}

/// Modified UTF-7 (RFC 3501 §5.1.3), the encoding of IMAP4rev1 folder names: printable
/// US-ASCII stands for itself except `&`, written `&-`; any other run of characters is its
/// UTF-16 in base64 with `,` for `/` and no padding, between `&` and `-` (RFC 2152, modified).
pub mod mutf7 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

    fn printable(c: char) -> bool {
        (' '..='~').contains(&c)
    }

    pub fn encode(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut run: Vec<u16> = Vec::new();
        let flush = |run: &mut Vec<u16>, out: &mut String| {
            if run.is_empty() {
                return;
            }
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            for chunk in bytes.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                // 2 bytes → 3 characters, 1 → 2 (no padding): 8 bits per byte in 6-bit digits.
                let digits = (chunk.len() * 8).div_ceil(6);
                for i in 0..digits {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                }
            }
            out.push('-');
            run.clear();
        };
        for c in name.chars() {
            if printable(c) {
                flush(&mut run, &mut out);
                out.push(c);
                if c == '&' {
                    out.push('-');
                }
            } else {
                let mut buf = [0u16; 2];
                run.extend_from_slice(c.encode_utf16(&mut buf));
            }
        }
        flush(&mut run, &mut out);
        out
    }

    /// The name a server sent; `None` when it is not valid modified UTF-7 (a raw non-ASCII
    /// byte, an unterminated or badly padded run, broken UTF-16, or printable ASCII encoded).
    pub fn decode(wire: &str) -> Option<String> {
        let mut out = String::with_capacity(wire.len());
        let mut chars = wire.chars();
        while let Some(c) = chars.next() {
            if !printable(c) {
                return None;
            }
            if c != '&' {
                out.push(c);
                continue;
            }
            let mut bits: u32 = 0;
            let mut nbits = 0;
            let mut units: Vec<u16> = Vec::new();
            let mut empty = true;
            loop {
                let d = chars.next()?;
                if d == '-' {
                    break;
                }
                empty = false;
                let v = ALPHABET.iter().position(|&a| char::from(a) == d)? as u32;
                bits = (bits << 6) | v;
                nbits += 6;
                if nbits >= 16 {
                    nbits -= 16;
                    units.push((bits >> nbits) as u16);
                    bits &= (1 << nbits) - 1;
                }
            }
            if empty {
                out.push('&');
                continue;
            }
            // What is left over must be padding: fewer than 6 bits, all zero.
            if nbits >= 6 || bits != 0 || units.is_empty() {
                return None;
            }
            let decoded = String::from_utf16(&units).ok()?;
            if decoded.chars().any(printable) {
                return None;
            }
            out.push_str(&decoded);
        }
        Some(out)
    }
}
