//! Nothing a publisher or a visitor writes becomes executable on a marketplace page: hostile
//! model cards, pack titles and descriptions, query strings and paths. Each page is parsed
//! and `Page::assert_inert` fails on any script or other active element, `on…` handler,
//! `style` attribute, or `javascript:`/`vbscript:`/`data:` URL; text shows up escaped.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_tests::{Pack, Page, TestRegistry};

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

/// `GET /search?` with `pairs` URL-encoded.
fn search(registry: &TestRegistry, pairs: &[(&str, &str)]) -> Page {
    let query = serde_urlencoded::to_string(pairs).unwrap();
    Page::get(registry, &format!("/search?{query}"))
}

/// Model cards an attacker might publish, each after a harmless marker line.
const HOSTILE_CARDS: [&str; 22] = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">click</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">entities</a>",
    "<a href=\" java&#x09;script:alert(1)\">tab inside</a>",
    "[click](javascript:alert(1))",
    "![img](javascript:alert(1))",
    "<javascript:alert(1)>",
    "<svg onload=alert(1)><circle r=\"1\"/></svg>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">styled</div><p style=\"width:expression(alert(1))\">ie</p>",
    "<style>@import 'https://evil.example/x.css'; body { display: none }</style>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    "<object data=\"javascript:alert(1)\"></object><embed src=\"javascript:alert(1)\">",
    "<form action=\"https://evil.example/\"><button formaction=\"javascript:alert(1)\">go</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\"><base href=\"https://evil.example/\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></p></noscript>",
    "<a href=\"vbscript:msgbox(1)\">vb</a><img src=\"x\" alt=\"\" onmouseover=\"alert(1)\">",
];

#[test]
fn hostile_model_cards_render_inert() {
    let registry = registry();
    let mallory = registry.user("mallory");
    for (i, card) in HOSTILE_CARDS.iter().enumerate() {
        let id = format!("xss_{i:02}");
        let text = format!("Marker {i}\n\n{card}\n");
        mallory.publish_ok(&Pack::base(&id, "1.0.0").readme(Some(&text)));
        for path in [format!("/packs/{id}"), format!("/packs/{id}/1.0.0")] {
            let page = Page::get(&registry, &path);
            assert_eq!(page.status, 200, "{path}");
            page.assert_inert(&format!("{path} with card {card:?}"));
            // The card was rendered, not dropped.
            assert_eq!(page.text(".model-card .markdown p"), format!("Marker {i}"));
        }
    }
    // The lists of every page that shows these packs stay inert too.
    for path in ["/", "/search?q=xss", "/users/mallory"] {
        Page::get(&registry, path).assert_inert(path);
    }
}

#[test]
fn hostile_titles_and_descriptions_are_escaped_text() {
    let registry = registry();
    let mallory = registry.user("mallory");
    let title = "<script>alert(1)</script>";
    let description = "</p><img src=x onerror=alert(1)><p onclick=alert(2)> & 'quoted'";
    mallory.publish_ok(
        &Pack::base("hostile", "1.0.0")
            .name(title)
            .description(description),
    );
    let pack = Page::get(&registry, "/packs/hostile");
    pack.assert_inert("pack page");
    assert_eq!(
        pack.text("section.pack-header .title"),
        format!("{title} base")
    );
    assert_eq!(pack.text("section.pack-header .description"), description);
    assert!(pack.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for path in ["/", "/search?q=hostile", "/users/mallory"] {
        let page = Page::get(&registry, path);
        page.assert_inert(path);
        assert_eq!(page.text("li.pack .title"), title, "{path}");
        assert_eq!(page.text("li.pack .description"), description, "{path}");
    }
}

#[test]
fn hostile_query_strings_are_escaped_or_refused() {
    let registry = registry();
    let echoed = [
        "<script>alert(1)</script>",
        "\"><svg onload=alert(1)>",
        "'><img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "</title><script>alert(1)</script>",
        "\" autofocus onfocus=alert(1) x=\"",
    ];
    for q in echoed {
        let page = search(&registry, &[("q", q)]);
        assert_eq!(page.status, 200, "{q}");
        page.assert_inert(&format!("q={q}"));
        // Escaped, not stripped: the box and the heading show exactly what was asked.
        assert_eq!(page.attrs("header input[name=q]", "value"), [q]);
        assert_eq!(page.text("main h1"), format!("Search results for “{q}”"));
        assert_eq!(
            page.title(),
            format!("Search results for “{q}” — ModularBase")
        );
    }
    let refused = [
        ("kind", "\"><svg onload=alert(1)>"),
        ("domain", "<img src=x onerror=alert(1)>"),
        ("base", "javascript:alert(1)"),
        ("sort", "<script>alert(1)</script>"),
        ("page", "<script>alert(1)</script>"),
        ("per_page", "javascript:alert(1)"),
        ("<script>alert(1)</script>", "1"),
        ("q", &format!("<script>{}</script>", "x".repeat(300))),
    ];
    for (name, value) in refused {
        let page = search(&registry, &[(name, value)]);
        assert_eq!(page.status, 400, "{name}={value}");
        page.assert_inert(&format!("{name}={value}"));
    }
    // The refusal names the bad value as text.
    let page = search(&registry, &[("kind", "<script>alert(1)</script>")]);
    assert_eq!(
        page.text("p.message"),
        "`kind` must be base, router or domain, not `<script>alert(1)</script>`"
    );
}

#[test]
fn hostile_paths_are_escaped_in_error_pages() {
    let registry = registry();
    for (path, status) in [
        ("/users/<script>alert(1)</script>", 404),
        ("/users/\"><svg onload=alert(1)>", 404),
        ("/packs/<img src=x onerror=alert(1)>", 400),
        ("/packs/tiny_base/<svg onload=alert(1)>", 400),
        ("/<script>alert(1)</script>", 404),
        ("/search/javascript:alert(1)", 404),
    ] {
        let page = Page::get(&registry, path);
        assert_eq!(page.status, status, "{path}");
        page.assert_inert(path);
    }
    let page = Page::get(&registry, "/users/\"><svg onload=alert(1)>");
    assert_eq!(
        page.text("p.message"),
        "No user `\"><svg onload=alert(1)>` exists on this registry."
    );
}

/// The check itself: every card that is HTML (not Markdown syntax) fails it when a page
/// carries the card raw, so the tests above would notice a sanitiser that let it through.
#[test]
fn the_check_refuses_every_hostile_card_left_raw() {
    let raw_html = HOSTILE_CARDS.iter().filter(|card| {
        !card.starts_with('[') && !card.starts_with('!') && !card.starts_with("<javascript:")
    });
    for card in raw_html {
        let page = Page::from_dom(format!(
            "<!DOCTYPE html><html><head><title>t</title></head><body>{card}</body></html>"
        ));
        let check = std::panic::AssertUnwindSafe(|| page.assert_inert("raw"));
        assert!(
            std::panic::catch_unwind(check).is_err(),
            "the check lets {card:?} through"
        );
    }
}
