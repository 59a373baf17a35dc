//! `ColumnTransformer` over text columns: the model's input is a record
//! (`{"title": ..., "body": ...}`), each named column goes through its own
//! vectorizer, each block is scaled by its `transformer_weights` entry and
//! the blocks are `hstack`ed in `transformers_` order.
//!
//! scikit-learn 1.7 (`sklearn/compose/_column_transformer.py`):
//! `_transform_one` returns `res * weight` (a float32 block stays float32,
//! NEP 50), and `_hstack` with `sparse_output_` is
//! `sparse.hstack(blocks).tocsr()`: the columns of each block shifted by
//! the widths before it, float32 only if every block is. A fitted
//! `sparse_output_ = False` (the density of the training matrix reached
//! `sparse_threshold`) gives a dense numpy matrix instead, which the
//! classifier multiplies with BLAS in an order Falcon does not reproduce:
//! refused. `transform` on a DataFrame selects columns by name and only
//! requires the columns some transformer reads (`feature_names_in_`
//! minus dropped ones); Falcon also refuses record keys the model was not
//! fitted with, so a misspelt column is an error rather than ignored.

use falcon_pickle::{ArrayData, Object, Value};

use super::{Extractor, SeenNames};
use crate::attrs::Attrs;
use crate::custom::TextCode;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow};

struct Part {
    name: String,
    /// Index into [`ColumnTransformer::known`] of the column it reads.
    column: usize,
    extractor: Extractor,
    weight: Option<f64>,
    offset: u32,
}

pub(crate) struct ColumnTransformer {
    parts: Vec<Part>,
    /// `feature_names_in_`: every column of the training DataFrame.
    known: Vec<String>,
    /// The columns some transformer reads, in `feature_names_in_` order.
    required: Vec<String>,
    n_features: usize,
}

/// The refusal of a transformer that passes raw columns through.
fn passthrough(name: &str, cols: &[usize], known: &[String]) -> EngineError {
    let shown: Vec<&str> = cols.iter().map(|&i| known[i].as_str()).collect();
    EngineError::unsupported(format!(
        "ColumnTransformer {} passes the column(s) {shown:?} through unchanged: Falcon's \
         records carry text, and raw columns are not features it can reproduce. Drop \
         them (remainder=\"drop\") or give each a vectorizer",
        if name == "remainder" {
            "remainder=\"passthrough\"".to_string()
        } else {
            format!("transformer {name:?}")
        }
    ))
}

/// One column of `transformers_`, resolved to an index of `names`.
fn column_index(a: &Attrs<'_>, names: &[String], spec: &Value, who: &str) -> Result<Vec<usize>> {
    let one = |v: &Value| -> Result<usize> {
        match v {
            Value::Str(s) => names.iter().position(|n| n == s).ok_or_else(|| {
                EngineError::unsupported(format!(
                    "ColumnTransformer {who} reads the column {s:?}, which is not in feature_names_in_"
                ))
            }),
            Value::Int(i) => usize::try_from(*i)
                .ok()
                .filter(|&i| i < names.len())
                .ok_or_else(|| a.err("transformers_", "column indices within feature_names_in_", v)),
            other => Err(a.err("transformers_", "column names", other)),
        }
    };
    match spec {
        Value::List(items) | Value::Tuple(items) => items.iter().map(one).collect(),
        Value::Array(arr) => match &arr.data {
            ArrayData::I64(v) => v
                .iter()
                .map(|&i| one(&Value::Int(i)))
                .collect::<Result<_>>(),
            ArrayData::Str(v) => v
                .iter()
                .map(|s| one(&Value::Str(s.clone())))
                .collect::<Result<_>>(),
            ArrayData::Object(v) => v.iter().map(one).collect(),
            _ => Err(a.err("transformers_", "column names", spec)),
        },
        v => Ok(vec![one(v)?]),
    }
}

