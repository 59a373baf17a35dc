//! Hand-written scanner for scikit-learn's default token pattern and its relatives.
//!
//! `(?u)\b\w\w+\b` (the `token_pattern` default), `\b\w+\b`, `\b\w{3,}\b`,
//! `(?u)\b[^\d\W]+\b`, `\b[a-z]\w+\b`, ... have the form `\b C1 … Ck R{m,n} \b` where every
//! class is a subset of Python's `\w` (the one `\b` uses). Such a pattern matches exactly the
//! *maximal runs of word characters* that fit the shape:
//!
//! * A match must start at a `\b` followed by a character of `C1 ⊆ \w`, i.e. at the first
//!   character of a run of word characters (inside a run there is no boundary).
//! * Everything the pattern consumes is a word character, so it stays inside the run, and the
//!   closing `\b` can only hold at the run's end (inside a run both neighbours are word
//!   characters). Greedy, lazy or possessive, the only candidate match at a run start is the
//!   whole run, which succeeds iff the run fits the shape; otherwise no match starts anywhere
//!   in that run.
//! * After a match the search resumes at the run's end, which is followed by a non-word
//!   character (or the end of the text).
//!
//! Alternations `shape | shape | E` where `E` is a single-character class disjoint from `\w`
//! (e.g. `(?u)\b\w\w+\b|[\U0001F300-\U0001FAFF]` for emoji) are also covered: at a run start
//! only the shapes can match (and they all yield the whole run), at a non-word character only
//! the `E` alternatives can (yielding that character), and nothing matches inside a run.
//!
//! Hence `re.findall` returns these items in text order, which is what [`Scanner::scan`]
//! yields — in one linear pass instead of through a backtracking engine.

use super::translate::CharSet;
use crate::unicode::{ASCII_WORD, is_word};

/// A code point set with an ASCII bitmap for the hot path.
#[derive(Debug, Clone)]
pub(crate) struct FastSet {
    ascii: [bool; 128],
    set: CharSet,
}

impl FastSet {
    pub fn new(set: CharSet) -> Self {
        let mut ascii = [false; 128];
        for (i, a) in ascii.iter_mut().enumerate() {
            *a = set.contains(i as u32);
        }
        FastSet { ascii, set }
    }

    #[inline]
    fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        if cp < 128 {
            self.ascii[cp as usize]
        } else {
            self.set.contains(cp)
        }
    }
}

/// `C1 … Ck R{min,max}` (the part between the two `\b`).
#[derive(Debug, Clone)]
pub(crate) struct RunShape {
    /// Fixed leading classes; `None` means "any word character".
    pub prefix: Vec<Option<FastSet>>,
    /// Trailing repeat class (`None` = any word character) with its bounds.
    pub rep: Option<(Option<FastSet>, u64, Option<u64>)>,
}

impl RunShape {
    fn min_len(&self) -> u64 {
        self.prefix.len() as u64 + self.rep.as_ref().map_or(0, |r| r.1)
    }
    fn max_len(&self) -> Option<u64> {
        match &self.rep {
            None => Some(self.prefix.len() as u64),
            Some((_, _, max)) => max.map(|m| m + self.prefix.len() as u64),
        }
    }
    /// Whether the `n`-th character of a run (0-based) is allowed.
    #[inline]
    fn allows(&self, n: usize, c: char) -> bool {
        let class = match self.prefix.get(n) {
            Some(c) => c,
            None => match &self.rep {
                Some((c, _, _)) => c,
                None => return false,
            },
        };
        class.as_ref().is_none_or(|s| s.contains(c))
    }
    fn is_plain(&self) -> bool {
        self.prefix.iter().all(Option::is_none) && self.rep.as_ref().is_none_or(|r| r.0.is_none())
    }
}

/// The compiled scanner.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    /// `\w` of the `\b`s is ASCII (`re.ASCII`).
    pub ascii: bool,
    pub shapes: Vec<RunShape>,
    /// Union of the single-character alternatives (disjoint from `\w`).
    pub singles: Option<FastSet>,
}

