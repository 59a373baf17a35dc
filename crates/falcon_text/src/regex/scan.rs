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

/// Bytes per block of [`word_runs`]: one bit of a `u64` mask each.
const BLOCK: usize = 64;
/// Every byte's high bit / every byte's low bit.
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW: u64 = 0x0101_0101_0101_0101;

/// High bit of each byte of `x` set iff that byte is an ASCII word character
/// (`[0-9A-Za-z_]`, Python's ASCII `\w`); bytes `>= 0x80` never are.
///
/// Branch-free SWAR range tests on the 7-bit values (adding `0x80 - lo` sets a byte's high
/// bit iff it is `>= lo`, and no sum leaves its byte): about two operations per byte where a
/// table lookup loop costs five.
#[inline(always)]
fn swar_word(x: u64) -> u64 {
    let v = x & !HIGH;
    let range = |v: u64, lo: u8, hi: u8| {
        let ge = v.wrapping_add(LOW * (0x80 - lo) as u64);
        let gt = v.wrapping_add(LOW * (0x7F - hi) as u64);
        ge & !gt
    };
    // `| 0x20` folds A-Z onto a-z and maps nothing else into a-z.
    let letter = range(v | (LOW * 0x20), b'a', b'z');
    let digit = range(v, b'0', b'9');
    // A byte of `v ^ '_'` is zero iff adding 0x7F leaves its high bit clear.
    let underscore = !(v ^ (LOW * b'_' as u64)).wrapping_add(LOW * 0x7F);
    (letter | digit | underscore) & !x & HIGH
}

