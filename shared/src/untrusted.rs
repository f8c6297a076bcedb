//! Strings a caller controls, made safe to log: escaped, so that no newline or control character
//! can forge a log line, and cut, so that a 700 kB header cannot flood the log.

use std::fmt::{self, Write as _};

/// How many characters of an untrusted string reach a log line.
pub const LOG_CAP_CHARS: usize = 128;

/// Displays the string with control characters, quotes and backslashes escaped (`\n`, `\"`,
/// `\u{7f}`), cut after [`LOG_CAP_CHARS`] characters with a marker saying how long it was.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    /// Writes runs of plain characters in one piece: a log formatter escapes (for JSON) every
    /// piece it is given, so the common case, nothing to escape, is a single write.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        // A string of at most LOG_CAP_CHARS bytes has at most that many characters.
        let cut = if text.len() <= LOG_CAP_CHARS {
            None
        } else {
            text.char_indices().nth(LOG_CAP_CHARS).map(|(at, _)| at)
        };
        let shown = text.get(..cut.unwrap_or(text.len())).unwrap_or_default();
        let plain_ascii = |b: &u8| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\';
        if cut.is_none() && shown.as_bytes().iter().all(plain_ascii) {
            return f.write_str(shown);
        }
        let mut plain_from = 0;
        for (at, c) in shown.char_indices() {
            let escaped = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if c.is_control() || is_invisible(c) => "",
                _ => continue,
            };
            f.write_str(shown.get(plain_from..at).unwrap_or_default())?;
            if escaped.is_empty() {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                f.write_str(escaped)?;
            }
            plain_from = at + c.len_utf8();
        }
        f.write_str(shown.get(plain_from..).unwrap_or_default())?;
        if let Some(at) = cut {
            write!(f, "...[cut at {at} of {} bytes]", text.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Characters that render as nothing or reorder a line: line and paragraph separators and the
/// bidirectional controls, which `char::is_control` does not cover.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A list of untrusted strings (group names, say), shown as `[a, b]` within the same overall cap.
#[derive(Clone, Copy)]
pub struct UntrustedList<'a>(pub &'a [String]);

impl fmt::Display for UntrustedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut budget = LOG_CAP_CHARS;
        f.write_char('[')?;
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let take = item.chars().count().min(budget);
            if take == 0 {
                return write!(f, "...] ({} in all)", self.0.len());
            }
            let end = item
                .char_indices()
                .nth(take)
                .map_or(item.len(), |(at, _)| at);
            write!(f, "{}", Untrusted(item.get(..end).unwrap_or_default()))?;
            budget -= take;
            if end < item.len() {
                return write!(f, "...] ({} in all)", self.0.len());
            }
        }
        f.write_char(']')
    }
}

impl fmt::Debug for UntrustedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_control_characters_cannot_start_a_log_line() {
        let forged = "RS256\nINFO decision=\"Allow\"\r\u{7f}\u{2028}\u{202e}";
        let shown = Untrusted(forged).to_string();
        assert!(
            !shown.contains(['\n', '\r', '\u{7f}', '\u{2028}', '\u{202e}']),
            "{shown}"
        );
        assert_eq!(
            shown,
            "RS256\\nINFO decision=\\\"Allow\\\"\\r\\u{7f}\\u{2028}\\u{202e}"
        );
    }

    #[test]
    fn long_strings_are_cut_with_a_marker() {
        let huge = "a".repeat(700_000);
        let shown = Untrusted(&huge).to_string();
        assert!(shown.len() < 200, "{}", shown.len());
        assert!(
            shown.ends_with("...[cut at 128 of 700000 bytes]"),
            "{shown}"
        );
        assert_eq!(Untrusted(&"é".repeat(128)).to_string(), "é".repeat(128));
    }

    #[test]
    fn lists_share_one_cap() {
        let groups: Vec<String> = (0..10_000).map(|i| format!("group-{i}")).collect();
        let shown = UntrustedList(&groups).to_string();
        assert!(shown.len() < 200, "{shown}");
        assert!(shown.ends_with("...] (10000 in all)"), "{shown}");
        assert_eq!(
            UntrustedList(&["a\nb".to_owned(), "c".to_owned()]).to_string(),
            "[a\\nb, c]"
        );
    }
}
