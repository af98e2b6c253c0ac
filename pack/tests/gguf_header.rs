//! The bounded GGUF header reader: what it accepts, and each rule it refuses by, with the
//! words of the refusal.

#![allow(clippy::unwrap_used)]

use modularbase_pack::gguf::{GgmlType, GgufError, GgufHeader, GgufLimits, GgufValue};
use modularbase_pack::weights::{GgufWriter, sample_writer};
use modularbase_pack::{DomainShape, ExpertFormat, PackKind, WeightsShape};

fn shape() -> WeightsShape {
    WeightsShape::Domain(DomainShape {
        hidden: 32,
        width: 32,
        experts: 2,
        top_k: 1,
        expert_ffn: 32,
        insertion_layer: 0,
        expert_format: ExpertFormat::Q8_0,
    })
}

fn read(bytes: &[u8]) -> Result<GgufHeader, GgufError> {
    GgufHeader::read(bytes, bytes.len() as u64, &GgufLimits::default())
}

fn refusal(bytes: &[u8]) -> String {
    read(bytes).unwrap_err().to_string()
}

#[test]
fn a_valid_pack_header_reads_with_its_tensors_in_range() {
    let bytes = sample_writer(&shape(), b"x").to_bytes();
    let header = read(&bytes).unwrap();
    assert_eq!(header.version, 3);
    assert_eq!(header.alignment, 32);
    assert_eq!(header.tensors.len(), 2 + 2 * 2 + 2);
    let up = header.tensor("pack.expert.1.up.weight").unwrap();
    assert_eq!(up.shape(), [32, 32]);
    assert_eq!(up.kind, GgmlType::Q8_0);
    assert_eq!(up.size, 32 * 34);
    assert!(header.data_offset + header.data_bytes() <= bytes.len() as u64);
    assert_eq!(
        WeightsShape::check(PackKind::Domain, &header).unwrap(),
        shape()
    );
}

#[test]
fn versions_other_than_2_and_3_are_refused() {
    let mut bytes = sample_writer(&shape(), b"x").to_bytes();
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        refusal(&bytes),
        "GGUF version 1 is not supported; supported: 2 and 3"
    );
    assert!(matches!(read(b"GGML\x03\0\0\0"), Err(GgufError::NotGguf)));
}

#[test]
fn an_alignment_that_is_not_a_u32_power_of_two_is_refused() {
    for (value, words) in [
        (GgufValue::U32(48), "48 (u32)"),
        (GgufValue::U32(1 << 21), "2097152 (u32)"),
        (GgufValue::U64(32), "32 (u64)"),
    ] {
        let mut w = sample_writer(&shape(), b"x");
        w.set("general.alignment", value);
        assert_eq!(
            refusal(&w.to_bytes()),
            format!(
                "`general.alignment` is {words}; it must be a u32 power of two from 1 to 1048576"
            )
        );
    }
    let mut w = sample_writer(&shape(), b"x");
    w.set("general.alignment", GgufValue::U32(64));
    assert_eq!(read(&w.to_bytes()).unwrap().alignment, 64);
}

#[test]
fn duplicate_keys_and_tensors_are_refused() {
    let mut w = sample_writer(&shape(), b"x");
    w.metadata("general.architecture", GgufValue::String("again".into()));
    assert_eq!(
        refusal(&w.to_bytes()),
        "metadata key `general.architecture` appears more than once"
    );
    let mut w = sample_writer(&shape(), b"x");
    w.tensor("pack.key", &[32], GgmlType::F32, vec![0; 128]);
    assert_eq!(
        refusal(&w.to_bytes()),
        "tensor `pack.key` appears more than once"
    );
}

