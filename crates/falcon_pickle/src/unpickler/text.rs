//! Decoding the textual arguments of protocol 0 opcodes and arbitrary
//! precision integers.
//!
//! Protocol 0 writes numbers as decimal text, `str` as raw-unicode-escape and
//! Python 2 `str` as a quoted, backslash-escaped literal. These helpers mirror
//! what CPython's `pickle.py` does with them (`int()`, `float()`,
//! `codecs.escape_decode`, `raw_unicode_escape`), without the parts that
//! could be abused (no limitless digit strings).

/// CPython refuses `int()` of more digits than this (`sys.int_max_str_digits`),
/// so no real pickle has longer decimal integers; it also keeps the quadratic
/// decimal-to-binary conversion cheap.
const MAX_DIGITS: usize = 4300;

/// A decoded integer: small ones as `i64`, others as minimal little-endian
/// two's-complement bytes (the [`crate::Value::BigInt`] representation).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Int {
    Small(i64),
    Big(Vec<u8>),
}

/// Builds an [`Int`] from little-endian two's-complement bytes (`LONG1`,
/// `LONG4`), trimming redundant sign bytes.
pub(crate) fn int_from_le(bytes: &[u8]) -> Int {
    let Some(&last) = bytes.last() else {
        return Int::Small(0);
    };
    let negative = last & 0x80 != 0;
    let fill = if negative { 0xff } else { 0x00 };
    // Drop sign-extension bytes while the byte below keeps the same sign bit.
    let mut len = bytes.len();
    while len > 1 && bytes[len - 1] == fill && ((bytes[len - 2] & 0x80 != 0) == negative) {
        len -= 1;
    }
    if len <= 8 {
        let mut buf = [fill; 8];
        buf[..len].copy_from_slice(&bytes[..len]);
        Int::Small(i64::from_le_bytes(buf))
    } else {
        Int::Big(bytes[..len].to_vec())
    }
}

