//! Ports: what the server needs from shared state, as small traits. The
//! HTTP crate knows nothing of Redis or SQL; `falcon serve` plugs adapters
//! over `falcon_redis`, `falcon_log` and `falcon_auth` into these (router
//! tests plug in-memory fakes).
//!
//! * [`SharedTier`] — a second cache tier behind the in-process one
//!   (memory → shared tier → model), shared by every worker.
//! * [`PredictionSink`] — where every prediction is recorded (one event per
//!   text, cache hits included). Must never block the request.
//! * [`Gatekeeper`] — API-key authentication and per-key rate limits.
//!
//! Every port is optional ([`Ports::default`] has none): without them the
//! request path is exactly the single-process one, with no extra
//! allocation or lock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use falcon_engine::{Label, Output, OutputKind, Prediction};

pub use crate::input::InputKind;

/// A boxed future, so ports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which tier answered one text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The in-process cache (or a concurrent identical request computed it
    /// and this one waited for that result).
    Memory,
    /// The [`SharedTier`].
    Shared,
    /// Nobody: the engine computed it.
    Computed,
}

/// What identifies a prediction in a shared tier.
#[derive(Clone, Copy, Debug)]
pub struct SharedKey<'a> {
    pub model: &'a str,
    /// The version *and* a fingerprint of its model file
    /// ([`crate::repository::LoadedModel::cache_version`]), so a replaced
    /// file never answers from its predecessor's entries.
    pub version: &'a str,
    /// A text, or a record (whose `text` is its canonical encoding, see
    /// [`crate::input`]). Implementations must keep the two apart: a text
    /// may spell a record's encoding.
    pub kind: InputKind,
    /// The exact text, or the record's canonical encoding.
    pub text: &'a str,
    /// SHA-256 of `text`. Computed once per text on the request path and
    /// shared by the tier's lookup, its write-back and the prediction log's
    /// row (three digests of a 5 KB e-mail otherwise).
    pub text_sha256: &'a [u8; 32],
}

/// SHA-256 of a text's UTF-8 bytes: the shared tier's key and the log's
/// `text_sha256`.
pub fn text_sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// A shared cache tier. Implementations must never fail a request: a slow
/// or unreachable backend is a miss (`None`) and counted in their own
/// metrics, and they must never answer a text with another text's
/// prediction (store the text, or enough of it to detect a collision).
pub trait SharedTier: Send + Sync + 'static {
    /// The tier's name in `x-cache-tier` and metric labels, e.g. `"redis"`.
    fn name(&self) -> &'static str;
    /// The stored prediction for `key`, if any. Must be bounded in time.
    /// Any shape of answer ([`Output`]) must come back as stored, and an
    /// entry of an older format must read as a miss, never as another
    /// shape.
    fn get<'a>(&'a self, key: SharedKey<'a>) -> BoxFuture<'a, Option<Output>>;
    /// Stores `output` for `key` for `ttl`, in the background: returns
    /// at once, and may skip the store under pressure.
    fn put(&self, key: SharedKey<'_>, output: &Output, ttl: Duration);
    /// Appends the tier's metrics (Prometheus text format).
    fn write_prometheus(&self, out: &mut String);
}

/// One prediction, as handed to a [`PredictionSink`].
#[derive(Debug)]
pub struct PredictionEvent<'a> {
    /// Unique per request in this server (see [`RequestContext`]).
    ///
    /// The strings a log row repeats (the id, the model's name and version,
    /// its class names, the key id) come shared (`Arc<str>`), so a sink
    /// that keeps them for a while (the prediction log queues every row for
    /// its writer) takes a reference count, not a heap copy per field per
    /// request: at cache-hit rates those copies, allocated here and freed
    /// in a batch by the writer, were a measurable share of a hit.
    pub request_id: &'a Arc<str>,
    /// Position in the request's batch (0 for a single text).
    pub item: u32,
    pub model: &'a Arc<str>,
    pub version: &'a Arc<str>,
    /// The model's classes, to name a single or multi-label answer's
    /// labels and scores (empty for a multi-output model).
    pub classes: &'a [Label],
    /// `str(class)` of each of [`Self::classes`], computed once per loaded
    /// model.
    pub class_names: &'a [Arc<str>],
    /// Each output's classes (one entry unless multi-output).
    pub output_classes: &'a [Vec<Label>],
    pub prediction: &'a Output,
    /// Time to produce this prediction (cache lookup or engine).
    pub latency: Duration,
    pub tier: Tier,
    /// The API key's id (never the key), when auth is on.
    pub api_key_id: Option<&'a Arc<str>>,
    /// The text, or a record's canonical encoding (see [`crate::input`]).
    pub text: &'a str,
    /// [`text_sha256`] of `text`, already computed for the shared tier when
    /// there is one.
    pub text_sha256: &'a [u8; 32],
}

