//! A loaded model: the public face of the engine.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::Label;
use std::borrow::Cow;
use std::sync::Arc;

use crate::classify::{Classifier, MultiScores, OutputKind};
use crate::custom::{Program, TextCode};
use crate::error::{EngineError, Result};
use crate::features::{Extractor, SeenNames};
use crate::row::Row;
use crate::transform::Transform;

/// A scikit-learn text pipeline, loaded natively and ready to predict.
///
/// `Model` is immutable and `Send + Sync`: one instance serves every thread.
pub struct Model {
    /// Text → text steps before the text step: the declared `preprocess`
    /// and declared custom `Pipeline` steps (see `crate::custom`), in order.
    pre: Vec<Arc<Program>>,
    /// Text → sparse row.
    extractor: Extractor,
    /// Row → row steps between the text step and the classifier.
    transforms: Vec<Box<dyn Transform>>,
    classifier: Classifier,
    /// Human-readable step descriptions, for `model inspect`.
    steps: Vec<String>,
    file_bytes: usize,
    /// Which scikit-learn release fitted the model and which text rules
    /// Falcon applies (see [`Model::provenance`]).
    provenance: String,
    /// `classes_` renamed by [`Model::rename_classes`]: every consumer reads
    /// [`Model::classes`], so one replacement renames every output.
    renamed: Option<Vec<Label>>,
    /// [`Model::search_summary`].
    search: Option<String>,
}

/// What the model predicts for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index into [`Model::classes`] of the predicted label.
    pub label: usize,
    /// `predict_proba`, in class order, when the estimator has it.
    pub probabilities: Option<Vec<f64>>,
    /// `decision_function`: one value for a binary model, one per class
    /// otherwise; `None` when the estimator has none (naive Bayes).
    pub decision: Option<Vec<f64>>,
}

/// One input: a text, or a record of named text columns (for a model
/// whose first step is a `ColumnTransformer`, see [`Model::input_columns`]).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Text(&'a str),
    /// `(column, text)` pairs; every column of [`Model::input_columns`]
    /// must be there, and no column the model was not fitted with.
    Record(&'a [(&'a str, &'a str)]),
}

/// What a multi-label model predicts for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLabelPrediction {
    /// Indices into [`Model::classes`] of the positive classes, in class
    /// order (scikit-learn's indicator row).
    pub labels: Vec<usize>,
    /// `predict_proba`: each class's own probability (not normalised: a
    /// text can have several labels).
    pub probabilities: Option<Vec<f64>>,
    /// `decision_function`, one value per class.
    pub decision: Option<Vec<f64>>,
}

/// What the model predicts for one input, whatever the shape of its
/// answer (see [`Model::output_kind`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Single(Prediction),
    MultiLabel(MultiLabelPrediction),
    /// One prediction per output, each indexing its own classes
    /// ([`Model::output_classes`]); no decision values.
    MultiOutput(Vec<Prediction>),
}

/// One n-gram's additive share of the predicted class's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: String,
    pub contribution: f64,
}

