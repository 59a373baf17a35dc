//! How the pickled estimators of a model file (or several) become the
//! engine's chain: text step, row transforms, classifier. Which class is
//! which is `crate::registry`'s business.

use falcon_pickle::{Object, Value};

use std::sync::Arc;

use crate::attrs::Attrs;
use crate::classify::Classifier;
use crate::custom::{Program, Shape, TextCode};
use crate::error::{EngineError, Result};
use crate::features::{Extractor, MAX_NESTING, MAX_PARTS};
use crate::registry::{self, Ctx, Kind};
use crate::transform::Transform;

/// `Pipeline.steps` as `(name, estimator)`, skipping `"passthrough"`/`None`.
pub(crate) fn steps(obj: &Object) -> Result<Vec<(String, &Object)>> {
    let a = Attrs::new(obj)?;
    let list = a.get("steps")?;
    let items = match list {
        Value::List(items) | Value::Tuple(items) => items,
        v => return Err(a.err("steps", "a list of (name, estimator)", v)),
    };
    let mut out = Vec::new();
    for item in items {
        let (name, est) = match item {
            Value::Tuple(p) | Value::List(p) if p.len() == 2 => match &p[0] {
                Value::Str(n) => (n.clone(), &p[1]),
                _ => return Err(a.err("steps", "(name, estimator) pairs", item)),
            },
            _ => return Err(a.err("steps", "(name, estimator) pairs", item)),
        };
        match est {
            Value::None => {}
            Value::Str(s) if s == "passthrough" => {}
            Value::Object(o) => out.push((name, &**o)),
            other => {
                return Err(EngineError::unsupported(format!(
                    "Pipeline step {name:?} is {}",
                    crate::attrs::describe(other)
                )));
            }
        }
    }
    Ok(out)
}

/// The fitted steps a model is made of, in order: the text step, the
/// row transforms, and the classifier.
pub(crate) struct Built {
    /// Declared custom steps before the vectorizer (classes of the user's
    /// own whose `transform` maps each text to a text), in order.
    pub(crate) pre: Vec<Arc<Program>>,
    pub(crate) extractor: Extractor,
    pub(crate) transforms: Vec<Box<dyn Transform>>,
    pub(crate) classifier: Classifier,
}

/// Flattens the estimators a pickled value stands for into `out`, in the
/// order they apply: a `Pipeline`'s steps, a search's `best_estimator_`, a
/// tuple or list of fitted estimators (how many projects save "the
/// vectorizer and the model").
fn chain<'a>(
    v: &'a Value,
    name: &str,
    depth: usize,
    code: &TextCode,
    out: &mut Vec<(String, &'a Object)>,
) -> Result<()> {
    check_bounds(name, depth, out.len())?;
    match v {
        Value::Object(o) => chain_object(o, name, depth, code, out),
        Value::Tuple(items) | Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) if registry::lookup(&o.class).is_some_and(is_estimator) => {
                        chain_object(o, &format!("{name}[{i}]"), depth + 1, code, out)?;
                    }
                    other => {
                        return Err(EngineError::unsupported(format!(
                            "{name} is a {} whose item {i} is {}, not a scikit-learn estimator. Falcon \
                             chains the estimators of a tuple or list in order (vectorizer, then \
                             classifier); save only those, and give label names in the model's \
                             config.toml (`labels`) instead of pickling them",
                            v.type_name(),
                            crate::attrs::describe(other)
                        )));
                    }
                }
            }
            Ok(())
        }
        other => Err(EngineError::unsupported(format!(
            "{name} holds {}, not a scikit-learn estimator",
            crate::attrs::describe(other)
        ))),
    }
}

/// Nesting and size bounds of a chain: a pickle can nest or repeat
/// estimators for a few bytes each, so both are capped by constants.
fn check_bounds(name: &str, depth: usize, steps: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(EngineError::unsupported(format!(
            "{name} is nested more than {MAX_NESTING} Pipelines/searches/tuples deep"
        )));
    }
    if steps > MAX_PARTS {
        return Err(EngineError::unsupported(format!(
            "the model has more than {MAX_PARTS} steps"
        )));
    }
    Ok(())
}

fn is_estimator(e: &registry::Entry) -> bool {
    !matches!(e.kind, Kind::Data)
}