/// Records predictions. `record` is called on the request path, once per
/// text of a successful request: it must not block or wait on I/O (queue,
/// and drop-and-count when the queue is full).
pub trait PredictionSink: Send + Sync + 'static {
    fn record(&self, event: PredictionEvent<'_>);
    /// Appends the sink's metrics (Prometheus text format).
    fn write_prometheus(&self, out: &mut String);
}

/// An authenticated caller, available to handlers as a request extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key's id (log it; never the key itself).
    pub key_id: Arc<str>,
    pub admin: bool,
}

/// Why a request was refused by the [`Gatekeeper`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Malformed, unknown or wrong key (deliberately not distinguished).
    Invalid,
    /// A correct key that was revoked.
    Revoked { key_id: String },
    /// A valid key without admin rights on an admin route.
    Forbidden,
    /// The key's token bucket is empty.
    RateLimited { retry_after: Duration },
}

impl Denied {
    /// The metric label of a refusal (`http_auth_failures_total{reason}`);
    /// `None` for rate limiting, which has its own counter.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Denied::Missing => Some("missing"),
            Denied::Invalid => Some("invalid"),
            Denied::Revoked { .. } => Some("revoked"),
            Denied::Forbidden => Some("forbidden"),
            Denied::RateLimited { .. } => None,
        }
    }
}

/// Authentication and rate limiting, done by the observe middleware before
/// the body is read.
pub trait Gatekeeper: Send + Sync + 'static {
    /// Checks the `Authorization` header value (`None` when absent; a
    /// non-UTF-8 value arrives as `Some("")`), then — for admin routes —
    /// admin rights, then takes one token from the key's bucket.
    fn admit<'a>(
        &'a self,
        authorization: Option<&'a str>,
        admin_route: bool,
    ) -> BoxFuture<'a, Result<Caller, Denied>>;
    /// Appends the gatekeeper's own metrics (Prometheus text format).
    fn write_prometheus(&self, _out: &mut String) {}
}

/// The optional ports of a server.
#[derive(Clone, Default)]
pub struct Ports {
    pub shared_tier: Option<Arc<dyn SharedTier>>,
    pub sink: Option<Arc<dyn PredictionSink>>,
    pub gatekeeper: Option<Arc<dyn Gatekeeper>>,
}

/// Per-request facts the prediction log needs; set by the observe
/// middleware only when a sink or a gatekeeper is configured.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// Server-unique id: the generated `x-request-id`, or — when the client
    /// sent its own, which may repeat — `<generated>/<client's>`.
    pub request_id: Option<Arc<str>>,
    pub caller: Option<Caller>,
}

/// Routes that never need a key: probes, metrics and the API docs.
pub fn is_open_route(route: &str) -> bool {
    matches!(
        route,
        "/healthz"
            | "/readyz"
            | "/v2/health/live"
            | "/v2/health/ready"
            | "/metrics"
            | "/docs"
            | "/openapi.json"
    )
}

/// Routes that need an admin key: the model-repository API.
pub fn is_admin_route(route: &str) -> bool {
    route.starts_with("/v2/repository/")
}

/// `true` when a prediction from outside the process (a shared tier) is
/// consistent with `classes`: a label in range, one probability per class,
/// one decision value (binary) or one per class. Anything else is treated
/// as a miss, so a corrupt entry can never make a handler index out of
/// range.
pub fn plausible(p: &Prediction, classes: &[Label]) -> bool {
    plausible_with(p, classes, false)
}

/// [`plausible`], where `per_pair` says the model's decision has one value
/// per pair of classes (`SVC(decision_function_shape="ovo")`,
/// `Model::decision_per_pair`) instead of one per class.
fn plausible_with(p: &Prediction, classes: &[Label], per_pair: bool) -> bool {
    let n = classes.len();
    let decision_len = |len: usize| match per_pair {
        true => len == n * n.saturating_sub(1) / 2,
        false => len == n || (n == 2 && len == 1),
    };
    p.label < n
        && p.probabilities
            .as_deref()
            .is_none_or(|v| v.len() == n && finite(v))
        && p.decision
            .as_deref()
            .is_none_or(|v| decision_len(v.len()) && finite(v))
}

