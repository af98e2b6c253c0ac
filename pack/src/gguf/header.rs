//! The header of a GGUF file (magic, version, metadata, tensor directory), read from any
//! byte stream with every count, length and range checked before it is allocated or used.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::GgufError;
use super::types::{GgmlType, ValueType};
use super::value::{ArrayData, GgufArray, GgufValue};

/// Bounds applied while reading a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgufLimits {
    /// Most tensors (a 256-expert pack has 516; a 70B llama 723).
    pub max_tensors: u64,
    /// Most metadata entries.
    pub max_metadata: u64,
    /// Longest key.
    pub max_key: u64,
    /// Longest string value (a whole `tokenizer.json` embedded as text is a few MiB).
    pub max_string: u64,
    /// Longest tensor name (GGML's limit).
    pub max_tensor_name: u64,
    /// Most memory the parsed header may take (a 256k-token vocabulary takes about 20 MiB).
    pub max_header_memory: u64,
    /// Most bytes of tensor data.
    pub max_data_bytes: u64,
}

impl Default for GgufLimits {
    fn default() -> Self {
        Self {
            max_tensors: 65_536,
            max_metadata: 65_536,
            max_key: 65_535,
            max_string: 16 << 20,
            max_tensor_name: 64,
            max_header_memory: 48 << 20,
            max_data_bytes: 64 << 30,
        }
    }
}

/// The default alignment of tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The largest alignment accepted.
pub const MAX_ALIGNMENT: u64 = 1 << 20;
/// Most dimensions of one tensor (GGML's limit).
pub const MAX_DIMS: usize = 4;

/// One entry of the tensor directory, checked: a runnable type, 1–4 non-zero dimensions
/// whose product is whole blocks, and a data range inside the file that overlaps no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Dimensions in GGUF order (innermost first).
    pub dims: Vec<u64>,
    /// Its storage type.
    pub kind: GgmlType,
    /// Offset of its data from the start of the data section.
    pub offset: u64,
    /// Bytes of its data.
    pub size: u64,
}

impl TensorInfo {
    /// Dimensions outermost first (candle's and PyTorch's order: `[rows, columns]`).
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }

    /// Number of values.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A checked GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    /// 2 or 3.
    pub version: u32,
    /// Alignment of tensor data.
    pub alignment: u64,
    /// Metadata by key.
    pub metadata: BTreeMap<String, GgufValue>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// Where tensor data starts.
    pub data_offset: u64,
    /// The file's size.
    pub file_len: u64,
}

impl GgufHeader {
    /// Reads and checks the header of the file at `path`.
    pub fn open(path: &Path, limits: &GgufLimits) -> Result<Self, GgufError> {
        let file = File::open(path).map_err(GgufError::Read)?;
        let file_len = file.metadata().map_err(GgufError::Read)?.len();
        Self::read(BufReader::new(file), file_len, limits)
    }

    /// Reads and checks a header from `reader`, the start of a file of `file_len` bytes.
    /// Reads only the header; tensor ranges are checked against `file_len`.
    pub fn read<R: Read>(reader: R, file_len: u64, limits: &GgufLimits) -> Result<Self, GgufError> {
        let mut input = Input {
            reader,
            pos: 0,
            file_len,
            memory_left: limits.max_header_memory,
            max_memory: limits.max_header_memory,
        };
        let magic = input.bytes(4, "the magic")?;
        if magic != b"GGUF" {
            return Err(GgufError::NotGguf);
        }
        let version = input.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version(version));
        }
        let tensor_count = input.u64("the tensor count")?;
        let metadata_count = input.u64("the metadata count")?;
        check_count("tensors", tensor_count, limits.max_tensors)?;
        check_count("metadata entries", metadata_count, limits.max_metadata)?;

        let mut metadata = BTreeMap::new();
        for index in 0..metadata_count {
            let key = input.string(limits.max_key, &|| format!("metadata key #{index}"))?;
            let value = read_value(&mut input, &key, limits)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(GgufError::DuplicateKey(key));
            }
        }
        let alignment = alignment(&metadata)?;

        let mut directory = Vec::new();
        for index in 0..tensor_count {
            directory.push(read_tensor_info(&mut input, index, limits)?);
        }
        let data_offset = input
            .pos
            .checked_next_multiple_of(alignment)
            .filter(|&offset| offset <= file_len)
            .ok_or_else(|| GgufError::Truncated {
                what: "the tensor data section".into(),
                needed: 0,
                offset: input.pos,
                file_len,
            })?;
        let tensors = check_ranges(directory, data_offset, alignment, file_len, limits)?;
        Ok(Self {
            version,
            alignment,
            metadata,
            tensors,
            data_offset,
            file_len,
        })
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    /// The tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    /// Bytes of all tensor data.
    pub fn data_bytes(&self) -> u64 {
        self.tensors.values().map(|t| t.size).sum()
    }
}

