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
//!
//! An [`Output`] payload ([`encode_output`]) tags its shape in bits 2–3
//! of that first byte: `0` is a single-label answer, byte for byte the
//! [`Prediction`] payload above (entries written before multi answers
//! existed read unchanged, and the text entries of single-label models
//! keep their keys); `1` (`0x04`) is multi-label: `flags | n: u16 LE |
//! n × label: u32 LE | [probabilities] | [decision]`; `2` (`0x08`) is
//! multi-output: `flags | n: u16 LE | n × Prediction payload`. A reader
//! that predates a shape sees unknown flag bits and reports the entry
//! corrupt — a miss, never another shape's answer.

use bytes::{BufMut, Bytes, BytesMut};
use falcon_engine::{MultiLabelPrediction, Output, Prediction};

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

/// Shape tags (bits 2–3 of the first byte) of an [`Output`] payload.
const SHAPE_MULTI_LABEL: u8 = 0x04;
const SHAPE_MULTI_OUTPUT: u8 = 0x08;

fn score_bytes(v: &Option<Vec<f64>>) -> usize {
    v.as_ref().map_or(0, |v| 2 + 8 * v.len())
}

fn score_flags(probabilities: &Option<Vec<f64>>, decision: &Option<Vec<f64>>) -> u8 {
    u8::from(probabilities.is_some()) | (u8::from(decision.is_some()) << 1)
}

fn put_scores(b: &mut BytesMut, probabilities: &Option<Vec<f64>>, decision: &Option<Vec<f64>>) {
    for v in [probabilities, decision].into_iter().flatten() {
        b.put_u16_le(u16::try_from(v.len()).unwrap_or(u16::MAX));
        for x in v.iter().take(usize::from(u16::MAX)) {
            b.put_f64_le(*x);
        }
    }
}

fn put_prediction(b: &mut BytesMut, p: &Prediction) {
    b.put_u8(score_flags(&p.probabilities, &p.decision));
    b.put_u32_le(u32::try_from(p.label).unwrap_or(u32::MAX));
    put_scores(b, &p.probabilities, &p.decision);
}

fn prediction_bytes(p: &Prediction) -> usize {
    5 + score_bytes(&p.probabilities) + score_bytes(&p.decision)
}

/// A prediction as a payload.
pub fn encode_prediction(p: &Prediction) -> Bytes {
    let mut b = BytesMut::with_capacity(prediction_bytes(p));
    put_prediction(&mut b, p);
    b.freeze()
}

