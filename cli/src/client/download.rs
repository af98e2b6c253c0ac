//! Downloading an archive with bounds: never more bytes than the index announces, never
//! fewer accepted, and a transfer that stays below [`LOW_SPEED_BYTES_PER_S`] for a whole
//! timeout window is dropped (cargo's `http.low-speed-limit`), so a registry can neither
//! fill the disk nor hold an install forever.

use std::io::{Read, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use modularbase_pack::{PackId, paths};
use semver::Version;

use super::RegistryClient;

/// The slowest transfer kept going, over each timeout window.
const LOW_SPEED_BYTES_PER_S: u64 = 10;

impl RegistryClient {
    /// Downloads the archive of `id@version` into `out`: exactly `size` bytes, each chunk
    /// counted on `progress`.
    pub fn download(
        &self,
        id: &PackId,
        version: &Version,
        size: u64,
        out: &mut impl Write,
        progress: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let what = format!("the archive of {id}@{version}");
        let version_text = version.to_string();
        let path = paths::fill(paths::DOWNLOAD, &[id.as_str(), &version_text]);
        let mut response = self.get(&path, None, &what)?;
        if !response.status().is_success() {
            bail!(
                "the registry at {} answered {} for {what}",
                self.url,
                response.status()
            );
        }
        if let Some(announced) = response.content_length().filter(|n| *n > size) {
            bail!(
                "the registry at {} sends {announced} bytes for {what} but its index announces {size}; nothing was installed",
                self.url
            );
        }
        let window = self.net.timeout;
        let mut window_start = Instant::now();
        let mut window_bytes = 0u64;
        let mut total = 0u64;
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = response.read(&mut buffer).map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "the download of {what} broke off or stalled after {total} of {size} bytes (timeout {} s)",
                    window.as_secs()
                ))
            })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > size {
                bail!(
                    "the registry at {} sent more than the {size} bytes its index announces for {what}; the download was cut and nothing was installed",
                    self.url
                );
            }
            let chunk = buffer.get(..n).unwrap_or_default();
            out.write_all(chunk)
                .with_context(|| format!("cannot write {what} to the archive cache"))?;
            progress.inc(n as u64);
            window_bytes += n as u64;
            let elapsed = window_start.elapsed();
            if elapsed >= window {
                if window_bytes < LOW_SPEED_BYTES_PER_S * elapsed.as_secs().max(1) {
                    bail!(
                        "the download of {what} is slower than {LOW_SPEED_BYTES_PER_S} bytes/s over {} s; dropped",
                        elapsed.as_secs()
                    );
                }
                window_start = Instant::now();
                window_bytes = 0;
            }
        }
        if total < size {
            bail!(
                "the download of {what} ended after {total} of the {size} bytes its index announces; nothing was installed"
            );
        }
        Ok(())
    }
}
