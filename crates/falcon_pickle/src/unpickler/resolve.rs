//! Turning the arena graph into an owned [`Value`] tree, safely.
//!
//! The graph may share nodes (memo `GET`s) and may even contain cycles
//! (`EMPTY_LIST, PUT 0, GET 0, APPEND`). A tree cannot share, so shared
//! nodes are cloned per reference; that is exactly how a "billion laughs"
//! pickle (a list holding the previous list ten times, thirty levels deep)
//! would expand a few hundred bytes into terabytes. So resolution runs in
//! two iterative passes (no recursion, so no stack overflow on deep input):
//!
//! 1. a depth-first walk that rejects cycles, counts references, and
//!    computes for every node the depth and the (estimated) byte size of its
//!    fully expanded subtree, failing as soon as either is over the limit;
//! 2. a post-order build that moves each node's payload out of the arena
//!    (no copy for the common single-reference case) and clones only
//!    shared nodes — which pass 1 has already paid for.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::arena::{Arena, Id, Meter, Node, over_budget};
use crate::error::PickleError;
use crate::policy::Limits;
use crate::value::{Array, ArrayData, Dtype, Object, Value};

fn child_count(node: &Node) -> usize {
    match node {
        Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v.len(),
        Node::Dict(v) => v.len() * 2,
        Node::Slice(_) => 3,
        Node::ObjectArray(a) => a.items.len(),
        Node::Object(o) => o.args.len() + usize::from(o.state.is_some()),
        Node::Alias(_) => 1,
        _ => 0,
    }
}

/// The `i`-th child; `i < child_count(node)`.
fn child(node: &Node, i: usize) -> Id {
    match node {
        Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v[i],
        Node::Dict(v) => {
            let (k, val) = v[i / 2];
            if i.is_multiple_of(2) { k } else { val }
        }
        Node::Slice(s) => s[i],
        Node::ObjectArray(a) => a.items[i],
        Node::Object(o) => o.args.get(i).copied().or(o.state).unwrap_or(0),
        Node::Alias(target) => *target,
        _ => 0,
    }
}

const VALUE_SIZE: u64 = std::mem::size_of::<Value>() as u64;

/// Estimated bytes the node's own [`Value`] takes (children excluded).
fn own_cost(node: &Node) -> u64 {
    let heap = match node {
        Node::Str(s) => s.len() as u64,
        Node::Bytes(b) | Node::BigInt(b) => b.len() as u64,
        // Latin-1 text may double in size as UTF-8.
        Node::Py2Str(b) => 2 * b.len() as u64,
        Node::Array(a) => 8 * a.shape.len() as u64 + array_heap(&a.data),
        Node::ObjectArray(a) => 8 * a.shape.len() as u64,
        Node::Global(g) => (g.global.module.len() + g.global.name.len()) as u64,
        Node::Object(o) => {
            (o.class.module.len() + o.class.name.len()) as u64
                + VALUE_SIZE * u64::from(o.state.is_some())
        }
        Node::Slice(_) => 3 * VALUE_SIZE,
        Node::Alias(_) => return 0,
        _ => 0,
    };
    VALUE_SIZE + heap
}

fn array_heap(data: &ArrayData) -> u64 {
    const STRING: u64 = std::mem::size_of::<String>() as u64;
    match data {
        ArrayData::F64(v) => 8 * v.len() as u64,
        ArrayData::F32(v) => 4 * v.len() as u64,
        ArrayData::I64(v) => 8 * v.len() as u64,
        ArrayData::U64(v) => 8 * v.len() as u64,
        ArrayData::Bool(v) => v.len() as u64,
        ArrayData::Str(v) => v.iter().map(|s| STRING + s.len() as u64).sum(),
        ArrayData::Bytes(v) => v.iter().map(|s| STRING + s.len() as u64).sum(),
        ArrayData::Object(v) => VALUE_SIZE * v.len() as u64,
        ArrayData::Record(cols) => cols
            .iter()
            .map(|(name, c)| STRING + name.len() as u64 + 32 + array_heap(c))
            .sum(),
    }
}

