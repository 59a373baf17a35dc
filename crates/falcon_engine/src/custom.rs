//! The user's own text code: declarations of what a Python callable named
//! in a pickle does, compiled into [`Program`]s the engine runs natively.
//!
//! A pickle holds only a callable's *name* (`__main__.tokenize`), never its
//! code, so a model with `tokenizer=tokenize` cannot be reproduced from the
//! file alone. The user declares what the callable does as a sequence of
//! built-in operations (see [`program`]) in TOML, in a model's
//! `config.toml` or a file given with `--callables`:
//!
//! ```toml
//! [callables."__main__.tokenize"]          # a function: str -> list[str]
//! steps = [
//!   { op = "re.sub", pattern = 'https?://\S+|@\w+', repl = "" },
//!   "str.lower",
//!   "nltk.word_tokenize",
//!   { op = "drop_stop_words", list = "nltk.english" },
//!   "PorterStemmer.stem",
//! ]
//!
//! [callables."__main__.LemmaTokenizer"]    # a class whose instances are called
//! state = { wnl = { class = "nltk.stem.wordnet.WordNetLemmatizer" } }
//! steps = ["nltk.word_tokenize", { op = "WordNetLemmatizer.lemmatize", pos = "n" }]
//!
//! [preprocess]                              # applied to every input first
//! callable = "app.clean"                    # the real function, for `falcon model verify`
//! steps = [{ op = "re.sub", pattern = '<[^>]+>', repl = " " }, "str.strip"]
//! ```
//!
//! Where a declared name appears decides its role: a vectorizer's
//! `tokenizer` (must return tokens) or `preprocessor` (must return a
//! string), or a step of the `Pipeline` before the vectorizer (a class
//! whose `transform` maps each text to a string). A class instance's
//! pickled state is read as data and checked against `state`, never run.
//! Anything the pickle names that is not declared is refused with an error
//! that names it and shows a declaration to fill in ([`undeclared`]).

pub mod program;
pub mod resources;
mod stdlib;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use falcon_pickle::{Global, Object, Policy, Value};

use crate::error::{EngineError, Result};
pub use program::{Program, Shape, TextValue};
pub use resources::Resources;

/// Most callables one declaration file may declare.
const MAX_CALLABLES: usize = 64;

/// One declared callable.
#[derive(Debug)]
struct Callable {
    program: Arc<Program>,
    /// `state = { attr = { class = "module.Name" } | value }`: what a class
    /// instance's pickled `__dict__` must hold. `None` for a function.
    state: Option<toml::Table>,
}

/// The model-level `preprocess` step.
#[derive(Debug)]
struct Preprocess {
    program: Arc<Program>,
    /// The real Python function it stands for (`module.name`), which
    /// `falcon model verify` calls to compare; not needed to serve.
    callable: Option<String>,
}

/// A set of declarations, compiled: what the engine needs to load a model
/// that names the user's own text code.
#[derive(Debug, Default)]
pub struct TextCode {
    callables: BTreeMap<String, Callable>,
    preprocess: Option<Preprocess>,
    /// The declaration as written, for `inspect` and change detection.
    source: String,
}

impl TextCode {
    /// No declarations: models that name user code are refused.
    pub fn none() -> TextCode {
        TextCode::default()
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.callables.is_empty() && self.preprocess.is_none()
    }

    /// Parses a declaration file (`--callables FILE`): a TOML document with
    /// a `[callables."module.name"]` table per callable and an optional
    /// `[preprocess]` table. Any other top-level key is refused, so a typo
    /// (`[callable.…]`) cannot silently declare nothing.
    pub fn parse(text: &str, res: &Resources) -> Result<TextCode> {
        let doc: toml::Table = toml::from_str(text)
            .map_err(|e| EngineError::Declaration(format!("not valid TOML: {e}")))?;
        for k in doc.keys() {
            if k != "callables" && k != "preprocess" {
                return Err(EngineError::Declaration(format!(
                    "unknown top-level key `{k}`: a declaration file has [callables.\"module.name\"] tables and an optional [preprocess] table"
                )));
            }
        }
        Self::from_tables(doc.get("callables"), doc.get("preprocess"), res, text)
    }

