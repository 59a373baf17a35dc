//! NLTK 3.10.4's Lancaster (Paice/Husk) stemmer: `LancasterStemmer()` with
//! its default rule tuple (`nltk/stem/lancaster.py`), with and without
//! `strip_prefix_flag`. Custom rule tuples are not supported.
//!
//! NLTK's algorithm, which this module follows step by step:
//!
//! 1. lower the word with Python's `str.lower`; with `strip_prefix_flag`,
//!    drop the first of `kilo micro milli intra ultra mega nano pico pseudo`
//!    that it starts with; a word of more than `MAX_WORD_LEN` = 1000 code
//!    points is then returned as it is;
//! 2. repeatedly: take the *last letter of the leading run of
//!    `str.isalpha` characters* (not the word's last character: NLTK's
//!    `__getLastLetter` stops at the first non-letter, so `running🙂`
//!    consults the `g` rules and `tab-s` the `b` rules) and try the rules
//!    filed under that letter, in order; a rule applies when the *whole
//!    word* ends with its ending, the word is still intact if the rule
//!    demands it (`*`), and the remainder is acceptable (at least two code
//!    points when the word starts with a vowel, else at least three with a
//!    vowel among the second and third); it removes its count of code points
//!    and appends its string, and stops the stemming if it ends in `.`; no
//!    applicable rule stops it too.
//!
//! The rule strings are NLTK's, verbatim, parsed at compile time into a
//! table indexed by letter (a malformed rule would fail the build), and the
//! endings are compared backwards against the word's bytes, so no regex runs
//! per word. Every rule removes at most its own (ASCII) ending, so edits are
//! byte truncations of the word's tail and the leading letter run never
//! changes once computed. `str.isalpha` is CPython 3.11's (Unicode 14.0.0
//! general categories `Lu Ll Lt Lm Lo`), from the table
//! `training/gen_unicode_tables.py` generates from CPython: Rust's
//! `char::is_alphabetic` is a different property (it includes `Nl` and
//! combining marks) of a newer Unicode.

use crate::py_lower;

/// `MAX_WORD_LEN`: longer words (in code points, after lowering and prefix
/// stripping) are returned unstemmed.
const MAX_WORD_LEN: usize = 1000;

/// The prefixes `__stripPrefix` removes, in NLTK's order (the first match
/// wins; `kilomega` loses only `kilo`).
const PREFIXES: [&str; 9] = [
    "kilo", "micro", "milli", "intra", "ultra", "mega", "nano", "pico", "pseudo",
];

/// `LancasterStemmer.default_rule_tuple`, verbatim: the ending written
/// backwards, `*` if the word must be intact, the number of code points to
/// remove, the string to append, and `>` (continue) or `.` (stop).
#[rustfmt::skip]
const DEFAULT_RULES: [&str; 115] = [
    "ai*2.", "a*1.", "bb1.", "city3s.", "ci2>", "cn1t>", "dd1.", "dei3y>", "deec2ss.", "dee1.",
    "de2>", "dooh4>", "e1>", "feil1v.", "fi2>", "gni3>", "gai3y.", "ga2>", "gg1.", "ht*2.",
    "hsiug5ct.", "hsi3>", "i*1.", "i1y>", "ji1d.", "juf1s.", "ju1d.", "jo1d.", "jeh1r.", "jrev1t.",
    "jsim2t.", "jn1d.", "j1s.", "lbaifi6.", "lbai4y.", "lba3>", "lbi3.", "lib2l>", "lc1.",
    "lufi4y.", "luf3>", "lu2.", "lai3>", "lau3>", "la2>", "ll1.", "mui3.", "mu*2.", "msi3>",
    "mm1.", "nois4j>", "noix4ct.", "noi3>", "nai3>", "na2>", "nee0.", "ne2>", "nn1.", "pihs4>",
    "pp1.", "re2>", "rae0.", "ra2.", "ro2>", "ru2>", "rr1.", "rt1>", "rei3y>", "sei3y>", "sis2.",
    "si2>", "ssen4>", "ss0.", "suo3>", "su*2.", "s*1>", "s0.", "tacilp4y.", "ta2>", "tnem4>",
    "tne3>", "tna3>", "tpir2b.", "tpro2b.", "tcud1.", "tpmus2.", "tpec2iv.", "tulo2v.", "tsis0.",
    "tsi3>", "tt1.", "uqi3.", "ugo1.", "vis3j>", "vie0.", "vi2>", "ylb1>", "yli3y>", "ylp0.",
    "yl2>", "ygo1.", "yhp1.", "ymo1.", "ypo1.", "yti3>", "yte3>", "ytl2.", "yrtsi5.", "yra3>",
    "yro3>", "yfi3.", "ycn2t>", "yca3>", "zi2>", "zy1s.",
];