fn check_count(what: &'static str, count: u64, max: u64) -> Result<(), GgufError> {
    if count > max {
        return Err(GgufError::TooMany { what, count, max });
    }
    Ok(())
}

/// `general.alignment`: absent (32) or a u32 power of two up to [`MAX_ALIGNMENT`]. Other
/// integer types are refused because readers disagree on them (llama.cpp refuses them,
/// candle ignores them), and a reader that disagrees reads other bytes as weights.
fn alignment(metadata: &BTreeMap<String, GgufValue>) -> Result<u64, GgufError> {
    match metadata.get("general.alignment") {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(GgufValue::U32(v)) if v.is_power_of_two() && u64::from(*v) <= MAX_ALIGNMENT => {
            Ok(u64::from(*v))
        }
        Some(other) => Err(GgufError::Alignment(other.describe())),
    }
}

/// The byte stream of the header, with its position, the file size and a memory budget.
struct Input<R> {
    reader: R,
    pos: u64,
    file_len: u64,
    memory_left: u64,
    max_memory: u64,
}

impl<R: Read> Input<R> {
    /// Refuses to go on unless `needed` more bytes lie inside the file.
    fn require(&self, needed: u64, what: &dyn Fn() -> String) -> Result<(), GgufError> {
        if needed > self.file_len.saturating_sub(self.pos) {
            return Err(GgufError::Truncated {
                what: what(),
                needed,
                offset: self.pos,
                file_len: self.file_len,
            });
        }
        Ok(())
    }

    /// Charges `bytes` of memory to the header's budget.
    fn charge(&mut self, bytes: u64, what: &dyn Fn() -> String) -> Result<(), GgufError> {
        self.memory_left =
            self.memory_left
                .checked_sub(bytes)
                .ok_or_else(|| GgufError::HeaderTooLarge {
                    what: what(),
                    max: self.max_memory,
                })?;
        Ok(())
    }

    /// Exactly `n` bytes, checked against the file size and charged to the budget first.
    fn read_bytes(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<Vec<u8>, GgufError> {
        self.require(n, what)?;
        self.charge(n, what)?;
        let len = usize::try_from(n).map_err(|_| GgufError::HeaderTooLarge {
            what: what(),
            max: self.max_memory,
        })?;
        let mut buf = vec![0u8; len];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    /// Reads exactly `buf.len()` bytes (already checked against the file size); a stream
    /// that ends early is a truncated file.
    fn fill(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), GgufError> {
        let needed = buf.len() as u64;
        self.reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => GgufError::Truncated {
                what: what(),
                needed,
                offset: self.pos,
                file_len: self.file_len,
            },
            _ => GgufError::Read(e),
        })?;
        self.pos += needed;
        Ok(())
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, GgufError> {
        self.read_bytes(n, &|| what.to_owned())
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        self.require(N as u64, what)?;
        let mut buf = [0u8; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(&|| what.to_owned())?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(&|| what.to_owned())?))
    }

    /// A length-prefixed UTF-8 string of at most `max` bytes.
    fn string(&mut self, max: u64, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = u64::from_le_bytes(self.array(&|| format!("the length of {}", what()))?);
        if len > max {
            return Err(GgufError::TooLong {
                what: what(),
                len,
                max,
            });
        }
        self.charge(STRING_OVERHEAD, what)?;
        let bytes = self.read_bytes(len, what)?;
        String::from_utf8(bytes).map_err(|_| GgufError::NotUtf8(what()))
    }
}

/// Memory a `String` takes beside its bytes.
const STRING_OVERHEAD: u64 = std::mem::size_of::<String>() as u64;

