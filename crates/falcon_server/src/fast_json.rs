//! The body of nearly every prediction request, `{"text": "…"}`, decoded
//! without the general JSON parser.
//!
//! **Why.** On a cache hit, decoding the 5.5 KB e-mail out of its JSON
//! string was the largest single cost of the request (issue #15): ~27,500
//! instructions with `serde_json`, whose string scanner stops at every
//! escape, and e-mails carry one escape (`\n`, `\"`, `\uXXXX`) every ~28
//! bytes. Two SIMD JSON crates measured no better than a third off it:
//! `sonic-rs` 22,400 and `simd-json` 18,400 instructions per body (the
//! latter classifies the whole document before decoding it). This decoder
//! looks at 16 bytes per step for the next quote, backslash or control
//! byte, copies the run before it, and decodes the escape.
//!
//! **Exactness.** It accepts only the one shape — an object whose single
//! key is the literal `"text"` and whose value is a string, with JSON
//! whitespace between tokens — and only a string that `serde_json` would
//! decode to the same text: every escape of RFC 8259 (a surrogate pair
//! included), no raw control byte, valid UTF-8. Anything else, well-formed
//! or not (another key, a second key, escapes in the key, a lone
//! surrogate, trailing bytes), returns `None`, and the caller hands the
//! body to `serde_json`, which then decides the answer and the error
//! message exactly as before. A differential fuzz target
//! (`fuzz/fuzz_targets/predict_body.rs`) checks that whenever this returns
//! a text, `serde_json` parses the same body to the same text.

/// The text of `body` when it is `{"text": "<string>"}` (see the module
/// docs); `None` for any other body.
pub fn single_text(body: &[u8]) -> Option<String> {
    let mut i = 0;
    for token in [&b"{"[..], b"\"text\"", b":", b"\""] {
        i = expect(body, skip_ws(body, i), token)?;
    }
    let (text, end) = string(body, i)?;
    let i = expect(body, skip_ws(body, end), b"}")?;
    (skip_ws(body, i) == body.len()).then_some(text)
}

/// `i` past `token` when `body[i..]` starts with it.
fn expect(body: &[u8], i: usize, token: &[u8]) -> Option<usize> {
    body.get(i..)?.starts_with(token).then_some(i + token.len())
}

/// The first index from `i` that is not JSON whitespace.
fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while matches!(body.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// A byte that ends a plain run inside a JSON string: the closing quote,
/// an escape, or a control byte (which JSON forbids raw).
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Bit `k` set when byte `k` of the chunk is special: three vector
/// compares and a byte mask (`wide`'s safe SIMD; SSE2 on every x86-64,
/// NEON on aarch64). A plain loop over the 16 bytes was not vectorised by
/// the compiler and cost ten times as many instructions.
fn special_mask(chunk: &[u8; 16]) -> u32 {
    use wide::u8x16;
    let v = u8x16::new(*chunk);
    let control = v.min(u8x16::splat(0x1f)).simd_eq(v);
    let stop = v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\')) | control;
    stop.to_bitmask()
}

/// The offset of the first special byte of `rest`, if any.
fn next_special(rest: &[u8]) -> Option<usize> {
    let mut chunks = rest.chunks_exact(16);
    let mut base = 0;
    for chunk in &mut chunks {
        let m = special_mask(chunk.try_into().expect("16 bytes"));
        if m != 0 {
            return Some(base + m.trailing_zeros() as usize);
        }
        base += 16;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| is_special(b)).map(|k| base + k)
}

/// Decodes the JSON string whose contents start at `i` (just past its
/// opening quote): the text, and the index just past its closing quote.
fn string(body: &[u8], mut i: usize) -> Option<(String, usize)> {
    // The text is never longer than its escaped form: one allocation.
    let mut out = Vec::with_capacity(body.len() - i);
    loop {
        let rest = &body[i..];
        // No closing quote: malformed, serde_json says how.
        let k = next_special(rest)?;
        out.extend_from_slice(&rest[..k]);
        i += k;
        match body[i] {
            // Escapes only ever add whole UTF-8 characters, so the text is
            // valid exactly when the raw runs between them are.
            b'"' => return String::from_utf8(out).ok().map(|s| (s, i + 1)),
            b'\\' => i = escape(body, i + 1, &mut out)?,
            _ => return None,
        }
    }
}

/// Decodes the escape whose letter is at `i`, appending it to `out`;
/// returns the index past it. `None` for an unknown escape, bad hex, or
/// a lone surrogate (serde_json refuses those, with its own message).
fn escape(body: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let byte = match *body.get(i)? {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let hi = hex4(body.get(i + 1..i + 5)?)?;
            let (code, end) = match hi {
                0xD800..=0xDBFF => {
                    if body.get(i + 5..i + 7)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(body.get(i + 7..i + 11)?)?;
                    if !(0xDC00..=0xDFFF).contains(&lo) {
                        return None;
                    }
                    (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), i + 11)
                }
                _ => (hi, i + 5),
            };
            // A lone low surrogate is not a char: `None`.
            let c = char::from_u32(code)?;
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            return Some(end);
        }
        _ => return None,
    };
    out.push(byte);
    Some(i + 1)
}

