//! Which classes a pickle may instantiate, and the resource limits of a load.
//!
//! Unpickling normally imports and calls whatever `module.name` the file
//! says, which is arbitrary code execution. Here nothing is ever called: a
//! global is either one of the few builtins this crate reconstructs itself
//! (sets, numpy arrays, ...), or a class the caller allowed, which becomes an
//! inert [`crate::Object`], or the load fails with
//! [`crate::PickleError::Refused`].

use std::collections::{HashMap, HashSet};

/// Allowlist of classes that may appear in a pickle as plain
/// [`crate::Object`]s, plus the [`Limits`] of the load.
///
/// ```
/// let mut policy = falcon_pickle::Policy::new();
/// policy
///     .allow("sklearn.pipeline", "Pipeline")
///     .allow("sklearn.linear_model._logistic", "LogisticRegression");
/// assert!(policy.is_allowed("sklearn.pipeline", "Pipeline"));
/// assert!(!policy.is_allowed("os", "system"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// module -> names allowed in it.
    names: HashMap<String, HashSet<String>>,
    /// Modules all of whose names are allowed (exact module match only).
    modules: HashSet<String>,
    limits: Limits,
}

impl Policy {
    /// An empty allowlist: only the built-in plain-data globals load.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the class `module.name` to be instantiated as an
    /// [`crate::Object`] (and referenced as a [`crate::Global`]).
    pub fn allow(&mut self, module: &str, name: &str) -> &mut Self {
        self.names
            .entry(module.to_owned())
            .or_default()
            .insert(name.to_owned());
        self
    }

    /// Allows every name defined directly in `module` (not in its
    /// submodules). Coarser than [`Policy::allow`]; prefer listing classes.
    pub fn allow_all_in(&mut self, module: &str) -> &mut Self {
        self.modules.insert(module.to_owned());
        self
    }

    /// Whether `module.name` was allowed by [`Policy::allow`] or
    /// [`Policy::allow_all_in`]. Built-in globals are not reported here.
    pub fn is_allowed(&self, module: &str, name: &str) -> bool {
        self.modules.contains(module)
            || self
                .names
                .get(module)
                .is_some_and(|names| names.contains(name))
    }

