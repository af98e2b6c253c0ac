//! The registry's JSON API from the command line: one client, one way of turning the
//! registry's `{"errors":[{"detail":…}]}` into a message.

use anyhow::{Context, bail};
use modularbase_pack::ErrorEnvelope;
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::home::Home;

/// A registry and, when logged in, its token.
#[derive(Debug)]
pub struct RegistryClient {
    /// The registry URL.
    pub url: String,
    token: Option<String>,
    http: Client,
}

impl RegistryClient {
    /// The registry `--registry` (or the environment, or the configured default) names.
    pub fn from_home(home: &Home, registry: Option<&str>) -> anyhow::Result<Self> {
        let (url, token) = home.registry(registry)?;
        let http = Client::builder()
            .timeout(None)
            .build()
            .context("cannot create the HTTP client")?;
        Ok(Self { url, token, http })
    }

    /// Whether a token is known for this registry.
    pub fn logged_in(&self) -> bool {
        self.token.is_some()
    }

    /// A request to `path`, carrying the token when `authenticated`.
    pub fn request(
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

    /// Sends `request`; a refusal becomes an error with the registry's own words, `what`
    /// saying what was being done.
    pub fn send<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        let url = &self.url;
        let response: Response = request
            .send()
            .with_context(|| format!("cannot reach the registry at {url}"))?;
        let status = response.status();
        let body = response
            .text()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<ErrorEnvelope>(&body)
                .ok()
                .and_then(|e| e.errors.into_iter().next())
                .map_or(body, |e| e.detail);
            bail!("the registry at {url} refused {what} ({status}): {detail}");
        }
        serde_json::from_str(&body)
            .with_context(|| format!("unexpected answer from {url} to {what}"))
    }
}
