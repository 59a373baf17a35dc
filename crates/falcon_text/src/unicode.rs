//! Unicode character properties exactly as CPython 3.11 sees them.
//!
//! All data lives in the generated [`tables`] module (see `training/gen_unicode_tables.py`),
//! derived from the behaviour of CPython 3.11 itself (Unicode 14.0.0). We deliberately do not
//! use Rust's `char` methods or the `unicode-*` crates: they follow newer Unicode versions and
//! sometimes different definitions (`char::is_alphanumeric` is not Python's `str.isalnum`,
//! Rust `regex`'s `\w` adds marks and connector punctuation), and any difference would change
//! which tokens a scikit-learn model sees.
//!
//! Lookups are an ASCII table for code points below 128 (the hot path for mostly-English
//! text) and a binary search over sorted ranges otherwise.

#[rustfmt::skip]
pub mod tables;

/// Binary search in sorted, disjoint, inclusive ranges.
#[inline]
pub(crate) fn in_ranges(table: &[(u32, u32)], cp: u32) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Lookup in a sorted `(key, value)` table.
#[inline]
pub(crate) fn lookup_pair(table: &[(u32, u32)], cp: u32) -> Option<u32> {
    table
        .binary_search_by_key(&cp, |&(k, _)| k)
        .ok()
        .map(|i| table[i].1)
}

const fn ascii_word_table() -> [bool; 128] {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'_';
        i += 1;
    }
    t
}

/// Python's `str.isspace()` on ASCII: `\t\n\x0b\x0c\r`, the information separators
/// `\x1c`-`\x1f` (Unicode bidi class B/S), and space.
const fn ascii_space_table() -> [bool; 128] {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = matches!(i, 0x09..=0x0D | 0x1C..=0x1F | 0x20);
        i += 1;
    }
    t
}

/// `\w` for ASCII code points (same in Unicode and ASCII mode).
pub(crate) static ASCII_WORD: [bool; 128] = ascii_word_table();
/// `str.isspace()` for ASCII code points.
pub(crate) static ASCII_SPACE: [bool; 128] = ascii_space_table();

/// Python `re` `\w` for `str` patterns: `c.isalnum() or c == '_'`.
///
/// `isalnum` is `isalpha or isdecimal or isdigit or isnumeric`, so this includes letters
/// (categories L*), all numbers (`²`, `½`, `Ⅻ`, `٣`) and `_`, but *not* combining marks
/// (`U+0301`, Devanagari vowel signs) nor connector punctuation other than `_`. Rust `regex`'s
/// `\w` differs on both counts, which is why patterns are translated with explicit classes.
#[inline]
pub fn is_word(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 {
        ASCII_WORD[cp as usize]
    } else {
        in_ranges(tables::WORD, cp)
    }
}

/// Python `re` `\d` for `str` patterns: Unicode category Nd (`str.isdecimal`).
///
/// Includes other scripts' digits (`٣`, `५`, `๑`) but not `²` or `½`.
#[inline]
pub fn is_digit(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 {
        c.is_ascii_digit()
    } else {
        in_ranges(tables::DIGIT, cp)
    }
}

/// Python `re` `\s` for `str` patterns, identical to `str.isspace()` (and so to the separators
/// of `str.split()`).
///
/// Unlike Rust's `char::is_whitespace` this includes `\x1c`-`\x1f` and excludes nothing
/// Python counts; it includes `\x85`, `\xa0`, `U+2000`-`U+200A`, `U+2028`, `U+2029`, `U+3000`.
#[inline]
pub fn is_space(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 {
        ASCII_SPACE[cp as usize]
    } else {
        in_ranges(tables::SPACE, cp)
    }
}

/// `str.isalpha()` of one code point: a letter (categories Lm, Lt, Lu, Ll,
/// Lo). Not Rust's `char::is_alphabetic`, which also counts combining marks
/// (`Other_Alphabetic`) and letter numbers such as `Ⅻ`, in a newer Unicode.
#[inline]
pub fn is_alpha(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 {
        c.is_ascii_alphabetic()
    } else {
        in_ranges(tables::ALPHA, cp)
    }
}

/// `str.isalpha()`: non-empty, and every code point [`is_alpha`].
pub fn str_isalpha(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_alpha)
}

/// `str.isdigit()`: non-empty, every code point of Numeric_Type Digit or
/// Decimal (`"²"` and `"١"` are digits, `"½"` is not).
pub fn str_isdigit(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            let cp = c as u32;
            if cp < 128 {
                c.is_ascii_digit()
            } else {
                in_ranges(tables::ISDIGIT, cp)
            }
        })
}

/// `str.isnumeric()`: non-empty, every code point of Numeric_Type Digit,
/// Decimal or Numeric (`"½"`, `"Ⅻ"`, `"五"`).
pub fn str_isnumeric(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            let cp = c as u32;
            if cp < 128 {
                c.is_ascii_digit()
            } else {
                in_ranges(tables::NUMERIC, cp)
            }
        })
}

/// `str.isalnum()`: non-empty, every code point `isalpha or isdecimal or
/// isdigit or isnumeric`, which is `re`'s `\w` without `_`.
pub fn str_isalnum(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c != '_' && is_word(c))
}

/// Case-ignorable as consulted by CPython's final-sigma rule.
#[inline]
pub(crate) fn is_case_ignorable(c: char) -> bool {
    in_ranges(tables::CASE_IGNORABLE, c as u32)
}

/// Cased (for characters that are not case-ignorable) as consulted by the final-sigma rule.
#[inline]
pub(crate) fn is_cased(c: char) -> bool {
    in_ranges(tables::CASED, c as u32)
}