/// Heap bytes of a node that its [`Value`] takes over by moving (so they
/// are not allocated again when the tree is built, unless shared).
fn moved_heap(node: &Node) -> u64 {
    match node {
        Node::Str(s) => s.len() as u64,
        Node::Bytes(b) | Node::BigInt(b) | Node::Py2Str(b) => b.len() as u64,
        Node::Array(a) => 8 * a.shape.len() as u64 + array_heap(&a.data),
        _ => 0,
    }
}

/// Converts the graph reachable from `root` into a tree.
///
/// The arena and everything the VM allocated are still alive while the tree
/// is built, so the tree's new allocations — a [`Value`] per node, plus a
/// full copy of every extra reference to a shared node — are charged to the
/// same `meter` (whose budget is at most [`Limits::max_value_bytes`]).
pub(crate) fn resolve(
    mut arena: Arena,
    root: Id,
    limits: &Limits,
    meter: &Meter,
) -> Result<Value, PickleError> {
    let refs = analyse(&arena, root, limits.max_depth, meter)?;
    build(&mut arena, root, &refs)
}

/// Pass 1: cycle check, reference counts, depth and size limits.
fn analyse(
    arena: &Arena,
    root: Id,
    max_depth: usize,
    meter: &Meter,
) -> Result<Vec<u32>, PickleError> {
    let budget = meter.budget();
    // Heap bytes the tree takes over from the arena rather than copying.
    let mut moved = 0u64;
    const WHITE: u8 = 0;
    const GRAY: u8 = 1;
    let n = arena.nodes.len();
    let mut color = vec![WHITE; n];
    let mut refs = vec![0u32; n];
    let mut cost = vec![0u64; n];
    let mut depth = vec![0u32; n];
    let too_deep = || PickleError::Limit(format!("data nested deeper than {max_depth} levels"));

    let mut stack: Vec<(Id, usize)> = vec![(root, 0)];
    color[root as usize] = GRAY;
    refs[root as usize] = 1;
    while let Some(top) = stack.last_mut() {
        let (id, next) = *top;
        let node = arena.get(id);
        if next < child_count(node) {
            top.1 += 1;
            let c = child(node, next);
            let ci = c as usize;
            refs[ci] = refs[ci].saturating_add(1);
            match color[ci] {
                WHITE => {
                    // Aliases do not add depth, but there is at most one per
                    // level, so twice the limit bounds the walk.
                    if stack.len() > 2 * max_depth + 2 {
                        return Err(too_deep());
                    }
                    color[ci] = GRAY;
                    stack.push((c, 0));
                }
                GRAY => return Err(PickleError::Cycle),
                _ => {}
            }
        } else {
            stack.pop();
            let mut total = own_cost(node);
            let mut d = 0u32;
            for i in 0..child_count(node) {
                let c = child(node, i) as usize;
                total = total.saturating_add(cost[c]);
                d = d.max(depth[c]);
            }
            if !matches!(node, Node::Alias(_)) {
                d += 1;
            }
            if d as usize > max_depth {
                return Err(too_deep());
            }
            if total > budget {
                return Err(over_budget(
                    budget,
                    "the unpickled data, with shared references expanded",
                ));
            }
            moved = moved.saturating_add(moved_heap(node));
            cost[id as usize] = total;
            depth[id as usize] = d;
            color[id as usize] = 2;
        }
    }
    let new_bytes = cost[root as usize].saturating_sub(moved);
    meter.charge(
        new_bytes,
        "the unpickled data, with shared references expanded",
    )?;
    Ok(refs)
}

enum Frame {
    Enter(Id),
    Exit(Id),
}

