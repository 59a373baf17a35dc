//! `falcon model verify`: checks declarations of the user's own text code
//! against the real code, before they are served.
//!
//! The user's Python (`--python`, their interpreter, packages and modules)
//! runs in a subprocess with `verify.py`, which prints what the real
//! callables return on each sample text and what the real model predicts.
//! Falcon computes the same from the declarations and compares token by
//! token and score by score. This is the only place Falcon runs Python,
//! and only because the user asked: serving never does.
//!
//! Exit status: 0 only when every callable output is identical, every
//! label identical and every score within 1e-9 (Falcon's exactness
//! contract); 1 when something differs or cannot be checked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use falcon_engine::{Input, Model, Output, TextCode, TextValue};
use serde::Deserialize;
use serde_json::Value;

use super::code::CodeArgs;

/// The Python side, shipped inside the binary.
const VERIFY_PY: &str = include_str!("verify.py");

/// Largest answer read from the Python side (the texts' token lists).
const MAX_OUTPUT: u64 = 512 << 20;
/// Largest `--texts` file.
const MAX_TEXTS_FILE: u64 = 64 << 20;
/// Most texts one run compares.
const MAX_TEXTS: usize = 100_000;
/// Scores may differ by this much (Falcon's exactness contract).
const SCORE_TOLERANCE: f64 = 1e-9;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The model file(s), chained in order as for `falcon predict`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    code: CodeArgs,
    /// The Python interpreter of the environment the model was trained in
    /// (a venv's `bin/python`): it must import the user's code,
    /// scikit-learn and NLTK.
    #[arg(long, env = "FALCON_VERIFY_PYTHON", value_name = "PATH")]
    python: PathBuf,
    /// A Python file defining the callables (the training script or the
    /// module the pickle names). It runs with `__name__` set to something
    /// other than `"__main__"`, its names are copied into `__main__` (where
    /// a training script's functions are pickled from) and its directory
    /// is put on `sys.path`. Repeatable.
    #[arg(long = "module", value_name = "FILE")]
    modules: Vec<PathBuf>,
    /// Sample texts: JSON Lines (`{"text": ...}` or a JSON string per line)
    /// when the file ends in `.jsonl`/`.json`, otherwise one text per line.
    /// Default: Falcon's built-in sample of e-mails, tweets, URLs, HTML and
    /// hostile Unicode.
    #[arg(long, value_name = "FILE")]
    texts: Option<PathBuf>,
    /// Stop the Python side after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What `verify.py` prints.
#[derive(Deserialize)]
struct PyAnswer {
    error: Option<String>,
    #[serde(default)]
    versions: serde_json::Map<String, Value>,
    #[serde(default)]
    results: Vec<PyResult>,
}

#[derive(Deserialize)]
struct PyResult {
    callables: serde_json::Map<String, Value>,
    preprocess: Option<Value>,
    label: Option<String>,
    scores: Option<Vec<f64>>,
    score_kind: Option<String>,
    model_raised: Option<String>,
}

