//! `FeatureUnion`: several extractors side by side, each block optionally
//! scaled by its `transformer_weights` entry, then `hstack`ed.

use falcon_pickle::{Object, Value};

use super::{Extractor, SeenNames};
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow};

struct Part {
    name: String,
    extractor: Extractor,
    weight: Option<f64>,
    /// First column of this part in the stacked row.
    offset: u32,
}

pub(crate) struct FeatureUnion {
    parts: Vec<Part>,
    n_features: usize,
}

impl FeatureUnion {
    /// `depth`: nesting level of this union (see [`super::MAX_NESTING`]).
    /// `built`: estimators of the text step so far (see [`super::MAX_PARTS`]).
    pub(crate) fn from_object(obj: &Object, depth: usize, built: &mut usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let list = a.get("transformer_list")?;
        let items = match list {
            Value::List(items) | Value::Tuple(items) => items,
            v => return Err(a.err("transformer_list", "a list of (name, transformer)", v)),
        };
        let weights = match a.opt("transformer_weights") {
            None | Some(Value::None) => None,
            Some(Value::Dict(d)) => Some(d),
            Some(v) => return Err(a.err("transformer_weights", "a dict or None", v)),
        };
        if items.len() > super::MAX_PARTS {
            return Err(EngineError::unsupported(format!(
                "FeatureUnion has {} transformers; at most {} are supported",
                items.len(),
                super::MAX_PARTS
            )));
        }
        let mut parts = Vec::new();
        let mut offset: usize = 0;
        for item in items {
            let (name, trans) = match item {
                Value::Tuple(pair) | Value::List(pair) if pair.len() == 2 => {
                    match (&pair[0], &pair[1]) {
                        (Value::Str(n), t) => (n.clone(), t),
                        _ => {
                            return Err(a.err(
                                "transformer_list",
                                "(name, transformer) pairs",
                                item,
                            ));
                        }
                    }
                }
                _ => return Err(a.err("transformer_list", "(name, transformer) pairs", item)),
            };
            let trans = match trans {
                // "drop" removes a part; a "passthrough" of raw text is not a
                // feature matrix, so it cannot be served.
                Value::Str(s) if s == "drop" => continue,
                Value::Object(o) => o,
                other => {
                    return Err(EngineError::unsupported(format!(
                        "FeatureUnion part {name:?} is {}",
                        crate::attrs::describe(other)
                    )));
                }
            };
            let extractor = Extractor::from_object(trans, depth, built)?;
            let weight = match weights.and_then(|w| {
                w.iter()
                    .find(|(k, _)| matches!(k, Value::Str(s) if *s == name))
            }) {
                None => None,
                Some((_, Value::Float(f))) if f.is_finite() => Some(*f),
                Some((_, Value::Int(i))) => Some(*i as f64),
                Some((_, v)) => return Err(a.err("transformer_weights", "finite numbers", v)),
            };
            let width = extractor.n_features();
            parts.push(Part {
                name,
                extractor,
                weight,
                offset: u32::try_from(offset)
                    .map_err(|_| EngineError::unsupported("FeatureUnion is too wide"))?,
            });
            offset = offset
                .checked_add(width)
                .filter(|&o| o <= u32::MAX as usize)
                .ok_or_else(|| EngineError::unsupported("FeatureUnion is too wide"))?;
        }
        if parts.is_empty() {
            return Err(EngineError::unsupported("FeatureUnion has no transformers"));
        }
        Ok(FeatureUnion {
            parts,
            n_features: offset,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.n_features
    }

    /// `_transform_one` (`res * weight`, in the block's precision) per part,
    /// then `sparse.hstack`, which widens mixed float32/float64 to float64.
    pub(crate) fn transform(
        &self,
        doc: &str,
        mut seen: Option<&mut SeenNames>,
    ) -> Result<SparseRow> {
        let mut out = SparseRow::default();
        let mut all_f32 = true;
        for part in &self.parts {
            let mut local = seen.as_ref().map(|_| SeenNames::new());
            let mut row = part.extractor.transform(doc, local.as_mut())?;
            let p = row.precision();
            if let Some(w) = part.weight {
                // numpy 2 keeps a float32 array float32 when scaled by a
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
            "{indent}FeatureUnion ({} features)",
            self.n_features
        ));
        for p in &self.parts {
            out.push(format!(
                "{indent}  [{}] columns {}..{}{}",
                p.name,
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