fn read_value<R: Read>(
    input: &mut Input<R>,
    key: &str,
    limits: &GgufLimits,
) -> Result<GgufValue, GgufError> {
    let what = || format!("the value of `{key}`");
    let type_id = u32::from_le_bytes(input.array(&what)?);
    let value_type = ValueType::from_id(type_id).ok_or_else(|| GgufError::ValueType {
        what: what(),
        id: type_id,
    })?;
    if value_type == ValueType::Array {
        return read_array(input, key, limits).map(GgufValue::Array);
    }
    if value_type == ValueType::String {
        return input
            .string(limits.max_string, &what)
            .map(GgufValue::String);
    }
    scalar(input, value_type, key)
}

fn scalar<R: Read>(
    input: &mut Input<R>,
    value_type: ValueType,
    key: &str,
) -> Result<GgufValue, GgufError> {
    let what = || format!("the value of `{key}`");
    Ok(match value_type {
        ValueType::U8 => GgufValue::U8(u8::from_le_bytes(input.array(&what)?)),
        ValueType::I8 => GgufValue::I8(i8::from_le_bytes(input.array(&what)?)),
        ValueType::U16 => GgufValue::U16(u16::from_le_bytes(input.array(&what)?)),
        ValueType::I16 => GgufValue::I16(i16::from_le_bytes(input.array(&what)?)),
        ValueType::U32 => GgufValue::U32(u32::from_le_bytes(input.array(&what)?)),
        ValueType::I32 => GgufValue::I32(i32::from_le_bytes(input.array(&what)?)),
        ValueType::U64 => GgufValue::U64(u64::from_le_bytes(input.array(&what)?)),
        ValueType::I64 => GgufValue::I64(i64::from_le_bytes(input.array(&what)?)),
        ValueType::F32 => GgufValue::F32(f32::from_le_bytes(input.array(&what)?)),
        ValueType::F64 => GgufValue::F64(f64::from_le_bytes(input.array(&what)?)),
        ValueType::Bool => match input.array::<1>(&what)?[0] {
            0 => GgufValue::Bool(false),
            1 => GgufValue::Bool(true),
            byte => {
                return Err(GgufError::Bool {
                    key: key.to_owned(),
                    byte,
                });
            }
        },
        // Strings and arrays are read by their own functions and never reach here.
        ValueType::String | ValueType::Array => return Err(GgufError::NestedArray(key.into())),
    })
}

fn read_array<R: Read>(
    input: &mut Input<R>,
    key: &str,
    limits: &GgufLimits,
) -> Result<GgufArray, GgufError> {
    let what = || format!("the array `{key}`");
    let type_id = u32::from_le_bytes(input.array(&what)?);
    let element = ValueType::from_id(type_id).ok_or_else(|| GgufError::ValueType {
        what: format!("an element of `{key}`"),
        id: type_id,
    })?;
    let len = u64::from_le_bytes(input.array(&what)?);
    let data = match element {
        ValueType::Array => return Err(GgufError::NestedArray(key.to_owned())),
        ValueType::String => {
            // Each string takes at least its 8-byte length in the file and a `String` in
            // memory: both bounds hold before anything is allocated.
            input.require(len.saturating_mul(8), &what)?;
            input.charge(len.saturating_mul(STRING_OVERHEAD), &what)?;
            let mut strings = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            for index in 0..len {
                let element = || format!("element {index} of `{key}`");
                // Overhead was charged for the whole array above.
                input.memory_left += STRING_OVERHEAD;
                strings.push(input.string(limits.max_string, &element)?);
            }
            ArrayData::Strings(strings)
        }
        scalar => {
            let size = scalar.fixed_size().unwrap_or(1);
            let bytes = input.read_bytes(len.saturating_mul(size), &what)?;
            if scalar == ValueType::Bool && bytes.iter().any(|&b| b > 1) {
                let byte = bytes.iter().copied().find(|&b| b > 1).unwrap_or(2);
                return Err(GgufError::Bool {
                    key: key.to_owned(),
                    byte,
                });
            }
            ArrayData::Scalars(bytes)
        }
    };
    Ok(GgufArray { element, len, data })
}

/// Memory one directory entry takes beside its name and dimensions.
const TENSOR_OVERHEAD: u64 = std::mem::size_of::<TensorInfo>() as u64 + 64;

