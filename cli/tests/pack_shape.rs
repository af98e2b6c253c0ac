//! `pack init` shapes a pack for its base with flags: insertion block, width, experts,
//! top-k, expert width and format; shapes that cannot work are refused and nothing is made.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{modularbase, refused, succeeded};
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_pack::{DomainShape, ExpertFormat};

/// `pack init` for a 576-wide, 30-block base (SmolLM2-135M's shape) with `extra` flags.
fn init(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "pack",
        "init",
        "--domain",
        "demo",
        "--name",
        "Demo Pack",
        "--base",
        "smollm2_135m@1.0.0",
        "--hidden",
        "576",
        "--layers",
        "30",
        "--path",
        "demo",
    ];
    args.extend(extra);
    modularbase(dir, &args)
}

fn shape(dir: &Path) -> DomainShape {
    let header = GgufHeader::open(&dir.join("demo/weights.gguf"), &GgufLimits::default()).unwrap();
    DomainShape::from_header(&header).unwrap()
}

#[test]
fn the_default_shape_plugs_in_after_the_middle_block() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&init(dir.path(), &[]));
    assert_eq!(shape(dir.path()), DomainShape::for_base(576, 15));
}

#[test]
fn flags_choose_the_insertion_block_widths_experts_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--insert-after",
        "22",
        "--width",
        "96",
        "--experts",
        "4",
        "--top-k",
        "1",
        "--expert-ffn",
        "192",
        "--expert-format",
        "q4_0",
    ];
    succeeded(&init(dir.path(), &flags));
    assert_eq!(
        shape(dir.path()),
        DomainShape {
            hidden: 576,
            width: 96,
            experts: 4,
            top_k: 1,
            expert_ffn: 192,
            insertion_layer: 22,
            expert_format: ExpertFormat::Q4_0,
        }
    );
}

#[test]
fn shapes_that_cannot_work_are_refused_and_nothing_is_made() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--insert-after", "30"],
            "`--insert-after 30`: the base has 30 blocks (0 to 29)",
        ),
        (
            &["--top-k", "9"],
            "top_k (9) exceeds the number of experts (8)",
        ),
        (&["--experts", "300"], "300 experts; a pack has at most 256"),
        (
            &["--width", "40"],
            "quantized experts need width (40) and expert_ffn (128) to be multiples of 32",
        ),
    ];
    for (flags, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        refused(&init(dir.path(), flags), words);
        assert!(!dir.path().join("demo").exists(), "{flags:?} made a pack");
    }
}
