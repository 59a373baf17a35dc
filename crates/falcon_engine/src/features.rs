//! Vectorizers: text → sparse feature row, exactly as scikit-learn's
//! `transform` produces one row of its CSR matrix.

mod analyzer;
// `ColumnTransformer` over records (issue #11 section 2).
mod column;
mod count;
mod hashing;
mod tfidf;
mod union;
pub(crate) mod vocab;

use std::collections::HashMap;

use falcon_pickle::{Object, Value};

pub(crate) use column::ColumnTransformer;
pub(crate) use count::CountVectorizer;
pub(crate) use hashing::HashingVectorizer;
pub(crate) use tfidf::Tfidf;
pub(crate) use union::FeatureUnion;

use crate::attrs::Attrs;
use crate::custom::TextCode;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow};

/// Names of columns seen while transforming one document (for
/// `--explain` on hashed features, whose names are not stored anywhere).
pub(crate) type SeenNames = HashMap<u32, String>;

/// A text → vector step of a pipeline.
pub(crate) enum Extractor {
    /// `CountVectorizer`, or `TfidfVectorizer` (a count step with its
    /// internal `TfidfTransformer`).
    Count(Box<CountVectorizer>),
    Hashing(Box<HashingVectorizer>),
    Union(FeatureUnion),
    /// `ColumnTransformer`: a record's named text columns, each through
    /// its own extractor. Only as the model's first step.
    Columns(Box<ColumnTransformer>),
    /// A vectorizer followed by `TfidfTransformer` steps, as a `Pipeline`
    /// lays them out.
    Chain(Box<Extractor>, Vec<Tfidf>),
}

/// Deepest nesting of `Pipeline`s and `FeatureUnion`s inside the text step.
/// Loading, transforming and describing an extractor recurse once per
/// level, so the depth must be bounded by a constant rather than by the
/// file (the unpickler's own depth limit is far larger); real pipelines
/// nest two or three levels.
pub(crate) const MAX_NESTING: usize = 16;

/// Most steps one `Pipeline`, or parts one `FeatureUnion`, may have, and
/// most estimators the whole text step may hold (nesting would otherwise
/// multiply the first bound). A pickle can repeat one memoised vectorizer
/// a hundred thousand times for a few bytes each; every copy would compile
/// its pattern, copy its parameters and run on every text. Real pipelines
/// have a handful.
pub(crate) const MAX_PARTS: usize = 256;

impl Extractor {
    /// Builds the text step of a pipeline from its pickled estimator,
    /// `depth` levels of `Pipeline`/`FeatureUnion` down; `built` counts the
    /// estimators of the whole text step so far (see [`MAX_PARTS`]).
    pub(crate) fn from_object(
        obj: &Object,
        depth: usize,
        built: &mut usize,
        code: &TextCode,
    ) -> Result<Self> {
        if depth > MAX_NESTING {
            return Err(EngineError::unsupported(format!(
                "{} is nested more than {MAX_NESTING} Pipelines/FeatureUnions deep",
                obj.class
            )));
        }
        count_estimator(built)?;
        match obj.class.name.as_str() {
            "CountVectorizer" | "TfidfVectorizer" => Ok(Extractor::Count(Box::new(
                CountVectorizer::from_object(obj, code)?,
            ))),
            "HashingVectorizer" => Ok(Extractor::Hashing(Box::new(
                HashingVectorizer::from_object(obj, code)?,
            ))),
            "FeatureUnion" => Ok(Extractor::Union(FeatureUnion::from_object(
                obj,
                depth + 1,
                built,
                code,
            )?)),
            "ColumnTransformer" if depth == 0 => Ok(Extractor::Columns(Box::new(
                ColumnTransformer::from_object(obj, depth + 1, built, code)?,
            ))),
            "ColumnTransformer" => Err(EngineError::unsupported(
                "a ColumnTransformer nested inside a FeatureUnion or Pipeline is not supported: \
                 it must be the model's first step",
            )),
            "Pipeline" => {
                let steps = crate::pipeline::steps(obj)?;
                Self::from_steps(&steps, depth + 1, built, code)
            }
            other => Err(EngineError::unsupported(format!(
                "{other} ({}) cannot turn text into features; expected CountVectorizer, TfidfVectorizer, HashingVectorizer, FeatureUnion or Pipeline",
                obj.class
            ))),
        }
    }

