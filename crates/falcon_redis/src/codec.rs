//! Compact binary encodings of cache values.
//!
//! An entry is `0xF2 | text_len: u32 LE | crc32(text): u32 LE | payload`.
//! The key is the SHA-256 of the text; the length and CRC-32 — a checksum
//! independent of SHA-256 — make a collision detectable (and a miss) without
//! storing the text itself: a 5 KB e-mail's entry is ~45 bytes instead of
//! ~5 KB, which is most of Redis's CPU, memory and network per write-back.
//! A false hit would need SHA-256, the length and the CRC to collide at once.
//!
//! A [`Prediction`] payload is `flags: u8 | label: u32 LE | [n: u16 LE |
//! n × f64 LE] (probabilities, when flag 1) | [n: u16 LE | n × f64 LE]
//! (decision, when flag 2)`: 33 bytes for a binary model, against ~80 for
//! its JSON, and f64s round-trip bit for bit.

use bytes::{BufMut, Bytes, BytesMut};
use falcon_engine::Prediction;

use crate::error::RedisTierError;

/// Format tag: entries of another format (the earlier `0xF1` that stored
/// the whole text) read as corrupt, i.e. a miss, until their TTL ends.
const ENTRY_TAG: u8 = 0xF2;
const HEADER: usize = 9;

/// `payload` for `text`, as stored.
pub fn encode_entry(text: &str, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER + payload.len());
    b.put_u8(ENTRY_TAG);
    b.put_u32_le(u32::try_from(text.len()).unwrap_or(u32::MAX));
    b.put_u32_le(crc32fast::hash(text.as_bytes()));
    b.put_slice(payload);
    b.freeze()
}

/// The payload of `entry` if it was stored for `text`; `Ok(None)` when it
/// belongs to another text (a SHA-256 collision of the key, caught by the
/// length and CRC-32).
pub fn decode_entry(entry: &Bytes, text: &str) -> Result<Option<Bytes>, RedisTierError> {
    if entry.len() < HEADER || entry[0] != ENTRY_TAG {
        return Err(RedisTierError::Corrupt("bad entry header"));
    }
    let len = u32::from_le_bytes(entry[1..5].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(entry[5..9].try_into().expect("4 bytes"));
    if u32::try_from(text.len()).unwrap_or(u32::MAX) != len
        || crc32fast::hash(text.as_bytes()) != crc
    {
        return Ok(None);
    }
    Ok(Some(entry.slice(HEADER..)))
}

/// A prediction as a payload.
pub fn encode_prediction(p: &Prediction) -> Bytes {
    let n = |v: &Option<Vec<f64>>| v.as_ref().map_or(0, |v| 2 + 8 * v.len());
    let mut b = BytesMut::with_capacity(5 + n(&p.probabilities) + n(&p.decision));
    let flags = u8::from(p.probabilities.is_some()) | (u8::from(p.decision.is_some()) << 1);
    b.put_u8(flags);
    b.put_u32_le(u32::try_from(p.label).unwrap_or(u32::MAX));
    for v in [&p.probabilities, &p.decision].into_iter().flatten() {
        b.put_u16_le(u16::try_from(v.len()).unwrap_or(u16::MAX));
        for x in v.iter().take(usize::from(u16::MAX)) {
            b.put_f64_le(*x);
        }
    }
    b.freeze()
}

/// Inverse of [`encode_prediction`].
pub fn decode_prediction(mut b: &[u8]) -> Result<Prediction, RedisTierError> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], RedisTierError> {
        if b.len() < n {
            return Err(RedisTierError::Corrupt("truncated prediction"));
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    fn floats(b: &mut &[u8]) -> Result<Vec<f64>, RedisTierError> {
        let n = u16::from_le_bytes(take(b, 2)?.try_into().expect("2 bytes")) as usize;
        let raw = take(b, n * 8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
    let flags = take(&mut b, 1)?[0];
    if flags & !3 != 0 {
        return Err(RedisTierError::Corrupt("unknown prediction flags"));
    }
    let label = u32::from_le_bytes(take(&mut b, 4)?.try_into().expect("4 bytes")) as usize;
    let probabilities = if flags & 1 != 0 {
        Some(floats(&mut b)?)
    } else {
        None
    };
    let decision = if flags & 2 != 0 {
        Some(floats(&mut b)?)
    } else {
        None
    };
    if !b.is_empty() {
        return Err(RedisTierError::Corrupt("trailing bytes after prediction"));
    }
    Ok(Prediction {
        label,
        probabilities,
        decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_roundtrips_bit_for_bit() {
        for p in [
            Prediction {
                label: 1,
                probabilities: Some(vec![0.1, 0.9]),
                decision: Some(vec![-2.5e-300]),
            },
            Prediction {
                label: 0,
                probabilities: None,
                decision: Some(vec![f64::NAN, -0.0, 1.0 / 3.0]),
            },
            Prediction {
                label: 7,
                probabilities: Some(vec![]),
                decision: None,
            },
        ] {
            let enc = encode_prediction(&p);
            let dec = decode_prediction(&enc).unwrap();
            assert_eq!(dec.label, p.label);
            let bits = |v: &Option<Vec<f64>>| {
                v.as_ref()
                    .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(bits(&dec.probabilities), bits(&p.probabilities));
            assert_eq!(bits(&dec.decision), bits(&p.decision));
        }
        let binary = Prediction {
            label: 1,
            probabilities: Some(vec![0.1, 0.9]),
            decision: Some(vec![2.2]),
        };
        assert_eq!(encode_prediction(&binary).len(), 33);
    }

    #[test]
    fn truncated_or_garbage_predictions_are_errors() {
        let enc = encode_prediction(&Prediction {
            label: 1,
            probabilities: Some(vec![0.1, 0.9]),
            decision: None,
        });
        for cut in 0..enc.len() {
            assert!(decode_prediction(&enc[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = enc.to_vec();
        extra.push(0);
        assert!(decode_prediction(&extra).is_err());
        assert!(decode_prediction(&[0xff, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn entry_verifies_exact_text() {
        let e = encode_entry("hello", b"payload");
        assert_eq!(
            decode_entry(&e, "hello").unwrap().unwrap(),
            Bytes::from_static(b"payload")
        );
        assert_eq!(decode_entry(&e, "hellO").unwrap(), None);
        assert_eq!(decode_entry(&e, "hello ").unwrap(), None);
        assert_eq!(decode_entry(&e, "").unwrap(), None);
        assert!(decode_entry(&Bytes::from_static(b"\xF1\x03\0\0\0abc"), "abc").is_err());
        assert!(decode_entry(&Bytes::from_static(b"\xF2\x03\0\0"), "abc").is_err());
        assert!(decode_entry(&Bytes::from_static(b"x"), "").is_err());
        // Compact: the text is not stored.
        let long = "x".repeat(5000);
        assert_eq!(encode_entry(&long, b"p").len(), 10);
        assert!(
            decode_entry(&encode_entry(&long, b"p"), &long)
                .unwrap()
                .is_some()
        );
    }
}
