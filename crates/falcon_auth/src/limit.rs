//! Per-key rate limits.
//!
//! [`RateLimiter`] is what the server calls per request; two
//! implementations exist: [`LocalRateLimiter`] (in-process token buckets,
//! `governor`'s GCRA — a limit per worker process) and
//! `falcon_redis::RedisRateLimiter` (the bucket lives in Redis, so a key's
//! limit holds across every worker).

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

use crate::key::Rate;

/// The outcome of a rate-limit check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: answer 429 with `Retry-After` (round up to seconds).
    Limited {
        retry_after: Duration,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }
}

/// A boxed future, so limiters can be used as `Arc<dyn RateLimiter>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Takes one token from `key_id`'s bucket of rate `rate`.
pub trait RateLimiter: Send + Sync + 'static {
    fn check<'a>(&'a self, key_id: &'a str, rate: Rate) -> BoxFuture<'a, Decision>;
}

/// In-process token buckets, one per (key, rate).
#[derive(Default)]
pub struct LocalRateLimiter {
    buckets: RwLock<HashMap<(String, Rate), Arc<DefaultDirectRateLimiter>>>,
    clock: DefaultClock,
}

/// `governor`'s quota for `rate`: one token every `period / amount`, up to
/// `burst` at once.
pub fn quota(rate: Rate) -> Quota {
    let amount = rate.amount.max(1);
    let per_token = (rate.period / amount).max(Duration::from_nanos(1));
    Quota::with_period(per_token)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(rate.burst.max(1)).expect("non-zero"))
}

impl LocalRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn bucket(&self, key_id: &str, rate: Rate) -> Arc<DefaultDirectRateLimiter> {
        let k = (key_id.to_owned(), rate);
        if let Some(b) = self
            .buckets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&k)
        {
            return b.clone();
        }
        self.buckets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(k)
            .or_insert_with(|| Arc::new(DefaultDirectRateLimiter::direct(quota(rate))))
            .clone()
    }

    /// The synchronous check ([`RateLimiter::check`] wraps it).
    pub fn check_now(&self, key_id: &str, rate: Rate) -> Decision {
        match self.bucket(key_id, rate).check() {
            Ok(()) => Decision::Allowed,
            Err(not_until) => Decision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

impl RateLimiter for LocalRateLimiter {
    fn check<'a>(&'a self, key_id: &'a str, rate: Rate) -> BoxFuture<'a, Decision> {
        let d = self.check_now(key_id, rate);
        Box::pin(async move { d })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn burst_then_limited_then_refills() {
        let l = LocalRateLimiter::new();
        let rate: Rate = "20/s:5".parse().unwrap();
        for _ in 0..5 {
            assert!(l.check("k", rate).await.is_allowed());
        }
        let Decision::Limited { retry_after } = l.check("k", rate).await else {
            panic!("6th request allowed");
        };
        assert!(
            retry_after > Duration::ZERO && retry_after <= Duration::from_millis(50),
            "{retry_after:?}"
        );
        // Another key has its own bucket.
        assert!(l.check("other", rate).await.is_allowed());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(l.check("k", rate).await.is_allowed());
    }

    #[test]
    fn sustained_rate_is_enforced() {
        let l = LocalRateLimiter::new();
        let rate: Rate = "100/s".parse().unwrap();
        let start = std::time::Instant::now();
        let mut allowed = 0;
        while start.elapsed() < Duration::from_millis(500) {
            if l.check_now("k", rate).is_allowed() {
                allowed += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // 100 burst + ~50 over half a second.
        assert!((130..=170).contains(&allowed), "{allowed}");
    }
}
