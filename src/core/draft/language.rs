//! The language a message to a reporter is written in (issue 12.6): language tags as template
//! directories and `[policy] language` name them (BCP 47, RFC 5646), the languages a sender
//! prefers as their mail says (`Accept-Language`, RFC 9110 §12.5.4; `Content-Language`, RFC
//! 3282), and the choice among the languages there are templates for ([`choose`]).
//!
//! Invariants: a tag that leaves this module is canonical ([`tag`]: `de`, `pt-BR`,
//! `zh-Hant-TW`) and compared without regard to case (RFC 5646 §2.1.1); the headers are
//! anyone's to write, so they are read within bounds ([`MAX_RANGES`] tags each) and what is not a
//! tag is skipped, never an error.
use crate::core::parse::Headers;
use crate::core::settings::Languages;

/// Tags read from one header at most: a longer list is someone's experiment, not a preference.
pub const MAX_RANGES: usize = 32;

/// `s` as a canonical language tag, or `None` when it is not one: subtags of 1 to 8 letters and
/// digits joined by `-`, the first 2 or 3 letters (an ISO 639 language; RFC 5646 §2.1), at most
/// 35 characters (§4.4.1). Canonical case is RFC 5646 §2.1.1's: the language lower case, a
/// script title case (`Hant`), a region upper case (`BR`), everything after a singleton lower.
/// The registry is not consulted: `xx` is a tag, `de_DE` (a POSIX locale) and `german` are not.
pub fn tag(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 35 {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut extension = false;
    for (i, sub) in s.split('-').enumerate() {
        let alpha = sub.bytes().all(|b| b.is_ascii_alphabetic());
        if sub.is_empty() || sub.len() > 8 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let canonical = if i == 0 {
            if !(2..=3).contains(&sub.len()) || !alpha {
                return None;
            }
            sub.to_ascii_lowercase()
        } else if extension || sub.len() == 1 {
            extension = true;
            sub.to_ascii_lowercase()
        } else if sub.len() == 2 {
            sub.to_ascii_uppercase()
        } else if sub.len() == 4 && alpha {
            let lower = sub.to_ascii_lowercase();
            lower[..1].to_ascii_uppercase() + &lower[1..]
        } else {
            sub.to_ascii_lowercase()
        };
        out.push(canonical);
    }
    Some(out.join("-"))
}

/// What an entry of the templates directory is: a subdirectory named by a language tag holds
/// that language's templates; one whose name starts with `.` (`.git`) is nobody's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directory {
    Language(String),
    Hidden,
    NotALanguage,
}

/// [`Directory`] of the subdirectory `name` of the templates directory.
pub fn directory(name: &str) -> Directory {
    if name.starts_with('.') {
        Directory::Hidden
    } else {
        tag(name).map_or(Directory::NotALanguage, Directory::Language)
    }
}

/// The languages a sender prefers, most preferred first, and those they refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub wanted: Vec<String>,
    /// `;q=0`: "not acceptable" (RFC 9110 §12.4.2); never chosen by shortening another tag.
    pub refused: Vec<String>,
}