/// Pass 2: post-order construction, moving payloads out of the arena.
fn build(arena: &mut Arena, root: Id, refs: &[u32]) -> Result<Value, PickleError> {
    let internal = || PickleError::Limit("internal error: inconsistent object graph".into());
    let mut frames = vec![Frame::Enter(root)];
    let mut values: Vec<Value> = Vec::new();
    // Built values of nodes referenced more than once, with the number of
    // references still to serve; the last one takes the value.
    let mut shared: HashMap<Id, (Value, u32)> = HashMap::new();
    while let Some(frame) = frames.pop() {
        match frame {
            Frame::Enter(id) => {
                if let Entry::Occupied(mut e) = shared.entry(id) {
                    e.get_mut().1 -= 1;
                    let v = if e.get().1 == 0 {
                        e.remove().0
                    } else {
                        e.get().0.clone()
                    };
                    values.push(v);
                    continue;
                }
                let node = arena.get(id);
                let n = child_count(node);
                let simple = |c: Id| child_count(arena.get(c)) == 0 && refs[c as usize] <= 1;
                let value = if (0..n).all(|i| simple(child(node, i))) {
                    // Leaves, and containers of leaves used once (a
                    // vocabulary dict, a list of floats): built directly,
                    // without a round trip through the frame and value
                    // stacks.
                    let node = std::mem::replace(arena.get_mut(id), Node::Taken);
                    construct_flat(node, arena).ok_or_else(internal)?
                } else {
                    frames.push(Frame::Exit(id));
                    for i in (0..n).rev() {
                        frames.push(Frame::Enter(child(node, i)));
                    }
                    continue;
                };
                let r = refs[id as usize];
                if r > 1 {
                    shared.insert(id, (value.clone(), r - 1));
                }
                values.push(value);
            }
            Frame::Exit(id) => {
                let node = std::mem::replace(arena.get_mut(id), Node::Taken);
                let n = child_count(&node);
                let at = values.len().checked_sub(n).ok_or_else(internal)?;
                let value = if let Node::Dict(_) = node {
                    let mut pairs = Vec::with_capacity(n / 2);
                    let mut it = values.drain(at..);
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    drop(it);
                    Value::Dict(dedup_keys(pairs))
                } else {
                    let children = values.split_off(at);
                    construct(node, children).ok_or_else(internal)?
                };
                let r = refs[id as usize];
                if r > 1 {
                    shared.insert(id, (value.clone(), r - 1));
                }
                values.push(value);
            }
        }
    }
    values.pop().ok_or_else(internal)
}