    /// Compiles the `callables` and `preprocess` values of a TOML document
    /// (a model's `config.toml` holds them beside its other settings).
    /// `source` is the text they came from, kept for change detection.
    pub fn from_tables(
        callables: Option<&toml::Value>,
        preprocess: Option<&toml::Value>,
        res: &Resources,
        source: &str,
    ) -> Result<TextCode> {
        let mut out = TextCode {
            source: source.to_string(),
            ..Default::default()
        };
        if let Some(c) = callables {
            let toml::Value::Table(c) = c else {
                return Err(EngineError::Declaration(
                    "`callables` must be a table of [callables.\"module.name\"] tables".into(),
                ));
            };
            if c.len() > MAX_CALLABLES {
                return Err(EngineError::Declaration(format!(
                    "{} callables; at most {MAX_CALLABLES}",
                    c.len()
                )));
            }
            for (name, body) in c {
                split_name(name)?;
                let toml::Value::Table(body) = body else {
                    return Err(EngineError::Declaration(format!(
                        "{name}: a callable is a table with `steps` (and `state` for a class)"
                    )));
                };
                for k in body.keys() {
                    if k != "steps" && k != "state" {
                        return Err(EngineError::Declaration(format!(
                            "{name}: unknown key `{k}` (a callable has `steps` and, for a class, `state`)"
                        )));
                    }
                }
                let steps = body
                    .get("steps")
                    .ok_or_else(|| EngineError::Declaration(format!("{name}: no `steps`")))?;
                let program = Program::compile(name, steps, res)?;
                let state = match body.get("state") {
                    None => None,
                    Some(toml::Value::Table(t)) => {
                        for (attr, want) in t {
                            if let toml::Value::Table(w) = want {
                                check_class_spec(name, attr, w)?;
                            }
                        }
                        Some(t.clone())
                    }
                    Some(_) => {
                        return Err(EngineError::Declaration(format!(
                            "{name}: `state` is a table: state = {{ attr = {{ class = \"module.Name\" }} }}"
                        )));
                    }
                };
                out.callables.insert(
                    name.clone(),
                    Callable {
                        program: Arc::new(program),
                        state,
                    },
                );
            }
        }
        if let Some(p) = preprocess {
            let toml::Value::Table(p) = p else {
                return Err(EngineError::Declaration(
                    "`preprocess` is a table: [preprocess] steps = [...]".into(),
                ));
            };
            for k in p.keys() {
                if k != "steps" && k != "callable" {
                    return Err(EngineError::Declaration(format!(
                        "preprocess: unknown key `{k}` (it has `steps` and optionally `callable`)"
                    )));
                }
            }
            let steps = p
                .get("steps")
                .ok_or_else(|| EngineError::Declaration("preprocess: no `steps`".into()))?;
            let program = Program::compile("preprocess", steps, res)?;
            if program.output() != Shape::Str {
                return Err(EngineError::Declaration(format!(
                    "preprocess: returns {}, but it feeds the model, which takes a string; end with str.join",
                    program.output().python()
                )));
            }
            let callable = match p.get("callable") {
                None => None,
                Some(toml::Value::String(s)) => {
                    split_name(s)?;
                    Some(s.clone())
                }
                Some(_) => {
                    return Err(EngineError::Declaration(
                        "preprocess: `callable` is the real function's \"module.name\"".into(),
                    ));
                }
            };
            out.preprocess = Some(Preprocess {
                program: Arc::new(program),
                callable,
            });
        }
        Ok(out)
    }

