//! Exact parity with CPython 3.11, against `tests/fixtures/text_cases.json` produced by
//! `training/gen_text_fixtures.py`.

use falcon_text::{
    PyRegex, TextError, is_digit, is_space, is_word, nfkd, py_lower, py_split_whitespace,
    strip_accents_ascii, strip_accents_unicode, unicode, white_spaces_collapse,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

fn fixture() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/text_cases.json"
        );
        let s = std::fs::read_to_string(path)
            .expect("fixture missing: run training/gen_text_fixtures.py");
        serde_json::from_str(&s).expect("fixture is valid JSON")
    })
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

fn with<F: Fn(&str, &mut String)>(f: F, t: &str) -> String {
    let mut o = String::new();
    f(t, &mut o);
    o
}

/// Reports at most a few mismatches with context, then fails.
fn check(failures: &[String]) {
    if !failures.is_empty() {
        for f in failures.iter().take(15) {
            eprintln!("MISMATCH: {f}");
        }
        panic!("{} mismatches against CPython", failures.len());
    }
}

fn short(t: &str) -> String {
    let e: String = t.chars().take(60).collect();
    format!("{e:?}{}", if t.chars().count() > 60 { "…" } else { "" })
}

#[test]
fn fixture_matches_table_versions() {
    let f = fixture();
    assert_eq!(s(&f["python"]), unicode::tables::PYTHON_VERSION);
    assert_eq!(s(&f["unicode"]), unicode::tables::UNICODE_VERSION);
}

#[test]
fn code_point_properties() {
    let mut fails = Vec::new();
    let pts = fixture()["codepoints"].as_array().unwrap();
    assert!(pts.len() > 2000);
    for p in pts {
        let cp = p[0].as_u64().unwrap() as u32;
        let c = char::from_u32(cp).unwrap();
        let flags = p[1].as_u64().unwrap();
        let got = u64::from(is_word(c)) | u64::from(is_digit(c)) << 1 | u64::from(is_space(c)) << 2;
        if got != flags {
            fails.push(format!(
                "U+{cp:04X} classes: got {got:03b}, want {flags:03b}"
            ));
        }
        let lower = with(py_lower, &c.to_string());
        if lower != s(&p[2]) {
            fails.push(format!("U+{cp:04X} lower: {lower:?} vs {:?}", s(&p[2])));
        }
        let ccc = unicode::combining_class(c) as u64;
        if ccc != p[3].as_u64().unwrap() {
            fails.push(format!("U+{cp:04X} combining: {ccc} vs {}", p[3]));
        }
        let d = with(nfkd, &c.to_string());
        if d != s(&p[4]) {
            fails.push(format!("U+{cp:04X} NFKD: {d:?} vs {:?}", s(&p[4])));
        }
    }
    check(&fails);
}

#[test]
fn string_functions() {
    let mut fails = Vec::new();
    let cases = fixture()["cases"].as_array().unwrap();
    for case in cases {
        let t = s(&case["text"]);
        for (key, f) in [
            ("lower", py_lower as fn(&str, &mut String)),
            ("strip_accents_unicode", strip_accents_unicode),
            ("strip_accents_ascii", strip_accents_ascii),
            ("white_spaces", white_spaces_collapse),
        ] {
            let got = with(f, t);
            if got != s(&case[key]) {
                fails.push(format!(
                    "{key}({}): {} vs {}",
                    short(t),
                    short(&got),
                    short(s(&case[key]))
                ));
            }
        }
        let split: Vec<&str> = py_split_whitespace(t).collect();
        let want: Vec<&str> = case["split"].as_array().unwrap().iter().map(s).collect();
        if split != want {
            fails.push(format!("split({}): {split:?} vs {want:?}", short(t)));
        }
    }
    check(&fails);
}

