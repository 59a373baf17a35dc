//! Safe loader for scikit-learn models saved with `joblib.dump` or
//! `pickle.dump`.
//!
//! Python's unpickler executes the file: any `module.name` it mentions is
//! imported and called, so loading an untrusted pickle is running untrusted
//! code. This crate instead interprets the pickle opcodes itself and turns
//! the result into plain data ([`Value`]): builtins and numpy arrays are
//! rebuilt natively, classes the caller allows ([`Policy`]) become inert
//! [`Object`]s holding their `__dict__`, and anything else is refused.
//!
//! Hostile input (truncated, corrupted, or crafted to exhaust memory, stack
//! or time) yields a [`PickleError`]. Memory and CPU follow the size of the
//! *file* given to [`load`], not what it decompresses or expands to: the
//! decompressed stream, and everything built from it (counted as it is
//! allocated: objects, the VM's stack and memo, arrays at their widened
//! in-memory size, the final tree with shared references expanded), each
//! get a budget of a base plus a multiple of the file size (see [`Limits`]
//! for the numbers and why).
//!
//! ```
//! use falcon_pickle::{load, Policy, Value};
//! // pickle.dumps({"a": [1, 2.5]}, protocol=2)
//! let bytes = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00es.";
//! let value = load(bytes, &Policy::new()).unwrap();
//! assert_eq!(value.get("a").unwrap().as_list().unwrap()[1], Value::Float(2.5));
//! ```

mod error;
pub mod joblib;
mod numpy;
mod policy;
mod unpickler;
pub mod value;

use std::path::Path;

pub use error::PickleError;
pub use joblib::Container;
pub use numpy::dtype_str;
pub use policy::{Limits, Policy};
pub use value::*;

/// Loads a model from the bytes of a joblib file (compressed or not) or a
/// plain pickle.
///
/// The container is recognised from its magic bytes (zlib, gzip, bz2, xz,
/// lzma, lz4, else a bare pickle stream); numpy arrays that joblib wrote
/// out of band are read in place.
pub fn load(bytes: &[u8], policy: &Policy) -> Result<Value, PickleError> {
    load_with_origin(bytes, policy).map(|l| l.value)
}

/// What [`load_with_origin`] returns: the value, and what the stream reveals
/// about the interpreter that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub value: Value,
    /// Written by Python 2: the stream holds Python 2 `str` objects (the
    /// `STRING`/`BINSTRING`/`SHORT_BINSTRING` opcodes, which Python 3 never
    /// writes). They are decoded as Latin-1, as `pickle.load(f,
    /// encoding="latin1")` does, but a model fitted under Python 2 also
    /// lowercased and tokenized its texts with Python 2's rules.
    pub python2: bool,
}

/// [`load`], also telling whether the file was written by Python 2.
pub fn load_with_origin(bytes: &[u8], policy: &Policy) -> Result<Loaded, PickleError> {
    let stream = joblib::pickle_stream(bytes, policy.limits())?;
    let (value, python2) = unpickler::unpickle(&stream, policy, bytes.len())?;
    Ok(Loaded { value, python2 })
}

/// [`load`] of the file at `path`.
pub fn load_path(path: &Path, policy: &Policy) -> Result<Value, PickleError> {
    let bytes = std::fs::read(path).map_err(|source| PickleError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load(&bytes, policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_strings_mark_the_origin() {
        // Python 2: pickle.dumps({'a': 'b'}, 2) writes its str as SHORT_BINSTRING.
        let py2 = b"\x80\x02}q\x00U\x01aq\x01U\x01bq\x02s.";
        let l = load_with_origin(py2, &Policy::new()).unwrap();
        assert!(l.python2);
        assert_eq!(l.value.get("a"), Some(&Value::Str("b".into())));
        // Python 3: the same dict with BINUNICODE.
        let py3 = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01X\x01\x00\x00\x00bq\x02s.";
        let l = load_with_origin(py3, &Policy::new()).unwrap();
        assert!(!l.python2);
        assert_eq!(load(py3, &Policy::new()).unwrap(), l.value);
    }
}
