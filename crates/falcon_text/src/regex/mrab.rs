//! Character classes and case rules of the third-party `regex` module ("mrab-regex",
//! VERSION0), the engine NLTK 3.10.4 compiles its tokenizer patterns with (`nltk.redos`).
//!
//! Same syntax as `re` for the patterns NLTK uses, different meaning in places:
//!
//! * `\w` is the Unicode word property (letters, marks, decimal numbers, connector
//!   punctuation, join controls: `é` spelt `e` + U+0301 is one word; `²` is not a word
//!   character), `\d` is `Nd`, `\s` is the `White_Space` property (no `\x1c`-`\x1f`), all from
//!   the module's own, newer, Unicode version. `\b` uses that `\w`.
//! * IGNORECASE (without FULLCASE) compares a character with the "all cases" list of the other
//!   (`same_char_ign`); a set matches a character when one of its cases is a member
//!   (`in_set_ign`), except that a lone property (`\w`, `\p{L}`, also `[\w]`) is tested on
//!   the character itself (`matches_PROPERTY_IGN`), with `Lu`/`Ll`/`Lt` widened to cased
//!   letters.
//!
//! The tables ([`super::mrab_tables`]) are measured from the installed module by
//! `training/gen_regex_module_tables.py`.

use super::mrab_tables as t;
use super::parse::Cat;
use super::translate::CharSet;
use crate::unicode::in_ranges;

/// Names of the grouped general categories, after the 30 two-letter ones of `GC_NAMES`.
const GROUPS: &[(&str, &[&str])] = &[
    ("L", &["Lu", "Ll", "Lt", "Lm", "Lo"]),
    ("LC", &["Lu", "Ll", "Lt"]),
    ("M", &["Mn", "Mc", "Me"]),
    ("N", &["Nd", "Nl", "No"]),
    ("P", &["Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"]),
    ("S", &["Sm", "Sc", "Sk", "So"]),
    ("Z", &["Zs", "Zl", "Zp"]),
    ("C", &["Cc", "Cf", "Cs", "Co", "Cn"]),
];

/// The version of the `regex` module whose tables are reproduced.
pub const REGEX_MODULE_VERSION: &str = t::REGEX_MODULE_VERSION;

/// Index of a general category short name (`\p{Lu}` → index of `Lu`), `None` if unknown.
pub(crate) fn prop_id(name: &str) -> Option<u8> {
    if let Some(i) = t::GC_NAMES.iter().position(|&n| n == name) {
        return u8::try_from(i).ok();
    }
    let g = GROUPS.iter().position(|&(n, _)| n == name)?;
    u8::try_from(t::GC_NAMES.len() + g).ok()
}

/// Whether `id` is `Lu`, `Ll` or `Lt`, which IGNORECASE widens to all cased letters.
fn is_case_sensitive_prop(id: u8) -> bool {
    matches!(
        t::GC_NAMES.get(id as usize).copied(),
        Some("Lu" | "Ll" | "Lt")
    )
}

/// The code points of a general category or group.
pub(crate) fn prop_set(id: u8) -> CharSet {
    let id = id as usize;
    let names: Vec<&str> = match t::GC_NAMES.get(id) {
        Some(&n) => vec![n],
        None => GROUPS
            .get(id - t::GC_NAMES.len())
            .map(|g| g.1.to_vec())
            .unwrap_or_default(),
    };
    let mut v = Vec::new();
    for n in names {
        if let Some(i) = t::GC_NAMES.iter().position(|&x| x == n) {
            v.extend_from_slice(t::GC_TABLES[i]);
        }
    }
    CharSet::from_ranges(v)
}

/// `\w \d \s` (and complements, and `\p{..}`) of the `regex` module.
pub(crate) fn category_set(cat: Cat, ascii: bool) -> CharSet {
    let (table, negate): (&[(u32, u32)], bool) = match (cat, ascii) {
        (Cat::Word, false) => (t::WORD, false),
        (Cat::NotWord, false) => (t::WORD, true),
        (Cat::Digit, false) => (t::DIGIT, false),
        (Cat::NotDigit, false) => (t::DIGIT, true),
        (Cat::Space, false) => (t::SPACE, false),
        (Cat::NotSpace, false) => (t::SPACE, true),
        (Cat::Word, true) => (t::WORD_ASCII, false),
        (Cat::NotWord, true) => (t::WORD_ASCII, true),
        (Cat::Digit, true) => (t::DIGIT_ASCII, false),
        (Cat::NotDigit, true) => (t::DIGIT_ASCII, true),
        (Cat::Space, true) => (t::SPACE_ASCII, false),
        (Cat::NotSpace, true) => (t::SPACE_ASCII, true),
        (Cat::Prop(id, neg), _) => {
            let s = prop_set(id);
            return if neg { s.complement() } else { s };
        }
    };
    let s = CharSet::from_ranges(table.to_vec());
    if negate { s.complement() } else { s }
}

