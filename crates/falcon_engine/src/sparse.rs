//! One document's feature vector, as a row of scipy's CSR matrix.

use std::sync::Arc;

/// The floating-point type a stage computes in, from the estimator's `dtype`.
///
/// scikit-learn computes a `dtype=np.float32` vectorizer's values in float32
/// and only widens them when they meet float64 coefficients. Values are kept
/// as `f64` here, but a `F32` stage rounds after every operation exactly
/// where numpy would, so the widened values are bit-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    F64,
    F32,
}

impl Precision {
    /// Rounds `x` to this precision.
    #[inline]
    pub(crate) fn round(self, x: f64) -> f64 {
        match self {
            Precision::F64 => x,
            Precision::F32 => x as f32 as f64,
        }
    }
}

/// A sparse row: strictly increasing column indices with their values, as
/// scipy leaves a row after `sort_indices()`/`sum_duplicates()`. Explicit
/// zeros are kept where scipy keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseRow {
    pub(crate) indices: Vec<u32>,
    pub(crate) values: Vec<f64>,
    pub(crate) precision: Option<Precision>,
}

impl SparseRow {
    /// Builds a row from unsorted `(column, value)` entries, summing
    /// duplicates in the order scipy's `sum_duplicates` does (stable sort by
    /// column, then left to right).
    pub(crate) fn from_entries(mut entries: Vec<(u32, f64)>, precision: Precision) -> Self {
        entries.sort_by_key(|&(c, _)| c);
        let mut row = SparseRow {
            indices: Vec::with_capacity(entries.len()),
            values: Vec::with_capacity(entries.len()),
            precision: Some(precision),
        };
        for (c, v) in entries {
            if row.indices.last() == Some(&c) {
                let last = row.values.last_mut().expect("values parallel to indices");
                *last = precision.round(*last + v);
            } else {
                row.indices.push(c);
                row.values.push(v);
            }
        }
        row
    }

    /// Builds a count row from the sorted (repeated) columns of a
    /// document's in-vocabulary features: each distinct column once, with
    /// the number of times it occurs (1 with `binary`). Integer counts are
    /// exact whatever the order they are summed in, so this equals scipy's
    /// `sum_duplicates` result.
    pub(crate) fn from_sorted_columns(cols: &[u32], binary: bool, precision: Precision) -> Self {
        let mut indices = Vec::with_capacity(cols.len());
        let mut values: Vec<f64> = Vec::with_capacity(cols.len());
        for run in cols.chunk_by(|a, b| a == b) {
            indices.push(run[0]);
            // A count is exact in a double, however it is summed.
            values.push(if binary { 1.0 } else { run.len() as f64 });
        }
        SparseRow {
            indices,
            values,
            precision: Some(precision),
        }
    }

    pub(crate) fn precision(&self) -> Precision {
        self.precision.unwrap_or(Precision::F64)
    }

    /// `sklearn.preprocessing.normalize(X, norm="l2")` on one CSR row
    /// (`_inplace_csr_row_normalize_l2`): the sum of squares accumulates in
    /// a C `double`, each square is computed in the data's type.
    pub(crate) fn normalize_l2(&mut self) {
        let p = self.precision();
        let mut sum = 0.0f64;
        for &v in &self.values {
            sum += p.round(v * v);
        }
        self.divide_l2(sum);
    }

    /// The division step of [`SparseRow::normalize_l2`], given the sum of
    /// squares it computes.
    pub(crate) fn divide_l2(&mut self, sum: f64) {
        let p = self.precision();
        if sum == 0.0 {
            return;
        }
        let norm = sum.sqrt();
        for v in &mut self.values {
            *v = p.round(*v / norm);
        }
    }

    /// `_inplace_csr_row_normalize_l1`.
    pub(crate) fn normalize_l1(&mut self) {
        let p = self.precision();
        let mut sum = 0.0f64;
        for &v in &self.values {
            sum += v.abs();
        }
        if sum == 0.0 {
            return;
        }
        for v in &mut self.values {
            *v = p.round(*v / sum);
        }
    }
}

/// A per-feature vector stored inside a (possibly shared) table: entry
/// `f` is `data[f * stride + offset]`. A plain vector has stride 1.
#[derive(Clone)]
pub(crate) struct Strided {
    data: Arc<[f64]>,
    stride: usize,
    offset: usize,
}

impl Strided {
    pub(crate) fn new(data: Arc<[f64]>, stride: usize, offset: usize) -> Self {
        Strided {
            data,
            stride,
            offset,
        }
    }

    pub(crate) fn from_vec(v: Vec<f64>) -> Self {
        Strided::new(v.into(), 1, 0)
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.data.len() / self.stride
    }

    #[inline]
    pub(crate) fn get(&self, f: usize) -> f64 {
        self.data[f * self.stride + self.offset]
    }

    /// Whether the table is this vector alone (not shared with weights).
    pub(crate) fn is_plain(&self) -> bool {
        self.stride == 1
    }
}

/// Largest radix digit: 11 bits, a 2048-entry histogram per pass.
const MAX_DIGIT_BITS: u32 = 11;
/// Histogram size of the largest digit.
pub(crate) const RADIX_BUCKETS: usize = 1 << MAX_DIGIT_BITS;
/// Passes needed for 32-bit column numbers.
pub(crate) const RADIX_PASSES: usize = 3;
/// Radix-sort histograms, one per pass.
pub(crate) type RadixHist = [[u32; RADIX_BUCKETS]; RADIX_PASSES];

