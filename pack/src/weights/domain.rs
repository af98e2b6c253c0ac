//! A domain pack: input adapter, mixture of experts, output adapter and routing key.
//!
//! Layout: `general.architecture = "modularbase-pack"`, shape under `modularbase.*`,
//! tensors `pack.in.weight`, `pack.gate.weight`, `pack.expert.E.up.weight`,
//! `pack.expert.E.down.weight`, `pack.out.weight`, `pack.key`. Adapters and gate are F16,
//! experts Q8_0, Q4_0 or F16, the key F32.

use super::keys::{architecture, size, string};
use super::{BaseShape, ExpectedTensor, WeightsError, check_tensors};
use crate::ExpertFormat;
use crate::gguf::{GgmlType, GgufHeader};

/// `general.architecture` of a domain pack.
pub const DOMAIN_ARCHITECTURE: &str = "modularbase-pack";
/// The most experts a pack may carry.
pub const MAX_EXPERTS: usize = 256;
/// The widest adapter, expert or hidden stream a pack may have.
pub const MAX_WIDTH: usize = 65_536;
/// The deepest insertion layer a pack may name (no base has more blocks).
const MAX_INSERTION: usize = 1023;

/// The shape of a domain pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainShape {
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

impl DomainShape {
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

    /// Refuses inconsistent or out-of-bounds shapes (quantized blocks need widths that are
    /// multiples of 32).
    pub fn validate(&self) -> Result<(), WeightsError> {
        let quantized = self.expert_format != ExpertFormat::F16;
        let sizes = [
            self.hidden,
            self.width,
            self.experts,
            self.top_k,
            self.expert_ffn,
        ];
        let problem = if sizes.contains(&0) {
            Some("every size must be greater than 0".to_owned())
        } else if self.experts > MAX_EXPERTS {
            Some(format!(
                "{} experts; a pack has at most {MAX_EXPERTS}",
                self.experts
            ))
        } else if self.top_k > self.experts {
            Some(format!(
                "top_k ({}) exceeds the number of experts ({})",
                self.top_k, self.experts
            ))
        } else if let Some((name, v)) = [
            ("hidden", self.hidden),
            ("width", self.width),
            ("expert_ffn", self.expert_ffn),
        ]
        .into_iter()
        .find(|(_, v)| *v > MAX_WIDTH)
        {
            Some(format!("{name} ({v}) must be at most {MAX_WIDTH}"))
        } else if self.insertion_layer > MAX_INSERTION {
            Some(format!(
                "insertion layer {} is deeper than any base ({MAX_INSERTION} at most)",
                self.insertion_layer
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
        problem.map_or(Ok(()), |p| Err(WeightsError::Shape(p)))
    }

    /// The storage type of the experts.
    pub fn expert_type(&self) -> GgmlType {
        match self.expert_format {
            ExpertFormat::Q8_0 => GgmlType::Q8_0,
            ExpertFormat::Q4_0 => GgmlType::Q4_0,
            ExpertFormat::F16 => GgmlType::F16,
        }
    }

    /// Every tensor of a pack with this shape, in canonical order.
    pub fn expected_tensors(&self) -> Vec<ExpectedTensor> {
        const F16: &[GgmlType] = &[GgmlType::F16];
        const F32: &[GgmlType] = &[GgmlType::F32];
        let experts: &'static [GgmlType] = match self.expert_format {
            ExpertFormat::Q8_0 => &[GgmlType::Q8_0],
            ExpertFormat::Q4_0 => &[GgmlType::Q4_0],
            ExpertFormat::F16 => F16,
        };
        let tensor = |name: String, shape: Vec<usize>, types| ExpectedTensor { name, shape, types };
        let mut out = vec![
            tensor("pack.in.weight".into(), vec![self.width, self.hidden], F16),
            tensor(
                "pack.gate.weight".into(),
                vec![self.experts, self.width],
                F16,
            ),
        ];
        for e in 0..self.experts {
            out.push(tensor(
                format!("pack.expert.{e}.up.weight"),
                vec![self.expert_ffn, self.width],
                experts,
            ));
            out.push(tensor(
                format!("pack.expert.{e}.down.weight"),
                vec![self.width, self.expert_ffn],
                experts,
            ));
        }
        out.push(tensor(
            "pack.out.weight".into(),
            vec![self.hidden, self.width],
            F16,
        ));
        out.push(tensor("pack.key".into(), vec![self.hidden], F32));
        out
    }

    /// Reads and checks a domain pack's shape and tensors from its header: every size is
    /// bounded before the layout is computed from it.
    pub fn from_header(header: &GgufHeader) -> Result<Self, WeightsError> {
        architecture(header, DOMAIN_ARCHITECTURE, "a domain pack")?;
        let format_key = "modularbase.expert_format";
        let name = string(header, format_key)?;
        let expert_format =
            ExpertFormat::from_name(name).ok_or_else(|| WeightsError::KeyValue {
                key: format_key.into(),
                value: format!("`{name}`"),
                expected: "supported: `q8_0`, `q4_0`, `f16`".into(),
            })?;
        let experts = size(header, "modularbase.expert_count", 1, MAX_EXPERTS)?;
        let shape = Self {
            hidden: size(header, "modularbase.hidden_size", 1, MAX_WIDTH)?,
            width: size(header, "modularbase.pack_width", 1, MAX_WIDTH)?,
            experts,
            top_k: size(header, "modularbase.expert_used_count", 1, experts)?,
            expert_ffn: size(
                header,
                "modularbase.expert_feed_forward_length",
                1,
                MAX_WIDTH,
            )?,
            insertion_layer: size(header, "modularbase.insertion_layer", 0, MAX_INSERTION)?,
            expert_format,
        };
        shape.validate()?;
        check_tensors(header, &shape.expected_tensors(), Some("domain pack"))?;
        Ok(shape)
    }

    /// Checks the pack fits a base: the same hidden width, and an insertion layer inside it.
    pub fn check_fits(&self, hidden: usize, layers: usize) -> Result<(), WeightsError> {
        if self.hidden != hidden {
            return Err(WeightsError::DoesNotFit(format!(
                "the pack expects a base of width {}, the base has {hidden}",
                self.hidden
            )));
        }
        if self.insertion_layer >= layers {
            return Err(WeightsError::DoesNotFit(format!(
                "the pack plugs in after block {}, the base has only {layers} blocks",
                self.insertion_layer
            )));
        }
        Ok(())
    }

    /// [`DomainShape::check_fits`] against a base's shape.
    pub fn check_fits_base(&self, base: &BaseShape) -> Result<(), WeightsError> {
        self.check_fits(base.hidden, base.layers)
    }
}
