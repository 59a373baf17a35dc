//! Falcon's inference server, as a library: `falcon serve` wires it to a
//! process (flags, signals, logging); tests drive it in-process with
//! `tower::ServiceExt::oneshot` on [`router`] or over TCP with [`run`] on a
//! port-0 listener.
//!
//! Layout: [`routes`] (thin handlers, one group per file), [`middleware`],
//! [`infer`] (admission, cache, engine), [`repository`] (models and hot
//! reload), [`cache`], [`ports`] (shared cache tier, prediction log, auth), [`metrics`], [`error`] (the one error type and its
//! JSON envelope).

pub mod cache;
pub mod config;
pub mod error;
pub mod extract;
pub mod fast_json;
pub mod infer;
pub mod input;
pub mod metrics;
pub mod middleware;
pub mod ports;
pub mod repository;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;

pub use cache::{Answer, CacheKey, CacheStatus, NoCache, PredictionCache, QuickCache, keyed_hash};
pub use config::{ModelSettings, ServerConfig, parse_bytes, parse_duration};
pub use error::ServerError;
pub use ports::{
    BoxFuture, Caller, Denied, Gatekeeper, InputKind, Ports, PredictionEvent, PredictionSink,
    RequestContext, SharedKey, SharedTier, Tier, text_sha256,
};
pub use router::router;
pub use server::{Stopped, run};
pub use state::AppState;
