//! Hand-written opcode streams: memo semantics, every protocol's opcodes,
//! numpy/joblib reconstruction, and hostile input.

use falcon_pickle::{ArrayData, Limits, PickleError, Policy, Value, load};

fn policy() -> Policy {
    let mut p = Policy::new();
    p.allow("mymod", "MyClass");
    p
}

fn ok(bytes: &[u8]) -> Value {
    load(bytes, &policy()).unwrap_or_else(|e| panic!("{e}\n{bytes:?}"))
}

fn err(bytes: &[u8]) -> String {
    match load(bytes, &policy()) {
        Ok(v) => panic!("loaded {v:?} from {bytes:?}"),
        Err(e) => e.to_string(),
    }
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

/// Concatenates byte pieces.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn short_str(x: &str) -> Vec<u8> {
    let mut out = vec![0x8c, x.len() as u8];
    out.extend_from_slice(x.as_bytes());
    out
}

// ----- memo semantics --------------------------------------------------------

#[test]
fn memo_sees_containers_filled_after_memoizing() {
    // ] MEMOIZE ( } MEMOIZE ( 'a' 1 u BINGET 1 e .
    // The dict is memoized empty, filled, then fetched again.
    let p = cat(&[b"\x80\x04]\x94(}\x94(", &short_str("a"), b"K\x01uh\x01e."]);
    let d = Value::Dict(vec![(s("a"), int(1))]);
    assert_eq!(ok(&p), Value::List(vec![d.clone(), d]));
}

#[test]
fn memo_reference_taken_before_mutation_sees_mutation() {
    // ] ( } BINPUT 1 BINGET 1 'a' 1 s e .  -- SETITEM on the second
    // reference fills the object both references point to.
    let p = cat(&[b"\x80\x02](}q\x01h\x01", &short_str("a"), b"K\x01se."]);
    let d = Value::Dict(vec![(s("a"), int(1))]);
    assert_eq!(ok(&p), Value::List(vec![d.clone(), d]));
}

#[test]
fn list_appended_after_get() {
    // a = []; b = [a, a]; a.append(7)  -> [[7], [7]] via PUT/GET text opcodes
    let p = b"(lp0\n(lp1\ng0\nag0\na0I7\na0g1\n.";
    // protocol 0: after building [a, a] we POP it, append 7 to a (now on
    // top), pop a, and fetch the outer list again.
    let v = ok(p);
    assert_eq!(
        v,
        Value::List(vec![Value::List(vec![int(7)]), Value::List(vec![int(7)])])
    );
}

#[test]
fn memoize_counts_entries() {
    // MEMOIZE uses len(memo); after BINPUT 5 the next MEMOIZE is key 1.
    let p = b"\x80\x04K\x01q\x05K\x02\x94\x86h\x01h\x05\x87.";
    assert_eq!(
        ok(p),
        Value::Tuple(vec![Value::Tuple(vec![int(1), int(2)]), int(2), int(1)])
    );
}

#[test]
fn missing_memo_key_is_an_error() {
    assert!(err(b"\x80\x02h\x03.").contains("memo key 3 not found"));
    assert!(err(b"g12\n.").contains("memo key 12 not found"));
    assert!(err(b"K\x01p-1\n.").contains("invalid memo key"));
}

// ----- protocol 0 / 1 ----------------------------------------------------------