/// The preferences of a message: its Accept-Language ranges by weight (equal weights in the
/// order written, since a sort by weight is stable; `*` adds nothing: any language is the policy
/// default), then its Content-Language tags in order. Accept-Language comes first as it says
/// what the sender wants to read; Content-Language only what they wrote in.
pub fn preferences(accept_language: Option<&str>, content_language: Option<&str>) -> Preferences {
    let mut weighted: Vec<(String, u16)> = Vec::new();
    let mut refused = Vec::new();
    for item in accept_language.unwrap_or("").split(',').take(MAX_RANGES) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        let mut weight = Some(1000);
        for p in parts {
            let p = p.trim();
            if let Some(q) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                weight = qvalue(q.trim());
            }
        }
        let (Some(t), Some(w)) = (tag(range), weight) else {
            continue;
        };
        if w == 0 {
            refused.push(t);
        } else {
            weighted.push((t, w));
        }
    }
    weighted.sort_by_key(|w| std::cmp::Reverse(w.1));
    let mut wanted: Vec<String> = weighted.into_iter().map(|(t, _)| t).collect();
    // RFC 3282 §2: `1#Language-tag` with CFWS, so comments go before the list is split.
    let content = strip_comments(content_language.unwrap_or(""));
    wanted.extend(content.split(',').take(MAX_RANGES).filter_map(tag));
    let mut seen: Vec<String> = Vec::new();
    wanted.retain(|t| {
        let new = !seen.iter().any(|s| s.eq_ignore_ascii_case(t));
        seen.push(t.clone());
        new
    });
    Preferences { wanted, refused }
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths; `None` when it is not one (the range is then skipped, not guessed at).
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `s` without its RFC 5322 comments (`de (Deutsch)`), nested ones too.
fn strip_comments(s: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The best of `available` for `prefs`: for each wanted tag in order, the tag itself, then the
/// tag shortened a subtag at a time (RFC 4647 §3.4 lookup: `de-AT` → `de`, `zh-Hant-TW` →
/// `zh-Hant` → `zh`), never to a tag the sender refused. `None`: none fits (the policy default).
pub fn choose(prefs: &Preferences, available: &[String]) -> Option<String> {
    let find = |t: &str| {
        available
            .iter()
            .find(|a| a.eq_ignore_ascii_case(t))
            .cloned()
    };
    let refused = |t: &str| prefs.refused.iter().any(|r| r.eq_ignore_ascii_case(t));
    for wanted in &prefs.wanted {
        let mut t = wanted.as_str();
        loop {
            if !refused(t) {
                if let Some(a) = find(t) {
                    return Some(a);
                }
            }
            let Some((mut shorter, _)) = t.rsplit_once('-') else {
                break;
            };
            // RFC 4647 §3.4: a singleton left at the end (`x` of `de-x-foo`) goes too.
            if let Some((s, last)) = shorter.rsplit_once('-') {
                if last.len() == 1 {
                    shorter = s;
                }
            }
            t = shorter;
        }
    }
    None
}

/// The language a sender of `h` is written to: [`choose`] among the languages with templates
/// and the policy default (the top of the templates directory is in it); `None` when none of
/// theirs is one of those.
pub fn of_sender(h: &Headers, languages: &Languages) -> Option<String> {
    let prefs = preferences(h.accept_language.as_deref(), h.content_language.as_deref());
    let available: Vec<String> = languages
        .templated
        .iter()
        .chain(languages.default.iter())
        .cloned()
        .collect();
    choose(&prefs, &available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_and_made_canonical() {
        let check = |s: &str, want: Option<&str>| assert_eq!(tag(s).as_deref(), want, "{s:?}");
        check("de", Some("de"));
        check("DE", Some("de"));
        check(" pt-br ", Some("pt-BR"));
        check("zh-hant-tw", Some("zh-Hant-TW"));
        check("es-419", Some("es-419"));
        check("de-CH-1996", Some("de-CH-1996"));
        check("en-US-x-Twain", Some("en-US-x-twain"));
        check("gsw", Some("gsw"));
        check("de_DE", None);
        check("german", None);
        check("d", None);
        check("1de", None);
        check("de-", None);
        check("de--AT", None);
        check("de-abcdefghi", None);
        check("", None);
        check("*", None);
        check(&format!("de{}", "-abcdefgh".repeat(4)), None);
    }

    #[test]
    fn directories_are_languages_hidden_or_a_mistake() {
        assert_eq!(directory("pt-br"), Directory::Language("pt-BR".into()));
        assert_eq!(directory(".git"), Directory::Hidden);
        assert_eq!(directory("de_DE"), Directory::NotALanguage);
    }

    #[test]
    fn accept_language_is_read_by_weight_then_content_language() {
        let check =
            |accept: Option<&str>, content: Option<&str>, wanted: &[&str], refused: &[&str]| {
                let p = preferences(accept, content);
                assert_eq!(p.wanted, wanted, "{accept:?} {content:?}");
                assert_eq!(p.refused, refused, "{accept:?} {content:?}");
            };
        check(
            Some("de-AT, de;q=0.9, en;q=0.5"),
            None,
            &["de-AT", "de", "en"],
            &[],
        );
        // Weights reorder; equal weights keep the order written.
        check(
            Some("en;q=0.5, fr, ja;q=0.8, it"),
            None,
            &["fr", "it", "ja", "en"],
            &[],
        );
        check(Some("*"), None, &[], &[]);
        check(Some("de, en;q=0"), None, &["de"], &["en"]);
        // Weights that are not RFC 9110 qvalues, and ranges that are no tags, are skipped.
        check(
            Some("de;q=2, fr;q=0.5555, it;q=1.0, ja;q=abc, es;Q=0.3, x_y, en;q=0.001"),
            None,
            &["it", "es", "en"],
            &[],
        );
        // RFC 3282: a list, with comments; after Accept-Language, duplicates once.
        check(
            Some("fr"),
            Some("de (Deutsch), en-GB, FR"),
            &["fr", "de", "en-GB"],
            &[],
        );
        check(None, Some("(nested (comment)) ja"), &["ja"], &[]);
        check(None, None, &[], &[]);
        // Bounded: a flood of ranges is read only so far.
        let flood = vec!["xx"; 1000].join(", ") + ", de";
        check(Some(&flood), None, &["xx"], &[]);
    }

    #[test]
    fn the_best_language_with_templates_is_chosen() {
        let available: Vec<String> = ["de", "pt-BR", "zh-Hant", "en"].map(String::from).to_vec();
        let check = |accept: &str, want: Option<&str>| {
            let p = preferences(Some(accept), None);
            assert_eq!(choose(&p, &available).as_deref(), want, "{accept:?}");
        };
        // The task's reporter: de-AT has no templates, its primary subtag de has.
        check("de-AT, de;q=0.9, en;q=0.5", Some("de"));
        check("fr", None);
        check("fr, en;q=0.1", Some("en"));
        check("PT-br", Some("pt-BR"));
        // pt alone is not pt-BR: lookup shortens the wanted tag, never the available one.
        check("pt", None);
        check("zh-Hant-TW", Some("zh-Hant"));
        check("de-x-foo", Some("de"));
        // Preference order wins over exactness of a later tag.
        check("de-CH, en", Some("de"));
        // A refused language is not reached by shortening another tag.
        check("de-AT, de;q=0, en;q=0.5", Some("en"));
    }
}
