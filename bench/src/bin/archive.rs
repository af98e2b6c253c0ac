//! Archive benchmark (in progress).
fn main() {}
