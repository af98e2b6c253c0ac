//! Publishing: build, sign, upload in cargo's body layout with a progress bar.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use modularbase_pack::{ErrorEnvelope, PublishMetadata, PublishResponse, encode_publish_header};

use super::sign::{sign_archive, signing_key};
use super::{BuiltArchive, build_pack};
use crate::home::Home;

/// What a publish did (or, dry, would do).
#[derive(Debug)]
pub struct Published {
    /// The archive and its contents.
    pub built: BuiltArchive,
    /// What was signed and sent.
    pub metadata: PublishMetadata,
    /// The registry.
    pub registry: String,
    /// The registry's answer (`None` for a dry run).
    pub response: Option<PublishResponse>,
}

/// Builds the pack in `pack_dir`, signs it with key `key_name`, and uploads it to the
/// registry (unless `dry_run`).
pub fn publish(
    home: &Home,
    pack_dir: &Path,
    registry: Option<&str>,
    key_name: &str,
    dry_run: bool,
) -> anyhow::Result<Published> {
    let (url, token) = home.registry(registry)?;
    let key = signing_key(home, key_name)?.with_context(|| {
        format!("publishing needs a signing key and there is no `{key_name}` key: run `modularbase key generate` and `modularbase key register`")
    })?;
    let token = match (token, dry_run) {
        (Some(token), _) => Some(token),
        (None, true) => None,
        (None, false) => {
            bail!("not logged in to {url}: run `modularbase login --registry {url}` first")
        }
    };
    let built = build_pack(pack_dir)?;
    let metadata = sign_archive(&built, &key)?;
    let Some(token) = token.filter(|_| !dry_run) else {
        return Ok(Published {
            built,
            metadata,
            registry: url,
            response: None,
        });
    };
    let archive_len = u32::try_from(built.size)
        .context("the archive is larger than 4 GiB, the publish format's limit")?;
    let header = encode_publish_header(&metadata, archive_len);
    let file = File::open(&built.path)
        .with_context(|| format!("cannot open `{}`", built.path.display()))?;
    let progress = indicatif::ProgressBar::new(built.size);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "  uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let body = std::io::Cursor::new(header.clone()).chain(progress.wrap_read(file));
    let response = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .context("cannot create the HTTP client")?
        .put(format!("{url}/api/v1/packs/new"))
        .header("Authorization", token)
        .body(reqwest::blocking::Body::sized(
            body,
            header.len() as u64 + built.size,
        ))
        .send()
        .with_context(|| format!("cannot reach the registry at {url}"))?;
    progress.finish_and_clear();
    let status = response.status();
    let text = response
        .text()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<ErrorEnvelope>(&text)
            .ok()
            .and_then(|e| e.errors.into_iter().next())
            .map_or(text, |e| e.detail);
        bail!(
            "the registry at {url} refused {}@{} ({status}): {detail}",
            metadata.id,
            metadata.vers
        );
    }
    let answer: PublishResponse =
        serde_json::from_str(&text).with_context(|| format!("unexpected answer from {url}"))?;
    Ok(Published {
        built,
        metadata,
        registry: url,
        response: Some(answer),
    })
}
