//! Plays one worker process against the Redis token buckets: makes
//! `CHECKS` checks on `KEY` at rate `RATE` over `SECONDS` seconds and prints
//! `allowed <n> fallbacks <m>`. Two of these at once show whether a limit
//! holds across processes (the cross-worker test uses it).
//!
//! `falcon-ratelimit-probe REDIS_URL PREFIX KEY RATE CHECKS SECONDS`

use std::time::{Duration, Instant};

use falcon_auth::{Rate, RateLimiter};
use falcon_redis::{RedisConn, RedisOptions, RedisRateLimiter};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!("usage: falcon-ratelimit-probe REDIS_URL PREFIX KEY RATE CHECKS SECONDS");
        std::process::exit(2);
    }
    let rate: Rate = a[4].parse().expect("RATE");
    let checks: u32 = a[5].parse().expect("CHECKS");
    let secs: f64 = a[6].parse().expect("SECONDS");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut opts = RedisOptions::new(a[1].as_str());
        opts.timeout = Duration::from_millis(50);
        let limiter = RedisRateLimiter::new(RedisConn::connect(opts).await.expect("url"), &a[2]);
        let pace = Duration::from_secs_f64(secs / f64::from(checks));
        let start = Instant::now();
        let mut allowed = 0;
        for i in 0..checks {
            if limiter.check(&a[3], rate).await.is_allowed() {
                allowed += 1;
            }
            let next = start + pace * (i + 1);
            tokio::time::sleep_until(next.into()).await;
        }
        println!("allowed {allowed} fallbacks {}", limiter.fallbacks());
    });
}