fn latin1(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// Builds the value of a node all of whose children are leaves referenced
/// only here, taking them straight out of the arena.
fn construct_flat(node: Node, arena: &mut Arena) -> Option<Value> {
    let mut take = |id: Id| {
        let leaf = std::mem::replace(arena.get_mut(id), Node::Taken);
        construct(leaf, Vec::new())
    };
    if let Node::Dict(pairs) = &node {
        let mut out = Vec::with_capacity(pairs.len());
        for &(k, v) in pairs {
            out.push((take(k)?, take(v)?));
        }
        return Some(Value::Dict(dedup_keys(out)));
    }
    let children = (0..child_count(&node))
        .map(|i| take(child(&node, i)))
        .collect::<Option<Vec<_>>>()?;
    construct(node, children)
}

/// Builds the value of `node` from its children's values. (Dicts are
/// paired up by the callers.)
fn construct(node: Node, children: Vec<Value>) -> Option<Value> {
    Some(match node {
        Node::None => Value::None,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Int(i),
        Node::BigInt(b) => Value::BigInt(b),
        Node::Float(f) => Value::Float(f),
        Node::Complex(re, im) => Value::Complex(re, im),
        Node::Str(s) => Value::Str(s),
        Node::Bytes(b) => Value::Bytes(b),
        Node::Py2Str(b) => Value::Str(latin1(b)),
        Node::List(_) => Value::List(children),
        Node::Tuple(_) => Value::Tuple(children),
        Node::Set(_) => Value::Set(children),
        Node::FrozenSet(_) => Value::FrozenSet(children),
        Node::Dict(_) => {
            let mut pairs = Vec::with_capacity(children.len() / 2);
            let mut it = children.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Value::Dict(dedup_keys(pairs))
        }
        Node::Slice(_) => {
            let mut it = children.into_iter().map(Box::new);
            Value::Slice(it.next()?, it.next()?, it.next()?)
        }
        Node::Array(a) => Value::Array(a),
        Node::ObjectArray(a) => Value::Array(Box::new(Array {
            dtype: a.dtype,
            shape: a.shape,
            fortran_order: false,
            data: ArrayData::Object(children),
        })),
        Node::Dtype(d) => Value::Dtype(d),
        Node::Global(g) => Value::Global(Box::new(g.global)),
        Node::Object(o) => {
            let mut args = children;
            let state = if o.state.is_some() {
                Some(Box::new(args.pop()?))
            } else {
                None
            };
            Value::Object(Box::new(Object {
                class: o.class,
                args,
                state,
            }))
        }
        // `_reconstruct(ndarray, (0,), b'b')` never given its state: numpy
        // would leave an empty int8 array.
        Node::PendingArray => Value::Array(Box::new(Array {
            dtype: Dtype {
                kind: 'i',
                itemsize: 1,
                little_endian: true,
                record: None,
            },
            shape: vec![0],
            fortran_order: false,
            data: ArrayData::I64(Vec::new()),
        })),
        Node::Alias(_) => children.into_iter().next()?,
        Node::Taken => return None,
    })
}

/// Hashable plain keys, compared the way Python dict keys are.
#[derive(Hash, PartialEq, Eq)]
enum Key<'a> {
    Str(&'a str),
    Int(i64),
    Bytes(&'a [u8]),
}

fn key_of(v: &Value) -> Option<Key<'_>> {
    Some(match v {
        Value::Str(s) => Key::Str(s),
        Value::Int(n) => Key::Int(*n),
        Value::Bool(b) => Key::Int(i64::from(*b)),
        Value::Bytes(b) => Key::Bytes(b),
        _ => return None,
    })
}

/// A `Hasher` for keys that already are (SipHash) hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Cheap pre-check: whether two keys share a 64-bit (randomly keyed, so
/// not attacker-predictable) hash. A set of `u64`s is far smaller than a
/// map of keys, which matters for a 200k-entry vocabulary.
fn may_have_duplicates(pairs: &[(Value, Value)]) -> bool {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let mut seen: std::collections::HashSet<u64, std::hash::BuildHasherDefault<PassThrough>> =
        std::collections::HashSet::with_capacity_and_hasher(pairs.len(), Default::default());
    pairs
        .iter()
        .filter_map(|(k, _)| key_of(k))
        .any(|k| !seen.insert(state.hash_one(k)))
}

/// A later `SETITEM` with an equal key replaces the value but keeps the
/// key's first position, as in a Python dict. Only hashable plain keys
/// (str, int, bool, bytes) are compared.
fn dedup_keys(mut pairs: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    if pairs.len() < 2 || !may_have_duplicates(&pairs) {
        return pairs;
    }
    let mut dups: Vec<(usize, usize)> = Vec::new();
    {
        let mut seen: HashMap<Key<'_>, usize> = HashMap::with_capacity(pairs.len());
        for (i, (k, _)) in pairs.iter().enumerate() {
            let Some(key) = key_of(k) else { continue };
            match seen.entry(key) {
                Entry::Occupied(e) => dups.push((i, *e.get())),
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }
    if dups.is_empty() {
        return pairs;
    }
    let mut keep = vec![true; pairs.len()];
    for (dup, first) in dups {
        let v = std::mem::replace(&mut pairs[dup].1, Value::None);
        pairs[first].1 = v;
        keep[dup] = false;
    }
    let mut i = 0;
    pairs.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    pairs
}
