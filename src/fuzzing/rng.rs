//! The one fixed RNG of the crate's unit tests and fuzz bodies, and the streams the unit
//! tests draw their pseudo-random inputs from. Randomness comes from configuration
//! (STYLE.md), so fixing it here makes every key, certificate and ephemeral secret of a
//! test replay byte for byte.

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): seed `s` gives the bytes `le(output 1) || le(output 2) || ...`
/// (`fill_bytes` takes one `u64` per 8 bytes, the last one truncated). Not a CSPRNG: it
/// only claims `CryptoRng` so the machines accept it in tests.
#[derive(Debug, Clone)]
pub struct TestRng(pub u64);

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
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

/// xorshift64 (Marsaglia, "Xorshift RNGs", 2003; shifts 13, 7, 17): the cheap stream the
/// unit tests build pseudo-random inputs from, so the same seeds give the same inputs.
#[cfg(test)]
pub(crate) struct Xorshift(pub(crate) u64);

#[cfg(test)]
impl Xorshift {
    /// The next state (and output).
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Up to three random edits of `v` (a bit flip, a truncation, an insertion), never
/// leaving it empty: how the unit tests mutate a valid input (a key, a certificate).
#[cfg(test)]
pub(crate) fn mutate(v: &mut alloc::vec::Vec<u8>, x: &mut Xorshift) {
    for _ in 0..(x.0 % 4) {
        let state = x.next();
        let i = (state as usize) % v.len();
        match state % 3 {
            0 => v[i] ^= 1 << (state % 8),
            1 => v.truncate(i),
            _ => v.insert(i, state as u8),
        }
        if v.is_empty() {
            v.push(0);
        }
    }
}
