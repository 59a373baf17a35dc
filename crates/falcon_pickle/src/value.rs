//! The plain-data tree an unpickled file becomes.
//!
//! Nothing in this tree can run code: a class the allowlist accepts becomes an
//! [`Object`] holding its name and state, numpy arrays become typed buffers,
//! and everything else is an ordinary Python builtin value.

/// A Python value rebuilt from a pickle, restricted to plain data.
///
/// Large variants are boxed so a `Value` is 32 bytes: a fitted vectorizer's
/// `vocabulary_` is a dict of hundreds of thousands of entries, and the
/// tree's peak size is what loading a model costs in resident memory.
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
    Array(Box<Array>),
    /// A numpy `dtype` object (e.g. an estimator's `dtype` attribute).
    Dtype(Dtype),
    /// A reference to an allowlisted global that was not called, such as the
    /// type object `numpy.float64` stored as a `dtype=` parameter.
    Global(Box<Global>),
    /// An instance of an allowlisted class: what `NEWOBJ`/`REDUCE` created,
    /// with the state `BUILD` gave it.
    Object(Box<Object>),
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
    /// The fields of a structured (record) dtype, kind `V`, such as the
    /// node array of a pickled `sklearn.tree._tree.Tree`; `None` for every
    /// other dtype. Boxed so a plain dtype stays small.
    pub record: Option<Box<Record>>,
}

/// The layout of a structured dtype: named fields at byte offsets inside
/// an element of `Dtype::itemsize` bytes. Only plain numeric and bool
/// fields that do not overlap are accepted (see `numpy::record_layout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// In numpy's `names` order.
    pub fields: Vec<Field>,
}

/// One field of a structured dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// A plain (non-structured) numeric or bool dtype.
    pub dtype: Dtype,
    /// Byte offset of the field inside an element.
    pub offset: usize,
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
    /// A structured array, decoded field by field: one column per field
    /// (in the dtype's `names` order), each with one element per record.
    Record(Vec<(String, ArrayData)>),
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

// ----- convenience accessors ---------------------------------------------
//
// The engine reads estimators attribute by attribute; these accessors keep
// that code to `obj.attr("coef_")?.as_array()` instead of nested matches.
// They are strict about types (an `Int` is not a `Bool`), except where
// Python itself converts implicitly (`as_f64` accepts ints).

