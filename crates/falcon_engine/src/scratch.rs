//! Per-thread working buffers for `transform`.
//!
//! Featurising one e-mail needs a lowercased copy of the text and a few
//! arrays of column numbers, all sized by the text. Allocating them afresh
//! on every call costs allocator work, and for long texts (above glibc's
//! mmap threshold) fresh zeroed pages and their page faults, every time.
//! Each thread keeps one set instead, cleared between calls. Buffers that a
//! rare huge text grew beyond [`RETAIN_BYTES`] are released after the call,
//! so a server's idle threads hold only a few kilobytes each.

use std::cell::RefCell;

use crate::sparse::ColumnCounter;

/// Largest buffer (in bytes) kept for the next call: enough for texts of
/// tens of kilobytes (the column counter's table may keep four times
/// this, see [`ColumnCounter::trim`]), while a server's threads (workers
/// plus blocking pool) together keep a few MB of scratch at most.
const RETAIN_BYTES: usize = 64 << 10;

/// The reusable buffers. Contents are meaningless between calls.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The preprocessed (lowercased) text.
    pub(crate) text: String,
    /// Columns of a document's features (repeated, in no useful order).
    pub(crate) cols: Vec<u32>,
    /// Each token's unigram column, in text order.
    pub(crate) uni: Vec<u32>,
    /// Turns `cols` into distinct sorted columns with counts.
    pub(crate) counter: ColumnCounter,
}

impl Scratch {
    /// Drops buffers that grew too large to keep around.
    fn trim(&mut self) {
        if self.text.capacity() > RETAIN_BYTES {
            self.text = String::new();
        }
        for v in [&mut self.cols, &mut self.uni] {
            if v.capacity() * 4 > RETAIN_BYTES {
                *v = Vec::new();
            }
        }
        self.counter.trim(RETAIN_BYTES);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers. A nested call (a
/// `FeatureUnion` part featurising while its parent holds the buffers)
/// gets a fresh set rather than the busy one.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let r = f(&mut s);
            s.trim();
            r
        }
        Err(_) => f(&mut Scratch::default()),
    })
}
