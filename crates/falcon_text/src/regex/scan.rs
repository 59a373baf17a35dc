//! Hand-written scanner for scikit-learn's default token pattern family.
//!
//! `(?u)\b\w\w+\b` (the `token_pattern` default), `\b\w+\b`, `\b\w{3,}\b`, ... all match
//! exactly the *maximal runs of Python word characters* whose length (in code points) is at
//! least some `min`:
//!
//! * A match must start at a `\b` followed by `\w`, i.e. at the first character of a run
//!   (inside a run there is no boundary).
//! * `\w{k}\w+` / `\w{k,}` (greedy or lazy — with the trailing `\b` the outcome is the same)
//!   can only be followed by `\b` at the end of the run, because inside a run both neighbours
//!   are word characters. So the only candidate match at a run start is the whole run, which
//!   succeeds iff the run is long enough; otherwise no match starts anywhere in that run.
//! * After a match the search resumes at the run's end, which is followed by a non-word
//!   character (or the end of the text), so the next match is the next long-enough run.
//!
//! Hence `re.findall` returns the long-enough runs in order, which is what [`word_runs`]
//! yields — at a few hundred MB/s instead of through a backtracking engine.

use crate::unicode::{ASCII_WORD, is_word};

/// Calls `f` with every maximal run of word characters of at least `min` code points.
///
/// `ascii` selects Python's `re.ASCII` definition of `\w` (`[a-zA-Z0-9_]`).
pub(crate) fn word_runs<'t>(text: &'t str, min: usize, ascii: bool, mut f: impl FnMut(&'t str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut run_start = 0;
    let mut run_len = 0usize; // in code points; 0 = not in a run
    while i < bytes.len() {
        let b = bytes[i];
        let (w, len) = if b < 0x80 {
            (ASCII_WORD[b as usize], 1)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (!ascii && is_word(c), c.len_utf8())
        };
        if w {
            if run_len == 0 {
                run_start = i;
            }
            run_len += 1;
        } else if run_len > 0 {
            if run_len >= min {
                f(&text[run_start..i]);
            }
            run_len = 0;
        }
        i += len;
    }
    if run_len >= min && run_len > 0 {
        f(&text[run_start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(t: &str, min: usize, ascii: bool) -> Vec<&str> {
        let mut v = Vec::new();
        word_runs(t, min, ascii, |s| v.push(s));
        v
    }

    #[test]
    fn runs_work() {
        assert_eq!(runs("a bb ccc", 2, false), ["bb", "ccc"]);
        assert_eq!(runs("a bb ccc", 1, false), ["a", "bb", "ccc"]);
        assert_eq!(runs("x²½ é\u{301}t", 2, false), ["x²½"]);
        assert_eq!(runs("héllo wörld", 2, true), ["llo", "rld"]);
        assert_eq!(runs("", 2, false), Vec::<&str>::new());
    }
}