impl Value {
    /// The Python type name, for error messages (`"dict"`,
    /// `"numpy.ndarray"`, or the class of an [`Object`]).
    pub fn type_name(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) | Value::BigInt(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Complex(..) => "complex".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::List(_) => "list".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::Dict(_) => "dict".into(),
            Value::Set(_) => "set".into(),
            Value::FrozenSet(_) => "frozenset".into(),
            Value::Slice(..) => "slice".into(),
            Value::Array(_) => "numpy.ndarray".into(),
            Value::Dtype(_) => "numpy.dtype".into(),
            Value::Global(g) => format!("global {g}"),
            Value::Object(o) => o.class.to_string(),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// `Some` for [`Value::Bool`] only.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// `Some` for [`Value::Int`] only (numpy integer scalars are `Int` too).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A number as `f64`: [`Value::Float`], or [`Value::Int`] converted.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Items of a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// Items of a [`Value::Tuple`].
    pub fn as_tuple(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// Items of a list *or* tuple (scikit-learn stores both for the same
    /// parameter depending on how the user passed it).
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// Items of a set or frozenset.
    pub fn as_set(&self) -> Option<&[Value]> {
        match self {
            Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    /// Key/value pairs of a [`Value::Dict`], in insertion order. Keys are
    /// unique for str/int/bool/bytes keys (later duplicates in the pickle
    /// replace the value, as in Python).
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The value under the string key `key` of a [`Value::Dict`], or the
    /// attribute `key` of a [`Value::Object`] (see [`Object::attr`]).
    ///
    /// A linear scan: for big dicts (a vocabulary) build a `HashMap` once.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => dict_get(d, key),
            Value::Object(o) => o.attr(key),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_dtype(&self) -> Option<&Dtype> {
        match self {
            Value::Dtype(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_global(&self) -> Option<&Global> {
        match self {
            Value::Global(g) => Some(g),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether this is an instance of the class `module.name`.
    pub fn is_instance(&self, module: &str, name: &str) -> bool {
        self.as_object().is_some_and(|o| o.class.is(module, name))
    }
}

fn dict_get<'a>(pairs: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    pairs.iter().find_map(|(k, v)| match k {
        Value::Str(s) if s == key => Some(v),
        _ => None,
    })
}

impl Global {
    pub fn new(module: &str, name: &str) -> Self {
        Global {
            module: module.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether this is `module.name`.
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.module == module && self.name == name
    }
}

impl Object {
    /// The `__dict__` that `BUILD` gave the object, if it is a dict (a
    /// `(dict, slotstate)` state has already been merged into one dict).
    pub fn state_dict(&self) -> Option<&[(Value, Value)]> {
        self.state.as_deref().and_then(Value::as_dict)
    }

    /// The attribute `name` from the object's state dict, e.g.
    /// `obj.attr("coef_")`.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        dict_get(self.state_dict()?, name)
    }

    /// Whether the object's class is `module.name`.
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.class.is(module, name)
    }
}

impl Dtype {
    pub fn new(kind: char, itemsize: usize, little_endian: bool) -> Self {
        Dtype {
            kind,
            itemsize,
            little_endian,
            record: None,
        }
    }
}

impl std::fmt::Display for Dtype {
    /// numpy's `dtype.str` spelling: `<f8`, `|b1`, `>U3` (characters for `U`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::numpy::dtype_str(self))
    }
}

impl ArrayData {
    /// Number of elements stored.
    pub fn len(&self) -> usize {
        match self {
            ArrayData::F64(v) => v.len(),
            ArrayData::F32(v) => v.len(),
            ArrayData::I64(v) => v.len(),
            ArrayData::U64(v) => v.len(),
            ArrayData::Bool(v) => v.len(),
            ArrayData::Str(v) => v.len(),
            ArrayData::Bytes(v) => v.len(),
            ArrayData::Object(v) => v.len(),
            ArrayData::Record(cols) => cols.first().map_or(0, |(_, c)| c.len()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// For each position of a C-order (row-major) traversal of `shape`, the
/// index of that element in Fortran-order (column-major) storage.
fn fortran_to_c_indices(shape: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
        // Increment the multi-index, last axis fastest.
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn permute<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&i| v[i].clone()).collect()
}

/// `data` with its elements taken in `order` (a structured array's
/// columns each in the same order).
fn permute_data(data: &ArrayData, order: &[usize]) -> ArrayData {
    match data {
        ArrayData::F64(v) => ArrayData::F64(permute(v, order)),
        ArrayData::F32(v) => ArrayData::F32(permute(v, order)),
        ArrayData::I64(v) => ArrayData::I64(permute(v, order)),
        ArrayData::U64(v) => ArrayData::U64(permute(v, order)),
        ArrayData::Bool(v) => ArrayData::Bool(permute(v, order)),
        ArrayData::Str(v) => ArrayData::Str(permute(v, order)),
        ArrayData::Bytes(v) => ArrayData::Bytes(permute(v, order)),
        ArrayData::Object(v) => ArrayData::Object(permute(v, order)),
        ArrayData::Record(cols) => ArrayData::Record(
            cols.iter()
                .map(|(name, col)| (name.clone(), permute_data(col, order)))
                .collect(),
        ),
    }
}

impl Array {
    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The array with its data in C (row-major) order: a copy, reordered if
    /// the file stored it column-major.
    pub fn to_c_order(&self) -> Array {
        let mut out = self.clone();
        if self.fortran_order && self.ndim() > 1 && self.data.len() == self.len() {
            let order = fortran_to_c_indices(&self.shape);
            out.data = permute_data(&self.data, &order);
        }
        out.fortran_order = false;
        out
    }

    /// The elements of a numeric or bool array as `f64`, in C order
    /// (`None` for string, bytes and object arrays).
    pub fn to_f64_vec(&self) -> Option<Vec<f64>> {
        let flat: Vec<f64> = match &self.data {
            ArrayData::F64(v) => v.clone(),
            ArrayData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            ArrayData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            ArrayData::U64(v) => v.iter().map(|&x| x as f64).collect(),
            ArrayData::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
            _ => return None,
        };
        if self.fortran_order && self.ndim() > 1 && flat.len() == self.len() {
            Some(permute(&flat, &fortran_to_c_indices(&self.shape)))
        } else {
            Some(flat)
        }
    }

    /// The elements of an integer array as `i64`, in C order (`None` for
    /// other kinds, or if an unsigned value exceeds `i64::MAX`).
    pub fn to_i64_vec(&self) -> Option<Vec<i64>> {
        let flat: Vec<i64> = match &self.data {
            ArrayData::I64(v) => v.clone(),
            ArrayData::U64(v) => v
                .iter()
                .map(|&x| i64::try_from(x).ok())
                .collect::<Option<_>>()?,
            ArrayData::Bool(v) => v.iter().map(|&x| i64::from(x)).collect(),
            _ => return None,
        };
        if self.fortran_order && self.ndim() > 1 && flat.len() == self.len() {
            Some(permute(&flat, &fortran_to_c_indices(&self.shape)))
        } else {
            Some(flat)
        }
    }

    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            ArrayData::F64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            ArrayData::F32(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            ArrayData::I64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<&[u64]> {
        match &self.data {
            ArrayData::U64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_bools(&self) -> Option<&[bool]> {
        match &self.data {
            ArrayData::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Elements of a numpy `U` array.
    pub fn as_strs(&self) -> Option<&[String]> {
        match &self.data {
            ArrayData::Str(v) => Some(v),
            _ => None,
        }
    }

    /// The column of field `name` of a structured array (`None` if the
    /// array is not structured or has no such field).
    pub fn field(&self, name: &str) -> Option<&ArrayData> {
        match &self.data {
            ArrayData::Record(cols) => cols.iter().find(|(n, _)| n == name).map(|(_, c)| c),
            _ => None,
        }
    }

    /// Elements of a `dtype=object` array.
    pub fn as_objects(&self) -> Option<&[Value]> {
        match &self.data {
            ArrayData::Object(v) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_reorder() {
        // [[1, 2, 3], [4, 5, 6]] stored column-major.
        let a = Array {
            dtype: Dtype::new('i', 8, true),
            shape: vec![2, 3],
            fortran_order: true,
            data: ArrayData::I64(vec![1, 4, 2, 5, 3, 6]),
        };
        assert_eq!(a.to_i64_vec().unwrap(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(a.to_f64_vec().unwrap(), vec![1., 2., 3., 4., 5., 6.]);
        let c = a.to_c_order();
        assert!(!c.fortran_order);
        assert_eq!(c.data, ArrayData::I64(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(fortran_to_c_indices(&[2, 3, 2]).len(), 12);
        assert_eq!(fortran_to_c_indices(&[0, 3]), Vec::<usize>::new());
    }

    #[test]
    fn accessors() {
        let obj = Value::Object(Box::new(Object {
            class: Global::new("m", "C"),
            args: vec![],
            state: Some(Box::new(Value::Dict(vec![(
                Value::Str("a".into()),
                Value::Int(3),
            )]))),
        }));
        assert_eq!(obj.get("a").and_then(Value::as_i64), Some(3));
        assert_eq!(obj.get("a").and_then(Value::as_f64), Some(3.0));
        assert!(obj.get("b").is_none());
        assert!(obj.is_instance("m", "C"));
        assert_eq!(obj.type_name(), "m.C");
        assert_eq!(Value::Int(1).as_bool(), None);
        assert_eq!(Dtype::new('f', 8, false).to_string(), ">f8");
    }
}
