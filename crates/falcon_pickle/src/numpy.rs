//! Decoding numpy dtypes, arrays and scalars from their pickled pieces.
//!
//! numpy pickles an array as `_reconstruct(ndarray, (0,), b'b')` followed by a
//! `BUILD` whose state is `(version, shape, dtype, is_fortran, rawdata)`, or
//! (protocol 5) as `_frombuffer(buffer, dtype, shape, order)`; a dtype as
//! `dtype('f8', False, True)` plus a `BUILD` that sets the byte order; a scalar
//! as `scalar(dtype, raw_bytes)`. joblib writes the raw bytes straight into
//! the stream instead. All of those paths end here, with the raw bytes, the
//! dtype and the shape, and are decoded into native Rust values.

use crate::error::PickleError;
use crate::policy::Limits;
use crate::value::{ArrayData, Dtype, Field, Record, Value};

/// Most fields a structured dtype may have. scikit-learn's largest (the
/// `HistGradientBoosting` predictor nodes) has 13.
pub(crate) const MAX_RECORD_FIELDS: usize = 64;

/// Parses the dtype name numpy puts in `dtype(name, align, copy)`: a kind
/// character and a size, e.g. `f8`, `i4`, `b1`, `U20` (20 *characters*),
/// `S5`, `O8`, `M8`, optionally preceded by a byte-order character.
pub(crate) fn dtype_from_name(name: &str) -> Option<Dtype> {
    let (little_endian, rest) = match name.as_bytes().first()? {
        b'<' | b'|' => (true, &name[1..]),
        b'>' => (false, &name[1..]),
        b'=' => (cfg!(target_endian = "little"), &name[1..]),
        _ => (true, name),
    };
    let mut chars = rest.chars();
    let kind = chars.next()?;
    let digits = chars.as_str();
    let size: usize = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let itemsize = match kind {
        'f' if matches!(size, 2 | 4 | 8 | 12 | 16) => size,
        'i' | 'u' if matches!(size, 1 | 2 | 4 | 8) => size,
        'b' if size == 1 => 1,
        'c' if matches!(size, 8 | 16 | 24 | 32) => size,
        'O' if matches!(size, 0 | 4 | 8) => 8,
        'M' | 'm' if size == 8 => 8,
        'U' => size.checked_mul(4)?,
        'S' | 'V' => size,
        _ => return None,
    };
    Some(Dtype {
        kind,
        itemsize,
        little_endian,
        record: None,
    })
}

/// Applies a dtype `BUILD` state (`dtype.__setstate__`): the byte order and,
/// for flexible kinds (`U`, `S`, `V`), the element size. Structured dtypes
/// go through [`record_layout`] instead; `structured` refuses them here.
///
/// `state` is the state tuple already split into the pieces that matter:
/// `(endian, has_subarray_or_fields, elsize)`.
pub(crate) fn apply_dtype_state(
    dtype: &mut Dtype,
    endian: &str,
    structured: bool,
    elsize: i64,
    offset: usize,
) -> Result<(), PickleError> {
    if structured {
        return Err(PickleError::Unsupported {
            offset,
            what: "structured or sub-array numpy dtypes".into(),
        });
    }
    dtype.little_endian = match endian {
        "<" | "|" => true,
        ">" => false,
        "=" => cfg!(target_endian = "little"),
        other => {
            return Err(PickleError::numpy(
                offset,
                format!("unknown dtype byte order {other:?}"),
            ));
        }
    };
    if matches!(dtype.kind, 'U' | 'S' | 'V') && elsize > 0 {
        let elsize = usize::try_from(elsize)
            .map_err(|_| PickleError::numpy(offset, "dtype element size out of range"))?;
        if dtype.kind == 'U' && elsize % 4 != 0 {
            return Err(PickleError::numpy(
                offset,
                format!("unicode dtype element size {elsize} is not a multiple of 4"),
            ));
        }
        dtype.itemsize = elsize;
    }
    Ok(())
}

