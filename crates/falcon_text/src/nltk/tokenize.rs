//! NLTK 3.10.4 tokenizers: `wordpunct_tokenize`, `RegexpTokenizer` / `regexp_tokenize`,
//! `TweetTokenizer` (`nltk.tokenize.casual`) and `NLTKWordTokenizer` (the improved Treebank
//! tokenizer behind `word_tokenize`), reproduced exactly.
//!
//! NLTK 3.10.4 routes every pattern through `nltk.redos`, which compiles with the third-party
//! `regex` module, not with `re`: `\w`, `\d`, `\s`, `\b` and IGNORECASE follow that module's
//! tables ([`Dialect::RegexModule`]; e.g. `e` + U+0301 is one `\w` run, `²` is not a word
//! character). Only `NLTKWordTokenizer`'s `CONTRACTIONS2`/`CONTRACTIONS3` are compiled with the
//! stdlib `re` ([`Dialect::Re`]). The pattern strings below are NLTK's, character for
//! character (VERBOSE comments included).
//!
//! Every function returns `Result`: a pattern may exceed the backtracking budget on hostile
//! input ([`TextError::BacktrackLimit`]) where NLTK would run into its 5-second timeout, and a
//! numeric HTML entity for a surrogate (`&#xD800;`), which Python turns into a lone surrogate,
//! is refused ([`TextError::Unrepresentable`]). Patterns are compiled once per process.

use crate::regex::template::{PyInt, py_int};
use crate::{Dialect, PyFlags, PyRegex, PyTemplate, TextError, py_lower, py_split_whitespace};
use std::sync::OnceLock;

/// A compiled `(pattern, replacement)` step of a destructive tokenizer.
struct Sub {
    re: PyRegex,
    repl: PyTemplate,
}

impl Sub {
    fn new(pattern: &str, flags: PyFlags, dialect: Dialect, repl: &str) -> Result<Sub, TextError> {
        let re = PyRegex::compile_dialect(pattern, flags, dialect)?;
        let repl = PyTemplate::compile(repl, &re)?;
        Ok(Sub { re, repl })
    }

    /// NLTK's own patterns, with the `regex` module's flag integers they were compiled with.
    fn nltk(pattern: &str, regex_flags: i64, repl: &str) -> Result<Sub, TextError> {
        let flags = PyFlags::from_regex_module_bits(regex_flags)?;
        Sub::new(pattern, flags, Dialect::RegexModule, repl)
    }

    fn apply(&self, text: &str) -> Result<String, TextError> {
        self.re.sub(&self.repl, text, 0)
    }
}

/// Caches the result of building a set of patterns (the error too: it is deterministic).
fn cached<T>(
    cell: &'static OnceLock<Result<T, TextError>>,
    build: impl FnOnce() -> Result<T, TextError>,
) -> Result<&'static T, TextError> {
    cell.get_or_init(build).as_ref().map_err(Clone::clone)
}

// ---------------------------------------------------------------------------------------------
// RegexpTokenizer, wordpunct_tokenize

/// NLTK's `RegexpTokenizer(pattern, gaps, discard_empty, flags)`.
///
/// The pattern is compiled as NLTK compiles it: with the `regex` module
/// ([`Dialect::RegexModule`]). `flags` are given as Python's `re` flag values; NLTK hands the
/// integer to the `regex` module, which reads the same values for I, M, S, U and X, but reads
/// `re.ASCII` (256) as VERSION1 — so ASCII is refused ([`TextError::Flags`]) rather than given
/// a meaning NLTK does not give it. Also refused: patterns the `regex` dialect of [`PyRegex`]
/// refuses (e.g. patterns that can match the empty string).
#[derive(Debug, Clone)]
pub struct RegexpTokenizer {
    /// The pattern.
    pub pattern: String,
    /// Whether the pattern matches the separators (`re.split`) instead of the tokens
    /// (`re.findall`).
    pub gaps: bool,
    /// With `gaps`, drop empty strings (and `None` group captures) from the result.
    pub discard_empty: bool,
    /// Compile flags.
    pub flags: PyFlags,
    regex: PyRegex,
}

impl RegexpTokenizer {
    /// NLTK's default flags: `re.UNICODE | re.MULTILINE | re.DOTALL`.
    pub const DEFAULT_FLAGS: PyFlags = PyFlags::UNICODE
        .union(PyFlags::MULTILINE)
        .union(PyFlags::DOTALL);

    /// Compiles the tokenizer; see the type's documentation for what is refused.
    pub fn new(
        pattern: &str,
        gaps: bool,
        discard_empty: bool,
        flags: PyFlags,
    ) -> Result<RegexpTokenizer, TextError> {
        if flags.contains(PyFlags::ASCII) {
            return Err(TextError::Flags {
                flags: flags.bits(),
                msg: "re.ASCII (256) is VERSION1 for the regex module NLTK compiles \
                      RegexpTokenizer patterns with; not reproduced"
                    .into(),
            });
        }
        let regex = PyRegex::compile_dialect(pattern, flags, Dialect::RegexModule)?;
        Ok(RegexpTokenizer {
            pattern: pattern.to_string(),
            gaps,
            discard_empty,
            flags,
            regex,
        })
    }

