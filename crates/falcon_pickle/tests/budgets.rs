//! The attacks of issue #14, rebuilt byte by byte: small files that used to
//! demand memory or CPU out of proportion to their size. Each must now be
//! refused by a budget that follows the file size (a `Limit` error), and
//! legitimate, very compressible models must still load.

mod hostile;

use std::time::Instant;

use falcon_pickle::{ArrayData, Limits, PickleError, Policy, Value, load};
use hostile::*;

/// The error of a load that must fail on a resource limit.
fn limit_err(bytes: &[u8]) -> String {
    limit_err_with(bytes, Limits::default())
}

/// The default limits without the compression ratio caps, which stop most
/// of these files before they reach the unpickler: the unpickler's own
/// budget must hold without them.
fn no_ratio_cap() -> Limits {
    Limits {
        max_ratio_fast: u64::MAX,
        max_ratio_slow: u64::MAX,
        ..Limits::default()
    }
}

fn limit_err_with(bytes: &[u8], limits: Limits) -> String {
    let mut policy = Policy::new();
    policy.set_limits(limits);
    match load(bytes, &policy) {
        Ok(_) => panic!("a hostile file of {} bytes loaded", bytes.len()),
        Err(e @ PickleError::Limit(_)) => e.to_string(),
        Err(e) => panic!("expected a limit error, got: {e}"),
    }
}

#[test]
fn zero_itemsize_arrays_are_charged_cumulatively() {
    // One small S0 array is fine...
    let v = load(&zero_itemsize_arrays("S0", 3, 1), &Policy::new()).unwrap();
    let arrays = v.as_list().unwrap();
    assert_eq!(
        arrays[0].as_array().unwrap().data,
        ArrayData::Bytes(vec![Vec::new(); 3])
    );
    // ... but 1024 arrays of 8192 zero-size elements from a 10 KB pickle
    // (8.4 million `Vec`s, 200 MB) used to load, each array's count being
    // checked only against the input size on its own.
    for dtype in ["S0", "U0"] {
        let p = zero_itemsize_arrays(dtype, 8192, 1024);
        assert!(p.len() < 11_000);
        let e = limit_err(&p);
        assert!(e.contains("too often"), "{dtype}: {e}");
        // Compressed, the file is a few hundred bytes.
        let z = zlib(&p);
        assert!(z.len() < 1000, "{}", z.len());
        limit_err(&z);
    }
    // V0 arrays are not decoded at all.
    let e = load(&zero_itemsize_arrays("V0", 3, 1), &Policy::new()).unwrap_err();
    assert!(e.to_string().contains("unsupported array dtype"), "{e}");
}

#[test]
fn zero_size_elements_cost_their_vec_against_the_memory_budget() {
    // With a tiny memory budget, even the elements the copy budget lets
    // through are refused for what they take in memory (24 bytes each).
    let arrays = zero_itemsize_arrays("S0", 8000, 40);
    // Padding (a popped bytes object), so that 8000 elements per array
    // are not more than the input size.
    let p = cat(&[
        b"\x80\x02B",
        &8000u32.to_le_bytes(),
        &[0u8; 8000],
        b"0",
        &arrays[2..],
    ]);
    let mut policy = Policy::new();
    policy.set_limits(Limits {
        value_base: 1 << 20,
        value_per_file_byte: 0,
        ..Limits::default()
    });
    let e = load(&p, &policy).unwrap_err().to_string();
    assert!(e.contains("decoded numpy arrays"), "{e}");
    policy.set_limits(Limits::default());
    assert!(load(&p, &policy).is_ok());
}

