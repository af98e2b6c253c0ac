//! The registry's sparse index, fetched lazily per pack and cached in the home with its
//! ETag (`cache/index/ID` and `ID.etag`), revalidated with `If-None-Match`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use modularbase_pack::{IndexRecord, PackId, parse_index_lines};
use reqwest::Method;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use crate::client::RegistryClient;
use crate::home::Home;
use crate::resolve::IndexSource;

/// Index files from one registry, each fetched at most once per run.
pub struct HttpIndex {
    client: RegistryClient,
    cache: PathBuf,
    offline: bool,
    fetched: RefCell<HashMap<PackId, Vec<IndexRecord>>>,
}

impl HttpIndex {
    /// The index of `client`'s registry, cached under the home; `offline` reads the cache
    /// alone.
    pub fn new(home: &Home, client: RegistryClient, offline: bool) -> anyhow::Result<Self> {
        let host = client.url.replace("://", "_").replace(['/', ':'], "_");
        let cache = home.root().join("cache").join("index").join(host);
        home.ensure_dir(&cache)?;
        Ok(Self {
            client,
            cache,
            offline,
            fetched: RefCell::default(),
        })
    }

    fn fetch(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        let body_path = self.cache.join(id.as_str());
        let etag_path = self.cache.join(format!("{id}.etag"));
        if self.offline {
            let text = std::fs::read_to_string(&body_path).with_context(|| {
                format!("`{id}` is not in the offline index cache; run once without --offline")
            })?;
            return Ok(parse_index_lines(id, &text)?);
        }
        let mut request = self
            .client
            .request(Method::GET, &format!("/index/{id}"), false)?;
        let cached_etag = std::fs::read_to_string(&etag_path)
            .ok()
            .filter(|_| body_path.exists());
        if let Some(etag) = &cached_etag {
            request = request.header(IF_NONE_MATCH, etag.trim());
        }
        let url = &self.client.url;
        let response = request
            .send()
            .with_context(|| format!("cannot reach the registry at {url}"))?;
        let text = match response.status().as_u16() {
            304 => std::fs::read_to_string(&body_path)
                .with_context(|| format!("cannot read `{}`", body_path.display()))?,
            404 => return Ok(Vec::new()),
            200 => {
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let text = response
                    .text()
                    .with_context(|| format!("cannot read the index of `{id}` from {url}"))?;
                std::fs::write(&body_path, &text)
                    .with_context(|| format!("cannot write `{}`", body_path.display()))?;
                match etag {
                    Some(etag) => std::fs::write(&etag_path, etag)
                        .with_context(|| format!("cannot write `{}`", etag_path.display()))?,
                    None => {
                        let _ = std::fs::remove_file(&etag_path);
                    }
                }
                text
            }
            status => bail!("the registry at {url} answered {status} for the index of `{id}`"),
        };
        Ok(parse_index_lines(id, &text)?)
    }
}

impl IndexSource for HttpIndex {
    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        if let Some(found) = self.fetched.borrow().get(id) {
            return Ok(found.clone());
        }
        let records = self.fetch(id)?;
        self.fetched
            .borrow_mut()
            .insert(id.clone(), records.clone());
        Ok(records)
    }
}
