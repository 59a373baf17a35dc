//! Feeds arbitrary text (the request body's text, which anyone can send)
//! through every built-in operation a declaration of the user's own text
//! code can use (`falcon_engine::custom`): str/re operations, token
//! filters, the Porter (three modes), Snowball and Lancaster stemmers,
//! `wordpunct_tokenize`, the Treebank word tokenizer, `TweetTokenizer` and
//! `RegexpTokenizer`. Each must return `Ok` or `Err` (a backtracking budget
//! spent): never panic, hang or allocate without bound. The NLTK data
//! operations (Punkt, WordNet) need a data directory and are covered by
//! their parity fixtures.
#![no_main]

use std::sync::OnceLock;

use falcon_engine::{Resources, TextCode, TextValue};
use libfuzzer_sys::fuzz_target;

const DECLARATIONS: &str = r#"
[callables."fuzz.clean"]
steps = [
  { op = "re.sub", pattern = 'https?://\S+|www\.\S+', repl = " url " },
  { op = "re.sub", pattern = '(@)(\w+)', repl = '\g<2>\1', count = 3 },
  "str.lower",
  { op = "str.strip", chars = " .!" },
  "str.split",
  { op = "str.join", sep = " " },
]

[callables."fuzz.stems"]
steps = [
  { op = "re.findall", pattern = '\w+', flags = "I" },
  { op = "keep_if", min_len = 2, max_len = 40 },
  { op = "drop_if", test = "str.isdigit" },
  { op = "drop_stop_words", list = "sklearn.english", words = ["subject"] },
  "PorterStemmer.stem",
  { op = "PorterStemmer.stem", mode = "MARTIN_EXTENSIONS", to_lowercase = false },
  { op = "PorterStemmer.stem", mode = "ORIGINAL_ALGORITHM" },
  "SnowballStemmer.stem",
  { op = "LancasterStemmer.stem", strip_prefix_flag = true },
]

[callables."fuzz.splits"]
steps = [
  { op = "re.split", pattern = '[/\-.]+', maxsplit = 50 },
  { op = "str.split", sep = "_", maxsplit = 3 },
  { op = "keep_if", test = "str.isalnum" },
]

[callables."fuzz.treebank"]
steps = [{ op = "nltk.word_tokenize", preserve_line = true }, "LancasterStemmer.stem"]

[callables."fuzz.wordpunct"]
steps = ["nltk.wordpunct_tokenize", { op = "keep_if", test = "str.isalpha" }]

[callables."fuzz.tweet"]
steps = [{ op = "TweetTokenizer.tokenize", preserve_case = false, reduce_len = true, strip_handles = true }]

[callables."fuzz.regexp"]
steps = [{ op = "RegexpTokenizer.tokenize", pattern = '\s+', gaps = true }]
"#;

fn code() -> &'static TextCode {
    static CODE: OnceLock<TextCode> = OnceLock::new();
    CODE.get_or_init(|| {
        TextCode::parse(DECLARATIONS, &Resources::default()).expect("the declarations compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let code = code();
    for name in code.names() {
        match code.run(name, text) {
            Ok(TextValue::Str(s)) => assert!(s.len() <= 16 * text.len() + 64, "{name}"),
            Ok(TextValue::Tokens(t)) => {
                assert!(t.iter().map(String::len).sum::<usize>() <= 16 * text.len() + 64, "{name}")
            }
            Err(_) => {}
        }
    }
});