#[test]
fn protocol0_text_opcodes() {
    let p = b"(dp0\nVkey\np1\n(lp2\nI01\naI00\naI-12\naL123456789012345678901234567890L\naF1.5\naF-inf\naS'a\\'b\\x00'\np3\naVcaf\xe9 \\u20ac\np4\naNa(I1\nI2\ntp5\nas.";
    let v = ok(p);
    let list = v.get("key").unwrap().as_list().unwrap();
    assert_eq!(list[0], Value::Bool(true));
    assert_eq!(list[1], Value::Bool(false));
    assert_eq!(list[2], int(-12));
    // 123456789012345678901234567890 as little-endian two's complement.
    let big: u128 = 123456789012345678901234567890;
    let mut bytes = big.to_le_bytes().to_vec();
    while bytes.len() > 1 && bytes[bytes.len() - 1] == 0 && bytes[bytes.len() - 2] & 0x80 == 0 {
        bytes.pop();
    }
    assert_eq!(list[3], Value::BigInt(bytes));
    assert_eq!(list[4], Value::Float(1.5));
    assert_eq!(list[5], Value::Float(f64::NEG_INFINITY));
    assert_eq!(list[6], s("a'b\0"));
    assert_eq!(list[7], s("café €"));
    assert_eq!(list[8], Value::None);
    assert_eq!(list[9], Value::Tuple(vec![int(1), int(2)]));
}

#[test]
fn protocol1_binary_opcodes() {
    // }q\x00( U\x01a J(-2) U\x01b M(0x1234) U\x01c T(3)'xyz' U\x01d G(2.5) u .
    let p = b"}q\x00(U\x01aJ\xfe\xff\xff\xffU\x01bM\x34\x12U\x01cT\x03\x00\x00\x00xyzU\x01dG@\x04\x00\x00\x00\x00\x00\x00u.";
    assert_eq!(
        ok(p),
        Value::Dict(vec![
            (s("a"), int(-2)),
            (s("b"), int(0x1234)),
            (s("c"), s("xyz")),
            (s("d"), Value::Float(2.5)),
        ])
    );
}

#[test]
fn stack_manipulation_opcodes() {
    // MARK 1 2 POP_MARK; 3 DUP TUPLE2; 4 POP  -> (3, 3)
    assert_eq!(
        ok(b"(K\x01K\x021K\x032\x86K\x040."),
        Value::Tuple(vec![int(3), int(3)])
    );
    // POP with nothing above the mark pops the mark (Python semantics).
    assert_eq!(ok(b"K\x01(0."), int(1));
    assert!(err(b"(.").contains("stack underflow"));
    assert!(err(b"0.").contains("could not find MARK"));
    assert!(err(b"a.").contains("stack underflow"));
    assert!(err(b"K\x01(K\x02\x87.").contains("stack underflow"));
    assert!(err(b"K\x01K\x02s.").contains("stack underflow"));
    assert!(err(b"K\x01(K\x02K\x03u.").contains("SETITEM on int"));
    assert!(err(b"(K\x01K\x02K\x03d.").contains("odd number"));
}

// ----- protocol 2 - 5 ----------------------------------------------------------

#[test]
fn protocol2_longs_and_bools() {
    // LONG1 with 9 bytes = 2**64, LONG1 0 bytes = 0, LONG1 ff = -1, NEWTRUE
    let p = b"\x80\x02(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x8a\x00\x8a\x01\xff\x88\x89\x8b\x02\x00\x00\x00\x00\x80l.";
    assert_eq!(
        ok(p),
        Value::List(vec![
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]),
            int(0),
            int(-1),
            Value::Bool(true),
            Value::Bool(false),
            int(-32768),
        ])
    );
}

#[test]
fn protocol3_bytes() {
    let p = b"\x80\x03(C\x02\x00\xffB\x03\x00\x00\x00abcl.";
    assert_eq!(
        ok(p),
        Value::List(vec![
            Value::Bytes(vec![0, 0xff]),
            Value::Bytes(b"abc".to_vec())
        ])
    );
}

