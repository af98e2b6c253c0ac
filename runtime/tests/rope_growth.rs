//! Regression: rotary tables were precomputed for the whole context the header claims, so
//! a base declaring 2^20 positions with wide heads allocated gigabytes before its first
//! token. They now grow with the tokens really given, and give the same answers.

#![allow(clippy::unwrap_used)]

use std::alloc::System;

use candle_core::Device;
use cap::Cap;
use modularbase_runtime::{BaseConfig, BaseModel};

/// Under the old tables this base needed 4 GiB at open: the cap turns that into an abort.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, 1 << 30);

#[test]
fn a_huge_declared_context_costs_memory_only_for_the_tokens_given() {
    let wide = BaseConfig {
        hidden: 1024,
        layers: 1,
        heads: 1,
        kv_heads: 1,
        ffn: 32,
        context: 1 << 20,
        ..BaseConfig::default()
    };
    let mut huge = BaseModel::random(&wide, 5, &Device::Cpu).unwrap();
    assert!(
        ALLOCATOR.max_allocated() < 64 << 20,
        "opened with a peak of {} bytes",
        ALLOCATOR.max_allocated()
    );
    // Past the first tables (512 positions), answers equal those of a base whose tables
    // always covered its whole (short) context.
    let mut short = BaseModel::random(
        &BaseConfig {
            context: 700,
            ..wide
        },
        5,
        &Device::Cpu,
    )
    .unwrap();
    let tokens: Vec<u32> = (0..600).map(|i| (i * 7 % 250) as u32).collect();
    let a = huge.forward(&tokens, 0, None).unwrap();
    let b = short.forward(&tokens, 0, None).unwrap();
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
}
