//! The object graph the pickle VM builds, before it becomes a [`Value`] tree.
//!
//! # Why an arena
//!
//! A pickle is a program that builds a *graph* of mutable objects: the memo
//! (`PUT`/`MEMOIZE` then `GET`) hands out references, not copies. Python
//! writes a dict as `EMPTY_DICT`, `MEMOIZE`, `MARK`, ..., `SETITEMS`: the
//! dict is memoized while still empty and filled afterwards, and any later
//! `GET` must see the *filled* dict. Copying values at `PUT` time would get
//! that wrong, and sharing `Rc<RefCell<_>>` values would make cycles leak and
//! the final conversion awkward. So every object lives in one `Vec<Node>` and
//! the stack, the memo and containers hold [`Id`] indices into it; mutating
//! opcodes update the node in place.
//!
//! Only when `STOP` is reached is the graph turned into an owned tree (see
//! `resolve.rs`), with cycle detection and a budget on the expanded size.

use std::cell::Cell;
use std::collections::HashMap;
use std::mem::size_of;

use crate::error::PickleError;
use crate::value::{Array, ArrayData, Dtype, Global};

/// Index of a [`Node`] in the [`Arena`]. 32 bits keep nodes small; a pickle
/// needing more than 4 billion objects is refused.
pub(crate) type Id = u32;

/// One Python object under construction.
///
/// Kept to 32 bytes (large payloads are boxed) because a big model has
/// millions of them.
#[derive(Debug)]
pub(crate) enum Node {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Vec<u8>),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    /// A Python 2 `str` (`STRING`, `BINSTRING`, `SHORT_BINSTRING`). Its bytes
    /// are what numpy wants as raw array data; as a value it becomes a
    /// [`crate::Value::Str`] (UTF-8 if valid, else Latin-1).
    Py2Str(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    /// Key/value pairs in insertion order; duplicate keys are merged when the
    /// tree is resolved.
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    Slice([Id; 3]),
    /// A fully decoded numpy array of a non-object dtype.
    Array(Box<Array>),
    /// A numpy array of `dtype=object`: its elements are nodes.
    ObjectArray(Box<ObjectArray>),
    Dtype(Dtype),
    Global(Box<GlobalRef>),
    Object(Box<ObjectNode>),
    /// What `numpy...._reconstruct` returns before its `BUILD` fills it in.
    PendingArray,
    /// Stands for another node (a joblib wrapper replaced by the array that
    /// an inner pickle produced).
    Alias(Id),
    /// Placeholder left behind once resolution moved the node out.
    Taken,
}

/// A `dtype=object` numpy array under construction.
#[derive(Debug)]
pub(crate) struct ObjectArray {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Elements in C order (numpy pickles object arrays as a C-order list).
    pub items: Vec<Id>,
}

/// A global that `GLOBAL`/`STACK_GLOBAL` resolved, and what it can do.
#[derive(Debug)]
pub(crate) struct GlobalRef {
    pub global: Global,
    pub kind: Builtin,
}

/// An instance of an allowlisted class (or of joblib's array wrapper).
#[derive(Debug)]
pub(crate) struct ObjectNode {
    pub class: Global,
    pub args: Vec<Id>,
    pub state: Option<Id>,
    /// `joblib.numpy_pickle.NumpyArrayWrapper`: its `BUILD` reads array bytes.
    pub wrapper: bool,
}

/// The globals this crate knows how to "call" (or merely reference) without
/// importing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Set,
    FrozenSet,
    Slice,
    Complex,
    Bytearray,
    Bytes,
    List,
    Dict,
    Tuple,
    Object,
    /// A builtin type that may be referenced (e.g. a `defaultdict` factory or
    /// a `dtype=float` parameter) but is never called: `int`, `float`, ...
    TypeRef,
    OrderedDict,
    DefaultDict,
    /// `copyreg._reconstructor(cls, base, state)`, protocol 0/1 instances.
    Reconstructor,
    /// `_codecs.encode(text, 'latin1')`, protocol 0–2 `bytes`.
    CodecsEncode,
    NpReconstruct,
    NpFromBuffer,
    NpDtype,
    NpScalar,
    NpNdarray,
    /// `numpy.float64` and friends, referenced only.
    NpType,
    JoblibWrapper,
    /// A class the [`crate::Policy`] allows.
    Allowed,
}

