//! The pickle virtual machine (protocols 0–5), executing nothing.
//!
//! Opcodes push and pop [`Id`]s of nodes in an [`Arena`] (see `arena.rs` for
//! why). Where Python would import and call a global, [`Vm::call`] builds
//! the plain-data equivalent for the handful of globals it knows, or an inert
//! object for allowlisted classes. joblib's `NumpyArrayWrapper` gets the same
//! special `BUILD` as joblib's own `NumpyUnpickler`: the array bytes follow
//! in the stream and are read right there.
//!
//! Every length read from the file is checked against the bytes remaining
//! before anything is allocated, so memory stays proportional to the input.

mod arena;
mod globals;
mod resolve;
mod text;

use arena::{
    Arena, Builtin, FALSE, GlobalRef, Id, Memo, Meter, NONE, Node, ObjectArray, ObjectNode, TRUE,
    heap_block, node_cost,
};
use std::cell::Cell;

use text::Int;

use crate::error::PickleError;
use crate::numpy;
use crate::policy::Policy;
use crate::value::{Array, Dtype, Value};

/// Runs the pickle in `data` and returns the object `STOP` found on the
/// stack, as a tree.
///
/// `file_len` is the size of the file the stream came from (before
/// decompression): memory and CPU budgets follow it, see [`crate::Limits`].
/// Also returns whether the stream was written by Python 2: Python 3 never
/// writes the `STRING` opcodes (its `bytes` go through `_codecs.encode`
/// below protocol 3), and a Python 2 model's text semantics differ.
pub(crate) fn unpickle(
    data: &[u8],
    policy: &Policy,
    file_len: usize,
) -> Result<(Value, bool), PickleError> {
    let mut vm = Vm::new(data, policy, file_len);
    let root = vm.run()?;
    let Vm { arena, meter, .. } = vm;
    let python2 = arena.nodes.iter().any(|n| matches!(n, Node::Py2Str(_)));
    Ok((
        resolve::resolve(arena, root, policy.limits(), &meter)?,
        python2,
    ))
}

/// numpy refuses arrays of more dimensions than this.
const MAX_DIMS: usize = 64;

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed, for error messages.
    op_pos: usize,
    policy: &'a Policy,
    arena: Arena,
    stack: Vec<Id>,
    /// Stack lengths at each pending `MARK`.
    marks: Vec<usize>,
    memo: Memo,
    /// Inside the inner pickle joblib writes for an object array. That one
    /// is read by plain `pickle.load`, so wrappers in it are not special.
    nested: bool,
    /// Scratch space for call arguments.
    arg_buf: Vec<Id>,
    /// Elements and bytes copied out of existing nodes so far (see
    /// [`Vm::charge`]).
    copied: Cell<u64>,
    copy_budget: u64,
    /// Memory charged so far (arena nodes, their payloads, decoded arrays,
    /// the stack and memo) against [`crate::Limits::value_limit`].
    meter: Meter,
    /// Bytes of stack, marks and memo already charged to `meter`.
    transient_charged: u64,
    /// CPU spent converting long decimal integers (see [`Vm::parse_int`]).
    int_work: u64,
    int_work_budget: u64,
}

/// Base of the decimal-integer work budget, in 64-bit limb operations
/// (a few milliseconds).
const INT_WORK_BASE: u64 = 1 << 22;
/// Decimal-integer work allowed per byte of the file.
const INT_WORK_PER_FILE_BYTE: u64 = 16;

/// How a callable is being invoked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `REDUCE`, `INST`, `OBJ`: `callable(*args)`.
    Reduce,
    /// `NEWOBJ`, `NEWOBJ_EX`: `cls.__new__(cls, *args)`.
    NewObj,
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::None => "None",
        Node::Bool(_) => "bool",
        Node::Int(_) | Node::BigInt(_) => "int",
        Node::Float(_) => "float",
        Node::Complex(..) => "complex",
        Node::Str(_) => "str",
        Node::Bytes(_) => "bytes",
        Node::Py2Str(_) => "str (Python 2)",
        Node::List(_) => "list",
        Node::Tuple(_) => "tuple",
        Node::Dict(_) => "dict",
        Node::Set(_) => "set",
        Node::FrozenSet(_) => "frozenset",
        Node::Slice(_) => "slice",
        Node::Array(_) | Node::ObjectArray(_) | Node::PendingArray => "numpy.ndarray",
        Node::Dtype(_) => "numpy.dtype",
        Node::Global(_) => "global",
        Node::Object(_) => "object",
        Node::Alias(_) | Node::Taken => "object",
    }
}

impl<'a> Vm<'a> {
    fn new(data: &'a [u8], policy: &'a Policy, file_len: usize) -> Self {
        Vm {
            data,
            pos: 0,
            op_pos: 0,
            policy,
            arena: Arena::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::new(data.len()),
            nested: false,
            arg_buf: Vec::new(),
            copied: Cell::new(0),
            copy_budget: 4 * data.len() as u64 + (1 << 20),
            meter: Meter::new(policy.limits().value_limit(file_len)),
            transient_charged: 0,
            int_work: 0,
            int_work_budget: INT_WORK_BASE
                .saturating_add(INT_WORK_PER_FILE_BYTE.saturating_mul(file_len as u64)),
        }
    }

    // ----- errors -------------------------------------------------------

    fn err(&self, msg: impl Into<String>) -> PickleError {
        PickleError::malformed(self.op_pos, msg)
    }

    fn np_err(&self, msg: impl Into<String>) -> PickleError {
        PickleError::numpy(self.op_pos, msg)
    }

    fn unsupported(&self, what: &str) -> PickleError {
        PickleError::Unsupported {
            offset: self.op_pos,
            what: what.to_owned(),
        }
    }

    /// Accounts for work or memory proportional to an *existing* node:
    /// copying a memoized list into `set(...)`, decoding memoized bytes into
    /// an array, and so on. Each opcode is at least one byte of input, but a
    /// memo `GET` can hand the same big node to a million such opcodes, so
    /// without this budget a small file could demand quadratic time and
    /// memory. Real pickles consume each node about once: the budget is four
    /// times the input size (plus 1 MiB).
    fn charge(&self, units: usize) -> Result<(), PickleError> {
        let total = self.copied.get().saturating_add(units as u64);
        self.copied.set(total);
        if total > self.copy_budget {
            return Err(PickleError::Limit(format!(
                "pickle re-uses its data too often (at byte {}): more than {} \
                 elements copied out of shared objects",
                self.op_pos, self.copy_budget
            )));
        }
        Ok(())
    }