#[test]
fn nested_arrays_and_unknown_value_types_are_refused() {
    let mut bytes = GgufWriter::new().to_bytes();
    bytes[16..24].copy_from_slice(&1u64.to_le_bytes());
    let mut entry = Vec::new();
    entry.extend(3u64.to_le_bytes());
    entry.extend(b"arr");
    entry.extend(9u32.to_le_bytes()); // array
    entry.extend(9u32.to_le_bytes()); // of arrays
    entry.extend(1u64.to_le_bytes());
    let nested = [&bytes[..24], &entry].concat();
    assert_eq!(
        refusal(&nested),
        "metadata key `arr` holds an array of arrays, which GGUF readers do not support"
    );
    let mut unknown = [&bytes[..24], &entry[..11]].concat();
    unknown.extend(13u32.to_le_bytes());
    assert_eq!(
        refusal(&unknown),
        "the value of `arr` has value type 13, which GGUF does not define"
    );
}

/// An edit of a valid file.
type Edit = fn(&mut GgufWriter);

#[test]
fn tensor_types_shapes_and_ranges_are_checked() {
    let cases: Vec<(Edit, &str)> = vec![
        (
            |w| {
                w.raw_tensor("t", &[32], 16, vec![0; 64]);
            },
            "tensor `t` is stored as GGML type 16 (IQ2_XXS), which ModularBase cannot run",
        ),
        (
            |w| {
                w.raw_tensor("t", &[1, 1, 1, 1, 1], 0, vec![0; 4]);
            },
            "tensor `t` has 5 dimensions; a tensor has 1 to 4",
        ),
        (
            |w| {
                w.raw_tensor("t", &[4, 0], 0, Vec::new());
            },
            "tensor `t` has shape [0, 4]; no dimension may be 0",
        ),
        (
            |w| {
                w.raw_tensor("t", &[128, 2], GgmlType::Q4K.id(), vec![0; 288]);
            },
            "tensor `t` is Q4_K with rows of 128 values; Q4_K rows are whole blocks of 256",
        ),
    ];
    for (edit, words) in cases {
        let mut w = sample_writer(&shape(), b"x");
        edit(&mut w);
        let error = refusal(&w.to_bytes());
        assert!(error.starts_with(words), "{error}");
    }
}

#[test]
fn overlapping_and_misaligned_tensor_data_is_refused() {
    // Two tensors whose offsets are patched to the same place.
    let mut w = GgufWriter::new();
    w.tensor("a", &[8], GgmlType::F32, vec![0; 32])
        .tensor("b", &[8], GgmlType::F32, vec![0; 32]);
    let mut bytes = w.to_bytes();
    let name_at = bytes
        .windows(9)
        .position(|s| s == b"\x01\0\0\0\0\0\0\0b")
        .unwrap();
    // Its length and name, its dimension count, one dimension, its type; then its offset.
    let offset_at = name_at + 9 + 4 + 8 + 4;
    bytes[offset_at..offset_at + 8].copy_from_slice(&16u64.to_le_bytes());
    assert_eq!(
        refusal(&bytes),
        "tensor `b` starts at data offset 16, not a multiple of the alignment 32"
    );
    bytes[offset_at..offset_at + 8].copy_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        refusal(&bytes),
        "tensor `b` starts at data offset 0, inside tensor `a` (32 bytes from offset 0)"
    );
}

#[test]
fn the_header_memory_is_bounded_as_a_whole() {
    let mut w = GgufWriter::new();
    let tokens: Vec<String> = (0..10_000).map(|i| format!("token{i}")).collect();
    w.metadata(
        "tokenizer.ggml.tokens",
        GgufValue::Array(modularbase_pack::gguf::GgufArray::from_strings(tokens)),
    );
    let bytes = w.to_bytes();
    let limits = GgufLimits {
        max_header_memory: 100_000,
        ..GgufLimits::default()
    };
    let error = GgufHeader::read(bytes.as_slice(), bytes.len() as u64, &limits)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "the header needs more than 100000 bytes of memory (at the array `tokenizer.ggml.tokens`); no model's metadata is that large"
    );
    assert!(
        read(&bytes).is_ok(),
        "the default bound holds 10,000 tokens"
    );
}
