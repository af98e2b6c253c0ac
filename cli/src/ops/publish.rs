//! Publishing: build, sign, upload in cargo's body layout with a progress bar.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context;
use modularbase_pack::{PublishMetadata, PublishResponse, encode_publish_header};

use super::sign::{sign_archive, signing_key};
use super::{BuiltArchive, build_pack};
use crate::client::RegistryClient;
use crate::home::Home;
use crate::printer::Printer;

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
    printer: &Printer,
) -> anyhow::Result<Published> {
    let client = RegistryClient::from_home(home, registry, printer)?;
    let key = signing_key(home, key_name)?.with_context(|| {
        format!("publishing needs a signing key and there is no `{key_name}` key: run `modularbase key generate` and `modularbase key register`")
    })?;
    // Checked before building, so a refusal leaves nothing behind.
    let request = if dry_run {
        None
    } else {
        Some(client.publish_request()?)
    };
    let built = build_pack(pack_dir)?;
    let metadata = sign_archive(&built, &key)?;
    let registry = client.url.clone();
    let Some(request) = request else {
        return Ok(Published {
            built,
            metadata,
            registry,
            response: None,
        });
    };
    let archive_len = u32::try_from(built.size)
        .context("the archive is larger than 4 GiB, the publish format's limit")?;
    let header = encode_publish_header(&metadata, archive_len);
    let file = File::open(&built.path)
        .with_context(|| format!("cannot open `{}`", built.path.display()))?;
    let progress = printer.progress_bar(
        built.size,
        "  uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
    );
    let length = header.len() as u64 + built.size;
    let body = std::io::Cursor::new(header).chain(progress.wrap_read(file));
    let what = format!("{}@{}", metadata.id, metadata.vers);
    let answer = client.publish::<PublishResponse>(
        request.body(reqwest::blocking::Body::sized(body, length)),
        &what,
    );
    progress.finish_and_clear();
    Ok(Published {
        built,
        metadata,
        registry,
        response: Some(answer?),
    })
}
