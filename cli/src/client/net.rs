//! How long and how often the client tries a registry: timeouts, retries with backoff for
//! idempotent requests, and which redirects it follows. Each bound is set by a flag, else
//! an environment variable, else `[net]` in `config.toml`, else a default.

use std::time::Duration;

use anyhow::Context;

use crate::home::NetConfig;

/// Seconds to wait for an answer or for any read of a body, by default.
const DEFAULT_TIMEOUT_S: u64 = 30;
/// Seconds to wait for a connection, by default.
const DEFAULT_CONNECT_TIMEOUT_S: u64 = 10;
/// Retries of an idempotent request, by default.
const DEFAULT_RETRIES: u32 = 3;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// The first pause before a retry; it doubles each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Bounds given on the command line (they win over the environment and the config).
#[derive(Debug, Clone, Copy, Default)]
pub struct NetFlags {
    /// `--timeout SECS`.
    pub timeout: Option<u64>,
    /// `--retries N`.
    pub retries: Option<u32>,
}

/// The bounds in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetOptions {
    /// Wait for an answer, and for each read of a body.
    pub timeout: Duration,
    /// Wait for a connection.
    pub connect_timeout: Duration,
    /// Retries of idempotent requests.
    pub retries: u32,
    /// Follow redirects to other origins.
    pub cross_origin_redirects: bool,
}

impl NetOptions {
    /// Flags, then `MODULARBASE_HTTP_TIMEOUT` / `MODULARBASE_NET_RETRY` (when `environment`),
    /// then `config`, then the defaults.
    pub fn resolve(flags: NetFlags, config: &NetConfig, environment: bool) -> anyhow::Result<Self> {
        let env = |name: &str| -> anyhow::Result<Option<u64>> {
            match std::env::var(name)
                .ok()
                .filter(|v| environment && !v.is_empty())
            {
                Some(text) => text.trim().parse().map(Some).with_context(|| {
                    format!("{name}=`{text}` is not a whole number of seconds or tries")
                }),
                None => Ok(None),
            }
        };
        let timeout = flags
            .timeout
            .or(env("MODULARBASE_HTTP_TIMEOUT")?)
            .or(config.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_S);
        let retries = match flags.retries {
            Some(n) => n,
            None => match env("MODULARBASE_NET_RETRY")? {
                Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
                None => config.retries.unwrap_or(DEFAULT_RETRIES),
            },
        };
        if timeout == 0 {
            anyhow::bail!(
                "a network timeout of 0 seconds would refuse every answer; give 1 or more"
            );
        }
        let connect = config
            .connect_timeout
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT_S)
            .min(timeout);
        Ok(Self {
            timeout: Duration::from_secs(timeout),
            connect_timeout: Duration::from_secs(connect),
            retries,
            cross_origin_redirects: config.cross_origin_redirects.unwrap_or(false),
        })
    }

    /// The pause before retry `attempt` (1-based).
    pub fn backoff(attempt: u32) -> Duration {
        FIRST_BACKOFF
            .saturating_mul(1 << attempt.saturating_sub(1).min(8))
            .min(MAX_BACKOFF)
    }

    /// The HTTP client these bounds describe.
    pub fn client(&self) -> anyhow::Result<reqwest::blocking::Client> {
        let cross_origin = self.cross_origin_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let same = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if same || cross_origin {
                attempt.follow()
            } else {
                let to = attempt.url().origin().ascii_serialization();
                attempt.error(format!(
                    "the registry redirected to another origin ({to}); set `net.cross-origin-redirects = true` in config.toml to allow it"
                ))
            }
        });
        reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(policy)
            .user_agent(concat!("modularbase/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot create the HTTP client")
    }
}

/// Whether a failed attempt is worth repeating: connection errors (not timeouts, whose
/// wait is the bound the user set), and answers 5xx or 429.
pub(super) fn spurious(outcome: &Result<reqwest::blocking::Response, reqwest::Error>) -> bool {
    match outcome {
        Ok(response) => {
            let status = response.status();
            status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        }
        Err(e) => e.is_connect() && !e.is_timeout(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_and_defaults_fill_the_rest() {
        let config = NetConfig {
            timeout: Some(7),
            retries: Some(1),
            ..NetConfig::default()
        };
        let from_config = NetOptions::resolve(NetFlags::default(), &config, false).unwrap();
        assert_eq!(from_config.timeout, Duration::from_secs(7));
        assert_eq!(from_config.connect_timeout, Duration::from_secs(7));
        assert_eq!(from_config.retries, 1);
        let flags = NetFlags {
            timeout: Some(2),
            retries: Some(0),
        };
        let from_flags = NetOptions::resolve(flags, &config, false).unwrap();
        assert_eq!((from_flags.timeout.as_secs(), from_flags.retries), (2, 0));
        let none = NetOptions::resolve(NetFlags::default(), &NetConfig::default(), false).unwrap();
        assert_eq!((none.timeout.as_secs(), none.retries), (30, 3));
        assert!(!none.cross_origin_redirects);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(NetOptions::backoff(1), Duration::from_millis(250));
        assert_eq!(NetOptions::backoff(2), Duration::from_millis(500));
        assert_eq!(NetOptions::backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let flags = NetFlags {
            timeout: Some(0),
            retries: None,
        };
        let err = NetOptions::resolve(flags, &NetConfig::default(), false).unwrap_err();
        assert!(err.to_string().contains("0 seconds"));
    }
}