/// One parsed rule.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// The ending as the rule writes it: reversed (`"gni"` for `-ing`).
    rev_ending: &'static [u8],
    /// `*`: only while the word is still the one stemming started with.
    intact: bool,
    /// How many code points to remove from the end.
    remove: usize,
    /// What to append afterwards.
    append: &'static str,
    /// `.`: stop after this rule (`>` or nothing: go on).
    stop: bool,
}

/// Parses one rule of the form `^[a-z]+\*?\d[a-z]*[>\.]?$` (NLTK's
/// `valid_rule`); a malformed one is a compile-time error.
const fn parse_rule(rule: &'static str) -> Rule {
    let b = rule.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_lowercase() {
        i += 1;
    }
    assert!(i > 0, "a Lancaster rule starts with its reversed ending");
    let (rev_ending, rest) = b.split_at(i);
    let intact = !rest.is_empty() && rest[0] == b'*';
    let mut j = if intact { 1 } else { 0 };
    assert!(
        j < rest.len() && rest[j].is_ascii_digit(),
        "a Lancaster rule has a digit"
    );
    let remove = (rest[j] - b'0') as usize;
    assert!(
        remove <= rev_ending.len(),
        "a Lancaster rule removes at most its ending"
    );
    j += 1;
    let (_, tail) = rest.split_at(j);
    let mut k = 0;
    while k < tail.len() && tail[k].is_ascii_lowercase() {
        k += 1;
    }
    let (append, flag) = tail.split_at(k);
    let stop = match flag {
        [] | [b'>'] => false,
        [b'.'] => true,
        _ => panic!("a Lancaster rule ends with '>', '.' or nothing"),
    };
    let append = match std::str::from_utf8(append) {
        Ok(s) => s,
        Err(_) => panic!("unreachable: ASCII"),
    };
    Rule {
        rev_ending,
        intact,
        remove,
        append,
        stop,
    }
}

const fn parse_rules() -> [Rule; DEFAULT_RULES.len()] {
    let mut out = [Rule {
        rev_ending: b"",
        intact: false,
        remove: 0,
        append: "",
        stop: true,
    }; DEFAULT_RULES.len()];
    let mut i = 0;
    while i < DEFAULT_RULES.len() {
        out[i] = parse_rule(DEFAULT_RULES[i]);
        i += 1;
    }
    out
}

/// The default rules parsed at compile time.
const PARSED: [Rule; DEFAULT_RULES.len()] = parse_rules();

/// The parsed default rules, in NLTK's order.
static RULES: [Rule; DEFAULT_RULES.len()] = PARSED;

/// For each letter `a..=z`, the range of [`RULES`] filed under it (NLTK's
/// `rule_dictionary[letter]`, which keeps the tuple's order). The default
/// tuple lists each letter's rules contiguously; the build checks it.
static BY_LETTER: [(u8, u8); 26] = index_rules(&PARSED);

const fn index_rules(rules: &[Rule]) -> [(u8, u8); 26] {
    assert!(rules.len() <= u8::MAX as usize);
    let mut out = [(0u8, 0u8); 26];
    let mut i = 0;
    while i < rules.len() {
        let key = rules[i].rev_ending[0];
        let start = i;
        while i < rules.len() && rules[i].rev_ending[0] == key {
            i += 1;
        }
        let slot = (key - b'a') as usize;
        assert!(
            out[slot].0 == out[slot].1,
            "each letter's rules are contiguous"
        );
        out[slot] = (start as u8, i as u8);
    }
    out
}

/// CPython 3.11's `str.isalpha` for one code point.
#[inline]
fn py_isalpha(c: char) -> bool {
    crate::unicode::is_alpha(c)
}

/// `c in "aeiouy"`.
#[inline]
fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// NLTK's `LancasterStemmer(strip_prefix_flag=...)` with the default rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct LancasterStemmer {
    strip_prefix: bool,
}

impl LancasterStemmer {
    /// `LancasterStemmer(strip_prefix_flag=strip_prefix)`.
    pub fn new(strip_prefix: bool) -> Self {
        Self { strip_prefix }
    }

