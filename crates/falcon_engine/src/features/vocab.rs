//! The term → column map of a fitted `CountVectorizer`/`TfidfVectorizer`.
//!
//! A demo-sized model has a few hundred thousand terms. A
//! `HashMap<String, u32>` would spend a heap allocation and ~50 bytes of
//! overhead per term, so the terms live back to back in one byte arena,
//! ordered by column, and a `hashbrown::HashTable` stores only the column
//! numbers. The same arena answers the reverse question (column → term) that
//! `--explain` needs, at no extra cost.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::error::{EngineError, Result};

type Hasher = foldhash::fast::FixedState;

pub(crate) struct Vocab {
    /// All terms' UTF-8 bytes, in column order.
    arena: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is column `i`'s term in `arena`.
    offsets: Vec<u32>,
    /// Column numbers, hashed and compared by their term's bytes.
    table: HashTable<u32>,
    hasher: Hasher,
}

impl Vocab {
    /// Builds the map from `(term, column)` pairs, which must cover the
    /// columns `0..n` exactly once, as scikit-learn's `vocabulary_` does.
    pub(crate) fn new(mut pairs: Vec<(&str, i64)>) -> Result<Self> {
        let n = pairs.len();
        if n > u32::MAX as usize / 2 {
            return Err(EngineError::unsupported("vocabulary_ is too large"));
        }
        pairs.sort_unstable_by_key(|&(_, col)| col);
        let total: usize = pairs.iter().map(|(t, _)| t.len()).sum();
        if total > u32::MAX as usize {
            return Err(EngineError::unsupported("vocabulary_ terms exceed 4 GiB"));
        }
        let mut arena = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for (i, (term, col)) in pairs.iter().enumerate() {
            if *col != i as i64 {
                return Err(EngineError::unsupported(format!(
                    "vocabulary_ columns must be 0..{n} each used once; column {col} for {term:?} breaks that"
                )));
            }
            arena.extend_from_slice(term.as_bytes());
            offsets.push(arena.len() as u32);
        }
        let mut vocab = Vocab {
            arena,
            offsets,
            table: HashTable::with_capacity(n),
            hasher: Hasher::default(),
        };
        for col in 0..n as u32 {
            let term = vocab.term_bytes(col);
            let hash = vocab.hasher.hash_one(term);
            let (arena, offsets) = (&vocab.arena, &vocab.offsets);
            let bytes_of =
                |c: u32| &arena[offsets[c as usize] as usize..offsets[c as usize + 1] as usize];
            vocab
                .table
                .insert_unique(hash, col, |&c| Hasher::default().hash_one(bytes_of(c)));
        }
        Ok(vocab)
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn term_bytes(&self, col: u32) -> &[u8] {
        &self.arena[self.offsets[col as usize] as usize..self.offsets[col as usize + 1] as usize]
    }

    /// The term of column `col` (for explanations and inspection).
    pub(crate) fn term(&self, col: u32) -> &str {
        // The arena only ever receives whole `&str`s, cut at their bounds.
        std::str::from_utf8(self.term_bytes(col)).unwrap_or("")
    }

    /// The column of `term`, if it is in the vocabulary.
    #[inline]
    pub(crate) fn get(&self, term: &str) -> Option<u32> {
        let bytes = term.as_bytes();
        let hash = self.hasher.hash_one(bytes);
        self.table
            .find(hash, |&c| self.term_bytes(c) == bytes)
            .copied()
    }

    /// Heap bytes held, for `model inspect`.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.offsets.capacity() * 4
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        let v = Vocab::new(vec![("b", 1), ("a", 0), ("free money", 2)]).unwrap();
        assert_eq!(v.get("a"), Some(0));
        assert_eq!(v.get("free money"), Some(2));
        assert_eq!(v.get("c"), None);
        assert_eq!(v.term(2), "free money");
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn refuses_gaps_and_duplicates() {
        assert!(Vocab::new(vec![("a", 0), ("b", 2)]).is_err());
        assert!(Vocab::new(vec![("a", 0), ("b", 0)]).is_err());
    }
}