impl Scanner {
    /// Calls `f` with every match, in order.
    pub fn scan<'t>(&self, text: &'t str, f: impl FnMut(&'t str)) {
        if self.singles.is_none() && self.shapes.len() == 1 && self.shapes[0].is_plain() {
            let s = &self.shapes[0];
            word_runs(text, s.min_len(), s.max_len(), self.ascii, f);
        } else {
            self.scan_general(text, f);
        }
    }

    fn scan_general<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        let mut fits = vec![false; self.shapes.len()];
        let mut run_start = 0;
        let mut n = 0usize; // code points in the current run; 0 = not in a run
        let close =
            |start: usize, end: usize, n: usize, fits: &[bool], f: &mut dyn FnMut(&'t str)| {
                let ok = self.shapes.iter().zip(fits).any(|(s, &fit)| {
                    fit && n as u64 >= s.min_len() && s.max_len().is_none_or(|m| n as u64 <= m)
                });
                if ok {
                    f(&text[start..end]);
                }
            };
        for (i, c) in text.char_indices() {
            let w = if (c as u32) < 128 {
                ASCII_WORD[c as usize]
            } else {
                !self.ascii && is_word(c)
            };
            if w {
                if n == 0 {
                    run_start = i;
                    fits.iter_mut().for_each(|x| *x = true);
                }
                for (fit, s) in fits.iter_mut().zip(&self.shapes) {
                    *fit = *fit && s.allows(n, c);
                }
                n += 1;
            } else {
                if n > 0 {
                    close(run_start, i, n, &fits, &mut f);
                    n = 0;
                }
                if let Some(e) = &self.singles
                    && e.contains(c)
                {
                    f(&text[i..i + c.len_utf8()]);
                }
            }
        }
        if n > 0 {
            close(run_start, text.len(), n, &fits, &mut f);
        }
    }
}

/// Byte classes for [`word_runs`]: one table load per byte instead of an ASCII test plus a
/// word-table load.
const NON_WORD: u8 = 0;
const WORD: u8 = 1;
const NON_ASCII: u8 = 2;
static BYTE_CLASS: [u8; 256] = byte_class_table();

const fn byte_class_table() -> [u8; 256] {
    let mut t = [NON_ASCII; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = if ASCII_WORD[b] { WORD } else { NON_WORD };
        b += 1;
    }
    t
}

