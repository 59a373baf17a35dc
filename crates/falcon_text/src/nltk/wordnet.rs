//! NLTK 3.10.4's `WordNetLemmatizer().lemmatize(word, pos)`, reading WordNet from the user's
//! own `nltk_data` directory (never downloading it).
//!
//! Sources followed: `nltk/stem/wordnet.py` (`WordNetLemmatizer.lemmatize`) and
//! `nltk/corpus/reader/wordnet.py` (`WordNetCorpusReader._load_lemma_pos_offset_map`,
//! `_load_exception_map`, `MORPHOLOGICAL_SUBSTITUTIONS`, `_morphy`). What NLTK computes:
//!
//! ```python
//! def lemmatize(self, word, pos="n"):
//!     lemmas = wn._morphy(word, pos)             # no lower-casing anywhere
//!     return min(lemmas, key=len) if lemmas else word
//!
//! def _morphy(self, form, pos):
//!     if form in self._exception_map[pos]:       # "s" shares "a"'s adj.exc
//!         forms = self._exception_map[pos][form] # the rules are then NOT applied
//!     else:                                      # each suffix rule once, in table order
//!         forms = [form[:-len(old)] + new for old, new in SUBSTITUTIONS[pos] if form.endswith(old)]
//!     # keep, in order and once each, the forms that are lemmas of `pos`; the word itself first
//!     return [f for f in unique([form] + forms) if f in index and pos in index[f]]
//! ```
//!
//! So the answer is the first *shortest* (in code points, Python's `len`) of the word and its
//! candidates that WordNet lists for that part of speech, or the word unchanged. The word is
//! never lower-cased (`"Geese"` stays `"Geese"`), and nothing maps spaces to the underscores
//! WordNet writes multi-word lemmas with (`"hot_dogs"` → `"hot_dog"`, `"hot dogs"` unchanged).
//! Adjective satellites (`pos="s"`) use the adjective lemmas and `adj.exc`: NLTK's reader gives
//! every `index.adj` lemma an `"s"` entry (a possibly empty list of satellite synsets), and
//! `_morphy` only tests that the entry exists.
//!
//! Only what `lemmatize` depends on is read: the lemma and part-of-speech columns of
//! `index.{adj,adv,noun,verb}` (each line fully validated as NLTK validates it, so a file NLTK
//! refuses is refused here too; the one file refused here that NLTK reads writes a count or
//! offset with non-ASCII digits, which Python's `int()` accepts) and the four `*.exc` exception
//! lists. NLTK additionally needs
//! `lexnames`, `data.adj` and `index.sense` to construct its reader; a directory lacking them
//! loads here but not in NLTK, which never changes an answer NLTK does give.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::is_line_boundary;
use crate::{is_digit, py_split_whitespace};

/// Largest WordNet file accepted, in bytes. WordNet 3.0's largest file read here
/// (`index.noun`) is 4.8 MB; the limit bounds memory and time on a hostile directory.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// A WordNet part of speech, as NLTK's `pos` argument spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pos {
    /// `"n"`.
    Noun,
    /// `"v"`.
    Verb,
    /// `"a"`.
    Adj,
    /// `"r"`.
    Adv,
    /// `"s"`, adjective satellite: the adjective lemmas and exception list, adjective rules.
    AdjSat,
}

impl Pos {
    /// Every part of speech: `n`, `v`, `a`, `r`, `s`.
    pub const ALL: [Pos; 5] = [Pos::Noun, Pos::Verb, Pos::Adj, Pos::Adv, Pos::AdjSat];

    /// The part of speech NLTK accepts as `pos`: exactly `"n"`, `"v"`, `"a"`, `"r"` or `"s"`.
    /// Anything else (including `"N"`, `"noun"` or `None`) makes NLTK raise `KeyError`, so it
    /// gives `None` here for the caller to refuse.
    pub fn from_python(tag: &str) -> Option<Pos> {
        match tag {
            "n" => Some(Pos::Noun),
            "v" => Some(Pos::Verb),
            "a" => Some(Pos::Adj),
            "r" => Some(Pos::Adv),
            "s" => Some(Pos::AdjSat),
            _ => None,
        }
    }

