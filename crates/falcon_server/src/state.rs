//! Shared state of one server: configuration, repository, cache, metrics
//! and the admission limiter. Cloning an [`AppState`] clones one `Arc`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cache::{NoCache, PredictionCache, QuickCache};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::ports::{Gatekeeper, Ports, PredictionSink, SharedTier};
use crate::repository::{LoadedModel, Repository};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: ServerConfig,
    pub repo: Repository,
    pub cache: Arc<dyn PredictionCache>,
    pub metrics: Arc<Metrics>,
    /// Admission control: one permit per request inside the inference
    /// section, `config.max_concurrency` in all. Acquired with `try_acquire`
    /// only — a request that finds none is shed with 503 at once, so there
    /// is no queue whose latency could grow.
    limiter: Arc<Semaphore>,
    pub started: Instant,
    /// Shared state (`falcon serve --redis-url`, the prediction log,
    /// `--auth required`); all `None` in a plain server.
    pub ports: Ports,
}

impl AppState {
    /// A server over `config`, with the in-process cache it asks for. No
    /// model is loaded yet: call [`AppState::reload`] (the server's `run`
    /// does it in the background, so readiness starts false).
    pub fn new(config: ServerConfig) -> Self {
        Self::with_config_and_ports(config, Ports::default())
    }

    /// Same, with a caller-supplied cache tier.
    pub fn with_cache(config: ServerConfig, cache: Arc<dyn PredictionCache>) -> Self {
        Self::with_ports(config, cache, Ports::default())
    }

    /// A server over `config` with the in-process cache it asks for and
    /// the given shared-state ports.
    pub fn with_config_and_ports(config: ServerConfig, ports: Ports) -> Self {
        let cache: Arc<dyn PredictionCache> = if config.cache_bytes == 0 {
            Arc::new(NoCache)
        } else {
            Arc::new(QuickCache::new(config.cache_bytes))
        };
        Self::with_ports(config, cache, ports)
    }

    /// Same, with a caller-supplied in-process cache.
    pub fn with_ports(config: ServerConfig, cache: Arc<dyn PredictionCache>, ports: Ports) -> Self {
        let tier_name = ports.shared_tier.as_ref().map(|t| t.name());
        let metrics = Arc::new(Metrics::with_shared_tier(tier_name));
        let repo = Repository::new(config.models_dir.clone(), metrics.clone())
            .with_nltk_data(config.nltk_data.clone());
        let limiter = Arc::new(Semaphore::new(config.max_concurrency.max(1)));
        AppState(Arc::new(Inner {
            config,
            repo,
            cache,
            metrics,
            limiter,
            started: Instant::now(),
            ports,
        }))
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    pub fn repo(&self) -> &Repository {
        &self.0.repo
    }
    pub fn cache(&self) -> &dyn PredictionCache {
        &*self.0.cache
    }
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
    pub fn started(&self) -> Instant {
        self.0.started
    }
    pub fn shared_tier(&self) -> Option<&Arc<dyn SharedTier>> {
        self.0.ports.shared_tier.as_ref()
    }
    pub fn sink(&self) -> Option<&Arc<dyn PredictionSink>> {
        self.0.ports.sink.as_ref()
    }
    pub fn gatekeeper(&self) -> Option<&Arc<dyn Gatekeeper>> {
        self.0.ports.gatekeeper.as_ref()
    }
    /// Whether handlers need a [`crate::ports::RequestContext`].
    pub fn wants_context(&self) -> bool {
        self.0.ports.sink.is_some()
    }

    /// Re-scans the model repository (startup, `SIGHUP`); returns how many
    /// models failed to load (they keep their previous load, if any).
    pub async fn reload(&self) -> Result<usize, ServerError> {
        self.0.repo.reload_all().await
    }

    /// Takes an inference slot or sheds the request.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ServerError> {
        self.0.limiter.clone().try_acquire_owned().map_err(|_| {
            self.0.metrics.shed.inc();
            ServerError::Overloaded {
                retry_after: self.0.config.retry_after,
            }
        })
    }

    fn not_ready(&self) -> ServerError {
        ServerError::NotReady("models are loading".into(), self.0.config.retry_after)
    }

    /// The model `name` at `version` (its default version when `None`).
    pub fn resolve(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Arc<LoadedModel>, ServerError> {
        let snap = self.0.repo.snapshot();
        let Some(entry) = snap.models.get(name) else {
            if !self.0.repo.is_ready() && !snap.status.contains_key(name) {
                return Err(self.not_ready());
            }
            return Err(ServerError::ModelNotFound(name.to_string()));
        };
        match version {
            None => Ok(entry.default().clone()),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .and_then(|n| entry.versions.get(&n))
                .cloned()
                .ok_or_else(|| ServerError::VersionNotFound {
                    name: name.to_string(),
                    version: v.to_string(),
                }),
        }
    }

    /// The model of `POST /predict`: `--default-model`, else the only one.
    pub fn resolve_default(&self) -> Result<Arc<LoadedModel>, ServerError> {
        if let Some(name) = &self.0.config.default_model {
            return self.resolve(name, None);
        }
        let snap = self.0.repo.snapshot();
        let mut names = snap.models.keys();
        match (names.next(), names.next()) {
            (Some(only), None) => self.resolve(only, None),
            (None, _) if !self.0.repo.is_ready() => Err(self.not_ready()),
            (None, _) => Err(ServerError::ModelNotFound("(default: no model is loaded)".into())),
            (Some(_), Some(_)) => Err(ServerError::Invalid(
                "several models are served and no --default-model is set: use /v1/models/{name}/predict"
                    .into(),
            )),
        }
    }

    /// The whole `/metrics` body: the registry, then the ports' own
    /// metrics (shared tier, prediction log, gatekeeper).
    pub fn render_metrics(&self) -> String {
        let mut out = self.0.metrics.render();
        let p = &self.0.ports;
        if let Some(t) = &p.shared_tier {
            t.write_prometheus(&mut out);
        }
        if let Some(s) = &p.sink {
            s.write_prometheus(&mut out);
        }
        if let Some(g) = &p.gatekeeper {
            g.write_prometheus(&mut out);
        }
        out
    }

    /// Refreshes gauges that are sampled rather than counted.
    pub fn sample_gauges(&self) {
        let (entries, bytes) = self.0.cache.usage();
        self.0.metrics.cache_entries.set(entries as i64);
        self.0.metrics.cache_bytes.set(bytes as i64);
    }
}
