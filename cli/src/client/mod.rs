//! The registry's API from the command line: one client with bounded time and bytes, a
//! typed method per endpoint (each path from [`modularbase_pack::paths`], which the
//! server's router uses too), and one way of turning the registry's
//! `{"errors":[{"detail":…}]}` into a message.

mod download;
mod net;

use std::io::Read;

use anyhow::{Context, bail};
use modularbase_pack::paths;
use modularbase_pack::{
    ErrorEnvelope, KeyInfo, OkResponse, OwnerList, OwnersChange, PackDetails, PackId,
    RegisterKeyRequest, SearchResponse, WhoAmI,
};
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;

pub use net::{NetFlags, NetOptions};

use crate::home::Home;
use crate::printer::Printer;

/// The largest JSON answer read from the API.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// The largest index file read (about 30 000 versions of one pack).
pub(crate) const MAX_INDEX_BYTES: u64 = 16 << 20;

/// A registry and, when logged in, its token.
#[derive(Debug)]
pub struct RegistryClient {
    /// The registry URL.
    pub url: String,
    token: Option<String>,
    http: Client,
    net: NetOptions,
    printer: Printer,
}

/// The answer for one index file.
#[derive(Debug)]
pub enum IndexAnswer {
    /// Unchanged since the ETag sent.
    NotModified,
    /// No such pack.
    NotFound,
    /// The file, and its ETag.
    Body(String, Option<String>),
}

impl RegistryClient {
    /// The registry `--registry` (or the environment, or the configured default) names,
    /// with the network bounds of the environment and the config.
    pub fn from_home(
        home: &Home,
        registry: Option<&str>,
        printer: &Printer,
    ) -> anyhow::Result<Self> {
        Self::open(home, registry, None, NetFlags::default(), printer)
    }

    /// The registry `registry` names, else the environment's, else `remembered` (where the
    /// lock's packs came from), else the configured default; bounds from `flags` first.
    pub fn open(
        home: &Home,
        registry: Option<&str>,
        remembered: Option<&str>,
        flags: NetFlags,
        printer: &Printer,
    ) -> anyhow::Result<Self> {
        let (url, token) = home.registry_or(registry, remembered)?;
        let net = NetOptions::resolve(flags, &home.config()?.net, home.reads_environment())?;
        Ok(Self {
            url,
            token,
            http: net.client()?,
            net,
            printer: *printer,
        })
    }

    /// Where this client reports retries and notes.
    pub fn printer(&self) -> &Printer {
        &self.printer
    }

    /// Whether a token is known for this registry.
    pub fn logged_in(&self) -> bool {
        self.token.is_some()
    }

    /// The same registry with `token` (to check it before it is saved).
    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    /// A request to `path`, carrying the token when `authenticated`.
    fn request(
        &self,
        method: Method,
        path: &str,
        authenticated: bool,
    ) -> anyhow::Result<RequestBuilder> {
        let request = self.http.request(method, format!("{}{path}", self.url));
        if !authenticated {
            return Ok(request);
        }
        let url = &self.url;
        let token = self.token.as_ref().with_context(|| {
            format!("not logged in to {url}: run `modularbase login --registry {url}` first")
        })?;
        Ok(request.header("Authorization", token))
    }

    /// GETs `path`, retrying connection errors, 5xx and 429 with backoff; `what` names
    /// what is fetched.
    fn get(
        &self,
        path: &str,
        header: Option<(&str, &str)>,
        what: &str,
    ) -> anyhow::Result<Response> {
        let mut attempt = 0;
        loop {
            let mut request = self.request(Method::GET, path, false)?;
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let outcome = request.send();
            if attempt < self.net.retries && net::spurious(&outcome) {
                attempt += 1;
                let cause = match &outcome {
                    Ok(response) => format!("{} from {}", response.status(), self.url),
                    Err(e) => format!("{e}"),
                };
                self.printer.warn(format!(
                    "spurious network error ({cause}), retrying ({attempt}/{})",
                    self.net.retries
                ));
                std::thread::sleep(NetOptions::backoff(attempt));
                continue;
            }
            return outcome.map_err(|e| self.unreachable(e, what));
        }
    }