impl Model {
    /// Loads a joblib or pickle file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_chain(std::slice::from_ref(&path))
    }

    /// Loads a model saved as several files (`vectorizer.joblib`, then
    /// `classifier.joblib`): their estimators are chained in the order
    /// given, as if they were the steps of one `Pipeline`. Each file may
    /// itself hold a `Pipeline`, a tuple or list of estimators, or a search.
    pub fn load_chain<P: AsRef<Path>>(paths: &[P]) -> Result<Self> {
        Self::load_chain_with(paths, &TextCode::none())
    }

    /// [`Model::load_chain`] of a model that names the user's own text
    /// code, with its declarations (`code`): the declared callables may
    /// appear in the pickle (as inert names and data), and run as their
    /// declared programs; `code`'s `preprocess` applies to every input.
    pub fn load_chain_with<P: AsRef<Path>>(paths: &[P], code: &TextCode) -> Result<Self> {
        let (loaded, file_bytes) = Self::unpickle_files(paths, code, |_| {})?;
        Self::from_loaded(loaded, file_bytes, code)
    }

    /// Reads and unpickles each file, calling `each` on its contents, and
    /// returns them with the files' total size. Each file's bytes are
    /// released as soon as it is unpickled, before any table is built, so
    /// they do not add to the load's peak.
    fn unpickle_files<P: AsRef<Path>>(
        paths: &[P],
        code: &TextCode,
        mut each: impl FnMut(&falcon_pickle::Loaded),
    ) -> Result<(Vec<falcon_pickle::Loaded>, usize)> {
        let mut loaded = Vec::with_capacity(paths.len());
        let mut file_bytes = 0;
        let policy = code.policy();
        for path in paths {
            let path = path.as_ref();
            let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let l = falcon_pickle::load_with_origin(&bytes, &policy)
                .map_err(|e| Self::in_file(paths.len(), path, crate::custom::explain_refusal(e)))?;
            file_bytes += bytes.len();
            drop(bytes);
            each(&l);
            loaded.push(l);
        }
        Ok((loaded, file_bytes))
    }

    /// Names the file in an error, when there are several.
    fn in_file(n: usize, path: &Path, e: EngineError) -> EngineError {
        if n > 1 {
            EngineError::InFile {
                path: path.display().to_string(),
                source: Box::new(e),
            }
        } else {
            e
        }
    }

    /// Loads a model from the bytes of a joblib or pickle file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let loaded = falcon_pickle::load_with_origin(bytes, &crate::registry::sklearn_policy())
            .map_err(crate::custom::explain_refusal)?;
        Self::from_loaded(vec![loaded], bytes.len(), &TextCode::none())
    }

    /// [`Model::from_values`] of files' unpickled contents, refusing what
    /// a stream reveals the engine cannot reproduce (a Python 2 pickle).
    fn from_loaded(
        loaded: Vec<falcon_pickle::Loaded>,
        file_bytes: usize,
        code: &TextCode,
    ) -> Result<Self> {
        if loaded.iter().any(|l| l.python2) {
            return Err(EngineError::unsupported(crate::release::PYTHON2_REFUSAL));
        }
        Self::from_values_with(
            loaded.into_iter().map(|l| l.value).collect(),
            file_bytes,
            code,
        )
    }

    /// Builds a model from an already unpickled tree, as if it had come
    /// from a file of `file_bytes` bytes (which sets the memory budget, see
    /// [`dense_budget`]): [`inspect`] unpickles a file once, describes the
    /// tree, then builds from it; tests craft hostile models in memory.
    #[doc(hidden)]
    pub fn from_value(root: falcon_pickle::Value, file_bytes: usize) -> Result<Self> {
        Self::from_values(vec![root], file_bytes)
    }

    /// [`Model::from_value`] of the parts of a model saved in several files.
    #[doc(hidden)]
    pub fn from_values(roots: Vec<falcon_pickle::Value>, file_bytes: usize) -> Result<Self> {
        Self::from_values_with(roots, file_bytes, &TextCode::none())
    }

    fn from_values_with(
        roots: Vec<falcon_pickle::Value>,
        file_bytes: usize,
        code: &TextCode,
    ) -> Result<Self> {
        let provenance = crate::release::provenance_of(&roots);
        let mut searches = Vec::new();
        for root in &roots {
            find_searches(root, 0, &mut searches);
        }
        let refs: Vec<&falcon_pickle::Value> = roots.iter().collect();
        let built = crate::pipeline::build(&refs, dense_budget(file_bytes), code)?;
        drop(refs);
        drop(roots);
        let mut pre: Vec<Arc<Program>> = code.preprocess_program().into_iter().collect();
        pre.extend(built.pre);
        if !pre.is_empty()
            && built
                .extractor
                .input_columns()
                .is_some_and(|c| c != ["text"])
        {
            return Err(EngineError::Declaration(
                "a preprocess step or a declared Pipeline step takes one text, but this model reads several named columns".into(),
            ));
        }
        let mut steps: Vec<String> = code
            .describe()
            .into_iter()
            .map(|d| format!("declared {d}"))
            .collect();
        built.extractor.describe("", &mut steps);
        for t in &built.transforms {
            steps.push(t.describe());
        }
        steps.push(built.classifier.describe());
        Ok(Model {
            pre,
            extractor: built.extractor,
            transforms: built.transforms,
            classifier: built.classifier,
            steps,
            file_bytes,
            provenance,
            renamed: None,
            search: (!searches.is_empty()).then(|| searches.join("; ")),
        })
    }

    /// `classes_`, in the order of probabilities and decisions (renamed,
    /// after [`Model::rename_classes`]). Empty for a multi-output model,
    /// whose outputs each have their own (see [`Model::output_classes`]).
    pub fn classes(&self) -> &[Label] {
        if let Some(renamed) = self.renamed.as_deref() {
            return renamed;
        }
        match self.classifier.as_multi() {
            Some(m) if m.kind() == OutputKind::MultiOutput => &[],
            _ => self.classifier.classes(),
        }
    }

    /// The shape of the model's answer: one label, several labels out of
    /// one set of classes, or one label per output.
    pub fn output_kind(&self) -> OutputKind {
        self.classifier
            .as_multi()
            .map_or(OutputKind::Single, |m| m.kind())
    }

    /// The classes of each output: one entry for single-label and
    /// multi-label models, one per output for multi-output models.
    pub fn output_classes(&self) -> Vec<&[Label]> {
        if let Some(renamed) = self.renamed.as_deref() {
            return vec![renamed];
        }
        match self.classifier.as_multi() {
            Some(m) => m.output_classes(),
            None => vec![self.classifier.classes()],
        }
    }

    /// The columns an input record must have, for a model whose first step
    /// is a `ColumnTransformer`; `None` for a model that takes one text.
    /// A record model whose only column is `text` also answers
    /// [`Model::predict`].
    pub fn input_columns(&self) -> Option<&[String]> {
        self.extractor.input_columns()
    }

    /// Renames classes for every output: `mapping` goes from Python's
    /// `str(class)` of a fitted class (how Falcon keys classes everywhere)
    /// to the name to show instead, a string. Classes it does not name keep
    /// their own label.
    ///
    /// Why at the model: the label, the `probabilities`/`decision` keys, the
    /// OIP outputs, the cache and the prediction log all read
    /// [`Model::classes`], so renaming here renames all of them at once and
    /// none can disagree. A mapping that names no fitted class, or that would
    /// give two classes one name, is refused: either would silently mislabel
    /// predictions. Keys are matched against the original classes, so
    /// calling it again replaces the previous renaming.
    pub fn rename_classes(&mut self, mapping: &BTreeMap<String, String>) -> Result<()> {
        if self.output_kind() == OutputKind::MultiOutput {
            return Err(EngineError::Labels(
                "a multi-output model has one set of classes per output; renaming them is not supported".into(),
            ));
        }
        let original = self.classifier.classes();
        let names: Vec<String> = original.iter().map(ToString::to_string).collect();
        let list = || {
            let mut l = names
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > 20 {
                l.push_str(", …");
            }
            l
        };
        // Hash maps, not scans: a model may have thousands of classes.
        let mut index: std::collections::HashMap<&str, Option<usize>> =
            std::collections::HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index
                .entry(n.as_str())
                .and_modify(|e| *e = None)
                .or_insert(Some(i));
        }
        let mut out: Vec<Label> = original.to_vec();
        for (key, new) in mapping {
            let i = match index.get(key.as_str()) {
                Some(Some(i)) => *i,
                Some(None) => {
                    return Err(EngineError::Labels(format!(
                        "{key:?} names several classes of the model (its classes are {})",
                        list()
                    )));
                }
                None => {
                    return Err(EngineError::Labels(format!(
                        "{key:?} is not a class of the model (its classes are {})",
                        list()
                    )));
                }
            };
            if new.is_empty() {
                return Err(EngineError::Labels(format!(
                    "class {key:?} is renamed to an empty name"
                )));
            }
            out[i] = Label::Str(new.clone());
        }
        let mut seen: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(out.len());
        for (i, l) in out.iter().enumerate() {
            if let Some(j) = seen.insert(l.to_string(), i) {
                return Err(EngineError::Labels(format!(
                    "classes {} and {} would both be called {:?}",
                    names[j],
                    names[i],
                    l.to_string()
                )));
            }
        }
        self.renamed = Some(out);
        Ok(())
    }

    /// For a model saved as a hyper-parameter search (`GridSearchCV` & co.,
    /// served through `best_estimator_`): which search chose it,
    /// `best_params_` and `best_score_`, e.g. `"GridSearchCV: best_params_
    /// {'clf__C': 10.0}, best_score_ 0.9731"`. Shown by `model inspect`, so
    /// whoever serves a search sees which candidate is being served.
    pub fn search_summary(&self) -> Option<&str> {
        self.search.as_deref()
    }

    pub fn has_probabilities(&self) -> bool {
        self.classifier.has_proba()
    }

    pub fn has_decision(&self) -> bool {
        self.classifier.has_decision()
    }

    /// Whether `decision` holds one value per pair of classes (`(0, 1),
    /// (0, 2), …, (1, 2), …`: `k(k-1)/2` values) instead of one per class:
    /// an `SVC`/`NuSVC` with `decision_function_shape="ovo"` and three or
    /// more classes.
    pub fn decision_per_pair(&self) -> bool {
        self.classifier.decision_per_pair()
    }

    /// Width of the feature vector.
    pub fn n_features(&self) -> usize {
        self.extractor.n_features()
    }

    /// `predict`, `predict_proba` and `decision_function` for one text.
    ///
    /// Fails only when a `token_pattern` that needs backtracking exceeds
    /// its step budget on this text, rather than answer differently from
    /// Python.
    ///
    /// A multi-label or multi-output model is refused with
    /// [`EngineError::MultiOutput`]: its answer does not fit a
    /// [`Prediction`] (see [`Model::predict_output`]).
    pub fn predict(&self, text: &str) -> Result<Prediction> {
        self.single(Input::Text(text))
    }

    /// [`Model::predict`] of a record (a `ColumnTransformer` model).
    pub fn predict_record(&self, record: &[(&str, &str)]) -> Result<Prediction> {
        self.single(Input::Record(record))
    }

    fn single(&self, input: Input<'_>) -> Result<Prediction> {
        if let Some(m) = self.classifier.as_multi() {
            return Err(EngineError::MultiOutput(format!(
                "this model is {}: it answers several labels per input (Model::predict_output)",
                describe_kind(m.kind())
            )));
        }
        let row = self.rows(self.features(input, None)?);
        let s = self.classifier.try_score(&row)?;
        s.check_finite()?;
        Ok(Prediction {
            label: s.label,
            probabilities: s.probabilities,
            decision: s.decision,
        })
    }

    /// `predict`, `predict_proba` and `decision_function` for one input,
    /// for every kind of model.
    pub fn predict_output(&self, input: Input<'_>) -> Result<Output> {
        let Some(m) = self.classifier.as_multi() else {
            return self.single(input).map(Output::Single);
        };
        let row = self.rows(self.features(input, None)?);
        let s = m.score_multi(&row);
        s.check_finite()?;
        Ok(match s {
            MultiScores::Labels {
                positive,
                probabilities,
                decision,
            } => Output::MultiLabel(MultiLabelPrediction {
                labels: positive,
                probabilities,
                decision,
            }),
            MultiScores::Outputs(outs) => Output::MultiOutput(
                outs.into_iter()
                    .map(|s| Prediction {
                        label: s.label,
                        probabilities: s.probabilities,
                        decision: s.decision,
                    })
                    .collect(),
            ),
        })
    }

    /// The text step's row for one input.
    fn features(
        &self,
        input: Input<'_>,
        seen: Option<&mut SeenNames>,
    ) -> Result<crate::sparse::SparseRow> {
        match input {
            Input::Text(t) if !self.pre.is_empty() => {
                let t = self.preprocessed(t)?;
                self.extractor.transform(&t, seen)
            }
            Input::Text(t) => self.extractor.transform(t, seen),
            Input::Record(r) => self.extractor.transform_record(r, seen),
        }
    }

    /// The text after the declared text → text steps (the text itself when
    /// there are none).
    pub fn preprocessed<'t>(&self, text: &'t str) -> Result<Cow<'t, str>> {
        let mut t = Cow::Borrowed(text);
        for p in &self.pre {
            t = Cow::Owned(p.string(&t)?);
        }
        Ok(t)
    }

    /// The prediction plus the `k` features that pushed the predicted class's
    /// score up the most, largest first. Exact for these models: the score
    /// is linear in the features, so contributions plus the intercept (or
    /// prior) sum to it.
    pub fn explain(&self, text: &str, k: usize) -> Result<(Prediction, Vec<Contribution>)> {
        self.explain_input(Input::Text(text), k)
    }

    /// [`Model::explain`] for any input. Multi-label and multi-output
    /// models are refused with [`EngineError::ExplainUnsupported`].
    pub fn explain_input(
        &self,
        input: Input<'_>,
        k: usize,
    ) -> Result<(Prediction, Vec<Contribution>)> {
        if let Some(m) = self.classifier.as_multi() {
            return Err(EngineError::ExplainUnsupported(format!(
                "the model is {}; explanations cover one predicted class",
                describe_kind(m.kind())
            )));
        }
        let mut seen = SeenNames::new();
        let text_row = self.features(input, Some(&mut seen))?;
        let row = self.rows(text_row);
        let s = self.classifier.try_score(&row)?;
        s.check_finite()?;
        let unsupported = || {
            EngineError::ExplainUnsupported(format!(
                "the predicted score of {} is not a sum of per-feature contributions",
                self.steps.last().map_or("this model", |s| s.as_str())
            ))
        };
        let mut contribs = self
            .classifier
            .contributions(&row.to_sparse(), s.label)
            .ok_or_else(unsupported)?;
        // Back through the transforms to the vectorizer's columns (only
        // for transforms that copy or scale single columns).
        for t in self.transforms.iter().rev() {
            for (col, _) in &mut contribs {
                *col = t.source_column(*col).ok_or_else(unsupported)?;
            }
        }
        contribs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top = contribs
            .into_iter()
            .take(k)
            .map(|(col, contribution)| Contribution {
                feature: self
                    .extractor
                    .feature_name(col)
                    .or_else(|| seen.get(&col).cloned())
                    .unwrap_or_else(|| format!("#{col}")),
                contribution,
            })
            .collect();
        let p = Prediction {
            label: s.label,
            probabilities: s.probabilities,
            decision: s.decision,
        };
        Ok((p, top))
    }

    /// One line per pipeline step.
    /// `"trained with scikit-learn 0.24.2; text rules of CPython 3.11
    /// (Unicode 14.0.0)"`: the release recorded in the pickle (its
    /// `_sklearn_version`), whose arithmetic the engine follows where
    /// releases differ, and the Python text semantics it applies.
    pub fn provenance(&self) -> &str {
        &self.provenance
    }

    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// Heap bytes held by the fitted parameters (vocabulary, weights).
    pub fn memory_bytes(&self) -> usize {
        self.extractor.heap_bytes()
            + self
                .transforms
                .iter()
                .map(|t| t.heap_bytes())
                .sum::<usize>()
            + self.classifier.heap_bytes()
    }

    /// The text step's row through every transform: the classifier's input.
    fn rows(&self, text_row: crate::sparse::SparseRow) -> Row {
        let mut row = Row::Sparse(text_row);
        for t in &self.transforms {
            row = t.apply(row);
        }
        row
    }

    /// Size of the file the model came from.
    pub fn file_bytes(&self) -> usize {
        self.file_bytes
    }

    /// A JSON-serialisable view of any [`Output`]: a single-label output
    /// is exactly [`Model::view`]'s JSON.
    pub fn view_output<'a>(&'a self, o: &'a Output) -> OutputView<'a> {
        OutputView {
            model: self,
            output: o,
        }
    }

    /// A JSON-serialisable view of `p` in Falcon's output format.
    pub fn view<'a>(&'a self, p: &'a Prediction) -> PredictionView<'a> {
        PredictionView {
            classes: self.classes(),
            prediction: p,
            explanation: None,
            per_pair: self.classifier.decision_per_pair(),
        }
    }
}

