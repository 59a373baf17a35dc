//! `sub` / `split` / `finditer` / `match` parity with CPython 3.11 `re` and with the `regex`
//! module, against `tests/fixtures/regex_ops.json` from `training/gen_regex_ops_fixtures.py`.

use falcon_text::{Dialect, PyFlags, PyRegex, PyTemplate, TextError};
use serde_json::Value;
use std::collections::BTreeSet;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/regex_ops.json");
    let s = std::fs::read_to_string(path)
        .expect("fixture missing: run training/gen_regex_ops_fixtures.py");
    serde_json::from_str(&s).expect("fixture is valid JSON")
}

/// Byte offset of every code point offset (and of the end).
fn offsets(t: &str) -> Vec<usize> {
    let mut v: Vec<usize> = t.char_indices().map(|(i, _)| i).collect();
    v.push(t.len());
    v
}

fn short(t: &str) -> String {
    let e: String = t.chars().take(50).collect();
    format!("{e:?}{}", if t.chars().count() > 50 { "…" } else { "" })
}

fn spans_json(v: &Value, off: &[usize]) -> Vec<Option<(usize, usize)>> {
    v.as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            s.as_array().map(|p| {
                let a = p[0].as_u64().unwrap() as usize;
                let b = p[1].as_u64().unwrap() as usize;
                (off[a], off[b])
            })
        })
        .collect()
}

/// Cases the crate refuses on purpose (see the error message for each).
const EXPECTED_REFUSALS: &[(&str, &str)] = &[
    ("re", "a*"),
    ("re", "$\\n?"),
    ("regex", r"(?i)\p{Lu}"),
    ("regex", "[[:alpha:]]+"),
    ("regex", r"\s+"),       // flags 256 = regex.VERSION1
    ("regex", "a b\u{a0}c"), // VERBOSE skips U+00A0 in the regex module
];