    /// A vectorizer followed by any number of `TfidfTransformer`s.
    pub(crate) fn from_steps(
        steps: &[(String, &Object)],
        depth: usize,
        built: &mut usize,
        code: &TextCode,
    ) -> Result<Self> {
        let Some(((_, first), rest)) = steps.split_first() else {
            return Err(EngineError::unsupported("a Pipeline with no steps"));
        };
        if steps.len() > MAX_PARTS {
            return Err(EngineError::unsupported(format!(
                "a Pipeline has {} steps; at most {MAX_PARTS} are supported",
                steps.len()
            )));
        }
        let head = Extractor::from_object(first, depth, built, code)?;
        if rest.is_empty() {
            return Ok(head);
        }
        let mut tfidfs = Vec::new();
        let mut n = head.n_features();
        for (name, obj) in rest {
            if obj.class.name != "TfidfTransformer" {
                return Err(EngineError::unsupported(format!(
                    "step {name:?} is a {}: only TfidfTransformer may follow a vectorizer",
                    obj.class
                )));
            }
            count_estimator(built)?;
            let t = Tfidf::from_transformer(obj)?;
            t.check_width(n)?;
            n = t.n_features().unwrap_or(n);
            tfidfs.push(t);
        }
        Ok(Extractor::Chain(Box::new(head), tfidfs))
    }

    pub(crate) fn n_features(&self) -> usize {
        match self {
            Extractor::Count(c) => c.n_features(),
            Extractor::Hashing(h) => h.n_features(),
            Extractor::Union(u) => u.n_features(),
            Extractor::Columns(c) => c.n_features(),
            Extractor::Chain(head, _) => head.n_features(),
        }
    }

    /// The idf step applied last, right before the classifier, if any.
    pub(crate) fn last_tfidf_mut(&mut self) -> Option<&mut Tfidf> {
        match self {
            Extractor::Count(c) => c.tfidf_mut(),
            Extractor::Chain(_, tfidfs) => tfidfs.last_mut(),
            Extractor::Hashing(_) | Extractor::Union(_) | Extractor::Columns(_) => None,
        }
    }

    /// One document's feature row. `seen`, when given, collects the names of
    /// the columns the document produced.
    pub(crate) fn transform(&self, doc: &str, seen: Option<&mut SeenNames>) -> Result<SparseRow> {
        match self {
            Extractor::Count(c) => c.transform(doc),
            Extractor::Hashing(h) => h.transform(doc, seen),
            Extractor::Union(u) => u.transform(doc, seen),
            Extractor::Columns(c) => c.transform_text(doc, seen),
            Extractor::Chain(head, tfidfs) => {
                let mut row = head.transform(doc, seen)?;
                for t in tfidfs {
                    t.apply(&mut row);
                }
                Ok(row)
            }
        }
    }

    /// One record's feature row (a `ColumnTransformer` model); a model
    /// that takes text refuses records.
    pub(crate) fn transform_record(
        &self,
        record: &[(&str, &str)],
        seen: Option<&mut SeenNames>,
    ) -> Result<SparseRow> {
        match self {
            Extractor::Columns(c) => c.transform_record(record, seen),
            Extractor::Chain(head, tfidfs) => {
                let mut row = head.transform_record(record, seen)?;
                for t in tfidfs {
                    t.apply(&mut row);
                }
                Ok(row)
            }
            _ => Err(EngineError::Input(
                "this model takes one text, not a record of columns".into(),
            )),
        }
    }

    /// The columns a record must have, for a `ColumnTransformer` model.
    pub(crate) fn input_columns(&self) -> Option<&[String]> {
        match self {
            Extractor::Columns(c) => Some(c.input_columns()),
            Extractor::Chain(head, _) => head.input_columns(),
            _ => None,
        }
    }

