//! Typed, error-reporting access to a pickled estimator's attributes.
//!
//! A scikit-learn estimator pickles as its `__dict__`. Every read here names
//! the estimator and attribute in its error, so a model that is almost right
//! (an attribute of the wrong type, a missing fitted array) is refused with a
//! message a data scientist can act on.

use std::borrow::Cow;

use falcon_pickle::{Array, ArrayData, Object, Value};

use crate::error::{EngineError, Result};

/// The attributes of one pickled estimator.
pub(crate) struct Attrs<'a> {
    /// Short class name, for error messages (`TfidfVectorizer`).
    pub(crate) class: &'a str,
    dict: &'a [(Value, Value)],
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(obj: &'a Object) -> Result<Self> {
        let class = obj.class.name.as_str();
        match obj.state.as_deref() {
            Some(Value::Dict(dict)) => Ok(Attrs { class, dict }),
            Some(Value::Tuple(items)) if matches!(items.first(), Some(Value::Dict(_))) => {
                match &items[0] {
                    Value::Dict(dict) => Ok(Attrs { class, dict }),
                    _ => unreachable!("matched above"),
                }
            }
            _ => Err(EngineError::unsupported(format!(
                "{class} has no pickled state (was it fitted?)"
            ))),
        }
    }

    pub(crate) fn opt(&self, name: &str) -> Option<&'a Value> {
        self.dict.iter().find_map(|(k, v)| match k {
            Value::Str(s) if s == name => Some(v),
            _ => None,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Result<&'a Value> {
        self.opt(name).ok_or_else(|| {
            EngineError::unsupported(format!(
                "{}.{name} is missing (is the estimator fitted?)",
                self.class
            ))
        })
    }

    pub(crate) fn err(&self, name: &str, expected: &str, found: &Value) -> EngineError {
        self.err_found(name, expected, &describe(found))
    }

    pub(crate) fn err_found(&self, name: &str, expected: &str, found: &str) -> EngineError {
        EngineError::unsupported(format!(
            "{}.{name}: expected {expected}, found {found}",
            self.class
        ))
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(i @ (0 | 1)) => Ok(*i == 1),
            v => Err(self.err(name, "a bool", v)),
        }
    }

    pub(crate) fn bool_or(&self, name: &str, default: bool) -> Result<bool> {
        if self.opt(name).is_none() {
            return Ok(default);
        }
        self.bool(name)
    }

    pub(crate) fn str(&self, name: &str) -> Result<&'a str> {
        match self.get(name)? {
            Value::Str(s) => Ok(s),
            v => Err(self.err(name, "a string", v)),
        }
    }

    /// A string parameter that may be `None`.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>> {
        match self.opt(name) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(name, "a string or None", v)),
        }
    }

    pub(crate) fn i64(&self, name: &str) -> Result<i64> {
        match self.get(name)? {
            Value::Int(i) => Ok(*i),
            v => Err(self.err(name, "an integer", v)),
        }
    }

    /// `ngram_range`-style pair of positive integers.
    pub(crate) fn int_pair(&self, name: &str) -> Result<(usize, usize)> {
        let v = self.get(name)?;
        let items = match v {
            Value::Tuple(items) | Value::List(items) if items.len() == 2 => items,
            _ => return Err(self.err(name, "a pair of integers", v)),
        };
        match (&items[0], &items[1]) {
            (Value::Int(a), Value::Int(b)) if *a >= 1 && a <= b && *b <= 64 => {
                Ok((*a as usize, *b as usize))
            }
            _ => Err(self.err(
                name,
                "a pair (min_n, max_n) with 1 <= min_n <= max_n <= 64",
                v,
            )),
        }
    }

    pub(crate) fn array(&self, name: &str) -> Result<&'a Array> {
        match self.get(name)? {
            Value::Array(a) => Ok(a),
            v => Err(self.err(name, "a numpy array", v)),
        }
    }

    /// A float array as f64 values in C (row-major) order, with its shape.
    ///
    /// A C-ordered float64 array is borrowed from the unpickled tree, not
    /// copied: the weights of a large model are then held twice at most
    /// while loading (the tree's copy and the engine's table), not three
    /// times. Values are returned as stored, finite or not; see
    /// [`Attrs::matrix`] and [`Attrs::vector`] for the checked readers.
    pub(crate) fn f64_array(&self, name: &str) -> Result<(Cow<'a, [f64]>, &'a [usize])> {
        let a = self.array(name)?;
        let expected = a.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
        if expected != Some(a.data.len()) {
            return Err(self.err_found(
                name,
                "an array whose data matches its shape",
                &format!("{} and {} elements", describe_array(a), a.data.len()),
            ));
        }
        let data: Cow<'a, [f64]> = match &a.data {
            ArrayData::F64(v) => Cow::Borrowed(v),
            ArrayData::F32(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            ArrayData::I64(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            ArrayData::U64(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            _ => {
                return Err(self.err_found(name, "a numeric array", &describe_array(a)));
            }
        };
        Ok((c_order(data, &a.shape, a.fortran_order), &a.shape))
    }

    /// The `(rows, cols)` of [`Attrs::matrix`], read from the shape alone
    /// so a size can be refused before any element is converted.
    pub(crate) fn matrix_shape(&self, name: &str) -> Result<(usize, usize)> {
        let a = self.array(name)?;
        match *a.shape.as_slice() {
            [rows, cols] => Ok((rows, cols)),
            [cols] => Ok((1, cols)),
            _ => Err(EngineError::unsupported(format!(
                "{}.{name}: expected a 2-D array, found shape {:?}",
                self.class, a.shape
            ))),
        }
    }

    /// A 2-D float array `(rows, cols)` in row-major order. A 1-D array is
    /// read as a single row, as scikit-learn does for binary `coef_`.
    /// Values are as stored: the caller checks them with
    /// [`Attrs::check_finite`] once it knows the shape is acceptable (and
    /// what infinities mean for its estimator).
    pub(crate) fn matrix(&self, name: &str) -> Result<(Cow<'a, [f64]>, usize, usize)> {
        let (data, shape) = self.f64_array(name)?;
        match *shape {
            [rows, cols] => Ok((data, rows, cols)),
            [cols] => Ok((data, 1, cols)),
            _ => Err(EngineError::unsupported(format!(
                "{}.{name}: expected a 2-D array, found shape {shape:?}",
                self.class
            ))),
        }
    }

    /// A 1-D float array, every value finite.
    pub(crate) fn vector(&self, name: &str) -> Result<Cow<'a, [f64]>> {
        let v = self.vector_unchecked(name)?;
        self.check_finite(name, &v, 0)?;
        Ok(v)
    }

    /// [`Attrs::vector`] without the finiteness check.
    pub(crate) fn vector_unchecked(&self, name: &str) -> Result<Cow<'a, [f64]>> {
        let (data, shape) = self.f64_array(name)?;
        if shape.len() > 1 && shape.iter().filter(|&&d| d != 1).count() > 1 {
            return Err(EngineError::unsupported(format!(
                "{}.{name}: expected a 1-D array, found shape {shape:?}",
                self.class
            )));
        }
        Ok(data)
    }

    /// Refuses a parameter holding NaN or an infinity, naming where: such a
    /// model answers NaN (or `null` in JSON) for some texts, which is never
    /// what a served model should say. `cols` is the row length, to report
    /// a 2-D position; 0 for a 1-D array.
    pub(crate) fn check_finite(&self, name: &str, data: &[f64], cols: usize) -> Result<()> {
        match data.iter().position(|x| !x.is_finite()) {
            None => Ok(()),
            Some(i) => Err(self.non_finite(name, data[i], i, cols, "")),
        }
    }

    /// The error for the non-finite value `x` at flat index `i` of `name`
    /// (`cols` values per row; `why` is appended).
    pub(crate) fn non_finite(
        &self,
        name: &str,
        x: f64,
        i: usize,
        cols: usize,
        why: &str,
    ) -> EngineError {
        let at = match i.checked_div(cols) {
            None => format!("[{i}]"),
            Some(row) => format!("[{row}, {}]", i % cols),
        };
        let what = if x.is_nan() {
            "NaN".to_string()
        } else {
            format!("{x}")
        };
        EngineError::unsupported(format!(
            "{}.{name} contains {what} at {at}{why}",
            self.class
        ))
    }

    pub(crate) fn object(&self, name: &str) -> Result<&'a Object> {
        match self.get(name)? {
            Value::Object(o) => Ok(o),
            v => Err(self.err(name, "an estimator", v)),
        }
    }
}

