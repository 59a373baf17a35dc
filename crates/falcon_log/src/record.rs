//! One logged prediction.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which tier answered a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheTier {
    /// No cache hit: the model computed it.
    Miss,
    /// The in-process cache.
    Memory,
    /// The shared Redis tier.
    Redis,
}

impl CacheTier {
    /// The value stored in the `cache` column.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheTier::Miss => "miss",
            CacheTier::Memory => "memory",
            CacheTier::Redis => "redis",
        }
    }

    /// Parses [`CacheTier::as_str`]; unknown values read as a miss.
    pub fn parse(s: &str) -> Self {
        match s {
            "memory" => CacheTier::Memory,
            "redis" => CacheTier::Redis,
            _ => CacheTier::Miss,
        }
    }
}

/// One class's score (probability, or decision value when the estimator has
/// no probabilities).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub class: Arc<str>,
    pub score: f64,
}

/// A prediction, as the log stores it: enough to compute per-model
/// statistics and to export traffic for retraining, but the request's text
/// only when the operator opted in (`--log-text`); otherwise its SHA-256 and
/// length identify repeats without retaining content.
///
/// The strings a server repeats on every row (its request id, the model's
/// name, version and class names, the key id) are `Arc<str>`, so the server
/// hands the log the allocations it already holds instead of ~7 copies per
/// row, which the writer used to free in bursts of a batch (issue #15;
/// `docs/ARCHITECTURE.md`, "Session 10"). They serialise as plain strings:
/// the spool format is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// Identifies the request. Together with [`Self::item`] it is the
    /// primary key, so replaying a row twice (spool replay after a crash)
    /// stores it once. The server must make it unique per request (a
    /// client-supplied `x-request-id` may repeat: prefix or replace it with
    /// a server-generated id).
    pub request_id: Arc<str>,
    /// Position in a batch request (`0` for a single text).
    pub item: u32,
    /// When the prediction was made, in microseconds since the Unix epoch.
    pub ts_micros: i64,
    pub model: Arc<str>,
    pub version: Arc<str>,
    /// The predicted label, as `str(class)`; for a multi-label or
    /// multi-output answer, the JSON list of its labels' `str(class)`
    /// (`["spam","money"]`; see `falcon_log::store::summary`).
    pub label: Arc<str>,
    /// Per-class scores, in class order; empty when not recorded.
    pub scores: Vec<Score>,
    /// Time spent producing the prediction, in microseconds.
    pub latency_us: u64,
    pub cache: CacheTier,
    /// The API key's id (never the key), when auth is on.
    pub api_key_id: Option<Arc<str>>,
    /// SHA-256 of the UTF-8 text.
    pub text_sha256: [u8; 32],
    /// Length of the text in bytes.
    pub text_len: u32,
    /// The text itself: dropped by the writer unless `log_text` is on.
    pub text: Option<String>,
}

