//! The plain-data tree an unpickled file becomes.
//!
//! Nothing in this tree can run code: a class the allowlist accepts becomes an
//! [`Object`] holding its name and state, numpy arrays become typed buffers,
//! and everything else is an ordinary Python builtin value.

/// A Python value rebuilt from a pickle, restricted to plain data.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit `i64` (pickle `LONG1`/`LONG4`), kept as
    /// little-endian two's-complement bytes so no precision is invented.
    BigInt(Vec<u8>),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion-ordered, as Python dicts are.
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
    /// `slice(start, stop, step)`.
    Slice(Box<Value>, Box<Value>, Box<Value>),
    /// A numpy `ndarray` (joblib-wrapped or pickled by numpy itself).
    Array(Array),
    /// A numpy `dtype` object (e.g. an estimator's `dtype` attribute).
    Dtype(Dtype),
    /// A reference to an allowlisted global that was not called, such as the
    /// type object `numpy.float64` stored as a `dtype=` parameter.
    Global(Global),
    /// An instance of an allowlisted class: what `NEWOBJ`/`REDUCE` created,
    /// with the state `BUILD` gave it.
    Object(Object),
}

/// `module.name` of a Python global.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Global {
    pub module: String,
    pub name: String,
}

impl std::fmt::Display for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

/// An instance of an allowlisted class.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub class: Global,
    /// Arguments given to the constructor (`REDUCE`/`NEWOBJ`), usually empty.
    pub args: Vec<Value>,
    /// What `BUILD` set: for scikit-learn estimators the `__dict__` (a
    /// [`Value::Dict`]); `None` when the pickle never built the object.
    pub state: Option<Box<Value>>,
}

/// numpy's description of an element type, e.g. `<f8`, `<U4`, `|b1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dtype {
    /// numpy's kind character: `f` float, `i` signed, `u` unsigned, `b`
    /// bool, `U` unicode, `S` bytes, `O` object, `c` complex.
    pub kind: char,
    /// Bytes per element (for `U`, 4 × the number of characters).
    pub itemsize: usize,
    /// Byte order of the stored data (`true` for `<` and `|`).
    pub little_endian: bool,
}

/// A numpy array with its elements decoded to native values.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The element type as stored in the file.
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Whether the elements are stored column-major; `data` keeps the file's
    /// order, so a reader of a 2-D array must honour this flag.
    pub fortran_order: bool,
    pub data: ArrayData,
}

/// Array elements, widened to one type per numpy kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    F64(Vec<f64>),
    /// Kept apart from `F64` so a float32 model is computed in float32.
    F32(Vec<f32>),
    /// Every signed integer width, widened.
    I64(Vec<i64>),
    /// Every unsigned integer width, widened.
    U64(Vec<u64>),
    Bool(Vec<bool>),
    /// numpy `U` (UTF-32) arrays, trailing NULs removed as numpy does.
    Str(Vec<String>),
    /// numpy `S` arrays, trailing NULs removed.
    Bytes(Vec<Vec<u8>>),
    /// `dtype=object` arrays: each element is an ordinary pickled value.
    Object(Vec<Value>),
}

impl Array {
    /// Number of elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
