//! `PUT /api/v1/packs/new`: validate everything cheap, stream the archive to disk while
//! hashing, verify it, store the blob, then commit the version in one transaction.
//!
//! Body layout (cargo's): `u32` LE metadata length, JSON [`PublishMetadata`], `u32` LE
//! archive length, archive bytes.

use std::io::Write;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use futures_util::StreamExt;
use modularbase_pack::{
    ArchiveContents, ArchiveLimits, ErrorEnvelope, HashingWriter, IndexRecord, Manifest, PackRef,
    PublishMetadata, PublishResponse, WeightsShape, decode_publish_header, inspect_archive,
};

use crate::app::AppState;
use crate::auth::{Caller, Scope};
use crate::db::{NewVersion, PublishOutcome};
use crate::error::{AppError, AppResult};

/// Largest metadata block we buffer before the archive.
const MAX_METADATA: usize = 1 << 20;

/// `PUT /api/v1/packs/new`.
#[utoipa::path(
    put, path = "/api/v1/packs/new", tag = "packs",
    operation_id = "publish_pack",
    request_body(
        content = Vec<u8>,
        content_type = "application/octet-stream",
        description = "u32 LE length, JSON metadata (`id`, `vers`, `cksum`, `sig`, `key`), u32 LE length, the archive",
    ),
    security(("token" = [])),
    responses(
        (status = 200, description = "The version is published", body = PublishResponse),
        (status = 400, description = "The body, signature, archive or a requirement is refused", body = ErrorEnvelope),
        (status = 403, description = "Missing scope, not an owner, or an unregistered key", body = ErrorEnvelope),
        (status = 408, description = "The body stalled longer than the registry's body timeout", body = ErrorEnvelope),
        (status = 409, description = "The version exists already", body = ErrorEnvelope),
        (status = 413, description = "The body is over the registry's limit", body = ErrorEnvelope),
    )
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<PublishResponse>> {
    let limit = state.max_publish_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(AppError::too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let body_error =
        |e: axum::Error| AppError::bad_request(format!("could not read the request body: {e}"));

    // 1. The metadata block.
    let mut head: Vec<u8> = Vec::new();
    let needed = |head: &[u8]| -> Option<usize> {
        let len = u32::from_le_bytes(head.get(..4)?.try_into().ok()?) as usize;
        Some(8 + len)
    };
    while needed(&head).is_none_or(|n| head.len() < n) {
        if needed(&head).is_some_and(|n| n > MAX_METADATA + 8) {
            return Err(AppError::bad_request(
                "the publish metadata is larger than 1 MiB",
            ));
        }
        match next_chunk(&mut stream, state.body_timeout).await? {
            Some(chunk) => head.extend_from_slice(&chunk.map_err(body_error)?),
            None => {
                return Err(AppError::bad_request(
                    "the publish body ends before its metadata; it must be u32 length + JSON + u32 length + archive",
                ));
            }
        }
    }
    let (metadata, archive_len) =
        decode_publish_header(head.as_slice()).map_err(|e| AppError::bad_request(e.to_string()))?;
    let rest = head.split_off(needed(&head).unwrap_or(head.len()));

    // 2. Cheap checks before reading the archive.
    let key_id = check_permissions(&state, &caller, &metadata).await?;
    if u64::from(archive_len) > limit {
        return Err(AppError::too_large(limit));
    }

    // 3. Stream the archive to a temporary file while hashing.
    let upload = state.blobs.temp_file().map_err(AppError::internal)?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(upload.as_file()));
    let header_len = (head.len()) as u64;
    let mut received = rest.len() as u64;
    writer.write_all(&rest).map_err(AppError::internal)?;
    // On a stall or any refusal the upload is dropped, which removes its temporary file.
    while let Some(chunk) = next_chunk(&mut stream, state.body_timeout).await? {
        let chunk = chunk.map_err(body_error)?;
        received += chunk.len() as u64;
        if header_len + received > limit {
            return Err(AppError::too_large(limit));
        }
        if received > u64::from(archive_len) {
            return Err(AppError::bad_request(format!(
                "the body holds more than the {archive_len} archive bytes its header announces"
            )));
        }
        writer.write_all(&chunk).map_err(AppError::internal)?;
    }
    if received != u64::from(archive_len) {
        return Err(AppError::bad_request(format!(
            "the body holds {received} archive bytes but its header announces {archive_len}"
        )));
    }
    let (buffered, digest, size) = writer.finish();
    buffered
        .into_inner()
        .map_err(|e| AppError::internal(e.error()))?;
    if digest != metadata.cksum {
        return Err(AppError::bad_request(format!(
            "checksum mismatch: the archive's SHA-256 is {digest} but the metadata says {}; the upload was corrupted or the metadata is wrong",
            metadata.cksum
        )));
    }

    // 4. The archive itself: structure, limits, manifest = claimed id and version.
    let expected = PackRef {
        id: metadata.id.clone(),
        version: metadata.vers.clone(),
    };
    let path = upload.path().to_owned();
    let contents = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        Ok::<_, anyhow::Error>(inspect_archive(
            std::io::BufReader::new(file),
            &ArchiveLimits::default(),
            Some(&expected),
        )?)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::bad_request(format!("the archive is refused: {e}")))?;
    check_requirements(&state, &contents.manifest).await?;
    check_fits_bases(&state, &contents).await?;

    // 5. Blob first, then the one transaction that makes the version visible.
    state
        .blobs
        .commit(upload, &digest)
        .map_err(AppError::internal)?;
    let record = IndexRecord::new(&contents.manifest, digest, metadata.sig, metadata.key, size);
    let outcome = state
        .db
        .publish(NewVersion {
            manifest: &contents.manifest,
            record: &record,
            readme: contents.readme.as_deref(),
            key_id,
            publisher_id: caller.user_id,
            base_shape: contents.weights.base().map(|b| {
                (
                    i64::try_from(b.hidden).unwrap_or(i64::MAX),
                    i64::try_from(b.layers).unwrap_or(i64::MAX),
                )
            }),
        })
        .await?;
    match outcome {
        PublishOutcome::Published => {}
        PublishOutcome::VersionExists => return Err(version_exists(&metadata)),
        PublishOutcome::NotOwner => return Err(not_owner(&metadata, &caller)),
    }
    state.metrics.publishes.inc();
    // The snapshot lists the new index file before the publisher hears it is published.
    state.metadata.after_change().await;
    tracing::info!(
        "{} published {}@{}",
        caller.login,
        metadata.id,
        metadata.vers
    );
    let mut warnings = Vec::new();
    if contents.manifest.readme.is_none() {
        warnings.push(
            "the pack has no readme; the marketplace page will have no model card".to_owned(),
        );
    }
    Ok(Json(PublishResponse {
        id: metadata.id,
        vers: metadata.vers,
        warnings,
    }))
}

