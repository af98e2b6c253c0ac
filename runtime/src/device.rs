//! Choosing where tensors live: `cpu`, `cuda:N` or `auto` (CUDA when a GPU answers, else
//! the CPU with one line saying why).

use candle_core::Device;

use crate::error::{Result, RuntimeError};

/// The device and, when `auto` settled for the CPU, the reason.
#[derive(Debug)]
pub struct PickedDevice {
    /// The device to use.
    pub device: Device,
    /// Why the CPU was chosen over CUDA, for `auto`.
    pub note: Option<String>,
}

/// What this build can run on.
pub fn cuda_compiled() -> bool {
    cfg!(feature = "cuda")
}

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` and opens that device.
pub fn pick_device(spec: &str) -> Result<PickedDevice> {
    choose(spec, open_cuda)
}

/// The selection logic, with the CUDA opener as a parameter (tests give it the failures a
/// machine without a GPU, or with the stub driver, produces).
fn choose(
    spec: &str,
    open_cuda: impl Fn(usize) -> std::result::Result<Device, String>,
) -> Result<PickedDevice> {
    let cuda_ordinal = match spec {
        "cpu" => {
            return Ok(PickedDevice {
                device: Device::Cpu,
                note: None,
            });
        }
        "auto" => None,
        "cuda" => Some(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Some(n),
            _ => {
                return Err(RuntimeError::Config(format!(
                    "`{spec}` is not a device; use cpu, cuda, cuda:N or auto"
                )));
            }
        },
    };
    let opened = open_cuda(cuda_ordinal.unwrap_or(0));
    match (cuda_ordinal, opened) {
        (_, Ok(device)) => Ok(PickedDevice { device, note: None }),
        (Some(_), Err(why)) => Err(RuntimeError::Device(why)),
        (None, Err(why)) => Ok(PickedDevice {
            device: Device::Cpu,
            note: Some(format!("using the CPU: {why}")),
        }),
    }
}

/// Free and total bytes of the device's own memory, as the device reports them (CUDA);
/// `None` on the CPU, whose figures come from tensor sizes alone.
pub fn device_memory(device: &Device) -> Option<(u64, u64)> {
    #[cfg(feature = "cuda")]
    if let Ok(cuda) = device.as_cuda_device() {
        return cuda
            .cuda_stream()
            .context()
            .mem_get_info()
            .ok()
            .map(|(free, total)| (free as u64, total as u64));
    }
    let _ = device;
    None
}

fn open_cuda(ordinal: usize) -> std::result::Result<Device, String> {
    if !cuda_compiled() {
        return Err("this build has no CUDA support; rebuild with `cargo build --release --features cuda` (see scripts/cuda-toolchain.sh)".to_owned());
    }
    Device::new_cuda(ordinal).map_err(|e| cuda_unavailable(ordinal, &e.to_string()))
}

/// One line saying why CUDA device `ordinal` cannot be used (candle appends a backtrace to
/// its errors when RUST_BACKTRACE is set: only the message's first line is kept).
fn cuda_unavailable(ordinal: usize, error: &str) -> String {
    let first = error.lines().next().unwrap_or_default().trim();
    format!("CUDA device {ordinal} is not available: {first}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the stub `libcuda` (scripts/cuda-toolchain.sh) makes candle report, with the
    /// backtrace candle adds under RUST_BACKTRACE=1.
    fn stub_driver(ordinal: usize) -> std::result::Result<Device, String> {
        let error = "DriverError(CUDA_ERROR_STUB_LIBRARY, \"<Failure when calling cuGetErrorString()>\")\n   0: candle_core::error::Error::bt\n   1: candle_core::cuda_backend::device::CudaDevice::new";
        Err(cuda_unavailable(ordinal, error))
    }

    #[test]
    fn auto_falls_back_to_the_cpu_with_one_line_when_the_driver_is_a_stub() {
        let picked = choose("auto", stub_driver).unwrap();
        assert!(picked.device.is_cpu());
        assert_eq!(
            picked.note.as_deref(),
            Some(
                "using the CPU: CUDA device 0 is not available: DriverError(CUDA_ERROR_STUB_LIBRARY, \"<Failure when calling cuGetErrorString()>\")"
            )
        );
        let err = choose("cuda:1", stub_driver).unwrap_err().to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("CUDA device 1 is not available: DriverError(CUDA_ERROR_STUB_LIBRARY"),
            "{err}"
        );
    }

    #[test]
    fn auto_takes_the_gpu_when_one_answers() {
        let picked = choose("auto", |_| Ok(Device::Cpu)).unwrap();
        assert!(picked.note.is_none(), "no note when CUDA opened");
        assert!(
            choose("cuda", |n| if n == 0 {
                Ok(Device::Cpu)
            } else {
                Err("wrong ordinal".into())
            })
            .is_ok()
        );
    }

    #[test]
    fn cpu_and_auto_work_everywhere_and_bad_specs_are_refused() {
        assert!(pick_device("cpu").unwrap().device.is_cpu());
        let auto = pick_device("auto").unwrap();
        if !cuda_compiled() {
            assert!(auto.device.is_cpu());
            assert!(auto.note.unwrap().contains("--features cuda"));
            let err = pick_device("cuda:0").unwrap_err().to_string();
            assert!(
                err.contains("rebuild with `cargo build --release --features cuda`"),
                "{err}"
            );
        }
        assert!(
            pick_device("tpu")
                .unwrap_err()
                .to_string()
                .contains("not a device")
        );
        assert!(pick_device("cuda:x").is_err());
    }
}
