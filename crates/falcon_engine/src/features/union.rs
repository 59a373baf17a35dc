//! `FeatureUnion`: several extractors side by side, each block optionally
//! scaled by its `transformer_weights` entry, then `hstack`ed.
//!
//! A part may be a `Pipeline` of a text step followed by row transforms
//! (`Pipeline([("tfidf", TfidfVectorizer()), ("svd", TruncatedSVD(50))])`):
//! its block is then whatever those transforms return, sparse or dense.
//! scikit-learn stacks the blocks with `sparse.hstack(Xs).tocsr()` as soon
//! as one is sparse, which converts each dense block with `coo_array`,
//! dropping its zeros; a union whose blocks are all dense (`np.hstack`)
//! is refused.

use falcon_pickle::{Object, Value};

use super::{Extractor, SeenNames};
use crate::attrs::Attrs;
use crate::custom::TextCode;
use crate::error::{EngineError, Result};
use crate::row::Row;
use crate::sparse::{Precision, SparseRow};
use crate::transform::Transform;

struct Part {
    name: String,
    extractor: Extractor,
    /// Row transforms after the text step, in a `Pipeline` part.
    transforms: Vec<Box<dyn Transform>>,
    /// Width of the block (after `transforms`).
    width: usize,
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
    pub(crate) fn from_object(
        obj: &Object,
        depth: usize,
        built: &mut usize,
        code: &TextCode,
    ) -> Result<Self> {
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
        let mut any_sparse = false;
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
            let (extractor, transforms, width, sparse) = part(trans, &name, depth, built, code)?;
            any_sparse |= sparse;
            let weight = match weights.and_then(|w| {
                w.iter()
                    .find(|(k, _)| matches!(k, Value::Str(s) if *s == name))
            }) {
                None => None,
                Some((_, Value::Float(f))) if f.is_finite() => Some(*f),
                Some((_, Value::Int(i))) => Some(*i as f64),
                Some((_, v)) => return Err(a.err("transformer_weights", "finite numbers", v)),
            };
            parts.push(Part {
                name,
                extractor,
                transforms,
                width,
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
        if !any_sparse {
            return Err(EngineError::unsupported(format!(
                "FeatureUnion: every part ({}) returns a dense array, which scikit-learn stacks with np.hstack into a dense matrix; Falcon serves unions with at least one sparse part",
                parts
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
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
            let mut local = seen
                .as_ref()
                .filter(|_| part.transforms.is_empty())
                .map(|_| SeenNames::new());
            let mut row = Row::Sparse(part.extractor.transform(doc, local.as_mut())?);
            for t in &part.transforms {
                row = t.apply(row);
            }
            let p = row.precision();
            // numpy 2 keeps a float32 array float32 when scaled by a
            // Python float, rounding the weight first (NEP 50).
            let scale = |values: &mut Vec<f64>| {
                if let Some(w) = part.weight {
                    let w = p.round(w);
                    values.iter_mut().for_each(|v| *v = p.round(*v * w));
                }
            };
            all_f32 &= p == Precision::F32;
            if let (Some(names), Some(local)) = (seen.as_deref_mut(), local) {
                for (c, n) in local {
                    names.insert(c + part.offset, format!("{}__{n}", part.name));
                }
            }
            match row {
                Row::Sparse(mut row) => {
                    scale(&mut row.values);
                    out.indices
                        .extend(row.indices.iter().map(|c| c + part.offset));
                    out.values.extend(row.values);
                }
                // `coo_array(dense)` keeps the non-zeros only.
                Row::Dense(mut d) => {
                    scale(&mut d.values);
                    for (c, &v) in d.values.iter().enumerate() {
                        if v != 0.0 {
                            out.indices.push(c as u32 + part.offset);
                            out.values.push(v);
                        }
                    }
                }
            }
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
        let mut c = col - part.offset;
        // Back through the part's transforms to its vectorizer's column;
        // a column that mixes inputs gets scikit-learn's output name
        // (`svd__truncatedsvd3`): its contribution is still exact.
        for t in part.transforms.iter().rev() {
            match t.source_column(c) {
                Some(s) => c = s,
                None => {
                    let n = t.output_name(c).unwrap_or_else(|| c.to_string());
                    return Some(format!("{}__{n}", part.name));
                }
            }
        }
        let inner = part.extractor.feature_name(c)?;
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
                p.offset as usize + p.width,
                p.weight.map(|w| format!(" weight={w}")).unwrap_or_default()
            ));
            p.extractor.describe(&format!("{indent}    "), out);
            for t in &p.transforms {
                out.push(format!("{indent}    {}", t.describe()));
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| {
                p.extractor.heap_bytes()
                    + p.transforms.iter().map(|t| t.heap_bytes()).sum::<usize>()
            })
            .sum()
    }
}

/// The block a union part computes: its text step, the row transforms
/// after it (in a `Pipeline` part), the block's width and whether it is
/// sparse.
type PartSteps = (Extractor, Vec<Box<dyn Transform>>, usize, bool);

fn part(
    obj: &Object,
    name: &str,
    depth: usize,
    built: &mut usize,
    code: &TextCode,
) -> Result<PartSteps> {
    if obj.class.name != "Pipeline" {
        let e = Extractor::from_object(obj, depth, built, code)?;
        let n = e.n_features();
        return Ok((e, Vec::new(), n, true));
    }
    let steps = crate::pipeline::steps(obj)?;
    let text_len = 1 + steps
        .iter()
        .skip(1)
        .take_while(|(_, o)| o.class.name == "TfidfTransformer")
        .count();
    let (head, rest) = steps.split_at(text_len.min(steps.len()));
    let e = Extractor::from_steps(head, depth + 1, built, code)?;
    *built += rest.len();
    if *built > super::MAX_PARTS {
        return Err(EngineError::unsupported(format!(
            "the text step holds more than {} vectorizers, transformers, Pipelines and FeatureUnions",
            super::MAX_PARTS
        )));
    }
    // Transforms inside a union get the budget of a small file: the
    // union is built before the file size is known here.
    let ctx = crate::registry::Ctx {
        max_dense: crate::model::dense_budget(0),
    };
    let (transforms, width, sparse) =
        crate::transform::build_chain(rest, e.n_features(), true, &ctx)
            .map_err(|e| crate::transform::within(&format!("FeatureUnion part {name:?}"), e))?;
    Ok((e, transforms, width, sparse))
}
