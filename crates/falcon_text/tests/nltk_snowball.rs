//! Exact parity with NLTK 3.10.4's `SnowballStemmer("english")` (with and
//! without a stop-word set) and `LancasterStemmer()` (with and without
//! `strip_prefix_flag`), against `tests/fixtures/nltk_snowball.jsonl`
//! produced by `training/gen_nltk_snowball_fixtures.py`.

use std::collections::HashSet;

use falcon_text::nltk::lancaster::LancasterStemmer;
use falcon_text::nltk::snowball::EnglishStemmer;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/nltk_snowball.jsonl");

/// The header and the rows, each resolved to
/// `[word, snowball, snowball_with_stopwords, lancaster, lancaster_strip_prefix]`
/// (a `null` in the file repeats the field before it).
fn fixture() -> (Value, Vec<[String; 5]>) {
    let mut lines = FIXTURE.lines();
    let header: Value = serde_json::from_str(lines.next().expect("header line")).expect("header");
    let rows = lines
        .map(|line| {
            let v: Vec<Option<String>> = serde_json::from_str(line).expect("row");
            assert_eq!(v.len(), 5, "{line}");
            let mut out: [String; 5] = Default::default();
            for i in 0..5 {
                out[i] = match &v[i] {
                    Some(s) => s.clone(),
                    None => out[i - 1].clone(),
                };
            }
            out
        })
        .collect();
    (header, rows)
}

/// Runs `stem` over column `col` and fails on the first differing word,
/// showing both outputs, after counting every difference.
fn check(name: &str, col: usize, stem: impl Fn(&str) -> String) {
    let (_, rows) = fixture();
    let mut first = None;
    let mut bad = 0usize;
    for row in &rows {
        let got = stem(&row[0]);
        if got != row[col] {
            bad += 1;
            first.get_or_insert_with(|| (row[0].clone(), row[col].clone(), got));
        }
    }
    if let Some((word, want, got)) = first {
        panic!(
            "{name}: {bad} of {} words differ; first {word:?}: NLTK {want:?}, falcon {got:?}",
            rows.len()
        );
    }
}

#[test]
fn fixture_is_for_nltk_3_10_4() {
    let (header, rows) = fixture();
    assert_eq!(header["nltk"], "3.10.4");
    assert_eq!(header["python"], "3.11.7");
    assert_eq!(header["unicode"], "14.0.0");
    assert!(rows.len() > 40_053, "{} rows", rows.len());
}

#[test]
fn snowball_english() {
    let st = EnglishStemmer::new(None);
    check("SnowballStemmer(\"english\")", 1, |w| st.stem(w));
}

#[test]
fn snowball_english_ignore_stopwords() {
    let (header, _) = fixture();
    let set: HashSet<String> = header["stopwords"]
        .as_array()
        .expect("stopwords")
        .iter()
        .map(|v| v.as_str().expect("stop word").to_owned())
        .collect();
    assert!(set.contains("having") && set.contains("Being"));
    let st = EnglishStemmer::new(Some(set));
    check(
        "SnowballStemmer(\"english\", ignore_stopwords=True)",
        2,
        |w| st.stem(w),
    );
}

#[test]
fn lancaster() {
    let st = LancasterStemmer::new(false);
    check("LancasterStemmer()", 3, |w| st.stem(w));
}

#[test]
fn lancaster_strip_prefix() {
    let st = LancasterStemmer::new(true);
    check("LancasterStemmer(strip_prefix_flag=True)", 4, |w| {
        st.stem(w)
    });
}