/// The next body chunk, or 408 when none arrives within `timeout` (a client that stops
/// sending would otherwise hold its connection and temporary file forever).
async fn next_chunk(
    stream: &mut axum::body::BodyDataStream,
    timeout: Duration,
) -> AppResult<Option<Result<axum::body::Bytes, axum::Error>>> {
    tokio::time::timeout(timeout, stream.next())
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the publish body stalled: no bytes arrived for {} s; the upload was dropped, send it again",
                    timeout.as_secs()
                ),
            )
        })
}

fn version_exists(m: &PublishMetadata) -> AppError {
    AppError::conflict(format!(
        "`{}@{}` already exists; versions are immutable (a yanked version still counts): bump the version in pack.toml",
        m.id, m.vers
    ))
}

fn not_owner(m: &PublishMetadata, caller: &Caller) -> AppError {
    AppError::forbidden(format!(
        "`{}` belongs to other users and `{}` is not an owner; ask an owner to add you",
        m.id, caller.login
    ))
}

/// Token scope, ownership, version novelty, key registration and signature; returns the
/// signing key's id.
async fn check_permissions(
    state: &AppState,
    caller: &Caller,
    m: &PublishMetadata,
) -> AppResult<i64> {
    if !m.vers.build.is_empty() {
        return Err(AppError::bad_request(format!(
            "version `{}` has build metadata (`+{}`), which the registry does not accept",
            m.vers, m.vers.build
        )));
    }
    match state.db.pack(m.id.as_str()).await? {
        Some(pack) => {
            caller.require(Scope::PublishUpdate)?;
            if !state.db.is_owner(pack.id, caller.user_id).await? {
                return Err(not_owner(m, caller));
            }
            if state
                .db
                .versions(pack.id)
                .await?
                .iter()
                .any(|v| v.num == m.vers)
            {
                return Err(version_exists(m));
            }
        }
        None => caller.require(Scope::PublishNew)?,
    }
    let key_id = state.db.active_key_id(caller.user_id, &m.key).await?.ok_or_else(|| {
        AppError::forbidden(format!(
            "key {} is not registered to `{}` (or was revoked); register it with `modularbase key register`",
            m.key.fingerprint(),
            caller.login
        ))
    })?;
    m.key
        .verify_pack(&m.id, &m.vers, &m.cksum, &m.sig)
        .map_err(|e| {
            AppError::bad_request(format!("{e}; sign the archive with the key you registered"))
        })?;
    Ok(key_id)
}

