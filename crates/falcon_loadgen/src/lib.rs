//! `falcon_loadgen`: the load generator behind `falcon bench`.
//!
//! Built in so that an operator without k6 can still reproduce the seed's
//! study, and built so that it is never the bottleneck: hyper's pooled
//! client on tokio with keep-alive, request bodies serialized once, one
//! collector task folding samples into HDR histograms.
//!
//! Two load models:
//! - **closed loop** ([`Mode::Closed`]): virtual users with think time, the
//!   seed's shape (50 VUs, 0.25 s);
//! - **open loop** ([`Mode::Open`]): a constant arrival rate.
//!
//! Open-loop latencies are measured from the request's *intended* start, so
//! a server stall inflates the percentiles of every request that should
//! have been sent during it (no coordinated omission); closed-loop ones from
//! the send, as k6 measures them (a virtual user has one request out at a
//! time, so only the timer's lateness would differ).

mod config;
mod corpus;
mod error;
pub mod http;
pub mod procstat;
pub mod prom;
pub mod report;
mod run;
mod text;

pub use config::{LoadConfig, Mode, WorkerPid};
pub use corpus::{Corpus, Picker, RepeatDist};
pub use error::LoadgenError;
pub use report::RunReport;
pub use run::run;
pub use text::summary_text;
