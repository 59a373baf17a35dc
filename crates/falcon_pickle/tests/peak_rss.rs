//! Peak RSS of loading the hostile files of issue #14, measured with the
//! kernel's high-water mark (`VmHWM`, reset through `/proc/self/clear_refs`).
//!
//! One test only, so nothing else runs in this process meanwhile. The
//! product's rule is peak RSS ≤ 128 MiB + 50 × the file size for a whole
//! `falcon` command; the library alone must stay well inside it.

mod hostile;

use falcon_pickle::{Policy, load};
use hostile::*;

/// The process's peak resident set since the last reset, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

fn current_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[test]
fn hostile_files_stay_within_the_memory_rule() {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("S0 arrays", zlib(&zero_itemsize_arrays("S0", 8192, 1024))),
        ("TUPLE1 flood", tuple1_flood()),
        ("shared 8 MB bytes x50", shared_big_bytes()),
        ("int8 array widened", int8_array()),
        ("4300-digit INTs", int_flood()),
        ("xz of 64 MiB zeros", xz_zeros(64 << 20)),
    ];
    for (name, file) in &files {
        // Let the allocator give back what building the file used.
        let before = current_rss();
        std::fs::write("/proc/self/clear_refs", "5").expect("Linux /proc/self/clear_refs");
        let result = load(file, &Policy::new());
        let used = peak_rss().saturating_sub(before);
        let rule = (128u64 << 20) + 50 * file.len() as u64;
        eprintln!(
            "{name}: file {} bytes, peak +{:.1} MiB (rule {:.1} MiB): {}",
            file.len(),
            used as f64 / (1u64 << 20) as f64,
            rule as f64 / (1u64 << 20) as f64,
            match &result {
                Ok(_) => "loaded".to_owned(),
                Err(e) => e.to_string(),
            }
        );
        assert!(result.is_err(), "{name} loaded");
        // The library gets the rule minus room for the rest of the process.
        assert!(
            used < rule - (16 << 20),
            "{name}: peak {used} bytes for a {}-byte file",
            file.len()
        );
    }
}
