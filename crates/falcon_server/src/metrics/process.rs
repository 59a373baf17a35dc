//! Standard process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, …) read from `/proc/self` at scrape time.
//!
//! Why not the `prometheus` crate's own process collector: it exports CPU
//! time in whole seconds (integer division of clock ticks), so a worker
//! using 5 % of a core shows a 1-second step every 20 s and a short
//! `rate(process_cpu_seconds_total[1m])` is a train of pulses. This one keeps
//! the kernel's tick resolution (10 ms), so per-worker CPU panels and
//! `falcon bench --prometheus` read real rates over short windows.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, IntGauge, Opts};

pub struct ProcessCollector {
    descs: Vec<Desc>,
    /// Serialises scrapes: the counter is advanced by the difference to the
    /// kernel's figure, which two concurrent scrapes must not both add.
    cpu_lock: Mutex<()>,
    cpu: Counter,
    rss: IntGauge,
    vsize: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: IntGauge,
}

impl ProcessCollector {
    pub fn new() -> Self {
        let gauge = |name: &str, help: &str| IntGauge::with_opts(Opts::new(name, help));
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))
        .expect("valid metric");
        let rss = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )
        .expect("valid metric");
        let vsize = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )
        .expect("valid metric");
        let open_fds =
            gauge("process_open_fds", "Number of open file descriptors.").expect("valid metric");
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        )
        .expect("valid metric");
        let threads =
            gauge("process_threads", "Number of OS threads in the process.").expect("valid metric");
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )
        .expect("valid metric");
        if let (Ok(boot), Ok(stat)) = (
            procfs::boot_time_secs(),
            procfs::process::Process::myself().and_then(|p| p.stat()),
        ) {
            let ticks = procfs::ticks_per_second().max(1);
            start_time.set(i64::try_from(boot + stat.starttime / ticks).unwrap_or(0));
        }
        let mut descs = Vec::new();
        for c in [&rss, &vsize, &open_fds, &max_fds, &threads, &start_time] {
            descs.extend(c.desc().into_iter().cloned());
        }
        descs.extend(cpu.desc().into_iter().cloned());
        ProcessCollector {
            descs,
            cpu_lock: Mutex::new(()),
            cpu,
            rss,
            vsize,
            open_fds,
            max_fds,
            threads,
            start_time,
        }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(p) = procfs::process::Process::myself() else {
            return Vec::new();
        };
        let mut mfs = Vec::with_capacity(7);
        if let Ok(stat) = p.stat() {
            let ticks = procfs::ticks_per_second().max(1) as f64;
            let total = (stat.utime + stat.stime) as f64 / ticks;
            {
                let _serial = self
                    .cpu_lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let past = self.cpu.get();
                if total > past {
                    self.cpu.inc_by(total - past);
                }
            }
            mfs.extend(self.cpu.collect());
            let page = i64::try_from(procfs::page_size()).unwrap_or(4096);
            self.rss.set(
                i64::try_from(stat.rss)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(page),
            );
            self.vsize
                .set(i64::try_from(stat.vsize).unwrap_or(i64::MAX));
            self.threads.set(stat.num_threads);
        }
        if let Ok(n) = p.fd_count() {
            self.open_fds.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Ok(limits) = p.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            self.max_fds.set(i64::try_from(max).unwrap_or(i64::MAX));
        }
        for g in [
            &self.rss,
            &self.vsize,
            &self.open_fds,
            &self.max_fds,
            &self.threads,
            &self.start_time,
        ] {
            mfs.extend(g.collect());
        }
        mfs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_seconds(c: &ProcessCollector) -> f64 {
        c.collect()
            .iter()
            .find(|m| m.name() == "process_cpu_seconds_total")
            .expect("cpu metric")
            .get_metric()[0]
            .get_counter()
            .get_value()
    }

    #[test]
    fn cpu_time_has_sub_second_resolution() {
        let c = ProcessCollector::new();
        // Burn CPU in small steps until the counter shows a fraction of a
        // second — which a whole-second counter never does.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut x = 0u64;
        let mut last = cpu_seconds(&c);
        let mut seen_fraction = last.fract() != 0.0;
        while !seen_fraction && std::time::Instant::now() < deadline {
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_millis(30) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let v = cpu_seconds(&c);
            assert!(v >= last, "counter went back: {last} -> {v}");
            last = v;
            seen_fraction = v.fract() != 0.0;
        }
        assert!(seen_fraction, "cpu seconds stayed whole: {last}");
        let rss = c
            .collect()
            .into_iter()
            .find(|m| m.name() == "process_resident_memory_bytes")
            .expect("rss metric");
        assert!(rss.get_metric()[0].get_gauge().get_value() > 1e6);
    }
}
