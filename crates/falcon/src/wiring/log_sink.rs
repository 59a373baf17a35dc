//! `falcon_server::PredictionSink` over `falcon_log::LogHandle`: every
//! prediction becomes a `PredictionRecord` queued for the batching writer
//! (non-blocking; a full queue drops and counts the row).

use falcon_log::{CacheTier, LogHandle, PredictionRecord, Score};
use falcon_server::{PredictionEvent, PredictionSink, Tier};

pub struct LogSink {
    handle: LogHandle,
}

impl LogSink {
    pub fn new(handle: LogHandle) -> Self {
        LogSink { handle }
    }
}

/// The log's row for one event: label as `str(class)`, one score per class
/// (probabilities, else decision values when there is one per class; a
/// binary model's single decision value is stored under the positive
/// class).
pub fn record(event: &PredictionEvent<'_>) -> PredictionRecord {
    let classes = event.classes;
    let p = event.prediction;
    let label = classes
        .get(p.label)
        .map_or_else(|| p.label.to_string(), ToString::to_string);
    let scores = match (&p.probabilities, &p.decision) {
        (Some(v), _) | (None, Some(v)) if v.len() == classes.len() => classes
            .iter()
            .zip(v)
            .map(|(c, s)| Score {
                class: c.to_string(),
                score: *s,
            })
            .collect(),
        (None, Some(v)) if v.len() == 1 && classes.len() == 2 => vec![Score {
            class: classes[1].to_string(),
            score: v[0],
        }],
        _ => Vec::new(),
    };
    let tier = match event.tier {
        Tier::Memory => CacheTier::Memory,
        Tier::Shared => CacheTier::Redis,
        Tier::Computed => CacheTier::Miss,
    };
    // Built field by field rather than with `PredictionRecord::new`: the
    // event carries the text's SHA-256 already (computed once per text).
    PredictionRecord {
        request_id: event.request_id.to_owned(),
        item: event.item,
        ts_micros: falcon_log::now_micros(),
        model: event.model.to_owned(),
        version: event.version.to_owned(),
        label,
        scores,
        latency_us: u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX),
        cache: tier,
        api_key_id: event.api_key_id.map(str::to_owned),
        text_sha256: *event.text_sha256,
        text_len: u32::try_from(event.text.len()).unwrap_or(u32::MAX),
        text: None,
    }
}

impl PredictionSink for LogSink {
    fn record(&self, event: PredictionEvent<'_>) {
        let mut r = record(&event);
        if self.handle.log_text() {
            r = r.with_text(event.text);
        }
        self.handle.log(r);
    }

    fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let stats = self.handle.stats();
        stats.write_prometheus(out);
        // The names the dashboards and alerts in deploy/ query.
        let _ = writeln!(
            out,
            "# HELP prediction_log_spool_bytes Predictions spooled on disk, not yet written to the database.\n\
             # TYPE prediction_log_spool_bytes gauge\n\
             prediction_log_spool_bytes {}\n\
             # HELP prediction_log_lag_seconds Age of the oldest prediction not yet written to the database.\n\
             # TYPE prediction_log_lag_seconds gauge\n\
             prediction_log_lag_seconds {}",
            stats.spool_bytes,
            stats.lag_micros as f64 / 1e6
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falcon_engine::{Label, Prediction};
    use std::time::Duration;

    static HELLO_SHA256: std::sync::LazyLock<[u8; 32]> =
        std::sync::LazyLock::new(|| falcon_server::text_sha256("hello"));

    fn event<'a>(p: &'a Prediction, classes: &'a [Label], tier: Tier) -> PredictionEvent<'a> {
        PredictionEvent {
            request_id: "abc-1",
            item: 3,
            model: "spam",
            version: "2",
            classes,
            prediction: p,
            latency: Duration::from_micros(250),
            tier,
            api_key_id: Some("k1"),
            text: "hello",
            text_sha256: &HELLO_SHA256,
        }
    }

    #[test]
    fn maps_every_field() {
        let classes = [Label::Str("ham".into()), Label::Str("spam".into())];
        let p = Prediction {
            label: 1,
            probabilities: Some(vec![0.25, 0.75]),
            decision: Some(vec![1.1]),
        };
        let r = record(&event(&p, &classes, Tier::Shared));
        assert_eq!(
            (
                r.request_id.as_str(),
                r.item,
                r.model.as_str(),
                r.version.as_str()
            ),
            ("abc-1", 3, "spam", "2")
        );
        assert_eq!(r.label, "spam");
        assert_eq!(r.scores.len(), 2);
        assert_eq!(
            (r.scores[1].class.as_str(), r.scores[1].score),
            ("spam", 0.75)
        );
        assert_eq!(r.cache, CacheTier::Redis);
        assert_eq!(r.latency_us, 250);
        assert_eq!(r.api_key_id.as_deref(), Some("k1"));
        assert_eq!(r.text_len, 5);
        assert_eq!(r.text_sha256, falcon_log::text_sha256("hello"));
        assert_eq!(r.text, None, "the text is attached only with --log-text");

        // A binary model without probabilities: the one decision value.
        let p = Prediction {
            label: 0,
            probabilities: None,
            decision: Some(vec![-0.5]),
        };
        let r = record(&event(&p, &classes, Tier::Memory));
        assert_eq!(r.label, "ham");
        assert_eq!(
            r.scores,
            vec![Score {
                class: "spam".into(),
                score: -0.5
            }]
        );
        assert_eq!(r.cache, CacheTier::Memory);
        let r = record(&event(&p, &classes, Tier::Computed));
        assert_eq!(r.cache, CacheTier::Miss);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sink_writes_rows_with_text_only_when_asked() {
        for log_text in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let db = falcon_log::Database::open_sqlite(&dir.path().join("falcon.db"))
                .await
                .unwrap();
            let mut config = falcon_log::LogConfig::new(dir.path());
            config.log_text = log_text;
            let writer = falcon_log::LogWriter::start(db.clone(), config)
                .await
                .unwrap();
            let sink = LogSink::new(writer.handle());
            let classes = [Label::Int(0), Label::Int(1)];
            let p = Prediction {
                label: 1,
                probabilities: Some(vec![0.5, 0.5]),
                decision: None,
            };
            sink.record(event(&p, &classes, Tier::Computed));
            let stats = writer.shutdown().await.unwrap();
            assert_eq!(stats.written, 1, "{stats:?}");
            let mut m = String::new();
            stats.write_prometheus(&mut m);
            assert!(m.contains("falcon_log_rows_total{outcome=\"written\"} 1"));
            let mut m = String::new();
            sink.write_prometheus(&mut m);
            assert!(m.contains("\nprediction_log_spool_bytes 0\n"), "{m}");
            assert!(m.contains("\nprediction_log_lag_seconds 0"), "{m}");
            let rows =
                falcon_log::store::export_page(&db, &falcon_log::Filter::default(), None, 10)
                    .await
                    .unwrap();
            assert_eq!(rows.0.len(), 1);
            assert_eq!(rows.0[0].text.as_deref(), log_text.then_some("hello"));
        }
    }
}
