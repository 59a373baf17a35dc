//! The texts a run sends, and how each request picks one.
//!
//! A realistic cache hit rate needs a realistic mix of new and repeated
//! texts: with `repeat = 0.65`, about 65 % of requests re-send a text that
//! was already sent (a cache hit on a server whose cache is big enough) and
//! the rest send a text never sent before (a miss). Once the file's texts
//! are used up, "new" texts are the file's texts with a unique suffix, so
//! the hit rate stays put on long runs instead of creeping to 100 %.
//!
//! With a run nonce (the default of `falcon bench`), every text carries a
//! suffix unique to the run, so a server still warm from the previous run
//! does not turn this run's "new" texts into hits.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::LoadgenError;

/// Which earlier text a repeated request re-sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepeatDist {
    /// Every earlier text equally likely.
    Uniform,
    /// Log-uniform over the order texts were first sent (≈ Zipf with s = 1):
    /// a few early texts are hot, most are rarely repeated — the shape of
    /// real traffic, and harder on an LRU cache than `uniform`.
    Zipf,
}

impl std::str::FromStr for RepeatDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "zipf" => Ok(Self::Zipf),
            _ => Err(format!("unknown repeat distribution {s:?} (uniform, zipf)")),
        }
    }
}

/// The request bodies, pre-serialized once so that building a request costs
/// a reference-count increment, not a JSON encode of a multi-kilobyte email.
#[derive(Debug)]
pub struct Corpus {
    /// `{"text": "..."}` per text.
    bodies: Vec<Bytes>,
    /// The JSON string literal of each text, without its closing quote, so
    /// that a unique suffix can be appended inside the string.
    open_literals: Vec<Bytes>,
}

