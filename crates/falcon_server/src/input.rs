//! What a request asks about: a text, or a record of named text columns
//! (a model whose first step is a `ColumnTransformer`).
//!
//! A record is identified everywhere — the in-process cache key, the
//! shared tier's key and entry check, the prediction log's `text_sha256` —
//! by its **canonical encoding**: the JSON object of its columns with keys
//! in byte order, as `serde_json` writes it (`{"body":"…","title":"…"}`).
//! Why JSON rather than an ad-hoc length-prefixed format: it is injective
//! (two records with the same encoding have the same columns and values:
//! the encoding parses back to them, and every string has one escaping), it
//! carries the column names and delimits the values, and it is what the
//! log keeps as the "text" of a record (`--log-text`), readable and
//! re-parseable for retraining. A text can spell the same characters, so
//! every key also carries the [`InputKind`]: a record never shares an entry
//! with a text.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::ServerError;

/// Whether a cache key or log row stands for a text or a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    Text,
    Record,
}

/// A record: `(column, text)` pairs sorted by column, and its canonical
/// encoding.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub columns: Vec<(String, String)>,
    pub canonical: String,
}

impl Record {
    /// A record from a JSON object whose values are all strings; anything
    /// else is a 400 naming the column.
    pub fn from_json(obj: Map<String, Value>) -> Result<Record, ServerError> {
        let columns = obj
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(ServerError::Invalid(format!(
                    "record column {k:?} is {}, not a string",
                    json_kind(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Record::from_columns(columns)
    }

    /// A record from `(column, text)` pairs in any order; a column given
    /// twice is a 400 naming it.
    pub fn from_columns(mut columns: Vec<(String, String)>) -> Result<Record, ServerError> {
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = columns.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ServerError::Invalid(format!(
                "record column {:?} is given twice",
                w[0].0
            )));
        }
        let canonical = canonical(&columns);
        Ok(Record { columns, canonical })
    }

    /// Heap bytes held, for the cache's weigher.
    pub fn heap_bytes(&self) -> usize {
        self.canonical.capacity()
            + self.columns.capacity() * std::mem::size_of::<(String, String)>()
            + self
                .columns
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity())
                .sum::<usize>()
    }
}

/// The JSON object of `columns` (sorted, distinct), keys in order.
fn canonical(columns: &[(String, String)]) -> String {
    let len: usize = columns.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut out = String::with_capacity(len + 2);
    out.push('{');
    for (i, (k, v)) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, k);
        out.push(':');
        push_json_string(&mut out, v);
    }
    out.push('}');
    out
}

fn push_json_string(out: &mut String, s: &str) {
    // `serde_json`'s escaping of a string cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One input of a request. Cheap to clone (shared with the cache key).
#[derive(Clone, Debug)]
pub enum Item {
    /// The request's own `String`, moved (not copied) behind an `Arc`.
    Text(Arc<String>),
    Record(Arc<Record>),
}

impl Item {
    pub fn text(t: String) -> Item {
        Item::Text(Arc::new(t))
    }

    pub fn kind(&self) -> InputKind {
        match self {
            Item::Text(_) => InputKind::Text,
            Item::Record(_) => InputKind::Record,
        }
    }

    /// The text, or the record's canonical encoding: what identifies the
    /// input in caches and the log.
    pub fn key(&self) -> &str {
        match self {
            Item::Text(t) => t,
            Item::Record(r) => &r.canonical,
        }
    }

    /// Bytes of input, for choosing where the engine runs.
    pub fn len(&self) -> usize {
        match self {
            Item::Text(t) => t.len(),
            Item::Record(r) => r.columns.iter().map(|(_, v)| v.len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held, for the cache's weigher (capacity, not length: a
    /// string parsed from JSON may hold more than it uses).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Item::Text(t) => t.capacity(),
            Item::Record(r) => r.heap_bytes(),
        }
    }

    /// Runs `f` on the engine's view of this input.
    pub fn with_input<T>(&self, f: impl FnOnce(falcon_engine::Input<'_>) -> T) -> T {
        match self {
            Item::Text(t) => f(falcon_engine::Input::Text(t)),
            Item::Record(r) => {
                let pairs: Vec<(&str, &str)> = r
                    .columns
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                f(falcon_engine::Input::Record(&pairs))
            }
        }
    }
}

/// Checks that `items` fit `model`'s input before any cache tier is asked:
/// a record to a text model, or a text to a model reading several columns
/// (a model whose only column is `text` takes both), is a 400 naming what
/// the model reads. Missing and unknown columns are the engine's to name.
pub fn check_kind(
    model: &falcon_engine::Model,
    name: &str,
    items: &[Item],
) -> Result<(), ServerError> {
    let columns = model.input_columns();
    for item in items {
        match (item, columns) {
            (Item::Record(_), None) => {
                return Err(ServerError::Invalid(format!(
                    "model {name:?} takes texts, not records: send {{\"text\": \"...\"}}"
                )));
            }
            (Item::Text(_), Some(cols)) if cols != ["text"] => {
                return Err(ServerError::Invalid(format!(
                    "model {name:?} reads records with the columns {cols:?}, not a text: send \
                     {{\"record\": {{...}}}}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Result<Record, ServerError> {
        match v {
            Value::Object(m) => Record::from_json(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn canonical_is_sorted_json_and_parses_back() {
        let r = record(json!({"title": "a\"b", "body": "x\ny"})).unwrap();
        assert_eq!(r.canonical, r#"{"body":"x\ny","title":"a\"b"}"#);
        let back: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&r.canonical).unwrap();
        assert_eq!(back["title"], "a\"b");
        assert_eq!(
            r.columns,
            vec![
                ("body".into(), "x\ny".into()),
                ("title".into(), "a\"b".into())
            ]
        );
    }

    #[test]
    fn records_that_differ_never_share_an_encoding() {
        // Values that would run together without delimiters.
        let a = record(json!({"a": "x", "b": "y"})).unwrap();
        let b = record(json!({"a": "x\",\"b\":\"y"})).unwrap();
        let c = record(json!({"a": "xb", "": "y"})).unwrap();
        assert_ne!(a.canonical, b.canonical);
        assert_ne!(a.canonical, c.canonical);
        assert_ne!(b.canonical, c.canonical);
        // Same columns in another order: the same record.
        let d =
            Record::from_columns(vec![("b".into(), "y".into()), ("a".into(), "x".into())]).unwrap();
        assert_eq!(a, d);
    }

    #[test]
    fn non_string_and_repeated_columns_are_named() {
        let e = record(json!({"title": 3})).unwrap_err().to_string();
        assert!(e.contains("\"title\"") && e.contains("a number"), "{e}");
        let e = Record::from_columns(vec![("t".into(), "1".into()), ("t".into(), "2".into())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"t\" is given twice"), "{e}");
    }
}