#[test]
fn protocol4_sets_frames_and_long_strings() {
    let mut p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    // FRAME length is only validated; 0 is fine here.
    p.extend_from_slice(b"(\x8f\x94(K\x01K\x02\x90(K\x03\x91");
    p.extend_from_slice(b"\x8d\x03\x00\x00\x00\x00\x00\x00\x00abc");
    p.extend_from_slice(b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00z");
    p.extend_from_slice(b"X\x02\x00\x00\x00\xc3\xa9l.");
    assert_eq!(
        ok(&p),
        Value::List(vec![
            Value::Set(vec![int(1), int(2)]),
            Value::FrozenSet(vec![int(3)]),
            s("abc"),
            Value::Bytes(b"z".to_vec()),
            s("é"),
        ])
    );
    assert!(err(b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.").contains("frame longer"));
    assert!(err(b"\x80\x04(K\x01\x91(K\x02\x90.").contains("ADDITEMS on frozenset"));
}

#[test]
fn protocol5_bytearray_and_refused_buffers() {
    assert_eq!(
        ok(b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00hi."),
        Value::Bytes(b"hi".to_vec())
    );
    assert!(err(b"\x80\x05\x97.").contains("out-of-band"));
    assert!(err(b"\x80\x05\x98.").contains("out-of-band"));
    assert!(err(b"\x80\x06N.").contains("pickle protocol 6"));
}

#[test]
fn refused_features() {
    assert!(err(b"Pabc\n.").contains("persistent IDs"));
    assert!(err(b"\x80\x02K\x01Q.").contains("persistent IDs"));
    for ext in [
        &b"\x80\x02\x82\x01."[..],
        b"\x80\x02\x83\x01\x00.",
        b"\x80\x02\x84\x01\x00\x00\x00.",
    ] {
        assert!(err(ext).contains("extension registry"), "{ext:?}");
    }
    let e = err(b"\x80\x02\xff.");
    assert_eq!(e, "unsupported opcode 0xff at byte 2");
    assert!(err(b"").contains("truncated pickle at byte 0"));
    assert!(err(b"N").contains("truncated"));
}

// ----- builtins reconstructed by REDUCE ------------------------------------------

#[test]
fn builtin_globals() {
    // set([1]), frozenset(), complex(1, 2), slice(1, 2, None), bytes(),
    // _codecs.encode('\xff', 'latin1'), bytearray(b'x'), OrderedDict
    let p = b"(c__builtin__\nset\n(lp0\nI1\na\x85R\
c__builtin__\nfrozenset\n)R\
c__builtin__\ncomplex\nI1\nI2\n\x86R\
c__builtin__\nslice\nI1\nI2\nN\x87R\
c__builtin__\nbytes\n)R\
c_codecs\nencode\nV\xff\nVlatin1\n\x86R\
cbuiltins\nbytearray\nC\x01x\x85R\
ccollections\nOrderedDict\n)RVk\nI5\ns\
ccollections\ndefaultdict\nc__builtin__\nlong\n\x85RVn\nI3\ns\
l.";
    assert_eq!(
        ok(p),
        Value::List(vec![
            Value::Set(vec![int(1)]),
            Value::FrozenSet(vec![]),
            Value::Complex(1.0, 2.0),
            Value::Slice(Box::new(int(1)), Box::new(int(2)), Box::new(Value::None)),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0xff]),
            Value::Bytes(b"x".to_vec()),
            Value::Dict(vec![(s("k"), int(5))]),
            Value::Dict(vec![(s("n"), int(3))]),
        ])
    );
}

#[test]
fn type_references_become_globals() {
    let v = ok(b"\x80\x02(c__builtin__\nint\ncnumpy\nfloat64\nl.");
    let items = v.as_list().unwrap();
    assert!(items[0].as_global().unwrap().is("builtins", "int"));
    assert!(items[1].as_global().unwrap().is("numpy", "float64"));
    assert!(err(b"\x80\x02cnumpy\nfloat64\n)R.").contains("calling numpy.float64"));
    assert!(err(b"\x80\x02cbuiltins\nint\nK\x01\x85R.").contains("calling builtins.int"));
}

#[test]
fn codecs_encode_needs_latin1_text() {
    assert!(err(b"c_codecs\nencode\nV\\u20ac\nVlatin1\n\x86R.").contains("Latin-1"));
    assert!(err(b"c_codecs\nencode\nVa\nVrot13\n\x86R.").contains("encoding"));
}

#[test]
fn defaultdict_factory_must_be_a_builtin_type() {
    let p = b"\x80\x02ccollections\ndefaultdict\ncmymod\nMyClass\n\x85R.";
    assert!(err(p).contains("defaultdict"));
}

// ----- objects -------------------------------------------------------------------

#[test]
fn newobj_and_build_make_objects() {
    let p = cat(&[
        b"\x80\x02cmymod\nMyClass\n)\x81}(",
        &short_str("a"),
        b"K\x01ub.",
    ]);
    let v = ok(&p);
    let o = v.as_object().unwrap();
    assert!(o.is("mymod", "MyClass"));
    assert_eq!(o.attr("a"), Some(&int(1)));
}

#[test]
fn build_merges_slotstate() {
    // BUILD (None, {'s': 2}) then BUILD ({'a': 1}, {'s': 3})
    let p = cat(&[
        b"\x80\x02cmymod\nMyClass\n)\x81N}(",
        &short_str("s"),
        b"K\x02u\x86b}(",
        &short_str("a"),
        b"K\x01u}(",
        &short_str("s"),
        b"K\x03u\x86b.",
    ]);
    let v = ok(&p);
    assert_eq!(v.get("s"), Some(&int(3)));
    assert_eq!(v.get("a"), Some(&int(1)));
    assert_eq!(v.as_object().unwrap().state_dict().unwrap().len(), 2);
}

#[test]
fn protocol0_reconstructor_inst_obj_newobj_ex() {
    let p =
        b"ccopy_reg\n_reconstructor\n(cmymod\nMyClass\nc__builtin__\nobject\nNtR(dS'a'\nI1\nsb.";
    let v = ok(p);
    assert!(v.is_instance("mymod", "MyClass"));
    assert_eq!(v.get("a"), Some(&int(1)));

    let v = ok(b"(I1\nimymod\nMyClass\n.");
    assert_eq!(v.as_object().unwrap().args, vec![int(1)]);
    let v = ok(b"(cmymod\nMyClass\nK\x02o.");
    assert_eq!(v.as_object().unwrap().args, vec![int(2)]);
    let v = ok(b"\x80\x04cmymod\nMyClass\nK\x03\x85}\x92.");
    assert_eq!(v.as_object().unwrap().args, vec![int(3)]);
    assert!(err(b"\x80\x04cmymod\nMyClass\n)}K\x01K\x02s\x92.").contains("keyword"));

    // Not allowed: refused at the global, before anything is built.
    let p = b"ccopy_reg\n_reconstructor\n(cother\nEvil\nc__builtin__\nobject\nNtR.";
    assert_eq!(err(p), "refusing to load other.Evil: not on the allowlist");
}

#[test]
fn setitems_on_an_object_is_an_error() {
    let p = b"\x80\x02cmymod\nMyClass\n)\x81K\x01K\x02s.";
    assert!(err(p).contains("SETITEM on object"));
}

// ----- refused globals -------------------------------------------------------------

#[test]
fn os_system_via_global_is_refused() {
    let e = err(b"cos\nsystem\n(S'echo pwned'\ntR.");
    assert_eq!(e, "refusing to load os.system: not on the allowlist");
    assert!(matches!(
        load(b"cos\nsystem\n(S'echo pwned'\ntR.", &Policy::new()),
        Err(PickleError::Refused { .. })
    ));
}

#[test]
fn os_system_via_stack_global_is_refused() {
    let p = cat(&[
        b"\x80\x04",
        &short_str("os"),
        &short_str("system"),
        b"\x93",
        &short_str("echo pwned"),
        b"\x85R.",
    ]);
    assert_eq!(err(&p), "refusing to load os.system: not on the allowlist");
    // posix.system is the same function under another name.
    let p = cat(&[
        b"\x80\x04",
        &short_str("posix"),
        &short_str("system"),
        b"\x93.",
    ]);
    assert!(err(&p).starts_with("refusing to load posix.system"));
}

#[test]
fn builtins_eval_and_friends_are_refused() {
    for name in [
        "eval",
        "exec",
        "getattr",
        "__import__",
        "open",
        "compile",
        "globals",
    ] {
        let p = cat(&[
            b"\x80\x04",
            &short_str("builtins"),
            &short_str(name),
            b"\x93.",
        ]);
        assert_eq!(
            err(&p),
            format!("refusing to load builtins.{name}: not on the allowlist")
        );
        let p = format!("c__builtin__\n{name}\n.");
        assert!(err(p.as_bytes()).starts_with(&format!("refusing to load __builtin__.{name}")));
    }
    // STACK_GLOBAL needs strings.
    assert!(err(b"\x80\x04K\x01K\x02\x93.").contains("STACK_GLOBAL"));
    // Calling a non-callable.
    assert!(err(b"\x80\x02K\x01)R.").contains("cannot call"));
}

// ----- numpy ------------------------------------------------------------------------

fn dtype_pickle(name: &str, endian: &str) -> Vec<u8> {
    cat(&[
        b"cnumpy\ndtype\n",
        &short_str(name),
        b"\x89\x88\x87R(K\x03",
        &short_str(endian),
        b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",
    ])
}

fn reconstruct(shape: &[u8], dtype: &[u8], fortran: bool, raw: &[u8]) -> Vec<u8> {
    cat(&[
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01",
        shape,
        dtype,
        if fortran { b"\x88" } else { b"\x89" },
        b"B",
        &(raw.len() as u32).to_le_bytes(),
        raw,
        b"tb",
    ])
}

#[test]
fn numpy_reconstruct_big_endian() {
    let raw: Vec<u8> = [1.5f64, -2.0]
        .iter()
        .flat_map(|f| f.to_be_bytes())
        .collect();
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"K\x02\x85", &dtype_pickle("f8", ">"), false, &raw),
        b".",
    ]);
    let v = ok(&p);
    let a = v.as_array().unwrap();
    assert_eq!(a.dtype.to_string(), ">f8");
    assert_eq!(a.data, ArrayData::F64(vec![1.5, -2.0]));
}

