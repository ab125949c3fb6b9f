//! Per-token rate limits: a token bucket for each token id, refilled at the configured rate.
//! A token that spends its bucket gets 429 with the seconds until its next request would pass.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The buckets of every token seen recently.
pub struct RateLimits {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Tokens tracked before idle buckets (full again by now) are dropped.
const TRACKED: usize = 10_000;

impl RateLimits {
    /// `per_sec` requests a second for each token, with bursts of up to twice that (at least 10).
    pub fn new(per_sec: u32) -> RateLimits {
        let per_sec = f64::from(per_sec.max(1));
        RateLimits { per_sec, burst: (per_sec * 2.0).max(10.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Spends one request of `token`'s bucket; if it is empty, how long until it is not.
    pub fn spend(&self, token: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= TRACKED && !buckets.contains_key(token) {
            let full = Duration::from_secs_f64(self.burst / self.per_sec);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < full);
        }
        let (left, at) = buckets.entry(token.to_owned()).or_insert((self.burst, now));
        *left = (*left + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *left >= 1.0 {
            *left -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - *left) / self.per_sec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_it_refills() {
        let limits = RateLimits::new(5);
        for _ in 0..10 {
            assert!(limits.spend("a").is_ok());
        }
        let wait = limits.spend("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200), "{wait:?}");
        assert!(limits.spend("b").is_ok(), "another token has its own bucket");
        std::thread::sleep(wait + Duration::from_millis(20));
        assert!(limits.spend("a").is_ok());
    }
}
