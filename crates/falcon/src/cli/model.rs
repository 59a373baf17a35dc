//! `falcon model inspect|bench`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(clap::Subcommand)]
pub enum ModelCommand {
    /// Steps, parameters, vocabulary size, classes, memory footprint, and
    /// whether the model can be served (and if not, exactly why).
    Inspect {
        /// The model file; several for a model saved in pieces, chained in
        /// the order given (`vectorizer.joblib classifier.joblib`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        code: super::code::CodeArgs,
    },
    /// Check declarations of your own text code (`--callables`) against the
    /// real Python code: runs your interpreter on sample texts and compares
    /// every token, label and score. Exit 0 only when all are identical.
    Verify(Box<super::verify::VerifyArgs>),
    /// Per-text prediction latency over a JSON Lines file of `{"text"}`.
    Bench {
        /// Model file; repeat it for a model saved in pieces (in chain
        /// order), as for `falcon predict`.
        #[arg(long, env = "FALCON_MODEL", required = true, value_delimiter = ',')]
        model: Vec<PathBuf>,
        #[arg(long)]
        input: PathBuf,
        /// Passes over the input (after one warm-up pass).
        #[arg(long, default_value_t = 3)]
        passes: usize,
        /// Print JSON (`n`, `median_us`, `p90_us`, `p99_us`, `mean_us`).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        code: super::code::CodeArgs,
    },
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelCommand::Inspect { paths, json, code } => inspect(&paths, json, &code.load()?),
        ModelCommand::Verify(args) => super::verify::run(*args),
        ModelCommand::Bench {
            model,
            input,
            passes,
            json,
            code,
        } => bench(model, input, passes, json, &code),
    }
}

fn inspect(
    paths: &[PathBuf],
    json: bool,
    code: &falcon_engine::TextCode,
) -> anyhow::Result<ExitCode> {
    let i = falcon_engine::inspect_chain_with(paths, code);
    if json {
        println!("{}", serde_json::to_string_pretty(&i)?);
    } else {
        if i.files.len() > 1 {
            println!(
                "files:       {} files, {} bytes",
                i.files.len(),
                i.file_bytes
            );
            for (n, f) in i.files.iter().enumerate() {
                println!("  {}. {f}", n + 1);
            }
        } else {
            println!("file:        {} ({} bytes)", i.path, i.file_bytes);
        }
        println!("supported:   {}", if i.supported { "yes" } else { "no" });
        if let Some(r) = &i.reason {
            println!("reason:      {r}");
        }
        if let Some(p) = &i.provenance {
            println!("provenance:  {p}");
        }
        if let Some(s) = &i.search {
            println!("search:      {s}");
        }
        println!("load time:   {:.1} ms", i.load_time_ms);
        if let Some(n) = i.n_features {
            println!("features:    {n}");
        }
        if !i.classes.is_empty() {
            println!("classes:     {}", i.classes.join(", "));
        }
        if let Some(m) = i.memory_bytes {
            println!(
                "memory:      {:.1} MiB of fitted parameters ({:.2}x the file)",
                m as f64 / (1 << 20) as f64,
                m as f64 / i.file_bytes.max(1) as f64
            );
        }
        println!("steps:");
        for s in &i.steps {
            println!("  {s}");
        }
    }
    Ok(if i.supported {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[derive(Deserialize)]
struct Line {
    text: String,
}

#[derive(Serialize)]
struct BenchResult {
    n: usize,
    passes: usize,
    median_us: f64,
    p90_us: f64,
    p99_us: f64,
    mean_us: f64,
    load_ms: f64,
}

fn bench(
    model: Vec<PathBuf>,
    input: PathBuf,
    passes: usize,
    json: bool,
    code: &super::code::CodeArgs,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let m = super::predict::load_model(&model, None, &code.load()?)?;
    crate::memory::release_freed();
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let file =
        std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
    let mut texts = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", input.display(), i + 1))?;
        texts.push(l.text);
    }
    anyhow::ensure!(!texts.is_empty(), "{} has no texts", input.display());
    // `predict_output` serves every model shape (one label, several
    // labels, one per output); for single-label models it is `predict`.
    for t in &texts {
        std::hint::black_box(m.predict_output(falcon_engine::Input::Text(t))?);
    }
    let mut times = Vec::with_capacity(texts.len() * passes.max(1));
    for _ in 0..passes.max(1) {
        for t in &texts {
            let s = Instant::now();
            std::hint::black_box(
                m.predict_output(falcon_engine::Input::Text(std::hint::black_box(t)))?,
            );
            times.push(s.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let r = BenchResult {
        n: texts.len(),
        passes: passes.max(1),
        median_us: q(0.5),
        p90_us: q(0.9),
        p99_us: q(0.99),
        mean_us: times.iter().sum::<f64>() / times.len() as f64,
        load_ms,
    };
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} texts x {} passes: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, mean {:.1} µs (load {:.0} ms)",
            r.n, r.passes, r.median_us, r.p90_us, r.p99_us, r.mean_us, r.load_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
