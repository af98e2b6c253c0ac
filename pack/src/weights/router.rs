//! A router: a square projection of the base's hidden space and a confidence threshold.
//!
//! Layout: `general.architecture = "modularbase-router"`, `modularbase.hidden_size`,
//! `modularbase.router_threshold`, tensor `router.proj.weight` (`[hidden, hidden]`, F16).

use super::domain::MAX_WIDTH;
use super::keys::{architecture, float, size};
use super::{ExpectedTensor, WeightsError, check_tensors};
use crate::gguf::{GgmlType, GgufHeader};

/// `general.architecture` of a router.
pub const ROUTER_ARCHITECTURE: &str = "modularbase-router";

/// The shape of a router.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterShape {
    /// The base's hidden width (the width of pack keys).
    pub hidden: usize,
    /// Cosine similarity below which no pack is chosen.
    pub threshold: f32,
}

impl RouterShape {
    /// Its one tensor.
    pub fn expected_tensors(&self) -> Vec<ExpectedTensor> {
        vec![ExpectedTensor {
            name: "router.proj.weight".into(),
            shape: vec![self.hidden, self.hidden],
            types: &[GgmlType::F16, GgmlType::F32],
        }]
    }

    /// Reads and checks a router's shape and projection from its header.
    pub fn from_header(header: &GgufHeader) -> Result<Self, WeightsError> {
        architecture(header, ROUTER_ARCHITECTURE, "a router")?;
        let key = "modularbase.router_threshold";
        let shape = Self {
            hidden: size(header, "modularbase.hidden_size", 1, MAX_WIDTH)?,
            threshold: float(header, key, None)?,
        };
        if !(-1.0..=1.0).contains(&shape.threshold) {
            return Err(WeightsError::KeyValue {
                key: key.into(),
                value: shape.threshold.to_string(),
                expected: "a cosine threshold lies between -1 and 1".into(),
            });
        }
        check_tensors(header, &shape.expected_tensors(), Some("router"))?;
        Ok(shape)
    }
}
