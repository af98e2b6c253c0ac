//! Model cards: untrusted Markdown from a pack's readme, rendered to HTML and sanitised.
//!
//! pulldown-cmark passes raw HTML through, so its output goes through ammonia's allow-list:
//! no `<script>`, `<style>`, `<iframe>`, `<object>` or form elements, no `on…` handlers, no
//! `style` attributes, and URLs only with `http`, `https` or `mailto` schemes (relative
//! URLs are dropped: a card's files are not served). Links get `rel="nofollow noopener
//! noreferrer"`.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser};

/// The sanitiser, configured once.
static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("nofollow noopener noreferrer"));
    builder
});

/// The model card `markdown` as safe HTML.
pub(crate) fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, options));
    CLEANER.clean(&html).to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders() {
        let html = render(
            "# Title\n\nSome *emphasis* and a [link](https://example.org).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"), "{html}");
        assert!(
            html.contains(
                r#"<a href="https://example.org" rel="nofollow noopener noreferrer">link</a>"#
            ),
            "{html}"
        );
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn nothing_executable_survives() {
        let hostile = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "[x](javascript:alert(1))",
            "<svg onload=alert(1)><circle/></svg>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<object data=\"data:text/html,<script>alert(1)</script>\"></object>",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "<form action=\"https://evil.example\"><input name=q></form>",
            "<style>body{display:none}</style>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        ];
        for card in hostile {
            let html = render(card).to_ascii_lowercase();
            for forbidden in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<iframe",
                "<object",
                "style=",
                "<style",
                "data:",
                "<form",
                "<input",
            ] {
                assert!(
                    !html.contains(forbidden),
                    "`{forbidden}` survived in {html:?} from {card:?}"
                );
            }
        }
    }
}
