//! A registry seeded with a small marketplace, for page, browser and screenshot tests.
//!
//! ```text
//! id            versions              kind    owners     downloads  notes
//! tiny_base     1.0.0, 1.1.0          base    ada        0
//! reasoning     1.1.0                 domain  ada        1
//! python_code   0.9.0 (yanked), 1.0.0 domain  ada, bob   3 (of 1.0.0)  deps reasoning >=1.1, base tiny_base 1.0/1.1
//! medical_qa    1.0.0                 domain  bob        0
//! topic_router  1.0.0                 router  ada        0          published last
//! ```

use std::path::Path;

use reqwest::Method;

use crate::{Pack, Publisher, TestRegistry};

/// The model card of `python_code` 1.0.0.
pub const PYTHON_CODE_CARD: &str = "# Python Code Pack

Completes and explains **Python**, from one-liners to whole modules.

## Evaluation

| task | pass@1 |
|------|--------|
| humaneval-mini | 41% |

Read more on [the project site](https://example.org/modularbase).
";

/// A marketplace served by the standalone registry binary at `bin`, and its two publishers
/// `(ada, bob)`.
pub fn seeded_marketplace(bin: &Path) -> (TestRegistry, Publisher, Publisher) {
    let registry = TestRegistry::start_standalone(bin);
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    for version in ["1.0.0", "1.1.0"] {
        ada.publish_ok(
            &Pack::base("tiny_base", version)
                .name("Tiny Base")
                .description("A small llama-style base core")
                .license("MIT"),
        );
    }
    ada.publish_ok(
        &Pack::domain("reasoning", "1.1.0")
            .name("Reasoning")
            .description("Step by step logic"),
    );
    let python = |version: &str| {
        Pack::domain("python_code", version)
            .name("Python Code Pack")
            .domain_label("code")
            .description("Python completion and explanation")
            .license("Apache-2.0")
            .base_compat("tiny_base", &["1.0", "1.1"])
            .dep("reasoning", ">=1.1")
    };
    ada.publish_ok(&python("0.9.0").readme(Some("# Early preview\n\nDo not use.\n")));
    ada.publish_ok(&python("1.0.0").readme(Some(PYTHON_CODE_CARD)));
    bob.publish_ok(
        &Pack::domain("medical_qa", "1.0.0")
            .name("Bedside Helper")
            .domain_label("medicine")
            .description("Clinical questions answered"),
    );
    ada.publish_ok(
        &Pack::router("topic_router", "1.0.0")
            .name("Topic Router")
            .description("Picks a domain pack per prompt"),
    );
    let ok = |response: reqwest::blocking::Response| {
        let status = response.status();
        assert_eq!(status, 200, "{}", response.text().unwrap_or_default());
    };
    ok(ada
        .request(Method::DELETE, "/api/v1/packs/python_code/0.9.0/yank")
        .send()
        .unwrap());
    ok(ada
        .request(Method::PUT, "/api/v1/packs/python_code/owners")
        .json(&serde_json::json!({ "users": ["bob"] }))
        .send()
        .unwrap());
    for (path, times) in [
        ("/api/v1/packs/python_code/1.0.0/download", 3),
        ("/api/v1/packs/reasoning/1.1.0/download", 1),
    ] {
        for _ in 0..times {
            ok(registry.get(path));
        }
    }
    (registry, ada, bob)
}
