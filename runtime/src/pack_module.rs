//! A domain pack's network: input adapter (base hidden → pack width), mixture-of-experts,
//! output adapter (back to base hidden), and the `pack.key` routing vector. At its
//! insertion layer the base's hidden stream becomes `h + out(MoE(in(h)))`.
//!
//! GGUF layout: `general.architecture = "modularbase-pack"`, shape under `modularbase.*`,
//! tensors `pack.in.weight`, `pack.gate.weight`, `pack.expert.E.up.weight`,
//! `pack.expert.E.down.weight`, `pack.out.weight`, `pack.key`. Adapters and gate are F16,
//! experts Q8_0, Q4_0 or F16, the key F32.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use modularbase_pack::ExpertFormat;

use crate::base::{HiddenPlug, to_device};
use crate::error::{Result, RuntimeError};
use crate::gguf::{GgufFile, candle_dtype, u32_value, write_gguf};
use crate::init::Init;
use crate::moe::{Expert, MoeLayer};

/// The shape of a pack (defined, with its bounds and header checks, in
/// `modularbase_pack::weights`).
pub use modularbase_pack::DomainShape as PackConfig;

/// A pack's tensors by name, in file order.
#[derive(Debug)]
pub struct PackWeights {
    /// The shape.
    pub config: PackConfig,
    /// `(name, tensor)` in canonical order.
    pub tensors: Vec<(String, QTensor)>,
}

impl PackWeights {
    /// Names and shapes of every tensor of a pack with `config`.
    pub fn layout(c: &PackConfig) -> Vec<(String, Vec<usize>)> {
        c.expected_tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect()
    }

    /// Each tensor's storage type, by name.
    fn storage_types(c: &PackConfig) -> HashMap<String, GgmlDType> {
        c.expected_tensors()
            .into_iter()
            .map(|t| (t.name, candle_dtype(t.types[0])))
            .collect()
    }

    /// Stores F32 tensors in each tensor's storage type (experts quantized as configured).
    pub fn from_f32(config: PackConfig, tensors: Vec<(String, Tensor)>) -> Result<Self> {
        config.validate()?;
        let types = Self::storage_types(&config);
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                // Weights live on the host until a module is built from them.
                let t = t.to_device(&Device::Cpu)?;
                let dtype = types.get(&name).copied().ok_or_else(|| {
                    RuntimeError::Config(format!("tensor `{name}` is not part of a pack"))
                })?;
                Ok((name, QTensor::quantize(&t, dtype)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self { config, tensors })
    }

    /// Random weights from `seed`: small normal adapters and experts, a unit random key.
    pub fn random(config: PackConfig, seed: u64) -> Result<Self> {
        let mut init = Init::new(seed);
        let mut tensors = Vec::new();
        for (name, shape) in Self::layout(&config) {
            let t = if name == "pack.key" {
                let k = init.normal(&shape, 1.0)?;
                let norm = k.sqr()?.sum_all()?.sqrt()?;
                k.broadcast_div(&norm)?
            } else {
                init.normal(&shape, 0.05)?
            };
            tensors.push((name, t));
        }
        Self::from_f32(config, tensors)
    }

    /// The same pack with its experts stored as `format` (widened to F32, then requantized;
    /// every other tensor untouched). A no-op when they already are.
    pub fn with_expert_format(self, format: ExpertFormat) -> Result<Self> {
        if self.config.expert_format == format {
            return Ok(self);
        }
        let config = PackConfig {
            expert_format: format,
            ..self.config
        };
        config.validate()?;
        let dtype = candle_dtype(config.expert_type());
        let tensors = self
            .tensors
            .into_iter()
            .map(|(name, t)| {
                if name.starts_with("pack.expert.") {
                    let wide = t.dequantize(&Device::Cpu)?;
                    Ok((name, QTensor::quantize(&wide, dtype)?))
                } else {
                    Ok((name, t))
                }
            })
            .collect::<Result<_>>()?;
        Ok(Self { config, tensors })
    }

    /// Bytes as stored.
    pub fn storage_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|(_, t)| t.storage_size_in_bytes() as u64)
            .sum()
    }

    /// Bytes of the expert tensors alone.
    pub fn expert_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .filter(|(n, _)| n.starts_with("pack.expert."))
            .map(|(_, t)| t.storage_size_in_bytes() as u64)
            .sum()
    }

    /// Writes the pack's `weights.gguf`.
    pub fn write(&self, path: &Path, name: &str) -> Result<()> {
        let c = &self.config;
        let metadata = vec![
            (
                "general.architecture",
                Value::String(modularbase_pack::weights::DOMAIN_ARCHITECTURE.into()),
            ),
            ("general.name", Value::String(name.to_owned())),
            ("modularbase.hidden_size", u32_value(c.hidden)),
            ("modularbase.pack_width", u32_value(c.width)),
            ("modularbase.expert_count", u32_value(c.experts)),
            ("modularbase.expert_used_count", u32_value(c.top_k)),
            (
                "modularbase.expert_feed_forward_length",
                u32_value(c.expert_ffn),
            ),
            ("modularbase.insertion_layer", u32_value(c.insertion_layer)),
            (
                "modularbase.expert_format",
                Value::String(c.expert_format.as_str().into()),
            ),
        ];
        write_gguf(path, &metadata, &self.tensors)
    }

    /// Reads a pack's `weights.gguf`, checked first as `modularbase_pack::weights` checks
    /// it at build, publish and install.
    pub fn read(path: &Path) -> Result<Self> {
        let mut file = GgufFile::open(path, "pack")?;
        let config = PackConfig::from_header(&file.header).map_err(|e| file.bad(e.to_string()))?;
        let mut tensors = Vec::new();
        for (name, shape) in Self::layout(&config) {
            let tensor = file.tensor(&name, &shape)?;
            tensors.push((name, tensor));
        }
        Ok(Self { config, tensors })
    }
}