/// Packs the high bits of the 8 bytes of `x` (only high bits set) into 8 bits, byte `k` to
/// bit `k`: the multiply moves every flag to the top byte without carries (checked for all
/// 256 inputs in the tests).
#[inline(always)]
fn pack_high(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// `(word, special)` bit masks of a block: bit `k` of `word` is set iff `b[k]` is an ASCII
/// word character, of `special` iff `b[k] >= 0x80` (part of a non-ASCII character).
#[inline(always)]
fn block_masks(b: &[u8; BLOCK]) -> (u64, u64) {
    let mut word = 0;
    let mut high = 0;
    for (k, c) in b.as_chunks::<8>().0.iter().enumerate() {
        let x = u64::from_le_bytes(*c);
        word |= pack_high(swar_word(x)) << (8 * k);
        high |= x & HIGH;
    }
    if high == 0 {
        return (word, 0);
    }
    let mut special = 0;
    for (k, c) in b.as_chunks::<8>().0.iter().enumerate() {
        special |= pack_high(u64::from_le_bytes(*c) & HIGH) << (8 * k);
    }
    (word, special)
}

/// Calls `f` with every maximal run of word characters whose length in code points is within
/// `[min, max]`. `ascii` selects Python's `re.ASCII` definition of `\w` (`[a-zA-Z0-9_]`).
///
/// The text is read in 64-byte blocks turned into bit masks ([`block_masks`]), so run starts
/// and ends are found with a `trailing_zeros` each instead of a test per byte. A non-ASCII
/// character (rare in e-mail) is decoded and classified on its own, and the next block starts
/// right after it.
pub(crate) fn word_runs<'t>(
    text: &'t str,
    min: u64,
    max: Option<u64>,
    ascii: bool,
    mut f: impl FnMut(&'t str),
) {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let len_ok = |n: u64| n >= min && max.is_none_or(|m| n <= m);
    // The open run: its start and its length in code points so far.
    let mut run: Option<(usize, u64)> = None;
    let mut i = 0; // block start
    while i < len {
        let (word, special) = match bytes.get(i..i + BLOCK) {
            Some(b) => block_masks(b.try_into().unwrap_or(&[0; BLOCK])),
            None => {
                // Zero padding reads as ASCII non-word bytes, which end a run at `len`.
                let mut tail = [0; BLOCK];
                tail[..len - i].copy_from_slice(&bytes[i..]);
                block_masks(&tail)
            }
        };
        let limit = BLOCK.min(len - i);
        let mut p = 0; // position in the block
        // Set when a non-ASCII character moved the scan to `i + p` mid-block.
        let mut restart = false;
        while p < limit {
            if let Some((start, n)) = run {
                // Extend the run over ASCII word bytes.
                let stop = !word >> p;
                if stop == 0 {
                    run = Some((start, n + (BLOCK - p) as u64));
                    p = BLOCK;
                    break;
                }
                let e = p + stop.trailing_zeros() as usize;
                let n = n + (e - p) as u64;
                p = e;
                if p < limit && (special >> p) & 1 != 0 {
                    let c = text[i + p..].chars().next().unwrap_or(' ');
                    p += c.len_utf8();
                    restart = true;
                    if !ascii && is_word(c) {
                        run = Some((start, n + 1));
                        break;
                    }
                }
                if len_ok(n) {
                    f(&text[start..i + e]);
                }
                run = None;
                if restart {
                    break;
                }
            } else {
                // Find the next run start (or non-ASCII character).
                let next = (word | special) >> p;
                if next == 0 {
                    p = BLOCK;
                    break;
                }
                p += next.trailing_zeros() as usize;
                if p >= limit {
                    break;
                }
                if (special >> p) & 1 != 0 {
                    let c = text[i + p..].chars().next().unwrap_or(' ');
                    if !ascii && is_word(c) {
                        run = Some((i + p, 1));
                    }
                    p += c.len_utf8();
                    restart = true;
                    break;
                }
                run = Some((i + p, 0));
            }
        }
        i += if restart { p } else { limit };
    }
    if let Some((start, n)) = run
        && len_ok(n)
    {
        f(&text[start..]);
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

    #[test]
    fn swar_classes_match_the_ascii_table() {
        for b in 0..=255u8 {
            let want = b < 0x80 && ASCII_WORD[b as usize];
            for lane in 0..8 {
                // The byte in one lane, its neighbours set to bytes that could carry.
                for fill in [0u8, b'z', b'_', 0xFF, 0x7F] {
                    let mut a = [fill; 8];
                    a[lane] = b;
                    let got = swar_word(u64::from_le_bytes(a)) >> (8 * lane + 7) & 1 == 1;
                    assert_eq!(got, want, "byte {b:#x} lane {lane} fill {fill:#x}");
                }
            }
        }
        for v in 0..=255u64 {
            let spread: u64 = (0..8).map(|k| ((v >> k) & 1) << (8 * k + 7)).sum();
            assert_eq!(pack_high(spread), v);
        }
    }

    /// The byte-at-a-time scanner `word_runs` replaced, kept as the reference.
    fn reference_runs(text: &str, min: u64, max: Option<u64>, ascii: bool) -> Vec<&str> {
        let mut out = Vec::new();
        let mut n = 0u64;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            let w = if (c as u32) < 128 {
                ASCII_WORD[c as usize]
            } else {
                !ascii && is_word(c)
            };
            if w {
                if n == 0 {
                    start = i;
                }
                n += 1;
            } else {
                if n >= min && max.is_none_or(|m| n <= m) && n > 0 {
                    out.push(&text[start..i]);
                }
                n = 0;
            }
        }
        if n > 0 && n >= min && max.is_none_or(|m| n <= m) {
            out.push(&text[start..]);
        }
        out
    }

    #[test]
    fn block_scanner_matches_reference() {
        let pieces = [
            "a", "bc", "Hello", "_", "9", " ", "\n", ".", "-", "é", "ß", "²", "→", "\u{301}", "😀",
            "x²", "中文", "\t", "__init__", "ÀÉ", "\u{a0}", "٣",
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..4000 {
            let mut t = String::new();
            // Lengths around the 64-byte block size and its multiples.
            let target = [1, 7, 63, 64, 65, 127, 128, 129, 200, 700][round % 10];
            while t.len() < target {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let p = pieces[(x % pieces.len() as u64) as usize];
                // Long ASCII word runs too, to cross block edges.
                if x.is_multiple_of(11) {
                    t.push_str(&"w".repeat((x >> 8) as usize % 150));
                } else {
                    t.push_str(p);
                }
            }
            for (min, max) in [(1, None), (2, None), (3, Some(5))] {
                for ascii in [false, true] {
                    let mut got = Vec::new();
                    word_runs(&t, min, max, ascii, |s| got.push(s));
                    assert_eq!(
                        got,
                        reference_runs(&t, min, max, ascii),
                        "{t:?} {min} {ascii}"
                    );
                }
            }
        }
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