fn describe_kind(k: OutputKind) -> &'static str {
    match k {
        OutputKind::Single => "single-label",
        OutputKind::MultiLabel => "multi-label (OneVsRestClassifier on a label indicator matrix)",
        OutputKind::MultiOutput => "multi-output (MultiOutputClassifier)",
    }
}

/// The most bytes one dense parameter table (a classifier's weights,
/// with an interleaved `idf_`) may take for a model file of `file_bytes`
/// bytes: 48 MiB, plus 20 times the file size.
///
/// Why from the file size: a real model's weights are in its file, so
/// they take about the file's size (twice for float32 or a compressed
/// joblib of noisy floats). A hostile file can declare
/// `HashingVectorizer(n_features=50_000_000)` with a `coef_` of
/// compressed zeros: 55 KB on disk, gigabytes as tables. The bound keeps
/// a load within the product's rule, peak RSS <= 128 MiB + 50 x file
/// size, with room for the unpickled tree (which holds the same numbers
/// while the tables are built); the 48 MiB floor admits any model whose
/// tables are small whatever its compression.
pub(crate) fn dense_budget(file_bytes: usize) -> usize {
    (48usize << 20).saturating_add(file_bytes.saturating_mul(20))
}

/// `{"label": ..., "probabilities": {"<class>": p}, "decision": ...,
/// "explanation": [...]}`, the format shared by `falcon predict` and the
/// HTTP API. Class keys are Python's `str(class)`.
pub struct PredictionView<'a> {
    classes: &'a [Label],
    prediction: &'a Prediction,
    explanation: Option<&'a [Contribution]>,
    /// The decision has one value per pair of classes (see
    /// `Estimator::decision_per_pair`): keyed `"<a> vs <b>"`.
    per_pair: bool,
}

