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
use std::io::{self, Read, Write};

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
/// inflated — to at most [`Limits::max_decompressed_bytes`] and at most
/// 1000 times the compressed size, so a decompression bomb fails early.
pub(crate) fn pickle_stream<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, PickleError> {
    let container = detect(bytes);
    let format = container.name();
    let limit = limits
        .max_decompressed_bytes
        .min((bytes.len() as u64).saturating_mul(1000));
    let out = match container {
        Container::Plain => return Ok(Cow::Borrowed(bytes)),
        Container::LegacyZFile => {
            return Err(PickleError::Decompress {
                format,
                msg: "files written by joblib < 0.9.3 are not supported".into(),
            });
        }
        Container::Zlib => read_bounded(flate2::read::ZlibDecoder::new(bytes), limit, format)?,
        Container::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(bytes), limit, format)?,
        Container::Bz2 => read_bounded(bzip2::read::MultiBzDecoder::new(bytes), limit, format)?,
        Container::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(bytes), limit, format)?,
        Container::Xz => {
            let mut out = BoundedWriter::new(limit);
            let r = lzma_rs::xz_decompress(&mut io::BufReader::new(bytes), &mut out);
            out.finish(r.map_err(|e| e.to_string()), format)?
        }
        Container::Lzma => {
            let mut out = BoundedWriter::new(limit);
            let options = lzma_rs::decompress::Options {
                memlimit: Some(usize::try_from(limit).unwrap_or(usize::MAX)),
                ..Default::default()
            };
            let r = lzma_rs::lzma_decompress_with_options(
                &mut io::BufReader::new(bytes),
                &mut out,
                &options,
            );
            out.finish(r.map_err(|e| e.to_string()), format)?
        }
    };
    Ok(Cow::Owned(out))
}

fn too_big(format: &'static str, limit: u64) -> PickleError {
    PickleError::Limit(format!(
        "{format} stream decompresses to more than {limit} bytes (limit: the smaller of \
         max_decompressed_bytes and 1000x the compressed size)"
    ))
}

fn read_bounded(
    reader: impl Read,
    limit: u64,
    format: &'static str,
) -> Result<Vec<u8>, PickleError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| PickleError::Decompress {
            format,
            msg: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(too_big(format, limit));
    }
    Ok(out)
}

/// A `Vec` sink that fails once more than `limit` bytes are written, for
/// decoders that push output instead of being read from.
struct BoundedWriter {
    out: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl BoundedWriter {
    fn new(limit: u64) -> Self {
        BoundedWriter {
            out: Vec::new(),
            limit,
            exceeded: false,
        }
    }

    fn finish(
        self,
        result: Result<(), String>,
        format: &'static str,
    ) -> Result<Vec<u8>, PickleError> {
        if self.exceeded {
            return Err(too_big(format, self.limit));
        }
        result.map_err(|msg| PickleError::Decompress { format, msg })?;
        Ok(self.out)
    }
}

impl Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.out.len() + buf.len()) as u64 > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
