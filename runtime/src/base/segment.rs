//! One sequence's state in a forward pass: its KV cache, and its share of a pass.

use candle_core::Tensor;

use super::HiddenPlug;

/// One sequence's attention keys and values, layer by layer: what lets each new token reuse
/// the work done for the tokens before it. Each request being answered owns one.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    pub(super) layers: Vec<Option<(Tensor, Tensor)>>,
    pub(super) len: usize,
}

impl KvCache {
    /// An empty cache (a new sequence).
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything (start of a new sequence).
    pub fn clear(&mut self) {
        self.layers.clear();
        self.len = 0;
    }
}

/// One sequence's share of a forward pass: its next tokens, the position of the first, its
/// cache and the pack plugged into it (each row of a batch may have its own pack).
pub struct Segment<'a> {
    /// Tokens to run (the prompt, a chunk of it, or the last sampled token).
    pub tokens: &'a [u32],
    /// This sequence's cache; the tokens go at positions `cache.len()..`.
    pub cache: &'a mut KvCache,
    /// The pack for this sequence, if any.
    pub plug: Option<&'a dyn HiddenPlug>,
    pub(super) offset: usize,
}

impl<'a> Segment<'a> {
    /// `tokens` continuing the sequence whose keys and values are in `cache`.
    pub fn new(
        tokens: &'a [u32],
        cache: &'a mut KvCache,
        plug: Option<&'a dyn HiddenPlug>,
    ) -> Self {
        let offset = cache.len();
        Self {
            tokens,
            cache,
            plug,
            offset,
        }
    }
}
