//! Who answered a request: the pack used, the one asked for, and every fallback on the way.
//! Sent as the `modularbase` field of each response (and of a stream's last chunk), and as
//! the `x-modularbase-pack` and `x-modularbase-substitution` headers.

use axum::http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// `x-modularbase-pack`: the answering pack's id, or `base`.
pub const HEADER_PACK: &str = "x-modularbase-pack";
/// `x-modularbase-substitution`: `wanted -> used: cause`, `; `-separated.
pub const HEADER_SUBSTITUTION: &str = "x-modularbase-substitution";

/// The longest header value written, in bytes.
const MAX_HEADER_BYTES: usize = 1024;

/// The `modularbase` field: which pack answered and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredBy {
    /// The pack that answered; `None` when the base answered alone.
    pub pack: Option<String>,
    /// The pack the request asked for (or the router picked); `None` for the base.
    pub wanted: Option<String>,
    /// Each pack replaced on the way, in order.
    pub substitutions: Vec<Substitution>,
}

/// One pack replaced by another (or by the base alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Substitution {
    /// The pack that could not be used.
    pub wanted: String,
    /// What was used instead; `None` for the base alone.
    pub used: Option<String>,
    /// Why, in words (`not installed`, `aligned with base 2.x`).
    pub cause: String,
}

/// The response headers for `answered`: always `x-modularbase-pack`, and
/// `x-modularbase-substitution` when something was substituted. Values are visible ASCII
/// (others become `?`) and at most 1 KiB.
pub fn answered_by_header(answered: &AnsweredBy) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(2);
    let pack = answered.pack.as_deref().unwrap_or("base");
    if let Some(value) = header_value(pack) {
        headers.push((HeaderName::from_static(HEADER_PACK), value));
    }
    if !answered.substitutions.is_empty() {
        let text = answered
            .substitutions
            .iter()
            .map(|s| {
                let used = s.used.as_deref().unwrap_or("base");
                // `;` separates entries; keep it out of the parts.
                format!("{} -> {used}: {}", s.wanted, s.cause).replace(';', ",")
            })
            .collect::<Vec<_>>()
            .join("; ");
        if let Some(value) = header_value(&text) {
            headers.push((HeaderName::from_static(HEADER_SUBSTITUTION), value));
        }
    }
    headers
}

/// `text` as visible ASCII and spaces, cut to [`MAX_HEADER_BYTES`].
fn header_value(text: &str) -> Option<HeaderValue> {
    let mut clean: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() > MAX_HEADER_BYTES {
        clean.truncate(MAX_HEADER_BYTES - 3);
        clean.push_str("...");
    }
    // Visible ASCII is always a valid header value.
    HeaderValue::from_str(clean.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(answered: &AnsweredBy) -> Vec<(String, String)> {
        answered_by_header(answered)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_owned()))
            .collect()
    }

    #[test]
    fn base_alone() {
        assert_eq!(
            headers(&AnsweredBy::default()),
            [("x-modularbase-pack".to_owned(), "base".to_owned())]
        );
    }

    #[test]
    fn substitutions_are_listed() {
        let answered = AnsweredBy {
            pack: Some("general_chat".to_owned()),
            wanted: Some("python_code".to_owned()),
            substitutions: vec![
                Substitution {
                    wanted: "python_code".to_owned(),
                    used: Some("code".to_owned()),
                    cause: "not installed".to_owned(),
                },
                Substitution {
                    wanted: "code".to_owned(),
                    used: Some("general_chat".to_owned()),
                    cause: "corrupt; bad \u{e9}\n header".to_owned(),
                },
            ],
        };
        assert_eq!(
            headers(&answered),
            [
                ("x-modularbase-pack".to_owned(), "general_chat".to_owned()),
                (
                    "x-modularbase-substitution".to_owned(),
                    "python_code -> code: not installed; \
                     code -> general_chat: corrupt, bad ?? header"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn long_values_are_bounded() {
        let answered = AnsweredBy {
            pack: None,
            wanted: Some("p".to_owned()),
            substitutions: vec![Substitution {
                wanted: "p".to_owned(),
                used: None,
                cause: "x".repeat(5000),
            }],
        };
        let got = headers(&answered);
        assert_eq!(got[1].1.len(), MAX_HEADER_BYTES);
        assert!(got[1].1.starts_with("p -> base: xxx"));
        assert!(got[1].1.ends_with("..."));
    }
}