/// Makes `dtype` (a `V<n>` void dtype) the structured dtype with `fields`,
/// as `dtype.__setstate__` does with a `names` tuple and a `fields` dict,
/// after checking what the decoder relies on: the element size is the
/// state's `elsize`; there are at most [`MAX_RECORD_FIELDS`] fields with
/// distinct names; every field is a plain number or bool (no nested
/// structure, no sub-array, no string or object) that lies inside the
/// element; and no two fields overlap (numpy allows overlapping views, but
/// no scikit-learn model has them, and refusing them bounds the decoded
/// size by the raw size).
pub(crate) fn record_layout(
    dtype: &mut Dtype,
    fields: Vec<Field>,
    elsize: i64,
    offset: usize,
) -> Result<(), PickleError> {
    let bad = |msg: String| PickleError::numpy(offset, format!("structured dtype: {msg}"));
    if dtype.kind != 'V' || dtype.record.is_some() {
        return Err(bad(format!(
            "fields given to a {} dtype (only a void dtype takes fields)",
            dtype_str(dtype)
        )));
    }
    let itemsize = usize::try_from(elsize)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| bad(format!("element size {elsize} is not positive")))?;
    if fields.is_empty() || fields.len() > MAX_RECORD_FIELDS {
        return Err(bad(format!(
            "{} fields (1 to {MAX_RECORD_FIELDS} supported)",
            fields.len()
        )));
    }
    let mut spans: Vec<(usize, usize, &str)> = Vec::with_capacity(fields.len());
    for f in &fields {
        if f.dtype.record.is_some() {
            return Err(bad(format!("field {:?} is itself structured", f.name)));
        }
        if !matches!(f.dtype.kind, 'f' | 'i' | 'u' | 'b') || f.dtype.itemsize == 0 {
            return Err(bad(format!(
                "field {:?} has dtype {} (only numbers and bools are supported)",
                f.name,
                dtype_str(&f.dtype)
            )));
        }
        let end = f
            .offset
            .checked_add(f.dtype.itemsize)
            .filter(|&e| e <= itemsize)
            .ok_or_else(|| {
                bad(format!(
                    "field {:?} at offset {} ({} bytes) does not fit in an element of {itemsize} bytes",
                    f.name, f.offset, f.dtype.itemsize
                ))
            })?;
        spans.push((f.offset, end, &f.name));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(bad(format!("fields {:?} and {:?} overlap", w[0].2, w[1].2)));
        }
    }
    let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad("two fields have the same name".into()));
    }
    dtype.itemsize = itemsize;
    dtype.little_endian = true;
    dtype.record = Some(Box::new(Record { fields }));
    Ok(())
}

/// Decodes `count` records of the structured `record` dtype (elements of
/// `itemsize` bytes) field by field. `raw` holds exactly the records.
fn decode_record(
    record: &Record,
    itemsize: usize,
    count: usize,
    raw: &[u8],
    offset: usize,
) -> Result<ArrayData, PickleError> {
    let mut cols = Vec::with_capacity(record.fields.len());
    let mut buf: Vec<u8> = Vec::new();
    for f in &record.fields {
        let size = f.dtype.itemsize;
        buf.clear();
        buf.reserve(count.saturating_mul(size));
        for rec in raw.chunks_exact(itemsize) {
            // In bounds: `record_layout` checked offset + size <= itemsize.
            buf.extend_from_slice(&rec[f.offset..f.offset + size]);
        }
        cols.push((f.name.clone(), decode_array(&f.dtype, count, &buf, offset)?));
    }
    Ok(ArrayData::Record(cols))
}

/// Number of elements of `shape`, with checked multiplication and the
/// configured element limit (an empty shape is a 0-d array of one element).
pub(crate) fn element_count(
    shape: &[usize],
    limits: &Limits,
    offset: usize,
) -> Result<usize, PickleError> {
    let mut count: u64 = 1;
    for &dim in shape {
        count = count.checked_mul(dim as u64).ok_or_else(|| {
            PickleError::Limit(format!(
                "array of shape {shape:?} at byte {offset} has more elements than fit in 64 bits"
            ))
        })?;
    }
    if count > limits.max_array_elements {
        return Err(PickleError::Limit(format!(
            "array of {count} elements at byte {offset} exceeds limit of {} elements",
            limits.max_array_elements
        )));
    }
    usize::try_from(count).map_err(|_| {
        PickleError::Limit(format!(
            "array of {count} elements at byte {offset} does not fit in memory"
        ))
    })
}

