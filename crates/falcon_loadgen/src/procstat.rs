//! CPU and resident memory of local server processes, from /proc — for
//! servers that do not export `process_cpu_seconds_total`.

use crate::config::WorkerPid;
use crate::report::{WorkerPoint, WorkerStats};

/// CPU time (seconds) and RSS (bytes) of one process now, its direct
/// children included: an nginx master does no work itself, its worker
/// processes do.
pub fn sample(pid: i32) -> Option<(f64, u64)> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    let tps = procfs::ticks_per_second() as f64;
    let page = procfs::page_size();
    let mut ticks = stat.utime + stat.stime;
    let mut rss = stat.rss * page;
    if let Ok(all) = procfs::process::all_processes() {
        for child in all.flatten().filter_map(|p| p.stat().ok()) {
            if child.ppid == pid {
                ticks += child.utime + child.stime;
                rss += child.rss * page;
            }
        }
    }
    Some((ticks as f64 / tps, rss))
}

/// Accumulates per-second samples of several processes.
#[derive(Debug)]
pub struct Sampler {
    pids: Vec<WorkerPid>,
    first: Vec<Option<(f64, f64)>>,
    last: Vec<Option<(f64, f64)>>,
    rss: Vec<Vec<u64>>,
    pub points: Vec<WorkerPoint>,
}

impl Sampler {
    pub fn new(pids: Vec<WorkerPid>) -> Self {
        let n = pids.len();
        Self {
            pids,
            first: vec![None; n],
            last: vec![None; n],
            rss: vec![Vec::new(); n],
            points: Vec::new(),
        }
    }

    /// Takes a sample at `elapsed` seconds into the window; from the second
    /// sample on, records each process's CPU % over the last interval.
    pub fn tick(&mut self, elapsed: f64) {
        for (i, w) in self.pids.iter().enumerate() {
            let Some((cpu, rss)) = sample(w.pid) else {
                continue;
            };
            if let Some((t0, c0)) = self.last[i]
                && elapsed > t0
            {
                self.points.push(WorkerPoint {
                    t: elapsed.round() as u64,
                    name: w.name.clone(),
                    cpu_percent: (cpu - c0) / (elapsed - t0) * 100.0,
                    rss_bytes: rss,
                });
            }
            if self.first[i].is_none() {
                self.first[i] = Some((elapsed, cpu));
            }
            self.last[i] = Some((elapsed, cpu));
            self.rss[i].push(rss);
        }
    }

    /// Averages over the window.
    pub fn stats(&self) -> Vec<WorkerStats> {
        self.pids
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let cpu = match (self.first[i], self.last[i]) {
                    (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
                        Some((c1 - c0) / (t1 - t0) * 100.0)
                    }
                    _ => None,
                };
                let rss = &self.rss[i];
                WorkerStats {
                    name: w.name.clone(),
                    source: "proc".into(),
                    cpu_percent: cpu,
                    rss_avg_bytes: (!rss.is_empty())
                        .then(|| rss.iter().sum::<u64>() as f64 / rss.len() as f64),
                    rss_max_bytes: rss.iter().max().map(|&m| m as f64),
                }
            })
            .collect()
    }
}