    /// A transport failure, said with the bound that ended it.
    fn unreachable(&self, error: reqwest::Error, what: &str) -> anyhow::Error {
        let url = &self.url;
        if error.is_timeout() {
            anyhow::Error::new(error).context(format!(
                "the registry at {url} did not answer {what} within {} s (raise it with --timeout, MODULARBASE_HTTP_TIMEOUT or `net.timeout` in config.toml)",
                self.net.timeout.as_secs()
            ))
        } else {
            anyhow::Error::new(error)
                .context(format!("cannot reach the registry at {url} for {what}"))
        }
    }

    /// Reads a JSON answer (at most [`MAX_JSON_BYTES`]); a refusal becomes an error with
    /// the registry's own words.
    fn json<T: DeserializeOwned>(&self, response: Response, what: &str) -> anyhow::Result<T> {
        let url = &self.url;
        let status = response.status();
        let body = self.read_bounded(response, MAX_JSON_BYTES, what)?;
        let body = String::from_utf8_lossy(&body);
        if !status.is_success() {
            let detail = serde_json::from_str::<ErrorEnvelope>(&body)
                .ok()
                .and_then(|e| e.errors.into_iter().next())
                .map_or_else(|| body.trim().to_owned(), |e| e.detail);
            bail!("the registry at {url} refused {what} ({status}): {detail}");
        }
        serde_json::from_str(&body)
            .with_context(|| format!("unexpected answer from {url} to {what}"))
    }

