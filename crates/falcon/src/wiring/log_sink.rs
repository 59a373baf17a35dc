//! `falcon_server::PredictionSink` over `falcon_log::LogHandle`: every
//! prediction becomes a `PredictionRecord` queued for the batching writer
//! (non-blocking; a full queue drops and counts the row).

use std::sync::Arc;

use falcon_engine::{Label, Output};
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

/// The log's row for one event.
///
/// * single-label: the label as `str(class)`, one score per class
///   (probabilities, else decision values when there is one per class; a
///   binary model's single decision value is stored under the positive
///   class) — as always;
/// * multi-label: the label is the JSON list of the positive classes'
///   `str(class)` (`["spam","money"]`, `[]` for none), scores one per
///   class (probabilities, else decision values);
/// * multi-output: the label is the JSON list of each output's
///   `str(label)` (`["spam","long"]`), scores every output's
///   probabilities keyed `"<output>:<class>"` (`"0:spam"`), since outputs
///   may share class names.
///
/// For a record the event's text is its canonical encoding (the JSON
/// object of its columns, keys sorted), so `text_sha256` and `text_len`
/// are that encoding's, and `--log-text` stores it.
pub fn record(event: &PredictionEvent<'_>) -> PredictionRecord {
    let classes = event.classes;
    // The model's shared class names when they line up with its classes
    // (always, from the server): a row takes a reference, not a copy.
    let shared = Some(event.class_names).filter(|n| n.len() == classes.len());
    let per_class = |v: &[f64], classes: &[Label], prefix: Option<usize>| -> Vec<Score> {
        classes
            .iter()
            .zip(v)
            .enumerate()
            .map(|(i, (c, s))| Score {
                class: match (prefix, shared) {
                    (Some(o), _) => format!("{o}:{c}").into(),
                    (None, Some(names)) => names[i].clone(),
                    (None, None) => c.name().into(),
                },
                score: *s,
            })
            .collect()
    };
    let name = |i: usize| -> Arc<str> {
        match (shared, classes.get(i)) {
            (Some(names), Some(_)) => names[i].clone(),
            (None, Some(c)) => c.name().into(),
            (_, None) => i.to_string().into(),
        }
    };
    let name_in = |classes: &[Label], i: usize| {
        classes
            .get(i)
            .map_or_else(|| i.to_string(), |c| c.name().into_owned())
    };
    let (label, scores) = match event.prediction {
        Output::Single(p) => {
            let scores = match (&p.probabilities, &p.decision) {
                (Some(v), _) | (None, Some(v)) if v.len() == classes.len() => {
                    per_class(v, classes, None)
                }
                (None, Some(v)) if v.len() == 1 && classes.len() == 2 => vec![Score {
                    class: name(1),
                    score: v[0],
                }],
                _ => Vec::new(),
            };
            (name(p.label), scores)
        }
        Output::MultiLabel(p) => {
            let labels: Vec<String> = p.labels.iter().map(|&i| name_in(classes, i)).collect();
            let scores = match (&p.probabilities, &p.decision) {
                (Some(v), _) | (None, Some(v)) if v.len() == classes.len() => {
                    per_class(v, classes, None)
                }
                _ => Vec::new(),
            };
            (json_list(&labels).into(), scores)
        }
        Output::MultiOutput(outs) => {
            let per = event.output_classes;
            let labels: Vec<String> = outs
                .iter()
                .zip(per)
                .map(|(p, c)| name_in(c, p.label))
                .collect();
            let mut scores = Vec::new();
            for (i, (p, c)) in outs.iter().zip(per).enumerate() {
                if let Some(v) = p.probabilities.as_deref().filter(|v| v.len() == c.len()) {
                    scores.extend(per_class(v, c, Some(i)));
                }
            }
            (json_list(&labels).into(), scores)
        }
    };
    let tier = match event.tier {
        Tier::Memory => CacheTier::Memory,
        Tier::Shared => CacheTier::Redis,
        Tier::Computed => CacheTier::Miss,
    };
    // Built field by field rather than with `PredictionRecord::new`: the
    // event carries the text's SHA-256 already (computed once per text).
    PredictionRecord {
        request_id: event.request_id.clone(),
        item: event.item,
        ts_micros: falcon_log::now_micros(),
        model: event.model.clone(),
        version: event.version.clone(),
        label,
        scores,
        latency_us: u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX),
        cache: tier,
        api_key_id: event.api_key_id.cloned(),
        text_sha256: *event.text_sha256,
        text_len: u32::try_from(event.text.len()).unwrap_or(u32::MAX),
        text: None,
    }
}

