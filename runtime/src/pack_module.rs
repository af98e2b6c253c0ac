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
use crate::gguf::{GgufFile, u32_value, write_gguf};
use crate::init::Init;
use crate::moe::{Expert, MoeLayer};

/// `general.architecture` of pack weights.
const ARCHITECTURE: &str = "modularbase-pack";

/// The shape of a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackConfig {
    /// The base's hidden width.
    pub hidden: usize,
    /// Adapter output / expert input width.
    pub width: usize,
    /// Number of experts.
    pub experts: usize,
    /// Experts active per token.
    pub top_k: usize,
    /// Hidden width inside each expert.
    pub expert_ffn: usize,
    /// The base block after which the pack adds its delta.
    pub insertion_layer: usize,
    /// How expert weights are stored.
    pub expert_format: ExpertFormat,
}

impl PackConfig {
    /// The DESIGN defaults (8 experts, 2 active) for a base of width `hidden`.
    pub fn for_base(hidden: usize, insertion_layer: usize) -> Self {
        Self {
            hidden,
            width: 64,
            experts: 8,
            top_k: 2,
            expert_ffn: 128,
            insertion_layer,
            expert_format: ExpertFormat::Q8_0,
        }
    }

    /// Refuses inconsistent shapes (quantized blocks need widths that are multiples of 32).
    pub fn validate(&self) -> Result<()> {
        let quantized = self.expert_format != ExpertFormat::F16;
        let problem = if [
            self.hidden,
            self.width,
            self.experts,
            self.top_k,
            self.expert_ffn,
        ]
        .contains(&0)
        {
            Some("every size must be greater than 0".to_owned())
        } else if self.top_k > self.experts {
            Some(format!(
                "top_k ({}) exceeds the number of experts ({})",
                self.top_k, self.experts
            ))
        } else if quantized
            && (!self.width.is_multiple_of(32) || !self.expert_ffn.is_multiple_of(32))
        {
            Some(format!(
                "quantized experts need width ({}) and expert_ffn ({}) to be multiples of 32",
                self.width, self.expert_ffn
            ))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(RuntimeError::Config(p)))
    }

    fn expert_dtype(&self) -> GgmlDType {
        match self.expert_format {
            ExpertFormat::Q8_0 => GgmlDType::Q8_0,
            ExpertFormat::Q4_0 => GgmlDType::Q4_0,
            ExpertFormat::F16 => GgmlDType::F16,
        }
    }
}

fn format_name(format: ExpertFormat) -> &'static str {
    match format {
        ExpertFormat::Q8_0 => "q8_0",
        ExpertFormat::Q4_0 => "q4_0",
        ExpertFormat::F16 => "f16",
    }
}

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
        let mut out = vec![
            ("pack.in.weight".to_owned(), vec![c.width, c.hidden]),
            ("pack.gate.weight".to_owned(), vec![c.experts, c.width]),
        ];
        for e in 0..c.experts {
            out.push((
                format!("pack.expert.{e}.up.weight"),
                vec![c.expert_ffn, c.width],
            ));
            out.push((
                format!("pack.expert.{e}.down.weight"),
                vec![c.width, c.expert_ffn],
            ));
        }
        out.push(("pack.out.weight".to_owned(), vec![c.hidden, c.width]));
        out.push(("pack.key".to_owned(), vec![c.hidden]));
        out
    }

    fn dtype_of(c: &PackConfig, name: &str) -> GgmlDType {
        if name.starts_with("pack.expert.") {
            c.expert_dtype()
        } else if name == "pack.key" {
            GgmlDType::F32
        } else {
            GgmlDType::F16
        }
    }

    /// Stores F32 tensors in each tensor's storage type (experts quantized as configured).
    pub fn from_f32(config: PackConfig, tensors: Vec<(String, Tensor)>) -> Result<Self> {
        config.validate()?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                // Weights live on the host until a module is built from them.
                let t = t.to_device(&Device::Cpu)?;
                Ok((
                    name.clone(),
                    QTensor::quantize(&t, Self::dtype_of(&config, &name))?,
                ))
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
        let dtype = config.expert_dtype();
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
            ("general.architecture", Value::String(ARCHITECTURE.into())),
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
                Value::String(format_name(c.expert_format).into()),
            ),
        ];
        write_gguf(path, &metadata, &self.tensors)
    }

    /// Reads and checks a pack's `weights.gguf`.
    pub fn read(path: &Path) -> Result<Self> {
        let mut file = GgufFile::open(path, "pack")?;
        let architecture = file.string("general.architecture")?;
        if architecture != ARCHITECTURE {
            return Err(file.bad(format!(
                "`general.architecture` is `{architecture}`, a pack must be `{ARCHITECTURE}`"
            )));
        }
        let format = match file.string("modularbase.expert_format")?.as_str() {
            "q8_0" => ExpertFormat::Q8_0,
            "q4_0" => ExpertFormat::Q4_0,
            "f16" => ExpertFormat::F16,
            other => return Err(file.bad(format!("unknown expert format `{other}`"))),
        };
        let config = PackConfig {
            hidden: file.usize("modularbase.hidden_size")?,
            width: file.usize("modularbase.pack_width")?,
            experts: file.usize("modularbase.expert_count")?,
            top_k: file.usize("modularbase.expert_used_count")?,
            expert_ffn: file.usize("modularbase.expert_feed_forward_length")?,
            insertion_layer: file.usize("modularbase.insertion_layer")?,
            expert_format: format,
        };
        config.validate().map_err(|e| file.bad(e.to_string()))?;
        let mut tensors = Vec::new();
        for (name, shape) in Self::layout(&config) {
            let tensor = file.tensor(&name, &shape)?;
            let expected = Self::dtype_of(&config, &name);
            if tensor.dtype() != expected {
                return Err(file.bad(format!(
                    "tensor `{name}` is {:?}, expected {expected:?}",
                    tensor.dtype()
                )));
            }
            tensors.push((name, tensor));
        }
        Ok(Self { config, tensors })
    }
}

/// Reads only a pack's routing key (`[hidden]`), without loading the rest.
pub fn read_pack_key(path: &Path) -> Result<Tensor> {
    let mut file = GgufFile::open(path, "pack")?;
    let hidden = file.usize("modularbase.hidden_size")?;
    Ok(file
        .tensor("pack.key", &[hidden])?
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
        if self.config.hidden != hidden {
            return Err(RuntimeError::Config(format!(
                "the pack expects a base of width {}, the base has {hidden}",
                self.config.hidden
            )));
        }
        if self.config.insertion_layer >= layers {
            return Err(RuntimeError::Config(format!(
                "the pack plugs in after block {}, the base has only {layers} blocks",
                self.config.insertion_layer
            )));
        }
        Ok(())
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