impl<'a> PredictionView<'a> {
    pub fn with_explanation(mut self, e: &'a [Contribution]) -> Self {
        self.explanation = Some(e);
        self
    }
}

/// Serialises `values` as a map keyed by `str(class)`.
struct PerClass<'a>(&'a [Label], &'a [f64]);

impl Serialize for PerClass<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.1.len()))?;
        for (c, v) in self.0.iter().zip(self.1) {
            m.serialize_entry(&*c.name(), v)?;
        }
        m.end()
    }
}

/// Serialises one value per pair of classes `(i, j)`, `i < j` in order,
/// as a map keyed `"str(class_i) vs str(class_j)"`.
struct PerPair<'a>(&'a [Label], &'a [f64]);

impl Serialize for PerPair<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.1.len()))?;
        let mut values = self.1.iter();
        for (i, a) in self.0.iter().enumerate() {
            for b in &self.0[i + 1..] {
                if let Some(v) = values.next() {
                    m.serialize_entry(&format!("{a} vs {b}"), v)?;
                }
            }
        }
        m.end()
    }
}

impl Serialize for PredictionView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let p = self.prediction;
        // `Prediction`'s fields are public: a hand-made one with a label
        // outside `classes_` is a serialisation error, not a panic.
        let label = self.classes.get(p.label).ok_or_else(|| {
            serde::ser::Error::custom(format!(
                "label index {} outside the {} classes",
                p.label,
                self.classes.len()
            ))
        })?;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("label", label)?;
        if let Some(probs) = &p.probabilities {
            m.serialize_entry("probabilities", &PerClass(self.classes, probs))?;
        }
        match p.decision.as_deref() {
            Some(d) if self.per_pair => m.serialize_entry("decision", &PerPair(self.classes, d))?,
            Some([d]) => m.serialize_entry("decision", d)?,
            Some(d) => m.serialize_entry("decision", &PerClass(self.classes, d))?,
            None => {}
        }
        if let Some(e) = self.explanation {
            m.serialize_entry("explanation", e)?;
        }
        m.end()
    }
}

