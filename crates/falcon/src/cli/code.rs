//! `--callables` and `--nltk-data`: the declarations of the user's own text
//! code for the commands that load a model from files (`predict`, `model
//! inspect|bench|verify`). `falcon serve` reads them from each model's
//! `config.toml` instead.

use std::path::PathBuf;

use anyhow::Context;
use falcon_engine::{Resources, TextCode};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct CodeArgs {
    /// Declarations of the Python callables the model names (tokenizer,
    /// preprocessor, custom steps) and of a `preprocess` step: a TOML file
    /// with `[callables."module.name"]` and `[preprocess]` tables, or a
    /// model's `config.toml` holding them. See the README, "Your own text
    /// code".
    #[arg(long, env = "FALCON_CALLABLES", value_name = "FILE")]
    pub callables: Option<PathBuf>,
    /// NLTK's data directory (as `python -m nltk.downloader -d DIR` fills
    /// it) for declarations that use `nltk.word_tokenize` (punkt_tab),
    /// `WordNetLemmatizer` (wordnet) or NLTK's stop words. Never downloaded.
    #[arg(long, env = "FALCON_NLTK_DATA", value_name = "DIR")]
    pub nltk_data: Option<PathBuf>,
}

impl CodeArgs {
    /// Compiles the declarations (none without `--callables`). A model's
    /// `config.toml` may be given: only its `callables` and `preprocess`
    /// are read.
    pub fn load(&self) -> anyhow::Result<TextCode> {
        let Some(path) = &self.callables else {
            return Ok(TextCode::none());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --callables {}", path.display()))?;
        let res = Resources::new(
            self.nltk_data.clone(),
            falcon_engine::custom::base_dir_of(path),
        );
        // A model's config.toml holds other settings too; any other file
        // is a declaration file, whose unknown keys are refused (a typo
        // must not declare nothing).
        let code = if path.file_name().is_some_and(|n| n == "config.toml") {
            let doc: toml::Table = toml::from_str(&text)
                .with_context(|| format!("{}: not valid TOML", path.display()))?;
            TextCode::from_tables(doc.get("callables"), doc.get("preprocess"), &res, &text)
        } else {
            TextCode::parse(&text, &res)
        };
        code.with_context(|| format!("{}", path.display()))
    }
}
