//! Loads a model file and reports how long it took and what is inside.
//!
//! ```text
//! cargo run --release -p falcon_pickle --example load_model -- model.joblib [module.Class ...]
//! ```
//!
//! The scikit-learn text-classification classes are allowed by default;
//! extra `module.Class` arguments are allowed too.

use std::time::Instant;

use falcon_pickle::{Policy, Value, load_path};

fn summary(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(o) => {
            out.push_str(&format!("{pad}{}\n", o.class));
            if let Some(state) = o.state_dict() {
                for (k, v) in state {
                    let k = k.as_str().unwrap_or("?");
                    match v {
                        Value::Object(_) | Value::List(_) | Value::Tuple(_) if depth < 6 => {
                            out.push_str(&format!("{pad}  .{k}:\n"));
                            summary(v, depth + 2, out);
                        }
                        _ => out.push_str(&format!("{pad}  .{k}: {}\n", short(v))),
                    }
                }
            }
        }
        Value::List(items) | Value::Tuple(items) => {
            for item in items {
                summary(item, depth, out);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", short(other))),
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("ndarray {} shape {:?}", a.dtype, a.shape),
        Value::Dict(d) => format!("dict of {} items", d.len()),
        Value::Str(s) if s.len() > 60 => format!("str of {} bytes", s.len()),
        other => {
            let s = format!("{other:?}");
            if s.len() > 80 {
                format!("{}...", &s[..77.min(s.len())])
            } else {
                s
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_model FILE [module.Class ...]");
        std::process::exit(2);
    };
    let mut policy = Policy::new();
    policy
        .allow("sklearn.pipeline", "Pipeline")
        .allow("sklearn.feature_extraction.text", "TfidfVectorizer")
        .allow("sklearn.feature_extraction.text", "TfidfTransformer")
        .allow("sklearn.feature_extraction.text", "CountVectorizer")
        .allow("sklearn.linear_model._logistic", "LogisticRegression");
    for class in args {
        if let Some((module, name)) = class.rsplit_once('.') {
            policy.allow(module, name);
        }
    }
    let start = Instant::now();
    match load_path(path.as_ref(), &policy) {
        Ok(value) => {
            let elapsed = start.elapsed();
            let mut out = String::new();
            summary(&value, 0, &mut out);
            print!("{out}");
            println!("loaded {path} in {:.1} ms", elapsed.as_secs_f64() * 1e3);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
