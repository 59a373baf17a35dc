//! Which scikit-learn release wrote a pickled estimator, and what that
//! changes.
//!
//! `BaseEstimator.__getstate__` stores `_sklearn_version` in every
//! estimator's state. Most releases compute the same thing from the same
//! fitted attributes, and the readers accept every attribute layout (the
//! `_idf_diag` of old `TfidfTransformer`s, `multi_class="warn"`, ...). Where
//! an old release *computed* something differently, the engine follows the
//! release that fitted the model, since that is what the model was trained
//! and validated with. The list of such differences is here, one function
//! per difference, so a reader finds them in one place.

use crate::attrs::Attrs;

/// A scikit-learn version `(major, minor, micro)`, as in `_sklearn_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Release(pub u32, pub u32, pub u32);

impl Release {
    /// Parses `"0.24.2"`, `"1.0"`, `"0.22.2.post1"`, `"1.6.dev0"`.
    pub(crate) fn parse(s: &str) -> Option<Release> {
        let mut it = s.split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = it.next()??;
        let minor = it.next()??;
        let micro = it.next().flatten().unwrap_or(0);
        Some(Release(major, minor, micro))
    }

    /// The release recorded in an estimator's state, if any.
    pub(crate) fn of(a: &Attrs<'_>) -> Option<Release> {
        a.opt("_sklearn_version")
            .and_then(|v| v.as_str())
            .and_then(Release::parse)
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Why a Python 2 pickle is refused (see `falcon_pickle::Loaded::python2`).
pub(crate) const PYTHON2_REFUSAL: &str = "this model was pickled by Python 2 (scikit-learn 0.20 on \
Python 2.7). Python 2 lowercased and tokenized text with its own rules (simple case mapping, no \
final sigma, Unicode 5.2 `\\w`), which Falcon does not reproduce. Load it once in Python 3 \
(`joblib.load(path)`, or `pickle.load(f, encoding=\"latin1\")`) and save it again: Falcon then \
predicts what Python 3 predicts with it";

/// The text rules the engine applies, for `inspect`.
pub(crate) const TEXT_RULES: &str = "text rules of CPython 3.11 (Unicode 14.0.0)";

/// `"trained with scikit-learn X; text rules of ..."` for a model's pickled
/// parts (one file, or several: their releases deduplicated, in order).
pub(crate) fn provenance_of(roots: &[falcon_pickle::Value]) -> String {
    let mut releases: Vec<&str> = Vec::new();
    for r in roots {
        if let Some(v) = release_string(r)
            && !releases.contains(&v)
        {
            releases.push(v);
        }
    }
    match releases.as_slice() {
        [] => format!("scikit-learn release not recorded in the file; {TEXT_RULES}"),
        [one] => format!("trained with scikit-learn {one}; {TEXT_RULES}"),
        many => format!(
            "parts trained with scikit-learn {}; {TEXT_RULES}",
            many.join(", ")
        ),
    }
}

/// `_sklearn_version` of a pickled estimator, or of the first estimator of
/// a tuple/list.
fn release_string(v: &falcon_pickle::Value) -> Option<&str> {
    match v {
        falcon_pickle::Value::Tuple(items) | falcon_pickle::Value::List(items) => {
            items.iter().find_map(release_string)
        }
        _ => v.get("_sklearn_version").and_then(|s| s.as_str()),
    }
}

/// `strip_accents_unicode` before 0.22 returned text already in NFKD form
/// unchanged, combining marks included (scikit-learn#15100).
pub(crate) fn legacy_strip_accents_unicode(r: Option<Release>) -> bool {
    r.is_some_and(|r| r < Release(0, 22, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(Release::parse("0.24.2"), Some(Release(0, 24, 2)));
        assert_eq!(Release::parse("0.22.2.post1"), Some(Release(0, 22, 2)));
        assert_eq!(Release::parse("1.0"), Some(Release(1, 0, 0)));
        assert_eq!(Release::parse("1.6.dev0"), Some(Release(1, 6, 0)));
        assert_eq!(Release::parse("1.10.0rc1"), Some(Release(1, 10, 0)));
        assert_eq!(Release::parse("x"), None);
        assert!(Release(0, 21, 3) < Release(0, 22, 0));
        assert!(legacy_strip_accents_unicode(Some(Release(0, 21, 3))));
        assert!(!legacy_strip_accents_unicode(Some(Release(0, 22, 0))));
        assert!(!legacy_strip_accents_unicode(None));
    }
}