    /// NLTK's spelling of this part of speech.
    pub fn as_python(self) -> &'static str {
        match self {
            Pos::Noun => "n",
            Pos::Verb => "v",
            Pos::Adj => "a",
            Pos::Adv => "r",
            Pos::AdjSat => "s",
        }
    }

    /// `WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS[pos]`, in NLTK's order (the order
    /// decides which of two equally short lemmas wins).
    fn substitutions(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Pos::Noun => &[
                ("s", ""),
                ("ses", "s"),
                ("ves", "f"),
                ("xes", "x"),
                ("zes", "z"),
                ("ches", "ch"),
                ("shes", "sh"),
                ("men", "man"),
                ("ies", "y"),
            ],
            Pos::Verb => &[
                ("s", ""),
                ("ies", "y"),
                ("es", "e"),
                ("es", ""),
                ("ed", "e"),
                ("ed", ""),
                ("ing", "e"),
                ("ing", ""),
            ],
            Pos::Adj | Pos::AdjSat => &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
            Pos::Adv => &[],
        }
    }

    /// Index into [`WordNet::exceptions`] (file order noun, verb, adj, adv): `"s"` shares
    /// `adj.exc`, as NLTK's `_exception_map[ADJ_SAT] = _exception_map[ADJ]`.
    fn exception_slot(self) -> usize {
        match self {
            Pos::Noun => 0,
            Pos::Verb => 1,
            Pos::Adj | Pos::AdjSat => 2,
            Pos::Adv => 3,
        }
    }
}

/// Why a WordNet directory could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordNetError {
    /// `<nltk_data>/corpora/wordnet/` is not a directory.
    #[error(
        "WordNet not found: {path} is not a directory{}",
        if *zipped { " (only wordnet.zip is there: unzip it beside itself, as NLTK's downloader does)" } else { "" }
    )]
    NotFound {
        /// The directory looked for.
        path: PathBuf,
        /// Whether `corpora/wordnet.zip` exists instead.
        zipped: bool,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {msg}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        msg: String,
    },
    /// A file is larger than this reader accepts.
    #[error("{path} has more than {limit} bytes; refusing it as not a WordNet file")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A line NLTK's reader would refuse (it raises `WordNetError`, `StopIteration`,
    /// `IndexError` or `UnicodeDecodeError` while loading).
    #[error("file {path}, line {line}: {msg}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number, counted as NLTK counts (Python `str.splitlines` boundaries).
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

/// One `*.exc` file: inflected form → its base forms, in file order.
type ExceptionMap = HashMap<Box<str>, Box<[Box<str>]>>;

/// The WordNet data NLTK's lemmatizer consults: the lemma set of each part of speech and the
/// four exception lists. About 155,000 lemmas for WordNet 3.0.
#[derive(Debug, Clone)]
pub struct WordNet {
    /// Lemmas whose `index.*` line has part of speech `n`, `v`, `a`, `r` (NLTK keys its index
    /// by the line's own part-of-speech column, not by the file it is in).
    lemmas: [HashSet<Box<str>>; 4],
    /// Lemmas whose line says `s`. Empty in every Princeton WordNet (`index.adj` says `a`), but
    /// NLTK would honour it, so it is kept; `pos="s"` looks here and in the `a` set.
    satellite_lemmas: HashSet<Box<str>>,
    /// `noun.exc`, `verb.exc`, `adj.exc`, `adv.exc`: inflected form → base forms in file
    /// order (possibly none). A form listed twice keeps its last line, as NLTK's dict does.
    exceptions: [ExceptionMap; 4],
    /// Byte length of the longest lemma, and of the longest exception-list form: longer
    /// strings are not looked up at all, which keeps a hostile megabyte-long word from being
    /// hashed a dozen times.
    longest_lemma: usize,
    longest_exception: usize,
}

impl WordNet {
    /// Reads `<nltk_data>/corpora/wordnet/` (the directory NLTK's downloader unzips
    /// `wordnet.zip` into): `index.{adj,adv,noun,verb}` and `{adj,adv,noun,verb}.exc`, decoded
    /// as UTF-8 like NLTK (a leading byte-order mark skipped, anything invalid refused).
    ///
    /// Each file is at most 64 MiB. Errors name the file and, for a malformed line, its
    /// number. Never touches the network.
    pub fn load(nltk_data: &Path) -> Result<WordNet, WordNetError> {
        let dir = nltk_data.join("corpora").join("wordnet");
        if !dir.is_dir() {
            let zipped = nltk_data.join("corpora").join("wordnet.zip").is_file();
            return Err(WordNetError::NotFound { path: dir, zipped });
        }
        Self::load_dir(&dir, MAX_FILE_BYTES)
    }