/// Any answer as a payload: a single-label one exactly as
/// [`encode_prediction`], the others tagged (see the module docs).
pub fn encode_output(o: &Output) -> Bytes {
    match o {
        Output::Single(p) => encode_prediction(p),
        Output::MultiLabel(p) => {
            let mut b = BytesMut::with_capacity(
                3 + 4 * p.labels.len() + score_bytes(&p.probabilities) + score_bytes(&p.decision),
            );
            b.put_u8(SHAPE_MULTI_LABEL | score_flags(&p.probabilities, &p.decision));
            let n = p.labels.len().min(usize::from(u16::MAX));
            b.put_u16_le(n as u16);
            for &l in &p.labels[..n] {
                b.put_u32_le(u32::try_from(l).unwrap_or(u32::MAX));
            }
            put_scores(&mut b, &p.probabilities, &p.decision);
            b.freeze()
        }
        Output::MultiOutput(outs) => {
            let mut b =
                BytesMut::with_capacity(3 + outs.iter().map(prediction_bytes).sum::<usize>());
            b.put_u8(SHAPE_MULTI_OUTPUT);
            let n = outs.len().min(usize::from(u16::MAX));
            b.put_u16_le(n as u16);
            for p in &outs[..n] {
                put_prediction(&mut b, p);
            }
            b.freeze()
        }
    }
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], RedisTierError> {
    if b.len() < n {
        return Err(RedisTierError::Corrupt("truncated prediction"));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn u16_at(b: &mut &[u8]) -> Result<usize, RedisTierError> {
    Ok(u16::from_le_bytes(take(b, 2)?.try_into().expect("2 bytes")) as usize)
}

fn u32_at(b: &mut &[u8]) -> Result<usize, RedisTierError> {
    Ok(u32::from_le_bytes(take(b, 4)?.try_into().expect("4 bytes")) as usize)
}

fn floats(b: &mut &[u8]) -> Result<Vec<f64>, RedisTierError> {
    let n = u16_at(b)?;
    let raw = take(b, n * 8)?;
    Ok(raw
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// `(probabilities, decision)` as flagged.
type ScorePair = (Option<Vec<f64>>, Option<Vec<f64>>);

fn read_scores(b: &mut &[u8], flags: u8) -> Result<ScorePair, RedisTierError> {
    let probabilities = if flags & 1 != 0 {
        Some(floats(b)?)
    } else {
        None
    };
    let decision = if flags & 2 != 0 {
        Some(floats(b)?)
    } else {
        None
    };
    Ok((probabilities, decision))
}

/// One prediction payload from the front of `b`.
fn read_prediction(b: &mut &[u8]) -> Result<Prediction, RedisTierError> {
    let flags = take(b, 1)?[0];
    if flags & !3 != 0 {
        return Err(RedisTierError::Corrupt("unknown prediction flags"));
    }
    let label = u32_at(b)?;
    let (probabilities, decision) = read_scores(b, flags)?;
    Ok(Prediction {
        label,
        probabilities,
        decision,
    })
}

fn end(b: &[u8]) -> Result<(), RedisTierError> {
    if b.is_empty() {
        Ok(())
    } else {
        Err(RedisTierError::Corrupt("trailing bytes after prediction"))
    }
}

/// Inverse of [`encode_prediction`]; a payload of another shape is an
/// error.
pub fn decode_prediction(mut b: &[u8]) -> Result<Prediction, RedisTierError> {
    let p = read_prediction(&mut b)?;
    end(b)?;
    Ok(p)
}

/// Inverse of [`encode_output`]. Unknown shape or flag bits, truncation
/// and trailing bytes are errors (a miss for the tier).
pub fn decode_output(mut b: &[u8]) -> Result<Output, RedisTierError> {
    let Some(&first) = b.first() else {
        return Err(RedisTierError::Corrupt("truncated prediction"));
    };
    let out = match first & 0x0C {
        0 => Output::Single(read_prediction(&mut b)?),
        SHAPE_MULTI_LABEL => {
            let flags = take(&mut b, 1)?[0];
            if flags & !(SHAPE_MULTI_LABEL | 3) != 0 {
                return Err(RedisTierError::Corrupt("unknown prediction flags"));
            }
            let n = u16_at(&mut b)?;
            let labels = (0..n)
                .map(|_| u32_at(&mut b))
                .collect::<Result<Vec<_>, _>>()?;
            let (probabilities, decision) = read_scores(&mut b, flags)?;
            Output::MultiLabel(MultiLabelPrediction {
                labels,
                probabilities,
                decision,
            })
        }
        SHAPE_MULTI_OUTPUT => {
            if take(&mut b, 1)?[0] != SHAPE_MULTI_OUTPUT {
                return Err(RedisTierError::Corrupt("unknown prediction flags"));
            }
            let n = u16_at(&mut b)?;
            // Each output takes at least 5 bytes: a length the payload
            // cannot hold is corrupt before anything is allocated.
            if n * 5 > b.len() {
                return Err(RedisTierError::Corrupt("truncated prediction"));
            }
            let outs = (0..n)
                .map(|_| read_prediction(&mut b))
                .collect::<Result<Vec<_>, _>>()?;
            Output::MultiOutput(outs)
        }
        _ => return Err(RedisTierError::Corrupt("unknown prediction shape")),
    };
    end(b)?;
    Ok(out)
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

    fn bits(o: &Output) -> String {
        // `{:?}` prints every f64 exactly (NaN included), so equal strings
        // mean bit-identical answers up to NaN payloads.
        format!("{o:?}")
    }

    fn shapes() -> Vec<Output> {
        vec![
            Output::Single(Prediction {
                label: 1,
                probabilities: Some(vec![0.1, 0.9]),
                decision: Some(vec![2.2]),
            }),
            Output::MultiLabel(MultiLabelPrediction {
                labels: vec![0, 3],
                probabilities: Some(vec![0.9, 0.1, 0.2, 0.75]),
                decision: Some(vec![1.5, -2.0, -1.0, 0.5e-300]),
            }),
            Output::MultiLabel(MultiLabelPrediction {
                labels: vec![],
                probabilities: None,
                decision: Some(vec![-1.0, -0.0]),
            }),
            Output::MultiLabel(MultiLabelPrediction {
                labels: vec![1],
                probabilities: Some(vec![0.4, 0.6]),
                decision: None,
            }),
            Output::MultiOutput(vec![
                Prediction {
                    label: 0,
                    probabilities: Some(vec![0.8, 0.2]),
                    decision: None,
                },
                Prediction {
                    label: 2,
                    probabilities: Some(vec![0.1, 0.2, 0.7]),
                    decision: None,
                },
            ]),
            Output::MultiOutput(vec![Prediction {
                label: 1,
                probabilities: None,
                decision: None,
            }]),
        ]
    }

    #[test]
    fn outputs_roundtrip_bit_for_bit() {
        for o in shapes() {
            let enc = encode_output(&o);
            assert_eq!(bits(&decode_output(&enc).unwrap()), bits(&o), "{o:?}");
        }
    }

    #[test]
    fn a_single_output_is_the_prediction_payload() {
        // Entries written before multi answers existed read as `Single`,
        // and a single-label answer is stored as it always was.
        let p = Prediction {
            label: 1,
            probabilities: Some(vec![0.1, 0.9]),
            decision: Some(vec![2.2]),
        };
        let old = encode_prediction(&p);
        assert_eq!(encode_output(&Output::Single(p.clone())), old);
        assert_eq!(decode_output(&old).unwrap(), Output::Single(p));
    }

    #[test]
    fn multi_payloads_are_never_read_as_another_shape() {
        for o in shapes().into_iter().skip(1) {
            let enc = encode_output(&o);
            // The single-prediction reader (what workers built before
            // multi answers read with) refuses them: a miss.
            assert!(decode_prediction(&enc).is_err(), "{o:?}");
            for cut in 0..enc.len() {
                assert!(decode_output(&enc[..cut]).is_err(), "{o:?} cut at {cut}");
            }
            let mut extra = enc.to_vec();
            extra.push(0);
            assert!(decode_output(&extra).is_err());
        }
        // Unknown shape (bits 2-3 = 3) and unknown flags.
        assert!(decode_output(&[0x0C, 0, 0, 0, 0]).is_err());
        assert!(decode_output(&[0x14, 0, 0]).is_err());
        assert!(decode_output(&[0x09, 0, 0]).is_err());
        // A huge declared output count in a short payload.
        assert!(decode_output(&[0x08, 0xff, 0xff, 0, 0, 0, 0, 0]).is_err());
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
