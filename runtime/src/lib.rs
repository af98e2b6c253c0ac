//! The ModularBase runtime.
//!
//! It will own (DESIGN §5), on candle: the llama-style base core, pack modules (adapters and
//! a mixture-of-experts layer, quantized experts in GGUF), the router, the LRU pack cache
//! under a byte budget, fallback chains, generation, training and the memory monitor. The
//! runtime issue builds it; for now it states which packs it can load.

use modularbase_pack::{Manifest, PackKind};

/// Whether the runtime loads packs of `manifest`'s kind as a plug-in (router or domain)
/// rather than as the resident base core.
pub fn is_plugin(manifest: &Manifest) -> bool {
    manifest.kind != PackKind::Base
}
