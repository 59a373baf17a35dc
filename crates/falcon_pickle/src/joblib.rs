//! joblib's file container: detection and bounded decompression.
//!
//! `joblib.dump(obj, path, compress=...)` compresses the *whole* pickle
//! stream (including the raw array bytes joblib interleaves with it) with
//! one of several codecs, recognisable by their magic bytes exactly as
//! joblib's own `_detect_compressor` does. Uncompressed joblib files and
//! plain `pickle.dump` files start with a pickle opcode instead.
//!
//! The array wrappers inside the stream are handled by the unpickler (see
//! `Vm::build_wrapper`), since their data is only located by executing the
//! pickle up to their `BUILD`.

use std::borrow::Cow;
use std::io::Read;

use crate::error::PickleError;
use crate::policy::Limits;

/// How a model file is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A pickle stream as is (`pickle.dump`, or `joblib.dump` without
    /// compression).
    Plain,
    /// zlib stream (`compress=('zlib', n)` or `compress=n`).
    Zlib,
    /// gzip file (`compress='gzip'`).
    Gzip,
    /// bzip2 file (`compress='bz2'`).
    Bz2,
    /// `.xz` container (`compress='xz'`).
    Xz,
    /// Legacy "LZMA alone" stream (`compress='lzma'`).
    Lzma,
    /// LZ4 frame (`compress='lz4'`).
    Lz4,
    /// joblib < 0.9.3's `ZF` format.
    LegacyZFile,
}

impl Container {
    /// The codec's name, as joblib spells it.
    pub fn name(self) -> &'static str {
        match self {
            Container::Plain => "none",
            Container::Zlib => "zlib",
            Container::Gzip => "gzip",
            Container::Bz2 => "bz2",
            Container::Xz => "xz",
            Container::Lzma => "lzma",
            Container::Lz4 => "lz4",
            Container::LegacyZFile => "legacy joblib ZF",
        }
    }
}

/// Identifies the container from the first bytes, as joblib does.
///
/// None of these magics can start a valid pickle: protocol 2+ pickles start
/// with `PROTO` (0x80), and `x`, 0x1f, 0xfd, 0x04 are not opcodes; `B`
/// (`BINBYTES`) and `]` (`EMPTY_LIST`) are, so those checks use longer
/// prefixes that a pickle cannot continue with.
pub fn detect(bytes: &[u8]) -> Container {
    if bytes.starts_with(b"ZF") {
        Container::LegacyZFile
    } else if bytes.starts_with(b"\x78") {
        Container::Zlib
    } else if bytes.starts_with(b"\x1f\x8b") {
        Container::Gzip
    } else if bytes.starts_with(b"BZh") {
        Container::Bz2
    } else if bytes.starts_with(b"\xfd7zXZ") {
        Container::Xz
    } else if bytes.starts_with(b"\x5d\x00\x00") {
        Container::Lzma
    } else if bytes.starts_with(b"\x04\x22\x4d\x18") {
        Container::Lz4
    } else {
        Container::Plain
    }
}