fn chain_object<'a>(
    o: &'a Object,
    name: &str,
    depth: usize,
    code: &TextCode,
    out: &mut Vec<(String, &'a Object)>,
) -> Result<()> {
    check_bounds(name, depth, out.len())?;
    if code.declares(&o.class) {
        // The user's own step class, declared: where it may stand is
        // checked in `build`.
        out.push((name.to_string(), o));
        return Ok(());
    }
    let Some(entry) = registry::lookup(&o.class) else {
        return Err(EngineError::unsupported(format!(
            "{} is not supported",
            o.class
        )));
    };
    match entry.kind {
        Kind::Pipeline => {
            for (step, est) in steps(o)? {
                chain_object(est, &step, depth + 1, code, out)?;
            }
            Ok(())
        }
        Kind::Search => {
            let a = Attrs::new(o)?;
            match a.opt("best_estimator_") {
                Some(Value::Object(best)) => chain_object(best, name, depth + 1, code, out),
                _ => Err(EngineError::unsupported(format!(
                    "{} holds no best_estimator_: it was fitted with refit=False (or not \
                     fitted), so it has no model to serve. Fit it with refit=True, or save \
                     the estimator you chose",
                    o.class
                ))),
            }
        }
        // Registered as data for the `ColumnTransformer` that stores its
        // `"passthrough"` as one; as a step of its own it stands for the
        // user's function, whose code the pickle does not hold.
        Kind::Data if o.class.name == "FunctionTransformer" => {
            Err(EngineError::unsupported(format!(
                "{name} is a {}: FunctionTransformer steps are not supported (with a `func`, \
                 the pickle holds only the function's name, not its code)",
                o.class
            )))
        }
        Kind::Data => Err(EngineError::unsupported(format!(
            "{name} is a {}, which is data inside an estimator, not an estimator",
            o.class
        ))),
        Kind::Text | Kind::Transform(_) | Kind::Classifier(_) => {
            out.push((name.to_string(), o));
            Ok(())
        }
    }
}

/// Builds a model from the pickled values of its parts, in order: one
/// `Pipeline` (the common case), or the files of a model saved in pieces
/// (`vectorizer.pkl` then `model.pkl`), each possibly a tuple, a list or a
/// search. `max_dense` bounds each dense weight table, in bytes (see
/// `crate::model::dense_budget`).
pub(crate) fn build(roots: &[&Value], max_dense: usize, code: &TextCode) -> Result<Built> {
    let mut steps = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        let name = if roots.len() == 1 {
            "the file".to_string()
        } else {
            format!("file {}", i + 1)
        };
        chain(root, &name, 0, code, &mut steps)?;
    }
    let ctx = Ctx { max_dense };
    // Declared custom steps come first: each maps a text to a text before
    // the vectorizer sees it. Anywhere else they would take rows, which a
    // declaration cannot describe.
    let n_pre = steps
        .iter()
        .take_while(|(_, o)| code.declares(&o.class))
        .count();
    let mut pre = Vec::with_capacity(n_pre);
    for (name, o) in &steps[..n_pre] {
        pre.push(code.bind_object(o, &format!("Pipeline step {name:?}"), Shape::Str)?);
    }
    if let Some((name, o)) = steps[n_pre..].iter().find(|(_, o)| code.declares(&o.class)) {
        return Err(EngineError::Declaration(format!(
            "{} (step {name:?}) is declared as a text step, but it comes after the vectorizer, where it would take feature rows; declared steps must come before the vectorizer",
            o.class
        )));
    }
    let steps = &steps[n_pre..];
    let Some(((last_name, last), head)) = steps.split_last() else {
        return Err(EngineError::unsupported("the model has no steps"));
    };
    let Some(Kind::Classifier(build_classifier)) = registry::lookup(&last.class).map(|e| e.kind)
    else {
        return Err(EngineError::unsupported(format!(
            "the model ends with {last_name:?} ({}), not a classifier (supported: {})",
            last.class,
            registry::classifier_names().join(", ")
        )));
    };
    let Some(((first_name, first), _)) = head.split_first() else {
        return Err(EngineError::unsupported(format!(
            "the model is a bare {}; Falcon serves models that take raw text: a \
             Pipeline(vectorizer, classifier), or the vectorizer and the classifier as \
             separate files or a tuple",
            last.class
        )));
    };
    if !matches!(
        registry::lookup(&first.class).map(|e| e.kind),
        Some(Kind::Text)
    ) {
        return Err(EngineError::unsupported(format!(
            "the model starts with {first_name:?} ({}), which does not take raw text: the \
             first step must be a vectorizer (CountVectorizer, TfidfVectorizer, \
             HashingVectorizer, FeatureUnion)",
            first.class
        )));
    }
    // The text step: the vectorizer and the `TfidfTransformer`s right
    // after it (computed together, see `features`).
    let text_len = 1 + head[1..]
        .iter()
        .take_while(|(_, o)| o.class.name == "TfidfTransformer")
        .count();
    let mut classifier = build_classifier(last, &ctx)?;
    let mut extractor = Extractor::from_steps(&head[..text_len], 0, &mut 0, code)?;
    let (transforms, n, sparse) =
        crate::transform::build_chain(&head[text_len..], extractor.n_features(), true, &ctx)?;
    classifier.check_input(sparse)?;
    let want = classifier.n_features();
    if n != want {
        return Err(EngineError::unsupported(format!(
            "the classifier expects {want} features but the steps before it produce {n}"
        )));
    }
    // Fast path: an idf step feeding a linear classifier reads `idf_[col]`
    // and then the weights of `col` for each of a document's columns; one
    // interleaved table makes that one cache miss instead of two. Only
    // where the numbers are loaded from changes, not how they combine.
    if transforms.is_empty()
        && let (Some(t), Some(l)) = (extractor.last_tfidf_mut(), classifier.as_linear_mut())
    {
        t.fuse_with(&mut l.weights);
    }
    Ok(Built {
        pre,
        extractor,
        transforms,
        classifier,
    })
}