/// Every dependency, conflict target excepted, and the base family must exist with a
/// version in range.
async fn check_requirements(state: &AppState, manifest: &Manifest) -> AppResult<()> {
    for (dep, req) in &manifest.dependencies {
        let versions = match state.db.pack(dep.as_str()).await? {
            Some(pack) => state.db.versions(pack.id).await?,
            None => Vec::new(),
        };
        if !versions.iter().any(|v| req.matches(&v.num)) {
            return Err(AppError::bad_request(format!(
                "dependency `{dep} {req}` of `{}` has no published version in range; publish it first",
                manifest.id
            )));
        }
    }
    if let Some(base) = &manifest.base {
        let versions = match state.db.pack(base.as_str()).await? {
            Some(pack) if pack.kind == "base" => state.db.versions(pack.id).await?,
            Some(_) => {
                return Err(AppError::bad_request(format!(
                    "`{base}`, named as the base of `{}`, is not a base pack",
                    manifest.id
                )));
            }
            None => Vec::new(),
        };
        if !versions.iter().any(|v| manifest.supports_base(&v.num)) {
            let compat: Vec<String> = manifest
                .base_compatibility
                .iter()
                .map(ToString::to_string)
                .collect();
            return Err(AppError::bad_request(format!(
                "base `{base}` has no published version in {} (the pack's base_compatibility); publish the base first",
                compat.join(", ")
            )));
        }
    }
    Ok(())
}

/// A domain pack must fit (hidden width, insertion layer) every published version of its
/// base that its `base_compatibility` admits and whose shape the registry recorded.
async fn check_fits_bases(state: &AppState, contents: &ArchiveContents) -> AppResult<()> {
    let manifest = &contents.manifest;
    let (WeightsShape::Domain(shape), Some(base)) = (&contents.weights, &manifest.base) else {
        return Ok(());
    };
    let Some(pack) = state.db.pack(base.as_str()).await? else {
        return Ok(());
    };
    for (version, hidden, layers) in state.db.base_shapes(pack.id).await? {
        if !manifest.supports_base(&version) {
            continue;
        }
        shape.check_fits(hidden, layers).map_err(|e| {
            AppError::bad_request(format!(
                "`{}` does not fit base `{base}` {version}, which its base_compatibility admits: {e}; reshape the pack for that base or narrow base_compatibility",
                manifest.id
            ))
        })?;
    }
    Ok(())
}