    /// `tokenizer.tokenize(text)`.
    ///
    /// Errors: [`TextError::TooManyGroups`] without `gaps` when the pattern has several groups
    /// (NLTK would return tuples), [`TextError::Unrepresentable`] with `gaps` and not
    /// `discard_empty` when a group did not participate (NLTK would return `None` tokens),
    /// [`TextError::BacktrackLimit`].
    pub fn tokenize(&self, text: &str) -> Result<Vec<String>, TextError> {
        if !self.gaps {
            let mut out = Vec::new();
            self.regex.findall(text, |t| out.push(t.to_string()))?;
            return Ok(out);
        }
        let parts = self.regex.split(text, 0)?;
        if self.discard_empty {
            return Ok(parts
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect());
        }
        parts
            .into_iter()
            .map(|p| {
                p.map(str::to_string)
                    .ok_or_else(|| TextError::Unrepresentable {
                        what: format!(
                            "None token: a group of gap pattern {:?} did not participate",
                            self.pattern
                        ),
                    })
            })
            .collect()
    }
}

/// `nltk.regexp_tokenize(text, pattern, gaps, discard_empty, flags)`.
pub fn regexp_tokenize(
    text: &str,
    pattern: &str,
    gaps: bool,
    discard_empty: bool,
    flags: PyFlags,
) -> Result<Vec<String>, TextError> {
    RegexpTokenizer::new(pattern, gaps, discard_empty, flags)?.tokenize(text)
}

/// `nltk.wordpunct_tokenize(text)`: `RegexpTokenizer(r"\w+|[^\w\s]+")` — runs of word
/// characters and runs of other non-space characters, with the `regex` module's `\w`.
pub fn wordpunct_tokenize(text: &str) -> Result<Vec<String>, TextError> {
    static T: OnceLock<Result<RegexpTokenizer, TextError>> = OnceLock::new();
    let t = cached(&T, || {
        RegexpTokenizer::new(r"\w+|[^\w\s]+", false, true, RegexpTokenizer::DEFAULT_FLAGS)
    })?;
    t.tokenize(text)
}

// ---------------------------------------------------------------------------------------------
// TweetTokenizer (nltk.tokenize.casual)

/// The compiled patterns of `nltk.tokenize.casual`.
struct Casual {
    word: PyRegex,
    phone_word: PyRegex,
    emoticon: PyRegex,
    hang: PyRegex,
    ent: PyRegex,
    handles: PyRegex,
    lengthening: PyRegex,
    three: PyTemplate,
    space: PyTemplate,
}

fn casual() -> Result<&'static Casual, TextError> {
    static C: OnceLock<Result<Casual, TextError>> = OnceLock::new();
    cached(&C, || {
        // regex.VERBOSE | regex.I | regex.UNICODE, as TweetTokenizer and EMOTICON_RE use.
        let vi = PyFlags::from_regex_module_bits(64 | 2 | 32)?;
        let plain = PyFlags::default();
        let rx = |p: &str, f: PyFlags| PyRegex::compile_dialect(p, f, Dialect::RegexModule);
        let word = rx(&format!("({})", REGEXPS.join("|")), vi)?;
        let phone: Vec<&str> = [REGEXPS[0], PHONE_REGEX]
            .into_iter()
            .chain(REGEXPS[1..].iter().copied())
            .collect();
        let phone_word = rx(&format!("({})", phone.join("|")), vi)?;
        let hang = rx(HANG_RE, plain)?;
        let lengthening = rx(r"(.)\1{2,}", plain)?;
        let handles = rx(HANDLES_RE, plain)?;
        Ok(Casual {
            three: PyTemplate::compile(r"\1\1\1", &hang)?,
            space: PyTemplate::compile(" ", &handles)?,
            emoticon: rx(EMOTICONS, vi)?,
            ent: rx(ENT_RE, plain)?,
            word,
            phone_word,
            hang,
            handles,
            lengthening,
        })
    })
}

/// NLTK's `TweetTokenizer(preserve_case, reduce_len, strip_handles, match_phone_numbers)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TweetTokenizer {
    /// Keep the case; otherwise every token but emoticons is lowercased (`str.lower`).
    pub preserve_case: bool,
    /// Shorten runs of 3+ identical characters to 3 (`reduce_lengthening`).
    pub reduce_len: bool,
    /// Remove Twitter handles (`remove_handles`).
    pub strip_handles: bool,
    /// Recognise phone numbers as tokens.
    pub match_phone_numbers: bool,
}

impl Default for TweetTokenizer {
    /// NLTK's defaults: `preserve_case=True, reduce_len=False, strip_handles=False,
    /// match_phone_numbers=True`.
    fn default() -> Self {
        TweetTokenizer {
            preserve_case: true,
            reduce_len: false,
            strip_handles: false,
            match_phone_numbers: true,
        }
    }
}

