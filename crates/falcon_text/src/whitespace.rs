//! Python whitespace helpers.

use crate::unicode::{ASCII_SPACE, is_space};

/// scikit-learn's `_white_spaces.sub(" ", s)` with `_white_spaces = re.compile(r"\s\s+")`,
/// appended to `out`.
///
/// A run of two or more Python-whitespace characters ([`is_space`]) becomes one `' '`; a
/// *single* whitespace character is kept as it is (a lone tab stays a tab), exactly like the
/// regex substitution.
pub fn white_spaces_collapse(s: &str, out: &mut String) {
    out.reserve(s.len());
    let bytes = s.as_bytes();
    let mut last = 0usize; // start of not-yet-copied text
    let mut i = 0usize;
    while i < bytes.len() {
        // Fast skip of ASCII non-space bytes.
        while i < bytes.len() && bytes[i] < 0x80 && !ASCII_SPACE[bytes[i] as usize] {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let (c, len) = char_at(s, i);
        if !is_space(c) {
            i += len;
            continue;
        }
        // A whitespace run starts at `i`.
        let run_start = i;
        let mut n = 0usize;
        while i < bytes.len() {
            let (c, len) = char_at(s, i);
            if !is_space(c) {
                break;
            }
            n += 1;
            i += len;
        }
        if n >= 2 {
            out.push_str(&s[last..run_start]);
            out.push(' ');
            last = i;
        }
    }
    out.push_str(&s[last..]);
}

#[inline]
fn char_at(s: &str, i: usize) -> (char, usize) {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        (b as char, 1)
    } else {
        let c = s[i..].chars().next().unwrap_or(' ');
        (c, c.len_utf8())
    }
}

/// Python's `s.split()` with no arguments: splits on runs of `str.isspace()` characters and
/// drops empty strings (so leading/trailing whitespace yields nothing).
///
/// Unlike [`str::split_whitespace`], the separators are Python's (including `\x1c`-`\x1f`).
pub fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
}

/// The characters Python's `str.splitlines` breaks at (`\r\n` counts once):
/// `\n`, `\r`, `\v`, `\f`, `\x1c`–`\x1e`, `\x85`, U+2028, U+2029.
pub fn is_line_boundary(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.splitlines()`: the lines without their terminators (`\r\n`
/// is one), and no empty last line after a final terminator.
pub fn py_splitlines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(is_line_boundary) {
            None => Some(std::mem::take(&mut rest)),
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") {
                    2
                } else {
                    rest[i..].chars().next().map_or(1, char::len_utf8)
                };
                rest = &rest[i + skip..];
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collapse(s: &str) -> String {
        let mut o = String::new();
        white_spaces_collapse(s, &mut o);
        o
    }

    #[test]
    fn collapse_runs() {
        assert_eq!(collapse("a\tb"), "a\tb");
        assert_eq!(collapse("a \t b  "), "a b ");
        assert_eq!(collapse("  "), " ");
        assert_eq!(collapse(""), "");
        assert_eq!(collapse("a\x1c\x1db"), "a b");
    }

    #[test]
    fn splitlines_matches_python() {
        // Python: "a\r\nb\rc\x85d\u2028e\n\nf\n".splitlines()
        let got: Vec<&str> = py_splitlines("a\r\nb\rc\u{85}d\u{2028}e\n\nf\n").collect();
        assert_eq!(got, ["a", "b", "c", "d", "e", "", "f"]);
        assert_eq!(py_splitlines("").count(), 0);
        assert_eq!(py_splitlines("\n").collect::<Vec<_>>(), [""]);
        assert_eq!(py_splitlines("x\r").collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn split() {
        let v: Vec<_> = py_split_whitespace(" a\x1fb\u{3000}c  ").collect();
        assert_eq!(v, ["a", "b", "c"]);
    }
}
