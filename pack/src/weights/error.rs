//! Why weights do not fit their kind, naming the key or tensor and what was expected.

use crate::gguf::GgmlType;

/// Weights whose header does not describe a usable pack of their kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// A required metadata key is absent.
    #[error("metadata key `{0}` is missing")]
    MissingKey(String),
    /// A metadata key of the wrong type.
    #[error("metadata key `{key}` should be {expected}, found {found}")]
    KeyType {
        /// The key.
        key: String,
        /// What it should be.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// A metadata value out of bounds or inconsistent with another.
    #[error("metadata key `{key}` is {value}; {expected}")]
    KeyValue {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// What is expected.
        expected: String,
    },
    /// A shape that no model of the kind can have.
    #[error("{0}")]
    Shape(String),
    /// A required tensor is absent.
    #[error("tensor `{0}` is missing")]
    MissingTensor(String),
    /// A tensor of the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor.
        name: String,
        /// Its shape, outermost first.
        found: Vec<u64>,
        /// The shape expected.
        expected: Vec<u64>,
    },
    /// A tensor stored in a type not allowed for it.
    #[error("tensor `{name}` is stored as {found}, expected {expected}")]
    TensorType {
        /// The tensor.
        name: String,
        /// Its type.
        found: GgmlType,
        /// The types allowed.
        expected: String,
    },
    /// A tensor the kind does not have.
    #[error("tensor `{name}` is not part of a {kind}")]
    UnexpectedTensor {
        /// The tensor.
        name: String,
        /// The kind of weights.
        kind: &'static str,
    },
    /// The manifest's `[model]` disagrees with the weights.
    #[error("`model.{field}` in pack.toml is {declared} but the weights have {actual}")]
    Manifest {
        /// The field.
        field: &'static str,
        /// What the manifest says.
        declared: String,
        /// What the weights hold.
        actual: String,
    },
    /// A domain pack that does not fit a base.
    #[error("{0}")]
    DoesNotFit(String),
}