    fn load_dir(dir: &Path, limit: u64) -> Result<WordNet, WordNetError> {
        let mut wn = WordNet {
            lemmas: Default::default(),
            satellite_lemmas: HashSet::new(),
            exceptions: Default::default(),
            longest_lemma: 0,
            longest_exception: 0,
        };
        // NLTK's `_FILEMAP` order (adj, adv, noun, verb), so that of two broken files the one
        // NLTK trips on first is the one reported.
        for suffix in ["adj", "adv", "noun", "verb"] {
            let path = dir.join(format!("index.{suffix}"));
            let text = read_text(&path, limit)?;
            wn.add_index(&path, strip_bom(&text))?;
        }
        for (suffix, slot) in [("adj", 2), ("adv", 3), ("noun", 0), ("verb", 1)] {
            let path = dir.join(format!("{suffix}.exc"));
            let text = read_text(&path, limit)?;
            let map = parse_exceptions(&path, strip_bom(&text))?;
            let longest = map.keys().map(|k| k.len()).max().unwrap_or(0);
            wn.longest_exception = wn.longest_exception.max(longest);
            wn.exceptions[slot] = map;
        }
        for set in &mut wn.lemmas {
            set.shrink_to_fit();
        }
        Ok(wn)
    }

    /// `_load_lemma_pos_offset_map` for one file: every line not starting with a space is
    /// `lemma pos n_synsets n_pointers pointer* n_senses tagsense_cnt offset{n_synsets} …`,
    /// checked as NLTK checks it (integers, `n_synsets > 0`, `n_senses == n_synsets`, enough
    /// fields); only the lemma and its part of speech are kept.
    fn add_index(&mut self, path: &Path, text: &str) -> Result<(), WordNetError> {
        for (i, line) in py_lines(text).enumerate() {
            if line.starts_with(' ') {
                continue; // the licence header
            }
            let bad = |msg: String| WordNetError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                msg,
            };
            let mut fields = py_split_whitespace(line);
            let mut next = |what: &str| {
                fields
                    .next()
                    .ok_or_else(|| bad(format!("line ends before its {what}")))
            };
            let lemma = next("lemma")?;
            let pos = next("part of speech")?;
            let n_synsets = py_int(next("synset count")?).map_err(&bad)?;
            if n_synsets <= 0 {
                return Err(bad(format!("synset count {n_synsets} is not positive")));
            }
            let n_pointers = py_int(next("pointer count")?).map_err(&bad)?;
            // `range(n_pointers)`: nothing when negative. Bounded by the line's fields: the
            // loop stops at the first missing one.
            for _ in 0..n_pointers.max(0) {
                next("pointer symbols")?;
            }
            let n_senses = py_int(next("sense count")?).map_err(&bad)?;
            if n_senses != n_synsets {
                return Err(bad(format!(
                    "sense count {n_senses} differs from synset count {n_synsets}"
                )));
            }
            next("tagged sense count")?;
            for _ in 0..n_synsets {
                py_int(next("synset offsets")?).map_err(&bad)?;
            }
            let set = match pos {
                "n" => &mut self.lemmas[0],
                "v" => &mut self.lemmas[1],
                "a" => &mut self.lemmas[2],
                "r" => &mut self.lemmas[3],
                "s" => &mut self.satellite_lemmas,
                // NLTK stores it under that key, which no valid `pos` ever asks for.
                _ => continue,
            };
            self.longest_lemma = self.longest_lemma.max(lemma.len());
            if !set.contains(lemma) {
                set.insert(lemma.into());
            }
        }
        Ok(())
    }

    /// Whether NLTK's `_lemma_pos_offset_map[form]` has an entry for `pos`.
    fn is_lemma(&self, form: &str, pos: Pos) -> bool {
        if form.len() > self.longest_lemma {
            return false;
        }
        match pos {
            Pos::Noun => self.lemmas[0].contains(form),
            Pos::Verb => self.lemmas[1].contains(form),
            Pos::Adj => self.lemmas[2].contains(form),
            Pos::Adv => self.lemmas[3].contains(form),
            Pos::AdjSat => self.lemmas[2].contains(form) || self.satellite_lemmas.contains(form),
        }
    }

    /// `WordNetLemmatizer().lemmatize(word, pos)`: the shortest lemma `_morphy` finds (the
    /// first of equally short ones), or `word` unchanged. Case-sensitive, like NLTK.
    ///
    /// Linear in `word`'s length: at most nine suffix rewrites are built, and none longer than
    /// WordNet's longest lemma is looked up.
    pub fn lemmatize(&self, word: &str, pos: Pos) -> String {
        // `min(lemmas, key=len)` over `[word] + forms` filtered in order: a later candidate
        // replaces the best only when strictly shorter, so duplicates need no removal.
        let mut best: Option<(usize, String)> = None;
        let mut consider = |form: &str| {
            if self.is_lemma(form, pos) {
                let len = form.chars().count();
                if best.as_ref().is_none_or(|(l, _)| len < *l) {
                    best = Some((len, form.to_owned()));
                }
            }
        };
        consider(word);
        let exceptions = &self.exceptions[pos.exception_slot()];
        let listed = if word.len() > self.longest_exception {
            None
        } else {
            exceptions.get(word)
        };
        if let Some(forms) = listed {
            for form in forms.iter() {
                consider(form);
            }
        } else {
            let mut candidate = String::new();
            for (old, new) in pos.substitutions() {
                // The suffixes are ASCII, so a word ending with one has a char boundary
                // right before it.
                if let Some(stem) = word.strip_suffix(old) {
                    if stem.len() + new.len() > self.longest_lemma {
                        continue; // cannot be a lemma; skip building it
                    }
                    candidate.clear();
                    candidate.push_str(stem);
                    candidate.push_str(new);
                    consider(&candidate);
                }
            }
        }
        match best {
            Some((_, lemma)) => lemma,
            None => word.to_owned(),
        }
    }
}

