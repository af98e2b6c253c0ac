//! Test support for ModularBase's end-to-end tests, cargo-test-support style: pack
//! directories and archives in one line, the real `modularbase` binary in a temporary home,
//! and a real registry on 127.0.0.1 with publishers that publish a pack graph one line per
//! pack:
//!
//! ```no_run
//! use modularbase_tests::{Pack, TestRegistry};
//!
//! let registry = TestRegistry::start();
//! let ada = registry.user("ada");
//! ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
//! ada.publish_ok(&Pack::domain("reasoning", "1.1.0"));
//! ada.publish_ok(&Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1"));
//! ```
//!
//! Hostile archives for every layer that reads one live in [`archives`].
//!
//! A man in the middle that forwards to a registry or answers a path itself is [`Proxy`];
//! [`TreeSnapshot`] shows that a refused command left a home as it was.
//!
//! Marketplace tests read pages with [`Page`] (CSS selectors, and `assert_inert` for
//! anything executable) and drive a real headless browser with [`Chromium`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod archives;
mod binary;
mod browser;
mod fake_registry;
mod hostile;
mod html;
pub mod llamacpp;
mod local_archive;
mod marketplace;
mod pack;
mod proxy;
mod registry;
mod tree;

pub use binary::{modularbase, modularbase_bin, run_measuring_peak_rss};
pub use browser::{Chromium, artifacts_dir};
pub use fake_registry::{Download, FakeRegistry, Routes};
pub use hostile::{HostileWeights, hostile_weights};
pub use html::Page;
pub use local_archive::{sig_path, signature_json, write_local_archive};
pub use marketplace::{PYTHON_CODE_CARD, seeded_marketplace};
pub use pack::{Pack, PackDir, TEST_BASE, synthetic_weights, test_shape};
pub use proxy::{Answer, Proxy};
pub use registry::{Publisher, Stopped, TestRegistry, Upload, blob_path, refusal};
pub use tree::TreeSnapshot;