/// The other cases of `cp` (`all_cases` minus `cp` itself).
fn other_cases(cp: u32, ascii: bool) -> &'static [u32] {
    static ASCII_PAIRS: [[u32; 1]; 128] = {
        let mut a = [[0u32; 1]; 128];
        let mut i = 0;
        while i < 128 {
            a[i][0] = i as u32 ^ 0x20;
            i += 1;
        }
        a
    };
    if ascii {
        return if cp < 128 && (cp as u8).is_ascii_alphabetic() {
            &ASCII_PAIRS[cp as usize]
        } else {
            &[]
        };
    }
    match t::ALL_CASES.binary_search_by_key(&cp, |&(k, _)| k) {
        Ok(i) => t::ALL_CASES[i].1,
        Err(_) => &[],
    }
}

/// The characters `t` with a case in `set` (`set` ∪ {t : all_cases(t) ∩ set ≠ ∅}): what a
/// literal, range or set member matches under IGNORECASE. The relation is symmetric, so for a
/// single character this is its own case list.
pub(crate) fn case_closure(set: &CharSet, ascii: bool) -> CharSet {
    let mut extra = Vec::new();
    if ascii {
        for c in (b'A'..=b'Z').chain(b'a'..=b'z') {
            let c = u32::from(c);
            if set.contains(c ^ 0x20) {
                extra.push((c, c));
            }
        }
    } else {
        for &(c, cases) in t::ALL_CASES {
            if cases.iter().any(|&x| set.contains(x)) {
                extra.push((c, c));
            }
        }
    }
    set.union(&CharSet::from_ranges(extra))
}

/// A literal under IGNORECASE.
pub(crate) fn literal_set(c: u32, ascii: bool) -> CharSet {
    let mut v = vec![(c, c)];
    v.extend(other_cases(c, ascii).iter().map(|&x| (x, x)));
    CharSet::from_ranges(v)
}

/// Why a category cannot be reproduced under IGNORECASE, if it cannot: `Lu`/`Ll`/`Lt` (a lone
/// one means "cased letter", inside a larger set it is tested on each case: two meanings that
/// CPython's parser tree, which turns `\p{Lu}|x` into a set, does not keep apart), and any
/// category that is not closed under the case relation (same ambiguity).
pub(crate) fn ignorecase_problem(cat: Cat, ascii: bool) -> Option<String> {
    if let Cat::Prop(id, _) = cat {
        if ascii {
            return Some("\\p{..} under re.ASCII".into());
        }
        if is_case_sensitive_prop(id) {
            return Some("\\p{Lu}, \\p{Ll} or \\p{Lt} under IGNORECASE".into());
        }
    }
    let s = category_set(cat, ascii);
    (case_closure(&s, ascii) != s)
        .then(|| format!("{cat:?} under IGNORECASE (not closed under the regex module's cases)"))
}

/// Whether VERBOSE mode in the `regex` module skips `c` (outside sets).
pub(crate) fn verbose_skips(c: char) -> bool {
    in_ranges(t::VERBOSE_SKIP, c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sane() {
        let w = category_set(Cat::Word, false);
        assert!(w.contains(0x301) && !w.contains(0xB2) && w.contains('_' as u32));
        assert!(!category_set(Cat::Space, false).contains(0x1C));
        assert!(prop_set(prop_id("L").unwrap()).contains('a' as u32));
        assert!(prop_set(prop_id("N").unwrap()).contains(0xB2));
        assert!(prop_id("Xx").is_none() && prop_id("L&").is_none());
        let i = literal_set('i' as u32, false);
        assert!(i.contains('I' as u32) && i.contains(0x130) && !i.contains(0x131));
        let k = case_closure(&CharSet::from_ranges(vec![(0x61, 0x7A)]), false);
        assert!(k.contains(0x212A) && k.contains(0x17F) && k.contains(0x130));
        assert!(!k.contains(0x131));
        assert!(ignorecase_problem(Cat::Word, false).is_none());
        assert!(ignorecase_problem(Cat::Prop(prop_id("Lu").unwrap(), false), false).is_some());
        assert!(verbose_skips('\u{a0}') && !verbose_skips('a'));
    }
}
