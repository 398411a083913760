//! The stage's throttling as API Gateway applies it: a token bucket (rate per second, burst) for
//! the whole stage and a tighter one for `POST /signup`, from the template's parameters
//! (`ThrottlingRateLimit`, …) unless overridden. A request over either gets `THROTTLED`.

use std::sync::Mutex;
use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket { rate, burst, state: Mutex::new((burst, Instant::now())) }
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    pub fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = *state;
        let refilled = (tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        let (left, taken) = if refilled >= 1.0 { (refilled - 1.0, true) } else { (refilled, false) };
        *state = (left, now.max(last));
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn now_takes_from_the_same_bucket() {
        let bucket = TokenBucket::new(0.001, 1.0);
        assert!(bucket.try_take());
        assert!(!bucket.try_take());
    }

    #[test]
    fn burst_then_rate() {
        let bucket = TokenBucket::new(2.0, 3.0);
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.try_take_at(start)));
        assert!(!bucket.try_take_at(start), "the burst is spent");
        assert!(bucket.try_take_at(start + Duration::from_millis(500)), "2/s refills one token in 500 ms");
        assert!(!bucket.try_take_at(start + Duration::from_millis(500)));
        assert!((0..3).all(|_| bucket.try_take_at(start + Duration::from_secs(60))), "refill is capped at the burst");
        assert!(!bucket.try_take_at(start + Duration::from_secs(60)));
    }
}
