//! scikit-learn's accent strippers.

use crate::unicode;

/// Appends NFKD of `s` to `out`, keeping the output characters for which `keep(c, ccc)` holds.
///
/// ASCII characters are starters that decompose to themselves (and every caller keeps them),
/// and canonical reordering never moves a character across a starter, so ASCII stretches are
/// copied directly and only the non-ASCII stretches between them are decomposed.
fn nfkd_filtered(s: &str, out: &mut String, keep: impl Fn(char, u8) -> bool) {
    out.reserve(s.len());
    let bytes = s.as_bytes();
    let mut buf = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let a = i;
        while i < bytes.len() && bytes[i] < 0x80 {
            i += 1;
        }
        out.push_str(&s[a..i]);
        let b = i;
        while i < bytes.len() && bytes[i] >= 0x80 {
            i += 1;
        }
        if i > b {
            unicode::nfkd(&s[b..i], &mut buf);
            out.extend(
                buf.iter()
                    .filter(|&&(c, ccc)| keep(c, ccc))
                    .map(|&(c, _)| c),
            );
        }
    }
}

/// scikit-learn's `strip_accents_unicode(s)` (1.7.2), appended to `out`.
///
/// ```python
/// try:
///     s.encode("ASCII", errors="strict"); return s
/// except UnicodeEncodeError:
///     normalized = unicodedata.normalize("NFKD", s)
///     return "".join([c for c in normalized if not unicodedata.combining(c)])
/// ```
///
/// Note that since scikit-learn 1.0 the combining characters are dropped even when the NFKD
/// form equals the input (so `"x\u0301"` becomes `"x"`); older releases returned the input
/// unchanged in that case. NFKD and combining classes come from CPython 3.11's Unicode 14.0
/// data (generated tables), not from a crate following a newer Unicode version.
pub fn strip_accents_unicode(s: &str, out: &mut String) {
    nfkd_filtered(s, out, |_, ccc| ccc == 0);
}

/// `strip_accents_unicode(s)` of scikit-learn < 0.22, appended to `out`.
///
/// Those releases returned `s` unchanged when it was already in NFKD form,
/// combining marks included (`"e\u{301}"` kept its accent; fixed in 0.22 by
/// scikit-learn#15100). A model fitted by them learnt that behaviour, so it
/// is reproduced for them.
pub fn strip_accents_unicode_legacy(s: &str, out: &mut String) {
    let mut normalized = String::with_capacity(s.len());
    nfkd(s, &mut normalized);
    if normalized == s {
        out.push_str(s);
    } else {
        nfkd_filtered(s, out, |_, ccc| ccc == 0);
    }
}

/// `unicodedata.normalize("NFKD", s)` of CPython 3.11 (Unicode 14.0.0), appended to `out`.
pub fn nfkd(s: &str, out: &mut String) {
    nfkd_filtered(s, out, |_, _| true);
}

/// scikit-learn's `strip_accents_ascii(s)`: `unicodedata.normalize("NFKD", s)` then
/// `.encode("ASCII", "ignore")`, appended to `out`.
///
/// Every non-ASCII character of the NFKD form is dropped (so non-Latin scripts vanish).
pub fn strip_accents_ascii(s: &str, out: &mut String) {
    nfkd_filtered(s, out, |c, _| c.is_ascii());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip() {
        let mut o = String::new();
        strip_accents_unicode("Café ﬁ x\u{301}", &mut o);
        assert_eq!(o, "Cafe fi x");
        o.clear();
        strip_accents_ascii("Café ½ Ωmega", &mut o);
        assert_eq!(o, "Cafe 12 mega");
    }

    #[test]
    fn legacy_keeps_already_decomposed_text() {
        let mut o = String::new();
        // Already NFKD: scikit-learn < 0.22 returned it as is.
        strip_accents_unicode_legacy("e\u{301}te\u{301}", &mut o);
        assert_eq!(o, "e\u{301}te\u{301}");
        // Not NFKD (precomposed é): stripped like today.
        o.clear();
        strip_accents_unicode_legacy("\u{e9}te\u{301}", &mut o);
        assert_eq!(o, "ete");
        o.clear();
        strip_accents_unicode_legacy("plain", &mut o);
        assert_eq!(o, "plain");
    }
}
