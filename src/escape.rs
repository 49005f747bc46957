//! Strings that came from a bundle, a certificate or a registry, on their way to a
//! terminal or a text report: control characters (ESC, CR, LF, C1 controls such as CSI)
//! become visible escapes, so that a SAN cannot clear the screen or print a fake `PASSED`
//! line (issue 9). JSON output needs none of this: serde escapes control characters.

use std::borrow::Cow;

fn needs_escape(c: char, keep_newlines: bool) -> bool {
    c.is_control() && !(keep_newlines && c == '\n')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, keep_newlines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c, keep_newlines) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One field of a line: every control character escaped, newlines too.
pub fn clean(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Whole lines of text output: every control character but `\n` escaped (the last line of
/// defence; fields should have gone through [`clean`]).
pub fn clean_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// JSON text with the control characters serde leaves raw (DEL and the C1 range, e.g.
/// CSI) written as `\u00XX` escapes: the same JSON value, safe on a terminal. Those
/// characters can only occur inside JSON strings, where the escape means the same.
pub fn json_controls(json: &str) -> Cow<'_, str> {
    if !json.chars().any(char::is_control) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        match c {
            // Newlines and indentation of pretty-printed JSON; serde escapes the rest below 0x20.
            '\n' | '\t' | '\r' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_keeps_the_rest() {
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(clean("x\r\nPASSED"), "x\\r\\nPASSED");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m");
        assert!(matches!(clean("plain é ü"), Cow::Borrowed("plain é ü")));
        assert_eq!(clean_lines("one\ntwo\u{7}\n"), "one\ntwo\\u{7}\n");
        let json = serde_json::to_string_pretty(&serde_json::json!({"san": "a\u{9b}2J\u{7f}\u{1b}"})).unwrap();
        let safe = json_controls(&json);
        assert!(!safe.chars().any(|c| c.is_control() && c != '\n'), "{safe}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap()["san"], "a\u{9b}2J\u{7f}\u{1b}");
    }
}
