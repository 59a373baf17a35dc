//! `CountVectorizer` and `TfidfVectorizer`: analyzer + fitted vocabulary
//! (+ the `TfidfTransformer` a `TfidfVectorizer` keeps in `_tfidf`).

use falcon_pickle::{Object, Value};

use super::analyzer::Analyzer;
use super::vocab::Vocab;
use super::{Tfidf, precision};
use crate::attrs::Attrs;
use crate::custom::TextCode;
use crate::error::{EngineError, Result};
use crate::scratch::Scratch;
use crate::sparse::{Precision, SparseRow};

/// A token that is not in the vocabulary (in the batched bigram pass).
const NO_COLUMN: u32 = u32::MAX;

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
    pub(crate) fn from_object(obj: &Object, code: &TextCode) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let analyzer = Analyzer::from_attrs(&a, code)?;
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

    /// The internal `TfidfTransformer` of a `TfidfVectorizer`.
    pub(crate) fn tfidf_mut(&mut self) -> Option<&mut Tfidf> {
        self.tfidf.as_mut()
    }

    /// `_count_vocab(fixed_vocab=True)`: count in-vocabulary features, then
    /// `sort_indices()`; `binary` sets every count to 1.
    ///
    /// Counts are small integers, exact in any summation order, so the
    /// columns are gathered in whatever order is cheapest and only the
    /// finished row has to be in scipy's (ascending column) order — which
    /// is what fixes the order of every later floating-point sum.
    pub(crate) fn transform(&self, doc: &str) -> Result<SparseRow> {
        crate::scratch::with_scratch(|s| {
            s.cols.clear();
            let counted = self.vocab.pair_mode() && self.pair_columns(doc, s)?;
            if !counted {
                let cols = &mut s.cols;
                self.analyzer.analyze(doc, &mut s.text, &mut |feature| {
                    if let Some(c) = self.vocab.get(feature) {
                        cols.push(c);
                    }
                })?;
            }
            let counts = s.counter.count(&mut s.cols, self.vocab.len());
            let mut row = SparseRow::from_counts(counts, self.binary, self.precision);
            if let Some(t) = &self.tfidf {
                t.apply(&mut row);
            }
            Ok(row)
        })
    }

    /// Pair mode: pushes the column of every in-vocabulary n-gram of the
    /// document's tokens, found by extending the columns of the n-grams
    /// ending at the previous token with the current token's column, in
    /// one streaming pass over the tokens (no token list, no n-gram
    /// strings). An n-gram whose prefix is out of vocabulary cannot be in
    /// it (the vocabulary was checked to be closed under prefixes), so it is
    /// skipped. The columns are pushed to `s.cols`, in no useful order.
    /// Returns `false` when the analyzer has no word tokens.
    fn pair_columns(&self, doc: &str, s: &mut Scratch) -> Result<bool> {
        let Scratch {
            text: buf,
            cols,
            uni,
            counter: _,
        } = s;
        let vocab = &self.vocab;
        let max_n = self.analyzer.max_n();
        if max_n == 2 {
            // The common `ngram_range=(1, 2)`. The tokens' columns are
            // looked up first and the bigrams in a second loop: the lookups
            // of one loop do not depend on each other, so the CPU overlaps
            // their cache misses (the pair table is megabytes, so most
            // bigram lookups miss), where interleaving them serialised
            // each token's unigram and bigram misses (-10% wall time).
            uni.clear();
            let tokens = self.analyzer.for_each_word_token(doc, buf, |t| {
                uni.push(vocab.get_token(t).unwrap_or(NO_COLUMN));
            })?;
            // The bigrams' lookups, like the tokens', in a loop of their
            // own: counting as they are found puts branches that depend on
            // each lookup's (usually missed) load between the lookups, and
            // stalls the next one behind every mispredict.
            for w in uni.windows(2) {
                if w[0] != NO_COLUMN
                    && w[1] != NO_COLUMN
                    && let Some(b) = vocab.get_pair(w[0], w[1])
                {
                    cols.push(b);
                }
            }
            cols.extend(uni.iter().filter(|&&u| u != NO_COLUMN));
            return Ok(tokens);
        }
        // `chain[k]`: column of the (k+1)-gram ending at the previous token.
        let mut chain: Vec<Option<u32>> = vec![None; max_n];
        let tokens = self.analyzer.for_each_word_token(doc, buf, |t| {
            let cur = vocab.get_token(t);
            for k in (1..max_n).rev() {
                chain[k] = match (chain[k - 1], cur) {
                    (Some(p), Some(u)) => vocab.get_pair(p, u),
                    _ => None,
                };
                if let Some(c) = chain[k] {
                    cols.push(c);
                }
            }
            chain[0] = cur;
            if let Some(u) = cur {
                cols.push(u);
            }
        })?;
        Ok(tokens)
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
