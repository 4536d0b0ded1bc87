//! [`SimRng`]: the simulation's one source of randomness, seeded, so that
//! the same seed gives the same run.

use std::time::Duration;

/// A splitmix64 generator: small, fast, and the same numbers for the same
/// seed on every platform.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is negligible for the
    /// small `n` of a simulation).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A duration uniform in `[min, max]`.
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let span = max.saturating_sub(min).as_nanos() as u64;
        min + Duration::from_nanos(if span == 0 { 0 } else { self.below(span + 1) })
    }

    /// An exponentially distributed duration of mean `mean` (the time to
    /// the next of events that come at random at a constant rate), capped
    /// at ten means.
    pub fn exponential(&mut self, mean: Duration) -> Duration {
        // Uniform in (0, 1]: never ln(0).
        let u = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        mean.mul_f64((-u.ln()).min(10.0))
    }

    /// A 32-byte seed (for an identity).
    pub fn seed32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::SimRng;
    use std::time::Duration;

    #[test]
    fn same_seed_same_numbers_and_bounds_hold() {
        let (mut a, mut b) = (SimRng::new(3), SimRng::new(3));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        for _ in 0..100 {
            let d = a.between(Duration::from_millis(5), Duration::from_millis(7));
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(7));
            assert!(a.exponential(Duration::from_millis(10)) <= Duration::from_millis(100));
            assert!(a.below(4) < 4);
        }
        assert_ne!(SimRng::new(1).next_u64(), SimRng::new(2).next_u64());
    }
}