/// Sorts column numbers, all `< n_features`, ascending.
///
/// A document yields hundreds to thousands of columns; a comparison sort
/// spends ~10 comparisons per column on them, while an LSD radix sort over
/// the few bits a column number has (18 for a 240k-term vocabulary: two
/// passes of 9-bit digits) touches each column twice per pass. Short lists
/// keep the comparison sort, which wins below a few dozen elements.
///
/// `tmp` and `hist` are scratch space (the sorted result may end up in
/// either vector's buffer; `cols` always holds it on return).
pub(crate) fn sort_columns(
    cols: &mut Vec<u32>,
    tmp: &mut Vec<u32>,
    hist: &mut RadixHist,
    n_features: usize,
) {
    /// Below this many columns a comparison sort is cheaper.
    const SMALL: usize = 64;
    let bits = usize::BITS - n_features.saturating_sub(1).leading_zeros();
    if cols.len() <= SMALL || bits == 0 || bits > 32 || cols.len() > u32::MAX as usize {
        cols.sort_unstable();
        return;
    }
    let passes = bits.div_ceil(MAX_DIGIT_BITS) as usize;
    let digit = bits.div_ceil(passes as u32);
    let buckets = 1usize << digit;
    if cols.len() < buckets / 8 {
        // Too few columns to pay for clearing and scanning the histograms.
        cols.sort_unstable();
        return;
    }
    // `& (RADIX_BUCKETS - 1)` lets the compiler drop the histogram bounds checks.
    let mask = (buckets - 1) & (RADIX_BUCKETS - 1);
    for h in hist.iter_mut().take(passes) {
        h[..buckets].fill(0);
    }
    // All histograms in one read of the columns.
    if let [h0, h1, ..] = &mut hist[..]
        && passes == 2
    {
        // The usual case (vocabularies of 2k–4M terms), unrolled.
        for &c in cols.iter() {
            h0[c as usize & mask] += 1;
            h1[(c >> digit) as usize & mask] += 1;
        }
    } else {
        for &c in cols.iter() {
            for (p, h) in hist.iter_mut().enumerate().take(passes) {
                h[(c >> (p as u32 * digit)) as usize & mask] += 1;
            }
        }
    }
    // Every element is overwritten by each pass: only grow, never clear.
    tmp.resize(cols.len(), 0);
    for (p, h) in hist.iter_mut().enumerate().take(passes) {
        let shift = p as u32 * digit;
        let mut sum = 0u32;
        for n in h[..buckets].iter_mut() {
            let here = *n;
            *n = sum;
            sum += here;
        }
        for &c in cols.iter() {
            let slot = &mut h[(c >> shift) as usize & mask];
            tmp[*slot as usize] = c;
            *slot += 1;
        }
        std::mem::swap(cols, tmp);
    }
}

/// numpy's pairwise summation (`pairwise_sum` in `loops_utils.h`), used by
/// `ndarray.sum` along a contiguous axis. Matching it keeps sums of many
/// terms bit-identical to scikit-learn's, not merely close.
pub(crate) fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        // numpy starts from -0.0 so that an all-(-0.0) sum stays -0.0.
        let mut res = -0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= BLOCK {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_duplicates_in_column_order() {
        let row = SparseRow::from_entries(vec![(3, 1.0), (1, 2.0), (3, -1.0)], Precision::F64);
        assert_eq!(row.indices, [1, 3]);
        // scipy keeps the explicit zero that a cancelled hash leaves.
        assert_eq!(row.values, [2.0, 0.0]);
    }

    #[test]
    fn columns_counted_and_sorted() {
        let row = SparseRow::from_sorted_columns(&[1, 3, 5, 5], false, Precision::F64);
        assert_eq!(row.indices, [1, 3, 5]);
        assert_eq!(row.values, [1.0, 1.0, 2.0]);
        let row = SparseRow::from_sorted_columns(&[1, 5, 5], true, Precision::F64);
        assert_eq!(row.values, [1.0, 1.0]);
    }

    #[test]
    fn radix_sort_agrees_with_sort() {
        for (n, len) in [
            (240_690usize, 1500usize),
            (1 << 20, 5000),
            (300, 200),
            (7, 100),
        ] {
            let mut x = 12345u64;
            let cols: Vec<u32> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 33) % n as u64) as u32
                })
                .collect();
            let mut want = cols.clone();
            want.sort_unstable();
            let (mut got, mut tmp) = (cols, Vec::new());
            let mut hist = Box::new([[0; RADIX_BUCKETS]; RADIX_PASSES]);
            sort_columns(&mut got, &mut tmp, &mut hist, n);
            assert_eq!(got, want, "n={n} len={len}");
        }
    }

    #[test]
    fn l2_and_l1() {
        let mut row = SparseRow::from_entries(vec![(0, 3.0), (1, 4.0)], Precision::F64);
        row.normalize_l2();
        assert_eq!(row.values, [0.6, 0.8]);
        let mut row = SparseRow::from_entries(vec![(0, 1.0), (1, -3.0)], Precision::F64);
        row.normalize_l1();
        assert_eq!(row.values, [0.25, -0.75]);
        let mut empty = SparseRow::default();
        empty.normalize_l2();
        assert!(empty.values.is_empty());
    }

    #[test]
    fn pairwise_sum_matches_plain_sum_on_exact_values() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(numpy_sum(&v), 499500.0);
        assert_eq!(numpy_sum(&[]), -0.0);
        assert_eq!(numpy_sum(&v[..13]), 78.0);
    }
}
