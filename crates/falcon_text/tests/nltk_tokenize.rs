//! NLTK 3.10.4 tokenizers, exactly: against `tests/fixtures/nltk_tokenize.jsonl` from
//! `training/gen_nltk_tokenize_fixtures.py` (SpamAssassin bodies, tweet-like and hostile
//! Unicode strings).

use falcon_text::nltk::tokenize::{
    RegexpTokenizer, TweetTokenizer, replace_html_entities, treebank_word_tokenize,
    word_tokenize_preserve_line, wordpunct_tokenize,
};
use falcon_text::{PyFlags, TextError};
use serde_json::Value;

/// The tokenizer configurations of the generator (`CONFIGS`, `REGEXP`).
fn tweet(name: &str) -> Option<TweetTokenizer> {
    let (a, b, c, d) = match name {
        "tweet" => (true, false, false, true),
        "tweet_lower_reduce_strip" => (false, true, true, true),
        "tweet_nophone" => (true, false, false, false),
        "tweet_all" => (false, true, true, false),
        _ => return None,
    };
    Some(TweetTokenizer::new(a, b, c, d).expect("NLTK's patterns compile"))
}

fn regexp(name: &str) -> Option<RegexpTokenizer> {
    let (p, gaps, de, fl) = match name {
        "regexp_words" => (r"\w+|\$[\d\.]+|\S+", false, true, 56),
        "regexp_gaps" => (r"\s+", true, true, 56),
        "regexp_gaps_keep" => (r"\s+", true, false, 56),
        "regexp_caps" => (r"[A-Z]\w+", false, true, 56),
        "regexp_alpha_i" => (r"[a-z]+", false, true, 56 | 2),
        "regexp_sklearn" => (r"(?u)\b\w\w+\b", false, true, 56),
        "regexp_letters" => (r"[^\W\d_]+", false, true, 56),
        "regexp_group" => (r"(\w+)@\w+", false, true, 56),
        "regexp_punct_gaps" => (r"[\s.,;!?]+", true, true, 56),
        "regexp_nonascii" => (r"[^\x00-\x7f]+", false, true, 56),
        _ => return None,
    };
    let flags = PyFlags::from_bits(fl).unwrap();
    Some(RegexpTokenizer::new(p, gaps, de, flags).expect("compiles"))
}

fn short(t: &str) -> String {
    let e: String = t.chars().take(80).collect();
    format!("{e:?}{}", if t.chars().count() > 80 { "…" } else { "" })
}

/// The first differing token, with both sides.
fn first_diff(got: &[String], want: &[String]) -> String {
    let i = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "token {i}: got {:?}, NLTK {:?} (lengths {} / {})",
        got.get(i),
        want.get(i),
        got.len(),
        want.len()
    )
}

/// Checks every fixture result of the functions `select` accepts; returns how many.
fn check(select: fn(&str) -> bool) -> usize {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/nltk_tokenize.jsonl"
    );
    let data = std::fs::read_to_string(path)
        .expect("fixture missing: run training/gen_nltk_tokenize_fixtures.py");
    let tweets: Vec<(&str, TweetTokenizer)> = [
        "tweet",
        "tweet_lower_reduce_strip",
        "tweet_nophone",
        "tweet_all",
    ]
    .into_iter()
    .map(|n| (n, tweet(n).unwrap()))
    .collect();
    let regexps: Vec<(&str, RegexpTokenizer)> = [
        "regexp_words",
        "regexp_gaps",
        "regexp_gaps_keep",
        "regexp_caps",
        "regexp_alpha_i",
        "regexp_sklearn",
        "regexp_letters",
        "regexp_group",
        "regexp_punct_gaps",
        "regexp_nonascii",
    ]
    .into_iter()
    .map(|n| (n, regexp(n).unwrap()))
    .collect();
    let mut fails = Vec::new();
    let mut checked = 0usize;
    let mut texts = 0usize;
    for line in data.lines() {
        let case: Value = serde_json::from_str(line).expect("JSON line");
        let text = case["text"].as_str().unwrap();
        texts += 1;
        for (name, want) in case["out"].as_object().unwrap() {
            if !select(name) {
                continue;
            }
            let got: Result<Vec<String>, TextError> = match name.as_str() {
                "treebank" => {
                    let t = treebank_word_tokenize(text);
                    assert_eq!(t, word_tokenize_preserve_line(text));
                    t
                }
                "wordpunct" => wordpunct_tokenize(text),
                "html" => replace_html_entities(text).map(|s| vec![s]),
                n => {
                    if let Some(t) = tweets.iter().find(|(k, _)| *k == n) {
                        t.1.tokenize(text)
                    } else if let Some(r) = regexps.iter().find(|(k, _)| *k == n) {
                        r.1.tokenize(text)
                    } else {
                        panic!("unknown function {n}")
                    }
                }
            };
            checked += 1;
            let ctx = format!("[{name}] {}", short(text));
            match (got, want) {
                (Err(TextError::Unrepresentable { .. }), Value::Object(e))
                    if e["error"] == "unrepresentable" => {}
                (Err(e), w) => fails.push(format!("{ctx}: error {e}, NLTK {w}")),
                (Ok(got), Value::Object(e)) => {
                    fails.push(format!("{ctx}: got {got:?}, NLTK raised {}", e["error"]))
                }
                (Ok(got), w) => {
                    let want: Vec<String> = match (name.as_str(), w) {
                        ("html", Value::String(s)) => vec![s.clone()],
                        (_, Value::String(s)) if s.is_empty() => Vec::new(),
                        (_, Value::String(s)) => s.split(' ').map(str::to_string).collect(),
                        (_, Value::Array(a)) => {
                            a.iter().map(|t| t.as_str().unwrap().to_string()).collect()
                        }
                        other => panic!("bad fixture value {other:?}"),
                    };
                    if got != want {
                        fails.push(format!("{ctx}: {}", first_diff(&got, &want)));
                    }
                }
            }
        }
    }
    for f in fails.iter().take(15) {
        eprintln!("MISMATCH {f}");
    }
    assert!(fails.is_empty(), "{} mismatches of {checked}", fails.len());
    assert!(texts > 2000, "{texts} texts");
    checked
}

// Three tests, so that the harness runs them in parallel (the debug build is slow).

#[test]
fn treebank_and_wordpunct_match_nltk() {
    assert!(check(|n| n == "treebank" || n == "wordpunct") > 4000);
}

#[test]
fn tweet_tokenizer_matches_nltk() {
    assert!(check(|n| n.starts_with("tweet")) > 4000);
}

#[test]
fn regexp_tokenizer_and_entities_match_nltk() {
    assert!(check(|n| n.starts_with("regexp") || n == "html") > 4000);
}

#[test]
fn hostile_inputs_are_bounded() {
    let t = TweetTokenizer::default();
    // Long runs that make naive backtracking explode; must finish (or fail cleanly).
    for text in [
        "1".repeat(20_000),
        "a.".repeat(5_000),
        "&#".repeat(5_000),
        format!("http://{}", "a(".repeat(3_000)),
        "@".repeat(10_000),
        "\u{301}".repeat(10_000),
        "😀\u{200d}".repeat(3_000),
    ] {
        let start = std::time::Instant::now();
        let r = t.tokenize(&text);
        assert!(
            r.is_ok() || matches!(r, Err(TextError::BacktrackLimit { .. })),
            "{r:?}"
        );
        let _ = treebank_word_tokenize(&text);
        let _ = wordpunct_tokenize(&text);
        assert!(start.elapsed().as_secs() < 60, "{}", short(&text));
    }
}