    /// `LancasterStemmer(...).stem(word)`.
    ///
    /// Total: any string gives NLTK's result. Each pass removes at least one
    /// code point or stops (the two rules that keep the length, `-nc` →
    /// `-nt` and `-i` → `-y`, lead only to rules that shorten), and the word
    /// has at most 1000 code points by then, so time and memory are bounded
    /// by the input's length.
    pub fn stem(&self, word: &str) -> String {
        let mut w = String::with_capacity(word.len());
        py_lower(word, &mut w);
        if self.strip_prefix
            && let Some(p) = PREFIXES.iter().find(|p| w.starts_with(*p))
        {
            w.drain(..p.len());
        }
        if w.chars().nth(MAX_WORD_LEN).is_some() {
            return w;
        }
        let mut len = w.chars().count();
        let intact = w.clone();
        // Byte offset of the first non-letter, `None` when every character
        // is a letter. Rules only remove letters of their own ending, so
        // they never reach a non-letter: the offset never moves, and a word
        // of letters stays one (rules append letters).
        let run_end = w
            .char_indices()
            .find(|&(_, c)| !py_isalpha(c))
            .map(|(i, _)| i);

        loop {
            // `__getLastLetter`: the run's last character, if the run is not empty.
            let run = w.get(..run_end.unwrap_or(w.len())).unwrap_or_default();
            let Some(last) = run.chars().next_back() else {
                break;
            };
            if !last.is_ascii_lowercase() {
                break; // no rules are filed under it
            }
            let (start, end) = BY_LETTER[usize::from(last as u8 - b'a')];
            let mut applied = None;
            for rule in &RULES[usize::from(start)..usize::from(end)] {
                if !ends_with_reversed(&w, rule.rev_ending)
                    || (rule.intact && w != intact)
                    || !acceptable(&w, len, rule.remove)
                {
                    continue;
                }
                // `word[0:len(word) - remove] + append`: the removed code
                // points are the ASCII ending's, one byte each.
                w.truncate(w.len() - rule.remove);
                w.push_str(rule.append);
                len = len - rule.remove + rule.append.len();
                applied = Some(rule.stop);
                break;
            }
            match applied {
                Some(false) => {}
                Some(true) | None => break,
            }
        }
        w
    }
}

/// `word.endswith(ending[::-1])`.
#[inline]
fn ends_with_reversed(word: &str, rev_ending: &[u8]) -> bool {
    let b = word.as_bytes();
    b.len() >= rev_ending.len() && b.iter().rev().zip(rev_ending).all(|(x, y)| x == y)
}

/// `__isAcceptable(word, remove_total)`; `len` is the word's length in code points.
fn acceptable(word: &str, len: usize, remove: usize) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false; // unreachable: a rule matched a non-empty ending
    };
    if is_vowel(first) {
        len >= remove + 2
    } else {
        len >= remove + 3 && chars.take(2).any(is_vowel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nltk_docstring_examples() {
        let st = LancasterStemmer::new(false);
        for (w, s) in [
            ("maximum", "maxim"),
            ("presumably", "presum"),
            ("multiply", "multiply"),
            ("provision", "provid"),
            ("owed", "ow"),
            ("ear", "ear"),
            ("saying", "say"),
            ("crying", "cry"),
            ("string", "string"),
            ("meant", "meant"),
            ("cement", "cem"),
            ("", ""),
        ] {
            assert_eq!(st.stem(w), s, "{w:?}");
        }
        assert_eq!(LancasterStemmer::new(true).stem("kilometer"), "met");
    }

    #[test]
    fn rule_table() {
        assert_eq!(RULES.len(), 115);
        let filed: usize = BY_LETTER.iter().map(|&(a, b)| usize::from(b - a)).sum();
        assert_eq!(filed, RULES.len());
        let r = &RULES[usize::from(BY_LETTER[usize::from(b'h' - b'a')].0) + 1];
        assert_eq!(
            (r.rev_ending, r.intact, r.remove, r.append, r.stop),
            (&b"hsiug"[..], false, 5, "ct", true)
        );
        assert!(RULES.iter().all(|r| r.append.len() <= r.remove));
    }

    #[test]
    fn isalpha_table() {
        for (c, a) in [
            ('é', true),
            ('\u{301}', false),
            ('Ⅻ', false),
            ('一', true),
            ('_', false),
            ('ª', true),
        ] {
            assert_eq!(py_isalpha(c), a, "{c:?}");
        }
    }

    #[test]
    fn long_and_odd_words() {
        let st = LancasterStemmer::new(false);
        let long = "a".repeat(998) + "ing";
        assert_eq!(st.stem(&long), long);
        assert_eq!(st.stem(&"A".repeat(200_000)), "a".repeat(200_000));
        assert_eq!(st.stem("tab-s"), "tab-s");
        assert_eq!(st.stem("xs-s"), "xs-s");
    }
}
