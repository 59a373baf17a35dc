//! The term → column map of a fitted `CountVectorizer`/`TfidfVectorizer`.
//!
//! A demo-sized model has a few hundred thousand terms. A
//! `HashMap<String, u32>` would spend a heap allocation and ~50 bytes of
//! overhead per term, so terms live back to back in one byte arena and a
//! `hashbrown::HashTable` stores only column numbers.
//!
//! Word n-gram vocabularies get a second, faster representation when it is
//! exact ("pair mode"): an n-gram column is keyed by the pair (column of its
//! first n-1 tokens, column of its last token), so the hot path looks up two
//! integers instead of building, hashing and comparing the joined string.
//! It is only used when every n-gram term decomposes that way (checked here)
//! and the token pattern cannot produce tokens containing a space (checked
//! by the caller) — then a document's n-gram string equals a term exactly
//! when their token columns do. It also saves the n-gram strings' memory.
//! An entry packs its three columns in 8 bytes, so pair mode serves
//! vocabularies of up to 2^21 features; larger ones keep strings.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

use crate::error::{EngineError, Result};

/// Seeded per table from a per-process random seed: with a fixed seed a
/// hostile `vocabulary_` could be made of colliding terms, turning every
/// insert into a scan of one probe chain and the load quadratic.
type Hasher = foldhash::fast::RandomState;

pub(crate) struct Vocab {
    /// UTF-8 bytes of every term stored as a string, in column order.
    arena: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is column `i`'s term in `arena` (an
    /// empty range for n-gram columns held in `ngrams`).
    offsets: Vec<u32>,
    /// Columns stored as strings (see [`Slot`]).
    table: HashTable<Slot>,
    hasher: Hasher,
    /// Pair-mode n-grams, when the vocabulary allows it.
    ngrams: Option<Ngrams>,
}

struct Ngrams {
    /// `(prefix column, last-token column, n-gram column)`, packed in one
    /// `u64` (see [`Pair`]).
    table: HashTable<u64>,
    /// Column → (prefix, last), built on first use by `term` (explanations
    /// and inspection only), so serving never pays for it.
    reverse: OnceLock<HashMap<u32, (u32, u32)>>,
}

/// A string-stored column in the lookup table, with its term's [`key`]:
/// a term of up to 7 bytes is compared from the slot itself, without
/// touching `arena` — one fewer cache miss for the short, frequent words
/// that make up most of a text's tokens. A longer term's key holds its
/// place in `arena`, so comparing it costs one miss, not two (`offsets`,
/// then `arena`).
///
/// Stored as three `u32`s so a slot is 12 bytes, not 16.
#[derive(Clone, Copy)]
struct Slot {
    col: u32,
    key: [u32; 2],
}

impl Slot {
    fn new(col: u32, key: u64) -> Self {
        Slot {
            col,
            key: [key as u32, (key >> 32) as u32],
        }
    }

    #[inline]
    fn key(&self) -> u64 {
        self.key[0] as u64 | (self.key[1] as u64) << 32
    }
}

/// Marks the key of a term longer than [`SHORT`] bytes.
const LONG: u64 = 0xFF << 56;
/// Longest term whose bytes fit in its key.
const SHORT: usize = 7;
/// Longest term a vocabulary may hold: a long key has 24 bits for the
/// length.
const MAX_TERM: usize = (1 << 24) - 1;

/// The key of a term: its bytes and length packed into a `u64` when it has
/// at most [`SHORT`] bytes (the top byte holds the length, so it is
/// unique), otherwise [`LONG`] plus the length in bits 32–55 (the bytes are
/// then compared in the arena; a stored long key also holds the term's
/// arena offset in its low 32 bits, see [`long_key_at`]).
#[inline]
fn key(b: &[u8]) -> u64 {
    let n = b.len();
    if n > SHORT {
        return LONG | ((n & MAX_TERM) as u64) << 32;
    }
    // Two overlapping loads cover every length without a byte loop.
    let w = if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | hi << ((n - 4) * 8)
    } else if n > 0 {
        b[0] as u64 | (b[n / 2] as u64) << (n / 2 * 8) | (b[n - 1] as u64) << ((n - 1) * 8)
    } else {
        0
    };
    w | (n as u64) << 56
}