    /// The stored name of column `col`, when the vectorizer has one.
    pub(crate) fn feature_name(&self, col: u32) -> Option<String> {
        match self {
            Extractor::Count(c) => Some(c.feature_name(col)),
            Extractor::Hashing(_) => None,
            Extractor::Union(u) => u.feature_name(col),
            Extractor::Columns(c) => c.feature_name(col),
            Extractor::Chain(head, _) => head.feature_name(col),
        }
    }

    /// Lines for `model inspect`.
    pub(crate) fn describe(&self, indent: &str, out: &mut Vec<String>) {
        match self {
            Extractor::Count(c) => out.push(format!("{indent}{}", c.describe())),
            Extractor::Hashing(h) => out.push(format!("{indent}{}", h.describe())),
            Extractor::Union(u) => u.describe(indent, out),
            Extractor::Columns(c) => c.describe(indent, out),
            Extractor::Chain(head, tfidfs) => {
                head.describe(indent, out);
                for t in tfidfs {
                    out.push(format!("{indent}TfidfTransformer {}", t.describe()));
                }
            }
        }
    }

    /// Heap bytes held by the fitted parameters.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Extractor::Count(c) => c.heap_bytes(),
            Extractor::Hashing(_) => 0,
            Extractor::Union(u) => u.heap_bytes(),
            Extractor::Columns(c) => c.heap_bytes(),
            Extractor::Chain(head, tfidfs) => {
                head.heap_bytes() + tfidfs.iter().map(Tfidf::heap_bytes).sum::<usize>()
            }
        }
    }
}

/// Counts one more estimator of the text step, refusing the
/// [`MAX_PARTS`]-plus-first.
fn count_estimator(built: &mut usize) -> Result<()> {
    *built += 1;
    if *built > MAX_PARTS {
        return Err(EngineError::unsupported(format!(
            "the text step holds more than {MAX_PARTS} vectorizers, transformers, Pipelines and FeatureUnions"
        )));
    }
    Ok(())
}

/// `norm` of a vectorizer or `TfidfTransformer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    None,
    L1,
    L2,
}

impl Norm {
    fn from_attrs(a: &Attrs<'_>) -> Result<Self> {
        match a.opt("norm") {
            None | Some(Value::None) => Ok(Norm::None),
            Some(Value::Str(s)) if s == "l2" => Ok(Norm::L2),
            Some(Value::Str(s)) if s == "l1" => Ok(Norm::L1),
            Some(v) => Err(a.err("norm", "\"l1\", \"l2\" or None", v)),
        }
    }

    fn apply(self, row: &mut SparseRow) {
        match self {
            Norm::None => {}
            Norm::L1 => row.normalize_l1(),
            Norm::L2 => row.normalize_l2(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Norm::None => "None",
            Norm::L1 => "l1",
            Norm::L2 => "l2",
        }
    }
}

/// The element type a vectorizer's `dtype` asks for. Integer dtypes hold
/// counts exactly and widen to float64 when they meet floats, so they
/// compute like `F64`; float32 is tracked so it can be rounded like numpy.
fn precision(a: &Attrs<'_>, allow_int: bool) -> Result<Precision> {
    let name = match a.opt("dtype") {
        None => return Ok(Precision::F64),
        Some(Value::Global(g)) if g.module == "numpy" || g.module == "builtins" => g.name.clone(),
        Some(Value::Dtype(d)) => format!("{}{}", d.kind, d.itemsize),
        Some(v) => return Err(a.err("dtype", "a numpy dtype", v)),
    };
    match name.as_str() {
        "float64" | "double" | "float" | "f8" => Ok(Precision::F64),
        "float32" | "single" | "f4" => Ok(Precision::F32),
        "int64" | "int32" | "int" | "intc" | "int_" | "longlong" | "i8" | "i4" | "uint32"
        | "uint64" | "u4" | "u8"
            if allow_int =>
        {
            Ok(Precision::F64)
        }
        other => Err(EngineError::unsupported(format!(
            "{}.dtype={other} is not supported (use float64, float32{})",
            a.class,
            if allow_int { ", int32 or int64" } else { "" }
        ))),
    }
}
