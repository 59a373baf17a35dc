//! `HashingVectorizer`: features hashed with scikit-learn's signed 32-bit
//! MurmurHash3 into `n_features` columns.

use falcon_pickle::Object;

use super::analyzer::Analyzer;
use super::{Norm, SeenNames, precision};
use crate::attrs::Attrs;
use crate::custom::TextCode;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow};

pub(crate) struct HashingVectorizer {
    analyzer: Analyzer,
    n_features: u32,
    alternate_sign: bool,
    /// `non_negative=True` (scikit-learn < 0.21 only): `FeatureHasher` took
    /// the absolute value of every summed entry, before `binary`/`norm`.
    non_negative: bool,
    binary: bool,
    norm: Norm,
    precision: Precision,
}

impl HashingVectorizer {
    pub(crate) fn from_object(obj: &Object, code: &TextCode) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let n = a.i64("n_features")?;
        if !(1..=i32::MAX as i64).contains(&n) {
            return Err(EngineError::unsupported(format!(
                "HashingVectorizer.n_features={n} is outside 1..=2147483647"
            )));
        }
        Ok(HashingVectorizer {
            analyzer: Analyzer::from_attrs(&a, code)?,
            n_features: n as u32,
            alternate_sign: a.bool_or("alternate_sign", true)?,
            non_negative: a.bool_or("non_negative", false)?,
            binary: a.bool_or("binary", false)?,
            norm: Norm::from_attrs(&a)?,
            precision: precision(&a, false)?,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.n_features as usize
    }

    /// `FeatureHasher.transform` + `sum_duplicates`, then `binary` and `norm`.
    pub(crate) fn transform(
        &self,
        doc: &str,
        mut seen: Option<&mut SeenNames>,
    ) -> Result<SparseRow> {
        let mut entries: Vec<(u32, f64)> = Vec::with_capacity(64);
        crate::scratch::with_scratch(|s| {
            self.analyzer.analyze(doc, &mut s.text, &mut |feature| {
                let (col, sign) = hash_feature(feature, self.n_features, self.alternate_sign);
                if let Some(names) = seen.as_deref_mut() {
                    names.entry(col).or_insert_with(|| feature.to_string());
                }
                entries.push((col, sign));
            })
        })?;
        let mut row = SparseRow::from_entries(entries, self.precision);
        if self.non_negative {
            // `np.abs(X.data, X.data)` after `sum_duplicates`.
            row.values.iter_mut().for_each(|v| *v = v.abs());
        }
        if self.binary {
            // `X.data.fill(1)`: even a cancelled (explicit zero) entry.
            row.values.iter_mut().for_each(|v| *v = 1.0);
        }
        self.norm.apply(&mut row);
        Ok(row)
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "HashingVectorizer n_features={} alternate_sign={}{} binary={} norm={} {}",
            self.n_features,
            if self.alternate_sign { "True" } else { "False" },
            if self.non_negative {
                " non_negative=True"
            } else {
                ""
            },
            if self.binary { "True" } else { "False" },
            self.norm.name(),
            self.analyzer.summary
        )
    }
}

/// Column and sign of one feature, as `_hashing_fast.transform` computes
/// them: `murmurhash3_bytes_s32(utf8, seed=0)`, column `abs(h) % n` (with
/// scikit-learn's special case for `h == i32::MIN`), sign from `h >= 0`.
pub(crate) fn hash_feature(feature: &str, n_features: u32, alternate_sign: bool) -> (u32, f64) {
    let h = mur3::murmurhash3_x86_32(feature.as_bytes(), 0) as i32;
    let n = n_features as i64;
    let col = if h == i32::MIN {
        (2147483647 - (n - 1)) % n
    } else {
        (h as i64).abs() % n
    };
    let sign = if alternate_sign && h < 0 { -1.0 } else { 1.0 };
    (col as u32, sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_sklearn() {
        // Values from sklearn.utils.murmurhash3_32(..., seed=0).
        assert_eq!(mur3::murmurhash3_x86_32(b"hello", 0) as i32, 613153351);
        let (col, sign) = hash_feature("hello", 1 << 20, true);
        assert_eq!((col, sign), (613153351 % (1 << 20), 1.0));
        let (col, sign) = hash_feature("free money", 1000, true);
        assert_eq!((col, sign), (905306296 % 1000, -1.0));
        let (_, sign) = hash_feature("free money", 1000, false);
        assert_eq!(sign, 1.0);
    }
}
