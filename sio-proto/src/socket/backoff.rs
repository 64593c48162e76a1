//! The reconnection backoff of the Socket.IO client: exponential delay with jitter, the random
//! value passed in (so that a seed gives a fixed sequence).

use std::time::Duration;

/// Reconnection settings (the Node client's `reconnectionDelay`, `reconnectionDelayMax`,
/// `randomizationFactor`, `reconnectionAttempts`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// First delay (1 s in Node).
    pub min: Duration,
    /// Largest delay (5 s in Node).
    pub max: Duration,
    /// Jitter in `[0, 1]` (0.5 in Node).
    pub randomization_factor: f64,
    /// Growth factor per attempt (2 in Node).
    pub factor: f64,
    /// Attempts before giving up (`None`: forever, Node's default `Infinity`).
    pub max_attempts: Option<u32>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(1000),
            max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            factor: 2.0,
            max_attempts: None,
        }
    }
}

/// The attempt counter and delay computation.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempts: u32,
}

impl Backoff {
    /// A backoff at attempt zero.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            attempts: 0,
        }
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether another attempt is allowed.
    pub fn can_retry(&self) -> bool {
        self.config.max_attempts.is_none_or(|m| self.attempts < m)
    }

    /// The delay before the next attempt, counting it. `random` is uniform in `[0, 1)`.
    ///
    /// `delay = min * factor^attempt`; with jitter `j = randomization_factor`, the delay moves
    /// by `floor(random * j * delay)` down when `floor(random * 10)` is even, up otherwise;
    /// then it is capped at `max` (the Node client's formula).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let c = &self.config;
        let base = c.min.as_millis() as f64;
        let mut ms = base * c.factor.powi(self.attempts.min(64) as i32);
        self.attempts = self.attempts.saturating_add(1);
        if c.randomization_factor > 0.0 {
            let random = random.clamp(0.0, 1.0);
            let deviation = (random * c.randomization_factor * ms).floor();
            if ((random * 10.0).floor() as u64) & 1 == 0 {
                ms -= deviation;
            } else {
                ms += deviation;
            }
        }
        let ms = ms.min(c.max.as_millis() as f64).max(0.0);
        Duration::from_millis(ms as u64)
    }

    /// Back to attempt zero (after a successful reconnection).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_without_jitter() {
        let mut b = Backoff::new(BackoffConfig {
            randomization_factor: 0.0,
            ..BackoffConfig::default()
        });
        let d: Vec<u64> = (0..5)
            .map(|_| b.next_delay(0.3).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(0.0).as_millis(), 1000);
    }

    #[test]
    fn jitter_moves_down_on_even_tenths_and_up_on_odd() {
        let mut b = Backoff::new(BackoffConfig::default());
        // random 0.25: floor(2.5)=2 even -> 1000 - floor(0.25*0.5*1000)=875
        assert_eq!(b.next_delay(0.25).as_millis(), 875);
        // random 0.15: floor(1.5)=1 odd -> 2000 + floor(0.15*0.5*2000)=2150
        assert_eq!(b.next_delay(0.15).as_millis(), 2150);
    }

    #[test]
    fn attempts_are_bounded() {
        let mut b = Backoff::new(BackoffConfig {
            max_attempts: Some(2),
            ..BackoffConfig::default()
        });
        assert!(b.can_retry());
        b.next_delay(0.1);
        b.next_delay(0.1);
        assert!(!b.can_retry());
    }
}