/// One comparison's outcome, for the report.
#[derive(serde::Serialize, Default)]
struct Check {
    what: String,
    texts: usize,
    identical: usize,
    /// The first difference, described.
    first_difference: Option<String>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let code = args.code.load()?;
    if code.is_empty() {
        bail!("nothing to verify: give the declarations with --callables FILE");
    }
    if code.has_preprocess() && code.preprocess_callable().is_none() {
        // Without the real function, Python would predict on the raw text
        // and Falcon on the preprocessed one: every score would differ.
        bail!(
            "[preprocess] names no `callable`: give the real function (callable = \"module.name\") so verify can apply it on the Python side too"
        );
    }
    let model = Model::load_chain_with(&args.paths, &code).context("loading the model")?;
    let texts = read_texts(args.texts.as_deref())?;
    let names: Vec<String> = code.names().map(str::to_string).collect();
    let request = serde_json::json!({
        "model": args.paths.iter().map(|p| absolute(p)).collect::<Vec<_>>(),
        "modules": args.modules.iter().map(|p| absolute(p)).collect::<Vec<_>>(),
        "callables": names,
        "preprocess": code.preprocess_callable(),
        "texts": texts,
    });
    let started = Instant::now();
    let answer = run_python(
        &args.python,
        args.code.nltk_data.as_deref(),
        &serde_json::to_vec(&request)?,
        Duration::from_secs(args.timeout_secs),
    )?;
    let python_secs = started.elapsed().as_secs_f64();
    if let Some(e) = answer.error {
        bail!("the Python side failed: {e}");
    }
    if answer.results.len() != texts.len() {
        bail!(
            "the Python side answered {} texts of {}",
            answer.results.len(),
            texts.len()
        );
    }
    let started = Instant::now();
    let checks = compare(&code, &model, &names, &texts, &answer.results)?;
    let falcon_secs = started.elapsed().as_secs_f64();
    let ok = checks.iter().all(|c| c.first_difference.is_none());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "identical": ok,
                "texts": texts.len(),
                "versions": answer.versions,
                "checks": checks,
                "python_seconds": python_secs,
                "falcon_seconds": falcon_secs,
            }))?
        );
    } else {
        let versions: Vec<String> = answer
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
            .collect();
        println!(
            "verify: {} texts against the real code ({})",
            texts.len(),
            versions.join(", ")
        );
        for c in &checks {
            match &c.first_difference {
                None => println!("  ok    {}: {}/{} identical", c.what, c.identical, c.texts),
                Some(d) => println!(
                    "  DIFF  {}: {}/{} identical; first difference: {d}",
                    c.what, c.identical, c.texts
                ),
            }
        }
        if ok {
            println!("identical: the declarations reproduce the Python code on every sample text");
        } else {
            println!(
                "NOT identical: fix the declaration (or report a Falcon bug) before serving it"
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Runs `verify.py` in the user's interpreter with `request` on stdin,
/// bounded in time and output size. With `--nltk-data`, NLTK on the Python
/// side reads the same directory (`NLTK_DATA`), so both sides compute from
/// the same data.
fn run_python(
    python: &Path,
    nltk_data: Option<&Path>,
    request: &[u8],
    timeout: Duration,
) -> anyhow::Result<PyAnswer> {
    let mut cmd = Command::new(python);
    if let Some(dir) = nltk_data {
        cmd.env(
            "NLTK_DATA",
            std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        );
    }
    let mut child = cmd
        .arg("-c")
        .arg(VERIFY_PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    let mut stdin = child.stdin.take().context("python stdin")?;
    let request = request.to_vec();
    // Written from a thread: a large request would fill the pipe while
    // Python, not reading yet, fills its stdout.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&request);
    });
    let mut stdout = child.stdout.take().context("python stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut stdout).take(MAX_OUTPUT + 1).read_to_end(&mut buf);
        r.map(|_| buf)
    });
    let mut stderr = child.stderr.take().context("python stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(1 << 20).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the Python side ran longer than {}s (--timeout-secs)",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let out = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reading python's output"))??;
    let err = err_reader.join().unwrap_or_default();
    if out.len() as u64 > MAX_OUTPUT {
        bail!("the Python side printed more than {MAX_OUTPUT} bytes");
    }
    if !status.success() {
        bail!(
            "{} exited with {status}: {}",
            python.display(),
            String::from_utf8_lossy(&err).trim()
        );
    }
    serde_json::from_slice(&out).with_context(|| {
        format!(
            "the Python side's answer is not JSON (stderr: {})",
            String::from_utf8_lossy(&err).trim()
        )
    })
}

/// The sample texts.
fn read_texts(path: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let Some(path) = path else {
        return Ok(SAMPLE_TEXTS.iter().map(|s| s.to_string()).collect());
    };
    let len = std::fs::metadata(path)
        .with_context(|| format!("--texts {}", path.display()))?
        .len();
    if len > MAX_TEXTS_FILE {
        bail!(
            "--texts {}: {len} bytes, at most {MAX_TEXTS_FILE}",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--texts {}", path.display()))?;
    let json = path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if json {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line)
                .with_context(|| format!("--texts {} line {}", path.display(), i + 1))?;
            match v {
                Value::String(s) => out.push(s),
                Value::Object(mut o) => match o.remove("text") {
                    Some(Value::String(s)) => out.push(s),
                    _ => bail!(
                        "--texts {} line {}: an object needs a \"text\" string",
                        path.display(),
                        i + 1
                    ),
                },
                _ => bail!(
                    "--texts {} line {}: a JSON string or {{\"text\": ...}}",
                    path.display(),
                    i + 1
                ),
            }
        } else {
            out.push(line.to_string());
        }
        if out.len() > MAX_TEXTS {
            bail!("--texts {}: more than {MAX_TEXTS} texts", path.display());
        }
    }
    if out.is_empty() {
        bail!("--texts {}: no texts", path.display());
    }
    Ok(out)
}

/// Compares every callable, the preprocess step and the predictions.
fn compare(
    code: &TextCode,
    model: &Model,
    names: &[String],
    texts: &[String],
    results: &[PyResult],
) -> anyhow::Result<Vec<Check>> {
    let mut checks: Vec<Check> = names
        .iter()
        .map(|n| Check {
            what: n.clone(),
            ..Default::default()
        })
        .collect();
    let mut pre = code.has_preprocess().then(|| Check {
        what: format!(
            "preprocess ({})",
            code.preprocess_callable()
                .unwrap_or("no callable named: not compared")
        ),
        ..Default::default()
    });
    let mut labels = Check {
        what: "model labels".into(),
        ..Default::default()
    };
    let mut scores = Check {
        what: "model scores (|Δ| ≤ 1e-9)".into(),
        ..Default::default()
    };
    let mut max_delta = 0.0f64;
    for (i, (text, r)) in texts.iter().zip(results).enumerate() {
        let shown = preview(text);
        for (c, name) in checks.iter_mut().zip(names) {
            c.texts += 1;
            let real = r.callables.get(name);
            let ours = code.run(name, text);
            match diff_value(real, ours) {
                None => c.identical += 1,
                Some(d) if c.first_difference.is_none() => {
                    c.first_difference = Some(format!("text {} ({shown}): {d}", i + 1));
                }
                Some(_) => {}
            }
        }
        if let Some(p) = &mut pre {
            p.texts += 1;
            let ours = code
                .run_preprocess(text)
                .map(|o| TextValue::Str(o.unwrap_or_default()));
            match diff_value(r.preprocess.as_ref(), ours) {
                None => p.identical += 1,
                Some(d) if p.first_difference.is_none() => {
                    p.first_difference = Some(format!("text {} ({shown}): {d}", i + 1));
                }
                Some(_) => {}
            }
        }
        labels.texts += 1;
        scores.texts += 1;
        let ours = model.predict_output(Input::Text(text));
        let (label_diff, score_diff) = match (&r.model_raised, ours) {
            // Both refuse this text: nothing differs.
            (Some(_), Err(_)) => (None, None),
            (Some(e), Ok(_)) => (Some(format!("Python raised {e}, Falcon predicted")), None),
            (None, Err(e)) => (Some(format!("Falcon failed: {e}")), None),
            (None, Ok(Output::Single(p))) => {
                let name = model.classes()[p.label].name().to_string();
                let ld = (r.label.as_deref() != Some(name.as_str())).then(|| {
                    format!(
                        "Python {:?}, Falcon {name:?}",
                        r.label.as_deref().unwrap_or("?")
                    )
                });
                let ours = match r.score_kind.as_deref() {
                    Some("proba") => p.probabilities.clone(),
                    Some("decision") => p.decision.clone(),
                    _ => None,
                };
                let sd = match (&r.scores, ours) {
                    (None, None) => None,
                    (Some(a), Some(b)) if a.len() == b.len() => {
                        let d = a
                            .iter()
                            .zip(&b)
                            .map(|(x, y)| (x - y).abs())
                            .fold(0.0f64, f64::max);
                        max_delta = max_delta.max(d);
                        (d > SCORE_TOLERANCE || d.is_nan())
                            .then(|| format!("Python {a:?}, Falcon {b:?} (|Δ| = {d:e})"))
                    }
                    (a, b) => Some(format!("Python {a:?}, Falcon {b:?}")),
                };
                (ld, sd)
            }
            (None, Ok(_)) => bail!("verify compares single-output models only"),
        };
        for (c, d) in [(&mut labels, label_diff), (&mut scores, score_diff)] {
            match d {
                None => c.identical += 1,
                Some(d) if c.first_difference.is_none() => {
                    c.first_difference = Some(format!("text {} ({shown}): {d}", i + 1));
                }
                Some(_) => {}
            }
        }
    }
    scores.what = format!(
        "model scores (|Δ| ≤ 1e-9; largest {max_delta:.1e}, {})",
        results
            .iter()
            .find_map(|r| r.score_kind.as_deref())
            .unwrap_or("none")
    );
    checks.extend(pre);
    checks.push(labels);
    checks.push(scores);
    Ok(checks)
}

/// The first difference between the real callable's answer and Falcon's,
/// or `None` when identical.
fn diff_value(real: Option<&Value>, ours: falcon_engine::Result<TextValue>) -> Option<String> {
    let real = match real {
        None => return Some("the Python side gave no answer".into()),
        Some(Value::Object(o)) => o,
        Some(other) => return Some(format!("unexpected answer {other}")),
    };
    if let Some(Value::String(e)) = real.get("raised") {
        return match ours {
            Err(_) => None,
            Ok(_) => Some(format!("Python raised {e}; Falcon returned a value")),
        };
    }
    let ours = match ours {
        Ok(v) => v,
        Err(e) => return Some(format!("Falcon failed: {e}")),
    };
    match (real.get("ok"), ours) {
        (Some(Value::String(a)), TextValue::Str(b)) => {
            (a != &b).then(|| format!("Python {:?}, Falcon {:?}", preview(a), preview(&b)))
        }
        (Some(Value::Array(a)), TextValue::Tokens(b)) => {
            for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                if x.as_str() != Some(y.as_str()) {
                    return Some(format!("token {}: Python {x}, Falcon {y:?}", k + 1));
                }
            }
            (a.len() != b.len()).then(|| {
                let k = a.len().min(b.len());
                format!(
                    "Python returned {} tokens, Falcon {} (next: Python {}, Falcon {:?})",
                    a.len(),
                    b.len(),
                    a.get(k).map_or("-".to_string(), |v| v.to_string()),
                    b.get(k).map_or("-", String::as_str)
                )
            })
        }
        (Some(Value::String(_)), TextValue::Tokens(_)) => {
            Some("Python returned a str, the declaration returns tokens".into())
        }
        (Some(Value::Array(_)), TextValue::Str(_)) => {
            Some("Python returned a list, the declaration returns a str".into())
        }
        (other, _) => Some(format!("unexpected answer {other:?}")),
    }
}

/// A text shortened for a report line.
fn preview(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t:?}…")
    } else {
        format!("{t:?}")
    }
}