/// A long term's key as stored: [`key`] plus its offset in the arena.
fn long_key_at(k: u64, offset: u32) -> u64 {
    k | offset as u64
}

/// Hash of a term with key `k`: short terms hash their key (one
/// multiply), long ones their bytes.
#[inline]
fn term_hash(h: &Hasher, k: u64, b: &[u8]) -> u64 {
    if k & LONG == LONG {
        h.hash_one(b)
    } else {
        h.hash_one(k)
    }
}

fn pair_hash(h: &Hasher, prefix: u32, last: u32) -> u64 {
    h.hash_one(Pair::key(prefix, last))
}

/// Packing of a pair-mode n-gram entry: prefix column, last-token column
/// and n-gram column, [`PAIR_BITS`] bits each, in one `u64` — 8 bytes an
/// entry where three `u32`s take 12, so more of the (megabytes-large)
/// table stays in cache.
struct Pair;

/// Bits of each column in a pair entry: pair mode serves vocabularies of
/// up to 2^21 (two million) features; larger ones keep their n-grams as
/// strings.
const PAIR_BITS: u32 = 21;
const PAIR_MASK: u64 = (1 << PAIR_BITS) - 1;
/// The prefix and last-token fields of an entry.
const PAIR_KEY_MASK: u64 = (1 << (2 * PAIR_BITS)) - 1;

impl Pair {
    #[inline]
    fn key(prefix: u32, last: u32) -> u64 {
        prefix as u64 | (last as u64) << PAIR_BITS
    }

    #[inline]
    fn entry(prefix: u32, last: u32, col: u32) -> u64 {
        Self::key(prefix, last) | (col as u64) << (2 * PAIR_BITS)
    }

    #[inline]
    fn col(e: u64) -> u32 {
        (e >> (2 * PAIR_BITS)) as u32
    }

    fn prefix(e: u64) -> u32 {
        (e & PAIR_MASK) as u32
    }

    fn last(e: u64) -> u32 {
        (e >> PAIR_BITS & PAIR_MASK) as u32
    }
}

impl Vocab {
    /// Builds the map from `(term, column)` pairs, which must cover the
    /// columns `0..n` exactly once, as scikit-learn's `vocabulary_` does.
    /// With `try_pairs`, n-gram terms are stored in pair mode if every one
    /// of them decomposes into known columns.
    pub(crate) fn new(mut pairs: Vec<(&str, i64)>, try_pairs: bool) -> Result<Self> {
        let n = pairs.len();
        if n > u32::MAX as usize / 2 {
            return Err(EngineError::unsupported("vocabulary_ is too large"));
        }
        let try_pairs = try_pairs && n <= 1 << PAIR_BITS;
        pairs.sort_unstable_by_key(|&(_, col)| col);
        for (i, (term, col)) in pairs.iter().enumerate() {
            if *col != i as i64 {
                return Err(EngineError::unsupported(format!(
                    "vocabulary_ columns must be 0..{n} each used once; column {col} for {term:?} breaks that"
                )));
            }
        }
        let terms: Vec<&str> = pairs.into_iter().map(|(t, _)| t).collect();
        if try_pairs && let Some(v) = Self::build(&terms, true)? {
            return Ok(v);
        }
        Ok(Self::build(&terms, false)?.expect("string mode always builds"))
    }