#[test]
fn numpy_shape_and_size_checks() {
    let d = dtype_pickle("f8", "<");
    // Data shorter than the shape says.
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"K\x03\x85", &d, false, &[0; 16]),
        b".",
    ]);
    assert!(err(&p).contains("need 24"));
    // 10^6 x 10^6 elements: over the element limit before anything is read.
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"J\x40\x42\x0f\x00J\x40\x42\x0f\x00\x86", &d, false, &[]),
        b".",
    ]);
    let e = err(&p);
    assert!(
        e.contains("array of 1000000000000 elements") && e.contains("exceeds limit"),
        "{e}"
    );
    // 2^62 x 2^62: the product overflows.
    let big = b"\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40";
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(&cat(&[big, big, b"\x86"]), &d, false, &[]),
        b".",
    ]);
    assert!(err(&p).contains("more elements than fit"));
    // Negative dimension.
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"J\xff\xff\xff\xff\x85", &d, false, &[]),
        b".",
    ]);
    assert!(err(&p).contains("non-negative"));
    // Zero-size elements still may not outnumber the input bytes.
    let s0 = dtype_pickle("S0", "|");
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"J\x00\x00\x00\x40\x85", &s0, false, &[]),
        b".",
    ]);
    assert!(err(&p).contains("larger than the whole input"));
    // Unknown dtype.
    assert!(
        err(&cat(&[b"\x80\x03", &dtype_pickle("q7", "<"), b"."])).contains("unsupported dtype")
    );
    assert!(err(&cat(&[b"\x80\x03", &dtype_pickle("f8", "?"), b"."])).contains("byte order"));
}