/// Refuses a shape whose size in bytes, zero dimensions left out, does
/// not fit in an `isize`, as numpy does ("array is too big"): an empty
/// array of shape `(0, 2**62, 4)` would otherwise load and hand the engine
/// dimensions whose product overflows.
pub(crate) fn check_byte_size(
    dtype: &Dtype,
    shape: &[usize],
    offset: usize,
) -> Result<(), PickleError> {
    let mut size = dtype.itemsize.max(1) as u64;
    for &dim in shape.iter().filter(|&&d| d != 0) {
        size = size.saturating_mul(dim as u64);
    }
    if size > isize::MAX as u64 {
        return Err(PickleError::Limit(format!(
            "array of shape {shape:?} at byte {offset} is too big: its size overflows"
        )));
    }
    Ok(())
}

/// Bytes taken by `count` elements of `dtype`, or a limit error.
pub(crate) fn byte_len(dtype: &Dtype, count: usize, offset: usize) -> Result<usize, PickleError> {
    count.checked_mul(dtype.itemsize).ok_or_else(|| {
        PickleError::Limit(format!(
            "array of {count} elements of {} bytes at byte {offset} overflows",
            dtype.itemsize
        ))
    })
}

fn fixed<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(chunk);
    out
}

macro_rules! decode_num {
    ($raw:expr, $le:expr, $ty:ty, $n:literal) => {
        $raw.chunks_exact($n).map(|c| {
            let b = fixed::<$n>(c);
            if $le {
                <$ty>::from_le_bytes(b)
            } else {
                <$ty>::from_be_bytes(b)
            }
        })
    };
}

/// IEEE 754 half precision to single precision (exact).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = u32::from((bits >> 10) & 0x1f);
    let frac = u32::from(bits & 0x3ff);
    let out = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = frac * 2^-24, exactly representable in f32.
            let mag = frac as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -mag } else { mag };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(out)
}

fn decode_utf32(chunk: &[u8], little_endian: bool, offset: usize) -> Result<String, PickleError> {
    let mut units: Vec<u32> = chunk
        .chunks_exact(4)
        .map(|c| {
            let b = fixed::<4>(c);
            if little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        })
        .collect();
    while units.last() == Some(&0) {
        units.pop();
    }
    units
        .into_iter()
        .map(|u| {
            char::from_u32(u).ok_or_else(|| {
                PickleError::numpy(
                    offset,
                    format!("invalid code point {u:#x} in unicode array"),
                )
            })
        })
        .collect()
}

fn strip_nuls(chunk: &[u8]) -> Vec<u8> {
    let end = chunk.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    chunk[..end].to_vec()
}