/// `unicodedata.combining(c)`: the canonical combining class (0 for starters).
#[inline]
pub fn combining_class(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x300 {
        return 0;
    }
    let t = tables::COMBINING;
    match t.binary_search_by(|&(lo, hi, _)| {
        if hi < cp {
            std::cmp::Ordering::Less
        } else if lo > cp {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    }) {
        Ok(i) => t[i].2,
        Err(_) => 0,
    }
}

/// `_sre.unicode_tolower`: the *simple* lowercase mapping the regex engine uses for IGNORECASE.
#[inline]
pub(crate) fn sre_lower(cp: u32) -> u32 {
    lookup_pair(tables::SRE_LOWER, cp).unwrap_or(cp)
}

/// `sre_upper_unicode`: the simple uppercase mapping (first char of `str.upper()`).
#[inline]
pub(crate) fn sre_upper(cp: u32) -> u32 {
    lookup_pair(tables::SRE_UPPER, cp).unwrap_or(cp)
}

/// `_sre.unicode_iscased`.
#[inline]
pub(crate) fn sre_iscased(cp: u32) -> bool {
    sre_lower(cp) != cp || sre_upper(cp) != cp
}

/// `re._casefix._EXTRA_CASES[lo]` (empty when absent).
pub(crate) fn sre_extra_cases(lo: u32) -> &'static [u32] {
    let t = tables::SRE_EXTRA_CASES;
    match t.binary_search_by_key(&lo, |&(k, _)| k) {
        Ok(i) => t[i].1,
        Err(_) => &[],
    }
}

const S_BASE: u32 = 0xAC00;
const L_BASE: u32 = 0x1100;
const V_BASE: u32 = 0x1161;
const T_BASE: u32 = 0x11A7;
const T_COUNT: u32 = 28;
const N_COUNT: u32 = 588;
const S_COUNT: u32 = 11172;

/// Appends the full NFKD decomposition of `c` (not yet canonically reordered across
/// character boundaries) to `out`.
pub(crate) fn push_nfkd(c: char, out: &mut Vec<char>) {
    let cp = c as u32;
    if cp < 0xA0 {
        out.push(c);
        return;
    }
    if (S_BASE..S_BASE + S_COUNT).contains(&cp) {
        // Hangul syllables: algorithmic decomposition (Unicode ch. 3.12).
        let s = cp - S_BASE;
        let l = L_BASE + s / N_COUNT;
        let v = V_BASE + (s % N_COUNT) / T_COUNT;
        let t = T_BASE + s % T_COUNT;
        out.extend([l, v].into_iter().filter_map(char::from_u32));
        if t != T_BASE {
            out.extend(char::from_u32(t));
        }
        return;
    }
    match tables::NFKD_INDEX.binary_search_by_key(&cp, |&(k, _, _)| k) {
        Ok(i) => {
            let (_, start, len) = tables::NFKD_INDEX[i];
            let start = start as usize;
            out.extend(
                tables::NFKD_CHARS[start..start + len as usize]
                    .iter()
                    .filter_map(|&u| char::from_u32(u)),
            );
        }
        Err(_) => out.push(c),
    }
}

/// `unicodedata.normalize("NFKD", s)` into `out` (cleared first), as `(char, ccc)` pairs.
///
/// Decomposes every character fully, then applies the canonical ordering algorithm exactly as
/// CPython's `nfd_nfkd` does (a stable insertion sort of each run of non-starters by combining
/// class).
pub(crate) fn nfkd(s: &str, out: &mut Vec<(char, u8)>) {
    out.clear();
    let mut tmp = Vec::with_capacity(4);
    for c in s.chars() {
        tmp.clear();
        push_nfkd(c, &mut tmp);
        for &d in &tmp {
            out.push((d, combining_class(d)));
        }
    }
    // Canonical ordering: stable insertion sort within runs of non-starters.
    let mut i = 1;
    while i < out.len() {
        let cur = out[i].1;
        let prev = out[i - 1].1;
        if prev == 0 || cur == 0 || prev <= cur {
            i += 1;
            continue;
        }
        let mut o = i;
        while o > 0 && out[o - 1].1 != 0 && out[o - 1].1 > cur {
            out.swap(o - 1, o);
            o -= 1;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_disjoint() {
        for t in [
            tables::WORD,
            tables::DIGIT,
            tables::SPACE,
            tables::CASED,
            tables::CASE_IGNORABLE,
        ] {
            for w in t.windows(2) {
                assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0);
            }
        }
        for t in [tables::LOWER_SINGLE, tables::SRE_LOWER, tables::SRE_UPPER] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert!(tables::NFKD_INDEX.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(tables::COMBINING.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn python_classes_differ_from_rust() {
        assert!(is_word('²') && is_word('½') && is_word('Ⅻ') && is_word('_'));
        assert!(!is_word('\u{301}') && !is_word('\u{203F}'));
        assert!(is_digit('٣') && !is_digit('²'));
        assert!(is_space('\x1c') && is_space('\u{85}') && is_space('\u{3000}'));
        assert!(!is_space('\u{200B}') && !is_space('\u{FEFF}'));
        assert_eq!(combining_class('\u{301}'), 230);
        assert_eq!(combining_class('a'), 0);
    }

    #[test]
    fn nfkd_reorders_marks() {
        let mut v = Vec::new();
        // a + dot below (220) after acute (230) must be reordered
        nfkd("a\u{301}\u{323}", &mut v);
        let s: String = v.iter().map(|p| p.0).collect();
        assert_eq!(s, "a\u{323}\u{301}");
        nfkd("한", &mut v);
        assert_eq!(v.len(), 3);
        nfkd("ﬁ", &mut v);
        assert_eq!(v.iter().map(|p| p.0).collect::<String>(), "fi");
    }
}