impl TweetTokenizer {
    /// Builds the tokenizer, compiling NLTK's patterns (once per process) so that a failure
    /// shows here rather than at the first text.
    pub fn new(
        preserve_case: bool,
        reduce_len: bool,
        strip_handles: bool,
        match_phone_numbers: bool,
    ) -> Result<TweetTokenizer, TextError> {
        casual()?;
        Ok(TweetTokenizer {
            preserve_case,
            reduce_len,
            strip_handles,
            match_phone_numbers,
        })
    }

    /// `tokenizer.tokenize(text)`: HTML entities decoded, handles removed and lengthening
    /// reduced as configured, runs of 4+ identical non-letter/digit characters cut to 3
    /// (`HANG_RE`), then `WORD_RE.findall`, lowercasing non-emoticons unless `preserve_case`.
    ///
    /// Each substitution is skipped when a cheap necessary condition of its pattern fails
    /// (no `&` for an entity, no `@` for a handle, no run of 3 — or 4 — equal characters for
    /// lengthening and `HANG_RE`, none of the eye characters `:;=8` nor `<` for an
    /// emoticon): the pattern cannot match there, so the result is the same, without a
    /// regex run (the emoticon test runs once per token).
    pub fn tokenize(&self, text: &str) -> Result<Vec<String>, TextError> {
        let c = casual()?;
        let mut text = if text.contains('&') {
            replace_html_entities(text)?
        } else {
            text.to_string()
        };
        if self.strip_handles && text.contains('@') {
            text = c.handles.sub(&c.space, &text, 0)?;
        }
        // `(.)\1{2,}`: `.` is anything but `\n`.
        if self.reduce_len && has_run(&text, 3, |ch| ch != '\n') {
            text = c.lengthening.sub(&c.three, &text, 0)?;
        }
        let safe = if has_run(&text, 4, |_| true) {
            c.hang.sub(&c.three, &text, 0)?
        } else {
            text
        };
        let re = if self.match_phone_numbers {
            &c.phone_word
        } else {
            &c.word
        };
        let mut words = Vec::new();
        re.findall(&safe, |w| words.push(w.to_string()))?;
        if !self.preserve_case {
            for w in &mut words {
                // Every emoticon has eyes (`[:;=8]`, no case variants) or is a heart (`<3`).
                let may_be_emoticon = w.contains([':', ';', '=', '8', '<']);
                if !may_be_emoticon || !c.emoticon.is_match(w)? {
                    let mut lower = String::with_capacity(w.len());
                    py_lower(w, &mut lower);
                    *w = lower;
                }
            }
        }
        Ok(words)
    }
}

/// Whether `text` has `n` equal consecutive characters satisfying `ok`.
fn has_run(text: &str, n: usize, ok: impl Fn(char) -> bool) -> bool {
    let mut prev = None;
    let mut len = 0;
    for ch in text.chars() {
        if Some(ch) == prev {
            len += 1;
        } else {
            prev = Some(ch);
            len = 1;
        }
        if len >= n && ok(ch) {
            return true;
        }
    }
    false
}

/// `nltk.tokenize.casual.casual_tokenize(text, ...)`.
pub fn casual_tokenize(
    text: &str,
    preserve_case: bool,
    reduce_len: bool,
    strip_handles: bool,
    match_phone_numbers: bool,
) -> Result<Vec<String>, TextError> {
    TweetTokenizer::new(
        preserve_case,
        reduce_len,
        strip_handles,
        match_phone_numbers,
    )?
    .tokenize(text)
}

/// `nltk.tokenize.casual.reduce_lengthening(text)`: runs of 3+ identical characters (other
/// than `\n`) become 3.
pub fn reduce_lengthening(text: &str) -> Result<String, TextError> {
    let c = casual()?;
    c.lengthening.sub(&c.three, text, 0)
}

/// `nltk.tokenize.casual.remove_handles(text)`: each Twitter handle becomes a space.
pub fn remove_handles(text: &str) -> Result<String, TextError> {
    let c = casual()?;
    c.handles.sub(&c.space, text, 0)
}

