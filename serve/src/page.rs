//! The live monitor page at `/`: one self-contained HTML document (inline CSS and script, no
//! external assets, no framework) that polls `GET /api/monitor` every second and redraws the
//! memory dashboard in place, without reloading.
//!
//! The page lives in `page/monitor.html`. Its script builds the DOM with `textContent` and
//! attributes only (pack ids and request ids are data, never markup), and the response's
//! Content-Security-Policy allows exactly that one script and that one stylesheet by hash,
//! connections to this server, and nothing else. Editing the page changes the hashes: the
//! unit tests below print the new values to paste into [`MONITOR_CSP`].

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::Html;

/// The monitor page's HTML.
pub const MONITOR_HTML: &str = include_str!("page/monitor.html");

/// The Content-Security-Policy the page is served with: its inline script and style by
/// SHA-256, `fetch` to this origin, no frames, forms, plugins or base URL.
pub const MONITOR_CSP: &str = "default-src 'none'; \
     script-src 'sha256-hac12aTLNQxK/rCkhjiC2/f/9VZkQmxNdsbxhvFC+4I='; \
     style-src 'sha256-CyUINOcSPgOIoyl+1qq/xnjG9wiousgH6J+0thtvrkE='; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The headers the page is served with.
pub type MonitorHeaders = [(HeaderName, &'static str); 3];

/// `GET /`: the monitor page, with its Content-Security-Policy, `no-store` (the page is the
/// same every time, but a stale copy from before an upgrade would poll with an old script)
/// and `nosniff`.
pub async fn monitor_page() -> (MonitorHeaders, Html<&'static str>) {
    (
        [
            (CONTENT_SECURITY_POLICY, MONITOR_CSP),
            (CACHE_CONTROL, "no-store"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(MONITOR_HTML),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use sha2::{Digest, Sha256};

    use super::*;

    /// The text of the one `<tag>…</tag>` in the page.
    fn inline(tag: &str) -> &'static str {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        assert_eq!(
            MONITOR_HTML.matches(&open).count(),
            1,
            "one <{tag}> expected"
        );
        let start = MONITOR_HTML.find(&open).unwrap() + open.len();
        let end = MONITOR_HTML.find(&close).unwrap();
        &MONITOR_HTML[start..end]
    }

    fn csp_hash(text: &str) -> String {
        format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(text.as_bytes()))
        )
    }

    #[test]
    fn the_policy_allows_the_inline_script_by_hash() {
        let hash = csp_hash(inline("script"));
        assert!(
            MONITOR_CSP.contains(&format!("script-src {hash};")),
            "the page's script changed: put script-src {hash} in MONITOR_CSP"
        );
    }

    #[test]
    fn the_policy_allows_the_inline_style_by_hash() {
        let hash = csp_hash(inline("style"));
        assert!(
            MONITOR_CSP.contains(&format!("style-src {hash};")),
            "the page's style changed: put style-src {hash} in MONITOR_CSP"
        );
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in [
            "http://",
            "https://",
            "src=",
            "href=",
            "@import",
            "url(",
            "innerHTML",
        ] {
            assert!(
                !MONITOR_HTML.contains(needle),
                "the page contains `{needle}`"
            );
        }
        assert!(MONITOR_HTML.contains("<title>ModularBase monitor</title>"));
        assert!(MONITOR_HTML.contains("fetch(\"/api/monitor\""));
    }
}