#[test]
fn numpy_scalars_are_plain_values() {
    let p = cat(&[
        b"\x80\x03(cnumpy.core.multiarray\nscalar\n",
        &dtype_pickle("i8", "<"),
        b"C\x08\x07\x00\x00\x00\x00\x00\x00\x00\x86R",
        b"cnumpy._core.multiarray\nscalar\n",
        &dtype_pickle("f4", "<"),
        b"C\x04\x00\x00\x00\x3f\x86R",
        b"cnumpy.core.multiarray\nscalar\n",
        &dtype_pickle("b1", "|"),
        b"C\x01\x01\x86R",
        b"cnumpy.core.multiarray\nscalar\n",
        &dtype_pickle("U2", "<"),
        b"C\x08h\x00\x00\x00\x00\x00\x00\x00\x86Rl.",
    ]);
    // U2 with elsize from the name (state elsize is -1 in this stream).
    assert_eq!(
        ok(&p),
        Value::List(vec![int(7), Value::Float(0.5), Value::Bool(true), s("h")])
    );
    let p = cat(&[
        b"\x80\x03cnumpy.core.multiarray\nscalar\n",
        &dtype_pickle("i8", "<"),
        b"C\x04\x07\x00\x00\x00\x86R.",
    ]);
    assert!(err(&p).contains("needs 8 bytes"));
}