/// Reads only a pack's routing key (`[hidden]`), without loading the rest (the whole
/// header is checked, so a pack that could never load is never routed to).
pub fn read_pack_key(path: &Path) -> Result<Tensor> {
    let mut file = GgufFile::open(path, "pack")?;
    let config = PackConfig::from_header(&file.header).map_err(|e| file.bad(e.to_string()))?;
    Ok(file
        .tensor("pack.key", &[config.hidden])?
        .dequantize(&Device::Cpu)?)
}

/// A pack loaded on a device, ready to plug into a base.
pub struct PackModule {
    config: PackConfig,
    input: QMatMul,
    moe: MoeLayer,
    output: QMatMul,
    key: Tensor,
    bytes: u64,
}

impl std::fmt::Debug for PackModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackModule")
            .field("config", &self.config)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// F16 matrices stay F16 in memory (candle would widen them to F32).
/// F16 blocks are widened on the host: candle's CUDA backend cannot dequantize them.
fn matmul(t: QTensor, device: &Device) -> Result<QMatMul> {
    if t.dtype() == GgmlDType::F16 {
        let host = to_device(t, &Device::Cpu)?;
        return Ok(QMatMul::TensorF16(
            host.dequantize_f16(&Device::Cpu)?.to_device(device)?,
        ));
    }
    Ok(QMatMul::from_qtensor(to_device(t, device)?)?)
}

impl PackModule {
    /// Builds the module on `device`.
    pub fn new(weights: PackWeights, device: &Device) -> Result<Self> {
        let config = weights.config;
        let bytes = weights.storage_bytes();
        let mut by_name: HashMap<String, QTensor> = weights.tensors.into_iter().collect();
        let mut take = |name: &str| {
            by_name
                .remove(name)
                .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))
        };
        let input = matmul(take("pack.in.weight")?, device)?;
        let gate = matmul(take("pack.gate.weight")?, device)?;
        let mut experts = Vec::with_capacity(config.experts);
        for e in 0..config.experts {
            experts.push(Expert {
                up: matmul(take(&format!("pack.expert.{e}.up.weight"))?, device)?,
                down: matmul(take(&format!("pack.expert.{e}.down.weight"))?, device)?,
            });
        }
        let output = matmul(take("pack.out.weight")?, device)?;
        let key = take("pack.key")?.dequantize(device)?;
        Ok(Self {
            config,
            input,
            moe: MoeLayer::new(gate, experts, config.top_k),
            output,
            key,
            bytes,
        })
    }

    /// Its shape.
    pub fn config(&self) -> &PackConfig {
        &self.config
    }

    /// Bytes of its weights as stored (what it occupies in the memory budget).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The routing key `[hidden]`.
    pub fn key(&self) -> &Tensor {
        &self.key
    }

    /// Tokens each expert has processed since loading.
    pub fn expert_usage(&self) -> Vec<u64> {
        self.moe.usage()
    }

    /// `in(h)` flattened to `[rows, width]`.
    pub fn adapt_in(&self, h: &Tensor) -> Result<Tensor> {
        let width = self.config.width;
        Ok(self.input.forward(h)?.reshape(((), width))?)
    }

    /// The MoE output for adapted rows `z`, running only the chosen experts.
    pub fn moe(&self, z: &Tensor) -> Result<Tensor> {
        self.moe.forward(z)
    }

    /// The MoE output computed with every expert on every row (the dense reference).
    pub fn moe_all_experts(&self, z: &Tensor) -> Result<Tensor> {
        self.moe.forward_all_experts(z)
    }

    /// Checks the pack fits a base of width `hidden` with `layers` blocks.
    pub fn check_fits(&self, hidden: usize, layers: usize) -> Result<()> {
        Ok(self.config.check_fits(hidden, layers)?)
    }
}

impl HiddenPlug for PackModule {
    fn insertion_layer(&self) -> usize {
        self.config.insertion_layer
    }

    fn delta(&self, h: &Tensor) -> Result<Tensor> {
        let z = self.adapt_in(h)?;
        let y = self.moe(&z)?.to_dtype(h.dtype())?;
        Ok(self
            .output
            .forward(&y)?
            .to_dtype(DType::F32)?
            .reshape(h.shape())?)
    }
}
