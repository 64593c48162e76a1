//! Session and socket ids from an injected seed.
//!
//! The crate never reaches for an operating-system or thread-local RNG: the runtime seeds an
//! [`IdGenerator`] once (from the OS in production, a constant in tests, so that wire vectors
//! are stable). Ids are 15 random bytes in URL-safe base64 (20 characters), like the ids Node's
//! server hands out.

use base64::Engine as _;
use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic, unpredictable (ChaCha12) generator of session and socket ids.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    rng: ChaCha12Rng,
}

impl IdGenerator {
    /// A generator seeded with 32 bytes. Equal seeds give equal id sequences.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            rng: ChaCha12Rng::from_seed(seed),
        }
    }

    /// A generator seeded from a number: convenient for tests, predictable, not for production.
    pub fn from_u64(seed: u64) -> Self {
        Self {
            rng: ChaCha12Rng::seed_from_u64(seed),
        }
    }

    /// The next id: 20 characters of URL-safe base64.
    pub fn next_id(&mut self) -> String {
        let mut raw = [0u8; 15];
        self.rng.fill_bytes(&mut raw);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// A uniformly distributed number in `[0, 1)`, for backoff jitter.
    pub fn next_f64(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_20_urlsafe_chars_and_seeded() {
        let mut a = IdGenerator::from_u64(7);
        let mut b = IdGenerator::from_u64(7);
        let x = a.next_id();
        assert_eq!(x.len(), 20);
        assert!(x
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(x, b.next_id());
        assert_ne!(a.next_id(), x);
        let f = a.next_f64();
        assert!((0.0..1.0).contains(&f));
    }
}
