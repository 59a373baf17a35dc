//! Peak RSS of loading the hostile files of issue #14.
//!
//! The parent writes each file to a temporary directory and loads it in a
//! child process (this same binary, with `--load FILE`), which reports the
//! kernel's high-water mark (`VmHWM`) after its load: a fresh process, so
//! neither the memory used to build the files nor other tests can blur the
//! figure. The product's rule is peak RSS ≤ 128 MiB + 50 × the file size
//! for a whole `falcon` command; the library alone must stay well inside.

mod hostile;

use std::process::Command;

use falcon_pickle::{Limits, Policy, load};
use hostile::*;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .expect("field in /proc/self/status");
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB")
}

/// Child: loads `path` (without the compression ratio caps, which would
/// stop most of these files before the unpickler: its own budget must hold
/// the bound) and prints `peak_bytes ok|error message`.
fn child(path: &str) {
    let file = std::fs::read(path).unwrap();
    let mut policy = Policy::new();
    policy.set_limits(Limits {
        max_ratio_fast: u64::MAX,
        max_ratio_slow: u64::MAX,
        ..Limits::default()
    });
    let before = status_kib("VmRSS:");
    let result = load(&file, &policy);
    let peak = status_kib("VmHWM:");
    match result {
        Ok(_) => println!("{} {} loaded", before * 1024, peak * 1024),
        Err(e) => println!("{} {} {e}", before * 1024, peak * 1024),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--load") {
        child(&args[i + 1]);
        return;
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("S0 arrays", zlib(&zero_itemsize_arrays("S0", 8192, 1024))),
        ("TUPLE1 flood", tuple1_flood()),
        ("shared 8 MB bytes x50", shared_big_bytes()),
        ("int8 array widened", int8_array()),
        ("4300-digit INTs", int_flood()),
        ("xz of 64 MiB zeros", xz_zeros(64 << 20)),
    ];
    let dir = std::env::temp_dir().join(format!("falcon_peak_rss_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut failed = 0;
    for (i, (name, file)) in files.iter().enumerate() {
        let path = dir.join(format!("{i}.bin"));
        std::fs::write(&path, file).unwrap();
        let out = Command::new(&exe)
            .arg("--load")
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut parts = stdout.trim().splitn(3, ' ');
        let before: u64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let peak: u64 = parts
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        let outcome = parts.next().unwrap_or("").to_owned();
        let rule = (128u64 << 20) + 50 * file.len() as u64;
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        println!(
            "{name}: file {} bytes, peak RSS {:.1} MiB (process before the load {:.1} MiB; \
             rule {:.1} MiB): {outcome}",
            file.len(),
            mib(peak),
            mib(before),
            mib(rule)
        );
        // The library gets the rule minus room for the rest of a `falcon`
        // process; and every one of these files must be refused.
        if !out.status.success() || outcome == "loaded" || peak > rule - (16 << 20) {
            println!("  FAILED ({})", String::from_utf8_lossy(&out.stderr).trim());
            failed += 1;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("peak_rss: {} passed, {failed} failed", files.len() - failed);
    assert_eq!(failed, 0, "hostile files over the memory rule");
}