    /// A body of at most `limit` bytes.
    fn read_bounded(&self, response: Response, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
        let mut body = Vec::new();
        response
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "the answer of {} to {what} broke off or stalled (timeout {} s)",
                    self.url,
                    self.net.timeout.as_secs()
                ))
            })?;
        if body.len() as u64 > limit {
            bail!(
                "the answer of {} to {what} is larger than {} bytes; refused",
                self.url,
                limit
            );
        }
        Ok(body)
    }

    /// Sends a request that changes something (never retried) and reads its JSON answer.
    fn change<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        let response = request.send().map_err(|e| self.unreachable(e, what))?;
        self.json(response, what)
    }

    /// `GET /index/{id}`, revalidating `etag`; at most [`MAX_INDEX_BYTES`].
    pub fn index_file(&self, id: &PackId, etag: Option<&str>) -> anyhow::Result<IndexAnswer> {
        let what = format!("the index of `{id}`");
        let path = paths::fill(paths::INDEX_FILE, &[id.as_str()]);
        let header = etag.map(|e| (reqwest::header::IF_NONE_MATCH.as_str(), e));
        let response = self.get(&path, header, &what)?;
        match response.status().as_u16() {
            304 => Ok(IndexAnswer::NotModified),
            404 => Ok(IndexAnswer::NotFound),
            200 => {
                let etag = response
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = self.read_bounded(response, MAX_INDEX_BYTES, &what)?;
                let text = String::from_utf8(body)
                    .with_context(|| format!("{what} from {} is not UTF-8", self.url))?;
                Ok(IndexAnswer::Body(text, etag))
            }
            _ => bail!(
                "the registry at {} answered {} for {what}",
                self.url,
                response.status()
            ),
        }
    }

    /// `GET /index/{name}` for a metadata document (`timestamp.json`, `N.root.json`, …) of at
    /// most `limit` bytes, refused before more is read; `None` when the registry has none.
    pub fn metadata_file(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        self.bounded_index_get(name, limit, &format!("`{name}`"))
    }

    /// `GET /index/{name}` of at most `limit` bytes; `what` names it in errors.
    fn bounded_index_get(
        &self,
        name: &str,
        limit: u64,
        what: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let response = self.get(&format!("/index/{name}"), None, what)?;
        match response.status().as_u16() {
            404 => Ok(None),
            200 => {
                if let Some(length) = response.content_length().filter(|l| *l > limit) {
                    bail!(
                        "the registry at {} announces {length} bytes for {what}, more than the {limit} allowed; refused before reading it",
                        self.url
                    );
                }
                Ok(Some(self.read_bounded(response, limit, what)?))
            }
            _ => bail!(
                "the registry at {} answered {} for {what}",
                self.url,
                response.status()
            ),
        }
    }

    /// `GET /index/{id}` when the signed snapshot says it is exactly `length` bytes: a
    /// longer answer is refused before more than that is read; `None` on 404.
    pub fn index_file_of_length(
        &self,
        id: &PackId,
        length: u64,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        self.bounded_index_get(id.as_str(), length, &format!("the index of `{id}`"))
    }

    /// `GET /api/v1/packs?…`.
    pub fn search(&self, query: &[(&str, String)]) -> anyhow::Result<SearchResponse> {
        let mut url = reqwest::Url::parse(&self.url).context("the registry URL is invalid")?;
        url.query_pairs_mut().extend_pairs(query);
        let path = format!("{}?{}", paths::SEARCH, url.query().unwrap_or_default());
        self.json(self.get(&path, None, "the search")?, "the search")
    }

    /// `GET /api/v1/packs/{id}`.
    pub fn details(&self, id: &PackId) -> anyhow::Result<PackDetails> {
        let what = format!("`{id}`");
        let path = paths::fill(paths::PACK, &[id.as_str()]);
        self.json(self.get(&path, None, &what)?, &what)
    }

    /// Yanks `id@version`, or unyanks it with `undo`.
    pub fn yank(&self, id: &PackId, version: &semver::Version, undo: bool) -> anyhow::Result<()> {
        let (method, template, action) = if undo {
            (Method::PUT, paths::UNYANK, "unyank")
        } else {
            (Method::DELETE, paths::YANK, "yank")
        };
        let version_text = version.to_string();
        let path = paths::fill(template, &[id.as_str(), &version_text]);
        let request = self.request(method, &path, true)?;
        let _: OkResponse = self.change(request, &format!("to {action} {id}@{version}"))?;
        Ok(())
    }

    /// The owners of `id`.
    pub fn owners(&self, id: &PackId) -> anyhow::Result<OwnerList> {
        let what = format!("the owners of `{id}`");
        let path = paths::fill(paths::OWNERS, &[id.as_str()]);
        self.json(self.get(&path, None, &what)?, &what)
    }

    /// Adds (`add`) or removes owners of `id`.
    pub fn change_owners(&self, id: &PackId, add: bool, logins: &[String]) -> anyhow::Result<()> {
        let method = if add { Method::PUT } else { Method::DELETE };
        let path = paths::fill(paths::OWNERS, &[id.as_str()]);
        let body = OwnersChange {
            users: logins.to_vec(),
        };
        let _: OkResponse = self.change(
            self.request(method, &path, true)?.json(&body),
            "the owner change",
        )?;
        Ok(())
    }

    /// Registers a public key for the logged-in user.
    pub fn register_key(&self, request: &RegisterKeyRequest) -> anyhow::Result<KeyInfo> {
        self.change(
            self.request(Method::POST, paths::KEYS, true)?.json(request),
            "the key",
        )
    }

    /// Revokes the logged-in user's key with `fingerprint`.
    pub fn revoke_key(&self, fingerprint: &str) -> anyhow::Result<()> {
        let path = paths::fill(paths::KEY, &[fingerprint]);
        let request = self.request(Method::DELETE, &path, true)?;
        let _: OkResponse = self.change(request, &format!("to revoke key {fingerprint}"))?;
        Ok(())
    }

    /// Who the token belongs to (`GET /api/v1/me`).
    pub fn whoami(&self) -> anyhow::Result<WhoAmI> {
        let request = self.request(Method::GET, paths::ME, true)?;
        self.change(request, "the token")
    }

    /// The publish request, checked (logged in) before anything is built.
    pub fn publish_request(&self) -> anyhow::Result<RequestBuilder> {
        self.request(Method::PUT, paths::PUBLISH, true)
    }

    /// Sends a publish request built by [`RegistryClient::publish_request`].
    pub fn publish<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        self.change(request, what)
    }
}
