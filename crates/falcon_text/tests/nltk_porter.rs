//! Exact parity with NLTK 3.10.4's `PorterStemmer`, against
//! `tests/fixtures/nltk_porter.jsonl` written by
//! `training/gen_nltk_porter_fixtures.py` (one line per word:
//! `[word, nltk_ext, martin, original, nltk_ext_without_lowercasing]`).

use falcon_text::nltk::porter::{PorterMode, PorterStemmer};

const FIXTURE: &str = include_str!("fixtures/nltk_porter.jsonl");

/// The five cells of a fixture line.
fn parse(line: &str) -> [String; 5] {
    let v: Vec<String> = serde_json::from_str(line).expect("fixture line is a JSON string array");
    v.try_into().expect("fixture line has five cells")
}

fn short(t: &str) -> String {
    let e: String = t.chars().take(60).collect();
    format!("{e:?}{}", if t.chars().count() > 60 { "…" } else { "" })
}

#[test]
fn every_word_in_every_mode_matches_nltk() {
    let columns = [
        ("NLTK_EXTENSIONS", PorterMode::NltkExtensions, true),
        ("MARTIN_EXTENSIONS", PorterMode::MartinExtensions, true),
        ("ORIGINAL_ALGORITHM", PorterMode::OriginalAlgorithm, true),
        (
            "NLTK_EXTENSIONS, to_lowercase=False",
            PorterMode::NltkExtensions,
            false,
        ),
    ];
    let stemmers = columns.map(|(_, mode, _)| PorterStemmer::new(mode));

    let mut words = 0;
    let mut mismatches = Vec::new();
    for line in FIXTURE.lines() {
        let cells = parse(line);
        let word = &cells[0];
        words += 1;
        for (col, (name, _, lower)) in columns.iter().enumerate() {
            let got = stemmers[col].stem(word, *lower);
            let want = &cells[col + 1];
            if &got != want {
                mismatches.push(format!(
                    "{name}: word {} -> NLTK {}, falcon {}",
                    short(word),
                    short(want),
                    short(&got)
                ));
            }
        }
    }
    assert!(words > 40_000, "fixture too small: {words} words");
    if let Some(first) = mismatches.first() {
        for m in mismatches.iter().take(15) {
            eprintln!("MISMATCH: {m}");
        }
        panic!(
            "{} mismatches against NLTK; first: {first}",
            mismatches.len()
        );
    }
}