    /// The declaration's text, as given (for change detection).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The declared callables' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.callables.keys().map(String::as_str)
    }

    /// The `preprocess` step's real function, if named.
    pub fn preprocess_callable(&self) -> Option<&str> {
        self.preprocess.as_ref()?.callable.as_deref()
    }

    /// Whether a `preprocess` step is declared.
    pub fn has_preprocess(&self) -> bool {
        self.preprocess.is_some()
    }

    /// Runs a declared callable's program on one text (what `falcon model
    /// verify` compares with the real callable).
    pub fn run(&self, name: &str, text: &str) -> Result<TextValue> {
        let c = self
            .callables
            .get(name)
            .ok_or_else(|| EngineError::Declaration(format!("{name} is not declared")))?;
        c.program.run(text)
    }

    /// Runs the `preprocess` step, if any, on one text.
    pub fn run_preprocess(&self, text: &str) -> Result<Option<String>> {
        match &self.preprocess {
            None => Ok(None),
            Some(p) => p.program.string(text).map(Some),
        }
    }

    pub(crate) fn preprocess_program(&self) -> Option<Arc<Program>> {
        self.preprocess.as_ref().map(|p| p.program.clone())
    }

    /// One line per declaration, for `model inspect`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.preprocess {
            out.push(format!(
                "preprocess{}: {}",
                p.callable
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                p.program.summary.join(" → ")
            ));
        }
        for (name, c) in &self.callables {
            out.push(format!(
                "{name} → {}: {}",
                c.program.output().python(),
                c.program.summary.join(" → ")
            ));
        }
        out
    }

    /// The unpickler allowlist for a model using these declarations: the
    /// engine's own classes, every declared callable, and every class a
    /// declared `state` names (an instance of it is read as inert data).
    pub(crate) fn policy(&self) -> Policy {
        let mut p = crate::registry::sklearn_policy();
        for (name, c) in &self.callables {
            if let Ok((m, n)) = split_name(name) {
                p.allow(m, n);
            }
            for want in c.state.iter().flat_map(|s| s.values()) {
                if let toml::Value::Table(w) = want
                    && let Some(toml::Value::String(class)) = w.get("class")
                    && let Ok((m, n)) = split_name(class)
                {
                    p.allow(m, n);
                }
            }
        }
        p
    }

    /// The program a pickled callable value stands for, checked for the
    /// role it plays (`what`, e.g. `TfidfVectorizer.tokenizer`) and the
    /// shape that role needs.
    pub(crate) fn bind(&self, v: &Value, what: &str, want: Shape) -> Result<Arc<Program>> {
        let (name, obj) = match v {
            Value::Global(g) => (g.to_string(), None),
            Value::Object(o) => (o.class.to_string(), Some(&**o)),
            other => {
                return Err(EngineError::unsupported(format!(
                    "{what} is {}: only a function or a class instance can be declared",
                    crate::attrs::describe(other)
                )));
            }
        };
        self.bind_named(&name, obj, what, want)
    }

    /// [`TextCode::bind`] of a class instance that is a `Pipeline` step.
    pub(crate) fn bind_object(&self, o: &Object, what: &str, want: Shape) -> Result<Arc<Program>> {
        self.bind_named(&o.class.to_string(), Some(o), what, want)
    }

    fn bind_named(
        &self,
        name: &str,
        obj: Option<&Object>,
        what: &str,
        want: Shape,
    ) -> Result<Arc<Program>> {
        let Some(c) = self.callables.get(name) else {
            return Err(undeclared(name, Some(what), want));
        };
        if c.program.output() != want {
            return Err(EngineError::Declaration(format!(
                "{name} is used as {what}, which must return {}, but its steps return {}",
                want.python(),
                c.program.output().python()
            )));
        }
        match (obj, &c.state) {
            (Some(o), state) => check_state(name, o, state.as_ref())?,
            (None, Some(_)) => {
                return Err(EngineError::Declaration(format!(
                    "{name} is declared with `state`, but the model holds the function itself, not an instance"
                )));
            }
            (None, None) => {}
        }
        Ok(c.program.clone())
    }

    /// Whether `class` is a declared custom step (a class in the
    /// `Pipeline` before the vectorizer).
    pub(crate) fn declares(&self, class: &Global) -> bool {
        self.callables.contains_key(&class.to_string())
    }
}

/// `module.name` → (`module`, `name`), refusing what no pickle can name.
fn split_name(name: &str) -> Result<(&str, &str)> {
    match name.rsplit_once('.') {
        Some((m, n))
            if !m.is_empty()
                && !n.is_empty()
                && name.len() <= 256
                && !name.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok((m, n))
        }
        _ => Err(EngineError::Declaration(format!(
            "{name:?} is not a qualified Python name: write \"module.name\" as the pickle names it (\"__main__.tokenize\")"
        ))),
    }
}

fn check_class_spec(name: &str, attr: &str, w: &toml::Table) -> Result<()> {
    match (w.get("class"), w.len()) {
        (Some(toml::Value::String(c)), 1) => split_name(c).map(|_| ()),
        _ => Err(EngineError::Declaration(format!(
            "{name}: state.{attr}: a table here is {{ class = \"module.Name\" }}"
        ))),
    }
}