#[test]
fn findall_matches_python() {
    let f = fixture();
    let groups: BTreeMap<&str, u64> = f["groups"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
        .collect();
    let mut compiled: BTreeMap<String, Result<PyRegex, TextError>> = BTreeMap::new();
    let mut fails = Vec::new();
    let mut checked = 0usize;
    let mut unsupported = BTreeSet::new();
    for case in f["cases"].as_array().unwrap() {
        let t = s(&case["text"]);
        for (p, want) in case["findall"].as_object().unwrap() {
            let re = compiled
                .entry(p.clone())
                .or_insert_with(|| PyRegex::compile(p));
            let re = match re {
                Ok(re) => re,
                Err(TextError::Unsupported { .. }) => {
                    unsupported.insert(p.clone());
                    continue;
                }
                Err(e) => {
                    fails.push(format!("compile {p:?}: {e}"));
                    continue;
                }
            };
            if re.group_count() as u64 != groups[p.as_str()] {
                fails.push(format!(
                    "{p:?} groups {} vs {}",
                    re.group_count(),
                    groups[p.as_str()]
                ));
            }
            let got = re.findall_vec(t);
            if groups[p.as_str()] > 1 {
                if !matches!(got, Err(TextError::TooManyGroups { .. })) {
                    fails.push(format!("{p:?}: expected TooManyGroups"));
                }
                continue;
            }
            let want: Vec<&str> = want.as_array().unwrap().iter().map(s).collect();
            match got {
                Ok(got) if got == want => checked += 1,
                Ok(got) => {
                    let i = got
                        .iter()
                        .zip(&want)
                        .position(|(a, b)| a != b)
                        .unwrap_or(got.len().min(want.len()));
                    fails.push(format!(
                        "findall({p:?}, {}) differs at item {i}: got {:?} want {:?} (lens {} vs {}) [{:?}]",
                        short(t),
                        got.get(i),
                        want.get(i),
                        got.len(),
                        want.len(),
                        re.translated().map(|x| x.chars().take(200).collect::<String>())
                    ));
                }
                Err(e) => fails.push(format!("findall({p:?}, {}): {e}", short(t))),
            }
        }
    }
    eprintln!("checked {checked} findall results; unsupported: {unsupported:?}");
    for p in f["main_patterns"].as_array().unwrap() {
        assert!(
            !unsupported.contains(s(p)),
            "main pattern {p} must be supported"
        );
    }
    check(&fails);
}

#[test]
fn python_syntax_errors_are_refused() {
    let mut fails = Vec::new();
    for p in fixture()["python_errors"].as_array().unwrap() {
        match PyRegex::compile(s(p)) {
            Err(TextError::Syntax { .. }) => {}
            other => fails.push(format!("{p}: expected Syntax error, got {other:?}")),
        }
    }
    check(&fails);
}

#[test]
fn documented_refusals() {
    let mut fails = Vec::new();
    for p in fixture()["expected_unsupported"].as_array().unwrap() {
        match PyRegex::compile(s(p)) {
            Err(TextError::Unsupported { .. }) => {}
            other => fails.push(format!("{p}: expected Unsupported, got {other:?}")),
        }
    }
    check(&fails);
}

/// Random patterns built from Python regex pieces: every pattern CPython rejects must be
/// rejected, and every accepted one must either be refused as unsupported or give exactly
/// CPython's `findall` results. Nothing may panic.
#[test]
fn random_patterns_match_python() {
    let f = fixture();
    let texts: Vec<&str> = f["fuzz_texts"].as_array().unwrap().iter().map(s).collect();
    let mut fails = Vec::new();
    let mut unsupported = Vec::new();
    let mut exact = 0usize;
    for p in f["fuzz_invalid"].as_array().unwrap() {
        if let Ok(re) = PyRegex::compile(s(p)) {
            fails.push(format!(
                "{p}: Python rejects it, compiled to {:?}",
                re.translated()
            ));
        }
    }
    for case in f["fuzz_valid"].as_array().unwrap() {
        let p = s(&case["pattern"]);
        let re = match PyRegex::compile(p) {
            Ok(re) => re,
            Err(TextError::Unsupported { .. }) => {
                unsupported.push(p);
                continue;
            }
            Err(e) => {
                fails.push(format!("{p:?}: {e}"));
                continue;
            }
        };
        for (t, want) in texts.iter().zip(case["results"].as_array().unwrap()) {
            let want: Vec<&str> = want.as_array().unwrap().iter().map(s).collect();
            match re.findall_vec(t) {
                Ok(got) if got == want => exact += 1,
                other => fails.push(format!(
                    "findall({p:?}, {t:?}): got {other:?}, want {want:?} [{:?}]",
                    re.translated()
                )),
            }
        }
    }
    eprintln!(
        "fuzz: {exact} exact results, {} valid patterns refused as unsupported",
        unsupported.len()
    );
    check(&fails);
}