    /// Builds in string mode, or in pair mode (`None` if some n-gram term
    /// does not decompose).
    fn build(terms: &[&str], pair_mode: bool) -> Result<Option<Self>> {
        let n = terms.len();
        let is_ngram = |t: &str| pair_mode && t.contains(' ');
        let total: usize = terms.iter().filter(|t| !is_ngram(t)).map(|t| t.len()).sum();
        if total > u32::MAX as usize {
            return Err(EngineError::unsupported("vocabulary_ terms exceed 4 GiB"));
        }
        if let Some(t) = terms.iter().find(|t| t.len() > MAX_TERM) {
            return Err(EngineError::unsupported(format!(
                "vocabulary_ has a term of {} bytes; at most {MAX_TERM} are supported",
                t.len()
            )));
        }
        let mut arena = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for t in terms {
            if !is_ngram(t) {
                arena.extend_from_slice(t.as_bytes());
            }
            offsets.push(arena.len() as u32);
        }
        let hasher = Hasher::default();
        let bytes_of =
            |c: u32| &arena[offsets[c as usize] as usize..offsets[c as usize + 1] as usize];
        let string_cols = (0..n as u32).filter(|&c| !is_ngram(terms[c as usize]));
        let mut table = HashTable::with_capacity(string_cols.clone().count());
        let rehash = |s: &Slot| term_hash(&hasher, s.key(), bytes_of(s.col));
        for col in string_cols {
            let b = bytes_of(col);
            let k = key(b);
            let stored = if k & LONG == LONG {
                long_key_at(k, offsets[col as usize])
            } else {
                k
            };
            // A pickled dict can repeat a key (Python would keep the last
            // one and leave a column without a term): refused, not served
            // with one of the two columns picked arbitrarily.
            let same = |s: &Slot| {
                let sk = s.key();
                if k & LONG != LONG {
                    return sk == k;
                }
                sk >> 32 == k >> 32 && bytes_of(s.col) == b
            };
            match table.entry(term_hash(&hasher, k, b), same, rehash) {
                hashbrown::hash_table::Entry::Occupied(o) => {
                    return Err(EngineError::unsupported(format!(
                        "vocabulary_ has the term {:?} twice (columns {} and {col})",
                        String::from_utf8_lossy(b),
                        o.get().col
                    )));
                }
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(Slot::new(col, stored));
                }
            }
        }
        let mut vocab = Vocab {
            arena,
            offsets,
            table,
            hasher,
            ngrams: None,
        };
        if !pair_mode {
            return Ok(Some(vocab));
        }
        // N-grams by token count, so every prefix is registered before the
        // longer n-grams that extend it.
        let mut grams: Vec<(usize, u32)> = (0..n as u32)
            .filter(|&c| is_ngram(terms[c as usize]))
            .map(|c| (terms[c as usize].matches(' ').count(), c))
            .collect();
        grams.sort_unstable();
        let mut ng = Ngrams {
            table: HashTable::with_capacity(grams.len()),
            reverse: OnceLock::new(),
        };
        for (_, col) in grams {
            let term = terms[col as usize];
            let split = term.rfind(' ').expect("n-gram terms contain a space");
            let (prefix, last) = (&term[..split], &term[split + 1..]);
            let Some(last_col) = vocab.get_string(last) else {
                return Ok(None);
            };
            let prefix_col = if prefix.contains(' ') {
                lookup_ngram_str(&vocab, &ng, prefix)
            } else {
                vocab.get_string(prefix)
            };
            let Some(prefix_col) = prefix_col else {
                return Ok(None);
            };
            let h = &vocab.hasher;
            let hash = pair_hash(h, prefix_col, last_col);
            let key = Pair::key(prefix_col, last_col);
            if ng.table.find(hash, |&e| e & PAIR_KEY_MASK == key).is_some() {
                return Ok(None); // two terms for one token sequence: not decomposable
            }
            ng.table
                .insert_unique(hash, Pair::entry(prefix_col, last_col, col), |&e| {
                    pair_hash(h, Pair::prefix(e), Pair::last(e))
                });
        }
        vocab.ngrams = Some(ng);
        Ok(Some(vocab))
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether n-grams are stored as column pairs (see the module docs).
    pub(crate) fn pair_mode(&self) -> bool {
        self.ngrams.is_some()
    }

    fn term_bytes(&self, col: u32) -> &[u8] {
        &self.arena[self.offsets[col as usize] as usize..self.offsets[col as usize + 1] as usize]
    }

    /// Looks `term` up among the string-stored columns.
    #[inline]
    fn get_string(&self, term: &str) -> Option<u32> {
        let bytes = term.as_bytes();
        let k = key(bytes);
        let hash = term_hash(&self.hasher, k, bytes);
        self.table
            .find(hash, |s| {
                let sk = s.key();
                if k & LONG != LONG {
                    return sk == k;
                }
                // Same length (and long): compare the bytes at the offset.
                sk >> 32 == k >> 32 && {
                    let at = sk as u32 as usize;
                    self.arena.get(at..at + bytes.len()) == Some(bytes)
                }
            })
            .map(|s| s.col)
    }

