//! Marketplace pages in tests: fetched over HTTP (or taken from a browser's DOM), queried
//! with CSS selectors, and checked for anything executable.

use reqwest::blocking::Response;
use reqwest::header::HeaderMap;
use scraper::{ElementRef, Html, Selector};

use crate::TestRegistry;

/// Attributes whose value is a URL a browser may load or navigate to.
const URL_ATTRIBUTES: [&str; 12] = [
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "srcset",
    "data",
    "poster",
    "background",
    "cite",
    "ping",
    "longdesc",
];

/// Elements that run code, load other documents or change how the page is read; none may
/// appear on a marketplace page (the page's one stylesheet `<link>` excepted).
const ACTIVE_ELEMENTS: [&str; 14] = [
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "style", "svg",
    "math", "template", "portal", "noscript",
];

/// A fetched page: status, headers and the parsed document.
#[derive(Debug)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The HTML as sent.
    pub html: String,
    doc: Html,
}

impl Page {
    /// `GET registry.url + path`.
    pub fn get(registry: &TestRegistry, path: &str) -> Self {
        Self::from_response(registry.get(path))
    }

    /// The page a response carries.
    pub fn from_response(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let html = response.text().unwrap();
        Self {
            status,
            headers,
            doc: Html::parse_document(&html),
            html,
        }
    }

    /// A document from elsewhere (a browser's rendered DOM): status 200, no headers.
    pub fn from_dom(html: String) -> Self {
        Self {
            status: 200,
            headers: HeaderMap::new(),
            doc: Html::parse_document(&html),
            html,
        }
    }

    /// The `<title>` text.
    pub fn title(&self) -> String {
        self.text("title")
    }

    /// The whitespace-collapsed text of every element matching `selector`.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        self.select(selector)
            .map(|e| e.text().collect::<Vec<_>>().join(" "))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// The text of the first element matching `selector`; fails the test when none does.
    pub fn text(&self, selector: &str) -> String {
        self.texts(selector)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("nothing matches `{selector}` in:\n{}", self.html))
    }

    /// Attribute `name` of every element matching `selector` that has it.
    pub fn attrs(&self, selector: &str, name: &str) -> Vec<String> {
        self.select(selector)
            .filter_map(|e| e.value().attr(name).map(str::to_owned))
            .collect()
    }

    /// How many elements match `selector`.
    pub fn count(&self, selector: &str) -> usize {
        self.select(selector).count()
    }

    /// The header `name` as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn select(&self, selector: &str) -> impl Iterator<Item = ElementRef<'_>> {
        let selector = Selector::parse(selector)
            .unwrap_or_else(|e| panic!("bad selector `{selector}`: {e:?}"));
        self.doc.select(&selector).collect::<Vec<_>>().into_iter()
    }

    /// Fails the test if anything on the page could run code: a script or other active
    /// element, an `on…` handler, a `style` attribute, or a URL with a `javascript:`,
    /// `vbscript:` or `data:` scheme (as the browser reads it: entities decoded, blanks and
    /// control characters dropped, any case). `context` names the page in the message.
    pub fn assert_inert(&self, context: &str) {
        assert!(
            !self.html.to_ascii_lowercase().contains("<script"),
            "{context}: a raw `<script` in:\n{}",
            self.html
        );
        for element in self.select("*") {
            let el = element.value();
            let name = el.name();
            assert!(
                !ACTIVE_ELEMENTS.contains(&name),
                "{context}: a `<{name}>` element in:\n{}",
                self.html
            );
            if name == "link" {
                assert_eq!(
                    (el.attr("rel"), el.attr("href")),
                    (Some("stylesheet"), Some("/static/style.css")),
                    "{context}: an unexpected <link>"
                );
            }
            if matches!(name, "form" | "input" | "button") {
                let action = el.attr("action").or(el.attr("formaction"));
                assert!(
                    action.is_none_or(|a| a.starts_with('/') && !a.starts_with("//")),
                    "{context}: a form that posts elsewhere in:\n{}",
                    self.html
                );
            }
            if name == "meta" {
                assert!(
                    el.attr("http-equiv").is_none(),
                    "{context}: a <meta http-equiv> in:\n{}",
                    self.html
                );
            }
            for (attr, value) in el.attrs() {
                let attr = attr.to_ascii_lowercase();
                assert!(
                    !attr.starts_with("on") && attr != "style",
                    "{context}: attribute `{attr}` on <{name}> in:\n{}",
                    self.html
                );
                if URL_ATTRIBUTES.contains(&attr.as_str()) {
                    let url: String = value
                        .chars()
                        .filter(|c| !c.is_whitespace() && !c.is_control())
                        .collect::<String>()
                        .to_ascii_lowercase();
                    for scheme in ["javascript:", "vbscript:", "data:"] {
                        assert!(
                            !url.starts_with(scheme),
                            "{context}: <{name} {attr}=\"{value}\"> in:\n{}",
                            self.html
                        );
                    }
                }
            }
        }
    }
}