impl PredictionRecord {
    /// A record for `text`, stamped now, with its hash and length filled in.
    /// The text itself is not attached (privacy by default, and no copy of
    /// it on the request path): add it with [`Self::with_text`] when
    /// [`crate::LogHandle::log_text`] says so.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        request_id: impl Into<Arc<str>>,
        item: u32,
        model: impl Into<Arc<str>>,
        version: impl Into<Arc<str>>,
        label: impl Into<Arc<str>>,
        scores: Vec<Score>,
        latency: Duration,
        cache: CacheTier,
        api_key_id: Option<Arc<str>>,
        text: &str,
    ) -> Self {
        PredictionRecord {
            request_id: request_id.into(),
            item,
            ts_micros: now_micros(),
            model: model.into(),
            version: version.into(),
            label: label.into(),
            scores,
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            cache,
            api_key_id,
            text_sha256: text_sha256(text),
            text_len: u32::try_from(text.len()).unwrap_or(u32::MAX),
            text: None,
        }
    }

    /// Attaches the text (stored only with `--log-text`).
    pub fn with_text(mut self, text: &str) -> Self {
        self.text = Some(text.to_owned());
        self
    }

    /// The timestamp as a [`SystemTime`].
    pub fn timestamp(&self) -> SystemTime {
        micros_to_system_time(self.ts_micros)
    }

    /// Postgres `TEXT`/`JSONB` cannot hold NUL, and a row the database
    /// rejects would otherwise be retried forever; NULs become U+FFFD.
    pub(crate) fn sanitize(&mut self) {
        fn fix(s: &mut Arc<str>) {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}").into();
            }
        }
        fix(&mut self.request_id);
        fix(&mut self.model);
        fix(&mut self.version);
        fix(&mut self.label);
        for s in &mut self.scores {
            fix(&mut s.class);
        }
        if let Some(k) = &mut self.api_key_id {
            fix(k);
        }
        if let Some(t) = &mut self.text
            && t.contains('\0')
        {
            *t = t.replace('\0', "\u{FFFD}");
        }
    }

    /// The scores as a JSON object `{"class": score, …}` — the shape the
    /// API answers with, and what the `scores` column stores. Non-finite
    /// scores (JSON has none) become `null`.
    pub fn scores_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::with_capacity(self.scores.len());
        for s in &self.scores {
            m.insert(
                s.class.to_string(),
                serde_json::Number::from_f64(s.score).map_or(serde_json::Value::Null, Into::into),
            );
        }
        serde_json::Value::Object(m)
    }

    /// [`Self::scores_json`] as JSON text, written directly (no map, no
    /// `Value`s): what the SQLite `scores` column stores, on the writer's
    /// per-row path. Classes in their order; non-finite scores are `null`.
    /// Reads back as the same object (a repeated class name, which
    /// scikit-learn's `np.unique` classes cannot have, keeps its last
    /// score, as the map did).
    pub fn scores_json_text(&self) -> String {
        let mut out = Vec::with_capacity(2 + self.scores.len() * 32);
        out.push(b'{');
        for (i, s) in self.scores.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing a string or a number to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &s.class);
            out.push(b':');
            if s.score.is_finite() {
                let _ = serde_json::to_writer(&mut out, &s.score);
            } else {
                out.extend_from_slice(b"null");
            }
        }
        out.push(b'}');
        // serde_json writes UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Inverse of [`Self::scores_json`] (used when reading rows back).
    pub(crate) fn scores_from_json(v: &serde_json::Value) -> Vec<Score> {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .map(|(k, v)| Score {
                    class: k.as_str().into(),
                    score: v.as_f64().unwrap_or(f64::NAN),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// SHA-256 of a text: identifies repeated texts without storing them.
pub fn text_sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    system_time_to_micros(SystemTime::now())
}

pub(crate) fn system_time_to_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn micros_to_system_time(us: i64) -> SystemTime {
    if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC) for a Unix-epoch microsecond
/// timestamp — the format exports use.
pub fn format_rfc3339(ts_micros: i64) -> String {
    let secs = ts_micros.div_euclid(1_000_000);
    let micros = ts_micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Hex encoding of a hash, for export.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_fills_hash_and_length() {
        let r = PredictionRecord::new(
            "r1",
            0,
            "spam",
            "1",
            "ham",
            vec![],
            Duration::from_micros(42),
            CacheTier::Miss,
            None,
            "héllo",
        );
        assert_eq!(r.text_len, 6);
        assert_eq!(r.text_sha256, text_sha256("héllo"));
        assert_eq!(r.text, None);
        assert_eq!(r.clone().with_text("héllo").text.as_deref(), Some("héllo"));
        assert_eq!(r.latency_us, 42);
        assert!(r.ts_micros > 1_600_000_000_000_000);
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            hex(&text_sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sanitize_replaces_nul() {
        let mut r = PredictionRecord::new(
            "a\0b",
            0,
            "m",
            "1",
            "x\0",
            vec![Score {
                class: "c\0".into(),
                score: 1.0,
            }],
            Duration::ZERO,
            CacheTier::Redis,
            None,
            "t\0",
        )
        .with_text("t\0");
        r.sanitize();
        assert_eq!(&*r.request_id, "a\u{FFFD}b");
        assert_eq!(&*r.label, "x\u{FFFD}");
        assert_eq!(&*r.scores[0].class, "c\u{FFFD}");
        assert_eq!(r.text.as_deref(), Some("t\u{FFFD}"));
    }

    #[test]
    fn scores_json_roundtrip() {
        let mut r = PredictionRecord::new(
            "r",
            0,
            "m",
            "1",
            "a",
            vec![],
            Duration::ZERO,
            CacheTier::Memory,
            None,
            "",
        );
        r.scores = vec![
            Score {
                class: "a".into(),
                score: 0.25,
            },
            Score {
                class: "b".into(),
                score: 0.75,
            },
        ];
        let back = PredictionRecord::scores_from_json(&r.scores_json());
        assert_eq!(back, r.scores);
        // The text form parses to the same object as the map form.
        r.scores.push(Score {
            class: "q\"\u{e9}\\".into(),
            score: f64::NAN,
        });
        r.scores.push(Score {
            class: "z".into(),
            score: 1e-300,
        });
        let text: serde_json::Value = serde_json::from_str(&r.scores_json_text()).unwrap();
        assert_eq!(text, r.scores_json());
        r.scores.clear();
        assert_eq!(r.scores_json_text(), "{}");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_rfc3339(951_782_400_000_001),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            format_rfc3339(1_764_288_000_500_000),
            "2025-11-28T00:00:00.500000Z"
        );
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn time_conversions_roundtrip() {
        for us in [0i64, 1, 1_700_000_000_123_456, -5] {
            assert_eq!(system_time_to_micros(micros_to_system_time(us)), us);
        }
    }
}
