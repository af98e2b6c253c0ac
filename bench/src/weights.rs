//! Synthetic weights for benchmarks that move realistic archives: valid `weights.gguf`
//! files (they pass every check a publish or install makes) around data that compresses
//! like trained F16 weights, or not at all.

use std::io::{self, Write};

use modularbase_tests::synthetic_weights;

/// `mib` MiB of xorshift F16-like values; `seed` (non-zero) picks the values. Each 16-bit
/// lane has a random sign and mantissa and an exponent of 13 (p=1/2), 12, 11 or 10, so
/// magnitudes cluster below 1 as trained weights do: the high bytes carry little entropy,
/// and zstd shrinks the data to about 89%, as it does real F16 weights.
pub fn f16_like(mib: u64, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut data = vec![0u8; (mib as usize) << 20];
    for value in data.chunks_exact_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut word = state & 0x83FF_83FF_83FF_83FF;
        for lane in 0..4 {
            let bits = (state >> (10 + 16 * lane)) & 0x7;
            let exponent = 13 - u64::from((bits | 0x8).trailing_zeros());
            word |= exponent << (10 + 16 * lane);
        }
        value.copy_from_slice(&word.to_le_bytes());
    }
    data
}

/// `mib` MiB of xorshift bytes, which zstd cannot shrink.
pub fn incompressible(mib: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut data = vec![0u8; (mib as usize) << 20];
    for chunk in data.chunks_exact_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    data
}

/// Writes [`modularbase_tests::synthetic_weights`] of a domain pack around `mib` MiB of [`f16_like`] data.
pub fn write_f16_like(out: &mut impl Write, mib: u64, seed: u64) -> io::Result<()> {
    out.write_all(&synthetic_weights("domain", &f16_like(mib, seed)))
}