    // ----- reading the stream --------------------------------------------

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PickleError> {
        if n > self.remaining() {
            return Err(PickleError::Truncated {
                offset: self.pos,
                what,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A length-prefixed payload; the length is checked against the input
    /// before the caller allocates anything.
    fn take_len(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], PickleError> {
        match usize::try_from(n) {
            Ok(n) => self.take(n, what),
            Err(_) => Err(PickleError::Truncated {
                offset: self.pos,
                what,
            }),
        }
    }

    fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PickleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PickleError> {
        Ok(self.fixed::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.fixed(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.fixed(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, PickleError> {
        Ok(i32::from_le_bytes(self.fixed(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.fixed(what)?))
    }

    /// A non-negative signed 32-bit length (`BINSTRING`, `LONG4`).
    fn len_i32(&mut self, what: &'static str) -> Result<u64, PickleError> {
        let n = self.i32(what)?;
        u64::try_from(n).map_err(|_| self.err(format!("negative length {n} for {what}")))
    }

    /// A protocol 0 argument: the bytes up to (not including) `\n`.
    fn line(&mut self, what: &'static str) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None => Err(PickleError::Truncated {
                offset: self.data.len(),
                what,
            }),
        }
    }

    fn utf8_line(&mut self, what: &'static str) -> Result<&'a str, PickleError> {
        let line = self.line(what)?;
        std::str::from_utf8(line).map_err(|_| self.err(format!("{what} is not UTF-8")))
    }

    fn memo_key_line(&mut self) -> Result<u64, PickleError> {
        let line = self.line("memo key")?;
        match self.parse_int(line, "memo key")? {
            Int::Small(k) if k >= 0 => Ok(k as u64),
            _ => Err(self.err("invalid memo key")),
        }
    }

    // ----- the stack -----------------------------------------------------

    fn new_node(&mut self, node: Node) -> Result<Id, PickleError> {
        self.meter
            .charge(node_cost(&node), "objects built by the pickle")?;
        self.arena.push(node)
    }

    /// Replaces the node `id` (a pending array or wrapper gets its data),
    /// charging the new node.
    fn replace_node(&mut self, id: Id, node: Node) -> Result<(), PickleError> {
        self.meter
            .charge(node_cost(&node), "objects built by the pickle")?;
        *self.arena.get_mut(id) = node;
        Ok(())
    }

    /// Checks there is budget left for a `bytes` allocation about to be
    /// made (and charged when its node is created).
    fn room(&self, bytes: usize) -> Result<(), PickleError> {
        self.meter.room(heap_block(bytes), "copies of data")
    }

    /// Charges the growth of the stack, marks and memo since the last call.
    /// Called once per opcode; each opcode grows them by a few bytes at
    /// most, so the charge is never late by more than that.
    fn charge_transient(&mut self) -> Result<(), PickleError> {
        let now = self.stack.len() as u64 * 4 + self.marks.len() as u64 * 8 + self.memo.bytes();
        if now > self.transient_charged {
            self.meter
                .charge(now - self.transient_charged, "unpickling stack and memo")?;
            self.transient_charged = now;
        }
        Ok(())
    }

    /// Parses a protocol 0 decimal integer (`INT`, `LONG`, memo keys).
    ///
    /// Converting `d` digits costs about `(d / 19)² / 2` limb operations,
    /// so a file of many 4300-digit integers (each allowed, as CPython
    /// allows them) could still cost seconds: the total is charged against
    /// a work budget that follows the file size.
    fn parse_int(&mut self, text: &[u8], what: &str) -> Result<Int, PickleError> {
        let digits = text.len() as u64;
        if digits > 18 {
            let chunks = digits.div_ceil(19);
            self.int_work = self.int_work.saturating_add(chunks * (chunks + 1) / 2);
            if self.int_work > self.int_work_budget {
                return Err(PickleError::Limit(format!(
                    "too many long decimal integers (at byte {}): converting them would take \
                     more than {} limb operations",
                    self.op_pos, self.int_work_budget
                )));
            }
        }
        text::parse_int(text).map_err(|e| self.err(format!("invalid {what}: {e}")))
    }

    fn push(&mut self, node: Node) -> Result<(), PickleError> {
        let id = self.new_node(node)?;
        self.stack.push(id);
        Ok(())
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Id, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.err("unpickling stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.err("unpickling stack underflow"))
    }

    fn top(&self) -> Result<Id, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.err("unpickling stack underflow"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("unpickling stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, PickleError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("could not find MARK"))?;
        Ok(self.stack.split_off(mark))
    }

    fn node(&self, id: Id) -> &Node {
        self.arena.get(id)
    }

    // ----- typed views of nodes --------------------------------------------

    fn str_of(&self, id: Id) -> Option<&str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            Node::Py2Str(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    fn int_of(&self, id: Id) -> Option<i64> {
        match self.node(id) {
            Node::Int(i) => Some(*i),
            Node::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn float_of(&self, id: Id) -> Option<f64> {
        match self.node(id) {
            Node::Float(f) => Some(*f),
            Node::Int(i) => Some(*i as f64),
            Node::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    fn seq_of(&self, id: Id) -> Option<&[Id]> {
        match self.node(id) {
            Node::List(v) | Node::Tuple(v) => Some(v),
            _ => None,
        }
    }

    fn tuple_of(&self, id: Id) -> Result<Vec<Id>, PickleError> {
        match self.node(id) {
            Node::Tuple(v) => {
                self.charge(v.len())?;
                self.room(v.len() * 4)?;
                Ok(v.clone())
            }
            other => Err(self.err(format!(
                "expected an argument tuple, found {}",
                describe(other)
            ))),
        }
    }

    fn dtype_of(&self, id: Id) -> Result<Dtype, PickleError> {
        match self.node(id) {
            Node::Dtype(d) => Ok(d.clone()),
            other => Err(self.np_err(format!("expected a numpy dtype, found {}", describe(other)))),
        }
    }

    fn shape_of(&self, id: Id) -> Result<Vec<usize>, PickleError> {
        let dims = self
            .seq_of(id)
            .ok_or_else(|| self.np_err("array shape is not a tuple"))?;
        if dims.len() > MAX_DIMS {
            return Err(self.np_err(format!("array has {} dimensions", dims.len())));
        }
        dims.iter()
            .map(|&d| {
                self.int_of(d)
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| self.np_err("array dimension is not a non-negative int"))
            })
            .collect()
    }

    /// Raw bytes for numpy: `bytes`, `bytearray`, a Python 2 `str`, or a `str`
    /// holding Latin-1 code points (Python 3 reading Python 2 data).
    fn raw_bytes_of(&self, id: Id) -> Result<std::borrow::Cow<'_, [u8]>, PickleError> {
        match self.node(id) {
            Node::Bytes(b) | Node::Py2Str(b) => {
                self.charge(b.len())?;
                Ok(std::borrow::Cow::Borrowed(b))
            }
            Node::Str(s) => self
                .charge(s.len())
                .and_then(|()| self.room(s.len()))
                .and_then(|()| {
                    latin1_encode(s).ok_or_else(|| self.np_err("array data str is not Latin-1"))
                })
                .map(std::borrow::Cow::Owned),
            other => Err(self.np_err(format!("expected array bytes, found {}", describe(other)))),
        }
    }

    /// Looks `key` up in a dict node with string keys.
    fn dict_get(&self, dict: Id, key: &str) -> Result<Option<Id>, PickleError> {
        Ok(match self.node(dict) {
            Node::Dict(pairs) => {
                self.charge(pairs.len())?;
                pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| self.str_of(*k) == Some(key))
                    .map(|&(_, v)| v)
            }
            _ => None,
        })
    }

    // ----- the interpreter -------------------------------------------------

    /// Executes opcodes until `STOP`, returning the top of the stack.
    fn run(&mut self) -> Result<Id, PickleError> {
        loop {
            self.charge_transient()?;
            self.op_pos = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return Err(PickleError::Truncated {
                    offset: self.pos,
                    what: "no STOP opcode",
                });
            };
            self.pos += 1;
            match op {
                // MARK
                b'(' => self.marks.push(self.stack.len()),
                // STOP
                b'.' => return self.pop(),
                // POP
                b'0' => {
                    if self.stack.len() > self.fence() {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                // POP_MARK
                b'1' => {
                    self.pop_mark()?;
                }
                // DUP
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }
                // FLOAT
                b'F' => {
                    let line = self.line("FLOAT argument")?;
                    let f = text::parse_float(line).ok_or_else(|| self.err("invalid FLOAT"))?;
                    self.push(Node::Float(f))?;
                }
                // BINFLOAT
                b'G' => {
                    let f = f64::from_be_bytes(self.fixed("BINFLOAT argument")?);
                    self.push(Node::Float(f))?;
                }
                // INT
                b'I' => {
                    let line = self.line("INT argument")?;
                    match line {
                        b"00" => self.stack.push(FALSE),
                        b"01" => self.stack.push(TRUE),
                        _ => {
                            let i = self.parse_int(line, "INT")?;
                            self.push_int(i)?;
                        }
                    }
                }
                // BININT
                b'J' => {
                    let i = self.i32("BININT argument")?;
                    self.push(Node::Int(i64::from(i)))?;
                }
                // BININT1
                b'K' => {
                    let i = self.u8("BININT1 argument")?;
                    self.push(Node::Int(i64::from(i)))?;
                }
                // BININT2
                b'M' => {
                    let i = self.u16("BININT2 argument")?;
                    self.push(Node::Int(i64::from(i)))?;
                }
                // LONG
                b'L' => {
                    let mut line = self.line("LONG argument")?;
                    if let Some(stripped) = line.strip_suffix(b"L") {
                        line = stripped;
                    }
                    let i = self.parse_int(line, "LONG")?;
                    self.push_int(i)?;
                }
                // LONG1
                0x8a => {
                    let n = self.u8("LONG1 length")?;
                    let bytes = self.take(usize::from(n), "LONG1 data")?;
                    self.push_int(text::int_from_le(bytes))?;
                }
                // LONG4
                0x8b => {
                    let n = self.len_i32("LONG4 length")?;
                    let bytes = self.take_len(n, "LONG4 data")?;
                    self.room(bytes.len())?;
                    self.push_int(text::int_from_le(bytes))?;
                }
                // NONE
                b'N' => self.stack.push(NONE),
                // NEWTRUE / NEWFALSE
                0x88 => self.stack.push(TRUE),
                0x89 => self.stack.push(FALSE),
                // STRING
                b'S' => {
                    let line = self.line("STRING argument")?;
                    let body = match line {
                        [q, body @ .., q2] if q == q2 && (*q == b'\'' || *q == b'"') => body,
                        _ => return Err(self.err("the STRING opcode argument must be quoted")),
                    };
                    self.room(body.len())?;
                    let bytes = text::escape_decode(body)
                        .ok_or_else(|| self.err("invalid STRING escape"))?;
                    self.push(Node::Py2Str(bytes))?;
                }
                // BINSTRING
                b'T' => {
                    let n = self.len_i32("BINSTRING length")?;
                    let bytes = self.take_len(n, "BINSTRING data")?;
                    self.room(bytes.len())?;
                    self.push(Node::Py2Str(bytes.to_vec()))?;
                }
                // SHORT_BINSTRING
                b'U' => {
                    let n = self.u8("SHORT_BINSTRING length")?;
                    let bytes = self.take(usize::from(n), "SHORT_BINSTRING data")?;
                    self.push(Node::Py2Str(bytes.to_vec()))?;
                }
                // UNICODE
                b'V' => {
                    let line = self.line("UNICODE argument")?;
                    // Latin-1 bytes may double in size as UTF-8.
                    self.room(2 * line.len())?;
                    let s = text::raw_unicode_escape(line)
                        .ok_or_else(|| self.err("invalid raw-unicode-escape UNICODE argument"))?;
                    self.push(Node::Str(s))?;
                }
                // BINUNICODE
                b'X' => {
                    let n = self.u32("BINUNICODE length")?;
                    self.push_utf8(u64::from(n), "BINUNICODE data")?;
                }
                // SHORT_BINUNICODE
                0x8c => {
                    let n = self.u8("SHORT_BINUNICODE length")?;
                    self.push_utf8(u64::from(n), "SHORT_BINUNICODE data")?;
                }
                // BINUNICODE8
                0x8d => {
                    let n = self.u64("BINUNICODE8 length")?;
                    self.push_utf8(n, "BINUNICODE8 data")?;
                }
                // BINBYTES
                b'B' => {
                    let n = self.u32("BINBYTES length")?;
                    let bytes = self.take_len(u64::from(n), "BINBYTES data")?;
                    self.room(bytes.len())?;
                    self.push(Node::Bytes(bytes.to_vec()))?;
                }
                // SHORT_BINBYTES
                b'C' => {
                    let n = self.u8("SHORT_BINBYTES length")?;
                    let bytes = self.take(usize::from(n), "SHORT_BINBYTES data")?;
                    self.push(Node::Bytes(bytes.to_vec()))?;
                }
                // BINBYTES8 / BYTEARRAY8
                0x8e | 0x96 => {
                    let n = self.u64("BINBYTES8 length")?;
                    let bytes = self.take_len(n, "BINBYTES8 data")?;
                    self.room(bytes.len())?;
                    self.push(Node::Bytes(bytes.to_vec()))?;
                }
                // NEXT_BUFFER / READONLY_BUFFER
                0x97 | 0x98 => {
                    return Err(
                        self.unsupported("out-of-band buffers (pickle protocol 5 buffer_callback)")
                    );
                }
                // EMPTY_TUPLE
                b')' => self.push(Node::Tuple(Vec::new()))?,
                // TUPLE
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                // TUPLE1 / TUPLE2 / TUPLE3
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < self.fence() + n {
                        return Err(self.err("unpickling stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Node::Tuple(items))?;
                }
                // EMPTY_LIST
                b']' => self.push(Node::List(Vec::new()))?,
                // LIST
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?;
                }
                // APPEND
                b'a' => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                // APPENDS
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                // EMPTY_DICT
                b'}' => self.push(Node::Dict(Vec::new()))?,
                // DICT
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Node::Dict(pairs))?;
                }
                // SETITEM
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_dict(vec![(k, v)])?;
                }
                // SETITEMS
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.extend_dict(pairs)?;
                }
                // EMPTY_SET
                0x8f => self.push(Node::Set(Vec::new()))?,
                // ADDITEMS
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    self.charge_growth(target, items.len(), 4)?;
                    match self.arena.get_mut(target) {
                        Node::Set(v) => v.extend(items),
                        other => {
                            let what = describe(other);
                            return Err(self.err(format!("ADDITEMS on {what}")));
                        }
                    }
                }
                // FROZENSET
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::FrozenSet(items))?;
                }
                // GLOBAL
                b'c' => {
                    let module = self.utf8_line("GLOBAL module")?;
                    let name = self.utf8_line("GLOBAL name")?;
                    let id = self.global(module, name)?;
                    self.stack.push(id);
                }
                // STACK_GLOBAL
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.str_of(module), self.str_of(name))
                    else {
                        return Err(self.err("STACK_GLOBAL requires str module and name"));
                    };
                    self.charge(module.len() + name.len())?;
                    let (module, name) = (module.to_owned(), name.to_owned());
                    let id = self.global(&module, &name)?;
                    self.stack.push(id);
                }
                // INST
                b'i' => {
                    let module = self.utf8_line("INST module")?;
                    let name = self.utf8_line("INST name")?;
                    let cls = self.global(module, name)?;
                    let args = self.pop_mark()?;
                    let id = self.call(cls, &args, Call::Reduce)?;
                    self.stack.push(id);
                }
                // OBJ
                b'o' => {
                    let mut args = self.pop_mark()?;
                    if args.is_empty() {
                        return Err(self.err("OBJ without a class"));
                    }
                    let cls = args.remove(0);
                    let id = self.call(cls, &args, Call::Reduce)?;
                    self.stack.push(id);
                }
                // NEWOBJ
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let id = self.call_with_tuple(cls, args, Call::NewObj)?;
                    self.stack.push(id);
                }
                // NEWOBJ_EX
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    match self.node(kwargs) {
                        Node::Dict(kw) if kw.is_empty() => {}
                        _ => return Err(self.unsupported("keyword arguments in NEWOBJ_EX")),
                    }
                    let id = self.call_with_tuple(cls, args, Call::NewObj)?;
                    self.stack.push(id);
                }
                // REDUCE
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let id = self.call_with_tuple(callable, args, Call::Reduce)?;
                    self.stack.push(id);
                }
                // BUILD
                b'b' => self.build()?,
                // PUT
                b'p' => {
                    let key = self.memo_key_line()?;
                    let top = self.top()?;
                    self.memo.put(key, top);
                }
                // BINPUT
                b'q' => {
                    let key = self.u8("BINPUT key")?;
                    let top = self.top()?;
                    self.memo.put(u64::from(key), top);
                }
                // LONG_BINPUT
                b'r' => {
                    let key = self.u32("LONG_BINPUT key")?;
                    let top = self.top()?;
                    self.memo.put(u64::from(key), top);
                }
                // MEMOIZE
                0x94 => {
                    let top = self.top()?;
                    self.memo.put(self.memo.len() as u64, top);
                }
                // GET
                b'g' => {
                    let key = self.memo_key_line()?;
                    self.get(key)?;
                }
                // BINGET
                b'h' => {
                    let key = self.u8("BINGET key")?;
                    self.get(u64::from(key))?;
                }
                // LONG_BINGET
                b'j' => {
                    let key = self.u32("LONG_BINGET key")?;
                    self.get(u64::from(key))?;
                }
                // PROTO
                0x80 => {
                    let proto = self.u8("PROTO version")?;
                    if proto > 5 {
                        return Err(self.unsupported(&format!("pickle protocol {proto}")));
                    }
                }
                // FRAME: the stream is already contiguous in memory, so a
                // frame is only a length to validate.
                0x95 => {
                    let n = self.u64("FRAME length")?;
                    if n > self.remaining() as u64 {
                        return Err(PickleError::Truncated {
                            offset: self.pos,
                            what: "frame longer than the remaining data",
                        });
                    }
                }
                // PERSID / BINPERSID
                b'P' | b'Q' => return Err(self.unsupported("persistent IDs")),
                // EXT1 / EXT2 / EXT4
                0x82..=0x84 => {
                    return Err(self.unsupported("the copyreg extension registry (EXT1/EXT2/EXT4)"));
                }
                _ => {
                    return Err(PickleError::UnsupportedOpcode {
                        opcode: op,
                        offset: self.op_pos,
                    });
                }
            }
        }
    }

