//! What a pack's `weights.gguf` must hold for its kind, checked on the header alone (no
//! tensor data is read): a base's llama keys and tensors, a domain pack's `modularbase.*`
//! shape within bounds and every tensor of its layout, a router's projection. The same
//! checks run at `pack build`, in the registry's publish, at `pack install` and in the
//! runtime, so a pack refused by one is refused by all, with the same words.

mod base;
mod domain;
mod error;
mod keys;
mod router;
mod writer;

pub use base::{BASE_TENSOR_TYPES, BYTE_VOCAB, BaseShape};
pub use domain::{DOMAIN_ARCHITECTURE, DomainShape, MAX_EXPERTS, MAX_WIDTH};
pub use error::WeightsError;
pub use router::{ROUTER_ARCHITECTURE, ROUTER_GENERAL_KEY, RouterShape};
pub use writer::{GgufWriter, sample_metadata, sample_weights, sample_writer};

use crate::gguf::{GgmlType, GgufHeader};
use crate::{Manifest, PackKind};

/// A tensor a kind of pack must hold: its name, shape (outermost first) and the storage
/// types allowed for it (the first is the one ModularBase writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTensor {
    /// The tensor's name.
    pub name: String,
    /// Its shape, outermost first.
    pub shape: Vec<usize>,
    /// Storage types accepted.
    pub types: &'static [GgmlType],
}

/// The checked shape of a pack's weights.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightsShape {
    /// A base core.
    Base(BaseShape),
    /// A domain pack.
    Domain(DomainShape),
    /// A router.
    Router(RouterShape),
}

impl WeightsShape {
    /// Checks `header` as the weights of a `kind` pack.
    pub fn check(kind: PackKind, header: &GgufHeader) -> Result<Self, WeightsError> {
        Ok(match kind {
            PackKind::Base => Self::Base(BaseShape::from_header(header)?),
            PackKind::Domain => Self::Domain(DomainShape::from_header(header)?),
            PackKind::Router => Self::Router(RouterShape::from_header(header)?),
        })
    }

    /// Checks `header` as the weights of the pack `manifest` describes, and that the
    /// manifest's `[model]` fields, where given, agree with the weights.
    pub fn check_pack(manifest: &Manifest, header: &GgufHeader) -> Result<Self, WeightsError> {
        let shape = Self::check(manifest.kind, header)?;
        if let Some(model) = &manifest.model {
            let declared = |field: &'static str, value: Option<u32>, actual: usize| match value {
                Some(v) if v as usize != actual => Err(WeightsError::Manifest {
                    field,
                    declared: v.to_string(),
                    actual: actual.to_string(),
                }),
                _ => Ok(()),
            };
            match &shape {
                Self::Base(b) => {
                    declared("hidden", model.hidden, b.hidden)?;
                    declared("layers", model.layers, b.layers)?;
                    declared("heads", model.heads, b.heads)?;
                    declared("kv_heads", model.kv_heads, b.kv_heads)?;
                    declared("vocab", model.vocab, b.vocab)?;
                    declared("context", model.context, b.context)?;
                }
                Self::Domain(d) => {
                    declared("hidden", model.hidden, d.hidden)?;
                    declared("width", model.width, d.width)?;
                    declared("experts", model.experts, d.experts)?;
                    declared("top_k", model.top_k, d.top_k)?;
                    declared("insertion_layer", model.insertion_layer, d.insertion_layer)?;
                    if let Some(format) = model.expert_format.filter(|f| *f != d.expert_format) {
                        return Err(WeightsError::Manifest {
                            field: "expert_format",
                            declared: format!("{format:?}"),
                            actual: format!("{:?}", d.expert_format),
                        });
                    }
                }
                Self::Router(r) => declared("hidden", model.hidden, r.hidden)?,
            }
        }
        Ok(shape)
    }

    /// The tensors this shape must hold.
    pub fn expected_tensors(&self) -> Vec<ExpectedTensor> {
        match self {
            Self::Base(b) => b.expected_tensors(),
            Self::Domain(d) => d.expected_tensors(),
            Self::Router(r) => r.expected_tensors(),
        }
    }

    /// The base's hidden width and block count, for a base.
    pub fn base(&self) -> Option<&BaseShape> {
        match self {
            Self::Base(b) => Some(b),
            _ => None,
        }
    }
}

/// Every expected tensor present with its shape and an allowed type; with `exclusive`, no
/// other tensor either.
fn check_tensors(
    header: &GgufHeader,
    expected: &[ExpectedTensor],
    exclusive: Option<&'static str>,
) -> Result<(), WeightsError> {
    for e in expected {
        let Some(t) = header.tensor(&e.name) else {
            return Err(WeightsError::MissingTensor(e.name.clone()));
        };
        let shape: Vec<u64> = e.shape.iter().map(|&d| d as u64).collect();
        if t.shape() != shape {
            return Err(WeightsError::TensorShape {
                name: e.name.clone(),
                found: t.shape(),
                expected: shape,
            });
        }
        if !e.types.contains(&t.kind) {
            return Err(WeightsError::TensorType {
                name: e.name.clone(),
                found: t.kind,
                expected: e
                    .types
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
    }
    if let Some(kind) = exclusive
        && let Some(extra) = header
            .tensors
            .keys()
            .find(|name| !expected.iter().any(|e| &e.name == *name))
    {
        return Err(WeightsError::UnexpectedTensor {
            name: extra.clone(),
            kind,
        });
    }
    Ok(())
}