/// `nltk.tokenize.casual._replace_html_entities(text)` with its defaults (`keep=()`,
/// `remove_illegal=True`): `&name;` from Python's `html.entities.name2codepoint` (the 252
/// HTML 4 names — not the HTML5 table), `&#NNN;` / `&#xHH;` through Python's `int()` (so
/// `&#x0x41;`, `&#١٢٣;` and `&# 65;`-like bodies decode as in Python), 0x80-0x9F through
/// cp1252, anything that does not convert removed. Note `&x41;` is numeric too: NLTK tests the
/// `#?(x?)` group, which `x` alone fills.
pub fn replace_html_entities(text: &str) -> Result<String, TextError> {
    let c = casual()?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut failure = None;
    c.ent.for_each_match(text, |sp| {
        let (Some((s, e)), Some(g1), Some(g2), Some(g3)) = (sp[0], sp[1], sp[2], sp[3]) else {
            return true;
        };
        out.push_str(&text[last..s]);
        last = e;
        match convert_entity(&text[g1.0..g1.1], &text[g2.0..g2.1], &text[g3.0..g3.1]) {
            Ok(Some(ch)) => out.push(ch),
            Ok(None) => {}
            Err(err) => {
                failure = Some(err);
                return false;
            }
        }
        true
    })?;
    if let Some(err) = failure {
        return Err(err);
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// `_convert_entity`: the character an entity stands for, `None` when it is removed.
fn convert_entity(numeric: &str, hex: &str, body: &str) -> Result<Option<char>, TextError> {
    let number: Option<PyInt> = if !numeric.is_empty() {
        match py_int(body, if hex.is_empty() { 10 } else { 16 }) {
            Some(PyInt::Value(n)) if (0x80..=0x9F).contains(&n) => {
                // bytes((n,)).decode("cp1252"); its five undefined bytes raise
                // UnicodeDecodeError, a ValueError, which NLTK catches: number = None.
                return Ok(CP1252_80_9F[(n - 0x80) as usize]);
            }
            other => other,
        }
    } else {
        NAME2CODEPOINT
            .binary_search_by(|(k, _)| (*k).cmp(body))
            .ok()
            .map(|i| PyInt::Value(i64::from(NAME2CODEPOINT[i].1)))
    };
    match number {
        // chr(n): ValueError below 0 or above 0x10FFFF, OverflowError beyond C long.
        Some(PyInt::Value(n)) if (0..=0x10FFFF).contains(&n) => match char::from_u32(n as u32) {
            Some(ch) => Ok(Some(ch)),
            None => Err(TextError::Unrepresentable {
                what: format!("lone surrogate U+{n:04X} from an HTML entity"),
            }),
        },
        _ => Ok(None),
    }
}

/// cp1252 for bytes 0x80-0x9F (`None`: undefined, the decode raises).
const CP1252_80_9F: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

// ---------------------------------------------------------------------------------------------
// NLTKWordTokenizer (word_tokenize)

struct Treebank {
    starting_quotes: Vec<Sub>,
    punctuation: Vec<Sub>,
    parens_brackets: Sub,
    double_dashes: Sub,
    ending_quotes: Vec<Sub>,
    contractions: Vec<Sub>,
}

fn treebank() -> Result<&'static Treebank, TextError> {
    static T: OnceLock<Result<Treebank, TextError>> = OnceLock::new();
    cached(&T, || {
        let list = |v: &[(&str, i64, &str)]| -> Result<Vec<Sub>, TextError> {
            v.iter().map(|&(p, f, r)| Sub::nltk(p, f, r)).collect()
        };
        // CONTRACTIONS2/3 are `re.compile`d (stdlib `re`, flags from the inline `(?i)`).
        let contractions = CONTRACTIONS2
            .iter()
            .chain(CONTRACTIONS3)
            .map(|p| Sub::new(p, PyFlags::default(), Dialect::Re, r" \1 \2 "))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Treebank {
            starting_quotes: list(STARTING_QUOTES)?,
            punctuation: list(PUNCTUATION)?,
            parens_brackets: Sub::nltk(PARENS_BRACKETS.0, PARENS_BRACKETS.1, PARENS_BRACKETS.2)?,
            double_dashes: Sub::nltk(DOUBLE_DASHES.0, DOUBLE_DASHES.1, DOUBLE_DASHES.2)?,
            ending_quotes: list(ENDING_QUOTES)?,
            contractions,
        })
    })
}

/// `NLTKWordTokenizer().tokenize(sentence)` (`convert_parentheses=False`): the improved
/// Treebank tokenizer `word_tokenize` applies to each sentence Punkt finds.
pub fn treebank_word_tokenize(sentence: &str) -> Result<Vec<String>, TextError> {
    let t = treebank()?;
    let mut text = sentence.to_string();
    for s in t.starting_quotes.iter().chain(&t.punctuation) {
        text = s.apply(&text)?;
    }
    text = t.parens_brackets.apply(&text)?;
    text = t.double_dashes.apply(&text)?;
    text = format!(" {text} ");
    for s in t.ending_quotes.iter().chain(&t.contractions) {
        text = s.apply(&text)?;
    }
    Ok(py_split_whitespace(&text).map(str::to_string).collect())
}

/// `word_tokenize(text, preserve_line=True)`: the whole text is one "sentence" (no Punkt).
pub fn word_tokenize_preserve_line(text: &str) -> Result<Vec<String>, TextError> {
    treebank_word_tokenize(text)
}

// ---------------------------------------------------------------------------------------------
// NLTK's pattern strings (nltk/tokenize/casual.py, destructive.py), verbatim. The integers are
// the `regex` module flags the patterns were compiled with (8224 = VERSION0 | UNICODE, 8226
// adds IGNORECASE).

