//! The Markdown report, in the shape of the seed's performance notes:
//! configuration, results, improvement, repeatability, charts.

use std::fmt::Write;

use crate::analysis::{Metric, Run, baseline_values, improvement, labels, mean_of, repeatability};

fn num(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "–".into())
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(p) => format!("{}{p:.1} %", if p >= 0.0 { "+" } else { "" }),
        None => "–".into(),
    }
}

/// The Markdown text. `charts` are the chart file stems (SVG and PNG exist
/// for each) in the order to show them.
pub fn render(runs: &[Run], baseline: &str, charts: &[(String, String)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Falcon performance report\n");
    let _ = writeln!(
        md,
        "{} run(s), {} configuration(s); baseline: **{baseline}**. \
         Latency is client-side, from each request's intended start to its last byte \
         (no coordinated omission), warm-up excluded.\n",
        runs.len(),
        labels(runs).len()
    );

    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(
        md,
        "| run | label | load | duration | warm-up | target | texts | repeat | notes |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let c = &r.report.config;
        let load = match c.mode.as_str() {
            "closed" => format!(
                "{} VUs, think {} ms",
                c.vus.unwrap_or(0),
                num(c.think_ms.unwrap_or(0.0))
            ),
            _ => format!("{} req/s open loop", num(c.rate.unwrap_or(0.0))),
        };
        let repeat = if c.unique {
            "unique".to_string()
        } else {
            format!("{:.0} % {}", c.repeat * 100.0, c.repeat_dist)
        };
        let notes: Vec<String> = r
            .report
            .notes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {load} | {} s | {} s | `{}` | {} | {repeat} | {} |",
            r.name,
            r.report.label,
            num(c.duration_s),
            num(c.warmup_s),
            c.target,
            c.corpus_texts,
            notes.join(", ")
        );
    }

    let _ = writeln!(md, "\n## Results\n");
    let _ = writeln!(
        md,
        "| run | label | requests | req/s | avg ms | p50 ms | p90 ms | p95 ms | p99 ms | max ms | errors | error rate | cache hits | server p95 ms | CPU % | RSS MiB |"
    );
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in runs {
        let s = &r.report.summary;
        let l = &s.latency_ms;
        let errors: Vec<String> = s
            .status
            .iter()
            .filter(|(k, _)| !k.starts_with('2'))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} % | {} | {} | {} | {} |",
            r.name,
            r.report.label,
            s.requests,
            num(s.rps),
            num(l.avg),
            num(l.p50),
            num(l.p90),
            num(l.p95),
            num(l.p99),
            num(l.max),
            if errors.is_empty() {
                "0".to_string()
            } else {
                errors.join(", ")
            },
            s.error_rate * 100.0,
            s.cache_hit_rate
                .map(|h| format!("{:.1} %", h * 100.0))
                .unwrap_or_else(|| "–".into()),
            opt(Metric::ServerP95.value(&r.report)),
            opt(Metric::CpuPercent.value(&r.report)),
            opt(Metric::RssMax.value(&r.report)),
        );
    }

    let others: Vec<&Run> = runs.iter().filter(|r| r.report.label != baseline).collect();
    if !others.is_empty() {
        let base = baseline_values(runs, baseline);
        let _ = writeln!(md, "\n## Improvement over the baseline\n");
        let _ = writeln!(
            md,
            "Baseline = mean of the runs labelled **{baseline}**. Positive = better \
             (lower latency, error rate, CPU and memory; higher throughput and hit rate).\n"
        );
        let mut header = format!("| metric | {baseline} |");
        let mut rule = "|---|---|".to_string();
        for r in &others {
            let _ = write!(header, " {} ({}) |", r.name, r.report.label);
            rule.push_str("---|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for (metric, b) in &base {
            let mut row = format!("| {} | {} |", metric.name(), opt(*b));
            let mut any = b.is_some();
            for r in &others {
                let v = metric.value(&r.report);
                any |= v.is_some();
                let cell = match (b, v) {
                    (Some(b), Some(v)) => {
                        format!("{} ({})", num(v), pct(improvement(*metric, *b, v)))
                    }
                    (_, v) => opt(v),
                };
                let _ = write!(row, " {cell} |");
            }
            if any {
                let _ = writeln!(md, "{row}");
            }
        }
        // Per label too, when a label has repeats.
        let groups = labels(runs);
        if groups.len() > 1 && runs.len() > groups.len() {
            let _ = writeln!(md, "\nPer configuration (mean over repeats):\n");
            let _ = writeln!(
                md,
                "| label | runs | req/s | p95 ms | p99 ms | p95 vs baseline | req/s vs baseline |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|");
            let b_p95 = base
                .iter()
                .find(|(m, _)| *m == Metric::P95)
                .and_then(|x| x.1);
            let b_rps = base
                .iter()
                .find(|(m, _)| *m == Metric::Rps)
                .and_then(|x| x.1);
            for label in groups {
                let group: Vec<&Run> = runs.iter().filter(|r| r.report.label == label).collect();
                let p95 = mean_of(Metric::P95, &group);
                let rps = mean_of(Metric::Rps, &group);
                let _ = writeln!(
                    md,
                    "| {label} | {} | {} | {} | {} | {} | {} |",
                    group.len(),
                    opt(rps),
                    opt(p95),
                    opt(mean_of(Metric::P99, &group)),
                    pct(b_p95
                        .zip(p95)
                        .and_then(|(b, v)| improvement(Metric::P95, b, v))),
                    pct(b_rps
                        .zip(rps)
                        .and_then(|(b, v)| improvement(Metric::Rps, b, v))),
                );
            }
        }
    }

    let _ = writeln!(md, "\n## Repeatability\n");
    let _ = writeln!(
        md,
        "p95 over the runs of each label: does the result hold when the same test runs again?\n"
    );
    let _ = writeln!(
        md,
        "| label | runs | p95 mean ms | p95 min–max ms | p95 stddev ms | spread | req/s mean |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for g in repeatability(runs) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {}–{} | {} | {:.1} % | {} |",
            g.label,
            g.runs,
            num(g.p95_mean),
            num(g.p95_min),
            num(g.p95_max),
            num(g.p95_stddev),
            g.p95_spread_pct,
            num(g.rps_mean)
        );
    }

    if !charts.is_empty() {
        let _ = writeln!(md, "\n## Charts\n");
        for (stem, title) in charts {
            let _ = writeln!(
                md,
                "### {title}\n\n![{title}]({stem}.svg)\n\n([PNG]({stem}.png))\n"
            );
        }
    }

    let _ = writeln!(md, "## How to read this\n");
    let _ = writeln!(
        md,
        "- **p95/p99** are what users feel at the tail; compare them between runs with the same load.\n\
         - **req/s** in a closed-loop run follows latency (VUs / (latency + think time)); in an open-loop run it is the offered rate — look at latency and errors instead.\n\
         - **Improvement** is relative to the baseline's mean; a change is real when it exceeds the spread in the repeatability table.\n\
         - **CPU %** is the sum over workers, 100 % = one core busy; keep it below 70 % of the cores at the target load for headroom.\n\
         - **Server p95** (Prometheus, `inference_duration_seconds`) is inference only; the gap to the client p95 is network, queueing and HTTP handling."
    );
    md
}
