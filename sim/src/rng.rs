//! Seeded randomness: one ChaCha8 stream per actor, all derived from the run seed.
//!
//! Rules:
//! 1. Every random choice of the simulator comes from a [`Dice`] made by [`Dice::new`] with the
//!    run seed and a stream id from [`stream`]. Nothing reads OS randomness or madsim's rand-0.8
//!    generator (the two rand generations are never mixed).
//! 2. Each actor (knob derivation, fault plan, DFS, each client task, ...) has its own stream,
//!    so adding a draw to one actor never shifts another actor's choices.
//! 3. Parameters are drawn even for features a seed switches off, so switching one fault kind
//!    off (minimize) leaves every other parameter of the seed unchanged.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Stream ids of the actors.
pub mod stream {
    /// Knobs of the run (cluster shape, workload mix, engine config).
    pub const KNOBS: u64 = 1;
    /// The fault plan.
    pub const FAULTS: u64 = 2;
    /// The simulated DFS (latencies, injected errors, torn tails, pipelines).
    pub const DFS: u64 = 3;
    /// The supervisor and master.
    pub const MASTER: u64 = 4;
    /// Client task `client` of server slot `slot`, incarnation `inc`.
    pub fn client(slot: usize, inc: u32, client: usize) -> u64 {
        1_000 + ((slot as u64) << 32) + ((inc as u64) << 16) + client as u64
    }
}

/// A seeded random stream with the few draws the simulator needs.
#[derive(Clone, Debug)]
pub struct Dice(ChaCha8Rng);

impl Dice {
    /// The stream `stream` of `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Dice(rng)
    }

    /// A uniform `u64`.
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`), by widening multiplication (bias below 2^-32 for our n).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        ((self.u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "range {lo}..={hi}");
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn unit_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// An index chosen with the given weights (at least one non-zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        assert!(total > 0, "all weights are zero");
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        unreachable!("x < total")
    }

    /// A Pareto-distributed value `scale / U^(1/alpha)`, capped: a heavy tail.
    pub fn pareto(&mut self, scale: f64, alpha: f64, cap: u64) -> u64 {
        let u = 1.0 - self.unit(); // (0, 1]
        let v = scale / u.powf(1.0 / alpha);
        if v.is_finite() {
            (v as u64).min(cap)
        } else {
            cap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams are reproducible and independent.
    #[test]
    fn streams_reproduce() {
        let a: Vec<u64> = (0..4).map(|_| Dice::new(7, 1).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Dice::new(7, 1);
        let mut y = Dice::new(7, 2);
        assert_ne!(x.u64(), y.u64());
        let mut d = Dice::new(1, 1);
        for _ in 0..1000 {
            assert!(d.range(3, 5) >= 3 && d.range(3, 5) <= 5);
            assert!(d.pareto(10.0, 1.2, 500) >= 10);
        }
    }
}