const URLS: &str = r#"			# Capture 1: entire matched URL
  (?:
  https?:				# URL protocol and colon
    (?:
      /{1,3}				# 1-3 slashes
      |					#   or
      [a-z0-9%]				# Single letter or digit or '%'
                                       # (Trying not to match e.g. "URI::Escape")
    )
    |					#   or
                                       # looks like domain name followed by a slash:
    [a-z0-9.\-]{1,255}[.]              # bounded to avoid catastrophic backtracking (ReDoS)
    (?:[a-z]{2,13})
    /
  )
  (?:					# One or more:
    [^\s()<>{}\[\]]+			# Run of non-space, non-()<>{}[]
    |					#   or
    \([^\s()]{0,255}?\([^\s()]{1,255}\)[^\s()]{0,255}?\) # balanced parens, one level deep: (...(...)...)
    |
    \([^\s]{1,255}?\)				# balanced parens, non-recursive: (...)
  )+
  (?:					# End with:
    \([^\s()]{0,255}?\([^\s()]{1,255}\)[^\s()]{0,255}?\) # balanced parens, one level deep: (...(...)...)
    |
    \([^\s]{1,255}?\)				# balanced parens, non-recursive: (...)
    |					#   or
    [^\s`!()\[\]{};:'".,<>?«»“”‘’]	# not a space or one of these punct chars
  )
  |					# OR, the following to match naked domains:
  (?:
  	(?<!@)			        # not preceded by a @, avoid matching foo@_gmail.com_
    [a-z0-9]+
    (?:[.\-][a-z0-9]+){0,126}  # bounded to avoid catastrophic backtracking (ReDoS); DNS allows at most 127 labels
    [.]
    (?:[a-z]{2,13})
    \b
    /?
    (?!@)			        # not succeeded by a @,
                            # avoid matching "foo.na" in "foo.na@example.com"
  )
"#;
const EMOTICONS: &str = r#"
    (?:
      [<>]?
      [:;=8]                     # eyes
      [\-o\*\']?                 # optional nose
      [\)\]\(\[dDpP/\:\}\{@\|\\] # mouth
      |
      [\)\]\(\[dDpP/\:\}\{@\|\\] # mouth
      [\-o\*\']?                 # optional nose
      [:;=8]                     # eyes
      [<>]?
      |
      </?3                       # heart
    )"#;
const FLAGS: &str = r#"
  (?:
    [\U0001F1E6-\U0001F1FF]{2}  # all enclosed letter pairs
    |
    # English flag
    \U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006e\U000E0067\U000E007F
    |
    # Scottish flag
    \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F
    |
    # For Wales? Why Richard, it profit a man nothing to give his soul for the whole world … but for Wales!
    \U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F
  )
"#;
const PHONE_REGEX: &str = r#"
    (?:
      (?:            # (international)
        \+?[01]
        [ *\-.\)]*
      )?
      (?:            # (area code)
        [\(]?
        \d{3}
        [ *\-.\)]*
      )?
      \d{3}          # exchange
      [ *\-.\)]*
      \d{4}          # base
    )"#;
const REGEXPS: [&str; 10] = [
    URLS,
    EMOTICONS,
    r#"<[^>\s]+>"#,
    r#"[\-]+>|<[\-]+"#,
    r#"(?:@[\w_]+)"#,
    r#"(?:\#+[\w_]+[\w\'_\-]*[\w_]+)"#,
    r#"[\w.+-]{1,64}@[\w-]{1,63}\.(?:[\w-]\.?){1,251}[\w-]"#,
    r#"\S(?:
        [\U0001f3fb-\U0001f3ff]?(?:\u200d\S[\U0001f3fb-\U0001f3ff]?)+
        |
        [\U0001f3fb-\U0001f3ff]
    )"#,
    FLAGS,
    r#"
    (?:[^\W\d_](?:[^\W\d_]|['\-_])+[^\W\d_]) # Words with apostrophes or dashes.
    |
    (?:[+\-]?\d+[,/.:-]\d+[+\-]?)  # Numbers, including fractions, decimals.
    |
    (?:[\w_]+)                     # Words without apostrophes or dashes.
    |
    (?:\.(?:[^\S\r\n]*\.){1,})            # Ellipsis dots.
    |
    (?:\S)                         # Everything else that isn't whitespace.
    "#,
];
const HANG_RE: &str = r#"([^\p{L}\p{N}])\1{3,}"#;
const ENT_RE: &str = r#"&(#?(x?))([^&;\s]+);"#;
const HANDLES_RE: &str =
    r#"(?<![A-Za-z0-9_!@#\$%&*])@(([A-Za-z0-9_]){15}(?!@)|([A-Za-z0-9_]){1,14}(?![A-Za-z0-9_]*@))"#;
const STARTING_QUOTES: &[(&str, i64, &str)] = &[
    (r#"([«“‘„]|[`]+)"#, 8224, r#" \1 "#),
    (r#"^\""#, 8224, r#"``"#),
    (r#"(``)"#, 8224, r#" \1 "#),
    (r#"([ \(\[{<])(\"|\'{2})"#, 8224, r#"\1 `` "#),
    (
        r#"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"#,
        8226,
        r#"\1 "#,
    ),
];
const PUNCTUATION: &[(&str, i64, &str)] = &[
    (
        r#"([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$"#,
        8224,
        r#"\1 \2 \3 "#,
    ),
    (r#"([:,])([^\d])"#, 8224, r#" \1 \2"#),
    (r#"([:,])$"#, 8224, r#" \1 "#),
    (r#"\.{2,}"#, 8224, r#" \g<0> "#),
    (r#"[;@#$%&]"#, 8224, r#" \g<0> "#),
    (r#"[\u2012-\u2015]"#, 8224, r#" \g<0> "#),
    (r#"([^\.])(\.)([\]\)}>"\']*)\s*$"#, 8224, r#"\1 \2\3 "#),
    (r#"[?!]"#, 8224, r#" \g<0> "#),
    (r#"([^'])' "#, 8224, r#"\1 ' "#),
    (r#"[*]"#, 8224, r#" \g<0> "#),
];
const ENDING_QUOTES: &[(&str, i64, &str)] = &[
    (r#"([»”’])"#, 8224, r#" \1 "#),
    (r#"''"#, 8224, r#" '' "#),
    (r#"""#, 8224, r#" '' "#),
    (r#"\s+"#, 8224, r#" "#),
    (r#"([^' ])('[sS]|'[mM]|'[dD]|') "#, 8224, r#"\1 \2 "#),
    (
        r#"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "#,
        8224,
        r#"\1 \2 "#,
    ),
];
const PARENS_BRACKETS: (&str, i64, &str) = (r#"[\]\[\(\)\{\}\<\>]"#, 8224, r#" \g<0> "#);
const DOUBLE_DASHES: (&str, i64, &str) = (r#"--"#, 8224, r#" -- "#);
const CONTRACTIONS2: &[&str] = &[
    r#"(?i)\b(can)(?#X)(not)\b"#,
    r#"(?i)\b(d)(?#X)('ye)\b"#,
    r#"(?i)\b(gim)(?#X)(me)\b"#,
    r#"(?i)\b(gon)(?#X)(na)\b"#,
    r#"(?i)\b(got)(?#X)(ta)\b"#,
    r#"(?i)\b(lem)(?#X)(me)\b"#,
    r#"(?i)\b(more)(?#X)('n)\b"#,
    r#"(?i)\b(wan)(?#X)(na)(?=\s)"#,
];
const CONTRACTIONS3: &[&str] = &[r#"(?i) ('t)(?#X)(is)\b"#, r#"(?i) ('t)(?#X)(was)\b"#];

/// Python's `html.entities.name2codepoint` (the HTML 4 entity names), sorted by name;
/// generated from CPython 3.11 (`sorted(html.entities.name2codepoint.items())`).
static NAME2CODEPOINT: [(&str, u32); 252] = [
    ("AElig", 0xC6),
    ("Aacute", 0xC1),
    ("Acirc", 0xC2),
    ("Agrave", 0xC0),
    ("Alpha", 0x391),
    ("Aring", 0xC5),
    ("Atilde", 0xC3),
    ("Auml", 0xC4),
    ("Beta", 0x392),
    ("Ccedil", 0xC7),
    ("Chi", 0x3A7),
    ("Dagger", 0x2021),
    ("Delta", 0x394),
    ("ETH", 0xD0),
    ("Eacute", 0xC9),
    ("Ecirc", 0xCA),
    ("Egrave", 0xC8),
    ("Epsilon", 0x395),
    ("Eta", 0x397),
    ("Euml", 0xCB),
    ("Gamma", 0x393),
    ("Iacute", 0xCD),
    ("Icirc", 0xCE),
    ("Igrave", 0xCC),
    ("Iota", 0x399),
    ("Iuml", 0xCF),
    ("Kappa", 0x39A),
    ("Lambda", 0x39B),
    ("Mu", 0x39C),
    ("Ntilde", 0xD1),
    ("Nu", 0x39D),
    ("OElig", 0x152),
    ("Oacute", 0xD3),
    ("Ocirc", 0xD4),
    ("Ograve", 0xD2),
    ("Omega", 0x3A9),
    ("Omicron", 0x39F),
    ("Oslash", 0xD8),
    ("Otilde", 0xD5),
    ("Ouml", 0xD6),
    ("Phi", 0x3A6),
    ("Pi", 0x3A0),
    ("Prime", 0x2033),
    ("Psi", 0x3A8),
    ("Rho", 0x3A1),
    ("Scaron", 0x160),
    ("Sigma", 0x3A3),
    ("THORN", 0xDE),
    ("Tau", 0x3A4),
    ("Theta", 0x398),
    ("Uacute", 0xDA),
    ("Ucirc", 0xDB),
    ("Ugrave", 0xD9),
    ("Upsilon", 0x3A5),
    ("Uuml", 0xDC),
    ("Xi", 0x39E),
    ("Yacute", 0xDD),
    ("Yuml", 0x178),
    ("Zeta", 0x396),
    ("aacute", 0xE1),
    ("acirc", 0xE2),
    ("acute", 0xB4),
    ("aelig", 0xE6),
    ("agrave", 0xE0),
    ("alefsym", 0x2135),
    ("alpha", 0x3B1),
    ("amp", 0x26),
    ("and", 0x2227),
    ("ang", 0x2220),
    ("aring", 0xE5),
    ("asymp", 0x2248),
    ("atilde", 0xE3),
    ("auml", 0xE4),
    ("bdquo", 0x201E),
    ("beta", 0x3B2),
    ("brvbar", 0xA6),
    ("bull", 0x2022),
    ("cap", 0x2229),
    ("ccedil", 0xE7),
    ("cedil", 0xB8),
    ("cent", 0xA2),
    ("chi", 0x3C7),
    ("circ", 0x2C6),
    ("clubs", 0x2663),
    ("cong", 0x2245),
    ("copy", 0xA9),
    ("crarr", 0x21B5),
    ("cup", 0x222A),
    ("curren", 0xA4),
    ("dArr", 0x21D3),
    ("dagger", 0x2020),
    ("darr", 0x2193),
    ("deg", 0xB0),
    ("delta", 0x3B4),
    ("diams", 0x2666),
    ("divide", 0xF7),
    ("eacute", 0xE9),
    ("ecirc", 0xEA),
    ("egrave", 0xE8),
    ("empty", 0x2205),
    ("emsp", 0x2003),
    ("ensp", 0x2002),
    ("epsilon", 0x3B5),
    ("equiv", 0x2261),
    ("eta", 0x3B7),
    ("eth", 0xF0),
    ("euml", 0xEB),
    ("euro", 0x20AC),
    ("exist", 0x2203),
    ("fnof", 0x192),
    ("forall", 0x2200),
    ("frac12", 0xBD),
    ("frac14", 0xBC),
    ("frac34", 0xBE),
    ("frasl", 0x2044),
    ("gamma", 0x3B3),
    ("ge", 0x2265),
    ("gt", 0x3E),
    ("hArr", 0x21D4),
    ("harr", 0x2194),
    ("hearts", 0x2665),
    ("hellip", 0x2026),
    ("iacute", 0xED),
    ("icirc", 0xEE),
    ("iexcl", 0xA1),
    ("igrave", 0xEC),
    ("image", 0x2111),
    ("infin", 0x221E),
    ("int", 0x222B),
    ("iota", 0x3B9),
    ("iquest", 0xBF),
    ("isin", 0x2208),
    ("iuml", 0xEF),
    ("kappa", 0x3BA),
    ("lArr", 0x21D0),
    ("lambda", 0x3BB),
    ("lang", 0x2329),
    ("laquo", 0xAB),
    ("larr", 0x2190),
    ("lceil", 0x2308),
    ("ldquo", 0x201C),
    ("le", 0x2264),
    ("lfloor", 0x230A),
    ("lowast", 0x2217),
    ("loz", 0x25CA),
    ("lrm", 0x200E),
    ("lsaquo", 0x2039),
    ("lsquo", 0x2018),
    ("lt", 0x3C),
    ("macr", 0xAF),
    ("mdash", 0x2014),
    ("micro", 0xB5),
    ("middot", 0xB7),
    ("minus", 0x2212),
    ("mu", 0x3BC),
    ("nabla", 0x2207),
    ("nbsp", 0xA0),
    ("ndash", 0x2013),
    ("ne", 0x2260),
    ("ni", 0x220B),
    ("not", 0xAC),
    ("notin", 0x2209),
    ("nsub", 0x2284),
    ("ntilde", 0xF1),
    ("nu", 0x3BD),
    ("oacute", 0xF3),
    ("ocirc", 0xF4),
    ("oelig", 0x153),
    ("ograve", 0xF2),
    ("oline", 0x203E),
    ("omega", 0x3C9),
    ("omicron", 0x3BF),
    ("oplus", 0x2295),
    ("or", 0x2228),
    ("ordf", 0xAA),
    ("ordm", 0xBA),
    ("oslash", 0xF8),
    ("otilde", 0xF5),
    ("otimes", 0x2297),
    ("ouml", 0xF6),
    ("para", 0xB6),
    ("part", 0x2202),
    ("permil", 0x2030),
    ("perp", 0x22A5),
    ("phi", 0x3C6),
    ("pi", 0x3C0),
    ("piv", 0x3D6),
    ("plusmn", 0xB1),
    ("pound", 0xA3),
    ("prime", 0x2032),
    ("prod", 0x220F),
    ("prop", 0x221D),
    ("psi", 0x3C8),
    ("quot", 0x22),
    ("rArr", 0x21D2),
    ("radic", 0x221A),
    ("rang", 0x232A),
    ("raquo", 0xBB),
    ("rarr", 0x2192),
    ("rceil", 0x2309),
    ("rdquo", 0x201D),
    ("real", 0x211C),
    ("reg", 0xAE),
    ("rfloor", 0x230B),
    ("rho", 0x3C1),
    ("rlm", 0x200F),
    ("rsaquo", 0x203A),
    ("rsquo", 0x2019),
    ("sbquo", 0x201A),
    ("scaron", 0x161),
    ("sdot", 0x22C5),
    ("sect", 0xA7),
    ("shy", 0xAD),
    ("sigma", 0x3C3),
    ("sigmaf", 0x3C2),
    ("sim", 0x223C),
    ("spades", 0x2660),
    ("sub", 0x2282),
    ("sube", 0x2286),
    ("sum", 0x2211),
    ("sup", 0x2283),
    ("sup1", 0xB9),
    ("sup2", 0xB2),
    ("sup3", 0xB3),
    ("supe", 0x2287),
    ("szlig", 0xDF),
    ("tau", 0x3C4),
    ("there4", 0x2234),
    ("theta", 0x3B8),
    ("thetasym", 0x3D1),
    ("thinsp", 0x2009),
    ("thorn", 0xFE),
    ("tilde", 0x2DC),
    ("times", 0xD7),
    ("trade", 0x2122),
    ("uArr", 0x21D1),
    ("uacute", 0xFA),
    ("uarr", 0x2191),
    ("ucirc", 0xFB),
    ("ugrave", 0xF9),
    ("uml", 0xA8),
    ("upsih", 0x3D2),
    ("upsilon", 0x3C5),
    ("uuml", 0xFC),
    ("weierp", 0x2118),
    ("xi", 0x3BE),
    ("yacute", 0xFD),
    ("yen", 0xA5),
    ("yuml", 0xFF),
    ("zeta", 0x3B6),
    ("zwj", 0x200D),
    ("zwnj", 0x200C),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn nltk_doc_examples() {
        let s = "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.";
        assert_eq!(
            wordpunct_tokenize(s).unwrap(),
            v(&[
                "Good", "muffins", "cost", "$", "3", ".", "88", "in", "New", "York", ".", "Please",
                "buy", "me", "two", "of", "them", ".", "Thanks", "."
            ])
        );
        let t = TweetTokenizer::default();
        assert_eq!(
            t.tokenize("This is a cooool #dummysmiley: :-) :-P <3 and some arrows < > -> <--")
                .unwrap(),
            v(&[
                "This",
                "is",
                "a",
                "cooool",
                "#dummysmiley",
                ":",
                ":-)",
                ":-P",
                "<3",
                "and",
                "some",
                "arrows",
                "<",
                ">",
                "->",
                "<--"
            ])
        );
        let t = TweetTokenizer::new(true, true, true, true).unwrap();
        assert_eq!(
            t.tokenize("@remy: This is waaaaayyyy too much for you!!!!!!")
                .unwrap(),
            v(&[
                ":", "This", "is", "waaayyy", "too", "much", "for", "you", "!", "!", "!"
            ])
        );
        let s = "Good muffins cost $3.88 (roughly 3,36 euros)\nin New York.  Please buy me\ntwo of them.\nThanks.";
        assert_eq!(
            treebank_word_tokenize(s).unwrap(),
            v(&[
                "Good", "muffins", "cost", "$", "3.88", "(", "roughly", "3,36", "euros", ")", "in",
                "New", "York.", "Please", "buy", "me", "two", "of", "them.", "Thanks", "."
            ])
        );
        assert_eq!(
            replace_html_entities("Price: &pound;100 &#x41;&#128;&#129;&x42;&bogus;").unwrap(),
            "Price: \u{a3}100 A\u{20ac}B"
        );
        assert!(matches!(
            replace_html_entities("&#xD800;"),
            Err(TextError::Unrepresentable { .. })
        ));
    }

    #[test]
    fn regexp_tokenizer() {
        let f = RegexpTokenizer::DEFAULT_FLAGS;
        let t = RegexpTokenizer::new(r"\w+|\$[\d\.]+|\S+", false, true, f).unwrap();
        assert_eq!(
            t.tokenize("Good $3.88 a.").unwrap(),
            v(&["Good", "$3.88", "a", "."])
        );
        let g = RegexpTokenizer::new(r"\s+", true, true, f).unwrap();
        assert_eq!(g.tokenize(" a  b ").unwrap(), v(&["a", "b"]));
        let g = RegexpTokenizer::new(r"\s+", true, false, f).unwrap();
        assert_eq!(g.tokenize(" a  b ").unwrap(), v(&["", "a", "b", ""]));
        let g = RegexpTokenizer::new(r"(x)|y", true, false, f).unwrap();
        assert!(matches!(
            g.tokenize("axbyc"),
            Err(TextError::Unrepresentable { .. })
        ));
        assert!(RegexpTokenizer::new(r"\w+", false, true, PyFlags::ASCII).is_err());
        assert!(RegexpTokenizer::new(r"\w*", false, true, f).is_err());
    }

    #[test]
    fn entity_table_is_sorted() {
        assert!(NAME2CODEPOINT.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