#[test]
fn regex_ops_match_python() {
    let f = fixture();
    let texts: Vec<&str> = f["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut fails: Vec<String> = Vec::new();
    let mut refused: BTreeSet<(String, String)> = BTreeSet::new();
    let mut checked = 0usize;
    for c in f["cases"].as_array().unwrap() {
        let dialect = c["dialect"].as_str().unwrap();
        let op = c["op"].as_str().unwrap();
        let pat = c["pattern"].as_str().unwrap();
        let bits = c["flags"].as_i64().unwrap();
        let text = texts[c["t"].as_u64().unwrap() as usize];
        let off = offsets(text);
        let want_err = c["error"].as_str();
        let ctx = format!(
            "[{dialect} {op} {pat:?} flags={bits} repl={} text={}]",
            c["repl"],
            short(text)
        );
        let (flags, d) = match dialect {
            "re" => (PyFlags::from_bits(bits), Dialect::Re),
            _ => (PyFlags::from_regex_module_bits(bits), Dialect::RegexModule),
        };
        let flags = match flags {
            Ok(fl) => fl,
            Err(e) => {
                if want_err == Some("flags") {
                    checked += 1;
                } else {
                    refused.insert((dialect.into(), pat.into()));
                    assert!(matches!(e, TextError::Flags { .. }), "{ctx}: {e}");
                }
                continue;
            }
        };
        if want_err == Some("flags") {
            fails.push(format!("{ctx}: flags accepted, Python raises ValueError"));
            continue;
        }
        let re = match PyRegex::compile_dialect(pat, flags, d) {
            Ok(r) => r,
            Err(TextError::Syntax { .. }) if want_err == Some("syntax") => {
                checked += 1;
                continue;
            }
            Err(TextError::Unsupported { .. })
                if want_err == Some("syntax") && d == Dialect::RegexModule =>
            {
                checked += 1;
                continue;
            }
            Err(TextError::Unsupported { .. }) => {
                refused.insert((dialect.into(), pat.into()));
                continue;
            }
            Err(e) => {
                fails.push(format!(
                    "{ctx}: compile error {e}, Python: {:?}",
                    c.get("out")
                ));
                continue;
            }
        };
        if want_err == Some("syntax") {
            fails.push(format!("{ctx}: compiled, Python raises re.error"));
            continue;
        }
        match op {
            "sub" => {
                let repl = c["repl"].as_str().unwrap();
                let t = match PyTemplate::compile(repl, &re) {
                    Ok(t) => t,
                    Err(TextError::Template { .. }) if want_err == Some("template") => {
                        checked += 1;
                        continue;
                    }
                    Err(e) => {
                        fails.push(format!("{ctx}: template error {e}"));
                        continue;
                    }
                };
                if want_err.is_some() {
                    fails.push(format!("{ctx}: template accepted, Python raises"));
                    continue;
                }
                let count = c["count"].as_u64().unwrap() as usize;
                let got = re.sub(&t, text, count).unwrap();
                let want = c["out"].as_str().unwrap();
                if got != want {
                    fails.push(format!("{ctx}:\n  got  {got:?}\n  want {want:?}"));
                }
            }
            "split" => {
                let maxsplit = c["maxsplit"].as_u64().unwrap() as usize;
                let got = re.split(text, maxsplit).unwrap();
                let want: Vec<Option<&str>> = c["out"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str())
                    .collect();
                if got != want {
                    fails.push(format!("{ctx}:\n  got  {got:?}\n  want {want:?}"));
                }
            }
            "finditer" => {
                let mut got = Vec::new();
                re.for_each_match(text, |sp| {
                    got.push(sp.to_vec());
                    true
                })
                .unwrap();
                let want: Vec<_> = c["out"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| spans_json(m, &off))
                    .collect();
                if got != want {
                    fails.push(format!("{ctx}:\n  got  {got:?}\n  want {want:?}"));
                }
            }
            "match" => {
                let positions = c["positions"].as_array().unwrap();
                for (p, want) in positions.iter().zip(c["out"].as_array().unwrap()) {
                    let p = p.as_u64().unwrap() as usize;
                    let byte = off.get(p).copied().unwrap_or(text.len() + 1);
                    let got = re.match_at(text, byte).unwrap();
                    let want = (!want.is_null()).then(|| spans_json(want, &off));
                    if got != want {
                        fails.push(format!("{ctx} pos {p}:\n  got  {got:?}\n  want {want:?}"));
                    }
                }
            }
            other => panic!("unknown op {other}"),
        }
        checked += 1;
    }
    for f in fails.iter().take(12) {
        eprintln!("MISMATCH {f}");
    }
    assert!(fails.is_empty(), "{} mismatches", fails.len());
    let expected: BTreeSet<(String, String)> = EXPECTED_REFUSALS
        .iter()
        .map(|(d, p)| (d.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        refused, expected,
        "refused patterns differ from the expected list"
    );
    assert!(checked > 4000, "{checked}");
}

#[test]
fn flags_and_templates_api() {
    assert_eq!(PyFlags::parse_name("re.I"), Some(PyFlags::IGNORECASE));
    assert_eq!(PyFlags::parse_name("DOTALL"), Some(PyFlags::DOTALL));
    assert_eq!(PyFlags::parse_name("L"), None);
    let f = PyFlags::from_bits(2 | 8).unwrap();
    assert!(f.contains(PyFlags::IGNORECASE) && f.contains(PyFlags::MULTILINE));
    assert_eq!(f.bits(), 10);
    assert!(PyFlags::from_bits(4).is_err() && PyFlags::from_bits(288).is_err());
    assert!(PyFlags::from_bits(0).unwrap().is_empty());
    assert!(PyFlags::from_regex_module_bits(256).is_err());
    assert_eq!(
        PyFlags::from_regex_module_bits(128 | 2).unwrap(),
        PyFlags::ASCII.union(PyFlags::IGNORECASE)
    );
    let re = PyRegex::compile_with_flags(r"(?P<w>[a-z]+)(\d)?", PyFlags::IGNORECASE).unwrap();
    assert_eq!(re.group_index("w"), Some(1));
    assert_eq!(re.group_count(), 2);
    let t = PyTemplate::compile(r"<\g<w>:\2>", &re).unwrap();
    assert_eq!(re.sub(&t, "Ab1 cd", 0).unwrap(), "<Ab:1> <cd:>");
    assert_eq!(re.sub(&t, "Ab1 cd", 1).unwrap(), "<Ab:1> cd");
    assert_eq!(
        PyTemplate::compile("x\\ty", &re).unwrap().literal(),
        Some("x\ty")
    );
    // A template compiled for a pattern with more groups is refused, not expanded wrongly.
    let one = PyRegex::compile("a").unwrap();
    assert!(matches!(
        one.sub(&t, "a", 0),
        Err(TextError::Template { .. })
    ));
    // Anchored match on a fast-path pattern, and positions inside a character.
    let w = PyRegex::compile(r"\w+").unwrap();
    assert!(w.is_fast_path());
    assert_eq!(w.match_at("ab cd", 3).unwrap(), Some(vec![Some((3, 5))]));
    assert_eq!(w.match_at("ab cd", 2).unwrap(), None);
    assert!(matches!(
        w.match_at("é", 1),
        Err(TextError::Position { pos: 1 })
    ));
    assert_eq!(w.match_at("ab", 9).unwrap(), None);
    // Early stop.
    let mut n = 0;
    w.for_each_match("a b c d", |_| {
        n += 1;
        n < 2
    })
    .unwrap();
    assert_eq!(n, 2);
    assert!(w.is_match("  x").unwrap() && !w.is_match("  ").unwrap());
}