/// A joblib stream: NumpyArrayWrapper, BUILD, then the raw bytes.
fn joblib_wrapper(aligned: Option<u8>, data: &[u8], count: u8) -> Vec<u8> {
    let mut p = cat(&[
        b"\x80\x04cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(",
        &short_str("subclass"),
        b"cnumpy\nndarray\n",
        &short_str("shape"),
        &[b'K', count, 0x85],
        &short_str("order"),
        &short_str("C"),
        &short_str("dtype"),
        &dtype_pickle("i4", "<"),
    ]);
    if let Some(_pad) = aligned {
        p.extend(cat(&[&short_str("numpy_array_alignment_bytes"), b"K\x10"]));
    }
    p.extend_from_slice(b"ub");
    if let Some(pad) = aligned {
        p.push(pad);
        p.extend(std::iter::repeat_n(0xffu8, pad as usize));
    }
    p.extend_from_slice(data);
    p.push(b'.');
    p
}

#[test]
fn joblib_wrapper_reads_inline_data() {
    let data: Vec<u8> = [1i32, -2, 3].iter().flat_map(|i| i.to_le_bytes()).collect();
    for aligned in [None, Some(0), Some(5)] {
        let p = joblib_wrapper(aligned, &data, 3);
        let v = ok(&p);
        let a = v.as_array().unwrap();
        assert_eq!(a.shape, vec![3]);
        assert_eq!(a.data, ArrayData::I64(vec![1, -2, 3]));
        for len in 0..p.len() {
            assert!(
                load(&p[..len], &policy()).is_err(),
                "{aligned:?} prefix {len}"
            );
        }
    }
    // Shape bigger than the data that follows.
    let e = err(&joblib_wrapper(Some(0), &data, 200));
    assert!(e.contains("larger than the whole input"), "{e}");
    let e = err(&joblib_wrapper(Some(0), &data, 20));
    assert!(
        e.contains("truncated pickle") && e.contains("joblib array data"),
        "{e}"
    );
}

// ----- hostile structure ------------------------------------------------------------

#[test]
fn billion_laughs_is_refused_quickly() {
    // L0 = []; L(i+1) = [Li] * 10, thirty times: 10^30 nodes if expanded.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for i in 0..30u8 {
        p.push(b'(');
        for _ in 0..10 {
            p.extend_from_slice(&[b'h', i]);
        }
        p.extend_from_slice(&[b'l', b'q', i + 1]);
    }
    p.push(b'.');
    let start = std::time::Instant::now();
    let e = err(&p);
    assert!(e.contains("would take more than"), "{e}");
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn self_reference_is_refused() {
    // l = []; l.append(l)
    assert!(matches!(
        load(b"\x80\x02]q\x00h\x00a.", &policy()),
        Err(PickleError::Cycle)
    ));
    // d = {}; d['d'] = d through SETITEMS
    assert!(matches!(
        load(b"\x80\x02}q\x00(X\x01\x00\x00\x00dh\x00u.", &policy()),
        Err(PickleError::Cycle)
    ));
    // An object whose state contains the object.
    assert!(matches!(
        load(
            b"\x80\x02cmymod\nMyClass\n)\x81q\x00}(X\x01\x00\x00\x00sh\x00ub.",
            &policy()
        ),
        Err(PickleError::Cycle)
    ));
}

