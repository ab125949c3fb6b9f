//! The test kit every integration-test binary shares: cheap key derivation for keyrings and
//! identities made by the thousand, a reproducible random generator, and the command-line
//! driver (`cli`). Each binary includes it with `#[path = "kit/mod.rs"] mod kit;`.
#![allow(dead_code)] // each binary uses some of it

pub mod cli;

/// Argon2id parameters for tests: 8 MiB, one pass. Never for a real key file.
pub const CHEAP: lockbox::format::KdfParams =
    lockbox::format::KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

/// A deterministic generator (xorshift64*), so every run is reproducible from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