/// Decodes `count` elements of `dtype` from `raw` (which must hold exactly
/// `count * itemsize` bytes), converting to native byte order and widening to
/// the [`ArrayData`] type of the kind.
pub(crate) fn decode_array(
    dtype: &Dtype,
    count: usize,
    raw: &[u8],
    offset: usize,
) -> Result<ArrayData, PickleError> {
    let expected = byte_len(dtype, count, offset)?;
    if raw.len() != expected {
        return Err(PickleError::numpy(
            offset,
            format!(
                "array data is {} bytes, but {count} elements of {} need {expected}",
                raw.len(),
                dtype_str(dtype)
            ),
        ));
    }
    if let Some(record) = &dtype.record {
        return decode_record(record, dtype.itemsize, count, raw, offset);
    }
    let le = dtype.little_endian;
    let data = match (dtype.kind, dtype.itemsize) {
        ('f', 8) => ArrayData::F64(decode_num!(raw, le, f64, 8).collect()),
        ('f', 4) => ArrayData::F32(decode_num!(raw, le, f32, 4).collect()),
        ('f', 2) => ArrayData::F32(decode_num!(raw, le, u16, 2).map(f16_to_f32).collect()),
        ('i', 1) => ArrayData::I64(raw.iter().map(|&b| i64::from(b as i8)).collect()),
        ('i', 2) => ArrayData::I64(decode_num!(raw, le, i16, 2).map(i64::from).collect()),
        ('i', 4) => ArrayData::I64(decode_num!(raw, le, i32, 4).map(i64::from).collect()),
        ('i' | 'M' | 'm', 8) => ArrayData::I64(decode_num!(raw, le, i64, 8).collect()),
        ('u', 1) => ArrayData::U64(raw.iter().map(|&b| u64::from(b)).collect()),
        ('u', 2) => ArrayData::U64(decode_num!(raw, le, u16, 2).map(u64::from).collect()),
        ('u', 4) => ArrayData::U64(decode_num!(raw, le, u32, 4).map(u64::from).collect()),
        ('u', 8) => ArrayData::U64(decode_num!(raw, le, u64, 8).collect()),
        ('b', 1) => ArrayData::Bool(raw.iter().map(|&b| b != 0).collect()),
        ('U', n) => {
            if n == 0 {
                ArrayData::Str(vec![String::new(); count])
            } else {
                ArrayData::Str(
                    raw.chunks_exact(n)
                        .map(|c| decode_utf32(c, le, offset))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        ('S', n) => {
            if n == 0 {
                ArrayData::Bytes(vec![Vec::new(); count])
            } else {
                ArrayData::Bytes(raw.chunks_exact(n).map(strip_nuls).collect())
            }
        }
        _ => {
            return Err(PickleError::numpy(
                offset,
                format!("unsupported array dtype {}", dtype_str(dtype)),
            ));
        }
    };
    Ok(data)
}

/// Decodes `numpy.core.multiarray.scalar(dtype, raw)` into a plain value:
/// integers become [`Value::Int`] (or [`Value::BigInt`] for `u8` values
/// above `i64::MAX`), floats [`Value::Float`], and so on.
pub(crate) fn decode_scalar(
    dtype: &Dtype,
    raw: &[u8],
    offset: usize,
) -> Result<Value, PickleError> {
    if raw.len() != dtype.itemsize {
        return Err(PickleError::numpy(
            offset,
            format!(
                "scalar of dtype {} needs {} bytes, got {}",
                dtype_str(dtype),
                dtype.itemsize,
                raw.len()
            ),
        ));
    }
    let le = dtype.little_endian;
    macro_rules! num {
        ($ty:ty, $n:literal) => {{
            let b = fixed::<$n>(raw);
            if le {
                <$ty>::from_le_bytes(b)
            } else {
                <$ty>::from_be_bytes(b)
            }
        }};
    }
    // Numeric kinds are decoded directly: a big vocabulary has hundreds of
    // thousands of integer scalars.
    Ok(match (dtype.kind, dtype.itemsize) {
        ('i' | 'M' | 'm', 8) => Value::Int(num!(i64, 8)),
        ('i', 4) => Value::Int(i64::from(num!(i32, 4))),
        ('i', 2) => Value::Int(i64::from(num!(i16, 2))),
        ('i', 1) => Value::Int(i64::from(raw[0] as i8)),
        ('u', 8) => {
            let v = num!(u64, 8);
            match i64::try_from(v) {
                Ok(i) => Value::Int(i),
                Err(_) => {
                    let mut bytes = v.to_le_bytes().to_vec();
                    bytes.push(0);
                    Value::BigInt(bytes)
                }
            }
        }
        ('u', 4) => Value::Int(i64::from(num!(u32, 4))),
        ('u', 2) => Value::Int(i64::from(num!(u16, 2))),
        ('u', 1) => Value::Int(i64::from(raw[0])),
        ('f', 8) => Value::Float(num!(f64, 8)),
        ('f', 4) => Value::Float(f64::from(num!(f32, 4))),
        ('f', 2) => Value::Float(f64::from(f16_to_f32(num!(u16, 2)))),
        ('b', 1) => Value::Bool(raw[0] != 0),
        ('c', 16) => Value::Complex(
            f64::from_bits(if le {
                u64::from_le_bytes(fixed::<8>(&raw[..8]))
            } else {
                u64::from_be_bytes(fixed::<8>(&raw[..8]))
            }),
            f64::from_bits(if le {
                u64::from_le_bytes(fixed::<8>(&raw[8..]))
            } else {
                u64::from_be_bytes(fixed::<8>(&raw[8..]))
            }),
        ),
        ('c', 8) => {
            let part = |c: &[u8]| {
                let b = fixed::<4>(c);
                f64::from(if le {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                })
            };
            Value::Complex(part(&raw[..4]), part(&raw[4..]))
        }
        _ => match decode_array(dtype, 1, raw, offset)? {
            ArrayData::Str(mut v) => Value::Str(v.swap_remove(0)),
            ArrayData::Bytes(mut v) => Value::Bytes(v.swap_remove(0)),
            _ => {
                return Err(PickleError::numpy(
                    offset,
                    format!("unsupported scalar dtype {}", dtype_str(dtype)),
                ));
            }
        },
    })
}

/// numpy's `dtype.str` spelling, e.g. `<f8`, `|b1`, `>U3` (chars for `U`).
pub fn dtype_str(dtype: &Dtype) -> String {
    if let Some(record) = &dtype.record {
        let fields: Vec<String> = record
            .fields
            .iter()
            .map(|f| format!("{}: {} @{}", f.name, dtype_str(&f.dtype), f.offset))
            .collect();
        return format!("|V{}{{{}}}", dtype.itemsize, fields.join(", "));
    }
    if dtype.kind == 'O' {
        return "|O".to_owned();
    }
    let order = if dtype.itemsize <= 1 || matches!(dtype.kind, 'O' | 'S' | 'V' | 'b') {
        '|'
    } else if dtype.little_endian {
        '<'
    } else {
        '>'
    };
    let size = if dtype.kind == 'U' {
        dtype.itemsize / 4
    } else {
        dtype.itemsize
    };
    format!("{order}{}{size}", dtype.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn dtype_names() {
        let d = dtype_from_name("U3").unwrap();
        assert_eq!((d.kind, d.itemsize), ('U', 12));
        assert_eq!(dtype_str(&d), "<U3");
        assert_eq!(dtype_str(&dtype_from_name(">f8").unwrap()), ">f8");
        assert_eq!(dtype_str(&dtype_from_name("b1").unwrap()), "|b1");
        assert!(dtype_from_name("x8").is_none());
        assert!(dtype_from_name("i3").is_none());
        assert!(dtype_from_name("U99999999999999999999999").is_none());
    }

    #[test]
    fn big_endian_and_strings() {
        let d = dtype_from_name(">i4").unwrap();
        let data = decode_array(&d, 2, &[0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe], 0).unwrap();
        assert_eq!(data, ArrayData::I64(vec![256, -2]));
        let d = dtype_from_name("<U2").unwrap();
        let data = decode_array(&d, 2, b"a\0\0\0\0\0\0\0b\0\0\0c\0\0\0", 0).unwrap();
        assert_eq!(data, ArrayData::Str(vec!["a".into(), "bc".into()]));
        let d = dtype_from_name("|S3").unwrap();
        let data = decode_array(&d, 2, b"ab\0xyz", 0).unwrap();
        assert_eq!(
            data,
            ArrayData::Bytes(vec![b"ab".to_vec(), b"xyz".to_vec()])
        );
        assert!(decode_array(&d, 3, b"ab\0xyz", 0).is_err());
    }

    #[test]
    fn scalars() {
        let d = dtype_from_name("<u8").unwrap();
        assert_eq!(
            decode_scalar(&d, &u64::MAX.to_le_bytes(), 0).unwrap(),
            Value::BigInt(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0])
        );
        let d = dtype_from_name("<i8").unwrap();
        assert_eq!(
            decode_scalar(&d, &(-7i64).to_le_bytes(), 0).unwrap(),
            Value::Int(-7)
        );
        let d = dtype_from_name("<c16").unwrap();
        let mut raw = 1.5f64.to_le_bytes().to_vec();
        raw.extend_from_slice(&(-2.0f64).to_le_bytes());
        assert_eq!(
            decode_scalar(&d, &raw, 0).unwrap(),
            Value::Complex(1.5, -2.0)
        );
        assert!(decode_scalar(&d, &raw[..8], 0).is_err());
    }
}
