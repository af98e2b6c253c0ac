//! `[model]`: the optional shape of a pack's weights, checked for consistency.

use serde::{Deserialize, Serialize};

use super::PackKind;

/// How a domain pack stores its expert layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpertFormat {
    /// 8-bit blocks (GGML Q8_0).
    #[serde(rename = "q8_0")]
    Q8_0,
    /// 4-bit blocks (GGML Q4_0).
    #[serde(rename = "q4_0")]
    Q4_0,
    /// Half precision, unquantized.
    #[serde(rename = "f16")]
    F16,
}

impl ExpertFormat {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::Q8_0, Self::Q4_0, Self::F16];

    /// Its name in `pack.toml` and in `modularbase.expert_format` (`q8_0`, `q4_0`, `f16`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::F16 => "f16",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Sizes of the network a pack carries. Base fields describe a llama core; pack fields
/// describe adapters and experts. Every field is optional; present ones must agree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShape {
    /// Width of the base's hidden stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<u32>,
    /// Base only: number of transformer blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<u32>,
    /// Base only: attention heads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heads: Option<u32>,
    /// Base only: key/value heads (grouped-query attention).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u32>,
    /// Base only: vocabulary size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vocab: Option<u32>,
    /// Base only: longest context in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<u32>,
    /// Pack only: width of the adapters and experts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pack only: number of experts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experts: Option<u32>,
    /// Pack only: experts active per token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Pack only: the base layer after which the pack adds to the hidden stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insertion_layer: Option<u32>,
    /// Pack only: how expert weights are stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expert_format: Option<ExpertFormat>,
}

/// The most experts a pack may carry.
const MAX_EXPERTS: u32 = 256;

impl ModelShape {
    /// Checks the shape against itself and the pack kind; the error text names the field.
    pub(super) fn check(&self, kind: PackKind) -> Result<(), String> {
        let base_only = [
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("vocab", self.vocab),
            ("context", self.context),
        ];
        let pack_only = [
            ("width", self.width),
            ("experts", self.experts),
            ("top_k", self.top_k),
            ("insertion_layer", self.insertion_layer),
        ];
        let (own, foreign) = match kind {
            PackKind::Base => (&base_only[..], &pack_only[..]),
            PackKind::Router | PackKind::Domain => (&pack_only[..], &base_only[..]),
        };
        if let Some((name, _)) = foreign.iter().find(|(_, v)| v.is_some()) {
            return Err(format!("`model.{name}` does not apply to a {kind} pack"));
        }
        if kind == PackKind::Base && self.expert_format.is_some() {
            return Err("`model.expert_format` does not apply to a base pack".into());
        }
        let hidden = [("hidden", self.hidden)];
        for (name, value) in own.iter().chain(&hidden) {
            if *value == Some(0) && *name != "insertion_layer" {
                return Err(format!("`model.{name}` must be greater than 0"));
            }
        }
        if let (Some(hidden), Some(heads)) = (self.hidden, self.heads)
            && heads > 0
            && hidden % heads != 0
        {
            return Err(format!(
                "`model.hidden` ({hidden}) must be a multiple of `model.heads` ({heads})"
            ));
        }
        if let (Some(heads), Some(kv)) = (self.heads, self.kv_heads)
            && kv > 0
            && heads % kv != 0
        {
            return Err(format!(
                "`model.heads` ({heads}) must be a multiple of `model.kv_heads` ({kv})"
            ));
        }
        if self.experts.is_some_and(|e| e > MAX_EXPERTS) {
            return Err(format!("`model.experts` must be at most {MAX_EXPERTS}"));
        }
        if let (Some(experts), Some(top_k)) = (self.experts, self.top_k)
            && top_k > experts
        {
            return Err(format!(
                "`model.top_k` ({top_k}) must not exceed `model.experts` ({experts})"
            ));
        }
        let quantized = matches!(
            self.expert_format,
            Some(ExpertFormat::Q8_0 | ExpertFormat::Q4_0)
        );
        if quantized {
            for (name, value) in [("hidden", self.hidden), ("width", self.width)] {
                if let Some(v) = value.filter(|v| v % 32 != 0) {
                    return Err(format!(
                        "`model.{name}` ({v}) must be a multiple of 32 for quantized experts (GGML blocks hold 32 values)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether no field is set.
    pub(super) fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}