/// Checks a class instance's pickled `__dict__` against `state`: the
/// attributes must be exactly the declared ones, each an instance of the
/// declared class or equal to the declared value. Nothing undeclared may
/// hide in the state: whatever the real `__call__` reads is accounted for.
fn check_state(name: &str, o: &Object, state: Option<&toml::Table>) -> Result<()> {
    let empty = toml::Table::new();
    let want = state.unwrap_or(&empty);
    let pairs: Vec<(&str, &Value)> = match o.state.as_deref() {
        None => Vec::new(),
        Some(Value::Dict(items)) => items
            .iter()
            .map(|(k, v)| match k {
                Value::Str(k) => Ok((k.as_str(), v)),
                other => Err(EngineError::Declaration(format!(
                    "{name}: its pickled state has a key {}",
                    crate::attrs::describe(other)
                ))),
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(EngineError::Declaration(format!(
                "{name}: its pickled state is {}, not an attribute dict",
                crate::attrs::describe(other)
            )));
        }
    };
    for (attr, v) in &pairs {
        // scikit-learn's own bookkeeping: `BaseEstimator.__getstate__`
        // records the release a custom estimator class was pickled with.
        if *attr == "_sklearn_version" && !want.contains_key(*attr) {
            continue;
        }
        let Some(w) = want.get(*attr) else {
            return Err(EngineError::Declaration(format!(
                "{name}: the pickled instance has attribute `{attr}` = {}, which `state` does not declare; add state.{attr} = {}",
                crate::attrs::describe(v),
                skeleton_value(v)
            )));
        };
        if !state_matches(w, v) {
            return Err(EngineError::Declaration(format!(
                "{name}: state.{attr} is declared as {w}, but the pickle holds {}",
                crate::attrs::describe(v)
            )));
        }
    }
    for attr in want.keys() {
        if !pairs.iter().any(|(k, _)| k == attr) {
            return Err(EngineError::Declaration(format!(
                "{name}: state.{attr} is declared, but the pickled instance has no such attribute"
            )));
        }
    }
    Ok(())
}

fn state_matches(w: &toml::Value, v: &Value) -> bool {
    match (w, v) {
        (toml::Value::Table(t), Value::Object(o)) => {
            matches!(t.get("class"), Some(toml::Value::String(c)) if *c == o.class.to_string())
        }
        (toml::Value::String(a), Value::Str(b)) => a == b,
        (toml::Value::Integer(a), Value::Int(b)) => a == b,
        (toml::Value::Boolean(a), Value::Bool(b)) => a == b,
        (toml::Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        (toml::Value::Array(a), Value::List(b) | Value::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| state_matches(x, y))
        }
        _ => false,
    }
}

/// What to write in `state` for a pickled value, in error messages.
fn skeleton_value(v: &Value) -> String {
    match v {
        Value::Object(o) => format!("{{ class = \"{}\" }}", o.class),
        Value::Str(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "...".into(),
    }
}

/// The error for user code the pickle names but no declaration covers:
/// it names the callable and shows the declaration to fill in.
pub(crate) fn undeclared(name: &str, role: Option<&str>, shape: Shape) -> EngineError {
    let role = role.map(|r| format!(" (used as {r})")).unwrap_or_default();
    let example = match shape {
        Shape::Tokens => {
            "steps = [\"str.lower\", { op = \"re.findall\", pattern = '\\b\\w\\w+\\b' }]  # returns list[str]"
        }
        Shape::Str => {
            "steps = [\"str.lower\", { op = \"re.sub\", pattern = '\\W+', repl = \" \" }]  # returns str"
        }
    };
    EngineError::Undeclared {
        name: name.to_string(),
        help: format!(
            "{name}{role} is your own Python code: the pickle holds only its name. Declare what it does \
             with Falcon's built-in operations in the model's config.toml (or a file given with \
             --callables), then check it against the real code with `falcon model verify`:\n\n\
             [callables.\"{name}\"]\n{example}\n\nSee the README, \"Your own text code\"."
        ),
    }
}

/// Libraries whose classes are never the user's own text code: a refused
/// name from one of them is an unsupported class, not an undeclared callable.
const LIBRARIES: &[&str] = &[
    "sklearn",
    "numpy",
    "scipy",
    "joblib",
    "pandas",
    "torch",
    "tensorflow",
    "keras",
    "xgboost",
    "lightgbm",
    "catboost",
    "transformers",
    "gensim",
    "spacy",
];

/// The pickle refused a global. If it names the user's own code (not the
/// standard library, where `os.system` and `builtins.eval` live, nor a
/// known library), the error says how to declare it; otherwise it stays
/// the unpickler's refusal.
pub(crate) fn explain_refusal(e: falcon_pickle::PickleError) -> EngineError {
    if let falcon_pickle::PickleError::Refused { module, name } = &e {
        let top = module.split('.').next().unwrap_or_default();
        let library = LIBRARIES.contains(&top)
            || (top != "__main__" && stdlib::STDLIB_MODULES.binary_search(&top).is_ok());
        if module.starts_with("nltk.") {
            return EngineError::Undeclared {
                name: format!("{module}.{name}"),
                help: format!(
                    "the model holds an instance of {module}.{name}, which belongs to your own text \
                     code (a tokenizer class or a custom step that keeps it as an attribute). Declare \
                     that class, naming this attribute in its `state`: \
                     state = {{ attr = {{ class = \"{module}.{name}\" }} }}. See the README, \"Your own text code\"."
                ),
            };
        }
        if !library {
            return undeclared(&format!("{module}.{name}"), None, Shape::Tokens);
        }
    }
    EngineError::Pickle(e)
}

/// The directory relative paths in a declaration file resolve against.
pub fn base_dir_of(path: &std::path::Path) -> Option<PathBuf> {
    path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_path_buf()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: &str, state: Vec<(&str, Value)>) -> Object {
        let (m, n) = class.rsplit_once('.').unwrap();
        Object {
            class: Global {
                module: m.into(),
                name: n.into(),
            },
            args: Vec::new(),
            state: Some(Box::new(Value::Dict(
                state
                    .into_iter()
                    .map(|(k, v)| (Value::Str(k.into()), v))
                    .collect(),
            ))),
        }
    }

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn class_state_must_be_exactly_the_declared_one() {
        let inner = Value::Object(Box::new(object("nltk.stem.porter.PorterStemmer", vec![])));
        let o = object(
            "__main__.Tok",
            vec![
                ("stemmer", inner),
                ("min_len", Value::Int(3)),
                ("_sklearn_version", Value::Str("1.7.2".into())),
            ],
        );
        let ok = table("stemmer = { class = \"nltk.stem.porter.PorterStemmer\" }\nmin_len = 3");
        check_state("__main__.Tok", &o, Some(&ok)).unwrap();
        for (decl, why) in [
            (
                "stemmer = { class = \"nltk.stem.porter.PorterStemmer\" }",
                "attribute `min_len`",
            ),
            (
                "stemmer = { class = \"nltk.stem.snowball.SnowballStemmer\" }\nmin_len = 3",
                "state.stemmer is declared as",
            ),
            (
                "stemmer = \"PorterStemmer\"\nmin_len = 3",
                "state.stemmer is declared as",
            ),
            (
                "stemmer = { class = \"nltk.stem.porter.PorterStemmer\" }\nmin_len = 2",
                "state.min_len is declared as 2",
            ),
            (
                "stemmer = { class = \"nltk.stem.porter.PorterStemmer\" }\nmin_len = 3\nx = true",
                "no such attribute",
            ),
        ] {
            let e = check_state("__main__.Tok", &o, Some(&table(decl)))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{decl}: {e}");
        }
    }

    #[test]
    fn refused_library_globals_stay_pickle_errors() {
        let e = explain_refusal(falcon_pickle::PickleError::Refused {
            module: "sklearn.ensemble._weight_boosting".into(),
            name: "AdaBoostClassifier".into(),
        });
        assert!(matches!(e, EngineError::Pickle(_)), "{e}");
        for (module, name) in [
            ("posix", "system"),
            ("os", "system"),
            ("builtins", "eval"),
            ("subprocess", "Popen"),
            ("pandas.core.frame", "DataFrame"),
        ] {
            let e = explain_refusal(falcon_pickle::PickleError::Refused {
                module: module.into(),
                name: name.into(),
            });
            assert!(matches!(e, EngineError::Pickle(_)), "{module}.{name}: {e}");
        }
        let e = explain_refusal(falcon_pickle::PickleError::Refused {
            module: "mypkg.text".into(),
            name: "clean".into(),
        });
        assert!(
            e.to_string().contains("[callables.\"mypkg.text.clean\"]"),
            "{e}"
        );
    }
}
