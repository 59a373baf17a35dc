//! The data a declaration's operations read: NLTK's corpora from the
//! user's own `nltk_data` directory and word-list files named by the
//! declaration. Loaded once per declaration set and shared between every
//! operation (and every model version) that uses them.
//!
//! Nothing is ever downloaded: NLTK's data comes from the directory the
//! operator names (`--nltk-data` / `FALCON_NLTK_DATA`), as NLTK's own
//! downloader leaves it (unzipped).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use falcon_text::nltk::punkt::PunktModel;
use falcon_text::nltk::wordnet::WordNet;

use crate::error::{EngineError, Result};

/// Largest word-list file read (a stop-word list is kilobytes; a bound
/// keeps a mistaken path from reading a huge file into memory).
const MAX_WORD_FILE: u64 = 16 << 20;

/// Where a declaration's data comes from, and what was loaded from it.
///
/// The caches are behind a `Mutex` only because compilation takes `&self`;
/// they are filled while a declaration compiles, never on a request path.
#[derive(Debug, Default)]
pub struct Resources {
    /// The user's `nltk_data` directory, if given.
    nltk_data: Option<PathBuf>,
    /// Directory relative `file = ...` paths are resolved against: the
    /// declaration file's own directory.
    base_dir: Option<PathBuf>,
    wordnet: Mutex<Option<Arc<WordNet>>>,
    punkt: Mutex<HashMap<String, Arc<PunktModel>>>,
    stop: Mutex<HashMap<String, Arc<HashSet<String>>>>,
}

impl Resources {
    pub fn new(nltk_data: Option<PathBuf>, base_dir: Option<PathBuf>) -> Self {
        Resources {
            nltk_data,
            base_dir,
            ..Default::default()
        }
    }

    /// The `nltk_data` directory, or an error naming the operation that
    /// needs it.
    fn nltk_data(&self, what: &str) -> Result<&Path> {
        self.nltk_data.as_deref().ok_or_else(|| {
            EngineError::unsupported(format!(
                "{what} reads NLTK's data, and no nltk_data directory was given: pass \
                 --nltk-data DIR (or set FALCON_NLTK_DATA) to the directory NLTK's downloader \
                 filled (python -m nltk.downloader -d DIR ...). Falcon never downloads it"
            ))
        })
    }

    /// `WordNetLemmatizer`'s WordNet, loaded once.
    pub(crate) fn wordnet(&self) -> Result<Arc<WordNet>> {
        let mut slot = self.wordnet.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = &*slot {
            return Ok(w.clone());
        }
        let dir = self.nltk_data("WordNetLemmatizer (corpora/wordnet)")?;
        let w = Arc::new(WordNet::load(dir).map_err(|e| {
            EngineError::unsupported(format!("WordNet from {}: {e}", dir.display()))
        })?);
        *slot = Some(w.clone());
        Ok(w)
    }

    /// The Punkt sentence splitter `word_tokenize` uses for `language`.
    pub(crate) fn punkt(&self, language: &str) -> Result<Arc<PunktModel>> {
        let mut map = self.punkt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get(language) {
            return Ok(p.clone());
        }
        let dir = self.nltk_data("nltk.word_tokenize (tokenizers/punkt_tab)")?;
        let p = Arc::new(PunktModel::load(dir, language).map_err(|e| {
            EngineError::unsupported(format!(
                "punkt_tab {language:?} from {}: {e}",
                dir.display()
            ))
        })?);
        map.insert(language.to_string(), p.clone());
        Ok(p)
    }

    /// `stopwords.words(language)` from `corpora/stopwords/<language>`.
    pub(crate) fn nltk_stop_words(&self, language: &str) -> Result<Arc<HashSet<String>>> {
        let mut map = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get(language) {
            return Ok(s.clone());
        }
        if language.is_empty()
            || !language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(EngineError::unsupported(format!(
                "stop-word list nltk.{language}: a language name is letters only (nltk.english); \
                 NLTK's code-defined lists such as english-extended are not reproduced"
            )));
        }
        let dir = self.nltk_data("stopwords.words (corpora/stopwords)")?;
        let path = dir.join("corpora").join("stopwords").join(language);
        let text = read_bounded(&path)?;
        let words: HashSet<String> = nltk_word_list(&text)
            .into_iter()
            .map(str::to_string)
            .collect();
        let words = Arc::new(words);
        map.insert(language.to_string(), words.clone());
        Ok(words)
    }

    /// A declaration's own word list (`file = "stop.txt"`): one word per
    /// line, each stripped of surrounding whitespace, blank lines skipped
    /// (what `[l.strip() for l in open(f) if l.strip()]` reads).
    pub(crate) fn word_file(&self, rel: &Path) -> Result<Vec<String>> {
        let path = match &self.base_dir {
            Some(b) if rel.is_relative() => b.join(rel),
            _ => rel.to_path_buf(),
        };
        let text = read_bounded(&path)?;
        Ok(falcon_text::py_splitlines(&text)
            .map(|l| l.trim_matches(falcon_text::is_space))
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }
}

fn read_bounded(path: &Path) -> Result<String> {
    let io = |source| EngineError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_WORD_FILE {
        return Err(EngineError::unsupported(format!(
            "{} is {len} bytes; a word list is at most {MAX_WORD_FILE}",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes)
        .map_err(|e| EngineError::unsupported(format!("{} is not UTF-8: {e}", path.display())))
}

/// `WordListCorpusReader.words()`: `line_tokenize` (Python's
/// `str.splitlines()`, lines whose `rstrip()` is empty dropped, the others
/// kept as they are, trailing spaces included).
fn nltk_word_list(text: &str) -> Vec<&str> {
    falcon_text::py_splitlines(text)
        .filter(|l| !l.trim_end_matches(falcon_text::is_space).is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nltk_word_lists_drop_blank_lines_and_keep_the_rest_as_is() {
        assert_eq!(nltk_word_list("i\nme \n  \n\nmy\n"), ["i", "me ", "my"]);
    }

    #[test]
    fn nltk_data_is_required_and_never_fetched() {
        let r = Resources::new(None, None);
        let e = r.nltk_stop_words("english").unwrap_err().to_string();
        assert!(
            e.contains("--nltk-data") && e.contains("never downloads"),
            "{e}"
        );
        let e = r.nltk_stop_words("../etc").unwrap_err().to_string();
        assert!(e.contains("letters only"), "{e}");
    }

    #[test]
    fn word_files_resolve_against_the_declaration_and_are_bounded() {
        let dir = std::env::temp_dir().join(format!("falcon-words-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("stop.txt"), " the \n\nand\r\nsubject\n").unwrap();
        let r = Resources::new(None, Some(dir.clone()));
        assert_eq!(
            r.word_file(Path::new("stop.txt")).unwrap(),
            ["the", "and", "subject"]
        );
        let e = r
            .word_file(Path::new("missing.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.txt"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
