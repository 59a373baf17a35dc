//! `str.lower()` exactly as CPython 3.11 implements it.

use crate::unicode::{self, is_case_ignorable, is_cased, tables};

const CAPITAL_SIGMA: char = '\u{3A3}';

/// Appends Python's `s.lower()` to `out`.
///
/// This is the *full* lowercase mapping (`'İ'` becomes `"i̇"`, two code points) plus CPython's
/// context-sensitive final-sigma rule from `handle_capital_sigma` in `unicodeobject.c`: a
/// capital sigma becomes `'ς'` when it is preceded by a cased letter (skipping case-ignorable
/// characters) and *not* followed by one (again skipping case-ignorable characters), and `'σ'`
/// otherwise. Rust's `str::to_lowercase` also implements a final-sigma rule, but with different
/// data (newer Unicode) — and every other mapping must come from the Unicode 14.0 tables that
/// CPython 3.11 uses — so we use generated tables throughout.
///
/// ASCII runs are copied in bulk and lowercased in place, so mostly-ASCII text costs about a
/// memcpy.
pub fn py_lower(s: &str, out: &mut String) {
    out.reserve(s.len());
    if s.is_ascii() {
        // The common case: one word-at-a-time check, a memcpy and a
        // vectorised in-place lowercase.
        let base = out.len();
        out.push_str(s);
        out[base..].make_ascii_lowercase();
        return;
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII run.
        let start = i;
        i += ascii_prefix_len(&bytes[i..]);
        if i > start {
            let base = out.len();
            out.push_str(&s[start..i]);
            out[base..].make_ascii_lowercase();
        }
        if i >= bytes.len() {
            break;
        }
        let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
        let next = i + c.len_utf8();
        if c == CAPITAL_SIGMA {
            out.push(if final_sigma(&s[..i], &s[next..]) {
                'ς'
            } else {
                'σ'
            });
        } else {
            push_lower(c, out);
        }
        i = next;
    }
}

/// Length of the leading run of ASCII bytes of `b`, checked eight bytes at
/// a time.
#[inline]
fn ascii_prefix_len(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0x80; 8]));
        let high = word & 0x8080_8080_8080_8080;
        if high != 0 {
            return i + (high.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] < 0x80 {
        i += 1;
    }
    i
}

/// Full lowercase mapping of a single non-sigma character.
#[inline]
fn push_lower(c: char, out: &mut String) {
    let cp = c as u32;
    if let Some(l) = unicode::lookup_pair(tables::LOWER_SINGLE, cp) {
        out.push(char::from_u32(l).unwrap_or(c));
    } else if let Ok(k) = tables::LOWER_MULTI.binary_search_by_key(&cp, |&(k, _)| k) {
        out.push_str(tables::LOWER_MULTI[k].1);
    } else {
        out.push(c);
    }
}

/// CPython's `handle_capital_sigma`: `before` and `after` are the text around the sigma.
fn final_sigma(before: &str, after: &str) -> bool {
    let prev = before.chars().rev().find(|&c| !is_case_ignorable(c));
    match prev {
        Some(p) if is_cased(p) => {}
        _ => return false,
    }
    match after.chars().find(|&c| !is_case_ignorable(c)) {
        None => true,
        Some(n) => !is_cased(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(s: &str) -> String {
        let mut o = String::new();
        py_lower(s, &mut o);
        o
    }

    #[test]
    fn basics() {
        assert_eq!(lower("Hello WORLD"), "hello world");
        assert_eq!(lower("İstanbul"), "i\u{307}stanbul");
        assert_eq!(lower("ΟΔΟΣ ΣΑΣ"), "οδος σας");
        assert_eq!(lower("Σ"), "σ");
        assert_eq!(lower("ΑΣ'Σ"), "ασ'ς");
        assert_eq!(lower("ΑΣ.Β"), "ασ.β");
        assert_eq!(lower("ΑΣ. Β"), "ας. β");
        assert_eq!(lower("ＡＢＣ"), "ａｂｃ");
        assert_eq!(lower("ß"), "ß");
        assert_eq!(
            lower("ABCDEFGHIJ É KLMNOPQRSTUVW Σ"),
            "abcdefghij é klmnopqrstuvw σ"
        );
        assert_eq!(ascii_prefix_len(b"abcdefgh\xc3\xa9"), 8);
        assert_eq!(ascii_prefix_len(b"abcdefghijk\xc3"), 11);
        assert_eq!(ascii_prefix_len(b"ab"), 2);
    }
}
