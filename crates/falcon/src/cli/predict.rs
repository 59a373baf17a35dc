//! `falcon predict`: JSON Lines in, one prediction line out per input line.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use falcon_engine::{Input, Model};
use serde::Deserialize;

/// Lines longer than this are answered with an error instead of buffered.
const MAX_LINE_BYTES: usize = 64 << 20;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model file (joblib or pickle). Repeat it for a model saved in pieces
    /// (`--model vectorizer.joblib --model classifier.joblib`): the files'
    /// estimators are chained in the order given. `FALCON_MODEL` takes the
    /// same list separated by commas.
    #[arg(long, env = "FALCON_MODEL", required = true, value_delimiter = ',')]
    model: Vec<PathBuf>,
    /// Rename classes in the output: a JSON object (`{"0": "ham"}`, file
    /// ending in .json) or TOML (`0 = "ham"`, or the `[labels]` table of a
    /// repository `config.toml`). Keys are Python's `str(class)`.
    #[arg(long, env = "FALCON_LABELS", value_name = "FILE")]
    labels: Option<PathBuf>,
    /// JSON Lines input, one `{"text": "..."}` per line (default: stdin);
    /// for a model whose first step is a `ColumnTransformer`, one record
    /// per line whose keys are its columns (`{"title": "...", "body": "..."}`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Add the K n-grams that contributed most to the predicted class.
    #[arg(long, value_name = "K")]
    explain: Option<usize>,
    #[command(flatten)]
    code: super::code::CodeArgs,
}

/// Other fields (an id, a label) are allowed and ignored.
#[derive(Deserialize)]
struct InputLine {
    text: String,
}

/// Loads a model from its file(s), chained in order, with its classes
/// renamed by a `--labels` file.
pub(crate) fn load_model(
    paths: &[PathBuf],
    labels: Option<&Path>,
    code: &falcon_engine::TextCode,
) -> anyhow::Result<Model> {
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ");
    anyhow::ensure!(!paths.is_empty(), "no --model given");
    let mut model =
        Model::load_chain_with(paths, code).with_context(|| format!("loading {shown}"))?;
    if let Some(file) = labels {
        let mapping = falcon_server::config::read_labels_file(file).map_err(anyhow::Error::msg)?;
        model
            .rename_classes(&mapping)
            .with_context(|| format!("{}", file.display()))?;
    }
    Ok(model)
}

pub fn run(args: PredictArgs) -> anyhow::Result<ExitCode> {
    let model = load_model(&args.model, args.labels.as_deref(), &args.code.load()?)?;
    crate::memory::release_freed();
    let reader: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    let mut failures = 0usize;
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let (n, truncated) = read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if !truncated && buf.iter().all(u8::is_ascii_whitespace) {
            continue; // blank lines carry no input and get no answer
        }
        match answer(&model, &buf, truncated, args.explain) {
            Ok(json) => out.write_all(json.as_bytes())?,
            Err(msg) => {
                failures += 1;
                eprintln!("line {line_no}: {msg}");
                let err = serde_json::json!({ "line": line_no, "error": msg });
                serde_json::to_writer(&mut out, &err)?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failures} of {line_no} lines failed");
        ExitCode::from(1)
    })
}

fn answer(
    model: &Model,
    line: &[u8],
    truncated: bool,
    explain: Option<usize>,
) -> Result<String, String> {
    if truncated {
        return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8: {e}"))?;
    // A record model reads every key of the line as a column (an unknown
    // key is an error naming it); a text model reads `text`.
    let record: Vec<(String, String)>;
    let pairs: Vec<(&str, &str)>;
    let input_line: InputLine;
    let input = match model.input_columns() {
        Some(columns) => {
            record = parse_record(text, columns)?;
            pairs = record
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            Input::Record(&pairs)
        }
        None => {
            input_line = serde_json::from_str(text)
                .map_err(|e| format!("expected a JSON object {{\"text\": \"...\"}}: {e}"))?;
            Input::Text(&input_line.text)
        }
    };
    let json = match explain {
        None => {
            let o = model.predict_output(input).map_err(|e| e.to_string())?;
            serde_json::to_string(&model.view_output(&o))
        }
        Some(k) => {
            let (p, contribs) = model.explain_input(input, k).map_err(|e| e.to_string())?;
            serde_json::to_string(&model.view(&p).with_explanation(&contribs))
        }
    };
    json.map_err(|e| e.to_string())
}

/// A JSON object of text columns, for a model reading `columns`.
fn parse_record(line: &str, columns: &[String]) -> Result<Vec<(String, String)>, String> {
    let expected = || {
        let keys: Vec<String> = columns.iter().map(|c| format!("{c:?}: \"...\"")).collect();
        format!("expected a JSON object {{{}}}", keys.join(", "))
    };
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("{}: {e}", expected()))?;
    obj.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            other => Err(format!(
                "column {k:?} is {other}, not a string ({})",
                expected()
            )),
        })
        .collect()
}

/// Reads one `\n`-terminated line into `buf`, keeping at most `max` bytes;
/// the rest of an over-long line is consumed and dropped. Returns the bytes
/// read (0 at end of input) and whether the line was cut.
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut total = 0;
    let mut truncated = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok((total, truncated));
        }
        let (take, content, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, i, true),
            None => (chunk.len(), chunk.len(), false),
        };
        // The limit applies to the line's content, not its terminator.
        let keep = content.min(max.saturating_sub(buf.len()));
        buf.extend_from_slice(&chunk[..keep]);
        truncated |= keep < content;
        total += take;
        r.consume(take);
        if done {
            if !truncated && buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok((total, truncated));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = std::io::Cursor::new(b"abc\r\ndefghij\nk".to_vec());
        let mut buf = Vec::new();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 4).unwrap(), (5, false));
        assert_eq!(buf, b"abc");
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 4).unwrap(), (8, true));
        assert_eq!(buf, b"defg");
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 4).unwrap(), (1, false));
        assert_eq!(buf, b"k");
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 4).unwrap(), (0, false));
    }
}
