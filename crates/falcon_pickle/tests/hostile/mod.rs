//! Builders of the hostile files of issue #14, shared by `budgets.rs` and
//! `peak_rss.rs`.
#![allow(dead_code)]

use std::io::Write;

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub fn short_str(x: &str) -> Vec<u8> {
    let mut out = vec![0x8c, x.len() as u8];
    out.extend_from_slice(x.as_bytes());
    out
}

pub fn binint(i: i32) -> Vec<u8> {
    cat(&[b"J", &i.to_le_bytes()])
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn dtype_pickle(name: &str, endian: &str) -> Vec<u8> {
    cat(&[
        b"cnumpy\ndtype\n",
        &short_str(name),
        b"\x89\x88\x87R(K\x03",
        &short_str(endian),
        b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",
    ])
}

/// `count` arrays of `n` zero-size elements, all built from one memoised
/// `_reconstruct`, argument tuple and state: ten bytes per array.
pub fn zero_itemsize_arrays(dtype: &str, n: i32, count: usize) -> Vec<u8> {
    let mut p = cat(&[
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00",
        b"cnumpy\nndarray\nK\x00\x85C\x01b\x87q\x01",
        b"(K\x01",
        &binint(n),
        b"\x85",
        &dtype_pickle(dtype, "|"),
        b"\x89C\x00tq\x02]",
    ]);
    for _ in 0..count {
        p.extend_from_slice(b"h\x00h\x01Rh\x02ba");
    }
    p.push(b'.');
    p
}

/// A joblib stream: one `NumpyArrayWrapper` of `count` elements of `dtype`
/// whose bytes are `data(i)` for element `i`.
pub fn joblib_array(dtype: &str, count: i32, raw: &[u8]) -> Vec<u8> {
    cat(&[
        b"\x80\x04cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(",
        &short_str("subclass"),
        b"cnumpy\nndarray\n",
        &short_str("shape"),
        &binint(count),
        b"\x85",
        &short_str("order"),
        &short_str("C"),
        &short_str("dtype"),
        &dtype_pickle(dtype, "<"),
        &short_str("allow_mmap"),
        b"\x89ub",
        raw,
        b".",
    ])
}

/// 8 million `TUPLE1`s in an 8 KB zlib file.
pub fn tuple1_flood() -> Vec<u8> {
    let mut p = b"\x80\x02N".to_vec();
    p.extend(std::iter::repeat_n(0x85u8, 8 << 20));
    p.push(b'.');
    zlib(&p)
}

/// An 8 MB bytes object referenced 50 times, in a 9 KB zlib file.
pub fn shared_big_bytes() -> Vec<u8> {
    let mut p = cat(&[b"\x80\x04B", &(8u32 << 20).to_le_bytes()]);
    p.extend(std::iter::repeat_n(b'x', 8 << 20));
    p.extend_from_slice(b"\x94(");
    for _ in 0..50 {
        p.extend_from_slice(b"h\x00");
    }
    p.extend_from_slice(b"l.");
    zlib(&p)
}

/// 4650 `INT`s of 4300 digits in a zlib file.
pub fn int_flood() -> Vec<u8> {
    let mut p = b"\x80\x02(".to_vec();
    let line = cat(&[b"I", "9".repeat(4300).as_bytes(), b"\n"]);
    for _ in 0..4650 {
        p.extend_from_slice(&line);
    }
    p.extend_from_slice(b"l.");
    zlib(&p)
}

/// 16 million int8 zeros in a joblib array wrapper, zlib-compressed.
pub fn int8_array() -> Vec<u8> {
    let n = 16 << 20;
    zlib(&joblib_array("i1", n, &vec![0u8; n as usize]))
}

/// An xz file of `n` zeros (xz used to buffer a whole block).
pub fn xz_zeros(n: usize) -> Vec<u8> {
    let options = lzma_rust2::XzOptions::with_preset(1);
    let mut e = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
    e.write_all(&vec![0u8; n]).unwrap();
    e.finish().unwrap()
}