/// All nodes of one load.
#[derive(Debug)]
pub(crate) struct Arena {
    pub nodes: Vec<Node>,
}

/// Pre-allocated singletons so `None`/`True`/`False` cost no node each.
pub(crate) const NONE: Id = 0;
pub(crate) const TRUE: Id = 1;
pub(crate) const FALSE: Id = 2;

impl Arena {
    pub fn new() -> Self {
        Arena {
            nodes: vec![Node::None, Node::Bool(true), Node::Bool(false)],
        }
    }

    pub fn push(&mut self, node: Node) -> Result<Id, PickleError> {
        let id = Id::try_from(self.nodes.len())
            .ok()
            .filter(|&id| id < Id::MAX)
            .ok_or_else(|| PickleError::Limit("pickle has more than 2^32 objects".into()))?;
        self.nodes.push(node);
        Ok(id)
    }

    pub fn get(&self, id: Id) -> &Node {
        &self.nodes[id as usize]
    }

    pub fn get_mut(&mut self, id: Id) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    pub fn bool(b: bool) -> Id {
        if b { TRUE } else { FALSE }
    }
}

/// The pickle memo: key -> node.
///
/// Keys are almost always dense (`MEMOIZE` uses `len(memo)`, picklers count
/// up from 0), so they live in a vector; a stray huge key from a hostile
/// `LONG_BINPUT` goes to a hash map instead of growing the vector.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    dense: Vec<Id>,
    sparse: HashMap<u64, Id>,
    len: usize,
    /// The dense part never grows past this (the input size): one 5-byte
    /// `LONG_BINPUT` must not be able to allocate kilobytes.
    dense_limit: u64,
}

const EMPTY: Id = Id::MAX;
/// How far past the end of the dense part a key may land and still extend it.
const DENSE_SLACK: u64 = 1024;

impl Memo {
    /// A memo for a pickle of `input_len` bytes.
    pub fn new(input_len: usize) -> Self {
        Memo {
            dense_limit: (input_len as u64).max(DENSE_SLACK),
            ..Memo::default()
        }
    }

    /// Number of entries, what `MEMOIZE` uses as the next key.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn put(&mut self, key: u64, id: Id) {
        let dense_len = self.dense.len() as u64;
        if key < dense_len {
            let slot = &mut self.dense[key as usize];
            if *slot == EMPTY {
                self.len += 1;
            }
            *slot = id;
        } else if key <= dense_len + DENSE_SLACK && key < self.dense_limit {
            let new_len = key as usize + 1;
            let old_len = self.dense.len();
            self.dense.resize(new_len, EMPTY);
            if !self.sparse.is_empty() {
                // Keys that were sparse now belong in the dense part.
                for k in old_len..new_len {
                    if let Some(v) = self.sparse.remove(&(k as u64)) {
                        self.dense[k] = v;
                    }
                }
            }
            if self.dense[key as usize] == EMPTY {
                self.len += 1;
            }
            self.dense[key as usize] = id;
        } else if self.sparse.insert(key, id).is_none() {
            self.len += 1;
        }
    }

    /// Estimated bytes the memo holds: 4 per dense slot, ~40 per sparse
    /// entry (hash map slot, control byte, growth slack).
    pub fn bytes(&self) -> u64 {
        self.dense.len() as u64 * 4 + self.sparse.len() as u64 * 40
    }

    pub fn get(&self, key: u64) -> Option<Id> {
        match usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            Some(&id) if id != EMPTY => Some(id),
            Some(_) => None,
            None => self.sparse.get(&key).copied(),
        }
    }
}

// ----- memory accounting ------------------------------------------------