/// Describes every search (`GridSearchCV` & co.) among a model's pickled
/// values: at the top, in a tuple or list, or as a `Pipeline` step. Bounded
/// like the chain itself, so a hostile nesting cannot recurse deeply.
fn find_searches(v: &falcon_pickle::Value, depth: usize, out: &mut Vec<String>) {
    use falcon_pickle::Value;
    match v {
        Value::Tuple(items) | Value::List(items) if depth <= crate::features::MAX_NESTING => {
            for item in items {
                find_searches(item, depth + 1, out);
            }
        }
        Value::Object(o) => find_searches_in(o, depth, out),
        _ => {}
    }
}

/// [`find_searches`] of one pickled estimator. Reads the tree in place:
/// nothing is copied (a nested `Pipeline` holds the whole vocabulary).
fn find_searches_in(o: &falcon_pickle::Object, depth: usize, out: &mut Vec<String>) {
    use crate::registry::Kind;
    if depth > crate::features::MAX_NESTING || out.len() > crate::features::MAX_PARTS {
        return;
    }
    match crate::registry::lookup(&o.class).map(|e| e.kind) {
        Some(Kind::Search) => {
            let params = o
                .attr("best_params_")
                .map_or_else(|| "?".to_string(), py_repr);
            let score = o
                .attr("best_score_")
                .map_or_else(|| "?".to_string(), py_repr);
            out.push(format!(
                "{}: best_params_ {params}, best_score_ {score}",
                o.class.name
            ));
            if let Some(best) = o.attr("best_estimator_") {
                find_searches(best, depth + 1, out);
            }
        }
        Some(Kind::Pipeline) => {
            if let Ok(steps) = crate::pipeline::steps(o) {
                for (_, est) in steps {
                    find_searches_in(est, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// Python's `repr` of a search's parameters and score, as far as the
/// pickled values allow (an estimator is shown by its class name). Bounded
/// in length: a hostile `best_params_` cannot make a huge line.
fn py_repr(v: &falcon_pickle::Value) -> String {
    let mut out = String::new();
    repr_into(v, 0, &mut out);
    if out.len() > 1000 {
        let mut cut = 1000;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn repr_into(v: &falcon_pickle::Value, depth: usize, out: &mut String) {
    use falcon_pickle::Value;
    use std::fmt::Write;
    if depth > 8 || out.len() > 1000 {
        out.push('…');
        return;
    }
    let seq = |items: &[Value], open: &str, close: &str, out: &mut String| {
        out.push_str(open);
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            repr_into(x, depth + 1, out);
        }
        if open == "(" && items.len() == 1 {
            out.push(',');
        }
        out.push_str(close);
    };
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(x) => out.push_str(&py_float(*x)),
        Value::Str(s) => {
            let _ = write!(out, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        }
        Value::List(items) => seq(items, "[", "]", out),
        Value::Tuple(items) => seq(items, "(", ")", out),
        Value::Dict(pairs) => {
            out.push('{');
            for (i, (k, x)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(k, depth + 1, out);
                out.push_str(": ");
                repr_into(x, depth + 1, out);
            }
            out.push('}');
        }
        Value::Array(a) => match a.to_f64_vec() {
            Some(v) if v.len() == 1 && a.dtype.kind == 'f' => out.push_str(&py_float(v[0])),
            Some(v) if v.len() == 1 => {
                let _ = write!(out, "{}", v[0]);
            }
            _ => {
                let _ = write!(out, "array{:?}", a.shape);
            }
        },
        Value::Object(o) => {
            let _ = write!(out, "{}(…)", o.class.name);
        }
        Value::Global(g) => out.push_str(&g.name),
        other => out.push_str(&other.type_name()),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral
/// values, exponent form outside `[1e-4, 1e16)`.
fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust: `1e-5`, Python: `1e-05`.
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
        return format!("{m}e{sign}{digits:0>2}");
    }
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// [`Output`] in Falcon's JSON format:
///
/// * single-label: [`PredictionView`]'s object, unchanged;
/// * multi-label: `{"label": [<positive classes>], "probabilities":
///   {"<class>": p, ...}, "decision": {"<class>": d, ...}}` (every class
///   keeps its value; probabilities are not normalised);
/// * multi-output: `{"label": [<one label per output>], "probabilities":
///   [{"<class>": p, ...} per output]}`.
pub struct OutputView<'a> {
    model: &'a Model,
    output: &'a Output,
}

/// A label index checked against its classes (a hand-made output may hold
/// any index: a serialisation error, not a panic).
fn class_at<E: serde::ser::Error>(classes: &[Label], i: usize) -> Result<&Label, E> {
    classes.get(i).ok_or_else(|| {
        E::custom(format!(
            "label index {i} outside the {} classes",
            classes.len()
        ))
    })
}

/// A label as `predict` gives it: itself, or its `str()` when numpy
/// stacks labels of several types into one string array.
enum LabelOut<'a> {
    Plain(&'a Label),
    Str(String),
}

impl Serialize for LabelOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            LabelOut::Plain(l) => l.serialize(s),
            LabelOut::Str(v) => s.serialize_str(v),
        }
    }
}

impl Serialize for OutputView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let classes = self.model.output_classes();
        match self.output {
            Output::Single(p) => self.model.view(p).serialize(s),
            Output::MultiLabel(p) => {
                let all = classes.first().copied().unwrap_or(&[]);
                let labels = p
                    .labels
                    .iter()
                    .map(|&i| class_at(all, i))
                    .collect::<Result<Vec<_>, S::Error>>()?;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("label", &labels)?;
                if let Some(probs) = &p.probabilities {
                    m.serialize_entry("probabilities", &PerClass(all, probs))?;
                }
                if let Some(d) = &p.decision {
                    m.serialize_entry("decision", &PerClass(all, d))?;
                }
                m.end()
            }
            Output::MultiOutput(outs) => {
                if outs.len() != classes.len() {
                    return Err(serde::ser::Error::custom(format!(
                        "{} outputs for a model of {}",
                        outs.len(),
                        classes.len()
                    )));
                }
                let as_str = self
                    .model
                    .classifier
                    .as_multi()
                    .is_some_and(|m| m.labels_as_str());
                let labels = outs
                    .iter()
                    .zip(&classes)
                    .map(|(p, c)| {
                        let l = class_at(c, p.label)?;
                        Ok(if as_str {
                            LabelOut::Str(l.to_string())
                        } else {
                            LabelOut::Plain(l)
                        })
                    })
                    .collect::<Result<Vec<_>, S::Error>>()?;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("label", &labels)?;
                if outs.iter().all(|p| p.probabilities.is_some()) && !outs.is_empty() {
                    let per: Vec<PerClass<'_>> = outs
                        .iter()
                        .zip(&classes)
                        .map(|(p, c)| PerClass(c, p.probabilities.as_deref().unwrap_or(&[])))
                        .collect();
                    m.serialize_entry("probabilities", &per)?;
                }
                m.end()
            }
        }
    }
}

/// What `falcon model inspect` reports about a file, supported or not.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// The file, or the files of a model saved as several joined by ` + `.
    pub path: String,
    /// Every file of the model, in chain order.
    pub files: Vec<String>,
    /// Total size of the files.
    pub file_bytes: u64,
    /// The pipeline's steps: from the loaded model when it is supported,
    /// otherwise from the raw pickled tree as far as it could be read.
    pub steps: Vec<String>,
    /// [`Model::provenance`], when the model loads.
    pub provenance: Option<String>,
    /// [`Model::search_summary`], when the model loads and is a search.
    pub search: Option<String>,
    pub classes: Vec<String>,
    pub n_features: Option<usize>,
    pub memory_bytes: Option<usize>,
    pub load_time_ms: f64,
    pub supported: bool,
    /// Why the model cannot be served, when it cannot.
    pub reason: Option<String>,
}

/// Inspects a model file without failing: an unsupported model is described
/// as far as possible, with the exact reason it is refused.
pub fn inspect(path: &Path) -> Inspection {
    inspect_chain(std::slice::from_ref(&path))
}

/// [`inspect`] of a model saved as several files, chained in order as
/// [`Model::load_chain`] does.
pub fn inspect_chain<P: AsRef<Path>>(paths: &[P]) -> Inspection {
    inspect_chain_with(paths, &TextCode::none())
}

/// [`inspect_chain`] with declarations of the user's own text code (see
/// [`Model::load_chain_with`]); the declarations in use are listed first
/// among the steps.
pub fn inspect_chain_with<P: AsRef<Path>>(paths: &[P], code: &TextCode) -> Inspection {
    let started = Instant::now();
    let files: Vec<String> = paths
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect();
    let file_bytes = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut out = Inspection {
        path: files.join(" + "),
        files,
        file_bytes,
        steps: Vec::new(),
        provenance: None,
        search: None,
        classes: Vec::new(),
        n_features: None,
        memory_bytes: None,
        load_time_ms: 0.0,
        supported: false,
        reason: None,
    };
    // Each file is read and unpickled once (a slow refused file used to be
    // parsed a second time to list its steps): the raw trees' steps are
    // noted before the model is built from them.
    let mut raw = Vec::new();
    let loaded = Model::unpickle_files(paths, code, |l| raw.extend(raw_steps(&l.value)))
        .and_then(|(loaded, total)| Model::from_loaded(loaded, total, code));
    out.load_time_ms = ms(started.elapsed());
    match loaded {
        Ok(m) => {
            out.steps = m.steps().to_vec();
            out.provenance = Some(m.provenance().to_string());
            out.search = m.search_summary().map(str::to_string);
            out.classes = if m.output_kind() == OutputKind::MultiOutput {
                // One set of classes per output: "output 0: [ham, spam]".
                m.output_classes()
                    .iter()
                    .enumerate()
                    .map(|(i, cs)| {
                        let names: Vec<String> = cs.iter().map(ToString::to_string).collect();
                        format!("output {i}: [{}]", names.join(", "))
                    })
                    .collect()
            } else {
                m.classes().iter().map(ToString::to_string).collect()
            };
            out.n_features = Some(m.n_features());
            out.memory_bytes = Some(m.memory_bytes());
            out.supported = true;
        }
        Err(e) => {
            out.reason = Some(e.to_string());
            out.steps = raw;
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Step class names read from the pickled tree (class names only: no
/// estimator is built), so an unsupported pipeline can be shown.
fn raw_steps(root: &falcon_pickle::Value) -> Vec<String> {
    let mut out = Vec::new();
    describe_tree(root, "", &mut out);
    out
}

/// Lists the estimators of a raw tree, at most
/// [`crate::features::MAX_NESTING`] levels deep (the recursion must not
/// follow a hostile file's depth).
fn describe_tree(v: &falcon_pickle::Value, indent: &str, out: &mut Vec<String>) {
    use falcon_pickle::Value;
    if indent.len() > 2 * crate::features::MAX_NESTING {
        out.push(format!("{indent}…"));
        return;
    }
    if let Value::Tuple(items) | Value::List(items) = v {
        for item in items {
            describe_tree(item, &format!("{indent}  "), out);
        }
        return;
    }
    if let Value::Object(o) = v {
        out.push(format!("{indent}{}", o.class));
        if let Some(best) = o.attr("best_estimator_") {
            describe_tree(best, &format!("{indent}  "), out);
        }
        if let Some(state) = o.state.as_deref()
            && let Value::Dict(d) = state
        {
            for (k, val) in d {
                if let (Value::Str(k), Value::List(items)) = (k, val)
                    && (k == "steps" || k == "transformer_list")
                {
                    for item in items {
                        if let Value::Tuple(p) = item
                            && p.len() == 2
                        {
                            describe_tree(&p[1], &format!("{indent}  "), out);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renamed_classes_are_what_every_output_shows() {
        let mut m = Model::load(&fixture("lr_no_intercept_bin_int.pkl")).unwrap();
        assert_eq!(m.classes(), &[Label::Int(0), Label::Int(1)]);
        let p = m.predict("free money now").unwrap();
        m.rename_classes(&map(&[("0", "ham"), ("1", "spam")]))
            .unwrap();
        assert_eq!(
            m.classes(),
            &[Label::Str("ham".into()), Label::Str("spam".into())]
        );
        let json = serde_json::to_value(m.view(&p)).unwrap();
        assert!(json["label"].is_string(), "{json}");
        let probs = json["probabilities"].as_object().unwrap();
        assert_eq!(probs.keys().collect::<Vec<_>>(), ["ham", "spam"]);
        // A partial mapping renames only what it names; renaming again
        // starts from the fitted classes.
        m.rename_classes(&map(&[("1", "spam")])).unwrap();
        assert_eq!(m.classes(), &[Label::Int(0), Label::Str("spam".into())]);
    }

    #[test]
    fn bad_mappings_are_refused_and_leave_the_names() {
        let mut m = Model::load(&fixture("lr_no_intercept_bin_int.pkl")).unwrap();
        let e = m.rename_classes(&map(&[("7", "x")])).unwrap_err();
        assert!(e.to_string().contains("\"7\" is not a class"), "{e}");
        assert!(e.to_string().contains("0, 1"), "{e}");
        let e = m
            .rename_classes(&map(&[("0", "same"), ("1", "same")]))
            .unwrap_err();
        assert!(e.to_string().contains("both be called \"same\""), "{e}");
        // Renaming 0 to the name class 1 already has is a collision too.
        let e = m.rename_classes(&map(&[("0", "1")])).unwrap_err();
        assert!(e.to_string().contains("both be called \"1\""), "{e}");
        assert!(m.rename_classes(&map(&[("0", "")])).is_err());
        assert_eq!(m.classes(), &[Label::Int(0), Label::Int(1)]);
    }

    #[test]
    fn a_search_is_summarised_and_a_pipeline_is_not() {
        let m = Model::load(&fixture("pipelines/gridsearch_tfidf_lr.z.joblib")).unwrap();
        let s = m.search_summary().unwrap();
        assert!(s.starts_with("GridSearchCV: best_params_ {'"), "{s}");
        assert!(s.contains("best_score_ 0."), "{s}");
        let m = Model::load(&fixture("pipelines/tuple_tfidf_lr.z.joblib")).unwrap();
        assert_eq!(m.search_summary(), None);
    }

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(10.0), "10.0");
        assert_eq!(py_float(0.25), "0.25");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(2.5e16), "2.5e+16");
        assert_eq!(py_float(f64::NAN), "nan");
    }

    #[test]
    fn inspect_chain_describes_two_files() {
        let i = inspect_chain(&[
            fixture("pipelines/two_files_tfidf_svc.part1.joblib"),
            fixture("pipelines/two_files_tfidf_svc.part2.joblib"),
        ]);
        assert!(i.supported, "{:?}", i.reason);
        assert_eq!(i.files.len(), 2);
        assert!(i.path.contains(" + "));
        assert_eq!(i.classes, ["easy-ham", "hard-ham", "spam"]);
        assert!(
            i.provenance
                .unwrap()
                .starts_with("trained with scikit-learn")
        );
    }
}
