//! Synthetic weights that compress like trained F16 weights, for benchmarks that move
//! realistic archives.

use std::io::{self, Write};

/// Writes `GGUF` and then `mib` MiB of xorshift F16-like values to `out`; `seed` (non-zero)
/// picks the values. Each 16-bit lane has a random sign and mantissa and an exponent of 13
/// (p=1/2), 12, 11 or 10, so magnitudes cluster below 1 as trained weights do: the high
/// bytes carry little entropy, and zstd shrinks the data to about 89%, as it does real
/// F16 weights.
pub fn write_f16_like(out: &mut impl Write, mib: u64, seed: u64) -> io::Result<()> {
    let mut state = seed;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..mib {
        for value in chunk.chunks_exact_mut(8) {
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
        if i == 0 {
            chunk[..4].copy_from_slice(b"GGUF");
        }
        out.write_all(&chunk)?;
    }
    Ok(())
}