impl Corpus {
    /// Texts as given.
    pub fn from_texts<I, S>(texts: I) -> Result<Self, LoadgenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut bodies = Vec::new();
        let mut open_literals = Vec::new();
        for text in texts {
            let literal = serde_json::to_string(text.as_ref()).expect("a string serializes");
            let mut body = BytesMut::with_capacity(literal.len() + 10);
            body.put_slice(b"{\"text\":");
            body.put_slice(literal.as_bytes());
            body.put_u8(b'}');
            bodies.push(body.freeze());
            open_literals.push(Bytes::copy_from_slice(
                &literal.as_bytes()[..literal.len() - 1],
            ));
        }
        if bodies.is_empty() {
            return Err(LoadgenError::EmptyCorpus);
        }
        Ok(Self {
            bodies,
            open_literals,
        })
    }

    /// A JSON Lines file of `{"text": "...", ...}` objects (other fields,
    /// such as `label`, are ignored; blank lines are skipped).
    pub fn from_jsonl(path: &Path) -> Result<Self, LoadgenError> {
        #[derive(Deserialize)]
        struct Line {
            text: String,
        }
        let data = std::fs::read_to_string(path).map_err(|source| LoadgenError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut texts = Vec::new();
        for (i, line) in data.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(line).map_err(|e| LoadgenError::BadLine {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
            texts.push(parsed.text);
        }
        Self::from_texts(texts)
    }

    /// Number of distinct texts in the file.
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Never true: construction refuses an empty corpus.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Body of text `i` with a suffix (inside the JSON string) that makes
    /// it unique.
    fn suffixed(&self, i: usize, tag: &str) -> Bytes {
        let open = &self.open_literals[i];
        let mut body = BytesMut::with_capacity(open.len() + 48);
        body.put_slice(b"{\"text\":");
        body.put_slice(open);
        body.put_slice(b" #falcon-bench-");
        body.put_slice(tag.as_bytes());
        body.put_slice(b"\"}");
        body.freeze()
    }
}

/// Picks the body of each request. Shared by all virtual users; each brings
/// its own random generator so that picking takes no lock.
#[derive(Debug)]
pub struct Picker {
    corpus: std::sync::Arc<Corpus>,
    repeat: f64,
    dist: RepeatDist,
    unique: bool,
    /// Suffix part unique to the run (`None`: texts verbatim).
    nonce: Option<u64>,
    /// Bodies of the first pass over the corpus (verbatim, or with the run
    /// nonce); repeats re-send these.
    first_pass: Vec<Bytes>,
    /// How many never-sent texts have been handed out so far.
    fresh: AtomicU64,
}

impl Picker {
    /// `repeat` is the fraction of requests that re-send an earlier text;
    /// `unique` makes every request's text unique (no cache hit possible);
    /// `nonce` tags every text with a suffix unique to this run.
    pub fn new(
        corpus: std::sync::Arc<Corpus>,
        repeat: f64,
        dist: RepeatDist,
        unique: bool,
        nonce: Option<u64>,
    ) -> Self {
        let first_pass = match nonce {
            Some(nonce) => (0..corpus.len())
                .map(|i| corpus.suffixed(i, &format!("{nonce:x}-{i}")))
                .collect(),
            None => corpus.bodies.clone(),
        };
        Self {
            corpus,
            repeat: repeat.clamp(0.0, 1.0),
            dist,
            unique,
            nonce,
            first_pass,
            fresh: AtomicU64::new(0),
        }
    }

    /// The next request body.
    pub fn next(&self, rng: &mut fastrand::Rng) -> Bytes {
        let len = self.corpus.len() as u64;
        if !self.unique && rng.f64() < self.repeat {
            let sent = self.fresh.load(Ordering::Relaxed).min(len);
            if sent > 0 {
                let k = match self.dist {
                    RepeatDist::Uniform => rng.u64(0..sent),
                    RepeatDist::Zipf => {
                        // Inverse CDF of density 1/x on [1, sent + 1).
                        let x = ((sent + 1) as f64).powf(rng.f64());
                        (x as u64).saturating_sub(1).min(sent - 1)
                    }
                };
                return self.first_pass[k as usize].clone();
            }
        }
        let n = self.fresh.fetch_add(1, Ordering::Relaxed);
        let i = (n % len) as usize;
        if n < len && !self.unique {
            self.first_pass[i].clone()
        } else {
            let tag = match self.nonce {
                Some(nonce) => format!("{nonce:x}-u{n}"),
                None => format!("u{n}"),
            };
            self.corpus.suffixed(i, &tag)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn corpus() -> Arc<Corpus> {
        Arc::new(Corpus::from_texts((0..50).map(|i| format!("text \"{i}\"\n"))).unwrap())
    }

    #[test]
    fn bodies_are_valid_json_with_the_text() {
        let c = corpus();
        let p = Picker::new(c, 0.0, RepeatDist::Uniform, false, None);
        let mut rng = fastrand::Rng::with_seed(1);
        for i in 0..120 {
            let body = p.next(&mut rng);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let text = v["text"].as_str().unwrap();
            assert!(
                text.starts_with(&format!("text \"{}\"\n", i % 50)),
                "{text}"
            );
            // Past the corpus, new texts carry a unique suffix.
            assert_eq!(i >= 50, text.contains("#falcon-bench-"), "{text}");
        }
    }

    #[test]
    fn repeat_fraction_sets_the_share_of_already_sent_texts() {
        for dist in [RepeatDist::Uniform, RepeatDist::Zipf] {
            let p = Picker::new(corpus(), 0.65, dist, false, Some(9));
            let mut rng = fastrand::Rng::with_seed(7);
            let mut seen = HashSet::new();
            let mut repeats = 0;
            let n = 20_000;
            for _ in 0..n {
                if !seen.insert(p.next(&mut rng)) {
                    repeats += 1;
                }
            }
            let share = repeats as f64 / n as f64;
            assert!((share - 0.65).abs() < 0.02, "{dist:?}: {share}");
        }
    }

    #[test]
    fn a_run_nonce_makes_every_text_new_to_a_warm_server() {
        let mut rng = fastrand::Rng::with_seed(1);
        let a = Picker::new(corpus(), 0.0, RepeatDist::Uniform, false, Some(1));
        let b = Picker::new(corpus(), 0.0, RepeatDist::Uniform, false, Some(2));
        let first: HashSet<Bytes> = (0..100).map(|_| a.next(&mut rng)).collect();
        assert!((0..100).all(|_| !first.contains(&b.next(&mut rng))));
        // Without a nonce, the first pass is the file verbatim.
        let plain = Picker::new(corpus(), 0.0, RepeatDist::Uniform, false, None);
        assert_eq!(
            plain.next(&mut rng),
            Bytes::from_static(b"{\"text\":\"text \\\"0\\\"\\n\"}")
        );
    }

    #[test]
    fn unique_mode_never_repeats() {
        let p = Picker::new(corpus(), 0.9, RepeatDist::Uniform, true, None);
        let mut rng = fastrand::Rng::with_seed(3);
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let body = p.next(&mut rng);
            serde_json::from_slice::<serde_json::Value>(&body).unwrap();
            assert!(seen.insert(body));
        }
    }

    #[test]
    fn jsonl_reads_texts_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jsonl");
        std::fs::write(
            &good,
            "{\"text\":\"a\",\"label\":\"ham\"}\n\n{\"text\":\"b\"}\n",
        )
        .unwrap();
        assert_eq!(Corpus::from_jsonl(&good).unwrap().len(), 2);
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{\"text\":\"a\"}\n{\"label\":1}\n").unwrap();
        let err = Corpus::from_jsonl(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:2"), "{err}");
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(
            Corpus::from_jsonl(&empty),
            Err(LoadgenError::EmptyCorpus)
        ));
    }
}
