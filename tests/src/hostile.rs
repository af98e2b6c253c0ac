//! Hostile `weights.gguf` files, each with the words it must be refused with: the cases
//! issue 13 names, shared by the refusal tests at the header reader, `pack build`, the
//! registry's publish and `run`.

use modularbase_pack::gguf::GgufValue;
use modularbase_pack::weights::sample_writer;

use crate::test_shape;

/// One hostile weights file for a domain pack shaped for [`crate::TEST_BASE`].
#[derive(Debug, Clone)]
pub struct HostileWeights {
    /// What it tries.
    pub name: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
    /// Words the refusal must contain.
    pub message: String,
}

/// A GGUF v3 header by hand: tensor count, metadata count, then `rest` as is.
fn raw_header(tensors: u64, metadata: u64, rest: &[u8]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend(tensors.to_le_bytes());
    out.extend(metadata.to_le_bytes());
    out.extend(rest);
    out
}

/// Valid test-pack weights with metadata `key` set to `value`.
fn with_key(key: &str, value: GgufValue) -> Vec<u8> {
    let mut w = sample_writer(&test_shape("domain"), b"hostile");
    w.set(key, value);
    w.to_bytes()
}

/// Every case.
pub fn hostile_weights() -> Vec<HostileWeights> {
    let case = |name, bytes, message: &str| HostileWeights {
        name,
        bytes,
        message: message.to_owned(),
    };
    let valid = sample_writer(&test_shape("domain"), b"hostile").to_bytes();
    let mut short_key = sample_writer(&test_shape("domain"), b"hostile");
    short_key.retain_tensors(|n| n != "pack.key").tensor(
        "pack.key",
        &[16],
        modularbase_pack::gguf::GgmlType::F32,
        vec![0; 64],
    );
    let mut overflow = sample_writer(&test_shape("domain"), b"hostile");
    overflow.raw_tensor("pack.extra", &[1 << 32, 1 << 32, 1 << 32], 0, Vec::new());
    let string_2_40 = [
        8u64.to_le_bytes().as_slice(),
        b"some.key",
        &8u32.to_le_bytes(),
        &(1u64 << 40).to_le_bytes(),
    ]
    .concat();
    vec![
        case(
            "alignment 0",
            with_key("general.alignment", GgufValue::U32(0)),
            "`general.alignment` is 0 (u32); it must be a u32 power of two from 1 to 1048576",
        ),
        case(
            "2^40 experts",
            with_key("modularbase.expert_count", GgufValue::U64(1 << 40)),
            "metadata key `modularbase.expert_count` is 1099511627776; it must be from 1 to 256",
        ),
        case(
            "10^6 experts",
            with_key("modularbase.expert_count", GgufValue::U32(1_000_000)),
            "metadata key `modularbase.expert_count` is 1000000; it must be from 1 to 256",
        ),
        case(
            "zero experts",
            with_key("modularbase.expert_count", GgufValue::U32(0)),
            "metadata key `modularbase.expert_count` is 0; it must be from 1 to 256",
        ),
        case(
            "top-k over experts",
            with_key("modularbase.expert_used_count", GgufValue::U32(3)),
            "metadata key `modularbase.expert_used_count` is 3; it must be from 1 to 1",
        ),
        case(
            "wrong key length",
            short_key.to_bytes(),
            "tensor `pack.key` has shape [16], expected [32]",
        ),
        case(
            "dimensions whose product overflows",
            overflow.to_bytes(),
            "tensor `pack.extra` has shape [4294967296, 4294967296, 4294967296], whose product overflows",
        ),
        case(
            "a tensor past the end of the file",
            valid[..valid.len() - 64].to_vec(),
            "bytes at data offset",
        ),
        case(
            "a string of 2^40 bytes",
            raw_header(0, 1, &string_2_40),
            "the value of `some.key` is 1099511627776 bytes long; at most 16777216 are allowed",
        ),
        case(
            "2^31 tensors",
            raw_header(1 << 31, 0, &[]),
            "the header declares 2147483648 tensors; at most 65536 are allowed",
        ),
    ]
}
