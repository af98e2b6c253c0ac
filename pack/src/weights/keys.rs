//! Typed, bounded reads of metadata keys.

use super::WeightsError;
use crate::gguf::{GgufHeader, GgufValue};

fn value<'h>(header: &'h GgufHeader, key: &str) -> Result<&'h GgufValue, WeightsError> {
    header
        .get(key)
        .ok_or_else(|| WeightsError::MissingKey(key.to_owned()))
}

/// A string key.
pub(super) fn string<'h>(header: &'h GgufHeader, key: &str) -> Result<&'h str, WeightsError> {
    let v = value(header, key)?;
    v.as_str().ok_or_else(|| WeightsError::KeyType {
        key: key.to_owned(),
        expected: "a string",
        found: v.describe(),
    })
}

/// An unsigned integer key within `min..=max`.
pub(super) fn size(
    header: &GgufHeader,
    key: &str,
    min: usize,
    max: usize,
) -> Result<usize, WeightsError> {
    let v = value(header, key)?;
    let n = v.as_u64().ok_or_else(|| WeightsError::KeyType {
        key: key.to_owned(),
        expected: "an unsigned integer",
        found: v.describe(),
    })?;
    match usize::try_from(n) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(WeightsError::KeyValue {
            key: key.to_owned(),
            value: n.to_string(),
            expected: format!("it must be from {min} to {max}"),
        }),
    }
}

/// [`size`], or `default` when the key is absent.
pub(super) fn size_or(
    header: &GgufHeader,
    key: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, WeightsError> {
    if header.get(key).is_none() {
        return Ok(default);
    }
    size(header, key, min, max)
}

/// A finite float key, or `default` when the key is absent and a default is given.
pub(super) fn float(
    header: &GgufHeader,
    key: &str,
    default: Option<f32>,
) -> Result<f32, WeightsError> {
    let v = match (header.get(key), default) {
        (None, Some(d)) => return Ok(d),
        (None, None) => return Err(WeightsError::MissingKey(key.to_owned())),
        (Some(v), _) => v,
    };
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(x as f32),
        _ => Err(WeightsError::KeyType {
            key: key.to_owned(),
            expected: "a finite float",
            found: v.describe(),
        }),
    }
}

/// `general.architecture` must be `expected`.
pub(super) fn architecture(
    header: &GgufHeader,
    expected: &str,
    kind: &str,
) -> Result<(), WeightsError> {
    let found = string(header, "general.architecture")?;
    if found != expected {
        return Err(WeightsError::KeyValue {
            key: "general.architecture".into(),
            value: format!("`{found}`"),
            expected: format!("{kind} must be `{expected}`"),
        });
    }
    Ok(())
}