#[test]
fn a_flood_of_tuple1_is_refused_as_it_allocates() {
    // 8 million TUPLE1 opcodes in an 8 KB zlib file: each makes an object
    // and a one-element Vec (~100 bytes), 800 MB in all. The arena is
    // metered as it grows, so the load stops near the 48 MiB budget.
    let z = tuple1_flood();
    assert!(z.len() < 10_000, "{}", z.len());
    assert!(limit_err(&z).contains("decompresses to more than"));
    let start = Instant::now();
    let e = limit_err_with(&z, no_ratio_cap());
    assert!(e.contains("objects built by the pickle"), "{e}");
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn marks_and_memo_entries_count_too() {
    // MARK and MEMOIZE allocate no object, only stack and memo slots.
    let mut policy = Policy::new();
    policy.set_limits(Limits {
        value_base: 1 << 20,
        value_per_file_byte: 0,
        ..Limits::default()
    });
    let mut p = b"\x80\x04".to_vec();
    p.extend(std::iter::repeat_n(b'(', 1 << 20));
    let e = load(&p, &policy).unwrap_err().to_string();
    assert!(e.contains("stack and memo"), "{e}");
    let mut p = b"\x80\x04N".to_vec();
    p.extend(std::iter::repeat_n(0x94u8, 1 << 20));
    let e = load(&p, &policy).unwrap_err().to_string();
    assert!(e.contains("stack and memo"), "{e}");
}

#[test]
fn a_shared_big_string_cannot_be_expanded_by_the_file() {
    // An 8 MB bytes object referenced 50 times: a 9 KB file that expands
    // to 400 MB. The old budget (256 MiB + 128 x the *decompressed* size)
    // allowed 1.3 GB.
    let z = shared_big_bytes();
    assert!(z.len() < 20_000, "{}", z.len());
    assert!(limit_err(&z).contains("decompresses to more than"));
    let e = limit_err_with(&z, no_ratio_cap());
    assert!(e.contains("shared references expanded"), "{e}");
    assert!(e.contains("more than 50"), "{e}"); // 48 MiB + 20 x 9 KB
}

#[test]
fn widened_arrays_are_charged_at_their_in_memory_size() {
    // 16 million int8 zeros: a 16 KB file, a 16 MB stream, but 128 MB once
    // widened to i64. Refused before decoding.
    let z = int8_array();
    assert!(z.len() < 20_000, "{}", z.len());
    assert!(limit_err(&z).contains("decompresses to more than"));
    let e = limit_err_with(&z, no_ratio_cap());
    assert!(e.contains("decoded numpy arrays"), "{e}");
}

#[test]
fn a_highly_compressible_real_sized_model_loads() {
    // HashingVectorizer(n_features=2**20) + binary LogisticRegression: an
    // 8 MiB float64 coef_, mostly zeros, compresses to a few hundred KB.
    // The 48 MiB bases keep it loadable.
    let n = 1usize << 20;
    let coef: Vec<f64> = (0..n)
        .map(|i| if i % 97 == 0 { (i as f64).sqrt() } else { 0.0 })
        .collect();
    let raw: Vec<u8> = coef.iter().flat_map(|f| f.to_le_bytes()).collect();
    let z = zlib(&joblib_array("f8", n as i32, &raw));
    assert!(z.len() < 500_000, "{}", z.len());
    let v = load(&z, &Policy::new()).unwrap();
    assert_eq!(v.as_array().unwrap().as_f64().unwrap(), &coef[..]);
}

#[test]
fn decimal_integers_are_limited_like_cpython() {
    // 4300 digits load, 4301 are refused as CPython refuses them.
    let digits = "7".repeat(4300);
    let ok = cat(&[b"I", digits.as_bytes(), b"\n."]);
    assert!(matches!(
        load(&ok, &Policy::new()).unwrap(),
        Value::BigInt(_)
    ));
    let bad = cat(&[b"L", digits.as_bytes(), b"7L\n."]);
    let e = load(&bad, &Policy::new()).unwrap_err().to_string();
    assert!(e.contains("4301 digits exceed the limit of 4300"), "{e}");
    // The 19-digit-limb conversion is exact.
    let p = b"I10000000000000000000000000000000000000000\n.";
    assert_eq!(
        load(p, &Policy::new()).unwrap(),
        Value::BigInt(vec![
            0, 0, 0, 0, 0, 97, 245, 185, 171, 191, 164, 92, 195, 241, 41, 99, 29
        ])
    );
    // -(3**100), with `_` separators.
    let p = b"L-515_377_520_732_011_331_036_461_129_765_621_272_702_107_522_001L\n.";
    assert_eq!(
        load(p, &Policy::new()).unwrap(),
        Value::BigInt(vec![
            47, 236, 199, 48, 170, 130, 107, 41, 138, 8, 190, 164, 169, 151, 200, 152, 53, 172,
            185, 165
        ])
    );
}

#[test]
fn many_long_decimal_integers_are_refused_quickly() {
    // 4650 INTs of 4300 digits (20 MB of text, a 30 KB zlib file) took
    // 3.1 s to convert; the conversion work now has a budget.
    let z = int_flood();
    assert!(limit_err(&z).contains("decompresses to more than"));
    let start = Instant::now();
    let e = limit_err_with(&z, no_ratio_cap());
    assert!(e.contains("long decimal integers"), "{e}");
    // Unoptimised test builds included.
    assert!(start.elapsed().as_secs_f64() < 2.0, "{:?}", start.elapsed());
}

#[test]
fn empty_arrays_with_huge_dimensions_are_refused() {
    // (0, 2**62, 4): no element, but the dimensions' product overflows.
    let big = b"\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40";
    let p = cat(&[
        b"\x80\x03cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01",
        b"K\x00",
        big,
        b"K\x04\x87",
        &dtype_pickle("f8", "<"),
        b"\x89C\x00tb.",
    ]);
    let e = limit_err(&p);
    assert!(e.contains("too big"), "{e}");
}

#[test]
fn copies_of_shared_lists_are_metered() {
    // list(L) of a memoised 100k-element list, 200 times: 80 MB of Ids.
    let mut p = b"\x80\x02c__builtin__\nlist\nq\x01]q\x00(".to_vec();
    p.extend(std::iter::repeat_n(b'N', 100_000));
    p.extend_from_slice(b"e(");
    for _ in 0..200 {
        p.extend_from_slice(b"h\x01h\x00\x85R");
    }
    p.extend_from_slice(b"l.");
    let mut policy = Policy::new();
    policy.set_limits(Limits {
        value_base: 4 << 20,
        value_per_file_byte: 0,
        ..Limits::default()
    });
    let e = load(&p, &policy).unwrap_err().to_string();
    assert!(e.contains("more than 4194304 bytes"), "{e}");
}

#[test]
fn long_unicode_escapes_decode_in_one_pass() {
    let mut p = b"V".to_vec();
    for _ in 0..100_000 {
        p.extend_from_slice(b"\\u20ac");
    }
    p.extend_from_slice(b"\n.");
    let v = load(&p, &Policy::new()).unwrap();
    assert_eq!(v.as_str().unwrap().chars().count(), 100_000);
}

#[test]
fn decimal_and_binary_big_ints_agree() {
    // The same dict pickled with protocol 0 (decimal `L...L` text,
    // raw-unicode-escape text, xz) and protocol 2 (`LONG1`, lzma): the
    // limb conversion must give exactly the binary encoding's bytes.
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/unpickle");
    let p0 = falcon_pickle::load_path(&seeds.join("bigints_p0_xz.joblib"), &Policy::new()).unwrap();
    let p2 =
        falcon_pickle::load_path(&seeds.join("bigints_p2_lzma.joblib"), &Policy::new()).unwrap();
    assert_eq!(p0, p2);
    assert!(matches!(p0.get("digits"), Some(Value::BigInt(b)) if b.len() == 125));
}

#[test]
fn long_float_text_parses_in_linear_time() {
    // `float()` accepts any number of digits; so must FLOAT, without
    // slowing down on them (4 MB of digits).
    let digits = "3".repeat(4 << 20);
    let p = cat(&[b"F0.", digits.as_bytes(), b"\n."]);
    let start = Instant::now();
    let v = load(&p, &Policy::new()).unwrap();
    assert_eq!(v, Value::Float(1.0 / 3.0));
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    // LONG4: binary, linear, and metered like any other payload.
    let mut p = cat(&[b"\x80\x02\x8b", &(1u32 << 20).to_le_bytes()]);
    p.extend(std::iter::repeat_n(0x11u8, 1 << 20));
    p.push(b'.');
    assert!(matches!(load(&p, &Policy::new()).unwrap(), Value::BigInt(b) if b.len() == 1 << 20));
}
