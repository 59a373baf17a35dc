//! Token buckets in Redis, so a key's limit holds across every worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use falcon_auth::{BoxFuture, Decision, LocalRateLimiter, Rate, RateLimiter};

use crate::conn::RedisConn;

/// One atomic script per check: refill by elapsed time, take a token or
/// report how long until one is available. Time comes from Redis (`TIME`),
/// not from the workers, so clock skew between machines cannot inflate a
/// limit. The bucket expires once it would be full again anyway.
const SCRIPT: &str = r"
local capacity = tonumber(ARGV[1])
local per_us = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * per_us)
end
local allowed = 0
local wait_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_us = math.ceil((1 - tokens) / per_us)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_us / 1000) + 1000)
return {allowed, wait_us}
";

/// Redis-backed token buckets (`{prefix}:rl:{key id}`).
///
/// When Redis is slow or unreachable the check falls back to in-process
/// buckets — each worker then enforces the limit on its own, which is
/// looser by the number of workers but never fails a request on Redis'
/// account — and the fallback is counted.
pub struct RedisRateLimiter {
    conn: RedisConn,
    prefix: String,
    script: redis::Script,
    fallback: LocalRateLimiter,
    fallbacks: Arc<AtomicU64>,
}

impl RedisRateLimiter {
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        RedisRateLimiter {
            conn,
            prefix: prefix.to_owned(),
            script: redis::Script::new(SCRIPT),
            fallback: LocalRateLimiter::new(),
            fallbacks: Arc::default(),
        }
    }

    /// Checks answered by the in-process fallback.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Relaxed)
    }

    async fn check_redis(&self, key_id: &str, rate: Rate) -> Decision {
        let key = format!("{}:rl:{key_id}", self.prefix);
        let per_us = rate.per_second() / 1e6;
        let script = &self.script;
        let res = self
            .conn
            .run(|mut c| async move {
                let (allowed, wait_us): (i64, i64) = script
                    .key(key)
                    .arg(rate.burst)
                    .arg(per_us)
                    .invoke_async(&mut c)
                    .await?;
                Ok((allowed, wait_us))
            })
            .await;
        match res {
            Ok((1, _)) => Decision::Allowed,
            Ok((_, wait_us)) => Decision::Limited {
                retry_after: Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)),
            },
            Err(e) => {
                self.fallbacks.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, "redis rate limit check failed; using the local bucket");
                self.fallback.check_now(key_id, rate)
            }
        }
    }
}

impl RateLimiter for RedisRateLimiter {
    fn check<'a>(&'a self, key_id: &'a str, rate: Rate) -> BoxFuture<'a, Decision> {
        Box::pin(self.check_redis(key_id, rate))
    }
}