/// Four hex digits, either case.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some(acc << 4 | v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general parser makes of `body`, as the fast path must.
    fn serde_text(body: &[u8]) -> Option<String> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Only {
            text: String,
        }
        serde_json::from_slice::<Only>(body).ok().map(|o| o.text)
    }

    fn agree(body: &[u8]) {
        if let Some(fast) = single_text(body) {
            assert_eq!(
                Some(&fast),
                serde_text(body).as_ref(),
                "fast path and serde_json differ on {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn decodes_the_common_body_and_every_escape() {
        let cases: &[(&str, &str)] = &[
            (r#"{"text": "hello"}"#, "hello"),
            (r#"{"text":""}"#, ""),
            (" \r\n\t{ \"text\" :\n\"  spaced  \" }\n ", "  spaced  "),
            (
                r#"{"text": "a\"b\\c\/d\be\ff\ng\rh\ti"}"#,
                "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti",
            ),
            (r#"{"text": "caf\u00e9 \u00E9 \u20ac"}"#, "café é €"),
            (r#"{"text": "\ud83d\ude00 smile"}"#, "😀 smile"),
            (r#"{"text": "\u0000nul"}"#, "\0nul"),
            (
                "{\"text\": \"raw é 😀 and del \u{7f}\"}",
                "raw é 😀 and del \u{7f}",
            ),
        ];
        for (body, text) in cases {
            assert_eq!(
                single_text(body.as_bytes()).as_deref(),
                Some(*text),
                "{body}"
            );
            agree(body.as_bytes());
        }
        // Runs longer than a chunk, escapes on and across chunk edges.
        for n in 0..70 {
            let body = format!(r#"{{"text": "{}\n{}"}}"#, "x".repeat(n), "y".repeat(70 - n));
            let text = format!("{}\n{}", "x".repeat(n), "y".repeat(70 - n));
            assert_eq!(single_text(body.as_bytes()), Some(text));
        }
    }

    #[test]
    fn declines_every_other_shape_and_every_malformed_string() {
        let bodies: &[&[u8]] = &[
            br#"{"texts": ["a"]}"#,
            br#"{"text": "a", "text": "b"}"#,
            br#"{"text": "a", "explain": 3}"#,
            br#"{"t\u0065xt": "a"}"#,
            br#"{"text": 5}"#,
            br#"{"text": null}"#,
            br#"{"text": "a"} x"#,
            br#"{"text": "a""#,
            br#"{"text": "a"#,
            br#"{"text": "a\"#,
            br#"{"text": "a\x"}"#,
            br#"{"text": "\u12"}"#,
            br#"{"text": "\u12g4"}"#,
            br#"{"text": "\ud83d"}"#,
            br#"{"text": "\ud83d\u0041"}"#,
            br#"{"text": "\ude00"}"#,
            b"{\"text\": \"tab\tinside\"}",
            b"{\"text\": \"nl\ninside\"}",
            b"{\"text\": \"bad \xff utf8\"}",
            b"{\"text\": \"cut \xe2\x82\"}",
            b"\xef\xbb\xbf{\"text\": \"bom\"}",
            b"",
            b"[]",
        ];
        for body in bodies {
            assert_eq!(
                single_text(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    /// Bodies mutated byte by byte around the common shape: whenever the
    /// fast path answers, serde_json answers the same (the fuzz target
    /// does this without bound).
    #[test]
    fn agrees_with_serde_json_on_mutated_bodies() {
        let seeds: &[&[u8]] = &[
            br#"{"text": "ab\"c\\d\u00e9\ud83d\ude00 e\n"}"#,
            b"{\"text\":\"caf\xc3\xa9 \\/ x\"}",
        ];
        let alphabet = b"\"\\{}:, \t\nux0dD8e\x1f\x7f\xc3\xa9\xff";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for _ in 0..20_000 {
                let mut body = seed.to_vec();
                for _ in 0..1 + next() % 3 {
                    let pos = (next() as usize) % (body.len() + 1);
                    let b = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 3 {
                        0 if pos < body.len() => body[pos] = b,
                        1 if pos < body.len() => {
                            body.remove(pos);
                        }
                        _ => body.insert(pos, b),
                    }
                }
                agree(&body);
            }
        }
    }
}