/// The built-in sample: the shapes of text the surveyed projects serve
/// (e-mails, tweets, reviews, URLs, HTML) and the hostile cases that
/// separate an exact reproduction from a close one.
const SAMPLE_TEXTS: &[&str] = &[
    "",
    " ",
    "hello",
    "Subject: meeting tomorrow\n\nHi, can we move our meeting to 3pm? Thanks, Ann",
    "FREE!!! Click here to claim your $1000 prize now: http://example.com/win",
    "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward! To claim call 09061701461. Claim code KL341. Valid 12 hours only.",
    "@united thanks for the quick response!! #travel https://t.co/abc123 :-) :D <3",
    "I loooooove this sooo much 😍😍 @bestfriend you HAVE to try it!!! #blessed",
    "RT @user: Breaking news... The markets are down 3.5% today; analysts say it's \"temporary\".",
    "The movie wasn't good. It wasn't bad either... I'd give it 3/10. Mr. Smith's acting was O.K.",
    "<html><body><p>Dear customer,</p><br/>Your account &amp; password expire <b>today</b>.</body></html>",
    "http://www.paypal.com.secure-login.example.ru/webscr/cmd=_login-run&dispatch=5885d80a13c0db1f",
    "https://en.wikipedia.org/wiki/Natural-language_processing",
    "google.com/search?q=falcon+rust",
    "bit.ly/3xYz-AbC",
    "Running runners ran quickly; the geese were flying over the churches and ponies.",
    "Dr. Jones arrived at 5 p.m. on Jan. 3rd. She said: \"It's fine.\" Then she left.",
    "They'd've known if you'd told 'em. Don't! Can't? Won't... gonna wanna gotta",
    "Prices: $5.99, €10, ¥1000, 50% off!! Call (555) 123-4567 or +1 800 555 0199 now",
    "e-mail me at john.doe@example.com or visit www.example.org/page.html?x=1&y=2",
    "naïve café résumé fiancée coöperate façade jalapeño Ångström",
    "İstanbul ǅemal STRASSE straße ﬁle ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
    "数据 科学 ١٢٣ ²³ ½ Ⅻ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "tab\tseparated\u{a0}non-breaking\u{2003}em-space\u{200b}zero-width",
    "line one\r\nline two\rline three\u{2028}line four\u{85}line five",
    "emoji 👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇩🇪 keycap 1️⃣",
    "ALL CAPS SHOUTING IS ANNOYING!!!",
    "   leading and trailing whitespace   ",
    "a",
    "I",
    "the of and to in is it you that he was for on are with as",
    "12345 67890 3.14159 1e10 0x1F",
    "This product is amazing, works as described and arrived on time. Five stars!",
    "Terrible customer service. I waited 45 minutes and nobody answered. Never again.",
    "Congratulations! You've won a free iPhone 15. Reply YES to claim.",
    "Can you send me the report by Friday? Also, lunch next week?",
    "#MachineLearning #NLP #DataScience are trending topics in 2024 @kaggle",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u{0}nul\u{7f}del\u{1b}[31mansi",
    "quotes ``like this'' and “curly” ‘single’ — dashes – and … ellipsis",
];