/// The pickle stream inside `bytes`: borrowed when uncompressed, otherwise
/// inflated to at most [`Limits::decompressed_limit`] of the file size and
/// at most the codec's ratio cap times it, so a decompression bomb fails
/// early and decoding time follows the file size too.
///
/// Every decoder is streaming, so the memory it holds besides the output is
/// bounded: deflate's 32 KiB window, bzip2's 900 KiB blocks, lz4's 4 MiB
/// blocks, and for xz/lzma a window that grows with the output up to the
/// dictionary size, which [`LZMA_MEMLIMIT`] caps. Bytes after the end of the
/// compressed data are refused: joblib never writes any, so they mean a
/// corrupt or doctored file. gzip and bz2 files may hold several members
/// (as `cat a.gz b.gz` makes); each must start with the codec's magic.
pub(crate) fn pickle_stream<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, PickleError> {
    let container = detect(bytes);
    let format = container.name();
    let ratio = match container {
        Container::Bz2 | Container::Xz | Container::Lzma => limits.max_ratio_slow,
        _ => limits.max_ratio_fast,
    };
    let limit = limits
        .decompressed_limit(bytes.len())
        .min(ratio.saturating_mul(bytes.len() as u64));
    let mut input = bytes;
    let mut out = Vec::new();
    // Each member consumes at least its header, so the loops below end.
    match container {
        Container::Plain => return Ok(Cow::Borrowed(bytes)),
        Container::LegacyZFile => {
            return Err(PickleError::Decompress {
                format,
                msg: "files written by joblib < 0.9.3 are not supported".into(),
            });
        }
        Container::Zlib => {
            let decoder = flate2::bufread::ZlibDecoder::new(&mut input);
            read_bounded(decoder, &mut out, limit, format)?;
        }
        Container::Gzip => loop {
            let decoder = flate2::bufread::GzDecoder::new(&mut input);
            read_bounded(decoder, &mut out, limit, format)?;
            if !next_member(bytes, input, b"\x1f\x8b", format)? {
                break;
            }
        },
        Container::Bz2 => loop {
            let decoder = bzip2::bufread::BzDecoder::new(&mut input);
            read_bounded(decoder, &mut out, limit, format)?;
            if !next_member(bytes, input, b"BZh", format)? {
                break;
            }
        },
        Container::Lz4 => loop {
            // The frame decoder reads exactly the bytes of one frame (its
            // reads are sized by the frame's own headers).
            let decoder = lz4_flex::frame::FrameDecoder::new(&mut input);
            read_bounded(decoder, &mut out, limit, format)?;
            if !next_member(bytes, input, b"\x04\x22\x4d\x18", format)? {
                break;
            }
        },
        Container::Xz => {
            let decoder = lzma_rust2::XzReader::new_mem_limit(&mut input, true, LZMA_MEMLIMIT_KIB);
            read_bounded(decoder, &mut out, limit, format)?;
        }
        Container::Lzma => {
            let mut decoder =
                lzma_rust2::LzmaReader::new_mem_limit(&mut input, LZMA_MEMLIMIT_KIB, None)
                    .map_err(|e| PickleError::Decompress {
                        format,
                        msg: e.to_string(),
                    })?;
            read_bounded(&mut decoder, &mut out, limit, format)?;
            let (_, buffered) = decoder.into_parts();
            if !buffered.is_empty() {
                return Err(trailing(format, bytes.len() - input.len() - buffered.len()));
            }
        }
    }
    if !input.is_empty() {
        return Err(trailing(format, bytes.len() - input.len()));
    }
    Ok(Cow::Owned(out))
}

/// Most memory the xz/lzma decoder may need, in KiB: the 64 MiB dictionary
/// of `preset=9` (the largest Python's `lzma` presets use) plus the
/// decoder's own state. The window is only filled as output is produced, so
/// a large declared dictionary costs nothing until the data is there.
pub(crate) const LZMA_MEMLIMIT_KIB: u32 = 65 * 1024;

/// After one gzip/bz2/lz4 member: whether another follows (`rest` starts with
/// `magic`), or an error if other bytes do.
fn next_member(
    whole: &[u8],
    rest: &[u8],
    magic: &[u8],
    format: &'static str,
) -> Result<bool, PickleError> {
    if rest.is_empty() {
        Ok(false)
    } else if rest.starts_with(magic) {
        Ok(true)
    } else {
        Err(trailing(format, whole.len() - rest.len()))
    }
}

fn trailing(format: &'static str, end: usize) -> PickleError {
    PickleError::Decompress {
        format,
        msg: format!(
            "unexpected bytes after the end of the compressed data (at byte {end} of the file)"
        ),
    }
}

