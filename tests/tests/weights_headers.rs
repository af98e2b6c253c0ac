//! Every hostile weights file is refused by the header reader or the weights checks, with
//! its words, and refusing all of them together peaks under 64 MB (the allocator's figure).
//! This binary holds only this test, so the peak is this test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use cap::Cap;
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_pack::{PackKind, WeightsShape};
use modularbase_tests::{hostile_weights, test_shape};

/// A 1 GiB cap: a reader that tried to allocate what a hostile count asks for would abort
/// this test instead of the machine swapping.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, 1 << 30);

fn refusal(bytes: &[u8]) -> Option<String> {
    let header = match GgufHeader::read(bytes, bytes.len() as u64, &GgufLimits::default()) {
        Ok(header) => header,
        Err(e) => return Some(e.to_string()),
    };
    WeightsShape::check(PackKind::Domain, &header)
        .err()
        .map(|e| e.to_string())
}

#[test]
fn hostile_weights_are_refused_with_their_words_under_64_mb() {
    let cases = hostile_weights();
    let valid = modularbase_pack::weights::sample_weights(&test_shape("domain"), b"valid");
    assert_eq!(refusal(&valid), None, "the unedited file passes");
    for case in &cases {
        let error = refusal(&case.bytes).unwrap_or_else(|| panic!("{}: accepted", case.name));
        assert!(
            error.contains(&case.message),
            "{}: refused with {error:?}, expected {:?}",
            case.name,
            case.message
        );
    }
    let peak = ALLOCATOR.max_allocated();
    assert!(peak < 64 << 20, "peak allocation {peak} bytes");
}