/// Calls `f` with every maximal run of word characters whose length in code points is within
/// `[min, max]`. `ascii` selects Python's `re.ASCII` definition of `\w` (`[a-zA-Z0-9_]`).
pub(crate) fn word_runs<'t>(
    text: &'t str,
    min: u64,
    max: Option<u64>,
    ascii: bool,
    mut f: impl FnMut(&'t str),
) {
    let bytes = text.as_bytes();
    let len_ok = |n: u64| n >= min && max.is_none_or(|m| n <= m);
    let mut i = 0;
    while i < bytes.len() {
        // Skip ASCII non-word bytes quickly.
        i += bytes[i..]
            .iter()
            .position(|&b| BYTE_CLASS[b as usize] != NON_WORD)
            .unwrap_or(bytes.len() - i);
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut n = 0u64;
        loop {
            // ASCII word bytes.
            let a = i;
            i += bytes[i..]
                .iter()
                .position(|&b| BYTE_CLASS[b as usize] != WORD)
                .unwrap_or(bytes.len() - i);
            n += (i - a) as u64;
            if i >= bytes.len() || bytes[i] < 0x80 {
                break;
            }
            let c = text[i..].chars().next().unwrap_or(' ');
            if ascii || !is_word(c) {
                break;
            }
            n += 1;
            i += c.len_utf8();
        }
        if n == 0 {
            // A non-ASCII non-word character.
            let c = text[i..].chars().next().unwrap_or(' ');
            i += c.len_utf8();
            continue;
        }
        if len_ok(n) {
            f(&text[start..i]);
        }
        // `i` is at a non-word character (or the end); it is skipped next iteration.
        if i < bytes.len() && bytes[i] >= 0x80 {
            let c = text[i..].chars().next().unwrap_or(' ');
            i += c.len_utf8();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(t: &str, min: u64, ascii: bool) -> Vec<&str> {
        let mut v = Vec::new();
        word_runs(t, min, None, ascii, |s| v.push(s));
        v
    }

    #[test]
    fn runs_work() {
        assert_eq!(runs("a bb ccc", 2, false), ["bb", "ccc"]);
        assert_eq!(runs("a bb ccc", 1, false), ["a", "bb", "ccc"]);
        assert_eq!(runs("x²½ é\u{301}t", 2, false), ["x²½"]);
        assert_eq!(runs("héllo wörld", 2, true), ["llo", "rld"]);
        assert_eq!(runs("été", 1, true), ["t"]);
        assert_eq!(runs("", 2, false), Vec::<&str>::new());
        assert_eq!(runs("→ab→→cd", 2, false), ["ab", "cd"]);
    }
}

/// Scanner for alternations of greedy runs of pairwise-disjoint classes, `C1{m1,}|C2{m2,}|…`
/// (optionally with single-class alternatives `E`, i.e. `{1,1}`), e.g. `\S+`,
/// `[a-zA-Z]{2,}`, `\w+|[^\w\s]+`, `[^\W\d_]+`.
///
/// Why this is exact: at any position at most one alternative can match, the one whose class
/// contains the character there (the classes are disjoint). A greedy unbounded repeat takes the
/// maximal run of its class from that position and, since nothing follows it, succeeds iff
/// that run is long enough (backtracking to shorter lengths can only make it shorter than the
/// minimum). A position inside a run is only tried after the positions before it failed, and a
/// later start sees an even shorter run, so it fails too. After a match, the next character is
/// outside the run's class. So `findall` returns exactly the maximal runs of each class that
/// reach its minimum, and every single character of an `E` class, in text order.
#[derive(Debug, Clone)]
pub(crate) struct ClassRuns {
    /// ASCII fast path: class index per ASCII code point (`u8::MAX` = none).
    ascii: [u8; 128],
    /// `(class, min run length)`; `min == 0` marks a single-character class.
    classes: Vec<(FastSet, u64)>,
}

impl ClassRuns {
    pub fn new(classes: Vec<(CharSet, u64)>) -> Option<Self> {
        if classes.is_empty() || classes.len() >= u8::MAX as usize {
            return None;
        }
        let mut ascii = [u8::MAX; 128];
        for (k, (set, _)) in classes.iter().enumerate() {
            for (i, slot) in ascii.iter_mut().enumerate() {
                if set.contains(i as u32) {
                    *slot = k as u8;
                }
            }
        }
        Some(ClassRuns {
            ascii,
            classes: classes
                .into_iter()
                .map(|(s, m)| (FastSet::new(s), m))
                .collect(),
        })
    }

    #[inline]
    fn class_of(&self, c: char) -> u8 {
        let cp = c as u32;
        if cp < 128 {
            return self.ascii[cp as usize];
        }
        self.classes
            .iter()
            .position(|(s, _)| s.set.contains(cp))
            .map_or(u8::MAX, |k| k as u8)
    }

    /// Calls `f` with every match, in order.
    pub fn scan<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        let bytes = text.as_bytes();
        let mut cur = u8::MAX; // class of the current run
        let mut start = 0;
        let mut n = 0u64;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let (k, len) = if b < 0x80 {
                (self.ascii[b as usize], 1)
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                (self.class_of(c), c.len_utf8())
            };
            if k != cur || (k != u8::MAX && self.classes[k as usize].1 == 0) {
                if cur != u8::MAX && n >= self.classes[cur as usize].1 {
                    f(&text[start..i]);
                }
                cur = k;
                start = i;
                n = 0;
            }
            n += 1;
            i += len;
        }
        if cur != u8::MAX && n >= self.classes[cur as usize].1 {
            f(&text[start..]);
        }
    }
}
