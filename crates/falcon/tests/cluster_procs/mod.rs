//! Shared by the test binaries that start clusters (`k6_load`,
//! `tune_reference`): finds processes a cluster left behind.

use std::path::Path;

/// Processes started by `falcon cluster` for anything under `run_dir`
/// (every process it starts carries `FALCON_CLUSTER_MEMBER_OF=<run dir>`)
/// that are still alive — zombies, already dead, are not counted.
pub fn leftovers(run_dir: &Path) -> Vec<String> {
    let marker = format!("FALCON_CLUSTER_MEMBER_OF={}", run_dir.display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let member = env
            .split(|b| *b == 0)
            .any(|kv| String::from_utf8_lossy(kv).starts_with(&marker));
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z');
        if member && !zombie {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}
