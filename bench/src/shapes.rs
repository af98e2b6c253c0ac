//! The model shapes the runtime benchmarks share, so CPU and GPU figures describe the same
//! network: a small base (hidden 256, 6 blocks) and a Q8_0 pack of 8 experts, top-2.

use modularbase_pack::ExpertFormat;
use modularbase_runtime::{BaseConfig, PackConfig, VOCAB_SIZE};

/// The base: hidden 256, 6 blocks, 8 heads (4 key/value), FFN 704, context 512.
pub const BENCH_BASE: BaseConfig = BaseConfig {
    hidden: 256,
    layers: 6,
    heads: 8,
    kv_heads: 4,
    ffn: 704,
    vocab: VOCAB_SIZE,
    context: 512,
    rope_theta: 10_000.0,
    rms_eps: 1e-5,
    tied_embeddings: false,
};

/// The pack: width 256, 8 experts of FFN 512, 2 active, Q8_0, after block 3.
pub const BENCH_PACK: PackConfig = PackConfig {
    hidden: 256,
    width: 256,
    experts: 8,
    top_k: 2,
    expert_ffn: 512,
    insertion_layer: 3,
    expert_format: ExpertFormat::Q8_0,
};