/// Reads a whole file as UTF-8 (NLTK opens corpus files with `encoding="utf8"`, strict).
fn read_text(path: &Path, limit: u64) -> Result<String, WordNetError> {
    let io = |e: std::io::Error| WordNetError::Io {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // `take(limit + 1)`: never reads (or allocates) more than one byte past the limit, even
    // for a file that grows or lies about its size.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(WordNetError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        // The prefix before the first invalid byte is valid UTF-8 by definition.
        let prefix = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
        // The bad byte is on the line after the last complete one.
        let line = py_lines(prefix).count()
            + usize::from(prefix.is_empty() || ends_with_line_boundary(prefix));
        WordNetError::Malformed {
            path: path.to_path_buf(),
            line,
            msg: format!("invalid UTF-8 at byte {at} (NLTK decodes WordNet as strict UTF-8)"),
        }
    })
}

/// NLTK's `SeekableUnicodeStreamReader` skips a UTF-8 byte-order mark at the start.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// `_load_exception_map` for one file: `terms = line.split(); map[terms[0]] = terms[1:]`.
fn parse_exceptions(path: &Path, text: &str) -> Result<ExceptionMap, WordNetError> {
    let mut map = ExceptionMap::new();
    for (i, line) in py_lines(text).enumerate() {
        let mut terms = py_split_whitespace(line);
        // NLTK skips no line here: a blank one raises IndexError.
        let Some(form) = terms.next() else {
            return Err(WordNetError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                msg: "blank line (NLTK's reader fails on it with IndexError)".into(),
            });
        };
        let bases: Box<[Box<str>]> = terms.map(Box::from).collect();
        map.insert(form.into(), bases);
    }
    map.shrink_to_fit();
    Ok(map)
}

/// Python's `int(token)` for a token without surrounding whitespace, saturated to `i64`.
///
/// Saturation preserves every outcome NLTK can reach: a count beyond `i64` needs more fields
/// than any line has (or, negative, loops zero times), and two different huge counts that both
/// saturate fail on the missing fields instead of on their comparison. Python also accepts
/// decimal digits of other scripts (`int("٣")`); those are refused here, which can only reject
/// a file NLTK reads, never change an answer.
fn py_int(token: &str) -> Result<i64, String> {
    let b = token.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut value: i64 = 0;
    let mut ok = !digits.is_empty();
    let mut prev_digit = false;
    for (k, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                let d = i64::from(c - b'0');
                value = value.saturating_mul(10).saturating_add(d);
                prev_digit = true;
            }
            // One underscore between two digits (PEP 515), as `int()` accepts.
            b'_' if prev_digit && digits.get(k + 1).is_some_and(u8::is_ascii_digit) => {
                prev_digit = false;
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    if !ok {
        return Err(if token.chars().any(|c| !c.is_ascii() && is_digit(c)) {
            format!("integer {token:?} uses non-ASCII digits, which this reader does not accept")
        } else {
            format!("invalid literal for int() with base 10: {token:?}")
        });
    }
    Ok(if negative {
        value.saturating_neg()
    } else {
        value
    })
}

/// Whether `text` ends with a Python `str.splitlines` boundary.
fn ends_with_line_boundary(text: &str) -> bool {
    text.chars().last().is_some_and(is_line_boundary)
}

/// The lines NLTK's reader iterates (Python `str.splitlines`), without their terminators.
/// Every terminator is Python whitespace, so dropping it changes no `line.split()`.
fn py_lines(text: &str) -> PyLines<'_> {
    PyLines { rest: text }
}

