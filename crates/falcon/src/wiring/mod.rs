//! Adapters: the concrete shared-state pieces (`falcon_redis`,
//! `falcon_log`, `falcon_auth`) behind the ports `falcon_server` defines
//! (`SharedTier`, `PredictionSink`, `Gatekeeper`). Only this binary knows
//! both sides.

pub mod auth;
pub mod log_sink;
pub mod redis_tier;
