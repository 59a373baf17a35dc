//! Quick timing of the hot path (no criterion dependency): `cargo bench -p falcon_text`.
//!
//! Prints the mean time per call for a ~3 KB, mostly-ASCII email.

use falcon_text::{PyRegex, py_lower, strip_accents_unicode, white_spaces_collapse};
use std::hint::black_box;
use std::time::Instant;

fn email() -> String {
    let para = "Hello John, thanks for the QUARTERLY report attached. Please review the numbers \
                before Friday's meeting: revenue grew 12.5% to $1,234,567 and the café budget \
                (Straße office) is still pending. Click http://example.com/unsubscribe?id=42 \
                to stop receiving these e-mails!!! Regards, Jane_Doe -- sent from my phone.\n\n";
    let mut s = String::from(
        "From: jane.doe@example.com\nTo: team@example.org\nSubject: Re: Fwd: report\n\n",
    );
    while s.len() < 3000 {
        s.push_str(para);
    }
    s
}

fn time<F: FnMut()>(name: &str, iters: u32, mut f: F) {
    for _ in 0..iters / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    let per = t.elapsed() / iters;
    println!("{name:<45} {per:>10.2?}");
}

fn main() {
    let text = email();
    println!("text: {} bytes", text.len());
    let mut buf = String::with_capacity(text.len() * 2);
    time("py_lower", 20_000, || {
        buf.clear();
        py_lower(black_box(&text), &mut buf);
    });
    time("strip_accents_unicode", 20_000, || {
        buf.clear();
        strip_accents_unicode(black_box(&text), &mut buf);
    });
    time("white_spaces_collapse", 20_000, || {
        buf.clear();
        white_spaces_collapse(black_box(&text), &mut buf);
    });
    let mut lowered = String::new();
    py_lower(&text, &mut lowered);
    for (p, iters) in [
        (r"(?u)\b\w\w+\b", 20_000),
        (r"\w+|[^\w\s]+", 5_000),
        (r"[a-zA-Z]{2,}", 5_000),
        (r"\S+", 5_000),
        (r"(?u)\b[^\d\W]+\b", 500),
        (r"(?u)\b\w\w+\b|[\U0001F300-\U0001FAFF]", 500),
    ] {
        let re = PyRegex::compile(p).expect("compiles");
        let mut n = 0usize;
        time(&format!("findall {p}"), iters, || {
            re.findall(black_box(&lowered), |t| n += t.len())
                .expect("no error");
        });
        black_box(n);
    }
    let default = PyRegex::compile(r"(?u)\b\w\w+\b").expect("compiles");
    time("py_lower + default findall", 20_000, || {
        buf.clear();
        py_lower(black_box(&text), &mut buf);
        let mut n = 0usize;
        default.findall(&buf, |t| n += t.len()).expect("no error");
        black_box(n);
    });
    for p in [r"\w+|[^\w\s]+", r"[a-zA-Z]{2,}"] {
        let re = regex::Regex::new(p).expect("compiles");
        let mut n = 0usize;
        time(&format!("rust regex crate find_iter {p}"), 5_000, || {
            for m in re.find_iter(black_box(&lowered)) {
                n += m.len();
            }
        });
        black_box(n);
    }
    for p in [
        r"(?u)\b[^\d\W]+\b",
        r"#?\w+",
        r"\w+(?=\s)",
        r"(?i)\b(?:the|a|an)\b\s+\w+",
    ] {
        let t = Instant::now();
        let n = 20;
        for _ in 0..n {
            black_box(PyRegex::compile(p).expect("compiles"));
        }
        println!("{:<45} {:>10.2?}", format!("compile {p}"), t.elapsed() / n);
    }
    for p in [r"#?\w+", r"\w+(?=\s)"] {
        let re = PyRegex::compile(p).expect("compiles");
        let mut n = 0usize;
        time(&format!("findall {p}"), 500, || {
            re.findall(black_box(&lowered), |t| n += t.len())
                .expect("no error");
        });
        black_box(n);
    }
}