struct PyLines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for PyLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let (term_len, is_break) = match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => (2, true),
                b'\n' | b'\r' | 0x0b | 0x0c | 0x1c | 0x1d | 0x1e => (1, true),
                0xc2 if bytes.get(i + 1) == Some(&0x85) => (2, true),
                0xe2 if bytes.get(i + 1) == Some(&0x80)
                    && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
                {
                    (3, true)
                }
                _ => (1, false),
            };
            if is_break {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + term_len..];
                return Some(line);
            }
            i += 1;
        }
        let line = self.rest;
        self.rest = "";
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh `<tmp>/corpora/wordnet/` holding `files` (name, content); removed on drop.
    struct TempWordNet {
        root: PathBuf,
    }

    impl TempWordNet {
        fn new(files: &[(&str, &[u8])]) -> TempWordNet {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "falcon_wordnet_test_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let dir = root.join("corpora").join("wordnet");
            std::fs::create_dir_all(&dir).unwrap();
            for (name, content) in files {
                std::fs::write(dir.join(name), content).unwrap();
            }
            TempWordNet { root }
        }

        fn dir(&self) -> PathBuf {
            self.root.join("corpora").join("wordnet")
        }
    }

    impl Drop for TempWordNet {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    const HEADER: &str = "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton University under the following license.  \n";

    /// A tiny but complete WordNet: the files with the given overrides.
    fn tiny(overrides: &[(&str, &str)]) -> TempWordNet {
        let noun = format!(
            "{HEADER}dog n 7 5 @ ~ #m #p %p 7 1 02084071 10114209 10023039 09886220 03907626 02712903 02710044  \n\
             goose n 3 2 @ ~ 3 1 01855672 10136283 07644967  \n\
             church n 1 1 @ 1 0 08080025  \n\
             man n 1 1 @ 1 0 10287213  \n\
             us n 1 1 @ 1 0 09044862  \n\
             u n 1 1 @ 1 0 14634591  \n\
             hot_dog n 1 1 @ 1 0 07697537  \n\
             fly n 1 1 @ 1 0 02190166  \n\
             run v 1 1 @ 1 0 01926311  \n\
             axis n 1 1 @ 1 0 08520821  \n\
             ax n 1 1 @ 1 0 03773035  \n"
        );
        let verb = format!(
            "{HEADER}run v 1 1 @ 1 0 01926311  \n\
             be v 1 1 @ 1 0 02604760  \n\
             hope v 1 1 @ 1 0 01811441  \n\
             hop v 1 1 @ 1 0 01966861  \n\
             fly v 1 1 @ 1 0 01940403  \n"
        );
        let adj = format!(
            "{HEADER}good a 1 1 ! 1 0 01123148  \n\
             hard a 1 1 ! 1 0 00749749  \n\
             wide a 1 1 ! 1 0 02560548  \n\
             big a 1 1 ! 1 0 01382086  \n"
        );
        let adv = format!("{HEADER}well r 1 1 ! 1 0 00011093  \nhard r 1 0 1 0 00037752  \n");
        let mut files: Vec<(String, String)> = vec![
            ("index.noun".into(), noun),
            ("index.verb".into(), verb),
            ("index.adj".into(), adj),
            ("index.adv".into(), adv),
            (
                "noun.exc".into(),
                "geese goose\naxes ax axis\nflies fly\n".into(),
            ),
            ("verb.exc".into(), "ran run\nwas be\nflies fly\n".into()),
            ("adj.exc".into(), "better good well\nbigger big\n".into()),
            ("adv.exc".into(), "better well\nharder hard\n".into()),
        ];
        for (name, content) in overrides {
            match files.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = (*content).to_owned(),
                None => files.push(((*name).to_owned(), (*content).to_owned())),
            }
        }
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_bytes()))
            .collect();
        TempWordNet::new(&refs)
    }

    fn load(t: &TempWordNet) -> Result<WordNet, WordNetError> {
        WordNet::load(&t.root)
    }

    #[test]
    fn pos_tags() {
        for pos in Pos::ALL {
            assert_eq!(Pos::from_python(pos.as_python()), Some(pos));
        }
        for bad in ["", "N", "noun", "x", "n "] {
            assert_eq!(Pos::from_python(bad), None);
        }
    }

    #[test]
    fn rules_exceptions_and_shortest() {
        let t = tiny(&[]);
        let wn = load(&t).unwrap();
        let l = |w: &str, p: Pos| wn.lemmatize(w, p);
        assert_eq!(l("dogs", Pos::Noun), "dog");
        assert_eq!(l("churches", Pos::Noun), "church");
        assert_eq!(l("men", Pos::Noun), "man");
        assert_eq!(l("geese", Pos::Noun), "goose");
        assert_eq!(l("ran", Pos::Verb), "run");
        assert_eq!(l("was", Pos::Verb), "be");
        assert_eq!(l("better", Pos::Adj), "good");
        assert_eq!(l("better", Pos::AdjSat), "good");
        assert_eq!(l("better", Pos::Adv), "well");
        assert_eq!(l("bigger", Pos::Adj), "big");
        assert_eq!(l("harder", Pos::Adj), "hard"); // rule: adj.exc has no "harder"
        assert_eq!(l("harder", Pos::Adv), "hard"); // adverbs have exceptions only
        assert_eq!(l("hardest", Pos::AdjSat), "hard");
        assert_eq!(l("wider", Pos::Adj), "wide"); // ("er", "e")
        // The word itself comes first; of equally short lemmas the first wins, and a
        // shorter one replaces it: "us" -> ["us", "u"] -> "u".
        assert_eq!(l("us", Pos::Noun), "u");
        // "axes" is an exception listing "ax" then "axis": both lemmas, "ax" is shorter.
        assert_eq!(l("axes", Pos::Noun), "ax");
        // Exception candidates that are not lemmas of that part of speech are dropped.
        assert_eq!(l("flies", Pos::Noun), "fly");
        assert_eq!(l("flies", Pos::Verb), "fly");
        // "hoped": ("ed", "e") -> "hope" and ("ed", "") -> "hop"; shortest wins.
        assert_eq!(l("hoped", Pos::Verb), "hop");
        assert_eq!(l("hoping", Pos::Verb), "hop");
        // Multi-word lemmas are written with underscores; nothing maps spaces.
        assert_eq!(l("hot_dogs", Pos::Noun), "hot_dog");
        assert_eq!(l("hot dogs", Pos::Noun), "hot dogs");
        // No lower-casing.
        assert_eq!(l("Dogs", Pos::Noun), "Dogs");
        assert_eq!(l("Geese", Pos::Noun), "Geese");
        // Unknown words come back unchanged.
        assert_eq!(l("hardrock", Pos::Noun), "hardrock");
        assert_eq!(l("dogs", Pos::Adv), "dogs");
        assert_eq!(l("", Pos::Noun), "");
        assert_eq!(l("s", Pos::Noun), "s");
    }

    #[test]
    fn exception_entry_stops_the_rules() {
        // An exception key with no base form: NLTK takes the (empty) list and never applies
        // the rules, so "dogs" is not reduced; a key listing a non-lemma likewise.
        let t = tiny(&[("noun.exc", "dogs\nchurches chapel\n")]);
        let wn = load(&t).unwrap();
        assert_eq!(wn.lemmatize("dogs", Pos::Noun), "dogs");
        assert_eq!(wn.lemmatize("churches", Pos::Noun), "churches");
        assert_eq!(wn.lemmatize("men", Pos::Noun), "man");
    }

    #[test]
    fn duplicate_exception_keeps_last_line() {
        let t = tiny(&[("noun.exc", "geese dog\ngeese goose\n")]);
        assert_eq!(load(&t).unwrap().lemmatize("geese", Pos::Noun), "goose");
        let t = tiny(&[("noun.exc", "geese goose\ngeese\n")]);
        assert_eq!(load(&t).unwrap().lemmatize("geese", Pos::Noun), "geese");
    }

    #[test]
    fn part_of_speech_column_decides() {
        // A line's own part-of-speech column files it, whatever file it is in; "s" lines are
        // satellites only; unknown tags are stored by NLTK under a key nobody asks for.
        let adj =
            format!("{HEADER}big a 1 0 1 0 01382086  \nsatonly s 1 0 1 0 1  \nodd x 1 0 1 0 1  \n");
        let noun = format!("{HEADER}walk v 1 0 1 0 1  \n");
        let t = tiny(&[("index.adj", &adj), ("index.noun", &noun)]);
        let wn = load(&t).unwrap();
        assert_eq!(wn.lemmatize("walks", Pos::Verb), "walk");
        assert_eq!(wn.lemmatize("walks", Pos::Noun), "walks");
        assert_eq!(wn.lemmatize("satonlyer", Pos::AdjSat), "satonly");
        assert_eq!(wn.lemmatize("satonlyer", Pos::Adj), "satonlyer");
        assert_eq!(wn.lemmatize("bigger", Pos::AdjSat), "big");
        for pos in Pos::ALL {
            assert_eq!(wn.lemmatize("odder", pos), "odder");
        }
    }

    #[test]
    fn python_line_boundaries_bom_and_whitespace() {
        // CRLF, CR, form feed, NEL, U+2028 all end lines; a BOM is skipped; fields split on
        // Python whitespace (here U+3000 and \x1f).
        let noun = "\u{feff}  header\r\ndog n 1 0 1 0 1\rcat n 1 0 1 0 1\x0cfox n\u{3000}1 0 1 0 1\u{85}owl n 1\x1f0 1 0 1\u{2028}  more header\u{2029}elk n 1 0 1 0 1";
        let t = tiny(&[("index.noun", noun)]);
        let wn = load(&t).unwrap();
        for (w, want) in [
            ("dogs", "dog"),
            ("cats", "cat"),
            ("foxes", "fox"),
            ("owls", "owl"),
            ("elks", "elk"),
        ] {
            assert_eq!(wn.lemmatize(w, Pos::Noun), want);
        }
        let lines: Vec<&str> = py_lines("a\r\nb\rc\n\nd\x1ce").collect();
        assert_eq!(lines, ["a", "b", "c", "", "d", "e"]);
        assert_eq!(py_lines("").count(), 0);
        assert_eq!(py_lines("a\n").collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn python_int_syntax() {
        assert_eq!(py_int("0042"), Ok(42));
        assert_eq!(py_int("+7"), Ok(7));
        assert_eq!(py_int("-7"), Ok(-7));
        assert_eq!(py_int("1_000"), Ok(1000));
        assert_eq!(py_int("99999999999999999999999"), Ok(i64::MAX));
        assert_eq!(py_int("-99999999999999999999999"), Ok(-i64::MAX));
        for bad in [
            "", "+", "-", "_1", "1_", "1__0", "+_1", "1.0", "0x10", "abc", "1e3",
        ] {
            assert!(py_int(bad).is_err(), "{bad:?}");
        }
        assert!(py_int("٣").unwrap_err().contains("non-ASCII digits"));
    }

    #[test]
    fn index_line_validation() {
        let cases: &[(&str, &str)] = &[
            ("dog n 0 0 0 0\n", "not positive"),
            ("dog n -1 0 -1 0\n", "not positive"),
            ("dog n 1 0 2 0 1 1\n", "differs"),
            ("dog n x 0 1 0 1\n", "invalid literal"),
            ("dog n 1 0 1 0 zz\n", "invalid literal"),
            ("dog n 1 2 @ 1 0 1\n", "differs"),
            ("dog n 1 3 @ ~ 1\n", "line ends"),
            ("dog n 2 0 2 0 1\n", "line ends"),
            ("dog n 1 99999999999999999999 1 0 1\n", "line ends"),
            ("dog\n", "line ends"),
            ("\n", "line ends"),
            ("\t\n", "line ends"),
        ];
        for (line, want) in cases {
            let t = tiny(&[("index.verb", &format!("{HEADER}run v 1 0 1 0 1\n{line}"))]);
            match load(&t) {
                Err(WordNetError::Malformed { path, line: n, msg }) => {
                    assert!(path.ends_with("index.verb"), "{line:?}: {path:?}");
                    assert_eq!(n, 4, "{line:?}");
                    assert!(msg.contains(want), "{line:?}: {msg}");
                }
                other => panic!("{line:?}: {other:?}"),
            }
        }
        // Accepted as NLTK accepts them: negative pointer count (an empty `range`),
        // extra trailing fields, underscores in numbers.
        let t = tiny(&[(
            "index.verb",
            "walk v 1 -3 1 0 1 extra fields\nsing v 1_0 0 1_0 0 1 2 3 4 5 6 7 8 9 1_0\n",
        )]);
        let wn = load(&t).unwrap();
        assert_eq!(wn.lemmatize("walked", Pos::Verb), "walk");
        assert_eq!(wn.lemmatize("singing", Pos::Verb), "sing");
    }

    #[test]
    fn error_messages_name_file_and_line() {
        let t = tiny(&[("adj.exc", "better good\n\nworse bad\n")]);
        let e = load(&t).unwrap_err();
        assert!(
            matches!(&e, WordNetError::Malformed { line: 2, path, .. } if path.ends_with("adj.exc")),
            "{e:?}"
        );
        assert!(e.to_string().contains("adj.exc, line 2"), "{e}");

        let mut bad = b"dog n 1 0 1 0 1\ncat n 1 0 1 0 1\nowl\xff n 1 0 1 0 1\n".to_vec();
        let t = TempWordNet::new(&[("index.adj", &bad)]);
        match WordNet::load_dir(&t.dir(), MAX_FILE_BYTES) {
            Err(WordNetError::Malformed { line: 3, msg, .. }) => assert!(msg.contains("UTF-8")),
            other => panic!("{other:?}"),
        }
        bad.truncate(32); // invalid byte right after a line break
        bad.push(0xff);
        let t = TempWordNet::new(&[("index.adj", &bad)]);
        assert!(matches!(
            WordNet::load_dir(&t.dir(), MAX_FILE_BYTES),
            Err(WordNetError::Malformed { line: 3, .. })
        ));
    }

    #[test]
    fn first_broken_file_in_nltk_order() {
        // NLTK reads index.adj, index.adv, index.noun, index.verb, then the .exc files.
        let t = tiny(&[
            ("index.verb", "x v 0\n"),
            ("index.adv", "y r 0\n"),
            ("noun.exc", "\n"),
        ]);
        let e = load(&t).unwrap_err();
        assert!(
            matches!(&e, WordNetError::Malformed { path, .. } if path.ends_with("index.adv")),
            "{e:?}"
        );
    }

    #[test]
    fn missing_directory_and_files() {
        let t = tiny(&[]);
        let empty = t.root.join("nothing");
        match WordNet::load(&empty) {
            Err(e @ WordNetError::NotFound { zipped: false, .. }) => {
                assert!(e.to_string().contains("corpora"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let zipped = t.root.join("zipped");
        std::fs::create_dir_all(zipped.join("corpora")).unwrap();
        std::fs::write(zipped.join("corpora").join("wordnet.zip"), b"PK").unwrap();
        match WordNet::load(&zipped) {
            Err(e @ WordNetError::NotFound { zipped: true, .. }) => {
                assert!(e.to_string().contains("unzip"))
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(t.dir().join("verb.exc")).unwrap();
        match load(&t) {
            Err(WordNetError::Io { path, .. }) => assert!(path.ends_with("verb.exc")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn size_limit() {
        let t = tiny(&[]);
        let size = std::fs::metadata(t.dir().join("index.noun")).unwrap().len();
        assert!(WordNet::load_dir(&t.dir(), size.max(1024)).is_ok());
        match WordNet::load_dir(&t.dir(), 64) {
            Err(e @ WordNetError::TooLarge { limit: 64, .. }) => {
                assert!(e.to_string().contains("index.adj"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_words() {
        let t = tiny(&[]);
        let wn = load(&t).unwrap();
        let huge = "dog".repeat(400_000) + "s";
        for pos in Pos::ALL {
            assert_eq!(wn.lemmatize(&huge, pos), huge);
            for w in [
                "İstanbul",
                "ΣΊΣΥΦΟΣ",
                "\u{0}",
                "🙂s",
                "caféses",
                "\u{301}s",
                "ṡ",
            ] {
                let out = wn.lemmatize(w, pos);
                assert!(!out.is_empty());
            }
        }
        // A suffix rule cuts before ASCII bytes only, never inside a character.
        assert_eq!(wn.lemmatize("ünseses", Pos::Noun), "ünseses");
    }
}
