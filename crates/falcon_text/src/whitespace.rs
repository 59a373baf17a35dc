//! Python whitespace helpers.

use crate::unicode::is_space;

/// scikit-learn's `_white_spaces.sub(" ", s)` with `_white_spaces = re.compile(r"\s\s+")`,
/// appended to `out`.
///
/// A run of two or more Python-whitespace characters ([`is_space`]) becomes one `' '`; a
/// *single* whitespace character is kept as it is (a lone tab stays a tab), exactly like the
/// regex substitution.
pub fn white_spaces_collapse(s: &str, out: &mut String) {
    out.reserve(s.len());
    let mut run_start: Option<usize> = None;
    let mut run_len = 0usize;
    let mut last = 0usize; // start of not-yet-copied text
    for (i, c) in s.char_indices() {
        if is_space(c) {
            if run_start.is_none() {
                run_start = Some(i);
                run_len = 0;
            }
            run_len += 1;
        } else if let Some(rs) = run_start.take()
            && run_len >= 2
        {
            out.push_str(&s[last..rs]);
            out.push(' ');
            last = i;
        }
    }
    if let Some(rs) = run_start
        && run_len >= 2
    {
        out.push_str(&s[last..rs]);
        out.push(' ');
        last = s.len();
    }
    out.push_str(&s[last..]);
}

/// Python's `s.split()` with no arguments: splits on runs of `str.isspace()` characters and
/// drops empty strings (so leading/trailing whitespace yields nothing).
///
/// Unlike [`str::split_whitespace`], the separators are Python's (including `\x1c`-`\x1f`).
pub fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
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
    fn split() {
        let v: Vec<_> = py_split_whitespace(" a\x1fb\u{3000}c  ").collect();
        assert_eq!(v, ["a", "b", "c"]);
    }
}