/// Bytes the allocator really uses for a heap block of `n` bytes: glibc's
/// malloc adds an 8-byte header, rounds to 16 and hands out at least 32
/// bytes. Counting only `n` would let a file of one-element tuples use four
/// times what it is charged.
pub(crate) fn heap_block(n: usize) -> u64 {
    if n == 0 {
        0
    } else {
        ((n as u64).saturating_add(8).next_multiple_of(16)).max(32)
    }
}

/// Per-node bookkeeping of `resolve.rs` (colour, reference count, cost and
/// depth of every node, plus its frame), charged when the node is created.
const RESOLVE_PER_NODE: u64 = 24;

/// Bytes a dict pair costs beyond its 8-byte slot: the hash set (and, with
/// duplicate keys, the map) that `resolve::dedup_keys` builds.
pub(crate) const DEDUP_PER_PAIR: u64 = 24;

const STRING: u64 = size_of::<String>() as u64;

/// Estimated bytes a node takes: its slot in the arena, what resolution
/// keeps per node, and its heap payload.
pub(crate) fn node_cost(node: &Node) -> u64 {
    let heap = match node {
        Node::Str(s) => heap_block(s.capacity()),
        Node::Bytes(b) | Node::BigInt(b) | Node::Py2Str(b) => heap_block(b.capacity()),
        Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => {
            heap_block(v.capacity() * size_of::<Id>())
        }
        Node::Dict(v) => {
            heap_block(v.capacity() * size_of::<(Id, Id)>()) + DEDUP_PER_PAIR * v.len() as u64
        }
        Node::Array(a) => {
            heap_block(size_of::<Array>())
                + heap_block(a.shape.len() * size_of::<usize>())
                + array_data_cost(&a.data)
        }
        Node::ObjectArray(a) => {
            heap_block(size_of::<ObjectArray>())
                + heap_block(a.shape.len() * size_of::<usize>())
                + heap_block(a.items.capacity() * size_of::<Id>())
        }
        Node::Global(g) => {
            heap_block(size_of::<GlobalRef>())
                + heap_block(g.global.module.len())
                + heap_block(g.global.name.len())
        }
        Node::Object(o) => {
            heap_block(size_of::<ObjectNode>())
                + heap_block(o.class.module.len())
                + heap_block(o.class.name.len())
                + heap_block(o.args.capacity() * size_of::<Id>())
        }
        _ => 0,
    };
    size_of::<Node>() as u64 + RESOLVE_PER_NODE + heap
}

/// Heap bytes of decoded array elements, at their widened in-memory size.
pub(crate) fn array_data_cost(data: &ArrayData) -> u64 {
    fn block<T>(v: &[T]) -> u64 {
        heap_block(std::mem::size_of_val(v))
    }
    match data {
        ArrayData::F64(v) => block(v),
        ArrayData::F32(v) => block(v),
        ArrayData::I64(v) => block(v),
        ArrayData::U64(v) => block(v),
        ArrayData::Bool(v) => block(v),
        ArrayData::Str(v) => block(v) + v.iter().map(|s| heap_block(s.capacity())).sum::<u64>(),
        ArrayData::Bytes(v) => block(v) + v.iter().map(|s| heap_block(s.capacity())).sum::<u64>(),
        ArrayData::Object(v) => block(v),
        ArrayData::Record(cols) => {
            block(cols)
                + cols
                    .iter()
                    .map(|(name, c)| heap_block(name.capacity()) + array_data_cost(c))
                    .sum::<u64>()
        }
    }
}