#[test]
fn deep_nesting_is_refused_without_stack_overflow() {
    let depth = 200_000;
    // [[[[...]]]] built as EMPTY_LIST * n then APPEND * (n - 1).
    let mut p = vec![0x80, 0x02];
    p.extend(std::iter::repeat_n(b']', depth));
    p.extend(std::iter::repeat_n(b'a', depth - 1));
    p.push(b'.');
    let e = err(&p);
    assert!(e.contains("nested deeper than"), "{e}");
    // The same with MARK ... TUPLE, and within the limit it loads.
    let mut p = vec![0x80, 0x02];
    p.extend(std::iter::repeat_n(b'(', 100));
    p.extend(std::iter::repeat_n(b't', 100));
    p.push(b'.');
    let mut v = &ok(&p);
    for _ in 0..99 {
        v = &v.as_tuple().unwrap()[0];
    }
    assert_eq!(v, &Value::Tuple(vec![]));
}

#[test]
fn huge_declared_lengths_fail_before_allocating() {
    let cases: &[&[u8]] = &[
        b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x0fabc.",
        b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff.",
        b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x10.",
        b"\x80\x02X\xff\xff\xff\xff.",
        b"\x80\x03B\xff\xff\xff\x7f.",
        b"\x80\x02\x8b\xff\xff\xff\x7f.",
        b"T\xff\xff\xff\x7f.",
    ];
    for p in cases {
        let e = err(p);
        assert!(e.starts_with("truncated pickle"), "{e}");
    }
    assert!(err(b"\x80\x02\x8b\xff\xff\xff\xff.").contains("negative length"));
    assert!(err(b"T\xfe\xff\xff\xff.").contains("negative length"));
}

#[test]
fn invalid_text_is_an_error() {
    assert!(err(b"\x80\x02X\x02\x00\x00\x00\xff\xfe.").contains("UTF-8"));
    assert!(err(b"\x80\x02X\x03\x00\x00\x00\xed\xa0\x80.").contains("surrogates"));
    assert!(err(b"Vbad \\ud800\n.").contains("raw-unicode-escape"));
    assert!(err(b"Sunquoted\n.").contains("must be quoted"));
    assert!(err(b"Fnot a float\n.").contains("invalid FLOAT"));
    assert!(err(b"I12x\n.").contains("invalid INT"));
    assert!(err(b"c\xff\nx\n.").contains("not UTF-8"));
}

#[test]
fn truncation_of_handwritten_pickles() {
    let samples: Vec<Vec<u8>> = vec![
        b"(dp0\nVkey\np1\n(lp2\nI01\naF1.5\naS'a'\np3\na(I1\nI2\ntp5\nas.".to_vec(),
        cat(&[b"\x80\x04]\x94(}\x94(", &short_str("a"), b"K\x01uh\x01e."]),
        cat(&[
            b"\x80\x03",
            &reconstruct(b"K\x02\x85", &dtype_pickle("i2", ">"), false, &[0, 1, 0, 2]),
            b".",
        ]),
        b"ccopy_reg\n_reconstructor\n(cmymod\nMyClass\nc__builtin__\nobject\nNtR(dS'a'\nI1\nsb."
            .to_vec(),
    ];
    for p in samples {
        ok(&p);
        for len in 0..p.len() {
            assert!(load(&p[..len], &policy()).is_err(), "prefix {len} of {p:?}");
        }
    }
}

