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
    // candle appends a backtrace when RUST_BACKTRACE is set: keep the message's first line.
    Device::new_cuda(ordinal).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default().trim().to_owned();
        format!("CUDA device {ordinal} is not available: {first}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
