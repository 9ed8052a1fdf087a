//! Retrying with exponential backoff and full jitter.
//!
//! Retry `n` (counting from 1) waits a random time in `[0, min(max_delay, base_delay · 2^(n-1))]`
//! ("full jitter"): clients throttled together spread out instead of coming back in step, which
//! is what a throttled shard needs. The wait is a `futures-timer` delay, which any executor can
//! poll, so retrying needs no particular async runtime.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_timer::Delay;

use crate::client::error::ClientError;

/// When and how often a failed request is sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 never retries. 0 counts as 1.
    pub max_attempts: u32,
    /// The cap of the first retry's wait; each further retry doubles it.
    pub base_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
    /// Full jitter when true (the wait is drawn uniformly below the cap); the cap itself when
    /// false, which only tests and single clients should want.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// 4 attempts; waits capped at 50 ms, 100 ms, 200 ms (and never over 5 s); full jitter.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// Attempts in all (at least 1).
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait before retry `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let cap = self.base_delay.checked_mul(1 << doublings).unwrap_or(self.max_delay).min(self.max_delay);
        if self.jitter {
            cap.mul_f64(random_fraction())
        } else {
            cap
        }
    }
}

/// Runs `attempt` until it succeeds, fails with an error that is not retryable, or the policy's
/// attempts are used up; the last outcome is returned.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    operation: &str,
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let attempts = policy.attempts();
    let mut n = 1;
    loop {
        match attempt().await {
            Err(error) if error.is_retryable() && n < attempts => {
                let delay = policy.backoff(n);
                tracing::debug!(operation, attempt = n, ?delay, %error, "retrying");
                Delay::new(delay).await;
                n += 1;
            }
            outcome => return outcome,
        }
    }
}

/// A number in `[0, 1)`. Jitter needs no strong randomness, only that clients differ: the
/// standard library's per-process random hash keys provide that without a dependency.
fn random_fraction() -> f64 {
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    // The top 53 bits, the precision of an f64 in [0, 1).
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(75),
            jitter: false,
        };
        let delays: Vec<u128> = (1..=6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 75, 75, 75]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(75));
    }

    #[test]
    fn jittered_backoff_stays_below_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
            jitter: true,
        };
        for n in 1..=8 {
            let cap = Duration::from_millis(10 << (n - 1)).min(Duration::from_secs(1));
            for _ in 0..100 {
                assert!(policy.backoff(n) <= cap);
            }
        }
    }

    #[test]
    fn random_fractions_are_in_the_unit_interval_and_vary() {
        let draws: Vec<f64> = (0..1000).map(|_| random_fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn zero_attempts_count_as_one() {
        let policy = RetryPolicy { max_attempts: 0, ..RetryPolicy::default() };
        assert_eq!(policy.attempts(), 1);
    }
}