#[test]
fn limits_are_configurable() {
    let mut policy = policy();
    policy.set_limits(Limits {
        max_depth: 3,
        ..Limits::default()
    });
    assert!(load(b"\x80\x02]]]a.", &policy).is_ok());
    let e = load(b"\x80\x02]]]]aaa.", &policy).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 3"), "{e}");
    policy.set_limits(Limits {
        max_array_elements: 2,
        ..Limits::default()
    });
    let p = cat(&[
        b"\x80\x03",
        &reconstruct(b"K\x03\x85", &dtype_pickle("i1", "|"), false, &[1, 2, 3]),
        b".",
    ]);
    assert!(
        load(&p, &policy)
            .unwrap_err()
            .to_string()
            .contains("exceeds limit of 2")
    );
}

#[test]
fn duplicate_dict_keys_keep_the_last_value() {
    let p = cat(&[
        b"\x80\x04}(",
        &short_str("a"),
        b"K\x01",
        &short_str("b"),
        b"K\x02",
        &short_str("a"),
        b"K\x03u.",
    ]);
    assert_eq!(
        ok(&p),
        Value::Dict(vec![(s("a"), int(3)), (s("b"), int(2))])
    );
}

#[test]
fn reusing_a_big_memo_entry_is_bounded() {
    // L = [None] * 1000; then set(L) ten thousand times through the memo:
    // 60 kB of pickle asking for 10 million copied elements.
    let mut p = b"\x80\x02c__builtin__\nset\nq\x01]q\x00(".to_vec();
    p.extend(std::iter::repeat_n(b'N', 1000));
    p.extend_from_slice(b"e(");
    for _ in 0..10_000 {
        p.extend_from_slice(b"h\x01h\x00\x85R");
    }
    p.extend_from_slice(b"l.");
    let e = err(&p);
    assert!(e.contains("re-uses its data too often"), "{e}");

    // The same bytes decoded into an array again and again.
    let mut p = cat(&[
        b"\x80\x05cnumpy._core.numeric\n_frombuffer\nq\x01",
        &dtype_pickle("u1", "|"),
        b"q\x02\x8e\x00\x00\x01\x00\x00\x00\x00\x00",
    ]);
    p.extend(std::iter::repeat_n(0u8, 65536));
    p.extend_from_slice(b"q\x03(");
    for _ in 0..1000 {
        p.extend_from_slice(b"h\x01(h\x03h\x02J\x00\x00\x01\x00\x85X\x01\x00\x00\x00CtR");
    }
    p.extend_from_slice(b"l.");
    let e = err(&p);
    assert!(e.contains("re-uses its data too often"), "{e}");
}

#[test]
fn sparse_memo_keys_do_not_allocate_per_key() {
    // LONG_BINPUT with keys 0, 1000, 2000, ...: each lands in the sparse
    // part once past the (input-sized) dense limit.
    let mut p = b"\x80\x02N".to_vec();
    for i in 0..20_000u32 {
        p.push(b'r');
        p.extend_from_slice(&(i * 1000).to_le_bytes());
    }
    p.extend_from_slice(b"0j");
    p.extend_from_slice(&19_999_000u32.to_le_bytes());
    p.push(b'.');
    assert_eq!(ok(&p), Value::None);
}

// ----- scikit-learn's Bunch --------------------------------------------------

/// `pickle.dumps(sklearn.utils.Bunch(a=1), protocol=4)`: a dict subclass
/// (ensembles' `named_estimators_`) loads as a dict; its instance state of
/// deprecation warnings is accepted only when empty.
#[test]
fn sklearn_bunch_is_a_dict() {
    let b = b"\x80\x04\x95P\x00\x00\x00\x00\x00\x00\x00\x8c\x14sklearn.utils._bunch\x94\x8c\x05Bunch\x94\x93\x94)\x81\x94\x8c\x01a\x94K\x01s}\x94\x8c\x1b_deprecated_key_to_warnings\x94}\x94sb.";
    assert_eq!(ok(b), Value::Dict(vec![(s("a"), int(1))]));
    // Any other instance state is refused.
    let bad = b"\x80\x04\x8c\x14sklearn.utils._bunch\x94\x8c\x05Bunch\x94\x93\x94)\x81\x94}\x94\x8c\x01x\x94K\x01sb.";
    assert!(err(bad).contains("BUILD"), "{}", err(bad));
}
