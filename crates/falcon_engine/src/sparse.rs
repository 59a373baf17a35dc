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

    /// Builds a count row from a document's distinct columns with their
    /// counts, ascending by column (see [`ColumnCounter`]); `binary` sets
    /// every count to 1. Integer counts are exact whatever the order they
    /// are summed in, so this equals scipy's `sum_duplicates` result.
    pub(crate) fn from_counts(counts: &[u64], binary: bool, precision: Precision) -> Self {
        let indices = counts.iter().map(|&e| entry_column(e)).collect();
        let values = counts
            .iter()
            // A count is exact in a double.
            .map(|&e| if binary { 1.0 } else { entry_count(e) as f64 })
            .collect();
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

/// A free slot of [`ColumnCounter`]'s table. No entry equals it (an
/// entry's count is at least 1), and being zero it lets a new table come
/// from `calloc`, already cleared.
const EMPTY: u64 = 0;

/// The column of a [`ColumnCounter`] entry.
#[inline]
pub(crate) fn entry_column(e: u64) -> u32 {
    (e >> 32) as u32
}

/// The count of a [`ColumnCounter`] entry.
#[inline]
pub(crate) fn entry_count(e: u64) -> u32 {
    e as u32
}

/// Turns the (repeated, unordered) columns of a document's features into
/// its distinct columns with their counts, ascending by column.
///
/// Two ways (see [`ColumnCounter::count`]): an e-mail's occurrences are
/// radix-sorted whole and their runs counted — more instructions than
/// counting in a hash table, but no branch the predictor can get wrong,
/// which made it 11 % faster per e-mail; a long text's occurrences are
/// counted in a small open-addressing table (sized to the document, so its
/// memory follows the distinct columns, not the text) and only the distinct
/// entries sorted. Counts are integers, exact in any order, and the result
/// is in ascending column order like scipy's row — so every later
/// floating-point sum runs in the same order as before.
///
/// Entries are `column << 32 | count` (`u64`), so sorting them by value
/// sorts by column (the columns are distinct) and carries the count along.
/// A count cannot reach 2^32: that would take a text of over 8 GB.
pub(crate) struct ColumnCounter {
    /// The table; only its first `2^k` slots serve a document. Every slot
    /// is [`EMPTY`] between documents (`count` frees the slots it took).
    slots: Vec<u64>,
    /// Slots taken by the current document, in first-occurrence order
    /// (the first `distinct`; longer than `size / 2`, never shrunk but
    /// trimmed).
    used: Vec<u32>,
    /// The distinct entries, sorted on return from `count`.
    entries: Vec<u64>,
    /// Radix-sort destination.
    tmp: Vec<u64>,
    /// Radix-sort destination when sorting bare columns.
    tmp_cols: Vec<u32>,
    /// Radix-sort histograms (24 KiB, boxed to keep them off the stack).
    hist: Box<RadixHist>,
    /// Set while a document is being counted: a panic in between would
    /// leave slots taken, so the next call then clears the whole table.
    dirty: bool,
    /// Slots of the current document's table (a power of two).
    size: usize,
    /// Distinct columns counted so far.
    distinct: usize,
}

impl Default for ColumnCounter {
    fn default() -> Self {
        ColumnCounter {
            slots: Vec::new(),
            used: Vec::new(),
            entries: Vec::new(),
            tmp: Vec::new(),
            tmp_cols: Vec::new(),
            hist: Box::new([[0; RADIX_BUCKETS]; RADIX_PASSES]),
            dirty: false,
            size: 0,
            distinct: 0,
        }
    }
}

impl ColumnCounter {
    /// The distinct values of `cols` (all `< n_features`) with
    /// their numbers of occurrences, ascending by column, as entries
    /// (see [`entry_column`], [`entry_count`]).
    ///
    /// An e-mail's few thousand occurrences are radix-sorted whole and
    /// their runs counted ([`ColumnCounter::count_sorted`]): a sort pass
    /// is a handful of branch-free instructions per occurrence, where a
    /// hash-table insert is a probe loop (measured: -6% of the featurising
    /// time on the demo model). Longer texts go through the table, whose
    /// memory is bounded by the distinct columns rather than by the text.
    ///
    /// `cols` is left in an unspecified order.
    pub(crate) fn count(&mut self, cols: &mut Vec<u32>, n_features: usize) -> &[u64] {
        if cols.len() <= SORT_COUNT_MAX {
            return self.count_sorted(cols, n_features);
        }
        self.count_into(cols);
        self.finish(n_features)
    }

    /// [`ColumnCounter::count`] by sorting every occurrence (as bare
    /// columns: half the bytes of entries to move), then turning each run
    /// of one column into one entry.
    fn count_sorted(&mut self, cols: &mut Vec<u32>, n_features: usize) -> &[u64] {
        radix_sort(cols, &mut self.tmp_cols, &mut self.hist, n_features);
        let ents = &mut self.entries;
        ents.clear();
        let Some(&first) = cols.first() else {
            return ents;
        };
        ents.resize(cols.len(), 0);
        // Branch-free: whether an occurrence starts a new column is a coin
        // toss for the branch predictor (about half of them repeat one).
        // The run's entry lives in a register and is stored every step (to
        // the same slot while the run lasts), so nothing is read back.
        let mut run = (first as u64) << 32 | 1;
        let mut last = 0;
        for &c in &cols[1..] {
            ents[last] = run;
            let new = c != entry_column(run);
            last += new as usize;
            run = std::hint::select_unpredictable(new, (c as u64) << 32 | 1, run + 1);
        }
        ents[last] = run;
        ents.truncate(last + 1);
        ents
    }

    /// Begins a document and counts `cols` (more may be added before
    /// [`ColumnCounter::finish`]).
    pub(crate) fn count_into(&mut self, cols: &[u32]) {
        self.begin(cols.len());
        for &c in cols {
            self.add(c);
        }
    }

    /// Starts counting a document expected to yield about `hint` columns.
    pub(crate) fn begin(&mut self, hint: usize) {
        // Sized for the occurrences (typically half of them distinct), and
        // doubled whenever it gets more than half full, so probe sequences
        // stay short; a huge text, whose columns repeat much more, does
        // not pay for a table several times its number of columns.
        let size = (hint + hint / 2).next_power_of_two().max(16);
        if self.slots.len() < size {
            // `EMPTY` is zero: `calloc`.
            self.slots = vec![EMPTY; size];
        } else if self.dirty {
            self.slots.fill(EMPTY);
        }
        self.dirty = true;
        self.size = size;
        self.distinct = 0;
        if self.used.len() <= size / 2 {
            self.used.resize(size / 2 + 1, 0);
        }
    }

    /// Counts one occurrence of column `c`.
    #[inline]
    pub(crate) fn add(&mut self, c: u32) {
        // Masks from the slices' lengths, so indexing needs no bounds check.
        let slots = &mut self.slots[..self.size];
        let mask = slots.len() - 1;
        let shift = 64 - slots.len().trailing_zeros();
        // Fibonacci hashing: the top bits of the product spread nearby
        // column numbers over the table.
        let mut h = ((c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
        loop {
            let e = slots[h & mask];
            if e == EMPTY {
                slots[h & mask] = ((c as u64) << 32) | 1;
                // `used` has more than `size / 2` slots, and `distinct`
                // stays at most `size / 2` (see `grow`).
                if let Some(u) = self.used.get_mut(self.distinct) {
                    *u = (h & mask) as u32;
                }
                self.distinct += 1;
                if self.distinct > self.size / 2 {
                    self.grow();
                }
                return;
            }
            if entry_column(e) == c {
                slots[h & mask] = e + 1;
                return;
            }
            h += 1;
        }
    }

    /// The counted columns, ascending, as entries; ends the document.
    pub(crate) fn finish(&mut self, n_features: usize) -> &[u64] {
        self.entries.clear();
        let slots = &mut self.slots;
        self.entries
            .extend(self.used[..self.distinct].iter().map(|&h| {
                let e = slots[h as usize];
                slots[h as usize] = EMPTY;
                e
            }));
        self.dirty = false;
        radix_sort(&mut self.entries, &mut self.tmp, &mut self.hist, n_features);
        &self.entries
    }

    /// Moves the entries to a table of twice the size (rare: only texts
    /// whose columns mostly differ get there).
    #[cold]
    fn grow(&mut self) {
        self.entries.clear();
        for &h in &self.used[..self.distinct] {
            self.entries.push(self.slots[h as usize]);
            self.slots[h as usize] = EMPTY;
        }
        let size = self.size * 2;
        if self.slots.len() < size {
            self.slots.resize(size, EMPTY);
        }
        if self.used.len() <= size / 2 {
            self.used.resize(size / 2 + 1, 0);
        }
        let shift = 64 - size.trailing_zeros();
        for (k, &e) in self.entries.iter().enumerate() {
            let c = entry_column(e) as u64;
            let mut h = (c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
            while self.slots[h & (size - 1)] != EMPTY {
                h += 1;
            }
            self.slots[h & (size - 1)] = e;
            self.used[k] = (h & (size - 1)) as u32;
        }
        self.size = size;
    }

    /// Drops buffers holding more than `bytes`, the table more than four
    /// times that: a table too small for the next text is allocated and
    /// cleared again, which for the long e-mails that need a large one
    /// cost as much as counting (four times 64 KiB covers texts of ~12k
    /// tokens, every e-mail of the held-out set).
    pub(crate) fn trim(&mut self, bytes: usize) {
        if self.slots.capacity() * 8 > 4 * bytes {
            self.slots = Vec::new();
        }
        if self.used.capacity() * 4 > bytes {
            self.used = Vec::new();
        }
        for v in [&mut self.entries, &mut self.tmp] {
            if v.capacity() * 8 > bytes {
                *v = Vec::new();
            }
        }
        if self.tmp_cols.capacity() * 4 > bytes {
            self.tmp_cols = Vec::new();
        }
    }
}

/// Most occurrences [`ColumnCounter::count`] sorts rather than counts in
/// its table: 8,192 (a 40 KB e-mail) keeps the sort's two 64 KiB buffers
/// within the scratch space a thread retains.
const SORT_COUNT_MAX: usize = 8 << 10;

/// Largest radix digit: 11 bits, a 2048-entry histogram per pass.
const MAX_DIGIT_BITS: u32 = 11;
/// Histogram size of the largest digit.
pub(crate) const RADIX_BUCKETS: usize = 1 << MAX_DIGIT_BITS;
/// Passes needed for 32-bit column numbers.
pub(crate) const RADIX_PASSES: usize = 3;
/// Radix-sort histograms, one per pass.
pub(crate) type RadixHist = [[u32; RADIX_BUCKETS]; RADIX_PASSES];

/// What [`radix_sort`] sorts: a column number, bare or carrying a count.
pub(crate) trait RadixKey: Copy + Ord + Default {
    fn column(self) -> u32;
}

impl RadixKey for u32 {
    #[inline]
    fn column(self) -> u32 {
        self
    }
}

/// [`ColumnCounter`] entries: `column << 32 | count`.
impl RadixKey for u64 {
    #[inline]
    fn column(self) -> u32 {
        entry_column(self)
    }
}

/// Sorts columns or [`ColumnCounter`] entries, all of columns
/// `< n_features`, ascending by column (stable, so entries of equal columns
/// keep their order; bare equal columns are indistinguishable anyway).
///
/// A document has hundreds of distinct columns; a comparison sort spends
/// ~10 comparisons per entry on them, while an LSD radix sort over the few
/// bits a column number has (18 for a 240k-term vocabulary: two passes of
/// 9-bit digits) touches each entry twice per pass. Short lists keep the
/// comparison sort, which wins below a few dozen elements.
///
/// `tmp` and `hist` are scratch space (the sorted result may end up in
/// either vector's buffer; `ents` always holds it on return).
pub(crate) fn radix_sort<K: RadixKey>(
    ents: &mut Vec<K>,
    tmp: &mut Vec<K>,
    hist: &mut RadixHist,
    n_features: usize,
) {
    /// Below this many entries a comparison sort is cheaper.
    const SMALL: usize = 64;
    let bits = usize::BITS - n_features.saturating_sub(1).leading_zeros();
    if ents.len() <= SMALL || bits == 0 || bits > 32 || ents.len() > u32::MAX as usize {
        ents.sort_unstable();
        return;
    }
    let passes = bits.div_ceil(MAX_DIGIT_BITS) as usize;
    let digit = bits.div_ceil(passes as u32);
    let buckets = 1usize << digit;
    if ents.len() < buckets / 8 {
        // Too few entries to pay for clearing and scanning the histograms.
        ents.sort_unstable();
        return;
    }
    // `& (RADIX_BUCKETS - 1)` lets the compiler drop the histogram bounds checks.
    let mask = (buckets - 1) & (RADIX_BUCKETS - 1);
    for h in hist.iter_mut().take(passes) {
        h[..buckets].fill(0);
    }
    // All histograms in one read of the entries.
    if let [h0, h1, ..] = &mut hist[..]
        && passes == 2
    {
        // The usual case (vocabularies of 2k–4M terms), unrolled.
        for &e in ents.iter() {
            let c = e.column();
            h0[c as usize & mask] += 1;
            h1[(c >> digit) as usize & mask] += 1;
        }
    } else {
        for &e in ents.iter() {
            let c = e.column();
            for (p, h) in hist.iter_mut().enumerate().take(passes) {
                h[(c >> (p as u32 * digit)) as usize & mask] += 1;
            }
        }
    }
    // Every element is overwritten by each pass: only grow, never clear.
    tmp.resize(ents.len(), K::default());
    for (p, h) in hist.iter_mut().enumerate().take(passes) {
        let shift = p as u32 * digit;
        let mut sum = 0u32;
        for n in h[..buckets].iter_mut() {
            let here = *n;
            *n = sum;
            sum += here;
        }
        for &e in ents.iter() {
            let slot = &mut h[(e.column() >> shift) as usize & mask];
            tmp[*slot as usize] = e;
            *slot += 1;
        }
        std::mem::swap(ents, tmp);
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
        let mut c = ColumnCounter::default();
        let row = SparseRow::from_counts(c.count(&mut vec![5, 1, 3, 5], 10), false, Precision::F64);
        assert_eq!(row.indices, [1, 3, 5]);
        assert_eq!(row.values, [1.0, 1.0, 2.0]);
        let row = SparseRow::from_counts(c.count(&mut vec![5, 1, 5], 10), true, Precision::F64);
        assert_eq!(row.values, [1.0, 1.0]);
        assert!(c.count(&mut vec![], 10).is_empty());
    }

    #[test]
    fn counter_agrees_with_sort_and_count() {
        let mut counter = ColumnCounter::default();
        let mut x = 12345u64;
        for (n, len) in [
            (240_690usize, 1500usize),
            (240_690, SORT_COUNT_MAX),
            (240_690, SORT_COUNT_MAX + 1),
            (240_690, 30),
            (1 << 20, 5000),
            (300, 200),
            (7, 100),
            (u32::MAX as usize, 3000),
        ] {
            for _ in 0..3 {
                let cols: Vec<u32> = (0..len)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        // Skewed, so that columns repeat.
                        let r = (x >> 33) % n as u64;
                        (if x & 1 == 0 { r % 50 } else { r }) as u32
                    })
                    .collect();
                let mut want = cols.clone();
                want.sort_unstable();
                let want: Vec<(u32, u32)> = want
                    .chunk_by(|a, b| a == b)
                    .map(|r| (r[0], r.len() as u32))
                    .collect();
                let got: Vec<(u32, u32)> = counter
                    .count(&mut cols.clone(), n)
                    .iter()
                    .map(|&e| (entry_column(e), entry_count(e)))
                    .collect();
                assert_eq!(got, want, "n={n} len={len}");
                assert!(counter.slots.iter().all(|&s| s == EMPTY));
                // The table path, whatever the length.
                counter.count_into(&cols);
                let got: Vec<(u32, u32)> = counter
                    .finish(n)
                    .iter()
                    .map(|&e| (entry_column(e), entry_count(e)))
                    .collect();
                assert_eq!(got, want, "table: n={n} len={len}");
                assert!(counter.slots.iter().all(|&s| s == EMPTY));
            }
        }
        // All distinct: the table grows (twice) while counting.
        let cols: Vec<u32> = (0..3000u32).map(|i| i.wrapping_mul(7919) % 3001).collect();
        counter.count_into(&cols);
        let got = counter.finish(3001);
        assert_eq!(got.len(), 3000);
        assert!(got.windows(2).all(|w| w[0] < w[1]) && got.iter().all(|&e| entry_count(e) == 1));
        assert!(counter.slots.iter().all(|&s| s == EMPTY));
        // A table left dirty (as by a panic) is cleared before reuse.
        counter.slots[3] = (7 << 32) | 9;
        counter.dirty = true;
        counter.count_into(&[7]);
        assert_eq!(counter.finish(10), [(7 << 32) | 1]);
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