/// `["a","b"]`: the label column of a multi answer.
fn json_list(labels: &[String]) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "[]".into())
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
    use falcon_engine::{MultiLabelPrediction, Prediction};
    use std::time::Duration;

    static HELLO_SHA256: std::sync::LazyLock<[u8; 32]> =
        std::sync::LazyLock::new(|| falcon_server::text_sha256("hello"));

    static ID: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "abc-1".into());
    static MODEL: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "spam".into());
    static VERSION: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "2".into());
    static KEY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "k1".into());

    /// An event without shared class names (the row spells them itself).
    fn event<'a>(p: &'a Output, classes: &'a [Label], tier: Tier) -> PredictionEvent<'a> {
        PredictionEvent {
            request_id: &ID,
            item: 3,
            model: &MODEL,
            version: &VERSION,
            classes,
            class_names: &[],
            output_classes: &[],
            prediction: p,
            latency: Duration::from_micros(250),
            tier,
            api_key_id: Some(&KEY),
            text: "hello",
            text_sha256: &HELLO_SHA256,
        }
    }

    #[test]
    fn maps_every_field() {
        let classes = [Label::Str("ham".into()), Label::Str("spam".into())];
        let p = Output::Single(Prediction {
            label: 1,
            probabilities: Some(vec![0.25, 0.75]),
            decision: Some(vec![1.1]),
        });
        let r = record(&event(&p, &classes, Tier::Shared));
        assert_eq!(
            (&*r.request_id, r.item, &*r.model, &*r.version),
            ("abc-1", 3, "spam", "2")
        );
        assert_eq!(&*r.label, "spam");
        assert_eq!(r.scores.len(), 2);
        assert_eq!((&*r.scores[1].class, r.scores[1].score), ("spam", 0.75));
        // The server's event shares its strings: the row holds the same
        // allocations, not copies.
        let names: Vec<Arc<str>> = vec!["ham".into(), "spam".into()];
        let e = PredictionEvent {
            class_names: &names,
            ..event(&p, &classes, Tier::Shared)
        };
        let mut shared = record(&e);
        shared.ts_micros = r.ts_micros;
        assert_eq!(shared, r, "shared names give the same row");
        assert!(Arc::ptr_eq(&shared.label, &names[1]));
        assert!(Arc::ptr_eq(&shared.scores[0].class, &names[0]));
        assert!(Arc::ptr_eq(&shared.request_id, &ID));
        assert!(Arc::ptr_eq(&shared.model, &MODEL));
        assert!(Arc::ptr_eq(shared.api_key_id.as_ref().unwrap(), &KEY));
        assert_eq!(r.cache, CacheTier::Redis);
        assert_eq!(r.latency_us, 250);
        assert_eq!(r.api_key_id.as_deref(), Some("k1"));
        assert_eq!(r.text_len, 5);
        assert_eq!(r.text_sha256, falcon_log::text_sha256("hello"));
        assert_eq!(r.text, None, "the text is attached only with --log-text");

        // A binary model without probabilities: the one decision value.
        let p = Output::Single(Prediction {
            label: 0,
            probabilities: None,
            decision: Some(vec![-0.5]),
        });
        let r = record(&event(&p, &classes, Tier::Memory));
        assert_eq!(&*r.label, "ham");
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

    #[test]
    fn multi_answers_store_a_json_list_label() {
        let classes = [
            Label::Str("spam".into()),
            Label::Int(7),
            Label::Str("money".into()),
        ];
        let p = Output::MultiLabel(MultiLabelPrediction {
            labels: vec![0, 1],
            probabilities: Some(vec![0.9, 0.6, 0.1]),
            decision: None,
        });
        let r = record(&event(&p, &classes, Tier::Computed));
        assert_eq!(&*r.label, r#"["spam","7"]"#);
        assert_eq!(r.scores.len(), 3);
        assert_eq!((&*r.scores[1].class, r.scores[1].score), ("7", 0.6));
        let none = Output::MultiLabel(MultiLabelPrediction {
            labels: vec![],
            probabilities: None,
            decision: Some(vec![-1.0, -2.0, -3.0]),
        });
        let r = record(&event(&none, &classes, Tier::Computed));
        assert_eq!(&*r.label, "[]");
        assert_eq!(r.scores[2].score, -3.0);

        let per = vec![
            vec![Label::Str("ham".into()), Label::Str("spam".into())],
            vec![Label::Str("long".into()), Label::Str("spam".into())],
        ];
        let p = Output::MultiOutput(vec![
            Prediction {
                label: 1,
                probabilities: Some(vec![0.2, 0.8]),
                decision: None,
            },
            Prediction {
                label: 0,
                probabilities: Some(vec![0.7, 0.3]),
                decision: None,
            },
        ]);
        let e = PredictionEvent {
            classes: &[],
            output_classes: &per,
            ..event(&p, &[], Tier::Memory)
        };
        let r = record(&e);
        assert_eq!(&*r.label, r#"["spam","long"]"#);
        let keys: Vec<&str> = r.scores.iter().map(|s| &*s.class).collect();
        assert_eq!(keys, ["0:ham", "0:spam", "1:long", "1:spam"]);
        assert_eq!(r.scores[3].score, 0.3);
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
            let p = Output::Single(Prediction {
                label: 1,
                probabilities: Some(vec![0.5, 0.5]),
                decision: None,
            });
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