    fn push_int(&mut self, i: Int) -> Result<(), PickleError> {
        match i {
            Int::Small(i) => self.push(Node::Int(i)),
            Int::Big(b) => self.push(Node::BigInt(b)),
        }
    }

    fn push_utf8(&mut self, n: u64, what: &'static str) -> Result<(), PickleError> {
        let bytes = self.take_len(n, what)?;
        self.room(bytes.len())?;
        let s = std::str::from_utf8(bytes).map_err(|e| {
            PickleError::malformed(
                self.pos - bytes.len() + e.valid_up_to(),
                "string is not valid UTF-8 (lone surrogates are not supported)",
            )
        })?;
        self.push(Node::Str(s.to_owned()))
    }

    fn get(&mut self, key: u64) -> Result<(), PickleError> {
        let id = self
            .memo
            .get(key)
            .ok_or_else(|| self.err(format!("memo key {key} not found")))?;
        self.stack.push(id);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<Id, PickleError> {
        let (global, kind) = globals::resolve(module, name, self.policy)?;
        self.new_node(Node::Global(Box::new(GlobalRef { global, kind })))
    }

    fn pairs(&self, items: Vec<Id>) -> Result<Vec<(Id, Id)>, PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of items for a dict"));
        }
        Ok(items.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect())
    }

    /// Charges `added` more elements of `size` bytes in the container
    /// `target` (as the capacity of its `Vec` grows).
    fn charge_growth(&self, target: Id, added: usize, size: usize) -> Result<(), PickleError> {
        let (len, cap) = match self.node(target) {
            Node::List(v) | Node::Set(v) => (v.len(), v.capacity()),
            Node::Dict(v) => (v.len(), v.capacity()),
            _ => return Ok(()),
        };
        let new_len = len.saturating_add(added);
        let mut cost = if new_len > cap {
            let new_cap = new_len.max(cap.saturating_mul(2));
            heap_block(new_cap.saturating_mul(size)) - heap_block(cap * size)
        } else {
            0
        };
        if size == 8 {
            cost += arena::DEDUP_PER_PAIR * added as u64;
        }
        self.meter.charge(cost, "containers built by the pickle")
    }

    fn extend_list(&mut self, items: Vec<Id>) -> Result<(), PickleError> {
        let target = self.top()?;
        self.charge_growth(target, items.len(), 4)?;
        match self.arena.get_mut(target) {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            other => {
                let what = describe(other);
                Err(self.err(format!("APPEND to {what}")))
            }
        }
    }

    fn extend_dict(&mut self, pairs: Vec<(Id, Id)>) -> Result<(), PickleError> {
        let target = self.top()?;
        self.charge_growth(target, pairs.len(), 8)?;
        match self.arena.get_mut(target) {
            Node::Dict(v) => {
                v.extend(pairs);
                Ok(())
            }
            other => {
                let what = describe(other);
                Err(self.err(format!("SETITEM on {what}")))
            }
        }
    }

    // ----- calling globals -------------------------------------------------

    /// The name of a global node, for messages and objects.
    fn global_of(&self, id: Id) -> crate::Global {
        match self.node(id) {
            Node::Global(g) => g.global.clone(),
            _ => crate::Global::new("?", "?"),
        }
    }

    /// [`Vm::call`] with the items of the argument tuple `args`, copied into
    /// a reused buffer: `REDUCE` runs once per numpy scalar, hundreds of
    /// thousands of times for a big vocabulary.
    fn call_with_tuple(&mut self, callee: Id, args: Id, how: Call) -> Result<Id, PickleError> {
        let mut buf = std::mem::take(&mut self.arg_buf);
        buf.clear();
        let result = match self.node(args) {
            Node::Tuple(items) => match self.charge(items.len()) {
                Ok(()) => {
                    buf.extend_from_slice(items);
                    self.call(callee, &buf, how)
                }
                Err(e) => Err(e),
            },
            other => Err(self.err(format!(
                "expected an argument tuple, found {}",
                describe(other)
            ))),
        };
        self.arg_buf = buf;
        result
    }

    /// What calling the global `callee` with `args` produces — built from
    /// plain data, never by running anything.
    fn call(&mut self, callee: Id, args: &[Id], how: Call) -> Result<Id, PickleError> {
        let kind = match self.node(callee) {
            Node::Global(g) => g.kind,
            other => {
                let what = describe(other);
                return Err(self.err(format!("cannot call a {what}")));
            }
        };
        let node = match kind {
            Builtin::Allowed | Builtin::JoblibWrapper => Node::Object(Box::new(ObjectNode {
                class: {
                    let class = self.global_of(callee);
                    self.charge(args.len() + class.module.len() + class.name.len())?;
                    class
                },
                args: args.to_vec(),
                state: None,
                wrapper: kind == Builtin::JoblibWrapper,
            })),
            Builtin::Set | Builtin::FrozenSet | Builtin::List | Builtin::Tuple => {
                let items = match (how, args) {
                    (Call::NewObj, _) | (_, []) => Vec::new(),
                    (_, [it]) => self.items_of(*it)?,
                    _ => {
                        return Err(self.err(format!(
                            "{}() takes at most 1 argument",
                            self.global_of(callee)
                        )));
                    }
                };
                match kind {
                    Builtin::Set => Node::Set(items),
                    Builtin::FrozenSet => Node::FrozenSet(items),
                    Builtin::List => Node::List(items),
                    _ => Node::Tuple(items),
                }
            }
            Builtin::Dict | Builtin::OrderedDict => {
                let pairs = match (how, args) {
                    (Call::NewObj, _) | (_, []) => Vec::new(),
                    (_, [it]) => self.pairs_of(*it)?,
                    _ => {
                        return Err(self.err(format!(
                            "{}() takes at most 1 argument",
                            self.global_of(callee)
                        )));
                    }
                };
                Node::Dict(pairs)
            }
            Builtin::DefaultDict => {
                if let Some(&factory) = args.first() {
                    let ok = match self.node(factory) {
                        Node::None => true,
                        Node::Global(g) => matches!(
                            g.kind,
                            Builtin::TypeRef
                                | Builtin::List
                                | Builtin::Dict
                                | Builtin::Set
                                | Builtin::FrozenSet
                                | Builtin::Tuple
                                | Builtin::Bytes
                                | Builtin::Complex
                                | Builtin::OrderedDict
                        ),
                        _ => false,
                    };
                    if !ok {
                        return Err(
                            self.unsupported("a defaultdict whose factory is not a builtin type")
                        );
                    }
                }
                let pairs = match args.get(1) {
                    Some(&it) if how == Call::Reduce => self.pairs_of(it)?,
                    _ => Vec::new(),
                };
                Node::Dict(pairs)
            }
            Builtin::Slice => {
                let parts = match args {
                    [stop] => [NONE, *stop, NONE],
                    [start, stop] => [*start, *stop, NONE],
                    [start, stop, step] => [*start, *stop, *step],
                    _ => return Err(self.err("slice() takes 1 to 3 arguments")),
                };
                Node::Slice(parts)
            }
            Builtin::Complex => {
                let mut parts = [0.0f64; 2];
                if args.len() > 2 {
                    return Err(self.err("complex() takes at most 2 arguments"));
                }
                for (slot, &a) in parts.iter_mut().zip(args) {
                    *slot = self
                        .float_of(a)
                        .ok_or_else(|| self.err("complex() arguments must be numbers"))?;
                }
                Node::Complex(parts[0], parts[1])
            }
            Builtin::Bytes | Builtin::Bytearray | Builtin::CodecsEncode => {
                if how == Call::NewObj && kind != Builtin::CodecsEncode {
                    Node::Bytes(Vec::new())
                } else {
                    Node::Bytes(self.bytes_from_args(callee, args)?)
                }
            }
            Builtin::Reconstructor => return self.reconstructor(args),
            Builtin::NpReconstruct => {
                if args.len() != 3 {
                    return Err(self.np_err("_reconstruct takes 3 arguments"));
                }
                Node::PendingArray
            }
            Builtin::NpFromBuffer => self.frombuffer(args)?,
            Builtin::NpDtype => {
                let name = args
                    .first()
                    .and_then(|&a| self.str_of(a))
                    .ok_or_else(|| self.np_err("numpy.dtype needs a type name"))?;
                let dtype = numpy::dtype_from_name(name)
                    .ok_or_else(|| self.np_err(format!("unsupported dtype {name:?}")))?;
                Node::Dtype(dtype)
            }
            Builtin::NpScalar => return self.scalar(args),
            Builtin::Object | Builtin::TypeRef | Builtin::NpNdarray | Builtin::NpType => {
                return Err(self.unsupported(&format!("calling {}", self.global_of(callee))));
            }
        };
        self.new_node(node)
    }

    /// Elements of an iterable argument (list, tuple, set, frozenset).
    fn items_of(&self, id: Id) -> Result<Vec<Id>, PickleError> {
        match self.node(id) {
            Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => {
                self.charge(v.len())?;
                self.room(v.len() * 4)?;
                Ok(v.clone())
            }
            other => Err(self.err(format!("cannot iterate over a {}", describe(other)))),
        }
    }

    /// Key/value pairs of a dict argument or an iterable of pairs.
    fn pairs_of(&self, id: Id) -> Result<Vec<(Id, Id)>, PickleError> {
        if let Node::Dict(pairs) = self.node(id) {
            self.charge(pairs.len())?;
            self.room(pairs.len() * 8)?;
            return Ok(pairs.clone());
        }
        self.items_of(id)?
            .into_iter()
            .map(|item| match self.seq_of(item) {
                Some(&[k, v]) => Ok((k, v)),
                _ => Err(self.err("dict items must be key/value pairs")),
            })
            .collect()
    }

    /// `bytes()`, `bytes(b)`, `bytearray(text, 'latin-1')`,
    /// `_codecs.encode(text, 'latin1')`, `bytes([ints])`.
    fn bytes_from_args(&self, callee: Id, args: &[Id]) -> Result<Vec<u8>, PickleError> {
        let global = self.global_of(callee);
        match args {
            [] => Ok(Vec::new()),
            [b] => match self.node(*b) {
                Node::Bytes(b) | Node::Py2Str(b) => {
                    self.charge(b.len())?;
                    self.room(b.len())?;
                    Ok(b.clone())
                }
                Node::List(items) | Node::Tuple(items) => self
                    .charge(items.len())
                    .and_then(|()| self.room(items.len()))
                    .and_then(|()| {
                        items
                            .iter()
                            .map(|&i| {
                                self.int_of(i)
                                    .and_then(|i| u8::try_from(i).ok())
                                    .ok_or_else(|| self.err("bytes must be in range(0, 256)"))
                            })
                            .collect()
                    }),
                other => Err(self.err(format!("{global}() of a {}", describe(other)))),
            },
            [text, encoding] => {
                let text = self
                    .str_of(*text)
                    .ok_or_else(|| self.err(format!("{global}() expects a str to encode")))?;
                self.charge(text.len())?;
                self.room(text.len())?;
                let encoding = self
                    .str_of(*encoding)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                match encoding.as_str() {
                    "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => latin1_encode(text)
                        .ok_or_else(|| self.err("text is not encodable as Latin-1")),
                    "utf-8" | "utf8" => Ok(text.as_bytes().to_vec()),
                    "ascii" if text.is_ascii() => Ok(text.as_bytes().to_vec()),
                    _ => Err(self.unsupported(&format!("{global}() with encoding {encoding:?}"))),
                }
            }
            _ => Err(self.err(format!("{global}() takes at most 2 arguments"))),
        }
    }

    /// `copyreg._reconstructor(cls, object, None)`: how protocols 0 and 1
    /// create instances of plain classes.
    fn reconstructor(&mut self, args: &[Id]) -> Result<Id, PickleError> {
        let [cls, base, state] = args else {
            return Err(self.err("_reconstructor takes 3 arguments"));
        };
        match self.node(*base) {
            Node::Global(g) if g.kind == Builtin::Object => {}
            _ => {
                return Err(
                    self.unsupported("copyreg._reconstructor with a base other than object")
                );
            }
        }
        if !matches!(self.node(*state), Node::None) {
            return Err(self.unsupported("copyreg._reconstructor with a base state"));
        }
        self.call(*cls, &[], Call::NewObj)
    }

    /// `numpy._core.numeric._frombuffer(buf, dtype, shape, order)`, how
    /// protocol 5 pickles contiguous arrays.
    fn frombuffer(&self, args: &[Id]) -> Result<Node, PickleError> {
        let [buf, dtype, shape, order] = args else {
            return Err(self.np_err("_frombuffer takes 4 arguments"));
        };
        let dtype = self.dtype_of(*dtype)?;
        let shape = self.shape_of(*shape)?;
        let fortran_order = match self.str_of(*order) {
            Some("F") => true,
            Some("C" | "A" | "K") => false,
            _ => return Err(self.np_err("_frombuffer order must be 'C' or 'F'")),
        };
        let raw = self.raw_bytes_of(*buf)?;
        self.array_node(dtype, shape, fortran_order, &raw)
    }

    /// Decodes raw bytes into an array node, after the size checks.
    fn array_node(
        &self,
        dtype: Dtype,
        shape: Vec<usize>,
        fortran_order: bool,
        raw: &[u8],
    ) -> Result<Node, PickleError> {
        let count = self.checked_count(&dtype, &shape)?;
        if dtype.kind == 'O' {
            return Err(self.np_err("object arrays cannot be read from raw bytes"));
        }
        let data = numpy::decode_array(&dtype, count, raw, self.op_pos)?;
        Ok(Node::Array(Box::new(Array {
            dtype,
            shape,
            fortran_order,
            data,
        })))
    }

    /// The element count of an array, refused if its data could not be in
    /// the rest of the input, and checked against the budgets *before* the
    /// array is decoded: every element counts, cumulatively over the whole
    /// load, against the copy budget (so zero-size `S0` elements are at
    /// most a few per input byte in total, not per array), and its widened
    /// in-memory size against the memory budget.
    fn checked_count(&self, dtype: &Dtype, shape: &[usize]) -> Result<usize, PickleError> {
        let count = numpy::element_count(shape, self.policy.limits(), self.op_pos)?;
        numpy::check_byte_size(dtype, shape, self.op_pos)?;
        // An object element takes at least one byte of pickle.
        let bytes = if dtype.kind == 'O' {
            count
        } else {
            numpy::byte_len(dtype, count, self.op_pos)?
        };
        if bytes.max(count) > self.data.len() {
            return Err(PickleError::Limit(format!(
                "array of {count} elements ({bytes} bytes) at byte {} is larger than the whole input ({} bytes)",
                self.op_pos,
                self.data.len()
            )));
        }
        self.charge(count)?;
        self.meter.room(
            arena::array_cost_bound(dtype, count),
            "decoded numpy arrays",
        )?;
        Ok(count)
    }

    /// `numpy._core.multiarray.scalar(dtype, raw)`.
    fn scalar(&mut self, args: &[Id]) -> Result<Id, PickleError> {
        let [dtype, obj] = args else {
            return Err(self.np_err("numpy scalar takes 2 arguments"));
        };
        let dtype = self.dtype_of(*dtype)?;
        if dtype.kind == 'O' {
            return Ok(*obj);
        }
        let raw = self.raw_bytes_of(*obj)?;
        let node = match numpy::decode_scalar(&dtype, &raw, self.op_pos)? {
            Value::Int(i) => Node::Int(i),
            Value::BigInt(b) => Node::BigInt(b),
            Value::Float(f) => Node::Float(f),
            Value::Complex(re, im) => Node::Complex(re, im),
            Value::Bool(b) => return Ok(Arena::bool(b)),
            Value::Str(s) => Node::Str(s),
            Value::Bytes(b) => Node::Bytes(b),
            _ => return Err(self.np_err("unsupported numpy scalar")),
        };
        self.new_node(node)
    }

    // ----- BUILD ---------------------------------------------------------------

    fn build(&mut self) -> Result<(), PickleError> {
        let state = self.pop()?;
        let target = self.top()?;
        match self.node(target) {
            Node::Object(o) if o.wrapper && !self.nested => self.build_wrapper(target, state),
            Node::Object(_) => self.build_object(target, state),
            Node::PendingArray => self.build_ndarray(target, state),
            Node::Dtype(_) => self.build_dtype(target, state),
            // OrderedDict/defaultdict instance attributes: there are none in
            // practice; accept an empty state.
            Node::Dict(_) if self.is_empty_state(state) => Ok(()),
            other => Err(self.err(format!("BUILD on a {}", describe(other)))),
        }
    }

    fn is_empty_state(&self, state: Id) -> bool {
        match self.node(state) {
            Node::None => true,
            // A scikit-learn `Bunch` carries `{"_deprecated_key_to_warnings":
            // {}}` as instance state, an old `DeprecationDict`
            // `{"_deprecations": {key: warning args}}`: warnings for renamed
            // keys only, which a served model never reads.
            Node::Dict(d) => d.iter().all(|&(k, v)| {
                // A Python 2 pickle names attributes with byte strings.
                let key: &[u8] = match self.node(k) {
                    Node::Str(s) => s.as_bytes(),
                    Node::Py2Str(b) => b,
                    _ => return false,
                };
                match key {
                    b"_deprecated_key_to_warnings" => {
                        matches!(self.node(v), Node::Dict(w) if w.is_empty())
                    }
                    b"_deprecations" => matches!(self.node(v), Node::Dict(_)),
                    _ => false,
                }
            }),
            _ => false,
        }
    }

    /// Default `__setstate__`: a dict, or `(dict_or_None, slotstate_dict)`;
    /// the two are merged into one dict (later keys win).
    fn build_object(&mut self, target: Id, state: Id) -> Result<(), PickleError> {
        let mut new_state = state;
        if let Node::Tuple(parts) = self.node(state)
            && let [a, b] = parts.as_slice()
        {
            let is_dict_or_none = |id: Id| matches!(self.node(id), Node::Dict(_) | Node::None);
            if is_dict_or_none(*a) && is_dict_or_none(*b) {
                new_state = self.merge_states(*a, *b)?;
            }
        }
        let old = match self.node(target) {
            Node::Object(o) => o.state,
            _ => None,
        };
        if let Some(old) = old
            && matches!(self.node(old), Node::Dict(_))
            && matches!(self.node(new_state), Node::Dict(_))
        {
            new_state = self.merge_states(old, new_state)?;
        }
        if let Node::Object(o) = self.arena.get_mut(target) {
            o.state = Some(new_state);
        }
        Ok(())
    }

    /// A new dict holding `a`'s then `b`'s items (either may be `None`).
    fn merge_states(&mut self, a: Id, b: Id) -> Result<Id, PickleError> {
        match (self.node(a), self.node(b)) {
            (Node::None, _) => Ok(b),
            (_, Node::None) => Ok(a),
            (Node::Dict(x), Node::Dict(y)) => {
                self.charge(x.len() + y.len())?;
                self.room(8 * (x.len() + y.len()))?;
                let merged = x.iter().chain(y).copied().collect();
                self.new_node(Node::Dict(merged))
            }
            _ => Ok(b),
        }
    }

    /// `ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))`.
    fn build_ndarray(&mut self, target: Id, state: Id) -> Result<(), PickleError> {
        let parts = self.tuple_of(state)?;
        let (shape, dtype, fortran, raw) = match parts.as_slice() {
            [_, s, d, f, r] | [s, d, f, r] => (*s, *d, *f, *r),
            _ => return Err(self.np_err("ndarray state must have 4 or 5 items")),
        };
        let shape = self.shape_of(shape)?;
        let dtype = self.dtype_of(dtype)?;
        let fortran_order = self
            .int_of(fortran)
            .ok_or_else(|| self.np_err("ndarray is_fortran flag is not a bool"))?
            != 0;
        let node = if dtype.kind == 'O' {
            let count = numpy::element_count(&shape, self.policy.limits(), self.op_pos)?;
            let items = match self.node(raw) {
                Node::List(items) => {
                    self.charge(items.len())?;
                    self.room(items.len() * 4)?;
                    items.clone()
                }
                other => {
                    let what = describe(other);
                    return Err(self.np_err(format!("object array data is a {what}, not a list")));
                }
            };
            if items.len() != count {
                return Err(self.np_err(format!(
                    "object array of shape {shape:?} has {} elements",
                    items.len()
                )));
            }
            // numpy lists object arrays in C order whatever their layout.
            Node::ObjectArray(Box::new(ObjectArray {
                dtype,
                shape,
                items,
            }))
        } else {
            let raw = self.raw_bytes_of(raw)?;
            self.array_node(dtype, shape, fortran_order, &raw)?
        };
        self.replace_node(target, node)
    }

    /// `dtype.__setstate__(state)`: byte order and flexible element size,
    /// and for a structured dtype (`names` and `fields` given) its fields
    /// (see [`numpy::record_layout`]). Sub-array dtypes are refused.
    fn build_dtype(&mut self, target: Id, state: Id) -> Result<(), PickleError> {
        let parts = self.tuple_of(state)?;
        // (endian, subarray, names-or-None, fields, elsize) positions by
        // state version, as numpy's arraydescr_setstate reads them.
        let (endian, sub, names, fields, elsize): (Id, Id, Option<Id>, Id, Id) =
            match parts.as_slice() {
                [_, e, sub, names, fields, el, _]
                | [_, e, sub, names, fields, el, _, _]
                | [_, e, sub, names, fields, el, _, _, _] => (*e, *sub, Some(*names), *fields, *el),
                [_, e, sub, fields, el, _] => (*e, *sub, None, *fields, *el),
                [e, sub, fields, el, _] => (*e, *sub, None, *fields, *el),
                _ => return Err(self.np_err("unsupported dtype state")),
            };
        let endian = self
            .str_of(endian)
            .ok_or_else(|| self.np_err("dtype byte order is not a str"))?
            .to_owned();
        let is_none = |id: Id| matches!(self.node(id), Node::None);
        if !is_none(sub) {
            return Err(self.unsupported("sub-array numpy dtypes"));
        }
        let record = match names {
            Some(names) if !is_none(names) || !is_none(fields) => {
                Some(self.record_fields(names, fields)?)
            }
            None if !is_none(fields) => {
                return Err(
                    self.unsupported("structured numpy dtypes of the pre-1.7 pickle format")
                );
            }
            _ => None,
        };
        let elsize = self
            .int_of(elsize)
            .ok_or_else(|| self.np_err("dtype element size is not an int"))?;
        let op_pos = self.op_pos;
        if let Node::Dtype(d) = self.arena.get_mut(target) {
            match record {
                Some(fields) => numpy::record_layout(d, fields, elsize, op_pos)?,
                None => numpy::apply_dtype_state(d, &endian, false, elsize, op_pos)?,
            }
        }
        Ok(())
    }

    /// The fields of a structured dtype state: the `names` tuple and the
    /// `fields` dict `{name: (dtype, offset)}`, in `names` order. Titles
    /// (a third item) are refused; shapes are checked by
    /// [`numpy::record_layout`].
    fn record_fields(
        &self,
        names: Id,
        fields: Id,
    ) -> Result<Vec<crate::value::Field>, PickleError> {
        let names = match self.node(names) {
            Node::Tuple(v) => v,
            other => {
                let what = describe(other);
                return Err(
                    self.np_err(format!("structured dtype names are a {what}, not a tuple"))
                );
            }
        };
        let Node::Dict(pairs) = self.node(fields) else {
            return Err(self.np_err("structured dtype fields are not a dict"));
        };
        if names.len() > numpy::MAX_RECORD_FIELDS || pairs.len() != names.len() {
            return Err(self.np_err(format!(
                "structured dtype has {} names and {} fields (at most {} supported)",
                names.len(),
                pairs.len(),
                numpy::MAX_RECORD_FIELDS
            )));
        }
        self.charge(names.len() * pairs.len())?;
        let mut out = Vec::with_capacity(names.len());
        for &n in names {
            let name = self
                .str_of(n)
                .ok_or_else(|| self.np_err("structured dtype field name is not a str"))?;
            let value = pairs
                .iter()
                .find(|&&(k, _)| self.str_of(k) == Some(name))
                .map(|&(_, v)| v)
                .ok_or_else(|| {
                    self.np_err(format!(
                        "structured dtype field {name:?} has no entry in fields"
                    ))
                })?;
            let (dtype, offset) = match self.node(value) {
                Node::Tuple(t) if t.len() == 2 => (t[0], t[1]),
                Node::Tuple(t) if t.len() == 3 => {
                    return Err(self.unsupported("structured numpy dtypes with field titles"));
                }
                _ => {
                    return Err(self.np_err(format!(
                        "structured dtype field {name:?} is not a (dtype, offset) tuple"
                    )));
                }
            };
            let dtype = self.dtype_of(dtype)?;
            let offset = self
                .int_of(offset)
                .and_then(|o| usize::try_from(o).ok())
                .ok_or_else(|| {
                    self.np_err(format!("structured dtype field {name:?} has a bad offset"))
                })?;
            out.push(crate::value::Field {
                name: name.to_owned(),
                dtype,
                offset,
            });
        }
        Ok(out)
    }

    /// joblib's `NumpyUnpickler.load_build` for a `NumpyArrayWrapper`: the
    /// array data follows the `BUILD` opcode in the stream — raw bytes after
    /// an optional alignment padding, or, for object arrays, a complete
    /// inner pickle. The wrapper node becomes the array.
    fn build_wrapper(&mut self, target: Id, state: Id) -> Result<(), PickleError> {
        if !matches!(self.node(state), Node::Dict(_)) {
            return Err(self.err("NumpyArrayWrapper state is not a dict"));
        }
        let field = |vm: &Self, key: &str| {
            vm.dict_get(state, key)?
                .ok_or_else(|| vm.np_err(format!("NumpyArrayWrapper state lacks {key:?}")))
        };
        let shape = self.shape_of(field(self, "shape")?)?;
        let dtype = self.dtype_of(field(self, "dtype")?)?;
        let fortran_order = match self.str_of(field(self, "order")?) {
            Some("F") => true,
            Some("C") => false,
            _ => return Err(self.np_err("NumpyArrayWrapper order must be 'C' or 'F'")),
        };
        // joblib <= 1.1 wrote no alignment field (and no padding byte).
        let aligned = self
            .dict_get(state, "numpy_array_alignment_bytes")?
            .is_some_and(|a| !matches!(self.node(a), Node::None));
        let count = self.checked_count(&dtype, &shape)?;
        let node = if dtype.kind == 'O' {
            let inner = self.run_nested()?;
            Node::Alias(inner)
        } else {
            if aligned {
                let pad = self.u8("joblib array padding length")?;
                self.take(usize::from(pad), "joblib array padding")?;
            }
            let len = numpy::byte_len(&dtype, count, self.op_pos)?;
            let raw = self.take(len, "joblib array data")?;
            let data = numpy::decode_array(&dtype, count, raw, self.op_pos)?;
            Node::Array(Box::new(Array {
                dtype,
                shape,
                fortran_order,
                data,
            }))
        };
        self.replace_node(target, node)
    }

    /// Runs the inner pickle joblib writes for an object array, with its own
    /// stack and memo, continuing in the same stream.
    fn run_nested(&mut self) -> Result<Id, PickleError> {
        let stack = std::mem::take(&mut self.stack);
        let marks = std::mem::take(&mut self.marks);
        let memo = std::mem::take(&mut self.memo);
        let op_pos = self.op_pos;
        // The outer stack and memo stay allocated (and charged): the inner
        // ones are charged from zero.
        let transient = std::mem::replace(&mut self.transient_charged, 0);
        self.nested = true;
        let result = self.run();
        self.nested = false;
        self.transient_charged = transient;
        self.stack = stack;
        self.marks = marks;
        self.memo = memo;
        self.op_pos = op_pos;
        result
    }
}

fn latin1_encode(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