impl ColumnTransformer {
    /// `depth`/`built` as for [`super::FeatureUnion::from_object`].
    pub(crate) fn from_object(
        obj: &Object,
        depth: usize,
        built: &mut usize,
        code: &TextCode,
    ) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let known: Vec<String> = match a.opt("feature_names_in_") {
            Some(Value::Array(arr)) => match &arr.data {
                ArrayData::Str(v) => v.clone(),
                ArrayData::Object(v) => v
                    .iter()
                    .map(|x| match x {
                        Value::Str(s) => Ok(s.clone()),
                        other => Err(a.err("feature_names_in_", "column names", other)),
                    })
                    .collect::<Result<_>>()?,
                _ => {
                    return Err(a.err(
                        "feature_names_in_",
                        "column names",
                        a.get("feature_names_in_")?,
                    ));
                }
            },
            _ => {
                return Err(EngineError::unsupported(
                    "ColumnTransformer has no feature_names_in_: it was fitted on an array without \
                     column names (or by scikit-learn < 1.0), so a record's keys cannot be matched \
                     to its columns. Fit it on a pandas DataFrame with named text columns",
                ));
            }
        };
        if !a.bool("sparse_output_")? {
            let t = match a.opt("sparse_threshold") {
                Some(Value::Float(f)) => f.to_string(),
                Some(Value::Int(i)) => i.to_string(),
                _ => "?".into(),
            };
            return Err(EngineError::unsupported(format!(
                "ColumnTransformer.sparse_output_ is False (sparse_threshold={t}): it hands the \
                 classifier a dense matrix, whose products numpy computes in an order Falcon does \
                 not reproduce. Refit with the default sparse_threshold=0.3 (text blocks are sparse)"
            )));
        }
        let weights = match a.opt("transformer_weights") {
            None | Some(Value::None) => None,
            Some(Value::Dict(d)) => Some(d),
            Some(v) => return Err(a.err("transformer_weights", "a dict or None", v)),
        };
        let items = match a.get("transformers_")? {
            Value::List(items) | Value::Tuple(items) => items,
            v => return Err(a.err("transformers_", "a list of (name, transformer, columns)", v)),
        };
        if items.len() > super::MAX_PARTS {
            return Err(EngineError::unsupported(format!(
                "ColumnTransformer has {} transformers; at most {} are supported",
                items.len(),
                super::MAX_PARTS
            )));
        }
        let mut parts = Vec::new();
        let mut read = vec![false; known.len()];
        let mut offset = 0usize;
        for item in items {
            let (name, trans, spec) = match item {
                Value::Tuple(t) | Value::List(t) if t.len() == 3 => match &t[0] {
                    Value::Str(n) => (n.clone(), &t[1], &t[2]),
                    _ => return Err(a.err("transformers_", "(name, transformer, columns)", item)),
                },
                _ => return Err(a.err("transformers_", "(name, transformer, columns)", item)),
            };
            let cols = column_index(&a, &known, spec, &format!("transformer {name:?}"))?;
            match trans {
                Value::Str(s) if s == "drop" => continue,
                // scikit-learn skips a transformer with no columns.
                _ if cols.is_empty() => continue,
                Value::Str(s) if s == "passthrough" => {
                    return Err(passthrough(&name, &cols, &known));
                }
                // What a fitted "passthrough" becomes.
                Value::Object(o)
                    if o.class.name == "FunctionTransformer"
                        && matches!(Attrs::new(o)?.opt("func"), None | Some(Value::None)) =>
                {
                    return Err(passthrough(&name, &cols, &known));
                }
                Value::Object(o) => {
                    let [col] = cols[..] else {
                        let shown: Vec<&str> = cols.iter().map(|&i| known[i].as_str()).collect();
                        return Err(EngineError::unsupported(format!(
                            "ColumnTransformer transformer {name:?} ({}) reads the columns {shown:?} \
                             as a 2-D block; a vectorizer needs one text column (a column name, not a \
                             list)",
                            o.class
                        )));
                    };
                    let extractor = Extractor::from_object(o, depth, built, code)?;
                    let weight = match weights.and_then(|w| {
                        w.iter()
                            .find(|(k, _)| matches!(k, Value::Str(s) if *s == name))
                    }) {
                        None | Some((_, Value::None)) => None,
                        Some((_, Value::Float(f))) if f.is_finite() => Some(*f),
                        Some((_, Value::Int(i))) => Some(*i as f64),
                        Some((_, v)) => {
                            return Err(a.err("transformer_weights", "finite numbers", v));
                        }
                    };
                    let width = extractor.n_features();
                    read[col] = true;
                    parts.push(Part {
                        name,
                        column: col,
                        extractor,
                        weight,
                        offset: u32::try_from(offset).map_err(|_| {
                            EngineError::unsupported("ColumnTransformer is too wide")
                        })?,
                    });
                    offset = offset
                        .checked_add(width)
                        .filter(|&o| o <= u32::MAX as usize)
                        .ok_or_else(|| EngineError::unsupported("ColumnTransformer is too wide"))?;
                }
                other => {
                    return Err(EngineError::unsupported(format!(
                        "ColumnTransformer transformer {name:?} is {}",
                        crate::attrs::describe(other)
                    )));
                }
            }
        }
        if parts.is_empty() {
            return Err(EngineError::unsupported(
                "ColumnTransformer has no transformer that reads a column",
            ));
        }
        let required = known
            .iter()
            .zip(&read)
            .filter(|(_, r)| **r)
            .map(|(n, _)| n.clone())
            .collect();
        Ok(ColumnTransformer {
            parts,
            known,
            required,
            n_features: offset,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.n_features
    }

    /// The columns a record must have.
    pub(crate) fn input_columns(&self) -> &[String] {
        &self.required
    }

    /// One text, when the model reads a single column named `text`.
    pub(crate) fn transform_text(
        &self,
        doc: &str,
        seen: Option<&mut SeenNames>,
    ) -> Result<SparseRow> {
        if let [only] = self.required.as_slice()
            && only == "text"
        {
            return self.transform_record(&[("text", doc)], seen);
        }
        Err(EngineError::Input(format!(
            "this model reads the columns {:?}: send a record with them, not a text",
            self.required
        )))
    }

    /// `transform` of a one-row DataFrame with the record's columns.
    pub(crate) fn transform_record(
        &self,
        record: &[(&str, &str)],
        mut seen: Option<&mut SeenNames>,
    ) -> Result<SparseRow> {
        for (i, (k, _)) in record.iter().enumerate() {
            if !self.known.iter().any(|n| n == k) {
                return Err(EngineError::Input(format!(
                    "unknown column {k:?}: this model reads {:?}",
                    self.required
                )));
            }
            if record[..i].iter().any(|(j, _)| j == k) {
                return Err(EngineError::Input(format!("column {k:?} is given twice")));
            }
        }
        let value = |col: &str| -> Result<&str> {
            record
                .iter()
                .find(|(k, _)| *k == col)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    EngineError::Input(format!(
                        "missing column {col:?}: this model reads {:?}",
                        self.required
                    ))
                })
        };
        for col in &self.required {
            value(col)?;
        }
        let mut out = SparseRow::default();
        let mut all_f32 = true;
        for part in &self.parts {
            let doc = value(&self.known[part.column])?;
            let mut local = seen.as_ref().map(|_| SeenNames::new());
            let mut row = part.extractor.transform(doc, local.as_mut())?;
            let p = row.precision();
            if let Some(w) = part.weight {
                // numpy 2 keeps a float32 block float32 when scaled by a
                // Python float, rounding the weight first (NEP 50).
                let w = p.round(w);
                row.values.iter_mut().for_each(|v| *v = p.round(*v * w));
            }
            all_f32 &= p == Precision::F32;
            if let (Some(names), Some(local)) = (seen.as_deref_mut(), local) {
                for (c, n) in local {
                    names.insert(c + part.offset, format!("{}__{n}", part.name));
                }
            }
            out.indices
                .extend(row.indices.iter().map(|c| c + part.offset));
            out.values.extend(row.values);
        }
        out.precision = Some(if all_f32 {
            Precision::F32
        } else {
            Precision::F64
        });
        Ok(out)
    }

    pub(crate) fn feature_name(&self, col: u32) -> Option<String> {
        let part = self.parts.iter().rev().find(|p| p.offset <= col)?;
        let inner = part.extractor.feature_name(col - part.offset)?;
        Some(format!("{}__{inner}", part.name))
    }

    pub(crate) fn describe(&self, indent: &str, out: &mut Vec<String>) {
        out.push(format!(
            "{indent}ColumnTransformer ({} features) reading {:?}",
            self.n_features, self.required
        ));
        for p in &self.parts {
            out.push(format!(
                "{indent}  [{}] column {:?} -> features {}..{}{}",
                p.name,
                self.known[p.column],
                p.offset,
                p.offset as usize + p.extractor.n_features(),
                p.weight.map(|w| format!(" weight={w}")).unwrap_or_default()
            ));
            p.extractor.describe(&format!("{indent}    "), out);
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.extractor.heap_bytes()).sum()
    }
}