    /// The column of a single token (a string without a space, as pair mode
    /// guarantees): skips the n-gram check `get` does.
    #[inline]
    pub(crate) fn get_token(&self, token: &str) -> Option<u32> {
        self.get_string(token)
    }

    /// The column of `term`, if it is in the vocabulary.
    #[inline]
    pub(crate) fn get(&self, term: &str) -> Option<u32> {
        match &self.ngrams {
            Some(ng) if term.contains(' ') => lookup_ngram_str(self, ng, term),
            _ => self.get_string(term),
        }
    }

    /// Pair mode: the column of the n-gram made of the n-gram or token at
    /// column `prefix` followed by the token at column `last`.
    #[inline]
    pub(crate) fn get_pair(&self, prefix: u32, last: u32) -> Option<u32> {
        let ng = self.ngrams.as_ref()?;
        let key = Pair::key(prefix, last);
        ng.table
            .find(self.hasher.hash_one(key), |&e| e & PAIR_KEY_MASK == key)
            .map(|&e| Pair::col(e))
    }

    /// The term of column `col` (for explanations and inspection).
    pub(crate) fn term(&self, col: u32) -> String {
        if let Some(ng) = &self.ngrams {
            let reverse = ng.reverse.get_or_init(|| {
                ng.table
                    .iter()
                    .map(|&e| (Pair::col(e), (Pair::prefix(e), Pair::last(e))))
                    .collect()
            });
            if reverse.contains_key(&col) {
                // Walk the prefixes down to the first token (a loop, not
                // recursion: an n-gram term may have a million words).
                let mut lasts = Vec::new();
                let mut c = col;
                while let Some(&(p, l)) = reverse.get(&c) {
                    lasts.push(l);
                    c = p;
                    if lasts.len() > self.len() {
                        break; // cannot happen: prefixes are shorter n-grams
                    }
                }
                let mut out = String::from_utf8_lossy(self.term_bytes(c)).into_owned();
                for &l in lasts.iter().rev() {
                    out.push(' ');
                    out.push_str(&String::from_utf8_lossy(self.term_bytes(l)));
                }
                return out;
            }
        }
        // The arena only ever receives whole `&str`s, cut at their bounds.
        String::from_utf8_lossy(self.term_bytes(col)).into_owned()
    }

    /// Heap bytes held, for `model inspect`.
    pub(crate) fn heap_bytes(&self) -> usize {
        let ctrl = |cap: usize, entry: usize| cap * (entry + 1);
        self.arena.capacity()
            + self.offsets.capacity() * 4
            + ctrl(self.table.capacity(), std::mem::size_of::<Slot>())
            + self
                .ngrams
                .as_ref()
                .map_or(0, |ng| ctrl(ng.table.capacity(), 8))
    }
}

