//! A registry user with a token and a registered signing key, publishing over the HTTP API
//! as `modularbase pack publish` does.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use modularbase_pack::{
    PackId, PublishMetadata, RegisterKeyRequest, Sha256Digest, SigningKey, encode_publish_header,
};
use modularbase_tests::Pack;
use reqwest::blocking::Client;

/// A user with a token and a registered key.
pub struct Publisher {
    client: Client,
    /// The registry's URL.
    pub url: String,
    token: String,
    key: SigningKey,
}

impl Publisher {
    /// Registers a fresh signing key for the user `token` belongs to.
    pub fn new(url: &str, token: String) -> Result<Self> {
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("build the HTTP client")?;
        let key = SigningKey::generate();
        let response = client
            .post(format!("{url}/api/v1/keys"))
            .header("Authorization", &token)
            .json(&RegisterKeyRequest {
                key: key.public_key(),
            })
            .send()
            .context("POST /api/v1/keys")?;
        let status = response.status();
        ensure!(status.is_success(), "key registration: {status}");
        Ok(Self {
            client,
            url: url.to_owned(),
            token,
            key,
        })
    }

    /// Builds `pack`'s archive with the pack crate, signs and publishes it; returns the
    /// archive bytes.
    pub fn publish(&self, pack: &Pack) -> Result<Vec<u8>> {
        let archive = pack.archive();
        let cksum = Sha256Digest::of(&archive);
        let id: PackId = pack.id.parse().context("pack id")?;
        let vers: semver::Version = pack.version.parse().context("pack version")?;
        let sig = self.key.sign_pack(&id, &vers, &cksum);
        let metadata = PublishMetadata {
            id,
            vers,
            cksum,
            sig,
            key: self.key.public_key(),
        };
        let length = u32::try_from(archive.len()).context("archive over 4 GiB")?;
        let mut body = encode_publish_header(&metadata, length);
        body.extend_from_slice(&archive);
        let response = self
            .client
            .put(format!("{}/api/v1/packs/new", self.url))
            .header("Authorization", &self.token)
            .body(body)
            .send()
            .with_context(|| format!("publish {}@{}", pack.id, pack.version))?;
        let status = response.status();
        let text = response.text().unwrap_or_default();
        ensure!(
            status.is_success(),
            "publish {}@{}: {status} {text}",
            pack.id,
            pack.version
        );
        Ok(archive)
    }

    /// `GET url+path`'s body, failing unless the status is 200.
    pub fn get(&self, url: &str, path: &str) -> Result<Vec<u8>> {
        let response = self
            .client
            .get(format!("{url}{path}"))
            .send()
            .with_context(|| format!("GET {url}{path}"))?;
        let status = response.status();
        ensure!(status == 200, "GET {url}{path}: {status}");
        let body = response
            .bytes()
            .with_context(|| format!("GET {url}{path}"))?;
        Ok(body.to_vec())
    }
}