/// Upper bound of [`array_data_cost`] for `count` elements of `dtype`,
/// known *before* decoding: numbers are widened to 8 bytes (`f4` to 4,
/// `b1` stays 1), and each `S`/`U` element is a `Vec`/`String` of at most
/// `itemsize` bytes (UTF-8 never needs more bytes than UTF-32) — so even a
/// zero-size `S0` element costs 24 bytes.
pub(crate) fn array_cost_bound(dtype: &Dtype, count: usize) -> u64 {
    if let Some(record) = &dtype.record {
        // One column per field, each at its widened size, plus the names.
        return record.fields.iter().fold(64, |acc, f| {
            acc.saturating_add(array_cost_bound(&f.dtype, count))
                .saturating_add(heap_block(f.name.len()) + 64)
        });
    }
    let per = match dtype.kind {
        'S' | 'U' | 'V' => STRING + heap_block(dtype.itemsize),
        'f' if dtype.itemsize <= 4 => 4,
        'b' => 1,
        // Object arrays hold an `Id` per element while unpickling and a
        // `Value` after.
        'O' => size_of::<crate::Value>() as u64,
        _ => 8,
    };
    (count as u64).saturating_mul(per).saturating_add(64)
}

/// The memory budget of one load: bytes charged so far against the limit.
///
/// Charges are estimates made as things are allocated (never refunded: a
/// pickle keeps almost everything it builds until the end), so a hostile
/// file is stopped when its allocations cross the budget, not after.
#[derive(Debug)]
pub(crate) struct Meter {
    used: Cell<u64>,
    budget: u64,
}

impl Meter {
    pub fn new(budget: u64) -> Self {
        Meter {
            used: Cell::new(0),
            budget,
        }
    }

    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Records `bytes` more, or fails if that crosses the budget.
    pub fn charge(&self, bytes: u64, what: &str) -> Result<(), PickleError> {
        self.room(bytes, what)?;
        self.used.set(self.used.get() + bytes);
        Ok(())
    }

    /// Fails if `bytes` more would cross the budget, without recording
    /// them: called before a big allocation that a later [`Meter::charge`]
    /// will account for.
    pub fn room(&self, bytes: u64, what: &str) -> Result<(), PickleError> {
        let total = self.used.get().saturating_add(bytes);
        if total > self.budget {
            return Err(over_budget(self.budget, what));
        }
        Ok(())
    }
}

pub(crate) fn over_budget(budget: u64, what: &str) -> PickleError {
    PickleError::Limit(format!(
        "unpickling would take more than {budget} bytes of memory ({what}); the budget \
         is Limits::value_limit of the file size"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stays_small() {
        assert!(std::mem::size_of::<Node>() <= 32);
    }

    #[test]
    fn meter_charges_and_refuses_over_budget() {
        let m = Meter::new(1000);
        m.charge(600, "a").unwrap();
        m.room(400, "b").unwrap();
        assert_eq!(m.used(), 600);
        let e = m.room(401, "big copy").unwrap_err().to_string();
        assert!(
            e.contains("more than 1000 bytes") && e.contains("big copy"),
            "{e}"
        );
        assert!(m.charge(401, "c").is_err());
        assert_eq!(m.used(), 600);
        assert_eq!(heap_block(0), 0);
        assert_eq!(heap_block(1), 32);
        assert_eq!(heap_block(24), 32);
        assert_eq!(heap_block(25), 48);
        // A zero-size S0 element still costs its Vec.
        let s0 = Dtype::new('S', 0, true);
        assert_eq!(array_cost_bound(&s0, 1000), 24 * 1000 + 64);
        let i1 = Dtype::new('i', 1, true);
        assert_eq!(array_cost_bound(&i1, 1000), 8 * 1000 + 64);
    }

    #[test]
    fn memo_dense_and_sparse() {
        let mut m = Memo::new(1 << 20);
        m.put(0, 10);
        m.put(5, 11);
        m.put(1 << 40, 12);
        m.put(3000, 13);
        assert_eq!(m.len(), 4);
        m.put(5, 14);
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(0), Some(10));
        assert_eq!(m.get(1), None);
        assert_eq!(m.get(5), Some(14));
        assert_eq!(m.get(1 << 40), Some(12));
        assert_eq!(m.get(3000), Some(13));
        // Growing the dense part over a sparse key keeps it.
        for k in 6..3001 {
            if k != 3000 {
                m.put(k, 1);
            }
        }
        assert_eq!(m.get(3000), Some(13));
        assert_eq!(m.len(), 3001 - 5 + 2);
    }
}