/// Resolves an n-gram string (one with a space) in pair mode: its first
/// token's column, extended one token at a time through the pair table.
///
/// A loop, not recursion on the prefix: a `vocabulary_` term can hold a
/// million space-separated words, and one stack frame per word overflowed
/// the stack and aborted the process.
fn lookup_ngram_str(v: &Vocab, ng: &Ngrams, term: &str) -> Option<u32> {
    let mut words = term.split(' ');
    let mut col = v.get_string(words.next()?)?;
    let mut extended = false;
    for word in words {
        let last = v.get_string(word)?;
        let key = Pair::key(col, last);
        col = ng
            .table
            .find(v.hasher.hash_one(key), |&e| e & PAIR_KEY_MASK == key)
            .map(|&e| Pair::col(e))?;
        extended = true;
    }
    // A term without a space is not an n-gram (the callers never pass one).
    extended.then_some(col)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn terms() -> Vec<(&'static str, i64)> {
        vec![("b", 1), ("a", 0), ("a b", 2), ("a b a", 3), ("b b", 4)]
    }

    #[test]
    fn string_mode_maps_both_ways() {
        let v = Vocab::new(terms(), false).unwrap();
        assert!(!v.pair_mode());
        assert_eq!(v.get("a"), Some(0));
        assert_eq!(v.get("a b a"), Some(3));
        assert_eq!(v.get("c"), None);
        assert_eq!(v.term(2), "a b");
        assert_eq!(v.len(), 5);
    }

    #[test]
    fn pair_mode_agrees_with_string_mode() {
        let v = Vocab::new(terms(), true).unwrap();
        assert!(v.pair_mode());
        assert_eq!(v.get_pair(0, 1), Some(2));
        assert_eq!(v.get_pair(2, 0), Some(3));
        assert_eq!(v.get_pair(1, 1), Some(4));
        assert_eq!(v.get_pair(1, 0), None);
        assert_eq!(v.get("a b a"), Some(3));
        assert_eq!(v.term(3), "a b a");
        assert_eq!(v.term(1), "b");
    }

    #[test]
    fn undecomposable_ngrams_fall_back_to_strings() {
        // "c" is not a term, so "a c" cannot be a pair.
        let v = Vocab::new(vec![("a", 0), ("a c", 1)], true).unwrap();
        assert!(!v.pair_mode());
        assert_eq!(v.get("a c"), Some(1));
    }

    #[test]
    fn keys_pack_short_terms_uniquely() {
        let terms: [&[u8]; 10] = [
            b"", b"a", b"a\0", b"ab", b"abc", b"abcd", b"abcde", b"abcdef", b"abcdefg", b"b",
        ];
        let keys: HashSet<u64> = terms.iter().map(|t| key(t)).collect();
        assert_eq!(keys.len(), terms.len());
        assert_eq!(key(b"abcdefg"), u64::from_le_bytes(*b"abcdefg\x07"));
        assert_eq!(key(b"abcdefgh"), LONG | 8 << 32);
        let v = Vocab::new(
            vec![("abcdefgh", 0), ("abcdefgi", 1), ("x", 2), ("xy", 3)],
            false,
        )
        .unwrap();
        assert_eq!(v.get("abcdefgi"), Some(1));
        assert_eq!(v.get("xy"), Some(3));
        assert_eq!(v.get("abcdefgj"), None);
        assert_eq!(v.get("y"), None);
    }

    #[test]
    fn long_terms_compare_their_own_bytes() {
        // Same length, same hash bucket or not: only the exact bytes match,
        // and a token never matches a prefix of a longer term.
        let v = Vocab::new(
            vec![("abcdefghij", 0), ("abcdefghik", 1), ("abcdefgh", 2)],
            false,
        )
        .unwrap();
        assert_eq!(v.get("abcdefghik"), Some(1));
        assert_eq!(v.get("abcdefghij"), Some(0));
        assert_eq!(v.get("abcdefghi"), None);
        assert_eq!(v.get("abcdefgh"), Some(2));
        let huge = "x".repeat(MAX_TERM + 1);
        let err = Vocab::new(vec![(huge.as_str(), 0)], false).err().unwrap();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn long_ngram_queries_and_terms_are_not_recursive() {
        // A million-word query: the recursive lookup took one stack frame
        // per word and overflowed the stack.
        let v = Vocab::new(vec![("a", 0), ("a a", 1), ("a a a", 2)], true).unwrap();
        assert!(v.pair_mode());
        let words = vec!["a"; 1_000_000].join(" ");
        assert_eq!(v.get(&words), None);
        assert_eq!(v.get("a a a"), Some(2));
        assert_eq!(v.term(2), "a a a");
        // Building from a million-word term whose prefixes are unknown
        // falls back to string mode, again without recursing.
        let v = Vocab::new(vec![("a", 0), (words.as_str(), 1)], true).unwrap();
        assert!(!v.pair_mode());
        assert_eq!(v.get(&words), Some(1));
    }

    #[test]
    fn refuses_duplicate_terms() {
        let err = Vocab::new(vec![("a", 0), ("b", 1), ("a", 2)], false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("\"a\" twice"), "{err}");
    }

    #[test]
    fn refuses_gaps_and_duplicates() {
        assert!(Vocab::new(vec![("a", 0), ("b", 2)], false).is_err());
        assert!(Vocab::new(vec![("a", 0), ("b", 0)], false).is_err());
    }
}