/// Reorders a Fortran-ordered array's elements into C order.
fn c_order<'a>(data: Cow<'a, [f64]>, shape: &[usize], fortran: bool) -> Cow<'a, [f64]> {
    if !fortran || shape.len() != 2 {
        // Only 1-D and 2-D arrays occur in the supported estimators; higher
        // ranks are rejected by their readers before the order matters.
        return data;
    }
    let (rows, cols) = (shape[0], shape[1]);
    let mut out = Vec::with_capacity(data.len());
    // `f64_array` checked that rows * cols is the data's length.
    for r in 0..rows {
        for c in 0..cols {
            out.push(data[c * rows + r]);
        }
    }
    Cow::Owned(out)
}

/// A short description of a value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::None => "None".into(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Int(i) => format!("int {i}"),
        Value::BigInt(_) => "a big int".into(),
        Value::Float(f) => format!("float {f}"),
        Value::Complex(..) => "a complex".into(),
        Value::Str(s) if s.chars().count() <= 40 => format!("str {s:?}"),
        Value::Str(_) => "a long str".into(),
        Value::Bytes(_) => "bytes".into(),
        Value::List(l) => format!("a list of {}", l.len()),
        Value::Tuple(l) => format!("a tuple of {}", l.len()),
        Value::Dict(d) => format!("a dict of {}", d.len()),
        Value::Set(_) | Value::FrozenSet(_) => "a set".into(),
        Value::Slice(..) => "a slice".into(),
        Value::Array(a) => describe_array(a),
        Value::Dtype(d) => format!("dtype {}{}", d.kind, d.itemsize),
        Value::Global(g) => format!("{g}"),
        Value::Object(o) => format!("a {} object", o.class),
    }
}