fn finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// [`plausible`] for any shape: the output has the model's shape (`kind`)
/// and fits its classes (`output_classes`, one entry per output). A single
/// answer for a multi-label model — an entry written for another model
/// under the same key — is a miss, never served.
///
/// `per_pair`: the model's decision has one value per pair of classes
/// (`Model::decision_per_pair`).
pub fn plausible_output(
    o: &Output,
    kind: OutputKind,
    output_classes: &[Vec<Label>],
    per_pair: bool,
) -> bool {
    match (o, kind, output_classes) {
        (Output::Single(p), OutputKind::Single, [classes]) => plausible_with(p, classes, per_pair),
        (Output::MultiLabel(p), OutputKind::MultiLabel, [classes]) => {
            let n = classes.len();
            p.labels.iter().all(|&l| l < n)
                && p.labels.windows(2).all(|w| w[0] < w[1])
                && p.probabilities
                    .as_deref()
                    .is_none_or(|v| v.len() == n && finite(v))
                && p.decision
                    .as_deref()
                    .is_none_or(|v| v.len() == n && finite(v))
        }
        (Output::MultiOutput(outs), OutputKind::MultiOutput, classes) => {
            outs.len() == classes.len()
                && outs
                    .iter()
                    .zip(classes)
                    .all(|(p, c)| p.decision.is_none() && plausible(p, c))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(n: usize) -> Vec<Label> {
        (0..n).map(|i| Label::Int(i as i64)).collect()
    }

    #[test]
    fn plausible_predictions() {
        let ok = Prediction {
            label: 1,
            probabilities: Some(vec![0.25, 0.75]),
            decision: Some(vec![1.0]),
        };
        assert!(plausible(&ok, &classes(2)));
        assert!(!plausible(&ok, &classes(3)), "probability count");
        let bad_label = Prediction {
            label: 2,
            ..ok.clone()
        };
        assert!(!plausible(&bad_label, &classes(2)));
        let nan = Prediction {
            probabilities: Some(vec![f64::NAN, 1.0]),
            ..ok.clone()
        };
        assert!(!plausible(&nan, &classes(2)));
        let multi = Prediction {
            label: 2,
            probabilities: None,
            decision: Some(vec![0.1, 0.2, 0.3]),
        };
        assert!(plausible(&multi, &classes(3)));
        let one_decision_multi = Prediction {
            decision: Some(vec![0.1]),
            ..multi
        };
        assert!(!plausible(&one_decision_multi, &classes(3)));
    }

    #[test]
    fn pair_decisions_are_plausible_only_for_pair_models() {
        // Four classes: six pairs for `decision_function_shape="ovo"`.
        let four = vec![classes(4)];
        let pairs = Output::Single(Prediction {
            label: 2,
            probabilities: None,
            decision: Some(vec![0.5; 6]),
        });
        assert!(plausible_output(&pairs, OutputKind::Single, &four, true));
        assert!(!plausible_output(&pairs, OutputKind::Single, &four, false));
        let per_class = Output::Single(Prediction {
            label: 2,
            probabilities: None,
            decision: Some(vec![0.5; 4]),
        });
        assert!(!plausible_output(
            &per_class,
            OutputKind::Single,
            &four,
            true
        ));
        assert!(plausible_output(
            &per_class,
            OutputKind::Single,
            &four,
            false
        ));
    }

    #[test]
    fn plausible_outputs_match_the_models_shape() {
        use falcon_engine::MultiLabelPrediction;
        let one = vec![classes(3)];
        let single = Output::Single(Prediction {
            label: 1,
            probabilities: None,
            decision: Some(vec![0.1, 0.2, 0.3]),
        });
        assert!(plausible_output(&single, OutputKind::Single, &one, false));
        assert!(!plausible_output(
            &single,
            OutputKind::MultiLabel,
            &one,
            false
        ));
        let tags = Output::MultiLabel(MultiLabelPrediction {
            labels: vec![0, 2],
            probabilities: Some(vec![0.9, 0.1, 0.8]),
            decision: None,
        });
        assert!(plausible_output(&tags, OutputKind::MultiLabel, &one, false));
        assert!(!plausible_output(&tags, OutputKind::Single, &one, false));
        let out_of_range = Output::MultiLabel(MultiLabelPrediction {
            labels: vec![3],
            probabilities: None,
            decision: None,
        });
        assert!(!plausible_output(
            &out_of_range,
            OutputKind::MultiLabel,
            &one,
            false
        ));
        let unsorted = Output::MultiLabel(MultiLabelPrediction {
            labels: vec![2, 0],
            probabilities: None,
            decision: None,
        });
        assert!(!plausible_output(
            &unsorted,
            OutputKind::MultiLabel,
            &one,
            false
        ));
        let two = vec![classes(2), classes(3)];
        let p = |label, n: usize| Prediction {
            label,
            probabilities: Some(vec![1.0 / n as f64; n]),
            decision: None,
        };
        let outs = Output::MultiOutput(vec![p(1, 2), p(2, 3)]);
        assert!(plausible_output(
            &outs,
            OutputKind::MultiOutput,
            &two,
            false
        ));
        assert!(!plausible_output(
            &outs,
            OutputKind::MultiOutput,
            &two[..1],
            false
        ));
        let swapped = Output::MultiOutput(vec![p(2, 3), p(1, 2)]);
        assert!(!plausible_output(
            &swapped,
            OutputKind::MultiOutput,
            &two,
            false
        ));
    }

    #[test]
    fn route_classes() {
        assert!(is_open_route("/metrics") && is_open_route("/v2/health/ready"));
        assert!(!is_open_route("/predict") && !is_open_route("/v2"));
        assert!(is_admin_route("/v2/repository/models/{name}/load"));
        assert!(is_admin_route("/v2/repository/index"));
        assert!(!is_admin_route("/v2/models/{name}/infer"));
    }
}