fn read_tensor_info<R: Read>(
    input: &mut Input<R>,
    index: u64,
    limits: &GgufLimits,
) -> Result<TensorInfo, GgufError> {
    let name = input.string(limits.max_tensor_name, &|| {
        format!("the name of tensor #{index}")
    })?;
    input.charge(TENSOR_OVERHEAD, &|| format!("tensor `{name}`"))?;
    let what = || format!("the entry of tensor `{name}`");
    let n_dims = u32::from_le_bytes(input.array(&what)?);
    let shape_error = |problem: String| GgufError::TensorShape {
        name: name.clone(),
        problem,
    };
    if n_dims == 0 || n_dims as usize > MAX_DIMS {
        return Err(shape_error(format!(
            "has {n_dims} dimensions; a tensor has 1 to {MAX_DIMS}"
        )));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(u64::from_le_bytes(input.array(&what)?));
    }
    let shape: Vec<u64> = dims.iter().rev().copied().collect();
    if dims.contains(&0) {
        return Err(shape_error(format!(
            "has shape {shape:?}; no dimension may be 0"
        )));
    }
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| i64::try_from(n).is_ok())
        .ok_or_else(|| shape_error(format!("has shape {shape:?}, whose product overflows")))?;
    let type_id = u32::from_le_bytes(input.array(&what)?);
    let kind = GgmlType::from_id(type_id).ok_or_else(|| GgufError::TensorType {
        name: name.clone(),
        kind: GgmlType::describe_id(type_id),
        supported: GgmlType::ALL.map(GgmlType::name).join(", "),
    })?;
    if !dims[0].is_multiple_of(kind.block_size()) {
        return Err(shape_error(format!(
            "is {kind} with rows of {} values; {kind} rows are whole blocks of {}",
            dims[0],
            kind.block_size()
        )));
    }
    let size = kind
        .bytes_for(elements)
        .ok_or_else(|| shape_error(format!("has shape {shape:?}, too large to store")))?;
    let offset = u64::from_le_bytes(input.array(&what)?);
    Ok(TensorInfo {
        name,
        dims,
        kind,
        offset,
        size,
    })
}

/// Every tensor aligned, inside the file, overlapping no other, and the total bounded.
fn check_ranges(
    mut directory: Vec<TensorInfo>,
    data_offset: u64,
    alignment: u64,
    file_len: u64,
    limits: &GgufLimits,
) -> Result<BTreeMap<String, TensorInfo>, GgufError> {
    let mut names = std::collections::BTreeSet::new();
    if let Some(t) = directory.iter().find(|t| !names.insert(t.name.as_str())) {
        return Err(GgufError::DuplicateTensor(t.name.clone()));
    }
    let data_len = file_len - data_offset;
    let mut total = 0u64;
    for t in &directory {
        let problem = if !t.offset.is_multiple_of(alignment) {
            Some(format!(
                "starts at data offset {}, not a multiple of the alignment {alignment}",
                t.offset
            ))
        } else if t
            .offset
            .checked_add(t.size)
            .is_none_or(|end| end > data_len)
        {
            Some(format!(
                "needs {} bytes at data offset {} but the data section holds {data_len}",
                t.size, t.offset
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(GgufError::TensorData {
                name: t.name.clone(),
                problem,
            });
        }
        total = total.saturating_add(t.size);
    }
    if total > limits.max_data_bytes {
        return Err(GgufError::TensorData {
            name: directory.last().map(|t| t.name.clone()).unwrap_or_default(),
            problem: format!(
                "brings the tensor data to {total} bytes; at most {} are allowed",
                limits.max_data_bytes
            ),
        });
    }
    directory.sort_by_key(|t| t.offset);
    for pair in directory.windows(2) {
        if pair[0].offset + pair[0].size > pair[1].offset {
            return Err(GgufError::TensorData {
                name: pair[1].name.clone(),
                problem: format!(
                    "starts at data offset {}, inside tensor `{}` ({} bytes from offset {})",
                    pair[1].offset, pair[0].name, pair[0].size, pair[0].offset
                ),
            });
        }
    }
    Ok(directory.into_iter().map(|t| (t.name.clone(), t)).collect())
}