/// Parses a Python integer literal as protocol 0 writes it (`INT`, `LONG`):
/// optional surrounding whitespace, optional sign, decimal digits (and `_`
/// separators, which `int()` accepts).
///
/// More than [`MAX_DIGITS`] digits are refused as CPython refuses them. The
/// rest is converted 19 digits at a time into 64-bit limbs, about
/// `(d / 19)² / 2` limb operations for `d` digits: 4300 digits cost ~26,000
/// operations, not the ~2 million of a digit-at-a-time conversion.
pub(crate) fn parse_int(text: &[u8]) -> Result<Int, String> {
    let text = text.trim_ascii();
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
        None => return Err("empty integer".into()),
    };
    if digits.is_empty() {
        return Err("no digits".into());
    }
    // Fast path: up to 18 plain digits always fit an i64.
    if digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
        return Ok(Int::Small(if negative { -v } else { v }));
    }
    if digits.starts_with(b"_") || digits.ends_with(b"_") || digits.windows(2).any(|w| w == b"__") {
        return Err("misplaced '_' separator".into());
    }
    if let Some(&bad) = digits.iter().find(|&&d| d != b'_' && !d.is_ascii_digit()) {
        return Err(format!("unexpected character {:?}", char::from(bad)));
    }
    let count = digits.iter().filter(|&&d| d != b'_').count();
    if count > MAX_DIGITS {
        return Err(format!(
            "{count} digits exceed the limit of {MAX_DIGITS} \
             (CPython's sys.int_info.default_max_str_digits)"
        ));
    }
    // Magnitude in base 2^64 limbs, little-endian: limbs = limbs * 10^k + chunk.
    let mut limbs: Vec<u64> = Vec::with_capacity(count / 19 + 1);
    let mut chunk = 0u64;
    let mut chunk_len = 0u32;
    let add_chunk = |limbs: &mut Vec<u64>, chunk: u64, len: u32| {
        let scale = 10u64.pow(len);
        let mut carry = u128::from(chunk);
        for limb in limbs.iter_mut() {
            let v = u128::from(*limb) * u128::from(scale) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            limbs.push(carry as u64);
        }
    };
    for &d in digits {
        if d == b'_' {
            continue;
        }
        chunk = chunk * 10 + u64::from(d - b'0');
        chunk_len += 1;
        if chunk_len == 19 {
            add_chunk(&mut limbs, chunk, chunk_len);
            chunk = 0;
            chunk_len = 0;
        }
    }
    if chunk_len > 0 {
        add_chunk(&mut limbs, chunk, chunk_len);
    }
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    bytes.push(0); // room for the sign bit
    if negative {
        // Two's complement: invert and add one.
        let mut carry = true;
        for b in &mut bytes {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    Ok(int_from_le(&bytes))
}

/// Parses a protocol 0 `FLOAT` argument (Python `repr` of a float,
/// including `inf`, `-inf` and `nan`).
pub(crate) fn parse_float(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

fn hex_digit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// `codecs.escape_decode`: the body of a protocol 0 `STRING` literal.
pub(crate) fn escape_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *s.get(i)?;
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let hi = hex_digit(*s.get(i)?)?;
                let lo = hex_digit(*s.get(i + 1)?)?;
                i += 2;
                out.push((hi * 16 + lo) as u8);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Some(out)
}

/// `raw_unicode_escape` decoding (protocol 0 `UNICODE`): bytes are Latin-1
/// characters except `\uXXXX` and `\UXXXXXXXX` escapes. UTF-16 surrogate pairs
/// written as two `\u` escapes (by narrow Python 2 builds) are joined; a lone
/// surrogate cannot be a Rust `String` and is refused. Decoded in one pass
/// into the output (at most twice the input's size), with no intermediate
/// buffer.
pub(crate) fn raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut high: Option<u32> = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        let unit = if c != b'\\' || i >= s.len() || !matches!(s[i], b'u' | b'U') {
            u32::from(c)
        } else {
            let n = if s[i] == b'u' { 4 } else { 8 };
            i += 1;
            let digits = s.get(i..i + n)?;
            let mut v: u32 = 0;
            for &d in digits {
                v = v.checked_mul(16)?.checked_add(hex_digit(d)?)?;
            }
            i += n;
            v
        };
        match high.take() {
            Some(h) => {
                if !(0xdc00..0xe000).contains(&unit) {
                    return None;
                }
                out.push(char::from_u32(
                    0x10000 + ((h - 0xd800) << 10) + (unit - 0xdc00),
                )?);
            }
            None if (0xd800..0xdc00).contains(&unit) => high = Some(unit),
            None => out.push(char::from_u32(unit)?),
        }
    }
    if high.is_some() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        let parse_int = |t: &[u8]| super::parse_int(t).ok();
        assert_eq!(parse_int(b"123"), Some(Int::Small(123)));
        assert_eq!(parse_int(b" -5 "), Some(Int::Small(-5)));
        assert_eq!(parse_int(b"1_000"), Some(Int::Small(1000)));
        assert_eq!(
            parse_int(b"9223372036854775807"),
            Some(Int::Small(i64::MAX))
        );
        assert_eq!(
            parse_int(b"-9223372036854775808"),
            Some(Int::Small(i64::MIN))
        );
        // 2**63
        assert_eq!(
            parse_int(b"9223372036854775808"),
            Some(Int::Big(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0]))
        );
        // -(2**63) - 1
        assert_eq!(
            parse_int(b"-9223372036854775809"),
            Some(Int::Big(vec![
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff
            ]))
        );
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"12a"), None);
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(&vec![b'9'; 5000]), None);
    }

    #[test]
    fn le_ints() {
        assert_eq!(int_from_le(&[]), Int::Small(0));
        assert_eq!(int_from_le(&[0xff]), Int::Small(-1));
        assert_eq!(int_from_le(&[0x80, 0x00]), Int::Small(128));
        assert_eq!(int_from_le(&[0xff, 0xff, 0xff]), Int::Small(-1));
        assert_eq!(int_from_le(&[0; 20]), Int::Small(0));
        let big = [0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(int_from_le(&big), Int::Big(big.to_vec()));
    }

    #[test]
    fn strings() {
        assert_eq!(escape_decode(br"a\x41\n\101\\\'").unwrap(), b"aA\nA\\'");
        assert_eq!(escape_decode(br"\q").unwrap(), b"\\q");
        assert!(escape_decode(br"\x4").is_none());
        assert!(escape_decode(b"\\").is_none());
        assert_eq!(
            raw_unicode_escape(b"caf\xe9 \\u20ac\\U0001F600").unwrap(),
            "café €😀"
        );
        assert_eq!(raw_unicode_escape(b"\\ud83d\\ude00").unwrap(), "😀");
        assert_eq!(raw_unicode_escape(b"a\\b").unwrap(), "a\\b");
        assert!(raw_unicode_escape(b"\\ud83d").is_none());
        assert!(raw_unicode_escape(b"\\u12").is_none());
        assert!(raw_unicode_escape(b"\\UFFFFFFFF").is_none());
    }
}
