//! What the runtime's integration tests share: the device they run on.

use candle_core::Device;

/// The device under test: `MODULARBASE_TEST_DEVICE` (`cpu`, `cuda:N`), CPU by default, so
/// the same tests check the CUDA build on a GPU machine (`bench/gpu/check.sh`).
pub(crate) fn device() -> Device {
    let spec = std::env::var("MODULARBASE_TEST_DEVICE").unwrap_or_else(|_| "cpu".to_owned());
    match modularbase_runtime::pick_device(&spec) {
        Ok(picked) => picked.device,
        Err(e) => panic!("MODULARBASE_TEST_DEVICE={spec}: {e}"),
    }
}
