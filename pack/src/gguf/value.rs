//! Metadata values as a GGUF header holds them: scalars, strings and arrays (scalar arrays
//! kept as their bytes, so an array takes no more memory than the file gives it).

use super::types::ValueType;

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float32`.
    F32(f32),
    /// `float64`.
    F64(f64),
    /// `bool`.
    Bool(bool),
    /// A string.
    String(String),
    /// An array of scalars or strings.
    Array(GgufArray),
}

impl GgufValue {
    /// Its type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F32(_) => ValueType::F32,
            Self::F64(_) => ValueType::F64,
            Self::Bool(_) => ValueType::Bool,
            Self::String(_) => ValueType::String,
            Self::Array(_) => ValueType::Array,
        }
    }

    /// An integer of any width that is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// A float of either width.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => None,
        }
    }

    /// A string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short description for error messages: the type, and small values themselves.
    pub fn describe(&self) -> String {
        match self {
            Self::String(s) if s.len() <= 64 => format!("the string {s:?}"),
            Self::String(s) => format!("a string of {} bytes", s.len()),
            Self::Array(a) => format!("an array of {} {}", a.len, a.element),
            Self::Bool(b) => format!("the bool {b}"),
            other => match (other.as_u64(), other.as_f64()) {
                (Some(n), _) => format!("{n} ({})", other.value_type()),
                (None, Some(x)) => format!("{x} ({})", other.value_type()),
                _ => format!("a negative {}", other.value_type()),
            },
        }
    }
}

/// An array value: its element type, length and elements (scalars kept as their
/// little-endian bytes, so an array takes no more memory than the file gives it).
#[derive(Debug, Clone, PartialEq)]
pub struct GgufArray {
    /// The element type (never `Array`).
    pub element: ValueType,
    /// Number of elements.
    pub len: u64,
    pub(super) data: ArrayData,
}

/// How an array keeps its elements.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ArrayData {
    /// Fixed-size elements as their little-endian bytes.
    Scalars(Vec<u8>),
    /// Strings.
    Strings(Vec<String>),
}

impl GgufArray {
    /// An array of strings.
    pub fn from_strings(strings: Vec<String>) -> Self {
        Self {
            element: ValueType::String,
            len: strings.len() as u64,
            data: ArrayData::Strings(strings),
        }
    }

    /// An array of `len` scalars of type `element` given as their little-endian bytes.
    /// `None` unless `element` is a fixed-size type and `bytes` holds exactly `len` of them.
    pub fn from_scalar_bytes(element: ValueType, len: u64, bytes: Vec<u8>) -> Option<Self> {
        let size = element.fixed_size()?;
        (len.checked_mul(size)? == bytes.len() as u64).then_some(Self {
            element,
            len,
            data: ArrayData::Scalars(bytes),
        })
    }

    /// The elements, when they are strings.
    pub fn strings(&self) -> Option<&[String]> {
        match &self.data {
            ArrayData::Strings(s) => Some(s),
            ArrayData::Scalars(_) => None,
        }
    }

    /// The raw little-endian bytes, when the elements are scalars.
    pub fn scalar_bytes(&self) -> Option<&[u8]> {
        match &self.data {
            ArrayData::Scalars(b) => Some(b),
            ArrayData::Strings(_) => None,
        }
    }
}
