//! The one error type of this crate.
//!
//! Every message names the problem and, where it has one, the byte offset in
//! the (decompressed) pickle stream, so a refused model file can be diagnosed
//! with `python -m pickletools` at that offset.

/// Why a file could not be turned into a [`crate::Value`].
///
/// Offsets are positions in the pickle stream *after* decompression of a
/// joblib container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// A `GLOBAL`/`STACK_GLOBAL`/`INST` named something that is neither built
    /// in nor allowed by the [`crate::Policy`]. This is the line of defence
    /// against pickles that run code (`os.system`, `builtins.eval`, ...).
    #[error("refusing to load {module}.{name}: not on the allowlist")]
    Refused { module: String, name: String },

    /// joblib < 0.10 (scikit-learn < 0.18) kept each array in a side file
    /// next to the pickle (`model.pkl_01.npy`, zlib-compressed for
    /// `ZNDArrayWrapper`). Those are not read: the file names come from the
    /// pickle, and a model that predates scikit-learn 0.20 is outside the
    /// supported range anyway.
    #[error(
        "this file was written by joblib < 0.10 (scikit-learn < 0.18, {module}.{name}): its arrays \
         live in side files (model.pkl_01.npy, ...), which Falcon does not read. Load it with \
         joblib and save it again with joblib.dump(model, path) to get one self-contained file"
    )]
    LegacyJoblib { module: String, name: String },

    /// The stream ended inside an opcode or before `STOP`.
    #[error("truncated pickle at byte {offset}: {what}")]
    Truncated { offset: usize, what: &'static str },

    /// An opcode byte that no pickle protocol defines.
    #[error("unsupported opcode 0x{opcode:02x} at byte {offset}")]
    UnsupportedOpcode { opcode: u8, offset: usize },

    /// A defined opcode whose feature is deliberately not supported
    /// (persistent ids, out-of-band buffers, the extension registry).
    #[error("unsupported feature at byte {offset}: {what}")]
    Unsupported { offset: usize, what: String },

    /// The opcodes are well-formed bytes but do not make sense together
    /// (stack underflow, wrong argument types, unknown memo key, ...).
    #[error("malformed pickle at byte {offset}: {msg}")]
    Malformed { offset: usize, msg: String },

    /// Some size in the file is over a safety limit, or larger than the data
    /// that actually follows it.
    #[error("{0}")]
    Limit(String),

    /// An object (directly or through the memo) contains itself; the plain
    /// [`crate::Value`] tree cannot represent that.
    #[error("self-referencing structure: an object contains itself")]
    Cycle,

    /// numpy array/dtype/scalar data that cannot be decoded.
    #[error("invalid numpy data at byte {offset}: {msg}")]
    Numpy { offset: usize, msg: String },

    /// The joblib container's compressed stream is corrupt or too large.
    #[error("{format} decompression failed: {msg}")]
    Decompress { format: &'static str, msg: String },

    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl PickleError {
    pub(crate) fn malformed(offset: usize, msg: impl Into<String>) -> Self {
        PickleError::Malformed {
            offset,
            msg: msg.into(),
        }
    }

    pub(crate) fn numpy(offset: usize, msg: impl Into<String>) -> Self {
        PickleError::Numpy {
            offset,
            msg: msg.into(),
        }
    }

    pub(crate) fn refused(module: &str, name: &str) -> Self {
        PickleError::Refused {
            module: module.to_owned(),
            name: name.to_owned(),
        }
    }
}