fn describe_array(a: &Array) -> String {
    format!("an array of dtype {} and shape {:?}", a.dtype, a.shape)
}

/// The class labels of `estimator`'s `classes_` array (read from `attrs`,
/// which is the estimator's own or, for `RidgeClassifier`, its label
/// binarizer's).
///
/// Refused here, because they would break the output rather than the
/// arithmetic: fewer than two classes (scikit-learn cannot fit such a
/// classifier, and a binary decision would index a second class that does
/// not exist), two labels with the same `str()` (the JSON maps of
/// probabilities and decisions would get duplicate keys), and a NaN or
/// infinite float label.
pub(crate) fn labels(attrs: &Attrs<'_>, name: &str, estimator: &str) -> Result<Vec<crate::Label>> {
    labels_from(attrs, name, attrs.array(name)?, estimator)
}

/// [`labels`] of an array `a` that is not directly an attribute (one
/// output's `classes_[k]` of a multi-output forest); `name` names it.
pub(crate) fn labels_from(
    attrs: &Attrs<'_>,
    name: &str,
    a: &Array,
    estimator: &str,
) -> Result<Vec<crate::Label>> {
    use crate::Label;
    let labels: Vec<Label> = match &a.data {
        ArrayData::Str(v) => v.iter().cloned().map(Label::Str).collect(),
        ArrayData::I64(v) => v.iter().map(|&i| Label::Int(i)).collect(),
        ArrayData::U64(v) => v
            .iter()
            .map(|&i| i64::try_from(i).map(Label::Int))
            .collect::<Result<_, _>>()
            .map_err(|_| attrs.err(name, "labels that fit in 64 bits", &Value::None))?,
        ArrayData::Bool(v) => v.iter().map(|&b| Label::Bool(b)).collect(),
        ArrayData::Object(v) => v
            .iter()
            .map(|x| match x {
                Value::Str(s) => Ok(Label::Str(s.clone())),
                Value::Int(i) => Ok(Label::Int(*i)),
                Value::Bool(b) => Ok(Label::Bool(*b)),
                other => Err(attrs.err(name, "string or integer labels", other)),
            })
            .collect::<Result<_>>()?,
        ArrayData::F64(v) => v.iter().map(|&f| Label::Float(f)).collect(),
        ArrayData::F32(v) => v.iter().map(|&f| Label::Float(f as f64)).collect(),
        ArrayData::Bytes(_) | ArrayData::Record(_) => {
            return Err(attrs.err_found(name, "string or integer labels", &describe_array(a)));
        }
    };
    if labels.len() != a.len() {
        return Err(attrs.err_found(name, "labels matching their shape", &describe_array(a)));
    }
    if labels.len() < 2 {
        let shown: Vec<String> = labels
            .iter()
            .map(|l| format!("{:?}", l.to_string()))
            .collect();
        return Err(EngineError::unsupported(format!(
            "{estimator}.classes_ has {} class{} [{}]; a classifier needs at least 2 (scikit-learn cannot fit one on a single class)",
            labels.len(),
            if labels.len() == 1 { "" } else { "es" },
            shown.join(", ")
        )));
    }
    if let Some(bad) = labels
        .iter()
        .find(|l| matches!(l, crate::Label::Float(x) if !x.is_finite()))
    {
        return Err(EngineError::unsupported(format!(
            "{estimator}.classes_ contains the label {bad}, which is not a finite number"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(labels.len());
    for l in &labels {
        let key = l.to_string();
        if !seen.insert(key) {
            return Err(EngineError::unsupported(format!(
                "{estimator}.classes_ contains the label {:?} twice (as Python's str(); probabilities and decisions are keyed by it)",
                l.to_string()
            )));
        }
    }
    Ok(labels)
}

/// A non-negative integer array of any int width (CSR `indices`/`indptr`,
/// libsvm's `_n_support`).
pub(crate) fn int_vector(a: &Attrs<'_>, name: &str) -> Result<Vec<usize>> {
    let arr = a.array(name)?;
    let bad = || a.err_found(name, "an array of non-negative integers", "other data");
    match &arr.data {
        ArrayData::I64(v) => v
            .iter()
            .map(|&x| usize::try_from(x).map_err(|_| bad()))
            .collect(),
        ArrayData::U64(v) => v
            .iter()
            .map(|&x| usize::try_from(x).map_err(|_| bad()))
            .collect(),
        _ => Err(bad()),
    }
}