    /// Replaces the resource limits.
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The resource limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// Upper bounds that keep a hostile file from exhausting memory, stack or
/// time.
///
/// # The budget rule
///
/// Memory must follow the size of the *file* (the input of
/// [`crate::load`]), not what it claims to decompress to: a 20 KB file must
/// not be able to demand a gigabyte. The whole product promises a peak RSS
/// of at most 128 MiB + 50 × the file size for loading a model and serving
/// it, and the engine copies the fitted arrays roughly once more after
/// unpickling, so the unpickler gets:
///
/// * the decompressed pickle stream: at most
///   [`decompressed_base`](Self::decompressed_base) (48 MiB) +
///   [`decompressed_per_file_byte`](Self::decompressed_per_file_byte) (16) ×
///   the file size;
/// * everything the unpickler builds from it — the VM's arena of objects,
///   its stack and memo, decoded arrays at their *in-memory* size (an `int8`
///   array is widened to `i64`, 8 bytes per element; a zero-size `S0`
///   element still costs a `Vec`), and the final [`crate::Value`] tree with
///   shared references expanded: at most [`value_base`](Self::value_base)
///   (48 MiB) + [`value_per_file_byte`](Self::value_per_file_byte) (20) ×
///   the file size. Real models need less: the 4 MB demo model (a big
///   vocabulary, whose every entry is two small objects) is estimated at
///   15.5 × its file, the test fixtures at 6–12 × (without the base).
///
/// Both are counted *as things are allocated*, so a hostile file is refused
/// once its estimate crosses the budget, not after. For a small file the
/// worst case is about 48 + 48 = 96 MiB, which leaves room for the process
/// itself under 128 MiB; for a big one, 36 × the file while unpickling, then
/// at most 40 × once the stream is freed and the engine has copied what it
/// keeps of the value (less in practice: it keeps the big arrays, not the
/// tree).
/// The 48 MiB bases keep legitimately very compressible models loadable: a
/// `HashingVectorizer(n_features=2**20)` + `LogisticRegression` whose
/// mostly-zero float64 `coef_` is 8 MiB compresses to a few hundred KB.
///
/// Decompression time is bounded too: 48 MiB of zeros compress to 2 KB
/// with bz2 and 7 KB with xz, and decoding them takes 0.3 s. So the stream
/// may also be at most [`max_ratio_fast`](Self::max_ratio_fast) (400) times
/// the file for zlib/gzip/lz4 and [`max_ratio_slow`](Self::max_ratio_slow)
/// (80) times for bz2/xz/lzma: the 8 MiB mostly-zero `coef_` above still
/// loads from a zlib file of 21 KB or more.
///
/// The absolute caps below ([`max_decompressed_bytes`](Self::max_decompressed_bytes),
/// [`max_value_bytes`](Self::max_value_bytes)) apply on top, whatever the
/// file size. CPU is bounded alongside: every opcode is at least one byte
/// of the stream, work on shared objects is charged to a copy budget of
/// four times the stream, and decimal integers are limited to 4300 digits
/// (as CPython does) and converted in linear time per digit block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Absolute cap on the bytes a compressed joblib container may inflate
    /// to; the effective cap is also [`Limits::decompressed_limit`] of the
    /// file size.
    pub max_decompressed_bytes: u64,
    /// Decompressed bytes allowed whatever the file size.
    pub decompressed_base: u64,
    /// Decompressed bytes allowed per byte of the file.
    pub decompressed_per_file_byte: u64,
    /// Highest compression ratio accepted from the fast decoders (zlib,
    /// gzip, lz4: 400–600 MB/s of output here). Whatever the base allows,
    /// a file may not inflate to more than this many times its size, so
    /// that decompressing it (plus running the result) stays under about
    /// 2 s per MB of file. Real models compress 2–100×.
    pub max_ratio_fast: u64,
    /// The same for the slow decoders (bz2, xz, lzma: 130–150 MB/s of
    /// output on the most compressible data).
    pub max_ratio_slow: u64,
    /// Absolute cap on the (estimated) bytes the unpickler may allocate:
    /// its working memory plus the final [`crate::Value`] tree. The
    /// effective cap is also [`Limits::value_limit`] of the file size; it is
    /// what stops memo-reference "billion laughs" expansion.
    pub max_value_bytes: u64,
    /// Value bytes allowed whatever the file size.
    pub value_base: u64,
    /// Value bytes allowed per byte of the file.
    pub value_per_file_byte: u64,
    /// Deepest nesting of containers in the result. Deeper data is refused
    /// rather than risking a stack overflow in code that walks the tree
    /// recursively (including `Drop`).
    pub max_depth: usize,
    /// Most elements one numpy array may have.
    pub max_array_elements: u64,
}

impl Limits {
    /// Most bytes the pickle stream of a `file_len`-byte file may inflate
    /// to, before the codec's ratio cap ([`Limits::max_ratio_fast`],
    /// [`Limits::max_ratio_slow`]).
    pub fn decompressed_limit(&self, file_len: usize) -> u64 {
        self.decompressed_base
            .saturating_add(
                self.decompressed_per_file_byte
                    .saturating_mul(file_len as u64),
            )
            .min(self.max_decompressed_bytes)
    }

    /// Most (estimated) bytes unpickling a `file_len`-byte file may allocate.
    pub fn value_limit(&self, file_len: usize) -> u64 {
        self.value_base
            .saturating_add(self.value_per_file_byte.saturating_mul(file_len as u64))
            .min(self.max_value_bytes)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 2 << 30,
            decompressed_base: 48 << 20,
            decompressed_per_file_byte: 16,
            max_ratio_fast: 400,
            max_ratio_slow: 80,
            max_value_bytes: 8 << 30,
            value_base: 48 << 20,
            value_per_file_byte: 20,
            max_depth: 256,
            max_array_elements: 1 << 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_file_size() {
        let l = Limits::default();
        assert_eq!(l.decompressed_limit(0), 48 << 20);
        assert_eq!(l.decompressed_limit(1 << 20), (48 << 20) + (16 << 20));
        assert_eq!(l.value_limit(1 << 20), (48 << 20) + (20 << 20));
        assert_eq!(l.value_limit(usize::MAX), 8 << 30);
        assert_eq!(l.decompressed_limit(usize::MAX), 2 << 30);
    }
}
