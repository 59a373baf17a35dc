//! `CountVectorizer` and `TfidfVectorizer`: analyzer + fitted vocabulary
//! (+ the `TfidfTransformer` a `TfidfVectorizer` keeps in `_tfidf`).

use falcon_pickle::{Object, Value};

use super::analyzer::Analyzer;
use super::vocab::Vocab;
use super::{Tfidf, precision};
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow};

pub(crate) struct CountVectorizer {
    /// `CountVectorizer` or `TfidfVectorizer`, for messages.
    class: String,
    analyzer: Analyzer,
    vocab: Vocab,
    binary: bool,
    precision: Precision,
    /// Present for `TfidfVectorizer`.
    tfidf: Option<Tfidf>,
}

impl CountVectorizer {
    pub(crate) fn from_object(obj: &Object) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let analyzer = Analyzer::from_attrs(&a)?;
        let vocab = vocabulary(&a, analyzer.pair_safe())?;
        let is_tfidf = a.class == "TfidfVectorizer";
        let precision = precision(&a, !is_tfidf)?;
        let tfidf = if is_tfidf {
            let t = Tfidf::from_transformer(a.object("_tfidf")?)?;
            t.check_width(vocab.len())?;
            Some(t)
        } else {
            None
        };
        Ok(CountVectorizer {
            class: a.class.to_string(),
            analyzer,
            vocab,
            binary: a.bool_or("binary", false)?,
            precision,
            tfidf,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.vocab.len()
    }

    /// `_count_vocab(fixed_vocab=True)`: count in-vocabulary features, then
    /// `sort_indices()`; `binary` sets every count to 1.
    pub(crate) fn transform(&self, doc: &str) -> Result<SparseRow> {
        let mut cols: Vec<u32> = Vec::with_capacity(256);
        if self.vocab.pair_mode() {
            self.analyzer
                .word_tokens(doc, |tokens| self.pair_columns(tokens, &mut cols))?;
        } else {
            self.analyzer.analyze(doc, &mut |feature| {
                if let Some(c) = self.vocab.get(feature) {
                    cols.push(c);
                }
            })?;
        }
        cols.sort_unstable();
        let mut row = SparseRow {
            indices: Vec::with_capacity(cols.len()),
            values: Vec::with_capacity(cols.len()),
            precision: Some(self.precision),
        };
        for c in cols {
            if row.indices.last() == Some(&c) {
                if !self.binary {
                    *row.values.last_mut().expect("parallel vectors") += 1.0;
                }
            } else {
                row.indices.push(c);
                row.values.push(1.0);
            }
        }
        if let Some(t) = &self.tfidf {
            t.apply(&mut row);
        }
        Ok(row)
    }

    /// Pair mode: the columns of every in-vocabulary n-gram of `tokens`,
    /// found by extending each (n-1)-gram's column with the next token's.
    /// An n-gram whose prefix is out of vocabulary cannot be in it (the
    /// vocabulary was checked to be closed under prefixes), so it is skipped.
    fn pair_columns(&self, tokens: &[&str], cols: &mut Vec<u32>) {
        let uni: Vec<Option<u32>> = tokens.iter().map(|t| self.vocab.get(t)).collect();
        cols.extend(uni.iter().flatten());
        let mut prev = uni.clone();
        for n in 2..=self.analyzer.max_n().min(tokens.len()) {
            let next: Vec<Option<u32>> = (0..=tokens.len() - n)
                .map(|i| match (prev[i], uni[i + n - 1]) {
                    (Some(p), Some(l)) => self.vocab.get_pair(p, l),
                    _ => None,
                })
                .collect();
            cols.extend(next.iter().flatten());
            prev = next;
        }
    }

    pub(crate) fn feature_name(&self, col: u32) -> String {
        self.vocab.term(col)
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "{} vocabulary={}{} {} binary={}{}",
            self.class,
            self.vocab.len(),
            if self.vocab.pair_mode() {
                " (n-grams as column pairs)"
            } else {
                ""
            },
            self.analyzer.summary,
            if self.binary { "True" } else { "False" },
            if self.precision == Precision::F32 {
                " dtype=float32"
            } else {
                ""
            }
        );
        if let Some(t) = &self.tfidf {
            s.push(' ');
            s.push_str(&t.describe());
        }
        s
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.vocab.heap_bytes() + self.tfidf.as_ref().map_or(0, Tfidf::heap_bytes)
    }
}

fn vocabulary(a: &Attrs<'_>, try_pairs: bool) -> Result<Vocab> {
    let v = a.get("vocabulary_")?;
    let Value::Dict(items) = v else {
        return Err(a.err("vocabulary_", "a dict of term → column", v));
    };
    let mut pairs = Vec::with_capacity(items.len());
    for (k, col) in items {
        match (k, col) {
            (Value::Str(term), Value::Int(c)) => pairs.push((term.as_str(), *c)),
            (k, c) => {
                return Err(EngineError::unsupported(format!(
                    "{}.vocabulary_ has entry {} → {}; expected str → int",
                    a.class,
                    crate::attrs::describe(k),
                    crate::attrs::describe(c)
                )));
            }
        }
    }
    Vocab::new(pairs, try_pairs)
}
