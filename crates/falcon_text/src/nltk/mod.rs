//! NLTK's text operations, reproduced exactly (NLTK 3.10.4, CPython 3.11
//! string semantics): stemmers and tokenizers that users' own tokenizer
//! callables compose. Each module names the NLTK source it follows.

pub mod lancaster;
pub mod porter;
pub mod punkt;
pub mod snowball;
pub mod tokenize;
pub mod wordnet;
