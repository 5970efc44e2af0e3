//! The one fixed RNG of the integration tests and benches, the same as the crate's
//! (`src/fuzzing/rng.rs`, not public API): splitmix64. `fill_bytes` takes one `u64` per
//! 8 output bytes and writes it little-endian (the last word truncated), so seed `s` gives
//! the bytes `le(splitmix64 output 1) || le(output 2) || ...`: fixed keys, certificates
//! and ephemeral secrets per seed, so our side replays byte for byte. Not a CSPRNG, and
//! fast, so RNG cost does not blur the benches' figures.
//!
//! Included with `#[path = "common/rng.rs"] mod rng;` (benches:
//! `#[path = "../tests/common/rng.rs"]`; the drivers in `common/`: `#[path = "rng.rs"]`).
#![allow(dead_code)]

pub(crate) struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

impl TestRng {
    /// `n` bytes of this stream (test data).
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        let Ok(()) = rand_core::TryRng::try_fill_bytes(self, &mut v);
        v
    }
    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let Ok(x) = rand_core::TryRng::try_next_u64(self);
        x % n
    }
}