fn too_big(format: &'static str, limit: u64) -> PickleError {
    PickleError::Limit(format!(
        "{format} stream decompresses to more than {limit} bytes, the limit for this file: by default a model file may expand \
         to at most 48 MiB + 16 times its size, and at most 400 times (zlib, gzip, lz4) or \
         80 times (bz2, xz, lzma) its size, so that a small file cannot take gigabytes of \
         memory or seconds of CPU. If this is a genuine model, save it with \
         joblib.dump(model, path) without compression"
    ))
}

/// Appends what `reader` produces to `out`, failing once `out` would hold
/// more than `limit` bytes.
fn read_bounded(
    reader: impl Read,
    out: &mut Vec<u8>,
    limit: u64,
    format: &'static str,
) -> Result<(), PickleError> {
    let room = limit.saturating_sub(out.len() as u64);
    reader
        .take(room.saturating_add(1))
        .read_to_end(out)
        .map_err(|e| PickleError::Decompress {
            format,
            msg: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(too_big(format, limit));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_magics() {
        assert_eq!(detect(b"\x80\x04\x95"), Container::Plain);
        assert_eq!(detect(b"]q\x00"), Container::Plain);
        assert_eq!(detect(b"\x78\x9c"), Container::Zlib);
        assert_eq!(detect(b"\x1f\x8b\x08"), Container::Gzip);
        assert_eq!(detect(b"BZh9"), Container::Bz2);
        assert_eq!(detect(b"\xfd7zXZ\x00"), Container::Xz);
        assert_eq!(detect(b"\x5d\x00\x00\x40\x00"), Container::Lzma);
        assert_eq!(detect(b"\x04\x22\x4d\x18"), Container::Lz4);
        assert_eq!(detect(b"ZF0x"), Container::LegacyZFile);
        assert_eq!(detect(b""), Container::Plain);
    }

    #[test]
    fn zlib_bomb_is_refused() {
        use flate2::{Compression, write::ZlibEncoder};
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let limits = Limits {
            max_decompressed_bytes: 100_000,
            ..Limits::default()
        };
        let err = pickle_stream(&bomb, &limits).unwrap_err();
        assert!(
            err.to_string().contains("decompresses to more than"),
            "{err}"
        );
        // With a generous ratio it inflates fine.
        let small = {
            let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
            enc.write_all(b"\x80\x04N.").unwrap();
            enc.finish().unwrap()
        };
        assert_eq!(
            &*pickle_stream(&small, &Limits::default()).unwrap(),
            b"\x80\x04N."
        );
    }

    #[test]
    fn corrupt_streams_are_errors() {
        for bad in [
            &b"\x78\x9c\xff\xff\xff"[..],
            b"\x1f\x8b\x08\x00garbage",
            b"BZh91AY&SYgarbage",
            b"\xfd7zXZ\x00garbage",
            b"\x5d\x00\x00\x40\x00\xff\xff\xff\xff\xff\xff\xff\xffgarbage",
            b"\x04\x22\x4d\x18garbage",
        ] {
            assert!(pickle_stream(bad, &Limits::default()).is_err(), "{bad:?}");
        }
    }

    /// `data` compressed with `format`, as joblib would write it.
    pub(crate) fn compress(format: Container, data: &[u8]) -> Vec<u8> {
        use flate2::Compression;
        match format {
            Container::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(3));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::new(3));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Bz2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(3));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Xz => {
                let options = lzma_rust2::XzOptions::with_preset(1);
                let mut e = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Lzma => {
                // Python's FORMAT_ALONE: unknown size, end marker.
                let options = lzma_rust2::LzmaOptions::with_preset(1);
                let mut e =
                    lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &options, None).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Container::Plain | Container::LegacyZFile => data.to_vec(),
        }
    }

    const CODECS: [Container; 6] = [
        Container::Zlib,
        Container::Gzip,
        Container::Bz2,
        Container::Lz4,
        Container::Xz,
        Container::Lzma,
    ];

    #[test]
    fn every_codec_round_trips() {
        // Text of numbers: compressible, but not 80 times.
        let data: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{} ", i.wrapping_mul(2_654_435_761)).into_bytes())
            .collect();
        for format in CODECS {
            let file = compress(format, &data);
            assert_eq!(detect(&file), format);
            let out = pickle_stream(&file, &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
            assert_eq!(&*out, &data[..], "{}", format.name());
        }
    }

    #[test]
    fn every_codec_stops_at_the_limit() {
        // 4 MiB of zeros: tiny files, far over a 1 MiB + 16x limit. The
        // limit is enforced while decoding (xz used to decode a whole
        // block first), so the error comes whatever the codec.
        let zeros = vec![0u8; 4 << 20];
        let limits = Limits {
            decompressed_base: 1 << 20,
            ..Limits::default()
        };
        for format in CODECS {
            let file = compress(format, &zeros);
            assert!(file.len() < 64 << 10, "{}: {}", format.name(), file.len());
            let err = pickle_stream(&file, &limits).unwrap_err();
            assert!(
                matches!(err, PickleError::Limit(_))
                    && err.to_string().contains("decompresses to more than"),
                "{}: {err}",
                format.name()
            );
        }
    }

    #[test]
    fn limit_follows_the_file_size_not_a_ratio() {
        // The old 1000x ratio let a 22 KB file inflate to 22 MB; now the
        // stream may be at most base + 16x the file, and at most 400x (80x
        // for the slow codecs) the file.
        let data: Vec<u8> = (0..3u32 << 20).map(|i| (i % 7 + i % 11) as u8).collect();
        let file = compress(Container::Zlib, &data);
        let ratio = data.len() / file.len();
        assert!((20..400).contains(&ratio), "{ratio}");
        let limits = Limits {
            decompressed_base: 0,
            ..Limits::default()
        };
        assert!(pickle_stream(&file, &limits).is_err());
        let limits = Limits {
            decompressed_base: 3 << 20,
            ..Limits::default()
        };
        assert_eq!(pickle_stream(&file, &limits).unwrap().len(), 3 << 20);
        // The ratio caps whatever the base.
        let limits = Limits {
            max_ratio_fast: ratio as u64 - 1,
            ..Limits::default()
        };
        assert!(pickle_stream(&file, &limits).is_err());
        let file = compress(Container::Bz2, &data);
        assert!(data.len() / file.len() > 80, "{}", file.len());
        assert!(pickle_stream(&file, &Limits::default()).is_err());
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let data = b"\x80\x04N.";
        for format in CODECS {
            let mut file = compress(format, data);
            assert!(pickle_stream(&file, &Limits::default()).is_ok());
            file.extend_from_slice(b"garbage!");
            let err = pickle_stream(&file, &Limits::default()).unwrap_err();
            assert!(
                matches!(err, PickleError::Decompress { .. }),
                "{}: {err}",
                format.name()
            );
            if !matches!(format, Container::Xz) {
                assert!(
                    err.to_string().contains("unexpected bytes after the end"),
                    "{}: {err}",
                    format.name()
                );
            }
        }
    }

    #[test]
    fn multi_member_gzip_bz2_lz4_are_concatenated() {
        for format in [
            Container::Gzip,
            Container::Bz2,
            Container::Lz4,
            Container::Xz,
        ] {
            let mut file = compress(format, b"\x80\x04");
            file.extend_from_slice(&compress(format, b"N."));
            let out = pickle_stream(&file, &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
            assert_eq!(&*out, b"\x80\x04N.", "{}", format.name());
        }
        // A second zlib stream is not something joblib writes.
        let mut file = compress(Container::Zlib, b"\x80\x04");
        file.extend_from_slice(&compress(Container::Zlib, b"N."));
        assert!(pickle_stream(&file, &Limits::default()).is_err());
    }
}
