//! A router: a square projection of the base's hidden space, a confidence threshold and,
//! optionally, the key of general text that no pack should take.
//!
//! Layout: `general.architecture = "modularbase-router"`, `modularbase.hidden_size`,
//! `modularbase.router_threshold`, tensor `router.proj.weight` (`[hidden, hidden]`, F16),
//! and optionally `router.general.weight` (`[hidden]`, F16 or F32).

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
    /// Whether it holds a general-text key (`router.general.weight`).
    pub general_key: bool,
}

/// The tensor of a router's general-text key.
pub const ROUTER_GENERAL_KEY: &str = "router.general.weight";

impl RouterShape {
    /// Its tensors.
    pub fn expected_tensors(&self) -> Vec<ExpectedTensor> {
        let mut tensors = vec![ExpectedTensor {
            name: "router.proj.weight".into(),
            shape: vec![self.hidden, self.hidden],
            types: &[GgmlType::F16, GgmlType::F32],
        }];
        if self.general_key {
            tensors.push(ExpectedTensor {
                name: ROUTER_GENERAL_KEY.into(),
                shape: vec![self.hidden],
                types: &[GgmlType::F16, GgmlType::F32],
            });
        }
        tensors
    }

    /// Reads and checks a router's shape and projection from its header.
    pub fn from_header(header: &GgufHeader) -> Result<Self, WeightsError> {
        architecture(header, ROUTER_ARCHITECTURE, "a router")?;
        let key = "modularbase.router_threshold";
        let shape = Self {
            hidden: size(header, "modularbase.hidden_size", 1, MAX_WIDTH)?,
            threshold: float(header, key, None)?,
            general_key: header.tensor(ROUTER_GENERAL_KEY).is_some(),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::weights::{WeightsShape, sample_writer};

    fn header(bytes: &[u8]) -> GgufHeader {
        GgufHeader::read(bytes, bytes.len() as u64, &Default::default()).unwrap()
    }

    #[test]
    fn a_router_s_general_key_is_optional_but_must_be_one_key_wide() {
        let shape = |general_key| RouterShape {
            hidden: 64,
            threshold: 0.5,
            general_key,
        };
        for general_key in [false, true] {
            let bytes = sample_writer(&WeightsShape::Router(shape(general_key)), b"r").to_bytes();
            assert_eq!(
                RouterShape::from_header(&header(&bytes)).unwrap(),
                shape(general_key)
            );
        }
        let mut wrong = sample_writer(&WeightsShape::Router(shape(false)), b"r");
        wrong.tensor(ROUTER_GENERAL_KEY, &[32], GgmlType::F32, vec![0; 128]);
        let refused = RouterShape::from_header(&header(&wrong.to_bytes()))
            .unwrap_err()
            .to_string();
        assert!(refused.contains(ROUTER_GENERAL_KEY), "{refused}");
        assert!(refused.contains("64"), "{refused}");
    }
}
