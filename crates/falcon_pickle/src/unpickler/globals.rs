//! Resolving `module.name` globals against the built-ins and the [`Policy`].
//!
//! This is the security boundary of the crate: a name that is not matched
//! here is refused, so no pickle can reach `os.system`, `builtins.eval`,
//! `builtins.getattr` or any other callable with side effects.

use super::arena::Builtin;
use crate::error::PickleError;
use crate::policy::Policy;
use crate::value::Global;

/// numpy scalar types that may be referenced (as a `dtype=` parameter, for
/// example). They are never called.
const NUMPY_TYPES: &[&str] = &[
    "bool",
    "bool_",
    "bool8",
    "byte",
    "ubyte",
    "short",
    "ushort",
    "intc",
    "uintc",
    "int_",
    "uint",
    "intp",
    "uintp",
    "long",
    "ulong",
    "longlong",
    "ulonglong",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "half",
    "single",
    "double",
    "longdouble",
    "float_",
    "float16",
    "float32",
    "float64",
    "float96",
    "float128",
    "csingle",
    "cdouble",
    "clongdouble",
    "complex_",
    "complex64",
    "complex128",
    "complex256",
    "object_",
    "str_",
    "bytes_",
    "unicode_",
    "string_",
    "void",
    "datetime64",
    "timedelta64",
    "number",
    "integer",
    "signedinteger",
    "unsignedinteger",
    "floating",
    "complexfloating",
    "inexact",
    "generic",
];

/// Python 2 spellings that Python 3's unpickler maps (`fix_imports`).
fn py3_name<'a>(module: &'a str, name: &'a str) -> (&'a str, &'a str) {
    let module = match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        // Python 2's built-in exception classes.
        "exceptions" => "builtins",
        m => m,
    };
    let name = match (module, name) {
        ("builtins", "long") => "int",
        ("builtins", "unicode") => "str",
        (_, n) => n,
    };
    (module, name)
}

/// What `module.name` is, or [`PickleError::Refused`].
pub(crate) fn resolve(
    module: &str,
    name: &str,
    policy: &Policy,
) -> Result<(Global, Builtin), PickleError> {
    let (m, n) = py3_name(module, name);
    let kind = match (m, n) {
        ("builtins", "set") => Some(Builtin::Set),
        ("builtins", "frozenset") => Some(Builtin::FrozenSet),
        ("builtins", "slice") => Some(Builtin::Slice),
        ("builtins", "complex") => Some(Builtin::Complex),
        ("builtins", "bytearray") => Some(Builtin::Bytearray),
        ("builtins", "bytes") => Some(Builtin::Bytes),
        ("builtins", "list") => Some(Builtin::List),
        ("builtins", "dict") => Some(Builtin::Dict),
        ("builtins", "tuple") => Some(Builtin::Tuple),
        ("builtins", "object") => Some(Builtin::Object),
        ("builtins", "int" | "float" | "str" | "bool") => Some(Builtin::TypeRef),
        // Warning classes named (never raised) by an old `DeprecationDict`.
        ("builtins", "FutureWarning" | "DeprecationWarning") => Some(Builtin::TypeRef),
        ("collections", "OrderedDict") => Some(Builtin::OrderedDict),
        // scikit-learn's `Bunch` (`named_estimators_` of ensembles): a
        // plain dict subclass, built with `NEWOBJ` then `SETITEM`s.
        ("sklearn.utils._bunch" | "sklearn.utils", "Bunch") => Some(Builtin::OrderedDict),
        // `cv_results_` of a search fitted by scikit-learn < 0.21: a dict
        // subclass whose only instance state is warnings for renamed keys.
        ("sklearn.utils.deprecation", "DeprecationDict") => Some(Builtin::OrderedDict),
        ("collections", "defaultdict") => Some(Builtin::DefaultDict),
        ("copyreg", "_reconstructor") => Some(Builtin::Reconstructor),
        ("_codecs", "encode") => Some(Builtin::CodecsEncode),
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
            Some(Builtin::NpReconstruct)
        }
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Some(Builtin::NpScalar),
        ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => {
            Some(Builtin::NpFromBuffer)
        }
        ("numpy", "dtype") => Some(Builtin::NpDtype),
        ("numpy", "ndarray") => Some(Builtin::NpNdarray),
        ("numpy", t) if NUMPY_TYPES.contains(&t) => Some(Builtin::NpType),
        ("numpy.dtypes", t) if t.ends_with("DType") => Some(Builtin::NpType),
        ("joblib.numpy_pickle" | "sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper") => {
            Some(Builtin::JoblibWrapper)
        }
        (
            "joblib.numpy_pickle" | "sklearn.externals.joblib.numpy_pickle",
            "NDArrayWrapper" | "ZNDArrayWrapper",
        ) => {
            return Err(PickleError::LegacyJoblib {
                module: m.to_owned(),
                name: n.to_owned(),
            });
        }
        _ => None,
    };
    let kind = match kind {
        Some(kind) => kind,
        None if policy.is_allowed(module, name) => Builtin::Allowed,
        None if policy.is_allowed(m, n) => Builtin::Allowed,
        None => return Err(PickleError::refused(module, name)),
    };
    Ok((
        Global {
            module: m.to_owned(),
            name: n.to_owned(),
        },
        kind,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dangerous_names() {
        let p = Policy::new();
        for (m, n) in [
            ("os", "system"),
            ("builtins", "eval"),
            ("builtins", "exec"),
            ("builtins", "getattr"),
            ("__builtin__", "__import__"),
            ("subprocess", "Popen"),
            ("numpy", "load"),
            ("numpy.core.multiarray", "fromfile"),
            ("copyreg", "_reconstructor2"),
        ] {
            let err = resolve(m, n, &p).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("refusing to load {m}.{n}: not on the allowlist")
            );
        }
    }

    #[test]
    fn legacy_joblib_side_files_are_refused_by_name() {
        let err = resolve(
            "sklearn.externals.joblib.numpy_pickle",
            "NDArrayWrapper",
            &Policy::new(),
        )
        .unwrap_err();
        assert!(matches!(err, PickleError::LegacyJoblib { .. }));
        assert!(err.to_string().contains("joblib < 0.10"), "{err}");
        assert!(resolve("joblib.numpy_pickle", "ZNDArrayWrapper", &Policy::new()).is_err());
    }

    #[test]
    fn py2_names_and_policy() {
        let p = Policy::new();
        let (g, k) = resolve("__builtin__", "long", &p).unwrap();
        assert_eq!(g.to_string(), "builtins.int");
        assert_eq!(k, Builtin::TypeRef);
        let (g, k) = resolve("copy_reg", "_reconstructor", &p).unwrap();
        assert_eq!(g.to_string(), "copyreg._reconstructor");
        assert_eq!(k, Builtin::Reconstructor);
        let mut p = Policy::new();
        p.allow("sklearn.pipeline", "Pipeline");
        assert_eq!(
            resolve("sklearn.pipeline", "Pipeline", &p).unwrap().1,
            Builtin::Allowed
        );
        assert!(resolve("sklearn.pipeline", "FeatureUnion", &p).is_err());
    }
}
